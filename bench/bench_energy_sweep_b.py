"""Benchmark: design points per second of the vectorised energy sweep on one core (goal ≥ 10^6).

Run: OMP_NUM_THREADS=1 .venv/bin/python bench/bench_energy_sweep_b.py
Reports the full sweep (structure evaluation + broadcast) after a warm-up that pays the imports.
"""

from __future__ import annotations

import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from logcam.config import embedded_config
from logcam.energy.sweeper import load_grid, pareto_front, sweep


def main() -> None:
    base = load_grid(embedded_config("energy/backup/sweep.yaml"))
    sweep(base)  # warm-up: imports, YAML cache
    for n_fps in (7, 100, 1000):
        grid = base.model_copy(update={"fps": [float(f) for f in range(1, n_fps + 1)]})
        best = float("inf")
        for _ in range(3):
            t0 = time.perf_counter()
            cols = sweep(grid)
            pareto_front(cols["objective"], cols["nJ_per_pixel"])
            best = min(best, time.perf_counter() - t0)
        n = cols["mW"].size
        print(f"{n:>9d} points: {best:.3f} s, {n / best:.3g} points/s (sweep + Pareto front, best of 3)")


if __name__ == "__main__":
    main()
