"""The trainable optical layer: gradients to the mask, signed kernels from pairs, designs, baselines."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.signal import convolve2d
from torch import nn

from logcam.errors import ConfigError
from logcam.nn import optics as no
from logcam.sim import optics as op

SMALL = {"masks": 2, "mask_pixels": 32, "mask_pitch_um": 1.8}


@pytest.fixture(autouse=True)
def one_thread():
    """One torch thread: on a shared 2-core machine more threads only wait on each other."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _gratings(n: int, size: int = 16, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Two classes of coloured gratings: horizontal (0) and vertical (1) stripes, random phase and tint."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 2
    r = torch.arange(size, dtype=torch.float32)
    yy, xx = torch.meshgrid(r, r, indexing="ij")
    coord = torch.where(y[:, None, None] == 0, yy, xx)
    grat = 0.5 + 0.5 * torch.cos(2 * math.pi * coord / 4 + 2 * math.pi * torch.rand(n, 1, 1, generator=g))
    tint = 0.5 + 0.5 * torch.rand(n, 3, 1, 1, generator=g)
    return grat[:, None] * tint, y


def test_classification_loss_trains_the_mask() -> None:
    x, y = _gratings(64)
    layer = no.OpticalLayer(no.optical_config({"mask": SMALL}))
    with torch.no_grad():                       # a fine random relief: a smooth loss surface for a big step
        layer.heights_um.copy_(op.random_heights(layer.cfg.mask, seed=0))
    torch.manual_seed(0)
    back = nn.Sequential(nn.Flatten(), nn.Linear(layer.cfg.feature_maps * 256, 2))
    with torch.no_grad():
        back[1].weight.mul_(30)
    for p in back.parameters():                 # a fixed back end: only the mask can lower the loss
        p.requires_grad_(False)
    net = no.OpticalNet(layer, back)
    h0 = layer.heights_um.detach().clone()
    opt = torch.optim.Adam([layer.heights_um], lr=0.05)
    losses = []
    for _ in range(10):
        loss = nn.functional.cross_entropy(net(x), y)
        opt.zero_grad()
        loss.backward()
        assert layer.heights_um.grad is not None and float(layer.heights_um.grad.abs().max()) > 0
        opt.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.95 * losses[0]
    assert float((layer.heights_um.detach() - h0).abs().max()) > 0.1      # µm: the mask really changed


