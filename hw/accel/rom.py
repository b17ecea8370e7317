"""Weight and parameter ROMs generated from the Bundle.

A weight ROM word holds ``pe·simd`` int8 weights (lane-major: element l·simd + s at bits 8·(l·simd+s)).
Depth-1 ROMs become constants (a layer that never folds keeps its weights in wiring); deeper ones are
``amaranth.lib.memory`` ROMs with an asynchronous read port.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from amaranth.hdl import Array, Const, Module, ShapeCastable, Signal, Value, unsigned
from amaranth.lib import memory


def pack_words(w: np.ndarray) -> list[int]:
    """Words × elements int8 array → one unsigned integer per word (element j at bits 8j..8j+7)."""
    b = np.ascontiguousarray(w.astype(np.int8).view(np.uint8))
    return [int.from_bytes(row.tobytes(), "little") for row in b.reshape(b.shape[0], -1)]


def weight_rom(m: Module, name: str, words: np.ndarray, addr: Value) -> list[Value]:
    """ROM of int8 weight words (depth × n) read at ``addr`` → the n signed 8-bit weights of that word."""
    depth, n = words.shape
    ints = pack_words(words)
    width = 8 * n
    if depth == 1:
        raw: Value = Const(ints[0], unsigned(width))
    else:
        m.submodules[name] = rom = memory.Memory(shape=unsigned(width), depth=depth, init=ints)
        rd = rom.read_port(domain="comb")
        m.d.comb += rd.addr.eq(addr)
        raw = rd.data
    return [raw[8 * j:8 * j + 8].as_signed() for j in range(n)]


def select(values: Sequence[Value], index: Value) -> Value:
    """values[index]; the list is padded to every code of ``index`` (repeating the last entry) so the
    generated Verilog case statement covers every value (Verilator CASEINCOMPLETE stays quiet)."""
    vals = list(values)
    if len(vals) == 1:
        return vals[0]
    full = 1 << len(Value.cast(index))
    return Array(vals + [vals[-1]] * (full - len(vals)))[index]


def counter(n: int) -> Signal:
    """An index register for 0..n−1, at least one bit wide (no zero-width wires in the Verilog)."""
    return Signal(range(max(n, 2)))


def table(values: Sequence[int], index: Value, shape: ShapeCastable) -> Value:
    """A small constant table read at ``index`` (a constant when it has one entry)."""
    return select([Const(int(v), shape) for v in values], index)


def acc_bits_for(bias: np.ndarray, fan_in: int, max_x: int) -> int:
    """Bits of a signed accumulator holding bias + any partial Σ w·x (|w| ≤ 128, |x| ≤ max_x)."""
    bound = int(np.abs(bias.astype(np.int64)).max(initial=0)) + fan_in * max_x * 128
    return bound.bit_length() + 1


__all__ = ["acc_bits_for", "counter", "pack_words", "select", "table", "weight_rom"]
