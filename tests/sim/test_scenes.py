"""Scenes: sensor-plane illuminance in lux, seeded, spanning orders of magnitude; photographs linearised."""

from __future__ import annotations

import numpy as np
import pytest

from logcam.errors import ConfigError
from logcam.sim.scenes import PHOTOGRAPHS, SCENE_KINDS, flat_field, render_scene, scene_names


def srgb_decode(v: np.ndarray) -> np.ndarray:
    """IEC 61966-2-1 sRGB decoding, written here from the standard (not imported from the code)."""
    return np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)


@pytest.mark.parametrize("kind", scene_names())
def test_every_scene_is_positive_lux_with_the_requested_mean(kind):
    img = render_scene(kind, 48, 64, seed=2, mean_lux=37.5)
    assert img.shape == (48, 64) and img.dtype == np.float64
    assert np.isfinite(img).all() and (img >= 0).all()
    assert img.mean() == pytest.approx(37.5, rel=1e-9)
    assert img.std() > 0.01 * img.mean()  # not a flat field


@pytest.mark.parametrize("kind", SCENE_KINDS)
def test_procedural_scenes_are_seeded(kind):
    a = render_scene(kind, 40, 56, seed=7)
    assert np.array_equal(a, render_scene(kind, 40, 56, seed=7))
    assert not np.allclose(a, render_scene(kind, 40, 56, seed=8))
    # scaling by mean_lux is exact and linear
    assert np.allclose(render_scene(kind, 40, 56, seed=7, mean_lux=1.0) * 100.0, a)


def test_kinds_differ_from_each_other_at_the_same_seed():
    imgs = [render_scene(k, 32, 32, seed=1) for k in SCENE_KINDS]
    for i in range(len(imgs)):
        for j in range(i + 1, len(imgs)):
            assert not np.allclose(imgs[i], imgs[j])


def test_gradients_and_shadows_span_orders_of_magnitude():
    def spread(kind: str, seed: int) -> float:
        img = render_scene(kind, 120, 160, seed=seed)
        return float(np.percentile(img, 99) / np.percentile(img, 1))

    for seed in range(5):
        assert spread("gradient", seed) > 100       # ≥ 2 decades of illumination across the frame
        assert spread("shadow", seed) > 10          # sunlit vs shadowed (30–300× less light)
    assert max(spread("shadow", s) for s in range(5)) > 100


def test_photograph_is_linearised_luminance():
    import skimage.data
    from skimage.color import rgb2gray

    # camera is 512×512 grey: at its own size and seed 0 (full centred crop) it is just sRGB-decoded
    enc = skimage.data.camera().astype(np.float64) / 255
    lin = srgb_decode(enc)
    img = render_scene("camera", 512, 512, seed=0, mean_lux=1.0)
    assert np.allclose(img, lin / lin.mean(), rtol=1e-6, atol=1e-9)
    # astronaut (RGB): luminance of the linear values (Rec. 709 weights, as skimage's rgb2gray)
    rgb = srgb_decode(skimage.data.astronaut().astype(np.float64) / 255)
    y = rgb2gray(rgb)
    img = render_scene("astronaut", 512, 512, seed=0, mean_lux=1.0)
    assert np.allclose(img, y / y.mean(), rtol=2e-3, atol=1e-4)
    # linearisation matters: a gamma-encoded mid-grey would be far brighter relative to the mean
    assert not np.allclose(img, rgb2gray(skimage.data.astronaut()) / rgb2gray(skimage.data.astronaut()).mean(),
                           rtol=0.05)


def test_photograph_seed_picks_a_crop_and_resize_keeps_the_aspect():
    a0 = render_scene("coffee", 60, 80, seed=0)
    assert np.array_equal(a0, render_scene("coffee", 60, 80, seed=0))
    a1 = render_scene("coffee", 60, 80, seed=1)
    assert not np.allclose(a0, a1)
    assert np.array_equal(a1, render_scene("coffee", 60, 80, seed=1))


def test_names_and_errors():
    assert scene_names() == [*SCENE_KINDS, *PHOTOGRAPHS]
    assert {"shapes", "texture", "gradient", "shadow"} <= set(SCENE_KINDS)
    assert {"camera", "astronaut", "coffee", "chelsea"} <= set(PHOTOGRAPHS)
    with pytest.raises(ConfigError, match=r"unknown kind 'sky'.*shapes.*camera"):
        render_scene("sky", 32, 32, seed=0)
    for bad in [dict(height=1), dict(width=2.5), dict(seed=-1), dict(mean_lux=0.0), dict(mean_lux=float("nan"))]:
        args = dict(kind="shapes", height=32, width=32, seed=0) | bad
        with pytest.raises(ConfigError) as e:
            render_scene(**args)
        assert "\n" not in str(e.value)


def test_flat_field():
    f = flat_field(4, 6, 12.5)
    assert f.shape == (4, 6) and (f == 12.5).all()
    with pytest.raises(ConfigError):
        flat_field(4, 6, -1.0)
