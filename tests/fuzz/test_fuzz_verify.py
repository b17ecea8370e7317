"""Fuzzing ``logcam verify rdc|accel|top`` with bad input that must be refused before any simulator starts:
RDC and NetSpec YAML, weights bundles, ``--image`` arrays and files, output paths and options.

Verilator and Yosys are replaced by a stub that raises (:func:`~tests.fuzz.inputs.no_rtl_tools`): an example
that reaches them was not refused early, and the verdict reports it as a traceback. Default suite:
:data:`QUICK` examples per family; ``-m slow``: :data:`CAMPAIGN` each. Survey every failure:
``.venv/bin/python -m tests.fuzz.test_fuzz_verify [EXAMPLES]``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import strategies as st

from tests.fuzz.inputs import (
    BAD_DIR_OUTPUTS,
    BAD_FILE_OUTPUTS,
    CAMPAIGN,
    QUICK,
    File,
    arr_file,
    bad_array_file,
    bad_dn_frames,
    bad_field,
    bad_yaml_file,
    check_all_refused,
    out_path,
    put,
    yaml_file,
)
from tests.fuzz.survey import survey
from tests.fuzz.test_fuzz_golden import RDC_EXTRA, RDC_FIELDS, accel_weights, misfit_netspec, netspec_yaml

#: examples that reach Verilator/Yosys count as failures; a hang is one too
GUARD = {"rtl_guard": True, "timeout_s": 60}


def rdc_config() -> st.SearchStrategy:
    extra = {k: v for k, v in RDC_EXTRA.items() if k not in ("width", "height")}
    extra["width"] = [1, 0, 5000, "x"]
    schema = bad_field({}, RDC_FIELDS, extra).map(lambda kv: {kv[0]: kv[1]})
    return st.one_of(bad_yaml_file(), st.tuples(schema, st.booleans()).map(
        lambda t: yaml_file({"rdc": t[0]} if t[1] else t[0], "rdc-" + next(iter(t[0])))))


def rdc_config_argv(f: File, wd: Path) -> list[str]:
    return ["verify", "rdc", "--frames", "1", "--config", put(f, wd, "rdc")]


def image() -> st.SearchStrategy[File]:
    other = st.sampled_from([File("png-garbage", b"\x89PNG\r\n\x1a\n" + b"\x00" * 20, ".png"),
                             File("tif-garbage", b"II*\x00" + b"\x01" * 20, ".tif"),
                             File("bmp", b"BM" + b"\x00" * 40, ".bmp"), File("no-suffix", b"\x00", "")])
    return st.one_of(bad_array_file((8, 8), bad_dn_frames()), other)


def image_argv(f: File, wd: Path) -> list[str]:
    return ["verify", "rdc", "--image", put(f, wd, "img")]


def accel_net_argv(ex: tuple[File, str], wd: Path) -> list[str]:
    f, target = ex
    return ["verify", target, "--frames", "1", "--net", put(f, wd, "net"), "--random-weights", "0"]


def accel_weights_argv(ex: tuple[File, str], wd: Path) -> list[str]:
    f, target = ex
    return ["verify", target, "--frames", "1", "--weights", put(f, wd, "w")]


def outputs() -> st.SearchStrategy:
    return st.one_of(st.tuples(st.sampled_from(["rdc", "accel", "top"]), st.just("--activity-out"),
                               st.sampled_from(BAD_FILE_OUTPUTS)),
                     st.tuples(st.sampled_from(["rdc", "accel", "top"]), st.just("--keep"),
                               st.sampled_from(BAD_DIR_OUTPUTS)))


def outputs_argv(ex: tuple[str, str, str], wd: Path) -> list[str]:
    target, opt, kind = ex
    return ["verify", target, "--frames", "1", opt, out_path(kind, wd, "act.json" if opt != "--keep" else "keep")]


OPTIONS = [
    ["rdc", "--frames", "0"], ["rdc", "--frames", "100001"], ["rdc", "--frames", "x"], ["rdc", "--seed", "-1"],
    ["rdc", "--p-valid", "0"], ["rdc", "--p-valid", "1.5"], ["rdc", "--p-ready", "nan"], ["rdc", "--p-ready", "-1"],
    ["rdc", "--lanes", "0"], ["rdc", "--lanes", "65"], ["rdc", "--lanes", "3"], ["rdc", "--sim", "iverilog"],
    ["rdc", "--source", "nosuch"], ["rdc", "--bogus"], ["accel", "--random-weights", "-1"],
    ["accel", "--rounding", "x"], ["accel", "--frames", "-2"], ["top", "--lanes", "5"], ["top", "--lanes", "0"],
    ["top", "--p-valid", "inf"], ["nosuch"], ["accel", "extra-arg"], ["top", "--config", "x.yaml"],
    ["accel", "--weights", "W", "--random-weights", "1"], ["rdc", "--image", "IMG", "--lanes", "3"],
]


def options_argv(ex: list[str], wd: Path) -> list[str]:
    sub = {"W": lambda: put(File("w", b"", ".npz"), wd, "w"),
           "IMG": lambda: put(arr_file("img", np.zeros((1, 8, 8), "<u2")), wd, "img")}
    return ["verify", *[str(sub[a]()) if a in sub else a for a in ex]]


TARGETS = st.sampled_from(["accel", "top"])
FAMILIES = {
    "verify rdc config": (rdc_config(), rdc_config_argv),
    "verify rdc image": (image(), image_argv),
    "verify accel/top net": (st.tuples(netspec_yaml(), TARGETS), accel_net_argv),
    "verify accel/top weights": (st.tuples(accel_weights(), TARGETS), accel_weights_argv),
    "verify top misfit net": (st.tuples(misfit_netspec(), st.just("top")), accel_net_argv),
    "verify outputs": (outputs(), outputs_argv),
    "verify options": (st.sampled_from(OPTIONS), options_argv),
}


#: families with a failing case whose fix belongs to a file this campaign's authors do not own: family → why
KNOWN_FAILING: dict[str, str] = {}


def _params(families: dict) -> list:
    return [pytest.param(f, marks=pytest.mark.xfail(reason=KNOWN_FAILING[f], strict=False))
            if f in KNOWN_FAILING else f for f in sorted(families)]


@pytest.mark.parametrize("family", _params(FAMILIES))
def test_fuzz_verify(family: str) -> None:
    strategy, argv = FAMILIES[family]
    check_all_refused(family, strategy, argv, QUICK, **GUARD)


@pytest.mark.slow
@pytest.mark.parametrize("family", _params(FAMILIES))
def test_fuzz_verify_campaign(family: str) -> None:
    strategy, argv = FAMILIES[family]
    check_all_refused(family, strategy, argv, CAMPAIGN, **GUARD)


if __name__ == "__main__":
    survey(FAMILIES, guard=GUARD)
