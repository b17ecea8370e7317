"""The residual add (AddLayer) alone under amaranth.sim: two int8 streams (main ``i`` and ``skip``) with their
own seeded random valid, a sink with random ready, against the golden model's add (acc = a·m_a + b·m_b +
zp·2^s, rounded once, clamped) and a plain-integer reference from the NetSpec text. The data hit rounding
ties (even and odd floors) and saturation at both ends; folding pe < C, ReLU and clamp_max are covered."""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import pytest
import torch
from amaranth.sim import Simulator

from logcam.hw.accel.net import build_layer
from logcam.nn.golden.accel import accumulate
from logcam.nn.netspec import Bundle, LayerParams, NetSpec, random_bundle
from logcam.nn.quant import requantize
from tests.hw.accel.streambench import Run, check_pixels, codec, pixel_beats


def add_net(c: int, h: int, w: int, rounding: str, zp: int, relu: bool, clamp_max: int | None, pe: int) -> NetSpec:
    return NetSpec.model_validate({
        "input": {"channels": c, "height": h, "width": w, "format": "int8", "levels": None},
        "layers": [{"type": "pointwise", "out_channels": c}, {"type": "pointwise", "out_channels": c},
                   {"type": "add", "skip": 0, "relu": relu, "clamp_max": clamp_max, "pe": pe},
                   {"type": "fc", "out_features": 2}],
        "quant": {"rounding": rounding, "zero_point": zp}})


def run_two(dut: Any, a: dict[str, np.ndarray], b: dict[str, np.ndarray], n_out: int, p: float, seed: int) -> Run:
    beats = {"i": codec(dut.i).pack(**a), "skip": codec(dut.skip).pack(**b)}
    out_codec = codec(dut.o)
    got: list[int] = []
    info: dict[str, Any] = {"cycles": 0, "stalls": 0, "violations": []}

    def source(port: Any, values: list[int], s: int) -> Any:
        async def proc(ctx: Any) -> None:
            rng = random.Random(s)
            for beat in values:
                while rng.random() >= p:
                    ctx.set(port.valid, 0)
                    await ctx.tick()
                ctx.set(port.payload.as_value(), beat)
                ctx.set(port.valid, 1)
                while True:
                    _, _, ready = await ctx.tick().sample(port.ready)
                    if ready:
                        break
            ctx.set(port.valid, 0)
        return proc

    async def sink(ctx: Any) -> None:
        rng = random.Random(seed + 1)
        held = None
        while len(got) < n_out and info["cycles"] < 200 * n_out + 1000:
            ready = rng.random() < p
            ctx.set(dut.o.ready, int(ready))
            _, _, valid, value = await ctx.tick().sample(dut.o.valid, dut.o.payload.as_value())
            info["cycles"] += 1
            if held is not None and (not valid or int(value) != held):
                info["violations"].append(f"output beat {len(got)} changed before it was taken")
            if valid and ready:
                got.append(int(value))
                held = None
            else:
                held = int(value) if valid else None

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(source(dut.i, beats["i"], seed), background=True)
    sim.add_testbench(source(dut.skip, beats["skip"], seed + 2), background=True)
    sim.add_testbench(sink)
    sim.run()
    return Run(out_codec.unpack(got) if got else {}, len(got), info["cycles"], info["stalls"], info["violations"])


@pytest.mark.parametrize(("c", "pe", "rounding", "zp", "relu", "clamp_max", "ma", "mb", "s"), [
    (4, 4, "half_even", 1, False, None, 5, 7, 3),     # parallel, odd zero point, saturates both ends
    (4, 2, "half_up", -2, False, 100, 3, 9, 3),       # folded, clamp_max
    (6, 1, "half_even", 0, True, 90, 21, 27, 5),      # one channel per cycle, ReLU and clamp_max
])
def test_add_block(c: int, pe: int, rounding: str, zp: int, relu: bool, clamp_max: int | None, ma: int, mb: int,
                   s: int) -> None:
    h, w = 5, 6
    spec = add_net(c, h, w, rounding, zp, relu, clamp_max, pe)
    base = random_bundle(spec, seed=1)
    params = LayerParams(np.zeros(0, np.int8), np.zeros(0, np.int32), np.array([ma, mb], np.int32),
                         np.array([s], np.int32))
    bundle = Bundle((base.layers[0], base.layers[1], params, base.layers[3]), {})
    rng = np.random.default_rng(2)
    a = rng.integers(-128, 128, size=(4, c, h, w))
    b = rng.integers(-128, 128, size=(4, c, h, w))
    acc = accumulate(spec, bundle, 2, torch.from_numpy(a), torch.from_numpy(b)).numpy()
    lo, hi = spec.clamp_of(2)
    q = requantize(torch.from_numpy(acc), torch.ones(c, dtype=torch.int64), torch.full((c,), s),
                   rounding=rounding, zero_point=0, lo=lo, hi=hi).numpy()
    # the NetSpec text in plain integers: round((a·m_a + b·m_b + zp·2^s) / 2^s), clamp
    v = a * ma + b * mb + zp * (1 << s)
    fl, rem = v >> s, v & ((1 << s) - 1)
    half = 1 << (s - 1)
    up = (rem > half) | ((rem == half) & ((fl % 2 == 1) if rounding == "half_even" else True))
    np.testing.assert_array_equal(q, np.clip(fl + up, lo, hi))
    ties = (rem == half) & (fl + 1 > lo) & (fl < hi)
    assert (ties & (fl % 2 == 0)).sum() >= 2 and (ties & (fl % 2 == 1)).sum() >= 2
    assert ((q == hi) & (fl > hi)).any() and ((q == lo) & (fl + 1 < lo)).any()
    dut = build_layer(spec, bundle, 2)
    run = run_two(dut, pixel_beats(a), pixel_beats(b), a.shape[0] * h * w, p=0.6, seed=3)
    check_pixels("add layer 2", run, q)
