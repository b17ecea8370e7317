"""A block-level stream bench for amaranth.sim: seeded random valid/ready and a handshake monitor.

Used by the block tests (tests/hw/accel/test_*_block.py, tests/hw/test_lane_serializer.py). Beats are
packed and unpacked with the project's codec (:class:`logcam.sim.rtl.streams.PayloadCodec` on
:func:`logcam.hw.stream.describe_layout`), so a test speaks in numpy field arrays. Besides the beats
taken, the sink checks the stream rule of amaranth.lib.stream / AXI4-Stream on the output: once valid
is high it stays high, with the same payload, until the beat is taken.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from amaranth.sim import Simulator

from logcam.hw.stream import describe_layout
from logcam.sim.rtl.streams import PayloadCodec


def codec(port: Any) -> PayloadCodec:
    """The codec of a stream port's payload layout."""
    return PayloadCodec(describe_layout(port.payload.shape()))


@dataclass
class Run:
    """What a bench run saw: the output beats taken (field arrays), cycles, handshake violations."""

    out: dict[str, np.ndarray]
    beats: int
    cycles: int
    stalls: int  # cycles the output was valid and the sink not ready
    violations: list[str] = field(default_factory=list)


def run_stream(dut: Any, fields_in: dict[str, np.ndarray], n_out: int, *, p_valid: float = 1.0,
               p_ready: float = 1.0, seed: int = 0, max_cycles: int | None = None) -> Run:
    """Drive ``dut.i`` with the beats of ``fields_in`` (arrays with one row per beat) and take ``n_out``
    beats from ``dut.o``; valid and ready are drawn per cycle with the given probabilities."""
    beats = codec(dut.i).pack(**fields_in)
    out_codec = codec(dut.o)
    limit = max_cycles or int(40 * (len(beats) + n_out) / (p_valid * p_ready)) + 2000
    got: list[int] = []
    info: dict[str, Any] = {"cycles": 0, "stalls": 0, "violations": []}

    async def source(ctx: Any) -> None:
        rng = random.Random(seed)
        payload = dut.i.payload.as_value()
        for beat in beats:
            while p_valid < 1.0 and rng.random() >= p_valid:
                ctx.set(dut.i.valid, 0)
                await ctx.tick()
            ctx.set(payload, beat)
            ctx.set(dut.i.valid, 1)
            while True:  # the loop form: a source still waiting when the run ends leaves quietly
                _, _, ready = await ctx.tick().sample(dut.i.ready)
                if ready:
                    break
        ctx.set(dut.i.valid, 0)

    async def sink(ctx: Any) -> None:
        rng = random.Random(seed + 7919)
        payload = dut.o.payload.as_value()
        held: int | None = None  # payload of a beat offered but not taken at the previous edge
        cycles = 0
        while len(got) < n_out and cycles < limit:
            ready = p_ready >= 1.0 or rng.random() < p_ready
            ctx.set(dut.o.ready, int(ready))
            _, _, valid, value = await ctx.tick().sample(dut.o.valid, payload)
            cycles += 1
            if held is not None and (not valid or int(value) != held) and len(info["violations"]) < 5:
                info["violations"].append(f"cycle {cycles}: output beat {len(got)} "
                                          f"{'dropped valid' if not valid else 'changed payload'} before it was taken")
            if valid and ready:
                got.append(int(value))
                held = None
            elif valid:
                held = int(value)
                info["stalls"] += 1
            else:
                held = None
        ctx.set(dut.o.ready, 0)
        # a few more cycles: no extra beat may appear
        for _ in range(8):
            ctx.set(dut.o.ready, 1)
            _, _, valid = await ctx.tick().sample(dut.o.valid)
            if valid and len(got) >= n_out:
                got.append(-1)  # marks an extra beat
                break
        info["cycles"] = cycles

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(source, background=True)
    sim.add_testbench(sink)
    sim.run()
    extra = got[n_out:]
    taken = got[:n_out]
    violations = list(info["violations"])
    if extra:
        violations.append(f"an extra output beat after the {n_out} expected")
    out = out_codec.unpack(taken) if taken else {}
    return Run(out, len(taken), info["cycles"], info["stalls"], violations)


def frame_flags(frames: int, h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """``first`` (pixel (0, 0) of a frame) and ``last`` (last column of a row) of a raster pixel stream."""
    x = np.tile(np.arange(w), frames * h)
    y = np.tile(np.repeat(np.arange(h), w), frames)
    return ((x == 0) & (y == 0)).astype(np.int64), (x == w - 1).astype(np.int64)


def pixel_beats(x: np.ndarray) -> dict[str, np.ndarray]:
    """N×C×H×W integers → beat fields of a one-pixel-per-beat stream (raster order)."""
    n, c, h, w = x.shape
    first, last = frame_flags(n, h, w)
    return {"data": np.ascontiguousarray(x.transpose(0, 2, 3, 1)).reshape(-1, c).astype(np.int64),
            "first": first, "last": last}


def check_pixels(block: str, run: Run, want: np.ndarray) -> None:
    """Every value and flag of a pixel stream against N×C×H×W ``want``; a mismatch names the block, frame,
    channel and coordinates."""
    n, c, h, w = want.shape
    assert not run.violations, f"{block}: {run.violations}"
    assert run.beats == n * h * w, f"{block}: {run.beats} output beats, want {n * h * w}"
    got = run.out["data"].reshape(n, h, w, c).transpose(0, 3, 1, 2)
    bad = np.argwhere(got != want)
    if len(bad):
        f, ch, y, x = (int(v) for v in bad[0])
        raise AssertionError(f"{block}: {len(bad)} values differ; first: frame {f} channel {ch} (y={y}, x={x}): "
                             f"want {want[f, ch, y, x]} got {got[f, ch, y, x]}")
    first, last = frame_flags(n, h, w)
    for name, flag in (("first", first), ("last", last)):
        wrong = np.flatnonzero(run.out[name] != flag)
        if len(wrong):
            f, rest = divmod(int(wrong[0]), h * w)
            raise AssertionError(f"{block}: {name} flag wrong on {len(wrong)} beats; first: frame {f} "
                                 f"(y={rest // w}, x={rest % w}): want {flag[wrong[0]]}")
