"""Fuzzing ``logcam explore`` with bad grids, output folders, scheduler addresses and options: each must be
refused in one line before a cluster starts or a point trains, and leave nothing behind (no store, no folder).

A bad input that is not refused would start a LocalCluster and train: the harness's time limit turns that
into a failure. Default suite: :data:`QUICK` examples per family; ``-m slow``: :data:`CAMPAIGN` each. Survey
every failure: ``.venv/bin/python -m tests.fuzz.test_fuzz_explore [EXAMPLES]``.
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

GUARD = {"rtl_guard": True, "timeout_s": 60}
#: a small valid grid; each example changes one thing
BASE = {"name": "fz", "dataset": {"kind": "synthetic", "n": 60, "size": 16, "seed": 0},
        "train": {"epochs": 1, "batch": 64, "threads": 1}, "rtl": {"verify": False, "sim": "amaranth", "frames": 1},
        "axes": {"frontend": ["rdc"], "levels": [3], "c1": [2], "c2": [4], "node_nm": [45]}}
FIELDS = {"train.epochs": (1, 1000), "train.batch": (1, 4096), "train.lr": (0, 1), "train.threads": (1, 64),
          "rtl.frames": (1, 64)}
EXTRA = {"name": ["", "a b", "x" * 65, 5], "axes": [[], "c1", {"nosuch": [1]}, {"c1": []}, {"c1": [0]},
                                                    {"c1": [-1]}, {"c1": ["x"]}, {"levels": [4]},
                                                    {"frontend": ["lens"]}, {"node_nm": [3]},
                                                    {"fps": [0]}, {"fps": [float("nan")]},
                                                    {"kernel": [0]}, {"c1": [2, 2]}, {"adc_bits": [0]},
                                                    {"threshold": [1]}, {"net": ["/nonexistent.yaml"]}],
         "rtl.sim": ["x"], "dataset": ["x", {"kind": "nosuch"}, {"kind": "synthetic", "n": 0}]}


def grid_file() -> st.SearchStrategy[File]:
    def mutate(kv: tuple[str, object]) -> File:
        path, val = kv
        if path.startswith("no_such_"):
            return yaml_file({**BASE, path: val}, "grid-unknown-key")
        base = {**BASE, "train": {**BASE["train"], "lr": 1e-3}}
        return yaml_file(with_field(base, path, val), f"grid-{path}")

    return st.one_of(bad_yaml_file(), bad_field({}, FIELDS, EXTRA).map(mutate))


def grid_argv(f: File, wd: Path) -> list[str]:
    return ["explore", put(f, wd, "grid"), "--out", "out", "--no-plot"]


def output_argv(kind: str, wd: Path) -> list[str]:
    return ["explore", put(yaml_file(BASE, "grid"), wd, "grid"), "--no-plot", "--out", out_path(kind, wd, "out")]


OPTIONS = [["--workers", "0"], ["--retries", "-1"], ["--retries", "99"], ["--connect-timeout", "0"],
           ["--pareto", "accuracy"], ["--pareto", "nosuch,accuracy"], ["--pareto", "accuracy,accuracy,x"],
           ["--scheduler", "not-an-address"], ["--scheduler", "tcp://127.0.0.1:1", "--connect-timeout", "0.5"],
           ["--scheduler-file", "/nonexistent.json"], ["--scheduler-file", "GRID"],
           ["--scheduler", "tcp://127.0.0.1:1", "--scheduler-file", "GRID"], ["--sim", "x"], ["--bogus"],
           ["nosuch.yaml"], ["DIR"]]


def options_argv(ex: list[str], wd: Path) -> list[str]:
    def folder() -> str:
        (wd / "griddir").mkdir()
        return "griddir"

    grid = str(put(yaml_file(BASE, "grid"), wd, "grid"))
    sub = {"GRID": lambda: grid, "DIR": folder}
    args = [sub[a]() if a in sub else a for a in ex]
    first = [] if args and not args[0].startswith("-") else [grid]
    return ["explore", *first, *args, "--out", "out", "--no-plot"]


FAMILIES = {
    "explore grid": (grid_file(), grid_argv),
    "explore out": (st.sampled_from(BAD_DIR_OUTPUTS), output_argv),
    "explore options": (st.sampled_from(OPTIONS), options_argv),
}


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_fuzz_explore(family: str) -> None:
    strategy, argv = FAMILIES[family]
    check_all_refused(family, strategy, argv, QUICK, **GUARD)


@pytest.mark.slow
@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_fuzz_explore_campaign(family: str) -> None:
    strategy, argv = FAMILIES[family]
    check_all_refused(family, strategy, argv, CAMPAIGN, **GUARD)


if __name__ == "__main__":
    survey(FAMILIES, guard=GUARD)
