"""Models: the 2conv1fc family as NetSpecs, and a float forward pass that follows the integer dataflow."""

from __future__ import annotations

import pytest
import torch

from logcam.config import embedded_config
from logcam.errors import ConfigError
from logcam.nn.models import WMAX, QuantNet, make_2conv1fc, make_family, round_half_up
from logcam.nn.netspec import NetSpec


def test_2conv1fc_matches_the_bundled_netspec() -> None:
    bundled = NetSpec.load(embedded_config("nets/2conv1fc.yaml"))
    assert make_2conv1fc(96, 4, 8, fold=True, class_names=["disc", "bar", "cross"]) == bundled


def test_family_shapes_and_bad_widths() -> None:
    spec = make_family(48, [8, 16, 8], classes=5)
    assert [s.out_shape for s in spec.layer_shapes()] == [(8, 24, 24), (16, 12, 12), (8, 6, 6), (5, 1, 1)]
    for bad in ([0, 8], []):
        with pytest.raises(ConfigError, match="widths"):
            make_family(48, bad)
    with pytest.raises(ConfigError, match="c1"):
        make_2conv1fc(48, c1=0)
    with pytest.raises(ConfigError, match="too small"):
        make_family(16, [4, 4, 4, 4, 4])


def test_round_half_up_ties_and_straight_through_gradient() -> None:
    x = torch.tensor([-2.5, -1.5, -0.5, 0.5, 1.5, 2.4, 2.6], requires_grad=True)
    y = round_half_up(x)
    assert y.tolist() == [-2.0, -1.0, 0.0, 1.0, 2.0, 2.0, 3.0]
    y.sum().backward()
    assert x.grad is not None and torch.equal(x.grad, torch.ones(7))


def test_quantized_forward_lives_on_the_integer_grid(gen) -> None:
    spec = make_2conv1fc(24, 4, 8)
    net = QuantNet(spec, input_scale=1.0, quant=False)
    x = torch.randint(-1, 2, (16, 1, 24, 24), generator=gen).float()
    net.train()
    net(x)  # calibrate output scales
    net.quant = True
    net.eval()
    outs = []
    h = x
    scale = torch.tensor(1.0)
    for layer in net.layers:
        h = layer(h, True, scale)
        scale = layer.out_scale
        outs.append((h, scale, layer))
    for h, s, layer in outs:
        q = h / s
        assert torch.allclose(q, q.round(), atol=1e-3)  # integer multiples of the output scale
        assert q.min() >= layer.act_min - 1e-3 and q.max() <= layer.act_max + 1e-3
    wq, ws = net.layers[0].weight_q()
    k = wq / ws.view(-1, 1, 1, 1)
    assert torch.allclose(k, k.round(), atol=1e-4) and k.abs().max() <= WMAX + 1e-4
    assert torch.equal(net(x), outs[-1][0])
