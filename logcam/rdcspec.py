"""RdcSpec: the one definition of the ratio-to-digital converter (RDC).

The RTL generator (:mod:`logcam.hw.rdc`), the golden model (:mod:`logcam.nn.golden.rdc`), the input
formats used in training and the energy model all read this object. The contract is in
docs/architecture.md: a = P + 1; gradient pairs (num, den); code = +k for the largest k with
num·d_k ≥ den·n_k, else −k for the largest k with den·d_k ≥ num·n_k, else 0; pixels without the
neighbour get code 0.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Literal

from pydantic import Field, field_validator, model_validator

from logcam.config import StrictModel

Mode = Literal["h", "v", "hv", "sum"]

#: Default threshold ratios per number of levels (docs/architecture.md: a pixel ratio of 2 is the
#: 1.5-bit threshold of the PASCAL RAW log-gradient HOG work, whose full scale is a ratio of 8).
DEFAULT_THRESHOLDS: dict[int, tuple[Fraction, ...]] = {
    3: (Fraction(2),),
    5: (Fraction(2), Fraction(4)),
    7: (Fraction(2), Fraction(4), Fraction(8)),
}

#: Largest numerator/denominator of a threshold ratio: the capacitor ratio of the analog RDC is a
#: small integer fraction, and the RTL multiplies by it.
MAX_RATIO_TERM = 255


def parse_ratio(value: object) -> Fraction:
    """A threshold ratio from YAML: an int, a decimal (exact, via its text) or ``"n/d"``."""
    if isinstance(value, Fraction):
        return value
    if isinstance(value, bool):
        raise ValueError(f"threshold must be a number or 'n/d', got {value!r}")
    if isinstance(value, (int, float, str)):
        try:
            return Fraction(str(value).strip())
        except (ValueError, ZeroDivisionError):
            pass
    raise ValueError(f"threshold must be a number or 'n/d', got {value!r}")


class RdcSpec(StrictModel):
    """Parameters of the column-parallel RDC (sizes in pixels, DN in ADC codes)."""

    width: int = Field(64, ge=2, le=4096, description="frame width in pixels")
    height: int = Field(48, ge=2, le=4096, description="frame height in pixels")
    adc_bits: int = Field(10, ge=1, le=16, description="bits of the input DN (P ≤ 2^adc_bits − 1)")
    levels: Literal[3, 5, 7] = Field(3, description="output levels L: 3 (1.5-bit), 5 (2.25-bit) or 7")
    thresholds: tuple[Fraction, ...] | None = Field(
        None, description="m = (L−1)/2 increasing ratios > 1 as exact fractions; default per levels")
    mode: Mode = Field("sum", description="h, v, hv (two channels) or sum (pixel vs left·up)")
    lanes: int = Field(4, ge=1, le=64, description="columns converted per clock")

    @field_validator("levels", mode="before")
    @classmethod
    def _levels(cls, v: object) -> object:
        if v not in (3, 5, 7):
            raise ValueError("levels must be 3, 5 or 7")
        return v

    @field_validator("thresholds", mode="before")
    @classmethod
    def _parse_thresholds(cls, v: object) -> object:
        if v is None:
            return None
        if not isinstance(v, (list, tuple)):
            v = [v]
        return tuple(parse_ratio(x) for x in v)

    @model_validator(mode="after")
    def _check(self) -> RdcSpec:
        m = (self.levels - 1) // 2
        if self.thresholds is None:
            object.__setattr__(self, "thresholds", DEFAULT_THRESHOLDS[self.levels])
        t = self.thresholds
        assert t is not None
        if len(t) != m:
            raise ValueError(f"thresholds: {self.levels} levels need {m} ratio(s), got {len(t)}")
        for r in t:
            if r <= 1:
                raise ValueError(f"thresholds: every ratio must be > 1, got {r}")
            if r.numerator > MAX_RATIO_TERM or r.denominator > MAX_RATIO_TERM:
                raise ValueError(f"thresholds: {r} needs terms ≤ {MAX_RATIO_TERM} (a small capacitor ratio)")
        if any(b <= a for a, b in zip(t, t[1:])):
            raise ValueError(f"thresholds must be strictly increasing, got {[str(x) for x in t]}")
        if self.width % self.lanes:
            raise ValueError(f"lanes ({self.lanes}) must divide width ({self.width})")
        return self

    # Derived quantities -------------------------------------------------------------------
    @property
    def m(self) -> int:
        """Number of threshold ratios (levels on each side of zero)."""
        return (self.levels - 1) // 2

    @property
    def channels(self) -> int:
        """Output channels: 2 for ``hv``, else 1."""
        return 2 if self.mode == "hv" else 1

    @property
    def code_bits(self) -> int:
        """Bits of one signed code (two's complement): 2 for ±1, 3 for ±2 and ±3."""
        return 1 + self.m.bit_length()

    @property
    def ratio_terms(self) -> list[tuple[int, int]]:
        """Thresholds as integer pairs (n_k, d_k), k = 1..m."""
        assert self.thresholds is not None
        return [(r.numerator, r.denominator) for r in self.thresholds]

    @property
    def max_dn(self) -> int:
        """Largest valid input DN."""
        return (1 << self.adc_bits) - 1

    @property
    def bits_per_pixel(self) -> float:
        """Information per output pixel in bits (log2 of levels per channel): 1.58 for 3 levels."""
        import math

        return self.channels * math.log2(self.levels)
