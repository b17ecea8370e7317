"""Benchmark: design points per second of the vectorised energy sweep (one core), and `logcam energy` wall time.

Run: taskset -c 0 .venv/bin/python bench/bench_energy_sweep.py [--fps-points N] [--repeat K]

The sweep allocates a few hundred MB per run, so single runs vary several-fold with the kernel's page
handling (the first run in a process pays for mapping that memory); the bench repeats the sweep and reports
the median, the first and the best run.

The sweep evaluates the analytic model once per (readout, c1) combination (the network changes shape) and
broadcasts over node × fps; the bench reports the total rate (setup included) and the broadcast rate.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np

from logcam.energy.sweep import GridCfg, run_sweep


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--fps-points", type=int, default=20000)
    ap.add_argument("--repeat", type=int, default=5)
    a = ap.parse_args()
    axes = {"readout": ["adc8", "adc10", "adc12", "rdc3", "rdc5", "rdc7"], "c1": [2, 4, 8, 16],
            "node_nm": [130, 90, 65, 45, 32, 20, 16, 14, 10, 7],
            "fps": np.linspace(1, 120, a.fps_points).tolist()}
    grid = GridCfg.model_validate({"pipeline": "loggrad", "axes": axes})
    small = GridCfg.model_validate({"pipeline": "loggrad", "axes": {**axes, "fps": [30.0]}})
    run_sweep(small)  # warm imports
    t0 = time.perf_counter()
    run_sweep(small)
    setup = time.perf_counter() - t0
    times = []
    for _ in range(max(1, a.repeat)):
        t0 = time.perf_counter()
        r = run_sweep(grid)
        times.append(time.perf_counter() - t0)
        n = r.points
        del r  # free the columns before the next run
    dt, best = float(np.median(times)), min(times)
    print(f"points {n}  median wall {dt:.3f} s over {len(times)} runs → {n / dt:.3g} points/s "
          f"(first run, memory not yet mapped: {n / times[0]:.3g}; best {n / best:.3g}; "
          f"setup of 24 combos {setup:.3f} s, "
          f"broadcast part {n / max(dt - setup, 1e-9):.3g} points/s)")
    t0 = time.perf_counter()
    subprocess.run([os.path.join(os.path.dirname(sys.executable), "logcam"), "energy"], check=True,
                   stdout=subprocess.DEVNULL)
    print(f"`logcam energy` wall time {time.perf_counter() - t0:.2f} s")


if __name__ == "__main__":
    main()
