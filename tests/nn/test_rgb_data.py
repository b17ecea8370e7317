"""The synthetic RGB object set: 10 balanced classes in sensor-plane lux, seeded, and learnable."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from logcam.config import validate
from logcam.errors import ConfigError
from logcam.nn.rgb_data import RGB_CLASSES, RgbObjectsConfig, render_rgb_objects, srgb8_to_bands


def test_balanced_seeded_and_in_lux() -> None:
    cfg = RgbObjectsConfig(n=50, size=20, mean_lux=40.0, seed=2)
    d = render_rgb_objects(cfg)
    assert len(RGB_CLASSES) >= 10 and d.class_names == RGB_CLASSES
    assert d.images.shape == (50, 3, 20, 20) and d.images.dtype == torch.float32
    assert np.bincount(d.labels.numpy(), minlength=10).tolist() == [5] * 10
    np.testing.assert_allclose(d.images.sum(dim=1).mean(dim=(1, 2)).numpy(), 40.0, rtol=1e-5)
    assert float(d.images.min()) > 0
    again = render_rgb_objects(cfg)
    assert torch.equal(d.images, again.images) and torch.equal(d.labels, again.labels)
    other = render_rgb_objects(RgbObjectsConfig(n=50, size=20, mean_lux=40.0, seed=3))
    assert not torch.equal(d.images, other.images)


@pytest.fixture
def one_thread():
    """One torch thread: on a shared 2-core machine more threads only wait on each other."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def test_a_small_cnn_learns_the_classes(one_thread: None) -> None:
    torch.manual_seed(0)
    d = render_rgb_objects(RgbObjectsConfig(n=1200, size=24, seed=1))
    x = d.images / d.images.mean(dim=(1, 2, 3), keepdim=True)
    y = d.labels
    net = nn.Sequential(nn.Conv2d(3, 16, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
                        nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                        nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(), nn.AdaptiveMaxPool2d(1),
                        nn.Flatten(), nn.Linear(32, 10))
    opt = torch.optim.Adam(net.parameters(), 5e-3)
    g = torch.Generator().manual_seed(0)
    for _ in range(8):
        perm = torch.randperm(1000, generator=g)
        for i in range(0, 1000, 50):
            b = perm[i:i + 50]
            loss = nn.functional.cross_entropy(net(x[b]), y[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
    with torch.no_grad():
        acc = float((net(x[1000:]).argmax(1) == y[1000:]).float().mean())
    assert acc > 0.6                       # chance is 0.1 (200 held-out images: 1 standard error ≈ 0.02)


def test_srgb8_to_bands_and_bad_config() -> None:
    img = np.full((1, 3, 4, 4), 255, dtype=np.uint8)
    b = srgb8_to_bands(img, mean_lux=10.0)
    np.testing.assert_allclose(b[0, :, 0, 0].numpy(), [2.126, 7.152, 0.722], rtol=1e-5)   # white → Rec. 709
    with pytest.raises(ConfigError) as e:
        validate(RgbObjectsConfig, {"n": 5}, where="dataset")
    assert "\n" not in str(e.value) and "dataset.n" in str(e.value)


def test_chunked_rendering_and_memory_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    import logcam.nn.rgb_data as rd

    monkeypatch.setattr(rd, "CHUNK", 7)                     # 30 images in 5 chunks
    d = render_rgb_objects(RgbObjectsConfig(n=30, size=16, mean_lux=10.0))
    np.testing.assert_allclose(d.images.sum(dim=1).mean(dim=(1, 2)).numpy(), 10.0, rtol=1e-5)
    assert torch.equal(d.images, render_rgb_objects(RgbObjectsConfig(n=30, size=16, mean_lux=10.0)).images)
    with pytest.raises(ConfigError) as e:
        validate(RgbObjectsConfig, {"n": 1_000_000, "size": 256}, where="dataset")
    assert "\n" not in str(e.value) and "GiB" in str(e.value)
