"""Stream payloads, debug taps and activity counters shared by the accelerator's layers.

Between layers a beat is one pixel: ``data[C]`` (all channels of that pixel, signed activations, or
the network input's codes / uint8), ``first`` (start of frame) and ``last`` (end of line) — the
AXI4-Stream video convention of ARCHITECTURE.md with one pixel per beat. The fc layer's output beat
holds all its outputs (the logits) with ``first`` and ``last`` set; the label stream carries the
argmax index.
"""

from __future__ import annotations

from amaranth.hdl import Shape, ShapeCastable, signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import Out

#: Width of every activity counter (events since reset, wrapping at 2^32).
COUNTER_BITS = 32


def act_layout(channels: int, shape: ShapeCastable) -> data.StructLayout:
    """Payload of a pixel stream: ``data[channels]`` values of ``shape``, ``first``, ``last``."""
    if channels < 1:
        raise ValueError(f"act_layout: channels must be ≥ 1, got {channels}")
    return data.StructLayout({"data": data.ArrayLayout(shape, channels), "first": 1, "last": 1})


def input_shape(fmt: str, bits: int) -> Shape:
    """Shape of one network input value: signed codes or unsigned 8-bit pixels."""
    return signed(bits) if fmt == "codes" else unsigned(bits)


def label_layout(classes: int) -> data.StructLayout:
    """Payload of the label stream: the argmax index (0..classes−1)."""
    return data.StructLayout({"label": unsigned(max(1, (classes - 1).bit_length()))})


def tap_signature(layout: data.Layout) -> wiring.Signature:
    """A read-only copy of a stream (valid, ready, payload all outputs) for debug monitors."""
    return wiring.Signature({"valid": Out(1), "ready": Out(1), "payload": Out(layout)})


def stats_layout() -> data.StructLayout:
    """Activity counters of one layer (wrap at 2^32), for the energy model.

    ``mac_cycles``: cycles the MAC array worked (each does pe·simd multiply-accumulates);
    ``lb_access``: line-buffer words read (= words written; conv) or pool-memory accesses;
    ``rom_reads``: weight-ROM words read (pe·simd weights each); ``out_beats``: output beats taken.
    """
    return data.StructLayout({"mac_cycles": COUNTER_BITS, "lb_access": COUNTER_BITS,
                              "rom_reads": COUNTER_BITS, "out_beats": COUNTER_BITS})
