"""Every stream payload, debug tap and activity-counter layout of the RTL, in one place.

Streams follow the AXI4-Stream video convention (docs/architecture.md): a beat carries its values
plus ``first`` (start of frame, AXI tuser) and ``last`` (end of line, AXI tlast). The RDC's streams
carry ``lanes`` pixels or codes per beat; between accelerator layers a beat is one pixel with all its
channels (:func:`act_layout`); the fc layer's output beat holds all its outputs (the logits) with
``first`` and ``last`` set; the label stream carries the argmax index.

:func:`describe_layout` flattens an Amaranth layout into a JSON-able list of fields (bit offset,
element width, array shape, signedness) so testbenches that do not import Amaranth (the cocotb
process) can pack and unpack payload integers (:mod:`logcam.sim.rtl.streams`).
"""

from __future__ import annotations

from typing import Any

from amaranth.hdl import Shape, ShapeCastable, signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import Out

#: Width of every activity counter (events since reset, wrapping at 2^32).
COUNTER_BITS = 32


def pixel_layout(lanes: int, bits: int) -> data.StructLayout:
    """Payload of a pixel stream: ``data[lanes]`` unsigned DN of ``bits`` each, ``first``, ``last``."""
    if lanes < 1 or bits < 1:
        raise ValueError(f"pixel_layout: lanes and bits must be ≥ 1, got lanes={lanes}, bits={bits}")
    return data.StructLayout({
        "data": data.ArrayLayout(unsigned(bits), lanes),
        "first": 1,
        "last": 1,
    })


def code_layout(lanes: int, code_bits: int, channels: int = 1) -> data.StructLayout:
    """Payload of a code stream: ``data[channels][lanes]`` signed codes, ``first``, ``last``."""
    if lanes < 1 or code_bits < 2 or channels < 1:
        raise ValueError(f"code_layout: need lanes ≥ 1, code_bits ≥ 2, channels ≥ 1, got "
                         f"{lanes}, {code_bits}, {channels}")
    return data.StructLayout({
        "data": data.ArrayLayout(data.ArrayLayout(signed(code_bits), lanes), channels),
        "first": 1,
        "last": 1,
    })


def act_layout(channels: int, shape: ShapeCastable) -> data.StructLayout:
    """Payload of a pixel stream: ``data[channels]`` values of ``shape``, ``first``, ``last``."""
    if channels < 1:
        raise ValueError(f"act_layout: channels must be ≥ 1, got {channels}")
    return data.StructLayout({"data": data.ArrayLayout(shape, channels), "first": 1, "last": 1})


def input_shape(fmt: str, bits: int) -> Shape:
    """Shape of one network input value: unsigned 8-bit pixels (uint8), else signed (codes, int8 maps)."""
    return unsigned(bits) if fmt == "uint8" else signed(bits)


def label_layout(classes: int) -> data.StructLayout:
    """Payload of the label stream: the argmax index (0..classes−1)."""
    return data.StructLayout({"label": unsigned(max(1, (classes - 1).bit_length()))})


def tap_signature(layout: data.Layout) -> wiring.Signature:
    """A read-only copy of a stream (valid, ready, payload all outputs) for debug monitors."""
    return wiring.Signature({"valid": Out(1), "ready": Out(1), "payload": Out(layout)})


def layer_stats_layout() -> data.StructLayout:
    """Activity counters of one layer (wrap at 2^32), for the energy model.

    ``mac_cycles``: cycles the MAC array worked (each does pe·simd multiply-accumulates);
    ``lb_access``: line-buffer words read (= words written; conv) or pool-memory accesses;
    ``rom_reads``: weight-ROM words read (pe·simd weights each); ``out_beats``: output beats taken.
    """
    return data.StructLayout({"mac_cycles": COUNTER_BITS, "lb_access": COUNTER_BITS,
                              "rom_reads": COUNTER_BITS, "out_beats": COUNTER_BITS})


def rdc_stats_layout() -> data.StructLayout:
    """Activity counters for the energy model (events since reset, wrapping at 2^32).

    ``beats``: input beats accepted (= line-memory writes = line-memory reads, ``lanes`` pixels
    each); ``nonzero``: output codes ≠ 0 (over lanes and channels, counted when taken);
    ``stalls``: cycles with a valid output that the sink did not take.
    """
    return data.StructLayout({"beats": COUNTER_BITS, "nonzero": COUNTER_BITS, "stalls": COUNTER_BITS})


def describe_layout(layout: Any) -> list[dict[str, Any]]:
    """Leaf fields of a layout as dicts ``{name, offset, width, shape, signed}`` (offsets in bits).

    Struct members become names joined by ``.``; nested arrays of one scalar shape become one
    field with a row-major ``shape`` whose elements are ``width`` bits apart.
    """
    out: list[dict[str, Any]] = []
    _walk(data.Layout.cast(layout) if not isinstance(layout, (Shape, int)) else layout, "", 0, out)
    return out


def _walk(layout: Any, name: str, offset: int, out: list[dict[str, Any]]) -> None:
    if isinstance(layout, data.ArrayLayout):
        dims: list[int] = []
        elem: Any = layout
        while isinstance(elem, data.ArrayLayout):
            dims.append(elem.length)
            elem = elem.elem_shape
        if isinstance(elem, data.Layout):
            raise ValueError(f"describe_layout: arrays of structs are not supported ({name})")
        shape = Shape.cast(elem)
        out.append({"name": name, "offset": offset, "width": shape.width, "shape": dims,
                    "signed": shape.signed})
        return
    if isinstance(layout, data.Layout):
        for member_name, field in layout:
            _walk(field.shape, f"{name}.{member_name}" if name else str(member_name),
                  offset + field.offset, out)
        return
    shape = Shape.cast(layout)
    out.append({"name": name, "offset": offset, "width": shape.width, "shape": [], "signed": shape.signed})
