"""onnxruntime as an independent peer: in half_even mode the golden model equals it bit for bit.

The ONNX graph (nn/onnx_export.py) is evaluated by onnxruntime's own QLinearConv / Clip / MaxPool /
ArgMax kernels. ORT requantizes in float32; it is exact where acc·m fits float32 (ort_exact), and
every test network here is checked to lie inside that condition before comparing.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import torch

from logcam.nn.golden.accel import GoldenResult, run
from logcam.nn.netspec import Bundle, LayerParams, NetSpec, random_bundle
from logcam.nn.onnx_export import build_model, ort_exact, run_onnxruntime, save_model, worst_case_ort_exact


def random_spec(seed: int, fmt: str) -> NetSpec:
    rng = np.random.default_rng(seed)
    layers = []
    for _ in range(int(rng.integers(1, 4))):
        k = int(rng.choice([1, 2, 3, 5]))
        layers.append({"type": "conv", "out_channels": int(rng.integers(1, 7)), "kernel": k,
                       "stride": int(rng.choice([1, 1, 2])), "pad": int(rng.integers(0, k)),
                       "relu": bool(rng.integers(0, 2)), "pool": int(rng.choice([1, 2]))})
    if rng.integers(0, 2):
        layers.append({"type": "fc", "out_features": int(rng.integers(2, 9)), "relu": True})
    layers.append({"type": "fc", "out_features": int(rng.integers(2, 6)), "relu": bool(rng.integers(0, 2))})
    inp = {"channels": int(rng.integers(1, 4)), "height": int(rng.integers(16, 33)),
           "width": int(rng.integers(16, 33)), "format": fmt,
           "levels": int(rng.choice([3, 5, 7])) if fmt == "codes" else None}
    quant = {"rounding": "half_even", "mult_bits": int(rng.integers(4, 9 if fmt == "codes" else 7)),
             "zero_point": int(rng.integers(-4, 5)), "act_bits": int(rng.choice([6, 7, 8, 8]))}
    return NetSpec.model_validate({"name": f"rand{seed}", "input": inp, "layers": layers, "quant": quant})


def random_input(spec: NetSpec, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    dtype = np.uint8 if spec.input.format == "uint8" else np.int8
    return rng.integers(spec.input.lo, spec.input.hi + 1, size=(n, *spec.input.shape)).astype(dtype)


def first_mismatch(spec: NetSpec, g: GoldenResult, o: dict[str, np.ndarray]) -> str | None:
    for i in range(len(spec.layers)):
        got = torch.from_numpy(o[f"layer{i}"])
        want = g.acts[i]
        assert got.shape == want.shape, f"layer {i}: shape {tuple(got.shape)} vs {tuple(want.shape)}"
        bad = (got != want).nonzero()
        if len(bad):
            idx = tuple(int(v) for v in bad[0])
            where = f"frame {idx[0]}, layer {i}, channel {idx[1]}"
            where += f", y={idx[2]}, x={idx[3]}" if len(idx) == 4 else ""
            return f"{where}: expected {int(want[idx])}, onnxruntime {int(got[idx])} ({len(bad)} mismatches)"
    if not np.array_equal(o["labels"], g.labels.numpy()):
        return f"labels: expected {g.labels.tolist()}, onnxruntime {o['labels'].tolist()}"
    return None


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("fmt", ["codes", "uint8"])
def test_golden_equals_onnxruntime(seed: int, fmt: str) -> None:
    spec = random_spec(seed, fmt)
    bundle = random_bundle(spec, seed=seed)
    x = random_input(spec, 3, seed + 50)
    g = run(spec, bundle, x)
    # inside the exactness condition (else a mismatch would prove nothing about the golden model)
    for i, lp in enumerate(bundle.layers):
        assert bool(ort_exact(g.acc[i], torch.from_numpy(lp.mult.astype(np.int64))).all()), f"layer {i}"
    # and the network does something: activations spread, not all clamped to one value
    assert len(g.acts[0].unique()) > 2
    assert sum(len(a.unique()) > 2 for a in g.acts) >= len(g.acts) / 2
    o = run_onnxruntime(build_model(spec, bundle), x)
    assert first_mismatch(spec, g, o) is None, first_mismatch(spec, g, o)
    np.testing.assert_array_equal(o["logits"], g.logits.numpy())


def test_default_net_half_even_equals_onnxruntime(tmp_path) -> None:
    """The default 2conv1fc network (16-bit multipliers, outside the worst-case bound) on saved .onnx.

    Outside the exactness condition ORT's float32 requantization r = fl32(fl32(acc)·m/2^s) lies within
    2^−23·|t| of the exact t = acc·m/2^s (two float32 roundings; MLAS's fixed-point requantizers are
    finer), so it can round differently from the golden model only where a tie k + ½ lies that close to
    t. Whether such a value does differ depends on the machine's requantization path, so: per frame and
    layer, while every earlier layer of the frame agreed, every value that is exact (ort_exact) or
    farther from a tie must agree bit for bit, the others by at most 1; after a difference at such a
    value the frame's later layers see other inputs and are not compared. At least 3 of the 4 frames
    must be compared through every layer.
    """
    import torch.nn.functional as F

    from logcam.config import embedded_config
    from logcam.nn.netspec import ConvSpec

    base = NetSpec.load(embedded_config("nets/2conv1fc.yaml"))
    spec = NetSpec.model_validate({**base.model_dump(), "quant": {**base.quant.model_dump(), "rounding": "half_even"}})
    bundle = random_bundle(spec, seed=5)
    x = random_input(spec, 4, 9)
    g = run(spec, bundle, x)
    path = save_model(spec, bundle, tmp_path / "net.onnx")
    o = run_onnxruntime(path, x)
    assert not worst_case_ort_exact(spec, bundle)
    agreed = torch.ones(len(x), dtype=torch.bool)  # frames whose layers so far agree value for value
    for i, (layer, lp) in enumerate(zip(spec.layers, bundle.layers)):
        m = torch.from_numpy(lp.mult.astype(np.int64))
        acc = g.acc[i].to(torch.int64)
        view = (1, -1) + (1,) * (acc.dim() - 2)
        t = acc.to(torch.float64) * (m.to(torch.float64) / 2.0 ** torch.from_numpy(lp.shift.astype(np.float64))).view(
            view)
        near_tie = (t - (torch.floor(t) + 0.5)).abs() <= 2.0**-23 * t.abs()
        unsure = near_tie & ~ort_exact(acc, m)
        if isinstance(layer, ConvSpec) and layer.pool == 2:
            unsure = F.max_pool2d(unsure.to(torch.float64), 2) > 0
        got, want = torch.from_numpy(o[f"layer{i}"]).to(torch.int64), g.acts[i].to(torch.int64)
        diff = (got - want).abs().flatten(1)
        sure_bad = ((diff > 0) & ~unsure.flatten(1)).any(1) & agreed
        assert not sure_bad.any(), f"layer {i}, frames {sure_bad.nonzero().flatten().tolist()}: " \
                                   f"{first_mismatch(spec, g, o)}"
        assert not ((diff > 1).any(1) & agreed).any(), f"layer {i}: {first_mismatch(spec, g, o)}"
        agreed &= ~(diff > 0).any(1)
    assert int(agreed.sum()) >= 3, f"only {int(agreed.sum())} of 4 frames agree through every layer"
    assert np.array_equal(o["labels"][agreed.numpy()], g.labels.numpy()[agreed.numpy()])


def _one_layer(fmt: str = "codes") -> NetSpec:
    return NetSpec.model_validate({
        "input": {"channels": 2, "height": 4, "width": 4, "format": fmt, "levels": 3 if fmt == "codes" else None},
        "layers": [{"type": "conv", "out_channels": 4, "kernel": 1, "relu": False}, {"type": "fc", "out_features": 2}],
        "quant": {"rounding": "half_even", "mult_bits": 16}})


def test_condition_is_needed() -> None:
    """acc = 2^24 + 1, m/2^s = 2^−25: exact value 0.5 + 2^−25 → 1; float32(acc) = 2^24 → 0.5 → 0 in ORT."""
    spec = _one_layer()
    b = random_bundle(spec, seed=0)
    lp0 = LayerParams(np.zeros_like(b.layers[0].weight), np.full(4, (1 << 24) + 1, np.int32),
                      np.ones(4, np.int32), np.full(4, 25, np.int32))
    bundle = Bundle((lp0, b.layers[1]), {})
    x = np.zeros((1, 2, 4, 4), np.int8)
    g = run(spec, bundle, x)
    assert not bool(ort_exact(g.acc[0], torch.ones(4, dtype=torch.int64)).any())
    assert bool((g.acts[0] == 1).all())
    o = run_onnxruntime(build_model(spec, bundle), x)
    assert (o["layer0"] == 0).all()  # onnxruntime's float32 path, outside the condition


def _x86_without_vnni() -> bool:
    """x86 without (AVX-512) VNNI: onnxruntime's int8 kernels there pair products in int16 (vpmaddubsw),
    which onnxruntime documents as saturating at the int8 extremes; with VNNI (vpdpbusd) or off x86 they
    accumulate in int32."""
    import platform

    if platform.machine().lower() not in ("x86_64", "amd64", "i386", "i686"):
        return False
    try:
        flags = Path("/proc/cpuinfo").read_text(encoding="utf-8").split()
    except OSError:
        return False
    return not {"avx512_vnni", "avx_vnni", "amx_int8"} & set(flags)


@pytest.mark.skipif(_x86_without_vnni(), reason="onnxruntime's int8 kernels saturate at int16 on x86 without VNNI")
def test_int8_extremes_accumulate_exactly() -> None:
    """Spatially constant int8 activations (−128 included) × extreme weights: the bias cancels the expected
    accumulator so the output shows any error in ORT's int8 dot products (e.g. int16 saturation) 1:1."""
    rng = np.random.default_rng(7)
    spec = NetSpec.model_validate({
        "input": {"channels": 16, "height": 6, "width": 6, "format": "uint8", "levels": None},
        "layers": [{"type": "conv", "out_channels": 16, "kernel": 1, "relu": False},
                   {"type": "conv", "out_channels": 8, "kernel": 1, "relu": False},
                   {"type": "fc", "out_features": 2}],
        "quant": {"rounding": "half_even", "mult_bits": 8}})
    b = random_bundle(spec, seed=1)
    # layer 0: identity minus 128 → int8 activations equal to u − 128
    eye = np.eye(16, dtype=np.int8).reshape(16, 16, 1, 1)
    lp0 = LayerParams(eye, np.full(16, -128, np.int32), np.ones(16, np.int32), np.zeros(16, np.int32))
    w1 = rng.choice(np.array([-128, 127, -127, -128, 1], np.int8), size=(8, 16, 1, 1))
    u = rng.choice(np.array([0, 255, 1, 0], np.uint8), size=16)  # activations −128, 127, −127
    u[:4] = 0
    w1[:, :4] = -128  # (−128)·(−128) pairs
    acc = (w1[:, :, 0, 0].astype(np.int64) * (u.astype(np.int64) - 128)).sum(axis=1)
    r = rng.integers(-100, 100, size=8)
    lp1 = LayerParams(w1, (r - acc).astype(np.int32), np.ones(8, np.int32), np.zeros(8, np.int32))
    bundle = Bundle((lp0, lp1, b.layers[2]), {})
    x = np.broadcast_to(u.reshape(1, 16, 1, 1), (2, 16, 6, 6)).copy()
    g = run(spec, bundle, x)
    assert (g.acts[1] == torch.from_numpy(r).view(1, 8, 1, 1).to(torch.int8)).all()
    o = run_onnxruntime(build_model(spec, bundle), x)
    assert first_mismatch(spec, g, o) is None, first_mismatch(spec, g, o)


