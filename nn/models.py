"""The 2conv1fc network and a small width/depth family, as float models that follow the integer dataflow.

:class:`QuantNet` is built from NetSpec layers (:mod:`logcam.nn.netspec`). With ``quant=True`` it
fake-quantizes exactly where the accelerator quantizes (docs/architecture.md, nn/quant.py): weights int8
symmetric per output channel, bias at the accumulator scale (input scale × weight scale), each layer's
output rounded half-up to int8 at a per-layer scale and clamped (ReLU clamps at 0), then 2×2 max-pool.
Rounding uses straight-through gradients. Output scales are calibrated: a running maximum (EMA) of each
layer's output during training, frozen in eval. Export (:mod:`logcam.nn.export`) turns the same numbers into
int8 weights, int32 biases and requant (multiplier, shift).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from logcam.errors import ConfigError
from logcam.nn.netspec import (
    ConvSpec,
    DepthwiseSpec,
    FcSpec,
    InputSpec,
    LayerSpec,
    NetSpec,
    PointwiseSpec,
    QuantSpec,
)

#: Largest |int8| weight (symmetric: −127..127, so negation never overflows).
WMAX = 127


def round_half_up(x: torch.Tensor) -> torch.Tensor:
    """floor(x + 0.5) with a straight-through gradient (the requantizer's ``half_up``)."""
    return x + (torch.floor(x + 0.5) - x).detach()


def weight_scale(w: torch.Tensor) -> torch.Tensor:
    """Per-output-channel scale so that max|w| maps to :data:`WMAX` (shape O)."""
    return w.detach().abs().flatten(1).amax(1).clamp(min=1e-8) / WMAX


class QLayer(nn.Module):
    """One conv, pointwise, depthwise or fc layer with its fake-quantized output."""

    def __init__(self, layer: LayerSpec, in_ch: int, in_features: int, act_bits: int, momentum: float = 0.1) -> None:
        super().__init__()
        self.spec = layer
        if isinstance(layer, ConvSpec):
            self.op: nn.Module = nn.Conv2d(in_ch, layer.out_channels, layer.kernel, layer.stride, layer.pad)
        elif isinstance(layer, PointwiseSpec):
            self.op = nn.Conv2d(in_ch, layer.out_channels, 1)
        elif isinstance(layer, DepthwiseSpec):
            self.op = nn.Conv2d(in_ch, in_ch, layer.kernel, layer.stride, layer.pad, groups=in_ch)
        else:
            self.op = nn.Linear(in_features, layer.out_features)
        self.act_max = (1 << (act_bits - 1)) - 1
        self.act_min = 0 if layer.relu else -(1 << (act_bits - 1))
        self.momentum = momentum
        self.register_buffer("out_max", torch.zeros(()))  # running max |output| (real units)

    @property
    def out_scale(self) -> torch.Tensor:
        return self.out_max.clamp(min=1e-8) / self.act_max

    def weight_q(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(fake-quantized weight, per-channel scale)."""
        w = self.op.weight
        s = weight_scale(w).view(-1, *([1] * (w.dim() - 1)))
        return round_half_up(w / s).clamp(-WMAX, WMAX) * s, s.flatten()

    def forward(self, x: torch.Tensor, quant: bool, in_scale: torch.Tensor | None) -> torch.Tensor:
        if isinstance(self.spec, FcSpec):
            x = x.flatten(1)
        if not quant:
            y = self.op(x)
            if self.spec.relu:
                y = torch.relu(y)
            self._observe(y)
            return self._pool(y)
        wq, ws = self.weight_q()
        assert in_scale is not None
        acc_scale = in_scale * ws
        bq = round_half_up(self.op.bias / acc_scale) * acc_scale
        if isinstance(self.op, nn.Conv2d):  # conv, pointwise, depthwise: the op's own geometry
            y = nn.functional.conv2d(x, wq, bq, self.op.stride, self.op.padding, groups=self.op.groups)
        else:
            y = nn.functional.linear(x, wq, bq)
        self._observe(y.clamp(min=0) if self.spec.relu else y)
        s = self.out_scale
        y = round_half_up(y / s).clamp(self.act_min, self.act_max) * s
        return self._pool(y)

    def _observe(self, y: torch.Tensor) -> None:
        if self.training:
            m = y.detach().abs().amax()
            if self.out_max == 0:
                self.out_max.copy_(m)
            else:
                self.out_max.mul_(1 - self.momentum).add_(self.momentum * m)

    def _pool(self, y: torch.Tensor) -> torch.Tensor:
        if isinstance(self.spec, ConvSpec) and self.spec.pool == 2:
            return nn.functional.max_pool2d(y, 2)
        return y


class QuantNet(nn.Module):
    """A float network that mirrors a NetSpec's integer dataflow (``quant=True``) or runs plain float."""

    def __init__(self, spec: NetSpec, input_scale: float = 1.0, quant: bool = True) -> None:
        super().__init__()
        self.spec = spec
        self.quant = quant
        self.input_scale = float(input_scale)
        shapes = spec.layer_shapes()
        for i, layer in enumerate(spec.layers):
            if not isinstance(layer, (ConvSpec, PointwiseSpec, DepthwiseSpec, FcSpec)):
                raise ConfigError(f"layers[{i}] ({layer.type}): training builds conv, pointwise, depthwise and fc "
                                  f"layers only")
        self.layers = nn.ModuleList(
            QLayer(layer, s.in_shape[0], s.fan_in, spec.quant.act_bits) for layer, s in zip(spec.layers, shapes))
        #: float-only input standardisation (x − mean) / std; None on the integer path
        self.register_buffer("in_mean", None)
        self.register_buffer("in_std", None)

    def standardize(self, mean: float, std: float) -> None:
        """Standardise inputs in float mode (training-set statistics); the integer path cannot."""
        if self.quant:
            raise ConfigError("standardize: not available with quantization (the accelerator takes raw inputs)")
        self.in_mean, self.in_std = torch.tensor(float(mean)), torch.tensor(max(float(std), 1e-8))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Real input N×C×H×W (integer input × input_scale) → logits (real units)."""
        scale = torch.tensor(self.input_scale) if self.quant else None
        if self.in_mean is not None:
            if self.quant:
                raise ConfigError("standardize: a standardised network cannot run quantized")
            x = (x - self.in_mean) / self.in_std
        for layer in self.layers:
            x = layer(x, self.quant, scale)
            scale = layer.out_scale if self.quant else None
        return x


def make_2conv1fc(size: int = 96, c1: int = 4, c2: int = 8, classes: int = 3, input_format: str = "codes",
                  levels: int | None = 3, channels: int = 1, fold: bool = False, name: str = "2conv1fc",
                  class_names: Sequence[str] | None = None) -> NetSpec:
    """NetSpec of the paper's 2conv1fc: conv5×5 c1 pad 2 ReLU pool2, conv5×5 c2 pad 2 ReLU pool2, fc → classes.

    ``fold=True`` folds like configs/nets/2conv1fc.yaml (pe = all outputs, simd = k² = 25 for convs,
    simd = c2 for the fc); otherwise pe = simd = 1 (always valid).
    """
    if c1 < 1 or c2 < 1:
        raise ConfigError(f"channels: c1 and c2 must be ≥ 1, got c1={c1}, c2={c2}")
    return make_family(size, [c1, c2], classes, input_format, levels, channels, fold, name, class_names)


def make_family(size: int, widths: list[int], classes: int = 3, input_format: str = "codes",
                levels: int | None = 3, channels: int = 1, fold: bool = False, name: str = "net",
                class_names: Sequence[str] | None = None) -> NetSpec:
    """The width/depth family for search: len(widths) conv5×5 (pad 2, ReLU, pool 2) layers, then fc."""
    if not widths or any(c < 1 for c in widths):
        raise ConfigError(f"widths: need ≥ 1 conv layer with ≥ 1 channel each, got {widths}")
    if size >> len(widths) < 1:
        raise ConfigError(f"size: {size} px is too small for {len(widths)} pooled conv layers")
    layers: list[dict] = []
    c_in = channels
    for c in widths:
        fold_kw = {"pe": c, "simd": 25} if fold else {}
        layers.append({"type": "conv", "out_channels": c, "kernel": 5, "pad": 2, "relu": True, "pool": 2, **fold_kw})
        c_in = c
    fold_kw = {"pe": classes, "simd": c_in} if fold else {}
    layers.append({"type": "fc", "out_features": classes, "relu": False, **fold_kw})
    inp = InputSpec(channels=channels, height=size, width=size, format=input_format,  # type: ignore[arg-type]
                    levels=levels if input_format == "codes" else None)
    from logcam.config import validate

    return validate(NetSpec, {"name": name, "input": inp.model_dump(), "layers": layers,
                              "quant": QuantSpec().model_dump(),
                              "classes": list(class_names) if class_names is not None else None}, "net")


__all__ = ["WMAX", "QLayer", "QuantNet", "make_2conv1fc", "make_family", "round_half_up", "weight_scale"]
