"""What a CI engineer expects of `logcam verify`: the bench shell is lint-clean, coverage bins are reached by
the stimulus meant for them, a failing run names its seed and the command that reproduces it, --waves
dumps an FST trace, and .ci/run writes JUnit XML."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import click
import numpy as np
import pytest

from logcam.nn.golden.rdc import rdc_codes
from logcam.rdcspec import RdcSpec
from logcam.sim.rtl.check import Mismatch, VerifyResult
from logcam.sim.rtl.coverage import Coverage, handshake_coverage, rdc_coverage
from logcam.sim.rtl.rdc_frames import corner_frames, random_frames

ROOT = Path(__file__).resolve().parents[2]


def test_shell_is_lint_clean_and_mirrors_the_ports(tmp_path: Path) -> None:
    from logcam.hw.rdc import Rdc
    from logcam.sim.rtl.emit import emit_verilog, lint_verilog
    from logcam.sim.rtl.shell import design_ports, shell_verilog

    verilog = emit_verilog(Rdc(RdcSpec(width=8, height=4, lanes=8, mode="hv", levels=5, adc_bits=16)), "rdc")
    text, top = shell_verilog(verilog, "rdc")
    ports = {p.name: p for p in design_ports(text, top)}
    for p in design_ports(verilog, "rdc"):  # the cycle bench drives the shell exactly as the design
        assert (ports[p.name].direction, ports[p.name].width) == (p.direction, p.width)
    assert {"mem_mode", "done", "timed_out"} <= set(ports)
    (tmp_path / "shell.v").write_text(text)
    rep = lint_verilog(str(tmp_path / "shell.v"), top)
    assert rep.clean, "\n".join(rep.messages[:10])


@pytest.mark.parametrize("kw", [dict(mode="sum", levels=3, lanes=4), dict(mode="hv", levels=7, lanes=2),
                                dict(mode="h", levels=5, lanes=1, thresholds=["3/2", "5/2"])])
def test_corner_frames_reach_every_threshold_edge(kw: dict) -> None:
    spec = RdcSpec(width=16, height=8, **kw)
    frames = np.concatenate([corner_frames(spec, 60, seed=1), random_frames(spec, 4, seed=2)])
    cov = rdc_coverage(spec, frames, rdc_codes(frames, spec).numpy())
    edges = {b: h for g, bins in cov.groups.items() if "threshold edges" in g for b, h in bins.items()}
    m = (spec.levels - 1) // 2
    assert len(edges) == 6 * m  # ±k × (at, one step below, one step above)
    assert all(h > 0 for h in edges.values()), cov.summary()
    assert cov.percent == 100.0, cov.summary()


def test_coverage_reports_what_a_flat_field_misses() -> None:
    spec = RdcSpec(width=8, height=4, mode="hv", levels=5, lanes=2)
    flat = np.full((2, 4, 8), 100, dtype=np.int64)
    cov = rdc_coverage(spec, flat, rdc_codes(flat, spec).numpy())
    assert cov.percent < 50 and "rdc ch0 codes: +2" in cov.missed
    # lane bins: mode h has no first-column bin (no left neighbour), mode v has
    assert "first column nonzero" not in cov.groups["rdc ch0 frame edges"]
    assert "first column nonzero" in cov.groups["rdc ch1 frame edges"]
    hs = handshake_coverage({"stall_i": 3, "idle_i": 0, "stall_o": 5, "stall_tap0": 0})
    assert hs.missed == ["handshake: input gaps (valid low)", "handshake: tap0 stalled"]
    merged = Coverage()
    merged.merge(cov)
    merged.merge(hs)
    assert merged.total == cov.total + hs.total and "coverage:" in merged.summary()


def test_accel_coverage_counts_ties_and_saturation() -> None:
    from logcam.nn.golden.accel import run
    from logcam.nn.netspec import NetSpec, random_bundle
    from logcam.sim.rtl.coverage import accel_coverage

    spec = NetSpec.model_validate({
        "input": {"channels": 1, "height": 6, "width": 6, "format": "uint8"},
        "layers": [{"type": "conv", "out_channels": 2, "kernel": 3, "pad": 1}, {"type": "fc", "out_features": 3}],
        "quant": {"rounding": "half_even"}})
    bundle = random_bundle(spec, seed=0)
    for lp in bundle.layers:  # shift 1: every odd acc·m is a tie
        lp.shift[...] = 1
    x = np.random.default_rng(0).integers(0, 256, size=(3, 1, 6, 6))
    g = run(spec, bundle, x)
    cov = accel_coverage(spec, bundle, g)
    acc0 = g.acc[0].numpy().astype(np.int64) * bundle.layers[0].mult.reshape(1, -1, 1, 1)
    assert cov.groups["requant layer 0 (conv)"]["rounding tie"] == int((acc0 % 2 == 1).sum())
    assert cov.groups["requant layer 0 (conv)"]["saturate high"] + cov.groups["requant layer 0 (conv)"][
        "saturate low"] > 0  # a shift of 1 saturates int8
    assert sum(cov.groups["labels"].values()) == 3


def test_failing_result_names_seed_and_the_command_that_reproduces_it() -> None:
    from logcam.commands.verify import cli, report, reproduce_command

    root = click.Context(click.Group("logcam"), info_name="logcam")
    group = click.Context(cli, info_name="verify", parent=root)
    cmd = cli.commands["rdc"]
    ctx = cmd.make_context("rdc", ["--seed", "7", "--lanes", "2", "--p-ready", "0.5", "--frames", "3"],
                           parent=group)
    with ctx:
        line = reproduce_command()
        assert line == "logcam verify rdc --frames 3 --seed 7 --p-ready 0.5 --lanes 2"
        bad = VerifyResult(target="rdc", sim="verilator", frames=3, pixels=10, cycles=1, ideal_cycles=1,
                           mismatches=1, wall_s=1.0, extra={"seed": 7},
                           first_mismatches=[Mismatch(frame=1, row=2, col=3, expected=1, got=0)])
        with pytest.raises(SystemExit):
            report(bad, as_json=False)
    assert bad.extra["reproduce"] == line
    assert f"seed 7; reproduce: {line}" in bad.summary()
    assert "frame 1, channel 0, row 2, col 3" in bad.summary()


def test_ci_writes_junit_xml_for_the_suite(tmp_path: Path) -> None:
    """.ci/run exports PYTEST_ADDOPTS with --junitxml=build/junit.xml before README's pytest command."""
    ci = (ROOT / ".ci" / "run").read_text()
    m = re.search(r'^export PYTEST_ADDOPTS="\$\{PYTEST_ADDOPTS:-\} (--junitxml=(\S+))"$', ci, re.M)
    assert m and m.group(2) == "build/junit.xml"
    assert ci.index("export PYTEST_ADDOPTS") < ci.index(".venv/bin/python -m pytest")
    (tmp_path / "test_one.py").write_text("def test_ok():\n    assert True\n")
    (tmp_path / "build").mkdir()
    env = dict(os.environ, PYTEST_ADDOPTS=m.group(1))
    env.pop("PYTEST_XDIST_WORKER", None)
    subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_one.py"], cwd=tmp_path,
                   env=env, check=True, capture_output=True)
    xml = (tmp_path / "build" / "junit.xml").read_text()
    assert 'name="test_ok"' in xml and 'failures="0"' in xml


