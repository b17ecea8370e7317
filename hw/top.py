"""Sensor to label: the RDC's code stream feeds the accelerator's first layer (DN in, label out).

``Top(rdc, net, bundle)`` checks that the RDC's output is the NetSpec's input (the one front-end
contract, :func:`logcam.frontend.check_feeds`; one line naming the field otherwise), serialises the RDC's ``lanes``
codes per beat into one pixel per beat (the accelerator takes one pixel per clock), and exposes the
code stream (``tap_codes``) next to every layer's tap for the end-to-end bench.
"""

from __future__ import annotations

from amaranth.hdl import Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.wiring import In, Out

from logcam.frontend import check_feeds, rdc_input
from logcam.hw.accel.net import Accelerator
from logcam.hw.accel.rom import select
from logcam.hw.rdc import Rdc
from logcam.hw.stream import (
    act_layout,
    code_layout,
    input_shape,
    label_layout,
    layer_stats_layout,
    pixel_layout,
    rdc_stats_layout,
    tap_signature,
)
from logcam.nn.netspec import Bundle, NetSpec
from logcam.rdcspec import RdcSpec


class LaneSerializer(wiring.Component):
    """``lanes`` codes per beat → one code pixel (all channels) per beat; first/last kept on the right pixel."""

    def __init__(self, *, lanes: int, code_bits: int, channels: int) -> None:
        self.lanes, self.channels = lanes, channels
        super().__init__({
            "i": In(stream.Signature(code_layout(lanes, code_bits, channels))),
            "o": Out(stream.Signature(act_layout(channels, input_shape("codes", code_bits)))),
        })

    def elaborate(self, platform: object) -> Module:
        m = Module()
        lanes = self.lanes
        buf = Signal.like(self.i.payload)
        lane = Signal(range(max(lanes, 2)))
        full = Signal()
        end = lane == lanes - 1
        fire = self.o.valid & self.o.ready
        m.d.comb += [self.o.valid.eq(full), self.i.ready.eq(~full | (self.o.ready & end))]
        for ch in range(self.channels):
            m.d.comb += self.o.payload.data[ch].eq(select([buf.data[ch][j] for j in range(lanes)], lane))
        m.d.comb += [self.o.payload.first.eq(buf.first & (lane == 0)), self.o.payload.last.eq(buf.last & end)]
        with m.If(fire):
            m.d.sync += lane.eq(lane + 1)
            with m.If(end):
                m.d.sync += [full.eq(0), lane.eq(0)]
        with m.If(self.i.valid & self.i.ready):
            m.d.sync += [buf.eq(self.i.payload), full.eq(1), lane.eq(0)]
        return m


class Top(wiring.Component):
    """RDC → accelerator: ``i`` DN pixels (``lanes`` per beat), ``o`` labels, taps and activity counters."""

    def __init__(self, rdc: RdcSpec, net: NetSpec, bundle: Bundle) -> None:
        check_feeds(rdc_input(rdc), net, source=f"the RDC (mode {rdc.mode})")
        self.rdc_spec, self.net_spec = rdc, net
        self.rdc = Rdc(rdc)
        self.accel = Accelerator(net, bundle)
        self.serial = LaneSerializer(lanes=rdc.lanes, code_bits=rdc.code_bits, channels=rdc.channels)
        members = {
            "i": In(stream.Signature(pixel_layout(rdc.lanes, rdc.adc_bits))),
            "o": Out(stream.Signature(label_layout(net.num_classes))),
            "tap_codes": Out(tap_signature(self.serial.o.payload.shape())),
            "rdc_stats": Out(rdc_stats_layout()),
        }
        for idx, comp in enumerate(self.accel.layers):
            members[f"tap{idx}"] = Out(tap_signature(comp.o.payload.shape()))
            members[f"stats{idx}"] = Out(layer_stats_layout())
        super().__init__(members)

    def elaborate(self, platform: object) -> Module:
        m = Module()
        m.submodules.rdc = rdc = self.rdc
        m.submodules.serial = ser = self.serial
        m.submodules.accel = acc = self.accel
        wiring.connect(m, wiring.flipped(self.i), rdc.i)
        wiring.connect(m, rdc.o, ser.i)
        wiring.connect(m, ser.o, acc.i)
        wiring.connect(m, acc.o, wiring.flipped(self.o))
        m.d.comb += [self.tap_codes.valid.eq(ser.o.valid), self.tap_codes.ready.eq(ser.o.ready),
                     self.tap_codes.payload.eq(ser.o.payload), self.rdc_stats.eq(rdc.stats)]
        for idx in range(len(acc.layers)):
            src, dst = getattr(acc, f"tap{idx}"), getattr(self, f"tap{idx}")
            m.d.comb += [dst.valid.eq(src.valid), dst.ready.eq(src.ready), dst.payload.eq(src.payload),
                         getattr(self, f"stats{idx}").eq(getattr(acc, f"stats{idx}"))]
        return m
