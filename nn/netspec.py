"""NetSpec: the one description of a quantized CNN, read by training/export, the golden model, the
RTL generator and the energy model alike.

A NetSpec (YAML) gives the input (shape, format, bit width), the layers (conv k×k with stride, padding,
ReLU, optional 2×2 max-pool; fully connected), the quantization (int8 per-output-channel weights,
int32 bias, per-channel requant multiplier + shift, rounding mode, activation clamp) and the hardware
folding of each layer (``pe`` output channels and ``simd`` inputs in parallel). The weights live in an
.npz bundle (:class:`Bundle`) with keys ``layer{i}.weight|bias|mult|shift``.

Dataflow per layer (integer): acc = Σ w·x + bias (exact int32) → requantize (nn/quant.py) with
lo = zero_point if relu else −2^(act_bits−1), hi = 2^(act_bits−1) − 1 → optional 2×2 max-pool (stride 2,
floor) → next layer. An fc layer flattens its input in C, H, W order (PyTorch's). The label is the
argmax of the last layer's int8 outputs (the logits), ties to the lowest index.
"""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
from pydantic import Field, model_validator

from logcam.config import StrictModel, load_model
from logcam.errors import ConfigError, InputError
from logcam.files import atomic_write, load_npz
from logcam.nn.quant import MAX_SHIFT, ROUNDING_MODES

INPUT_FORMATS = ("codes", "uint8", "int8")


class InputSpec(StrictModel):
    """The network input: a C×H×W frame of RDC codes (signed, ±m), of 8-bit unsigned pixels or of int8 values
    (e.g. the optical front-end's feature maps)."""

    channels: int = Field(1, ge=1, le=64, description="input channels (2 for the RDC's hv mode)")
    height: int = Field(..., ge=1, le=1024, description="pixels")
    width: int = Field(..., ge=1, le=1024, description="pixels")
    format: Literal["codes", "uint8", "int8"] = Field("codes", description="RDC codes, 8-bit gamma image or int8 maps")
    levels: Literal[3, 5, 7] | None = Field(3, description="code levels (codes only)")

    @model_validator(mode="after")
    def _check(self) -> InputSpec:
        if self.format == "codes" and self.levels is None:
            raise ValueError("input.levels: codes need levels 3, 5 or 7")
        return self

    @property
    def lo(self) -> int:
        """Smallest input value."""
        return -self.hi if self.format == "codes" else -128 if self.format == "int8" else 0

    @property
    def hi(self) -> int:
        """Largest input value."""
        return ((self.levels or 1) - 1) // 2 if self.format == "codes" else 127 if self.format == "int8" else 255

    @property
    def bits(self) -> int:
        """Bits per input value: signed code width (2 for 3 levels, 3 for 5/7) or 8 (uint8/int8)."""
        return 1 + self.hi.bit_length() if self.format == "codes" else 8

    @property
    def shape(self) -> tuple[int, int, int]:
        return (self.channels, self.height, self.width)


class ConvSpec(StrictModel):
    """k×k convolution (+ bias), requantized, optional ReLU and 2×2 max-pool."""

    type: Literal["conv"] = "conv"
    out_channels: int = Field(..., ge=1, le=512)
    kernel: int = Field(..., ge=1, le=11, description="k of the k×k kernel")
    stride: int = Field(1, ge=1, le=4)
    pad: int = Field(0, ge=0, le=5, description="zero padding on each side, pixels")
    relu: bool = True
    pool: Literal[1, 2] = Field(1, description="2: 2×2 max-pool with stride 2 after requantization")
    clamp_max: int | None = Field(None, ge=-127, le=127,
                                  description="upper clamp of the int8 output (ReLU6-style), ≤ act_max; none: act_max")
    pe: int = Field(1, ge=1, description="output channels computed in parallel (divides out_channels)")
    simd: int = Field(1, ge=1, description="inputs of the in_channels·k² fan-in consumed in parallel (divides it)")


