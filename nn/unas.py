"""A µNAS-style search per input format: aging evolution over NetSpec-expressible networks with structured pruning,
under µNAS's four bounds (error, peak memory, model size, MACs) — the log-gradient paper's input-format comparison.

The algorithm is µNAS's (Liberis et al., "µNAS: Constrained Neural Architecture Search for Microcontrollers"):

- A *point* is an architecture and a target sparsity. The first ``population`` points are random (sparsity
  uniform in [min_sparsity, max_sparsity]); then, for ``cycles`` cycles, ``sample`` points are drawn from the
  population, the best of them under a fresh random scalarisation is mutated (one architecture morph, the sparsity
  + N(0, 0.05) clipped to the range), the child is trained and evaluated and joins the population, and the
  *oldest* member dies. The scalarisation is µNAS's: λ_k ~ U(0, 1) per objective, fitness = −max_k min(m_k / B_k,
  10) / λ_k over (validation error, peak memory, model size, MACs) and their bounds B_k.
- The architectures are what the accelerator builds (:data:`~logcam.nn.netspec.OPERATORS`): a chain of blocks,
  each a ``conv`` (k ∈ {3, 5, 7}, stride 1/2, optional 2×2 max-pool) or a depthwise-separable pair
  (``depthwise`` k ∈ {3, 5, 7}, stride 1/2, then ``pointwise``), then up to one hidden ``fc`` (ReLU) and the
  ``fc`` classifier, downsampled at least 4× per side before the fc. Every point is a valid
  :class:`~logcam.nn.netspec.NetSpec`, so every winner exports to an int8 bundle and runs on the golden model
  and the RTL.
- Training: SGDW (SGD with momentum and decoupled weight decay), float networks with standardised inputs and
  batch norm after every conv, pointwise and depthwise layer (folded into the weights when the pruned network is
  extracted, so the NetSpec has none);
  structured pruning: from epoch ``prune_start`` to ``prune_end`` each conv and pointwise layer's output
  channels with the smallest L1 filter norm are masked, the pruned fraction ramping linearly from 0 to the
  point's sparsity (masks recomputed every epoch; a depthwise channel follows its input channel). The pruned
  network — the NetSpec with the surviving channel counts, which computes exactly what the masked one does —
  is what the metrics measure.
- Metrics of a (pruned) NetSpec (:func:`metrics`): MACs per frame; model size = int8 weights + int32 biases,
  bytes (the bundle's arrays; requant multipliers not counted); peak memory = µNAS's for a chain of operators:
  the largest input + output buffer of any operator, int8 activations, the input at its format's width
  (:data:`INPUT_BITS`), a conv's 2×2 pool counted as its own operator; energy = the CNN stage of logcam's energy
  model (``energy.activity.cnn_activity`` → ``energy.components.stage_pj``, pJ per frame).

Per format the search's history (every evaluated point) gives, at a fixed test error e*, the smallest model size,
MACs and peak memory of any network with error ≤ e* and the *winner* (the smallest model at e*); the paper
compares them between formats (at 2 % error FP log-gradient ≈ 5× smaller model size and MACs, ≈ 1.1× smaller
peak memory than JPEG). e* defaults to the largest of the formats' best errors, so that every format has a
network at it.
"""

from __future__ import annotations

import functools
import json
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from pydantic import Field, field_validator, model_validator

from logcam.config import validate
from logcam.errors import ConfigError, InputError
from logcam.files import atomic_write, check_folder, make_folder
from logcam.nn.data import MAX_SEED, RawDataset, split_indices
from logcam.nn.experiments import (
    DataScale,
    Outcome,
    _data,
    _plt,
    _save_fig,
    _write_csv,
    mean_ci,
)
from logcam.nn.formats import FORMATS, InputFormat, get_format
from logcam.nn.models import QuantNet
from logcam.nn.netspec import NetSpec
from logcam.nn.train import accuracy, batches

UNAS_FORMATS = ("jpeg8", "raw16", "fp_loggrad", "loggrad_q3", "loggrad_q5")
#: Bits per input value in the peak-memory count: the format's stored width. fp_loggrad is held as int8 like every
#: activation of µNAS's int8 deployment; the codes are packed at their code width.
INPUT_BITS = {"raw16": 16, "jpeg8": 8, "fp_loggrad": 8, "loggrad_q3": 2, "loggrad_q5": 3}
KERNELS = (3, 5, 7)
MAX_BLOCKS = 6
MAX_SEEDS = 20
#: µNAS's bounds in the paper, at 96×96×1 inputs.
PAPER_BOUNDS = {"error": 0.05, "peak_memory_bytes": 10_000, "model_size_bytes": 20_000, "macs": 1_000_000}
PAPER_SIZE = 96
#: Default bounds away from 96×96 (see UnasConfig.bounds): error, and peak memory at 32×32, bytes.
SCALED_ERROR_BOUND = 0.3
SCALED_PEAK_MEMORY = 4000

PAPER_NUMBERS: dict[str, object] = {
    "fixed_error": 0.02,
    "ratio_jpeg8_over_fp_loggrad": {"model_size_bytes": 5.0, "macs": 5.0, "peak_memory_bytes": 1.1},
    "bounds": PAPER_BOUNDS,
    "claim": "at 2 % error, FP log-gradient inputs give ≈ 5× smaller model size and MACs and ≈ 1.1× smaller peak "
             "memory than JPEG (µNAS with structured pruning, 96×96×1, bounds error 0.05, peak memory 10 000 B, "
             "model size 20 000 B, MACs 10^6)",
}
METRICS = ("model_size_bytes", "macs", "peak_memory_bytes")


