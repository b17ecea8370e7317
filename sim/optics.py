"""Thin phase mask → point-spread function by scalar diffraction (PhlatCam front-end), in PyTorch.

One mask, one wavelength, all differentiable (autograd through the FFTs), float64/complex128::

    height h (µm) ──φ = 2π(n−1)h/λ──▶ U₀ = A·exp(iφ), zero-padded to pad_factor×
        ──angular spectrum over d (band-limited transfer function)──▶ U_d
        ──|U_d|² / Σ|U₀|²──▶ intensity per mask sample (sums to ≤ 1 over the plane)
        ──area-weighted integration over sensor pixels of pitch p──▶ k×k PSF (≥ 0, Σ ≤ 1)

Units: heights and pitches in µm, wavelengths in nm, the mask-to-sensor distance in mm. The mask is
illuminated by a unit-amplitude plane wave at normal incidence through its clear aperture A (square or
circle); the PSF is the image of a distant point on the optical axis. The optical layer then treats the
PSF as shift-invariant (Z = p ∗ I), valid for field angles small enough that the mask's pattern shifts
without changing (PhlatCam's assumption).

**Why the angular spectrum and not Fresnel for d = 2 mm.** The angular-spectrum (AS) method is the
exact solution of the scalar Helmholtz equation between parallel planes (Rayleigh–Sommerfeld without the
paraxial step): U_d = F⁻¹{F{U₀}·exp(i2πd·√(λ⁻² − u² − v²))}. The Fresnel approximation needs
d³ ≫ π/(4λ)·max[(x − ξ)² + (y − η)²]² over aperture and sensor window (Goodman, *Introduction to
Fourier Optics*, §4.2); for the default 115 µm mask and 230 µm window at 2 mm that is 8·10⁻⁹ m³ against
5·10⁻⁹ m³ — not "much greater", and a 1 mm mask fails by two orders of magnitude. The AS costs the same
two FFTs and keeps the output on the input grid (pitch dx), which the pixel integration needs (the
single-FFT Fresnel form resamples to λd/(M·dx)). Beyond d_c = M·dx²/λ (0.5 mm for the defaults) the
plain AS transfer function aliases; the band limit below removes exactly the aliased part, which is
the light that would leave the simulated window anyway, so the result stays exact inside it.

**Sampling conditions** (checked or stated):

- zero padding ``pad_factor`` ≥ 2: the FFT convolution is circular; a 2× window keeps light from one
  edge of the aperture from wrapping onto the other edge's output;
- band limit (Matsushima & Shimobaba, Opt. Express 17, 19662, 2009): with Δu = 1/(M·dx) the transfer
  function is kept only for |u|, |v| < u_lim = 1/(λ·√((2Δu·d)² + 1)); beyond, its phase varies faster
  than the frequency grid samples it. Physically: rays that would leave the padded window are dropped,
  so Σ|U_d|² = the spectral energy of U₀ inside the band (Parseval) — the only energy the model loses;
- mask pitch dx: the phase may change by < π between neighbouring samples (|∇h|·dx < λ/(2(n−1))), or the
  sampled mask aliases; propagating angles are limited to sin θ < λ/(2dx);
- the sensor window k·p must fit inside the simulated window M·dx (checked).
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Literal

import numpy as np
import torch
from pydantic import Field, field_validator, model_validator

from logcam.config import StrictModel, validate
from logcam.errors import ConfigError

#: Most masks the optical layer may use (SACoD: at most 6 masks → 3 signed kernels).
MAX_MASKS = 6
#: Smallest kernel, sensor pixels (SACoD: kernels of at least 7×7).
MIN_KERNEL = 7
#: Default wavelengths of the R, G, B channels, nm (peaks of typical CMOS colour-filter responses).
RGB_WAVELENGTHS_NM = (610.0, 530.0, 465.0)


def _finite_positive(v: float, field: str, unit: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0:
        raise ValueError(f"must be a finite number > 0 {unit}")
    return float(v)


class OpticsSpec(StrictModel):
    """Geometry and material of the phase masks and the sensor pixels behind them (units in the names)."""

    distance_mm: float = Field(2.0, description="mask-to-sensor distance d, mm (SACoD: 2 mm)")
    wavelengths_nm: tuple[float, ...] = Field(RGB_WAVELENGTHS_NM,
                                              description="one wavelength per colour channel, nm (R, G, B)")
    refractive_index: float = Field(1.46, description="mask material index n at every wavelength (fused "
                                                      "silica ≈ 1.46; dispersion neglected)")
    mask_pitch_um: float = Field(1.2, description="sampling pitch dx of the height map, µm")
    mask_pixels: int = Field(96, description="samples across one mask (square), so the mask is "
                                              "mask_pixels·mask_pitch_um µm wide")
    pad_factor: int = Field(2, description="simulated window = pad_factor × mask width (zero padding)")
    pixel_pitch_um: float = Field(3.6, description="pitch p of the sensor pixels the PSF is sampled on, µm")
    kernel: int = Field(7, description="PSF/kernel size k in sensor pixels (k×k, ≥ 7)")
    masks: int = Field(2, description="number of masks (1 … 6)")
    aperture: Literal["square", "circle"] = Field("square", description="clear aperture of each mask")
    normalize: Literal["aperture", "kernel"] = Field(
        "aperture", description="aperture: PSF = fraction of the light through the mask landing on each "
                                "pixel (Σ ≤ 1); kernel: the k×k PSF rescaled to Σ = 1")

    @field_validator("distance_mm", mode="before")
    @classmethod
    def _distance(cls, v: float) -> float:
        return _finite_positive(v, "distance_mm", "mm (the mask-to-sensor distance; SACoD uses 2 mm)")

    @field_validator("wavelengths_nm")
    @classmethod
    def _wavelengths(cls, v: tuple[float, ...]) -> tuple[float, ...]:
        if not 1 <= len(v) <= 8:
            raise ValueError(f"needs 1 … 8 wavelengths, one per colour channel (got {len(v)})")
        for x in v:
            _finite_positive(x, "wavelengths_nm", "nm, one per colour channel")
        return tuple(float(x) for x in v)

    @field_validator("refractive_index", mode="before")
    @classmethod
    def _index(cls, v: float) -> float:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or not 1.0 < v <= 4.0:
            raise ValueError("must be a finite number in (1, 4] (the mask material)")
        return float(v)

    @field_validator("mask_pitch_um", "pixel_pitch_um", mode="before")
    @classmethod
    def _pitch(cls, v: float, info: object) -> float:
        return _finite_positive(v, getattr(info, "field_name", "pitch"), "µm")

    @field_validator("mask_pixels")
    @classmethod
    def _mask_pixels(cls, v: int) -> int:
        if isinstance(v, bool) or not 8 <= v <= 4096:
            raise ValueError("must be an integer in 8 … 4096 (samples across one mask)")
        return v

    @field_validator("pad_factor")
    @classmethod
    def _pad(cls, v: int) -> int:
        if isinstance(v, bool) or not 2 <= v <= 64:
            raise ValueError("must be an integer in 2 … 64 (≥ 2 keeps the FFT convolution linear)")
        return v

    @field_validator("kernel")
    @classmethod
    def _kernel(cls, v: int) -> int:
        if isinstance(v, bool) or not MIN_KERNEL <= v <= 63:
            raise ValueError(f"must be an integer in {MIN_KERNEL} … 63 sensor pixels "
                             f"(SACoD: kernels of at least {MIN_KERNEL}×{MIN_KERNEL})")
        return v

    @field_validator("masks")
    @classmethod
    def _masks(cls, v: int) -> int:
        if isinstance(v, bool) or not 1 <= v <= MAX_MASKS:
            raise ValueError(f"must be an integer in 1 … {MAX_MASKS} (SACoD: at most {MAX_MASKS} masks, "
                             f"i.e. {MAX_MASKS // 2} signed kernels)")
        return v

    @model_validator(mode="after")
    def _fits(self) -> OpticsSpec:
        window = self.grid * self.mask_pitch_um
        if self.kernel * self.pixel_pitch_um > window:
            raise ValueError(f"kernel·pixel_pitch_um = {self.kernel * self.pixel_pitch_um:g} µm must fit the "
                             f"simulated window pad_factor·mask_pixels·mask_pitch_um = {window:g} µm")
        return self

    # Derived -------------------------------------------------------------------------------
    @property
    def grid(self) -> int:
        """Samples M across the padded simulation window."""
        return self.pad_factor * self.mask_pixels

    @property
    def mask_width_um(self) -> float:
        """Width of one mask, µm."""
        return self.mask_pixels * self.mask_pitch_um

    @property
    def kernel_width_um(self) -> float:
        """Width of the k×k sensor window one PSF covers, µm."""
        return self.kernel * self.pixel_pitch_um

    def band_limit_per_um(self, wavelength_nm: float) -> float:
        """u_lim (cycles/µm): the band limit of the sampled transfer function at this wavelength."""
        lam = wavelength_nm * 1e-3
        du = 1.0 / (self.grid * self.mask_pitch_um)
        return 1.0 / (lam * math.sqrt((2.0 * du * self.distance_mm * 1e3) ** 2 + 1.0))

    def fresnel_number(self, wavelength_nm: float) -> float:
        """N_F = a²/(λd) with a the mask half-width: ≪ 1 is the Fraunhofer (far-field) regime."""
        a = self.mask_width_um / 2
        return a * a / (wavelength_nm * 1e-3 * self.distance_mm * 1e3)


def optics_spec(**fields: object) -> OpticsSpec:
    """An :class:`OpticsSpec` from keyword fields; a bad value is one ConfigError line naming the field."""
    return validate(OpticsSpec, fields, where="optics")


# ------------------------------------------------------------------------------------------------
# Grids, aperture, transfer function
# ------------------------------------------------------------------------------------------------

def coords_um(n: int, pitch_um: float) -> np.ndarray:
    """Sample positions (µm, float64) of an n-point grid with the optical axis on sample n // 2."""
    return (np.arange(n, dtype=np.float64) - n // 2) * pitch_um


@lru_cache(maxsize=32)
def _aperture_np(kind: str, n: int, supersample: int = 16) -> np.ndarray:
    """Clear aperture on the n×n mask grid, as the fraction of each sample's area that is open (0 … 1)."""
    if kind == "square":
        return np.ones((n, n), dtype=np.float64)
    # circle of diameter n samples centred on sample n//2: area coverage by supersampling each sample
    s = (np.arange(supersample, dtype=np.float64) + 0.5) / supersample - 0.5
    x = (np.arange(n, dtype=np.float64)[:, None] - n // 2 + s[None, :]).reshape(-1)
    inside = (x[:, None] ** 2 + x[None, :] ** 2) <= (n / 2) ** 2
    return inside.reshape(n, supersample, n, supersample).mean(axis=(1, 3))


def aperture(spec: OpticsSpec) -> torch.Tensor:
    """Amplitude transmission of one mask's clear aperture (float64, mask_pixels²)."""
    return torch.from_numpy(_aperture_np(spec.aperture, spec.mask_pixels).copy())


def transfer_function(m: int, pitch_um: float, wavelength_nm: float, distance_mm: float,
                      band_limit: bool = True) -> torch.Tensor:
    """Angular-spectrum transfer function H(u, v) on an m×m FFT grid (complex128, FFT order).

    H = exp(i2πd(√(λ⁻² − u² − v²) − λ⁻¹)) (the constant phase 2πd/λ dropped), 0 for evanescent waves
    and, with ``band_limit``, outside |u|, |v| < u_lim (Matsushima & Shimobaba 2009).
    """
    return _transfer(int(m), float(pitch_um), float(wavelength_nm), float(distance_mm), bool(band_limit)).clone()


@lru_cache(maxsize=64)
def _transfer(m: int, pitch_um: float, wavelength_nm: float, distance_mm: float, band_limit: bool) -> torch.Tensor:
    lam = wavelength_nm * 1e-3                    # µm
    d = distance_mm * 1e3                         # µm
    u = np.fft.fftfreq(m, d=pitch_um)             # cycles/µm
    f2 = u[:, None] ** 2 + u[None, :] ** 2
    inv2 = 1.0 / lam**2
    prop = f2 < inv2
    root = np.sqrt(np.where(prop, inv2 - f2, 0.0))
    # 2πd(√(λ⁻² − f²) − λ⁻¹) = −2πd·f²/(λ⁻¹ + √(λ⁻² − f²)): no cancellation at small f
    phase = -2.0 * np.pi * d * f2 / (1.0 / lam + root)
    keep = prop
    if band_limit:
        du = 1.0 / (m * pitch_um)
        ulim = 1.0 / (lam * np.sqrt((2.0 * du * d) ** 2 + 1.0))
        keep = keep & (np.abs(u)[:, None] < ulim) & (np.abs(u)[None, :] < ulim)
    h = np.where(keep, np.exp(1j * phase), 0.0).astype(np.complex128)
    return torch.from_numpy(h)


def angular_spectrum(field: torch.Tensor, pitch_um: float, wavelength_nm: float, distance_mm: float,
                     band_limit: bool = True) -> torch.Tensor:
    """Propagate a complex field (…×m×m, already zero-padded) over ``distance_mm`` by the AS method."""
    m = field.shape[-1]
    if field.shape[-2] != m:
        raise ConfigError(f"angular_spectrum: field must be square (got {tuple(field.shape[-2:])})")
    h = _transfer(int(m), float(pitch_um), float(wavelength_nm), float(distance_mm), bool(band_limit))
    return torch.fft.ifft2(torch.fft.fft2(field.to(torch.complex128)) * h.to(field.device))


# ------------------------------------------------------------------------------------------------
# Mask → field → intensity → PSF
# ------------------------------------------------------------------------------------------------

def heights_from_phase(phase_rad: torch.Tensor, wavelength_nm: float, refractive_index: float) -> torch.Tensor:
    """Relief height (µm) that delays by ``phase_rad`` at ``wavelength_nm``: h = φλ/(2π(n−1))."""
    return phase_rad * (wavelength_nm * 1e-3) / (2.0 * math.pi * (refractive_index - 1.0))


def _check_heights(height_um: torch.Tensor, spec: OpticsSpec) -> torch.Tensor:
    if not isinstance(height_um, torch.Tensor):
        height_um = torch.as_tensor(np.asarray(height_um, dtype=np.float64))
    n = spec.mask_pixels
    if height_um.dim() < 2 or tuple(height_um.shape[-2:]) != (n, n):
        raise ConfigError(f"optics: height_um must be …×{n}×{n} µm (mask_pixels), got {tuple(height_um.shape)}")
    if not torch.isfinite(height_um.detach()).all():
        raise ConfigError("optics: height_um must be finite everywhere (NaN or inf in the mask heights)")
    return height_um.to(torch.float64)


def mask_field(height_um: torch.Tensor, spec: OpticsSpec, wavelength_nm: float) -> torch.Tensor:
    """Field just behind the mask: A·exp(i2π(n−1)h/λ), zero-padded to the M×M window (complex128)."""
    h = _check_heights(height_um, spec)
    phase = (2.0 * math.pi * (spec.refractive_index - 1.0) / (wavelength_nm * 1e-3)) * h
    u0 = aperture(spec).to(h.device) * torch.exp(1j * phase)
    n, m = spec.mask_pixels, spec.grid
    lo = m // 2 - n // 2
    return torch.nn.functional.pad(u0, (lo, m - n - lo, lo, m - n - lo))


def intensity(height_um: torch.Tensor, spec: OpticsSpec) -> torch.Tensor:
    """|U_d|² per sample of the M×M window for every wavelength (float64, …×L×M×M), divided by the energy
    through the aperture Σ|U₀|²: non-negative and Σ ≤ 1 (= 1 minus the energy outside the band limit)."""
    h = _check_heights(height_um, spec)
    e0 = aperture(spec).to(h.device).square().sum()
    out = []
    for lam in spec.wavelengths_nm:
        u = angular_spectrum(mask_field(h, spec, lam), spec.mask_pitch_um, lam, spec.distance_mm)
        out.append((u.real.square() + u.imag.square()) / e0)
    return torch.stack(out, dim=-3)


def pixel_weights(m: int, pitch_um: float, pixel_pitch_um: float, pixels: int) -> torch.Tensor:
    """pixels×m matrix W: the fraction of sample i (width ``pitch_um``) that lies inside sensor pixel j
    (width ``pixel_pitch_um``, centred at (j − (pixels−1)/2)·p on the axis). A pixel integrates the
    intensity over its area, so PSF = W·I·Wᵀ (float64); columns of W sum to 1 inside the window."""
    return _weights(int(m), float(pitch_um), float(pixel_pitch_um), int(pixels)).clone()


@lru_cache(maxsize=64)
def _weights(m: int, pitch_um: float, pixel_pitch_um: float, pixels: int) -> torch.Tensor:
    x = coords_um(m, pitch_um)
    c = (np.arange(pixels, dtype=np.float64) - (pixels - 1) / 2) * pixel_pitch_um
    lo = np.maximum(x[None, :] - pitch_um / 2, c[:, None] - pixel_pitch_um / 2)
    hi = np.minimum(x[None, :] + pitch_um / 2, c[:, None] + pixel_pitch_um / 2)
    return torch.from_numpy(np.clip(hi - lo, 0.0, None) / pitch_um)


def pixelate(inten: torch.Tensor, spec: OpticsSpec, pixels: int | None = None) -> torch.Tensor:
    """Integrate an M×M intensity over a ``pixels``×``pixels`` window of sensor pixels (default: the kernel)."""
    w = _weights(spec.grid, spec.mask_pitch_um, spec.pixel_pitch_um, int(pixels or spec.kernel)).to(inten.device)
    return w @ inten @ w.T


def sensor_window_pixels(spec: OpticsSpec) -> int:
    """Most whole sensor pixels (odd, centred) inside the simulated window."""
    n = math.floor(spec.grid * spec.mask_pitch_um / spec.pixel_pitch_um + 1e-9)
    return n if n % 2 else n - 1


def psf(height_um: torch.Tensor, spec: OpticsSpec) -> torch.Tensor:
    """The k×k PSF of each mask at each wavelength (float64, …×L×k×k), non-negative by construction.

    ``normalize="aperture"``: each pixel holds the fraction of the light through the mask that lands on
    it (Σ over the kernel ≤ 1, the rest falls outside the kernel or outside the band limit);
    ``"kernel"``: rescaled so that each k×k PSF sums to exactly 1 (unit DC gain).
    """
    p = pixelate(intensity(height_um, spec), spec)
    if spec.normalize == "kernel":
        p = p / p.sum(dim=(-2, -1), keepdim=True).clamp(min=1e-30)
    return p


def lens_heights(spec: OpticsSpec, focal_mm: float | None = None, wavelength_nm: float | None = None,
                 wrap: bool = True) -> torch.Tensor:
    """Heights (µm) of an ideal focusing mask (hyperbolic phase −k(√(r² + f²) − f), f = d by default)
    at ``wavelength_nm`` (default the middle channel), wrapped to one wave (a Fresnel lens) if ``wrap``."""
    f = (spec.distance_mm if focal_mm is None else focal_mm) * 1e3
    lam = (spec.wavelengths_nm[len(spec.wavelengths_nm) // 2] if wavelength_nm is None else wavelength_nm) * 1e-3
    x = coords_um(spec.mask_pixels, spec.mask_pitch_um)
    r2 = x[:, None] ** 2 + x[None, :] ** 2
    phase = -2 * np.pi / lam * (np.sqrt(r2 + f * f) - f)
    if wrap:
        phase = np.mod(phase, 2 * np.pi)
    return heights_from_phase(torch.from_numpy(phase), lam * 1e3, spec.refractive_index)


def random_heights(spec: OpticsSpec, seed: int, max_height_um: float | None = None,
                   corr_px: float = 3.0) -> torch.Tensor:
    """Seeded smooth random heights (masks×N×N µm, float64) in 0 … ``max_height_um`` (default one wave
    of the longest wavelength), low-pass filtered over ``corr_px`` samples: a PhlatCam-like start."""
    g = torch.Generator().manual_seed(int(seed))
    n = spec.mask_pixels
    white = torch.randn((spec.masks, n, n), generator=g, dtype=torch.float64)
    f = torch.fft.fftfreq(n, dtype=torch.float64)
    filt = torch.exp(-2 * (math.pi * corr_px) ** 2 * (f[:, None] ** 2 + f[None, :] ** 2))
    sm = torch.fft.ifft2(torch.fft.fft2(white) * filt).real
    sm = (sm - sm.amin(dim=(-2, -1), keepdim=True)) / (sm.amax(dim=(-2, -1), keepdim=True)
                                                       - sm.amin(dim=(-2, -1), keepdim=True)).clamp(min=1e-12)
    top = max_height_um if max_height_um is not None else (
        max(spec.wavelengths_nm) * 1e-3 / (spec.refractive_index - 1.0))
    return sm * top


def add_fabrication_noise(height_um: torch.Tensor, sigma_um: float, seed: int) -> torch.Tensor:
    """Heights plus N(0, 1)·σ per sample (µm), seeded: SACoD's model of fabrication error."""
    if not (math.isfinite(sigma_um) and sigma_um >= 0):
        raise ConfigError(f"optics.noise_sigma_um: must be a finite number ≥ 0 µm (got {sigma_um!r})")
    g = torch.Generator().manual_seed(int(seed))
    return height_um + sigma_um * torch.randn(height_um.shape, generator=g, dtype=torch.float64).to(height_um)


def fit_heights(target_psf: torch.Tensor, spec: OpticsSpec, init_um: torch.Tensor, steps: int = 150,
                lr_um: float = 0.01, efficiency: float = 0.5) -> tuple[torch.Tensor, float]:
    """Heights (µm) whose PSFs approach ``target_psf`` (masks×L×k×k, any scale): phase retrieval by Adam
    through this module's own diffraction model, from ``init_um``.

    The target is rescaled to carry ``efficiency`` of the light through each mask, and the loss is
    Σ(PSF − target)² / Σ target²; a shape-only loss would let the fit throw light away. Returns the
    heights (float64, detached) and the final relative loss.
    """
    if not (0 < efficiency <= 1):
        raise ConfigError(f"fit_heights.efficiency: must be in (0, 1] (got {efficiency!r})")
    t = target_psf.to(torch.float64)
    t = efficiency * t / t.sum(dim=(-2, -1), keepdim=True).clamp(min=1e-30)
    h = _check_heights(init_um, spec).detach().clone().requires_grad_(True)
    opt = torch.optim.Adam([h], lr=lr_um)
    norm = t.square().sum()
    loss = torch.tensor(float("nan"))
    for _ in range(int(steps)):
        loss = (psf(h, spec) - t).square().sum() / norm
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        final = float((psf(h, spec) - t).square().sum() / norm)
    return h.detach(), final
