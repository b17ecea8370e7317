"""The requantizer: int32 accumulator → int8 activation. One definition for golden, RTL and export.

docs/architecture.md: per output channel an integer multiplier m and shift s;
out = clamp(round(acc · m / 2^s) + zero_point, lo, hi), with the rounding mode explicit:

- ``half_up``: (acc·m + 2^(s−1)) >> s, arithmetic (floor) shift — TFLite's single-rounding form.
  Ties round towards +∞ (−2.5 → −2).
- ``half_even``: ties to even — what ONNX QLinearConv / onnxruntime do.

With s = 0 there is no fraction and no rounding term. The product acc·m is exact in int64.
:func:`requantize_tflite_double` reproduces TFLite's double rounding for comparison (golden only, not RTL).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:  # torch is imported where it is used: `logcam energy` reads NetSpecs without it
    import torch


Rounding = Literal["half_up", "half_even"]
ROUNDING_MODES: tuple[str, ...] = ("half_up", "half_even")

#: Shift range the RTL supports (acc·m < 2^31 · 2^15 = 2^46 needs at most 47 bits of shift).
MAX_SHIFT = 47


def rounding_shift(prod: torch.Tensor, shift: torch.Tensor, rounding: Rounding) -> torch.Tensor:
    """round(prod / 2^shift) for int64 tensors, ties per ``rounding``; shift broadcasts against prod."""
    import torch

    prod = prod.to(torch.int64)
    shift = torch.as_tensor(shift, dtype=torch.int64)
    if rounding == "half_up":
        half = torch.where(shift > 0, torch.ones_like(shift) << (shift - 1).clamp(min=0), torch.zeros_like(shift))
        return (prod + half) >> shift
    if rounding == "half_even":
        q = prod >> shift  # floor
        rem = prod - (q << shift)  # 0 ≤ rem < 2^shift
        half = torch.ones_like(shift) << (shift - 1).clamp(min=0)
        up = (shift > 0) & ((rem > half) | ((rem == half) & (q & 1 == 1)))
        return q + up.to(torch.int64)
    raise ValueError(f"rounding must be one of {ROUNDING_MODES}, got {rounding!r}")


def requantize(
    acc: torch.Tensor,
    mult: torch.Tensor,
    shift: torch.Tensor,
    *,
    rounding: Rounding = "half_up",
    zero_point: int = 0,
    lo: int = -128,
    hi: int = 127,
    channel_dim: int = 1,
) -> torch.Tensor:
    """Requantize an int32 accumulator tensor per output channel (along ``channel_dim``) → int8 values.

    ``mult`` and ``shift`` are 1-D per-channel int tensors. Returns int64 values in [lo, hi]
    (callers cast to int8); int64 keeps every intermediate exact.
    """
    import torch

    acc = acc.to(torch.int64)
    view = [1] * acc.dim()
    view[channel_dim] = -1
    m = torch.as_tensor(mult, dtype=torch.int64).view(view)
    s = torch.as_tensor(shift, dtype=torch.int64).view(view)
    out = rounding_shift(acc * m, s, rounding) + zero_point
    return out.clamp(lo, hi)


def requantize_tflite_double(
    acc: torch.Tensor,
    mult: torch.Tensor,
    shift: torch.Tensor,
    *,
    mult_bits: int = 16,
    zero_point: int = 0,
    lo: int = -128,
    hi: int = 127,
    channel_dim: int = 1,
) -> torch.Tensor:
    """TFLite's default *double* rounding, for comparison only (golden may offer it; the RTL does not).

    TFLite's MultiplyByQuantizedMultiplier with M0 = m·2^(32−mult_bits) (Q31) and exponent
    mult_bits−1−s: x = acc·2^left; SaturatingRoundingDoublingHighMul(x, M0) = round(x·M0 / 2^31) with
    ties towards +∞ (gemmlowp's nudge, C truncating division), then RoundingDivideByPOT by
    right = s−(mult_bits−1) with ties away from zero. Requires x to fit int32, as in TFLite.
    """
    import torch

    acc = acc.to(torch.int64)
    view = [1] * acc.dim()
    view[channel_dim] = -1
    m = torch.as_tensor(mult, dtype=torch.int64).view(view)
    s = torch.as_tensor(shift, dtype=torch.int64).view(view)
    if not 2 <= mult_bits <= 32:
        raise ValueError(f"mult_bits must be 2..32, got {mult_bits}")
    m0 = m << (32 - mult_bits)
    left = ((mult_bits - 1) - s).clamp(min=0)
    right = (s - (mult_bits - 1)).clamp(min=0)
    x = acc << left
    if x.numel() and (int(x.min()) < -(1 << 31) or int(x.max()) >= 1 << 31):
        raise ValueError("tflite double rounding: acc·2^left leaves int32 (TFLite would overflow)")
    ab = x * m0
    nudge = torch.where(ab >= 0, torch.full_like(ab, 1 << 30), torch.full_like(ab, 1 - (1 << 30)))
    high = torch.div(ab + nudge, 1 << 31, rounding_mode="trunc")
    mask = (torch.ones_like(right) << right) - 1
    threshold = (mask >> 1) + (high < 0).to(torch.int64)
    out = (high >> right) + ((high & mask) > threshold).to(torch.int64) + zero_point
    return out.clamp(lo, hi)


def quantize_multiplier(scale: float, mult_bits: int = 16) -> tuple[int, int]:
    """Integer (m, s) with m / 2^s ≈ scale, 2^(mult_bits−2) ≤ m < 2^(mult_bits−1) where possible.

    ``scale`` is the real requant factor (input scale · weight scale / output scale), > 0.
    """
    if not (scale > 0 and math.isfinite(scale)):
        raise ValueError(f"requant scale must be a positive finite number, got {scale}")
    top = 1 << (mult_bits - 1)
    mant, exp = math.frexp(scale)  # scale = mant · 2^exp, 0.5 ≤ mant < 1
    s = (mult_bits - 1) - exp
    m = round(mant * top)
    if m == top:  # rounding carried into the next power of two
        m //= 2
        s -= 1
    if s < 0:
        raise ValueError(f"requant scale {scale} too large for {mult_bits}-bit multipliers")
    if s > MAX_SHIFT:  # tiny scale: drop mantissa bits rather than exceed the shifter
        m = round(m / (1 << (s - MAX_SHIFT)))
        s = MAX_SHIFT
    return m, s
