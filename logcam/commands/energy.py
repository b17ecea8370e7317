"""``logcam energy``: energy per pixel per stage from sourced technology tables.

Examples::

    logcam energy                          # the log-gradient pipeline, analytic activity
    logcam energy conventional --node 16   # a shipped pipeline at 16 nm
    logcam energy my.yaml --activity rtl --activity-file counts.json --json
    logcam energy compare --out-dir runs/energy
    logcam energy sweep configs/energy/sweep.yaml --out-dir runs/sweep
    logcam energy validate
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import click

from logcam.errors import InputError

if TYPE_CHECKING:
    from logcam.files import OutputSet

PIPELINES = ("conventional", "conventional_soc", "loggrad", "optical", "lens")


def _tech(tech: str | None, scaling: str | None, sets: dict[str, object] | None = None):
    from logcam.energy.tech import Scaling, TechTable

    return TechTable.load(tech, sets or {}), Scaling.load(scaling)


def _split_sets(sets: tuple[str, ...]) -> tuple[dict[str, object], dict[str, object]]:
    """``--set`` items → (tech-table entries, pipeline fields): a dotted name whose first part is a
    pipeline section (sensor.width, readout.levels, cnn.net, …) sets the pipeline, anything else a table entry."""
    from logcam.config import parse_sets
    from logcam.energy.pipeline import PipelineCfg

    over = parse_sets(sets, "adc_walden_fom=10 (in the entry's unit) or sensor.width=96")
    pipe = {k: v for k, v in over.items() if "." in k and k.split(".")[0] in PipelineCfg.model_fields}
    return {k: v for k, v in over.items() if k not in pipe}, pipe


def _with_sets(cfg, sets: dict[str, object]):
    """The pipeline config with dotted ``--set`` overrides applied (validated again: one line per problem)."""
    from logcam.energy.pipeline import pipeline_from_dict

    if not sets:
        return cfg
    d = cfg.model_dump()
    for name, value in sets.items():
        *path, leaf = name.split(".")
        node = d
        for part in path:
            if node.get(part) is None:
                node[part] = {}
            node = node[part]
            if not isinstance(node, dict):
                raise InputError(f"--set {name}: {part} is not a section")
        node[leaf] = value
    return pipeline_from_dict(d, where="--set")


def _out_dir(out_dir: str) -> Path:
    """``--out-dir``, checked before any work: a folder, or a place where one can be made (nothing is made yet)."""
    from logcam.files import check_folder

    try:
        return check_folder(out_dir)
    except InputError as err:
        raise InputError(f"--out-dir {err}") from None


@contextlib.contextmanager
def _outputs(out: Path) -> Iterator[OutputSet]:
    """Stage a command's files in folder ``out`` (made now if missing); all appear at the end, or none —
    and a folder made here is removed again — if anything fails."""
    from logcam.files import make_folder, outputs

    made = [d for d in (out, *out.parents) if not d.exists()]
    make_folder(out)
    try:
        with outputs() as staged:
            yield staged
    except BaseException:
        for d in made:  # deepest first; only folders this command made, and only while empty
            with contextlib.suppress(OSError):
                d.rmdir()
        raise


def _plot_path(plot: str) -> Path:
    """``--plot``, checked before any work: a known format by its ending, a file name in a folder we can write."""
    from logcam.energy.report import PLOT_FORMATS
    from logcam.files import check_writable

    p = Path(plot)
    fmt = p.suffix.lstrip(".").lower()
    if fmt not in PLOT_FORMATS:
        raise InputError(f"--plot {plot}: the name's ending gives the format: "
                         f"{', '.join('.' + f for f in PLOT_FORMATS)} (got {p.suffix or 'no ending'!r})")
    try:
        return check_writable(p)
    except InputError as err:
        raise InputError(f"--plot {err}") from None


def _breakdown(pipeline: str, tech, scaling, node: int | None, activity: str, activity_file: str | None,
               sets: dict[str, object] | None = None, rtl_overheads: bool = False):
    """(Breakdown, measured stage names) of a pipeline; with ``activity == "rtl"`` the stages in
    ``activity_file`` replace the analytic ones (see :func:`_activities`); ``sets``: pipeline overrides;
    ``rtl_overheads``: the flip-flops of the RDC and CNN counted by Yosys from their RTL, costed per clocked
    cycle, and the CNN's SRAM costed by its RTL memory sizes."""
    from logcam.energy.pipeline import energy, load_pipeline

    cfg, base = load_pipeline(pipeline)
    cfg = _with_sets(cfg, sets or {})
    acts, measured = _activities(cfg, base, activity, activity_file)
    if not rtl_overheads:
        return energy(cfg, tech, scaling, acts, node_nm=node), measured
    from logcam.energy.overheads import pipeline_rtl_overheads

    o = pipeline_rtl_overheads(cfg, base, tech)
    return energy(cfg, tech, scaling, acts, node_nm=node, ff_bit_cycles=o.ff_bit_cycles, sram_bit_pj=o.sram_bit_pj,
                  ff_bits=o.ff_bits), measured


