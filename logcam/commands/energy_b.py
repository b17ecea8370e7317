"""``logcam energy``: nJ/pixel per stage from sourced technology tables (backup implementation).

Subcommands: ``compare`` (three pipelines, stacked bars + CSV), ``sweep`` (vectorised design-space
sweep, CSV + Pareto plot), ``validate`` (model vs published chips).
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import click

from logcam.errors import InputError
from logcam.files import atomic_write

PIPELINE_HELP = "conventional, loggrad (default), optical, or a pipeline YAML"


def _fmt_report(r: dict) -> str:
    lines = [f"{r['pipeline']}: {r['width']}×{r['height']} @ {r['fps']:g} fps, digital {r['node_nm']:g} nm / "
             f"{r['vdd_v']:g} V ({r['scaling_rule']} scaling), tech {r['tech']}"]
    lines.append(f"  {'stage/component':34s} {'count/frame':>12s} {'per action':>14s} {'nJ/pixel':>10s}")
    for stage, st in r["stages"].items():
        lines.append(f"  {stage:34s} {'':>12s} {'':>14s} {st['nJ_per_pixel']:10.4f}")
        for name, c in st["components"].items():
            per = f"{c['per_action']:.4g} {c['per_action_unit']}"
            lines.append(f"    {name:32s} {c['count']:12.4g} {per:>14s} {c['nJ_per_pixel']:10.4f}")
    lines.append(f"  total {r['total_nJ_per_pixel']:.4f} nJ/pixel, {r['uJ_per_frame']:.4g} µJ/frame, "
                 f"{r['mW']:.4g} mW at {r['fps']:g} fps")
    return "\n".join(lines)


def _load_activity(path: str | None) -> dict | None:
    if path is None:
        return None
    p = Path(path)
    if not p.is_file():
        raise InputError(f"--activity-file: {p}: no such file")
    try:
        return json.loads(p.read_text())
    except json.JSONDecodeError as err:
        raise InputError(f"--activity-file: {p}: not JSON ({err.msg} at line {err.lineno})") from None


class _PipelineGroup(click.Group):
    """A group whose optional PIPELINE argument does not swallow a subcommand's name."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] in self.commands:
            args = ["loggrad", *args]
        elif not any(a in self.commands for a in args):
            ctx.allow_interspersed_args = True  # `logcam energy conventional --node 28`
        return super().parse_args(ctx, args)


@click.group(cls=_PipelineGroup, invoke_without_command=True)
@click.argument("pipeline", required=False, default="loggrad")
@click.option("--tech", type=click.Path(dir_okay=False), help="technology table YAML (default: Horowitz 45 nm)")
@click.option("--node", "node_nm", type=float, help="digital node of ISP and CNN, nm (default: the pipeline's)")
@click.option("--vdd", "vdd_v", type=float, help="digital supply, V (default: the node's nominal)")
@click.option("--fps", type=float, help="frame rate for mW (default: the pipeline's)")
@click.option("--activity", type=click.Choice(["analytic", "rtl"]), default="analytic", show_default=True,
              help="analytic counts, or RTL counters from --activity-file")
@click.option("--activity-file", type=click.Path(dir_okay=False),
              help='JSON of RTL counters per frame: {"rdc": {"beats", "nonzero"}, "layers": [{"mac_cycles", '
                   '"lb_access", "rom_reads", "out_beats"}, ...]}')
@click.option("--json", "as_json", is_flag=True, help="machine-readable report")
@click.pass_context
def cli(ctx: click.Context, pipeline: str, tech: str | None, node_nm: float | None, vdd_v: float | None,
        fps: float | None, activity: str, activity_file: str | None, as_json: bool) -> None:
    """Energy per pixel, per stage and component, of a sensing + CNN pipeline.

    Energy per frame = Σ (actions × energy per action, from a technology table where every number
    names its source) + leakage × frame time; reported in nJ/pixel, µJ/frame and mW.

    PIPELINE: conventional, loggrad (default), optical (configs/energy/backup/), or a YAML path.

    \b
    Example:
      logcam energy loggrad --node 28 --fps 60
      logcam energy compare --out results/energy
    """
    if ctx.invoked_subcommand is not None:
        return
    from logcam.energy.model import pipeline_energy

    acts = _load_activity(activity_file) if activity == "rtl" else None
    if activity == "rtl" and acts is None:
        raise InputError("--activity rtl: needs --activity-file with the RTL counters (JSON)")
    r = pipeline_energy(pipeline, tech=tech, node_nm=node_nm, vdd_v=vdd_v, fps=fps, activity=acts)
    click.echo(json.dumps(r, indent=2) if as_json else _fmt_report(r))


