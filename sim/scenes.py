"""Scenes: illuminance maps at the sensor plane, in lux (linear), seeded and vectorised.

A scene is the product of a reflectance map (0.02 … 0.95, the range from black velvet to white paper)
and an illumination map (lux) that may span orders of magnitude (gradients, shadows). The result is
scaled so that its mean is ``mean_lux`` at the sensor plane.

Sensor-plane illuminance relates to the scene through the lens: E_sensor ≈ π·L·T / (4·N²) for scene
luminance L (cd/m²), lens transmission T and f-number N (the camera equation, e.g. Janesick,
*Photon Transfer*, SPIE 2007). A matte scene lit with E_scene lux has L = ρ·E_scene/π, so through an
f/2 lens E_sensor ≈ ρ·E_scene/16: 100 lux at the sensor plane is a brightly lit scene.

Procedural kinds (:data:`SCENE_KINDS`) and the photographs shipped with scikit-image
(:data:`PHOTOGRAPHS`) are both rendered by :func:`render_scene`.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache

import numpy as np

from logcam.errors import ConfigError

#: Procedural scene kinds rendered by :func:`render_scene`.
SCENE_KINDS: tuple[str, ...] = ("shapes", "texture", "gradient", "shadow", "checker", "blobs")

#: Photographs shipped with scikit-image (``skimage.data``, no download needed).
PHOTOGRAPHS: tuple[str, ...] = (
    "camera", "astronaut", "coffee", "chelsea", "moon", "rocket", "brick", "grass", "gravel",
    "coins", "clock", "page", "text",
)

#: Reflectance range of ordinary surfaces (fraction of light reflected): ~2 % (black velvet) to ~95 %.
REFLECTANCE_MIN = 0.02
REFLECTANCE_MAX = 0.95


def scene_names() -> list[str]:
    """Every name :func:`render_scene` accepts: procedural kinds, then photographs."""
    return [*SCENE_KINDS, *PHOTOGRAPHS]


# --------------------------------------------------------------------------------------------
# Building blocks (all float64, H×W, vectorised)
# --------------------------------------------------------------------------------------------

def _grid(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """Normalised coordinates: y in [0, 1) down, x in [0, w/h) right (square pixels)."""
    y = (np.arange(h, dtype=np.float64)[:, None] + 0.5) / h
    x = (np.arange(w, dtype=np.float64)[None, :] + 0.5) / h
    return np.broadcast_to(y, (h, w)), np.broadcast_to(x, (h, w))


def _reflectance(rng: np.random.Generator, size: int | tuple[int, ...] | None = None) -> np.ndarray:
    """Random reflectances, log-uniform between :data:`REFLECTANCE_MIN` and :data:`REFLECTANCE_MAX`."""
    lo, hi = np.log(REFLECTANCE_MIN), np.log(REFLECTANCE_MAX)
    return np.exp(rng.uniform(lo, hi, size))


def _smooth_noise(rng: np.random.Generator, h: int, w: int, beta: float) -> np.ndarray:
    """Zero-mean, unit-std noise with a 1/f^beta amplitude spectrum (natural-image-like), via FFT."""
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.rfftfreq(w)[None, :]
    f = np.sqrt(fy**2 + fx**2)
    f[0, 0] = 1.0
    amp = f ** (-beta)
    amp[0, 0] = 0.0
    spec = amp * (rng.standard_normal(amp.shape) + 1j * rng.standard_normal(amp.shape))
    n = np.fft.irfft2(spec, s=(h, w))
    std = n.std()
    return n / std if std > 0 else n


def _log_gradient(rng: np.random.Generator, h: int, w: int, decades: float) -> np.ndarray:
    """Illumination factor varying log-linearly by ``decades`` orders of magnitude along a random direction."""
    y, x = _grid(h, w)
    theta = rng.uniform(0, 2 * np.pi)
    t = np.cos(theta) * x + np.sin(theta) * y
    t = (t - t.min()) / max(np.ptp(t), 1e-12)
    return 10.0 ** (decades * (t - 0.5))


def _shape_masks(rng: np.random.Generator, h: int, w: int, n: int) -> list[np.ndarray]:
    """``n`` random shapes (ellipses, rectangles, triangles, rings) as boolean masks."""
    y, x = _grid(h, w)
    xmax = w / h
    masks = []
    for _ in range(n):
        kind = rng.integers(4)
        cy, cx = rng.uniform(0.0, 1.0), rng.uniform(0.0, xmax)
        ry, rx = rng.uniform(0.04, 0.3), rng.uniform(0.04, 0.3)
        if kind == 0:  # ellipse, rotated
            a = rng.uniform(0, np.pi)
            u = (x - cx) * np.cos(a) + (y - cy) * np.sin(a)
            v = -(x - cx) * np.sin(a) + (y - cy) * np.cos(a)
            m = (u / rx) ** 2 + (v / ry) ** 2 <= 1.0
        elif kind == 1:  # rotated rectangle
            a = rng.uniform(0, np.pi)
            u = (x - cx) * np.cos(a) + (y - cy) * np.sin(a)
            v = -(x - cx) * np.sin(a) + (y - cy) * np.cos(a)
            m = (np.abs(u) <= rx) & (np.abs(v) <= ry)
        elif kind == 2:  # triangle: intersection of three half-planes around the centre
            angles = np.sort(rng.uniform(0, 2 * np.pi, 3))
            r = rng.uniform(0.08, 0.3)
            px, py = cx + r * np.cos(angles), cy + r * np.sin(angles)
            m = np.ones((h, w), dtype=bool)
            for i in range(3):
                x0, y0, x1, y1 = px[i], py[i], px[(i + 1) % 3], py[(i + 1) % 3]
                m &= (x1 - x0) * (y - y0) - (y1 - y0) * (x - x0) >= 0
        else:  # ring
            d = np.hypot(x - cx, y - cy)
            r0 = rng.uniform(0.05, 0.25)
            m = (d <= r0) & (d >= r0 * rng.uniform(0.4, 0.8))
        masks.append(m)
    return masks


def _paint_shapes(rng: np.random.Generator, h: int, w: int, n: int, base: np.ndarray) -> np.ndarray:
    """``base`` reflectance with ``n`` flat-reflectance shapes painted over it (later ones on top)."""
    out = base.copy()
    for m in _shape_masks(rng, h, w, n):
        out[m] = _reflectance(rng)
    return out


def _blur(img: np.ndarray, sigma_px: float) -> np.ndarray:
    """Gaussian blur (scipy), e.g. the penumbra of a shadow or the lens."""
    from scipy.ndimage import gaussian_filter

    return gaussian_filter(img, sigma_px, mode="reflect") if sigma_px > 0 else img


def _texture_reflectance(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Log-normal 1/f texture plus a few gratings, mapped into the reflectance range."""
    y, x = _grid(h, w)
    n = _smooth_noise(rng, h, w, beta=rng.uniform(0.8, 1.6))
    for _ in range(int(rng.integers(1, 4))):
        f = rng.uniform(3, 25)
        a = rng.uniform(0, np.pi)
        n = n + rng.uniform(0.3, 1.0) * np.sin(2 * np.pi * f * (np.cos(a) * x + np.sin(a) * y)
                                               + rng.uniform(0, 2 * np.pi))
    n = (n - n.mean()) / max(n.std(), 1e-12)
    lo, hi = np.log(REFLECTANCE_MIN), np.log(REFLECTANCE_MAX)
    mid, half = (lo + hi) / 2, (hi - lo) / 2
    return np.exp(np.clip(mid + 0.4 * half * n, lo, hi))


