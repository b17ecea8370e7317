"""``logcam doctor``: what the RTL flow needs, what is here, and how to get what is missing."""

from __future__ import annotations

import json
import sys

import click

from logcam.toolchain import tools

RTL_TOOLS = ("verilator", "c++", "make", "perl", "yosys")


@click.command("doctor")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object instead of a table.")
def cli(as_json: bool) -> None:
    """Check the toolchain: Verilator, C++ compiler, make, perl, Yosys, torch.

    Exits 1 if the RTL flow (Verilator under cocotb) cannot run on this machine.
    """
    found = tools()
    rtl_ok = all(t.ok for t in found if t.name in RTL_TOOLS)
    if as_json:
        click.echo(json.dumps({
            "tools": [{"name": t.name, "version": t.version, "ok": t.ok, "needed_for": t.needed_for,
                       "hint": None if t.ok else t.hint} for t in found],
            "rtl_flow": rtl_ok}, indent=2))
    else:
        for t in found:
            mark = "ok     " if t.ok else "MISSING"
            detail = t.version if t.ok else f"{t.needed_for}: {t.hint}"
            click.echo(f"{mark} {t.name:<10} {detail}")
        click.echo("RTL flow: " + ("ready" if rtl_ok else "cannot run (see MISSING above)"))
    if not rtl_ok:
        sys.exit(1)
