"""Residual addition of two int8 streams (NetSpec ``add``): out = clamp(round((a·m_a + b·m_b + zp·2^s) / 2^s)).

``i`` carries the main branch (a, the previous layer's output), ``skip`` the skip branch (b, the output of
layer ``skip``, buffered in the accelerator's skip FIFO). A beat is taken from both at once (a join); the
pixel's C channels then go through the requantizer ``pe`` at a time (G = C/pe groups, one per cycle), with
multiplier 1 and the layer's shift, and land in the output register; the beat is valid after the last
group. m_a, m_b and zp·2^s are constants: the products are shifts and adds (no multiplier cell).
"""

from __future__ import annotations

from amaranth.hdl import Const, Module, Mux, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from logcam.hw.accel.requant import Requantizer, collect_groups, const_product
from logcam.hw.accel.rom import counter, select
from logcam.hw.stream import act_layout, layer_stats_layout
from logcam.nn.netspec import AddSpec, LayerParams, QuantSpec


class AddLayer(wiring.Component):
    """Streaming residual add: ``i`` (main, C int8 per beat) + ``skip`` (C int8 per beat) → ``o``, ``stats``."""

    def __init__(self, layer: AddSpec, params: LayerParams, quant: QuantSpec, *, in_shape: tuple[int, int, int],
                 clamp: tuple[int, int]) -> None:
        c, h, w = in_shape
        if params.mult.shape != (2,) or params.shift.shape != (1,):
            raise ValueError(f"AddLayer: mult must be [m_a, m_b] and shift [s], got shapes {params.mult.shape}, "
                             f"{params.shift.shape}")
        if c % layer.pe:
            raise ValueError(f"AddLayer: pe ({layer.pe}) must divide the channels ({c})")
        if quant.mult_bits < 2:
            raise ValueError("AddLayer: needs mult_bits ≥ 2 (the requantizer multiplies by 1)")
        self.layer, self.params, self.quant = layer, params, quant
        self.c, self.h, self.w = c, h, w
        self.out_h, self.out_w = h, w
        self.pe = layer.pe
        self.groups = c // layer.pe
        self.ma, self.mb, self.s = int(params.mult[0]), int(params.mult[1]), int(params.shift[0])
        act = signed(quant.act_bits)
        half = 1 << (quant.act_bits - 1)
        bound = half * (self.ma + self.mb) + abs(quant.zero_point) * (1 << self.s)
        self.acc_bits = bound.bit_length() + 1
        self.requant = Requantizer(mult=[1] * c, shift=[self.s] * c, pe=layer.pe, acc_bits=self.acc_bits,
                                   act_bits=quant.act_bits, mult_bits=quant.mult_bits, rounding=quant.rounding,
                                   zero_point=0, lo=clamp[0], hi=clamp[1], const_mult=True)
        super().__init__({
            "i": In(stream.Signature(act_layout(c, act))),
            "skip": In(stream.Signature(act_layout(c, act))),
            "o": Out(stream.Signature(act_layout(c, act))),
            "stats": Out(layer_stats_layout()),
        })

    @property
    def cycles_per_frame(self) -> int:
        """Cycles per frame at full speed: H·W pixels × G groups (cycles)."""
        return self.h * self.w * self.groups

    def elaborate(self, platform: object) -> Module:
        m = Module()
        pe, groups, c = self.pe, self.groups, self.c
        act = signed(self.quant.act_bits)
        m.submodules.requant = rq = self.requant
        co = self.o
        advance = Signal()
        m.d.comb += advance.eq(~co.valid | co.ready)

        busy = Signal()
        g = counter(groups)
        a = Signal(data.ArrayLayout(act, c))
        b = Signal(data.ArrayLayout(act, c))
        last_cycle = busy & (g == groups - 1)
        free = advance & (~busy | last_cycle)
        both = self.i.valid & self.skip.valid
        take = Signal()
        m.d.comb += [take.eq(free & both), self.i.ready.eq(free & self.skip.valid),
                     self.skip.ready.eq(free & self.i.valid)]

        offset = Const(self.quant.zero_point << self.s, signed(self.acc_bits))
        r_valid = Signal()
        r_group = Signal.like(rq.i_group)
        r_acc = Signal.like(rq.i_acc)
        with m.If(advance):
            m.d.sync += [r_valid.eq(busy), r_group.eq(g)]
            for lane in range(pe):
                av = select([a[gi * pe + lane] for gi in range(groups)], g)
                bv = select([b[gi * pe + lane] for gi in range(groups)], g)
                m.d.sync += r_acc[lane].eq(const_product(av, self.ma) + const_product(bv, self.mb) + offset)
            with m.If(busy):
                m.d.sync += g.eq(Mux(g == groups - 1, 0, g + 1))
            with m.If(take):
                m.d.sync += [busy.eq(1), g.eq(0), a.eq(self.i.payload.data), b.eq(self.skip.payload.data)]
            with m.Elif(last_cycle):
                m.d.sync += busy.eq(0)
        m.d.comb += [rq.en.eq(advance), rq.i_valid.eq(r_valid), rq.i_group.eq(r_group), rq.i_acc.eq(r_acc)]

        # Output register: the beat is valid after the last group; first/last from the output position.
        oy = counter(self.h)
        ox = counter(self.w)
        done = rq.o_valid & (rq.o_group == groups - 1)
        with m.If(advance):
            m.d.sync += co.valid.eq(done)
            collect_groups(m, rq, co.payload.data, groups, pe)
            with m.If(done):
                m.d.sync += [co.payload.first.eq((oy == 0) & (ox == 0)), co.payload.last.eq(ox == self.w - 1)]
                with m.If(ox == self.w - 1):
                    m.d.sync += [ox.eq(0), oy.eq(Mux(oy == self.h - 1, 0, oy + 1))]
                with m.Else():
                    m.d.sync += ox.eq(ox + 1)
        st = self.stats
        with m.If(busy & advance):
            m.d.sync += st.mac_cycles.eq(st.mac_cycles + 1)
        with m.If(take):
            m.d.sync += st.lb_access.eq(st.lb_access + 1)  # one skip-FIFO read per pixel
        with m.If(co.valid & co.ready):
            m.d.sync += st.out_beats.eq(st.out_beats + 1)
        return m


__all__ = ["AddLayer"]
