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


def test_yosys_proves_an_equivalent_mutant_and_refuses_a_real_fault() -> None:
    from logcam.sim.rtl.mutate import prove_equivalent

    verilog = _verilog(TINY)
    mutants = enumerate_mutants(verilog, "rdc")
    wrap = _find(mutants, "column counter", "cond", "if (\\$", "if (1'h0)")  # 2-bit column, 4 beats a line
    ok, how = prove_equivalent(verilog, wrap.apply(verilog), "rdc")
    assert ok and how.startswith("proven: "), how
    row = _find(mutants, "row counter", "mux", "? 4'h0 :")  # the row fails to wrap: a real fault
    ok, why = prove_equivalent(verilog, row.apply(verilog), "rdc")
    assert not ok and why.startswith("not proven: ") and "differ" in why, why


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
        # the column's wrap stuck false: 8/2 = 4 beats a line and a 2-bit column, which wraps by itself
        _find(mutants, "column counter", "cond", "if (\\$", "if (1'h0)"),
    ]
    rep = mutate_rdc(TINY, mutants=pick, jobs=2, seed=0)
    status = {r.mutant.id: r.status for r in rep.results}
    assert rep.baseline == "passed"
    assert [status[m.id] for m in pick[:5]] == ["killed"] * 5, rep.summary()
    assert status[beats.id] == "survived", rep.summary()  # the stats output differs: not proven equivalent
    assert status[pick[6].id] == "equivalent", rep.summary()
    assert rep.count("killed") == 5 and len(rep.survivors) == 1 and rep.score == pytest.approx(5 / 6)
    text = rep.summary()
    assert "survived (not proven equivalent): #999 [stats, const]" in text and "+ 1'h0" in text
    assert f"equivalent (proven): #{pick[6].id} [column counter, cond]" in text
    js = rep.to_json()
    assert js["killed"] == 5 and js["survived"] == 1 and js["equivalent"] == 1
    assert next(r for r in js["results"] if r["id"] == pick[6].id)["detail"].startswith("proven: ")
    assert next(r for r in js["results"] if r["id"] == 999)["detail"].startswith("not proven: ")
    surv = next(r for r in js["results"] if r["status"] == "survived")
    assert re.search(r"^-assign .*stats\[31:0\] \+ 1'h1;$", surv["diff"], re.M)
    assert re.search(r"^\+assign .*stats\[31:0\] \+ 1'h0;$", surv["diff"], re.M)
    killed = next(r for r in js["results"] if r["id"] == pick[0].id)
    assert killed["mismatches"] > 0 and killed["detail"].startswith("beat ")


@pytest.mark.parametrize("args,msg", [(["accel", "--config", "rdc.yaml"], "--config: does not apply to accel"),
                                      (["rdc", "--frames", "3"], "--frames: does not apply to rdc")])
def test_cli_mutate_refuses_an_option_the_target_does_not_take(args: list[str], msg: str,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    from logcam.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["verify", "mutate", *args])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and msg in err and len(err.strip().splitlines()) == 1


def _net_mutants(target: str) -> tuple[str, list[Mutant]]:
    from logcam.sim.rtl.accel_verify import ACCEL_TOP, TOP_TOP
    from logcam.sim.rtl.emit import emit_verilog
    from logcam.sim.rtl.mutate import net_blocks
    from logcam.sim.rtl.targets import get_target

    cfg, comp = get_target(target).component()
    name = ACCEL_TOP if target == "accel" else TOP_TOP
    verilog = emit_verilog(comp, name)
    return verilog, enumerate_mutants(verilog, name, module_blocks=net_blocks(cfg[0] if target == "accel" else cfg[1],
                                                                                target == "top"))


@pytest.mark.parametrize("target", ["accel", "top"])
def test_accelerator_and_top_mutants_span_every_block(target: str) -> None:
    """The bundled 2conv1fc: every module role is a block (a layer by its kind, requantizer, max-pool, window,
    FIFOs, argmax; the top adds its RDC and lane serializer); activity counters are left out."""
    from logcam.sim.rtl.mutate import module_of

    verilog, mutants = _net_mutants(target)
    blocks = Counter(m.block for m in mutants)
    want = {"conv layer", "fc layer", "requant", "maxpool", "window (line buffer)", "inter-layer FIFO", "argmax",
            "accel glue"} | ({"rdc", "lane serializer"} if target == "top" else set())
    assert set(blocks) == want, blocks
    assert not any(re.search(r"\bstats\b|\baccess\b", m.before.split("=")[0]) for m in mutants)
    original = verilog.split("\n")
    for m in mutants[::97]:
        changed = [i for i, (a, b) in enumerate(zip(original, m.apply(verilog).split("\n"))) if a != b]
        assert changed == [m.line_no - 1]
    layer = next(m for m in mutants if m.block == "requant")
    assert module_of(verilog, layer.line_no).endswith(".requant")
    chosen = select_mutants(mutants, 16, seed=0, blocks=tuple(sorted(want)))
    assert set(m.block for m in chosen) == want


@pytest.mark.slow
@pytest.mark.rtl
def test_default_rdc_regression_kills_every_non_equivalent_mutant(capsys: pytest.CaptureFixture[str]) -> None:
    """The documented run: 30 mutants of the built-in RDC (docs/rtl.md, Mutation testing): every mutant is
    killed, timed out or proven equivalent by Yosys (the column's wrap stuck false among them: a 4-bit column
    and 64/4 = 16 beats a line, so pos_col + 1 wraps to 0 by itself)."""
    from logcam.cli import main

    code = 0
    try:
        main(["verify", "mutate", "rdc", "--count", "30", "--json"])
    except SystemExit as exc:
        code = int(exc.code or 0)
    js = json.loads(capsys.readouterr().out)
    assert js["mutants"] == 30 and js["baseline"] == "passed" and js["build_error"] == 0 and js["error"] == 0
    assert js["survived"] == 0, [r["diff"] for r in js["results"] if r["status"] == "survived"]
    assert code == 0 and js["score"] == 1.0
    assert all(r["detail"].startswith("proven: ") for r in js["results"] if r["status"] == "equivalent")
    assert set(js["by_block"]) == set(RDC_BLOCKS)


def test_net_regression_reaches_every_class_and_rank_order() -> None:
    """Random codes reach one class of the bundled 2conv1fc; the regression's object frames, chosen by the
    logits' rank order, reach all three and both sides of every argmax comparison."""
    from logcam.nn.golden.accel import run
    from logcam.sim.rtl.accel_verify import random_inputs
    from logcam.sim.rtl.emit import quiet_unused
    from logcam.sim.rtl.mutate import net_regression
    from logcam.sim.rtl.targets import get_target

    (spec, bundle), comp = get_target("accel").component()
    quiet_unused(comp)
    x = net_regression("accel", (spec, bundle), 6, seed=0)
    assert x.shape == (6, 1, 96, 96)
    assert np.array_equal(x[3:], random_inputs(spec, 3, 0))  # the rest is what `verify accel` streams
    logits = run(spec, bundle, x).logits.numpy()
    assert set(logits.argmax(1).tolist()) == {0, 1, 2}
    for a, b in ((0, 1), (0, 2), (1, 2)):
        assert (logits[:, a] > logits[:, b]).any() and (logits[:, b] > logits[:, a]).any(), (a, b)


def test_rdc_regression_reaches_every_coverage_bin() -> None:
    from logcam.sim.rtl.mutate import regression_coverage

    cov = regression_coverage("rdc")
    assert cov.total >= 15 and cov.missed == [], cov.summary()