@pytest.mark.rtl
@pytest.mark.parametrize("name", ["out.vcd", "out.fst"])
def test_waves_dump_a_trace(tmp_path: Path, name: str) -> None:
    """--waves: .fst → FST (Verilator's FST writer needs lz4.h; without it one named error), .vcd → VCD."""
    from logcam.errors import ToolchainError
    from logcam.sim.rtl.rdc_verify import verify_rdc

    spec = RdcSpec(width=8, height=4, lanes=2, mode="sum", levels=3)
    path = tmp_path / name
    frames = random_frames(spec, 2, seed=1)
    if name.endswith(".fst") and not Path("/usr/include/lz4.h").is_file():
        with pytest.raises(ToolchainError, match="lz4"):
            verify_rdc(spec, frames, sim="verilator", waves=path, seed=1)
        return
    r = verify_rdc(spec, frames, sim="verilator", waves=path, seed=1)
    assert r.passed, r.summary()
    head = path.read_bytes()[:1 << 20]
    if name.endswith(".vcd"):
        assert b"$enddefinitions" in head and b"mem_mode" in head
    else:
        assert head[:1] == b"\x00" and path.stat().st_size > 200  # an FST file starts with its header block


def _run(args: list[str]) -> tuple[int, str, str]:
    """``logcam ARGS`` in process, as the console script runs it: (exit code, stdout, stderr)."""
    import contextlib
    import io

    from logcam.cli import main

    out, err = io.StringIO(), io.StringIO()
    code = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(args)
        except SystemExit as exc:
            code = int(exc.code or 0)
    return code, out.getvalue(), err.getvalue()


