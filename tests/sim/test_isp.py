"""ISP: RAW DN → 8-bit gamma image (black level, white level, sRGB or 2.2 gamma)."""

from __future__ import annotations

import numpy as np
import pytest

from logcam.errors import ConfigError, InputError
from logcam.sim.isp import isp, white_level_dn
from logcam.sim.sensor import Sensor, load_sensor, with_overrides

SPEC = load_sensor()  # black 16 DN; white = 16 + 0.1 DN/e⁻ · 10 000 e⁻ = 1016 DN


def test_black_white_and_mid_grey_land_where_srgb_puts_them():
    assert white_level_dn(SPEC) == 1016
    raw = np.array([[0, 16, 516, 1016, 1023]], dtype=np.uint16)  # 516 DN is linear 0.5
    out = isp(raw, SPEC)
    assert out.dtype == np.uint8
    # sRGB encodes linear 0.5 as 0.7354 → 188/255; linear 0 and 1 as 0 and 255
    assert out.tolist() == [[0, 0, 188, 255, 255]]
    # a plain 2.2 power: 0.5^(1/2.2) = 0.7297 → 186
    assert isp(raw, SPEC, gamma="2.2")[0, 2] == 186
    assert isp(raw, SPEC, gamma="linear")[0, 2] == 128


def test_monotonic_and_shape_preserving():
    raw = np.arange(0, 1024, dtype=np.uint16).reshape(1, 32, 32)
    out = isp(np.repeat(raw, 3, axis=0), SPEC)
    assert out.shape == (3, 32, 32)
    flat = out[0].ravel()
    assert (np.diff(flat.astype(int)) >= 0).all() and flat[0] == 0 and flat[-1] == 255


def test_white_dn_sets_the_level_that_maps_to_255():
    raw = np.array([[16, 266, 516]], dtype=np.uint16)
    assert isp(raw, SPEC, gamma="linear", white_dn=516).tolist() == [[0, 128, 255]]


def test_denoise_lowers_temporal_noise_and_keeps_the_level():
    spec = with_overrides(SPEC, width=64, height=64)
    raw = Sensor(spec, seed=0).capture(np.full((64, 64), 100.0), rng=1)
    a, b = isp(raw, spec).astype(float), isp(raw, spec, denoise=True).astype(float)
    assert b.std() < 0.7 * a.std()
    assert b.mean() == pytest.approx(a.mean(), abs=1.0)


def test_bad_input():
    with pytest.raises(InputError, match="integer"):
        isp(np.zeros((4, 4), dtype=np.float32), SPEC)
    with pytest.raises(InputError, match=r"0\.\.1023"):
        isp(np.full((4, 4), 1024, dtype=np.uint16), SPEC)
    with pytest.raises(InputError, match="shape"):
        isp(np.zeros((4,), dtype=np.uint16), SPEC)
    with pytest.raises(ConfigError, match="gamma"):
        isp(np.zeros((4, 4), dtype=np.uint16), SPEC, gamma="log")
    with pytest.raises(ConfigError, match="white_dn"):
        isp(np.zeros((4, 4), dtype=np.uint16), SPEC, white_dn=10)