# --------------------------------------------------------------------------------------------
# Procedural kinds: each returns an unnormalised positive radiance map (reflectance × illumination)
# --------------------------------------------------------------------------------------------

def _shapes(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    base = np.full((h, w), _reflectance(rng))
    refl = _paint_shapes(rng, h, w, int(rng.integers(4, 10)), base)
    return refl * _log_gradient(rng, h, w, decades=rng.uniform(0.0, 0.5))


def _texture(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    return _texture_reflectance(rng, h, w) * _log_gradient(rng, h, w, decades=rng.uniform(0.0, 0.5))


def _gradient(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Strong illumination gradient: 2–3.5 decades across the frame over a faint texture and shapes."""
    refl = _paint_shapes(rng, h, w, int(rng.integers(2, 6)), _texture_reflectance(rng, h, w))
    return refl * _log_gradient(rng, h, w, decades=rng.uniform(2.0, 3.5))


def _shadow(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Shapes in direct light plus hard-edged shadows 30–300× darker (sun vs skylight), soft penumbra."""
    base = np.full((h, w), _reflectance(rng))
    refl = _paint_shapes(rng, h, w, int(rng.integers(3, 8)), base)
    y, x = _grid(h, w)
    shade = np.zeros((h, w))
    # a straight shadow edge (a building) and a few shadows of objects
    a = rng.uniform(0, 2 * np.pi)
    c = rng.uniform(0.3, 0.7)
    shade[(np.cos(a) * (x - c * w / h) + np.sin(a) * (y - c)) > 0] = 1.0
    for m in _shape_masks(rng, h, w, int(rng.integers(1, 4))):
        shade[m] = 1.0
    shade = _blur(shade, sigma_px=rng.uniform(0.0, 3.0))
    ratio = 10.0 ** rng.uniform(np.log10(30), np.log10(300))
    illum = (1.0 - shade) + shade / ratio
    return refl * illum * _log_gradient(rng, h, w, decades=rng.uniform(0.0, 0.3))


def _checker(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A rotated checkerboard of random reflectances under a 1–2 decade gradient."""
    y, x = _grid(h, w)
    a = rng.uniform(0, np.pi / 2)
    period = rng.uniform(0.06, 0.25)
    u = (np.cos(a) * x + np.sin(a) * y) / period
    v = (-np.sin(a) * x + np.cos(a) * y) / period
    r = _reflectance(rng, 2)
    refl = np.where((np.floor(u) + np.floor(v)) % 2 == 0, r[0], r[1])
    return refl * _log_gradient(rng, h, w, decades=rng.uniform(1.0, 2.0))


def _blobs(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Specular highlights and dark holes: Gaussian blobs spanning ~3 decades over a texture."""
    y, x = _grid(h, w)
    refl = _texture_reflectance(rng, h, w)
    n = int(rng.integers(3, 9))
    cy = rng.uniform(0, 1, n)[:, None, None]
    cx = rng.uniform(0, w / h, n)[:, None, None]
    s = rng.uniform(0.02, 0.12, n)[:, None, None]
    gain = 10.0 ** rng.uniform(-1.5, 1.5, n)[:, None, None]
    g = np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * s**2))
    illum = np.prod(1.0 + (gain - 1.0) * g, axis=0)
    return refl * illum


_PROCEDURAL: dict[str, Callable[[np.random.Generator, int, int], np.ndarray]] = {
    "shapes": _shapes, "texture": _texture, "gradient": _gradient, "shadow": _shadow,
    "checker": _checker, "blobs": _blobs,
}
assert tuple(_PROCEDURAL) == SCENE_KINDS


# --------------------------------------------------------------------------------------------
# Photographs
# --------------------------------------------------------------------------------------------

def srgb_to_linear(v: np.ndarray) -> np.ndarray:
    """Inverse sRGB transfer function (IEC 61966-2-1): encoded 0..1 → linear 0..1."""
    v = np.asarray(v, dtype=np.float64)
    return np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)


@lru_cache(maxsize=len(PHOTOGRAPHS))
def _photo_luminance(name: str) -> np.ndarray:
    """Linear relative luminance (0..1) of a scikit-image photograph (Rec. 709 / sRGB primaries)."""
    import skimage.data

    img = np.asarray(getattr(skimage.data, name)())
    if img.dtype == bool:
        img = img.astype(np.uint8) * 255
    lin = srgb_to_linear(img.astype(np.float64) / 255.0)
    if lin.ndim == 3:
        lin = lin[..., :3] @ np.array([0.2126, 0.7152, 0.0722])  # Y of linear sRGB (ITU-R BT.709)
    lin.setflags(write=False)
    return lin


def _photograph(name: str, h: int, w: int, seed: int) -> np.ndarray:
    """Photograph luminance: seeded random crop (50–100 % of the largest crop of the target aspect),
    seeded horizontal flip, then area-averaging resize to h×w."""
    return _crop_resize(_photo_luminance(name), h, w, seed)


def _crop_resize(lum: np.ndarray, h: int, w: int, seed: int) -> np.ndarray:
    """The seeded crop, flip and resize of :func:`_photograph` for an H×W or H×W×3 image (linear, so
    the luminance of a cropped colour photograph is the cropped luminance)."""
    from skimage.transform import resize

    ph, pw = lum.shape[:2]
    aspect = w / h
    ch, cw = (ph, round(ph * aspect)) if ph * aspect <= pw else (round(pw / aspect), pw)
    rng = np.random.default_rng(seed)
    scale = 1.0 if seed == 0 else np.sqrt(rng.uniform(0.5, 1.0))
    ch, cw = max(1, int(ch * scale)), max(1, int(cw * scale))
    y0 = (ph - ch) // 2 if seed == 0 else int(rng.integers(0, ph - ch + 1))
    x0 = (pw - cw) // 2 if seed == 0 else int(rng.integers(0, pw - cw + 1))
    crop = lum[y0:y0 + ch, x0:x0 + cw]
    if seed != 0 and rng.random() < 0.5:
        crop = crop[:, ::-1]
    return resize(crop, (h, w), order=1, anti_aliasing=True, mode="reflect")


# --------------------------------------------------------------------------------------------
# Public entry point
# --------------------------------------------------------------------------------------------

def render_scene(kind: str, height: int, width: int, seed: int, mean_lux: float = 100.0) -> np.ndarray:
    """Illuminance at the sensor plane in lux (float64, height×width, linear), mean = ``mean_lux``.

    ``kind`` is a procedural kind (:data:`SCENE_KINDS`, drawn from ``seed``) or a photograph
    (:data:`PHOTOGRAPHS`: inverse sRGB, Rec. 709 luminance, a seeded crop and flip — seed 0 is the
    centred full crop — resized). The same arguments always give the same array.
    """
    if kind not in _PROCEDURAL and kind not in PHOTOGRAPHS:
        raise ConfigError(f"scene: unknown kind {kind!r}; allowed: {', '.join(scene_names())}")
    for field, v in (("height", height), ("width", width)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 2:
            raise ConfigError(f"scene.{field}: must be an integer ≥ 2 (got {v!r})")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ConfigError(f"scene.seed: must be an integer ≥ 0 (got {seed!r})")
    if not (isinstance(mean_lux, (int, float, np.floating, np.integer)) and np.isfinite(mean_lux)
            and mean_lux > 0):
        raise ConfigError(f"scene.mean_lux: must be a finite number > 0 lux (got {mean_lux!r})")
    h, w = int(height), int(width)
    if kind in _PROCEDURAL:
        rng = np.random.default_rng([int(seed), SCENE_KINDS.index(kind)])
        img = _PROCEDURAL[kind](rng, h, w)
    else:
        img = _photograph(kind, h, w, int(seed))
    img = np.clip(np.asarray(img, dtype=np.float64), 0.0, None)
    mean = img.mean()
    if mean <= 0:  # an all-black crop: a uniform field rather than a division by zero
        return np.full((h, w), float(mean_lux))
    return img * (float(mean_lux) / mean)


def flat_field(height: int, width: int, lux: float) -> np.ndarray:
    """A uniform illuminance of ``lux`` at the sensor plane (float64): EMVA 1288 flat-field frames."""
    if not (np.isfinite(lux) and lux >= 0):
        raise ConfigError(f"flat_field.lux: must be a finite number ≥ 0 lux (got {lux!r})")
    return np.full((int(height), int(width)), float(lux), dtype=np.float64)


# --------------------------------------------------------------------------------------------
# Colour (linear R, G, B at the sensor plane)
# --------------------------------------------------------------------------------------------

#: Rec. 709 / sRGB luminance weights of linear R, G, B (ITU-R BT.709): Y = 0.2126 R + 0.7152 G + 0.0722 B.
REC709_Y = np.array([0.2126, 0.7152, 0.0722])


@lru_cache(maxsize=len(PHOTOGRAPHS))
def _photo_linear_rgb(name: str) -> np.ndarray:
    """Linear R, G, B (0..1, H×W×3) of a scikit-image photograph; grey photographs give R = G = B."""
    import skimage.data

    img = np.asarray(getattr(skimage.data, name)())
    if img.dtype == bool:
        img = img.astype(np.uint8) * 255
    lin = srgb_to_linear(img.astype(np.float64) / 255.0)
    lin = lin[..., :3] if lin.ndim == 3 else np.repeat(lin[..., None], 3, axis=-1)
    lin.setflags(write=False)
    return lin


def render_scene_rgb(kind: str, height: int, width: int, seed: int, mean_lux: float = 100.0) -> np.ndarray:
    """Colour scene at the sensor plane: float64 3×height×width, the lux carried by the R, G and B bands.

    The planes add up to :func:`render_scene` of the same arguments (so their sum has mean ``mean_lux``):
    a plane is the illuminance of that band alone, i.e. the Rec. 709 weight times the linear value
    (0.2126 R, 0.7152 G, 0.0722 B — a grey surface puts 21 %, 72 % and 7 % of its lux in the three bands),
    and a monochrome pixel under all three sees the scene's lux, as before. Photographs: the linear sRGB
    of the photograph with the same crop, flip and resize as the monochrome one. Procedural kinds: the
    monochrome scene coloured per luminance band (8 bands by quantile, a seeded colour each, every
    channel 15–100 % of the brightest), so flat shapes get flat colours and edges stay where they were.
    """
    lum = render_scene(kind, height, width, seed, mean_lux)          # validates every argument
    h, w = lum.shape
    if kind in PHOTOGRAPHS:
        rgb = np.clip(_crop_resize(_photo_linear_rgb(kind), h, w, int(seed)), 0.0, None) * REC709_Y
        mean = rgb.sum(axis=-1).mean()
        if mean <= 0:
            return lum[None] * REC709_Y[:, None, None]
        return np.ascontiguousarray((rgb * (float(mean_lux) / mean)).transpose(2, 0, 1))
    rng = np.random.default_rng([int(seed), SCENE_KINDS.index(kind), 3])
    colours = rng.uniform(0.15, 1.0, (8, 3))
    log_l = np.log(np.maximum(lum, 1e-300))
    bands = np.digitize(log_l, np.quantile(log_l, np.arange(1, 8) / 8.0))
    share = colours[bands] * REC709_Y                                # H×W×3, flat per band
    rgb = lum[..., None] * share / share.sum(axis=-1, keepdims=True)  # the bands add up to lum
    return np.ascontiguousarray(rgb.transpose(2, 0, 1))