class FcSpec(StrictModel):
    """Fully connected layer on the flattened (C, H, W) input."""

    type: Literal["fc"] = "fc"
    out_features: int = Field(..., ge=1, le=4096)
    relu: bool = False
    pe: int = Field(1, ge=1, description="outputs computed in parallel (divides out_features)")
    simd: int = Field(1, ge=1, description="inputs consumed in parallel (divides in_features)")


class PointwiseSpec(StrictModel):
    """1×1 convolution (+ bias), requantized: the expansion and projection of an inverted-residual block."""

    type: Literal["pointwise"] = "pointwise"
    out_channels: int = Field(..., ge=1, le=512)
    relu: bool = True
    clamp_max: int | None = Field(None, ge=-127, le=127,
                                  description="upper clamp of the int8 output (ReLU6-style), ≤ act_max; none: act_max")
    pe: int = Field(1, ge=1, description="output channels computed in parallel (divides out_channels)")
    simd: int = Field(1, ge=1, description="input channels consumed in parallel (divides in_channels)")


class DepthwiseSpec(StrictModel):
    """k×k depthwise convolution: one filter per channel (out channels = in channels), + bias, requantized."""

    type: Literal["depthwise"] = "depthwise"
    kernel: int = Field(..., ge=1, le=11, description="k of the k×k kernel")
    stride: int = Field(1, ge=1, le=4)
    pad: int = Field(0, ge=0, le=5, description="zero padding on each side, pixels")
    relu: bool = True
    clamp_max: int | None = Field(None, ge=-127, le=127,
                                  description="upper clamp of the int8 output (ReLU6-style), ≤ act_max; none: act_max")
    pe: int = Field(1, ge=1, description="channels computed in parallel (divides the channels)")
    simd: int = Field(1, ge=1, description="taps of the k² window consumed in parallel (divides k²)")


class AddSpec(StrictModel):
    """Residual addition: the previous layer's output (a) plus the output of layer ``skip`` (b).

    out = clamp(round((a·m_a + b·m_b) / 2^s) + zero_point, lo, hi) with the layer's two multipliers
    (bundle ``mult`` = [m_a, m_b]) and one shift: each operand rescaled to the output scale, summed exactly,
    rounded once (quant.rounding) and saturated — ONNX/onnxruntime QLinearAdd with zero-point-0 operands.
    """

    type: Literal["add"] = "add"
    skip: int = Field(..., ge=0, description="index of the earlier layer whose output is added (the skip branch)")
    relu: bool = False
    clamp_max: int | None = Field(None, ge=-127, le=127,
                                  description="upper clamp of the int8 output (ReLU6-style), ≤ act_max; none: act_max")
    pe: int = Field(1, ge=1, description="channels added in parallel (divides the channels)")


class AvgPoolGlobalSpec(StrictModel):
    """Global average pool: per channel out = clamp(round(Σ_{y,x} x · m / 2^s) + zero_point, lo, hi), C×1×1.

    m/2^s (bundle ``mult``, ``shift``: one each) is the mean's 1/(H·W) times any rescaling; rounding is
    quant.rounding.
    """

    type: Literal["avgpool_global"] = "avgpool_global"
    relu: bool = False
    clamp_max: int | None = Field(None, ge=-127, le=127,
                                  description="upper clamp of the int8 output (ReLU6-style), ≤ act_max; none: act_max")


LayerSpec = Annotated[ConvSpec | PointwiseSpec | DepthwiseSpec | AddSpec | AvgPoolGlobalSpec | FcSpec,
                      Field(discriminator="type")]


@dataclass(frozen=True)
class Operator:
    """One operator of the accelerator: how a NetSpec spells it and what the generator builds.

    The golden model, the ONNX export, the energy model's activity counts, the RTL generator and the
    co-search's search space all read :data:`OPERATORS`; a NetSpec outside it fails at load time.
    """

    name: str
    spelling: str  # how a NetSpec writes it
    kernels: tuple[int, ...]  # k the generator builds (() where the operator has no kernel)
    strides: tuple[int, ...]  # strides the generator builds (() where the operator has none)
    params: tuple[str, ...]  # bundle arrays layer{i}.<param> (() where the operator has none / is folded into another)
    rtl: bool  # the accelerator generator (hw/accel) builds it
    onnx: str  # the ONNX operator(s) of the peer graph


