"""The global average pool (AvgPoolGlobal) alone under amaranth.sim, frames back to back with seeded random
valid/ready, against the golden layer (Σ_{y,x} x, requantized by the layer's one m/2^s) and a plain-integer
reference. 4×4 maps with m/2^s = 3/16: ties whenever 3·Σ ≡ 8 (mod 16), saturation at both ends; folding
(pe < C), ReLU and clamp_max, both rounding modes, int8 and uint8 input."""

from __future__ import annotations

import numpy as np
import pytest

from logcam.hw.accel.net import build_layer
from logcam.nn.netspec import Bundle, LayerParams, NetSpec, random_bundle
from tests.hw.accel.streambench import check_pixels, golden_layer, pixel_beats, run_stream


@pytest.mark.parametrize(("fmt", "rounding", "zp", "relu", "clamp_max", "p"), [
    ("int8", "half_even", 1, False, None, 0.6),
    ("int8", "half_up", -1, True, 100, 0.5),
    ("uint8", "half_even", 0, False, 120, 0.7),
])
def test_avgpool_block(fmt: str, rounding: str, zp: int, relu: bool, clamp_max: int | None, p: float) -> None:
    c, h, w = 6, 4, 4
    spec = NetSpec.model_validate({
        "input": {"channels": c, "height": h, "width": w, "format": fmt, "levels": None},
        "layers": [{"type": "avgpool_global", "relu": relu, "clamp_max": clamp_max}, {"type": "fc", "out_features": 2}],
        "quant": {"rounding": rounding, "zero_point": zp}})
    m, s = (3, 4) if fmt == "int8" else (1, 5)
    bundle = Bundle((LayerParams(np.zeros(0, np.int8), np.zeros(0, np.int32), np.array([m], np.int32),
                                 np.array([s], np.int32)), random_bundle(spec, 1).layers[1]), {})
    rng = np.random.default_rng(3)
    x = rng.integers(spec.input.lo, spec.input.hi + 1, size=(40, c, h, w))
    if fmt == "int8":  # frames of one sign too, so the means saturate
        x[:8] = rng.integers(80, 128, size=(8, c, h, w))
        x[8:16] = rng.integers(-128, -80, size=(8, c, h, w))
    acc, q, out = golden_layer(spec, bundle, 0, x)
    sums = x.astype(np.int64).sum(axis=(2, 3), keepdims=True)
    np.testing.assert_array_equal(acc, sums)
    v = sums * m
    fl, rem, half = v >> s, v & ((1 << s) - 1), 1 << (s - 1)
    up = (rem > half) | ((rem == half) & ((fl % 2 == 1) if rounding == "half_even" else True))
    lo, hi = spec.clamp_of(0)
    np.testing.assert_array_equal(q, np.clip(fl + up + zp, lo, hi))
    assert ((rem == half) & (fl % 2 == 0)).sum() >= 2 and ((rem == half) & (fl % 2 == 1)).sum() >= 2
    if fmt == "int8":
        assert (q == hi).any() and (q == lo).any()
    dut = build_layer(spec, bundle, 0)
    run = run_stream(dut, pixel_beats(x), x.shape[0], p_valid=p, p_ready=p, seed=5)
    check_pixels("avgpool_global layer 0", run, out)


def test_avgpool_full_speed_drain_overlaps() -> None:
    """At full speed the drain of one frame overlaps the next: H·W cycles per frame (+ a fixed latency)."""
    c, h, w = 4, 3, 3
    spec = NetSpec.model_validate({
        "input": {"channels": c, "height": h, "width": w, "format": "int8", "levels": None},
        "layers": [{"type": "avgpool_global"}, {"type": "fc", "out_features": 2}]})
    bundle = random_bundle(spec, 2)
    x = np.random.default_rng(4).integers(-128, 128, size=(12, c, h, w))
    _, _, out = golden_layer(spec, bundle, 0, x)
    dut = build_layer(spec, bundle, 0)
    run = run_stream(dut, pixel_beats(x), x.shape[0], seed=1)
    check_pixels("avgpool_global layer 0", run, out)
    assert run.cycles <= x.shape[0] * h * w + 8, run.cycles
