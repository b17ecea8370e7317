"""One exploration from start to end: check the grid and the store, connect, run, write the outputs.

Everything a user can get wrong (the grid, the store's grid, the scheduler address) is checked before
the store is opened for writing, so a bad run leaves the store untouched.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from logcam.explore.grid import GridConfig, canonical_json, expand, grid_identity
from logcam.explore.report import DEFAULT_FRONT
from logcam.explore.store import Store, check_store

STORE_NAME = "explore.sqlite"


@dataclass
class Options:
    """How to run (none of it changes a point's result)."""

    out: Path
    scheduler: str | None = None
    scheduler_file: Path | None = None
    workers: int | None = None
    retries: int = 2
    connect_timeout: float = 5.0
    fronts: list[tuple[str, str]] = field(default_factory=lambda: [DEFAULT_FRONT])
    plots: bool = True
    progress: bool = False
    log: Callable[[str], None] | None = None


def explore(grid: GridConfig, opts: Options, *, fn: Callable[..., dict[str, Any]] | None = None) -> dict[str, Any]:
    """Run a grid; returns the JSON summary (also written to OUT/summary.json)."""
    from logcam.explore.cluster import connect, scheduler_address
    from logcam.explore.report import table, write_json, write_outputs
    from logcam.explore.runner import run_points
    from logcam.files import check_folder

    say = opts.log or (lambda _msg: None)
    points = expand(grid)
    gh = grid_identity(grid)
    store_path = opts.out / STORE_NAME
    check_folder(opts.out)  # a folder that cannot be made there: one line before any cluster starts
    check_store(store_path, gh, grid.name)  # another grid's store: one line, nothing written
    address = scheduler_address(opts.scheduler, opts.scheduler_file)
    cluster = connect(address, workers=opts.workers, threads=grid.train.threads, retries=opts.retries,
                      connect_timeout=opts.connect_timeout)
    try:
        nworkers = cluster.workers()
        where = "embedded LocalCluster" if cluster.local is not None else f"scheduler {cluster.address}"
        say(f"{len(points)} points of grid {grid.name!r} on {where} ({nworkers} workers); store {store_path}")
        say(f"dashboard: {cluster.dashboard or 'none (the scheduler serves one when bokeh is installed)'}")
        with Store.open(store_path, gh, grid.name, canonical_json(grid.model_dump(mode="json"))) as store:
            with _progress(opts.progress, len(points)) as (update, per_point):
                stats = run_points(cluster.client, store, points, opts.out, retries=opts.retries, fn=fn,
                                   on_update=update,
                                   on_point=per_point if not opts.progress and opts.log else None)
            rows = store.rows()
    finally:
        cluster.close()
    fronts = write_outputs(rows, opts.out, opts.fronts, grid.name, plots=opts.plots)
    ok = [r for r in rows if r.status == "ok"]
    summary: dict[str, Any] = {
        "grid": grid.name, "grid_hash": gh, "points": len(points), "store": str(store_path),
        "scheduler": cluster.address, "workers": nworkers,
        "run": {"skipped": stats.skipped, "done": stats.done, "failed": stats.failed,
                "interrupted": stats.interrupted, "seconds": round(stats.seconds, 3)},
        "stored": {"ok": len(ok), "failed": len(rows) - len(ok)}, "errors": stats.errors,
        "csv": str(opts.out / "points.csv"), "fronts": fronts}
    write_json(summary, opts.out / "summary.json")
    for key, f in fronts.items():
        x, y = key.split(",")
        from logcam.explore.report import pareto

        say(f"Pareto front {x} vs {y} ({len(f['points'])} of {len(ok)} points):\n{table(pareto(rows, x, y), x, y)}")
    return summary


class _progress:
    """A rich progress bar on stderr (done / running / failed), or per-point lines, or nothing."""

    def __init__(self, enabled: bool, total: int) -> None:
        self.enabled, self.total = enabled, total
        self.prog: Any = None

    def __enter__(self) -> tuple[Callable[..., None], Callable[..., None]]:
        if self.enabled:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self.prog = Progress(TextColumn("explore"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("running {task.fields[running]}, failed {task.fields[failed]}, "
                                            "skipped {task.fields[skipped]}"), TimeElapsedColumn(),
                                 console=Console(stderr=True), transient=False)
            self.prog.__enter__()
            self.task = self.prog.add_task("explore", total=self.total, running=0, failed=0, skipped=0)

        def update(stats: Any, running: int) -> None:
            if self.prog is not None:
                self.prog.update(self.task, completed=stats.skipped + stats.done + stats.failed, running=running,
                                 failed=stats.failed, skipped=stats.skipped)

        def per_point(point: dict[str, Any], status: str, info: Any) -> None:
            c = point["config"]
            what = (f"accuracy {info['metrics']['accuracy']:.3f}, {info['metrics']['nj_per_pixel']:.4g} nJ/pixel"
                    if status == "ok" else str(info))
            print(f"point {point['index']} {point['hash'][:12]} ({c['frontend']}) {status}: {what}", file=sys.stderr)

        return update, per_point

    def __exit__(self, *exc: object) -> None:
        if self.prog is not None:
            self.prog.__exit__(None, None, None)


__all__ = ["STORE_NAME", "Options", "explore"]