OPERATORS: dict[str, Operator] = {op.name: op for op in (
    Operator("conv", "{type: conv, out_channels, kernel, stride, pad, relu, clamp_max, pool, pe, simd}",
             tuple(range(1, 12)), (1, 2, 3, 4), ("weight", "bias", "mult", "shift"), True, "QLinearConv"),
    Operator("pointwise", "{type: pointwise, out_channels, relu, clamp_max, pe, simd}",
             (1,), (1,), ("weight", "bias", "mult", "shift"), True, "QLinearConv 1×1"),
    Operator("depthwise", "{type: depthwise, kernel, stride, pad, relu, clamp_max, pe, simd}",
             (3, 5, 7), (1, 2), ("weight", "bias", "mult", "shift"), True, "QLinearConv group=C"),
    Operator("add", "{type: add, skip: J, relu, clamp_max, pe}", (), (), ("mult", "shift"), True,
             "com.microsoft.QLinearAdd"),
    Operator("avgpool_global", "{type: avgpool_global, relu, clamp_max}", (), (), ("mult", "shift"), True,
             "com.microsoft.QLinearGlobalAveragePool"),
    Operator("maxpool2", "pool: 2 on a conv layer", (2,), (2,), (), True, "MaxPool"),
    Operator("fc", "{type: fc, out_features, relu, pe, simd}", (), (), ("weight", "bias", "mult", "shift"), True,
             "QLinearConv 1×1 on N×F×1×1"),
    Operator("argmax", "implicit after the last fc layer (ties → lowest index)", (), (), (), True, "ArgMax"),
)}


def check_buildable(spec: NetSpec) -> None:
    """Raise ConfigError (one line naming the layer and what the generator builds) if hw/accel cannot build ``spec``."""
    built = ", ".join(op.name for op in OPERATORS.values() if op.rtl)
    for shape, layer in zip(spec.layer_shapes(), spec.layers):
        i = shape.index
        if not OPERATORS[layer.type].rtl:
            raise ConfigError(f"layers[{i}] ({layer.type}): the accelerator generator does not build {layer.type} "
                              f"yet; it builds {built}")
        if isinstance(layer, FcSpec) and shape.in_shape[0] % layer.simd:
            raise ConfigError(f"layers[{i}].simd: the streaming fc takes one pixel's channels per beat, so simd "
                              f"({layer.simd}) must divide the input channels ({shape.in_shape[0]})")


class QuantSpec(StrictModel):
    """Integer arithmetic of every layer (see nn/quant.py)."""

    rounding: Literal["half_up", "half_even"] = "half_up"
    weight_bits: Literal[8] = 8
    act_bits: int = Field(8, ge=2, le=8, description="activation bits (signed)")
    mult_bits: int = Field(16, ge=2, le=32, description="requant multiplier bits (signed, so m < 2^(bits−1))")
    zero_point: int = Field(0, ge=-128, le=127, description="output zero point of every layer")

    @property
    def act_min(self) -> int:
        return -(1 << (self.act_bits - 1))

    @property
    def act_max(self) -> int:
        return (1 << (self.act_bits - 1)) - 1


@dataclass(frozen=True)
class LayerShape:
    """Shapes and work of one layer: input/output C×H×W (fc: features×1×1), MACs per frame."""

    index: int
    kind: str
    in_shape: tuple[int, int, int]
    conv_shape: tuple[int, int, int]  # before pooling
    out_shape: tuple[int, int, int]  # after pooling
    fan_in: int  # inputs per output (in_ch·k² or in_features)
    in_bits: int  # bits of the layer's input values (signed codes, uint8 or int8)
    weight_count: int
    macs: int  # multiply-accumulates per frame (conv_shape elements × fan_in)
    ops: int = 0  # other arithmetic per frame: add → C·H·W additions, avgpool_global → C·H·W summands
    skip: int | None = None  # add: the layer whose output is the second operand


