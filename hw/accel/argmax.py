"""Argmax of the logits beat → label stream (ties to the lowest index, as the golden model)."""

from __future__ import annotations

from amaranth.hdl import Const, Module, Mux, ShapeCastable
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from logcam.hw.stream import act_layout, label_layout


class Argmax(wiring.Component):
    """``i``: one beat of ``classes`` values; ``o``: the index of the largest (lowest index on ties)."""

    def __init__(self, *, classes: int, shape: ShapeCastable) -> None:
        if classes < 1:
            raise ValueError(f"Argmax: classes must be ≥ 1, got {classes}")
        self.classes = classes
        super().__init__({
            "i": In(stream.Signature(act_layout(classes, shape))),
            "o": Out(stream.Signature(label_layout(classes))),
        })

    def elaborate(self, platform: object) -> Module:
        m = Module()
        advance = ~self.o.valid | self.o.ready
        m.d.comb += self.i.ready.eq(advance)
        v = self.i.payload.data
        best, idx = v[0], Const(0, self.o.payload.label.shape())
        for j in range(1, self.classes):
            gt = v[j] > best  # strictly greater: an equal later value keeps the lower index
            best, idx = Mux(gt, v[j], best), Mux(gt, j, idx)
        with m.If(advance):
            m.d.sync += [self.o.valid.eq(self.i.valid), self.o.payload.label.eq(idx)]
        return m