def test_cli_waves_need_verilator_one_line(tmp_path: Path) -> None:
    code, out, err = _run(["verify", "rdc", "--sim", "amaranth", "--frames", "1", "--waves", str(tmp_path / "w.fst")])
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1 and "--waves" in err, err
    assert not (tmp_path / "w.fst").exists()


@pytest.mark.rtl
def test_cli_bench_cycle_and_coverage_json() -> None:
    import json

    for bench in ("memory", "cycle"):
        code, out, err = _run(["verify", "rdc", "--frames", "2", "--source", "corners", "--bench", bench,
                               "--coverage", "--json"])
        assert code == 0, err
        d = json.loads(out)
        assert d["passed"] and d["extra"]["bench"] == bench
        cov = d["extra"]["coverage"]
        assert cov["total"] > 0 and cov["hit"] <= cov["total"]
        # the memory bench adds the handshake bins (its stall counters); the cycle bench has none
        assert ("handshake" in cov["groups"]) == (bench == "memory")


@pytest.mark.rtl
def test_memory_bench_times_out_and_the_missing_beats_count(tmp_path: Path) -> None:
    """A run cut short by max_cycles raises done with timed_out; the beats that never came are mismatches."""
    import json as _json

    from logcam.hw.stream import code_layout, describe_layout, pixel_layout
    from logcam.sim.rtl.rdc_io import RdcGeometry, check_output, input_fields
    from logcam.sim.rtl.rdc_verify import _shell, spec_json
    from logcam.sim.rtl.runner import verilator_build
    from logcam.sim.rtl.shell import BUILD_ARGS, run_shell
    from logcam.sim.rtl.streams import PayloadCodec

    spec = RdcSpec(width=8, height=4, lanes=2, mode="sum", levels=3)  # the build of test_waves_dump_a_trace
    frames = random_frames(spec, 3, seed=2)
    geo = RdcGeometry.of(spec)
    text, top = _shell(_json.dumps(spec_json(spec), sort_keys=True))
    build = verilator_build(text, top, build_args=BUILD_ARGS)
    cin = PayloadCodec(describe_layout(pixel_layout(spec.lanes, spec.adc_bits)))
    cout = PayloadCodec(describe_layout(code_layout(spec.lanes, spec.code_bits, spec.channels)))
    n = 3 * geo.beats_per_frame
    run = run_shell(build, cin.pack_bytes(**input_fields(frames, geo)), cin.width, {"o": cout.width}, {"o": n},
                    p_valid=1.0, p_ready=1.0, seed=0, max_cycles=20, stats=["stats"], workdir=tmp_path)
    assert run.timed_out and run.handshake["cycles"] == 20
    got = cout.unpack_bytes(run.streams["o"])
    assert 0 < len(got["data"]) < n
    count, found, _ = check_output(got, rdc_codes(frames, spec).numpy(), geo)
    assert count == (n - len(got["data"])) * spec.lanes  # every missing code counts
    assert found and all(m.got == -128 for m in found)  # … at its frame, row and column
    assert (tmp_path / "handshake.txt").is_file() and (tmp_path / "o.bin").is_file()
