"""The co-search (logcam.search, docs/search.md): space from OPERATORS, costs, determinism, resume, export."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from logcam.cli import main
from logcam.energy.tech import TechTable
from logcam.nn.netspec import OPERATORS, check_buildable
from logcam.nn.optics import OpticalLayer, signed_maps_int8
from logcam.nn.optics_train import scenes_for
from logcam.search.config import SearchConfig, load_search_config
from logcam.search.model import SuperNet
from logcam.search.run import _cost, cotrain, mobilenet_config, noise_finetune, retrain, run_search, search
from logcam.search.space import SKIP, _pj, cost_table, net_spec, readout_pj, slots

TINY = {"name": "tiny", "dataset": {"kind": "rgb_objects", "n": 60, "size": 16, "seed": 0}, "stem": 4,
        "channels": [4, 8], "strides": [1, 2], "epochs": 2, "retrain_epochs": 1, "batch": 16, "calib": 16}


def tiny(**over: object) -> SearchConfig:
    return SearchConfig.model_validate({**TINY, **over})


def test_space_is_read_from_operators_and_every_network_builds() -> None:
    cfg = SearchConfig()
    assert set(cfg.kernels) <= set(OPERATORS["depthwise"].kernels)
    rng = random.Random(0)
    classes = tuple(str(i) for i in range(10))
    for _ in range(20):
        choice = [rng.choice(s.candidates) for s in slots(cfg, 16)]
        check_buildable(net_spec(cfg, 16, choice, classes))
    assert SKIP in slots(cfg, 16)[0].candidates and SKIP not in slots(cfg, 16)[2].candidates  # stride 2


def test_candidate_costs_add_up_to_the_whole_network() -> None:
    """Σ per-candidate energy (and FLOPs) + fixed part = cnn_activity × stage_pj of the whole NetSpec + read-out."""
    cfg, tech = SearchConfig(), TechTable.load()
    table = cost_table(cfg, 16, 10, tech)
    rng = random.Random(1)
    for _ in range(5):
        choice = [rng.choice(s.candidates) for s in slots(cfg, 16)]
        spec = net_spec(cfg, 16, choice, tuple("abcdefghij"))
        whole = (_pj(spec, tech) + readout_pj(cfg, 16, tech)) / 256 / 1000
        assert table.nj_per_pixel(choice) == pytest.approx(whole, rel=1e-9)
        assert table.mflops(choice) * 1e6 == pytest.approx(sum(s.macs + s.ops for s in spec.layer_shapes()))
    assert table.extreme("energy", min) < table.extreme("energy", max)


def test_cost_is_differentiable_through_alpha() -> None:
    cfg = tiny()
    table = cost_table(cfg, 16, 10)
    net = SuperNet(cfg, 16, 10).train()
    net(torch.randn(2, cfg.optics.feature_maps, 16, 16))
    for kind in ("energy", "flops"):
        for a in net.alpha:
            a.grad = None
        _cost(net, table, kind).backward(retain_graph=True)
        assert all(a.grad is not None and a.grad.abs().sum() > 0 for a in net.alpha)


@pytest.mark.parametrize(("over", "needle"), [
    ({"operators": ["conv", "pointwise", "depthwise", "avgpool_global", "fc", "maxpool3"]}, "operators"),
    ({"lam": -0.5}, "lam"),
    ({"kernels": [3, 4]}, "kernels"),
    ({"budget": 1e-6}, "budget"),
    ({"device": "gpu"}, "device"),
    ({"device": f"cuda:{torch.cuda.device_count() + 1}"}, "device: cuda"),  # past the last GPU, or no CUDA at all
])
def test_bad_config_is_one_line_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str], over: dict,
                                       needle: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({**TINY, **over}), encoding="utf-8")
    with pytest.raises(SystemExit) as exc:
        main(["search", str(path), "--out", str(tmp_path / "o"), "--verify", "none"])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("logcam: error:") and needle in err


def test_same_seed_same_architecture_and_bits() -> None:
    a, b = run_search(tiny()), run_search(tiny())
    assert a.choice == b.choice and a.spec == b.spec
    for la, lb in zip(a.bundle.layers, b.bundle.layers):
        for k in ("weight", "bias", "mult", "shift"):
            assert np.array_equal(getattr(la, k), getattr(lb, k))
    check_buildable(a.spec)
    assert 0.0 <= a.summary["int8_test_acc"] <= 1.0


def test_killed_search_resumes_to_the_same_bits(tmp_path: Path) -> None:
    cfg = tiny(epochs=3)
    whole = search(cfg, tmp_path / "a")

    class Killed(Exception):
        pass

    def kill(epoch: int, total: int, rec: dict) -> None:
        if epoch == 2:
            raise Killed

    with pytest.raises(Killed):
        search(cfg, tmp_path / "b", progress=kill)
    resumed = search(cfg, tmp_path / "b", resume=True)
    assert [r["choice"] for r in resumed[2]] == [r["choice"] for r in whole[2]]
    sa, sb = whole[0].state_dict(), resumed[0].state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)


@pytest.mark.rtl
def test_cli_exports_and_verifies_bit_exact_in_amaranth(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A one-slot space without skip (so the winner has pointwise, depthwise and a residual add), 1+1 epochs."""
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump({**TINY, "dataset": {"kind": "rgb_objects", "n": 100, "size": 16},
                                    "channels": [4], "strides": [1], "expansions": [1, 3],
                                    "kernels": [3], "skip": False, "epochs": 1}), encoding="utf-8")
    main(["search", str(path), "--out", str(tmp_path / "o"), "--json", "--verify", "amaranth"])
    out = json.loads(capsys.readouterr().out)
    assert out["rtl"]["mismatches"] == 0 and out["rtl"]["sim"] == "amaranth"
    if "activity_equal" in out["rtl"]:
        assert all(out["rtl"]["activity_equal"].values())
    assert out["nj_per_pixel"] > 0 and Path(out["netspec"]).is_file() and Path(out["bundle"]).is_file()
    assert (tmp_path / "o" / "checkpoint.pt").is_file()


