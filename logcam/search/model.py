"""Float models of the search: the supernet (Gumbel-softmax mixture of candidates per slot) and the float
mirror of any NetSpec built from the space (conv, pointwise, depthwise, add, avgpool_global, fc)."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from logcam.nn.netspec import AddSpec, AvgPoolGlobalSpec, ConvSpec, DepthwiseSpec, FcSpec, NetSpec, PointwiseSpec
from logcam.search.config import SearchConfig
from logcam.search.space import SKIP, Slot, candidate, slots


class FloatNet(nn.Module):
    """A NetSpec in float: layer i of the NetSpec is ``ops[i]`` (identity for add / avgpool_global); with
    ``bn`` each conv, pointwise and depthwise is followed by batch norm (``bns[i]``), folded away by :meth:`folded`."""

    def __init__(self, spec: NetSpec, bn: bool = False) -> None:
        super().__init__()
        self.spec = spec
        ops: list[nn.Module] = []
        bns: list[nn.Module] = []
        for s, layer in zip(spec.layer_shapes(), spec.layers):
            c = s.in_shape[0]
            if isinstance(layer, ConvSpec):
                ops.append(nn.Conv2d(c, layer.out_channels, layer.kernel, layer.stride, layer.pad))
            elif isinstance(layer, PointwiseSpec):
                ops.append(nn.Conv2d(c, layer.out_channels, 1))
            elif isinstance(layer, DepthwiseSpec):
                ops.append(nn.Conv2d(c, c, layer.kernel, layer.stride, layer.pad, groups=c))
            elif isinstance(layer, FcSpec):
                ops.append(nn.Linear(s.fan_in, layer.out_features))
            else:
                ops.append(nn.Identity())
            conv = isinstance(layer, (ConvSpec, PointwiseSpec, DepthwiseSpec))
            bns.append(nn.BatchNorm2d(ops[-1].out_channels) if bn and conv else nn.Identity())
        self.ops = nn.ModuleList(ops)
        self.bns = nn.ModuleList(bns)

    @torch.no_grad()
    def folded(self, spec: NetSpec | None = None) -> FloatNet:
        """The same network (eval-mode batch norm folded into weight and bias) without batch norm, on ``spec``
        (default its own; a spec with the same layers, e.g. on other input channels, after the caller
        replaces the first weight)."""
        out = FloatNet(spec or self.spec)
        for src, bn, dst in zip(self.ops, self.bns, out.ops):
            if isinstance(src, nn.Identity):
                continue
            w, b = src.weight.detach().clone(), src.bias.detach().clone()
            if isinstance(bn, nn.BatchNorm2d):
                g = bn.weight / torch.sqrt(bn.running_var + bn.eps)
                w = w * g.view(-1, *([1] * (w.dim() - 1)))
                b = (b - bn.running_mean) * g + bn.bias
            if dst.weight.shape == w.shape:
                dst.weight.copy_(w)
            dst.bias.copy_(b)
            dst.weight_src = w  # type: ignore[attr-defined]  # the first layer's weight before any fold
        return out

    def forward(self, x: torch.Tensor, outputs: list[torch.Tensor] | None = None) -> torch.Tensor:
        """Logits; ``outputs`` (if given) collects every layer's output (for calibration)."""
        outs: list[torch.Tensor] = []
        for layer, op, bn in zip(self.spec.layers, self.ops, self.bns):
            if isinstance(layer, AddSpec):
                x = x + outs[layer.skip]
            elif isinstance(layer, AvgPoolGlobalSpec):
                x = x.mean(dim=(2, 3), keepdim=True)
            elif isinstance(layer, FcSpec):
                x = op(x.flatten(1))
            else:
                x = bn(op(x))
            if layer.relu:
                x = torch.relu(x)
            outs.append(x)
        if outputs is not None:
            outputs.extend(outs)
        return x


