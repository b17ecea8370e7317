"""``logcam run``: the main job on the embedded defaults or a config file."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click


@click.command("run")
@click.argument("config", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("-o", "--out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Run folder to create (default: runs/run-<UTC time>). Must not exist.")
@click.option("--seed", type=int, default=None, help="Override the config's seed (scenes, noise, fixed patterns).")
@click.option("--no-rtl", is_flag=True, help="Skip the RTL check (golden models only; no Verilator build).")
@click.option("--sim", type=click.Choice(["verilator", "amaranth"]), default=None,
              help="Simulator for the RTL check (default from the config: verilator).")
@click.option("--json", "as_json", is_flag=True, help="Print summary.json to stdout instead of a report.")
def cli(config: Path | None, out: Path | None, seed: int | None, no_rtl: bool, sim: str | None,
        as_json: bool) -> None:
    """Run the main job: scenes → sensor → RDC → CNN → label, RTL checked, report.

    With no CONFIG it uses the embedded defaults (configs/default.yaml): four scenes (procedural and a
    photograph) at 200 lux through the tinyml_cmos sensor preset (EMVA 1288 model, 10-bit ADC), 3-level
    RDC codes from the golden model, the same frames through the RDC RTL under Verilator compared code by
    code. Exits 1 if the RTL disagrees with the golden model anywhere.

    \b
    Example:
      logcam run                          # embedded defaults, folder runs/run-<time>/
      logcam run my.yaml -o runs/dim --seed 3
    """
    from rich.console import Console

    from logcam.run import default_out_dir, load_run_config, run_pipeline

    cfg = load_run_config(config)
    update: dict = {}
    if seed is not None:
        update["seed"] = seed
    if no_rtl or sim:
        rtl = {"check": cfg.rtl.check and not no_rtl, **({"sim": sim} if sim else {})}
        update["rtl"] = cfg.rtl.model_copy(update=rtl)
    if update:
        cfg = cfg.model_copy(update=update)
    out_dir = out if out is not None else default_out_dir()
    console = Console(stderr=True)
    with console.status("logcam run") as status:
        summary = run_pipeline(cfg, out_dir, progress=lambda msg: status.update(f"logcam run: {msg}"))
    failed = any(not r.get("passed", True) for r in summary.get("rtl", {}).values())
    if as_json:
        click.echo(json.dumps(summary, indent=2))
    else:
        _report(summary, console)
    if failed:
        sys.exit(1)


def _report(summary: dict, console) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"logcam run → {summary['out_dir']}", title_justify="left")
    cnn = summary.get("cnn")
    cols = ["frame", "lux min–max", "mean DN", "saturated", "zero codes"] + (["CNN label"] if cnn else [])
    for col in cols:
        table.add_column(col, justify="left" if col in ("frame", "CNN label") else "right")
    for s in summary["scenes"]:
        label = []
        if cnn:
            mark = "" if "true_label" not in s else (" ✓" if s["label"] == s["true_label"] else " ✗")
            label = [s["label_name"] + mark]
        table.add_row(s["name"], f"{s['lux_min']:.3g}–{s['lux_max']:.3g}", f"{s['raw_dn_mean']:.1f}",
                      f"{100 * s['raw_saturated_fraction']:.1f} %", f"{100 * s['code_zero_fraction']:.1f} %", *label)
    out = Console()
    out.print(table)
    d = summary["data"]
    out.print(f"data per pixel: RAW {d['raw_bits_per_pixel']} bits → RDC codes {d['code_bits_per_pixel']} bits "
              f"({d['code_information_bits_per_pixel']} bits of information)")
    energy = summary.get("energy", {})
    if energy:
        stages = sorted({st for e in energy.values() for st in e["stages"]},
                        key=["sensor", "readout", "link", "isp", "cnn"].index)
        et = Table(title=f"energy, nJ/pixel (analytic activity × sourced tech table; {summary['config']['node_nm']} nm "
                         f"digital, {summary['config']['fps']:g} fps) — details: logcam energy --help",
                   title_justify="left")
        for col in ("pipeline", *stages, "total", "mW"):
            et.add_column(col, justify="left" if col == "pipeline" else "right")
        for name, e in energy.items():
            et.add_row(name, *[f"{e['stages'][st]['nj_per_pixel']:.4f}" if st in e["stages"] else "—"
                               for st in stages], f"{e['total_nj_per_pixel']:.4f}", f"{e['mw']:.4g}")
        out.print(et)
    if cnn:
        out.print(f"CNN {cnn['net']}: {cnn['macs_per_frame']:,} MACs per frame; synthetic objects labelled "
                  f"correctly: {cnn['objects_correct']}/{cnn['objects']} (✓/✗ above; scenes have no true label)")
    for name, r in summary.get("rtl", {}).items():
        status = "[green]PASS[/]" if r["passed"] else "[red]FAIL[/]"
        what = "codes, every layer, logits and labels" if name == "top" else "codes"
        cpf = r.get("extra", {}).get("cycles_per_frame", r["cycles"] / max(1, r["frames"]))
        out.print(f"RTL {name} on {r['sim']}: {status} — {what} of {r['frames']} frames compared with the golden "
                  f"models, {r['mismatches']} mismatches; {r['cycles']} cycles in all (ideal {r['ideal_cycles']}), "
                  f"{cpf:.0f} per frame; simulated in {r['wall_s']} s")
        for m in r.get("first_mismatches", [])[:5]:
            out.print(f"  {m}")
    out.print(f"wrote {summary['out_dir']}/ (overview.png, summary.json) in {summary['wall_s']} s")
