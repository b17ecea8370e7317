"""Export: the QAT network exported to NetSpec + Bundle keeps its accuracy on the bit-exact golden model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from logcam.config import embedded_config
from logcam.errors import ConfigError, InputError
from logcam.nn.data import SyntheticConfig, synthetic_dataset
from logcam.nn.export import calibrate, export_bundle, golden_accuracy, write_export
from logcam.nn.golden.accel import run
from logcam.nn.models import QuantNet, make_2conv1fc
from logcam.nn.netspec import Bundle, NetSpec
from logcam.nn.train import TrainConfig, accuracy, train_on

EASY = {"kind": "synthetic", "n": 300, "size": 32, "clutter": 0, "shadow_prob": 0.0, "gradient_decades": 0.0,
        "lux_min": 100.0, "lux_max": 300.0}


@pytest.fixture(scope="module", params=["loggrad_q3", "jpeg8"])
def trained(request):
    data = synthetic_dataset(SyntheticConfig(**EASY))
    cfg = TrainConfig(dataset=EASY, format=request.param, epochs=6, lr=0.005, threads=1, seed=2)
    return train_on(cfg, data)


def test_integer_accuracy_within_one_point_of_float(trained) -> None:
    res = trained
    spec, bundle = export_bundle(res.model, res.fmt, "tiny")
    assert spec.input.format == res.fmt.netspec_format
    x_int = res.fmt.integer(res.data.frames)
    y = res.data.labels
    acc_int, pred_int = golden_accuracy(spec, bundle, x_int, y)
    x_real = res.data.formatted(res.fmt).tensors[0]
    acc_float = accuracy(res.model, x_real, y)
    assert abs(acc_int - acc_float) <= 0.01, (acc_int, acc_float)
    with torch.no_grad():
        pred_float = res.model(x_real).argmax(1)
    assert (pred_int == pred_float).double().mean() >= 0.99
    if res.fmt.name == "loggrad_q3":
        assert acc_int > 0.45  # the integer network has learned something too (jpeg8 learns slower)


#: float32 unit roundoff (half an ulp at 1.0): one float32 operation has relative error ≤ U.
U = 2.0 ** -24


def test_golden_logits_match_the_fake_quantized_forward(trained) -> None:
    """Logits of the float QAT model are the golden int8 logits × output scale, up to rare rounding ties.

    The float logit is ``round_half_up(y/s).clamp() * s`` in float32, divided here by the same s in
    float64: q = k·(1 + δ) for the integer k the float model chose, |δ| ≤ U (one float32 rounding of
    k·s; the float64 division adds 2^−53). So k = round(q) is recovered exactly (|k| ≤ 128 keeps
    |k·δ| < 0.5) and |q − k| ≤ 2U·|k| bounds what the float path can change, on any CPU. (A fixed
    1 + 1e−6 bound fails for |k| ≳ 17: 22·U ≈ 1.3e−6.) k then differs from the golden logit only
    where some layer's value lay within the float error of a rounding tie (checked exactly, layer by
    layer, in the next test), which must be rare.
    """
    res = trained
    spec, bundle = export_bundle(res.model, res.fmt)
    x_int = res.fmt.integer(res.data.frames[:64])
    g = run(spec, bundle, x_int)
    with torch.no_grad():
        real = res.model(x_int.float() * res.fmt.input_scale).to(torch.float64)
    q = real / float(res.model.layers[-1].out_scale)
    k = q.round()
    assert ((q - k).abs() <= 2 * U * k.abs()).all(), (q - k).abs().max()
    logits = g.logits.to(torch.float64)
    assert (k != logits).double().mean() < 0.05
    assert (k.argmax(1) == g.labels).double().mean() >= 0.95  # argmax: first maximum, as the golden model


def test_every_layer_matches_the_fake_quantized_layer_away_from_rounding_ties(trained) -> None:
    """Each QAT layer fed the golden input × scale gives exactly the golden int8 output wherever the
    exact value lies farther from a rounding tie than the float path can move it.

    Per output the golden model computes t = acc·m/2^s exactly (acc = Σ w·x + b in integers). The
    float layer computes the same sum from float32 values: every term w_q·x and the bias carry ≤ 4
    float32 roundings of their scale products (relative ≤ 4U), the float32 sum of n = fan_in + 1
    terms in any order is within (n − 1)·U·Σ|terms| of the exact sum (the textbook bound, independent
    of summation order, blocking or SIMD width — so of the CPU and BLAS), and the division by the
    output scale, the +0.5 and the float32 copies of the scales add ≤ 4U·(|t| + 1). The export's
    multiplier m/2^s differs from the real factor a = s_x·s_w/s_o by |m/2^s − a| (computed here). So
    the float t lies within E = 2·(U·(n + 8)·a·S + 4U·(|t| + 1)) + |acc|·|m/2^s − a| of the golden t
    (S = Σ|w·x| + |b| in integer units; the factor 2 covers second-order terms). Where no tie
    h + ½ with lo ≤ h < hi lies within E of t both round the same way and must agree exactly; a
    pooled output is checked when none of its 4 inputs is near a tie. At least 90 % of each layer's
    outputs must be checked, so the test cannot pass by excluding everything.
    """
    import torch.nn.functional as F

    from logcam.nn.models import weight_scale
    from logcam.nn.netspec import ConvSpec

    res = trained
    model = res.model
    spec, bundle = export_bundle(model, res.fmt)
    x_int = res.fmt.integer(res.data.frames[:64])
    g = run(spec, bundle, x_int)
    prev = x_int.to(torch.int64)  # golden integer input of the layer
    x = x_int.float() * res.fmt.input_scale  # the same, in the float model's units
    s_in32, s_x = torch.tensor(model.input_scale), float(res.fmt.input_scale)
    for i, (layer, lp, shape) in enumerate(zip(model.layers, bundle.layers, spec.layer_shapes())):
        ls = spec.layers[i]
        with torch.no_grad():
            out = layer(x, True, s_in32)
        s_o = layer.out_scale
        q = out.to(torch.float64) / float(s_o)
        k = q.round()
        assert ((q - k).abs() <= 2 * U * k.abs()).all(), f"layer {i}: float output is not an integer × scale"
        conv = isinstance(ls, ConvSpec)
        view = (1, -1, 1, 1) if conv else (1, -1)
        a = (s_x * weight_scale(layer.op.weight).to(torch.float64) / float(s_o)).view(view)
        mq = (torch.from_numpy(lp.mult.astype(np.float64)) / 2.0 ** torch.from_numpy(lp.shift.astype(np.float64)))
        mq = mq.view(view)
        acc = g.acc[i].to(torch.float64)  # conv: before pooling
        w_abs = torch.from_numpy(np.abs(lp.weight.astype(np.float64)))
        if conv:
            mag = F.conv2d(prev.abs().to(torch.float64), w_abs, stride=ls.stride, padding=ls.pad)
        else:
            mag = prev.abs().to(torch.float64).flatten(1) @ w_abs.T
        mag = mag + torch.from_numpy(np.abs(lp.bias.astype(np.float64))).view(view)
        t = acc * mq
        err = 2 * (U * (shape.fan_in + 9) * a * mag + 4 * U * (t.abs() + 1)) + acc.abs() * (mq - a).abs()
        lo, hi = spec.clamp_of(i)
        tie = torch.floor(t) + 0.5  # the nearest tie; err ≪ ½, so no other one is in reach
        near = ((t - tie).abs() <= err) & (tie >= lo + 0.5) & (tie <= hi - 0.5)
        if conv and ls.pool == 2:
            near = F.max_pool2d(near.to(torch.float64), 2) > 0
        want = g.acts[i].to(torch.float64)
        assert near.shape == want.shape
        assert near.double().mean() <= 0.10, f"layer {i}: {int(near.sum())} of {near.numel()} outputs near a tie"
        bad = torch.nonzero((k != want) & ~near)
        assert not len(bad), (f"layer {i}: {len(bad)} outputs differ away from a tie, first at "
                              f"{tuple(bad[0].tolist())}: float {k[tuple(bad[0])]}, golden {want[tuple(bad[0])]}")
        prev, x = g.acts[i].to(torch.int64), g.acts[i].float() * s_o
        s_in32, s_x = s_o, float(s_o)


def test_written_pair_reloads_and_a_mismatched_bundle_is_one_line(trained, tmp_path: Path) -> None:
    spec, bundle = export_bundle(trained.model, trained.fmt, "tiny")
    ypath, npath = write_export(spec, bundle, tmp_path / "nets" / "tiny", header="test")
    spec2 = NetSpec.load(ypath)
    assert spec2 == spec
    b2 = Bundle.load(spec2, npath)
    for a, b in zip(bundle.layers, b2.layers):
        assert np.array_equal(a.weight, b.weight) and np.array_equal(a.mult, b.mult)
    wide = make_2conv1fc(32, c1=8, c2=8, input_format=spec.input.format, levels=spec.input.levels)
    with pytest.raises(InputError) as err:
        Bundle.load(wide, npath)
    assert "layer0.weight" in str(err.value) and "\n" not in str(err.value)


def test_existing_equal_yaml_is_kept(tmp_path: Path) -> None:
    spec = NetSpec.load(embedded_config("nets/2conv1fc.yaml"))
    net = QuantNet(spec)
    calibrate(net, torch.randint(-1, 2, (8, 1, 96, 96)).float())
    from logcam.nn.formats import get_format

    s, b = export_bundle(net, get_format("loggrad_q3"), "2conv1fc")
    target = tmp_path / "2conv1fc.yaml"
    text = embedded_config("nets/2conv1fc.yaml").read_text()
    target.write_text(text)
    write_export(s, b, tmp_path / "2conv1fc")
    assert target.read_text() == text  # comments preserved, same NetSpec


def test_float_formats_cannot_be_exported() -> None:
    from logcam.nn.formats import get_format

    net = QuantNet(make_2conv1fc(32, input_format="uint8", levels=None), quant=False)
    with pytest.raises(ConfigError, match="no integer form"):
        export_bundle(net, get_format("raw16"))
