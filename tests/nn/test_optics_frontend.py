"""The optical front-end's contract with the network: what it feeds (frontend.optical_input)."""

from __future__ import annotations

import pytest
import torch

from logcam.errors import ConfigError
from logcam.frontend import check_feeds, optical_input
from logcam.nn import optics as no
from logcam.nn.netspec import InputSpec, NetSpec


def _net(inp: InputSpec) -> NetSpec:
    return NetSpec.model_validate({"name": "after_optics", "input": inp.model_dump(), "layers": [
        {"type": "conv", "out_channels": 4, "kernel": 3, "pad": 1, "relu": True, "pool": 2},
        {"type": "fc", "out_features": 10}]})


@pytest.mark.parametrize(("design", "regions"), [("a", 6), ("b", 6), ("c", 18)])
def test_regions_feed_a_uint8_netspec(design: str, regions: int) -> None:
    cfg = no.optical_config({"design": design})
    inp = no.network_input(cfg, 32, 32)
    assert (inp.format, inp.channels, inp.height, inp.width) == ("uint8", regions, 32, 32)
    check_feeds(inp, _net(inp), source="the optics")                  # a network built for it accepts it
    other = _net(optical_input(2, 1, 32, 32))
    with pytest.raises(ConfigError) as e:
        check_feeds(inp, other, source="the optics")
    assert "\n" not in str(e.value) and "input.channels is 2, but the optics gives" in str(e.value)


@pytest.mark.parametrize(("design", "maps"), [("a", 3), ("b", 3), ("c", 9)])
def test_signed_maps_feed_an_int8_netspec(design: str, maps: int) -> None:
    cfg = no.optical_config({"design": design})
    inp = no.network_input(cfg, 16, 16, signed=True)
    assert (inp.format, inp.channels) == ("int8", maps) and 2 * maps == cfg.regions
    check_feeds(inp, _net(inp), source="the optics")
    with pytest.raises(ConfigError):                                   # not the folded network on the regions
        check_feeds(inp, _net(no.network_input(cfg, 16, 16)), source="the optics")


@pytest.mark.parametrize("design", ["a", "b", "c"])
def test_fold_pairs_is_the_pair_difference_inside_the_first_conv(design: str) -> None:
    cfg = no.optical_config({"kind": "gabor", "design": design})
    g = torch.Generator().manual_seed(0)
    regions = torch.randint(0, 256, (2, cfg.regions, 9, 9), generator=g).to(torch.float64)   # uint8 read-outs
    w = torch.randint(-127, 128, (4, cfg.feature_maps, 3, 3), generator=g).to(torch.float64)   # int8 weights
    layer = no.OpticalLayer(cfg)
    want = torch.nn.functional.conv2d(layer.combine(regions), w, padding=1)
    got = torch.nn.functional.conv2d(regions, no.fold_pairs(cfg, w), padding=1)
    assert torch.equal(got, want)                                      # integers: exact
    assert int(no.fold_pairs(cfg, w).abs().max()) <= 127
