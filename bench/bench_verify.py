"""Verification throughput per target, end to end: ``logcam verify``'s memory-fed bench vs bare Verilator.

For each ``logcam verify`` target (rdc, accel, top) the same emitted Verilog (the one ``verify`` simulates:
:func:`logcam.sim.rtl.emit.cached_verilog` with the same configuration) runs two ways, on the same frames:

- **verify**: the whole ``verify_*`` call with its builds cached — golden model, packing the stimulus, the
  generated shell (sim/rtl/shell.py, its memory-only variant) under cocotb with its simulator process's start,
  every beat of ``o`` and of every tap recorded in the simulator, and every value compared with the golden
  model (the default ``logcam verify`` path, ``--bench memory``).
- **bare**: bench/rtl_harness.cpp, a C++ clock loop fed from memory (``verilator --cc --exe --build`` of the
  design alone, no VPI, no cocotb): the reference. It records only ``o``; its output is checked against the
  golden model after the timing.

Both at two handshakes: valid and ready held high (``p = 1``), and randomised per cycle with probability
``p`` (``--p``, default 0.8: the harness draws from the same seeded xorshift32 as the shell). Pixels/s are
input pixels per second of wall time: verify's whole call against the bare harness's whole process (read
the input, clock, write the output), so the ratio (verify ÷ bare) is the share of bare-Verilator throughput
that verification keeps. Also reported: each side's simulation loop alone (CPU and wall).
``--repeat N`` keeps the fastest of N runs of each side (the machine may be shared). ``--cycle-frames``
adds the per-cycle cocotb bench (``--bench cycle``) for comparison (0: left out, the default).

Run:  .venv/bin/python bench/bench_verify.py [--targets rdc,accel,top] [--frames 400,100,100] [--p 0.8]
      [--repeat 1] [--cycle-frames 0,0,0] [--net PATH [--weights-seed 0]] [--json] [--quick]

``--net PATH`` benches the accel target on another NetSpec (e.g. configs/nets/mobilenet6.yaml, issue 13's
operators) with seeded random int8 weights, as ``logcam verify accel --net PATH --random-weights SEED`` does;
rdc and top keep their default configurations.
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
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from logcam.hw.stream import describe_layout
from logcam.sim.rtl.emit import cached_verilog, quiet_unused, waiver_flags
from logcam.sim.rtl.runner import cache_root, file_lock
from logcam.sim.rtl.shell import threshold, to_shell_bytes
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


def run_harness(exe: Path, in_codec: PayloadCodec, out_codec: PayloadCodec, in_fields: dict[str, np.ndarray],
                n_out: int, workdir: Path, p: float, seed: int = 0) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """One bare run: input beats from memory, ``n_out`` output beats back (decoded after the timing).
    ``p`` < 1 randomises valid and ready as the shell does. Returns (fields, {process_s, loop_s, loop_cpu_s})."""
    win, wout = (in_codec.width + 31) // 32, (out_codec.width + 31) // 32
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "in.bin").write_bytes(to_shell_bytes(in_codec.pack_bytes(**in_fields), in_codec.width))
    n_in = int(next(iter(in_fields.values())).shape[0])
    hs = [] if p >= 1.0 else [str(threshold(p)), str(threshold(p)), str(seed)]
    t0 = time.perf_counter()
    run = subprocess.run([str(exe), str(workdir / "in.bin"), str(n_in), str(win), str(workdir / "out.bin"),
                          str(n_out), str(wout), *hs], capture_output=True, text=True, check=True)
    process_s = time.perf_counter() - t0
    info = json.loads(run.stdout.strip().splitlines()[-1])
    raw = np.fromfile(workdir / "out.bin", dtype=np.uint8).reshape(-1, 4 * wout)
    return out_codec.unpack_bytes(raw), {"process_s": process_s, "loop_s": info["loop_s"],
                                         "loop_cpu_s": info["loop_cpu_s"]}


@dataclass
class Target:
    """What the bench needs of a verify target: its Verilog (the one verify simulates), the component (for
    its port layouts), the bare harness's input fields and expected ``o`` field, and verify itself."""

    config: str
    top: str
    verilog: str
    component: Any
    pixels_per_frame: int
    in_fields: Callable[[int], dict[str, np.ndarray]]  # frames → input beat fields
    want_o: Callable[[int], tuple[str, np.ndarray]]  # frames → (o field, expected values of n frames)
    o_per_frame: int
    verify: Callable[..., Any]  # (frames, p_valid=, p_ready=, bench=) → VerifyResult


