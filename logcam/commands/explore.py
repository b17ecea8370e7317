"""``logcam explore GRID.yaml``: train, verify and cost every design point of a grid on Dask; Pareto front."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click


@click.command("explore")
@click.argument("grid_path", metavar="GRID.yaml", required=False,
                type=click.Path(dir_okay=False, path_type=Path))
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder of the store, artefacts and outputs (default runs/explore/<grid name>).")
@click.option("--scheduler", default=None, metavar="tcp://HOST:PORT",
              help="Run on an existing Dask scheduler instead of an embedded LocalCluster.")
@click.option("--scheduler-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Dask scheduler file (JSON with 'address'), as dask-scheduler --scheduler-file writes.")
@click.option("--workers", type=click.IntRange(1, 1024), default=None,
              help="Workers of the embedded cluster (default: cores ÷ the grid's torch threads).")
@click.option("--retries", type=click.IntRange(0, 20), default=2, show_default=True,
              help="Times a point whose worker died is run again before it is marked failed (embedded cluster).")
@click.option("--connect-timeout", type=click.FloatRange(0.1, 120), default=5.0, show_default=True,
              help="Seconds to wait for --scheduler to answer.")
@click.option("--pareto", "fronts", multiple=True, metavar="X,Y",
              help="Another Pareto front of two metrics (repeatable); accuracy,nj_per_pixel is always drawn.")
@click.option("--rtl/--no-rtl", "rtl", default=None, help="Verify every network's RTL with measured activity "
              "(overrides the grid's rtl.verify).")
@click.option("--sim", type=click.Choice(["verilator", "amaranth"]), default=None,
              help="Simulator of the RTL check (overrides the grid's rtl.sim).")
@click.option("--quick", is_flag=True, help="Same axes on tiny settings: ≤ 150 images of 16×16 px, 1 epoch.")
@click.option("--no-plot", is_flag=True, help="Skip the PNG plots.")
@click.option("--json", "as_json", is_flag=True, help="JSON summary on stdout (progress, front on stderr).")
def cli(grid_path: Path | None, out_dir: Path | None, scheduler: str | None, scheduler_file: Path | None,
        workers: int | None, retries: int, connect_timeout: float, fronts: tuple[str, ...], rtl: bool | None,
        sim: str | None, quick: bool, no_plot: bool, as_json: bool) -> None:
    """Explore a design space: every point of GRID.yaml (default: configs/explore/example.yaml) trained,
    exported to int8, checked on the golden model (and the RTL with --rtl) and costed in nJ/pixel; one Dask
    task per point; the accuracy vs nJ/pixel Pareto front at the end.

    Axes: frontend (rdc, isp), levels, threshold, adc_bits, net, c1, c2, kernel, node_nm, fps. Results
    go to OUT/explore.sqlite (a re-run skips finished points), OUT/points.csv, OUT/pareto.csv + .png and
    OUT/summary.json.

    Examples:

        logcam explore --quick

        logcam explore configs/explore/example.yaml --pareto accuracy,macs

        logcam explore grid.yaml --scheduler tcp://127.0.0.1:8786
    """
    from logcam.errors import ConfigError
    from logcam.explore.grid import load_grid
    from logcam.explore.grid import quick as quick_grid
    from logcam.explore.report import DEFAULT_FRONT, parse_front
    from logcam.explore.session import Options, explore

    grid = load_grid(grid_path)
    if quick:
        grid = quick_grid(grid)
    if rtl is not None or sim is not None:
        upd: dict[str, object] = {}
        if rtl is not None:
            upd["verify"] = rtl
        if sim is not None:
            upd["sim"] = sim
        grid = grid.model_copy(update={"rtl": grid.rtl.model_copy(update=upd)})
    if workers is not None and (scheduler or scheduler_file):
        raise ConfigError("--workers: only for the embedded cluster; an existing scheduler has its own workers")
    pairs = [DEFAULT_FRONT] + [parse_front(f) for f in fronts]
    pairs = list(dict.fromkeys(pairs))
    out = out_dir or Path("runs") / "explore" / grid.name
    opts = Options(out=out, scheduler=scheduler, scheduler_file=scheduler_file, workers=workers, retries=retries,
                   connect_timeout=connect_timeout, fronts=pairs, plots=not no_plot,
                   progress=not as_json and sys.stderr.isatty(), log=lambda m: click.echo(m, err=True))
    summary = explore(grid, opts)
    if as_json:
        click.echo(json.dumps(summary, indent=2))
    else:
        r = summary["run"]
        click.echo(f"{summary['points']} points: {r['done']} computed, {r['skipped']} already in the store, "
                   f"{r['failed']} failed, {r['interrupted']} interrupted in {r['seconds']:.1f} s → {out}/points.csv, "
                   f"{out}/pareto.csv" + ("" if no_plot else f", {out}/pareto.png"))
        for e in summary["errors"][:5]:
            click.echo(f"  failed {e}")
    if summary["run"]["failed"] or summary["run"]["interrupted"]:
        sys.exit(1)
