"""One conv layer: window generator → folded MAC array → requantizer → collector → optional 2×2 max-pool.

Folding (NetSpec ``pe``, ``simd``): per output position the MAC array works G·I cycles,
G = out_channels/pe groups of output channels times I = fan_in/simd slices of the fan-in
(PyTorch order c·k² + ky·k + kx). Each cycle ``pe·simd`` products are summed in adder trees and
added to the ``pe`` accumulators (the bias enters with the first slice). After the last slice the
``pe`` accumulators go through the requantizer (2 stages) and land in the output register; the
output beat (all C_out channels of one pixel) is valid after the last group. The MAC array copies a
window from the generator when it starts on it, so the generator prepares the next window while
the array works: cycles per frame ≈ max(padded positions, output positions · G · I).

Depthwise (``depthwise=True``, NetSpec ``depthwise`` and ``pointwise`` = 1×1 conv share this block): output
channel o reads only input channel o, fan-in k², weights C×1×k×k; lane l of group g takes channel g·pe + l's
taps ig·simd .. ig·simd + simd − 1 from the copied window.

The back end (MAC → requantizer → output register) advances as one pipeline when the output
register is empty or taken. On ternary/5-/7-level code input the products and the requantizer's
constant multiplications are shifts and adds only (:func:`logcam.hw.accel.mac.product`,
``Requantizer(const_mult=True)``).
"""

from __future__ import annotations

import numpy as np
from amaranth.hdl import Module, Mux, ShapeCastable, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from logcam.hw.accel.mac import adder_tree, product
from logcam.hw.accel.pool import MaxPool2
from logcam.hw.accel.requant import Requantizer, collect_groups
from logcam.hw.accel.rom import acc_bits_for, counter, select, table, weight_rom
from logcam.hw.accel.window import WindowGen
from logcam.hw.stream import act_layout, layer_stats_layout
from logcam.nn.netspec import ConvSpec, LayerParams, QuantSpec


