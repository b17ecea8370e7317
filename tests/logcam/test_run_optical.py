"""`logcam run` with an optics section: scene → PhlatCam masks → sensor → integer CNN → label, one folder."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from logcam.errors import LogcamError
from logcam.nn.optics import optical_config, signed_maps_int8
from logcam.run import load_run_config, run_pipeline

TINY = {"optics": {"kind": "phase_mask", "design": "a",
                   "mask": {"masks": 6, "kernel": 7, "distance_mm": 2.0, "mask_pixels": 64, "mask_pitch_um": 1.2,
                            "pixel_pitch_um": 3.6}},
        "dataset": {"kind": "rgb_objects", "n": 120, "size": 16, "seed": 0},
        "widths": [4, 8], "name": "optical_tiny", "epochs": 1, "batch": 32, "seed": 0, "threads": 1}


def _config(tmp_path: Path, train_over: dict | None = None, **optics: object) -> Path:
    train = tmp_path / "train.yaml"
    train.write_text(yaml.safe_dump({**TINY, **(train_over or {})}))
    run = tmp_path / "run.yaml"
    run.write_text(yaml.safe_dump({"seed": 0, "optics": {"train": str(train), "frames": 3, **optics},
                                   "rtl": {"check": False}}))
    return run


def test_optical_run_writes_psfs_maps_and_labels(tmp_path: Path) -> None:
    cfg = load_run_config(_config(tmp_path))
    summary = run_pipeline(cfg, tmp_path / "r")
    out = tmp_path / "r"
    assert (out / "overview.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(list(out.glob("*_optics.png"))) == 3
    on_disk = json.loads((out / "summary.json").read_text())
    assert on_disk["frames"] == summary["frames"] and len(summary["frames"]) == 3
    for f in summary["frames"]:
        assert 0 <= f["label"] < 10 and 0 <= f["true_label"] < 10
        assert len(f["psf_energy"]) == 6 and all(0 < e <= 1 + 1e-9 for e in f["psf_energy"])  # a mask passes ≤ all
    assert summary["optics"]["regions"] == 6 and summary["optics"]["feature_maps"] == 3
    # the stem reads the 3 signed maps, subtracted on the way in — not the 6 regions
    assert summary["optics"]["stem_input"] == "signed_maps"
    assert summary["cnn"]["input"]["channels"] == 3 and summary["cnn"]["input"]["format"] == "int8"
    assert (out / "optical_tiny.yaml").is_file() and (out / "optical_tiny.npz").is_file()
    regions, inputs = np.load(out / "region_dn.npy"), np.load(out / "net_input.npy")
    assert regions.shape == (3, 6, 16, 16) and inputs.shape == (3, 3, 16, 16) and inputs.dtype == np.int8
    want = signed_maps_int8(optical_config(TINY["optics"]), torch.from_numpy(regions)).numpy()
    assert np.array_equal(inputs, want)
    area = summary["area"]                         # the sensor regions plus the exported accelerator's cells
    assert area["sensor_mm2"] == pytest.approx(summary["optics"]["sensor_area_mm2"]["total_mm2"])
    assert len(area["layers_mm2"]) == 3 and area["accelerator_mm2"] == pytest.approx(sum(area["layers_mm2"]))
    assert area["total_mm2"] == pytest.approx(area["sensor_mm2"] + area["accelerator_mm2"])


def test_optical_run_folded_form_reads_the_regions(tmp_path: Path) -> None:
    summary = run_pipeline(load_run_config(_config(tmp_path, {"stem_input": "regions"})), tmp_path / "r")
    assert summary["cnn"]["input"]["channels"] == 6 and summary["cnn"]["input"]["format"] == "uint8"
    assert np.array_equal(np.load(tmp_path / "r" / "net_input.npy"), np.load(tmp_path / "r" / "region_dn.npy"))


def test_optical_run_bad_training_config_is_one_line_and_leaves_nothing(tmp_path: Path) -> None:
    cfg = load_run_config(_config(tmp_path, train=str(tmp_path / "missing.yaml")))
    with pytest.raises(LogcamError, match=r"optics\.train: .*missing\.yaml: no such training config") as e:
        run_pipeline(cfg, tmp_path / "r")
    assert "\n" not in str(e.value) and not (tmp_path / "r").exists()
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({**TINY, "optics": {"mask": {"masks": 7}}}))
    cfg = load_run_config(_config(tmp_path, train=str(bad)))
    with pytest.raises(LogcamError, match=r"optics\.mask\.masks"):
        run_pipeline(cfg, tmp_path / "r")
    assert not (tmp_path / "r").exists()


@pytest.mark.rtl
@pytest.mark.slow
def test_optical_run_streams_the_signed_maps_through_the_accelerator_rtl(tmp_path: Path) -> None:
    """The exported stem reads int8 maps; the accelerator RTL under Verilator agrees with the golden model."""
    cfg = load_run_config(_config(tmp_path))
    cfg = cfg.model_copy(update={"rtl": cfg.rtl.model_copy(update={"check": True, "sim": "verilator"})})
    summary = run_pipeline(cfg, tmp_path / "r")
    accel = summary["rtl"]["accel"]
    assert summary["cnn"]["input"]["format"] == "int8" and accel["frames"] == 3 and accel["mismatches"] == 0
