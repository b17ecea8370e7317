"""Verify the accelerator RTL (and the sensor-to-label top) against the golden model, value by value.

:func:`verify_accel` generates :class:`logcam.hw.accel.net.Accelerator` from a NetSpec + Bundle, streams
frames through it (Verilator via cocotb — :mod:`logcam.sim.rtl.accel_bench` — or Amaranth's simulator)
with seeded random valid/ready, records every layer's output stream (debug taps), the logits and the
labels, and compares each value with :func:`logcam.nn.golden.accel.run`. A mismatch names the frame,
layer, channel, row and column. :func:`verify_top` does the same from DN frames through the RDC
(codes compared with :func:`logcam.nn.golden.rdc.rdc_codes`) into the accelerator.

Cycles per frame are measured between successive labels with valid and ready held high
(``p_valid = p_ready = 1``), checked against the slowest layer's bound ``NetSpec.bound_cycles()``.
"""

from __future__ import annotations

import functools
import random
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from logcam.errors import InputError
from logcam.sim.rtl.check import MAX_REPORTED, Mismatch, VerifyResult, check_bench, check_sim
from logcam.sim.rtl.streams import PayloadCodec

#: Name of the top module in emitted Verilog.
ACCEL_TOP = "logcam_accel"
TOP_TOP = "logcam_top"


@dataclass
class Capture:
    """What came out of a simulation: per stream name the decoded beats, the label cycle stamps, counters."""

    streams: dict[str, dict[str, np.ndarray]]
    label_cycles: np.ndarray
    stats: dict[str, dict[str, int]] = field(default_factory=dict)
    timed_out: bool = False
    sim_cycles: int = 0
    handshake: dict[str, int] = field(default_factory=dict)
    loop_s: float = 0.0
    loop_cpu_s: float = 0.0


# --- ports and codecs --------------------------------------------------------------------------------
def port_fields(component: Any) -> dict[str, list[dict[str, Any]]]:
    """Field descriptions of the streams a bench drives or watches: ``i``, ``o``, ``tap*``; ``stats*``."""
    from logcam.hw.stream import describe_layout

    out: dict[str, list[dict[str, Any]]] = {}
    for name, member in component.signature.members.items():
        if name == "i" or name == "o" or name.startswith("tap"):
            out[name] = describe_layout(member.signature.members["payload"].shape)
        elif "stats" in name:
            out[name] = describe_layout(member.shape)
    return out


def input_beats(frames: np.ndarray) -> dict[str, np.ndarray]:
    """N×C×H×W frames → beat fields (raster order, one pixel per beat): data (beats, C), first, last."""
    n, c, h, w = frames.shape
    data = np.ascontiguousarray(frames.transpose(0, 2, 3, 1)).reshape(n * h * w, c).astype(np.int64)
    x = np.tile(np.arange(w), n * h)
    y = np.tile(np.repeat(np.arange(h), w), n)
    return {"data": data, "first": ((x == 0) & (y == 0)).astype(np.int64), "last": (x == w - 1).astype(np.int64)}


# --- comparison ---------------------------------------------------------------------------------------
def expected_streams(spec: Any, golden: Any) -> dict[str, dict[str, np.ndarray]]:
    """Per tap the golden values as N×C×H×W and the expected first/last flags of its beats."""
    out: dict[str, dict[str, np.ndarray]] = {}
    for i, (_shape, act) in enumerate(zip(spec.layer_shapes(), golden.acts)):
        a = act.numpy().astype(np.int64)
        a = a.reshape(a.shape[0], -1, 1, 1) if a.ndim == 2 else a
        n, _, h, w = a.shape
        x = np.tile(np.arange(w), n * h)
        y = np.tile(np.repeat(np.arange(h), w), n)
        first = (x == 0) & (y == 0)
        last = x == w - 1
        out[f"tap{i}"] = {"values": a, "first": first.astype(np.int64), "last": last.astype(np.int64)}
    return out


def _beats_to_nchw(data: np.ndarray, n: int, c: int, h: int, w: int) -> np.ndarray:
    return data.reshape(n, h, w, c).transpose(0, 3, 1, 2)


