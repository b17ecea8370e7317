"""Front-ends and the one contract between a front-end and the network it feeds.

A *front-end* turns the scene into what the network reads: the RDC (signed log-gradient codes), a
conventional sensor + ISP (an 8-bit image), or PhlatCam optics + sensor (N feature maps).
Each states the NetSpec input it produces through one function here (:func:`rdc_input`,
:func:`image_input`, :func:`optical_input`); :func:`check_feeds` is the one check that a front-end
feeds a network, and :func:`retarget` the one way to point a network at another front-end (the energy
model and sweeps cost the same network behind an ADC + ISP or behind the RDC). ``run``, ``verify top``, the RTL top,
the energy model and training all call these; nothing else spells the contract out.
"""

from __future__ import annotations

from logcam.config import validate
from logcam.errors import ConfigError
from logcam.nn.netspec import InputSpec, NetSpec
from logcam.rdcspec import RdcSpec

#: Fields of an InputSpec that say what a front-end delivers (the size may be cropped or scaled).
KIND_FIELDS = ("format", "levels", "channels")
#: All fields a front-end and a network must agree on to be wired together as they are.
ALL_FIELDS = (*KIND_FIELDS, "height", "width")


def rdc_input(rdc: RdcSpec, *, window: tuple[int, int] | None = None) -> InputSpec:
    """The network input the RDC produces: codes of ``rdc.levels`` levels, 2 channels for ``hv``, else 1.

    ``window``: (height, width) the network reads when it is a window of the frame, not the whole of it
    (the energy model's QVGA sensor feeding a 96×96 network); the frame itself may exceed a network input.
    """
    height, width = window if window is not None else (rdc.height, rdc.width)
    return validate(InputSpec, {"format": "codes", "levels": rdc.levels, "channels": rdc.channels, "height": height,
                                "width": width}, where="network input from the RDC")


def image_input(height: int, width: int, channels: int = 1) -> InputSpec:
    """The network input a conventional sensor + ISP produces: an 8-bit image (uint8, ``channels`` planes)."""
    return validate(InputSpec, {"format": "uint8", "levels": None, "channels": channels, "height": height,
                                "width": width}, where="network input from the ISP")


def optical_input(regions: int, feature_maps: int, height: int, width: int, *, signed: bool = False) -> InputSpec:
    """The network input PhlatCam optics + sensor produce (see logcam.nn.optics).

    ``signed=False``: the 8-bit read-outs of the ``regions`` sensor regions / colour planes (uint8, one
    channel each); the pair differences R⁺ − R⁻ that make the ``feature_maps`` signed maps are left to the
    first digital conv, which is exact in integers: conv(W, R⁺ − R⁻) = conv([W, −W], [R⁺; R⁻])
    (``logcam.nn.optics.fold_pairs``). ``signed=True``: the ``feature_maps`` maps themselves, as int8.
    """
    if signed:
        return validate(InputSpec, {"format": "int8", "levels": None, "channels": feature_maps, "height": height,
                                    "width": width}, where="optics input")
    return validate(InputSpec, {"format": "uint8", "levels": None, "channels": regions, "height": height,
                                "width": width}, where="optics input")


def check_feeds(produced: InputSpec, net: NetSpec, *, source: str, where: str = "net",
                fields: tuple[str, ...] = ALL_FIELDS, hint: str = "") -> None:
    """Raise one ConfigError line unless ``produced`` (from ``source``, e.g. "the RDC") is ``net``'s input.

    ``fields``: what must agree (default all; :data:`KIND_FIELDS` when only the kind of input matters);
    ``hint``: what the user can change, appended in brackets.
    """
    want = net.input
    for field in fields:
        got, need = getattr(produced, field), getattr(want, field)
        if got != need:
            tail = f" ({hint})" if hint else ""
            raise ConfigError(f"{where}: input.{field} is {need}, but {source} gives {got}{tail}")


def retarget(net: NetSpec, produced: InputSpec, *, keep_size: bool = True, where: str = "net") -> NetSpec:
    """``net`` with its input replaced by what a front-end produces (kind only when ``keep_size``)."""
    d = net.model_dump()
    fields = KIND_FIELDS if keep_size else ALL_FIELDS
    d["input"].update({f: getattr(produced, f) for f in fields})
    return validate(NetSpec, d, where=where)


def rdc_feeding(net: NetSpec, *, lanes: int = 1, adc_bits: int = 10) -> RdcSpec:
    """The RdcSpec whose codes are exactly ``net``'s input (mode ``hv`` for 2 channels, else ``sum``)."""
    inp = net.input
    if inp.format != "codes" or inp.channels > 2:
        raise ConfigError(f"net: the RDC feeds a network on codes with 1 or 2 channels; this one takes "
                          f"{inp.format} with {inp.channels} channel(s)")
    return validate(RdcSpec, {"width": inp.width, "height": inp.height, "levels": inp.levels, "lanes": lanes,
                              "adc_bits": adc_bits, "mode": "hv" if inp.channels == 2 else "sum"}, where="rdc")
