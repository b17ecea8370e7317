"""Global average pool (NetSpec ``avgpool_global``): per channel clamp(round(Σ_{y,x} x · m / 2^s) + zp, lo, hi).

One pixel (C values) per beat is added to C accumulators; at the frame's last pixel the sums move to a hold
bank and drain through the requantizer ``pe`` channels per cycle (G = C/pe groups; the layer's one m and s
for every channel) while the next frame accumulates. The output is one beat of C int8 values per frame.
"""

from __future__ import annotations

from amaranth.hdl import Module, Mux, ShapeCastable, Signal, signed
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from logcam.hw.accel.requant import Requantizer, drain_hold_bank
from logcam.hw.accel.rom import counter
from logcam.hw.stream import act_layout, layer_stats_layout
from logcam.nn.netspec import AvgPoolGlobalSpec, LayerParams, QuantSpec


class AvgPoolGlobal(wiring.Component):
    """Streaming global average pool: ``i`` (C values per beat, H·W beats) → ``o`` (one beat of C int8)."""

    def __init__(self, layer: AvgPoolGlobalSpec, params: LayerParams, quant: QuantSpec, *,
                 in_shape: tuple[int, int, int], value_shape: ShapeCastable, max_abs: int, clamp: tuple[int, int],
                 pe: int = 1) -> None:
        c, h, w = in_shape
        if params.mult.shape != (1,) or params.shift.shape != (1,):
            raise ValueError(f"AvgPoolGlobal: mult and shift must have one entry each, got shapes "
                             f"{params.mult.shape}, {params.shift.shape}")
        if pe < 1 or c % pe:
            raise ValueError(f"AvgPoolGlobal: pe ({pe}) must divide the channels ({c})")
        self.layer, self.params, self.quant = layer, params, quant
        self.c, self.h, self.w = c, h, w
        self.pixels = h * w
        self.pe = pe
        self.groups = c // pe
        self.out_h = self.out_w = 1
        self.value_shape = value_shape
        self.acc_bits = (self.pixels * max_abs).bit_length() + 1
        self.requant = Requantizer(mult=[int(params.mult[0])] * c, shift=[int(params.shift[0])] * c, pe=pe,
                                   acc_bits=self.acc_bits, act_bits=quant.act_bits, mult_bits=quant.mult_bits,
                                   rounding=quant.rounding, zero_point=quant.zero_point, lo=clamp[0], hi=clamp[1])
        super().__init__({
            "i": In(stream.Signature(act_layout(c, value_shape))),
            "o": Out(stream.Signature(act_layout(c, signed(quant.act_bits)))),
            "stats": Out(layer_stats_layout()),
        })

    @property
    def cycles_per_frame(self) -> int:
        """One input pixel per cycle: H·W (cycles; the drain overlaps the next frame when H·W ≥ G + 3)."""
        return self.pixels

    def elaborate(self, platform: object) -> Module:
        m = Module()
        c, pe, groups = self.c, self.pe, self.groups
        m.submodules.requant = rq = self.requant
        acc = [Signal(signed(self.acc_bits), name=f"acc{j}") for j in range(c)]
        hold = [Signal(signed(self.acc_bits), name=f"hold{j}") for j in range(c)]
        hold_valid = Signal()
        drain_done = Signal()
        p = counter(self.pixels)
        frame_end = p == self.pixels - 1
        # the last pixel waits while the hold bank still drains the previous frame
        m.d.comb += self.i.ready.eq(~(frame_end & hold_valid & ~drain_done))
        take = self.i.valid & self.i.ready
        with m.If(take):
            m.d.sync += p.eq(Mux(frame_end, 0, p + 1))
            for j in range(c):
                new = Mux(p == 0, 0, acc[j]) + self.i.payload.data[j]
                m.d.sync += acc[j].eq(new)
                with m.If(frame_end):
                    m.d.sync += hold[j].eq(new)

        co = self.o
        drain_hold_bank(m, rq, hold, co, fill=take & frame_end, hold_valid=hold_valid, drain_done=drain_done,
                        groups=groups, pe=pe)

        st = self.stats
        with m.If(take):
            m.d.sync += st.mac_cycles.eq(st.mac_cycles + 1)  # C additions per pixel
        with m.If(co.valid & co.ready):
            m.d.sync += st.out_beats.eq(st.out_beats + 1)
        return m


__all__ = ["AvgPoolGlobal"]
