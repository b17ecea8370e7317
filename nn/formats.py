"""Network input formats computed from the same RAW DN frames.

``raw16`` (DN / white level), ``jpeg8`` (white level, gamma 2.2, 8 bit; optionally real JPEG through
Pillow), ``fp_loggrad`` (float log(P+1) log-gradient), ``loggrad_q3`` / ``loggrad_q5`` (the RDC's 3- and
5-level codes, computed by :func:`logcam.nn.golden.rdc.rdc_codes` — the one RDC quantizer).

Every format is a callable torch transform: DN frame(s) H×W or N×H×W (unsigned integers,
≤ 2^adc_bits − 1) → float32 tensor C×H×W or N×C×H×W, the *real* network input. Formats the
accelerator can take (codes, uint8) also give the integer input (:meth:`InputFormat.integer`) and the
NetSpec input fields; real input = integer input × :attr:`InputFormat.input_scale`.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
from PIL import Image

from logcam.errors import ConfigError, InputError
from logcam.nn.golden.rdc import check_frames, fp_loggrad, rdc_codes
from logcam.rdcspec import RdcSpec

GAMMA = 2.2


def _frames(dn: torch.Tensor | np.ndarray, adc_bits: int) -> tuple[torch.Tensor, bool]:
    """DN input → (int64 N×H×W, was_single)."""
    t = torch.as_tensor(dn) if not isinstance(dn, torch.Tensor) else dn
    single = t.dim() == 2
    spec = RdcSpec(width=max(2, t.shape[-1]), height=max(2, t.shape[-2]), adc_bits=adc_bits, lanes=1) \
        if t.dim() >= 2 else RdcSpec(adc_bits=adc_bits)
    return check_frames(t, spec, "DN frames"), single


@dataclass(frozen=True)
class InputFormat:
    """One input format; subclasses implement :meth:`integer` or :meth:`real`."""

    adc_bits: int = 10

    name = "base"
    #: NetSpec input format ("codes" or "uint8"), or None if the accelerator cannot take it.
    netspec_format: ClassVar[str | None] = None
    channels = 1

    @property
    def white(self) -> int:
        """White level in DN (largest ADC code)."""
        return (1 << self.adc_bits) - 1

    @property
    def input_scale(self) -> float:
        """Real value of one integer input step."""
        return 1.0

    @property
    def netspec_levels(self) -> int | None:
        return None

    def integer(self, dn: torch.Tensor | np.ndarray) -> torch.Tensor:
        """Integer accelerator input N×C×H×W (int8 codes, uint8 pixels); only formats with a NetSpec input format."""
        raise ConfigError(f"format {self.name!r} has no integer form for the accelerator (use codes or jpeg8)")

    def real(self, frames: torch.Tensor) -> torch.Tensor:
        """float32 N×C×H×W from validated int64 N×H×W frames."""
        return self.integer(frames).to(torch.float32) * self.input_scale

    def __call__(self, dn: torch.Tensor | np.ndarray) -> torch.Tensor:
        frames, single = _frames(dn, self.adc_bits)
        out = self.real(frames)
        return out[0] if single else out


@dataclass(frozen=True)
class Raw16(InputFormat):
    """Linear RAW normalised to [0, 1] by the white level."""

    name = "raw16"

    def real(self, frames: torch.Tensor) -> torch.Tensor:
        return (frames.to(torch.float32) / self.white).unsqueeze(1)


@dataclass(frozen=True)
class Jpeg8(InputFormat):
    """8-bit gamma image: (DN / white)^(1/2.2) · 255 rounded; with ``quality`` also JPEG-compressed by Pillow."""

    quality: int | None = None
    name = "jpeg8"
    netspec_format = "uint8"

    @property
    def input_scale(self) -> float:
        return 1.0 / 255.0

    def integer(self, dn: torch.Tensor | np.ndarray) -> torch.Tensor:
        frames, _ = _frames(dn, self.adc_bits)
        lin = frames.to(torch.float64) / self.white
        g = torch.floor(lin.clamp(0, 1) ** (1 / GAMMA) * 255.0 + 0.5).to(torch.uint8)
        if self.quality is not None:
            g = torch.from_numpy(np.stack([_jpeg_roundtrip(f, self.quality) for f in g.numpy()]))
        return g.unsqueeze(1)


def _jpeg_roundtrip(img: np.ndarray, quality: int) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(img, mode="L").save(buf, format="JPEG", quality=quality)
    buf.seek(0)
    return np.asarray(Image.open(buf).convert("L"), dtype=np.uint8)


@dataclass(frozen=True)
class FpLoggrad(InputFormat):
    """Float log-gradient of log(P+1) (RDC mode ``sum`` by default), natural log units."""

    mode: str = "sum"
    name = "fp_loggrad"

    @property
    def channels(self) -> int:  # type: ignore[override]
        return 2 if self.mode == "hv" else 1

    def real(self, frames: torch.Tensor) -> torch.Tensor:
        return fp_loggrad(frames, self.rdc(frames.shape[1], frames.shape[2]))

    def rdc(self, h: int, w: int, levels: int = 3) -> RdcSpec:
        return RdcSpec(width=w, height=h, adc_bits=self.adc_bits, levels=levels, mode=self.mode, lanes=1)


@dataclass(frozen=True)
class LoggradCodes(FpLoggrad):
    """The RDC's signed codes (−m..m) from :func:`rdc_codes`; real input = the code value."""

    levels: int = 3
    name = "loggrad_codes"
    netspec_format = "codes"

    @property
    def netspec_levels(self) -> int | None:
        return self.levels

    def integer(self, dn: torch.Tensor | np.ndarray) -> torch.Tensor:
        frames, _ = _frames(dn, self.adc_bits)
        return rdc_codes(frames, self.rdc(frames.shape[1], frames.shape[2], self.levels))

    def real(self, frames: torch.Tensor) -> torch.Tensor:
        return self.integer(frames).to(torch.float32)


