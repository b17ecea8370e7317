"""µNAS per input format (nn/unas.py): the search space stays NetSpec-expressible, pruning yields the NetSpec it
measures, the metrics follow their definitions, and a tiny run writes the paper's numbers beside ours and exports a
winner that the golden model runs. Runs are tiny (16×16 px, ≤ 60 images, 1–2 epochs)."""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

import pytest
import torch

from logcam.cli import main
from logcam.config import validate
from logcam.errors import ConfigError
from logcam.nn.formats import get_format
from logcam.nn.netspec import Bundle, NetSpec, check_buildable
from logcam.nn.unas import (
    UNAS_PAPER,
    Arch,
    UnasConfig,
    extract_pruned,
    metrics,
    mutate,
    net_spec,
    random_arch,
    run_unas,
    train_point,
)

CLASSES = ("disc", "bar", "cross")
TINY = {"size": 16, "n": 60, "epochs": 2, "population": 2, "sample": 1, "cycles": 1, "max_channels": 8,
        "threads": 1}


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open() as f:
        return list(csv.DictReader(f))


def test_random_and_mutated_architectures_are_valid_netspecs() -> None:
    cfg = validate(UnasConfig, {"size": 32})
    fmt = get_format("loggrad_q3")
    rng = random.Random(3)
    seen = set()
    arch = random_arch(rng, cfg, fmt, CLASSES)
    for _ in range(40):
        child = mutate(arch, rng, cfg, fmt, CLASSES)
        assert child != arch
        spec = net_spec(child, fmt, 32, CLASSES)
        check_buildable(spec)  # the accelerator generator builds every operator used
        assert spec.input.format == "codes" and spec.layers[-1].type == "fc"
        seen |= {la.type for la in spec.layers}
        arch = child
    assert {"conv", "depthwise", "pointwise", "fc"} <= seen
    again = random.Random(3)  # deterministic in the seed
    assert random_arch(again, cfg, fmt, CLASSES) == random_arch(random.Random(3), cfg, fmt, CLASSES)


def test_metrics_follow_their_definitions() -> None:
    fmt = get_format("jpeg8")
    arch = Arch((("conv", 3, 4, 1, 2), ("dwsep", 3, 6, 2, 1)), hidden=0)
    spec = net_spec(arch, fmt, 16, CLASSES)
    m = metrics(spec, "jpeg8")
    # conv 3×3 1→4 (16×16, pool → 8×8); depthwise 3×3 stride 2 on 4 ch (→ 4×4); pointwise 4→6; fc 96→3
    assert m["macs"] == 4 * 16 * 16 * 9 + 4 * 4 * 4 * 9 + 6 * 4 * 4 * 4 + 3 * 96 == spec.macs()
    assert m["model_size_bytes"] == (36 + 4 * 4) + (36 + 4 * 4) + (24 + 6 * 4) + (288 + 3 * 4)
    # the largest operators: the conv (256 B of 8-bit input + 1 024 B of output before the pool) and its pool
    # (1 024 B in, 256 B out)
    assert m["peak_memory_bytes"] == 256 + 1024
    assert metrics(spec, "raw16")["peak_memory_bytes"] == 512 + 1024  # 16-bit input: the conv
    codes = net_spec(arch, get_format("loggrad_q3"), 16, CLASSES)
    mc = metrics(codes, "loggrad_q3")
    assert mc["peak_memory_bytes"] == 1024 + 256  # 2-bit codes (64 B): the pool is the largest
    assert 0 < mc["energy_pj"] < m["energy_pj"]  # a first layer on codes is multiplier-free