@pytest.mark.rtl
@pytest.mark.slow
def test_searched_network_bit_exact_under_verilator(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(TINY), encoding="utf-8")
    main(["search", str(path), "--out", str(tmp_path / "o"), "--json", "--verify", "verilator", "--frames", "4"])
    out = json.loads(capsys.readouterr().out)
    assert out["rtl"]["mismatches"] == 0
    assert all(out["rtl"]["activity_equal"].values())  # RTL counters = analytic counts, count by count
    assert out["rtl"]["nj_per_pixel_measured"] == pytest.approx(out["nj_per_pixel"], rel=1e-9)


def test_quick_and_default_configs_load() -> None:
    from logcam.config import embedded_config

    for name, alpha_lr in (("search/quick.yaml", 0.03), ("search/default.yaml", 0.03), ("search/cifar10.yaml", 3e-4)):
        cfg = load_search_config(embedded_config(name))
        assert cfg.tau == 3.0 and cfg.tau_decay == 0.92 and cfg.alpha_lr == alpha_lr  # quick scale: docs/search.md


@pytest.mark.parametrize("kind", ["gabor_mask", "lens"])
def test_baseline_front_ends_run_the_same_search(kind: str) -> None:
    """Gabor masks (fixed) and the lens camera behind the same search: exported, buildable, golden-labelled."""
    res = run_search(tiny(optics={"kind": kind}, epochs=1))
    check_buildable(res.spec)
    assert res.spec.input.channels == SearchConfig(optics={"kind": kind}).optics.feature_maps
    assert res.spec.input.format == ("uint8" if kind == "lens" else "int8")  # the signed maps
    assert 0.0 <= res.summary["int8_test_acc"] <= 1.0 and res.summary["nj_per_pixel"] > 0


def test_resume_without_checkpoint_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(TINY), encoding="utf-8")
    with pytest.raises(SystemExit) as exc:
        main(["search", str(path), "--out", str(tmp_path / "o"), "--resume", "--verify", "none"])
    err = capsys.readouterr().err.strip()
    assert exc.value.code == 2 and len(err.splitlines()) == 1 and "--resume" in err


