"""Fuzzing ``logcam run`` with bad input that must be refused before the RTL check starts: run configs that
are not text, not YAML or out of range, run folders that cannot be made, bad options.

Verilator is stubbed to raise (:func:`~tests.fuzz.inputs.no_rtl_tools`): a config example runs *with* the RTL
check, so a value refused only after it (or never) shows up as a failure. Default suite: :data:`QUICK`
examples per family; ``-m slow``: :data:`CAMPAIGN` each. Survey every failure:
``.venv/bin/python -m tests.fuzz.test_fuzz_run [EXAMPLES]``.
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

GUARD = {"rtl_guard": True, "timeout_s": 90}
#: a small valid run (one scene, no objects); each example changes one thing
BASE = {"scenes": ["shapes"], "frame": {"height": 16, "width": 16}, "objects": {"n": 0},
        "net": None, "rdc": {"levels": 3, "mode": "sum", "lanes": 4}, "rtl": {"check": True, "sim": "verilator"}}
RUN_FIELDS = {"seed": (0, None), "mean_lux": (0, 1e6), "exposure_s": (0, 100), "frame.height": (2, 4096),
              "frame.width": (2, 4096), "fps": (0, 1e4), "objects.n": (0, 64), "objects.seed": (0, None)}
RUN_EXTRA = {"scenes": [[], ["nosuch"], "shapes", [1]], "sensor": ["nosuch", "/nonexistent.yaml"],
             "rdc": [{"levels": 4}, {"width": 8}, "x", {"mode": "x"}, {"lanes": 5}, {"adc_bits": 8}],
             "rtl.sim": ["x", None], "rtl.check": ["maybe"], "net": [5, "x", {"spec": "nosuch.yaml"},
                                                                    {"weights": "/nonexistent.npz"}],
             "node_nm": [3, -1, "x", 1000000], "frame": [[96, 96], 5], "mean_lux": [0], "exposure_s": [0],
             "fps": [0]}


def run_config() -> st.SearchStrategy[File]:
    def mutate(kv: tuple[str, object]) -> File:
        path, val = kv
        if path.startswith("no_such_"):
            return yaml_file({**BASE, path: val}, "run-unknown-key")
        base = {**BASE, "seed": 0, "mean_lux": 200.0, "exposure_s": None, "fps": 30.0,
                "objects": {"n": 0, "seed": 1000}}
        return yaml_file(with_field(base, path, val), f"run-{path}")

    return st.one_of(bad_yaml_file(), bad_field({}, RUN_FIELDS, RUN_EXTRA).map(mutate))


def config_argv(f: File, wd: Path) -> list[str]:
    return ["run", put(f, wd, "run")]


def output_argv(kind: str, wd: Path) -> list[str]:
    cfg = put(yaml_file(BASE, "run"), wd, "run")
    if kind == "exists":
        (wd / "out").mkdir()
        return ["run", cfg, "--no-rtl", "-o", "out"]
    return ["run", cfg, "--no-rtl", "-o", out_path(kind, wd, "out")]


OPTIONS = [["--seed", "-1"], ["--seed", "x"], ["--seed", "1.5"], ["--sim", "x"], ["CFG", "extra"],
           ["nosuch.yaml"], ["DIR"], ["--bogus"], ["CFG", "--json=1"]]


def options_argv(ex: list[str], wd: Path) -> list[str]:
    def folder() -> str:
        (wd / "cfgdir").mkdir()
        return "cfgdir"

    sub = {"CFG": lambda: str(put(yaml_file(BASE, "run"), wd, "run")), "DIR": folder}
    return ["run", *[sub[a]() if a in sub else a for a in ex]]


FAMILIES = {
    "run config": (run_config(), config_argv),
    "run out": (st.sampled_from([*BAD_DIR_OUTPUTS, "exists"]), output_argv),
    "run options": (st.sampled_from(OPTIONS), options_argv),
}


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_fuzz_run(family: str) -> None:
    strategy, argv = FAMILIES[family]
    check_all_refused(family, strategy, argv, QUICK, **GUARD)


@pytest.mark.slow
@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_fuzz_run_campaign(family: str) -> None:
    strategy, argv = FAMILIES[family]
    check_all_refused(family, strategy, argv, CAMPAIGN, **GUARD)


if __name__ == "__main__":
    survey(FAMILIES, guard=GUARD)