class NetSpec(StrictModel):
    """A quantized CNN and its hardware folding."""

    name: str = Field("net", pattern=r"^[A-Za-z0-9_\-]+$")
    input: InputSpec
    layers: list[LayerSpec] = Field(..., min_length=1, max_length=64)
    quant: QuantSpec = QuantSpec()
    classes: list[str] | None = Field(None, description="class names, one per output of the last layer")

    @model_validator(mode="after")
    def _check(self) -> NetSpec:
        self.layer_shapes()  # raises ValueError with the layer named
        if self.layers[-1].type != "fc":
            raise ValueError("layers: the last layer must be fc (its outputs are the logits)")
        if self.classes is not None and len(self.classes) != self.num_classes:
            raise ValueError(f"classes: {len(self.classes)} names for {self.num_classes} outputs of the last layer")
        return self

    def class_name(self, label: int) -> str:
        """Name of class ``label`` (its number when the NetSpec names no classes)."""
        return self.classes[label] if self.classes else str(label)

    def layer_shapes(self) -> list[LayerShape]:
        """Per-layer shapes and MAC counts; raises ValueError naming the layer when a shape cannot work."""
        c, h, w = self.input.shape
        bits = self.input.bits
        out: list[LayerShape] = []
        seen_fc = False
        for i, layer in enumerate(self.layers):
            where = f"layers[{i}]"
            op = OPERATORS[layer.type]
            for name, allowed in (("kernel", op.kernels), ("stride", op.strides)):
                v = getattr(layer, name, None)
                if v is not None and v not in allowed:
                    raise ValueError(f"{where}.{name}: {layer.type} is built with {name} "
                                     f"{', '.join(map(str, allowed))}, got {v}")
            if seen_fc and not isinstance(layer, FcSpec):
                raise ValueError(f"{where}: a {layer.type} layer cannot follow an fc layer")
            lo_clamp = self.quant.zero_point if layer.relu else self.quant.act_min
            cmax = getattr(layer, "clamp_max", None)
            if cmax is not None and not lo_clamp < cmax <= self.quant.act_max:
                raise ValueError(f"{where}.clamp_max: {cmax} must lie above the lower clamp {lo_clamp} "
                                 f"and at most act_max {self.quant.act_max}")
            if isinstance(layer, (PointwiseSpec, DepthwiseSpec)):
                k, st, pad = (1, 1, 0) if isinstance(layer, PointwiseSpec) else (layer.kernel, layer.stride, layer.pad)
                hp, wp = h + 2 * pad, w + 2 * pad
                if k > hp or k > wp:
                    raise ValueError(f"{where}.kernel: {k} is larger than its padded input {hp}×{wp}")
                if pad >= k:
                    raise ValueError(f"{where}.pad: {pad} must be smaller than kernel {k}")
                ho, wo = (hp - k) // st + 1, (wp - k) // st + 1
                if isinstance(layer, PointwiseSpec):
                    n_out, fan_in = layer.out_channels, c
                    self._check_fold(where, n_out, fan_in, layer.pe, layer.simd, "out_channels", "in_channels")
                else:
                    n_out, fan_in = c, k * k
                    self._check_fold(where, n_out, fan_in, layer.pe, layer.simd, "the channels", "k²")
                conv = (n_out, ho, wo)
                shape = LayerShape(i, layer.type, (c, h, w), conv, conv, fan_in, bits, n_out * fan_in,
                                   n_out * ho * wo * fan_in)
            elif isinstance(layer, AddSpec):
                if i == 0 or layer.skip >= i - 1:
                    raise ValueError(f"{where}.skip: {layer.skip} must name an earlier layer before the previous "
                                     f"one (0..{i - 2}); the previous layer is the other operand")
                other = out[layer.skip].out_shape
                if other != (c, h, w):
                    raise ValueError(f"{where}.skip: layer {layer.skip}'s output {'×'.join(map(str, other))} "
                                     f"differs from the previous layer's {c}×{h}×{w}")
                if self.quant.mult_bits > 23:
                    raise ValueError(f"{where}: add needs quant.mult_bits ≤ 23 (a·m_a + b·m_b in int32), "
                                     f"got {self.quant.mult_bits}")
                self._check_fold(where, c, 1, layer.pe, 1, "the channels", "1")
                shape = LayerShape(i, "add", (c, h, w), (c, h, w), (c, h, w), 2, bits, 0, 0, c * h * w, layer.skip)
            elif isinstance(layer, AvgPoolGlobalSpec):
                shape = LayerShape(i, "avgpool_global", (c, h, w), (c, 1, 1), (c, 1, 1), h * w, bits, 0, 0,
                                   c * h * w)
            elif isinstance(layer, ConvSpec):
                hp, wp = h + 2 * layer.pad, w + 2 * layer.pad
                if layer.kernel > hp or layer.kernel > wp:
                    raise ValueError(f"{where}.kernel: {layer.kernel} is larger than its padded input {hp}×{wp}")
                if layer.pad >= layer.kernel:
                    raise ValueError(f"{where}.pad: {layer.pad} must be smaller than kernel {layer.kernel}")
                ho, wo = (hp - layer.kernel) // layer.stride + 1, (wp - layer.kernel) // layer.stride + 1
                conv = (layer.out_channels, ho, wo)
                if layer.pool == 2:
                    if ho < 2 or wo < 2:
                        raise ValueError(f"{where}.pool: a 2×2 pool needs at least 2×2, got {ho}×{wo}")
                    ho, wo = ho // 2, wo // 2
                fan_in = c * layer.kernel**2
                self._check_fold(where, layer.out_channels, fan_in, layer.pe, layer.simd, "out_channels",
                                 "the fan-in in_channels·k²")
                shape = LayerShape(i, "conv", (c, h, w), conv, (layer.out_channels, ho, wo), fan_in, bits,
                                   layer.out_channels * fan_in, conv[0] * conv[1] * conv[2] * fan_in)
            else:
                seen_fc = True
                fan_in = c * h * w
                self._check_fold(where, layer.out_features, fan_in, layer.pe, layer.simd, "out_features",
                                 "in_features")
                conv = (layer.out_features, 1, 1)
                shape = LayerShape(i, "fc", (c, h, w), conv, conv, fan_in, bits,
                                   layer.out_features * fan_in, layer.out_features * fan_in)
            # int32 accumulator must hold the worst case: fan_in · max|x| · 128 + |bias| (bias ≤ 2^30)
            max_x = max(abs(self.input.lo), self.input.hi) if i == 0 else 1 << (self.quant.act_bits - 1)
            if "weight" in op.params and fan_in * max_x * 128 >= 1 << 30:
                raise ValueError(f"{where}: fan-in {fan_in} could overflow the int32 accumulator")
            out.append(shape)
            c, h, w = shape.out_shape
            bits = self.quant.act_bits
        return out

    @staticmethod
    def _check_fold(where: str, n_out: int, n_in: int, pe: int, simd: int, out_name: str, in_name: str) -> None:
        if n_out % pe:
            raise ValueError(f"{where}.pe: {pe} must divide {out_name} ({n_out})")
        if n_in % simd:
            raise ValueError(f"{where}.simd: {simd} must divide {in_name} ({n_in})")

    # Derived quantities -------------------------------------------------------------------
    @property
    def num_classes(self) -> int:
        last = self.layers[-1]
        assert isinstance(last, FcSpec)
        return last.out_features

    def clamp_of(self, index: int) -> tuple[int, int]:
        """(lo, hi) of layer ``index``'s int8 outputs: ReLU clamps at the zero point, ``clamp_max`` (ReLU6-style)
        lowers the top."""
        q = self.quant
        layer = self.layers[index]
        cmax = getattr(layer, "clamp_max", None)
        return (q.zero_point if layer.relu else q.act_min, q.act_max if cmax is None else cmax)

    def macs(self) -> int:
        """Multiply-accumulates per frame, all layers."""
        return sum(s.macs for s in self.layer_shapes())

    def ideal_cycles(self) -> list[int]:
        """Per layer: MACs / (pe·simd) — the cycles per frame if its MAC array never idles; add: C·H·W / pe;
        avgpool_global: its H·W input pixels (one pixel per beat)."""
        out = []
        for s, layer in zip(self.layer_shapes(), self.layers):
            if s.kind == "add":
                out.append(-(-s.ops // layer.pe))
            elif s.kind == "avgpool_global":
                out.append(s.in_shape[1] * s.in_shape[2])
            else:
                out.append(-(-s.macs // (layer.pe * layer.simd)))
        return out

    def bound_cycles(self) -> int:
        """Throughput bound of the layer pipeline: the slowest layer's ideal cycles per frame."""
        return max(self.ideal_cycles())

    @classmethod
    def load(cls, path: str | Path) -> NetSpec:
        """Read and validate a NetSpec YAML (one-line ConfigError on any problem)."""
        return load_model(cls, path)


@dataclass(frozen=True)
class LayerParams:
    """Integer parameters of one layer: weight int8 (O×I×k×k or O×I), bias int32, mult and shift per O."""

    weight: np.ndarray
    bias: np.ndarray
    mult: np.ndarray
    shift: np.ndarray


@dataclass(frozen=True)
class Bundle:
    """The weights of a NetSpec, checked against it (shapes, dtypes, ranges)."""

    layers: tuple[LayerParams, ...]
    scales: dict[str, float]  # optional float scales (input, layer{i}.weight, layer{i}.out) for export

    @classmethod
    def load(cls, spec: NetSpec, path: str | Path) -> Bundle:
        """Read and check a weights bundle; a missing, corrupt or incomplete .npz is one InputError line."""
        p = Path(path)
        if not p.exists():
            raise InputError(f"{p}: no such weights bundle")
        return cls.from_arrays(spec, load_npz(p), where=p.name)

    @classmethod
    def from_arrays(cls, spec: NetSpec, arrays: dict[str, np.ndarray], where: str = "bundle") -> Bundle:
        layers = []
        q = spec.quant
        for shape, layer in zip(spec.layer_shapes(), spec.layers):
            i = shape.index
            want = param_shapes(spec, i)
            lims = {"weight": (-128, 127), "bias": (-(1 << 30), (1 << 30) - 1),
                    "mult": (0, (1 << (q.mult_bits - 1)) - 1), "shift": (0, MAX_SHIFT)}
            got = {name: np.zeros(0, np.int8 if name == "weight" else np.int32) for name in lims}
            for name, ws in want.items():
                lo, hi = lims[name]
                key = f"layer{i}.{name}"
                if key not in arrays:
                    raise InputError(f"{where}: missing array {key!r} (NetSpec layer {i} is {layer.type})")
                a = arrays[key]
                if a.dtype.kind not in "iu":
                    raise InputError(f"{where}: {key} must be integer, got {a.dtype}")
                if tuple(a.shape) != ws:
                    raise InputError(f"{where}: {key} has shape {tuple(a.shape)}, NetSpec needs {ws}")
                if a.size and (int(a.min()) < lo or int(a.max()) > hi):
                    raise InputError(f"{where}: {key} values must lie in {lo}..{hi}, got {a.min()}..{a.max()}")
                got[name] = a.astype(np.int8 if name == "weight" else np.int32)
            layers.append(LayerParams(**got))
        n = len(spec.layers)
        expected = {f"layer{i}.{name}" for i in range(n) for name in param_shapes(spec, i)}
        other = sorted(k for k in arrays if k not in expected and not k.startswith("scale."))
        stray = [k for k in other if re.fullmatch(r"layer\d+\.(weight|bias|mult|shift)", k)]
        if stray:
            raise InputError(f"{where}: arrays for layers the NetSpec does not have ({n} layers): {stray}")
        if other:
            raise InputError(f"{where}: unknown arrays {other} (allowed: layer{{i}}.weight|bias|mult|shift as the "
                             f"layer's operator has them, scale.*)")
        scales = {}
        for k, v in arrays.items():
            if k.startswith("scale."):
                if np.asarray(v).size != 1 or np.asarray(v).dtype.kind not in "iuf":
                    raise InputError(f"{where}: {k} must be one number, got shape {np.shape(v)} {np.asarray(v).dtype}")
                val = float(np.asarray(v).reshape(()))
                if not np.isfinite(val) or val <= 0:
                    raise InputError(f"{where}: {k} must be a finite number > 0, got {val}")
                scales[k[len("scale."):]] = val
        return cls(tuple(layers), scales)

    def save(self, path: str | Path) -> None:
        """Write the bundle atomically as .npz — byte-identical for identical arrays (fixed zip timestamps)."""
        atomic_write(path, self.write)

    def write(self, path: Path) -> None:
        """Write the bundle as .npz to ``path`` directly (no temporary name; :meth:`save` is the atomic one)."""
        arrays: dict[str, np.ndarray] = {}
        for i, lp in enumerate(self.layers):  # an operator without weights/bias (add, avgpool_global) has them empty
            arrays.update({f"layer{i}.{k}": v for k, v in (
                ("weight", lp.weight.astype(np.int8)), ("bias", lp.bias.astype(np.int32)),
                ("mult", lp.mult.astype(np.int32)), ("shift", lp.shift.astype(np.int32))) if v.size})
        arrays.update({f"scale.{k}": np.float64(v) for k, v in self.scales.items()})
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as zf:
            for key in sorted(arrays):
                buf = io.BytesIO()
                np.lib.format.write_array(buf, np.asarray(arrays[key]), allow_pickle=False)
                zf.writestr(zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0)), buf.getvalue())


def param_shapes(spec: NetSpec, index: int) -> dict[str, tuple[int, ...]]:
    """The bundle arrays of layer ``index`` (name → shape), per its operator (:data:`OPERATORS`).

    conv O×I×k×k, pointwise O×I×1×1, depthwise C×1×k×k, fc O×F weights with bias/mult/shift per output;
    add: mult [m_a, m_b] and one shift; avgpool_global: one mult and one shift.
    """
    layer, shape = spec.layers[index], spec.layer_shapes()[index]
    n_out, c_in = shape.conv_shape[0], shape.in_shape[0]
    if isinstance(layer, AddSpec):
        return {"mult": (2,), "shift": (1,)}
    if isinstance(layer, AvgPoolGlobalSpec):
        return {"mult": (1,), "shift": (1,)}
    if isinstance(layer, ConvSpec):
        wshape: tuple[int, ...] = (n_out, c_in, layer.kernel, layer.kernel)
    elif isinstance(layer, PointwiseSpec):
        wshape = (n_out, c_in, 1, 1)
    elif isinstance(layer, DepthwiseSpec):
        wshape = (n_out, 1, layer.kernel, layer.kernel)
    else:
        wshape = (n_out, shape.fan_in)
    return {"weight": wshape, "bias": (n_out,), "mult": (n_out,), "shift": (n_out,)}


def random_bundle(spec: NetSpec, seed: int = 0) -> Bundle:
    """Random weights with requant factors that keep activations in range (for tests and benches).

    Weights are uniform int8; per output channel the multiplier maps the typical accumulator
    (√fan_in · rms(w) · rms(x)) to about act_max/3 LSB of output (× a random factor 0.5..2), the bias is
    uniform within ±½ of that typical accumulator — so outputs spread over the range instead of
    saturating. rms(x): uniform codes ±m → √(m(m+1)/3); uint8 → 147; int8 → 74; later layers → act_max/3.
    An add's two multipliers are 0.3..0.7 · 2^s with s = mult_bits − 1 (each operand scaled down, the sum
    in range); avgpool_global's m/2^s is 1/(H·W) × 0.8..1.25.
    """
    rng = np.random.default_rng(seed)
    from logcam.nn.quant import quantize_multiplier

    layers = []
    m = spec.input.hi
    rms_x = {"codes": float(np.sqrt(m * (m + 1) / 3)), "uint8": 147.0, "int8": 74.0}[spec.input.format]
    empty8, empty32 = np.zeros(0, np.int8), np.zeros(0, np.int32)
    for shape in spec.layer_shapes():
        n_out = shape.conv_shape[0]
        if shape.kind == "add":
            s = spec.quant.mult_bits - 1
            ma = np.clip(np.round(rng.uniform(0.3, 0.7, size=2) * (1 << s)), 1, (1 << s) - 1).astype(np.int32)
            layers.append(LayerParams(empty8, empty32, ma, np.array([s], np.int32)))
            rms_x = spec.quant.act_max / 3
            continue
        if shape.kind == "avgpool_global":
            mg, sg = quantize_multiplier(float(rng.uniform(0.8, 1.25)) / shape.fan_in, spec.quant.mult_bits)
            layers.append(LayerParams(empty8, empty32, np.array([mg], np.int32), np.array([sg], np.int32)))
            continue
        wshape = (n_out, shape.fan_in)
        w = rng.integers(-128, 128, size=wshape, dtype=np.int64)
        typical = max(1.0, float(np.sqrt(shape.fan_in)) * 74.0 * rms_x)
        bmax = max(1, min(int(typical / 2), (1 << 30) - 1))
        bias = rng.integers(-bmax, bmax + 1, size=n_out, dtype=np.int64)
        target = spec.quant.act_max / 3
        ms = [quantize_multiplier(float(target / typical * rng.uniform(0.5, 2.0)), spec.quant.mult_bits)
              for _ in range(n_out)]
        if shape.kind != "fc":
            w = w.reshape(param_shapes(spec, shape.index)["weight"])
        layers.append(LayerParams(w.astype(np.int8), bias.astype(np.int32),
                                  np.array([m for m, _ in ms], dtype=np.int32),
                                  np.array([s for _, s in ms], dtype=np.int32)))
        rms_x = spec.quant.act_max / 3
    return Bundle(tuple(layers), {})


def load_net(net: str | Path | None = None, weights: str | Path | None = None,
             random_weights: int | None = None) -> tuple[NetSpec, Bundle, str]:
    """(NetSpec, Bundle, where the weights came from): the one rule every command follows.

    ``net``: a NetSpec YAML (default: the embedded 2conv1fc). Weights: ``weights`` (a bundle .npz), or
    seeded random int8 weights with ``random_weights`` (a seed), or else the bundle beside the YAML
    (same stem, .npz); no bundle there is one error line that says how to choose.
    """
    from logcam.config import embedded_config

    net_path = Path(net) if net is not None else embedded_config("nets/2conv1fc.yaml")
    spec = NetSpec.load(net_path)
    if weights is not None and random_weights is not None:
        raise InputError("give either --weights or --random-weights, not both")
    if weights is not None:
        return spec, Bundle.load(spec, weights), str(weights)
    if random_weights is not None:
        return spec, random_bundle(spec, seed=random_weights), f"random (seed {random_weights})"
    sibling = net_path.with_suffix(".npz")
    if sibling.is_file():
        return spec, Bundle.load(spec, sibling), str(sibling)
    raise InputError(f"{net_path.name}: no weights bundle ({sibling.name} not found); "
                     f"pass --weights W.npz, or --random-weights SEED for random int8 weights")


def check_input_values(x: np.ndarray, spec: NetSpec, name: str = "network input") -> None:
    """Raise InputError if an input batch (numpy or torch) has the wrong shape or values outside the input format."""
    if not isinstance(x, np.ndarray):
        x = x.detach().cpu().numpy() if hasattr(x, "detach") else np.asarray(x)
    if x.dtype.names is not None or x.dtype.kind not in "iu":
        raise InputError(f"{name}: values must be integers ({spec.input.format}), got dtype {x.dtype}")
    if tuple(x.shape[-3:]) != spec.input.shape:
        raise InputError(f"{name}: must be N×{'×'.join(map(str, spec.input.shape))}, got {tuple(x.shape)}")
    if x.size and (int(x.min()) < spec.input.lo or int(x.max()) > spec.input.hi):
        raise InputError(f"{name}: values must lie in {spec.input.lo}..{spec.input.hi} "
                         f"({spec.input.format}), got {x.min()}..{x.max()}")


__all__ = ["INPUT_FORMATS", "OPERATORS", "ROUNDING_MODES", "AddSpec", "AvgPoolGlobalSpec", "Bundle", "ConfigError",
           "ConvSpec", "DepthwiseSpec", "FcSpec", "InputSpec", "LayerParams", "LayerShape", "NetSpec", "Operator",
           "PointwiseSpec", "QuantSpec", "check_buildable", "check_input_values", "load_net", "param_shapes",
           "random_bundle"]
