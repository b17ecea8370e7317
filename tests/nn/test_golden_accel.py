"""The accelerator golden model against a naive integer reference written here from the spec.

The reference loops over every output in plain Python integers and rounds with ``fractions.Fraction``
(half_up: floor(v + 1/2); half_even: Python's round(), ties to even), so it shares no arithmetic with
nn/quant.py or the float64 convolution of nn/golden/accel.py.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
import torch

from logcam.errors import InputError
from logcam.nn.golden.accel import argmax_lowest, max_pool2, run
from logcam.nn.netspec import Bundle, ConvSpec, LayerParams, NetSpec, random_bundle


def ref_round(v: Fraction, mode: str) -> int:
    if mode == "half_up":
        return math.floor(v + Fraction(1, 2))
    return round(v)  # Fraction.__round__: ties to even


def ref_run(spec: NetSpec, bundle: Bundle, x: np.ndarray, mode: str):
    """Naive reference: nested loops over Python ints. x is C×H×W; returns (accs, acts, label)."""
    q = spec.quant
    h = [[[int(v) for v in row] for row in ch] for ch in x]
    accs, acts = [], []
    for i, layer in enumerate(spec.layers):
        lp = bundle.layers[i]
        lo, hi = (q.zero_point if layer.relu else -(1 << (q.act_bits - 1))), (1 << (q.act_bits - 1)) - 1

        def rq(a: int, o: int, lp=lp, lo=lo, hi=hi) -> int:
            v = ref_round(Fraction(a * int(lp.mult[o]), 2 ** int(lp.shift[o])), mode) + q.zero_point
            return min(max(v, lo), hi)

        if isinstance(layer, ConvSpec):
            cin, hh, ww = len(h), len(h[0]), len(h[0][0])
            k, st, p = layer.kernel, layer.stride, layer.pad
            ho, wo = (hh + 2 * p - k) // st + 1, (ww + 2 * p - k) // st + 1
            acc = [[[0] * wo for _ in range(ho)] for _ in range(layer.out_channels)]
            for o in range(layer.out_channels):
                for y in range(ho):
                    for xx in range(wo):
                        s = int(lp.bias[o])
                        for c in range(cin):
                            for dy in range(k):
                                for dx in range(k):
                                    iy, ix = y * st + dy - p, xx * st + dx - p
                                    if 0 <= iy < hh and 0 <= ix < ww:
                                        s += int(lp.weight[o, c, dy, dx]) * h[c][iy][ix]
                        acc[o][y][xx] = s
            out = [[[rq(acc[o][y][xx], o) for xx in range(wo)] for y in range(ho)] for o in range(layer.out_channels)]
            if layer.pool == 2:
                out = [[[max(ch[2 * y][2 * xx], ch[2 * y][2 * xx + 1], ch[2 * y + 1][2 * xx], ch[2 * y + 1][2 * xx + 1])
                         for xx in range(wo // 2)] for y in range(ho // 2)] for ch in out]
            accs.append(acc)
            acts.append(out)
            h = out
        else:
            flat = [v for ch in h for row in ch for v in row] if isinstance(h[0], list) else h
            acc = [int(lp.bias[o]) + sum(int(lp.weight[o, j]) * flat[j] for j in range(len(flat)))
                   for o in range(layer.out_features)]
            out = [rq(a, o) for o, a in enumerate(acc)]
            accs.append(acc)
            acts.append(out)
            h = out
    logits = acts[-1]
    label = logits.index(max(logits))  # first maximum
    return accs, acts, label


def small_spec(seed: int, fmt: str, rounding: str) -> NetSpec:
    rng = np.random.default_rng(seed)
    c = int(rng.integers(1, 3))
    k1 = int(rng.choice([1, 2, 3]))
    layers = [
        {"type": "conv", "out_channels": int(rng.integers(1, 4)), "kernel": k1, "stride": int(rng.integers(1, 3)),
         "pad": int(rng.integers(0, k1)), "relu": bool(rng.integers(0, 2)), "pool": int(rng.choice([1, 2]))},
        {"type": "conv", "out_channels": int(rng.integers(1, 4)), "kernel": 2, "stride": 1, "pad": 1,
         "relu": True, "pool": 1},
        {"type": "fc", "out_features": int(rng.integers(2, 5)), "relu": bool(rng.integers(0, 2))},
    ]
    inp = {"channels": c, "height": int(rng.integers(5, 9)), "width": int(rng.integers(5, 9)), "format": fmt}
    if fmt == "codes":
        inp["levels"] = int(rng.choice([3, 5, 7]))
    else:
        inp["levels"] = None
    return NetSpec.model_validate({"input": inp, "layers": layers,
                                   "quant": {"rounding": rounding, "zero_point": int(rng.integers(-3, 4))}})


def random_input(spec: NetSpec, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    dtype = np.uint8 if spec.input.format == "uint8" else np.int8
    return rng.integers(spec.input.lo, spec.input.hi + 1, size=(n, *spec.input.shape)).astype(dtype)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("fmt", ["codes", "uint8"])
@pytest.mark.parametrize("rounding", ["half_up", "half_even"])
def test_golden_equals_naive_loop(seed: int, fmt: str, rounding: str) -> None:
    spec = small_spec(seed, fmt, rounding)
    bundle = random_bundle(spec, seed=seed)
    x = random_input(spec, 3, seed + 100)
    res = run(spec, bundle, x)
    assert [a.dtype for a in res.acc] == [torch.int32] * len(spec.layers)
    assert [a.dtype for a in res.acts] == [torch.int8] * len(spec.layers)
    assert res.labels.dtype == torch.int64
    for f in range(x.shape[0]):
        accs, acts, label = ref_run(spec, bundle, x[f], rounding)
        for i in range(len(spec.layers)):
            np.testing.assert_array_equal(res.acc[i][f].numpy(), np.array(accs[i]), err_msg=f"frame {f} layer {i} acc")
            np.testing.assert_array_equal(res.acts[i][f].numpy(), np.array(acts[i]), err_msg=f"frame {f} layer {i} act")
        assert int(res.labels[f]) == label, f"frame {f}"


def test_outputs_are_not_degenerate() -> None:
    """The random bundle drives activations across the range (so the equality tests above mean something)."""
    spec = NetSpec.load(default_net_path())
    bundle = random_bundle(spec, seed=1)
    x = random_input(spec, 4, 7)
    res = run(spec, bundle, x)
    a0 = res.acts[0]
    assert int(a0.max()) > 20 and int((a0 == 0).sum()) > 0
    assert int(res.acc[0].min()) < 0
    assert len({tuple(r) for r in res.logits.tolist()}) > 1


def default_net_path():
    from logcam.config import embedded_config

    return embedded_config("nets/2conv1fc.yaml")


def test_large_accumulators_exact() -> None:
    """Worst-case magnitudes: uint8 255 everywhere times weights −128 (sum near the 2^30 bound) stay exact."""
    spec = NetSpec.model_validate({"input": {"channels": 8, "height": 16, "width": 16, "format": "uint8",
                                             "levels": None},
                                   "layers": [{"type": "conv", "out_channels": 2, "kernel": 11, "pad": 5},
                                              {"type": "fc", "out_features": 2}]})
    b = random_bundle(spec, seed=3)
    w0 = np.full_like(b.layers[0].weight, -128)
    w0[1] = 127
    lp0 = LayerParams(w0, np.array([-(1 << 30), (1 << 30) - 1], dtype=np.int32), b.layers[0].mult, b.layers[0].shift)
    bundle = Bundle((lp0, b.layers[1]), {})
    x = np.full((1, 8, 16, 16), 255, dtype=np.uint8)
    res = run(spec, bundle, x)
    fan = 8 * 121
    assert int(res.acc[0][0, 0, 8, 8]) == -128 * 255 * fan - (1 << 30)
    assert int(res.acc[0][0, 1, 8, 8]) == 127 * 255 * fan + (1 << 30) - 1
    # corner: only a 6×6 window of the 11×11 kernel lies inside the image
    assert int(res.acc[0][0, 0, 0, 0]) == -128 * 255 * 8 * 36 - (1 << 30)


def test_argmax_ties_to_lowest_index() -> None:
    logits = torch.tensor([[3, 7, 7, 1], [-5, -5, -5, -5], [0, 0, 1, 1], [127, -128, 127, 0]], dtype=torch.int8)
    assert argmax_lowest(logits).tolist() == [1, 0, 2, 0]


def test_max_pool_floor() -> None:
    q = torch.arange(5 * 7, dtype=torch.int64).reshape(1, 1, 5, 7)
    p = max_pool2(q)
    assert p.shape == (1, 1, 2, 3)
    assert p[0, 0].tolist() == [[8, 10, 12], [22, 24, 26]]


def test_rounding_override_changes_ties_only() -> None:
    spec = small_spec(2, "codes", "half_up")
    bundle = random_bundle(spec, seed=2)
    x = random_input(spec, 2, 1)
    up = run(spec, bundle, x)
    even = run(spec, bundle, x, rounding="half_even")
    torch.testing.assert_close(up.acc[0], even.acc[0])
    # the two modes differ by at most one LSB on the first layer (same accumulators)
    assert int((up.acts[0].to(torch.int16) - even.acts[0].to(torch.int16)).abs().max()) <= 1


def test_bad_inputs_one_line() -> None:
    spec = NetSpec.load(default_net_path())
    bundle = random_bundle(spec, seed=0)
    with pytest.raises(InputError, match=r"values must lie in -1\.\.1"):
        run(spec, bundle, np.full((1, 1, 96, 96), 2, dtype=np.int8))
    with pytest.raises(InputError, match="integer"):
        run(spec, bundle, np.zeros((1, 1, 96, 96), dtype=np.float32))
    with pytest.raises(InputError, match="N×1×96×96"):
        run(spec, bundle, np.zeros((1, 1, 96, 95), dtype=np.int8))
    with pytest.raises(InputError, match="C×H×W or N×C×H×W"):
        run(spec, bundle, np.zeros((96, 96), dtype=np.int8))
    # a single C×H×W frame is a batch of one
    assert run(spec, bundle, torch.zeros(1, 96, 96, dtype=torch.int8)).labels.shape == (1,)


def test_tflite_double_mode_within_one_lsb() -> None:
    """Double rounding moves an output by at most one LSB (how often depends on the right shift s−15)."""
    spec = NetSpec.load(default_net_path())
    bundle = random_bundle(spec, seed=4)
    x = random_input(spec, 2, 3)
    single = run(spec, bundle, x)
    double = run(spec, bundle, x, rounding="tflite_double")
    torch.testing.assert_close(single.acc[0], double.acc[0])
    d = (single.acts[0].to(torch.int16) - double.acts[0].to(torch.int16)).abs()
    assert int(d.max()) == 1


@pytest.mark.parametrize("rounding", ["half_up", "half_even"])
@pytest.mark.parametrize("fmt", ["codes", "uint8"])
def test_tie_heavy_network(rounding: str, fmt: str) -> None:
    """m = 3, s = 1 and small weights: every odd accumulator is a tie (x.5); the naive Fraction reference decides.

    uint8: pixels and first-layer biases are multiples of 64 and s = 7 there, so 3·acc/128 = 1.5·(acc/64).
    """
    spec = small_spec(4, fmt, rounding)
    rng = np.random.default_rng(9)
    layers = []
    for i, lp in enumerate(random_bundle(spec, seed=4).layers):
        n = lp.mult.shape[0]
        first_u8 = i == 0 and fmt == "uint8"
        layers.append(LayerParams(rng.integers(-2, 3, size=lp.weight.shape).astype(np.int8),
                                  (rng.integers(-5, 6, size=n) * (64 if first_u8 else 1)).astype(np.int32),
                                  np.full(n, 3, np.int32), np.full(n, 7 if first_u8 else 1, np.int32)))
    bundle = Bundle(tuple(layers), {})
    x = random_input(spec, 2, 5)
    if fmt == "uint8":
        x = (x // 64 * 64).astype(np.uint8)
    res = run(spec, bundle, x)
    unit = 64 if fmt == "uint8" else 1
    assert float((res.acc[0] // unit % 2 != 0).float().mean()) > 0.3  # ties: 3·odd/2
    other = run(spec, bundle, x, rounding="half_even" if rounding == "half_up" else "half_up")
    assert not torch.equal(res.acts[0], other.acts[0])
    for f in range(x.shape[0]):
        _, acts, label = ref_run(spec, bundle, x[f], rounding)
        for i in range(len(spec.layers)):
            np.testing.assert_array_equal(res.acts[i][f].numpy(), np.array(acts[i]), err_msg=f"frame {f} layer {i}")
        assert int(res.labels[f]) == label