def compare_rows(reports: list[dict]) -> list[dict]:
    """CSV rows: pipeline, stage, nJ/pixel (plus a total row per pipeline)."""
    rows = []
    for r in reports:
        for stage, st in r["stages"].items():
            rows.append({"pipeline": r["pipeline"], "stage": stage, "nJ_per_pixel": st["nJ_per_pixel"]})
        rows.append({"pipeline": r["pipeline"], "stage": "total", "nJ_per_pixel": r["total_nJ_per_pixel"]})
    return rows


@cli.command()
@click.option("--tech", type=click.Path(dir_okay=False), help="technology table YAML")
@click.option("--node", "node_nm", type=float, help="digital node, nm")
@click.option("--out", type=click.Path(file_okay=False), help="folder for energy_compare.png and .csv")
@click.option("--json", "as_json", is_flag=True, help="machine-readable: each pipeline with stages and total")
def compare(tech: str | None, node_nm: float | None, out: str | None, as_json: bool) -> None:
    """Conventional vs log-gradient vs optical: nJ/pixel per stage, stacked bars and CSV.

    Example: logcam energy compare --out results/energy
    """
    from logcam.energy.model import PIPELINES, pipeline_energy

    reports = [pipeline_energy(n, tech=tech, node_nm=node_nm) for n in PIPELINES]
    rows = compare_rows(reports)
    if out is not None:
        from logcam.energy.plots import stacked_bars

        folder = Path(out)
        folder.mkdir(parents=True, exist_ok=True)
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=["pipeline", "stage", "nJ_per_pixel"])
        w.writeheader()
        w.writerows(rows)
        atomic_write(folder / "energy_compare.csv", lambda p: p.write_text(buf.getvalue()))
        stacked_bars(reports, folder / "energy_compare.png")
    if as_json:
        click.echo(json.dumps([{"pipeline": r["pipeline"], "total_nJ_per_pixel": r["total_nJ_per_pixel"],
                                "uJ_per_frame": r["uJ_per_frame"], "mW": r["mW"],
                                "stages": {k: v["nJ_per_pixel"] for k, v in r["stages"].items()}}
                               for r in reports], indent=2))
        return
    stages = ["sensor", "link", "isp", "cnn"]
    click.echo(f"{'pipeline':14s}" + "".join(f"{s:>10s}" for s in stages) + f"{'total':>10s}   (nJ/pixel)")
    for r in reports:
        vals = [r["stages"].get(s, {}).get("nJ_per_pixel", 0.0) for s in stages]
        click.echo(f"{r['pipeline']:14s}" + "".join(f"{v:10.4f}" for v in vals) + f"{r['total_nJ_per_pixel']:10.4f}")
    if out is not None:
        click.echo(f"wrote {Path(out) / 'energy_compare.csv'} and {Path(out) / 'energy_compare.png'}")


@cli.command()
@click.argument("grid", type=click.Path(dir_okay=False), required=False)
@click.option("--tech", type=click.Path(dir_okay=False), help="technology table YAML")
@click.option("--out", type=click.Path(file_okay=False), default="energy_sweep", show_default=True,
              help="folder for sweep.csv and sweep_pareto.png")
