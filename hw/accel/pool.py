"""2×2 max-pool with stride 2 (floor: an odd last row/column is dropped) on a pixel stream.

Even rows: the pair maximum of columns 2j, 2j+1 goes to a line memory of W/2 words. Odd rows: the
pair maximum of that row and the stored one form the output pixel. One input beat per clock; the
output register advances when empty or taken (backpressure reaches the input as ``ready``).
"""

from __future__ import annotations

from amaranth.hdl import Module, Mux, ShapeCastable, Signal
from amaranth.lib import data, memory, stream, wiring
from amaranth.lib.wiring import In, Out

from logcam.hw.accel.rom import counter
from logcam.hw.stream import act_layout


def vmax(a: object, b: object, channels: int) -> list:
    """Channel-wise max of two pixel views."""
    return [Mux(a[c] > b[c], a[c], b[c]) for c in range(channels)]


class MaxPool2(wiring.Component):
    """2×2/2 max-pool of a C×H×W stream of ``shape`` values → C×(H//2)×(W//2)."""

    def __init__(self, *, channels: int, height: int, width: int, shape: ShapeCastable) -> None:
        if height < 2 or width < 2:
            raise ValueError(f"MaxPool2: needs at least 2×2 input, got {height}×{width}")
        self.c, self.h, self.w = channels, height, width
        self.shape = shape
        self.ho, self.wo = height // 2, width // 2
        layout = act_layout(channels, shape)
        super().__init__({
            "i": In(stream.Signature(layout)),
            "o": Out(stream.Signature(layout)),
            "access": Out(1),  # a line-memory access (read or write) happened this cycle
        })

    def elaborate(self, platform: object) -> Module:
        m = Module()
        c = self.c
        pix = data.ArrayLayout(self.shape, c)
        y = counter(self.h)
        x = counter(self.w)
        advance = ~self.o.valid | self.o.ready
        accept = Signal()
        m.d.comb += [self.i.ready.eq(advance), accept.eq(self.i.valid & advance)]

        hold = Signal(pix)
        m.submodules.lines = lines = memory.Memory(shape=pix, depth=max(self.wo, 2), init=[])
        rd = lines.read_port(domain="comb")
        wr = lines.write_port()
        cur = self.i.payload.data
        pair = Signal(pix)
        m.d.comb += [pair[ch].eq(v) for ch, v in enumerate(vmax(hold, cur, c))]
        m.d.comb += [rd.addr.eq(x >> 1), wr.addr.eq(x >> 1), wr.data.eq(pair)]
        odd_x, odd_y = x[0], y[0]
        m.d.comb += [wr.en.eq(accept & odd_x & ~odd_y), self.access.eq(accept & odd_x)]

        with m.If(accept):
            with m.If(~odd_x):
                m.d.sync += hold.eq(cur)
            with m.If(x == self.w - 1):
                m.d.sync += [x.eq(0), y.eq(Mux(y == self.h - 1, 0, y + 1))]
            with m.Else():
                m.d.sync += x.eq(x + 1)
        with m.If(advance):
            m.d.sync += self.o.valid.eq(accept & odd_x & odd_y)
            m.d.sync += [self.o.payload.data[ch].eq(v) for ch, v in enumerate(vmax(pair, rd.data, c))]
            m.d.sync += [self.o.payload.first.eq((y == 1) & (x == 1)),
                         self.o.payload.last.eq((x >> 1) == self.wo - 1)]
        return m
