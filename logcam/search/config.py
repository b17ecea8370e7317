"""The co-search config (``logcam search CONFIG.yaml``): front-end, data, search space, schedule, cost."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from logcam.config import StrictModel, load_model, validate
from logcam.nn.netspec import OPERATORS, InputSpec, PointwiseSpec
from logcam.nn.optics import OpticalConfig
from logcam.nn.optics_train import OpticsDataset
from logcam.nn.rgb_data import RgbObjectsConfig

#: The accelerator operators one inverted-residual block of the search space is made of.
BLOCK_OPERATORS = ("conv", "pointwise", "depthwise", "add", "avgpool_global", "fc")


def _max_channels() -> int:
    """The largest ``out_channels`` a NetSpec pointwise layer takes (read from its field)."""
    return next(m.le for m in PointwiseSpec.model_fields["out_channels"].metadata if hasattr(m, "le"))


def _max_input_channels() -> int:
    """The most channels a NetSpec input takes (read from its field)."""
    return next(m.le for m in InputSpec.model_fields["channels"].metadata if hasattr(m, "le"))


class SearchConfig(StrictModel):
    """A SACoD-style differentiable co-search (units in the field names; see docs/search.md)."""

    name: str = Field("searched", pattern=r"^[A-Za-z0-9_\-]+$")
    optics: OpticalConfig = OpticalConfig()
    dataset: OpticsDataset = RgbObjectsConfig(n=600, size=16)
    split: tuple[float, float, float] = Field((0.7, 0.15, 0.15), description="train / val / test fractions")
    operators: list[str] = Field(list(BLOCK_OPERATORS), description="accelerator operators the space may use")
    stem: int = Field(8, ge=1, le=64, description="channels of the first digital conv (3×3 on the optical maps)")
    channels: list[int] = Field([8, 8, 16, 16], min_length=1, max_length=7, description="output channels per layer")
    strides: list[int] = Field([1, 1, 2, 1], min_length=1, max_length=7, description="stride per searchable layer")
    expansions: list[int] = Field([1, 3, 6], min_length=1, description="inverted-residual expansion factors")
    kernels: list[int] = Field([3, 5, 7], min_length=1, description="depthwise kernels")
    skip: bool = Field(True, description="offer the identity (skip) where stride 1 and channels match")
    epochs: int = Field(4, ge=1, le=1000, description="search epochs")
    warmup_epochs: int = Field(0, ge=0, le=1000, description="weights-only epochs before α is updated")
    batch: int = Field(32, ge=1, le=4096)
    w_lr: float = Field(0.025, gt=0, le=10, description="weights SGD learning rate (momentum 0.9, cosine)")
    mask_lr: float = Field(0.005, ge=0, le=10, description="mask heights learning rate (adam: ≈ µm per step)")
    mask_optimizer: Literal["adam", "sgd"] = Field(
        "adam", description="adam: an Adam of its own for the heights; sgd: a group of the weights' SGD (its "
                            "gradients are ~1e-3, so the heights moved < 1e-5 µm in a quick search)")
    mask_in_search: bool = Field(True, description="train the mask during the search (false: ablation, mask fixed)")
    mask_in_retrain: bool = Field(True, description="train the mask during retraining (false: ablation)")
    alpha_lr: float = Field(3e-4, gt=0, le=10, description="architecture Adam learning rate")
    tau: float = Field(3.0, gt=0, le=100, description="initial Gumbel-softmax temperature")
    tau_decay: float = Field(0.92, gt=0, le=1, description="temperature factor per epoch")
    cost: Literal["energy", "flops"] = Field("energy", description="energy: nJ/pixel; flops: the paper's FLOPs")
    lam: float = Field(0.1, description="λ ≥ 0: weight of the normalised cost (cost / largest network's)")
    budget: float | None = Field(None, gt=0, description="largest cost allowed (nJ/pixel or MFLOPs per frame)")
    retrain_epochs: int = Field(4, ge=0, le=1000)
    retrain_lr: float = Field(0.01, gt=0, le=10, description="retraining SGD learning rate (momentum 0.9, cosine)")
    calib: int = Field(256, ge=1, description="training scenes that calibrate the int8 scales")
    seed: int = Field(0, ge=0, le=2**31 - 1)
    threads: int = Field(1, ge=1, le=256, description="torch CPU threads")
    device: str = Field("cpu", pattern=r"^(cpu|cuda(:[0-9]+)?)$",
                        description="torch device of the training steps: cpu, or cuda / cuda:N on a GPU node "
                                    "(export, golden model and RTL always run on the CPU)")

    @model_validator(mode="after")
    def _check(self) -> SearchConfig:
        if self.lam < 0:
            raise ValueError(f"lam: λ must be ≥ 0, got {self.lam}")
        for name in self.operators:
            if name not in OPERATORS or not OPERATORS[name].rtl:
                built = ", ".join(k for k, op in OPERATORS.items() if op.rtl)
                raise ValueError(f"operators: the accelerator has no operator {name!r}; it builds {built}")
        missing = [o for o in ("conv", "pointwise", "depthwise", "avgpool_global", "fc") if o not in self.operators]
        if missing:
            raise ValueError(f"operators: the block space needs {', '.join(missing)}")
        dw = OPERATORS["depthwise"]
        for k in self.kernels:
            if k not in dw.kernels:
                raise ValueError(f"kernels: the accelerator's depthwise builds k {', '.join(map(str, dw.kernels))}, "
                                 f"got {k}")
        for s in self.strides:
            if s not in dw.strides:
                raise ValueError(f"strides: the accelerator's depthwise builds stride "
                                 f"{', '.join(map(str, dw.strides))}, got {s}")
        if len(self.strides) != len(self.channels):
            raise ValueError(f"strides: one per layer of channels ({len(self.channels)}), got {len(self.strides)}")
        if any(e < 1 or e > 8 for e in self.expansions):
            raise ValueError(f"expansions: factors 1..8, got {self.expansions}")
        top, io = _max_channels(), _max_input_channels()
        if any(not 1 <= c <= io for c in [self.stem, *self.channels]):
            raise ValueError(f"channels: 1..{io} per layer (each block is costed as a NetSpec on its input, which "
                             f"takes ≤ {io} channels), got stem {self.stem}, {self.channels}")
        widest = max([self.stem, *self.channels[:-1]]) * max(self.expansions)
        if widest > top:
            raise ValueError(f"expansions: {max(self.expansions)} × {widest // max(self.expansions)} input channels = "
                             f"{widest} exceeds the pointwise layer's {top} output channels; narrow the layers")
        return self

    @property
    def residual(self) -> bool:
        """Blocks with stride 1 and equal channels add their input (needs the ``add`` operator)."""
        return "add" in self.operators


def load_search_config(path: str | Path, overrides: dict[str, object] | None = None) -> SearchConfig:
    """Read and check a search config (one ConfigError line on any mistake)."""
    cfg = load_model(SearchConfig, path)
    if overrides:
        cfg = validate(SearchConfig, {**cfg.model_dump(), **overrides}, where=Path(path).name)
    return cfg