@click.option("--json", "as_json", is_flag=True, help="summary as JSON (points, seconds, Pareto front)")
def sweep(grid: str | None, tech: str | None, out: str, as_json: bool) -> None:
    """Sweep adc_bits × levels × c1 × node × fps in one numpy broadcast; CSV + Pareto plot.

    GRID is a YAML with the axes (default: configs/energy/backup/sweep.yaml). The Pareto front
    minimises total nJ/pixel and the grid's `objective` (macs, or link_bits per frame).

    Example: logcam energy sweep configs/energy/backup/sweep.yaml --out results/sweep
    """
    import time

    from logcam.config import embedded_config
    from logcam.energy.plots import pareto_plot
    from logcam.energy.sweeper import load_grid, pareto_front, write_csv
    from logcam.energy.sweeper import sweep as run_sweep
    from logcam.energy.tables import load_tech

    g = load_grid(grid if grid is not None else embedded_config("energy/backup/sweep.yaml"))
    import logcam.hw.rdc
    import logcam.nn.netspec  # noqa: F401  (imports paid before the timer: torch via nn.quant, amaranth)

    t0 = time.perf_counter()
    cols = run_sweep(g, load_tech(tech))
    seconds = time.perf_counter() - t0
    front = pareto_front(cols["objective"], cols["nJ_per_pixel"])
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    names = [Path(p).stem for p in g.pipelines]
    write_csv(cols, names, g.objective, folder / "sweep.csv")
    pareto_plot(cols["objective"], cols["nJ_per_pixel"], front, g.objective, folder / "sweep_pareto.png")
    pts = [{"pipeline": names[cols["pipeline"][i]], **{k: float(cols[k][i]) for k in
            ("adc_bits", "levels", "c1", "node_nm", "fps", "nJ_per_pixel", "mW", "objective")}} for i in front]
    summary = {"points": int(cols["mW"].size), "seconds": seconds, "points_per_s": cols["mW"].size / seconds,
               "csv": str(folder / "sweep.csv"), "plot": str(folder / "sweep_pareto.png"), "pareto": pts}
    if as_json:
        click.echo(json.dumps(summary, indent=2))
        return
    click.echo(f"{summary['points']} design points in {seconds:.3f} s ({summary['points_per_s']:.3g} points/s)")
    click.echo(f"Pareto front (nJ/pixel vs {g.objective}): {len(pts)} point(s)")
    for p in pts[:10]:
        click.echo(f"  {p['pipeline']:13s} adc_bits={p['adc_bits']:.0f} levels={p['levels']:.0f} c1={p['c1']:.0f} "
                   f"{p['node_nm']:g} nm {p['fps']:g} fps: {p['nJ_per_pixel']:.4f} nJ/pixel, "
                   f"{g.objective}={p['objective']:.4g}")
    click.echo(f"wrote {summary['csv']} and {summary['plot']}")


@cli.command(name="validate")
@click.option("--chips", type=click.Path(dir_okay=False), help="chips YAML (default: energy/data/chips_b.yaml)")
@click.option("--tech", type=click.Path(dir_okay=False), help="technology table YAML")
@click.option("--json", "as_json", is_flag=True, help="machine-readable rows and mean error")
def validate_cmd(chips: str | None, tech: str | None, as_json: bool) -> None:
    """Model vs published chips (each configured only from what its paper states): reported, model, error.

    Example: logcam energy validate --json
    """
    from logcam.energy.chips import validate_chips

    r = validate_chips(chips, tech)
    if as_json:
        click.echo(json.dumps(r, indent=2))
        return
    click.echo(f"{'chip':18s} {'node':>6s} {'unit':>9s} {'reported':>10s} {'model':>10s} {'error':>8s}  calibration")
    for c in r["chips"]:
        model = "—" if c["model"] is None else f"{c['model']:.4g}"
        err = "not modelled" if c["error"] is None else f"{100 * c['error']:+.1f}%"
        cal = ", ".join(f"{k}={v:g}" for k, v in c["calibration"].items()) or "none"
        click.echo(f"{c['name']:18s} {c['node_nm']:>4g}nm {c['unit']:>9s} {c['reported']:>10.4g} {model:>10s} "
                   f"{err:>8s}  {cal}")
    if r["mean_abs_error"] is not None:
        click.echo(f"mean |error| over {r['modelled']} modelled chips: {100 * r['mean_abs_error']:.1f}%")
