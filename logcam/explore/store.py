"""The results store of an exploration: one SQLite file in WAL mode (stdlib ``sqlite3``).

Tables: ``meta`` (key → value: ``format``, ``grid_hash``, ``grid_name``, ``grid`` as canonical JSON,
``created``) and ``points`` (one row per finished or failed point, keyed by its config hash). Every row
is its own committed transaction (``synchronous=FULL``), written only by the exploring client, so a
``kill -9`` at any moment leaves every committed row readable and nothing half-written: SQLite's WAL
replays or drops the last transaction as a whole. The grid identity is checkpointed into the main file
when the store is created, so :func:`check_store` can read it without writing anything.
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from logcam.errors import ConfigError, InputError

FORMAT = "logcam-explore/1"
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS points (
    hash TEXT PRIMARY KEY,          -- SHA-256 of the point's canonical config JSON
    idx INTEGER NOT NULL,           -- position in the grid's expansion
    status TEXT NOT NULL CHECK (status IN ('ok', 'failed')),
    config TEXT NOT NULL,           -- canonical config JSON
    train_hash TEXT NOT NULL,
    seed INTEGER NOT NULL,
    metrics TEXT,                   -- JSON object (ok)
    artefacts TEXT,                 -- JSON object of paths relative to the store's folder (ok)
    timing TEXT,                    -- JSON object, seconds (ok)
    error TEXT,                     -- one line (failed)
    worker TEXT,
    finished REAL NOT NULL          -- Unix time of the commit
);
"""


@dataclass(frozen=True)
class Row:
    """One stored point."""

    hash: str
    index: int
    status: str
    config: dict[str, Any]
    train_hash: str
    seed: int
    metrics: dict[str, Any]
    artefacts: dict[str, str]
    timing: dict[str, Any]
    error: str | None
    worker: str | None
    finished: float


def _meta_readonly(path: Path) -> dict[str, str]:
    """The meta table of an existing store, read without writing a byte (``immutable`` URI)."""
    try:
        con = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro&immutable=1", uri=True)
        try:
            return dict(con.execute("SELECT key, value FROM meta").fetchall())
        finally:
            con.close()
    except sqlite3.DatabaseError as err:
        raise InputError(f"{path}: not a logcam explore store ({err})") from None


def check_store(path: Path, grid_hash: str, grid_name: str) -> bool:
    """True if ``path`` is a store of this grid, False if there is none; ConfigError (store untouched) if it
    belongs to another grid or is not a store."""
    if not path.exists():
        return False
    if not path.is_file():
        raise InputError(f"{path}: the store path is not a file")
    meta = _meta_readonly(path)
    if meta.get("format") != FORMAT:
        raise InputError(f"{path}: not a logcam explore store (format {meta.get('format')!r}, need {FORMAT!r})")
    if meta.get("grid_hash") != grid_hash:
        raise ConfigError(f"store {path} belongs to grid {meta.get('grid_name')!r} "
                          f"({meta.get('grid_hash', '?')[:12]}), not to this grid {grid_name!r} ({grid_hash[:12]}); "
                          "give another --out or remove that folder")
    return True


def _create(path: Path, meta: list[tuple[str, str]]) -> None:
    """Build a new store beside ``path`` and rename it into place: a crash leaves no store or a whole one."""
    import os
    import tempfile

    from logcam.files import make_folder

    make_folder(path.parent)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    try:
        con = sqlite3.connect(tmp, isolation_level=None)
        try:
            con.executescript(SCHEMA)
            con.executemany("INSERT INTO meta VALUES (?, ?)", meta)
        finally:
            con.close()
        from logcam.files import user_mode

        user_mode(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class Store:
    """The open store of one grid (single writer: the exploring client)."""

    def __init__(self, con: sqlite3.Connection, path: Path) -> None:
        self.con = con
        self.path = path

    @classmethod
    def open(cls, path: Path, grid_hash: str, grid_name: str, grid_json: str) -> Store:
        """Open (or create) the store of a grid; ConfigError if it belongs to another grid."""
        if not check_store(path, grid_hash, grid_name):
            _create(path, [("format", FORMAT), ("grid_hash", grid_hash), ("grid_name", grid_name),
                           ("grid", grid_json), ("created", f"{time.time():.3f}")])
        con = sqlite3.connect(path, isolation_level=None, timeout=30)
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA synchronous=FULL")
        return cls(con, path)

    def close(self) -> None:
        """Close the connection (every row is already committed)."""
        self.con.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def finished(self) -> set[str]:
        """Hashes of the points that finished (status ok): a re-run skips them."""
        return {h for (h,) in self.con.execute("SELECT hash FROM points WHERE status = 'ok'")}

    def _put(self, point: dict[str, Any], status: str, **cols: Any) -> None:
        from logcam.explore.grid import canonical_json

        self.con.execute(
            "INSERT OR REPLACE INTO points (hash, idx, status, config, train_hash, seed, metrics, artefacts, timing, "
            "error, worker, finished) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (point["hash"], point["index"], status, canonical_json(point["config"]), point["train_hash"],
             point["seed"], cols.get("metrics"), cols.get("artefacts"), cols.get("timing"), cols.get("error"),
             cols.get("worker"), time.time()))

    def record_ok(self, point: dict[str, Any], result: dict[str, Any]) -> None:
        """Commit a finished point (one transaction)."""
        self._put(point, "ok", metrics=json.dumps(result["metrics"], sort_keys=True),
                  artefacts=json.dumps(result["artefacts"], sort_keys=True),
                  timing=json.dumps(result["timing"], sort_keys=True), worker=result.get("worker"))

    def record_failed(self, point: dict[str, Any], error: str) -> None:
        """Commit a failed point with its error (one line); a later run tries it again."""
        self._put(point, "failed", error=" ".join(error.split())[:2000])

    def rows(self) -> list[Row]:
        """All stored points in grid order."""
        out = []
        for r in self.con.execute("SELECT hash, idx, status, config, train_hash, seed, metrics, artefacts, timing, "
                                  "error, worker, finished FROM points ORDER BY idx"):
            out.append(Row(r[0], r[1], r[2], json.loads(r[3]), r[4], r[5], json.loads(r[6] or "{}"),
                           json.loads(r[7] or "{}"), json.loads(r[8] or "{}"), r[9], r[10], r[11]))
        return out


def read_rows(path: Path) -> list[Row]:
    """The rows of a store (read-only; for tests and reports)."""
    con = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        return Store(con, path).rows()
    finally:
        con.close()


__all__ = ["FORMAT", "Row", "Store", "check_store", "read_rows"]
