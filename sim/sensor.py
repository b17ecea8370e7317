"""Pixel and ADC model after EMVA 1288 (Release 4.0, linear camera model), monochrome.

Signal chain of :meth:`Sensor.capture`, per photodiode then per read-out pixel::

    lux ──lux_to_photons──▶ μ_p photons ──×η·(1+PRNU)──▶ μ_e ──+ dark current·t──▶ Poisson ──▶ charge e⁻
    charge ──clip [0, full well]──▶ (binning: charge-domain sum of b×b photodiodes)
          ──+ DSNU offset (fixed, e⁻) + read noise (Gaussian, e⁻)──▶ ×K DN/e⁻ ──+ black level──▶
          round, clip to 0 … 2^adc_bits − 1 ──▶ uint16 DN

Conventions (EMVA 1288 R4.0 §2): η quantum efficiency, K system gain (DN/e⁻), σ_d the temporal dark
noise in e⁻ (read noise and dark-current shot noise), σ_q² = 1/12 DN² quantization noise, μ_e.sat
the saturation capacity. Photons are counted for the 555 nm-equivalent of white light, see
:func:`lux_to_photons`. Fixed patterns (PRNU, DSNU) are drawn once per :class:`Sensor` from its seed.

DSNU is applied as a fixed offset in electrons at read-out rather than as charge: a negative offset
then survives (it is not clipped away at zero charge), which is how EMVA 1288 measures it — the
spatial spread of the dark signal. Binning sums the charge of b×b photodiodes before one read (as a
shared floating diffusion does), so shot noise and signal add, read noise is paid once per binned
pixel, and each photodiode still saturates at its own full well.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import Field, model_validator

from logcam.config import StrictModel, embedded_config, load_model
from logcam.errors import ConfigError, InputError

#: Default preset name (configs/sensors/tinyml_cmos.yaml).
DEFAULT_PRESET = "tinyml_cmos"

#: Planck constant (J·s) and speed of light (m/s): exact SI values (BIPM SI Brochure, 9th ed., 2019).
PLANCK_J_S = 6.62607015e-34
LIGHT_M_S = 299792458.0
#: Luminous efficacy of 540 THz radiation, exactly 683 lm/W: the SI definition of the candela
#: (BIPM SI Brochure, 9th ed., 2019). 540 THz is λ ≈ 555.0 nm in air, the peak of the photopic V(λ).
KCD_LM_PER_W = 683.0
KCD_FREQUENCY_HZ = 540e12
#: Photons per second per m² per lux for the 555 nm-equivalent of white light:
#: 1 lux = 1/683 W/m² at 540 THz, each photon carrying h·540 THz = 3.578e-19 J → 4.092e15.
#: A broadband (e.g. 5500 K) source gives more photons per lux in 400–700 nm; stating QE for this
#: equivalent flux makes η·photons the measured electrons, whatever the spectrum.
PHOTONS_PER_LUX_S_M2 = 1.0 / (KCD_LM_PER_W * PLANCK_J_S * KCD_FREQUENCY_HZ)

#: Quantization noise variance of an ideal ADC, DN² (EMVA 1288: σ_q² = 1/12 DN²).
QUANT_VAR_DN2 = 1.0 / 12.0
#: Largest mean charge drawn per photodiode, e⁻: 10⁵ × the largest full well allowed, so a clipped mean still
#: saturates every time, and Poisson's λ stays below numpy's limit (~9e18) for any finite illuminance.
MAX_MEAN_E = 1e12


class SensorSpec(StrictModel):
    """EMVA 1288 parameters of a monochrome CMOS sensor (units in the field names)."""

    name: str = Field("custom", description="preset or sensor name (informational)")
    description: str = Field("", description="one line about the sensor (informational)")
    width: int = Field(320, ge=2, le=8192, description="photodiode columns (before binning), pixels")
    height: int = Field(240, ge=2, le=8192, description="photodiode rows (before binning), pixels")
    pixel_pitch_um: float = Field(3.6, gt=0, le=100, description="pixel pitch, µm (square pixels)")
    quantum_efficiency: float = Field(
        0.6, gt=0, le=1,
        description="effective η (incl. fill factor, microlens) for the 555 nm-equivalent white light, 0..1")
    full_well_e: float = Field(10000.0, gt=0, le=1e7, description="full-well capacity per photodiode, e⁻")
    dark_current_e_per_s: float = Field(
        10.0, ge=0, le=1e7, description="mean dark current per photodiode, e⁻/s (at temperature_c)")
    read_noise_e: float = Field(3.0, ge=0, le=1e4, description="temporal read noise (std) per read, e⁻")
    dsnu_e: float = Field(1.0, ge=0, le=1e4, description="dark signal non-uniformity (spatial std), e⁻")
    prnu: float = Field(0.01, ge=0, lt=0.5, description="photo-response non-uniformity (spatial std), fraction")
    gain_dn_per_e: float = Field(0.1, gt=0, le=1e3, description="system gain K, DN/e⁻")
    black_level_dn: float = Field(16.0, ge=0, description="black level (offset) added before the ADC, DN")
    adc_bits: int = Field(10, ge=1, le=16, description="ADC resolution: DN in 0 … 2^adc_bits − 1")
    exposure_s: float = Field(0.001, gt=0, le=100, description="default exposure (integration) time, s")
    temperature_c: float | None = Field(None, description="die temperature the dark current holds at, °C")
    binning: Literal[1, 2, 4] = Field(1, description="b×b charge-domain binning: 1, 2 or 4")
    sources: dict[str, str] = Field(default_factory=dict, description="field → where its value comes from")

    @model_validator(mode="after")
    def _check(self) -> SensorSpec:
        top = (1 << self.adc_bits) - 1
        if self.black_level_dn >= top:
            raise ValueError(f"black_level_dn must be below the ADC maximum {top} DN (got {self.black_level_dn})")
        for f in ("width", "height"):
            if getattr(self, f) % self.binning:
                raise ValueError(f"{f} ({getattr(self, f)}) must be a multiple of binning ({self.binning})")
            if getattr(self, f) // self.binning < 2:
                raise ValueError(f"{f} / binning must be ≥ 2 pixels")
        unknown = sorted(set(self.sources) - set(type(self).model_fields))
        if unknown:
            raise ValueError(f"sources: {unknown[0]!r} is not a sensor field")
        return self

    # Derived quantities --------------------------------------------------------------------
    @property
    def max_dn(self) -> int:
        """Largest ADC code, DN."""
        return (1 << self.adc_bits) - 1

    @property
    def out_shape(self) -> tuple[int, int]:
        """(rows, columns) of a captured frame, after binning."""
        return self.height // self.binning, self.width // self.binning

    @property
    def pixel_area_m2(self) -> float:
        """Area of one photodiode, m² (fill factor is folded into quantum_efficiency)."""
        return (self.pixel_pitch_um * 1e-6) ** 2


# ------------------------------------------------------------------------------------------------
# Presets
# ------------------------------------------------------------------------------------------------

def preset_names() -> list[str]:
    """Names of the sensor presets shipped in configs/sensors/."""
    folder = embedded_config("sensors")
    return sorted(p.stem for p in Path(folder).glob("*.yaml"))


def load_sensor(name_or_path: str | Path = DEFAULT_PRESET, **overrides: object) -> SensorSpec:
    """A preset by name (configs/sensors/NAME.yaml) or a YAML file by path; ``overrides`` replace fields."""
    s = str(name_or_path)
    if s.endswith((".yaml", ".yml")) or "/" in s or Path(s).is_file():
        path = Path(s)
    else:
        names = preset_names()
        if s not in names:
            raise ConfigError(f"sensor: unknown preset {s!r}; allowed: {', '.join(names)} or a YAML path")
        path = embedded_config(f"sensors/{s}.yaml")
    spec = load_model(SensorSpec, path)
    return with_overrides(spec, **overrides) if overrides else spec


def with_overrides(spec: SensorSpec, **overrides: object) -> SensorSpec:
    """A copy of ``spec`` with some fields replaced, validated again (one-line ConfigError)."""
    from logcam.config import validate

    data = spec.model_dump()
    for k, v in overrides.items():
        if k not in SensorSpec.model_fields:
            raise ConfigError(f"sensor: unknown field {k!r}")
        data[k] = v
    return validate(SensorSpec, data, where="sensor")


# ------------------------------------------------------------------------------------------------
# Radiometry
# ------------------------------------------------------------------------------------------------

def lux_to_photons(lux: np.ndarray | float, spec: SensorSpec, exposure_s: float | None = None) -> np.ndarray:
    """Mean photons per photodiode per exposure: lux × :data:`PHOTONS_PER_LUX_S_M2` × pixel area × t.

    ``lux`` is the illuminance at the sensor plane. The conversion is the 555 nm (540 THz) equivalent
    of the SI candela definition: 4.092e15 photons/s/m²/lux.
    """
    t = spec.exposure_s if exposure_s is None else float(exposure_s)
    return np.asarray(lux, dtype=np.float64) * (PHOTONS_PER_LUX_S_M2 * spec.pixel_area_m2 * t)


def photons_to_lux(photons: np.ndarray | float, spec: SensorSpec, exposure_s: float | None = None) -> np.ndarray:
    """Inverse of :func:`lux_to_photons`: sensor-plane lux that gives ``photons`` per photodiode."""
    t = spec.exposure_s if exposure_s is None else float(exposure_s)
    return np.asarray(photons, dtype=np.float64) / (PHOTONS_PER_LUX_S_M2 * spec.pixel_area_m2 * t)


# ------------------------------------------------------------------------------------------------
# EMVA 1288 figures computed from the parameters (per read-out pixel, i.e. after binning)
# ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class EmvaFigures:
    """EMVA 1288 figures of merit of a spec at its exposure, per read-out (binned) pixel."""

    photons_per_lux: float           #: photons per read-out pixel per exposure per lux
    responsivity_dn_per_photon: float  #: R = η·K, DN per photon
    dark_signal_e: float             #: μ_d: mean dark charge, e⁻
    dark_noise_e: float              #: σ_d: temporal dark noise (read + dark shot), e⁻
    dark_noise_dn: float             #: σ_y.dark = √(K²σ_d² + σ_q²), DN (incl. quantization)
    saturation_capacity_e: float     #: μ_e.sat: light-induced electrons at saturation
    saturation_photons: float        #: μ_p.sat = μ_e.sat / η
    saturation_lux: float            #: sensor-plane lux that saturates at this exposure
    sensitivity_threshold_photons: float  #: μ_p.min: photons for SNR = 1
    sensitivity_threshold_e: float   #: η·μ_p.min
    sensitivity_threshold_lux: float  #: μ_p.min as sensor-plane lux at this exposure
    dynamic_range_db: float          #: 20·log10(μ_p.sat / μ_p.min)
    snr_max_db: float                #: SNR at saturation, 20·log10 (temporal noise)
    snr_max_ideal_db: float          #: 20·log10(√μ_e.sat): the shot-noise limit EMVA quotes
    saturated_by: str                #: "full well" or "adc": which limit saturates first

    def as_dict(self) -> dict[str, float | str]:
        return asdict(self)


def _binned(spec: SensorSpec) -> tuple[float, float, float]:
    """(full well, dark signal e⁻, photons per lux) of one read-out pixel: b² photodiodes."""
    b2 = spec.binning**2
    return (b2 * spec.full_well_e, b2 * spec.dark_current_e_per_s * spec.exposure_s,
            b2 * float(lux_to_photons(1.0, spec)))


def saturation_capacity_e(spec: SensorSpec) -> tuple[float, str]:
    """μ_e.sat, light-induced electrons per read-out pixel where the output saturates, and which limit."""
    fw, mu_d, _ = _binned(spec)
    adc_e = (spec.max_dn - spec.black_level_dn) / spec.gain_dn_per_e  # total electrons at ADC max
    if fw <= adc_e:
        return max(fw - mu_d, 0.0), "full well"
    return max(adc_e - mu_d, 0.0), "adc"


def dark_noise_e(spec: SensorSpec) -> float:
    """σ_d: temporal dark noise per read-out pixel, e⁻ (read noise and dark-current shot noise)."""
    _, mu_d, _ = _binned(spec)
    return math.sqrt(spec.read_noise_e**2 + mu_d)


def snr(photons: np.ndarray | float, spec: SensorSpec) -> np.ndarray:
    """Temporal SNR of the EMVA model at μ_p photons per read-out pixel (linear, not dB):
    η·μ_p / √(σ_d² + σ_q²/K² + η·μ_p)."""
    mu_e = spec.quantum_efficiency * np.asarray(photons, dtype=np.float64)
    var = dark_noise_e(spec) ** 2 + QUANT_VAR_DN2 / spec.gain_dn_per_e**2 + mu_e
    return mu_e / np.sqrt(var)


def absolute_sensitivity_threshold(spec: SensorSpec) -> float:
    """μ_p.min, photons per read-out pixel for SNR = 1 (EMVA 1288: (σ_y.dark/K + ½)/η)."""
    s_e = math.sqrt(dark_noise_e(spec) ** 2 + QUANT_VAR_DN2 / spec.gain_dn_per_e**2)
    return (s_e + 0.5) / spec.quantum_efficiency


def dynamic_range_db(spec: SensorSpec) -> float:
    """DR = 20·log10(μ_p.sat / μ_p.min), dB."""
    sat_e, _ = saturation_capacity_e(spec)
    return 20 * math.log10(max(sat_e / spec.quantum_efficiency, 1e-300) / absolute_sensitivity_threshold(spec))


def snr_max_db(spec: SensorSpec) -> float:
    """SNR at saturation with all temporal noise, dB (≈ 20·log10 √μ_e.sat when shot noise dominates)."""
    sat_e, _ = saturation_capacity_e(spec)
    return 20 * math.log10(max(float(snr(sat_e / spec.quantum_efficiency, spec)), 1e-300))


def emva_figures(spec: SensorSpec) -> EmvaFigures:
    """All EMVA 1288 figures of ``spec`` at its exposure and binning."""
    sat_e, by = saturation_capacity_e(spec)
    _, mu_d, ppl = _binned(spec)
    eta, k = spec.quantum_efficiency, spec.gain_dn_per_e
    sd = dark_noise_e(spec)
    pmin = absolute_sensitivity_threshold(spec)
    return EmvaFigures(
        photons_per_lux=ppl,
        responsivity_dn_per_photon=eta * k,
        dark_signal_e=mu_d,
        dark_noise_e=sd,
        dark_noise_dn=math.sqrt(k**2 * sd**2 + QUANT_VAR_DN2),
        saturation_capacity_e=sat_e,
        saturation_photons=sat_e / eta,
        saturation_lux=sat_e / eta / ppl,
        sensitivity_threshold_photons=pmin,
        sensitivity_threshold_e=eta * pmin,
        sensitivity_threshold_lux=pmin / ppl,
        dynamic_range_db=dynamic_range_db(spec),
        snr_max_db=snr_max_db(spec),
        snr_max_ideal_db=10 * math.log10(max(sat_e, 1e-300)),
        saturated_by=by,
    )


# ------------------------------------------------------------------------------------------------
# The sensor
# ------------------------------------------------------------------------------------------------

def _as_rng(rng: np.random.Generator | int | None, default: np.random.Generator) -> np.random.Generator:
    if rng is None:
        return default
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool):
        return np.random.default_rng(int(rng))
    raise InputError(f"capture: rng must be a numpy Generator, an int seed or None (got {type(rng).__name__})")


def bin_sum(x: np.ndarray, b: int) -> np.ndarray:
    """Sum b×b blocks over the last two axes (charge-domain binning), vectorised."""
    if b == 1:
        return x
    *lead, h, w = x.shape
    return x.reshape(*lead, h // b, b, w // b, b).sum(axis=(-3, -1))


class Sensor:
    """A sensor instance: the spec plus its fixed patterns (PRNU, DSNU), drawn once from ``seed``.

    Temporal noise comes from ``rng`` in :meth:`capture`; without one, the instance's own stream
    (also derived from ``seed``) is used, so two sensors with the same seed give the same frames.
    """

    def __init__(self, spec: SensorSpec, seed: int = 0) -> None:
        if not isinstance(spec, SensorSpec):
            raise ConfigError(f"Sensor: spec must be a SensorSpec (got {type(spec).__name__})")
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ConfigError(f"Sensor: seed must be an integer ≥ 0 (got {seed!r})")
        self.spec = spec
        self.seed = int(seed)
        fixed = np.random.default_rng([self.seed, 1288, 1])
        h, w = spec.height, spec.width
        #: per-photodiode relative response 1 + PRNU·N(0,1), ≥ 0 (fraction)
        self.prnu_map = np.clip(1.0 + spec.prnu * fixed.standard_normal((h, w)), 0.0, None)
        #: per-read-out-pixel dark offset, e⁻ (std dsnu_e)
        self.dsnu_map = spec.dsnu_e * fixed.standard_normal(spec.out_shape)
        for a in (self.prnu_map, self.dsnu_map):
            a.setflags(write=False)
        self._rng = np.random.default_rng([self.seed, 1288, 2])

    def __repr__(self) -> str:
        return f"Sensor({self.spec.name!r}, seed={self.seed})"

    def window(self, rows: int, cols: int) -> Sensor:
        """The top-left ``rows``×``cols`` photodiodes as a sensor of their own, with the same fixed
        patterns (a region of interest); rows and cols must be multiples of the binning."""
        s = self.spec
        if rows % s.binning or cols % s.binning or not (0 < rows <= s.height and 0 < cols <= s.width):
            raise InputError(f"window: {rows}×{cols} must fit {s.height}×{s.width} and be a multiple of binning")
        sub = Sensor.__new__(Sensor)
        sub.spec = with_overrides(s, width=cols, height=rows)
        sub.seed = self.seed
        sub.prnu_map = self.prnu_map[:rows, :cols]
        sub.dsnu_map = self.dsnu_map[: rows // s.binning, : cols // s.binning]
        sub._rng = self._rng
        return sub

    def _check_lux(self, lux: object) -> np.ndarray:
        h, w = self.spec.height, self.spec.width
        if not isinstance(lux, np.ndarray):
            raise InputError(f"capture: lux must be a numpy array of shape ({h}, {w}) or (N, {h}, {w}) "
                             f"(got {type(lux).__name__})")
        if lux.dtype.kind not in "fiu":
            raise InputError(f"capture: lux must be a real-number array (got dtype {lux.dtype})")
        if lux.ndim not in (2, 3) or lux.shape[-2:] != (h, w):
            raise InputError(f"capture: lux shape must be ({h}, {w}) or (N, {h}, {w}) "
                             f"for this sensor (got {lux.shape})")
        lux = lux.astype(np.float64, copy=False)
        if not np.isfinite(lux).all() or (lux < 0).any():
            raise InputError("capture: lux must be finite and ≥ 0 everywhere")
        return lux

    def expected_electrons(self, lux: np.ndarray, exposure_s: float | None = None) -> np.ndarray:
        """Mean charge per photodiode (e⁻) before Poisson noise and clipping: η·(1+PRNU)·μ_p + dark."""
        s = self.spec
        t = s.exposure_s if exposure_s is None else float(exposure_s)
        return (s.quantum_efficiency * self.prnu_map * lux_to_photons(lux, s, t)
                + s.dark_current_e_per_s * t)

    def capture(self, lux: np.ndarray, exposure_s: float | None = None,
                rng: np.random.Generator | int | None = None) -> np.ndarray:
        """RAW frame(s) in DN (uint16, H×W or N×H×W after binning) from sensor-plane illuminance in lux."""
        s = self.spec
        lux = self._check_lux(lux)
        if exposure_s is not None and not (np.isfinite(exposure_s) and 0 < exposure_s <= 100):
            raise InputError(f"capture: exposure_s must be in (0, 100] s (got {exposure_s!r})")
        g = _as_rng(rng, self._rng)
        mean_e = self.expected_electrons(lux, exposure_s)
        np.minimum(mean_e, MAX_MEAN_E, out=mean_e)  # far past any full well; keeps Poisson's λ finite and in range
        charge = g.poisson(mean_e).astype(np.float64)                       # shot noise: photo + dark
        np.minimum(charge, s.full_well_e, out=charge)                       # full well per photodiode
        charge = bin_sum(charge, s.binning)                                 # charge-domain binning
        volts_e = charge + self.dsnu_map + s.read_noise_e * g.standard_normal(charge.shape)
        dn = np.floor(s.black_level_dn + s.gain_dn_per_e * volts_e + 0.5)  # gain, offset, round
        return np.clip(dn, 0, s.max_dn).astype(np.uint16)

    def dark_frame(self, n: int = 1, exposure_s: float | None = None,
                   rng: np.random.Generator | int | None = None) -> np.ndarray:
        """N dark frames (zero lux), uint16 N×H×W."""
        return self.capture(np.zeros((n, self.spec.height, self.spec.width)), exposure_s, rng)


def capture_planes(sensor: Sensor, planes_lux: np.ndarray, exposure_s: float | None = None,
                   rng: np.random.Generator | int | None = None) -> np.ndarray:
    """Several image planes read by one sensor side by side: the regions behind PhlatCam masks, or the
    R, G, B planes of a colour camera with a colour filter per region (no mosaic).

    ``planes_lux`` is P×h×w or N×P×h×w lux. Plane i lies at rows (i // c)·h …, columns (i % c)·w … of
    the frame (c = width // w); the rest of the frame is dark. One :meth:`Sensor.capture` then applies the
    photon budget, shot noise, full well, binning, PRNU/DSNU of those very pixels, read noise and the
    ADC, so noise comes after whatever spread the light over the planes. Returns uint16 (N×)P×h/b×w/b.
    """
    s = sensor.spec
    planes = np.asarray(planes_lux)
    if planes.ndim not in (3, 4):
        raise InputError(f"capture_planes: planes_lux must be P×h×w or N×P×h×w (got shape {planes.shape})")
    lead = planes.shape[:-3]
    p, h, w = planes.shape[-3:]
    b = s.binning
    cols = s.width // w if w else 0
    rows = -(-p // cols) if cols else 0
    if h % b or w % b or cols == 0 or rows * h > s.height:
        raise InputError(f"capture_planes: {p} planes of {h}×{w} (multiples of binning {b}) do not fit "
                         f"side by side on the {s.height}×{s.width} sensor")
    n = int(np.prod(lead, dtype=np.int64)) if lead else 1
    tiles = np.zeros((n, rows * cols, h, w), dtype=np.float64)
    tiles[:, :p] = planes.reshape(n, p, h, w)
    frame = np.zeros((n, s.height, s.width), dtype=np.float64)
    frame[:, :rows * h, :cols * w] = tiles.reshape(n, rows, cols, h, w).transpose(0, 1, 3, 2, 4).reshape(
        n, rows * h, cols * w)
    dn = sensor.capture(frame, exposure_s, rng)
    hb, wb = h // b, w // b
    out = dn[:, :rows * hb, :cols * wb].reshape(n, rows, hb, cols, wb).transpose(0, 1, 3, 2, 4)
    return out.reshape(n, rows * cols, hb, wb)[:, :p].reshape(*lead, p, hb, wb)


# ------------------------------------------------------------------------------------------------
# Photon transfer (EMVA 1288 two-frame method)
# ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class PtcResult:
    """A measured photon-transfer curve and the figures fitted from it (per read-out pixel)."""

    lux: np.ndarray            #: sensor-plane illuminance of each level, lux
    photons: np.ndarray        #: μ_p, photons per read-out pixel per exposure
    mean_dn: np.ndarray        #: μ_y: mean of the two frames, DN
    var_dn2: np.ndarray        #: σ_y²: half the variance of their difference, DN²
    dark_mean_dn: float        #: μ_y.dark, DN
    dark_var_dn2: float        #: σ_y.dark², DN²
    fit_mask: np.ndarray       #: levels used in the fits (below 70 % of saturation, above the dark level)
    gain_dn_per_e: float       #: K fitted: slope of σ_y² − σ_y.dark² over μ_y − μ_y.dark
    quantum_efficiency: float  #: η fitted from the responsivity R = η·K
    dark_noise_e: float        #: σ_d = √(σ_y.dark² − σ_q²)/K, e⁻
    read_noise_e: float        #: √(σ_d² − μ_d), the dark shot noise of the measured dark signal removed
    dark_signal_e: float       #: μ_d = (μ_y.dark − black level)/K, e⁻
    saturation_dn: float       #: μ_y at the level of maximum variance (EMVA saturation point), DN
    saturation_capacity_e: float  #: μ_e.sat = (μ_y.sat − μ_y.dark)/K
    sensitivity_threshold_photons: float  #: μ_p.min = (σ_y.dark/K + ½)/η
    dynamic_range_db: float    #: 20·log10(μ_p.sat/μ_p.min) from the measured values
    snr_max_db: float          #: 20·log10(μ_e.sat / √(σ_y.dark²/K² + μ_e.sat)) from the measured values

    def as_dict(self) -> dict[str, object]:
        d = asdict(self)
        return {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in d.items()}


def photon_transfer(sensor: Sensor, levels: np.ndarray | int = 24, *, max_photons: float | None = None,
                    size: tuple[int, int] | None = None, exposure_s: float | None = None,
                    rng: np.random.Generator | int | None = 0,
                    progress: Callable[[], object] | None = None) -> PtcResult:
    """Measure the photon-transfer curve of ``sensor`` the EMVA 1288 way, and fit K, η, σ_d.

    For each level (sensor-plane lux; an int asks for that many levels up to 1.3× the saturation of
    the spec plus 13 levels between 90 and 102 % of it — or up to ``max_photons`` per photodiode)
    two flat frames A, B are captured: μ_y = mean(A+B)/2, σ_y² = var(A − B)/2 (the difference removes
    fixed patterns). A dark pair gives μ_y.dark, σ_y.dark².
    K is the least-squares slope of σ_y² − σ_y.dark² against μ_y − μ_y.dark over the levels below
    70 % of the saturation point (the level of maximum variance); η from R = η·K over the same levels.
    The max-variance point lies a few % below the clip level (shot noise and PRNU reach the clip
    first), so the measured saturation capacity sits that much below :func:`saturation_capacity_e`.
    ``size`` (rows, cols) crops the frame (photodiodes, multiple of binning) to measure faster;
    ``progress`` is called once per frame pair.
    """
    s = sensor.spec
    g = _as_rng(rng, sensor._rng)
    h, w = (s.height, s.width) if size is None else size
    if h % s.binning or w % s.binning or not (0 < h <= s.height and 0 < w <= s.width):
        raise InputError(f"photon_transfer: size must fit the sensor and be a multiple of binning (got {size})")
    if isinstance(levels, (int, np.integer)):
        adc_e = (s.max_dn - s.black_level_dn) / s.gain_dn_per_e / s.binning**2  # per photodiode
        sat_p = min(s.full_well_e, adc_e) / s.quantum_efficiency
        top = max_photons if max_photons is not None else 1.3 * sat_p
        p = np.linspace(0, top, int(levels) + 1)[1:]
        if max_photons is None:  # a fine grid around the saturation point, where the variance peaks
            p = np.union1d(p, np.linspace(0.9, 1.02, 13) * sat_p)
        lux = photons_to_lux(p, s, exposure_s)
    else:
        lux = np.asarray(levels, dtype=np.float64)
    if lux.ndim != 1 or lux.size < 3 or (lux <= 0).any():
        raise InputError("photon_transfer: need ≥ 3 levels, all > 0 lux")
    t = s.exposure_s if exposure_s is None else exposure_s

    sub = sensor.window(h, w)

    def pair(lx: float) -> tuple[float, float]:
        frames = sub.capture(np.full((2, h, w), lx), t, g).astype(np.float64)
        if progress is not None:
            progress()
        return float(frames.mean()), float(np.var(frames[0] - frames[1]) / 2.0)

    dark_mean, dark_var = pair(0.0)
    stats = np.array([pair(float(lx)) for lx in lux])
    mean_dn, var_dn2 = stats[:, 0], stats[:, 1]
    photons = lux_to_photons(lux, s, t) * s.binning**2

    i_sat = int(np.argmax(var_dn2))
    sat_dn = float(mean_dn[i_sat])
    signal = mean_dn - dark_mean
    fit = (signal > 0) & (signal <= 0.7 * (sat_dn - dark_mean))
    if fit.sum() < 2:
        raise InputError("photon_transfer: fewer than 2 levels below 70 % of saturation; add levels")
    x, y = signal[fit], var_dn2[fit] - dark_var
    k = float(np.sum(x * y) / np.sum(x * x))              # slope through the origin (EMVA 1288)
    r = float(np.sum(photons[fit] * signal[fit]) / np.sum(photons[fit] ** 2))  # responsivity η·K
    eta = r / k
    sd = math.sqrt(max(dark_var - QUANT_VAR_DN2, 0.0)) / k
    mu_d = (dark_mean - s.black_level_dn) / k
    read = math.sqrt(max(sd**2 - max(mu_d, 0.0), 0.0))
    sat_e = (sat_dn - dark_mean) / k
    pmin = (math.sqrt(dark_var) / k + 0.5) / eta
    dr = 20 * math.log10(max(sat_e / eta, 1e-300) / pmin)
    snr_sat = sat_e / math.sqrt(dark_var / k**2 + sat_e)
    return PtcResult(lux=lux, photons=photons, mean_dn=mean_dn, var_dn2=var_dn2, dark_mean_dn=dark_mean,
                     dark_var_dn2=dark_var, fit_mask=fit, gain_dn_per_e=k, quantum_efficiency=eta,
                     dark_noise_e=sd, read_noise_e=read, dark_signal_e=mu_d, saturation_dn=sat_dn,
                     saturation_capacity_e=sat_e, sensitivity_threshold_photons=pmin,
                     dynamic_range_db=dr, snr_max_db=20 * math.log10(max(snr_sat, 1e-300)))
