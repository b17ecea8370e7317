"""Issue 18: the paper's preset, several seeds with 95 % t-intervals, the paper's numbers beside ours, the larger
synthetic set. Every run here is tiny (16×16 px, ≤ 60 images, 1 epoch)."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import pytest
import torch

from logcam.cli import main
from logcam.config import validate
from logcam.errors import ConfigError
from logcam.nn.data import PASCALRAW_COUNTS, SyntheticConfig, pascalraw_ratio, synthetic_dataset
from logcam.nn.experiments import PAPER, ExperimentConfig, ReconNet, aggregate, mean_ci, run, t95

TINY = {"size": 16, "n": 60, "epochs": 1, "threads": 1}


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open() as f:
        return list(csv.DictReader(f))


def test_t_interval_matches_the_t_table() -> None:
    assert t95(3) == pytest.approx(4.302653, abs=1e-6)  # Student t, 2 degrees of freedom, 97.5 %
    assert t95(10) == pytest.approx(2.262157, abs=1e-6)
    m, ci = mean_ci([1.0, 2.0, 3.0])
    assert m == pytest.approx(2.0) and ci == pytest.approx(4.302653 / math.sqrt(3), abs=1e-6)
    assert mean_ci([0.5]) == (0.5, None) and mean_ci([]) == (None, None)


def test_aggregate_averages_cells_and_sums_histograms() -> None:
    rows = [{"format": f, "c1": 2, "seed": s, "acc": a, "histogram": h}
            for f, s, a, h in (("raw16", 0, 0.5, "1 2"), ("raw16", 1, 0.7, "3 0"), ("jpeg8", 0, 0.4, "0 1"))]
    out = aggregate(rows, ("format", "c1"), ("acc",), ("histogram",))
    assert [(r["format"], r["seeds"]) for r in out] == [("raw16", 2), ("jpeg8", 1)]
    assert out[0]["acc"] == pytest.approx(0.6) and out[0]["histogram"] == "4 2" and out[0]["acc_seeds"] == "0.5 0.7"
    assert out[0]["acc_ci95"] == pytest.approx(12.706205 * 0.1414214 / math.sqrt(2), rel=1e-5)
    assert out[1]["acc_ci95"] is None


def test_seeds_give_intervals_and_the_papers_numbers(tmp_path: Path) -> None:
    cfg = validate(ExperimentConfig, {**TINY, "formats": ["jpeg8", "fp_loggrad"], "brightness": [2**-6, 1, 8],
                                      "c1": [2], "bright_c1": 4, "seeds": 2})
    b = run("brightness", cfg, tmp_path)
    rows = _rows(b.csv)
    assert [(r["format"], float(r["log2_brightness"]), r["seeds"]) for r in rows] == [
        (f, k, "2") for f in ("jpeg8", "fp_loggrad") for k in (-6.0, 0.0, 3.0)]
    paper = {(r["format"], float(r["log2_brightness"])): r["paper_drop_points"] for r in rows}
    assert paper == {("jpeg8", -6.0): "10.9", ("jpeg8", 0.0): "", ("jpeg8", 3.0): "4.3",
                     ("fp_loggrad", -6.0): "0.1", ("fp_loggrad", 0.0): "", ("fp_loggrad", 3.0): "1.7"}
    codes = {float(r["log2_brightness"]): float(r["nonzero_code_fraction"]) for r in rows if r["format"] == "jpeg8"}
    assert codes[-6.0] < codes[0.0]  # the black level squeezes dark ratios under the RDC threshold
    for r in rows:
        assert len(r["accuracy_seeds"].split()) == 2 and r["accuracy_ci95"] != ""
        if float(r["log2_brightness"]) == 0:
            assert float(r["drop_points"]) == 0.0  # the drop is measured from b = 1
    doc = json.loads((tmp_path / "brightness.json").read_text())
    assert len(doc["per_seed"]) == 2 * len(rows) and {r["seed"] for r in doc["per_seed"]} == {0, 1}
    assert doc["paper"]["max_drop_points_2^-5..2^3"] == {"jpeg": 10.0, "loggrad": 1.7}
    assert doc["summary"]["jpeg8"]["drop_points_2^-6"]["paper"] == 10.9
    c = run("channels", cfg, tmp_path)
    crow = {r["format"]: r for r in _rows(c.csv)}
    assert crow["fp_loggrad"]["paper_test_accuracy"] == "0.953" and crow["jpeg8"]["paper_test_accuracy"] == ""


def test_runs_are_deterministic_at_a_fixed_thread_count(tmp_path: Path) -> None:
    cfg = validate(ExperimentConfig, {**TINY, "formats": ["loggrad_q3"], "c1": [2, 4]})
    a = _rows(run("channels", cfg, tmp_path / "a").csv)
    b = _rows(run("channels", cfg, tmp_path / "b").csv)
    assert a == b


def test_similarity_ratio_and_reconstruction_carry_the_paper(tmp_path: Path) -> None:
    cfg = validate(ExperimentConfig, {**TINY, "formats": ["raw16", "fp_loggrad"], "sim_c1": 6, "recon_epochs": 1,
                                      "recon_kernel": 4, "recon_hidden": 3})
    rows = _rows(run("similarity", cfg, tmp_path).csv)
    assert [int(r["pairs"]) for r in rows] == [15, 10, 15, 10]  # C(6,2), C(5,2)
    assert {r["format"]: r["paper_ratio_vs_raw16"] for r in rows} == {"raw16": "", "fp_loggrad": "11.0"}
    cfg = cfg.model_copy(update={"formats": ("fp_loggrad",)})
    (row,) = _rows(run("reconstruction", cfg, tmp_path).csv)
    assert "recognise the car" in row["paper"] and float(row["psnr_db"]) > 0


def test_recon_net_keeps_the_frame_size_with_an_even_kernel() -> None:
    net = ReconNet(1, 10, 16)
    assert net(torch.zeros(2, 1, 20, 20)).shape == (2, 1, 20, 20)
    assert [tuple(m.weight.shape) for m in (net.c1, net.c2)] == [(10, 1, 16, 16), (1, 10, 16, 16)]


def test_paper_preset_is_the_papers_settings() -> None:
    cfg = validate(ExperimentConfig, PAPER)
    assert (cfg.size, cfg.epochs, cfg.batch, cfg.lr, cfg.decay, cfg.qat) == (224, 40, 64, 1e-3, 0.95, False)
    assert (cfg.bright_c1, cfg.c2, cfg.c1, cfg.sim_c1, cfg.sim_c2) == (32, 8, (2, 4, 8, 16, 32), 150, 5)
    assert cfg.brightness == tuple(2.0**k for k in range(-6, 9)) and cfg.imbalance == "pascalraw"
    assert (cfg.recon_size, cfg.recon_hidden, cfg.recon_kernel, cfg.recon_lr, cfg.recon_batch, cfg.recon_epochs) == (
        96, 10, 16, 2e-4, 128, 150)
    default = ExperimentConfig()  # the shipped defaults keep the paper's widths
    assert (default.bright_c1, default.c2, default.sim_c1, default.sim_c2, default.recon_hidden,
            default.recon_kernel) == (32, 8, 150, 5, 10, 16)


def test_paper_flag_with_overrides_runs(tmp_path: Path, capsys) -> None:
    main(["experiment", "channels", "--paper", "--size", "16", "--n", "60", "--epochs", "1", "--c1", "2",
          "--formats", "fp_loggrad", "--out", str(tmp_path), "--json"])
    doc = json.loads(capsys.readouterr().out)
    cfg = json.loads((tmp_path / "channels.json").read_text())["config"]
    assert (cfg["batch"], cfg["imbalance"], cfg["size"], cfg["qat"]) == (64, "pascalraw", 16, False)
    assert doc["rows"][0]["paper_test_accuracy"] == 0.953


@pytest.mark.parametrize("args,word", [
    (["channels", "--paper", "--quick"], "--paper"),
    (["channels", "--quick", "--qat", "--formats", "raw16"], "qat"),
    (["reconstruction", "--quick", "--qat"], "qat"),
    (["channels", "--quick", "--seeds", "0"], "seeds"),
    (["channels", "--quick", "--classes", "9"], "classes"),
    (["fm-designs", "--quick", "--seeds", "2"], "--seeds"),
])
def test_bad_preset_input_is_one_line(args: list[str], word: str, tmp_path: Path, capsys) -> None:
    with pytest.raises(SystemExit) as ex:
        main(["experiment", *args, "--out", str(tmp_path / "out")])
    assert ex.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("logcam: error:") and word in err and "\n" not in err
    assert not (tmp_path / "out").exists()


def test_larger_set_more_classes_and_pascalraw_imbalance() -> None:
    d = synthetic_dataset(SyntheticConfig(n=64, size=16, classes=8, seed=3))
    assert d.class_names[3:] == ("ring", "triangle", "ell", "square", "tee") and d.counts() == [8] * 8
    ratio = pascalraw_ratio(3)
    assert ratio == tuple(float(c) for c in PASCALRAW_COUNTS)
    d = synthetic_dataset(SyntheticConfig(n=655, size=16, class_ratio=ratio, seed=0))
    assert d.counts() == [71, 176, 408]  # 708 : 1765 : 4077 of 6 550, scaled to 655 (largest remainder)
    six = pascalraw_ratio(6)
    assert six[0] == 1.0 and six[-1] == pytest.approx(4077 / 708) and list(six) == sorted(six)
    with pytest.raises(ConfigError, match="class_ratio"):
        validate(SyntheticConfig, {"classes": 4, "class_ratio": [1, 1, 1]}, "dataset")


def test_extra_shapes_render_an_object() -> None:
    """All 8 classes occur and every image shows an object against its background (two reflectance levels)."""
    from logcam.nn.data import render_objects

    cfg = SyntheticConfig(n=16, size=32, classes=8, seed=1, clutter=0, shadow_prob=0, gradient_decades=0)
    lux, lab = render_objects(cfg, 0, 16)
    assert sorted(set(lab.tolist())) == list(range(8))
    # objects and background differ in reflectance: every image has pixels at two levels or more
    assert all(len(set(lux[i].round(6).ravel().tolist())) > 1 for i in range(16))


def test_black_level_subtraction_variant_takes_the_pedestal_off_before_the_rdc() -> None:
    """The named variant (``black: subtract``): every frame less the sensor's 16 DN black level, clamped at 0; at
    low light the RDC then sees neighbour ratios the pedestal had squeezed under its threshold."""
    from logcam.nn.experiments import _data
    from logcam.nn.formats import get_format

    keep = validate(ExperimentConfig, TINY)
    sub = validate(ExperimentConfig, {**TINY, "black": "subtract"})
    dark_keep, dark_sub = _data(keep, 0, 2.0**-5), _data(sub, 0, 2.0**-5)
    assert torch.equal(dark_sub.frames.to(torch.int64), (dark_keep.frames.to(torch.int64) - 16).clamp(min=0))
    codes = get_format("loggrad_q3", dark_keep.adc_bits)
    nonzero_keep = float((codes(dark_keep.frames) != 0).double().mean())
    nonzero_sub = float((codes(dark_sub.frames) != 0).double().mean())
    assert nonzero_sub > 2 * nonzero_keep, (nonzero_keep, nonzero_sub)
    assert validate(ExperimentConfig, {}).black == "keep"  # the default keeps the pedestal, as the RTL path does


def _pascalraw_folder(root: Path, per_class: int = 14) -> None:
    """A miniature PASCAL RAW 2014: developed 16-bit TIFFs and VOC boxes, one object per image, the three
    classes told apart by their texture (bicycle: stripes, car: flat bright, person: flat dark)."""
    import numpy as np
    import tifffile

    (root / "annotations").mkdir(parents=True)
    (root / "original").mkdir()
    rng = np.random.default_rng(0)
    for i in range(3 * per_class):
        cls = ("bicycle", "car", "person")[i % 3]
        img = rng.integers(900, 1100, size=(40, 40)).astype(np.uint16)
        if cls == "bicycle":
            img[:, ::4] = 30000
        elif cls == "car":
            img += 20000
        stem = f"2014_{i:06d}"
        tifffile.imwrite(root / "original" / f"{stem}.tiff", img)
        (root / "annotations" / f"{stem}.xml").write_text(
            f"<annotation><filename>{stem}.nef</filename><object><name>{cls}</name><bndbox><xmin>1</xmin>"
            f"<ymin>1</ymin><xmax>32</xmax><ymax>32</ymax></bndbox></object></annotation>")


def test_pascalraw_runs_the_same_experiment_and_brightness_scales_its_dn(tmp_path: Path) -> None:
    from logcam.nn.experiments import _data

    root = tmp_path / "pascalraw"
    _pascalraw_folder(root)
    cfg = validate(ExperimentConfig, {**TINY, "n": 42, "pascalraw": str(root), "c1": (2,),
                                      "formats": ("loggrad_q3", "raw16")}, "experiment")
    base, bright = _data(cfg, 0), _data(cfg, 0, 4.0)
    assert base.class_names == ("bicycle", "car", "person") and base.labels.bincount().tolist() == [14, 14, 14]
    assert base.adc_bits == 16 and int(bright.frames.max()) == 65535  # 4 × 30 000 clips at full scale
    small = base.frames < 16000
    assert torch.equal(bright.frames[small], base.frames[small] * 4)
    res = run("channels", cfg, tmp_path / "out")
    rows = _rows(res.csv)
    assert [(r["format"], r["c1"]) for r in rows] == [("loggrad_q3", "2"), ("raw16", "2")]
    assert all(0.0 <= float(r["test_accuracy"]) <= 1.0 for r in rows)


def test_pascalraw_bad_folder_and_black_level_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(ConfigError, match="black"):
        validate(ExperimentConfig, {**TINY, "pascalraw": str(tmp_path), "black": "subtract"}, "experiment")
    with pytest.raises(SystemExit) as ex:
        main(["experiment", "channels", "--quick", "--pascalraw", str(tmp_path / "none"), "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err.strip()
    assert ex.value.code == 2 and "no PASCAL VOC annotations" in err and "\n" not in err
    assert not (tmp_path / "o").exists()