def test_pruned_netspec_computes_what_the_masked_network_does() -> None:
    cfg = validate(UnasConfig, {"size": 16, "epochs": 4, "prune_start": 1, "prune_end": 2, "batch": 16})
    fmt = get_format("fp_loggrad")
    arch = Arch((("conv", 3, 8, 1, 2), ("dwsep", 3, 8, 1, 1)), hidden=8)
    spec = net_spec(arch, fmt, 16, CLASSES)
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(48, 1, 16, 16, generator=g), torch.randint(0, 3, (48,), generator=g)
    trained = train_point(cfg, spec, x, y, torch.arange(32), 0.5, seed=0)
    assert trained.keep == {0: 4, 2: 4}  # half of each conv/pointwise layer's 8 channels pruned
    pruned = net_spec(arch, fmt, 16, CLASSES, trained.keep)
    assert [la.out_channels for la in pruned.layers if la.type in ("conv", "pointwise")] == [4, 4]
    net = extract_pruned(trained, pruned)
    with torch.no_grad():
        want, got = trained.model(x[32:]), net(x[32:])
    assert torch.allclose(got, want, rtol=1e-4, atol=1e-4 * float(want.abs().max()))
    assert sum(p.numel() for p in net.parameters()) < sum(p.numel() for p in trained.model.parameters())


def test_tiny_run_writes_papers_numbers_and_exports_a_golden_checked_winner(tmp_path: Path) -> None:
    cfg = validate(UnasConfig, {**TINY, "formats": ["jpeg8", "fp_loggrad", "loggrad_q3"], "seeds": 2})
    res = run_unas("unas", cfg, tmp_path)
    rows = _rows(res.csv)
    assert [r["format"] for r in rows] == ["jpeg8", "fp_loggrad", "loggrad_q3"]
    for r in rows:
        assert r["seeds"] == "2" and len(r["model_size_bytes_seeds"].split()) == 2
    paper = {r["format"]: r["paper_jpeg8_over_this_model_size_bytes"] for r in rows}
    assert paper == {"jpeg8": "", "fp_loggrad": "5.0", "loggrad_q3": ""}
    jpeg = rows[0]
    assert float(jpeg["jpeg8_over_this_macs"]) == 1.0
    points = _rows(tmp_path / "unas_points.csv")
    assert len(points) == 3 * 2 * (2 + 1)  # formats × seeds × (population + cycles)
    doc = json.loads((tmp_path / "unas.json").read_text())
    assert doc["paper"]["ratio_jpeg8_over_fp_loggrad"] == {"model_size_bytes": 5.0, "macs": 5.0,
                                                            "peak_memory_bytes": 1.1}
    ex = res.export
    assert ex is not None and ex["format"] == "loggrad_q3" and ex["rtl_buildable"] is True
    spec = NetSpec.load(ex["netspec"])
    Bundle.load(spec, ex["bundle"])
    assert spec.input.format == "codes" and spec.input.levels == 3
    assert 0.0 <= ex["golden_test_accuracy"] <= 1.0
    assert (tmp_path / "unas.png").stat().st_size > 0


def test_paper_preset_is_munas_at_the_papers_scale() -> None:
    cfg = validate(UnasConfig, UNAS_PAPER)
    assert cfg.bounds() == {"error": 0.05, "peak_memory_bytes": 10_000, "model_size_bytes": 20_000, "macs": 1_000_000}
    assert cfg.prune_window == (40, 75) and (cfg.population, cfg.sample, cfg.population + cfg.cycles) == (100, 25, 2000)
    assert (cfg.size, cfg.epochs, cfg.batch, cfg.lr) == (96, 80, 128, 0.03)
    scaled = validate(UnasConfig, {})
    assert scaled.bounds()["macs"] == round(1e6 * (32 / 96) ** 2) and scaled.prune_window == (4, 6)


@pytest.mark.parametrize(("argv", "field"), [
    (["--population", "1"], "population"),
    (["--c1", "2"], "--c1"),
    (["--formats", "jpeg8,nope"], "formats"),
])
def test_bad_input_is_one_line(argv: list[str], field: str, tmp_path: Path, capsys) -> None:
    with pytest.raises(SystemExit) as e:
        main(["experiment", "unas", "--quick", "--out", str(tmp_path), *argv])
    err = capsys.readouterr().err.strip()
    assert e.value.code != 0 and len(err.splitlines()) == 1 and field in err, err


def test_population_is_an_option_of_unas_only(tmp_path: Path, capsys) -> None:
    with pytest.raises(SystemExit) as e:
        main(["experiment", "channels", "--quick", "--cycles", "3", "--out", str(tmp_path)])
    err = capsys.readouterr().err.strip()
    assert e.value.code != 0 and "--population/--cycles" in err and len(err.splitlines()) == 1


