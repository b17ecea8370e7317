"""Optics + CNN trained together; noise then back-end fine-tuning; export of the digital part to int8."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from logcam.config import validate
from logcam.errors import ConfigError
from logcam.nn import optics_train as ot
from logcam.nn.golden.accel import run as golden_run
from logcam.nn.optics import fold_pairs, signed_maps_int8

TINY = {"dataset": {"kind": "rgb_objects", "n": 120, "size": 16}, "widths": [4], "epochs": 2, "batch": 32}
SMALL_MASK = {"masks": 2, "mask_pixels": 32, "mask_pitch_um": 1.8}


def _cfg(**over: object) -> ot.OpticsTrainConfig:
    return validate(ot.OpticsTrainConfig, {**TINY, **over}, where="train")


@pytest.mark.parametrize("kind", ["phase_mask", "gabor", "lens"])
def test_train_and_export_digital_part(kind: str) -> None:
    """Default export: the stem reads the signed maps (int8, feature_maps channels — not both regions of every
    pair); the lens camera its uint8 colour planes. The stem's MACs are those of the back end as trained."""
    cfg = _cfg(optics={"kind": kind, "mask": SMALL_MASK})
    assert cfg.stem_input == "signed_maps"
    h0 = None
    res = ot.train_optics(cfg)
    if kind == "phase_mask":
        h0 = ot.build_model(cfg, 16, res.data.class_names).optics.heights_um.detach()
        assert float((res.model.optics.heights_um.detach() - h0).abs().max()) > 0       # the mask trained
    assert 0 <= res.test_acc <= 1 and len(res.history) == 2
    net, bundle, acc = ot.export_digital(res)
    fmt = "uint8" if kind == "lens" else "int8"
    assert net.input.format == fmt and net.input.channels == cfg.optics.feature_maps
    if kind != "lens":
        assert cfg.optics.feature_maps * 2 == cfg.optics.regions
    assert net.num_classes == 10 and 0 <= acc["int8_test_acc"] <= 1
    w0 = bundle.layers[0].weight                                  # int8, O×feature_maps×k×k
    assert w0.shape[1] == cfg.optics.feature_maps and abs(w0).max() > 0
    assert net.macs() == res.model.backend.spec.macs()
    x = res.data.images[res.splits[2]]
    got = ot.stem_inputs(cfg.optics, ot.region_inputs(res.model, x), cfg.signed)
    assert got.dtype == (torch.uint8 if kind == "lens" else torch.int8)
    assert int(got.to(torch.int64).min()) >= (0 if kind == "lens" else -128)


@pytest.mark.parametrize("kind", ["gabor", "lens"])
def test_folded_form_stays_selectable_and_costs_twice_the_stem(kind: str) -> None:
    """``stem_input: regions``: uint8 read-outs of every region, [W, −W] in the first conv (twice its MACs);
    the lens camera has no pairs, so both forms export the same network."""
    signed = ot.train_optics(_cfg(optics={"kind": kind}))
    folded = ot.train_optics(_cfg(optics={"kind": kind}, stem_input="regions"))
    n_s, b_s, _ = ot.export_digital(signed)
    n_f, b_f, _ = ot.export_digital(folded)
    o = signed.cfg.optics
    first = [n.layer_shapes()[0].macs for n in (n_s, n_f)]
    if kind == "lens":
        assert n_f.input == n_s.input and first[0] == first[1]
        return
    assert (n_f.input.format, n_f.input.channels) == ("uint8", o.regions)
    assert (n_s.input.format, n_s.input.channels) == ("int8", o.feature_maps)
    assert first[1] == 2 * first[0]
    assert sum(s.macs for s in n_f.layer_shapes()[1:]) == sum(s.macs for s in n_s.layer_shapes()[1:])
    w0 = b_f.layers[0].weight                                     # the pair difference survived export
    assert (w0[:, 0::2].astype(int) == -w0[:, 1::2].astype(int)).all() and abs(w0).max() > 0
    assert (w0[:, 0::2] == b_s.layers[0].weight).all()            # the same trained W: only the input differs


def test_signed_export_labels_agree_with_the_float_model() -> None:
    """The int8 export on the signed maps labels the test scenes as the float model does, except where the
    halving of R⁺ − R⁻ (one DN) and the 8-bit activations tip a near tie; the golden model reads exactly
    signed_maps_int8 of the read-outs."""
    res = ot.train_optics(_cfg(optics={"kind": "gabor"}, epochs=3, dataset={"kind": "rgb_objects", "n": 200,
                                                                           "size": 16}))
    net, bundle, acc = ot.export_digital(res)
    te = res.splits[2]
    regions = ot.region_inputs(res.model, res.data.images[te])
    maps = signed_maps_int8(res.cfg.optics, regions)
    labels = torch.as_tensor(golden_run(net, bundle, maps).labels).to(torch.int64).flatten()
    with torch.no_grad():
        float_labels = res.model(res.data.images[te]).argmax(1)
    assert len(te) >= 30 and float((labels == float_labels).double().mean()) >= 0.8
    assert acc["int8_test_acc"] == pytest.approx(float((labels == res.data.labels[te]).double().mean()))


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
                        ({"stem_input": "maps"}, "stem_input"),
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
    assert frame.net_input.dtype == np.int8 and frame.net_input.shape == (3, 16, 16)
    want = signed_maps_int8(res.cfg.optics, torch.from_numpy(frame.region_dn)[None])[0].numpy()
    assert np.array_equal(frame.net_input, want)
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
