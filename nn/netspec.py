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

INPUT_FORMATS = ("codes", "uint8")


class InputSpec(StrictModel):
    """The network input: a C×H×W frame of RDC codes (signed, ±m) or of 8-bit unsigned pixels."""

    channels: int = Field(1, ge=1, le=64, description="input channels (2 for the RDC's hv mode)")
    height: int = Field(..., ge=1, le=1024, description="pixels")
    width: int = Field(..., ge=1, le=1024, description="pixels")
    format: Literal["codes", "uint8"] = Field("codes", description="RDC codes or 8-bit gamma image")
    levels: Literal[3, 5, 7] | None = Field(3, description="code levels (codes only)")

    @model_validator(mode="after")
    def _check(self) -> InputSpec:
        if self.format == "codes" and self.levels is None:
            raise ValueError("input.levels: codes need levels 3, 5 or 7")
        return self

    @property
    def lo(self) -> int:
        """Smallest input value."""
        return -self.hi if self.format == "codes" else 0

    @property
    def hi(self) -> int:
        """Largest input value."""
        return ((self.levels or 1) - 1) // 2 if self.format == "codes" else 255

    @property
    def bits(self) -> int:
        """Bits per input value: signed code width (2 for 3 levels, 3 for 5/7) or 8 (unsigned)."""
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
    pe: int = Field(1, ge=1, description="output channels computed in parallel (divides out_channels)")
    simd: int = Field(1, ge=1, description="inputs of the in_channels·k² fan-in consumed in parallel (divides it)")


class FcSpec(StrictModel):
    """Fully connected layer on the flattened (C, H, W) input."""

    type: Literal["fc"] = "fc"
    out_features: int = Field(..., ge=1, le=4096)
    relu: bool = False
    pe: int = Field(1, ge=1, description="outputs computed in parallel (divides out_features)")
    simd: int = Field(1, ge=1, description="inputs consumed in parallel (divides in_features)")


LayerSpec = Annotated[ConvSpec | FcSpec, Field(discriminator="type")]


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


class NetSpec(StrictModel):
    """A quantized CNN and its hardware folding."""

    name: str = Field("net", pattern=r"^[A-Za-z0-9_\-]+$")
    input: InputSpec
    layers: list[LayerSpec] = Field(..., min_length=1, max_length=16)
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
            if isinstance(layer, ConvSpec):
                if seen_fc:
                    raise ValueError(f"{where}: a conv layer cannot follow an fc layer")
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
            if fan_in * max_x * 128 >= 1 << 30:
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
        """(lo, hi) of layer ``index``'s int8 outputs: ReLU clamps at the zero point."""
        q = self.quant
        return (q.zero_point if self.layers[index].relu else q.act_min, q.act_max)

    def macs(self) -> int:
        """Multiply-accumulates per frame, all layers."""
        return sum(s.macs for s in self.layer_shapes())

    def ideal_cycles(self) -> list[int]:
        """Per layer: MACs / (pe·simd) — the cycles per frame if its MAC array never idles."""
        return [-(-s.macs // (layer.pe * layer.simd)) for s, layer in zip(self.layer_shapes(), self.layers)]

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
            n_out = shape.conv_shape[0]
            if isinstance(layer, ConvSpec):
                wshape: tuple[int, ...] = (n_out, shape.in_shape[0], layer.kernel, layer.kernel)
            else:
                wshape = (n_out, shape.fan_in)
            want = {"weight": (wshape, -128, 127), "bias": ((n_out,), -(1 << 30), (1 << 30) - 1),
                    "mult": ((n_out,), 0, (1 << (q.mult_bits - 1)) - 1), "shift": ((n_out,), 0, MAX_SHIFT)}
            got = {}
            for name, (ws, lo, hi) in want.items():
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
        expected = {f"layer{i}.{name}" for i in range(n) for name in ("weight", "bias", "mult", "shift")}
        other = sorted(k for k in arrays if k not in expected and not k.startswith("scale."))
        stray = [k for k in other if re.fullmatch(r"layer\d+\.(weight|bias|mult|shift)", k)]
        if stray:
            raise InputError(f"{where}: arrays for layers the NetSpec does not have ({n} layers): {stray}")
        if other:
            raise InputError(f"{where}: unknown arrays {other} (allowed: layer{{i}}.weight|bias|mult|shift, scale.*)")
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
        for i, lp in enumerate(self.layers):
            arrays.update({f"layer{i}.weight": lp.weight.astype(np.int8), f"layer{i}.bias": lp.bias.astype(np.int32),
                           f"layer{i}.mult": lp.mult.astype(np.int32), f"layer{i}.shift": lp.shift.astype(np.int32)})
        arrays.update({f"scale.{k}": np.float64(v) for k, v in self.scales.items()})
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as zf:
            for key in sorted(arrays):
                buf = io.BytesIO()
                np.lib.format.write_array(buf, np.asarray(arrays[key]), allow_pickle=False)
                zf.writestr(zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0)), buf.getvalue())


def random_bundle(spec: NetSpec, seed: int = 0) -> Bundle:
    """Random weights with requant factors that keep activations in range (for tests and benches).

    Weights are uniform int8; per output channel the multiplier maps the typical accumulator
    (√fan_in · rms(w) · rms(x)) to about act_max/3 LSB of output (× a random factor 0.5..2), the bias is
    uniform within ±½ of that typical accumulator — so outputs spread over the range instead of
    saturating. rms(x): uniform codes ±m → √(m(m+1)/3); uint8 → 147; later layers → act_max/3.
    """
    rng = np.random.default_rng(seed)
    from logcam.nn.quant import quantize_multiplier

    layers = []
    m = spec.input.hi
    rms_x = float(np.sqrt(m * (m + 1) / 3)) if spec.input.format == "codes" else 147.0
    for shape in spec.layer_shapes():
        n_out = shape.conv_shape[0]
        wshape = (n_out, shape.fan_in)
        w = rng.integers(-128, 128, size=wshape, dtype=np.int64)
        typical = max(1.0, float(np.sqrt(shape.fan_in)) * 74.0 * rms_x)
        bmax = max(1, min(int(typical / 2), (1 << 30) - 1))
        bias = rng.integers(-bmax, bmax + 1, size=n_out, dtype=np.int64)
        target = spec.quant.act_max / 3
        ms = [quantize_multiplier(float(target / typical * rng.uniform(0.5, 2.0)), spec.quant.mult_bits)
              for _ in range(n_out)]
        kind = spec.layers[shape.index]
        if isinstance(kind, ConvSpec):
            w = w.reshape(n_out, shape.in_shape[0], kind.kernel, kind.kernel)
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


__all__ = ["INPUT_FORMATS", "ROUNDING_MODES", "Bundle", "ConfigError", "ConvSpec", "FcSpec", "InputSpec",
           "LayerParams", "LayerShape", "NetSpec", "QuantSpec", "check_input_values", "load_net", "random_bundle"]
