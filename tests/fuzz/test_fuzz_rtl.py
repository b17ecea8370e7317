"""Fuzzing ``logcam rtl emit|lint|stat`` with bad input that must be refused before Verilator or Yosys run:
RDC and NetSpec YAML, weights bundles, unwritable Verilog outputs, bad targets and options.

Verilator and Yosys are stubbed to raise (:func:`~tests.fuzz.inputs.no_rtl_tools`). Default suite:
:data:`QUICK` examples per family; ``-m slow``: :data:`CAMPAIGN` each. Survey every failure:
``.venv/bin/python -m tests.fuzz.test_fuzz_rtl [EXAMPLES]``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import strategies as st

from tests.fuzz.inputs import BAD_FILE_OUTPUTS, CAMPAIGN, QUICK, File, check_all_refused, out_path, put
from tests.fuzz.survey import survey
from tests.fuzz.test_fuzz_golden import accel_weights, misfit_netspec, netspec_yaml
from tests.fuzz.test_fuzz_verify import rdc_config

GUARD = {"rtl_guard": True, "timeout_s": 60}
COMMANDS = st.sampled_from(["emit", "lint", "stat"])


def _cmd(cmd: str, target: str) -> list[str]:
    return ["rtl", cmd, target] + (["-o", "design.v"] if cmd == "emit" else [])


def config_argv(ex: tuple[File, str], wd: Path) -> list[str]:
    f, cmd = ex
    return [*_cmd(cmd, "rdc"), "--config", put(f, wd, "rdc")]


def net_argv(ex: tuple[File, str, str], wd: Path) -> list[str]:
    f, cmd, target = ex
    return [*_cmd(cmd, target), "--net", put(f, wd, "net"), "--random-weights", "0"]


def weights_argv(ex: tuple[File, str, str], wd: Path) -> list[str]:
    f, cmd, target = ex
    return [*_cmd(cmd, target), "--weights", put(f, wd, "w")]


def output_argv(ex: tuple[str, str], wd: Path) -> list[str]:
    kind, target = ex
    return ["rtl", "emit", target, "-o", out_path(kind, wd, "design.v")]


OPTIONS = [
    ["emit", "nosuch", "-o", "x.v"], ["emit", "rdc"], ["lint", "rdc", "--lanes", "0"], ["stat", "rdc", "--lanes", "65"],
    ["emit", "rdc", "-o", "x.v", "--lanes", "3"], ["lint", "top", "--lanes", "5"], ["stat", "rdc", "--per-layer"],
    ["stat", "accel", "--random-weights", "-1"], ["lint", "accel", "--random-weights", "x"], ["nosuch", "rdc"],
    ["emit", "accel", "-o", "x.v", "--weights", "W", "--random-weights", "1"], ["lint", "rdc", "--bogus"],
    ["stat", "top", "--lanes", "7"], ["emit", "top", "-o", "x.v", "--lanes", "0"],
]


def options_argv(ex: list[str], wd: Path) -> list[str]:
    sub = {"W": lambda: put(File("w", b"", ".npz"), wd, "w")}
    return ["rtl", *[str(sub[a]()) if a in sub else a for a in ex]]


TARGETS = st.sampled_from(["accel", "top"])
FAMILIES = {
    "rtl config": (st.tuples(rdc_config(), COMMANDS), config_argv),
    "rtl net": (st.tuples(netspec_yaml(), COMMANDS, TARGETS), net_argv),
    "rtl weights": (st.tuples(accel_weights(), COMMANDS, TARGETS), weights_argv),
    "rtl top misfit net": (st.tuples(misfit_netspec(), COMMANDS, st.just("top")), net_argv),
    "rtl emit output": (st.tuples(st.sampled_from(BAD_FILE_OUTPUTS), st.sampled_from(["rdc", "accel", "top"])),
                        output_argv),
    "rtl options": (st.sampled_from(OPTIONS), options_argv),
}


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_fuzz_rtl(family: str) -> None:
    strategy, argv = FAMILIES[family]
    check_all_refused(family, strategy, argv, QUICK, **GUARD)


@pytest.mark.slow
@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_fuzz_rtl_campaign(family: str) -> None:
    strategy, argv = FAMILIES[family]
    check_all_refused(family, strategy, argv, CAMPAIGN, **GUARD)


if __name__ == "__main__":
    survey(FAMILIES, guard=GUARD)
