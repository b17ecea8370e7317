"""Exploration on real Dask clusters: an embedded LocalCluster against in-process results, worker deaths,
SIGKILL of the exploring process and resume, and a separately started scheduler + worker on 127.0.0.1."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from logcam.explore.grid import expand, load_grid
from logcam.explore.point import evaluate_point, point_dir
from logcam.explore.session import STORE_NAME, Options, explore
from logcam.explore.store import read_rows
from tests.explore import faults
from tests.explore.grids import write_grid

CLI = [sys.executable, "-m", "logcam.cli", "explore"]


def _starts(out: Path, point_hash: str) -> int:
    """How many times a point's evaluation started (its attempts.log)."""
    log = point_dir(out, point_hash) / "attempts.log"
    return sum(1 for line in log.read_text().splitlines() if line.startswith("start ")) if log.exists() else 0


def test_local_cluster_matches_in_process(tmp_path: Path) -> None:
    """2 worker processes on 8 points (4 networks): every stored metric equals the same point run here."""
    import torch

    grid = load_grid(write_grid(tmp_path))
    out = tmp_path / "dask"
    summary = explore(grid, Options(out=out, workers=2))
    assert summary["workers"] == 2
    assert summary["run"] == {**summary["run"], "done": 8, "failed": 0, "skipped": 0, "interrupted": 0}
    rows = {r.hash: r for r in read_rows(out / STORE_NAME)}
    assert len(rows) == 8 and all(r.status == "ok" for r in rows.values())
    threads = torch.get_num_threads()
    try:
        for p in expand(grid):
            ref = evaluate_point(p, tmp_path / "here")
            assert rows[p["hash"]].metrics == ref["metrics"], p["config"]
            assert rows[p["hash"]].seed == p["seed"]
    finally:
        torch.set_num_threads(threads)
    # the work done: one evaluation per point, one training per network (the node axis reuses it)
    assert all(_starts(out, h) == 1 for h in rows)
    assert len(list((out / "nets").iterdir())) == 4
    lines = (out / "points.csv").read_text().splitlines()
    assert len(lines) == 9 and lines[0].startswith("index,hash,status,frontend")
    front = (out / "pareto.csv").read_text().splitlines()
    assert 2 <= len(front) <= 9 and (out / "pareto.png").stat().st_size > 1000
    assert json.loads((out / "summary.json").read_text())["stored"] == {"ok": 8, "failed": 0}


def test_dead_worker_is_retried_then_failed(tmp_path: Path) -> None:
    """A point whose worker dies every time fails with KilledWorker after retries + 1 starts (a few more if
    Dask blamed it for a death while it only waited on that worker); one that dies once is retried and
    finishes; one that raises fails at once with its error; the rest finish."""
    grid = load_grid(write_grid(tmp_path))
    out = tmp_path / "out"
    out.mkdir()
    summary = explore(grid, Options(out=out, workers=1, retries=1, plots=False), fn=faults.dying)
    rows = read_rows(out / STORE_NAME)
    assert [r.status for r in rows] == ["failed", "ok", "failed"] + ["ok"] * 5, (summary["run"], summary["errors"])
    assert rows[0].error.startswith("KilledWorker: the worker running this point died too often")
    assert rows[2].error == "ValueError: point 2 cannot be built"
    starts = [_starts(out, r.hash) for r in rows]
    assert 2 <= starts[0] <= 4 and starts[1] >= 2 and starts[2] == 1, starts
    assert all(n >= 1 for n in starts[3:]), starts  # ≥: a result held by a worker that died is computed again
    assert summary["run"]["failed"] == 2 and summary["run"]["done"] == 6


def _ok_hashes(store: Path) -> set[str]:
    if not store.exists():
        return set()
    try:
        con = sqlite3.connect(f"{store.as_uri()}?mode=ro", uri=True)
        try:
            return {h for (h,) in con.execute("SELECT hash FROM points WHERE status = 'ok'")}
        finally:
            con.close()
    except sqlite3.Error:
        return set()


@contextlib.contextmanager
def _process_group(cmd: list[str], **kw: object) -> Iterator[subprocess.Popen]:
    """A subprocess in its own process group, the whole group killed on the way out."""
    proc = subprocess.Popen(cmd, start_new_session=True, **kw)  # type: ignore[call-overload]
    try:
        yield proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)


