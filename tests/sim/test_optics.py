"""Mask → PSF by angular-spectrum diffraction against closed forms (Airy, sinc², tilt, Parseval).

Tolerances come from the physics and the sampling, not from one floating-point path:

- Fraunhofer cases run at Fresnel number N_F = a²/(λz) ≈ 0.04. The neglected quadratic phase is at most
  ε = πN_F ≈ 0.13 rad over the aperture; for a symmetric aperture its first effect on the intensity is
  O(ε²) (the far-field amplitude is real, the correction imaginary), so profile and first zero are
  allowed ε² ≈ 1.6 % (relative), plus half a sample (after parabolic interpolation, a quarter) on the zero;
- the tilt test predicts the spot at d·tanθ; the aberration of a tilted focus at these angles is < λ/1000,
  so the spot must land within 0.05 pixel (a tenth of the grid's own sample);
- energy: Σ|U_d|² must equal the spectral energy of U₀ inside the band limit (Parseval; 1e-9 covers any
  double-precision FFT path), and for a clear square aperture that equals the closed-form sinc² energy
  inside ±u_lim up to one frequency sample Δu of where the cut falls on each side of each axis.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.special import j1, sici

from logcam.errors import ConfigError
from logcam.sim import optics as op

LAM = 550.0  # nm


def _fraunhofer(aperture: str, n: int = 12, dx: float = 2.0, d_mm: float = 6.5, pad: int = 64):
    spec = op.optics_spec(distance_mm=d_mm, wavelengths_nm=(LAM,), mask_pitch_um=dx, mask_pixels=n,
                          pad_factor=pad, pixel_pitch_um=dx, kernel=7, masks=1, aperture=aperture)
    inten = op.intensity(torch.zeros(n, n, dtype=torch.float64), spec)[0].numpy()
    return spec, inten


def _first_zero_um(profile: np.ndarray, x_um: np.ndarray, guess_um: float) -> float:
    """First minimum on each side of the axis (parabolic interpolation), half the zero-to-zero width."""
    dx = x_um[1] - x_um[0]
    out = []
    for sign in (1, -1):
        sl = np.flatnonzero((sign * x_um > 0.6 * guess_um) & (sign * x_um < 1.4 * guess_um))
        i = sl[np.argmin(profile[sl])]
        y0, y1, y2 = profile[i - 1:i + 2]
        out.append(x_um[i] + dx * 0.5 * (y0 - y2) / (y0 - 2 * y1 + y2))
    return (out[0] - out[1]) / 2


@pytest.mark.parametrize("aperture", ["circle", "square"])
def test_clear_aperture_far_field_is_airy_or_sinc2(aperture: str) -> None:
    spec, inten = _fraunhofer(aperture)
    nf = spec.fresnel_number(LAM)
    assert nf < 0.05                                       # the Fraunhofer condition holds
    eps2 = (math.pi * nf) ** 2
    c = spec.grid // 2
    x = op.coords_um(spec.grid, spec.mask_pitch_um)
    prof = inten[c]                                        # the row through the axis
    width, z, lam = spec.mask_width_um, spec.distance_mm * 1e3, LAM * 1e-3
    if aperture == "circle":
        zero = 1.22 * lam * z / width                      # Airy: first zero at 1.22 λz/D
        v = np.pi * width * np.abs(x) / (lam * z)
        theory = np.where(v > 0, (2 * j1(np.maximum(v, 1e-300)) / np.maximum(v, 1e-300)) ** 2, 1.0)
    else:
        zero = lam * z / width                             # sinc²: first zero at λz/a
        theory = np.sinc(width * x / (lam * z)) ** 2
    got = _first_zero_um(prof, x, zero)
    assert abs(got / zero - 1) < eps2 + 0.25 * spec.mask_pitch_um / zero
    lobe = np.abs(x) < zero
    assert np.abs(prof / prof.max() - theory)[lobe].max() < eps2
    # the pattern is separable (sinc²) or round (Airy): the column through the axis matches the row
    assert np.abs(inten[:, c] - prof).max() < 1e-3 * prof.max()


def test_phase_ramp_shifts_psf_by_predicted_pixels() -> None:
    spec = op.optics_spec(wavelengths_nm=(LAM,), masks=1, kernel=9)
    lens = op.lens_heights(spec)                          # focuses on the axis at d
    x = op.coords_um(spec.mask_pixels, spec.mask_pitch_um)
    xs = op.coords_um(spec.grid, spec.mask_pitch_um)
    for shift_px in (1, 2, 3):
        tan = shift_px * spec.pixel_pitch_um / (spec.distance_mm * 1e3)
        f0 = tan / math.sqrt(1 + tan * tan) / (LAM * 1e-3)   # sinθ/λ, cycles/µm
        ramp = op.heights_from_phase(torch.from_numpy(np.tile(2 * np.pi * f0 * x, (x.size, 1))), LAM,
                                     spec.refractive_index)
        p = op.psf(lens + ramp, spec)[0].numpy()
        k = spec.kernel // 2
        assert np.unravel_index(p.argmax(), p.shape) == (k, k + shift_px)
        inten = op.intensity(lens + ramp, spec)[0].numpy()
        row = inten[spec.grid // 2]
        i = int(row.argmax())
        y0, y1, y2 = row[i - 1:i + 2]
        peak_um = xs[i] + spec.mask_pitch_um * 0.5 * (y0 - y2) / (y0 - 2 * y1 + y2)
        assert abs(peak_um / spec.pixel_pitch_um - shift_px) < 0.05


def test_energy_equals_in_band_spectrum_and_sinc2_tail() -> None:
    spec = op.optics_spec(wavelengths_nm=(LAM,), masks=1)
    n = spec.mask_pixels
    # any mask: the energy on the sensor plane is the spectral energy of U0 inside the band (Parseval)
    h = op.random_heights(op.optics_spec(masks=1), seed=5)[0]
    for heights in (h, torch.zeros(n, n, dtype=torch.float64)):
        inten = op.intensity(heights, spec)[0]
        spec0 = torch.fft.fft2(op.mask_field(heights, spec, LAM)).abs().square()
        band = op.transfer_function(spec.grid, spec.mask_pitch_um, LAM, spec.distance_mm).abs()
        inband = float((spec0 * band).sum() / spec0.sum())
        assert abs(float(inten.sum()) - inband) < 1e-9
        assert float(inten.min()) >= 0.0
        # the whole sensor window of whole pixels keeps what falls inside it (pixel integration is lossless)
        npx = op.sensor_window_pixels(spec)
        inside = npx * spec.pixel_pitch_um / 2
        xs = op.coords_um(spec.grid, spec.mask_pitch_um)
        m = torch.from_numpy(np.abs(xs) + spec.mask_pitch_um / 2 <= inside + 1e-9)
        assert abs(float(op.pixelate(inten, spec, npx).sum()) - float(inten[m][:, m].sum())) < 1e-9
    # clear square aperture of side a: fraction of sinc² inside ±u_lim per axis, squared
    a, ulim = spec.mask_width_um, spec.band_limit_per_um(LAM)
    t = math.pi * a * ulim
    per_axis = (2 / math.pi) * (sici(2 * t)[0] - math.sin(t) ** 2 / t)
    du = 1.0 / (spec.grid * spec.mask_pitch_um)
    tol = 4 * du / (math.pi**2 * a * ulim**2)               # one Δu of sinc² tail, both sides, both axes
    assert 1 - per_axis**2 > 5 * tol                        # the test can see the band-limit loss
    assert abs(float(inten.sum()) - per_axis**2) < tol


def test_psf_nonnegative_normalised_and_differentiable() -> None:
    spec = op.optics_spec(masks=2, mask_pixels=32, mask_pitch_um=1.8, normalize="kernel")
    h = op.random_heights(spec, seed=1).requires_grad_()
    p = op.psf(h, spec)
    assert p.shape == (2, 3, 7, 7) and p.dtype == torch.float64
    assert float(p.detach().min()) >= 0
    assert torch.allclose(p.sum(dim=(-2, -1)), torch.ones(2, 3, dtype=torch.float64))
    (p[0, 1, 3, 3]).backward()
    assert h.grad is not None and float(h.grad.abs().sum()) > 0
    # colour channels differ (the phase delay scales with 1/λ), the aperture-normalised PSF sums ≤ 1
    spec_a = op.optics_spec(masks=2, mask_pixels=32, mask_pitch_um=1.8)
    pa = op.psf(h.detach(), spec_a)
    assert float(pa.sum(dim=(-2, -1)).max()) <= 1 + 1e-12
    assert float((pa[:, 0] - pa[:, 2]).abs().max()) > 1e-4


@pytest.mark.parametrize(("field", "value", "needle"), [
    ("distance_mm", -2.0, "optics.distance_mm: must be a finite number > 0 mm"),
    ("distance_mm", float("inf"), "optics.distance_mm: "),
    ("wavelengths_nm", (0.0, 550.0, 450.0), "optics.wavelengths_nm: must be a finite number > 0 nm"),
    ("kernel", 5, "optics.kernel: must be an integer in 7"),
    ("masks", 7, "optics.masks: must be an integer in 1 … 6"),
    ("refractive_index", 1.0, "optics.refractive_index: must be"),
    ("mask_pitch_um", float("nan"), "optics.mask_pitch_um: "),
    ("pixel_pitch_um", 100.0, "must fit the simulated window"),
])
def test_bad_spec_is_one_line(field: str, value: object, needle: str) -> None:
    with pytest.raises(ConfigError) as e:
        op.optics_spec(**{field: value})
    msg = str(e.value)
    assert "\n" not in msg and needle in msg and msg.startswith("optics")


def test_nan_heights_are_one_line() -> None:
    spec = op.optics_spec(masks=1, mask_pixels=16, mask_pitch_um=4.0)
    h = torch.zeros(16, 16, dtype=torch.float64)
    h[3, 4] = float("nan")
    with pytest.raises(ConfigError, match="height_um must be finite") as e:
        op.psf(h, spec)
    assert "\n" not in str(e.value)
    with pytest.raises(ConfigError, match="mask_pixels"):
        op.psf(torch.zeros(8, 8, dtype=torch.float64), spec)


def test_fit_heights_retrieves_a_reachable_psf() -> None:
    """Phase retrieval through the model: a PSF that some mask makes is approached from a perturbed start."""
    spec = op.optics_spec(masks=1, mask_pixels=32, mask_pitch_um=1.8, wavelengths_nm=(LAM,))
    truth = op.lens_heights(spec)[None] + op.random_heights(spec, seed=2, max_height_um=0.3, corr_px=4)
    target = op.psf(truth, spec)
    start = truth + op.random_heights(spec, seed=3, max_height_um=0.3, corr_px=4)
    eff = float(target.sum())
    t_n = eff * target / target.sum()
    before = float((op.psf(start, spec) - t_n).square().sum() / t_n.square().sum())
    fitted, after = op.fit_heights(target, spec, start, steps=40, lr_um=0.01, efficiency=eff)
    assert after < 0.2 * before
    assert fitted.shape == start.shape and not fitted.requires_grad
    with pytest.raises(ConfigError, match="efficiency"):
        op.fit_heights(target, spec, start, steps=1, efficiency=0.0)
