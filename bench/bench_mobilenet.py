"""Benchmark: the MobileNet-style residual network (configs/nets/mobilenet6.yaml) under Verilator — cycles per
frame vs the slowest layer's bound, with the line-buffer, inter-layer FIFO and skip-FIFO bits beside it.

Streams ``--frames`` random code frames at full speed (valid and ready always high) with seeded random
weights, checks every activation of every layer bit-exact against the golden model, and prints cycles per
frame (between successive labels), the bound (max over layers of MACs / (pe·simd), C·H·W/pe for an add, H·W
for the global pool), their ratio, the buffer bits the generator sized from the NetSpec, the build time and the
simulated frames per wall second.

    .venv/bin/python bench/bench_mobilenet.py [--frames 4] [--net configs/nets/mobilenet6.yaml] [--json]
"""

from __future__ import annotations

import argparse
import json

from amaranth.hdl import Fragment

from logcam.config import embedded_config
from logcam.hw.accel.net import Accelerator
from logcam.nn.netspec import NetSpec, random_bundle
from logcam.sim.rtl.accel_verify import random_inputs, verify_accel


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=4)
    ap.add_argument("--net", default=str(embedded_config("nets/mobilenet6.yaml")))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    spec = NetSpec.load(args.net)
    bundle = random_bundle(spec, seed=args.seed)
    dut = Accelerator(spec, bundle)
    Fragment.get(dut, None)  # sizes only; the run below builds its own
    buffers = dut.buffer_bits()
    totals = {k: sum(b[k] for b in buffers) for k in ("line_buffer_bits", "fifo_bits", "skip_fifo_bits")}
    x = random_inputs(spec, args.frames, seed=args.seed)
    r = verify_accel(spec, bundle, x, sim="verilator", seed=args.seed)
    row = {"net": spec.name, "passed": r.passed, "mismatches": r.mismatches, "frames": r.frames,
           "cycles_per_frame": r.extra["cycles_per_frame"], "bound_cycles": r.extra["bound_cycles"],
           "ratio": r.extra["cycles_per_bound"], "expected_per_layer": r.extra["expected_cycles_per_layer"],
           **totals, "per_layer_buffers": buffers, "build_s": round(r.build_s, 1),
           "sim_frames_per_s": round(r.frames / r.wall_s, 3)}
    if args.json:
        print(json.dumps(row, indent=2))
        return
    print(f"{spec.name}: {'PASS' if r.passed else 'FAIL'} ({r.mismatches} mismatches over {r.frames} frames, every "
          f"layer) {row['cycles_per_frame']:.0f} cycles/frame vs bound {row['bound_cycles']} ({row['ratio']}×); "
          f"line buffers {totals['line_buffer_bits']} bits, FIFOs {totals['fifo_bits']} bits, skip FIFOs "
          f"{totals['skip_fifo_bits']} bits; Verilator {row['sim_frames_per_s']} frames/s (build {row['build_s']} s)")


if __name__ == "__main__":
    main()
