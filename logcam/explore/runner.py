"""Submit the unfinished points of a grid as Dask tasks and commit each result as it arrives.

Only this client writes the store, one committed row per point as its future completes; a point that
raised is stored as failed with its error, one whose workers kept dying (``KilledWorker`` after the
scheduler's allowed failures) likewise. Futures lost with the scheduler are not stored: the next run
does them again.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from logcam.explore.store import Store

#: Task key prefix on the scheduler (followed by the point's hash).
KEY_PREFIX = "logcam-explore-"


@dataclass
class RunStats:
    """What one run did (counts of points; wall time in s)."""

    total: int
    skipped: int
    done: int = 0
    failed: int = 0
    interrupted: int = 0
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)


def error_line(exc: BaseException) -> str:
    """A task's exception as one line (a dead worker says so)."""
    name = type(exc).__name__
    if name == "KilledWorker":
        return f"KilledWorker: the worker running this point died too often ({exc})"
    text = " ".join(str(exc).split())
    return f"{name}: {text}" if text else name


def run_points(client: Any, store: Store, points: list[dict[str, Any]], out: Path, *,
               fn: Callable[..., dict[str, Any]] | None = None,
               on_update: Callable[[RunStats, int], None] | None = None,
               on_point: Callable[[dict[str, Any], str, dict[str, Any] | str], None] | None = None,
               poll_s: float = 0.2) -> RunStats:
    """Run every point not yet finished in ``store`` on ``client``; returns the counts.

    ``fn(point, out)`` evaluates a point (default :func:`logcam.explore.point.evaluate_point`);
    ``on_update(stats, running)`` is called as counts change, ``on_point(point, status, result|error)`` per point.
    """
    if fn is None:
        from logcam.explore.point import evaluate_point

        fn = evaluate_point
    t0 = time.perf_counter()
    finished = store.finished()
    todo = [p for p in points if p["hash"] not in finished]
    stats = RunStats(total=len(points), skipped=len(points) - len(todo))
    futures = {client.submit(fn, p, str(out), key=KEY_PREFIX + p["hash"], pure=False): p for p in todo}
    pending = set(futures)
    keys = {f.key for f in futures}
    running, last_poll = 0, 0.0
    if on_update:
        on_update(stats, 0)
    try:
        while pending:
            done = [f for f in pending if f.done()]
            for f in done:
                pending.discard(f)
                p = futures[f]
                if f.status == "finished":
                    res = f.result()
                    store.record_ok(p, res)
                    stats.done += 1
                    if on_point:
                        on_point(p, "ok", res)
                elif f.status == "error":
                    msg = error_line(f.exception())
                    store.record_failed(p, msg)
                    stats.failed += 1
                    stats.errors.append(f"{p['hash'][:12]}: {msg}")
                    if on_point:
                        on_point(p, "failed", msg)
                else:  # cancelled or lost with the scheduler: not stored, the next run does it again
                    stats.interrupted += 1
                    if on_point:
                        on_point(p, "interrupted", f.status)
                f.release()
            now = time.perf_counter()
            if now - last_poll > 1.0:
                last_poll = now
                try:
                    running = sum(1 for ks in client.processing().values() for k in ks if k in keys)
                except Exception:  # the count is cosmetic; never fail a run on it
                    running = 0
            if on_update:
                on_update(stats, min(running, len(pending)))
            if pending and not done:
                time.sleep(poll_s)
    finally:
        for f in pending:
            f.release()
    stats.seconds = time.perf_counter() - t0
    return stats


__all__ = ["KEY_PREFIX", "RunStats", "error_line", "run_points"]
