"""Training of the 2conv1fc family on a RAW dataset in one input format (the paper's recipe).

Adam (lr 1e-3), learning rate × 0.95 per epoch, batch 64, a seeded stratified 70/15/15 split, the
checkpoint with the best validation accuracy kept; quantization-aware (``qat: true``, the default for the
formats the accelerator takes) so that the exported int8 network keeps the float accuracy.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Literal

import torch
from pydantic import Field, model_validator
from torch import nn

from logcam.config import StrictModel, load_model
from logcam.errors import ConfigError
from logcam.nn.data import (
    MAX_SEED,
    RawDataset,
    SyntheticConfig,
    folder_dataset,
    pascalraw_dataset,
    split_indices,
    synthetic_dataset,
)
from logcam.nn.formats import FORMATS, InputFormat, get_format
from logcam.nn.models import QuantNet, make_family
from logcam.nn.netspec import NetSpec


class FolderConfig(StrictModel):
    """Images in root/<class>/ (RAW/DNG, TIFF, PNG/JPEG), resized to size×size."""

    kind: Literal["folder"] = "folder"
    root: str
    size: int = Field(48, ge=16, le=1024)


class PascalRawConfig(StrictModel):
    """PASCAL RAW 2014 (annotations/*.xml + original/*.nef), object crops resized to size×size."""

    kind: Literal["pascalraw"] = "pascalraw"
    root: str
    size: int = Field(48, ge=16, le=1024)
    limit: int | None = Field(None, ge=1, description="at most this many objects (quick runs)")


DatasetConfig = Annotated[SyntheticConfig | FolderConfig | PascalRawConfig, Field(discriminator="kind")]


class TrainConfig(StrictModel):
    """One training run (see configs/train/default.yaml)."""

    dataset: DatasetConfig = SyntheticConfig()
    format: str = Field("loggrad_q3", description=f"input format: {', '.join(FORMATS)}")
    jpeg_quality: int | None = Field(None, ge=1, le=100, description="jpeg8 only: real JPEG at this quality")
    netspec: str | None = Field(None, description="NetSpec YAML to train (architecture + folding); else widths")
    widths: list[int] = Field([4, 8], min_length=1, max_length=6, description="conv channels (c1, c2, ...)")
    name: str = Field("net", pattern=r"^[A-Za-z0-9_\-]+$")
    epochs: int = Field(10, ge=1, le=1000)
    batch: int = Field(64, ge=1, le=4096)
    lr: float = Field(1e-3, gt=0, le=1)
    decay: float = Field(0.95, gt=0, le=1, description="learning-rate factor per epoch")
    split: tuple[float, float, float] = (0.7, 0.15, 0.15)
    qat: bool | None = Field(None, description="quantization-aware training; default: on for accelerator formats")
    qat_start: int = Field(1, ge=0, description="float epochs before fake-quantization starts")
    standardize: bool | None = Field(None, description="float only: inputs (x − mean)/std of the training split; "
                                                       "default: on without QAT")
    seed: int = Field(0, ge=0, le=MAX_SEED)
    threads: int = Field(1, ge=1, le=256, description="torch CPU threads (1: robust on a shared machine)")

    @model_validator(mode="after")
    def _check(self) -> TrainConfig:
        if self.format not in FORMATS:
            raise ValueError(f"format: unknown format {self.format!r}; choose from {', '.join(FORMATS)}")
        if any(not 1 <= c <= 512 for c in self.widths):
            raise ValueError(f"widths: every conv layer needs 1..512 channels, got {self.widths}")
        if any(f < 0 for f in self.split) or not math.isclose(sum(self.split), 1.0, abs_tol=1e-6):
            raise ValueError(f"split: fractions must be ≥ 0 and sum to 1, got {list(self.split)}")
        if self.qat and self.format not in ("jpeg8", "loggrad_q3", "loggrad_q5"):
            raise ValueError(f"qat: format {self.format!r} has no integer form (use jpeg8 or loggrad_q3/q5)")
        if self.qat and self.standardize:
            raise ValueError("standardize: not possible with qat (the integer accelerator takes raw inputs)")
        return self

    @property
    def use_qat(self) -> bool:
        return self.qat if self.qat is not None else get_format(self.format).netspec_format is not None


@dataclass
class TrainResult:
    model: QuantNet
    fmt: InputFormat
    spec: NetSpec
    data: RawDataset
    splits: tuple[torch.Tensor, torch.Tensor, torch.Tensor]
    val_acc: float
    test_acc: float
    history: list[dict[str, float]] = field(default_factory=list)
    images_per_s: float = 0.0
    seconds: float = 0.0


def load_train_config(path: str | Path) -> TrainConfig:
    return load_model(TrainConfig, path)


def load_dataset(cfg: SyntheticConfig | FolderConfig | PascalRawConfig) -> RawDataset:
    if isinstance(cfg, SyntheticConfig):
        return synthetic_dataset(cfg)
    if isinstance(cfg, FolderConfig):
        return folder_dataset(cfg.root, cfg.size)
    return pascalraw_dataset(cfg.root, cfg.size, limit=cfg.limit)


def resolve_netspec(path: str) -> NetSpec:
    """A NetSpec by path, or by the name of an embedded one (``2conv1fc`` → configs/nets/2conv1fc.yaml)."""
    from logcam.config import embedded_config

    p = Path(path)
    if not p.is_file() and "/" not in path and not path.endswith(".yaml"):
        p = embedded_config(f"nets/{path}.yaml")
    return NetSpec.load(p)


def build_spec(cfg: TrainConfig, fmt: InputFormat, size: int, classes: Sequence[str]) -> NetSpec:
    """The NetSpec to train: the configured file (checked against data and format) or the widths family."""
    if cfg.netspec:
        spec = resolve_netspec(cfg.netspec)
        inp = spec.input
        if (inp.height, inp.width) != (size, size):
            raise ConfigError(f"netspec: input {inp.height}×{inp.width} does not match dataset size {size}×{size}")
        if fmt.netspec_format is not None and (inp.format != fmt.netspec_format or (inp.levels != fmt.netspec_levels
                                               and inp.format == "codes")):
            raise ConfigError(f"netspec: input format {inp.format} (levels {inp.levels}) does not match "
                              f"format {fmt.name!r}")
        if inp.channels != fmt.channels:
            raise ConfigError(f"netspec: {inp.channels} input channels, format {fmt.name!r} gives {fmt.channels}")
        if spec.num_classes != len(classes):
            raise ConfigError(f"netspec: {spec.num_classes} outputs, dataset has {len(classes)} classes")
        if spec.classes is not None and list(spec.classes) != list(classes):
            raise ConfigError(f"netspec: classes {spec.classes} differ from the dataset's {list(classes)}")
        return spec
    nf = fmt.netspec_format or "uint8"  # float formats: architecture only (not exportable)
    return make_family(size, list(cfg.widths), len(classes), nf, fmt.netspec_levels, fmt.channels, name=cfg.name,
                       class_names=classes)


def batches(n: int, batch: int, gen: torch.Generator | None) -> Iterator[torch.Tensor]:
    order = torch.randperm(n, generator=gen) if gen is not None else torch.arange(n)
    for i in range(0, n, batch):
        yield order[i:i + batch]


@torch.no_grad()
def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch: int = 512) -> float:
    """Top-1 accuracy (fraction) of ``model`` in eval mode."""
    if len(y) == 0:
        return float("nan")
    was = model.training
    model.eval()
    hits = sum(int((model(x[i:i + batch]).argmax(1) == y[i:i + batch]).sum()) for i in range(0, len(y), batch))
    model.train(was)
    return hits / len(y)


@contextlib.contextmanager
def _progress(enabled: bool, total: int, what: str) -> Iterator:
    if not enabled:
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    cols = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[info]}"),
            TimeRemainingColumn())
    with Progress(*cols, transient=True) as prog:
        task = prog.add_task(what, total=total, info="")
        yield lambda adv, info="": prog.update(task, advance=adv, info=info)


def train_on(cfg: TrainConfig, data: RawDataset, fmt: InputFormat | None = None, ckpt_dir: Path | None = None,
             progress: bool = False) -> TrainResult:
    """Train on a loaded dataset; returns the best-validation model and its accuracies."""
    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    fmt = fmt or get_format(cfg.format, data.adc_bits,
                            **({"quality": cfg.jpeg_quality} if cfg.format == "jpeg8" and cfg.jpeg_quality else {}))
    size = int(data.frames.shape[-1])
    spec = build_spec(cfg, fmt, size, data.class_names)
    tr, va, te = split_indices(data.labels, cfg.seed, cfg.split)
    if len(tr) == 0:
        raise ConfigError(f"dataset: {len(data)} images leave no training images after the split")
    x_all = data.formatted(fmt).tensors[0]
    y_all = data.labels
    x_tr, y_tr = x_all[tr], y_all[tr]
    model = QuantNet(spec, fmt.input_scale, quant=False)
    if cfg.standardize if cfg.standardize is not None else not cfg.use_qat:
        model.standardize(float(x_tr.mean()), float(x_tr.std()))
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    sched = torch.optim.lr_scheduler.ExponentialLR(opt, gamma=cfg.decay)
    loss_fn = nn.CrossEntropyLoss()
    gen = torch.Generator().manual_seed(cfg.seed)
    best = (-1.0, None)
    history: list[dict[str, float]] = []
    steps = math.ceil(len(tr) / cfg.batch)
    t0 = time.perf_counter()
    seen = 0
    with _progress(progress, cfg.epochs * steps, f"train {fmt.name}") as bar:
        for epoch in range(cfg.epochs):
            model.quant = cfg.use_qat and epoch >= cfg.qat_start
            model.train()
            total = 0.0
            for idx in batches(len(tr), cfg.batch, gen):
                opt.zero_grad(set_to_none=True)
                loss = loss_fn(model(x_tr[idx]), y_tr[idx])
                loss.backward()
                opt.step()
                total += float(loss.detach()) * len(idx)
                seen += len(idx)
                if bar:
                    bar(1, f"epoch {epoch + 1}/{cfg.epochs} loss {float(loss):.3f}")
            sched.step()
            if cfg.use_qat and not model.quant:
                model.quant = True  # select checkpoints as they will be exported
            val = accuracy(model, x_all[va], y_all[va])
            history.append({"epoch": epoch + 1, "loss": total / len(tr), "val_acc": val, "quant": float(model.quant)})
            if model.quant == bool(cfg.use_qat) and val > best[0]:
                best = (val, {k: v.clone() for k, v in model.state_dict().items()})
                if ckpt_dir is not None:
                    _save_ckpt(ckpt_dir / "best.pt", model, cfg, epoch + 1, val)
            if ckpt_dir is not None:
                _save_ckpt(ckpt_dir / "last.pt", model, cfg, epoch + 1, val)
    seconds = time.perf_counter() - t0
    if best[1] is not None:
        model.load_state_dict(best[1])
    model.quant = cfg.use_qat
    model.eval()
    return TrainResult(model, fmt, spec, data, (tr, va, te), accuracy(model, x_all[va], y_all[va]),
                       accuracy(model, x_all[te], y_all[te]), history, seen / seconds if seconds else 0.0, seconds)


def _save_ckpt(path: Path, model: QuantNet, cfg: TrainConfig, epoch: int, val: float) -> None:
    from logcam.files import atomic_write, make_folder

    make_folder(path.parent)
    state = {"state_dict": model.state_dict(), "config": cfg.model_dump(mode="json"), "epoch": epoch,
             "val_acc": val, "quant": model.quant}
    atomic_write(path, lambda tmp: torch.save(state, tmp))


def train(cfg: TrainConfig, ckpt_dir: Path | None = None, progress: bool = False) -> TrainResult:
    """Load the configured dataset and train on it."""
    return train_on(cfg, load_dataset(cfg.dataset), ckpt_dir=ckpt_dir, progress=progress)


__all__ = ["DatasetConfig", "FolderConfig", "PascalRawConfig", "TrainConfig", "TrainResult", "accuracy",
           "build_spec", "load_dataset", "load_train_config", "resolve_netspec", "train", "train_on"]
