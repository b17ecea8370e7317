"""FcLayer alone under amaranth.sim: the streaming fc on the C, H, W flatten order and its hold-bank drain.

Each case generates one fc layer from a NetSpec with parameters that reach the requantizer's corners
(:func:`corner_params`: exact rounding ties, clamping at both ends, int8 weight extremes), streams
many frames back to back (pixel beats in, one logits beat per frame out, ``first`` and ``last`` set)
with seeded random valid/ready, and compares every output with the golden model's layer
(nn/golden/accel.py: acc = Σ w·x + bias on x flattened C, H, W, requantize per nn/quant.py, clamp),
whose accumulators are checked against a direct numpy product written from the spec. A slow sink
makes the next frame finish while the hold bank is still draining (the layer must stall, not lose or
mix frames).
"""

from __future__ import annotations

import numpy as np
import pytest

from logcam.nn.netspec import NetSpec, random_bundle
from tests.hw.accel.streambench import (
    assert_corners_reached,
    check_pixels,
    corner_params,
    golden_layer,
    layer_block,
    pixel_beats,
    run_stream,
    with_layer,
)


def _net(inp: dict, layers: list[dict], rounding: str, **quant: object) -> NetSpec:
    return NetSpec.model_validate({"input": inp, "layers": layers, "quant": {"rounding": rounding, **quant}})


CASES = [
    # NetSpec, index of the fc layer under test, p(valid), p(ready)
    pytest.param(_net({"channels": 2, "height": 2, "width": 3, "format": "codes", "levels": 3},
                      [{"type": "fc", "out_features": 4, "pe": 2, "simd": 2}], "half_up"), 0, 0.6, 0.6,
                 id="codes3-pe2-simd2"),
    pytest.param(_net({"channels": 1, "height": 3, "width": 2, "format": "codes", "levels": 3},
                      [{"type": "conv", "out_channels": 4, "kernel": 1, "pe": 4},
                       {"type": "fc", "out_features": 6, "relu": True, "pe": 3, "simd": 2}], "half_even",
                      zero_point=5), 1, 0.7, 0.5, id="int8-relu-zp-halfeven-pe3-simd2"),
    pytest.param(_net({"channels": 1, "height": 2, "width": 2, "format": "uint8", "levels": None},
                      [{"type": "fc", "out_features": 4}], "half_even", act_bits=5), 0, 0.5, 0.7,
                 id="uint8-act5-unfolded"),
    pytest.param(_net({"channels": 2, "height": 2, "width": 2, "format": "codes", "levels": 5},
                      [{"type": "fc", "out_features": 3, "pe": 1, "simd": 1}], "half_up", zero_point=-2),
                 0, 1.0, 0.08, id="codes5-slow-sink-drain-stall"),
    pytest.param(_net({"channels": 1, "height": 1, "width": 1, "format": "codes", "levels": 7},
                      [{"type": "fc", "out_features": 4, "pe": 4}], "half_even"), 0, 1.0, 1.0,
                 id="codes7-one-pixel-full-speed"),
]


def _frames(spec: NetSpec, index: int, rng: np.random.Generator, n: int) -> np.ndarray:
    """n frames of the layer's input, cycling: full range, small values (rounding ties), the two extremes."""
    shape = spec.layer_shapes()[index].in_shape
    lo, hi = (spec.input.lo, spec.input.hi) if index == 0 else (spec.quant.act_min, spec.quant.act_max)
    kinds = [lambda: rng.integers(lo, hi + 1, size=shape),
             lambda: rng.integers(max(lo, -3), min(hi, 3) + 1, size=shape),
             lambda: rng.choice([lo, hi], size=shape)]
    return np.stack([kinds[j % 3]() for j in range(n)])


@pytest.mark.parametrize(("spec", "index", "p_valid", "p_ready"), CASES)
def test_fc_layer_against_the_golden_layer(spec: NetSpec, index: int, p_valid: float, p_ready: float,
                                           request) -> None:
    name = f"fc layer {index} [{request.node.callspec.id}]"
    params = corner_params(spec, index, seed=index + 11)
    bundle = with_layer(random_bundle(spec, seed=2), index, params)
    x = _frames(spec, index, np.random.default_rng(23), n=60)
    acc, q, want = golden_layer(spec, bundle, index, x)
    direct = x.reshape(len(x), -1).astype(np.int64) @ params.weight.astype(np.int64).T + params.bias
    assert np.array_equal(acc, direct), f"{name}: golden accumulators differ from the direct product"
    assert_corners_reached(name, spec, index, params, acc, q)
    dut = layer_block(spec, bundle, index)
    r = run_stream(dut, pixel_beats(x), len(x), p_valid=p_valid, p_ready=p_ready, seed=index + 13)
    check_pixels(name, r, want[:, :, None, None])  # one beat per frame: first and last both set
    if p_ready < 1:
        assert r.stalls > 0, f"{name}: no backpressure was exercised"
