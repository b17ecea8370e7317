"""A minimal ISP: RAW DN → 8-bit gamma-encoded image for viewing and for 8-bit CNN inputs.

Steps: (optional 3×3 median denoise on the RAW) → subtract the black level → divide by the white
level (the saturation DN of the spec unless ``white_dn`` is given) → clip to 0..1 → gamma (sRGB OETF
or a plain 1/2.2 power) → round to uint8. The sensor is monochrome — the log-gradient work uses
grayscale — so there is no demosaic, white balance or colour matrix.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from logcam.errors import ConfigError, InputError
from logcam.sim.sensor import SensorSpec

Gamma = Literal["srgb", "2.2", "linear"]
GAMMAS: tuple[str, ...] = ("srgb", "2.2", "linear")


def white_level_dn(spec: SensorSpec) -> float:
    """The RAW level that maps to 255: the saturation DN of the spec (full well or ADC maximum)."""
    fw_dn = spec.black_level_dn + spec.gain_dn_per_e * spec.full_well_e * spec.binning**2
    return float(min(spec.max_dn, np.floor(fw_dn + 0.5)))


def linear_to_srgb(v: np.ndarray) -> np.ndarray:
    """sRGB transfer function (IEC 61966-2-1): linear 0..1 → encoded 0..1."""
    v = np.asarray(v, dtype=np.float64)
    return np.where(v <= 0.0031308, 12.92 * v, 1.055 * np.power(np.maximum(v, 0.0031308), 1 / 2.4) - 0.055)


def normalise(raw_dn: np.ndarray, spec: SensorSpec, white_dn: float | None = None) -> np.ndarray:
    """(raw − black) / (white − black), clipped to 0..1, float64."""
    black = spec.black_level_dn
    white = white_level_dn(spec) if white_dn is None else float(white_dn)
    if not (np.isfinite(white) and white > black):
        raise ConfigError(f"isp.white_dn: must be above the black level {black} DN (got {white_dn!r})")
    return np.clip((raw_dn.astype(np.float64) - black) / (white - black), 0.0, 1.0)


def isp(raw_dn: np.ndarray, spec: SensorSpec, gamma: Gamma = "srgb", white_dn: float | None = None,
        denoise: bool = False) -> np.ndarray:
    """8-bit gamma image (uint8, same shape: H×W or N×H×W) from RAW DN of ``spec``'s ADC."""
    if gamma not in GAMMAS:
        raise ConfigError(f"isp.gamma: unknown {gamma!r}; allowed: {', '.join(GAMMAS)}")
    if not isinstance(raw_dn, np.ndarray) or raw_dn.dtype.kind not in "ui":
        got = raw_dn.dtype if isinstance(raw_dn, np.ndarray) else type(raw_dn).__name__
        raise InputError(f"isp: RAW must be an unsigned/integer numpy array of DN (got {got})")
    if raw_dn.ndim not in (2, 3) or min(raw_dn.shape[-2:]) < 1:
        raise InputError(f"isp: RAW must be H×W or N×H×W (got shape {raw_dn.shape})")
    if raw_dn.size and (int(raw_dn.min()) < 0 or int(raw_dn.max()) > spec.max_dn):
        raise InputError(f"isp: RAW values must be within 0..{spec.max_dn} DN for adc_bits={spec.adc_bits} "
                         f"(got {int(raw_dn.min())}..{int(raw_dn.max())})")
    x = raw_dn
    if denoise:
        from scipy.ndimage import median_filter

        size = (1, 3, 3) if x.ndim == 3 else (3, 3)
        x = median_filter(x, size=size, mode="reflect")
    v = normalise(x, spec, white_dn)
    if gamma == "srgb":
        v = linear_to_srgb(v)
    elif gamma == "2.2":
        v = np.power(v, 1 / 2.2)
    return np.floor(v * 255.0 + 0.5).astype(np.uint8)
