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


def test_golden_logits_match_the_fake_quantized_forward(trained) -> None:
    """Logits of the float QAT model are the golden int8 logits × output scale (up to rare ties)."""
    res = trained
    spec, bundle = export_bundle(res.model, res.fmt)
    x_int = res.fmt.integer(res.data.frames[:64])
    logits = run(spec, bundle, x_int).logits.to(torch.float64)
    with torch.no_grad():
        real = res.model(x_int.float() * res.fmt.input_scale).to(torch.float64)
    q = real / float(res.model.layers[-1].out_scale)
    assert ((q - logits).abs() <= 1.0 + 1e-6).all()
    assert ((q - logits).abs() > 1e-3).double().mean() < 0.05


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
