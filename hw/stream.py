"""Stream payload layouts shared by the RTL blocks (AXI4-Stream video convention).

A beat carries ``lanes`` values plus ``first`` (start of frame, AXI tuser) and ``last`` (end of
line, AXI tlast). :func:`describe_layout` flattens an Amaranth layout into a JSON-able list of
fields (bit offset, element width, array shape, signedness) so testbenches that do not import
Amaranth (the cocotb process) can pack and unpack payload integers (:mod:`logcam.sim.rtl.streams`).
"""

from __future__ import annotations

from typing import Any

from amaranth.hdl import Shape, signed, unsigned
from amaranth.lib import data


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