def test_signed_maps_are_the_halved_pair_differences_and_halve_the_stem() -> None:
    """signed_maps_int8 = ⌊(R⁺ − R⁻)/2⌋ in int8 for every pair of uint8 read-outs; the exported stem reads the
    feature maps, so its MACs are feature_maps/regions (= 1/2) of the folded [W, −W] stem's."""
    cfg = SearchConfig()
    o = cfg.optics
    g = torch.Generator().manual_seed(0)
    dn = torch.randint(0, 256, (3, o.regions, 5, 5), generator=g, dtype=torch.int64).to(torch.uint8)
    got = signed_maps_int8(o, dn)
    r = dn.numpy().astype(np.int64)
    want = np.floor_divide(r[:, 0::2] - r[:, 1::2], 2)  # design a: regions are (+, −) pairs
    assert got.dtype == torch.int8 and np.array_equal(got.numpy().astype(np.int64), want)
    assert int(got.min()) >= -128 and int(got.max()) <= 127
    spec = net_spec(cfg, 16, [s.candidates[0] for s in slots(cfg, 16)], tuple("abcdefghij"))
    stem = spec.layer_shapes()[0]
    assert stem.in_shape[0] == o.feature_maps and 2 * o.feature_maps == o.regions
    assert stem.macs == 16 * 16 * cfg.stem * 9 * o.feature_maps


def test_mask_ablation_keeps_the_mask_fixed() -> None:
    """mask_in_search / mask_in_retrain false: the heights stay at their initial values in that stage."""
    cfg = tiny(epochs=1, retrain_epochs=1, mask_in_search=False, mask_in_retrain=False)
    model, net, _, splits, data = search(cfg)
    h0 = OpticalLayer(cfg.optics).heights_um
    assert torch.equal(model.optics.heights_um, h0)
    derived, _ = retrain(cfg, model, net, net.derive(), data, splits[:3])
    assert torch.equal(derived.optics.heights_um, h0)
    moved, _, _, _, _ = search(tiny(epochs=1))
    assert not torch.equal(moved.optics.heights_um, h0)


def test_cotrain_baseline_is_mobilenetv2_at_a_width_and_noise_restores() -> None:
    cfg = tiny(retrain_epochs=1, epochs=1)
    fixed, choice = mobilenet_config(cfg, 0.5)
    assert choice == ["e1_k3", "e6_k3"] and fixed.channels == [2, 4] and fixed.stem == 2
    res = cotrain(cfg, 0.5)
    check_buildable(res.spec)
    assert res.choice == choice and res.summary["width"] == 0.5
    assert [la.type for la in res.spec.layers].count("depthwise") == 2
    before = {k: v.clone() for k, v in res.model.state_dict().items()}
    data = scenes_for(cfg.optics, cfg.dataset)
    noisy, tuned = noise_finetune(cfg, res, data, 0.2, 1)
    assert 0.0 <= noisy <= 1.0 and 0.0 <= tuned <= 1.0
    after = res.model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


@pytest.mark.slow  # the phase-retrieval fit: ~10 s on an idle core
def test_learned_mask_can_start_from_the_gabor_fit() -> None:
    """optics.init gabor: the phase masks start at the gabor_mask kind's fitted heights and stay trainable."""
    from logcam.nn.optics import gabor_mask_heights, optical_config

    cfg = optical_config({"init": "gabor"})
    layer = OpticalLayer(cfg)
    assert layer.heights_um.requires_grad
    assert torch.equal(layer.heights_um.detach(), gabor_mask_heights(cfg.mask, cfg.seed)[0])
    assert not torch.equal(layer.heights_um.detach(), OpticalLayer(optical_config({})).heights_um.detach())


def test_search_runs_on_cifar_batches_when_pointed_at_them(tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    """The acceptance's "and on CIFAR-10 when a user points at it": a folder in CIFAR-10's own python-batch
    format (written here, random images, nothing downloaded) drives the same search, export and golden model."""
    from logcam.nn.cifar import write_batch, write_meta

    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        write_batch(folder / name, rng.integers(0, 256, (20, 3, 32, 32), dtype=np.uint8), np.arange(20) % 10)
    write_meta(folder / "batches.meta", [f"class{i}" for i in range(10)])
    cfg = {**TINY, "dataset": {"kind": "cifar", "root": str(tmp_path), "limit": 80}, "epochs": 1}
    path = tmp_path / "cifar.yaml"
    path.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    main(["search", str(path), "--out", str(tmp_path / "o"), "--verify", "none", "--json"])
    summary = json.loads(capsys.readouterr().out)
    assert summary["images"] == 80 and summary["size"] == 32
    assert 0.0 <= summary["int8_test_acc"] <= 1.0 and summary["nj_per_pixel"] > 0
