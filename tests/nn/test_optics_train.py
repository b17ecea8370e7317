"""Optics + CNN trained together; noise then back-end fine-tuning; export of the digital part to int8."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from logcam.config import validate
from logcam.errors import ConfigError
from logcam.nn import optics_train as ot
from logcam.nn.optics import fold_pairs

TINY = {"dataset": {"kind": "rgb_objects", "n": 120, "size": 16}, "widths": [4], "epochs": 2, "batch": 32}
SMALL_MASK = {"masks": 2, "mask_pixels": 32, "mask_pitch_um": 1.8}


def _cfg(**over: object) -> ot.OpticsTrainConfig:
    return validate(ot.OpticsTrainConfig, {**TINY, **over}, where="train")


@pytest.mark.parametrize("kind", ["phase_mask", "gabor", "lens"])
def test_train_and_export_digital_part(kind: str) -> None:
    cfg = _cfg(optics={"kind": kind, "mask": SMALL_MASK})
    h0 = None
    res = ot.train_optics(cfg)
    if kind == "phase_mask":
        h0 = ot.build_model(cfg, 16, res.data.class_names).optics.heights_um.detach()
        assert float((res.model.optics.heights_um.detach() - h0).abs().max()) > 0       # the mask trained
    assert 0 <= res.test_acc <= 1 and len(res.history) == 2
    net, bundle, acc = ot.export_digital(res)
    assert net.input.format == "uint8" and net.input.channels == cfg.optics.regions
    assert net.num_classes == 10 and 0 <= acc["int8_test_acc"] <= 1
    w0 = bundle.layers[0].weight                                  # int8, O×regions×k×k
    assert w0.shape[1] == cfg.optics.regions
    if kind != "lens":                                             # the pair difference survived export
        assert (w0[:, 0::2].astype(int) == -w0[:, 1::2].astype(int)).all() and abs(w0).max() > 0


def test_folded_backend_on_regions_equals_backend_on_maps() -> None:
    cfg = _cfg(optics={"kind": "gabor", "design": "c", "mask": {"masks": 4}})
    model = ot.build_model(cfg, 16, tuple("abcdefghij"))
    x = torch.rand(3, 3, 16, 16, generator=torch.Generator().manual_seed(1)) * 100
    model.set_gain(x)
    model.eval()
    spec = ot.backend_spec(cfg, 16, tuple("abcdefghij"), channels=cfg.optics.regions)
    folded = ot.QuantNet(spec, 1.0, quant=False)
    state = dict(model.backend.state_dict())
    state["layers.0.op.weight"] = fold_pairs(cfg.optics, state["layers.0.op.weight"])
    folded.load_state_dict(state)
    regions = model.readout(model.optics.region_images(x)) * model.gain.float()
    torch.testing.assert_close(folded(regions), model(x), rtol=1e-5, atol=1e-5)


def test_noise_then_finetune_reports_both() -> None:
    cfg = _cfg(optics={"kind": "phase_mask", "mask": SMALL_MASK, "noise_sigma_um": 0.2}, finetune_epochs=1)
    res = ot.train_optics(cfg)
    d = res.as_dict()
    assert d["noisy_test_acc"] is not None and d["finetuned_test_acc"] is not None
    assert float(res.model.optics.noise_um.std()) > 0.1


def test_optics_section_and_bad_values(tmp_path: Path) -> None:
    p = tmp_path / "o.yaml"
    p.write_text("optics: {kind: gabor}\ndataset: {kind: rgb_objects, n: 50, size: 16}\n", encoding="utf-8")
    assert ot.is_optics_config(p) and ot.load_optics_train_config(p).optics.kind == "gabor"
    q = tmp_path / "plain.yaml"
    q.write_text("format: jpeg8\n", encoding="utf-8")
    assert not ot.is_optics_config(q)
    for bad, needle in [({"optics": {"mask": {"masks": 7}}}, "optics.mask.masks"),
                        ({"optics": {"mask": {"kernel": 5}}}, "optics.mask.kernel"),
                        ({"dataset": {"kind": "cifar"}}, "dataset"),
                        ({"widths": [0]}, "widths")]:
        with pytest.raises(ConfigError) as e:
            _cfg(**bad)
        assert "\n" not in str(e.value) and needle in str(e.value)


def test_scene_through_sensor_to_integer_label_and_overview(tmp_path: Path) -> None:
    import numpy as np

    from logcam.sim.sensor import Sensor, load_sensor

    res = ot.train_optics(_cfg(optics={"kind": "gabor"}))
    net, bundle, _ = ot.export_digital(res)
    scene = res.data.images[0].double().numpy()
    frame = ot.sense_and_classify(res, net, bundle, scene, Sensor(load_sensor(), seed=0), rng=1)
    assert frame.region_dn.dtype == np.uint8 and frame.region_dn.shape == (6, 16, 16)
    assert 0 <= frame.label < 10 and frame.maps.shape == (3, 16, 16) and frame.psfs.shape == (6, 3, 7, 7)
    png = ot.overview_figure(frame, res.data.class_names, int(res.data.labels[0]), tmp_path / "overview.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cotrained_mask_in_front_of_a_fixed_network() -> None:
    cfg = _cfg(optics={"kind": "phase_mask", "mask": SMALL_MASK}, train_backend=False)
    fresh = ot.build_model(cfg, 16, tuple(f"c{i}" for i in range(10)))
    res = ot.train_optics(cfg)
    for (name, a), b in zip(res.model.backend.state_dict().items(), fresh.backend.state_dict().values()):
        if name.endswith(("weight", "bias")):
            assert torch.equal(a, b), name                                   # the network stayed fixed
    assert float((res.model.optics.heights_um - fresh.optics.heights_um).detach().abs().max()) > 0