def _activities(cfg, base, activity: str, activity_file: str | None):
    """(stage → Activity, measured stage names): analytic activity of every stage; with ``--activity rtl`` the
    stages present in the file (per frame, its geometry checked against the sensor's) replace theirs."""
    from logcam.energy.activity import load_activity
    from logcam.energy.pipeline import analytic_activity

    if activity == "rtl" and activity_file is None:
        raise InputError("--activity-file: required with --activity rtl (a logcam-activity/1 JSON)")
    if activity != "rtl" and activity_file is not None:
        raise InputError("--activity-file: read only with --activity rtl (without it every stage is analytic)")
    measured = {}
    if activity == "rtl":
        measured = load_activity(activity_file, width=cfg.sensor.width, height=cfg.sensor.height)
    acts = analytic_activity(cfg, base)
    acts.update(measured)
    return acts, sorted(measured)


tech_opt = click.option("--tech", type=click.Path(), default=None,
                        help="technology table YAML (default: the shipped Horowitz/CamJ table)")
scaling_opt = click.option("--scaling", type=click.Path(), default=None,
                           help="node-scaling table: hp (default) or lp (Stillmaker & Baas rows), or a YAML path")


class _DefaultGroup(click.Group):
    """A group whose first argument, when it is not a subcommand, is the PIPELINE of the default action."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not args or (args[0] not in self.commands and args[0] not in ("-h", "--help")):
            args = ["show", *args]
        return super().parse_args(ctx, args)


@click.group(cls=_DefaultGroup, context_settings={"help_option_names": ["-h", "--help"]})
def cli():
    """Energy per pixel (nJ/pixel) per stage from sourced technology tables.

    \b
    logcam energy [PIPELINE.yaml] [--tech T] [--node NM] [--activity analytic|rtl] [--json]
    prints the per-stage breakdown of PIPELINE (a YAML path or a shipped name: conventional,
    loggrad (default), optical, lens); `logcam energy show --help` lists its options.
    Subcommands: compare, sweep, validate.

    Example: logcam energy conventional --node 16 --json
    """


@cli.command(hidden=True)
@click.argument("pipeline", required=False, default="loggrad")
@tech_opt
@scaling_opt
@click.option("--node", type=int, default=None, help="digital node in nm for ISP and CNN (default: the pipeline's)")
@click.option("--activity", type=click.Choice(["analytic", "rtl"]), default="analytic", show_default=True,
              help="analytic counts from the configs, or counts an RTL bench wrote (--activity-file)")
@click.option("--activity-file", type=click.Path(), default=None, help="logcam-activity/1 JSON (with --activity rtl)")
@click.option("--set", "sets", multiple=True, metavar="NAME=VALUE",
              help="override a table entry in its own unit, e.g. --set adc_walden_fom=10 (fJ/step), or a "
                   "pipeline field, e.g. --set sensor.width=96 --set cnn.net=my_net.yaml")
@click.option("--rtl-overheads", is_flag=True,
              help="add the RDC's and CNN's flip-flops (clock pins and leakage), counted by Yosys from their RTL, "
                   "and cost the CNN's memories by their RTL sizes (seconds)")
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
def show(pipeline, tech, scaling, node, activity, activity_file, sets, rtl_overheads, as_json):
    """Per-stage nJ/pixel of PIPELINE (YAML path or conventional/conventional_soc/loggrad/optical/lens), µJ/frame, mW.

    With --activity rtl the stages in --activity-file (written by `logcam verify rdc|accel|top
    --activity-out`) are measured, the others analytic; the output says which.

    Example: logcam energy loggrad --node 16 --json
    """
    from logcam.energy.report import breakdown_text

    tech_sets, pipe_sets = _split_sets(sets)
    t, s = _tech(tech, scaling, tech_sets)
    b, measured = _breakdown(pipeline, t, s, node, activity, activity_file, pipe_sets, rtl_overheads)
    source = {"measured": measured, "analytic": sorted(set(b.stages) - set(measured)),
              **({"file": str(activity_file)} if activity == "rtl" else {})}
    if as_json:
        click.echo(json.dumps({**b.to_json(), "activity": source}, indent=2))
    else:
        click.echo(breakdown_text(b))
        if activity == "rtl":
            click.echo(f"activity: measured (RTL, {activity_file}): {', '.join(measured) or 'none'}; "
                       f"analytic: {', '.join(source['analytic']) or 'none'}")


@cli.command()
@tech_opt
@scaling_opt
@click.option("--out-dir", type=click.Path(), default="runs/energy", show_default=True,
              help="folder for compare.csv and compare.png")
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
def compare(tech, scaling, out_dir, as_json):
    """The shipped pipelines side by side: stacked nJ/pixel bars per stage and a CSV.

    Example: logcam energy compare --out-dir runs/energy
    """
    from logcam.energy.report import breakdown_text, plot_stacked, write_compare_csv

    out = _out_dir(out_dir)
    t, s = _tech(tech, scaling)
    rows = [_breakdown(p, t, s, None, "analytic", None)[0] for p in PIPELINES]
    with _outputs(out) as files:
        write_compare_csv(out / "compare.csv", rows, files)
        plot_stacked(out / "compare.png", rows, files)
    if as_json:
        click.echo(json.dumps({"pipelines": [
            {"name": b.name, "stages": b.stage_nj_per_pixel(), "total_nj_per_pixel": b.total_nj_per_pixel}
            for b in rows], "csv": str(out / "compare.csv"), "plot": str(out / "compare.png")}, indent=2))
    else:
        for b in rows:
            click.echo(breakdown_text(b))
        click.echo(f"wrote {out / 'compare.csv'} and {out / 'compare.png'}")


@cli.command()
@click.argument("grid", type=click.Path())
@tech_opt
@scaling_opt
@click.option("--out-dir", type=click.Path(), default="runs/sweep", show_default=True,
              help="folder for sweep.csv and pareto.png")
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
def sweep(grid, tech, scaling, out_dir, as_json):
    """Sweep GRID.yaml (readout × c1 × node_nm × fps), vectorised; CSV and a Pareto plot.

    The Pareto front is total nJ/pixel against the grid's objective: macs or first_layer_bits
    (lower is better) or accuracy from a results CSV (higher is better).

    Example: logcam energy sweep configs/energy/sweep.yaml --out-dir runs/sweep
    """
    from logcam.energy.report import plot_pareto, write_sweep_csv
    from logcam.energy.sweep import load_grid, pareto_mask, run_sweep

    out = _out_dir(out_dir)
    t, s = _tech(tech, scaling)
    g = load_grid(grid)
    r = run_sweep(g, Path(grid).parent, t, s)
    cost, other = r.columns["total_nj_per_pixel"], r.columns[g.objective]
    mask = pareto_mask(cost, other, maximize_other=g.objective == "accuracy")
    with _outputs(out) as files:
        write_sweep_csv(out / "sweep.csv", r.columns, files)
        plot_pareto(out / "pareto.png", cost, other, mask, g.objective, files)
    front = [{k: (v[i].item() if hasattr(v[i], "item") else v[i]) for k, v in r.columns.items()}
             for i in mask.nonzero()[0]]
    if as_json:
        click.echo(json.dumps({"points": r.points, "pareto": front, "csv": str(out / "sweep.csv"),
                               "plot": str(out / "pareto.png")}, indent=2))
    else:
        click.echo(f"{r.points} design points; Pareto front (total nJ/pixel vs {g.objective}):")
        for p in front:
            click.echo(f"  {p['readout']:>6} c1={p['c1']:<3} {p['node_nm']:>3} nm {p['fps']:>6g} fps  "
                       f"{p['total_nj_per_pixel']:.4g} nJ/pixel  {g.objective}={p[g.objective]:.4g}")
        click.echo(f"wrote {out / 'sweep.csv'} and {out / 'pareto.png'}")


@cli.command()
@click.option("--chips", type=click.Path(), default=None, help="chips YAML (default: the shipped chips.yaml)")
@tech_opt
@scaling_opt
@click.option("--plot", type=click.Path(), default=None,
              help="also write a bar chart of model ÷ reported per chip, stacked by stage; the name ends in "
                   ".png, .svg or .pdf")
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
def validate(chips, tech, scaling, plot, as_json):
    """Model vs reported energy of published chips, the error per chip and the mean absolute error.

    Every chip is modelled with the one shared table; paper-stated factors and node stand-ins are printed
    under the chip, calibration constants (none today) in the last column.

    Examples: logcam energy validate --json;  logcam energy validate --plot runs/energy/validate.png
    """
    from logcam.energy.validate import mean_abs_error, validate_chips

    p = _plot_path(plot) if plot is not None else None
    t, s = _tech(tech, scaling)
    res = validate_chips(chips, t, s)
    mae = mean_abs_error(res)
    if p is not None:
        from logcam.energy.report import plot_validation

        plot_validation(p, res)
    if as_json:
        click.echo(json.dumps({"chips": [r.to_json() for r in res], "mean_abs_error": mae}, indent=2))
        return
    click.echo(f"{'chip':<22} {'unit':<9} {'reported':>9} {'logcam':>9} {'error':>8} {'CamJ':>9} {'error':>8}"
               f"  calibration")
    for r in res:
        cj = f"{r.camj:>9.4g} {r.camj_error:>+8.1%}" if r.camj is not None else f"{'—':>9} {'':>8}"
        if r.model is None:
            click.echo(f"{r.name:<22} {r.unit:<9} {r.reported:>9.4g} {'n/a':>9} {'':>8} {cj}  "
                       f"not configured: {r.why}")
            continue
        cal = ", ".join(f"{k}={v}" for k, v in r.calibration.items()) or "none"
        click.echo(f"{r.name:<22} {r.unit:<9} {r.reported:>9.4g} {r.model:>9.4g} {r.error:>+8.1%} {cj}  {cal}")
        if r.circuits:
            click.echo(f"{'':<24}circuits (pJ per action): "
                       + ", ".join(f"{k} {v:.4g}" for k, v in r.circuits.items()))
        if r.missing and abs(r.error) > 0.2:
            click.echo(f"{'':<24}outside ±20 %; missing or unsourced: {r.missing}")
        if len(r.stages) > 1:
            click.echo(f"{'':<24}stages: " + ", ".join(f"{k} {v:.4g}" for k, v in r.stages.items()))
        for k, v in r.paper_factors.items():
            click.echo(f"{'':<24}paper factor on {k}: ×{v:.4g} (stated in the paper, not fitted)")
        if r.node_note:
            click.echo(f"{'':<24}node: {r.node_note}")
    click.echo(f"mean absolute error over {sum(r.model is not None for r in res)} chips: {mae:.1%}"
               " (CamJ: — where its per-chip estimate is not published in a reachable source)")
