"""Benchmark: accelerator cycles per frame vs the bound, simulated frames per wall second (Verilator).

For the default network (configs/nets/2conv1fc.yaml) at 96×96 and the same layers at 224×224: streams
``--frames`` random code frames at full speed (valid and ready always high), checks every layer
bit-exact against the golden model, and prints cycles per frame (between successive labels), the bound
(slowest layer's MACs / (pe·simd)), their ratio, the build time and the simulated frames per wall second,
plus golden-model frames per second on the CPU.

    .venv/bin/python bench/bench_accel.py [--frames 3] [--sizes 96,224] [--json] [--activity-out accel.json]

``--activity-out F`` writes each size's layer counters as logcam-activity/1 JSON (cnn stage, totals over the
frames) to F, or to F's stem + ``_<size>`` when several sizes run.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from logcam.energy.rtl_activity import from_verify, write_activity
from logcam.nn.golden.accel import run as golden_run
from logcam.nn.netspec import NetSpec, load_net
from logcam.sim.rtl.accel_verify import random_inputs, verify_accel


def resized(spec: NetSpec, size: int) -> NetSpec:
    d = spec.model_dump(mode="json")
    d["input"]["height"] = d["input"]["width"] = size
    d["name"] = f"{spec.name}_{size}"
    return NetSpec.model_validate(d)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=3)
    ap.add_argument("--sizes", default="96,224")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--activity-out", type=Path, default=None,
                    help="logcam-activity/1 JSON of the layer counters (per size: F's stem + _<size>)")
    args = ap.parse_args()
    base, base_bundle, _ = load_net()
    rows = []
    sizes = [int(s) for s in args.sizes.split(",")]
    for size in sizes:
        spec = resized(base, size)
        bundle = base_bundle if size == base.input.height else None
        if bundle is None:
            from logcam.nn.netspec import random_bundle

            bundle = random_bundle(spec, seed=0)
        x = random_inputs(spec, args.frames, seed=0)
        t0 = time.perf_counter()
        reps = 0
        while time.perf_counter() - t0 < 2.0:
            golden_run(spec, bundle, x)
            reps += 1
        golden_fps = reps * len(x) / (time.perf_counter() - t0)
        r = verify_accel(spec, bundle, x, sim="verilator", seed=0)
        if args.activity_out is not None and r.passed:
            out = args.activity_out
            if len(sizes) > 1:
                out = out.with_name(f"{out.stem}_{size}{out.suffix}")
            write_activity(out, from_verify(r, net=spec))
        rows.append({"size": size, "passed": r.passed, "frames": r.frames,
                     "cycles_per_frame": r.extra["cycles_per_frame"], "bound_cycles": r.extra["bound_cycles"],
                     "ratio": r.extra["cycles_per_bound"], "expected_per_layer": r.extra["expected_cycles_per_layer"],
                     "build_s": round(r.build_s, 1), "sim_wall_s": round(r.wall_s, 2),
                     "sim_frames_per_s": round(r.frames / r.wall_s, 3), "golden_frames_per_s": round(golden_fps, 1)})
        if not args.json:
            row = rows[-1]
            print(f"{size}×{size}: {'PASS' if row['passed'] else 'FAIL'} {row['cycles_per_frame']:.0f} cycles/frame "
                  f"vs bound {row['bound_cycles']} ({row['ratio']}×); Verilator {row['sim_frames_per_s']} frames/s "
                  f"(build {row['build_s']} s); golden {row['golden_frames_per_s']} frames/s", flush=True)
    if args.json:
        print(json.dumps(rows, indent=2))


if __name__ == "__main__":
    np.set_printoptions(linewidth=120)
    main()