def test_label_ties_first_index() -> None:
    spec = _one_layer("uint8")
    b = random_bundle(spec, seed=0)
    lp1 = LayerParams(np.zeros_like(b.layers[1].weight), np.array([40, 40], np.int32), np.ones(2, np.int32),
                      np.zeros(2, np.int32))
    bundle = Bundle((b.layers[0], lp1), {})
    x = random_input(spec, 3, 0)
    g = run(spec, bundle, x)
    o = run_onnxruntime(build_model(spec, bundle), x)
    assert g.labels.tolist() == [0, 0, 0] == o["labels"].tolist()


def test_requantizer_ties_and_clamps_written_by_hand() -> None:
    """A shared-specification fault in the rounding (golden model and RTL both wrong) cannot hide here: the
    expected values are written out by hand from the spec (half_even: a tie goes to the even neighbour; the
    result clamps to [−128, 127] after the zero point), and onnxruntime must give the same.

    One 1×1 conv with zero weights, m = 1, s = 1: channel c outputs round(b_c / 2) + zp, clamped."""
    biases = [1, 3, 5, -1, -3, -5, 253, 255, 259, -255, -257, -261, 2, -2]
    halves = ["0.5", "1.5", "2.5", "-0.5", "-1.5", "-2.5", "126.5", "127.5", "129.5", "-127.5", "-128.5", "-130.5",
              "1", "-1"]
    by_hand = [0, 2, 2, 0, -2, -2, 126, 127, 127, -128, -128, -128, 1, -1]  # 127.5 → 128 → clamp 127; …
    assert [Fraction(b, 2) for b in biases] == [Fraction(h) for h in halves]
    c = len(biases)
    spec = NetSpec.model_validate({
        "input": {"channels": 1, "height": 2, "width": 2, "format": "codes", "levels": 3},
        "layers": [{"type": "conv", "out_channels": c, "kernel": 1, "relu": False}, {"type": "fc", "out_features": 2}],
        "quant": {"rounding": "half_even", "mult_bits": 8}})
    b = random_bundle(spec, seed=0)
    lp0 = LayerParams(np.zeros((c, 1, 1, 1), np.int8), np.array(biases, np.int32), np.ones(c, np.int32),
                      np.ones(c, np.int32))
    bundle = Bundle((lp0, b.layers[1]), {})
    x = np.array([[[[1, -1], [0, 1]]]], np.int8)
    g = run(spec, bundle, x)
    want = np.broadcast_to(np.array(by_hand, np.int64).reshape(1, c, 1, 1), (1, c, 2, 2))
    np.testing.assert_array_equal(g.acts[0].numpy().astype(np.int64), want)
    o = run_onnxruntime(build_model(spec, bundle), x)
    np.testing.assert_array_equal(o["layer0"].astype(np.int64), want)
    assert first_mismatch(spec, g, o) is None, first_mismatch(spec, g, o)


