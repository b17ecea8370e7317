"""SACoD's optics experiments on the synthetic RGB objects: each writes NAME.csv, NAME.png and NAME.json
with the paper's number (as the issue quotes it) beside ours.

- :func:`fm_designs`: feature-map designs (a), (b), (c) at equal training budget (accuracy, maps, area).
- :func:`mask_noise`: accuracy against the fabrication error σ for the co-trained mask and the Gabor bank,
  with and without back-end fine-tuning.
- :func:`optics_vs_lens`: lensless optics + CNN against a lens camera + CNN (first layer digital):
  accuracy, digital MACs per frame, pixels read, sensor area.

Defaults finish in minutes on 2 cores, ``quick`` in well under 3 minutes; the paper's scale is CIFAR
(``cifar``: a folder of python batches; ``configs/optics/cifar10.yaml`` with ``logcam train``) and more
epochs.
"""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from pydantic import Field, field_validator

from logcam.config import StrictModel, validate
from logcam.errors import ConfigError
from logcam.files import atomic_write, check_folder, make_folder
from logcam.nn.data import MAX_SEED
from logcam.nn.optics import sensor_area_mm2
from logcam.nn.optics_train import (
    OpticsTrainConfig,
    OpticsTrainResult,
    SceneData,
    _fit,
    accuracy,
    load_scenes,
    train_optics,
)

OPTICS_EXPERIMENTS = ("fm-designs", "mask-noise", "optics-vs-lens")
#: What the issue quotes from SACoD (CIFAR-10 / CIFAR-100, percentage points).
PAPER = {
    "fm-designs": {"a_minus_b_cifar10_pp": 0.86, "a_minus_b_cifar100_pp": 1.78, "a_vs_c_pp": 0.02,
                   "fewer_maps_a_vs_c_pct": 66.67},
    "mask-noise": {"cotrained_max_drop_pp": 2.71, "gabor_drop_pp": 1.19},
    "optics-vs-lens": {},
}
#: Settings of ``--quick``.
OPTICS_QUICK: dict[str, object] = {"n": 400, "size": 16, "epochs": 4, "finetune_epochs": 1, "sigmas": (0.05, 0.2)}

Tick = Callable[[str], None]


class OpticsExperimentConfig(StrictModel):
    """Scale of an optics experiment (pixels, images, epochs; σ in µm)."""

    size: int = Field(24, ge=16, le=256, description="image height = width, pixels")
    n: int = Field(1000, ge=50, le=200_000, description="synthetic RGB objects (10 classes)")
    epochs: int = Field(8, ge=1, le=1000)
    finetune_epochs: int = Field(2, ge=0, le=1000, description="mask-noise: back-end epochs after the noise")
    sigmas: tuple[float, ...] = Field((0.02, 0.05, 0.1, 0.2), min_length=1, max_length=16,
                                      description="mask-noise: fabrication error σ, µm")
    widths: tuple[int, ...] = Field((8, 16), min_length=1, max_length=4)
    seed: int = Field(0, ge=0, le=MAX_SEED)
    threads: int = Field(1, ge=1, le=256, description="torch CPU threads")
    cifar: str | None = Field(None, description="CIFAR-10/100 python batches here instead of the synthetic set "
                                                "(the first n training images; size is 32)")

    @field_validator("sigmas")
    @classmethod
    def _sigmas(cls, v: tuple[float, ...]) -> tuple[float, ...]:
        if any(not 0 < s <= 10 for s in v):
            raise ValueError(f"every σ must be in (0, 10] µm (got {list(v)})")
        return v


@dataclass
class OpticsOutcome:
    name: str
    csv: Path
    plot: Path
    rows: list[dict[str, object]]
    summary: dict[str, object]
    seconds: float = 0.0

    def as_dict(self) -> dict[str, object]:
        return {"name": self.name, "csv": str(self.csv), "plot": str(self.plot), "rows": self.rows,
                "summary": self.summary, "paper": PAPER[self.name], "seconds": self.seconds}


def _dataset(cfg: OpticsExperimentConfig) -> dict[str, object]:
    if cfg.cifar is not None:
        return {"kind": "cifar", "root": cfg.cifar, "limit": cfg.n}
    return {"kind": "rgb_objects", "n": cfg.n, "size": cfg.size, "seed": cfg.seed}


def _train_cfg(cfg: OpticsExperimentConfig, optics: dict, **over: object) -> OpticsTrainConfig:
    return validate(OpticsTrainConfig, {
        "optics": optics, "dataset": _dataset(cfg),
        "widths": list(cfg.widths), "epochs": cfg.epochs, "batch": 32, "lr": 3e-3, "mask_lr": 5e-3,
        "seed": cfg.seed, "threads": cfg.threads, **over}, where="experiment")


