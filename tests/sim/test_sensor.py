"""The EMVA 1288 sensor model measured the way a camera is measured: photon transfer, linearity,
saturation, noise statistics, fixed patterns, binning; and its errors and command line."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from logcam.errors import ConfigError, InputError
from logcam.sim.sensor import (
    PHOTONS_PER_LUX_S_M2,
    Sensor,
    SensorSpec,
    absolute_sensitivity_threshold,
    bin_sum,
    dynamic_range_db,
    emva_figures,
    load_sensor,
    lux_to_photons,
    photon_transfer,
    photons_to_lux,
    preset_names,
    saturation_capacity_e,
    snr,
    snr_max_db,
    with_overrides,
)

#: A 12-bit lab sensor whose dark noise is well above the quantization step (σ_y.dark ≈ 2 DN), so
#: EMVA 1288 can measure its read noise; 128×128 keeps the tests fast.
LAB = SensorSpec(name="lab", width=128, height=128, pixel_pitch_um=5.0, quantum_efficiency=0.5,
                 full_well_e=6000, dark_current_e_per_s=50.0, read_noise_e=4.0, dsnu_e=2.0, prnu=0.01,
                 gain_dn_per_e=0.5, black_level_dn=64, adc_bits=12, exposure_s=0.01)


def temporal_stats(sensor: Sensor, lux: float, rng: int, n_pairs: int = 1) -> tuple[float, float]:
    """EMVA two-frame statistics of a flat field: mean DN and temporal variance DN² (var(A−B)/2)."""
    frames = sensor.capture(np.full((2 * n_pairs, sensor.spec.height, sensor.spec.width), lux), rng=rng)
    f = frames.astype(np.float64).reshape(n_pairs, 2, *frames.shape[1:])
    return float(f.mean()), float(np.mean(np.var(f[:, 0] - f[:, 1], axis=(-2, -1)) / 2))


# ----------------------------------------------------------------------------------------------
# Radiometry
# ----------------------------------------------------------------------------------------------

def test_photons_per_lux_matches_the_555nm_literature_value():
    # 1 lux of 555 nm light is ~4.09e15 photons/s/m² (1/683 W/m² over h·c/555 nm = 3.58e-19 J).
    assert pytest.approx(4.09e15, rel=2e-3) == PHOTONS_PER_LUX_S_M2


def test_photons_scale_with_area_exposure_and_lux():
    s = LAB
    base = float(lux_to_photons(10.0, s))
    assert base == pytest.approx(10.0 * 4.092e15 * (5e-6) ** 2 * 0.01, rel=1e-3)
    assert float(lux_to_photons(10.0, with_overrides(s, pixel_pitch_um=10.0))) == pytest.approx(4 * base)
    assert float(lux_to_photons(10.0, s, exposure_s=0.03)) == pytest.approx(3 * base)
    assert float(photons_to_lux(base, s)) == pytest.approx(10.0)


# ----------------------------------------------------------------------------------------------
# Photon transfer (EMVA 1288)
# ----------------------------------------------------------------------------------------------

def test_photon_transfer_recovers_gain_qe_and_read_noise():
    res = photon_transfer(Sensor(LAB, seed=3), 20, rng=11)
    assert res.fit_mask.sum() >= 8
    assert res.gain_dn_per_e == pytest.approx(LAB.gain_dn_per_e, rel=0.02)
    assert res.quantum_efficiency == pytest.approx(LAB.quantum_efficiency, rel=0.02)
    assert res.read_noise_e == pytest.approx(LAB.read_noise_e, rel=0.03)
    # the dark signal: dark current × exposure = 0.5 e⁻
    assert res.dark_signal_e == pytest.approx(LAB.dark_current_e_per_s * LAB.exposure_s, abs=0.1)


def test_photon_transfer_on_the_default_preset_recovers_gain_and_qe():
    spec = load_sensor()
    res = photon_transfer(Sensor(spec, seed=0), 16, size=(96, 128), rng=5)
    assert res.gain_dn_per_e == pytest.approx(spec.gain_dn_per_e, rel=0.02)
    assert res.quantum_efficiency == pytest.approx(spec.quantum_efficiency, rel=0.02)


def test_noise_follows_the_emva_snr_equation_up_to_saturation():
    sensor = Sensor(LAB, seed=1)
    dark_mean, _ = temporal_stats(sensor, 0.0, rng=2, n_pairs=2)
    sat_e, _ = saturation_capacity_e(LAB)
    for fraction in (0.02, 0.2, 0.5, 0.9):
        photons = fraction * sat_e / LAB.quantum_efficiency
        mean, var = temporal_stats(sensor, float(photons_to_lux(photons, LAB)), rng=int(100 * fraction))
        measured = (mean - dark_mean) / math.sqrt(var)
        assert measured == pytest.approx(float(snr(photons, LAB)), rel=0.03), fraction


def test_saturation_clips_at_full_well_then_at_the_adc():
    # full-well limited: every photodiode holds FW electrons, so the output is black + K·FW plus only
    # what comes after the well — read noise and DSNU — not shot noise (which would be K·√FW ≈ 39 DN)
    bright = np.full((2, LAB.height, LAB.width), 5 * emva_figures(LAB).saturation_lux)
    raw = Sensor(LAB, seed=0).capture(bright, rng=0).astype(np.float64)
    assert raw.mean() == pytest.approx(LAB.black_level_dn + LAB.gain_dn_per_e * LAB.full_well_e, abs=0.1)
    spread = math.hypot(LAB.read_noise_e, LAB.dsnu_e) * LAB.gain_dn_per_e
    assert raw.std() == pytest.approx(math.sqrt(spread**2 + 1 / 12), rel=0.05)
    assert np.var(raw[0] - raw[1]) / 2 == pytest.approx((LAB.read_noise_e * LAB.gain_dn_per_e) ** 2 + 1 / 12,
                                                        rel=0.05)
    # ADC-limited: raise the gain so black + K·FW > 4095 → every pixel reads the ADC maximum
    hot = with_overrides(LAB, gain_dn_per_e=1.0)
    assert saturation_capacity_e(hot)[1] == "adc"
    raw = Sensor(hot, seed=0).capture(bright, rng=0)
    assert (raw == 4095).all() and raw.dtype == np.uint16


def test_dynamic_range_and_snr_at_saturation_follow_from_measurement():
    sensor = Sensor(LAB, seed=4)
    res = photon_transfer(sensor, 20, rng=9)
    sat_dn = LAB.black_level_dn + LAB.gain_dn_per_e * LAB.full_well_e       # all pixels clipped here
    mu_e_sat = (sat_dn - res.dark_mean_dn) / res.gain_dn_per_e
    mu_p_min = (math.sqrt(res.dark_var_dn2) / res.gain_dn_per_e + 0.5) / res.quantum_efficiency
    measured_dr = 20 * math.log10(mu_e_sat / res.quantum_efficiency / mu_p_min)
    assert measured_dr == pytest.approx(dynamic_range_db(LAB), abs=0.3)
    # SNR at saturation: μ_e.sat/√(σ_d² + σ_q²/K² + μ_e.sat) ≈ √μ_e.sat when shot noise dominates
    assert snr_max_db(LAB) == pytest.approx(10 * math.log10(mu_e_sat), abs=0.05)
    # the sensitivity threshold is the light level where the measured SNR is 1
    lux_min = float(photons_to_lux(absolute_sensitivity_threshold(LAB), LAB))
    dark_mean, _ = temporal_stats(sensor, 0.0, rng=21, n_pairs=4)
    mean, var = temporal_stats(sensor, lux_min, rng=22, n_pairs=4)
    assert (mean - dark_mean) / math.sqrt(var) == pytest.approx(1.0, rel=0.05)


def test_mean_dn_is_linear_in_lux_below_saturation():
    sensor = Sensor(LAB, seed=2)
    sat_lux = emva_figures(LAB).saturation_lux
    lux = np.linspace(0.05, 0.8, 8) * sat_lux
    dark = sensor.dark_frame(2, rng=0).mean()
    means = np.array([sensor.capture(np.full((2, 128, 128), x), rng=i).mean() for i, x in enumerate(lux)])
    slope, icpt = np.polyfit(lux, means - dark, 1)
    expected_slope = LAB.quantum_efficiency * LAB.gain_dn_per_e * float(lux_to_photons(1.0, LAB))
    assert slope == pytest.approx(expected_slope, rel=0.01)
    assert abs(icpt) < 0.5  # DN
    resid = means - dark - (slope * lux + icpt)
    assert np.abs(resid).max() < 0.002 * (means.max() - dark)


# ----------------------------------------------------------------------------------------------
# Statistics of the noise sources
# ----------------------------------------------------------------------------------------------

def test_shot_noise_is_poisson():
    ideal = with_overrides(load_sensor("ideal"), width=128, height=128)
    sensor = Sensor(ideal, seed=0)
    for mean_e in (3.0, 50.0, 2000.0):
        raw = sensor.capture(np.full((4, 128, 128), float(photons_to_lux(mean_e, ideal))), rng=int(mean_e))
        x = raw.astype(np.float64)
        assert x.mean() == pytest.approx(mean_e, rel=0.01)
        assert x.var() == pytest.approx(mean_e, rel=0.03)  # Poisson: variance = mean (K = 1 DN/e⁻)
    # at 3 e⁻ the distribution is discrete Poisson, not Gaussian: P(0) = e^−3
    p0 = float((sensor.capture(np.full((4, 128, 128), float(photons_to_lux(3.0, ideal))), rng=7) == 0).mean())
    assert p0 == pytest.approx(math.exp(-3.0), rel=0.05)


def test_fixed_patterns_have_the_stated_spread_and_stay_put():
    spec = with_overrides(LAB, dark_current_e_per_s=0.0, read_noise_e=1.0, dsnu_e=3.0, prnu=0.02)
    sensor = Sensor(spec, seed=8)
    # DSNU: average 64 dark frames (temporal noise ÷ 8) → spatial std ≈ K·dsnu_e
    dark = sensor.dark_frame(64, rng=1).astype(np.float64).mean(axis=0)
    assert dark.std() / spec.gain_dn_per_e == pytest.approx(spec.dsnu_e, rel=0.05)
    # PRNU: at half saturation the spatial std of the averaged frame over its mean ≈ prnu
    lux = 0.5 * emva_figures(spec).saturation_lux
    lit = sensor.capture(np.full((64, 128, 128), lux), rng=2).astype(np.float64).mean(axis=0) - dark
    assert lit.std() / lit.mean() == pytest.approx(spec.prnu, rel=0.1)
    # the same instance shows the same pattern in a second average
    lit2 = sensor.capture(np.full((64, 128, 128), lux), rng=3).astype(np.float64).mean(axis=0) - dark
    assert np.corrcoef(lit.ravel(), lit2.ravel())[0, 1] > 0.9


def test_binning_sums_charge_and_reads_once():
    b2 = with_overrides(LAB, binning=2, dsnu_e=0.0, prnu=0.0)
    b1 = with_overrides(LAB, dsnu_e=0.0, prnu=0.0)
    s2, s1 = Sensor(b2, seed=0), Sensor(b1, seed=0)
    lux = 0.1 * emva_figures(b1).saturation_lux
    raw2 = s2.capture(np.full((2, 128, 128), lux), rng=1)
    assert raw2.shape == (2, 64, 64) and b2.out_shape == (64, 64)
    d2, d1 = s2.dark_frame(2, rng=2).astype(float), s1.dark_frame(2, rng=3).astype(float)
    signal2 = raw2.astype(float).mean() - d2.mean()
    signal1 = s1.capture(np.full((2, 128, 128), lux), rng=4).astype(float).mean() - d1.mean()
    assert signal2 == pytest.approx(4 * signal1, rel=0.01)  # four photodiodes' charge
    # read noise is paid once per binned pixel: dark temporal variance ≈ K²(σ_r² + 4μ_d) + 1/12
    dark_var_e = np.var(d2[0] - d2[1]) / 2 / b2.gain_dn_per_e**2
    expected = b2.read_noise_e**2 + 4 * b2.dark_current_e_per_s * b2.exposure_s + 1 / 12 / b2.gain_dn_per_e**2
    assert dark_var_e == pytest.approx(expected, rel=0.06)
    assert dark_var_e < 2 * b2.read_noise_e**2  # 4 separate reads summed would give 4σ_r²
    # each photodiode saturates at its own full well: 4·FW in one binned pixel (ADC permitting)
    big = with_overrides(b2, gain_dn_per_e=0.1, read_noise_e=0.0)
    raw = Sensor(big, seed=0).capture(np.full((128, 128), 1e6), rng=0)
    assert (raw == math.floor(big.black_level_dn + 0.1 * 4 * big.full_well_e + 0.5)).all()


def test_photon_transfer_of_a_binned_sensor_keeps_gain_and_read_noise():
    b2 = with_overrides(LAB, binning=2, width=256, height=256)
    res = photon_transfer(Sensor(b2, seed=1), 16, rng=4)
    assert res.gain_dn_per_e == pytest.approx(b2.gain_dn_per_e, rel=0.03)
    assert res.read_noise_e == pytest.approx(b2.read_noise_e, rel=0.05)


# ----------------------------------------------------------------------------------------------
# Seeds and shapes
# ----------------------------------------------------------------------------------------------

def test_seeds_make_fixed_patterns_and_frames_reproducible():
    lux = np.full((128, 128), 20.0)
    a, b, c = Sensor(LAB, seed=5), Sensor(LAB, seed=5), Sensor(LAB, seed=6)
    assert np.array_equal(a.prnu_map, b.prnu_map) and np.array_equal(a.dsnu_map, b.dsnu_map)
    assert not np.array_equal(a.prnu_map, c.prnu_map) and not np.array_equal(a.dsnu_map, c.dsnu_map)
    assert np.array_equal(a.capture(lux, rng=1), b.capture(lux, rng=1))
    assert not np.array_equal(a.capture(lux, rng=1), a.capture(lux, rng=2))
    # without rng: the instance's own stream, reproducible across instances, new noise each frame
    f1, f2 = a.capture(lux), a.capture(lux)
    assert not np.array_equal(f1, f2)
    assert np.array_equal(f1, b.capture(lux)) and np.array_equal(f2, b.capture(lux))
    # a generator argument is used as given
    assert np.array_equal(a.capture(lux, rng=np.random.default_rng(9)), a.capture(lux, rng=9))


def test_batched_capture_has_the_right_shape_dtype_and_range():
    spec = load_sensor()
    lux = np.zeros((3, spec.height, spec.width))
    lux[:, :, 160:] = 1e5  # half dark, half far above saturation
    raw = Sensor(spec).capture(lux, rng=0)
    assert raw.shape == (3, 240, 320) and raw.dtype == np.uint16
    assert raw.max() <= spec.max_dn and raw[:, :, :160].mean() == pytest.approx(spec.black_level_dn, abs=0.5)
    assert Sensor(spec).capture(lux[0].astype(np.float32), rng=0).shape == (240, 320)


# ----------------------------------------------------------------------------------------------
# Bad input
# ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("lux, what", [
    (np.zeros((240, 321)), "shape"),
    (np.zeros((2, 2, 240, 320)), "shape"),
    (np.zeros((240, 320), dtype=bool), "dtype"),
    (np.zeros((240, 320), dtype=complex), "dtype"),
    (np.full((240, 320), -1.0), "≥ 0"),
    (np.full((240, 320), np.nan), "finite"),
    ([[0.0] * 320] * 240, "numpy array"),
])
def test_bad_lux_is_one_line_input_error(lux, what):
    with pytest.raises(InputError, match=what) as e:
        Sensor(load_sensor()).capture(lux)
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("field, value, what", [
    ("adc_bits", 17, "adc_bits"), ("binning", 3, "binning"), ("black_level_dn", 1023, "black_level_dn"),
    ("width", 322, "multiple of binning"), ("quantum_efficiency", 1.5, "quantum_efficiency"),
    ("prnu", -0.1, "prnu"), ("full_well_e", 0, "full_well_e"), ("nonsense", 1, "unknown"),
])
def test_bad_spec_is_one_line_config_error(field, value, what):
    over = {field: value}
    if field == "width":
        over["binning"] = 4
    with pytest.raises(ConfigError, match=what) as e:
        with_overrides(load_sensor(), **over)
    assert "\n" not in str(e.value)


def test_presets_load_with_sources_and_bad_files_fail_clearly(tmp_path):
    assert {"tinyml_cmos", "ideal"} <= set(preset_names())
    spec = load_sensor()
    assert spec.name == "tinyml_cmos"
    # every numeric parameter of the default preset says where it comes from
    for f in ("width", "height", "pixel_pitch_um", "quantum_efficiency", "full_well_e", "dark_current_e_per_s",
              "read_noise_e", "dsnu_e", "prnu", "gain_dn_per_e", "black_level_dn", "adc_bits", "exposure_s"):
        assert spec.sources.get(f), f
    with pytest.raises(ConfigError, match="unknown preset"):
        load_sensor("nope")
    bad = tmp_path / "bad.yaml"
    bad.write_text("width: 64\nheight: 64\nwell: 3\n")
    with pytest.raises(ConfigError, match="well: unknown key"):
        load_sensor(str(bad))
    with pytest.raises(InputError, match="no such file"):
        load_sensor(str(tmp_path / "missing.yaml"))
    good = tmp_path / "good.yaml"
    good.write_text("width: 64\nheight: 48\nread_noise_e: 2.5\n")
    assert load_sensor(str(good)).read_noise_e == 2.5


# ----------------------------------------------------------------------------------------------
# Command line
# ----------------------------------------------------------------------------------------------

def run_cli(*args: str):
    from logcam.cli import cli

    return CliRunner().invoke(cli, ["sensor", *args], catch_exceptions=False, standalone_mode=False)


def test_cli_info_json_reports_the_figures():
    r = run_cli("info", "--json")
    data = json.loads(r.output)
    assert data["figures"]["dynamic_range_db"] == pytest.approx(dynamic_range_db(load_sensor()))
    assert data["spec"]["name"] == "tinyml_cmos"


def test_cli_ptc_json_compares_with_the_spec(tmp_path):
    plot = tmp_path / "ptc.png"
    r = run_cli("ptc", "--levels", "12", "--json", "--plot", str(plot))
    data = json.loads(r.output)
    assert abs(data["compare"]["gain_dn_per_e"]["rel_error"]) < 0.03
    assert data["quantization_limited"] is True  # σ_y.dark ≈ 0.4 DN on the default preset
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_render_writes_raw_and_png(tmp_path):
    out, png = tmp_path / "raw.npy", tmp_path / "raw.png"
    r = run_cli("render", "shapes", "-o", str(out), "--png", str(png), "--lux", "50", "--seed", "3", "--json")
    summary = json.loads(r.output)
    raw = np.load(out)
    assert raw.shape == (240, 320) and raw.dtype == np.uint16 and summary["dn_max"] == raw.max()
    from PIL import Image

    assert Image.open(png).size == (320, 240)
    # same seed, same file
    out2 = tmp_path / "raw2.npy"
    run_cli("render", "shapes", "-o", str(out2), "--lux", "50", "--seed", "3")
    assert np.array_equal(np.load(out2), raw)


def test_cli_bad_scene_fails_in_one_line_and_writes_nothing(tmp_path):
    from logcam.cli import main

    out = tmp_path / "x.npy"
    with pytest.raises(SystemExit) as e:
        main(["sensor", "render", "nosuchscene", "-o", str(out)])
    assert e.value.code == 2
    assert list(tmp_path.iterdir()) == []


def test_window_keeps_the_fixed_patterns_of_its_region():
    sensor = Sensor(with_overrides(LAB, binning=2, dsnu_e=10.0), seed=3)
    win = sensor.window(32, 64)
    assert win.spec.out_shape == (16, 32)
    assert np.array_equal(win.prnu_map, sensor.prnu_map[:32, :64])
    assert np.array_equal(win.dsnu_map, sensor.dsnu_map[:16, :32])
    full = sensor.capture(np.zeros((128, 128)), rng=0)
    part = win.capture(np.zeros((32, 64)), rng=0)
    assert np.corrcoef(full[:16, :32].ravel(), part.ravel())[0, 1] > 0.6  # the same DSNU underneath
    with pytest.raises(InputError, match="window"):
        sensor.window(33, 64)


def test_cli_set_overrides_a_parameter_and_rejects_unknown_fields():
    data = json.loads(run_cli("info", "--set", "read_noise_e=1.5", "--set", "adc_bits=12", "--json").output)
    assert data["spec"]["read_noise_e"] == 1.5 and data["spec"]["adc_bits"] == 12
    with pytest.raises(ConfigError, match="unknown field 'foo'"):
        run_cli("info", "--set", "foo=1")
    with pytest.raises(ConfigError, match="NAME=VALUE"):
        run_cli("info", "--set", "gain")


@settings(max_examples=40, deadline=None)
@given(adc_bits=st.integers(1, 16), binning=st.sampled_from([1, 2, 4]), gain=st.floats(1e-3, 50.0),
       black_frac=st.floats(0.0, 0.9), full_well=st.floats(10.0, 1e6), read=st.floats(0.0, 50.0),
       dsnu=st.floats(0.0, 50.0), prnu=st.floats(0.0, 0.4), log_lux=st.floats(-3.0, 6.0), seed=st.integers(0, 2**31))
def test_any_valid_spec_gives_codes_in_range_of_the_binned_shape(adc_bits, binning, gain, black_frac, full_well,
                                                                  read, dsnu, prnu, log_lux, seed):
    top = (1 << adc_bits) - 1
    spec = SensorSpec(width=8, height=8, adc_bits=adc_bits, binning=binning, gain_dn_per_e=gain,
                      black_level_dn=math.floor(black_frac * top), full_well_e=full_well, read_noise_e=read,
                      dsnu_e=dsnu, prnu=prnu)
    lux = np.random.default_rng(seed).uniform(0, 10**log_lux, (3, 8, 8))
    raw = Sensor(spec, seed=seed).capture(lux, rng=seed)
    assert raw.dtype == np.uint16 and raw.shape == (3, 8 // binning, 8 // binning)
    assert int(raw.max()) <= top
    # far beyond saturation with no read-out noise every pixel reads the clip level exactly — except a
    # photodiode whose PRNU gain drew ≤ 0 (possible at large PRNU): it is dead and never fills its well
    quiet = with_overrides(spec, read_noise_e=0.0, dsnu_e=0.0)
    clip = min(top, math.floor(quiet.black_level_dn + gain * binning**2 * full_well + 0.5))
    sensor = Sensor(quiet, seed=seed)
    live = bin_sum((sensor.prnu_map > 0).astype(np.float64), binning) == binning**2
    assert (sensor.capture(np.full((8, 8), 1e12), rng=seed)[live] == clip).all()
