"""ConvLayer alone under amaranth.sim: window generator → folded MAC array → requantizer → optional max-pool.

Each case generates one conv layer from a NetSpec (with the port shapes the accelerator gives it),
with parameters that reach the requantizer's corners (:func:`corner_params`: exact rounding ties,
clamping at both ends, int8 weight extremes), streams frames back to back through it with seeded
random valid/ready, and compares every output value and flag with the golden model's layer (nn/golden/accel.py:
acc = Σ w·x + bias, requantize per nn/quant.py, clamp, 2×2/2 floor pool). The golden accumulators
are also checked against a direct numpy convolution written from the spec (zero padding, stride).
Cases span the NetSpec's options: code inputs of 3/5/7 levels (multiplier-free products), uint8
and int8 (a later layer) inputs, kernels 1..5, stride 1..4, padding 0..k−1, pool, ReLU, both
rounding modes, zero points, narrow activations and folding (pe, simd).
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
    return NetSpec.model_validate({"input": inp, "layers": [*layers, {"type": "fc", "out_features": 2}],
                                   "quant": {"rounding": rounding, **quant}})


def _conv_spec(x: np.ndarray, w: np.ndarray, b: np.ndarray, stride: int, pad: int) -> np.ndarray:
    """acc[n, o, y, x] = Σ_{c,ky,kx} w[o, c, ky, kx] · xpad[n, c, y·stride + ky, x·stride + kx] + b[o]."""
    k = w.shape[-1]
    xp = np.pad(x.astype(np.int64), ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    ho, wo = (xp.shape[2] - k) // stride + 1, (xp.shape[3] - k) // stride + 1
    out = np.zeros((x.shape[0], w.shape[0], ho, wo), dtype=np.int64)
    for ky in range(k):
        for kx in range(k):
            patch = xp[:, :, ky:ky + stride * (ho - 1) + 1:stride, kx:kx + stride * (wo - 1) + 1:stride]
            out += np.einsum("nchw,oc->nohw", patch, w[:, :, ky, kx].astype(np.int64))
    return out + b.astype(np.int64)[None, :, None, None]


CODES3 = {"channels": 1, "height": 6, "width": 7, "format": "codes", "levels": 3}
CASES = [
    # id, NetSpec, index of the conv layer under test, p(valid) = p(ready)
    pytest.param(_net(CODES3, [{"type": "conv", "out_channels": 4, "kernel": 3, "pad": 1, "pool": 2, "pe": 2,
                                "simd": 3}], "half_up"), 0, 0.6, id="codes3-k3-pad1-pool-relu-fold"),
    pytest.param(_net({"channels": 2, "height": 7, "width": 6, "format": "codes", "levels": 5},
                      [{"type": "conv", "out_channels": 3, "kernel": 3, "stride": 2, "relu": False, "pe": 3,
                        "simd": 6}], "half_even", zero_point=-3), 0, 0.5, id="codes5-k3-stride2-halfeven-zp"),
    pytest.param(_net({"channels": 2, "height": 5, "width": 5, "format": "uint8", "levels": None},
                      [{"type": "conv", "out_channels": 4, "kernel": 2, "pad": 1, "pool": 2, "relu": False,
                        "simd": 8}], "half_even", act_bits=6), 0, 0.7, id="uint8-k2-pad1-pool-act6"),
    pytest.param(_net({"channels": 1, "height": 4, "width": 5, "format": "codes", "levels": 7},
                      [{"type": "conv", "out_channels": 4, "kernel": 1, "relu": False, "pe": 4}], "half_up",
                      zero_point=2), 0, 1.0, id="codes7-k1-full-speed"),
    pytest.param(_net({"channels": 1, "height": 7, "width": 8, "format": "uint8", "levels": None},
                      [{"type": "conv", "out_channels": 4, "kernel": 3, "pad": 2, "stride": 3, "relu": False,
                        "pe": 2, "simd": 9}], "half_up"), 0, 0.6, id="uint8-k3-pad2-stride3"),
    pytest.param(_net({"channels": 1, "height": 6, "width": 6, "format": "codes", "levels": 3},
                      [{"type": "conv", "out_channels": 4, "kernel": 5, "pad": 4, "stride": 4, "relu": False,
                        "pe": 4, "simd": 5}], "half_even"), 0, 0.6, id="codes3-k5-pad4-stride4"),
    pytest.param(_net({"channels": 1, "height": 9, "width": 10, "format": "codes", "levels": 3},
                      [{"type": "conv", "out_channels": 3, "kernel": 1, "pe": 3},
                       {"type": "conv", "out_channels": 4, "kernel": 3, "pad": 1, "stride": 2, "pool": 2, "pe": 2,
                        "simd": 9}], "half_even", zero_point=-5), 1, 0.5, id="int8-k3-stride2-pool-relu-zp"),
]


def _frames(spec: NetSpec, index: int, rng: np.random.Generator, n: int = 3) -> np.ndarray:
    """n frames of the layer's input: full range, small values (accumulators near zero: rounding ties),
    only the two extremes."""
    shape = spec.layer_shapes()[index].in_shape
    if index == 0:
        lo, hi = spec.input.lo, spec.input.hi
    else:
        lo, hi = spec.quant.act_min, spec.quant.act_max
    small_lo, small_hi = max(lo, -3), min(hi, 3)
    frames = [rng.integers(lo, hi + 1, size=shape), rng.integers(small_lo, small_hi + 1, size=shape),
              rng.choice([lo, hi], size=shape)]
    return np.stack([frames[j % 3] for j in range(n)])


@pytest.mark.parametrize(("spec", "index", "p"), CASES)
def test_conv_layer_against_the_golden_layer(spec: NetSpec, index: int, p: float, request) -> None:
    name = f"conv layer {index} [{request.node.callspec.id}]"
    ls = spec.layers[index]
    params = corner_params(spec, index, seed=index + 3)
    bundle = with_layer(random_bundle(spec, seed=1), index, params)
    rng = np.random.default_rng(17)
    x = _frames(spec, index, rng, n=4)
    acc, q, want = golden_layer(spec, bundle, index, x)
    direct = _conv_spec(x, params.weight, params.bias, ls.stride, ls.pad)
    assert np.array_equal(acc, direct), f"{name}: golden accumulators differ from the direct convolution"
    assert_corners_reached(name, spec, index, params, acc, q)
    dut = layer_block(spec, bundle, index)
    assert (dut.out_h, dut.out_w) == want.shape[2:]
    r = run_stream(dut, pixel_beats(x), want[0, 0].size * len(x), p_valid=p, p_ready=p, seed=index + 5)
    check_pixels(name, r, want)
    if p < 1:
        assert r.stalls > 0, f"{name}: no backpressure was exercised"
