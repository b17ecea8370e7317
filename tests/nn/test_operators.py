"""Issue 13's operators (pointwise, depthwise, add, avgpool_global, clamp_max, int8 inputs, residual skips):
the golden model against a numpy loop written here from the NetSpec text, and against onnxruntime.

The reference loops over output positions with numpy window sums and rounds with Python integers
(half_up: floor((v + 2^(s−1)) / 2^s); half_even: divmod and the remainder against 2^(s−1)), sharing no
arithmetic with nn/quant.py or the torch convolutions of nn/golden/accel.py.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from logcam.errors import ConfigError
from logcam.nn.golden.accel import GoldenResult, run
from logcam.nn.netspec import OPERATORS, Bundle, LayerParams, NetSpec, check_buildable, random_bundle
from logcam.nn.onnx_export import build_model, float32_exact, run_onnxruntime, worst_case_ort_exact


def ref_round(v: int, s: int, mode: str) -> int:
    if s == 0:
        return v
    q, r = divmod(v, 1 << s)  # floor division: q = ⌊v/2^s⌋, 0 ≤ r < 2^s
    half = 1 << (s - 1)
    if mode == "half_up":
        return q + (r >= half)
    return q + (r > half or (r == half and q % 2 == 1))


def ref_run(spec: NetSpec, bundle: Bundle, x: np.ndarray, mode: str) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """One frame x (C×H×W) through the NetSpec: (accumulators, activations) per layer as int64 arrays."""
    q = spec.quant
    h = x.astype(np.int64)
    accs: list[np.ndarray] = []
    acts: list[np.ndarray] = []
    for i, layer in enumerate(spec.layers):
        lp = bundle.layers[i]
        lo = q.zero_point if layer.relu else -(1 << (q.act_bits - 1))
        hi = (1 << (q.act_bits - 1)) - 1
        if getattr(layer, "clamp_max", None) is not None:
            hi = layer.clamp_max

        def rq(a: int, m: int, s: int, lo: int = lo, hi: int = hi) -> int:
            return min(max(ref_round(a * m, s, mode) + q.zero_point, lo), hi)

        kind = layer.type
        if kind in ("conv", "pointwise", "depthwise"):
            k, st, p = (1, 1, 0) if kind == "pointwise" else (layer.kernel, layer.stride, layer.pad)
            c, hh, ww = h.shape
            hp = np.zeros((c, hh + 2 * p, ww + 2 * p), np.int64)
            hp[:, p:p + hh, p:p + ww] = h
            ho, wo = (hh + 2 * p - k) // st + 1, (ww + 2 * p - k) // st + 1
            n_out = c if kind == "depthwise" else layer.out_channels
            acc = np.zeros((n_out, ho, wo), np.int64)
            w = lp.weight.astype(np.int64)
            for o in range(n_out):
                for y in range(ho):
                    for xx in range(wo):
                        win = hp[:, y * st:y * st + k, xx * st:xx * st + k]
                        if kind == "depthwise":
                            acc[o, y, xx] = int(lp.bias[o]) + int((w[o, 0] * win[o]).sum())
                        else:
                            acc[o, y, xx] = int(lp.bias[o]) + int((w[o] * win).sum())
            out = np.array([[[rq(int(acc[o, y, xx]), int(lp.mult[o]), int(lp.shift[o])) for xx in range(wo)]
                             for y in range(ho)] for o in range(n_out)], np.int64)
            if kind == "conv" and layer.pool == 2:
                out = out[:, :ho // 2 * 2, :wo // 2 * 2].reshape(n_out, ho // 2, 2, wo // 2, 2).max(axis=(2, 4))
        elif kind == "add":
            b = acts[layer.skip]
            s0 = int(lp.shift[0])
            acc = h * int(lp.mult[0]) + b * int(lp.mult[1]) + q.zero_point * (1 << s0)  # zp rounds with the sum
            out = np.vectorize(lambda a, s0=s0, lo=lo, hi=hi: min(max(ref_round(int(a), s0, mode), lo), hi),
                               otypes=[np.int64])(acc)
        elif kind == "avgpool_global":
            acc = h.sum(axis=(1, 2), keepdims=True)
            m0, s0 = int(lp.mult[0]), int(lp.shift[0])
            out = np.vectorize(lambda a, m0=m0, s0=s0: rq(int(a), m0, s0), otypes=[np.int64])(acc)
        else:  # fc
            flat = h.reshape(-1)
            acc = lp.bias.astype(np.int64) + lp.weight.astype(np.int64) @ flat
            out = np.array([rq(int(a), int(lp.mult[o]), int(lp.shift[o])) for o, a in enumerate(acc)], np.int64)
        accs.append(acc)
        acts.append(out)
        h = out
    return accs, acts


def block_spec(seed: int, fmt: str, rounding: str, mult_bits: int = 16) -> NetSpec:
    """A random small network of inverted-residual blocks (pointwise → depthwise → pointwise (+ add))."""
    rng = np.random.default_rng(seed)
    c = int(rng.integers(1, 4))
    act_bits = int(rng.choice([7, 8]))
    top = (1 << (act_bits - 1)) - 1

    def cmax(*fracs: float) -> int:
        return max(5, int(top * float(rng.choice(fracs))))

    layers: list[dict] = []
    width = int(rng.integers(2, 5))
    layers.append({"type": "conv", "out_channels": width, "kernel": 3, "pad": 1,
                   "stride": int(rng.choice([1, 2])), "clamp_max": cmax(0.5, 0.8, 1.0)})
    for _ in range(int(rng.integers(2, 4))):
        k = int(rng.choice([3, 5, 7]))
        stride = int(rng.choice([1, 1, 2]))
        expand = width * int(rng.integers(1, 4))
        block_in = len(layers) - 1
        layers.append({"type": "pointwise", "out_channels": expand, "relu": True,
                       "clamp_max": cmax(0.3, 0.7, 1.0)})
        layers.append({"type": "depthwise", "kernel": k, "stride": stride,
                       "pad": int(rng.integers(k // 2 - 1, k // 2 + 1)), "relu": bool(rng.integers(0, 2))})
        out_w = width if stride == 1 and rng.integers(0, 3) else int(rng.integers(2, 5))
        layers.append({"type": "pointwise", "out_channels": out_w, "relu": False})
        spec_so_far = NetSpec.model_validate({"input": {"channels": c, "height": 14, "width": 13, "format": fmt,
                                                        "levels": 5 if fmt == "codes" else None},
                                              "layers": [*layers, {"type": "fc", "out_features": 2}],
                                              "quant": {"mult_bits": mult_bits, "act_bits": act_bits}})
        shapes = spec_so_far.layer_shapes()
        if shapes[block_in].out_shape == shapes[len(layers) - 1].out_shape:
            layers.append({"type": "add", "skip": block_in, "relu": bool(rng.integers(0, 2)),
                           "clamp_max": cmax(0.8, 1.0)})
        width = out_w
    if rng.integers(0, 2):
        layers.append({"type": "avgpool_global", "relu": bool(rng.integers(0, 2))})
    layers.append({"type": "fc", "out_features": int(rng.integers(2, 5)), "relu": False})
    return NetSpec.model_validate({
        "name": f"blocks{seed}", "layers": layers,
        "input": {"channels": c, "height": 14, "width": 13, "format": fmt, "levels": 5 if fmt == "codes" else None},
        "quant": {"rounding": rounding, "mult_bits": mult_bits, "zero_point": int(rng.integers(-3, 4)),
                  "act_bits": act_bits}})


def random_input(spec: NetSpec, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    dtype = np.uint8 if spec.input.format == "uint8" else np.int8
    return rng.integers(spec.input.lo, spec.input.hi + 1, size=(n, *spec.input.shape)).astype(dtype)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize(("fmt", "rounding"), [("codes", "half_up"), ("uint8", "half_even"), ("int8", "half_up"),
                                               ("int8", "half_even")])
def test_golden_equals_reference(seed: int, fmt: str, rounding: str) -> None:
    spec = block_spec(seed, fmt, rounding)
    kinds = {layer.type for layer in spec.layers}
    assert {"pointwise", "depthwise"} <= kinds
    bundle = random_bundle(spec, seed=seed)
    x = random_input(spec, 2, seed + 7)
    g = run(spec, bundle, x)
    for n in range(len(x)):
        accs, acts = ref_run(spec, bundle, x[n], rounding)
        for i in range(len(spec.layers)):
            np.testing.assert_array_equal(g.acc[i][n].numpy(), accs[i], err_msg=f"frame {n} layer {i} acc")
            np.testing.assert_array_equal(g.acts[i][n].numpy(), acts[i], err_msg=f"frame {n} layer {i} act")
    # the network does something: activations spread over several values
    assert sum(len(a.unique()) > 3 for a in g.acts[:-1]) >= (len(g.acts) - 1) // 2


def first_mismatch(spec: NetSpec, g: GoldenResult, o: dict[str, np.ndarray]) -> str | None:
    for i in range(len(spec.layers)):
        got, want = torch.from_numpy(o[f"layer{i}"]), g.acts[i]
        assert got.shape == want.shape, f"layer {i}: shape {tuple(got.shape)} vs {tuple(want.shape)}"
        bad = (got != want).nonzero()
        if len(bad):
            idx = tuple(int(v) for v in bad[0])
            where = f"frame {idx[0]}, layer {i} ({spec.layers[i].type}), channel {idx[1]}"
            where += f", y={idx[2]}, x={idx[3]}" if len(idx) == 4 else ""
            return f"{where}: expected {int(want[idx])}, onnxruntime {int(got[idx])} ({len(bad)} mismatches)"
    return None


def inside_ort_condition(spec: NetSpec, bundle: Bundle, g: GoldenResult) -> bool:
    """Every realised value that ORT rounds is exact in float32 (so a mismatch would be the golden model's)."""
    for i, lp in enumerate(bundle.layers):
        kind = spec.layers[i].type
        acc = g.acc[i].to(torch.int64)
        m = torch.as_tensor(lp.mult.astype(np.int64))
        per_ch = m.view(1, -1, *[1] * (acc.dim() - 2))
        prod = acc if kind == "add" else acc * (m[0] if kind == "avgpool_global" else per_ch)
        if not bool((float32_exact(acc) & float32_exact(prod)).all()):
            return False
    return True


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("fmt", ["codes", "uint8", "int8"])
def test_golden_equals_onnxruntime(seed: int, fmt: str) -> None:
    spec = block_spec(100 + seed, fmt, "half_even", mult_bits=int(np.random.default_rng(seed).integers(4, 7)))
    bundle = random_bundle(spec, seed=seed)
    x = random_input(spec, 3, seed + 11)
    g = run(spec, bundle, x)
    assert inside_ort_condition(spec, bundle, g)
    o = run_onnxruntime(build_model(spec, bundle), x)
    assert first_mismatch(spec, g, o) is None, first_mismatch(spec, g, o)
    np.testing.assert_array_equal(o["labels"], g.labels.numpy())


def pair_net(rounding: str, ma: int, mb: int, s: int, zp: int, relu: bool,
             clamp_max: int | None) -> tuple[NetSpec, Bundle]:
    """Every int8 pair (a, b) through an add: input C=2 of int8 covering all 65536 pairs; layer 0 copies
    the channels, layer 1 swaps them, layer 2 adds layer 1 (a) and layer 0 (b) → channel 0 = x1·m_a + x0·m_b."""
    spec = NetSpec.model_validate({
        "name": "pairs", "input": {"channels": 2, "height": 256, "width": 256, "format": "int8", "levels": None},
        "layers": [{"type": "pointwise", "out_channels": 2, "relu": False},
                   {"type": "pointwise", "out_channels": 2, "relu": False},
                   {"type": "add", "skip": 0, "relu": relu, "clamp_max": clamp_max},
                   {"type": "avgpool_global"}, {"type": "fc", "out_features": 2}],
        "quant": {"rounding": rounding, "mult_bits": 16, "zero_point": zp}})
    one = np.array([1, 1], np.int32)
    zero = np.zeros(2, np.int32)
    eye = np.eye(2, dtype=np.int8).reshape(2, 2, 1, 1)
    swap = eye[::-1].copy()
    empty8, empty32 = np.zeros(0, np.int8), np.zeros(0, np.int32)
    # the copies must not move the values: zero point subtracted back through the bias (−zp·2^0)
    bias = np.full(2, -zp, np.int32)
    layers = (LayerParams(eye, bias, one, zero), LayerParams(swap, bias, one, zero),
              LayerParams(empty8, empty32, np.array([ma, mb], np.int32), np.array([s], np.int32)),
              LayerParams(empty8, empty32, np.array([1], np.int32), np.array([16], np.int32)),
              LayerParams(np.ones((2, 2), np.int8), zero, one, zero))
    return spec, Bundle(layers, {})


def all_pairs() -> np.ndarray:
    v = np.arange(-128, 128, dtype=np.int8)
    return np.stack([np.repeat(v, 256).reshape(256, 256), np.tile(v, 256).reshape(256, 256)])[None]


@pytest.mark.parametrize(("rounding", "ma", "mb", "s", "zp", "relu", "clamp_max"), [
    ("half_even", 5, 7, 3, 0, False, None),     # ties at every 8th sum, saturation both ends
    ("half_even", 5, 7, 3, 1, False, None),     # an odd zero point: ties land on the other side
    ("half_even", 27, 21, 5, 2, True, 90),      # ReLU at the zero point, ReLU6-style top
    ("half_up", 5, 7, 3, -1, False, None),
    ("half_up", 3 << 13, 3 << 13, 15, 0, False, 100),
])
def test_add_every_pair(rounding: str, ma: int, mb: int, s: int, zp: int, relu: bool, clamp_max: int | None) -> None:
    spec, bundle = pair_net(rounding, ma, mb, s, zp, relu, clamp_max)
    x = all_pairs()
    g = run(spec, bundle, x)
    np.testing.assert_array_equal(g.acts[0].numpy(), x)  # the copies are exact
    a, b = x[0, 1].astype(np.int64), x[0, 0].astype(np.int64)
    v = a * ma + b * mb + zp * (1 << s)  # the zero point rounds with the sum
    lo, hi = (zp if relu else -128), (127 if clamp_max is None else clamp_max)
    want = np.vectorize(lambda t: min(max(ref_round(int(t), s, rounding), lo), hi), otypes=[np.int64])(v)
    got = g.acts[2][0, 0].numpy()
    np.testing.assert_array_equal(got, want)
    # the cases the test claims: ties (v an odd multiple of 2^(s−1)) and saturation at both ends
    ties = (v % (1 << s)) == (1 << (s - 1))
    assert ties.sum() > 100
    assert (got == hi).sum() > 100 and (got == lo).sum() > 100
    if rounding == "half_even":
        o = run_onnxruntime(build_model(spec, bundle), x)
        assert first_mismatch(spec, g, o) is None, first_mismatch(spec, g, o)


@pytest.mark.parametrize("rounding", ["half_up", "half_even"])
def test_avgpool_ties_and_reference(rounding: str) -> None:
    """4×4 maps, m/2^s = 1/16: the mean of 16 values ties whenever the sum ≡ 8 (mod 16)."""
    spec = NetSpec.model_validate({
        "input": {"channels": 3, "height": 4, "width": 4, "format": "int8", "levels": None},
        "layers": [{"type": "pointwise", "out_channels": 3, "relu": False}, {"type": "avgpool_global", "relu": False},
                   {"type": "fc", "out_features": 2}], "quant": {"rounding": rounding}})
    eye = np.eye(3, dtype=np.int8).reshape(3, 3, 1, 1)
    z3 = np.zeros(3, np.int32)
    bundle = Bundle((LayerParams(eye, z3, np.ones(3, np.int32), z3),
                     LayerParams(np.zeros(0, np.int8), np.zeros(0, np.int32), np.array([1], np.int32),
                                 np.array([4], np.int32)),
                     LayerParams(np.ones((2, 3), np.int8), np.zeros(2, np.int32), np.ones(2, np.int32),
                                 np.zeros(2, np.int32))), {})
    x = random_input(spec, 400, 5)
    g = run(spec, bundle, x)
    sums = x.astype(np.int64).sum(axis=(2, 3))
    want = np.vectorize(lambda t: min(max(ref_round(int(t), 4, rounding), -128), 127), otypes=[np.int64])(sums)
    np.testing.assert_array_equal(g.acts[1][:, :, 0, 0].numpy(), want)
    assert ((sums % 16) == 8).sum() > 20
    if rounding == "half_even":
        o = run_onnxruntime(build_model(spec, bundle), x)
        assert first_mismatch(spec, g, o) is None, first_mismatch(spec, g, o)
        assert worst_case_ort_exact(spec, bundle)


def test_bundle_round_trip(tmp_path) -> None:
    spec = block_spec(2, "int8", "half_up")  # has adds and an avgpool_global
    bundle = random_bundle(spec, seed=3)
    path = tmp_path / "w.npz"
    bundle.save(path)
    back = Bundle.load(spec, path)
    for a, b in zip(bundle.layers, back.layers):
        for f in ("weight", "bias", "mult", "shift"):
            np.testing.assert_array_equal(getattr(a, f), getattr(b, f))
    add = next(i for i, layer in enumerate(spec.layers) if layer.type == "add")
    with np.load(path) as z:
        assert f"layer{add}.weight" not in z.files and z[f"layer{add}.mult"].shape == (2,)


BAD = [
    ({"type": "depthwise", "kernel": 4, "pad": 1}, "layers[1].kernel: depthwise is built with kernel 3, 5, 7, got 4"),
    ({"type": "depthwise", "kernel": 3, "stride": 3}, "layers[1].stride: depthwise is built with stride 1, 2, got 3"),
    ({"type": "add", "skip": 0}, "layers[1].skip: 0 must name an earlier layer before the previous one"),
    ({"type": "pointwise", "out_channels": 4, "clamp_max": -10}, "layers[1].clamp_max: -10 must lie above"),
    ({"type": "depthwise", "kernel": 3, "pe": 3}, "layers[1].pe: 3 must divide the channels (4)"),
    ({"type": "pointwise", "out_channels": 4, "simd": 3}, "layers[1].simd: 3 must divide in_channels (4)"),
]


@pytest.mark.parametrize(("layer", "msg"), BAD)
def test_bad_layer_is_one_line(layer: dict, msg: str, tmp_path) -> None:
    import yaml

    net = {"input": {"channels": 1, "height": 8, "width": 8}, "layers": [
        {"type": "conv", "out_channels": 4, "kernel": 3, "pad": 1}, layer, {"type": "fc", "out_features": 2}]}
    path = tmp_path / "n.yaml"
    path.write_text(yaml.safe_dump(net))
    with pytest.raises(ConfigError) as e:
        NetSpec.load(path)
    assert msg in str(e.value) and "\n" not in str(e.value)


def test_add_shape_mismatch_named() -> None:
    with pytest.raises(ValueError, match=r"layers\[3\]\.skip: layer 0's output 4×8×8 differs from the previous"):
        NetSpec.model_validate({"input": {"channels": 1, "height": 8, "width": 8}, "layers": [
            {"type": "conv", "out_channels": 4, "kernel": 3, "pad": 1},
            {"type": "pointwise", "out_channels": 8}, {"type": "pointwise", "out_channels": 6},
            {"type": "add", "skip": 0}, {"type": "fc", "out_features": 2}]})


def test_operator_table() -> None:
    """One table: every NetSpec layer type is in it, and the generator check reads it."""
    from typing import get_args

    from logcam.nn.netspec import LayerSpec

    union = get_args(get_args(LayerSpec)[0])
    types = {t.model_fields["type"].default for t in union}
    assert types <= set(OPERATORS)
    assert OPERATORS["depthwise"].kernels == (3, 5, 7) and OPERATORS["depthwise"].strides == (1, 2)
    bad = NetSpec.model_validate({"input": {"channels": 1, "height": 4, "width": 4}, "layers": [
        {"type": "conv", "out_channels": 2, "kernel": 3, "pad": 1}, {"type": "fc", "out_features": 2, "simd": 4}]})
    with pytest.raises(ConfigError, match=r"^layers\[1\]\.simd: the streaming fc .* must divide the input channels "
                                          r"\(2\)$"):
        check_buildable(bad)
    check_buildable(block_spec(0, "codes", "half_up"))  # every operator of the table is built