def test_config_errors_name_the_field() -> None:
    for data, field in (({"sample": 9, "population": 4}, "sample"), ({"export_format": "raw16", "formats": ["raw16"]},
                                                                      "export_format"),
                        ({"min_sparsity": 0.9, "max_sparsity": 0.5}, "min_sparsity"),
                        ({"epochs": 4, "prune_start": 3, "prune_end": 9}, "prune_start")):
        with pytest.raises(ConfigError, match=field):
            validate(UnasConfig, data)


def test_quantization_aware_depthwise_and_pointwise_export_matches_the_golden_model(tmp_path: Path) -> None:
    """nn.models trains depthwise and pointwise layers; their int8 export runs on the golden model with the
    predictions of the fake-quantized network (up to rare rounding ties)."""
    from logcam.nn.data import SyntheticConfig, synthetic_dataset
    from logcam.nn.export import export_bundle, golden_accuracy, netspec_yaml
    from logcam.nn.train import TrainConfig, accuracy, train_on

    data = synthetic_dataset(SyntheticConfig(n=60, size=16, seed=1))
    fmt = get_format("loggrad_q3", data.adc_bits)
    spec = net_spec(Arch((("conv", 3, 4, 1, 2), ("dwsep", 5, 6, 2, 1)), hidden=8), fmt, 16, tuple(data.class_names))
    path = tmp_path / "net.yaml"
    path.write_text(netspec_yaml(spec), encoding="utf-8")
    res = train_on(TrainConfig(format="loggrad_q3", netspec=str(path), epochs=2, qat=True, qat_start=1), data)
    assert [la.type for la in res.spec.layers] == ["conv", "depthwise", "pointwise", "fc", "fc"]
    out_spec, bundle = export_bundle(res.model, res.fmt, "dw")
    assert bundle.layers[1].weight.shape == (4, 1, 5, 5) and bundle.layers[2].weight.shape == (6, 4, 1, 1)
    acc_int, pred_int = golden_accuracy(out_spec, bundle, res.fmt.integer(data.frames), data.labels)
    x = data.formatted(res.fmt).tensors[0]
    with torch.no_grad():
        pred = res.model(x).argmax(1)
    assert (pred_int == pred).double().mean() >= 0.95
    assert abs(acc_int - accuracy(res.model, x, data.labels)) <= 0.05


@pytest.mark.slow
@pytest.mark.rtl
def test_exported_winner_runs_on_the_accelerator_rtl(tmp_path: Path, capsys) -> None:
    """The winner a tiny search exports streams through the generated accelerator (Verilator) with every layer,
    the logits and the labels equal to the golden model's."""
    cfg = validate(UnasConfig, {**TINY, "formats": ["loggrad_q3"], "max_channels": 4})
    ex = run_unas("unas", cfg, tmp_path).export
    assert ex is not None and ex["rtl_buildable"] is True
    main(["verify", "accel", "--net", str(ex["netspec"]), "--weights", str(ex["bundle"]), "--frames", "2",
          "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert doc["passed"] is True and doc["mismatches"] == 0 and doc["frames"] == 2, doc


def test_folding_the_input_standardisation_keeps_the_logits() -> None:
    """Away from zero padding the folded first layer computes what standardise-then-conv did."""
    from logcam.nn.models import QuantNet
    from logcam.nn.unas import _fold_standardize

    arch = Arch((("conv", 3, 4, 1, 2),), hidden=0)
    spec = net_spec(arch, get_format("jpeg8"), 16, CLASSES)
    spec = spec.model_copy(update={"layers": [spec.layers[0].model_copy(update={"pad": 0}), *spec.layers[1:]]})
    spec = NetSpec.model_validate(spec.model_dump())
    torch.manual_seed(0)
    net = QuantNet(spec, 1.0, quant=False)
    net.standardize(0.4, 0.2)
    net.eval()
    x = torch.rand(5, 1, 16, 16)
    with torch.no_grad():
        before = net(x)
        _fold_standardize(net)
        after = net(x)
    assert net.in_mean is None
    assert torch.allclose(after, before, rtol=1e-4, atol=1e-4 * float(before.abs().max()))
