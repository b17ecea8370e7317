"""``logcam rtl emit|lint|stat TARGET``: Verilog out, Verilator lint, Yosys cell/memory statistics.

TARGET names a design in :mod:`logcam.sim.rtl.targets` (``rdc``, ``accel``, ``top``). ``rdc`` is built
from an RDC YAML (``--config``), ``accel`` and ``top`` from a NetSpec (``--net``) and its weights, as
``logcam verify`` builds them; default: the built-in designs.
"""

from __future__ import annotations

import json
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from logcam.commands.options import JSON, NET, RANDOM_WEIGHTS, WEIGHTS
from logcam.files import atomic_write, check_writable
from logcam.sim.rtl.targets import DesignOptions, get_target, target_names

TARGET = click.argument("target", type=click.Choice(target_names()))
CONFIG = click.option("--config", "config", type=click.Path(dir_okay=False, path_type=Path), default=None,
                      help="rdc: RDC YAML (its `rdc:` section, or a bare mapping). Default: the built-in RDC.")
LANES = click.option("--lanes", type=click.IntRange(1, 64), default=None,
                     help="rdc/top: RDC columns per clock (overrides the config).")


def design_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """What configures a design: ``--config`` (rdc), ``--net``/``--weights``/``--random-weights`` (accel,
    top), ``--lanes`` (rdc, top)."""
    return CONFIG(NET(WEIGHTS(RANDOM_WEIGHTS(LANES(fn)))))


def _component(target: str, **options: Any) -> tuple[Any, Any, Any]:
    t = get_target(target)
    cfg, dut = t.component(DesignOptions(**options))
    return t, cfg, dut


@click.group("rtl")
def cli() -> None:
    """Emit Verilog, lint it with Verilator, print Yosys statistics.

    Example: logcam rtl emit rdc -o rdc.v && logcam rtl lint rdc && logcam rtl stat rdc
    """


@cli.command("emit")
@TARGET
@design_options
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Verilog file to write (written to a temporary file, then renamed).")
def emit(target: str, output: Path, **options: Any) -> None:
    """Write the Verilog of TARGET (top module named after the target).

    Example: logcam rtl emit top --net configs/nets/2conv1fc.yaml --lanes 4 -o top.v
    """
    from logcam.sim.rtl.emit import emit_verilog

    check_writable(output)
    t, _, dut = _component(target, **options)
    text = emit_verilog(dut, t.toplevel)
    atomic_write(output, lambda p: p.write_text(text, encoding="utf-8"))
    click.echo(f"wrote {output} ({len(text.splitlines())} lines, top module {t.toplevel})", err=True)


@cli.command("lint")
@TARGET
@design_options
@JSON
def lint(target: str, as_json: bool, **options: Any) -> None:
    """Run `verilator --lint-only -Wall` on TARGET's Verilog; exit 1 on any warning.

    The only waivers are the named ones of logcam.sim.rtl.emit.LINT_WAIVERS, each explained
    (artefacts of Amaranth's Verilog writer); warnings stay fatal.
    """
    from logcam.sim.rtl.emit import emit_verilog, lint_verilog

    t, _, dut = _component(target, **options)
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
@design_options
@JSON
@click.option("--per-layer", is_flag=True,
              help="accel: one row per layer ($mul cells, cells, adders, memory and FF bits); shows that the "
                   "first layer on RDC codes has no multiplier.")
def stat(target: str, as_json: bool, per_layer: bool, **options: Any) -> None:
    """Yosys word-level statistics of TARGET: cells by type (count, output bits), memories, flip-flops.

    Example: logcam rtl stat accel --per-layer
    """
    from logcam.sim.rtl.emit import yosys_stat

    if per_layer:
        if target != "accel":
            from logcam.errors import ConfigError

            raise ConfigError(f"--per-layer applies to accel, not {target}")
        _, (spec, bundle), _ = _component(target, **options)
        print_layer_stats(spec, bundle, as_json)
        return
    t, _, dut = _component(target, **options)
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


def print_layer_stats(spec: Any, bundle: Any, as_json: bool) -> None:
    """Yosys statistics per accelerator layer ($mul cells, cells, adders, memory and FF bits)."""
    from logcam.sim.rtl.emit import layer_stats

    stats = layer_stats(spec, bundle)
    if as_json:
        click.echo(json.dumps(stats, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{spec.name}: Yosys cells per layer (proc; flatten; opt; wreduce)")
    for col in ("layer", "type", "$mul cells", "cells", "adders", "memory bits", "FF bits", "line buffer bits",
                "FIFO bits", "skip FIFO bits", "note"):
        table.add_column(col, justify="right" if col not in ("type", "note") else "left")
    for s in stats:
        note = "multiplier-free (codes)" if s["multiplier_free"] else ""
        table.add_row(str(s["layer"]), s["type"], str(s["multipliers"]), str(s["num_cells"]),
                      str(s["by_kind"].get("adder", 0)), str(s["num_memory_bits"]), str(s["num_ff_bits"]),
                      str(s["line_buffer_bits"]), str(s["fifo_bits"]), str(s["skip_fifo_bits"]), note)
    console = Console()
    console.print(table)
    total = {k: sum(s[k] for s in stats) for k in ("line_buffer_bits", "fifo_bits", "skip_fifo_bits")}
    console.print(f"buffers sized from the NetSpec: line buffers {total['line_buffer_bits']} bits, inter-layer "
                  f"FIFOs {total['fifo_bits']} bits, skip FIFOs {total['skip_fifo_bits']} bits")
