"""The fuzz templates are not vacuous: with the bad part replaced by a good one, each command is accepted
(exit 0), or — for the RTL commands, whose tools are stubbed — gets as far as Verilator or Yosys.

Without this, a misspelt option in a template would make every generated example "rejected" for the wrong
reason and the campaign would prove nothing.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml

from logcam.config import embedded_config
from tests.fuzz.harness import run_cli
from tests.fuzz.inputs import no_rtl_tools
from tests.fuzz.test_fuzz_run import BASE as RUN_BASE
from tests.fuzz.test_fuzz_train import BASE as TRAIN_BASE

#: the accelerator designs take seconds to elaborate, training a few: those controls run with -m slow
SLOW = pytest.mark.slow
ACCEPTED = [
    ["golden", "rdc", "frames.npy", "-o", "codes.out", "--format", "hex", "--config", "rdc.yaml", "--section", "rdc"],
    ["golden", "accel", "codes.npy", "-o", "layers.npz", "--net", "net.yaml", "--random-weights", "0"],
    ["golden", "accel", "codes.npy", "-o", "layers.npz", "--weights", "w.npz", "--onnx", "net.onnx"],
    ["golden", "onnx", "-o", "net.onnx", "--check", "codes.npy"],
    ["sensor", "render", "gradient", "-o", "raw.npy", "--png", "raw.png", "--lux-out", "lux.npy",
     "--preset", "preset.yaml"],
    ["sensor", "info", "--set", "gain_dn_per_e=0.5", "--exposure-s=0.002"],
    ["run", "run.yaml", "--no-rtl", "-o", "out"],
    pytest.param(["train", "train.yaml", "--epochs=1", "--export", "exp/net", "--out", "ckpt"], marks=SLOW),
    ["rtl", "emit", "rdc", "-o", "design.v", "--config", "rdc.yaml"],
]
REACH_TOOLS = [
    ["verify", "rdc", "--frames", "1", "--config", "rdc.yaml"],
    ["verify", "rdc", "--image", "frames.npy"],
    pytest.param(["verify", "accel", "--frames", "1", "--net", "net.yaml", "--random-weights", "0"], marks=SLOW),
    pytest.param(["verify", "top", "--frames", "1", "--weights", "w.npz"], marks=SLOW),
    pytest.param(["rtl", "lint", "accel", "--net", "net.yaml", "--random-weights", "0"], marks=SLOW),
    pytest.param(["rtl", "stat", "top", "--weights", "w.npz"], marks=SLOW),
    ["run", "run.yaml"],
]


@pytest.fixture
def good(tmp_path: Path) -> Path:
    shutil.copy(embedded_config("nets/2conv1fc.yaml"), tmp_path / "net.yaml")
    shutil.copy(embedded_config("nets/2conv1fc.npz"), tmp_path / "w.npz")
    shutil.copy(embedded_config("sensors/tinyml_cmos.yaml"), tmp_path / "preset.yaml")
    np.save(tmp_path / "frames.npy", (np.arange(64, dtype="<u2") * 7).reshape(8, 8))
    np.save(tmp_path / "codes.npy", np.zeros((1, 1, 96, 96), np.int8))
    (tmp_path / "rdc.yaml").write_text("rdc: {levels: 3, mode: sum}\n")
    (tmp_path / "train.yaml").write_text(yaml.safe_dump(TRAIN_BASE))
    (tmp_path / "run.yaml").write_text(yaml.safe_dump(RUN_BASE))
    return tmp_path


@pytest.mark.parametrize("argv", ACCEPTED, ids=lambda a: " ".join(a[:3]))
def test_good_input_is_accepted(good: Path, argv: list[str]) -> None:
    res = run_cli(argv, good)
    assert res.traceback is None and res.code == 0, res.describe()


@pytest.mark.parametrize("argv", REACH_TOOLS, ids=lambda a: " ".join(a[:3]))
def test_good_input_reaches_the_rtl_tools(good: Path, argv: list[str]) -> None:
    with no_rtl_tools():
        res = run_cli(argv, good)
    assert res.traceback is not None and "ReachedTool" in res.traceback, res.describe()
