"""Depthwise and pointwise layers alone under amaranth.sim (the conv block with ``depthwise=True`` / a 1×1
kernel), against the golden model's layer and a direct numpy depthwise convolution written from the spec.

Parameters reach the requantizer's corners (streambench.corner_params: ties with even and odd floors,
saturation at both ends), frames stream back to back with seeded random valid/ready, and every value and
flag is compared. Cases: k 3/5/7, stride 1/2, padding, folding (pe channels, simd taps), ReLU and
clamp_max, both rounding modes, code/uint8/int8 input.
"""

from __future__ import annotations

import numpy as np
import pytest

from logcam.hw.accel.net import build_layer
from logcam.nn.netspec import NetSpec, random_bundle
from tests.hw.accel.streambench import (
    assert_corners_reached,
    check_pixels,
    corner_params,
    golden_layer,
    pixel_beats,
    run_stream,
    with_layer,
)


def _net(inp: dict, layers: list[dict], rounding: str, **quant: object) -> NetSpec:
    return NetSpec.model_validate({"input": inp, "layers": [*layers, {"type": "fc", "out_features": 2}],
                                   "quant": {"rounding": rounding, **quant}})


def _depthwise_spec(x: np.ndarray, w: np.ndarray, b: np.ndarray, stride: int, pad: int) -> np.ndarray:
    """acc[n, c, y, x] = Σ_{ky,kx} w[c, 0, ky, kx] · xpad[n, c, y·stride + ky, x·stride + kx] + b[c]."""
    k = w.shape[-1]
    xp = np.pad(x.astype(np.int64), ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    ho, wo = (xp.shape[2] - k) // stride + 1, (xp.shape[3] - k) // stride + 1
    out = np.zeros((x.shape[0], x.shape[1], ho, wo), dtype=np.int64)
    for ky in range(k):
        for kx in range(k):
            patch = xp[:, :, ky:ky + stride * (ho - 1) + 1:stride, kx:kx + stride * (wo - 1) + 1:stride]
            out += patch * w[None, :, 0, ky, kx, None, None].astype(np.int64)
    return out + b.astype(np.int64)[None, :, None, None]


INT8 = {"format": "int8", "levels": None}
CASES = [
    pytest.param(_net({"channels": 4, "height": 7, "width": 6, **INT8},
                      [{"type": "depthwise", "kernel": 3, "pad": 1, "pe": 2, "simd": 3}], "half_up"), 0, 0.6,
                 id="int8-k3-pad1-relu-fold"),
    pytest.param(_net({"channels": 4, "height": 8, "width": 7, **INT8},
                      [{"type": "depthwise", "kernel": 3, "pad": 1, "stride": 2, "relu": False, "pe": 4, "simd": 9}],
                      "half_even", zero_point=-3), 0, 0.5, id="int8-k3-stride2-halfeven-zp-parallel"),
    pytest.param(_net({"channels": 4, "height": 8, "width": 8, **INT8},
                      [{"type": "depthwise", "kernel": 5, "pad": 2, "stride": 2, "relu": True, "clamp_max": 90,
                        "pe": 1, "simd": 5}], "half_even", zero_point=2), 0, 0.7, id="int8-k5-stride2-clampmax"),
    pytest.param(_net({"channels": 4, "height": 8, "width": 9, **INT8},
                      [{"type": "depthwise", "kernel": 7, "pad": 3, "relu": False, "pe": 2, "simd": 7}],
                      "half_up"), 0, 0.6, id="int8-k7-pad3"),
    pytest.param(_net({"channels": 2, "height": 6, "width": 6, "format": "codes", "levels": 5},
                      [{"type": "depthwise", "kernel": 3, "pad": 1, "relu": False, "pe": 2, "simd": 9}],
                      "half_even"), 0, 0.5, id="codes5-k3-multiplier-free"),
    pytest.param(_net({"channels": 3, "height": 9, "width": 10, "format": "uint8", "levels": None},
                      [{"type": "depthwise", "kernel": 3, "stride": 2, "relu": False, "pe": 3, "simd": 3}],
                      "half_up"), 0, 0.7, id="uint8-k3-nopad-stride2"),
    pytest.param(_net({"channels": 3, "height": 5, "width": 6, **INT8},
                      [{"type": "pointwise", "out_channels": 8, "relu": False, "pe": 4, "simd": 3}], "half_even",
                      zero_point=1), 0, 0.5, id="int8-pointwise-expand"),
    pytest.param(_net({"channels": 8, "height": 8, "width": 8, **INT8},
                      [{"type": "pointwise", "out_channels": 4, "clamp_max": 70, "pe": 2, "simd": 4}], "half_up"),
                 0, 0.6, id="int8-pointwise-project-clampmax"),
    pytest.param(_net({"channels": 1, "height": 6, "width": 6, "format": "codes", "levels": 3},
                      [{"type": "conv", "out_channels": 4, "kernel": 3, "pad": 1, "pe": 4, "simd": 9},
                       {"type": "depthwise", "kernel": 3, "pad": 1, "relu": False, "pe": 2, "simd": 3}],
                      "half_even"), 1, 0.6, id="later-layer-depthwise"),
]


@pytest.mark.parametrize(("spec", "index", "p"), CASES)
def test_depthwise_pointwise_block(spec: NetSpec, index: int, p: float) -> None:
    bundle = random_bundle(spec, seed=4)
    params = corner_params(spec, index, seed=5)
    bundle = with_layer(bundle, index, params)
    rng = np.random.default_rng(6)
    c, h, w = spec.layer_shapes()[index].in_shape
    lo, hi = (spec.input.lo, spec.input.hi) if index == 0 else (spec.quant.act_min, spec.quant.act_max)
    x = rng.integers(lo, hi + 1, size=(5, c, h, w))
    acc, q, out = golden_layer(spec, bundle, index, x)
    layer = spec.layers[index]
    if layer.type == "depthwise":
        np.testing.assert_array_equal(acc, _depthwise_spec(x, params.weight, params.bias, layer.stride, layer.pad))
    else:
        want = np.einsum("nchw,oc->nohw", x, params.weight[:, :, 0, 0].astype(np.int64))
        want += params.bias.astype(np.int64)[None, :, None, None]
        np.testing.assert_array_equal(acc, want)
    assert_corners_reached(f"layer {index}", spec, index, params, acc, q)
    dut = build_layer(spec, bundle, index)
    run = run_stream(dut, pixel_beats(x), out.shape[0] * out.shape[2] * out.shape[3], p_valid=p, p_ready=p, seed=9)
    check_pixels(f"{layer.type} layer {index}", run, out)