def test_sigkill_of_the_explorer_loses_no_finished_point(tmp_path: Path) -> None:
    """SIGKILL mid-run, restart: every point stored exactly once, finished ones not evaluated again."""
    grid = write_grid(tmp_path, dataset={"kind": "synthetic", "n": 400, "size": 32, "seed": 3},
                      train={"epochs": 2, "batch": 32, "threads": 1},
                      axes={"frontend": ["rdc", "isp"], "c1": [2, 3, 4, 5], "node_nm": [45, 16]})
    out = tmp_path / "out"
    store = out / STORE_NAME
    cmd = [*CLI, str(grid), "--out", str(out), "--workers", "1", "--no-plot"]
    with _process_group(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) as proc:
        deadline = time.monotonic() + 240
        while not _ok_hashes(store) and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    survived = _ok_hashes(store)
    assert 1 <= len(survived) < 16, "the kill must land mid-run"
    res = subprocess.run([*cmd, "--json"], capture_output=True, text=True, timeout=400, start_new_session=True)
    assert res.returncode == 0, res.stderr
    summary = json.loads(res.stdout)
    assert summary["run"]["skipped"] == len(survived)
    assert summary["run"]["done"] == 16 - len(survived)
    rows = read_rows(store)
    points = {p["hash"] for p in expand(load_grid(grid))}
    assert len(rows) == 16 and {r.hash for r in rows} == points and all(r.status == "ok" for r in rows)
    # count the work: a point finished before the kill started once; the others at most twice
    assert all(_starts(out, h) == 1 for h in survived)
    assert all(1 <= _starts(out, h) <= 2 for h in points - survived)


def test_separately_started_scheduler_and_worker(tmp_path: Path) -> None:
    """`dask scheduler` + `dask worker` on 127.0.0.1 (random ports), the grid run through --scheduler, then
    again through --scheduler-file: everything is already in the store."""
    sfile = tmp_path / "scheduler.json"
    base = [sys.executable, "-m"]
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    with _process_group([*base, "distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", "0",
                         "--no-dashboard", "--scheduler-file", str(sfile)], **quiet), \
         _process_group([*base, "distributed.cli.dask_worker", "--scheduler-file", str(sfile), "--host", "127.0.0.1",
                         "--nworkers", "1", "--nthreads", "1", "--no-dashboard"], **quiet):
        deadline = time.monotonic() + 120
        while not sfile.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        address = json.loads(sfile.read_text())["address"]
        assert address.startswith("tcp://127.0.0.1:")
        from distributed import Client

        with Client(address, timeout=30, set_as_default=False) as c:
            c.wait_for_workers(1, timeout=120)
        grid = write_grid(tmp_path)
        out = tmp_path / "out"
        res = subprocess.run([*CLI, str(grid), "--out", str(out), "--scheduler", address, "--json", "--no-plot"],
                             capture_output=True, text=True, timeout=300)
        assert res.returncode == 0, res.stderr
        summary = json.loads(res.stdout)
        assert summary["scheduler"] == address and summary["workers"] == 1
        assert summary["run"]["done"] == 8 and summary["stored"] == {"ok": 8, "failed": 0}
        again = subprocess.run([*CLI, str(grid), "--out", str(out), "--scheduler-file", str(sfile), "--json",
                                "--no-plot"], capture_output=True, text=True, timeout=300)
        assert again.returncode == 0, again.stderr
        assert json.loads(again.stdout)["run"] == {**json.loads(again.stdout)["run"], "skipped": 8, "done": 0}


@pytest.mark.rtl
@pytest.mark.parametrize("sim", ["amaranth", pytest.param("verilator", marks=pytest.mark.slow)])
def test_rtl_points_measure_activity(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sim: str) -> None:
    """With rtl.verify every network runs through the RTL: no mismatch, and the measured activity gives the
    analytic energy (docs/energy.md: the counts agree on these networks). Verilator builds each network's
    design (1–2 min each here), so that case is slow."""
    monkeypatch.setenv("LOGCAM_CACHE", str(tmp_path / "cache"))  # inherited by the workers
    grid = load_grid(write_grid(tmp_path, rtl={"verify": True, "sim": sim, "frames": 2},
                                axes={"frontend": ["rdc", "isp"], "c1": [2]}))
    plain = load_grid(write_grid(tmp_path, "plain.yaml", axes={"frontend": ["rdc", "isp"], "c1": [2]}))
    summary = explore(grid, Options(out=tmp_path / "rtl", workers=1, plots=False))
    assert summary["stored"] == {"ok": 2, "failed": 0}, summary["errors"]
    rtl = read_rows(tmp_path / "rtl" / STORE_NAME)
    for r, p in zip(rtl, expand(plain)):
        assert r.metrics["activity"] == "measured" and r.metrics["rtl_mismatches"] == 0
        assert r.metrics["rtl_cycles_per_frame"] > 0
        assert Path(tmp_path / "rtl" / r.artefacts["activity"]).is_file()
        ref = evaluate_point(p, tmp_path / "plain")["metrics"]
        assert r.metrics["accuracy"] == ref["accuracy"]
        assert r.metrics["nj_per_pixel"] == ref["nj_per_pixel"]  # the same integer counts, the same sums
