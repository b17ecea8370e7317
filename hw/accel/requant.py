"""The requantizer in RTL: int32 accumulators → activations, mirroring :mod:`logcam.nn.quant` exactly.

Per output channel an unsigned multiplier m and a shift s (0..47):
``half_up``: q = (acc·m + 2^(s−1)) >> s (arithmetic); ``half_even``: q = floor(acc·m / 2^s) rounded up
when the remainder exceeds half, or equals half and q is odd; s = 0 adds nothing. Then
out = clamp(q + zero_point, lo, hi). ``pe`` lanes work in parallel; lane l handles channels
g·pe + l for the group index g that travels with the values.

Two register stages (product, then round/clamp), advancing when ``en`` is high. With
``const_mult`` the products acc·m are built from shifts and adds of the per-channel constants
(canonical signed digits), so no multiplier cell exists — used by the multiplier-free first layer.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from logcam.nn.netspec import LayerParams, QuantSpec

from amaranth.hdl import Const, Module, Mux, Signal, Value, signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from logcam.hw.accel.rom import counter, select
from logcam.nn.quant import MAX_SHIFT, ROUNDING_MODES

#: Register stages from an input accepted to its result valid.
LATENCY = 2


def csd_digits(value: int) -> list[tuple[int, int]]:
    """Canonical signed-digit form of a non-negative integer: [(bit, ±1)], value = Σ ±2^bit."""
    if value < 0:
        raise ValueError(f"csd_digits needs a non-negative value, got {value}")
    out: list[tuple[int, int]] = []
    bit = 0
    while value:
        if value & 1:
            d = 2 - (value & 3)  # +1 if ...01, −1 if ...11
            out.append((bit, d))
            value -= d
        value >>= 1
        bit += 1
    return out


def const_product(x: Value, value: int) -> Value:
    """x·value for a constant value ≥ 0 from shifts and adds only (no multiplier cell)."""
    terms = csd_digits(value)
    if not terms:
        return Const(0, 1)
    bit, d = terms[0]
    acc: Value = x << bit if d > 0 else -(x << bit)
    for bit, d in terms[1:]:
        acc = acc + (x << bit) if d > 0 else acc - (x << bit)
    return acc


class Requantizer(wiring.Component):
    """``pe`` parallel requantizer lanes for the channels of one layer (2-stage pipeline)."""

    @classmethod
    def for_layer(cls, params: LayerParams, quant: QuantSpec, *, pe: int, acc_bits: int, clamp: tuple[int, int],
                  const_mult: bool) -> Requantizer:
        """The requantizer of one layer: its bundle's mult/shift, the NetSpec's quantization and clamp."""
        return cls(mult=params.mult.tolist(), shift=params.shift.tolist(), pe=pe, acc_bits=acc_bits,
                   act_bits=quant.act_bits, mult_bits=quant.mult_bits, rounding=quant.rounding,
                   zero_point=quant.zero_point, lo=clamp[0], hi=clamp[1], const_mult=const_mult)

    def __init__(self, *, mult: Sequence[int], shift: Sequence[int], pe: int, acc_bits: int, act_bits: int,
                 mult_bits: int, rounding: str, zero_point: int, lo: int, hi: int,
                 const_mult: bool = False) -> None:
        n = len(mult)
        if n < 1 or len(shift) != n:
            raise ValueError(f"Requantizer: mult and shift need one entry per channel, got {len(mult)}, {len(shift)}")
        if pe < 1 or n % pe:
            raise ValueError(f"Requantizer: pe ({pe}) must divide the channel count ({n})")
        if rounding not in ROUNDING_MODES:
            raise ValueError(f"Requantizer: rounding must be one of {ROUNDING_MODES}, got {rounding!r}")
        if any(not 0 <= int(m) < (1 << (mult_bits - 1)) for m in mult):
            raise ValueError(f"Requantizer: every multiplier must lie in 0..2^{mult_bits - 1}−1")
        if any(not 0 <= int(s) <= MAX_SHIFT for s in shift):
            raise ValueError(f"Requantizer: every shift must lie in 0..{MAX_SHIFT}")
        if not -(1 << (act_bits - 1)) <= lo <= hi < (1 << (act_bits - 1)):
            raise ValueError(f"Requantizer: clamp {lo}..{hi} does not fit signed {act_bits}-bit activations")
        self.mult = [int(m) for m in mult]
        self.shift = [int(s) for s in shift]
        self.pe = pe
        self.groups = n // pe
        self.acc_bits = acc_bits
        self.act_bits = act_bits
        self.mult_bits = mult_bits
        self.rounding = rounding
        self.zero_point = zero_point
        self.lo, self.hi = lo, hi
        self.const_mult = const_mult
        gshape = unsigned(max(1, (self.groups - 1).bit_length()))
        super().__init__({
            "en": In(1),
            "i_valid": In(1),
            "i_acc": In(data.ArrayLayout(signed(acc_bits), pe)),
            "i_group": In(gshape),
            "o_valid": Out(1),
            "o_q": Out(data.ArrayLayout(signed(act_bits), pe)),
            "o_group": Out(gshape),
        })

    def _table(self, values: list[int], lane: int, shape: object) -> Value:
        col = [values[g * self.pe + lane] for g in range(self.groups)]
        return select([Const(v, shape) for v in col], self.i_group)

    def elaborate(self, platform: object) -> Module:
        m = Module()
        pe, groups = self.pe, self.groups
        pbits = self.acc_bits + self.mult_bits
        sshape = unsigned(MAX_SHIFT.bit_length())
        pw = max(pbits, MAX_SHIFT + 2)
        prod = [Signal(signed(pbits), name=f"prod{lane}") for lane in range(pe)]
        sh = [Signal(sshape, name=f"sh{lane}") for lane in range(pe)]
        s1_valid = Signal()
        s1_group = Signal.like(self.o_group)

        with m.If(self.en):
            m.d.sync += [s1_valid.eq(self.i_valid), s1_group.eq(self.i_group)]
            for lane in range(pe):
                acc = self.i_acc[lane]
                if self.const_mult:
                    cols = [const_product(acc, self.mult[g * pe + lane]) for g in range(groups)]
                    p: Value = select(cols, self.i_group)
                else:
                    p = acc * self._table(self.mult, lane, unsigned(self.mult_bits - 1))
                m.d.sync += [prod[lane].eq(p), sh[lane].eq(self._table(self.shift, lane, sshape))]

        lo, hi, zp = self.lo, self.hi, self.zero_point
        with m.If(self.en):
            m.d.sync += [self.o_valid.eq(s1_valid), self.o_group.eq(s1_group)]
            for lane in range(pe):
                s = sh[lane]
                p = Signal(signed(pw), name=f"pext{lane}")  # sign-extended: shifts up to 47 stay exact
                m.d.comb += p.eq(prod[lane])
                one = Const(1, pw + 1) << s
                half = one[1:pw + 1]  # 2^(s−1), 0 when s = 0
                if self.rounding == "half_up":
                    q = (p + half) >> s
                else:
                    fl = p >> s
                    rem = p.as_unsigned() & (one[:pw] - 1)
                    up = (s != 0) & ((rem > half) | ((rem == half) & fl[0]))
                    q = fl + up
                r = Signal(signed(pw + 2), name=f"r{lane}")
                m.d.comb += r.eq(q + zp)
                m.d.sync += self.o_q[lane].eq(Mux(r < lo, lo, Mux(r > hi, hi, r)))
        return m


def collect_groups(m: Module, rq: Requantizer, data: Value, groups: int, pe: int) -> None:
    """Store each requantized group of ``pe`` channels (``rq.o_q``) in its slots of ``data`` (sync domain),
    inside the caller's ``m.If(advance)``: the output beat is complete after group ``groups − 1``."""
    with m.If(rq.o_valid):
        for gi in range(groups):
            hit = rq.o_group == gi
            for lane in range(pe):
                slot = data[gi * pe + lane]
                m.d.sync += slot.eq(Mux(hit, rq.o_q[lane], slot))


