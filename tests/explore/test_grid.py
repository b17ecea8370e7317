"""Grids: expansion, hashes and seeds; bad grids are one line, exit 2, store untouched."""

from __future__ import annotations

import hashlib
import os
import socket
import time
from pathlib import Path

import pytest

from logcam.errors import ConfigError
from logcam.explore.grid import GridConfig, canonical_json, expand, grid_identity, load_grid, quick
from logcam.explore.session import STORE_NAME
from logcam.explore.store import Store
from tests.explore.grids import TINY, write_grid
from tests.fuzz.harness import assert_rejected, files_under, run_cli


def test_expand_counts_merges_and_hashes(tmp_path: Path) -> None:
    grid = load_grid(write_grid(tmp_path, axes={**TINY["axes"], "levels": [3, 5]}))
    pts = expand(grid)
    # rdc: 2 levels × 2 c1 × 2 nodes; isp ignores levels: 2 c1 × 2 nodes (merged, not doubled)
    assert len(pts) == 8 + 4
    assert len({p["hash"] for p in pts}) == len(pts)
    assert [p["index"] for p in pts] == list(range(len(pts)))
    isp = [p for p in pts if p["config"]["frontend"] == "isp"]
    assert all(p["config"]["levels"] is None and p["config"]["threshold"] is None for p in isp)
    # node and frame rate do not change the network: same training hash and seed, different point hash
    by_train: dict[str, set[int]] = {}
    for p in pts:
        by_train.setdefault(p["train_hash"], set()).add(p["config"]["node_nm"])
    assert all(nodes == {45, 16} for nodes in by_train.values()) and len(by_train) == 6


def test_hash_and_seed_are_the_canonical_json(tmp_path: Path) -> None:
    """Same config → same hash and seed whatever the key order of the YAML; the seed is the hash's first bits."""
    a = expand(load_grid(write_grid(tmp_path, "a.yaml")))
    data = dict(reversed(list(TINY.items())))
    data["axes"] = dict(reversed(list(TINY["axes"].items())))
    b = expand(load_grid(write_grid(tmp_path, "b.yaml", **data)))
    assert {p["hash"] for p in a} == {p["hash"] for p in b}
    p = a[0]
    assert p["hash"] == hashlib.sha256(canonical_json(p["config"]).encode()).hexdigest()
    assert p["seed"] == int(p["train_hash"][:8], 16) & 0x7FFFFFFF
    g = load_grid(write_grid(tmp_path, "c.yaml"))
    assert grid_identity(g) == grid_identity(load_grid(write_grid(tmp_path, "d.yaml")))
    assert grid_identity(quick(g)) != grid_identity(g)


def test_threshold_axis_gives_powers(tmp_path: Path) -> None:
    from logcam.explore.point import rdc_spec

    pts = expand(load_grid(write_grid(tmp_path, axes={"levels": [7], "threshold": ["3/2", 2]})))
    specs = [rdc_spec(p["config"], 16) for p in pts]
    assert [[str(t) for t in s.thresholds] for s in specs] == [["3/2", "9/4", "27/8"], ["2", "4", "8"]]


def test_shipped_grids() -> None:
    pts = expand(load_grid(None))
    assert len(pts) >= 6
    assert all(p["config"]["train"]["epochs"] == 1 and p["config"]["dataset"]["size"] <= 32 for p in pts)
    from logcam.config import embedded_config

    assert len(expand(load_grid(embedded_config("explore/channels.yaml")))) == 30


BAD = [
    ({"axes": {"colour": [1]}}, "axes.colour: unknown axis"),
    ({"axes": {"c1": []}}, "axes.c1: empty axis"),
    ({"axes": {"levels": [3, 4]}}, "axes.levels: 4 is out of range"),
    ({"axes": {"adc_bits": [12]}}, "axes.adc_bits: 12 is out of range"),
    ({"axes": {"c1": [0]}}, "axes.c1: 0 is out of range"),
    ({"axes": {"kernel": [4]}}, "axes.kernel: 4 is out of range"),
    ({"axes": {"threshold": [1]}}, "axes.threshold: 1 is out of range"),
    ({"axes": {"fps": [0]}}, "axes.fps: 0 is out of range"),
    ({"axes": {"node_nm": [28]}}, "axes.node_nm"),
    ({"axes": {"frontend": ["optical"]}}, "axes.frontend: 'optical' is out of range"),
    ({"axes": {"c1": [2, 2]}}, "axes.c1: a value is given twice"),
    ({"train": {"epochs": 0}}, "train.epochs"),
]


