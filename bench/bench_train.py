"""Training throughput (images/s) of the default network on the CPU, float and quantization-aware.

    .venv/bin/python bench/bench_train.py [--size 96] [--threads 2] [--steps 30] [--json]

Times optimizer steps (batch 64, Adam) of configs/nets/2conv1fc.yaml on random 3-level codes after a
warm-up, so data generation and imports are excluded. Also reports the synthetic set's render speed
(scene + sensor, images/s). A benchmark, not a test: numbers depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from logcam.nn.data import SyntheticConfig, synthetic_dataset
from logcam.nn.models import QuantNet, make_2conv1fc


def train_rate(size: int, quant: bool, steps: int, batch: int = 64) -> float:
    """Images/s of forward + backward + Adam step."""
    spec = make_2conv1fc(size, 4, 8, fold=True)
    net = QuantNet(spec, 1.0, quant=False)
    g = torch.Generator().manual_seed(0)
    x = torch.randint(-1, 2, (batch, 1, size, size), generator=g).float()
    y = torch.randint(0, 3, (batch,), generator=g)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    net.train()
    net(x)
    net.quant = quant

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(net(x), y).backward()
        opt.step()

    for _ in range(5):
        step()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    return steps * batch / (time.perf_counter() - t0)


def render_rate(size: int, n: int = 256) -> float:
    t0 = time.perf_counter()
    synthetic_dataset(SyntheticConfig(n=n, size=size))
    return n / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, nargs="+", default=[96, 32], help="input sizes, pixels")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    rows = []
    for size in a.size:
        rows.append({"size": size, "threads": a.threads,
                     "float_images_per_s": round(train_rate(size, False, a.steps), 1),
                     "qat_images_per_s": round(train_rate(size, True, a.steps), 1),
                     "render_images_per_s": round(render_rate(size), 1)})
    if a.json:
        print(json.dumps(rows, indent=2))
    else:
        for r in rows:
            print(f"{r['size']}×{r['size']} ({r['threads']} threads): train float {r['float_images_per_s']} img/s, "
                  f"QAT {r['qat_images_per_s']} img/s; render (scenes + sensor) {r['render_images_per_s']} img/s")


if __name__ == "__main__":
    main()
