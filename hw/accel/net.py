"""The accelerator generated from a NetSpec and its Bundle: conv/pointwise/depthwise/add/avgpool layers → fc
layer(s) → argmax. An ``add`` layer's skip operand comes from a skip FIFO filled by a fork at the output of the
layer it names (written only when every consumer has room); the FIFO's depth is computed from the NetSpec
(:func:`skip_depth`) so the skip branch never starves the main branch.

Ports: ``i`` input pixels (C values per beat: signed codes or uint8), ``o`` labels (one beat per frame),
``tap{i}`` a read-only copy of layer i's output stream (valid, ready, payload) for the bench's
monitors, ``stats{i}`` layer i's activity counters. Layers are separate components (:func:`build_layers`)
so Yosys statistics can be taken per layer (:func:`logcam.sim.rtl.emit.layer_stats`).
"""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Shape, Signal, signed
from amaranth.lib import stream, wiring
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.wiring import In, Out

from logcam.hw.accel.add import AddLayer
from logcam.hw.accel.argmax import Argmax
from logcam.hw.accel.avgpool import AvgPoolGlobal
from logcam.hw.accel.conv import ConvLayer
from logcam.hw.accel.fc import FcLayer
from logcam.hw.accel.mac import MAX_CODE
from logcam.hw.stream import act_layout, input_shape, label_layout, layer_stats_layout, tap_signature
from logcam.nn.netspec import (
    AddSpec,
    AvgPoolGlobalSpec,
    Bundle,
    ConvSpec,
    DepthwiseSpec,
    NetSpec,
    PointwiseSpec,
    check_buildable,
)

Layer = ConvLayer | FcLayer | AddLayer | AvgPoolGlobal


def build_layers(spec: NetSpec, bundle: Bundle) -> list[Layer]:
    """One component per NetSpec layer, each checked against its bundle entry."""
    if len(bundle.layers) != len(spec.layers):
        raise ValueError(f"Accelerator: the bundle has {len(bundle.layers)} layers, the NetSpec {len(spec.layers)}")
    check_buildable(spec)  # one ConfigError line naming the layer and the operators the generator builds
    return [build_layer(spec, bundle, i) for i in range(len(spec.layers))]


def build_layer(spec: NetSpec, bundle: Bundle, index: int) -> Layer:
    """Layer ``index`` as its component, with the port shapes the accelerator gives it: the NetSpec's input
    values for layer 0 (multiplier-free products on codes of ≤ 7 levels), int8 activations after that."""
    q = spec.quant
    if index == 0:
        shape = input_shape(spec.input.format, spec.input.bits)
        max_abs = max(abs(spec.input.lo), spec.input.hi)
        code_max = spec.input.hi if spec.input.format == "codes" and spec.input.hi <= MAX_CODE else None
    else:
        shape, max_abs, code_max = signed(q.act_bits), 1 << (q.act_bits - 1), None
    ls, layer, params = spec.layer_shapes()[index], spec.layers[index], bundle.layers[index]
    clamp = spec.clamp_of(index)
    kw = dict(in_shape=ls.in_shape, value_shape=shape, max_abs=max_abs, clamp=clamp, code_max=code_max)
    comp: Layer
    if isinstance(layer, (PointwiseSpec, DepthwiseSpec)):  # the conv block: 1×1, or one filter per channel
        dw = isinstance(layer, DepthwiseSpec)
        conv = ConvSpec(out_channels=ls.out_shape[0], kernel=layer.kernel if dw else 1,
                        stride=layer.stride if dw else 1, pad=layer.pad if dw else 0, relu=layer.relu,
                        pe=layer.pe, simd=layer.simd)
        comp = ConvLayer(conv, params, q, depthwise=dw, **kw)
    elif isinstance(layer, AddSpec):
        comp = AddLayer(layer, params, q, in_shape=ls.in_shape, clamp=clamp)
    elif isinstance(layer, AvgPoolGlobalSpec):
        comp = AvgPoolGlobal(layer, params, q, in_shape=ls.in_shape, value_shape=shape, max_abs=max_abs, clamp=clamp)
    elif isinstance(layer, ConvSpec):
        comp = ConvLayer(layer, params, q, **kw)
    else:
        comp = FcLayer(layer, params, q, **kw)
    if not isinstance(comp, FcLayer) and (ls.out_shape[0], comp.out_h, comp.out_w) != ls.out_shape:
        raise ValueError(f"Accelerator: layer {index} RTL shape {(ls.out_shape[0], comp.out_h, comp.out_w)} "
                         f"differs from NetSpec {ls.out_shape}")
    return comp


def fifo_depth(producer: Layer) -> int:
    """Entries of the FIFO after a layer: two of its output rows (absorbs a pooled row's burst)."""
    width = producer.out_w if isinstance(producer, (ConvLayer, AddLayer)) else 1
    return max(4, 2 * width)


