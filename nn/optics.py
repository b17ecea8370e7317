"""The trainable optical layer: phase-mask pairs → signed kernels → N feature maps (SACoD on PhlatCam).

Physics from :mod:`logcam.sim.optics` (the one definition of mask → PSF); this module adds what the
network needs::

    RGB scene (B×3×H×W, linear) ──PSF_{m,c} ∗ I_c per mask m and colour c──▶ region images (≥ 0)
        ──[sensor: photons, shot and read noise per region, :mod:`logcam.sim.sensor`]──▶
        ──pair difference R_{2j} − R_{2j+1}──▶ signed feature maps (the network's input)

A mask's PSF is non-negative, so a signed kernel K_j = PSF⁺_j − PSF⁻_j takes a **pair** of masks, each
on its own sensor region. Feature-map designs (at most 6 masks → 3 signed kernels, 3 colours):

- ``a``: each region is monochrome and integrates all colours, so kernel j gives one map
  Σ_c K_{j,c} ∗ I_c — the 9 colour responses combined to 3 channels, for free, by the pixel;
- ``b``: each region pair sits behind one colour filter (kernel j sees colour j only): 3 maps
  K_{j,c(j)} ∗ I_{c(j)}, a depthwise colour split;
- ``c``: every region reads R, G and B: all 9 maps K_{j,c} ∗ I_c.

Kinds: ``phase_mask`` (default; trainable heights, µm), ``psf`` (a learned non-negative PSF directly,
each normalised to Σ = 1), ``gabor`` (fixed PSF pairs realising Gabor kernels; no trainable
parameter), ``gabor_mask`` (fixed phase masks fitted to those pairs by phase retrieval, so fabrication
noise acts on real heights), ``lens`` (a lens camera: the sensor sees the scene itself, 3 colour planes; the first
layer is digital).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

import numpy as np
import torch
from pydantic import Field, model_validator
from torch import nn

from logcam.config import StrictModel, validate
from logcam.errors import ConfigError, InputError
from logcam.frontend import optical_input
from logcam.nn.netspec import InputSpec
from logcam.sim import optics as op
from logcam.sim.sensor import PHOTONS_PER_LUX_S_M2, Sensor, capture_planes

DESIGNS = ("a", "b", "c")
KINDS = ("phase_mask", "psf", "gabor", "gabor_mask", "lens")
#: Region DN per integer step of a signed map as :func:`signed_maps_int8` sends it (the pair difference halved).
SIGNED_MAP_STEP_DN = 2
#: Phase-retrieval steps and target efficiency of the ``gabor_mask`` kind.
GABOR_FIT_STEPS = 150
GABOR_FIT_EFFICIENCY = 0.5


class OpticalConfig(StrictModel):
    """The optical front-end: kind, feature-map design, mask geometry, fabrication noise (units in names)."""

    kind: Literal["phase_mask", "psf", "gabor", "gabor_mask", "lens"] = Field(
        "phase_mask", description="phase_mask (trainable heights), psf (learned PSF), gabor (fixed PSF pairs), "
                                  "gabor_mask (fixed masks fitted to them), lens")
    design: Literal["a", "b", "c"] = Field("a", description="feature-map design (see logcam.nn.optics)")
    mask: op.OpticsSpec = Field(default_factory=lambda: op.OpticsSpec(masks=6),
                                description="geometry of the masks and pixels (logcam.sim.optics.OpticsSpec)")
    noise_sigma_um: float = Field(0.0, ge=0.0, le=10.0, allow_inf_nan=False,
                                  description="fabrication error: heights + N(0,1)·σ, µm (0: none)")
    seed: int = Field(0, ge=0, description="seed of the initial heights/PSFs and of the noise draw")
    init: Literal["lens", "gabor"] = Field(
        "lens", description="phase_mask start: lens (Fresnel lens + seeded smooth relief) or gabor (the "
                            "gabor_mask kind's fitted heights, then trained)")

    @model_validator(mode="after")
    def _pairs(self) -> OpticalConfig:
        if self.kind != "lens" and self.mask.masks % 2:
            raise ValueError(f"mask.masks must be even: a signed kernel is a pair PSF⁺ − PSF⁻ "
                             f"(got {self.mask.masks})")
        if self.design == "b" and self.kind != "lens" and self.mask.masks // 2 > len(self.mask.wavelengths_nm):
            raise ValueError("design b gives each mask pair one colour: at most one pair per wavelength")
        return self

    @property
    def kernels(self) -> int:
        """Signed kernels (mask pairs); the lens camera has none."""
        return 0 if self.kind == "lens" else self.mask.masks // 2

    @property
    def colours(self) -> int:
        """Colour channels of the scene (one wavelength each)."""
        return len(self.mask.wavelengths_nm)

    @property
    def planes_per_region(self) -> int:
        """Colour planes one mask region reads: 3 in design c, else 1 (lens: its 3 planes)."""
        return self.colours if self.design == "c" or self.kind == "lens" else 1

    @property
    def regions(self) -> int:
        """Sensor planes read out: masks × planes per region (lens: the colour planes)."""
        return self.colours if self.kind == "lens" else self.mask.masks * self.planes_per_region

    @property
    def feature_maps(self) -> int:
        """Maps the network reads: kernels (a, b), kernels × colours (c), colours (lens)."""
        if self.kind == "lens":
            return self.colours
        return self.kernels * (self.colours if self.design == "c" else 1)


def optical_config(data: dict | None = None, where: str = "optics") -> OpticalConfig:
    """An :class:`OpticalConfig` from a mapping (e.g. a YAML ``optics:`` section); one ConfigError line."""
    return validate(OpticalConfig, data or {}, where=where)


def sensor_area_mm2(cfg: OpticalConfig, height_px: int, width_px: int) -> dict[str, float]:
    """Sensor area a configuration needs: planes × region size, mm².

    A region holds the full (H + k − 1)×(W + k − 1) image a mask throws (its PSF spreads each scene
    point over k×k pixels), at the mask's pixel pitch; each colour plane is a region of its own behind
    one colour filter (no mosaic). The lens camera needs H×W per colour plane.
    """
    p_mm = cfg.mask.pixel_pitch_um * 1e-3
    guard = 0 if cfg.kind == "lens" else cfg.mask.kernel - 1
    region = (height_px + guard) * (width_px + guard) * p_mm * p_mm
    return {"regions": float(cfg.regions), "region_mm2": region, "total_mm2": cfg.regions * region,
            "feature_maps": float(cfg.feature_maps)}


def gabor_kernels(n: int, k: int) -> torch.Tensor:
    """``n`` zero-phase Gabor kernels (n×k×k, float64, max |g| = 1): orientations 180°·i/n, carrier
    period k/2 pixels, Gaussian σ = k/4 pixels."""
    r = torch.arange(k, dtype=torch.float64) - (k - 1) / 2
    y, x = torch.meshgrid(r, r, indexing="ij")
    out = []
    for i in range(n):
        t = math.pi * i / n
        u = x * math.cos(t) + y * math.sin(t)
        g = torch.exp(-(x**2 + y**2) / (2 * (k / 4) ** 2)) * torch.cos(2 * math.pi * u / (k / 2))
        out.append(g - g.mean())
    g = torch.stack(out)
    return g / g.abs().amax(dim=(-2, -1), keepdim=True)


def pair_from_kernels(kernels: torch.Tensor) -> tuple[torch.Tensor, float]:
    """Non-negative PSF pairs (2n×…×k×k) realising signed ``kernels`` (n×…×k×k): PSF⁺ = K⁺/s,
    PSF⁻ = K⁻/s with s the largest part's sum (so no PSF passes more light than its mask). Returns the
    PSFs (interleaved +, −) and s: PSF⁺ − PSF⁻ = K/s exactly."""
    pos, neg = kernels.clamp(min=0), (-kernels).clamp(min=0)
    s = float(torch.maximum(pos.sum(dim=(-2, -1)), neg.sum(dim=(-2, -1))).max())
    if not s > 0:
        raise ConfigError("optics: a configured kernel is all zeros")
    return torch.stack([pos, neg], dim=1).reshape(-1, *kernels.shape[1:]) / s, s


def network_input(cfg: OpticalConfig, height: int, width: int, *, signed: bool = False) -> InputSpec:
    """The NetSpec input this optical front-end feeds (:func:`logcam.frontend.optical_input`): the regions'
    uint8 read-outs (default) or the signed feature maps as int8."""
    return optical_input(cfg.regions, cfg.feature_maps, height, width, signed=signed)


def fold_pairs(cfg: OpticalConfig, weight: torch.Tensor) -> torch.Tensor:
    """First-conv weights on the signed maps (O×feature_maps×k×k) → the same conv on the region read-outs
    (O×regions×k×k): +W for R⁺ and −W for R⁻, so conv(W', regions) = conv(W, R⁺ − R⁻) exactly (also in
    int8 — negating an int8 weight in −127 … 127 cannot overflow)."""
    if weight.dim() != 4 or weight.shape[1] != cfg.feature_maps:
        raise InputError(f"fold_pairs: weight must be O×{cfg.feature_maps}×k×k (got {tuple(weight.shape)})")
    if cfg.kind == "lens":
        return weight
    o, _, kh, kw = weight.shape
    w = weight.view(o, cfg.kernels, 1, cfg.planes_per_region, kh, kw)
    return torch.cat([w, -w], dim=2).reshape(o, cfg.regions, kh, kw)


def signed_maps_int8(cfg: OpticalConfig, regions_dn: torch.Tensor) -> torch.Tensor:
    """The pair differences of the regions' 8-bit read-outs, subtracted on the way in and halved to fit int8:
    N×regions×H×W uint8 DN → N×feature_maps×H×W int8, ⌊(R⁺ − R⁻)/2⌋ ∈ −128 … 127 (one DN step of the map
    is 2 DN of the regions). The lens camera has no pairs: its uint8 planes are returned unchanged."""
    if cfg.kind == "lens":
        return regions_dn
    d = OpticalLayer.combine_static(cfg, regions_dn.to(torch.int16))
    return torch.div(d, SIGNED_MAP_STEP_DN, rounding_mode="floor").to(torch.int8)


def initial_heights(spec: op.OpticsSpec, seed: int) -> torch.Tensor:
    """Start of a trainable mask (masks×N×N µm): a Fresnel lens that focuses on the sensor (PSF ≈ a spot
    on the kernel's centre) plus seeded smooth random relief — half a wave at the longest wavelength,
    correlated over 1/8 of the mask — so the initial PSFs are structured and fit the k×k kernel
    (a PhlatCam-like fine random relief throws most light outside 7×7 pixels at d = 2 mm)."""
    wave = max(spec.wavelengths_nm) * 1e-3 / (spec.refractive_index - 1.0)
    return op.lens_heights(spec) + op.random_heights(spec, seed, max_height_um=0.5 * wave,
                                                    corr_px=spec.mask_pixels / 8)


@lru_cache(maxsize=8)
def _gabor_heights(spec: op.OpticsSpec, seed: int) -> tuple[torch.Tensor, float]:
    m, k, c = spec.masks, spec.kernel, len(spec.wavelengths_nm)
    pair, _ = pair_from_kernels(gabor_kernels(m // 2, k))
    return op.fit_heights(pair[:, None].expand(m, c, k, k), spec, initial_heights(spec, seed),
                          GABOR_FIT_STEPS, 0.01, GABOR_FIT_EFFICIENCY)


def gabor_mask_heights(spec: op.OpticsSpec, seed: int = 0) -> tuple[torch.Tensor, float]:
    """Heights (masks×N×N µm) of phase masks whose PSF pairs approach the Gabor bank (phase retrieval,
    :func:`logcam.sim.optics.fit_heights`, half the light in the kernel), and the fit's relative loss;
    cached per geometry and seed."""
    h, loss = _gabor_heights(spec, int(seed))
    return h.clone(), loss


class OpticalLayer(nn.Module):
    """RGB scene (B×C×H×W, linear, C = colours) → signed feature maps (B×N×H×W), N = ``cfg.feature_maps``.

    :meth:`region_images` gives what each sensor region receives (non-negative, before the sensor);
    :meth:`combine` forms the pair differences; ``forward`` is both. The PSFs are float64 (physics) and
    the convolution runs in the scene's dtype.
    """

    def __init__(self, cfg: OpticalConfig) -> None:
        super().__init__()
        self.cfg = cfg
        m, k, c = cfg.mask.masks, cfg.mask.kernel, cfg.colours
        g = torch.Generator().manual_seed(cfg.seed)
        self.heights_um: nn.Parameter | None = None
        self.psf_logits: nn.Parameter | None = None
        if cfg.kind == "phase_mask":
            self.heights_um = nn.Parameter(gabor_mask_heights(cfg.mask, cfg.seed)[0] if cfg.init == "gabor"
                                           else initial_heights(cfg.mask, cfg.seed))
        elif cfg.kind == "psf":
            self.psf_logits = nn.Parameter(0.1 * torch.randn((m, c, k, k), generator=g, dtype=torch.float64))
        elif cfg.kind == "gabor":
            pair, _ = pair_from_kernels(gabor_kernels(m // 2, k))
            self.register_buffer("fixed_psf", pair[:, None].expand(m, c, k, k).clone())
        self.register_buffer("fixed_heights_um",
                             gabor_mask_heights(cfg.mask, cfg.seed)[0] if cfg.kind == "gabor_mask" else None)
        shape = (self.heights_um.shape if self.heights_um is not None else
                 self.fixed_heights_um.shape if self.fixed_heights_um is not None else
                 () if cfg.kind == "lens" else (m, c, k, k))
        #: the fixed fabrication-error draw (µm; zeros until :meth:`set_noise`), saved with the state
        self.register_buffer("noise_um", torch.zeros(shape, dtype=torch.float64))
        if cfg.noise_sigma_um > 0:
            self.set_noise(cfg.noise_sigma_um, cfg.seed)

    def set_noise(self, sigma_um: float, seed: int) -> None:
        """Fix one fabrication-error draw N(0,1)·σ (µm) on the heights (phase masks) — one fabricated mask.

        For the PSF-parametrised kinds (psf, gabor), which have no heights, the same draw perturbs the PSF
        values by N(0,1)·σ·max(PSF)/1 µm, clipped at 0 (a stand-in, stated in docs/optics.md).
        """
        if not (math.isfinite(sigma_um) and sigma_um >= 0):
            raise ConfigError(f"optics.noise_sigma_um: must be a finite number ≥ 0 µm (got {sigma_um!r})")
        g = torch.Generator().manual_seed(int(seed) + 7919)
        self.noise_um.copy_(sigma_um * torch.randn(self.noise_um.shape, generator=g, dtype=torch.float64))

    def heights(self) -> torch.Tensor:
        """Mask heights as fabricated (µm): the trained (or fitted) heights plus the fixed noise draw."""
        base = self.heights_um if self.heights_um is not None else self.fixed_heights_um
        if base is None:
            raise ConfigError(f"optics: kind {self.cfg.kind} has no heights")
        return base + self.noise_um

    def psfs(self) -> torch.Tensor:
        """PSF of every mask at every wavelength (masks×colours×k×k, float64, ≥ 0)."""
        kind = self.cfg.kind
        if kind in ("phase_mask", "gabor_mask"):
            return op.psf(self.heights(), self.cfg.mask)
        if kind == "lens":
            raise ConfigError("optics: the lens camera has no PSFs (identity optics)")
        base = (torch.softmax(self.psf_logits.flatten(-2), dim=-1).view_as(self.psf_logits)
                if kind == "psf" else self.fixed_psf)
        if bool(self.noise_um.any()):
            base = (base + self.noise_um * base.detach().amax(dim=(-2, -1), keepdim=True)).clamp(min=0)
        return base

    def kernels(self) -> torch.Tensor:
        """Signed kernels PSF⁺ − PSF⁻ of each pair (kernels×colours×k×k, float64)."""
        p = self.psfs()
        return p[0::2] - p[1::2]

    def region_images(self, x: torch.Tensor) -> torch.Tensor:
        """Light on each sensor region (B×regions×H×W, ≥ 0): PSF ∗ scene, 'same' size, zero outside the
        scene. Order: masks (designs a, b) or mask-major, colour-minor (design c); lens: the scene."""
        cfg = self.cfg
        if x.dim() != 4 or x.shape[1] != cfg.colours:
            raise InputError(f"optics: the scene must be B×{cfg.colours}×H×W (one plane per wavelength), "
                             f"got {tuple(x.shape)}")
        if cfg.kind == "lens":
            return x
        m, c, k = cfg.mask.masks, cfg.colours, cfg.mask.kernel
        w = self.psfs().to(x.dtype).flip(-2, -1)                      # convolution, not correlation
        w = w.permute(1, 0, 2, 3).reshape(c * m, 1, k, k)            # group c: its masks
        y = nn.functional.conv2d(x, w, padding=k // 2, groups=c)     # B×(c·m)×H×W
        y = y.view(x.shape[0], c, m, *x.shape[-2:])
        if cfg.design == "a":
            return y.sum(dim=1)                                       # monochrome region: all colours
        if cfg.design == "b":
            colour = (torch.arange(m) // 2) % c                       # pair j behind colour filter j
            return y[:, colour, torch.arange(m)]
        return y.transpose(1, 2).reshape(x.shape[0], m * c, *x.shape[-2:])

    def combine(self, regions: torch.Tensor) -> torch.Tensor:
        """Signed feature maps from region images: R⁺ − R⁻ per pair (and colour in design c)."""
        return self.combine_static(self.cfg, regions)

    @staticmethod
    def combine_static(cfg: OpticalConfig, regions: torch.Tensor) -> torch.Tensor:
        """:meth:`combine` for a configuration (any dtype that subtracts)."""
        if cfg.kind == "lens":
            return regions
        b, _, h, w = regions.shape
        r = regions.view(b, cfg.mask.masks // 2, 2, cfg.planes_per_region, h, w)
        return (r[:, :, 0] - r[:, :, 1]).reshape(b, cfg.feature_maps, h, w)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.combine(self.region_images(x))


class OpticalNet(nn.Module):
    """Optics followed by a digital back end (any module taking B×N×H×W)."""

    def __init__(self, optics: OpticalLayer, backend: nn.Module) -> None:
        super().__init__()
        self.optics = optics
        self.backend = backend

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.backend(self.optics(x))


@dataclass(frozen=True)
class Sensed:
    """One capture through the optics: what each region read and the feature maps formed from it."""

    regions_dn: np.ndarray      #: uint16 (N×)regions×h×w, RAW DN per sensor region / colour plane
    regions_lux: np.ndarray     #: float64, the same read back to sensor-plane lux (black level removed)
    maps: np.ndarray            #: float64 (N×)feature_maps×h×w, signed R⁺ − R⁻, lux


def sense(layer: OpticalLayer, scene_lux: np.ndarray, sensor: Sensor, exposure_s: float | None = None,
          rng: np.random.Generator | int | None = None) -> Sensed:
    """Scene (colours×h×w or N×colours×h×w lux) → optics → sensor regions → feature maps.

    The optics spread the light first (each region gets only what its mask passes, Σ PSF ≤ 1); the
    sensor (:func:`logcam.sim.sensor.capture_planes`) then adds shot noise, read noise, fixed patterns
    and the ADC per region; the DN are read back to lux (black level off, ÷ K ÷ η ÷ photons per lux)
    and the pairs subtracted. The sensor's pixel pitch should be the mask's ``pixel_pitch_um``.
    """
    x = np.asarray(scene_lux, dtype=np.float64)
    single = x.ndim == 3
    with torch.no_grad():
        regions = layer.region_images(torch.from_numpy(x[None] if single else x)).numpy()
    regions = np.clip(regions, 0.0, None)                    # exact zeros can round to −1e-17
    dn = capture_planes(sensor, regions, exposure_s, rng)
    s = sensor.spec
    t = s.exposure_s if exposure_s is None else float(exposure_s)
    per_lux = s.gain_dn_per_e * s.quantum_efficiency * PHOTONS_PER_LUX_S_M2 * s.pixel_area_m2 * t * s.binning**2
    lux = (dn.astype(np.float64) - s.black_level_dn) / per_lux
    with torch.no_grad():
        maps = layer.combine(torch.from_numpy(lux)).numpy()
    if single:
        return Sensed(dn[0], lux[0], maps[0])
    return Sensed(dn, lux, maps)
