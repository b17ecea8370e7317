"""A synthetic RGB object set (10 classes) that logcam renders offline, in the sensor-plane units of
:func:`logcam.sim.scenes.render_scene_rgb`: 3 planes, the lux carried by the R, G and B bands.

Every image is one object on a textured, unevenly lit background: shape from the class, and drawn from the
seed per image: position, size, rotation (±15° so that square/diamond, plus/x and the two bars stay
distinct), object and background colours (the object at least 2× brighter or darker than the
background, so every class is visible in every colour), a 1/f background texture and an illumination
gradient of up to half a decade. Shapes are anti-aliased signed-distance fields, all vectorised over
the batch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from pydantic import Field, model_validator

from logcam.config import StrictModel
from logcam.sim.scenes import REC709_Y, srgb_to_linear

#: Largest data set held in memory (float32 band planes), bytes.
MAX_BYTES = 2 << 30

#: The classes, in label order.
RGB_CLASSES: tuple[str, ...] = ("disc", "ring", "square", "diamond", "triangle", "plus", "x", "hbar", "vbar",
                                "dots")


class RgbObjectsConfig(StrictModel):
    """How many RGB objects, their size and brightness (units in the names)."""

    kind: Literal["rgb_objects"] = "rgb_objects"
    n: int = Field(2000, ge=10, le=1_000_000, description="images (classes in equal numbers, seeded order)")
    size: int = Field(32, ge=16, le=256, description="pixels per side")
    mean_lux: float = Field(100.0, gt=0, le=1e6, allow_inf_nan=False,
                            description="mean sensor-plane illuminance of each image (all bands), lux")
    seed: int = Field(0, ge=0, le=2**63 - 1)

    @model_validator(mode="after")
    def _memory(self) -> RgbObjectsConfig:
        if self.n * self.size * self.size * 3 * 4 > MAX_BYTES:
            raise ValueError(f"n × size² × 3 planes × 4 bytes must stay ≤ {MAX_BYTES >> 30} GiB "
                             f"(got n={self.n}, size={self.size})")
        return self


@dataclass(frozen=True)
class RgbData:
    """Images (float32 N×3×H×W, lux per band), labels (int64 N), class names."""

    images: torch.Tensor
    labels: torch.Tensor
    class_names: tuple[str, ...]


def _box(u: np.ndarray, v: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Signed distance (approximate outside corners) to a centred a×b half-width rectangle."""
    return np.maximum(np.abs(u) - a, np.abs(v) - b)


def _sdf(label: np.ndarray, u: np.ndarray, v: np.ndarray, s: np.ndarray) -> np.ndarray:
    """Signed distance (pixels, < 0 inside) of each class's shape of scale ``s`` (pixels), batch-wide."""
    r = np.hypot(u, v)
    w = 0.28 * s
    tri = np.max(np.stack([u * math.cos(t) + v * math.sin(t) for t in
                           (math.pi / 2, math.pi / 2 + 2 * math.pi / 3, math.pi / 2 + 4 * math.pi / 3)]),
                 axis=0) - 0.5 * s
    ud, vd = (u + v) / math.sqrt(2), (u - v) / math.sqrt(2)
    shapes = [
        r - s,                                                          # disc
        np.abs(r - 0.8 * s) - 0.25 * s,                                 # ring
        _box(u, v, 0.85 * s, 0.85 * s),                                 # square
        (np.abs(u) + np.abs(v)) / math.sqrt(2) - 0.8 * s,               # diamond
        tri,                                                            # triangle
        np.minimum(_box(u, v, s, w), _box(u, v, w, s)),                 # plus
        np.minimum(_box(ud, vd, s, w), _box(ud, vd, w, s)),             # x
        _box(u, v, 1.1 * s, w),                                         # hbar
        _box(u, v, w, 1.1 * s),                                         # vbar
        np.minimum(np.hypot(u - 0.6 * s, v), np.hypot(u + 0.6 * s, v)) - 0.4 * s,   # dots
    ]
    out = np.empty_like(u)
    for i, d in enumerate(shapes):
        m = label == i
        out[m] = d[m]
    return out


