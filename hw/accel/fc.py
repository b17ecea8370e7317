"""The fully connected layer on a pixel stream, flattened in PyTorch's C, H, W order, and its drain.

Input beats are pixels p = y·W + x with C values; feature index c·H·W + p. Per pixel the MAC array
works K·G cycles (K = C/simd slices of the pixel's channels, G = out_features/pe groups): group g's
``pe`` accumulators get Σ_s w[g·pe+l, (kc·simd+s)·H·W + p] · x[kc·simd+s] (bias with the frame's
first slice). The weight ROM is read in address order, one word per cycle. After the frame's last
pixel the accumulators move to a hold bank in one cycle, so the next frame accumulates while the
hold bank drains through the ``pe`` requantizer lanes (G cycles) into the logits beat (all outputs,
``first`` and ``last`` set). Cycles per frame ≈ H·W·K·G.
"""

from __future__ import annotations

import numpy as np
from amaranth.hdl import Module, Mux, ShapeCastable, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from logcam.hw.accel.mac import adder_tree, product
from logcam.hw.accel.requant import Requantizer, drain_hold_bank
from logcam.hw.accel.rom import acc_bits_for, counter, select, table, weight_rom
from logcam.hw.stream import act_layout, layer_stats_layout
from logcam.nn.netspec import FcSpec, LayerParams, QuantSpec


class FcLayer(wiring.Component):
    """Streaming fc layer: ``i`` (C values per pixel, H×W pixels) → ``o`` (one beat of out_features int8)."""

    def __init__(self, layer: FcSpec, params: LayerParams, quant: QuantSpec, *, in_shape: tuple[int, int, int],
                 value_shape: ShapeCastable, max_abs: int, clamp: tuple[int, int],
                 code_max: int | None = None) -> None:
        c, h, w = in_shape
        n = layer.out_features
        if params.weight.shape != (n, c * h * w):
            raise ValueError(f"FcLayer: weights have shape {params.weight.shape}, need {(n, c * h * w)}")
        if c % layer.simd:
            raise ValueError(f"FcLayer: simd ({layer.simd}) must divide the input channels ({c}); the streaming fc "
                             f"takes one pixel's channels per beat")
        if n % layer.pe:
            raise ValueError(f"FcLayer: pe ({layer.pe}) must divide out_features ({n})")
        self.layer, self.params, self.quant = layer, params, quant
        self.c, self.h, self.w = c, h, w
        self.pixels = h * w
        self.value_shape = value_shape
        self.code_max = code_max
        self.groups = n // layer.pe
        self.slices = c // layer.simd
        self.acc_bits = acc_bits_for(params.bias, c * h * w, max_abs)
        self.requant = Requantizer.for_layer(params, quant, pe=layer.pe, acc_bits=self.acc_bits, clamp=clamp,
                                             const_mult=code_max is not None)
        super().__init__({
            "i": In(stream.Signature(act_layout(c, value_shape))),
            "o": Out(stream.Signature(act_layout(n, signed(quant.act_bits)))),
            "stats": Out(layer_stats_layout()),
        })

    @property
    def cycles_per_frame(self) -> int:
        """MAC cycles per frame: H·W·K·G (cycles)."""
        return self.pixels * self.slices * self.groups

    def weight_words(self) -> np.ndarray:
        """ROM contents: word (p·K + kc)·G + g holds w[g·pe+l, (kc·simd+s)·H·W + p] at element l·simd + s."""
        pe, simd, g, k, p = self.layer.pe, self.layer.simd, self.groups, self.slices, self.pixels
        w4 = self.params.weight.reshape(g, pe, k, simd, p)  # [g, l, kc, s, p]
        return w4.transpose(4, 2, 0, 1, 3).reshape(p * k * g, pe * simd)

    def elaborate(self, platform: object) -> Module:
        m = Module()
        pe, simd, groups, slices, pixels = self.layer.pe, self.layer.simd, self.groups, self.slices, self.pixels
        n = self.layer.out_features
        m.submodules.requant = rq = self.requant
        depth = pixels * slices * groups

        busy = Signal()
        p = counter(pixels)
        kc = counter(slices)
        g = counter(groups)
        addr = counter(depth)
        xv = Signal(data.ArrayLayout(self.value_shape, self.c))
        acc = [Signal(signed(self.acc_bits), name=f"acc{j}") for j in range(n)]
        hold = [Signal(signed(self.acc_bits), name=f"hold{j}") for j in range(n)]
        hold_valid = Signal()
        drain_done = Signal()  # the hold bank's last group enters the requantizer this cycle

        pixel_end = (kc == slices - 1) & (g == groups - 1)
        frame_end = pixel_end & (p == pixels - 1)
        stall = busy & frame_end & hold_valid & ~drain_done
        work = busy & ~stall
        last_cycle = work & pixel_end
        take = Signal()
        m.d.comb += [self.i.ready.eq(~busy | last_cycle), take.eq(self.i.valid & self.i.ready)]

        xs = []
        for s in range(simd):
            col = [xv[j * simd + s] for j in range(slices)]
            xs.append(select(col, kc))
        weights = weight_rom(m, "weights", self.weight_words(), addr)
        new = [Signal(signed(self.acc_bits), name=f"new{lane}") for lane in range(pe)]
        bias = self.params.bias.astype(np.int64)
        first_slice = (p == 0) & (kc == 0)
        for lane in range(pe):
            prods = [product(weights[lane * simd + s], xs[s], max_abs=self.code_max) for s in range(simd)]
            cur = select([acc[gi * pe + lane] for gi in range(groups)], g)
            b = table(bias[lane::pe], g, signed(self.acc_bits))
            m.d.comb += new[lane].eq(Mux(first_slice, b, cur) + adder_tree(prods))

        with m.If(work):
            for gi in range(groups):
                hit = g == gi
                for lane in range(pe):
                    j = gi * pe + lane
                    m.d.sync += acc[j].eq(Mux(hit, new[lane], acc[j]))
                    # at the frame's end: this group's new values, the other groups' accumulators
                    with m.If(frame_end):
                        m.d.sync += hold[j].eq(Mux(hit, new[lane], acc[j]))
            m.d.sync += addr.eq(Mux(frame_end, 0, addr + 1))
            with m.If(g == groups - 1):
                m.d.sync += g.eq(0)
                with m.If(kc == slices - 1):
                    m.d.sync += [kc.eq(0), p.eq(Mux(p == pixels - 1, 0, p + 1))]
                with m.Else():
                    m.d.sync += kc.eq(kc + 1)
            with m.Else():
                m.d.sync += g.eq(g + 1)
        with m.If(take):
            m.d.sync += [busy.eq(1), xv.eq(self.i.payload.data)]
        with m.Elif(last_cycle):
            m.d.sync += busy.eq(0)

        # Drain: the hold bank through the requantizer, one group of pe per cycle.
        co = self.o
        drain_hold_bank(m, rq, hold, co, fill=work & frame_end, hold_valid=hold_valid, drain_done=drain_done,
                        groups=groups, pe=pe)

        st = self.stats
        with m.If(work):
            m.d.sync += [st.mac_cycles.eq(st.mac_cycles + 1), st.rom_reads.eq(st.rom_reads + 1)]
        with m.If(co.valid & co.ready):
            m.d.sync += st.out_beats.eq(st.out_beats + 1)
        return m