@pytest.mark.parametrize("design", ["a", "b", "c"])
def test_pairs_give_the_configured_signed_kernels(design: str) -> None:
    cfg = no.optical_config({"kind": "gabor", "design": design, "mask": {"masks": 6, "kernel": 9}})
    layer = no.OpticalLayer(cfg)
    assert sum(p.numel() for p in layer.parameters()) == 0              # a fixed bank: nothing to train
    want = no.gabor_kernels(3, 9)
    psf = layer.psfs()
    assert float(psf.min()) >= 0 and float(psf.sum(dim=(-2, -1)).max()) <= 1 + 1e-12
    _, s = no.pair_from_kernels(want)
    k = layer.kernels()                                                  # PSF⁺ − PSF⁻
    assert torch.allclose(k * s, want[:, None].expand_as(k), atol=1e-12)
    pos, neg = psf[0::2], psf[1::2]
    assert float((pos * neg).abs().max()) == 0                          # disjoint supports: K⁺ and K⁻
    assert torch.allclose((pos - neg) * s, want[:, None].expand_as(k), atol=1e-12)
    # the layer's maps equal a direct 2-D convolution (scipy, float64) with the signed kernels
    x = torch.rand(2, 3, 12, 12, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    out = layer(x).numpy()
    assert out.shape == (2, cfg.feature_maps, 12, 12)
    kk = k.numpy()
    for j in range(3):
        ref = [convolve2d(x[0, c].numpy(), kk[j, c], mode="same") for c in range(3)]
        if design == "a":
            np.testing.assert_allclose(out[0, j], sum(ref), atol=1e-12)
        elif design == "b":
            np.testing.assert_allclose(out[0, j], ref[j], atol=1e-12)
        else:
            for c in range(3):
                np.testing.assert_allclose(out[0, 3 * j + c], ref[c], atol=1e-12)


def test_region_images_are_nonnegative_and_lens_is_identity() -> None:
    x = torch.rand(1, 3, 10, 10, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    layer = no.OpticalLayer(no.optical_config({"design": "c", "mask": SMALL}))
    r = layer.region_images(x)
    assert r.shape == (1, 6, 10, 10) and float(r.detach().min()) >= 0
    lens = no.OpticalLayer(no.optical_config({"kind": "lens"}))
    assert torch.equal(lens(x), x) and lens.cfg.feature_maps == 3 and not list(lens.parameters())


def test_learned_psf_kind_is_nonnegative_and_normalised() -> None:
    layer = no.OpticalLayer(no.optical_config({"kind": "psf", "mask": {"masks": 4}}))
    p = layer.psfs()
    assert float(p.detach().min()) >= 0
    assert torch.allclose(p.sum(dim=(-2, -1)), torch.ones(4, 3, dtype=torch.float64))


def test_fabrication_noise_is_seeded_sigma_on_heights() -> None:
    cfg = no.optical_config({"mask": SMALL, "noise_sigma_um": 0.1, "seed": 4})
    a, b = no.OpticalLayer(cfg), no.OpticalLayer(cfg)
    assert torch.equal(a.heights(), b.heights())                      # same seed, same fabricated mask
    d = (a.heights() - a.heights_um).detach()
    assert abs(float(d.std()) / 0.1 - 1) < 5 / math.sqrt(d.numel())   # N(0,1)·σ: 5 standard errors
    clean = no.OpticalLayer(no.optical_config({"mask": SMALL, "seed": 4}))
    assert float((a.psfs() - clean.psfs()).detach().abs().max()) > 0


def test_sensor_area_and_feature_maps_per_design() -> None:
    maps = {}
    for design in "abc":
        cfg = no.optical_config({"design": design})
        area = no.sensor_area_mm2(cfg, 32, 32)
        maps[design] = (cfg.feature_maps, cfg.regions)
        side = (32 + cfg.mask.kernel - 1) * cfg.mask.pixel_pitch_um * 1e-3
        assert area["region_mm2"] == pytest.approx(side * side)
        assert area["total_mm2"] == pytest.approx(cfg.regions * side * side)
    assert maps == {"a": (3, 6), "b": (3, 6), "c": (9, 18)}


@pytest.mark.parametrize(("data", "needle"), [
    ({"mask": {"masks": 7}}, "optics.mask.masks: must be an integer in 1 … 6"),
    ({"mask": {"kernel": 5}}, "optics.mask.kernel: must be an integer in 7"),
    ({"mask": {"masks": 3}}, "mask.masks must be even"),
    ({"design": "d"}, "optics.design"),
    ({"noise_sigma_um": -1}, "optics.noise_sigma_um"),
])
def test_bad_config_is_one_line(data: dict, needle: str) -> None:
    with pytest.raises(ConfigError) as e:
        no.optical_config(data)
    assert "\n" not in str(e.value) and needle in str(e.value)


def _cos(k: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    return (k * g).sum(dim=(-2, -1)) / (k.norm(dim=(-2, -1)) * g.norm(dim=(-2, -1)))


def test_gabor_masks_are_fitted_phase_masks_whose_noise_acts_on_heights() -> None:
    mask = {"masks": 2, "mask_pixels": 64, "mask_pitch_um": 1.8}
    layer = no.OpticalLayer(no.optical_config({"kind": "gabor_mask", "mask": mask}))
    assert not list(layer.parameters())                                  # fixed: nothing to train
    g = no.gabor_kernels(1, 7)[:, None].expand(1, 3, 7, 7)
    start = op.psf(no.initial_heights(layer.cfg.mask, 0), layer.cfg.mask)
    cos_fit, cos_start = _cos(layer.kernels(), g), _cos(start[0::2] - start[1::2], g)
    assert float(cos_fit.min()) > 0.5 and float((cos_fit - cos_start).min()) > 0.2
    assert float(layer.psfs().sum(dim=(-2, -1)).min()) > 0.3              # the fit keeps light in the kernel
    clean = layer.psfs()
    layer.set_noise(0.05, seed=1)
    assert float((layer.psfs() - clean).abs().max()) > 1e-4
