"""Fuzzing ``logcam train``, ``logcam experiment`` and ``logcam doctor`` with generated bad input: training
configs that are not text, not YAML or out of range (negative or huge counts, NaN/inf rates and illuminance,
bad splits and class ratios), bad options, and output folders or export stems that cannot be written.

Default suite: :data:`QUICK` examples per family; ``-m slow``: :data:`CAMPAIGN` each. Survey without stopping
at the first failure: ``.venv/bin/python -m tests.fuzz.test_fuzz_train [EXAMPLES]``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import strategies as st

from tests.fuzz.inputs import (
    BAD_DIR_OUTPUTS,
    CAMPAIGN,
    QUICK,
    File,
    bad_field,
    bad_yaml_file,
    check_all_refused,
    out_path,
    put,
    with_field,
    yaml_file,
)
from tests.fuzz.survey import survey

#: a small valid training config (each example changes one thing)
BASE = {"dataset": {"kind": "synthetic", "n": 30, "size": 16, "seed": 0}, "format": "loggrad_q3",
        "widths": [2, 2], "epochs": 1, "seed": 0}
TRAIN_FIELDS = {"epochs": (1, 1000), "batch": (1, 4096), "lr": (0, 1), "decay": (0, 1), "seed": (0, (1 << 63) - 1),
                "threads": (1, 256), "qat_start": (0, None), "jpeg_quality": (1, 100), "dataset.n": (3, 200_000),
                "dataset.size": (16, 1024), "dataset.lux_min": (0, 1e6), "dataset.lux_max": (0, 1e6),
                "dataset.brightness": (0, 1e6), "dataset.clutter": (0, 12), "dataset.shadow_prob": (0, 1),
                "dataset.gradient_decades": (0, 4), "dataset.seed": (0, (1 << 63) - 1)}
TRAIN_EXTRA = {
    "widths": [[], [0], [600], [-1], "x", [1.5], [1, 2, 3, 4, 5, 6, 7]],
    "split": [[0.5, 0.5, 0.5], [-0.1, 0.6, 0.5], [1, 0, 0, 0], [float("nan"), 0.5, 0.5], "x"],
    "format": ["nosuch", 1, None], "name": ["a b", "", "x/y"], "qat": ["maybe"], "lr": [0], "decay": [0],
    "dataset.class_ratio": [[1, 1], [0, 1, 1], [-1, 1, 1], [1e7, 1, 1], [float("inf"), 1, 1]],
    "dataset.kind": ["nosuch", None], "dataset.sensor": ["nosuch", "/nonexistent.yaml"],
    "dataset.lux_max": [1], "netspec": ["nosuch_net", "/nonexistent.yaml"], "dataset": ["synthetic", [1]],
    "dataset.lux_min": [0], "dataset.brightness": [0],
}


def train_config() -> st.SearchStrategy[File]:
    def mutate(kv: tuple[str, object]) -> File:
        path, val = kv
        if path.startswith("no_such_"):
            return yaml_file({**BASE, path: val}, "train-unknown-key")
        base = BASE
        if path.startswith("dataset.") and path.split(".")[1] not in BASE["dataset"]:
            base = {**BASE, "dataset": {**BASE["dataset"], path.split(".")[1]: 0}}
        if path == "qat":
            base = {**BASE, "format": "raw16"}
        return yaml_file(with_field(base, path, val), f"train-{path}")

    fixed = st.sampled_from([
        yaml_file({**BASE, "format": "raw16", "qat": True}, "train-qat-float-format"),
        yaml_file({**BASE, "qat": True, "standardize": True}, "train-qat-standardize"),
        yaml_file({**BASE, "dataset": {"kind": "folder", "root": "/nonexistent"}}, "train-folder-missing"),
        yaml_file({**BASE, "dataset": {"kind": "pascalraw", "root": "/nonexistent"}}, "train-pascalraw-missing"),
        yaml_file({**BASE, "format": "jpeg8", "netspec": "2conv1fc"}, "train-netspec-mismatch"),
    ])
    return st.one_of(bad_yaml_file(), bad_field({}, TRAIN_FIELDS, TRAIN_EXTRA).map(mutate), fixed)


def train_config_argv(f: File, wd: Path) -> list[str]:
    return ["train", put(f, wd, "train")]


def train_options() -> st.SearchStrategy:
    return st.one_of(
        st.tuples(st.just("--epochs"), st.sampled_from(["0", "1001", "x", "-1", "1.5"])),
        st.tuples(st.just("--seed"), st.sampled_from(["-1", str(1 << 63), "x", str(10**30)])),
        st.tuples(st.just("--export"), st.sampled_from(["proc", "proc-self", "under-file", "stem-is-folder"])),
        st.tuples(st.just("--out"), st.sampled_from(BAD_DIR_OUTPUTS)),
        st.tuples(st.just("config"), st.sampled_from(["missing", "folder", "--bogus"])),
    )


def train_options_argv(ex: tuple[str, str], wd: Path) -> list[str]:
    opt, val = ex
    cfg = str(put(yaml_file(BASE, "train"), wd, "train"))
    if opt == "config":
        if val == "folder":
            (wd / "cfgdir").mkdir()
        return ["train", {"missing": "nosuch.yaml", "folder": "cfgdir", "--bogus": cfg}[val]] + (
            ["--bogus"] if val == "--bogus" else [])
    if opt == "--export":
        if val == "stem-is-folder":
            (wd / "net.yaml").mkdir()
            return ["train", cfg, "--export", "net"]
        return ["train", cfg, "--export", out_path(val, wd, "net")]
    if opt == "--out":
        return ["train", cfg, "--out", out_path(val, wd, "ckpt")]
    return ["train", cfg, f"{opt}={val}"]


def experiment_options() -> st.SearchStrategy:
    return st.one_of(
        st.tuples(st.just("name"), st.sampled_from(["nosuch", "", "Brightness"])),
        st.tuples(st.just("--size"), st.sampled_from(["15", "1025", "x", "-16", "1e3"])),
        st.tuples(st.just("--n"), st.sampled_from(["29", "200001", "-1", str(10**30)])),
        st.tuples(st.just("--epochs"), st.sampled_from(["0", "1001", "-5"])),
        st.tuples(st.just("--formats"), st.sampled_from(["nosuch", ",", "raw16,,x", "", "RAW16"])),
        st.tuples(st.just("--brightness"), st.sampled_from(["0", "-1", "nan", "inf", "2^9999", "1e7", "", "a,b",
                                                            "2^x", "1,,2"])),
        st.tuples(st.just("--c1"), st.sampled_from(["0", "513", "1.5", "nan", "", "1e400", "-3", "2^99"])),
        st.tuples(st.just("--seed"), st.sampled_from(["-1", str(1 << 63), "x"])),
        st.tuples(st.just("--threads"), st.sampled_from(["0", "257", "-1"])),
        st.tuples(st.just("--out"), st.sampled_from(BAD_DIR_OUTPUTS)),
    )


def experiment_argv(ex: tuple[str, str], wd: Path) -> list[str]:
    opt, val = ex
    name = "channels" if opt == "--c1" else "brightness"
    if opt == "name":
        return ["experiment", val, "--quick"]
    if opt == "--out":
        return ["experiment", name, "--quick", "--out", out_path(val, wd, "exp")]
    return ["experiment", name, "--quick", f"{opt}={val}"]


def _tif(a: object) -> bytes:
    import io

    import numpy as np
    import tifffile

    buf = io.BytesIO()
    tifffile.imwrite(buf, np.asarray(a))
    return buf.getvalue()


def folder_images() -> st.SearchStrategy[File]:
    """One bad image in an otherwise fine ``root/<class>/`` dataset: garbage PNG/TIFF/JPEG/DNG bytes, zero bytes,
    float TIFF samples that are NaN or ±inf."""
    import numpy as np

    def nonfinite(v: float) -> File:
        a = np.full((8, 8), 0.5, np.float32)
        a[3, 4] = v
        return File(f"tif-{v}", _tif(a), ".tif")

    return st.one_of(
        st.tuples(st.sampled_from([".png", ".tif", ".jpg", ".dng"]), st.binary(min_size=0, max_size=40)).map(
            lambda t: File(f"garbage{t[0]}", t[1], t[0])),
        st.sampled_from([float("nan"), float("inf"), -float("inf")]).map(nonfinite),
    )


def folder_argv(f: File, wd: Path) -> list[str]:
    from PIL import Image

    for cls in ("a", "b"):
        (wd / "imgs" / cls).mkdir(parents=True)
        Image.new("L", (8, 8), 128).save(wd / "imgs" / cls / "ok.png")
    put(f, wd / "imgs" / "b", "bad")
    cfg = {**BASE, "dataset": {"kind": "folder", "root": "imgs", "size": 16}}
    return ["train", put(yaml_file(cfg, "train"), wd, "train")]


DOCTOR = [["doctor", "--bogus"], ["doctor", "extra"], ["doctor", "--json=1"], ["doctor", "-x"]]


FAMILIES = {
    "train config": (train_config(), train_config_argv),
    "train options": (train_options(), train_options_argv),
    "train folder images": (folder_images(), folder_argv),
    "experiment options": (experiment_options(), experiment_argv),
    "doctor options": (st.sampled_from(DOCTOR), lambda ex, wd: ex),
}


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_fuzz_train(family: str) -> None:
    strategy, argv = FAMILIES[family]
    check_all_refused(family, strategy, argv, QUICK)


@pytest.mark.slow
@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_fuzz_train_campaign(family: str) -> None:
    strategy, argv = FAMILIES[family]
    check_all_refused(family, strategy, argv, CAMPAIGN)


if __name__ == "__main__":
    survey(FAMILIES)
