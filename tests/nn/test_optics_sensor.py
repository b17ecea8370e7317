"""Colour scenes and the sensor behind the optics: photon budget and noise come after the mask."""

from __future__ import annotations

import math

import numpy as np
import pytest

from logcam.errors import ConfigError, InputError
from logcam.nn import optics as no
from logcam.sim.scenes import PHOTOGRAPHS, REC709_Y, render_scene, render_scene_rgb
from logcam.sim.sensor import Sensor, capture_planes, load_sensor, lux_to_photons


@pytest.mark.parametrize(("kind", "seed"), [("shapes", 0), ("texture", 2), ("shadow", 1), ("astronaut", 0),
                                            ("coffee", 4), ("camera", 0)])
def test_rgb_scene_bands_add_up_to_the_monochrome_scene(kind: str, seed: int) -> None:
    rgb = render_scene_rgb(kind, 24, 40, seed, mean_lux=80.0)
    mono = render_scene(kind, 24, 40, seed, mean_lux=80.0)
    assert rgb.shape == (3, 24, 40) and rgb.dtype == np.float64 and float(rgb.min()) >= 0
    np.testing.assert_allclose(rgb.sum(axis=0), mono, rtol=1e-12)
    assert np.array_equal(rgb, render_scene_rgb(kind, 24, 40, seed, mean_lux=80.0))   # seeded
    chroma = rgb / np.maximum(rgb.sum(axis=0), 1e-300)
    if kind == "camera":                        # a grey photograph: every pixel has the Rec. 709 split
        np.testing.assert_allclose(chroma, np.broadcast_to(REC709_Y[:, None, None], chroma.shape), atol=1e-12)
    else:                                       # colour: the split varies over the scene
        assert float(chroma[0].std()) > 0.01


def test_rgb_scene_bad_kind_is_one_line() -> None:
    with pytest.raises(ConfigError) as e:
        render_scene_rgb("sunset", 8, 8, 0)
    assert "\n" not in str(e.value) and "unknown kind" in str(e.value)
    assert "astronaut" in PHOTOGRAPHS


def test_capture_planes_tiles_regions_and_adds_their_own_noise() -> None:
    sensor = Sensor(load_sensor("ideal"), seed=0)           # K = 1 DN/e⁻, η = 1, shot noise only
    levels = np.array([10.0, 40.0, 160.0, 0.0, 80.0])     # lux per plane
    planes = np.broadcast_to(levels[:, None, None], (5, 64, 64)).copy()
    dn = capture_planes(sensor, planes, rng=3).astype(np.float64)
    assert dn.shape == (5, 64, 64)
    mu = lux_to_photons(levels, sensor.spec)
    n = 64 * 64
    for i in range(5):                                       # Poisson: mean = variance = photons
        assert abs(dn[i].mean() - mu[i]) < 5 * math.sqrt(max(mu[i], 1e-9) / n) + 1e-12
        if mu[i] > 0:
            assert abs(dn[i].var() / mu[i] - 1) < 5 * math.sqrt(2 / n)
    with pytest.raises(InputError) as e:                     # 90 planes of 64×64 cannot fit 240×320
        capture_planes(sensor, np.zeros((90, 64, 64)))
    assert "\n" not in str(e.value) and "do not fit" in str(e.value)


def test_each_region_sees_only_its_share_and_its_shot_noise() -> None:
    """A flat scene through a mask pair: each region's signal is (Σ PSF)·lux, its variance that signal."""
    cfg = no.optical_config({"kind": "phase_mask", "design": "a", "mask": {"masks": 2, "kernel": 7}})
    layer = no.OpticalLayer(cfg)
    share = layer.psfs().detach().sum(dim=(-2, -1)).numpy()          # masks×colours, each ≤ 1
    scene = np.broadcast_to((200.0 * REC709_Y)[:, None, None], (3, 48, 48)).copy()   # 200 lux, grey
    sensor = Sensor(load_sensor("ideal"), seed=0)
    out = no.sense(layer, scene, sensor, rng=5)
    assert out.regions_dn.shape == (2, 48, 48) and out.maps.shape == (1, 48, 48)
    inner = (slice(None), slice(3, -3), slice(3, -3))       # away from the scene's edge (k // 2 = 3)
    want_lux = (share * (200.0 * REC709_Y)[None]).sum(axis=1)   # design a: the region sums the colours
    got = out.regions_dn[inner].astype(np.float64)
    n = got[0].size
    for m in range(2):
        mu = float(lux_to_photons(want_lux[m], sensor.spec))
        assert mu < 0.9 * float(lux_to_photons(200.0, sensor.spec))    # less light than the open scene
        assert abs(got[m].mean() - mu) < 5 * math.sqrt(mu / n)
        assert abs(got[m].var() / mu - 1) < 5 * math.sqrt(2 / n)
    np.testing.assert_allclose(out.maps[0], out.regions_lux[0] - out.regions_lux[1])
