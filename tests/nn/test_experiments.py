"""Experiments: each writes a CSV with the expected rows and a plot; bad parameters are one-line errors."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from logcam.cli import main
from logcam.config import validate
from logcam.errors import ConfigError
from logcam.nn.experiments import ExperimentConfig, cosine_similarities, run

TINY = {"size": 16, "n": 60, "epochs": 1, "threads": 1}


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open() as f:
        return list(csv.DictReader(f))


def test_brightness_and_channels_write_csv_and_plot(tmp_path: Path) -> None:
    cfg = validate(ExperimentConfig, {**TINY, "formats": ["loggrad_q3", "jpeg8"], "brightness": [0.25, 1, 64],
                                      "c1": [2, 3]})
    b = run("brightness", cfg, tmp_path)
    rows = _rows(b.csv)
    assert [(r["format"], float(r["brightness"])) for r in rows] == [
        (f, x) for f in ("loggrad_q3", "jpeg8") for x in (0.25, 1.0, 64.0)]
    sat = {float(r["brightness"]): float(r["saturated_fraction"]) for r in rows if r["format"] == "jpeg8"}
    assert sat[64.0] > sat[1.0]  # more light → more pixels at full well
    assert all(0 <= float(r["accuracy"]) <= 1 for r in rows) and b.plot.stat().st_size > 1000
    c = run("channels", cfg, tmp_path)
    rows = _rows(c.csv)
    assert [(r["format"], int(r["c1"])) for r in rows] == [(f, k) for f in ("loggrad_q3", "jpeg8") for k in (2, 3)]
    assert int(rows[1]["parameters"]) > int(rows[0]["parameters"])
    assert json.loads((tmp_path / "channels.json").read_text())["experiment"] == "channels"


def test_similarity_and_reconstruction(tmp_path: Path) -> None:
    cfg = validate(ExperimentConfig, {**TINY, "formats": ["fp_loggrad"], "sim_c1": 4})
    s = run("similarity", cfg, tmp_path)
    rows = _rows(s.csv)
    assert [int(r["pairs"]) for r in rows] == [6, 10]  # C(4,2) and C(5,2) filter pairs (sim_c2 = 5)
    assert sum(int(v) for v in rows[0]["histogram"].split()) == 6
    r = run("reconstruction", cfg, tmp_path)
    (row,) = _rows(r.csv)
    assert float(row["psnr_db"]) > 0 and -1 <= float(row["ssim"]) <= 1 and r.plot.is_file()


def test_cosine_similarity_is_eq4() -> None:
    w = torch.tensor([[1.0, 0.0], [2.0, 0.0], [0.0, -3.0], [-1.0, 1.0]])
    s = cosine_similarities(w).numpy()
    want = [1.0, 0.0, -np.sqrt(0.5), 0.0, -np.sqrt(0.5), -np.sqrt(0.5)]
    assert np.allclose(s, want)


@pytest.mark.parametrize("args,word", [
    (["brightness", "--brightness", "1,0,4"], "brightness"),
    (["brightness", "--brightness", "-2"], "brightness"),
    (["channels", "--c1", "0,4"], "c1"),
    (["channels", "--formats", "raw16,log9"], "log9"),
    (["brightness", "--brightness", "1,x"], "--brightness"),
])
def test_bad_experiment_input_is_one_line(args: list[str], word: str, tmp_path: Path, capsys) -> None:
    with pytest.raises(SystemExit) as ex:
        main(["experiment", *args, "--quick", "--out", str(tmp_path)])
    assert ex.value.code != 0
    err = capsys.readouterr().err.strip()
    assert err.startswith("logcam: error:") and word in err and "\n" not in err
    assert not list(tmp_path.iterdir())  # nothing written


def test_bad_config_values_name_the_field() -> None:
    with pytest.raises(ConfigError, match="size"):
        validate(ExperimentConfig, {"size": 4}, "experiment")