@pytest.mark.parametrize(("change", "message"), BAD, ids=[m.split(":")[0] + str(i) for i, (_, m) in enumerate(BAD)])
def test_bad_grid_is_one_line_and_leaves_the_store(tmp_path: Path, change: dict, message: str) -> None:
    """A bad grid against an existing store (of the good grid): one line, exit 2, the store's bytes unchanged."""
    out = tmp_path / "out"
    _make_store(out, load_grid(write_grid(tmp_path, "good.yaml")))
    before = _snapshot(out)
    grid = write_grid(tmp_path, "bad.yaml", **change)
    files = files_under(tmp_path)
    res = run_cli(["explore", grid, "--out", out], tmp_path, timeout_s=60)
    assert_rejected(res, tmp_path, files, "explore")
    assert message in res.err, res.err
    assert _snapshot(out) == before


def _make_store(out: Path, grid: GridConfig) -> None:
    Store.open(out / STORE_NAME, grid_identity(grid), grid.name, canonical_json(grid.model_dump(mode="json"))).close()


def _snapshot(folder: Path) -> dict[str, tuple[str, int]]:
    return {p.name: (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns) for p in folder.iterdir()}


def test_store_of_another_grid_is_refused_untouched(tmp_path: Path) -> None:
    out = tmp_path / "out"
    _make_store(out, load_grid(write_grid(tmp_path, "other.yaml", name="other", axes={"c1": [5]})))
    grid = write_grid(tmp_path)
    before, files = _snapshot(out), files_under(tmp_path)
    res = run_cli(["explore", grid, "--out", out], tmp_path, timeout_s=60)
    assert_rejected(res, tmp_path, files, "explore")
    assert "belongs to grid 'other'" in res.err
    assert _snapshot(out) == before
    with pytest.raises(ConfigError, match="belongs to grid"):
        Store.open(out / STORE_NAME, "0" * 64, "tiny", "{}")
    assert _snapshot(out) == before


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("address", ["tcp://127.0.0.1:{port}", "127.0.0.1:{port}"])
def test_unreachable_scheduler_fails_fast(tmp_path: Path, address: str) -> None:
    out = tmp_path / "out"
    grid = write_grid(tmp_path)
    files = files_under(tmp_path)
    t0 = time.perf_counter()
    res = run_cli(["explore", grid, "--out", out, "--scheduler", address.format(port=_closed_port()),
                   "--connect-timeout", "2"], tmp_path, timeout_s=60)
    assert time.perf_counter() - t0 < 20
    assert_rejected(res, tmp_path, files, "explore")
    assert "cannot reach a Dask scheduler at tcp://127.0.0.1:" in res.err
    assert not out.exists()


@pytest.mark.parametrize(("args", "message"), [
    (["--scheduler", "http://127.0.0.1:1"], "--scheduler: 'http://127.0.0.1:1' is not an address"),
    (["--scheduler", "tcp://127.0.0.1"], "is not an address tcp://HOST:PORT"),
    (["--scheduler-file", "missing.json"], "--scheduler-file missing.json: no such file"),
    (["--pareto", "accuracy,joules"], "--pareto: unknown metric 'joules'"),
    (["--pareto", "accuracy"], "must name two different metrics"),
    (["--workers", "2", "--scheduler", "tcp://127.0.0.1:1"], "--workers: only for the embedded cluster"),
])
def test_bad_options(tmp_path: Path, args: list[str], message: str) -> None:
    grid = write_grid(tmp_path)
    files = files_under(tmp_path)
    res = run_cli(["explore", grid, "--out", tmp_path / "out", *args], tmp_path, timeout_s=60)
    assert_rejected(res, tmp_path, files, "explore")
    assert message in res.err, res.err


def test_no_grid_file(tmp_path: Path) -> None:
    files = files_under(tmp_path)
    res = run_cli(["explore", tmp_path / "nope.yaml", "--out", tmp_path / "out"], tmp_path)
    assert_rejected(res, tmp_path, files, "explore")
    assert os.listdir(tmp_path) == []


def test_net_axis_carries_the_template(tmp_path: Path) -> None:
    """A NetSpec path beside the grid file is found from any folder; its content is in the point (and its hash)."""
    from logcam.config import embedded_config

    (tmp_path / "nets").mkdir()
    text = embedded_config("nets/2conv1fc.yaml").read_text()
    (tmp_path / "nets" / "mine.yaml").write_text(text.replace("name: 2conv1fc", "name: mine"))
    grid = write_grid(tmp_path, axes={"net": ["nets/mine.yaml", "2conv1fc"], "c1": [2]})
    pts = expand(load_grid(grid))
    assert [p["config"]["net_template"]["name"] for p in pts] == ["mine", "2conv1fc"]
    assert pts[0]["train_hash"] != pts[1]["train_hash"]
    res = run_cli(["explore", write_grid(tmp_path, "bad.yaml", axes={"net": ["nets/none.yaml"]}),
                   "--out", tmp_path / "out"], tmp_path)
    assert res.code == 2 and "axes.net: 'nets/none.yaml'" in res.err, res.err
