"""Mutation testing (`logcam verify mutate`, sim/rtl/mutate.py): the mutant set covers every RDC block, each
mutant is one changed line, the regression kills real faults (the row counter that fails to wrap among
them) and a surviving mutant is reported with its diff."""

from __future__ import annotations

import json
import re
from collections import Counter

import numpy as np
import pytest

from logcam.rdcspec import RdcSpec
from logcam.sim.rtl.mutate import RDC_BLOCKS, Mutant, enumerate_mutants, rdc_regression, select_mutants

TINY = RdcSpec(width=8, height=6, lanes=2)


def _verilog(spec: RdcSpec) -> str:
    from logcam.hw.rdc import Rdc
    from logcam.sim.rtl.emit import emit_verilog

    return emit_verilog(Rdc(spec), "rdc")


def _find(mutants: list[Mutant], block: str, op: str, before: str, after: str | None = None) -> Mutant:
    hits = [m for m in mutants if m.block == block and m.op == op and before in m.before
            and (after is None or after in m.after)]
    assert hits, f"no {op} mutant of {before!r} in {block}"
    return hits[0]


def test_mutant_set_spans_every_rdc_block_and_changes_one_line() -> None:
    verilog = _verilog(RdcSpec())
    mutants = enumerate_mutants(verilog, "rdc")
    blocks = Counter(m.block for m in mutants)
    assert set(blocks) == set(RDC_BLOCKS), blocks  # stats counters are left out, nothing unclassified
    assert len(mutants) >= 40
    original = verilog.split("\n")
    for m in mutants[::7]:
        changed = [i for i, (a, b) in enumerate(zip(original, m.apply(verilog).split("\n"))) if a != b]
        assert changed == [m.line_no - 1] and m.before != m.after
        assert m.diff.splitlines()[1:] == [f"-{m.before.strip()}", f"+{m.after.strip()}"]
    chosen = select_mutants(mutants, 48, seed=0)
    assert len(chosen) == 48 and set(Counter(m.block for m in chosen)) == set(RDC_BLOCKS)
    assert chosen == select_mutants(mutants, 48, seed=0) != select_mutants(mutants, 48, seed=1)
    assert not any("stats" in m.before for m in mutants)


def test_regression_has_a_truncated_frame_and_frames_without_first() -> None:
    fields, expected = rdc_regression(TINY, seed=0)
    words = TINY.width // TINY.lanes
    frame = TINY.height * words
    stub = (TINY.height // 2) * words + words // 2  # mid-row: the column restarts too
    assert fields["data"].shape[0] == expected["data"].shape[0] == expected["first"].size
    starts = np.flatnonzero(expected["first"])  # every frame starts at its position…
    assert starts[0] == 0 and starts[1] == stub and np.all(np.diff(starts[1:]) == frame)
    given = np.flatnonzero(fields["first"])     # …but `first` comes with every other one only
    assert given.tolist() == [0, *starts[1::2].tolist()] and len(starts) > len(given) + 5


@pytest.mark.rtl
def test_regression_kills_faults_and_reports_a_survivor_with_its_diff() -> None:
    from logcam.sim.rtl.mutate import mutate_rdc

    verilog = _verilog(TINY)
    mutants = enumerate_mutants(verilog, "rdc")
    # The beats counter is left out of the mutant set because the regression does not judge it: a fault
    # there must survive, and be reported with its diff.
    lines = verilog.split("\n")
    at = next(i for i, s in enumerate(lines) if s.strip().startswith("assign") and "stats[31:0] + 1'h1" in s)
    beats = Mutant(999, "stats", "const", at + 1, lines[at], lines[at].replace("+ 1'h1", "+ 1'h0"))
    pick = [
        _find(mutants, "row counter", "mux", "? 4'h0 :"),            # row fails to wrap at the last row
        _find(mutants, "row counter", "mux", "pos_row ="),          # first does not restart the row
        _find(mutants, "comparator ladder", "ror", ">="),           # >= → >: the threshold stripes
        _find(mutants, "handshake", "stuck", "assign accept", "1'h1"),
        _find(mutants, "line memory", "cond", "if (accept)", "1'h0"),    # the row above never written
        beats,
    ]
    rep = mutate_rdc(TINY, mutants=pick, jobs=2, seed=0)
    status = {r.mutant.id: r.status for r in rep.results}
    assert rep.baseline == "passed"
    assert [status[m.id] for m in pick[:5]] == ["killed"] * 5, rep.summary()
    assert status[beats.id] == "survived", rep.summary()
    assert rep.count("killed") == 5 and len(rep.survivors) == 1 and rep.score == pytest.approx(5 / 6)
    text = rep.summary()
    assert "survived (not proven equivalent): #999 [stats, const]" in text and "+ 1'h0" in text
    js = rep.to_json()
    assert js["killed"] == 5 and js["survived"] == 1
    surv = next(r for r in js["results"] if r["status"] == "survived")
    assert re.search(r"^-assign .*stats\[31:0\] \+ 1'h1;$", surv["diff"], re.M)
    assert re.search(r"^\+assign .*stats\[31:0\] \+ 1'h0;$", surv["diff"], re.M)
    killed = next(r for r in js["results"] if r["id"] == pick[0].id)
    assert killed["mismatches"] > 0 and killed["detail"].startswith("beat ")


def test_cli_mutate_rejects_targets_not_covered_yet(capsys: pytest.CaptureFixture[str]) -> None:
    from logcam.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["verify", "mutate", "accel"])
    assert exc.value.code == 2 and "not implemented yet" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.rtl
def test_default_rdc_regression_kills_every_non_equivalent_mutant(capsys: pytest.CaptureFixture[str]) -> None:
    """The documented run: 60 mutants of the built-in RDC (docs/rtl.md, Mutation testing). The one survivor
    allowed is equivalent by arithmetic: the column's wrap condition stuck false, where the column register
    has 4 bits and the line 16 beats (64/4), so pos_col + 1 wraps to 0 by itself."""
    from logcam.cli import main

    verilog = _verilog(RdcSpec())
    wrap = re.search(r"assign (\\\$\d+)\s+= pos_col == 4'hf;", verilog)
    assert wrap is not None
    code = 0
    try:
        main(["verify", "mutate", "rdc", "--count", "60", "--json"])
    except SystemExit as exc:
        code = int(exc.code or 0)
    js = json.loads(capsys.readouterr().out)
    assert js["mutants"] == 60 and js["baseline"] == "passed" and js["build_error"] == 0
    survivors = [r for r in js["results"] if r["status"] == "survived"]
    assert all(r["before"].strip() == f"if ({wrap.group(1)} ) begin" and r["after"].strip() == "if (1'h0) begin"
               for r in survivors), [r["diff"] for r in survivors]
    assert code == (1 if survivors else 0)
    assert set(js["by_block"]) == set(RDC_BLOCKS)
