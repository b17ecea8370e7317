"""`logcam run`: the pipeline writes a complete, reproducible run folder, and bad configs fail cleanly."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from logcam.errors import ConfigError
from logcam.nn.golden.rdc import rdc_codes
from logcam.run import RunConfig, load_run_config, run_pipeline

SMALL = {"scenes": ["shapes", "camera"], "frame": {"height": 24, "width": 32}, "rtl": {"check": False},
         "rdc": {"levels": 5, "mode": "hv", "lanes": 2}, "net": None}


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
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(out.stat().st_mode) == 0o777 & ~umask, "run folder kept mkdtemp's 0700"


def test_same_seed_same_frames_other_seed_differs(tmp_path: Path) -> None:
    cfg = RunConfig.model_validate(SMALL)
    run_pipeline(cfg, tmp_path / "a")
    run_pipeline(cfg, tmp_path / "b")
    run_pipeline(cfg.model_copy(update={"seed": 1}), tmp_path / "c")
    a, b, c = (np.load(tmp_path / n / "raw_dn.npy") for n in "abc")
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_default_network_labels_every_frame_with_the_golden_cnn(tmp_path: Path) -> None:
    from logcam.nn.golden.accel import run as golden_run
    from logcam.run import load_net

    base = load_run_config(None).model_dump()
    cfg = RunConfig.model_validate({**base, "scenes": ["camera"], "rtl": {"check": False}})
    summary = run_pipeline(cfg, tmp_path / "r")
    scenes = summary["scenes"]
    assert [s["kind"] for s in scenes] == ["scene"] + ["object"] * cfg.objects.n
    spec, bundle = load_net(cfg.net, cfg.rdc_spec(10))
    want = golden_run(spec, bundle, np.load(tmp_path / "r" / "codes.npy")).labels.tolist()
    assert [s["label"] for s in scenes] == want
    assert summary["cnn"]["objects_correct"] == sum(s["label"] == s["true_label"] for s in scenes[1:])
    assert {s["label_name"] for s in scenes} <= set(spec.classes)
    e = summary["energy"]
    assert set(e["loggrad"]["stages"]) == {"sensor", "readout", "link", "cnn"}  # no ISP on the log-gradient chip
    assert "isp" in e["conventional"]["stages"]
    front = {name: sum(e[name]["stages"][s]["nj_per_pixel"] for s in ("readout", "link")) for name in e}
    assert front["loggrad"] < front["conventional"]  # 2-bit codes vs 10-bit DN: less readout and link energy
    assert e["loggrad"]["pixels"] == cfg.frame.width * cfg.frame.height


def test_network_that_does_not_fit_the_rdc_is_refused(tmp_path: Path) -> None:
    cfg = RunConfig.model_validate({**SMALL, "net": {"spec": "nets/2conv1fc.yaml"}})
    with pytest.raises(ConfigError, match=r"net.spec: 2conv1fc.yaml: input.levels is 3, but the run's RDC gives 5"):
        run_pipeline(cfg, tmp_path / "r")
    assert not (tmp_path / "r").exists()


@pytest.mark.rtl
@pytest.mark.slow
def test_default_run_is_rtl_clean(tmp_path: Path) -> None:
    """The main job as the README runs it: sensor DN through RDC → accelerator RTL under Verilator."""
    r = _logcam("run", "-o", str(tmp_path / "r"), "--json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    top = json.loads(r.stdout)["rtl"]["top"]
    assert top["passed"] and top["mismatches"] == 0 and top["frames"] == 7


@pytest.mark.parametrize("bad,needle", [
    ({"scenes": ["nebula"]}, "scenes[0]"),
    ({"colour": "red"}, "colour: unknown key"),
    ({"rdc": {"levels": 4}}, "levels"),
    ({"rdc": {"width": 8}}, "rdc.width"),
    ({"frame": {"height": 1}}, "frame.height"),
    ({"mean_lux": -3}, "mean_lux"),
    ({"net": {"spec": "nets/none.yaml"}}, "net.spec: nets/none.yaml: no such NetSpec"),
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


def test_a_key_given_twice_is_an_error_not_a_silent_override(tmp_path: Path) -> None:
    """PyYAML keeps the last of two equal keys; a config that says frame.height twice must be refused instead."""
    (tmp_path / "twice.yaml").write_text("seed: 1\nframe:\n  height: 32\n  height: 48\n")
    r = _logcam("run", "twice.yaml", "-o", "out", cwd=tmp_path)
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    assert "line 4" in r.stderr and "'height' is given twice" in r.stderr, r.stderr
    assert not (tmp_path / "out").exists()
