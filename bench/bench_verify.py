"""Verification throughput per target: the memory-fed cocotb bench vs the per-cycle one vs bare Verilator.

For each ``logcam verify`` target (rdc, accel, top) the same emitted Verilog runs three ways, valid and
ready held high, every output checked against the golden model:

- **memory**: ``verify_*(bench="memory")`` — the generated shell (sim/rtl/shell.py) around the design,
  under cocotb; input from a file, every output and tap beat recorded in the simulator, cocotb awaits
  only ``done``. Every value of every tap is compared (the default ``logcam verify`` path).
- **cycle**: ``verify_*(bench="cycle")`` — the cocotb drivers and monitors per clock edge (fewer frames).
- **bare**: bench/rtl_harness.cpp, a C++ clock loop fed from memory (``verilator --cc --exe --build``
  of the design alone, no VPI): the reference. It records only ``o`` (the labels for accel and top).

Pixels/s are input pixels per second of the simulation loop (CPU time of the simulator process and wall
time), and end to end (the whole ``verify_*`` call, build excluded; the bare harness's process).

Run:  .venv/bin/python bench/bench_verify.py [--targets rdc,accel,top] [--frames 40,20,20]
      [--cycle-frames 4,1,1] [--json]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from logcam.hw.stream import describe_layout
from logcam.sim.rtl.emit import emit_verilog, waiver_flags
from logcam.sim.rtl.runner import cache_root, file_lock
from logcam.sim.rtl.streams import PayloadCodec
from logcam.toolchain import setup_verilator

HARNESS = Path(__file__).with_name("rtl_harness.cpp")


def build_harness(verilog: str, top: str) -> Path:
    """`verilator --cc --exe --build` of the harness and the design (top module ``top``), cached by content."""
    root = setup_verilator()
    key = hashlib.sha256((verilog + top + HARNESS.read_text() + str(root)).encode()).hexdigest()[:16]
    d = cache_root() / "rtl" / f"harness-{top}-{key}"
    exe = d / "harness"
    with file_lock(d.with_suffix(".lock")):
        if exe.is_file():
            return exe
        d.mkdir(parents=True, exist_ok=True)
        (d / f"{top}.v").write_text(verilog)
        cmd = [str(root / "bin" / "verilator"), "--cc", "--exe", "--build", "-j", "2", "--top-module", top,
               "--prefix", "Vtop", "-Mdir", str(d / "obj"), "-o", str(exe), *waiver_flags(),
               str(HARNESS), str(d / f"{top}.v")]
        # as sim/rtl/runner.py: the wheel's verilated.mk leaves the precompiled-header include flag empty
        env = dict(os.environ, OBJCACHE=f"{sys.executable} -m logcam.sim.rtl.objcache",
                   MAKEFLAGS=f"{os.environ.get('MAKEFLAGS', '')} CFG_CXXFLAGS_PCH_I=-include".strip())
        out = subprocess.run(cmd, capture_output=True, text=True, env=env)
        if out.returncode != 0:
            sys.exit(f"harness build failed:\n{out.stdout[-2000:]}\n{out.stderr[-2000:]}")
    return exe


def run_harness(component: Any, top: str, in_fields: dict[str, np.ndarray], n_out: int,
                workdir: Path) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """Bare run of ``component``'s Verilog: input beats from memory, ``n_out`` output beats back (decoded)."""
    verilog = emit_verilog(component, top)
    t = time.perf_counter()
    exe = build_harness(verilog, top)
    build_s = time.perf_counter() - t
    in_codec = PayloadCodec(describe_layout(component.i.payload.shape()))
    out_codec = PayloadCodec(describe_layout(component.o.payload.shape()))
    win, wout = (in_codec.width + 31) // 32, (out_codec.width + 31) // 32
    le = in_codec.pack_bytes(**in_fields)
    words = np.zeros((le.shape[0], 4 * win), dtype=np.uint8)
    k = min(4 * win, le.shape[1])
    words[:, :k] = le[:, :k]
    workdir.mkdir(parents=True, exist_ok=True)
    words.tofile(workdir / "in.bin")
    t0 = time.perf_counter()
    run = subprocess.run([str(exe), str(workdir / "in.bin"), str(le.shape[0]), str(win), str(workdir / "out.bin"),
                          str(n_out), str(wout)], capture_output=True, text=True, check=True)
    process_s = time.perf_counter() - t0
    info = json.loads(run.stdout.strip().splitlines()[-1])
    raw = np.fromfile(workdir / "out.bin", dtype=np.uint8).reshape(-1, 4 * wout)
    return out_codec.unpack_bytes(raw), {"loop_s": info["loop_s"], "loop_cpu_s": info["loop_cpu_s"],
                                         "process_s": process_s, "cycles": info["cycles"], "build_s": build_s}