@pytest.mark.parametrize("levels,a,by_hand", [
    (3, [10, 20, 39, 19, 10], [0, 1, 0, -1, 0]),      # ×2 → +1; ×1.95 → 0; ÷2.05 → −1; ÷1.9 → 0
    (5, [10, 40, 79, 20, 5], [0, 2, 0, -1, -2]),      # ×4 → +2; ×1.975 → 0; ÷3.95 → −1; ÷4 → −2
    (7, [10, 80, 41, 5, 39], [0, 3, 0, -3, 2]),       # ×8 → +3; ÷1.95 → 0; ÷8.2 → −3; ×7.8 → +2
])
def test_rdc_default_thresholds_written_by_hand(levels: int, a: list[int], by_hand: list[int]) -> None:
    """The RDC's default thresholds (ratios 2, 4, 8 for 3, 5, 7 levels) and codes written out by hand, so a
    wrong threshold shared by the golden model and the RTL (both read ``spec.thresholds``) is caught: one row,
    mode h (two equal rows), a = P + 1, the left pixel has no neighbour (code 0)."""
    from logcam.nn.golden.rdc import rdc_codes
    from logcam.rdcspec import RdcSpec

    spec = RdcSpec(width=len(a), height=2, adc_bits=10, levels=levels, mode="h", lanes=1)
    assert spec.thresholds == tuple(Fraction(2**k) for k in range(1, levels // 2 + 1))
    codes = rdc_codes(np.array([[v - 1 for v in a]] * 2, dtype=np.uint16), spec)[0, 0].tolist()
    assert codes == [by_hand, by_hand]