def _data(cfg: OpticsExperimentConfig) -> SceneData:
    return load_scenes(_train_cfg(cfg, {}).dataset)


def _pct(v: float | None) -> float | None:
    return None if v is None else round(100.0 * v, 2)


def fm_designs(cfg: OpticsExperimentConfig, out: Path, tick: Tick | None = None) -> OpticsOutcome:
    """Designs (a), (b), (c) with 6 co-trained phase masks, the same data, back end and epochs."""
    data = _data(cfg)
    rows = []
    for design in ("a", "b", "c"):
        res = train_optics(_train_cfg(cfg, {"kind": "phase_mask", "design": design}), data)
        side = int(data.images.shape[-1])
        area = sensor_area_mm2(res.cfg.optics, side, side)
        rows.append({"design": design, "feature_maps": res.cfg.optics.feature_maps,
                     "regions": res.cfg.optics.regions, "sensor_area_mm2": round(area["total_mm2"], 5),
                     "test_acc_pct": _pct(res.test_acc), "val_acc_pct": _pct(res.val_acc),
                     "backend_macs": res.model.backend.spec.macs(), "train_s": round(res.seconds, 1)})
        if tick:
            tick(f"design {design}")
    acc = {r["design"]: r["test_acc_pct"] for r in rows}
    summary = {"a_minus_b_pp": round(acc["a"] - acc["b"], 2), "a_minus_c_pp": round(acc["a"] - acc["c"], 2),
               "fewer_maps_a_vs_c_pct": round(100 * (1 - rows[0]["feature_maps"] / rows[2]["feature_maps"]), 2),
               "test_images": len(res.splits[2])}
    plt = _plt()
    fig, ax = plt.subplots(1, 2, figsize=(8, 3.2))
    ax[0].bar([f"({r['design']})" for r in rows], [r["test_acc_pct"] for r in rows], color="tab:blue")
    ax[0].set_ylabel("test accuracy, %")
    ax[0].set_title("feature-map designs (6 masks)")
    ax[1].bar([f"({r['design']})" for r in rows], [r["sensor_area_mm2"] for r in rows], color="tab:gray")
    ax[1].set_ylabel("sensor area, mm²")
    ax[1].set_title(f"maps: {', '.join(str(r['feature_maps']) for r in rows)}")
    fig.tight_layout()
    return _finish("fm-designs", out, rows, fig, summary)


def mask_noise(cfg: OpticsExperimentConfig, out: Path, tick: Tick | None = None) -> OpticsOutcome:
    """Accuracy vs σ: the co-trained phase mask and the Gabor bank realised as phase masks (``gabor_mask``,
    fitted by phase retrieval), both with N(0,1)·σ on the heights; each trained once at σ = 0, then for
    every σ evaluated with one seeded fabrication draw, and again after ``finetune_epochs`` of back-end
    fine-tuning."""
    data = _data(cfg)
    rows = []
    summary: dict[str, object] = {}
    for kind in ("phase_mask", "gabor_mask"):
        res = train_optics(_train_cfg(cfg, {"kind": kind, "design": "a"}), data)
        clean = res.test_acc
        state = {k: v.detach().clone() for k, v in res.model.state_dict().items()}
        x, y = data.images, data.labels
        tr, va, te = res.splits
        drops, drops_ft = [], []
        for sigma in cfg.sigmas:
            res.model.load_state_dict(state)
            res.model.optics.set_noise(sigma, cfg.seed)
            noisy = accuracy(res.model, x[te], y[te])
            _fit(res.model, x[tr], y[tr], x[va], y[va], cfg.finetune_epochs, 32, 3e-3, 0.0, 0.95, False, True,
                 cfg.seed + 1)
            tuned = accuracy(res.model, x[te], y[te])
            rows.append({"kind": kind, "sigma_um": sigma, "clean_acc_pct": _pct(clean), "noisy_acc_pct": _pct(noisy),
                         "finetuned_acc_pct": _pct(tuned), "drop_pp": round(100 * (clean - noisy), 2),
                         "drop_after_finetune_pp": round(100 * (clean - tuned), 2)})
            drops.append(100 * (clean - noisy))
            drops_ft.append(100 * (clean - tuned))
        res.model.load_state_dict(state)
        summary[kind] = {"clean_acc_pct": _pct(clean), "max_drop_pp": round(max(drops), 2),
                         "max_drop_after_finetune_pp": round(max(drops_ft), 2)}
        if tick:
            tick(kind)
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5.5, 3.4))
    for kind, colour in (("phase_mask", "tab:blue"), ("gabor_mask", "tab:orange")):
        r = [row for row in rows if row["kind"] == kind]
        s = [row["sigma_um"] for row in r]
        ax.plot(s, [row["noisy_acc_pct"] for row in r], "o--", color=colour, label=f"{kind}, no fine-tune")
        ax.plot(s, [row["finetuned_acc_pct"] for row in r], "o-", color=colour, label=f"{kind}, fine-tuned")
    ax.set_xscale("log")
    ax.set_xlabel("fabrication error σ, µm")
    ax.set_ylabel("test accuracy, %")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return _finish("mask-noise", out, rows, fig, summary)