def drain_hold_bank(m: Module, rq: Requantizer, hold: Sequence[Value], out: Any, *, fill: Value, hold_valid: Signal,
                    drain_done: Signal, groups: int, pe: int) -> None:
    """Drain a bank of ``groups·pe`` held accumulators through the requantizer, one group of ``pe`` per cycle,
    into one output beat of stream ``out`` (``first`` and ``last`` set) — the fc layer's and the global pool's
    last step. ``fill`` loads the bank (``hold_valid`` rises); ``drain_done`` is driven high in the cycle the
    last group enters the requantizer. Backpressure: the drain advances only when the output beat is free."""
    advance = Signal()
    m.d.comb += advance.eq(~out.valid | out.ready)
    dg = counter(groups)
    m.d.comb += drain_done.eq(hold_valid & advance & (dg == groups - 1))
    with m.If(fill):
        m.d.sync += hold_valid.eq(1)
    with m.Elif(drain_done):
        m.d.sync += hold_valid.eq(0)
    with m.If(hold_valid & advance):
        m.d.sync += dg.eq(Mux(dg == groups - 1, 0, dg + 1))
    for lane in range(pe):
        m.d.comb += rq.i_acc[lane].eq(select([hold[gi * pe + lane] for gi in range(groups)], dg))
    m.d.comb += [rq.en.eq(advance), rq.i_valid.eq(hold_valid), rq.i_group.eq(dg)]
    with m.If(advance):
        m.d.sync += [out.valid.eq(rq.o_valid & (rq.o_group == groups - 1)),
                     out.payload.first.eq(1), out.payload.last.eq(1)]
        collect_groups(m, rq, out.payload.data, groups, pe)
