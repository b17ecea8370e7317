"""Golden-model throughput on the CPU: frames per second of nn/golden/accel.run for the default 2conv1fc
network at 96×96 and a 224×224 variant (same layers, input resized), random int8 weights and codes.

Run:  .venv/bin/python bench/bench_golden.py [--batch 32] [--repeats 5] [--threads N] [--json]
Reports the best of ``repeats`` timed runs (after one warm-up) per size and batch.
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import numpy as np
import torch

from logcam.config import embedded_config
from logcam.nn.golden.accel import run
from logcam.nn.netspec import NetSpec, random_bundle


def variant(size: int) -> NetSpec:
    base = NetSpec.load(embedded_config("nets/2conv1fc.yaml"))
    d = base.model_dump()
    d["input"].update(height=size, width=size)
    d["name"] = f"2conv1fc_{size}"
    fc = d["layers"][-1]
    fc["simd"] = 8  # divides 8·(size/4)² for sizes divisible by 4
    return NetSpec.model_validate(d)


def bench(size: int, batch: int, repeats: int) -> dict[str, float]:
    spec = variant(size)
    bundle = random_bundle(spec, seed=0)
    x = torch.from_numpy(np.random.default_rng(1).integers(-1, 2, size=(batch, *spec.input.shape)).astype(np.int8))
    run(spec, bundle, x)  # warm-up
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        run(spec, bundle, x)
        best = min(best, time.perf_counter() - t0)
    return {"size": size, "batch": batch, "best_s": best, "frames_per_s": batch / best,
            "macs_per_frame": spec.macs(), "gmacs_per_s": spec.macs() * batch / best / 1e9}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, nargs="+", default=[1, 32])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    rows = [bench(size, b, args.repeats) for size in (96, 224) for b in args.batch]
    meta = {"torch": torch.__version__, "threads": torch.get_num_threads(), "cpu": platform.processor() or
            platform.machine()}
    if args.json:
        print(json.dumps({"meta": meta, "results": rows}, indent=2))
        return
    print(f"golden accel on CPU (torch {meta['torch']}, {meta['threads']} threads)")
    for r in rows:
        print(f"  {r['size']:>3}×{r['size']:<3} batch {r['batch']:>3}: {r['frames_per_s']:8.1f} frames/s "
              f"({r['best_s'] * 1e3:7.1f} ms/batch, {r['macs_per_frame'] / 1e6:.2f} MMAC/frame, "
              f"{r['gmacs_per_s']:.2f} GMAC/s)")


if __name__ == "__main__":
    main()
