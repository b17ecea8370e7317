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


# --- one accelerator layer: parameters that reach the requantizer's corners, and its expected output ------
def corner_params(spec: Any, index: int, seed: int) -> Any:
    """Parameters for layer ``index`` of ``spec`` whose outputs hit rounding ties and both clamps.

    Output channel j, by j mod 4: 0: int8 weights with the extremes −128 and 127 planted, requant
    factor 1/2 (saturates at both ends); 1 and 2: weights in −3..3 (accumulators stay small) and
    biases 0..8 (so ReLU does not swallow them) with factors 3/4 and 1/2 (every odd accumulator is a tie
    for 1/2; 3/4 has ties at acc ≡ 2 mod 4); 3: int8 weights with the random bundle's typical factor.
    Biases of channels 0 and 3 are small, of both signs.
    """
    from logcam.nn.netspec import LayerParams, random_bundle

    base = random_bundle(spec, seed).layers[index]
    rng = np.random.default_rng(seed)
    n = len(base.mult)
    w = rng.integers(-128, 128, size=base.weight.shape)
    for j in range(n):
        if j % 4 in (1, 2):
            w[j] = rng.choice([-3, -2, -1, 1, 2, 3], size=w[j].shape)
        elif j % 4 == 0:
            flat = w[j].reshape(-1)
            flat[rng.choice(flat.size, size=max(1, flat.size // 4), replace=False)] = -128
            flat[rng.choice(flat.size, size=max(1, flat.size // 4), replace=False)] = 127
            w[j] = flat.reshape(w[j].shape)
    factors = {0: (1, 1), 1: (3, 2), 2: (1, 1)}
    mult = np.array([factors[j % 4][0] if j % 4 in factors else base.mult[j] for j in range(n)], dtype=np.int32)
    shift = np.array([factors[j % 4][1] if j % 4 in factors else base.shift[j] for j in range(n)], dtype=np.int32)
    bias = rng.integers(-40, 41, size=n)
    bias[1::4], bias[2::4] = rng.integers(0, 9, size=len(bias[1::4])), rng.integers(0, 9, size=len(bias[2::4]))
    return LayerParams(w.astype(np.int8), bias, mult, shift)


def layer_block(spec: Any, bundle: Any, index: int) -> Any:
    """Layer ``index`` of ``spec`` as a ConvLayer or FcLayer on its own, with the port shapes the accelerator
    gives it: the NetSpec's input values (multiplier-free products on codes of ≤ 7 levels) for layer 0,
    int8 activations after that."""
    from amaranth.hdl import signed

    from logcam.hw.accel.conv import ConvLayer
    from logcam.hw.accel.fc import FcLayer
    from logcam.hw.accel.mac import MAX_CODE
    from logcam.hw.stream import input_shape
    from logcam.nn.netspec import ConvSpec

    inp, q = spec.input, spec.quant
    if index == 0:
        shape, max_abs = input_shape(inp.format, inp.bits), max(abs(inp.lo), inp.hi)
        code_max = inp.hi if inp.format == "codes" and inp.hi <= MAX_CODE else None
    else:
        shape, max_abs, code_max = signed(q.act_bits), 1 << (q.act_bits - 1), None
    layer = spec.layers[index]
    cls = ConvLayer if isinstance(layer, ConvSpec) else FcLayer
    return cls(layer, bundle.layers[index], q, in_shape=spec.layer_shapes()[index].in_shape, value_shape=shape,
               max_abs=max_abs, clamp=spec.clamp_of(index), code_max=code_max)


def with_layer(bundle: Any, index: int, params: Any) -> Any:
    """``bundle`` with layer ``index`` replaced."""
    from logcam.nn.netspec import Bundle

    layers = list(bundle.layers)
    layers[index] = params
    return Bundle(tuple(layers), dict(bundle.scales))


def golden_layer(spec: Any, bundle: Any, index: int, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Layer ``index`` of the golden model on its integer input x (N×C×H×W), in the spec's literal order:
    acc = Σ w·x + bias, q = requantize + clamp, then the 2×2 pool if the layer has one.

    Returns (acc, q, out) as int64: acc and q before pooling (conv: N×O×Ho×Wo; fc: N×O), out after.
    """
    import torch

    from logcam.nn.golden.accel import accumulate, max_pool2
    from logcam.nn.netspec import ConvSpec
    from logcam.nn.quant import requantize

    lp = bundle.layers[index]
    acc = accumulate(spec, bundle, index, torch.from_numpy(x.astype(np.int64)))
    lo, hi = spec.clamp_of(index)
    q = requantize(acc, torch.from_numpy(lp.mult.astype(np.int64)), torch.from_numpy(lp.shift.astype(np.int64)),
                   rounding=spec.quant.rounding, zero_point=spec.quant.zero_point, lo=lo, hi=hi, channel_dim=1)
    layer = spec.layers[index]
    out = max_pool2(q) if isinstance(layer, ConvSpec) and layer.pool == 2 else q
    return acc.numpy(), q.numpy(), out.numpy()


def assert_corners_reached(block: str, spec: Any, index: int, params: Any, acc: np.ndarray, q: np.ndarray) -> None:
    """The data must reach what the test claims to cover: ties that the rounding mode decides (inside the
    clamp range) with an even and with an odd floor (half_up and half_even differ on the even ones), negative
    ones too where the clamp lets them through, and outputs clamped at both ends."""
    view = (1, -1) + (1,) * (acc.ndim - 2)
    m = params.mult.astype(np.int64).reshape(view)
    s = params.shift.astype(np.int64).reshape(view)
    prod = acc.astype(np.int64) * m
    tie = (s > 0) & (prod % (np.int64(1) << s) == (np.int64(1) << np.maximum(s - 1, 0)))
    lo, hi = spec.clamp_of(index)
    base = prod >> s  # a tie lies between base and base + 1 (before the zero point)
    floor = base + spec.quant.zero_point
    decided = tie & (floor >= lo) & (floor + 1 <= hi)
    counts = {"even floor": int((decided & (base % 2 == 0)).sum()), "odd floor": int((decided & (base % 2 == 1)).sum())}
    if lo < spec.quant.zero_point - 1:
        counts["negative"] = int((decided & (prod < 0)).sum())
    assert min(counts.values()) >= 2, f"{block}: too few rounding ties inside the clamp range: {counts}"
    assert ((q == hi) & (floor > hi)).any() and ((q == lo) & (floor + 1 < lo)).any(), \
        f"{block}: the data should saturate at both ends ({lo}, {hi})"
