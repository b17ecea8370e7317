"""Optics and CNN trained together (``logcam train`` with an ``optics:`` section), fabrication noise with
back-end fine-tuning, and export of the digital part to NetSpec + int8 bundle.

The model (:class:`OpticalClassifier`)::

    scene (B×3×H×W lux) ──OpticalLayer.region_images──▶ regions (lux, ≥ 0)
        ──8-bit read-out: DN = round(255·r / full scale), straight-through gradient──▶ DN/255
        ──pair differences (combine)──▶ signed maps ──QuantNet back end (conv 5×5 … fc)──▶ logits

The full scale is an auto-exposure: a running maximum of the region light during training, frozen in
eval. The lens camera (``kind: lens``) reads the scene's 3 colour planes and gets a digital first conv
of the optics' kernel size in its place, so both cameras have the same function class.

Export (``stem_input``): by default the pairs are subtracted on the way in and the exported NetSpec reads the
signed maps as int8 (:func:`logcam.nn.optics.signed_maps_int8`, feature_maps channels), as the co-search
does; ``stem_input: regions`` keeps the folded form for comparison — the NetSpec reads the regions' uint8
read-outs and its first conv holds [W, −W] (:func:`logcam.nn.optics.fold_pairs`: twice the stem's input
channels and MACs). Either way the input is stated by :func:`logcam.frontend.optical_input`, and the golden
model and the accelerator run it.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
import torch
from pydantic import Field, model_validator
from torch import nn

from logcam.config import StrictModel, load_model, read_yaml, validate
from logcam.errors import ConfigError
from logcam.nn.cifar import load_cifar
from logcam.nn.data import MAX_SEED, split_indices
from logcam.nn.models import QuantNet, make_family
from logcam.nn.netspec import Bundle, NetSpec
from logcam.nn.optics import (
    SIGNED_MAP_STEP_DN,
    OpticalConfig,
    OpticalLayer,
    fold_pairs,
    network_input,
    signed_maps_int8,
)
from logcam.nn.rgb_data import RgbObjectsConfig, render_rgb_objects, srgb8_to_bands
from logcam.nn.train import accuracy as train_accuracy

READOUT_LEVELS = 255  # 8-bit read-out of each sensor region


class CifarConfig(StrictModel):
    """CIFAR-10/100 python batches at ``root`` (train split; our own 70/15/15 split of it)."""

    kind: Literal["cifar"] = "cifar"
    root: str
    label: Literal["fine", "coarse"] = "fine"
    limit: int | None = Field(None, ge=10, description="first N training images (quick runs)")
    mean_lux: float = Field(100.0, gt=0, le=1e6, allow_inf_nan=False, description="mean lux per image")


OpticsDataset = Annotated[RgbObjectsConfig | CifarConfig, Field(discriminator="kind")]


class OpticsTrainConfig(StrictModel):
    """A joint optics + CNN training run (see configs/optics/*.yaml; units in the field names)."""

    optics: OpticalConfig = OpticalConfig()
    dataset: OpticsDataset = RgbObjectsConfig()
    widths: list[int] = Field([8, 16], min_length=1, max_length=4, description="back-end conv channels")
    name: str = Field("optical_net", pattern=r"^[A-Za-z0-9_\-]+$")
    epochs: int = Field(10, ge=1, le=1000)
    batch: int = Field(64, ge=1, le=4096)
    lr: float = Field(2e-3, gt=0, le=1, description="back-end learning rate (Adam)")
    mask_lr: float = Field(0.005, ge=0, le=10, description="optics learning rate (Adam; heights in µm)")
    decay: float = Field(0.95, gt=0, le=1, description="learning-rate factor per epoch")
    split: tuple[float, float, float] = (0.7, 0.15, 0.15)
    train_optics: bool = Field(True, description="false: the optics stay as initialised (e.g. a fixed mask)")
    train_backend: bool = Field(True, description="false: a co-trained mask in front of a fixed random network")
    finetune_epochs: int = Field(0, ge=0, le=1000,
                                 description="after adding optics.noise_sigma_um: back-end-only epochs")
    seed: int = Field(0, ge=0, le=MAX_SEED)
    threads: int = Field(1, ge=1, le=256, description="torch CPU threads")
    stem_input: Literal["signed_maps", "regions"] = Field(
        "signed_maps", description="what the exported network reads: signed_maps (the pairs subtracted on the "
                                   "way in, int8 feature_maps channels) or regions (uint8 read-outs of every region, "
                                   "the pair difference folded into the first conv: twice its MACs)")

    @property
    def signed(self) -> bool:
        """True when the exported network reads the signed maps (never for the lens camera: it has no pairs)."""
        return self.stem_input == "signed_maps" and self.optics.kind != "lens"

    @model_validator(mode="after")
    def _check(self) -> OpticsTrainConfig:
        if any(not 1 <= c <= 512 for c in self.widths):
            raise ValueError(f"widths: every conv layer needs 1..512 channels, got {self.widths}")
        if any(f < 0 for f in self.split) or not math.isclose(sum(self.split), 1.0, abs_tol=1e-6):
            raise ValueError(f"split: fractions must be ≥ 0 and sum to 1, got {list(self.split)}")
        return self


def is_optics_config(path: str | Path) -> bool:
    """True when a training YAML has an ``optics:`` section (then :func:`train_optics` runs it)."""
    data = read_yaml(path)
    return isinstance(data, dict) and "optics" in data


def load_optics_train_config(path: str | Path) -> OpticsTrainConfig:
    return load_model(OpticsTrainConfig, path)


@dataclass(frozen=True)
class SceneData:
    """Scenes (float32 N×3×H×W lux per band), labels, class names."""

    images: torch.Tensor
    labels: torch.Tensor
    class_names: tuple[str, ...]


def load_scenes(cfg: RgbObjectsConfig | CifarConfig) -> SceneData:
    if isinstance(cfg, RgbObjectsConfig):
        d = render_rgb_objects(cfg)
        return SceneData(d.images, d.labels, d.class_names)
    c = load_cifar(cfg.root, "train", cfg.label, cfg.limit)
    return SceneData(srgb8_to_bands(c.images, cfg.mean_lux), c.labels, c.class_names)


class Readout(nn.Module):
    """8-bit read-out of every region with a shared auto-exposure full scale (lux): returns DN/255."""

    def __init__(self, momentum: float = 0.1) -> None:
        super().__init__()
        self.momentum = momentum
        self.register_buffer("full_scale_lux", torch.zeros((), dtype=torch.float64))

    def dn(self, regions: torch.Tensor) -> torch.Tensor:
        """Integer DN 0 … 255 (as float, straight-through gradient)."""
        if self.training:
            m = regions.detach().amax().to(torch.float64)
            if self.full_scale_lux == 0:
                self.full_scale_lux.copy_(m)
            else:
                self.full_scale_lux.mul_(1 - self.momentum).add_(self.momentum * m)
        v = regions * (READOUT_LEVELS / self.full_scale_lux.clamp(min=1e-12)).to(regions.dtype)
        q = torch.floor(v + 0.5).clamp(0, READOUT_LEVELS)
        return v + (q - v).detach()

    def forward(self, regions: torch.Tensor) -> torch.Tensor:
        return self.dn(regions) / READOUT_LEVELS


class OpticalClassifier(nn.Module):
    """Optics → 8-bit read-out → pair differences → QuantNet back end (float)."""

    def __init__(self, optics: OpticalLayer, backend: QuantNet) -> None:
        super().__init__()
        self.optics = optics
        self.readout = Readout()
        self.backend = backend
        #: fixed input gain of the back end (1/std of the maps at initialisation): the signed maps of two
        #: similar regions are small; a scalar keeps zero padding meaning zero, so it folds into the export
        self.register_buffer("gain", torch.ones((), dtype=torch.float64))

    @torch.no_grad()
    def set_gain(self, x: torch.Tensor) -> None:
        """Calibrate the read-out full scale and the input gain on scenes ``x`` (training mode statistics)."""
        was = self.training
        self.train()
        self.readout.full_scale_lux.zero_()
        maps = self.optics.combine(self.readout(self.optics.region_images(x)))
        self.gain.copy_(1.0 / maps.to(torch.float64).std().clamp(min=1e-6))
        self.train(was)

    def maps(self, x: torch.Tensor) -> torch.Tensor:
        """The back end's input: signed maps × gain."""
        return self.optics.combine(self.readout(self.optics.region_images(x))) * self.gain.to(x.dtype)

    def region_dn(self, x: torch.Tensor) -> torch.Tensor:
        """What the sensor reads: DN 0 … 255 per region (float, straight-through)."""
        return self.readout.dn(self.optics.region_images(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.backend(self.maps(x))


def backend_spec(cfg: OpticsTrainConfig, size: int, classes: tuple[str, ...], channels: int | None = None,
                 input_format: str = "uint8") -> NetSpec:
    """The digital network after the optics: widths × (conv 5×5, ReLU, pool 2), then fc. The lens camera
    gets a first conv of the optics' kernel size (3 → 3 maps) in place of the optics."""
    o = cfg.optics
    ch = o.feature_maps if channels is None else channels
    spec = make_family(size, list(cfg.widths), len(classes), input_format, None, ch, name=cfg.name,
                       class_names=classes)
    if o.kind != "lens":
        return spec
    d = spec.model_dump()
    k = o.mask.kernel
    d["layers"].insert(0, {"type": "conv", "out_channels": 3, "kernel": k, "pad": k // 2, "relu": False,
                           "pool": 1, "stride": 1, "pe": 1, "simd": 1})
    return validate(NetSpec, d, where="net")


def build_model(cfg: OpticsTrainConfig, size: int, classes: tuple[str, ...]) -> OpticalClassifier:
    torch.manual_seed(cfg.seed)
    optics = OpticalLayer(cfg.optics.model_copy(update={"noise_sigma_um": 0.0}))
    backend = QuantNet(backend_spec(cfg, size, classes), 1.0 / READOUT_LEVELS, quant=False)
    return OpticalClassifier(optics, backend)


def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch: int = 256) -> float:
    """Top-1 accuracy in eval mode (NaN for no images): :func:`logcam.nn.train.accuracy` in batches of 256."""
    return train_accuracy(model, x, y, batch)


def _fit(model: OpticalClassifier, x: torch.Tensor, y: torch.Tensor, xv: torch.Tensor, yv: torch.Tensor,
         epochs: int, batch: int, lr: float, mask_lr: float, decay: float, optics: bool, backend: bool,
         seed: int) -> list[dict[str, float]]:
    """Adam on the chosen parts, best-validation state kept; returns the per-epoch history."""
    groups = []
    if backend:
        groups.append({"params": list(model.backend.parameters()), "lr": lr})
    if optics:
        ps = [p for p in model.optics.parameters() if p.requires_grad]
        if ps:
            groups.append({"params": ps, "lr": mask_lr})
    history: list[dict[str, float]] = []
    if not groups:
        return history
    opt = torch.optim.Adam(groups)
    sched = torch.optim.lr_scheduler.ExponentialLR(opt, gamma=decay)
    gen = torch.Generator().manual_seed(seed)
    best = (-1.0, None)
    for epoch in range(epochs):
        model.train()
        total = 0.0
        for idx in torch.randperm(len(y), generator=gen).split(batch):
            opt.zero_grad(set_to_none=True)
            loss = nn.functional.cross_entropy(model(x[idx]), y[idx])
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
        sched.step()
        val = accuracy(model, xv, yv)
        history.append({"epoch": epoch + 1, "loss": total / max(len(y), 1), "val_acc": val})
        if val > best[0]:
            best = (val, {k: v.detach().clone() for k, v in model.state_dict().items()})
    if best[1] is not None:
        model.load_state_dict(best[1])
    model.eval()
    return history


@dataclass
class OpticsTrainResult:
    cfg: OpticsTrainConfig
    model: OpticalClassifier
    data: SceneData
    splits: tuple[torch.Tensor, torch.Tensor, torch.Tensor]
    val_acc: float
    test_acc: float
    noisy_test_acc: float | None = None        # after optics.noise_sigma_um, before fine-tuning
    finetuned_test_acc: float | None = None    # after back-end fine-tuning
    history: list[dict[str, float]] = field(default_factory=list)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, object]:
        c = self.cfg
        return {"optics": c.optics.kind, "design": c.optics.design, "masks": c.optics.mask.masks,
                "feature_maps": c.optics.feature_maps, "regions": c.optics.regions, "stem_input": c.stem_input,
                "images": len(self.data.labels),
                "classes": len(self.data.class_names), "split": [len(s) for s in self.splits], "epochs": c.epochs,
                "val_acc": self.val_acc, "test_acc": self.test_acc, "noise_sigma_um": c.optics.noise_sigma_um,
                "noisy_test_acc": self.noisy_test_acc, "finetuned_test_acc": self.finetuned_test_acc,
                "backend_macs": self.model.backend.spec.macs(), "train_seconds": self.seconds}


def scenes_for(optics: OpticalConfig, dataset: RgbObjectsConfig | CifarConfig, data: SceneData | None = None
               ) -> SceneData:
    """``data``, or the scenes of ``dataset``, checked to have one colour plane per wavelength of the optics."""
    data = data or load_scenes(dataset)
    if data.images.shape[1] != optics.colours:
        raise ConfigError(f"optics.mask.wavelengths_nm: {optics.colours} wavelengths, but the scenes have "
                          f"{data.images.shape[1]} colour planes")
    return data


def train_optics(cfg: OpticsTrainConfig, data: SceneData | None = None) -> OpticsTrainResult:
    """Train optics + back end jointly (as configured); then, if ``optics.noise_sigma_um`` > 0, fabricate
    the mask with that error and fine-tune the back end for ``finetune_epochs``."""
    torch.set_num_threads(cfg.threads)
    data = scenes_for(cfg.optics, cfg.dataset, data)
    size = int(data.images.shape[-1])
    tr, va, te = split_indices(data.labels, cfg.seed, cfg.split)
    if len(tr) == 0:
        raise ConfigError(f"dataset: {len(data.labels)} images leave no training images after the split")
    model = build_model(cfg, size, data.class_names)
    x, y = data.images, data.labels
    model.set_gain(x[tr[:256]])
    t0 = time.perf_counter()
    hist = _fit(model, x[tr], y[tr], x[va], y[va], cfg.epochs, cfg.batch, cfg.lr, cfg.mask_lr, cfg.decay,
                cfg.train_optics, cfg.train_backend, cfg.seed)
    res = OpticsTrainResult(cfg, model, data, (tr, va, te), accuracy(model, x[va], y[va]),
                            accuracy(model, x[te], y[te]), history=hist)
    sigma = cfg.optics.noise_sigma_um
    if sigma > 0 and cfg.optics.kind != "lens":
        model.optics.set_noise(sigma, cfg.seed)
        res.noisy_test_acc = accuracy(model, x[te], y[te])
        if cfg.finetune_epochs:
            res.history += _fit(model, x[tr], y[tr], x[va], y[va], cfg.finetune_epochs, cfg.batch, cfg.lr, 0.0,
                                cfg.decay, False, True, cfg.seed + 1)
            res.finetuned_test_acc = accuracy(model, x[te], y[te])
    res.seconds = time.perf_counter() - t0
    return res


# ------------------------------------------------------------------------------------------------
# Export of the digital part
# ------------------------------------------------------------------------------------------------

def input_words(cfg: OpticsTrainConfig) -> str:
    """What the exported network reads, in words (for the NetSpec's header)."""
    if cfg.optics.kind == "lens":
        return "the colour planes' 8-bit read-outs"
    if cfg.signed:
        return "the signed maps, each mask pair's 8-bit read-outs subtracted and halved, int8"
    return "the regions' 8-bit read-outs; the pair differences folded into the first conv"


@dataclass(frozen=True)
class RegionFormat:
    """The input format of the exported network (duck-typed InputFormat): uint8 DN of each sensor region, or
    (``netspec_format`` int8) the signed maps; ``input_scale``: the back end's input per integer step."""

    channels: int
    name: str = "optical_regions"
    netspec_format: str = "uint8"
    netspec_levels: int | None = None
    input_scale: float = 1.0 / READOUT_LEVELS


@torch.no_grad()
def region_inputs(model: OpticalClassifier, x: torch.Tensor, batch: int = 256) -> torch.Tensor:
    """uint8 N×regions×H×W: the sensor's 8-bit read-outs of scenes ``x`` (eval mode, frozen exposure)."""
    was = model.training
    model.eval()
    out = torch.cat([model.region_dn(x[i:i + batch]) for i in range(0, len(x), batch)])
    model.train(was)
    return out.round().clamp(0, READOUT_LEVELS).to(torch.uint8)


def stem_inputs(optics: OpticalConfig, regions_dn: torch.Tensor, signed: bool = True) -> torch.Tensor:
    """What the exported network reads from the regions' uint8 read-outs (N×regions×H×W): the signed maps
    (int8, :func:`logcam.nn.optics.signed_maps_int8`; the lens camera's planes unchanged) or, ``signed``
    false (``stem_input: regions``), the read-outs. Used by optics training and the co-search alike."""
    return signed_maps_int8(optics, regions_dn) if signed else regions_dn


def stem_scale(optics: OpticalConfig, model: OpticalClassifier, signed: bool = True) -> float:
    """Real value at the back end's input of one integer step of :func:`stem_inputs`: gain/255 per region DN,
    × :data:`~logcam.nn.optics.SIGNED_MAP_STEP_DN` for the halved pair differences (not for the lens camera)."""
    step = SIGNED_MAP_STEP_DN if signed and optics.kind != "lens" else 1
    return float(model.gain) / READOUT_LEVELS * step


@torch.no_grad()
def export_digital(res: OpticsTrainResult, calib: int = 512) -> tuple[NetSpec, Bundle, dict[str, float]]:
    """NetSpec + int8 bundle of the network after the optics, on what :func:`stem_inputs` sends it.

    Signed maps (default): the back end as trained, on feature_maps int8 channels. ``stem_input: regions``:
    the back end's first conv on the signed maps is folded onto the regions' uint8 read-outs ([W, −W]).
    The requantizer scales are calibrated on ``calib`` training scenes; the integer golden model then labels
    the test split. Returns (spec, bundle, {"float_test_acc", "int8_test_acc"}).
    """
    from logcam.frontend import check_feeds
    from logcam.nn.export import calibrate, export_bundle
    from logcam.nn.golden.accel import run as golden_run

    cfg, model = res.cfg, res.model
    size = int(res.data.images.shape[-1])
    fold = cfg.optics.kind != "lens" and not cfg.signed
    produced = network_input(cfg.optics, size, size, signed=cfg.signed)
    spec = backend_spec(cfg, size, res.data.class_names, channels=produced.channels if fold else None,
                        input_format=produced.format)
    scale = stem_scale(cfg.optics, model, cfg.signed)                      # real value of one integer input step
    folded = QuantNet(spec, scale, quant=False)
    state = {k: v.clone() for k, v in model.backend.state_dict().items()}
    if fold:
        state["layers.0.op.weight"] = fold_pairs(cfg.optics, state["layers.0.op.weight"])
    folded.load_state_dict(state)
    tr, _, te = res.splits
    x_cal = stem_inputs(cfg.optics, region_inputs(model, res.data.images[tr[:calib]]), cfg.signed)
    x_cal = x_cal.to(torch.float32) * scale
    calibrate(folded, x_cal)
    fmt = RegionFormat(produced.channels, netspec_format=produced.format, input_scale=scale)
    net, bundle = export_bundle(folded, fmt, cfg.name)  # type: ignore[arg-type]
    if cfg.optics.kind != "lens":
        check_feeds(produced, net, source="the optics")
    x_te = stem_inputs(cfg.optics, region_inputs(model, res.data.images[te]), cfg.signed)
    labels = golden_run(net, bundle, x_te).labels
    y = res.data.labels[te]
    int8 = float((torch.as_tensor(np.asarray(labels)).to(torch.int64) == y).double().mean()) if len(y) else float("nan")
    return net, bundle, {"float_test_acc": res.test_acc, "int8_test_acc": int8}


def train_command(config: Path, export_stem: Path | None = None, out_dir: Path | None = None,
                  epochs: int | None = None, seed: int | None = None) -> dict[str, object]:
    """``logcam train CONFIG`` for a config with an ``optics:`` section: train, then optionally export the
    digital part (STEM.yaml + STEM.npz) and write OUT/history.json. Destinations are checked first."""
    import json

    from logcam.files import atomic_write, check_folder, make_folder
    from logcam.nn.export import check_export, write_export

    cfg = load_optics_train_config(config)
    over = {k: v for k, v in (("epochs", epochs), ("seed", seed)) if v is not None}
    if over:
        cfg = validate(OpticsTrainConfig, {**cfg.model_dump(), **over}, where=Path(config).name)
    if export_stem is not None:
        check_export(export_stem)
    if out_dir is not None:
        check_folder(out_dir)
    res = train_optics(cfg)
    out: dict[str, object] = {"config": str(config), **res.as_dict()}
    if export_stem is not None:
        net, bundle, acc = export_digital(res)
        ypath, npath = write_export(net, bundle, export_stem,
                                    header=f"{net.name}: the network after the optics, exported by "
                                           f"`logcam train {config}` (input: {input_words(cfg)})")
        out.update(int8_test_acc=acc["int8_test_acc"], netspec=str(ypath), bundle=str(npath))
    if out_dir is not None:
        make_folder(out_dir)
        text = json.dumps({"summary": out, "history": res.history}, indent=2)
        atomic_write(Path(out_dir) / "history.json", lambda p: p.write_text(text, encoding="utf-8"))
    return out


# ------------------------------------------------------------------------------------------------
# Scene → mask → sensor → integer CNN → label, with a figure
# ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class SensedFrame:
    """One scene through optics, the EMVA 1288 sensor and the exported integer network."""

    region_dn: np.ndarray        #: uint8 regions×H×W: the sensor regions' 8-bit read-outs
    net_input: np.ndarray        #: what the exported network reads (stem_inputs): int8 signed maps or region_dn
    maps: np.ndarray             #: float64 feature_maps×H×W: signed maps (lux) as the sensor saw them
    label: int                   #: the integer golden model's label
    psfs: np.ndarray             #: float64 masks×colours×k×k (empty for the lens camera)


def sense_and_classify(res: OpticsTrainResult, net: NetSpec, bundle: Bundle, scene_lux: np.ndarray,
                       sensor: object, rng: np.random.Generator | int | None = 0) -> SensedFrame:
    """Scene (colours×H×W lux) → optics → :func:`logcam.nn.optics.sense` (photon budget, shot and read noise,
    ADC per region) → 8-bit read-out at the trained exposure → :func:`stem_inputs` → the exported network in the
    golden model."""
    from logcam.nn.golden.accel import run as golden_run
    from logcam.nn.optics import sense

    model = res.model
    s = sense(model.optics, scene_lux, sensor, rng=rng)               # type: ignore[arg-type]
    full = float(model.readout.full_scale_lux)
    dn = np.clip(np.floor(np.clip(s.regions_lux, 0, None) * (READOUT_LEVELS / full) + 0.5), 0, READOUT_LEVELS)
    dn8 = dn.astype(np.uint8)
    x = stem_inputs(res.cfg.optics, torch.from_numpy(dn8)[None], res.cfg.signed).numpy()
    label = int(np.asarray(golden_run(net, bundle, x).labels).reshape(-1)[0])
    psfs = model.optics.psfs().detach().numpy() if res.cfg.optics.kind != "lens" else np.zeros((0,))
    return SensedFrame(dn8, x[0], s.maps, label, psfs)


def overview_figure(frame: SensedFrame, class_names: tuple[str, ...], true_label: int | None, path: Path) -> Path:
    """PNG: the PSFs (each mask, R/G/B as colour), the regions' 8-bit read-outs, the signed feature maps and
    the label (written atomically)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from logcam.files import atomic_write

    psfs, regions, maps = frame.psfs, frame.region_dn, frame.maps
    cols = max(len(psfs), len(regions), len(maps), 1)
    fig, ax = plt.subplots(3, cols, figsize=(1.5 * cols, 4.8), squeeze=False)
    for a in ax.ravel():
        a.axis("off")
    for i, p in enumerate(psfs):                                     # masks×colours×k×k → k×k×RGB
        rgb = np.moveaxis(p[:3], 0, -1)
        ax[0, i].imshow(rgb / max(float(rgb.max()), 1e-12), interpolation="nearest")
        ax[0, i].set_title(f"PSF {'+−'[i % 2]}{i // 2}", fontsize=7)
    for i, r in enumerate(regions):
        ax[1, i].imshow(r, cmap="gray", vmin=0, vmax=READOUT_LEVELS)
        ax[1, i].set_title(f"region {i} (DN)", fontsize=7)
    for i, m in enumerate(maps):
        lim = max(float(np.abs(m).max()), 1e-12)
        ax[2, i].imshow(m, cmap="RdBu_r", vmin=-lim, vmax=lim)
        ax[2, i].set_title(f"map {i}", fontsize=7)
    said = class_names[frame.label] if 0 <= frame.label < len(class_names) else str(frame.label)
    truth = "" if true_label is None else f" (true: {class_names[true_label]})"
    fig.suptitle(f"PSFs, sensor read-outs, feature maps → label: {said}{truth}", fontsize=9)
    fig.tight_layout()
    try:
        atomic_write(path, lambda p: fig.savefig(p, format="png", dpi=110))
    finally:
        plt.close(fig)
    return path
