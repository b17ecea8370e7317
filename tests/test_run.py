"""`logcam run`: the pipeline writes a complete, reproducible run folder, and bad configs fail cleanly."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from logcam.nn.golden.rdc import rdc_codes
from logcam.run import RunConfig, load_run_config, run_pipeline

SMALL = {"scenes": ["shapes", "camera"], "frame": {"height": 24, "width": 32}, "rtl": {"check": False},
         "rdc": {"levels": 5, "mode": "hv", "lanes": 2}}


def _logcam(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "logcam.cli", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300)


def test_embedded_defaults_load() -> None:
    cfg = load_run_config(None)
    spec = cfg.rdc_spec(adc_bits=10)
    assert (spec.width, spec.height, spec.levels) == (cfg.frame.width, cfg.frame.height, 3)


def test_run_folder_is_complete_and_consistent(tmp_path: Path) -> None:
    cfg = RunConfig.model_validate(SMALL)
    summary = run_pipeline(cfg, tmp_path / "r")
    out = tmp_path / "r"
    for stem in ("00_shapes", "01_camera"):
        for kind in ("raw", "isp", "fploggrad", "codes"):
            assert (out / f"{stem}_{kind}.png").stat().st_size > 0
    assert (out / "overview.png").stat().st_size > 10_000
    saved = json.loads((out / "summary.json").read_text())
    assert saved["scenes"][1]["name"] == "camera" and saved["rdc"]["mode"] == "hv"
    raw = np.load(out / "raw_dn.npy")
    assert raw.shape == (2, 24, 32) and raw.dtype == np.uint16
    codes = np.load(out / "codes.npy")
    spec = cfg.rdc_spec(adc_bits=summary["sensor"]["spec"]["adc_bits"])
    assert np.array_equal(codes, rdc_codes(raw, spec).numpy())
    hist = saved["scenes"][0]["code_histogram"]
    assert sum(hist.values()) == 2 * 24 * 32 and set(hist) == {"-2", "-1", "0", "1", "2"}
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "temporary folder left behind"


def test_same_seed_same_frames_other_seed_differs(tmp_path: Path) -> None:
    cfg = RunConfig.model_validate(SMALL)
    run_pipeline(cfg, tmp_path / "a")
    run_pipeline(cfg, tmp_path / "b")
    run_pipeline(cfg.model_copy(update={"seed": 1}), tmp_path / "c")
    a, b, c = (np.load(tmp_path / n / "raw_dn.npy") for n in "abc")
    assert np.array_equal(a, b) and not np.array_equal(a, c)


@pytest.mark.parametrize("bad,needle", [
    ({"scenes": ["nebula"]}, "scenes[0]"),
    ({"colour": "red"}, "colour: unknown key"),
    ({"rdc": {"levels": 4}}, "levels"),
    ({"rdc": {"width": 8}}, "rdc.width"),
    ({"frame": {"height": 1}}, "frame.height"),
    ({"mean_lux": -3}, "mean_lux"),
])
def test_bad_config_is_one_line_and_writes_nothing(tmp_path: Path, bad: dict, needle: str) -> None:
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(yaml.safe_dump({**SMALL, **bad}))
    r = _logcam("run", str(cfg), "-o", str(tmp_path / "out"), cwd=tmp_path)
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("logcam: error:") and needle in lines[0], r.stderr
    assert not (tmp_path / "out").exists() and not list(tmp_path.glob(".out*"))


def test_bad_yaml_and_missing_file(tmp_path: Path) -> None:
    (tmp_path / "broken.yaml").write_text("scenes: [shapes\nseed: 1\n")
    r = _logcam("run", "broken.yaml", cwd=tmp_path)
    assert r.returncode == 2 and "invalid YAML at line" in r.stderr and "Traceback" not in r.stderr
    r = _logcam("run", "missing.yaml", cwd=tmp_path)
    assert r.returncode == 2 and "missing.yaml: no such file" in r.stderr
