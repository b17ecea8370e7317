"""Golden model of the CNN accelerator: NetSpec + Bundle + integer frames → every layer's integers.

Written from the spec (docs/architecture.md, nn/netspec.py), vectorised over a batch:

    acc  = Σ w·x + bias                  exact, int32 (conv/pointwise/depthwise: zero padding, depthwise one
                                         filter per channel; fc: x flattened C, H, W)
    acc  = a·m_a + b·m_b + zp·2^s        add: a the previous layer's output, b layer ``skip``'s (raw int8);
                                         the zero point rounds with the sum (onnxruntime's QLinearAdd)
    acc  = Σ_{y,x} x                     avgpool_global, per channel
    q    = requantize(acc, m, s)         nn/quant.py, per output channel (add: m = 1, zero point 0 (it is in acc);
                                         avgpool: the layer's one m and s), clamp lo..hi (ReLU: lo = zero point;
                                         clamp_max: hi)
    act  = 2×2 max-pool(q) if pool == 2  stride 2, floor (odd last row/column dropped)
    label = argmax(logits)               ties → lowest index

Exactness: the products and sums are done in floating point whose mantissa holds every partial sum
exactly, because the NetSpec bounds |Σ w·x| ≤ fan_in · 128 · max|x| < 2^30 (checked in
:meth:`NetSpec.layer_shapes`): float64 (53 bits) always, float32 (24 bits) where that bound is below 2^24;
any summation order therefore gives the exact integer. The bias is added
and the result checked in int64, then stored as int32. tests/test_golden_accel.py checks this against a
naive integer loop.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F

from logcam.errors import InputError
from logcam.nn.netspec import Bundle, ConvSpec, DepthwiseSpec, NetSpec, PointwiseSpec, check_input_values
from logcam.nn.quant import Rounding, requantize, requantize_tflite_double

_INT32_MIN, _INT32_MAX = -(1 << 31), (1 << 31) - 1


@dataclass
class GoldenResult:
    """Every integer the accelerator produces for a batch of N frames.

    ``acc[i]``: int32 accumulators of layer i before requantization (conv: N×O×Ho×Wo before pooling;
    fc: N×O). ``acts[i]``: int8 outputs of layer i after requantization, clamp and pooling (conv:
    N×O×Hp×Wp; fc: N×O) — what the RTL's debug taps show. ``logits`` = ``acts[-1]`` (int8 N×classes),
    ``labels``: int64 N, argmax of the logits with ties to the lowest index.
    """

    acc: list[torch.Tensor]
    acts: list[torch.Tensor]
    logits: torch.Tensor
    labels: torch.Tensor

    def arrays(self) -> dict[str, np.ndarray]:
        """Flat name → numpy array map (``layer{i}.acc``, ``layer{i}.act``, ``logits``, ``labels``) for .npz."""
        out: dict[str, np.ndarray] = {}
        for i, (a, q) in enumerate(zip(self.acc, self.acts)):
            out[f"layer{i}.acc"] = a.numpy()
            out[f"layer{i}.act"] = q.numpy()
        out["logits"] = self.logits.numpy()
        out["labels"] = self.labels.numpy()
        return out


def as_input_batch(spec: NetSpec, x: torch.Tensor | np.ndarray, name: str = "network input") -> torch.Tensor:
    """Validate an input (C×H×W or N×C×H×W integers in the NetSpec's input range, at least one frame)
    → int64 N×C×H×W; ``name`` names the input in the error."""
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    x = np.asarray(x)
    if x.ndim not in (3, 4):
        raise InputError(f"{name}: expected C×H×W or N×C×H×W ({'×'.join(map(str, spec.input.shape))} per frame), "
                         f"got shape {tuple(x.shape)}")
    if x.size == 0:
        raise InputError(f"{name}: no frames (shape {tuple(x.shape)})")
    check_input_values(x, spec, name=name)
    t = torch.from_numpy(x.astype(np.int64, copy=False))
    return t.unsqueeze(0) if t.dim() == 3 else t


def max_pool2(q: torch.Tensor) -> torch.Tensor:
    """2×2 max-pool with stride 2 on N×C×H×W integers; an odd last row/column is dropped (floor)."""
    n, c, h, w = q.shape
    h2, w2 = h // 2, w // 2
    return q[:, :, : 2 * h2, : 2 * w2].reshape(n, c, h2, 2, w2, 2).amax(dim=(3, 5))


def argmax_lowest(logits: torch.Tensor) -> torch.Tensor:
    """Index of the largest value per row (N×K), ties → the lowest index (int64 N)."""
    k = logits.shape[1]
    is_max = logits == logits.amax(dim=1, keepdim=True)
    idx = torch.arange(k, dtype=torch.int64).expand_as(is_max)
    return torch.where(is_max, idx, torch.full_like(idx, k)).amin(dim=1)


def _float_dtype(bound: int) -> torch.dtype:
    """float32 when every partial sum is an integer below 2^24 and CPU float32 math is IEEE; else float64."""
    ieee = torch.get_float32_matmul_precision() == "highest"
    return torch.float32 if bound < 1 << 24 and ieee else torch.float64


def weighted_sums(spec: NetSpec, bundle: Bundle, index: int, x: torch.Tensor) -> torch.Tensor:
    """Σ w·x of layer ``index`` (no bias) for its integer input x (N×C×H×W), as exact integers in a float tensor.

    Exact because |every partial sum| ≤ fan_in · 128 · max|x| (NetSpec-checked < 2^30): float64 always,
    float32 when that bound is < 2^24 (the first layers of code networks); a float32 result that is not
    integral everywhere (an algorithm with non-integer intermediates) is redone in float64.
    """
    layer = spec.layers[index]
    lp = bundle.layers[index]
    shape = spec.layer_shapes()[index]
    max_x = max(-spec.input.lo, spec.input.hi) if index == 0 else 1 << (spec.quant.act_bits - 1)
    dtype = _float_dtype(shape.fan_in * 128 * max_x)
    for dt in (dtype, torch.float64):
        w = torch.from_numpy(lp.weight).to(dt)
        xf = x.to(dt)
        if isinstance(layer, ConvSpec):
            out = F.conv2d(xf, w, stride=layer.stride, padding=layer.pad)
        elif isinstance(layer, PointwiseSpec):
            out = F.conv2d(xf, w)
        elif isinstance(layer, DepthwiseSpec):
            out = F.conv2d(xf, w, stride=layer.stride, padding=layer.pad, groups=xf.shape[1])
        else:
            out = xf.reshape(xf.shape[0], -1) @ w.T
        if dt == torch.float64 or torch.equal(out, out.round()):
            return out
    raise AssertionError("unreachable")


def accumulate(spec: NetSpec, bundle: Bundle, index: int, x: torch.Tensor,
               skip: torch.Tensor | None = None) -> torch.Tensor:
    """int64 accumulators of layer ``index`` for its integer input x (N×C×H×W): Σ w·x + bias; add: x·m_a +
    skip·m_b + zero_point·2^s (``skip``: the output of the layer it names); avgpool_global: Σ_{y,x} x (N×C×1×1)."""
    lp = bundle.layers[index]
    kind = spec.layers[index].type
    if kind == "avgpool_global":
        return x.to(torch.int64).sum(dim=(2, 3), keepdim=True)
    if kind == "add":
        if skip is None:
            raise ValueError(f"layer {index}: add needs the skip operand")
        acc = (x.to(torch.int64) * int(lp.mult[0]) + skip.to(torch.int64) * int(lp.mult[1])
               + (spec.quant.zero_point << int(lp.shift[0])))
    else:
        s = weighted_sums(spec, bundle, index, x)
        view = (1, -1, 1, 1) if s.dim() == 4 else (1, -1)
        acc = s.to(torch.int64) + torch.from_numpy(lp.bias.astype(np.int64)).view(view)
    if acc.numel() and (int(acc.min()) < _INT32_MIN or int(acc.max()) > _INT32_MAX):
        raise InputError(f"layer {index}: accumulator leaves int32 ({int(acc.min())}..{int(acc.max())})")
    return acc


def run(spec: NetSpec, bundle: Bundle, x: torch.Tensor | np.ndarray, *,
        rounding: Rounding | Literal["tflite_double"] | None = None) -> GoldenResult:
    """Run the integer network on a batch x (N×C×H×W or C×H×W; codes ±m or uint8 per ``spec.input``).

    ``rounding`` overrides ``spec.quant.rounding`` (for comparisons; default: the NetSpec's).
    ``"tflite_double"`` uses TFLite's double rounding (nn/quant.requantize_tflite_double), which the
    RTL does not implement.

    Speed: a pooled layer is requantized after pooling its accumulators. That equals the spec's
    requantize-then-pool because the requantizer is non-decreasing in acc for m ≥ 0 (round, + zero
    point, clamp are all monotone) and max commutes with non-decreasing maps; with any m < 0 the
    literal order is used.
    """
    if len(bundle.layers) != len(spec.layers):
        raise InputError(f"bundle has {len(bundle.layers)} layers, the NetSpec {len(spec.layers)}")
    mode = rounding or spec.quant.rounding
    h = as_input_batch(spec, x)
    accs: list[torch.Tensor] = []
    acts: list[torch.Tensor] = []
    outs: list[torch.Tensor] = []  # int64 outputs of every layer (an add reads its skip layer's)
    for i, layer in enumerate(spec.layers):
        lp = bundle.layers[i]
        skip = getattr(layer, "skip", None)
        acc = accumulate(spec, bundle, i, h, outs[skip] if skip is not None else None)
        pool = isinstance(layer, ConvSpec) and layer.pool == 2
        early = pool and bool((lp.mult >= 0).all())
        pre = max_pool2(acc) if early else acc
        lo, hi = spec.clamp_of(i)
        m, s = torch.from_numpy(lp.mult.astype(np.int64)), torch.from_numpy(lp.shift.astype(np.int64))
        n_ch = acc.shape[1]
        zp = spec.quant.zero_point
        if layer.type == "add":  # the operands' multipliers and the zero point are in acc; one shift for all
            m, s, zp = torch.ones(n_ch, dtype=torch.int64), s.expand(n_ch), 0
        elif layer.type == "avgpool_global":
            m, s = m.expand(n_ch), s.expand(n_ch)
        if mode == "tflite_double":
            q = requantize_tflite_double(pre, m, s, mult_bits=spec.quant.mult_bits, zero_point=zp,
                                         lo=lo, hi=hi, channel_dim=1)
        else:
            q = requantize(pre, m, s, rounding=mode, zero_point=zp, lo=lo, hi=hi, channel_dim=1)
        if pool and not early:
            q = max_pool2(q)
        accs.append(acc.to(torch.int32))
        acts.append(q.to(torch.int8))
        outs.append(q)
        h = q
    logits = acts[-1]
    return GoldenResult(accs, acts, logits, argmax_lowest(logits))


__all__ = ["GoldenResult", "accumulate", "argmax_lowest", "as_input_batch", "max_pool2", "run", "weighted_sums"]