def rdc_target(n: int) -> Target:
    from logcam.hw.rdc import Rdc
    from logcam.nn.golden.rdc import rdc_codes
    from logcam.rdcspec import RdcSpec
    from logcam.sim.rtl.rdc_frames import frames_for
    from logcam.sim.rtl.rdc_io import RdcGeometry, input_fields, output_fields
    from logcam.sim.rtl.rdc_verify import TOPLEVEL, verify_rdc

    spec = RdcSpec(width=320, height=240, lanes=4, mode="sum", levels=3)
    frames = frames_for(spec, n, 0)
    geo = RdcGeometry.of(spec)
    return Target(
        "RDC 320×240, 4 lanes, mode sum, 3 levels", TOPLEVEL, cached_verilog(lambda: Rdc(spec), TOPLEVEL, spec),
        Rdc(spec), spec.width * spec.height, lambda k: input_fields(frames[:k], geo),
        lambda k: ("data", output_fields(rdc_codes(frames[:k], spec).numpy(), geo)["data"]), geo.beats_per_frame,
        lambda k, **kw: verify_rdc(spec, frames[:k], seed=0, **kw))


def accel_target(kind: str, n: int, net: Path | None = None, weights_seed: int = 0) -> Target:
    """The accel or top target on the default network (bundled weights), or accel on ``net`` (a NetSpec YAML)
    with seeded random int8 weights (``weights_seed``), as ``logcam verify accel --net PATH --random-weights``."""
    from logcam.nn.golden.accel import run as golden_run
    from logcam.nn.netspec import load_net
    from logcam.sim.rtl.accel_verify import (
        ACCEL_TOP,
        TOP_TOP,
        dn_beats,
        input_beats,
        random_inputs,
        verify_accel,
        verify_top,
    )

    spec, bundle, _ = load_net() if net is None else load_net(net, random_weights=weights_seed)
    if kind == "accel":
        from logcam.hw.accel.net import Accelerator

        x = random_inputs(spec, n, 0)
        weights = "bundled weights" if net is None else f"random weights, seed {weights_seed}"
        return Target(
            f"accelerator {spec.name} {'×'.join(map(str, spec.input.shape))} ({weights})", ACCEL_TOP,
            cached_verilog(lambda: Accelerator(spec, bundle), ACCEL_TOP, spec, bundle), Accelerator(spec, bundle),
            spec.input.height * spec.input.width, lambda k: input_beats(x[:k]),
            lambda k: ("label", golden_run(spec, bundle, x[:k]).labels.numpy()), 1,
            lambda k, **kw: verify_accel(spec, bundle, x[:k], seed=0, **kw))
    from logcam.frontend import rdc_feeding
    from logcam.hw.top import Top
    from logcam.nn.golden.rdc import rdc_codes
    from logcam.sim.frames import scene_dn_frames

    rdc = rdc_feeding(spec, lanes=1)
    dn = scene_dn_frames(rdc.height, rdc.width, rdc.adc_bits, n, 0)
    return Target(
        f"top: RDC {rdc.width}×{rdc.height} lanes 1 → {spec.name} (bundled weights)", TOP_TOP,
        cached_verilog(lambda: Top(rdc, spec, bundle), TOP_TOP, rdc, spec, bundle), Top(rdc, spec, bundle),
        rdc.width * rdc.height, lambda k: dn_beats(dn[:k], rdc.lanes),
        lambda k: ("label", golden_run(spec, bundle, rdc_codes(dn[:k], rdc).numpy().astype(np.int64)).labels.numpy()),
        1, lambda k, **kw: verify_top(rdc, spec, bundle, dn[:k], seed=0, **kw))


def _rate(pixels: int, s: float) -> int:
    return round(pixels / s) if s > 0 else 0


def bench_target(t: Target, n: int, ps: list[float], repeat: int, n_cycle: int, workdir: Path) -> dict[str, Any]:
    """Verify end to end vs the bare harness, per handshake probability; fastest of ``repeat`` runs each."""
    exe = build_harness(t.verilog, t.top)
    quiet_unused(t.component)  # built for its port layouts only
    t.verify(1, p_valid=1.0, p_ready=1.0)  # the shell's build, outside the timing
    in_codec = PayloadCodec(describe_layout(t.component.i.payload.shape()))
    out_codec = PayloadCodec(describe_layout(t.component.o.payload.shape()))
    fields = t.in_fields(n)
    o_name, o_want = t.want_o(n)
    pixels = n * t.pixels_per_frame
    out: dict[str, Any] = {"config": t.config, "frames": n, "pixels": pixels, "runs": {}}
    for p in ps:
        best_v: dict[str, float] | None = None
        best_b: dict[str, float] | None = None
        for _ in range(repeat):
            t0 = time.perf_counter()
            res = t.verify(n, p_valid=p, p_ready=p)
            total = time.perf_counter() - t0
            if not res.passed:
                sys.exit(f"verify failed: {res.summary()}")
            v = {"total_s": total, "loop_s": res.extra["sim_loop_s"], "loop_cpu_s": res.extra["sim_loop_cpu_s"],
                 "cycles": res.cycles}
            best_v = v if best_v is None or v["total_s"] < best_v["total_s"] else best_v
            got, b = run_harness(exe, in_codec, out_codec, fields, n * t.o_per_frame, workdir / t.top, p)
            if not np.array_equal(got[o_name].reshape(o_want.shape), o_want):
                sys.exit(f"{t.top}: the bare harness's {o_name} differ from the golden model")
            best_b = b if best_b is None or b["process_s"] < best_b["process_s"] else best_b
        assert best_v is not None and best_b is not None
        out["runs"][str(p)] = {
            "verify": {**{k: round(x, 4) for k, x in best_v.items()}, "pixels_per_s": _rate(pixels, best_v["total_s"]),
                       "loop_pixels_per_s_cpu": _rate(pixels, best_v["loop_cpu_s"])},
            "bare": {**{k: round(x, 4) for k, x in best_b.items()}, "pixels_per_s": _rate(pixels, best_b["process_s"]),
                     "loop_pixels_per_s_cpu": _rate(pixels, best_b["loop_cpu_s"])},
            "ratio": round(best_b["process_s"] / best_v["total_s"], 3),
            "ratio_loop_cpu": round(best_b["loop_cpu_s"] / best_v["loop_cpu_s"], 3) if best_v["loop_cpu_s"] else None,
        }
    if n_cycle:
        t0 = time.perf_counter()
        res = t.verify(n_cycle, p_valid=1.0, p_ready=1.0, bench="cycle")
        total = time.perf_counter() - t0
        out["cycle"] = {"frames": n_cycle, "total_s": round(total, 3),
                        "pixels_per_s": _rate(n_cycle * t.pixels_per_frame, total), "passed": res.passed}
    return out