class Block(nn.Module):
    """One inverted-residual candidate: [pointwise ×e, ReLU] → depthwise k, ReLU → pointwise (+ input)."""

    def __init__(self, slot: Slot, name: str, residual: bool) -> None:
        super().__init__()
        e, k = candidate(name)
        c = slot.in_shape[0]
        mid = e * c
        self.expand = nn.Sequential(nn.Conv2d(c, mid, 1), nn.BatchNorm2d(mid)) if e > 1 else None
        self.dw = nn.Sequential(nn.Conv2d(mid, mid, k, slot.stride, k // 2, groups=mid), nn.BatchNorm2d(mid))
        self.project = nn.Sequential(nn.Conv2d(mid, slot.out_channels, 1), nn.BatchNorm2d(slot.out_channels))
        self.residual = residual and slot.identity_ok

    def convs(self) -> list[nn.Sequential]:
        """The block's (conv, batch norm) pairs in NetSpec order."""
        return [m for m in (self.expand, self.dw, self.project) if m is not None]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = torch.relu(self.expand(x)) if self.expand is not None else x
        y = self.project(torch.relu(self.dw(y)))
        return y + x if self.residual else y


class SuperNet(nn.Module):
    """The back end searched after the optics: stem conv → one Gumbel-softmax mixture per slot → pool → fc.

    ``alpha`` (one vector of logits per slot, one entry per candidate) are the architecture parameters;
    ``tau`` the Gumbel-softmax temperature. ``last_weights`` keeps the sampled mixture weights of the last
    forward pass (the differentiable cost reads them).
    """

    def __init__(self, cfg: SearchConfig, size: int, classes: int) -> None:
        super().__init__()
        self.slots = slots(cfg, size)
        self.stem = nn.Sequential(nn.Conv2d(cfg.optics.feature_maps, cfg.stem, 3, 1, 1), nn.BatchNorm2d(cfg.stem))
        self.choices = nn.ModuleList(
            nn.ModuleDict({n: (nn.Identity() if n == SKIP else Block(s, n, cfg.residual)) for n in s.candidates})
            for s in self.slots)
        last = self.slots[-1].out_channels if self.slots else cfg.stem
        self.fc = nn.Linear(last, classes)
        self.alpha = nn.ParameterList(nn.Parameter(torch.zeros(len(s.candidates))) for s in self.slots)
        self.tau = float(cfg.tau)
        self.last_weights: list[torch.Tensor] = []

    def weights(self) -> list[nn.Parameter]:
        """The network weights (everything but α)."""
        return [p for n, p in self.named_parameters() if not n.startswith("alpha")]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.stem(x))
        self.last_weights = []
        for slot, ops, a in zip(self.slots, self.choices, self.alpha):
            w = F.gumbel_softmax(a, tau=self.tau) if self.training else F.softmax(a, dim=0)
            self.last_weights.append(w)
            x = sum(wi * ops[n](x) for wi, n in zip(w, slot.candidates))
        return self.fc(x.mean(dim=(2, 3)))

    def derive(self) -> list[str]:
        """The winner: the candidate of largest α per slot (ties → the first listed)."""
        return [s.candidates[int(torch.argmax(a.detach()))] for s, a in zip(self.slots, self.alpha)]

    @torch.no_grad()
    def copy_into(self, net: FloatNet, choice: list[str]) -> None:
        """Initialise a derived FloatNet (with batch norm, on the maps, same layer order) with the supernet's
        chosen weights."""
        pairs: list[nn.Module] = [self.stem]
        for ops, name in zip(self.choices, choice):
            if name != SKIP:
                pairs += ops[name].convs()
        targets = [(op, bn) for op, bn in zip(net.ops, net.bns) if isinstance(op, nn.Conv2d)]
        for src, (op, bn) in zip(pairs, targets, strict=True):
            op.load_state_dict(src[0].state_dict())
            bn.load_state_dict(src[1].state_dict())
        net.ops[-1].load_state_dict(self.fc.state_dict())