def _texture(rng: np.random.Generator, n: int, h: int) -> np.ndarray:
    """n×h×h zero-mean, unit-std 1/f² (smooth) noise via FFT."""
    f = np.hypot(np.fft.fftfreq(h)[:, None], np.fft.fftfreq(h)[None, :])
    f[0, 0] = 1.0
    amp = 1.0 / f**2
    amp[0, 0] = 0.0
    spec = amp * (rng.standard_normal((n, h, h)) + 1j * rng.standard_normal((n, h, h)))
    t = np.fft.ifft2(spec).real
    return t / t.std(axis=(1, 2), keepdims=True).clip(1e-12)


#: Images rendered per vectorised chunk (bounds the float64 temporaries to ~100 MB at 32×32).
CHUNK = 1024


def _render_chunk(rng: np.random.Generator, label: np.ndarray, h: int, mean_lux: float) -> np.ndarray:
    """float32 n×3×h×h band planes (lux) of objects with these labels, parameters drawn from ``rng``."""
    n = len(label)
    c = (np.arange(h, dtype=np.float64) - (h - 1) / 2)
    y, x = np.meshgrid(c, c, indexing="ij")
    s = h * rng.uniform(0.18, 0.3, n)                                    # shape scale, pixels
    cx = rng.uniform(-0.15, 0.15, n) * h
    cy = rng.uniform(-0.15, 0.15, n) * h
    ang = np.deg2rad(rng.uniform(-15, 15, n))
    dx, dy = x[None] - cx[:, None, None], y[None] - cy[:, None, None]
    ca, sa = np.cos(ang)[:, None, None], np.sin(ang)[:, None, None]
    u, v = ca * dx + sa * dy, -sa * dx + ca * dy
    d = _sdf(np.broadcast_to(label[:, None, None], u.shape), u, v, np.broadcast_to(s[:, None, None], u.shape))
    cover = 1.0 / (1.0 + np.exp(np.clip(d / 0.35, -60, 60)))            # anti-aliased inside fraction
    # colours as linear RGB reflectances; the object 2–6× brighter or darker than the background
    bg = rng.uniform(0.05, 0.9, (n, 3))
    obj = rng.uniform(0.05, 0.9, (n, 3))
    ratio = np.exp(rng.uniform(np.log(2), np.log(6), n)) ** rng.choice([-1.0, 1.0], n)
    obj = obj * ((bg @ REC709_Y) * ratio / (obj @ REC709_Y))[:, None]
    tex = np.exp(0.15 * _texture(rng, n, h))                             # ±15 % reflectance texture
    refl = (bg[:, :, None, None] * (1 - cover[:, None]) + obj[:, :, None, None] * cover[:, None]) * tex[:, None]
    theta = rng.uniform(0, 2 * np.pi, n)[:, None, None]
    grad = 10.0 ** (rng.uniform(0, 0.5, n)[:, None, None] * (np.cos(theta) * x + np.sin(theta) * y) / h)
    bands = refl * grad[:, None] * REC709_Y[None, :, None, None]
    bands *= mean_lux / bands.sum(axis=1).mean(axis=(1, 2))[:, None, None, None]
    return bands.astype(np.float32)


def render_rgb_objects(cfg: RgbObjectsConfig) -> RgbData:
    """The data set of ``cfg`` (same config, same tensors), rendered in chunks of :data:`CHUNK` images."""
    rng = np.random.default_rng([cfg.seed, 10, 3])
    label = rng.permutation(np.arange(cfg.n) % len(RGB_CLASSES))
    out = np.empty((cfg.n, 3, cfg.size, cfg.size), dtype=np.float32)
    for i in range(0, cfg.n, CHUNK):
        out[i:i + CHUNK] = _render_chunk(rng, label[i:i + CHUNK], cfg.size, cfg.mean_lux)
    return RgbData(torch.from_numpy(out), torch.from_numpy(label.astype(np.int64)), RGB_CLASSES)


def srgb8_to_bands(images: torch.Tensor | np.ndarray, mean_lux: float = 100.0) -> torch.Tensor:
    """8-bit sRGB images (N×3×H×W, e.g. CIFAR) → float32 band planes in lux (inverse sRGB, Rec. 709
    weights), each image scaled to ``mean_lux`` over its pixels (all bands together)."""
    x = np.asarray(images)
    lin = srgb_to_linear(x.astype(np.float64) / 255.0) * REC709_Y[None, :, None, None]
    mean = lin.sum(axis=1).mean(axis=(1, 2))
    lin *= (mean_lux / np.where(mean > 0, mean, 1.0))[:, None, None, None]
    return torch.from_numpy(lin.astype(np.float32))