def _status(message: str, quiet: bool) -> Any:
    """A rich spinner on stderr while a target runs (none with --json or off a terminal)."""
    import contextlib

    from rich.console import Console

    console = Console(stderr=True)
    return contextlib.nullcontext() if quiet or not console.is_terminal else console.status(message)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--targets", default="rdc,accel,top")
    ap.add_argument("--frames", default="400,100,100", help="frames per target (rdc,accel,top)")
    ap.add_argument("--p", type=float, default=0.8, help="valid/ready probability of the randomised runs")
    ap.add_argument("--repeat", type=int, default=1, help="runs per side; the fastest counts")
    ap.add_argument("--cycle-frames", default="0,0,0", help="frames for the per-cycle bench (0: left out)")
    ap.add_argument("--net", type=Path, default=None,
                    help="bench accel on this NetSpec YAML with seeded random int8 weights (rdc and top unchanged)")
    ap.add_argument("--weights-seed", type=int, default=0, help="seed of --net's random weights")
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/logcam-bench-verify"))
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--quick", action="store_true", help="a smoke run: 20, 5, 5 frames, p = 1 only")
    a = ap.parse_args()
    if a.quick:
        a.frames, a.p, a.repeat = "20,5,5", 1.0, 1
    order = ["rdc", "accel", "top"]
    if a.net is not None:  # a bad --net is one line before anything runs
        from logcam.errors import LogcamError
        from logcam.nn.netspec import load_net

        if a.weights_seed < 0:
            sys.exit(f"--weights-seed: must be ≥ 0, got {a.weights_seed}")
        if "accel" not in a.targets.split(","):
            sys.exit("--net: applies to the accel target only; --targets must include accel")
        try:
            load_net(a.net, random_weights=a.weights_seed)
        except LogcamError as e:
            sys.exit(f"--net: {e}")
    frames = dict(zip(order, (int(v) for v in a.frames.split(","))))
    cyc = dict(zip(order, (int(v) for v in a.cycle_frames.split(","))))
    ps = [1.0] + ([a.p] if a.p < 1.0 else [])
    rows: dict[str, Any] = {}
    for name in a.targets.split(","):
        n = frames[name]
        with _status(f"{name}: {n} frames, verify and bare", a.json):
            net = a.net if name == "accel" else None
            target = rdc_target(n) if name == "rdc" else accel_target(name, n, net, a.weights_seed)
            r = bench_target(target, n, ps, a.repeat, cyc[name], a.workdir)
        rows[name] = r
        if not a.json:
            print(f"{name}: {r['config']}, {n} frames ({r['pixels']:,} pixels); load {os.getloadavg()[0]:.1f}",
                  flush=True)
            for p, run in r["runs"].items():
                v, b = run["verify"], run["bare"]
                print(f"  p={p}: verify {v['pixels_per_s']:>11,} px/s ({v['total_s']} s; loop {v['loop_s']} s), "
                      f"bare {b['pixels_per_s']:>11,} px/s ({b['process_s']} s; loop {b['loop_s']} s) → "
                      f"ratio {run['ratio']} (loop CPU {run['ratio_loop_cpu']})", flush=True)
            if "cycle" in r:
                print(f"  per-cycle bench: {r['cycle']['pixels_per_s']:,} px/s ({r['cycle']['frames']} frames)")
    rows["machine"] = (f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
                       f"load {os.getloadavg()[0]:.1f}")
    if a.json:
        print(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