class UnasConfig(DataScale):
    """Scale of a µNAS run: data, training recipe with pruning, aging evolution, bounds, seeds."""

    formats: tuple[str, ...] = UNAS_FORMATS
    epochs: int = Field(8, ge=1, le=1000)
    batch: int = Field(32, ge=1, le=4096, description="the paper's 128 under --paper; 32 by default so that the "
                                                      "few images and epochs still give ~200 steps")
    lr: float = Field(0.03, gt=0, le=10, description="SGDW learning rate")
    momentum: float = Field(0.9, ge=0, lt=1)
    weight_decay: float = Field(1e-4, ge=0, le=1, description="decoupled weight decay per step, × lr")
    prune_start: int | None = Field(None, ge=0, description="first pruning epoch (0-based); default 40/80 of epochs")
    prune_end: int | None = Field(None, ge=0, description="epoch by which the target sparsity is reached; "
                                                          "default 75/80 of epochs")
    min_sparsity: float = Field(0.1, ge=0, lt=1)
    max_sparsity: float = Field(0.85, ge=0, lt=1)
    population: int = Field(8, ge=2, le=1000)
    sample: int = Field(3, ge=1, le=1000, description="points drawn per cycle; the best is mutated")
    cycles: int = Field(12, ge=0, le=100_000, description="evolution cycles after the initial population")
    max_channels: int = Field(32, ge=2, le=512, description="largest channel count of a block")
    error_bound: float | None = Field(None, gt=0, le=1, description="default: 0.05 at 96×96, else 0.3 (bounds())")
    peak_memory_bound: int | None = Field(None, ge=1, description="bytes; default 10 000 at 96×96, else 4 000 × "
                                                                  "(size/32)² (bounds())")
    model_size_bound: int | None = Field(None, ge=1, description="bytes; default 20 000")
    mac_bound: int | None = Field(None, ge=1, description="MACs per frame; default 10^6 × (size/96)²")
    fixed_error: float | None = Field(None, gt=0, le=1, description="test error of the comparison; default: the "
                                                                    "largest of the formats' best errors")
    export_format: str | None = Field("loggrad_q3", description="format whose winner is exported (None: none)")
    seed: int = Field(0, ge=0, le=MAX_SEED - MAX_SEEDS)
    seeds: int = Field(1, ge=1, le=MAX_SEEDS)
    threads: int = Field(1, ge=1, le=256)

    @field_validator("formats")
    @classmethod
    def _formats(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        if not v:
            raise ValueError("give at least one format")
        for f in v:
            if f not in FORMATS:
                raise ValueError(f"unknown format {f!r}; choose from {', '.join(FORMATS)}")
        return v

    @model_validator(mode="after")
    def _check(self) -> UnasConfig:
        if self.min_sparsity > self.max_sparsity:
            raise ValueError(f"min_sparsity: {self.min_sparsity} is above max_sparsity {self.max_sparsity}")
        if self.sample > self.population:
            raise ValueError(f"sample: {self.sample} is more than the population ({self.population})")
        start, end = self.prune_window
        if not start <= end < self.epochs:
            raise ValueError(f"prune_start/prune_end: need 0 ≤ start ≤ end < epochs ({self.epochs}), got "
                             f"{start}..{end}")
        if self.export_format is not None:
            if self.export_format not in self.formats:
                raise ValueError(f"export_format: {self.export_format!r} is not one of the searched formats")
            if get_format(self.export_format).netspec_format is None:
                raise ValueError(f"export_format: {self.export_format!r} has no integer form (use jpeg8, "
                                 f"loggrad_q3 or loggrad_q5)")
        return self

    @property
    def prune_window(self) -> tuple[int, int]:
        """(first pruning epoch, epoch the target sparsity is reached), 0-based; µNAS's 40 and 75 of 80 scaled."""
        start = self.prune_start if self.prune_start is not None else self.epochs * 40 // 80
        end = self.prune_end if self.prune_end is not None else max(start, self.epochs * 75 // 80 - 1)
        return start, end

    def bounds(self) -> dict[str, float]:
        """µNAS's four bounds at this scale. Given values win; otherwise at the paper's 96×96 the paper's bounds,
        and at other sizes: MACs × (size/96)² (they grow with the pixels), model size the paper's 20 000 B, error
        :data:`SCALED_ERROR_BOUND` (the synthetic task at the defaults' scale does not reach 0.05) and peak memory
        :data:`SCALED_PEAK_MEMORY` × (size/32)² (the paper's 10 000 B scaled by pixels, 1 111 B at 32×32, lies
        below an 8-bit 32×32 input plus any first-layer output, so no JPEG network could meet it)."""
        paper = self.size == PAPER_SIZE
        scale = (self.size / PAPER_SIZE) ** 2
        return {"error": self.error_bound or (PAPER_BOUNDS["error"] if paper else SCALED_ERROR_BOUND),
                "peak_memory_bytes": self.peak_memory_bound or (
                    PAPER_BOUNDS["peak_memory_bytes"] if paper else round(SCALED_PEAK_MEMORY * (self.size / 32) ** 2)),
                "model_size_bytes": self.model_size_bound or PAPER_BOUNDS["model_size_bytes"],
                "macs": self.mac_bound or round(PAPER_BOUNDS["macs"] * scale)}


#: A smoke run (about a minute on a shared 2-core machine).
UNAS_QUICK = {"size": 24, "n": 150, "epochs": 2, "population": 3, "sample": 2, "cycles": 2, "max_channels": 16}
#: µNAS at the paper's settings: 96×96, 6 550 objects with PASCAL RAW's imbalance, batch 128, 80 epochs, SGDW lr
#: 0.03, momentum 0.9, weight decay 1e-4, pruning over epochs 40–75 with sparsity 0.1–0.85, µNAS's own aging
#: evolution (population 100, sample 25, 2 000 points), the paper's bounds unscaled.
UNAS_PAPER = {"size": 96, "n": 6550, "imbalance": "pascalraw", "epochs": 80, "batch": 128, "lr": 0.03,
              "momentum": 0.9, "weight_decay": 1e-4, "prune_start": 40, "prune_end": 75, "min_sparsity": 0.1,
              "max_sparsity": 0.85, "population": 100, "sample": 25, "cycles": 1900, "max_channels": 128,
              "error_bound": 0.05, "peak_memory_bound": 10_000, "model_size_bound": 20_000, "mac_bound": 1_000_000}


# --- the search space ----------------------------------------------------------------------------------

Block = tuple[str, int, int, int, int]  # (kind "conv" | "dwsep", kernel, channels, stride, pool)


@dataclass(frozen=True)
class Arch:
    """An architecture: the conv blocks and the hidden fc width (0: none)."""

    blocks: tuple[Block, ...]
    hidden: int = 0

    def layers(self, classes: int, keep: dict[int, int] | None = None) -> list[dict]:
        """NetSpec layers; ``keep`` (NetSpec layer index → channels) narrows pruned conv/pointwise layers."""
        keep = keep or {}
        out: list[dict] = []
        for kind, k, c, s, p in self.blocks:
            if kind == "conv":
                out.append({"type": "conv", "out_channels": keep.get(len(out), c), "kernel": k, "stride": s,
                            "pad": k // 2, "relu": True, "pool": p})
            else:
                out.append({"type": "depthwise", "kernel": k, "stride": s, "pad": k // 2, "relu": True})
                out.append({"type": "pointwise", "out_channels": keep.get(len(out), c), "relu": True})
        if self.hidden:
            out.append({"type": "fc", "out_features": self.hidden, "relu": True})
        out.append({"type": "fc", "out_features": classes, "relu": False})
        return out

    def describe(self) -> str:
        parts = [f"{'c' if kind == 'conv' else 'ds'}{k}x{c}{'/s2' if s == 2 else ''}{'+p' if p == 2 else ''}"
                 for kind, k, c, s, p in self.blocks]
        return " ".join(parts + ([f"fc{self.hidden}"] if self.hidden else []))


def input_spec(fmt: InputFormat, size: int) -> dict:
    """The NetSpec input of a format (float formats: ``uint8`` as a stand-in; they have no integer form)."""
    nf = fmt.netspec_format or "uint8"
    return {"channels": fmt.channels, "height": size, "width": size, "format": nf,
            "levels": fmt.netspec_levels if nf == "codes" else None}


def net_spec(arch: Arch, fmt: InputFormat, size: int, class_names: tuple[str, ...], keep: dict[int, int] | None = None,
             name: str = "unas") -> NetSpec:
    """The NetSpec of ``arch`` on ``fmt`` inputs (ValueError / ConfigError if the shapes cannot work)."""
    return validate(NetSpec, {"name": name, "input": input_spec(fmt, size),
                              "layers": arch.layers(len(class_names), keep), "classes": list(class_names)},
                    where="unas")


def _valid(arch: Arch, fmt: InputFormat, size: int, classes: tuple[str, ...]) -> bool:
    """In the search space: a valid NetSpec whose blocks downsample at least 4× per side before the fc (µNAS's
    networks pool before their dense layers; a full-resolution fc input is slow and never small)."""
    try:
        spec = net_spec(arch, fmt, size, classes)
    except (ConfigError, ValueError):
        return False
    last = next(s for s in reversed(spec.layer_shapes()) if s.kind != "fc")
    return last.out_shape[1] <= max(1, size // 4)


def _channels(rng: random.Random, cfg: UnasConfig) -> int:
    return rng.choice([c for c in (2, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128) if c <= cfg.max_channels])


def random_arch(rng: random.Random, cfg: UnasConfig, fmt: InputFormat, classes: tuple[str, ...]) -> Arch:
    """A random valid architecture (1–3 blocks, pooling or striding so the fc stays small)."""
    while True:
        blocks = tuple((rng.choice(("conv", "dwsep")), rng.choice(KERNELS), _channels(rng, cfg), rng.choice((1, 2)),
                        rng.choice((1, 2))) for _ in range(rng.randint(1, 3)))
        blocks = tuple((kind, k, c, s, p if kind == "conv" else 1) for kind, k, c, s, p in blocks)
        arch = Arch(blocks, rng.choice((0, 0, 16, 32)))
        if _valid(arch, fmt, cfg.size, classes):
            return arch


def mutate(arch: Arch, rng: random.Random, cfg: UnasConfig, fmt: InputFormat, classes: tuple[str, ...]) -> Arch:
    """One µNAS-style morph of ``arch`` (a different, valid architecture)."""
    for _ in range(200):
        blocks = list(arch.blocks)
        hidden = arch.hidden
        i = rng.randrange(len(blocks))
        kind, k, c, s, p = blocks[i]
        move = rng.choice(("channels", "kernel", "stride", "pool", "kind", "insert", "remove", "hidden"))
        if move == "channels":
            c = max(1, min(cfg.max_channels, rng.choice((c // 2, c * 2, c - 2, c + 2, _channels(rng, cfg)))))
        elif move == "kernel":
            k = rng.choice([x for x in KERNELS if x != k])
        elif move == "stride":
            s = 3 - s
        elif move == "pool" and kind == "conv":
            p = 3 - p
        elif move == "kind":
            kind, p = ("dwsep", 1) if kind == "conv" else ("conv", p)
        elif move == "insert" and len(blocks) < MAX_BLOCKS:
            blocks.insert(i + 1, (rng.choice(("conv", "dwsep")), rng.choice(KERNELS), _channels(rng, cfg), 1, 1))
        elif move == "remove" and len(blocks) > 1:
            del blocks[i]
        elif move == "hidden":
            hidden = rng.choice([h for h in (0, 8, 16, 32, 64) if h != hidden])
        if move not in ("insert", "remove"):
            blocks[i] = (kind, k, c, s, p)
        child = Arch(tuple(blocks), hidden)
        if child != arch and _valid(child, fmt, cfg.size, classes):
            return child
    return random_arch(rng, cfg, fmt, classes)


# --- metrics -------------------------------------------------------------------------------------------

def metrics(spec: NetSpec, fmt_name: str) -> dict[str, float]:
    """MACs, model size (int8 weights + int32 biases, bytes), µNAS peak memory (bytes) and the CNN stage energy
    (pJ per frame, logcam's energy model) of a NetSpec whose input is in format ``fmt_name``."""
    from logcam.energy.activity import cnn_activity
    from logcam.energy.components import stage_pj

    shapes = spec.layer_shapes()
    size = sum(s.weight_count + (s.conv_shape[0] if s.weight_count else 0) * 4 for s in shapes)
    peak = 0.0
    for s in shapes:
        in_bytes = math.prod(s.in_shape) * (INPUT_BITS[fmt_name] if s.index == 0 else spec.quant.act_bits) / 8
        conv = math.prod(s.conv_shape) * spec.quant.act_bits / 8
        out = math.prod(s.out_shape) * spec.quant.act_bits / 8
        peak = max(peak, math.ceil(in_bytes) + conv, conv + out if s.out_shape != s.conv_shape else 0)
    energy = sum(stage_pj(cnn_activity(spec), _tech()).components.values())
    return {"macs": spec.macs(), "model_size_bytes": size, "peak_memory_bytes": peak, "energy_pj": energy}


@functools.lru_cache(maxsize=1)
def _tech():
    """The technology table, read once per process (every evaluated point costs its network with it)."""
    from logcam.energy.tech import TechTable

    return TechTable.load()


# --- training with structured pruning ------------------------------------------------------------------

@dataclass
class Evaluated:
    """One trained point: architecture, target sparsity, errors and the pruned network's metrics."""

    arch: Arch
    sparsity: float
    val_error: float
    test_error: float
    keep: dict[int, int]
    spec: NetSpec
    metrics: dict[str, float]
    born: int

    def row(self, fmt: str, seed: int) -> dict[str, object]:
        return {"format": fmt, "seed": seed, "point": self.born, "arch": self.arch.describe(),
                "sparsity": round(self.sparsity, 4), "val_error": self.val_error, "test_error": self.test_error,
                **self.metrics}


def _prunable(spec: NetSpec) -> tuple[list[int], dict[int, int]]:
    """(conv/pointwise layer indices, depthwise index → the pruned layer whose channels it carries)."""
    own: list[int] = []
    follows: dict[int, int] = {}
    source: int | None = None
    for i, layer in enumerate(spec.layers):
        if layer.type in ("conv", "pointwise"):
            own.append(i)
            source = i
        elif layer.type == "depthwise" and source is not None:
            follows[i] = source
    return own, follows


def _folded(op: torch.nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
    """(weight, bias) of a layer's op with its batch norm (eval statistics) folded in: w·g, (b − μ)·g + β for
    g = γ / √(σ² + ε); an op without batch norm as it is."""
    if not isinstance(op, torch.nn.Sequential):
        return op.weight.detach(), op.bias.detach()
    conv, bn = op
    g = (bn.weight / torch.sqrt(bn.running_var + bn.eps)).detach()
    return conv.weight.detach() * g.view(-1, 1, 1, 1), ((conv.bias - bn.running_mean) * g + bn.bias).detach()


def _masks(model: QuantNet, own: list[int], frac: float) -> dict[int, torch.Tensor]:
    """Per pruned layer a 0/1 channel mask keeping the filters of largest L1 norm (batch norm folded in) — a
    fraction ``frac`` masked, at least one kept."""
    out = {}
    for i in own:
        norms = _folded(model.layers[i].op)[0].abs().flatten(1).sum(1)
        n = len(norms)
        drop = min(n - 1, math.floor(frac * n))
        m = torch.ones(n)
        if drop:
            m[torch.argsort(norms, stable=True)[:drop]] = 0.0
        out[i] = m
    return out


@dataclass
class Trained:
    """A trained, pruned point: the masked float model, its channel masks and the surviving channels per pruned
    layer (NetSpec index → count)."""

    model: QuantNet
    masks: dict[int, torch.Tensor]
    keep: dict[int, int]


def train_point(cfg: UnasConfig, spec: NetSpec, x: torch.Tensor, y: torch.Tensor, train: torch.Tensor,
                sparsity: float, seed: int) -> Trained:
    """Train ``spec`` on ``x[train]`` (float, standardised inputs) with SGDW and ramped structured pruning."""
    torch.manual_seed(seed)
    model = QuantNet(spec, 1.0, quant=False)
    model.standardize(float(x[train].mean()), float(x[train].std()))
    for layer in model.layers:  # batch norm after every conv, pointwise and depthwise (as µNAS trains them)
        if isinstance(layer.op, torch.nn.Conv2d):
            layer.op = torch.nn.Sequential(layer.op, torch.nn.BatchNorm2d(layer.op.out_channels))
    own, follows = _prunable(spec)
    masks: dict[int, torch.Tensor] = {}

    def hook(i: int) -> Callable:
        def apply(_m: torch.nn.Module, _inp: object, out: torch.Tensor) -> torch.Tensor:
            src = follows.get(i, i)
            return out * masks[src].view(1, -1, 1, 1) if src in masks else out
        return apply

    for i in (*own, *follows):
        model.layers[i].register_forward_hook(hook(i))
    opt = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum)
    loss_fn = torch.nn.CrossEntropyLoss()
    gen = torch.Generator().manual_seed(seed)
    start, end = cfg.prune_window
    for epoch in range(cfg.epochs):
        if epoch >= start and sparsity > 0:
            masks.clear()
            masks.update(_masks(model, own, sparsity * min(1.0, (epoch - start + 1) / (end - start + 1))))
        model.train()
        for idx in batches(len(train), cfg.batch, gen):
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(x[train[idx]]), y[train[idx]])
            loss.backward()
            with torch.no_grad():  # SGDW: decoupled weight decay
                for p in model.parameters():
                    p.mul_(1 - cfg.lr * cfg.weight_decay)
            opt.step()
    model.eval()
    keep = {i: int(masks[i].sum()) if i in masks else len(_folded(model.layers[i].op)[1]) for i in own}
    return Trained(model, dict(masks), keep)


@torch.no_grad()
def extract_pruned(trained: Trained, pruned: NetSpec) -> QuantNet:
    """The pruned network as its own (narrower) float model: the surviving channels' weights copied from the masked
    one with batch norm folded in, which it computes exactly (a masked channel is zero at every position, so nothing
    downstream reads it)."""
    src = trained.model
    net = QuantNet(pruned, 1.0, quant=False)
    net.in_mean, net.in_std = src.in_mean, src.in_std
    shapes = src.spec.layer_shapes()
    alive: torch.Tensor | None = None  # surviving channels of the previous layer's output (None: all)
    for i, (a, b) in enumerate(zip(src.layers, net.layers)):
        w, bias = _folded(a.op)
        kind = src.spec.layers[i].type
        if alive is not None and kind == "depthwise":  # one filter per channel: follows its input
            w, bias = w[alive], bias[alive]
        elif alive is not None and kind == "fc":  # flattened C, H, W: keep the surviving channels' columns
            w = w.view(w.shape[0], shapes[i].in_shape[0], -1)[:, alive].flatten(1)
        elif alive is not None:
            w = w[:, alive]
        if i in trained.masks:
            out = trained.masks[i].nonzero().flatten()
            w, bias = w[out], bias[out]
            alive = out
        elif kind != "depthwise":  # an unpruned conv, pointwise or fc: all its outputs
            alive = None
        b.op.weight.copy_(w)
        b.op.bias.copy_(bias)
    net.eval()
    return net


# --- aging evolution -----------------------------------------------------------------------------------

def _fitness(point: Evaluated, bounds: dict[str, float], lambdas: list[float]) -> float:
    """µNAS's scalarisation: −max_k min(m_k / B_k, 10) / λ_k."""
    vals = [point.val_error, point.metrics["peak_memory_bytes"], point.metrics["model_size_bytes"],
            point.metrics["macs"]]
    bs = [bounds["error"], bounds["peak_memory_bytes"], bounds["model_size_bytes"], bounds["macs"]]
    return -max(min(v / b, 10.0) / max(lam, 1e-12) for v, b, lam in zip(vals, bs, lambdas))


Tick = Callable[[str], None]


def search_format(cfg: UnasConfig, data: RawDataset, fmt_name: str, seed: int, tick: Tick | None = None
                  ) -> list[Evaluated]:
    """Aging evolution for one format on one seed's data; returns the history (every evaluated point)."""
    fmt = get_format(fmt_name, data.adc_bits)
    classes = tuple(data.class_names)
    x = data.formatted(fmt).tensors[0]
    y = data.labels
    tr, va, te = split_indices(y, seed)
    bounds = cfg.bounds()
    rng = random.Random(f"unas/{seed}/{fmt_name}")
    population: list[Evaluated] = []
    history: list[Evaluated] = []

    def evaluate(arch: Arch, sparsity: float) -> Evaluated:
        spec = net_spec(arch, fmt, cfg.size, classes)
        trained = train_point(cfg, spec, x, y, tr, sparsity, point_seed(seed, len(history)))
        pruned = net_spec(arch, fmt, cfg.size, classes, trained.keep)
        net = extract_pruned(trained, pruned)  # the errors are the pruned network's own
        val_e, test_e = 1 - accuracy(net, x[va], y[va]), 1 - accuracy(net, x[te], y[te])
        ev = Evaluated(arch, sparsity, val_e, test_e, trained.keep, pruned, metrics(pruned, fmt_name), len(history))
        history.append(ev)
        population.append(ev)
        if tick:
            tick(f"{fmt_name} seed {seed}: {arch.describe()} err {test_e:.3f}")
        return ev

    for _ in range(cfg.population):
        evaluate(random_arch(rng, cfg, fmt, classes), rng.uniform(cfg.min_sparsity, cfg.max_sparsity))
    for _ in range(cfg.cycles):
        sample = [population[rng.randrange(len(population))] for _ in range(cfg.sample)]
        lambdas = [rng.uniform(0, 1) for _ in range(4)]
        parent = max(sample, key=lambda p: _fitness(p, bounds, lambdas))
        sparsity = min(cfg.max_sparsity, max(cfg.min_sparsity, parent.sparsity + rng.gauss(0, 0.05)))
        evaluate(mutate(parent.arch, rng, cfg, fmt, classes), sparsity)
        while len(population) > cfg.population:
            population.pop(0)  # the oldest dies
    return history


# --- the comparison at a fixed error -------------------------------------------------------------------

def at_error(history: list[Evaluated], e: float) -> dict[str, object] | None:
    """Smallest model size, MACs and peak memory of any network with test error ≤ ``e`` (each its own minimum) and
    the winner (smallest model, then fewest MACs); None if no network reaches ``e``."""
    ok = [p for p in history if p.test_error <= e + 1e-12]
    if not ok:
        return None
    win = min(ok, key=lambda p: (p.metrics["model_size_bytes"], p.metrics["macs"], p.born))
    out: dict[str, object] = {m: min(p.metrics[m] for p in ok) for m in METRICS}
    out.update({"winner": win, "winner_energy_pj": win.metrics["energy_pj"], "networks_at_error": len(ok)})
    return out


def in_bounds(p: Evaluated, bounds: dict[str, float]) -> bool:
    return (p.val_error <= bounds["error"] and p.metrics["peak_memory_bytes"] <= bounds["peak_memory_bytes"]
            and p.metrics["model_size_bytes"] <= bounds["model_size_bytes"] and p.metrics["macs"] <= bounds["macs"])


@dataclass
class UnasOutcome(Outcome):
    """A µNAS run's outcome: the experiments' one, plus the exported winner."""

    export: dict[str, object] | None = None

    def paper(self) -> object:
        return PAPER_NUMBERS

    def as_dict(self) -> dict[str, object]:
        return {**super().as_dict(), "export": self.export}


def _seed_rows(cfg: UnasConfig, seed: int, histories: dict[str, list[Evaluated]]) -> tuple[list[dict], float]:
    """Per format the fixed-error row of one seed, and that seed's e*."""
    best = {f: min(p.test_error for p in h) for f, h in histories.items()}
    e = cfg.fixed_error if cfg.fixed_error is not None else max(best.values())
    bounds = cfg.bounds()
    rows: list[dict[str, object]] = []
    found = {f: at_error(h, e) for f, h in histories.items()}
    ref = found.get("jpeg8")
    for f, h in histories.items():
        a = found[f]
        row: dict[str, object] = {"format": f, "seed": seed, "fixed_error": e, "best_test_error": best[f],
                                  "points": len(h), "in_bounds": sum(in_bounds(p, bounds) for p in h)}
        for m in METRICS:
            row[m] = a[m] if a else None
            row[f"jpeg8_over_this_{m}"] = (float(ref[m]) / float(a[m])  # type: ignore[arg-type,index]
                                           if a and ref else None)
        win: Evaluated | None = a["winner"] if a else None  # type: ignore[assignment]
        row.update({"winner_energy_pj": win.metrics["energy_pj"] if win else None,
                    "winner_model_size_bytes": win.metrics["model_size_bytes"] if win else None,
                    "winner_macs": win.metrics["macs"] if win else None,
                    "winner_peak_memory_bytes": win.metrics["peak_memory_bytes"] if win else None,
                    "winner_test_error": win.test_error if win else None,
                    "winner_arch": win.arch.describe() if win else "",
                    "winner_sparsity": round(win.sparsity, 4) if win else None})
        rows.append(row)
    return rows, e


VALUES = ("fixed_error", "best_test_error", "in_bounds", *METRICS, *(f"jpeg8_over_this_{m}" for m in METRICS),
          "winner_energy_pj", "winner_model_size_bytes", "winner_macs", "winner_peak_memory_bytes",
          "winner_test_error")


def _aggregate(per_seed: list[dict[str, object]]) -> list[dict[str, object]]:
    """One row per format: mean ± 95 % t over the seeds (None values, where a format missed e*, are left out)."""
    out = []
    for f in dict.fromkeys(str(r["format"]) for r in per_seed):
        rs = [r for r in per_seed if r["format"] == f]
        row: dict[str, object] = {"format": f, "seeds": len(rs)}
        for v in VALUES:
            vals = [r[v] for r in rs if r[v] is not None]
            row[v], row[f"{v}_ci95"] = mean_ci(vals)  # type: ignore[arg-type]
            row[f"{v}_seeds"] = " ".join("" if r[v] is None else f"{float(r[v]):.6g}" for r in rs)  # type: ignore[arg-type]
        row["winner_arch_seeds"] = " | ".join(str(r["winner_arch"]) for r in rs)
        paper = PAPER_NUMBERS["ratio_jpeg8_over_fp_loggrad"]
        for m in METRICS:
            row[f"paper_jpeg8_over_this_{m}"] = paper[m] if f == "fp_loggrad" else None  # type: ignore[index]
        out.append(row)
    return out


def _plot(cfg: UnasConfig, histories: dict[str, list[Evaluated]], rows: list[dict[str, object]], e: float) -> object:
    plt = _plt()
    fig, axes = plt.subplots(1, 4, figsize=(20, 4.4))
    labels = {"model_size_bytes": "model size, bytes (int8 w + int32 b)", "macs": "MACs per frame",
              "peak_memory_bytes": "peak memory, bytes (µNAS)"}
    bounds = cfg.bounds()
    for ax, m in zip(axes, METRICS):
        for f, h in histories.items():
            ax.scatter([p.metrics[m] for p in h], [p.test_error for p in h], s=12, alpha=0.7, label=f)
        ax.axhline(e, color="gray", ls=":", lw=1, label=f"e* = {e:.3f} (first seed)")
        ax.axvline(bounds[m], color="r", ls="--", lw=0.8, label="bound")
        ax.set_xscale("log")
        ax.set(xlabel=labels[m], ylabel="test error", title=f"error vs {m.split('_')[0]} (first seed, every point)")
        ax.legend(fontsize=7)
    ax = axes[3]
    formats = [str(r["format"]) for r in rows]
    width = 0.25
    for j, m in enumerate(METRICS):
        vals = [r[f"jpeg8_over_this_{m}"] or 0.0 for r in rows]
        err = [r[f"jpeg8_over_this_{m}_ci95"] or 0.0 for r in rows]
        xs = [i + (j - 1) * width for i in range(len(rows))]
        bars = ax.bar(xs, vals, width, yerr=err, capsize=2, label=m)
        if "fp_loggrad" in formats:
            i = formats.index("fp_loggrad")
            ax.plot([xs[i]], [PAPER_NUMBERS["ratio_jpeg8_over_fp_loggrad"][m]], marker="*", ms=14, mec="k",  # type: ignore[index]
                    color=bars[0].get_facecolor(), ls="none")
    ax.axhline(1, color="gray", lw=0.8)
    ax.set_xticks(range(len(rows)), formats, fontsize=8)
    ax.set(ylabel="JPEG's minimum / this format's (± 95 % t)", title="smaller than JPEG at e* by (paper ★: fp_loggrad)")
    ax.legend(fontsize=7)
    fig.suptitle(f"µNAS per input format: {cfg.size}×{cfg.size}, {cfg.n} images, {cfg.epochs} epochs, population "
                 f"{cfg.population}, sample {cfg.sample}, {cfg.cycles} cycles, {cfg.seeds} seed(s); paper: "
                 f"{PAPER_NUMBERS['claim']}", fontsize=8)
    return fig


# --- export of one winner ------------------------------------------------------------------------------

def point_seed(seed: int, born: int) -> int:
    """Torch seed of the ``born``-th point of a format's search on ``seed`` (training is deterministic in it)."""
    return seed * 100_003 + born


@torch.no_grad()
def _fold_standardize(net: QuantNet) -> None:
    """Fold the float input standardisation (x − μ)/σ into the first layer: w/σ, b − (μ/σ)·Σw. Exact away from
    the zero padding, where the input mean enters (≈ 0 for RDC codes)."""
    if net.in_mean is None:
        return
    op, mean, std = net.layers[0].op, float(net.in_mean), float(net.in_std)
    op.bias -= mean / std * op.weight.flatten(1).sum(1)
    op.weight /= std
    net.in_mean, net.in_std = None, None


def export_winner(cfg: UnasConfig, win: Evaluated, data: RawDataset, fmt_name: str, seed: int, out: Path
                  ) -> dict[str, object]:
    """Export the search's own winner: retrain its point (deterministic: same seed, same masks), extract the pruned
    network (batch norm folded), fold the input standardisation into its first layer, calibrate the int8 output
    scales on the training split (post-training quantization), write NetSpec + bundle and run the bit-exact golden
    model; the float and golden accuracies on the test split."""
    from logcam.nn.export import calibrate, export_bundle, golden_accuracy, write_export
    from logcam.nn.netspec import check_buildable

    fmt = get_format(fmt_name, data.adc_bits)
    x, y = data.formatted(fmt).tensors[0], data.labels
    tr, _, te = split_indices(y, seed)
    spec = net_spec(win.arch, fmt, cfg.size, tuple(data.class_names))
    trained = train_point(cfg, spec, x, y, tr, win.sparsity, point_seed(seed, win.born))
    if trained.keep != win.keep:
        raise InputError(f"export: retraining point {win.born} kept channels {trained.keep}, the search {win.keep} "
                         f"(training is deterministic only at a fixed thread count)")
    net = extract_pruned(trained, win.spec)
    _fold_standardize(net)
    calibrate(net, x[tr])
    for layer in net.layers:  # a layer that never fired (all outputs 0 after ReLU) is exact at any scale
        if float(layer.out_max) == 0.0:
            layer.out_max.fill_(1.0)
    out_spec, bundle = export_bundle(net, fmt, f"unas_{fmt_name}")
    acc, _ = golden_accuracy(out_spec, bundle, fmt.integer(data.frames[te]), y[te])
    make_folder(out)
    ypath, npath = write_export(out_spec, bundle, out / f"winner_{fmt_name}",
                                header=f"µNAS winner ({fmt_name}, seed {seed}, point {win.born}): "
                                       f"{win.arch.describe()}, sparsity {win.sparsity:.3f}; post-training int8")
    try:
        check_buildable(out_spec)
        buildable = True
    except ConfigError:
        buildable = False
    return {"format": fmt_name, "seed": seed, "arch": win.arch.describe(), "netspec": str(ypath),
            "bundle": str(npath), "float_test_accuracy": accuracy(net, x[te], y[te]), "golden_test_accuracy": acc,
            "search_test_error": win.test_error, "rtl_buildable": buildable, **win.metrics}


# --- driver --------------------------------------------------------------------------------------------

def unas_steps(cfg: UnasConfig) -> int:
    """Trained points of a run (the progress bar's total; the export adds one)."""
    return len(cfg.formats) * (cfg.population + cfg.cycles) * cfg.seeds + (cfg.export_format is not None)


def run_unas(name: str, cfg: UnasConfig, out: Path, tick: Tick | None = None) -> UnasOutcome:
    """Search every format over ``cfg.seeds`` seeds; writes OUT/unas.csv (one row per format: mean ± 95 % t and the
    per-seed values at the fixed error, the paper's ratio beside), OUT/unas_points.csv (every evaluated point),
    OUT/unas.png, OUT/unas.json, and the exported winner OUT/winner_FORMAT.yaml + .npz."""
    if name != "unas":
        raise ConfigError(f"experiment: {name!r} is not the µNAS experiment")
    check_folder(out)
    torch.set_num_threads(cfg.threads)
    t0 = time.perf_counter()
    per_seed: list[dict[str, object]] = []
    points: list[dict[str, object]] = []
    first: dict[str, list[Evaluated]] = {}
    first_e = 0.0
    export: dict[str, object] | None = None
    for seed in range(cfg.seed, cfg.seed + cfg.seeds):
        data = _data(cfg, seed)
        histories = {f: search_format(cfg, data, f, seed, tick) for f in cfg.formats}
        rows, e = _seed_rows(cfg, seed, histories)
        per_seed += rows
        points += [p.row(f, seed) for f, h in histories.items() for p in h]
        if seed == cfg.seed:
            first, first_e = histories, e
            if cfg.export_format is not None:
                win = at_error(histories[cfg.export_format], e)
                if win is None:  # e* is at least every format's best error, so a winner exists
                    raise InputError(f"export: no {cfg.export_format} network at error {e:.3f}")
                export = export_winner(cfg, win["winner"], data, cfg.export_format, seed, out)  # type: ignore[arg-type]
                if tick:
                    tick(f"export {cfg.export_format}")
    rows = _aggregate(per_seed)
    summary: dict[str, object] = {str(r["format"]): {
        "fixed_error": r["fixed_error"], "best_test_error": r["best_test_error"],
        **{m: {"ours": r[m], "ci95": r[f"{m}_ci95"]} for m in METRICS},
        **{f"jpeg8_over_this_{m}": {"ours": r[f"jpeg8_over_this_{m}"], "ci95": r[f"jpeg8_over_this_{m}_ci95"],
                                     "paper": r[f"paper_jpeg8_over_this_{m}"]} for m in METRICS},
        "winner_energy_pj": {"ours": r["winner_energy_pj"], "ci95": r["winner_energy_pj_ci95"]},
        "winner_arch_seeds": r["winner_arch_seeds"]} for r in rows}
    summary["bounds"] = cfg.bounds()
    fig = _plot(cfg, first, rows, first_e)
    make_folder(out)
    csv_path, png = out / "unas.csv", out / "unas.png"
    _write_csv(csv_path, rows)
    _write_csv(out / "unas_points.csv", points)
    _save_fig(fig, png)
    res = UnasOutcome(name, csv_path, png, rows, summary, time.perf_counter() - t0, per_seed, export)
    text = json.dumps({**res.as_dict(), "points": points, "config": cfg.model_dump(mode="json")}, indent=2,
                      default=str)
    atomic_write(out / "unas.json", lambda tmp: tmp.write_text(text, encoding="utf-8"))
    return res


__all__ = ["INPUT_BITS", "PAPER_BOUNDS", "UNAS_FORMATS", "UNAS_PAPER", "UNAS_QUICK", "Arch", "Evaluated", "Trained",
           "UnasConfig", "UnasOutcome", "at_error", "export_winner", "extract_pruned", "metrics", "mutate", "net_spec",
           "random_arch", "run_unas", "search_format", "train_point", "unas_steps"]
