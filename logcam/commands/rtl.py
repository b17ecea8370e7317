"""``logcam rtl emit|lint|stat TARGET``: Verilog out, Verilator lint, Yosys cell/memory statistics.

TARGET names a design in :mod:`logcam.sim.rtl.targets` (``rdc``, ``accel``, ``top``). Each is built
from its config (``--config``: the RDC YAML for rdc, the NetSpec YAML for accel/top; default built-in).
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import click

from logcam.files import atomic_write
from logcam.sim.rtl.targets import target_names

TARGET = click.argument("target", type=click.Choice(target_names()))
CONFIG = click.option("--config", "config", type=click.Path(dir_okay=False, path_type=Path), default=None,
                      help="YAML config of the target (its section, e.g. `rdc:`, or a bare mapping).")
JSON = click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
WEIGHTS = click.option("--weights", type=click.Path(dir_okay=False, path_type=Path), default=None,
                       help="accel/top: weights bundle .npz of the NetSpec (default: seeded random int8).")
LANES = click.option("--lanes", type=click.IntRange(1, 64), default=None,
                     help="rdc/top: RDC columns per clock (overrides the config).")


def _component(target: str, config: Path | None, weights: Path | None = None, lanes: int | None = None):
    from logcam.errors import ConfigError
    from logcam.sim.rtl.targets import get_target

    t = get_target(target)
    overrides = {k: v for k, v in (("weights", weights), ("lanes", lanes)) if v is not None}
    if target == "rdc" and weights is not None:
        raise ConfigError("--weights applies to accel and top, not rdc")
    cfg, dut = t.component(config, **overrides)
    return t, cfg, dut


@click.group("rtl")
def cli() -> None:
    """Emit Verilog, lint it with Verilator, print Yosys statistics.

    Example: logcam rtl emit rdc -o rdc.v && logcam rtl lint rdc && logcam rtl stat rdc
    """


@cli.command("emit")
@TARGET
@CONFIG
@WEIGHTS
@LANES
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Verilog file to write (written to a temporary file, then renamed).")
def emit(target: str, config: Path | None, weights: Path | None, lanes: int | None, output: Path) -> None:
    """Write the Verilog of TARGET (top module named after the target)."""
    from logcam.sim.rtl.emit import emit_verilog

    t, _, dut = _component(target, config, weights, lanes)
    text = emit_verilog(dut, t.toplevel)
    output.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(output, lambda p: p.write_text(text, encoding="utf-8"))
    click.echo(f"wrote {output} ({len(text.splitlines())} lines, top module {t.toplevel})", err=True)


@cli.command("lint")
@TARGET
@CONFIG
@WEIGHTS
@LANES
@JSON
def lint(target: str, config: Path | None, weights: Path | None, lanes: int | None, as_json: bool) -> None:
    """Run `verilator --lint-only -Wall` on TARGET's Verilog; exit 1 on any warning.

    The only waivers are the named ones of logcam.sim.rtl.emit.LINT_WAIVERS, each explained
    (artefacts of Amaranth's Verilog writer); warnings stay fatal.
    """
    from logcam.sim.rtl.emit import emit_verilog, lint_verilog

    t, _, dut = _component(target, config, weights, lanes)
    with tempfile.TemporaryDirectory(prefix="logcam-lint-") as tmp:
        path = Path(tmp) / f"{t.toplevel}.v"
        path.write_text(emit_verilog(dut, t.toplevel))
        rep = lint_verilog(str(path), t.toplevel)
    if as_json:
        click.echo(json.dumps({"target": target, "clean": rep.clean, "returncode": rep.returncode,
                               "messages": rep.messages, "waivers": rep.waivers}, indent=2))
    else:
        for msg in rep.messages:
            click.echo(msg)
        click.echo(f"{target}: " + ("clean" if rep.clean else f"{len(rep.messages)} message(s)")
                   + f" (verilator --lint-only -Wall, waived: {', '.join(rep.waivers)})")
    if not rep.clean:
        sys.exit(1)


@cli.command("stat")
@TARGET
@CONFIG
@WEIGHTS
@LANES
@JSON
@click.option("--per-layer", is_flag=True,
              help="accel: one row per layer ($mul cells, cells, adders, memory and FF bits); shows that the "
                   "first layer on RDC codes has no multiplier.")
def stat(target: str, config: Path | None, weights: Path | None, lanes: int | None, as_json: bool,
         per_layer: bool) -> None:
    """Yosys word-level statistics of TARGET: cells by type (count, output bits), memories, flip-flops.

    Example: logcam rtl stat accel --per-layer
    """
    from logcam.sim.rtl.emit import yosys_stat

    if per_layer:
        if target != "accel":
            from logcam.errors import ConfigError

            raise ConfigError(f"--per-layer applies to accel, not {target}")
        from logcam.commands._accel_cli import print_layer_stats

        print_layer_stats(config, weights, as_json=as_json)
        return
    t, _, dut = _component(target, config, weights, lanes)
    s = yosys_stat(dut, t.toplevel)
    if as_json:
        click.echo(json.dumps(s, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{target}: Yosys cells (proc; flatten; opt; wreduce — before technology mapping)")
    table.add_column("cell")
    table.add_column("count", justify="right")
    table.add_column("output bits", justify="right")
    for typ, n in s["cells"].items():
        table.add_row(typ, str(n), str(s["cell_bits"].get(typ, "")))
    console = Console()
    console.print(table)
    console.print(f"cells {s['num_cells']}, flip-flop bits {s['num_ff_bits']}, memories {s['num_memories']} "
                  f"({s['num_memory_bits']} bits); by kind: "
                  + ", ".join(f"{k} {v}" for k, v in s["by_kind"].items()))