@dataclass(frozen=True)
class LoggradQ3(LoggradCodes):
    """3-level RDC codes (−1, 0, 1)."""

    levels: int = 3
    name = "loggrad_q3"


@dataclass(frozen=True)
class LoggradQ5(LoggradCodes):
    """5-level RDC codes (−2..2)."""

    levels: int = 5
    name = "loggrad_q5"


#: name → factory(adc_bits=..., [quality=...|mode=...]) of an :class:`InputFormat`.
FORMATS: dict[str, Callable[..., InputFormat]] = {
    "raw16": Raw16,
    "jpeg8": Jpeg8,
    "fp_loggrad": FpLoggrad,
    "loggrad_q3": LoggradQ3,
    "loggrad_q5": LoggradQ5,
}

#: Formats the integer accelerator can take.
ACCEL_FORMATS = ("jpeg8", "loggrad_q3", "loggrad_q5")


def check_format_name(name: str, field: str = "format") -> str:
    if name not in FORMATS:
        raise ConfigError(f"{field}: unknown format {name!r}; choose from {', '.join(FORMATS)}")
    return name


def get_format(name: str, adc_bits: int = 10, **kw: object) -> InputFormat:
    """The transform for a format name (ConfigError listing the names if unknown)."""
    check_format_name(name)
    if not 1 <= adc_bits <= 16:
        raise ConfigError(f"adc_bits: must lie in 1..16, got {adc_bits}")
    if name == "jpeg8" and kw.get("quality") is not None and not 1 <= int(kw["quality"]) <= 100:  # type: ignore[arg-type]
        raise ConfigError(f"jpeg quality: must lie in 1..100, got {kw['quality']}")
    try:
        return FORMATS[name](adc_bits=adc_bits, **kw)
    except TypeError as err:
        raise ConfigError(f"format {name!r}: {err}") from None


__all__ = ["ACCEL_FORMATS", "FORMATS", "FpLoggrad", "InputError", "InputFormat", "Jpeg8", "LoggradCodes", "Raw16",
           "check_format_name", "get_format"]