#: Pixels a layer may hold between its input and output registers beyond its window look-ahead
#: (window register, MAC copy, accumulator stage, two requantizer stages, output register).
PIPELINE_SLACK = 6


def skip_depth(layers: list[Layer], index: int, skip: int) -> int:
    """Entries of the skip FIFO of the add ``index`` whose skip operand is layer ``skip``'s output.

    Every pixel the main branch (layers skip+1 .. index−1 and the FIFOs in front of them and of the add)
    can hold once the skip branch has written it: per window layer its look-ahead (k−1−pad)·(W+1) pixels
    (the input it must read before an output) plus :data:`PIPELINE_SLACK`, plus each FIFO's depth. With
    that many entries the fork never waits on the skip FIFO, so the skip costs no throughput; fewer than
    the look-ahead would deadlock.
    """
    total = 0
    for j in range(skip + 1, index):
        comp = layers[j]
        if isinstance(comp, ConvLayer):
            wg = comp.window
            total += (wg.k - 1 - wg.pad) * (wg.w + 1)
        total += PIPELINE_SLACK + fifo_depth(layers[j - 1])
    return total + fifo_depth(layers[index - 1])


def buffer_bits(spec: NetSpec, layers: list[Layer]) -> list[dict[str, int]]:
    """Per layer: bits of its line buffer, of the FIFO in front of it and of its skip FIFO (add)."""
    out = []
    act = spec.quant.act_bits
    for idx, comp in enumerate(layers):
        lb = comp.window.line_buffer_bits if isinstance(comp, ConvLayer) else 0
        c_in = comp.c
        fifo = fifo_depth(layers[idx - 1]) * (c_in * act + 2) if idx else 0
        skip = getattr(spec.layers[idx], "skip", None)
        sk = skip_depth(layers, idx, skip) * (c_in * act + 2) if skip is not None else 0
        out.append({"line_buffer_bits": lb, "fifo_bits": fifo, "skip_fifo_bits": sk})
    return out


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
        n = len(self.layers)
        # Elastic buffer in front of every layer but the first: a pooled layer emits a row in bursts (one
        # pixel per 2 cycles on odd rows, none on even rows) that a folded consumer takes at its own pace.
        # An add also reads a skip FIFO filled from the output of the layer it names.
        writers: dict[int, list[SyncFIFOBuffered]] = {j: [] for j in range(n)}
        for idx, comp in enumerate(self.layers):
            m.submodules[f"layer{idx}"] = comp
            if idx == 0:
                wiring.connect(m, wiring.flipped(self.i), comp.i)
            else:
                prev = self.layers[idx - 1]
                width = Shape.cast(prev.o.payload.shape()).width
                m.submodules[f"fifo{idx}"] = fifo = SyncFIFOBuffered(width=width, depth=fifo_depth(prev))
                m.d.comb += [comp.i.valid.eq(fifo.r_rdy), comp.i.payload.eq(fifo.r_data), fifo.r_en.eq(comp.i.ready)]
                writers[idx - 1].append(fifo)
            skip = getattr(self.spec.layers[idx], "skip", None)
            if skip is not None:
                width = Shape.cast(self.layers[skip].o.payload.shape()).width
                m.submodules[f"skipfifo{idx}"] = sf = SyncFIFOBuffered(width=width,
                                                                       depth=skip_depth(self.layers, idx, skip))
                m.d.comb += [comp.skip.valid.eq(sf.r_rdy), comp.skip.payload.eq(sf.r_data), sf.r_en.eq(comp.skip.ready)]
                writers[skip].append(sf)
            tap = getattr(self, f"tap{idx}")
            m.d.comb += [tap.valid.eq(comp.o.valid), tap.ready.eq(comp.o.ready), tap.payload.eq(comp.o.payload)]
            m.d.comb += getattr(self, f"stats{idx}").eq(comp.stats)
        # Forks: a layer's output beat is written into all its FIFOs at once, when every one has room.
        for j, fifos in writers.items():
            if not fifos:
                continue
            src = self.layers[j].o
            room = Signal(name=f"room{j}")
            m.d.comb += room.eq(Cat(*(f.w_rdy for f in fifos)).all())
            m.d.comb += src.ready.eq(room)
            for f in fifos:
                m.d.comb += [f.w_data.eq(src.payload.as_value()), f.w_en.eq(src.valid & room)]
        m.submodules.argmax = am = Argmax(classes=self.spec.num_classes, shape=signed(self.spec.quant.act_bits))
        wiring.connect(m, self.layers[-1].o, am.i)
        wiring.connect(m, am.o, wiring.flipped(self.o))
        return m

    def buffer_bits(self) -> list[dict[str, int]]:
        """Per layer: line-buffer, input-FIFO and skip-FIFO bits (:func:`buffer_bits`)."""
        return buffer_bits(self.spec, self.layers)
