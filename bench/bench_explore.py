"""Scaling of ``logcam explore`` from 1 to 2 workers, and the per-point overhead of Dask + the store.

    .venv/bin/python bench/bench_explore.py [--points 12] [--size 32] [--n 600] [--epochs 3] [--noop 256] [--json]

1. The same grid of real points (each trains its own network: c1 × front-end, no shared networks) on an
   embedded LocalCluster with 1 worker, then with 2 (fresh store each time): wall time of the run (cluster
   start excluded; worker imports of torch included, as a user pays them), speed-up.
2. ``--noop`` points whose task returns at once, on 1 worker: (run time) / points = what the scheduler,
   the result transfer and one committed SQLite row cost per point.

A benchmark, not a test: numbers depend on the machine and its load (the load average is reported).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from logcam.config import validate
from logcam.explore.grid import GridConfig
from logcam.explore.session import Options, explore


def noop(point: dict[str, Any], out: str) -> dict[str, Any]:
    """A point that does nothing (pickled by value: this is __main__)."""
    return {"hash": point["hash"], "metrics": {"accuracy": 0.5, "nj_per_pixel": 0.1}, "artefacts": {},
            "timing": {"total_s": 0.0}, "worker": str(os.getpid())}


def grid(points: int, size: int, n: int, epochs: int) -> GridConfig:
    c1 = list(range(2, 2 + (points + 1) // 2))
    return validate(GridConfig, {"name": "bench", "dataset": {"kind": "synthetic", "n": n, "size": size, "seed": 0},
                                 "train": {"epochs": epochs, "threads": 1},
                                 "axes": {"frontend": ["rdc", "isp"], "c1": c1}}, "bench")


def run(g: GridConfig, workers: int, fn: Any = None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="bench_explore_") as tmp:
        t0 = time.perf_counter()
        s = explore(g, Options(out=Path(tmp), workers=workers, plots=False), fn=fn)
        total = time.perf_counter() - t0
    return {"workers": workers, "points": s["points"], "run_s": s["run"]["seconds"], "total_s": round(total, 2),
            "failed": s["run"]["failed"]}


def commit_ms(points: list[dict[str, Any]]) -> float:
    """Milliseconds per committed row of the store alone (WAL, synchronous=FULL), same rows as the no-op run."""
    from logcam.explore.store import Store

    with tempfile.TemporaryDirectory(prefix="bench_store_") as tmp, \
            Store.open(Path(tmp) / "s.sqlite", "0" * 64, "bench", "{}") as store:
        t0 = time.perf_counter()
        for p in points:
            store.record_ok(p, noop(p, tmp))
        return 1e3 * (time.perf_counter() - t0) / len(points)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=12)
    ap.add_argument("--size", type=int, default=32)
    ap.add_argument("--n", type=int, default=600)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--noop", type=int, default=256)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    load0 = os.getloadavg()
    g = grid(a.points, a.size, a.n, a.epochs)
    one = run(g, 1)
    two = run(g, 2)
    fps = [float(f) for f in range(1, 1 + (a.noop + 63) // 64)]  # 64 × len(fps) ≥ --noop points
    ng = validate(GridConfig, {"name": "noop", "axes": {"c1": list(range(1, 65)), "fps": fps}}, "noop")
    nop = run(ng, 1, fn=noop)
    if one["failed"] or two["failed"] or nop["failed"]:
        raise SystemExit(f"bench_explore: points failed (1 worker {one['failed']}, 2 workers {two['failed']}, "
                         f"no-op {nop['failed']}); no timing reported")
    from logcam.explore.grid import expand

    store_ms = commit_ms(expand(ng))
    out = {"cores": os.cpu_count(), "load_avg_before": [round(x, 2) for x in load0],
           "load_avg_after": [round(x, 2) for x in os.getloadavg()], "grid": g.model_dump(mode="json"),
           "one_worker": one, "two_workers": two, "speedup": round(one["run_s"] / two["run_s"], 3),
           "noop": nop, "overhead_ms_per_point": round(1e3 * nop["run_s"] / nop["points"], 2),
           "store_commit_ms": round(store_ms, 2)}
    if a.json:
        print(json.dumps(out, indent=2))
        return
    print(f"{one['points']} points ({a.size}×{a.size} px, {a.n} images, {a.epochs} epochs), "
          f"load {out['load_avg_before']}")
    print(f"  1 worker : {one['run_s']:.1f} s run ({one['total_s']:.1f} s with cluster start)")
    print(f"  2 workers: {two['run_s']:.1f} s run ({two['total_s']:.1f} s with cluster start) "
          f"→ speed-up {out['speedup']:.2f}×")
    print(f"per-point overhead (scheduler + result + committed row), {nop['points']} no-op points on 1 worker: "
          f"{out['overhead_ms_per_point']:.1f} ms, of which the store's commit {out['store_commit_ms']:.1f} ms")


if __name__ == "__main__":
    main()
