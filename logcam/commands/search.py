"""``logcam search CONFIG``: SACoD-style co-search of the optical front-end and the network (docs/search.md)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click


def measured_energy(res: object, cfg: object, stats: dict, frames: int) -> dict:
    """The RTL-counted CNN activity of the exported network beside the analytic one (count by count) and the
    nJ/pixel it gives (read-out included, as in the search's cost)."""
    from logcam.energy.activity import cnn_activity
    from logcam.energy.components import stage_pj
    from logcam.energy.rtl_activity import cnn_activity_measured
    from logcam.energy.tech import TechTable
    from logcam.search.space import readout_pj

    spec = res.spec  # type: ignore[attr-defined]
    got, want = cnn_activity_measured(spec, stats), cnn_activity(spec)
    fields = ("macs", "adds", "sram_read_bits", "sram_write_bits")
    equal = {f: getattr(got, f) == (
        {k: frames * c for k, c in getattr(want, f).items()} if isinstance(getattr(want, f), dict)
        else frames * getattr(want, f)) for f in fields}
    tech = TechTable.load()
    size = spec.input.height
    cnn = sum(stage_pj(got, tech).components.values()) / frames
    nj = (cnn + readout_pj(cfg, size, tech)) / (size * size) / 1000.0  # type: ignore[arg-type]
    return {"activity_equal": equal, "nj_per_pixel_measured": nj}


@click.command("search")
@click.argument("config", type=click.Path(dir_okay=False, path_type=Path), required=False)
@click.option("--quick", is_flag=True, help="Without CONFIG: the embedded quick config (minutes on 2 cores).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("runs/search"),
              show_default=True, help="Folder for checkpoint.pt, summary.json and the exported NAME.yaml/.npz.")
@click.option("--resume", is_flag=True, help="Continue from OUT/checkpoint.pt (same config) to the same bits.")
@click.option("--epochs", type=click.IntRange(1, 1000), default=None, help="Override the config's search epochs.")
@click.option("--seed", type=click.IntRange(0, 2**31 - 1), default=None, help="Override the config's seed.")
@click.option("--verify", "sim", type=click.Choice(["verilator", "amaranth", "none"]), default="verilator",
              show_default=True, help="Check the exported network against the golden model in RTL.")
@click.option("--frames", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Test-split frames streamed through the RTL.")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON (progress bar off).")
def cli(config: Path | None, quick: bool, out_dir: Path, resume: bool, epochs: int | None, seed: int | None,
        sim: str, frames: int, as_json: bool) -> None:
    """Search the mask and an FBNet-style network over the accelerator's operators under an energy (nJ/pixel)
    or FLOPs cost, retrain the winner, export it to int8 and check it in RTL. Exit 1 on an RTL mismatch.

    Examples:

        logcam search --quick --out /tmp/sq

        logcam search configs/search/default.yaml --out runs/search --resume
    """
    from logcam.config import embedded_config
    from logcam.errors import ConfigError
    from logcam.files import atomic_write, check_folder, make_folder
    from logcam.nn.export import write_export
    from logcam.search.config import load_search_config
    from logcam.search.run import run_search

    if config is None:
        config = embedded_config("search/quick.yaml" if quick else "search/default.yaml")
    elif quick:
        raise ConfigError("--quick: give either --quick or CONFIG, not both")
    over = {k: v for k, v in (("epochs", epochs), ("seed", seed)) if v is not None}
    cfg = load_search_config(config, over)
    check_folder(out_dir)
    make_folder(out_dir)
    show = not as_json and sys.stderr.isatty()
    if show:
        from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

        bar = Progress(TextColumn("search"), BarColumn(), TextColumn("{task.completed}/{task.total} epochs"),
                       TextColumn("{task.fields[info]}"), TimeRemainingColumn(), transient=True)
        task = bar.add_task("search", total=cfg.epochs, info="")
        bar.start()

        def progress(epoch: int, total: int, rec: dict) -> None:
            bar.update(task, completed=epoch, info=f"τ {rec['tau']:.2f} {rec['nj_per_pixel']:.3f} nJ/px")
    else:
        progress = None  # type: ignore[assignment]
    try:
        res = run_search(cfg, out_dir, resume=resume, progress=progress)
    finally:
        if show:
            bar.stop()
    ypath, npath = write_export(res.spec, res.bundle, out_dir / cfg.name,
                                header=f"{cfg.name}: found by `logcam search {config}` (choice {res.choice})")
    summary = {"config": str(config), **res.summary, "netspec": str(ypath), "bundle": str(npath)}
    if sim != "none":
        from logcam.sim.rtl.accel_verify import verify_accel

        assert res.frames is not None
        if sim == "amaranth":  # Amaranth's Python simulator prints wide line-memory constants as decimal source
            sys.set_int_max_str_digits(0)
        v = verify_accel(res.spec, res.bundle, res.frames[:frames], sim=sim)
        summary["rtl"] = {"sim": sim, "frames": frames, "mismatches": v.mismatches, "cycles": v.cycles}
        if v.passed and v.extra.get("stats"):
            summary["rtl"].update(measured_energy(res, cfg, v.extra["stats"], frames))
    text = json.dumps({"summary": summary, "history": res.history}, indent=2)
    atomic_write(out_dir / "summary.json", lambda p: p.write_text(text, encoding="utf-8"))
    if as_json:
        click.echo(json.dumps(summary, indent=2))
    else:
        click.echo(f"architecture: {' | '.join(res.choice)} ({cfg.cost} cost, λ {cfg.lam:g})")
        click.echo(f"accuracy (test): float {summary['float_test_acc']:.3f}, "
                   f"int8 golden {summary['int8_test_acc']:.3f}")
        click.echo(f"cost: {summary['nj_per_pixel']:.4f} nJ/pixel (analytic, read-out included), "
                   f"{summary['mflops']:.4f} MFLOPs/frame")
        if "rtl" in summary:
            r = summary["rtl"]
            click.echo(f"RTL ({sim}, {frames} frame(s)): {'bit-exact' if r['mismatches'] == 0 else 'MISMATCH'}")
        click.echo(f"exported: {ypath}, {npath}")
    if "rtl" in summary and summary["rtl"]["mismatches"]:
        sys.exit(1)