def _rates(pixels: int, loop_s: float, loop_cpu_s: float, total_s: float) -> dict[str, float]:
    return {"loop_s": round(loop_s, 4), "loop_cpu_s": round(loop_cpu_s, 4), "total_s": round(total_s, 3),
            "pixels_per_s_cpu": round(pixels / loop_cpu_s) if loop_cpu_s else 0,
            "pixels_per_s_loop": round(pixels / loop_s) if loop_s else 0,
            "pixels_per_s_total": round(pixels / total_s) if total_s else 0}


def bench_rdc(n: int, n_cycle: int, workdir: Path) -> dict[str, Any]:
    from logcam.hw.rdc import Rdc
    from logcam.nn.golden.rdc import rdc_codes
    from logcam.rdcspec import RdcSpec
    from logcam.sim.rtl.rdc_frames import frames_for
    from logcam.sim.rtl.rdc_io import RdcGeometry, check_output, input_fields
    from logcam.sim.rtl.rdc_verify import verify_rdc

    spec = RdcSpec(width=320, height=240, lanes=4, mode="sum", levels=3)
    frames = frames_for(spec, n, 0)
    verify_rdc(spec, frames[:1], p_valid=1.0, p_ready=1.0)  # the build, outside the timing
    out: dict[str, Any] = {"config": "RDC 320×240, 4 lanes, mode sum, 3 levels", "frames": n}
    t = time.perf_counter()
    mem = verify_rdc(spec, frames, p_valid=1.0, p_ready=1.0)
    total = time.perf_counter() - t
    assert mem.passed, mem.summary()
    out["memory"] = _rates(mem.pixels, mem.extra["sim_loop_s"], mem.extra["sim_loop_cpu_s"], total)
    t = time.perf_counter()
    cyc = verify_rdc(spec, frames[:n_cycle], p_valid=1.0, p_ready=1.0, bench="cycle")
    total = time.perf_counter() - t
    assert cyc.passed, cyc.summary()
    out["cycle"] = {**_rates(cyc.pixels, cyc.extra["sim_loop_s"], 0.0, total), "frames": n_cycle}
    geo = RdcGeometry.of(spec)
    got, info = run_harness(Rdc(spec), "rdc", input_fields(frames, geo), n * geo.beats_per_frame, workdir / "rdc")
    count, found, _ = check_output(got, rdc_codes(frames, spec).numpy(), geo)
    assert count == 0, [str(m) for m in found]
    out["bare"] = _rates(mem.pixels, info["loop_s"], info["loop_cpu_s"], info["process_s"])
    return out