class ConvLayer(wiring.Component):
    """Streaming conv layer: ``i`` (C_in values per beat) → ``o`` (C_out int8 per beat), ``stats``.

    ``in_shape`` is (C, H, W); ``value_shape`` the shape of one input value; ``max_abs`` the
    largest |input|; ``code_max`` the largest |code| when the input is RDC codes (multiplier-free
    products), else None.
    """

    def __init__(self, layer: ConvSpec, params: LayerParams, quant: QuantSpec, *, in_shape: tuple[int, int, int],
                 value_shape: ShapeCastable, max_abs: int, clamp: tuple[int, int],
                 code_max: int | None = None, depthwise: bool = False) -> None:
        c, h, w = in_shape
        k = layer.kernel
        # depthwise: output channel o reads input channel o only (weights C×1×k×k, fan-in k²)
        fan_in = k * k if depthwise else c * k * k
        want = (c, 1, k, k) if depthwise else (layer.out_channels, c, k, k)
        if params.weight.shape != want or (depthwise and (layer.out_channels != c or layer.pool != 1)):
            raise ValueError(f"ConvLayer: weights have shape {params.weight.shape}, need {want}"
                             f"{' (depthwise: out_channels = in_channels, no pool)' if depthwise else ''}")
        if layer.out_channels % layer.pe or fan_in % layer.simd:
            raise ValueError(f"ConvLayer: pe ({layer.pe}) must divide {layer.out_channels} and simd "
                             f"({layer.simd}) the fan-in {fan_in}")
        self.layer, self.params, self.quant = layer, params, quant
        self.c, self.h, self.w = c, h, w
        self.fan_in = fan_in
        self.depthwise = depthwise
        self.value_shape = value_shape
        self.code_max = code_max
        self.clamp = clamp
        self.groups = layer.out_channels // layer.pe
        self.slices = fan_in // layer.simd
        self.acc_bits = acc_bits_for(params.bias, fan_in, max_abs)
        self.window = WindowGen(channels=c, height=h, width=w, shape=value_shape, kernel=k, pad=layer.pad,
                                stride=layer.stride)
        self.conv_h, self.conv_w = self.window.ho, self.window.wo
        if layer.pool == 2:
            self.pool: MaxPool2 | None = MaxPool2(channels=layer.out_channels, height=self.conv_h,
                                                  width=self.conv_w, shape=signed(quant.act_bits))
            self.out_h, self.out_w = self.pool.ho, self.pool.wo
        else:
            self.pool = None
            self.out_h, self.out_w = self.conv_h, self.conv_w
        self.requant = Requantizer.for_layer(params, quant, pe=layer.pe, acc_bits=self.acc_bits, clamp=clamp,
                                             const_mult=code_max is not None)
        super().__init__({
            "i": In(stream.Signature(act_layout(c, value_shape))),
            "o": Out(stream.Signature(act_layout(layer.out_channels, signed(quant.act_bits)))),
            "stats": Out(layer_stats_layout()),
        })

    @property
    def cycles_per_frame(self) -> int:
        """Expected cycles per frame of this layer alone, fed and drained at full speed (cycles).

        The window generator steps one position per clock but holds at most one finished window while
        the MAC array works G·I cycles on the previous one, so each output costs max(G·I, steps since
        the previous output): max(positions, outputs·G·I) without stride, more with stride > 1 (rows
        without outputs cannot be stepped ahead).
        """
        wg = self.window
        k, pad, st = wg.k, wg.pad, wg.stride
        ys = np.arange(pad, wg.hp)
        xs = np.arange(pad, wg.wp)
        y, x = np.meshgrid(ys, xs, indexing="ij")
        out = (y >= k - 1) & (x >= k - 1) & ((y - (k - 1)) % st == 0) & ((x - (k - 1)) % st == 0)
        idx = np.flatnonzero(out.ravel())
        gaps = np.diff(np.concatenate([idx, idx[:1] + out.size]))  # steps between outputs, frame wrap included
        return int(np.maximum(gaps, self.groups * self.slices).sum())

    def weight_words(self) -> np.ndarray:
        """Weight ROM contents: (G·I) × (pe·simd) int8, word g·I + ig, element l·simd + s."""
        pe, simd, g, i = self.layer.pe, self.layer.simd, self.groups, self.slices
        w2 = self.params.weight.reshape(self.layer.out_channels, self.fan_in)
        return w2.reshape(g, pe, i, simd).transpose(0, 2, 1, 3).reshape(g * i, pe * simd)

    def elaborate(self, platform: object) -> Module:
        m = Module()
        layer = self.layer
        pe, simd, groups, slices, k = layer.pe, layer.simd, self.groups, self.slices, layer.kernel
        m.submodules.window = win = self.window
        m.submodules.requant = rq = self.requant
        wiring.connect(m, wiring.flipped(self.i), win.i)

        # Conv output (before pooling): the collector register.
        co = stream.Signature(act_layout(layer.out_channels, signed(self.quant.act_bits))).create()
        advance = Signal()
        m.d.comb += advance.eq(~co.valid | co.ready)

        # MAC array.
        busy = Signal()
        g = counter(groups)
        ig = counter(slices)
        xw = Signal(data.ArrayLayout(self.value_shape, self.c * k * k))
        last_cycle = busy & (g == groups - 1) & (ig == slices - 1)
        take = Signal()
        m.d.comb += [take.eq(advance & (~busy | last_cycle) & win.win_valid), win.take.eq(take)]

        kk = k * k
        if self.depthwise:  # lane l of group g reads channel g·pe + l: its own taps, selected by (g, ig)
            xl = [[select([xw[(gi * pe + lane) * kk + j * simd + s] for gi in range(groups) for j in range(slices)],
                          g * slices + ig) for s in range(simd)] for lane in range(pe)]
        else:  # every lane reads the same fan-in slice
            xs = [select([xw[j * simd + s] for j in range(slices)], ig) for s in range(simd)]
            xl = [xs] * pe
        weights = weight_rom(m, "weights", self.weight_words(), g * slices + ig)
        acc = [Signal(signed(self.acc_bits), name=f"acc{lane}") for lane in range(pe)]
        new = [Signal(signed(self.acc_bits), name=f"new{lane}") for lane in range(pe)]
        bias = self.params.bias.astype(np.int64)
        for lane in range(pe):
            prods = [product(weights[lane * simd + s], xl[lane][s], max_abs=self.code_max) for s in range(simd)]
            b = table(bias[lane::pe], g, signed(self.acc_bits))
            m.d.comb += new[lane].eq(Mux(ig == 0, b, acc[lane]) + adder_tree(prods))

        r_valid = Signal()
        r_group = Signal.like(rq.i_group)
        r_acc = Signal.like(rq.i_acc)
        with m.If(advance):
            m.d.sync += [r_valid.eq(busy & (ig == slices - 1)), r_group.eq(g)]
            m.d.sync += [r_acc[lane].eq(new[lane]) for lane in range(pe)]
            with m.If(busy):
                m.d.sync += [acc[lane].eq(new[lane]) for lane in range(pe)]
                with m.If(ig == slices - 1):
                    m.d.sync += [ig.eq(0), g.eq(Mux(g == groups - 1, 0, g + 1))]
                with m.Else():
                    m.d.sync += ig.eq(ig + 1)
            with m.If(take):
                m.d.sync += [busy.eq(1), g.eq(0), ig.eq(0)]
                for c in range(self.c):
                    for ky in range(k):
                        for kx in range(k):
                            m.d.sync += xw[c * k * k + ky * k + kx].eq(win.win[ky][kx][c])
            with m.Elif(last_cycle):
                m.d.sync += busy.eq(0)
        m.d.comb += [rq.en.eq(advance), rq.i_valid.eq(r_valid), rq.i_group.eq(r_group), rq.i_acc.eq(r_acc)]

        # Collector: requantized groups into the output register; the beat is valid after the last group.
        oy = counter(self.conv_h)
        ox = counter(self.conv_w)
        with m.If(advance):
            m.d.sync += co.valid.eq(rq.o_valid & (rq.o_group == groups - 1))
            collect_groups(m, rq, co.payload.data, groups, pe)
            with m.If(rq.o_valid), m.If(rq.o_group == groups - 1):
                m.d.sync += [co.payload.first.eq((oy == 0) & (ox == 0)),
                             co.payload.last.eq(ox == self.conv_w - 1)]
                with m.If(ox == self.conv_w - 1):
                    m.d.sync += [ox.eq(0), oy.eq(Mux(oy == self.conv_h - 1, 0, oy + 1))]
                with m.Else():
                    m.d.sync += ox.eq(ox + 1)

        pool_access = Signal()
        if self.pool is not None:
            m.submodules.pool = pool = self.pool
            m.d.comb += [pool.i.valid.eq(co.valid), pool.i.payload.eq(co.payload), co.ready.eq(pool.i.ready)]
            out = pool.o
            m.d.comb += pool_access.eq(pool.access)
        else:
            out = co
        m.d.comb += [self.o.valid.eq(out.valid), self.o.payload.eq(out.payload), out.ready.eq(self.o.ready)]

        # Activity counters.
        st = self.stats
        mac_on = busy & advance
        with m.If(mac_on):
            m.d.sync += st.mac_cycles.eq(st.mac_cycles + 1)
            if groups * slices > 1:
                m.d.sync += st.rom_reads.eq(st.rom_reads + 1)
        lb_step = win.step if k > 1 else 0  # a 1×1 kernel has no line buffer
        with m.If(win.step | pool_access):
            m.d.sync += st.lb_access.eq(st.lb_access + lb_step + pool_access)
        with m.If(self.o.valid & self.o.ready):
            m.d.sync += st.out_beats.eq(st.out_beats + 1)
        return m


__all__ = ["ConvLayer"]
