"""Submit the unfinished points of a grid as Dask tasks and commit each result as it arrives.

Only this client writes the store, one committed row per point as its future completes; a point that
raised is stored as failed with its error. Worker deaths: the scheduler gives up on a task
(``KilledWorker``) once the workers holding it died ``allowed-failures + 1`` times, and it blames every
task a dead worker held, not only the one that killed it. So the runner counts what really started
(the point's attempts.log): a point that started fewer than ``retries + 1`` times in this run is
submitted again (at most ``retries`` times); one that did is stored as failed with the error. Futures
lost with the scheduler are not stored: the next run does them again.
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


def run_points(client: Any, store: Store, points: list[dict[str, Any]], out: Path, *, retries: int = 2,
               fn: Callable[..., dict[str, Any]] | None = None,
               on_update: Callable[[RunStats, int], None] | None = None,
               on_point: Callable[[dict[str, Any], str, dict[str, Any] | str], None] | None = None,
               poll_s: float = 0.2) -> RunStats:
    """Run every point not yet finished in ``store`` on ``client``; returns the counts.

    ``fn(point, out)`` evaluates a point (default :func:`logcam.explore.point.evaluate_point`; it logs its
    starts with :func:`~logcam.explore.point.log_attempt`); ``retries``: resubmissions after a worker death;
    ``on_update(stats, running)`` is called as counts change, ``on_point(point, status, result|error)`` per point.
    """
    from logcam.explore.point import count_starts

    if fn is None:
        from logcam.explore.point import evaluate_point

        fn = evaluate_point
    t0 = time.perf_counter()
    finished = store.finished()
    todo = [p for p in points if p["hash"] not in finished]
    stats = RunStats(total=len(points), skipped=len(points) - len(todo))
    started = {p["hash"]: count_starts(out, p["hash"]) for p in todo}
    resubmitted = dict.fromkeys(started, 0)

    def submit(p: dict[str, Any]) -> Any:
        n = resubmitted[p["hash"]]
        return client.submit(fn, p, str(out), key=KEY_PREFIX + p["hash"] + (f"-retry{n}" if n else ""), pure=False)

    futures = {submit(p): p for p in todo}
    pending = set(futures)
    keys = {f.key for f in futures}
    running, last_poll = 0, 0.0
    try:
        threads = dict(client.nthreads())
    except Exception:
        threads = {}
    if on_update:
        on_update(stats, 0)
    try:
        while pending:
            done = [f for f in pending if f.done()]
            for f in done:
                if f.status in ("lost", "pending"):  # its worker died after it finished: computed again
                    continue
                pending.discard(f)
                p = futures[f]
                if f.status == "finished":
                    res = f.result()
                    store.record_ok(p, res)
                    stats.done += 1
                    if on_point:
                        on_point(p, "ok", res)
                elif f.status == "error":
                    exc = f.exception()
                    h = p["hash"]
                    if (type(exc).__name__ == "KilledWorker" and resubmitted[h] < retries
                            and count_starts(out, h) - started[h] < retries + 1):
                        resubmitted[h] += 1  # blamed for another point's death: run it again
                        g = submit(p)
                        futures[g] = p
                        pending.add(g)
                        keys.add(g.key)
                        f.release()
                        continue
                    msg = error_line(exc)
                    store.record_failed(p, msg)
                    stats.failed += 1
                    stats.errors.append(f"{p['hash'][:12]}: {msg}")
                    if on_point:
                        on_point(p, "failed", msg)
                else:  # cancelled (the scheduler lost it): not stored, the next run does it again
                    stats.interrupted += 1
                    if on_point:
                        on_point(p, "interrupted", f.status)
                f.release()
            now = time.perf_counter()
            if now - last_poll > 1.0:
                last_poll = now
                try:  # tasks a worker holds, at most one per thread (the rest wait in its queue)
                    running = sum(min(len([k for k in ks if k in keys]), threads.get(w, 1))
                                  for w, ks in client.processing().items())
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
