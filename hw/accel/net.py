"""The accelerator generated from a NetSpec and its Bundle: conv layers → fc layer(s) → argmax.

Ports: ``i`` input pixels (C values per beat: signed codes or uint8), ``o`` labels (one beat per frame),
``tap{i}`` a read-only copy of layer i's output stream (valid, ready, payload) for the bench's
monitors, ``stats{i}`` layer i's activity counters. Layers are separate components (:func:`build_layers`)
so Yosys statistics can be taken per layer (:func:`logcam.sim.rtl.emit.layer_stats`).
"""

from __future__ import annotations

from amaranth.hdl import Module, Shape, signed
from amaranth.lib import stream, wiring
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.wiring import In, Out

from logcam.hw.accel.argmax import Argmax
from logcam.hw.accel.conv import ConvLayer
from logcam.hw.accel.fc import FcLayer
from logcam.hw.accel.mac import MAX_CODE
from logcam.hw.stream import act_layout, input_shape, label_layout, layer_stats_layout, tap_signature
from logcam.nn.netspec import Bundle, ConvSpec, NetSpec, check_buildable


def build_layers(spec: NetSpec, bundle: Bundle) -> list[ConvLayer | FcLayer]:
    """One component per NetSpec layer, each checked against its bundle entry."""
    if len(bundle.layers) != len(spec.layers):
        raise ValueError(f"Accelerator: the bundle has {len(bundle.layers)} layers, the NetSpec {len(spec.layers)}")
    check_buildable(spec)  # one ConfigError line naming the layer and the operators the generator builds
    q = spec.quant
    shape = input_shape(spec.input.format, spec.input.bits)
    max_abs = max(abs(spec.input.lo), spec.input.hi)
    code_max = spec.input.hi if spec.input.format == "codes" and spec.input.hi <= MAX_CODE else None
    out: list[ConvLayer | FcLayer] = []
    for ls, layer, params in zip(spec.layer_shapes(), spec.layers, bundle.layers):
        kw = dict(in_shape=ls.in_shape, value_shape=shape, max_abs=max_abs, clamp=spec.clamp_of(ls.index),
                  code_max=code_max)
        if isinstance(layer, ConvSpec):
            comp: ConvLayer | FcLayer = ConvLayer(layer, params, q, **kw)
            got = (layer.out_channels, comp.out_h, comp.out_w)
            if got != ls.out_shape:
                raise ValueError(f"Accelerator: layer {ls.index} RTL shape {got} differs from NetSpec {ls.out_shape}")
        else:
            comp = FcLayer(layer, params, q, **kw)
        out.append(comp)
        shape, max_abs, code_max = signed(q.act_bits), 1 << (q.act_bits - 1), None
    return out


def fifo_depth(producer: ConvLayer | FcLayer) -> int:
    """Entries of the FIFO after a layer: two of its output rows (absorbs a pooled row's burst)."""
    width = producer.out_w if isinstance(producer, ConvLayer) else 1
    return max(4, 2 * width)


class Accelerator(wiring.Component):
    """The streaming CNN of ``spec`` with the weights of ``bundle``."""

    def __init__(self, spec: NetSpec, bundle: Bundle) -> None:
        self.spec = spec
        self.layers = build_layers(spec, bundle)
        ins = input_shape(spec.input.format, spec.input.bits)
        members = {
            "i": In(stream.Signature(act_layout(spec.input.channels, ins))),
            "o": Out(stream.Signature(label_layout(spec.num_classes))),
        }
        for idx, comp in enumerate(self.layers):
            members[f"tap{idx}"] = Out(tap_signature(comp.o.payload.shape()))
            members[f"stats{idx}"] = Out(layer_stats_layout())
        super().__init__(members)

    @property
    def input_bits(self) -> int:
        return Shape.cast(input_shape(self.spec.input.format, self.spec.input.bits)).width

    def expected_cycles(self) -> list[int]:
        """Per layer: cycles per frame when nothing stalls (padded positions or MAC cycles)."""
        return [comp.cycles_per_frame for comp in self.layers]

    def elaborate(self, platform: object) -> Module:
        m = Module()
        src = self.i
        first = True
        for idx, comp in enumerate(self.layers):
            m.submodules[f"layer{idx}"] = comp
            if first:
                wiring.connect(m, wiring.flipped(src), comp.i)
                first = False
            else:
                # Elastic buffer between layers: a pooled layer emits a row in bursts (one pixel per 2
                # cycles on odd rows, none on even rows) that a folded consumer takes at its own pace.
                depth = fifo_depth(self.layers[idx - 1])
                m.submodules[f"fifo{idx}"] = fifo = SyncFIFOBuffered(width=Shape.cast(src.payload.shape()).width,
                                                                     depth=depth)
                m.d.comb += [fifo.w_data.eq(src.payload.as_value()), fifo.w_en.eq(src.valid), src.ready.eq(fifo.w_rdy),
                             comp.i.valid.eq(fifo.r_rdy), comp.i.payload.eq(fifo.r_data), fifo.r_en.eq(comp.i.ready)]
            tap = getattr(self, f"tap{idx}")
            m.d.comb += [tap.valid.eq(comp.o.valid), tap.ready.eq(comp.o.ready), tap.payload.eq(comp.o.payload)]
            m.d.comb += getattr(self, f"stats{idx}").eq(comp.stats)
            src = comp.o
        m.submodules.argmax = am = Argmax(classes=self.spec.num_classes, shape=signed(self.spec.quant.act_bits))
        wiring.connect(m, src, am.i)
        wiring.connect(m, am.o, wiring.flipped(self.o))
        return m