def compare_stream(name: str, layer: str, want: dict[str, np.ndarray], got: dict[str, np.ndarray]
                   ) -> tuple[int, list[Mismatch]]:
    """Compare one tap (values and flags); a short stream counts every missing beat as a mismatch."""
    vals = want["values"]
    n, c, h, w = vals.shape
    beats = n * h * w
    got_n = len(got["data"]) if got else 0
    if got_n != beats:
        m = Mismatch(frame=min(got_n // (h * w), n - 1) if h * w else 0, row=0, col=0, expected=beats, got=got_n,
                     layer=layer, what="beats")
        return max(1, abs(beats - got_n)), [m]
    g = _beats_to_nchw(got["data"], n, c, h, w)
    bad = np.argwhere(g != vals)
    found = [Mismatch(frame=int(f), channel=int(ch), row=int(y), col=int(x), expected=int(vals[f, ch, y, x]),
                      got=int(g[f, ch, y, x]), layer=layer, what="activation") for f, ch, y, x in bad[:MAX_REPORTED]]
    count = len(bad)
    for flag in ("first", "last"):
        diff = np.flatnonzero(got[flag].astype(np.int64) != want[flag])
        count += len(diff)
        for j in diff[:max(0, MAX_REPORTED - len(found))]:
            f, rest = divmod(int(j), h * w)
            found.append(Mismatch(frame=f, row=rest // w, col=rest % w, expected=int(want[flag][j]),
                                  got=int(got[flag][j]), layer=layer, what=f"{flag} flag"))
    return count, found


def compare_all(spec: Any, golden: Any, cap: Capture) -> tuple[int, list[Mismatch]]:
    """Every tap, the logits (last tap) and the labels against the golden model."""
    total, found = 0, []
    n_layers = len(spec.layers)
    for name, want in expected_streams(spec, golden).items():
        i = int(name[3:])
        layer = f"{i} ({spec.layers[i].type}{', logits' if i == n_layers - 1 else ''})"
        cnt, mm = compare_stream(name, layer, want, cap.streams.get(name, {}))
        total += cnt
        found += mm
    labels = golden.labels.numpy().astype(np.int64)
    got = cap.streams.get("o", {}).get("label", np.zeros(0, np.int64))
    if len(got) != len(labels):
        total += max(1, abs(len(labels) - len(got)))
        found.append(Mismatch(frame=min(len(got), len(labels) - 1), row=0, col=0, expected=len(labels),
                              got=len(got), layer="argmax", what="label beats"))
    else:
        for f in np.flatnonzero(got != labels):
            total += 1
            found.append(Mismatch(frame=int(f), row=0, col=0, expected=int(labels[f]), got=int(got[f]),
                                  layer="argmax", what="label"))
    return total, found[:MAX_REPORTED]


# --- simulators ---------------------------------------------------------------------------------------
def _amaranth_run(dut: Any, fields: dict[str, list[dict[str, Any]]], beats: dict[str, np.ndarray], frames: int,
                  *, p_valid: float, p_ready: float, seed: int, max_cycles: int, expect: dict[str, int]) -> Capture:
    """Run ``dut`` under amaranth.sim with seeded random valid/ready; same streams as the cocotb bench."""
    from amaranth.sim import Simulator

    codecs = {name: PayloadCodec(f) for name, f in fields.items()}
    in_words = codecs["i"].pack(**beats)
    watch = [name for name in fields if name.startswith("tap") or name == "o"]
    seen: dict[str, list[int]] = {name: [] for name in watch}
    label_cycles: list[int] = []
    stat_ports = [name for name in fields if "stats" in name]
    stats: dict[str, dict[str, int]] = {}
    state = {"cycles": 0, "done": False}
    rng_v, rng_r = random.Random(seed), random.Random(seed + 1)

    async def source(ctx: Any) -> None:
        for word in in_words:
            while p_valid < 1.0 and rng_v.random() >= p_valid:
                ctx.set(dut.i.valid, 0)
                await ctx.tick()
            ctx.set(dut.i.payload.as_value(), word)
            ctx.set(dut.i.valid, 1)
            # the loop form of ``ctx.tick().until(dut.i.ready)``: a background process still waiting here when
            # the run ends is closed by the simulator, and ``until``'s own clean-up then raises inside amaranth
            # ("aclose(): asynchronous generator is already running")
            while not (await ctx.tick().sample(dut.i.ready))[-1]:
                pass
        ctx.set(dut.i.valid, 0)

    async def watcher(ctx: Any) -> None:
        ports = [(name, getattr(dut, name)) for name in watch]
        sigs = []
        for _, port in ports:
            sigs += [port.valid, port.ready, port.payload.as_value()]
        ctx.set(dut.o.ready, 1 if p_ready >= 1.0 else 0)
        while state["cycles"] < max_cycles:
            vals = (await ctx.tick().sample(*sigs))[2:]  # after the clock and reset states
            state["cycles"] += 1
            for j, (name, _) in enumerate(ports):
                if vals[3 * j] and vals[3 * j + 1]:
                    seen[name].append(int(vals[3 * j + 2]))
                    if name == "o":
                        label_cycles.append(state["cycles"])
            # done when every label is out and every tap has all its beats (a layer's last row may
            # still be in flight after the last label when later layers do not need it)
            if len(seen["o"]) >= frames and all(len(seen[k]) >= v for k, v in expect.items() if k in seen):
                state["done"] = True
                return
            if p_ready < 1.0:
                ctx.set(dut.o.ready, int(rng_r.random() < p_ready))

    async def watcher_then_stats(ctx: Any) -> None:
        await watcher(ctx)
        await ctx.tick().repeat(2)  # the activity counters two cycles later, as the cocotb bench reads them
        for name in stat_ports:
            word = int(ctx.get(getattr(dut, name).as_value()))
            stats[name] = {k: int(v[0]) for k, v in codecs[name].unpack([word]).items()}

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(source, background=True)
    sim.add_testbench(watcher_then_stats)
    sim.run()
    streams = {name: codecs[name].unpack(words) if words else {} for name, words in seen.items()}
    return Capture(streams, np.asarray(label_cycles, dtype=np.int64), stats=stats, timed_out=not state["done"],
                   sim_cycles=state["cycles"])


def _verilator_run(component: Any, top: str, fields: dict[str, list[dict[str, Any]]],
                   inputs: dict[str, np.ndarray], frames: int, *, p_valid: float, p_ready: float, seed: int,
                   max_cycles: int, bench: str, workdir: Path | None, expect: dict[str, int],
                   mode: str = "memory", waves: Path | None = None, design: tuple[Any, ...] = (),
                   meanwhile: Callable[[], Any] | None = None, verilog: str | None = None
                   ) -> tuple[Capture, float]:
    """Build (cached) and run a bench; returns the capture and the build time (s).

    ``design``: the configuration ``component`` was generated from (specs, bundle); its Verilog is then
    emitted once per design key (:func:`logcam.sim.rtl.emit.cached_verilog`), else on every call.
    ``meanwhile``: work (the golden model) done on the other core while the memory bench's simulator runs.
    ``verilog``: simulate this Verilog instead of the component's (a mutant of it: ``logcam verify mutate``).

    ``mode`` "memory": the generated shell (:mod:`logcam.sim.rtl.shell`) streams the input from a file,
    randomises valid/ready in the simulator and records ``o`` and every tap; "cycle": the cocotb module
    ``bench`` drives and watches every port per clock edge, on the full shell (the memory bench runs on the
    memory-only one: ``shell_verilog(memory_only=True)``, a faster simulation loop).
    """
    from logcam.sim.rtl.emit import cached_verilog, emit_verilog, quiet_unused
    from logcam.sim.rtl.runner import run_cocotb, trace_kind, verilator_build
    from logcam.sim.rtl.shell import BUILD_ARGS, design_ports, shell_verilog, start_shell

    if verilog is None:
        verilog = cached_verilog(lambda: component, top, *design) if design else emit_verilog(component, top)
    quiet_unused(component)  # emitted now or earlier: its Verilog stands for it
    text, shell_top = shell_verilog(verilog, top, memory_only=mode == "memory")
    build = verilator_build(text, shell_top, build_args=BUILD_ARGS, waves=trace_kind(waves))
    codecs = {name: PayloadCodec(f) for name, f in fields.items()}
    stat_ports = [name for name in fields if "stats" in name]
    if mode == "memory":
        widths = {p.name[:-len("__payload")]: p.width for p in design_ports(verilog, top)
                  if p.name.endswith("__payload")}
        in_width = widths.pop("i")
        pending = start_shell(build, codecs["i"].pack_bytes(**inputs), in_width, widths, expect, p_valid=p_valid,
                              p_ready=p_ready, seed=seed, max_cycles=max_cycles, stats=stat_ports, workdir=workdir,
                              waves=waves)
        if meanwhile is not None:
            meanwhile()
        run = pending.result()
        streams = {name: codecs[name].unpack_bytes(raw) if len(raw) else {} for name, raw in run.streams.items()}
        stats = {name: {k: int(v[0]) for k, v in codecs[name].unpack([run.stats[name]]).items()}
                 for name in stat_ports}
        cap = Capture(streams, run.o_cycles, stats=stats, timed_out=run.timed_out, sim_cycles=run.last_cycle,
                      handshake=run.handshake, loop_s=run.loop_s, loop_cpu_s=run.loop_cpu_s)
        return cap, build.build_s
    params = {"fields": fields, "frames": frames, "p_valid": p_valid, "p_ready": p_ready, "seed": seed,
              "max_cycles": max_cycles, "expect": expect}
    with tempfile.TemporaryDirectory(prefix="logcam-accel-") as tmp:
        wd = workdir or Path(tmp)
        result = run_cocotb(build, bench, arrays={f"in_{k}": v for k, v in inputs.items()}, params=params,
                            workdir=wd, seed=seed, waves=waves)
        streams = {}
        for name in fields:
            if "stats" in name or name == "i":
                continue
            files = sorted(wd.glob(f"out_{name}.*.npy"))
            streams[name] = {p.name[len(f"out_{name}."):-4]: np.load(p) for p in files}
        label_cycles = np.load(wd / "out_label_cycles.npy")
    cap = Capture(streams, label_cycles, stats=result.get("stats", {}), timed_out=bool(result.get("timed_out")),
                  sim_cycles=int(result.get("cycles", 0)))
    return cap, build.build_s


def random_netspec(rng: np.random.Generator, fmt: str, rounding: str) -> Any:
    """A random small NetSpec within the RTL's limits: 8..12 pixel input of 1–2 channels, 1–2 conv layers
    (k 1..3, stride 1–2, any padding, optional pool and ReLU, random folding that divides), an fc layer
    whose simd divides its input channels; random zero point. ``fmt``: "codes" (3, 5 or 7 levels) or "uint8"."""
    from pydantic import ValidationError

    from logcam.nn.netspec import NetSpec

    for _ in range(100):  # draw until the shapes work out (a pool needs ≥ 2×2, …)
        h, w = int(rng.integers(8, 13)), int(rng.integers(8, 13))
        c = int(rng.integers(1, 3))
        layers = []
        ch = c
        for _ in range(int(rng.integers(1, 3))):
            k = int(rng.choice([1, 2, 3]))
            out = int(rng.choice([2, 3, 4]))
            fan = ch * k * k
            layers.append({"type": "conv", "out_channels": out, "kernel": k, "pad": int(rng.integers(0, k)),
                           "stride": int(rng.choice([1, 1, 2])),
                           "pool": int(rng.choice([1, 2])), "relu": bool(rng.integers(0, 2)),
                           "pe": int(rng.choice([d for d in range(1, out + 1) if out % d == 0])),
                           "simd": int(rng.choice([d for d in range(1, fan + 1) if fan % d == 0]))})
            ch = out
        n = int(rng.integers(2, 6))
        layers.append({"type": "fc", "out_features": n, "pe": int(rng.choice([d for d in (1, n) if n % d == 0])),
                       "simd": int(rng.choice([d for d in range(1, ch + 1) if ch % d == 0]))})
        inp = {"channels": c, "height": h, "width": w, "format": fmt,
               "levels": int(rng.choice([3, 5, 7])) if fmt == "codes" else None}
        try:
            return NetSpec.model_validate({"input": inp, "layers": layers,
                                           "quant": {"rounding": rounding, "zero_point": int(rng.integers(-4, 3))}})
        except (ValidationError, ValueError):
            continue
    raise RuntimeError("random_netspec: no valid NetSpec in 100 draws")


def random_residual_netspec(rng: np.random.Generator, fmt: str, rounding: str) -> Any:
    """A random small residual NetSpec within the RTL's limits (issue 13's operators): 6..10 pixel input of
    1–3 channels (codes, uint8 or int8), a 3×3 stem, 1–2 inverted-residual blocks (pointwise expansion with
    a ReLU6-style clamp, depthwise k 3/5/7 with stride 1–2, pointwise projection, an add where the shapes
    allow), an optional global average pool, an fc; random folding that divides, random zero point."""
    from pydantic import ValidationError

    from logcam.nn.netspec import NetSpec

    def div(n: int) -> int:
        return int(rng.choice([d for d in range(1, n + 1) if n % d == 0]))

    for _ in range(100):
        h, w, c = int(rng.integers(6, 11)), int(rng.integers(6, 11)), int(rng.integers(1, 4))
        width = int(rng.integers(2, 5))
        layers: list[dict[str, Any]] = [{"type": "conv", "out_channels": width, "kernel": 3, "pad": 1,
                                         "pe": div(width), "simd": div(9 * c)}]
        for _ in range(int(rng.integers(1, 3))):
            k, stride = int(rng.choice([3, 5, 7])), int(rng.choice([1, 1, 2]))
            expand = width * int(rng.integers(1, 3))
            start = len(layers) - 1
            layers += [{"type": "pointwise", "out_channels": expand, "clamp_max": int(rng.integers(40, 128)),
                        "pe": div(expand), "simd": div(width)},
                       {"type": "depthwise", "kernel": k, "pad": k // 2, "stride": stride,
                        "relu": bool(rng.integers(0, 2)), "pe": div(expand), "simd": div(k * k)},
                       {"type": "pointwise", "out_channels": width, "relu": False, "pe": div(width),
                        "simd": div(expand)}]
            if stride == 1:
                layers.append({"type": "add", "skip": start, "relu": bool(rng.integers(0, 2)), "pe": div(width)})
        if rng.integers(0, 2):
            layers.append({"type": "avgpool_global"})
        n = int(rng.integers(2, 5))
        layers.append({"type": "fc", "out_features": n, "pe": div(n), "simd": div(width)})
        inp = {"channels": c, "height": h, "width": w, "format": fmt,
               "levels": int(rng.choice([3, 5, 7])) if fmt == "codes" else None}
        try:
            return NetSpec.model_validate({"input": inp, "layers": layers,
                                           "quant": {"rounding": rounding, "zero_point": int(rng.integers(-4, 3))}})
        except (ValidationError, ValueError):
            continue
    raise RuntimeError("random_residual_netspec: no valid NetSpec in 100 draws")


# --- public API ---------------------------------------------------------------------------------------
def random_inputs(spec: Any, n: int, seed: int) -> np.ndarray:
    """Seeded N×C×H×W integer frames over the NetSpec's whole input range (codes ±m or uint8)."""
    rng = np.random.default_rng(seed)
    return rng.integers(spec.input.lo, spec.input.hi + 1, size=(n, *spec.input.shape), dtype=np.int64)


def cycles_per_frame(label_cycles: np.ndarray) -> float:
    """Mean cycles between successive labels (steady-state cycles per frame); 0 with fewer than 2."""
    if len(label_cycles) < 2:
        return 0.0
    return float(label_cycles[-1] - label_cycles[0]) / (len(label_cycles) - 1)


def expected_beats(spec: Any, frames: int, *, codes: bool = False) -> dict[str, int]:
    """Beats each watched stream carries for ``frames`` frames: taps (one per output pixel), labels, codes."""
    out = {f"tap{s.index}": frames * s.out_shape[1] * s.out_shape[2] for s in spec.layer_shapes()}
    out["o"] = frames
    if codes:
        out["tap_codes"] = frames * spec.input.height * spec.input.width
    return out


def _max_cycles(per_frame: int, frames: int, p_valid: float, p_ready: float) -> int:
    return int((frames + 3) * per_frame * 2 / (p_valid * p_ready)) + 10_000


def verify_accel(spec: Any, bundle: Any, frames: np.ndarray, *, sim: str = "verilator", seed: int = 0,
                 p_valid: float = 1.0, p_ready: float = 1.0, workdir: Path | None = None, bench: str = "memory",
                 waves: Path | None = None, coverage: bool = False, verilog: str | None = None,
                 max_cycles: int | None = None) -> VerifyResult:
    """Stream N×C×H×W integer frames through the accelerator RTL and compare every layer with the golden model.

    ``p_valid``/``p_ready``: per-cycle probability that the source offers a beat / the label sink takes one
    (1.0 = full speed, the only setting where cycles per frame mean throughput). ``bench`` (Verilator):
    "memory" (the generated shell streams and records in the simulator) or "cycle" (cocotb drivers per
    clock edge); ``waves``: an FST trace of the run (a separate, traced build); ``coverage``: functional
    coverage (:mod:`logcam.sim.rtl.coverage`) in ``extra["coverage"]``; ``verilog``: simulate this Verilog
    instead of the design's own (a mutant of it, ``logcam verify mutate``; Verilator only); ``max_cycles``:
    the run's cycle limit (default: 2× the frames' cycles at these handshake probabilities, ∝ 1/(p_valid·p_ready)).
    """
    from logcam.hw.accel.net import Accelerator
    from logcam.nn.golden.accel import as_input_batch, run

    check_sim(sim, p_valid, p_ready)
    check_bench(bench, sim, waves)
    x = as_input_batch(spec, frames).numpy()
    n = x.shape[0]
    if n < 1:
        raise InputError("verify_accel needs at least one frame")
    golden_of = functools.cache(lambda: run(spec, bundle, x))  # the memory bench runs it beside the simulator
    dut = Accelerator(spec, bundle)
    fields = port_fields(dut)
    beats = input_beats(x)
    per_frame = max(dut.expected_cycles())
    limit = max_cycles or _max_cycles(per_frame, n, p_valid, p_ready)
    t0 = time.perf_counter()
    build_s = 0.0
    if sim == "amaranth":
        cap = _amaranth_run(dut, fields, beats, n, p_valid=p_valid, p_ready=p_ready, seed=seed, max_cycles=limit,
                            expect=expected_beats(spec, n))
    else:
        cap, build_s = _verilator_run(dut, ACCEL_TOP, fields, beats, n, p_valid=p_valid, p_ready=p_ready,
                                      seed=seed, max_cycles=limit, bench="logcam.sim.rtl.accel_bench",
                                      workdir=workdir, expect=expected_beats(spec, n), mode=bench, waves=waves,
                                      design=(spec, bundle), meanwhile=golden_of, verilog=verilog)
    wall = time.perf_counter() - t0 - build_s
    golden = golden_of()
    count, found = compare_all(spec, golden, cap)
    extra = None
    if coverage:
        from logcam.sim.rtl.coverage import accel_coverage

        extra = {"coverage": accel_coverage(spec, bundle, golden, cap.handshake).to_json()}
    return _result("accel", sim, spec, n, x.shape[2] * x.shape[3] * n, cap, count, found, wall, build_s,
                   dut.expected_cycles(), seed, p_valid, p_ready, extra=extra)


def _result(target: str, sim: str, spec: Any, n: int, pixels: int, cap: Capture, count: int,
            found: list[Mismatch], wall: float, build_s: float, expected: list[int], seed: int, p_valid: float,
            p_ready: float, extra: dict[str, Any] | None = None) -> VerifyResult:
    cpf = cycles_per_frame(cap.label_cycles)
    bound = spec.bound_cycles()
    ex = {"cycles_per_frame": round(cpf, 2), "bound_cycles": bound, "ideal_cycles_per_layer": spec.ideal_cycles(),
          "expected_cycles_per_layer": expected, "cycles_per_bound": round(cpf / bound, 4) if cpf else None,
          "timed_out": cap.timed_out, "sim_cycles": cap.sim_cycles, "stats": cap.stats,
          "frames_per_s": round(n / wall, 3) if wall > 0 else None, "handshake": cap.handshake,
          "sim_loop_s": round(cap.loop_s, 4), "sim_loop_cpu_s": round(cap.loop_cpu_s, 4)}
    ex.update(extra or {})
    # cycles/ideal_cycles cover the whole run (as for the RDC): the cycle of the last label, against
    # n frames at the slowest layer's bound; the steady-state rate is extra["cycles_per_frame"].
    last = int(cap.label_cycles[-1]) if len(cap.label_cycles) else int(cap.sim_cycles)
    return VerifyResult(target=target, sim=sim, frames=n, pixels=pixels, cycles=last,
                        ideal_cycles=n * bound, mismatches=count, wall_s=wall, build_s=build_s,
                        first_mismatches=found,
                        config={"net": spec.name, "rounding": spec.quant.rounding, "seed": seed, "p_valid": p_valid,
                                "p_ready": p_ready},
                        extra=ex)


def dn_beats(dn: np.ndarray, lanes: int) -> dict[str, np.ndarray]:
    """N×H×W DN frames → pixel-stream beat fields with ``lanes`` pixels per beat: data, first, last."""
    n, h, w = dn.shape
    words = w // lanes
    data = dn.reshape(n * h * words, lanes).astype(np.int64)
    x = np.tile(np.arange(words), n * h)
    y = np.tile(np.repeat(np.arange(h), words), n)
    return {"data": data, "first": ((x == 0) & (y == 0)).astype(np.int64),
            "last": (x == words - 1).astype(np.int64)}


def verify_top(rdc: Any, spec: Any, bundle: Any, dn: np.ndarray, *, sim: str = "verilator", seed: int = 0,
               p_valid: float = 1.0, p_ready: float = 1.0, workdir: Path | None = None, bench: str = "memory",
               waves: Path | None = None, coverage: bool = False, verilog: str | None = None,
               max_cycles: int | None = None) -> VerifyResult:
    """DN frames (N×H×W) through RDC → accelerator; codes, every layer, logits and labels vs the golden models.

    ``bench``, ``waves``, ``coverage``, ``verilog``, ``max_cycles`` as for :func:`verify_accel` (coverage adds the
    RDC's bins).
    """
    import torch

    from logcam.hw.top import Top
    from logcam.nn.golden.accel import run
    from logcam.nn.golden.rdc import check_frames, rdc_codes

    check_sim(sim, p_valid, p_ready)
    check_bench(bench, sim, waves)
    dut = Top(rdc, spec, bundle)
    frames = check_frames(torch.as_tensor(np.asarray(dn)), rdc, "DN frames").numpy()
    n = frames.shape[0]

    @functools.cache
    def golden_of() -> tuple[np.ndarray, Any]:  # the memory bench runs it beside the simulator
        codes = rdc_codes(frames, rdc).numpy().astype(np.int64)
        return codes, run(spec, bundle, codes)

    fields = port_fields(dut)
    beats = dn_beats(frames, rdc.lanes)
    per_frame = max(dut.accel.expected_cycles())
    limit = max_cycles or _max_cycles(per_frame, n, p_valid, p_ready)
    t0 = time.perf_counter()
    build_s = 0.0
    if sim == "amaranth":
        cap = _amaranth_run(dut, fields, beats, n, p_valid=p_valid, p_ready=p_ready, seed=seed, max_cycles=limit,
                            expect=expected_beats(spec, n, codes=True))
    else:
        cap, build_s = _verilator_run(dut, TOP_TOP, fields, beats, n, p_valid=p_valid, p_ready=p_ready, seed=seed,
                                      max_cycles=limit, bench="logcam.sim.rtl.top_bench", workdir=workdir,
                                      expect=expected_beats(spec, n, codes=True), mode=bench, waves=waves,
                                      design=(rdc, spec, bundle), meanwhile=golden_of, verilog=verilog)
    wall = time.perf_counter() - t0 - build_s
    codes, golden = golden_of()
    _, _, h, w = codes.shape
    xs = np.tile(np.arange(w), n * h)
    ys = np.tile(np.repeat(np.arange(h), w), n)
    want_codes = {"values": codes, "first": ((xs == 0) & (ys == 0)).astype(np.int64),
                  "last": (xs == w - 1).astype(np.int64)}
    c_count, c_found = compare_stream("tap_codes", "rdc (codes)", want_codes, cap.streams.get("tap_codes", {}))
    count, found = compare_all(spec, golden, cap)
    return _result("top", sim, spec, n, frames.shape[1] * frames.shape[2] * n, cap, c_count + count,
                   (c_found + found)[:MAX_REPORTED], wall, build_s, dut.accel.expected_cycles(), seed, p_valid,
                   p_ready, extra={"rdc": rdc.model_dump(mode="json"), **_top_coverage(coverage, rdc, frames, codes,
                                                                                         spec, bundle, golden, cap)})


def _top_coverage(on: bool, rdc: Any, frames: np.ndarray, codes: np.ndarray, spec: Any, bundle: Any, golden: Any,
                  cap: Capture) -> dict[str, Any]:
    """``{"coverage": …}`` of a top run (the RDC's codes, the accelerator, the handshake), or {} when off."""
    if not on:
        return {}
    from logcam.sim.rtl.coverage import accel_coverage, handshake_coverage, rdc_coverage

    cov = rdc_coverage(rdc, frames, codes)
    cov.merge(accel_coverage(spec, bundle, golden))
    if cap.handshake:
        cov.merge(handshake_coverage(cap.handshake))
    return {"coverage": cov.to_json()}


__all__ = [
    "ACCEL_TOP",
    "TOP_TOP",
    "Capture",
    "compare_all",
    "cycles_per_frame",
    "dn_beats",
    "input_beats",
    "port_fields",
    "random_inputs",
    "replace",
    "verify_accel",
    "verify_top",
]
