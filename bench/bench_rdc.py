"""RDC RTL throughput: pixels/s verified under Verilator with cocotb vs a bare Verilator C++ run.

Both run the same emitted Verilog (320×240 by default) with valid and ready held high; the C++
harness (bench/rtl_harness.cpp, built with `verilator --cc --exe --build`) is fed from memory and
its output is checked against the golden model too, so both numbers are for *verified* pixels.
Also reports cycles per frame against the ideal H·W/lanes.

Run:  .venv/bin/python bench/bench_rdc.py [--frames 4] [--lanes 4] [--mode sum] [--levels 3] [--json]
      [--activity-out rdc_activity.json]   # the cocotb run's counters as logcam-activity/1 (readout stage)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import time
from pathlib import Path

import numpy as np
from bench_verify import build_harness  # the one harness build (bench/ is this script's folder on sys.path)

from logcam.energy.rtl_activity import from_verify, write_activity
from logcam.hw.rdc import LATENCY, Rdc
from logcam.hw.stream import describe_layout
from logcam.nn.golden.rdc import rdc_codes
from logcam.rdcspec import RdcSpec
from logcam.sim.rtl.emit import emit_verilog
from logcam.sim.rtl.rdc_frames import frames_for
from logcam.sim.rtl.rdc_io import RdcGeometry, check_output, input_fields
from logcam.sim.rtl.rdc_verify import verify_rdc
from logcam.sim.rtl.streams import PayloadCodec


def to_words(ints: list[int], width: int) -> np.ndarray:
    """Payload ints → (beats, ceil(width/32)) little-endian uint32 words."""
    nw = (width + 31) // 32
    buf = b"".join(int(v).to_bytes(4 * nw, "little") for v in ints)
    return np.frombuffer(buf, dtype="<u4").reshape(len(ints), nw)


def from_words(words: np.ndarray) -> list[int]:
    return [int.from_bytes(row.tobytes(), "little") for row in words]


def bench(spec: RdcSpec, n_frames: int, seed: int, workdir: Path,
          activity_out: Path | None = None) -> dict[str, object]:
    frames = frames_for(spec, n_frames, seed)
    golden = rdc_codes(frames, spec).numpy()
    pixels = frames.size
    geo = RdcGeometry.of(spec)
    ideal = n_frames * geo.beats_per_frame

    # cocotb under Verilator (build excluded: the first call builds, a warm-up run is not needed).
    # the per-cycle cocotb bench, as the table in docs/rtl.md (bench/bench_verify.py measures the memory bench)
    verify_rdc(spec, frames[:1], p_valid=1.0, p_ready=1.0, bench="cycle")  # make sure the build exists
    res = verify_rdc(spec, frames, p_valid=1.0, p_ready=1.0, seed=seed, bench="cycle")
    assert res.mismatches == 0, res.summary()
    cocotb_loop = float(res.extra["sim_loop_s"])
    if activity_out is not None:
        write_activity(activity_out, from_verify(res, rdc=spec))

    # Bare C++ harness.
    dut = Rdc(spec)
    verilog = emit_verilog(dut, "rdc")
    t_build = time.perf_counter()
    exe = build_harness(verilog, "rdc")
    t_build = time.perf_counter() - t_build
    in_codec = PayloadCodec(describe_layout(dut.i.payload.shape()))
    out_codec = PayloadCodec(describe_layout(dut.o.payload.shape()))
    beats = in_codec.pack(**input_fields(frames, geo))
    win, wout = (in_codec.width + 31) // 32, (out_codec.width + 31) // 32
    workdir.mkdir(parents=True, exist_ok=True)
    to_words(beats, in_codec.width).tofile(workdir / "in.bin")
    t0 = time.perf_counter()
    run = subprocess.run([str(exe), str(workdir / "in.bin"), str(len(beats)), str(win), str(workdir / "out.bin"),
                          str(len(beats)), str(wout)], capture_output=True, text=True, check=True)
    cpp_wall = time.perf_counter() - t0
    cpp = json.loads(run.stdout.strip().splitlines()[-1])
    words = np.fromfile(workdir / "out.bin", dtype="<u4").reshape(-1, wout)
    count, found, _ = check_output(out_codec.unpack(from_words(words)), golden, geo)
    assert count == 0, [str(m) for m in found]

    return {
        "config": {"width": spec.width, "height": spec.height, "lanes": spec.lanes, "mode": spec.mode,
                   "levels": spec.levels, "adc_bits": spec.adc_bits},
        "frames": n_frames, "pixels": pixels,
        "ideal_cycles_per_frame": geo.beats_per_frame,
        "cocotb": {"cycles": res.cycles, "cycles_per_frame": res.cycles / n_frames,
                   "process_s": round(res.wall_s, 3), "loop_s": round(cocotb_loop, 3),
                   "pixels_per_s": round(pixels / res.wall_s), "pixels_per_s_loop": round(pixels / cocotb_loop)},
        "cpp": {"cycles": cpp["cycles"], "cycles_per_frame": cpp["cycles"] / n_frames,
                "process_s": round(cpp_wall, 4), "loop_s": round(cpp["loop_s"], 4),
                "pixels_per_s": round(pixels / cpp_wall), "pixels_per_s_loop": round(pixels / cpp["loop_s"]),
                "build_s": round(t_build, 1)},
        "cocotb_cost_factor_loop": round(cocotb_loop / cpp["loop_s"], 1),
        "latency_cycles": LATENCY,
        "ideal_cycles": ideal,
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
                   f"load {os.getloadavg()[0]:.1f}",
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=4)
    ap.add_argument("--width", type=int, default=320)
    ap.add_argument("--height", type=int, default=240)
    ap.add_argument("--lanes", type=int, default=4)
    ap.add_argument("--mode", default="sum")
    ap.add_argument("--levels", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/logcam-bench-rdc"))
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--activity-out", type=Path, default=None,
                    help="write the cocotb run's RDC counters as logcam-activity/1 JSON (logcam energy --activity rtl)")
    a = ap.parse_args()
    spec = RdcSpec(width=a.width, height=a.height, lanes=a.lanes, mode=a.mode, levels=a.levels)
    r = bench(spec, a.frames, a.seed, a.workdir, a.activity_out)
    if a.json:
        print(json.dumps(r, indent=2))
        return
    c, p = r["cocotb"], r["cpp"]
    print(f"RDC {spec.width}×{spec.height} lanes={spec.lanes} mode={spec.mode} L={spec.levels}, "
          f"{a.frames} frames ({r['pixels']} pixels), every code checked against the golden model; {r['machine']}")
    print(f"  ideal cycles/frame H·W/lanes = {r['ideal_cycles_per_frame']}; measured "
          f"{c['cycles_per_frame']:.1f} (cocotb), {p['cycles_per_frame']:.1f} (C++) "
          f"= ideal + {LATENCY} latency cycles once per run")
    print(f"  cocotb+Verilator: {c['pixels_per_s']:>12,} pixels/s end to end ({c['process_s']} s), "
          f"{c['pixels_per_s_loop']:>12,} in the clock loop ({c['loop_s']} s)")
    print(f"  bare C++ Verilator: {p['pixels_per_s']:>10,} pixels/s end to end ({p['process_s']} s), "
          f"{p['pixels_per_s_loop']:>12,} in the clock loop ({p['loop_s']} s)")
    print(f"  cocotb costs {r['cocotb_cost_factor_loop']}× the bare clock loop")


if __name__ == "__main__":
    main()