def optics_vs_lens(cfg: OpticsExperimentConfig, out: Path, tick: Tick | None = None) -> OpticsOutcome:
    """Lensless (6 co-trained masks, design a) + CNN against a lens camera whose first layer is a digital
    k×k conv (3 → 3 maps) in front of the same back end: accuracy, digital MACs, pixels read, area."""
    data = _data(cfg)
    rows = []
    results: dict[str, OpticsTrainResult] = {}
    for kind in ("phase_mask", "lens"):
        res = train_optics(_train_cfg(cfg, {"kind": kind, "design": "a"}), data)
        results[kind] = res
        o = res.cfg.optics
        side = int(data.images.shape[-1])
        area = sensor_area_mm2(o, side, side)
        macs = res.model.backend.spec.macs()
        rows.append({"camera": "lensless (6 masks)" if kind != "lens" else "lens", "test_acc_pct": _pct(res.test_acc),
                     "digital_macs_per_frame": macs, "digital_macs_per_pixel": round(macs / side**2, 1),
                     "pixels_read": int(o.regions * side**2), "sensor_area_mm2": round(area["total_mm2"], 5),
                     "train_s": round(res.seconds, 1)})
        if tick:
            tick(kind)
    lensless, lens = rows
    summary = {"accuracy_delta_pp": round(lensless["test_acc_pct"] - lens["test_acc_pct"], 2),
               "digital_macs_saved_pct": round(100 * (1 - lensless["digital_macs_per_frame"]
                                                     / lens["digital_macs_per_frame"]), 2),
               "pixels_read_ratio": round(lensless["pixels_read"] / lens["pixels_read"], 2),
               "energy": "nJ/pixel not computed here: the optical energy pipeline is a separate issue"}
    plt = _plt()
    fig, ax = plt.subplots(1, 2, figsize=(8, 3.2))
    names = [r["camera"] for r in rows]
    ax[0].bar(names, [r["test_acc_pct"] for r in rows], color=["tab:blue", "tab:gray"])
    ax[0].set_ylabel("test accuracy, %")
    ax[1].bar(names, [r["digital_macs_per_frame"] / 1e3 for r in rows], color=["tab:blue", "tab:gray"])
    ax[1].set_ylabel("digital kMAC per frame")
    fig.tight_layout()
    return _finish("optics-vs-lens", out, rows, fig, summary)


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _finish(name: str, out: Path, rows: list[dict[str, object]], fig: object, summary: dict) -> OpticsOutcome:
    make_folder(out)
    csv_path, png = out / f"{name}.csv", out / f"{name}.png"
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(rows[0]))
    w.writeheader()
    w.writerows(rows)
    text = buf.getvalue()
    atomic_write(csv_path, lambda p: p.write_text(text, encoding="utf-8"))
    atomic_write(png, lambda p: fig.savefig(p, dpi=110, format="png"))  # type: ignore[attr-defined]
    _plt().close(fig)  # type: ignore[arg-type]
    return OpticsOutcome(name, csv_path, png, rows, summary)


RUNNERS: dict[str, Callable[[OpticsExperimentConfig, Path, Tick | None], OpticsOutcome]] = {
    "fm-designs": fm_designs, "mask-noise": mask_noise, "optics-vs-lens": optics_vs_lens}


def optics_steps(name: str, cfg: OpticsExperimentConfig) -> int:
    """Progress steps of an experiment."""
    return {"fm-designs": 3, "mask-noise": 2, "optics-vs-lens": 2}[name]


def run_optics(name: str, cfg: OpticsExperimentConfig, out: Path, tick: Tick | None = None) -> OpticsOutcome:
    """Run one optics experiment; writes OUT/NAME.csv, OUT/NAME.png and OUT/NAME.json."""
    if name not in RUNNERS:
        raise ConfigError(f"experiment: unknown name {name!r}; choose from {', '.join(OPTICS_EXPERIMENTS)}")
    check_folder(out)
    torch.set_num_threads(cfg.threads)
    t0 = time.perf_counter()
    res = RUNNERS[name](cfg, out, tick)
    res.seconds = time.perf_counter() - t0
    text = json.dumps({**res.as_dict(), "config": cfg.model_dump(mode="json")}, indent=2)
    atomic_write(out / f"{name}.json", lambda p: p.write_text(text, encoding="utf-8"))
    return res
