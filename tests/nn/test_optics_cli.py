"""`logcam train` with an optics: section and `logcam experiment fm-designs|mask-noise|optics-vs-lens`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.fuzz.harness import assert_rejected, files_under, run_cli


def test_train_with_optics_section_exports_the_digital_part(tmp_path: Path) -> None:
    cfg = tmp_path / "optics.yaml"
    cfg.write_text("optics: {kind: gabor, design: a}\ndataset: {kind: rgb_objects, n: 60, size: 16}\n"
                   "widths: [4]\nepochs: 1\nname: tiny_optical\n", encoding="utf-8")
    res = run_cli(["train", cfg, "--export", tmp_path / "net", "--json"], tmp_path)
    assert res.code == 0, res.describe()
    out = json.loads(res.out)
    assert out["optics"] == "gabor" and out["regions"] == 6 and 0 <= out["int8_test_acc"] <= 1
    assert out["stem_input"] == "signed_maps" and out["feature_maps"] == 3
    text = (tmp_path / "net.yaml").read_text()
    assert "input: {channels: 3, height: 16, width: 16, format: int8" in text and "signed maps" in text
    assert (tmp_path / "net.npz").is_file()


def test_experiment_optics_vs_lens_writes_csv_png_json(tmp_path: Path) -> None:
    res = run_cli(["experiment", "optics-vs-lens", "--n", "60", "--size", "16", "--epochs", "1", "--out",
                   tmp_path / "ovl", "--json"], tmp_path)
    assert res.code == 0, res.describe()
    out = json.loads(res.out)
    assert [r["camera"] for r in out["rows"]] == ["lensless (6 masks)", "lens"]
    assert out["rows"][0]["digital_macs_per_frame"] < out["rows"][1]["digital_macs_per_frame"]
    for ext in ("csv", "png", "json"):
        assert (tmp_path / "ovl" / f"optics-vs-lens.{ext}").is_file()


@pytest.mark.parametrize("argv", [
    ["experiment", "fm-designs", "--formats", "jpeg8"],
    ["experiment", "mask-noise", "--n", "5"],
])
def test_bad_experiment_input_is_one_line(tmp_path: Path, argv: list[str]) -> None:
    before = files_under(tmp_path)
    assert_rejected(run_cli([*argv, "--out", tmp_path / "x"], tmp_path), tmp_path, before)


@pytest.mark.parametrize(("yaml_text", "needle"), [
    ("optics: {mask: {masks: 7}}\n", "masks"),
    ("optics: {mask: {kernel: 5}}\n", "kernel"),
    ("optics: {mask: {distance_mm: -2}}\n", "distance_mm"),
    ("optics: {mask: {wavelengths_nm: [0, 530, 465]}}\n", "wavelengths_nm"),
    ("optics: {}\ndataset: {kind: cifar, root: missing_folder}\n", "cifar"),
])
def test_bad_optics_config_is_one_line(tmp_path: Path, yaml_text: str, needle: str) -> None:
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(yaml_text, encoding="utf-8")
    before = files_under(tmp_path)
    res = run_cli(["train", cfg, "--export", tmp_path / "out" / "net"], tmp_path)
    assert_rejected(res, tmp_path, before)
    assert needle in res.err


def test_cifar_folder_with_a_missing_batch_is_one_line(tmp_path: Path) -> None:
    import numpy as np

    from logcam.nn.cifar import write_batch, write_meta

    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    imgs = np.zeros((2, 3, 32, 32), dtype=np.uint8)
    for name in ("data_batch_1", "data_batch_2", "data_batch_4", "data_batch_5", "test_batch"):
        write_batch(folder / name, imgs, np.array([0, 1]))
    write_meta(folder / "batches.meta", [f"c{i}" for i in range(10)])
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"optics: {{}}\ndataset: {{kind: cifar, root: {tmp_path}}}\n", encoding="utf-8")
    before = files_under(tmp_path)
    res = run_cli(["train", cfg, "--export", tmp_path / "out" / "net"], tmp_path)
    assert_rejected(res, tmp_path, before)
    assert "data_batch_3 is missing" in res.err


def test_experiment_on_a_cifar_folder(tmp_path: Path) -> None:
    import numpy as np

    from logcam.nn.cifar import write_batch, write_meta

    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for name in (*(f"data_batch_{i}" for i in range(1, 6)), "test_batch"):
        write_batch(folder / name, rng.integers(0, 256, (12, 3, 32, 32), dtype=np.uint8), np.arange(12) % 10)
    write_meta(folder / "batches.meta", [f"c{i}" for i in range(10)])
    res = run_cli(["experiment", "optics-vs-lens", "--cifar", tmp_path, "--n", "60", "--epochs", "1", "--out",
                   tmp_path / "ovl", "--json"], tmp_path)
    assert res.code == 0, res.describe()
    out = json.loads(res.out)
    saved = json.loads((tmp_path / "ovl" / "optics-vs-lens.json").read_text())
    assert saved["config"]["cifar"] == str(tmp_path) and out["rows"][1]["pixels_read"] == 3 * 32 * 32
    bad = run_cli(["experiment", "brightness", "--cifar", tmp_path, "--out", tmp_path / "b"], tmp_path)
    assert bad.code == 2 and "--cifar: not an option of brightness" in bad.err