def _accel_like(target: str, n: int, n_cycle: int, workdir: Path) -> dict[str, Any]:
    from logcam.nn.golden.accel import run as golden_run
    from logcam.nn.netspec import load_net
    from logcam.sim.rtl.accel_verify import dn_beats, input_beats, random_inputs, verify_accel, verify_top

    spec, bundle, _ = load_net()
    if target == "accel":
        from logcam.hw.accel.net import Accelerator

        x = random_inputs(spec, n, 0)

        def verify(k: int, **kw: Any) -> Any:
            return verify_accel(spec, bundle, x[:k], seed=0, p_valid=1.0, p_ready=1.0, **kw)

        component, top, fields = Accelerator(spec, bundle), "logcam_accel", input_beats(x)
        labels = golden_run(spec, bundle, x).labels.numpy()
        config = f"accelerator {spec.name} {'×'.join(map(str, spec.input.shape))} (bundled weights)"
    else:
        from logcam.frontend import rdc_feeding
        from logcam.hw.top import Top
        from logcam.nn.golden.rdc import rdc_codes
        from logcam.sim.frames import scene_dn_frames

        rdc = rdc_feeding(spec, lanes=1)
        dn = scene_dn_frames(rdc.height, rdc.width, rdc.adc_bits, n, 0)

        def verify(k: int, **kw: Any) -> Any:
            return verify_top(rdc, spec, bundle, dn[:k], seed=0, p_valid=1.0, p_ready=1.0, **kw)

        component, top, fields = Top(rdc, spec, bundle), "logcam_top", dn_beats(dn, rdc.lanes)
        labels = golden_run(spec, bundle, rdc_codes(dn, rdc).numpy().astype(np.int64)).labels.numpy()
        config = f"top: RDC {rdc.width}×{rdc.height} lanes 1 → {spec.name} (bundled weights)"
    verify(1)  # the build, outside the timing
    out: dict[str, Any] = {"config": config, "frames": n}
    t = time.perf_counter()
    mem = verify(n)
    total = time.perf_counter() - t
    assert mem.passed, mem.summary()
    out["memory"] = _rates(mem.pixels, mem.extra["sim_loop_s"], mem.extra["sim_loop_cpu_s"], total)
    t = time.perf_counter()
    cyc = verify(n_cycle, bench="cycle")
    total = time.perf_counter() - t
    assert cyc.passed, cyc.summary()
    out["cycle"] = {**_rates(cyc.pixels, 0.0, 0.0, total), "frames": n_cycle}
    got, info = run_harness(component, top, fields, n, workdir / target)
    assert np.array_equal(got["label"], labels), "bare harness: labels differ from the golden model"
    out["bare"] = _rates(mem.pixels, info["loop_s"], info["loop_cpu_s"], info["process_s"])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--targets", default="rdc,accel,top")
    ap.add_argument("--frames", default="40,20,20", help="frames per target (memory and bare runs)")
    ap.add_argument("--cycle-frames", default="4,1,1", help="frames per target for the per-cycle bench")
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/logcam-bench-verify"))
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    order = ["rdc", "accel", "top"]
    frames = dict(zip(order, (int(v) for v in a.frames.split(","))))
    cyc = dict(zip(order, (int(v) for v in a.cycle_frames.split(","))))
    rows = {}
    for target in a.targets.split(","):
        r = (bench_rdc if target == "rdc" else lambda n, c, w, t=target: _accel_like(t, n, c, w))(
            frames[target], cyc[target], a.workdir)
        m, b = r["memory"], r["bare"]
        r["ratio_cpu"] = round(m["pixels_per_s_cpu"] / b["pixels_per_s_cpu"], 3)
        r["ratio_loop_wall"] = round(m["pixels_per_s_loop"] / b["pixels_per_s_loop"], 3)
        r["ratio_total"] = round(m["pixels_per_s_total"] / b["pixels_per_s_total"], 3)
        r["memory_over_cycle_total"] = round(m["pixels_per_s_total"] / max(1, r["cycle"]["pixels_per_s_total"]), 1)
        rows[target] = r
        if not a.json:
            print(f"{target}: {r['config']}, {r['frames']} frames; load {os.getloadavg()[0]:.1f}", flush=True)
            for k in ("memory", "cycle", "bare"):
                v = r[k]
                print(f"  {k:6}: loop {v['pixels_per_s_cpu']:>11,} px/s CPU, {v['pixels_per_s_loop']:>11,} px/s wall; "
                      f"end to end {v['pixels_per_s_total']:>11,} px/s ({v['total_s']} s)", flush=True)
            print(f"  memory/bare: {r['ratio_cpu']} (loop CPU), {r['ratio_loop_wall']} (loop wall), "
                  f"{r['ratio_total']} (end to end); memory/cycle end to end {r['memory_over_cycle_total']}×",
                  flush=True)
    rows["machine"] = (f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
                       f"load {os.getloadavg()[0]:.1f}")
    if a.json:
        print(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
