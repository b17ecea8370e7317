"""The log-gradient paper's experiments on the synthetic RAW set; each writes a CSV and a plot.

- :func:`brightness`: accuracy against the brightness factor b (scene illuminance × b before the sensor)
  for networks trained at b = 1, per input format.
- :func:`channels`: accuracy against the first layer's width c1 (c2 = 8), per format.
- :func:`similarity`: pairwise cosine similarity s = w_i·w_j / (|w_i| |w_j|) of first- and second-layer
  filters (the paper's Eq. 4): histograms, cumulative histogram of |s|, the count of pairs with |s| > 0.98.
- :func:`reconstruction`: a two-layer convolutional network that reconstructs the normalised RAW frame from
  log-gradients (float and 3-level), with PSNR and SSIM on the test split and example images.

Defaults are sized for 2 CPU cores in minutes (``quick`` for seconds); the paper's scale is a matter of
``size``/``n``/``epochs``. Networks here are float (the paper's setting); ``logcam train`` does the int8 path.
"""

from __future__ import annotations

import csv
import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from pydantic import Field, field_validator

from logcam.config import StrictModel
from logcam.errors import ConfigError
from logcam.files import atomic_write, check_folder, make_folder
from logcam.nn.data import MAX_SEED, RawDataset, SyntheticConfig, split_indices, synthetic_dataset
from logcam.nn.formats import FORMATS, get_format
from logcam.nn.train import TrainConfig, TrainResult, accuracy, batches, train_on

EXPERIMENTS = ("brightness", "channels", "similarity", "reconstruction")
BRIGHTNESS_FORMATS = ("raw16", "jpeg8", "fp_loggrad", "loggrad_q3")
DEFAULT_BRIGHTNESS = tuple(2.0**k for k in range(-6, 9))
DEFAULT_C1 = (2, 4, 8, 16, 32)
#: Largest brightness factor (the synthetic set's own limit, SyntheticConfig.brightness).
MAX_BRIGHTNESS = 1e6


class ExperimentConfig(StrictModel):
    """Scale of an experiment run (pixels, images, epochs)."""

    size: int = Field(32, ge=16, le=1024, description="image height = width, pixels")
    n: int = Field(1200, ge=30, le=200_000, description="images in the synthetic set")
    epochs: int = Field(8, ge=1, le=1000)
    formats: tuple[str, ...] | None = Field(None, description="input formats (default per experiment)")
    brightness: tuple[float, ...] = DEFAULT_BRIGHTNESS
    c1: tuple[int, ...] = DEFAULT_C1
    c2: int = Field(8, ge=1, le=512)
    sim_c1: int = Field(16, ge=2, le=512, description="similarity: c1 of the analysed networks")
    class_ratio: tuple[float, float, float] = (1.0, 1.0, 1.0)
    seed: int = Field(0, ge=0, le=MAX_SEED)
    threads: int = Field(1, ge=1, le=256, description="torch CPU threads")

    @field_validator("formats")
    @classmethod
    def _formats(cls, v: tuple[str, ...] | None) -> tuple[str, ...] | None:
        for f in v or ():
            if f not in FORMATS:
                raise ValueError(f"unknown format {f!r}; choose from {', '.join(FORMATS)}")
        if v is not None and not v:
            raise ValueError("give at least one format")
        return v

    @field_validator("brightness")
    @classmethod
    def _brightness(cls, v: tuple[float, ...]) -> tuple[float, ...]:
        bad = [b for b in v if not (math.isfinite(b) and 0 < b <= MAX_BRIGHTNESS)]
        if bad or not v:
            raise ValueError(f"brightness factors must be finite, > 0 and ≤ {MAX_BRIGHTNESS:g}, "
                             f"got {bad[0] if bad else 'none'}")
        return v

    @field_validator("c1")
    @classmethod
    def _c1(cls, v: tuple[int, ...]) -> tuple[int, ...]:
        bad = [c for c in v if not 1 <= c <= 512]
        if bad or not v:
            raise ValueError(f"c1 values must be 1..512, got {bad[0] if bad else 'none'}")
        return v


QUICK = {"size": 24, "n": 150, "epochs": 2, "brightness": (1 / 16, 1.0, 16.0, 256.0), "c1": (2, 8), "sim_c1": 4}


@dataclass
class Outcome:
    name: str
    csv: Path
    plot: Path
    rows: list[dict[str, object]]
    summary: dict[str, object] = field(default_factory=dict)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, object]:
        return {"experiment": self.name, "csv": str(self.csv), "plot": str(self.plot), "seconds": self.seconds,
                "summary": self.summary, "rows": self.rows}


def _data(cfg: ExperimentConfig, brightness: float = 1.0) -> RawDataset:
    return synthetic_dataset(SyntheticConfig(n=cfg.n, size=cfg.size, seed=cfg.seed, brightness=brightness,
                                             class_ratio=cfg.class_ratio))


def _train(cfg: ExperimentConfig, data: RawDataset, fmt: str, widths: Sequence[int]) -> TrainResult:
    tc = TrainConfig(format=fmt, widths=list(widths), epochs=cfg.epochs, seed=cfg.seed, threads=cfg.threads,
                     qat=False)
    return train_on(tc, data)


def _write_csv(path: Path, rows: list[dict[str, object]]) -> None:
    make_folder(path.parent)

    def write(tmp: Path) -> None:
        with tmp.open("w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0]) if rows else ["empty"])
            w.writeheader()
            w.writerows(rows)

    atomic_write(path, write)


def _save_fig(fig: object, path: Path) -> None:
    import matplotlib.pyplot as plt

    try:
        atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight"))  # type: ignore[attr-defined]
    finally:
        plt.close(fig)  # type: ignore[arg-type]


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


Tick = Callable[[str], None]


def brightness(cfg: ExperimentConfig, out: Path, tick: Tick | None = None) -> Outcome:
    """Accuracy vs brightness factor for networks trained at b = 1 (same scenes, same test split)."""
    formats = cfg.formats or BRIGHTNESS_FORMATS
    base = _data(cfg)
    _, _, te = split_indices(base.labels, cfg.seed)
    lit = {b: (base if b == 1.0 else _data(cfg, b)) for b in cfg.brightness}
    rows: list[dict[str, object]] = []
    for f in formats:
        res = _train(cfg, base, f, (4, cfg.c2))
        for b, data in lit.items():
            x = data.subset(te).formatted(res.fmt).tensors[0]
            acc = accuracy(res.model, x, data.labels[te])
            sat = float((data.frames[te] >= _sat_dn(data)).double().mean())
            rows.append({"format": f, "brightness": b, "log2_brightness": math.log2(b), "accuracy": acc,
                         "saturated_fraction": sat})
        if tick:
            tick(f)
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 4))
    for f in formats:
        r = [x for x in rows if x["format"] == f]
        ax.plot([x["log2_brightness"] for x in r], [x["accuracy"] for x in r], marker="o", label=f)
    ax.axhline(1 / 3, color="gray", ls=":", lw=1, label="chance")
    ax.set(xlabel="log2 brightness factor b (illuminance × b before the sensor)", ylabel="test accuracy",
           title=f"accuracy vs brightness ({cfg.size}×{cfg.size}, trained at b = 1)")
    ax.legend(fontsize=8)
    summary = {f: {"b1": _acc_at(rows, f, 1.0), "min": min(x["accuracy"] for x in rows if x["format"] == f)}
               for f in formats}
    return _finish("brightness", out, rows, fig, summary)


def _sat_dn(data: RawDataset, sensor: str = "tinyml_cmos") -> int:
    """DN of a saturated pixel (full well or ADC top), less 2 DN of read noise margin."""
    from logcam.sim.sensor import load_sensor

    s = load_sensor(sensor)
    return int(min(s.max_dn, math.floor(s.black_level_dn + s.gain_dn_per_e * s.full_well_e + 0.5))) - 2


def _acc_at(rows: list[dict[str, object]], f: str, b: float) -> float | None:
    for x in rows:
        if x["format"] == f and x["brightness"] == b:
            return float(x["accuracy"])  # type: ignore[arg-type]
    return None


def channels(cfg: ExperimentConfig, out: Path, tick: Tick | None = None) -> Outcome:
    """Test accuracy vs c1 (c2 fixed) for every format."""
    formats = cfg.formats or tuple(FORMATS)
    data = _data(cfg)
    rows: list[dict[str, object]] = []
    for f in formats:
        for c1 in cfg.c1:
            res = _train(cfg, data, f, (c1, cfg.c2))
            params = sum(p.numel() for p in res.model.parameters())
            rows.append({"format": f, "c1": c1, "c2": cfg.c2, "val_accuracy": res.val_acc,
                         "test_accuracy": res.test_acc, "parameters": params, "macs": res.spec.macs()})
            if tick:
                tick(f"{f} c1={c1}")
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 4))
    for f in formats:
        r = [x for x in rows if x["format"] == f]
        ax.plot([x["c1"] for x in r], [x["test_accuracy"] for x in r], marker="o", label=f)
    ax.set_xscale("log", base=2)
    ax.set(xlabel=f"c1 (first-layer channels), c2 = {cfg.c2}", ylabel="test accuracy",
           title=f"accuracy vs width ({cfg.size}×{cfg.size})")
    ax.legend(fontsize=8)
    summary = {f: {str(x["c1"]): x["test_accuracy"] for x in rows if x["format"] == f} for f in formats}
    return _finish("channels", out, rows, fig, summary)


def cosine_similarities(w: torch.Tensor) -> torch.Tensor:
    """Eq. 4: s_ij = w_i·w_j / (|w_i| |w_j|) for all filter pairs i < j (filters along dim 0)."""
    v = w.detach().flatten(1).to(torch.float64)
    v = v / v.norm(dim=1, keepdim=True).clamp(min=1e-12)
    s = v @ v.T
    i, j = torch.triu_indices(len(v), len(v), offset=1)
    return s[i, j]


def similarity(cfg: ExperimentConfig, out: Path, tick: Tick | None = None) -> Outcome:
    """Filter redundancy per format: cosine similarity of filter pairs in layers 1 and 2."""
    formats = cfg.formats or tuple(FORMATS)
    data = _data(cfg)
    rows: list[dict[str, object]] = []
    sims: dict[str, list[np.ndarray]] = {}
    edges = np.linspace(-1, 1, 41)
    for f in formats:
        res = _train(cfg, data, f, (cfg.sim_c1, cfg.c2))
        sims[f] = []
        for li in (0, 1):
            s = cosine_similarities(res.model.layers[li].op.weight).numpy()
            sims[f].append(s)
            hist, _ = np.histogram(s, bins=edges)
            rows.append({"format": f, "layer": li + 1, "pairs": len(s), "above_0.98": int((s > 0.98).sum()),
                         "abs_above_0.98": int((np.abs(s) > 0.98).sum()), "mean_abs": float(np.abs(s).mean()),
                         "test_accuracy": res.test_acc, "histogram": " ".join(map(str, hist.tolist()))})
        if tick:
            tick(f)
    plt = _plt()
    fig, axes = plt.subplots(2, 2, figsize=(10, 7))
    for li in (0, 1):
        for f in formats:
            s = sims[f][li]
            axes[li, 0].hist(s, bins=edges, histtype="step", label=f)
            a = np.sort(np.abs(s))
            axes[li, 1].plot(a, np.arange(1, len(a) + 1) / len(a), label=f)
        axes[li, 0].set(xlabel=f"cosine similarity s, layer {li + 1}", ylabel="filter pairs")
        axes[li, 1].set(xlabel=f"|s|, layer {li + 1}", ylabel="cumulative fraction of pairs")
        axes[li, 1].axvline(0.98, color="gray", ls=":", lw=1)
    axes[0, 0].legend(fontsize=8)
    fig.suptitle(f"filter similarity (Eq. 4), c1 = {cfg.sim_c1}, c2 = {cfg.c2}")
    summary = {f"{r['format']}/layer{r['layer']}": {"abs_above_0.98": r["abs_above_0.98"], "pairs": r["pairs"],
                                                    "mean_abs": r["mean_abs"]} for r in rows}
    return _finish("similarity", out, rows, fig, summary)


class ReconNet(torch.nn.Module):
    """Two 5×5 conv layers: log-gradient → hidden (ReLU) → normalised RAW."""

    def __init__(self, in_ch: int = 1, hidden: int = 16) -> None:
        super().__init__()
        self.c1 = torch.nn.Conv2d(in_ch, hidden, 5, padding=2)
        self.c2 = torch.nn.Conv2d(hidden, 1, 5, padding=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.c2(torch.relu(self.c1(x)))


def reconstruction(cfg: ExperimentConfig, out: Path, tick: Tick | None = None) -> Outcome:
    """RAW (DN / white, 0..1) from log-gradients, float and 3-level: PSNR (dB) and SSIM on the test split."""
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    formats = cfg.formats or ("fp_loggrad", "loggrad_q3")
    torch.set_num_threads(cfg.threads)
    data = _data(cfg)
    tr, _, te = split_indices(data.labels, cfg.seed)
    target = get_format("raw16", data.adc_bits)(data.frames)
    rows: list[dict[str, object]] = []
    examples: dict[str, np.ndarray] = {}
    for f in formats:
        torch.manual_seed(cfg.seed)
        x = get_format(f, data.adc_bits)(data.frames)
        net = ReconNet(x.shape[1])
        opt = torch.optim.Adam(net.parameters(), lr=1e-3)
        sched = torch.optim.lr_scheduler.ExponentialLR(opt, 0.95)
        gen = torch.Generator().manual_seed(cfg.seed)
        for _ in range(cfg.epochs * 2):
            for idx in batches(len(tr), 64, gen):
                opt.zero_grad(set_to_none=True)
                loss = torch.nn.functional.mse_loss(net(x[tr[idx]]), target[tr[idx]])
                loss.backward()
                opt.step()
            sched.step()
        with torch.no_grad():
            pred = net(x[te]).clamp(0, 1).numpy()[:, 0].astype(np.float64)
        ref = target[te].numpy()[:, 0].astype(np.float64)
        psnr = [peak_signal_noise_ratio(r, p, data_range=1.0) for r, p in zip(ref, pred)]
        ssim = [structural_similarity(r, p, data_range=1.0, win_size=7) for r, p in zip(ref, pred)]
        mean_img = np.broadcast_to(ref.mean(axis=(1, 2), keepdims=True), ref.shape)  # baseline: flat frame
        psnr0 = [peak_signal_noise_ratio(r, p, data_range=1.0) for r, p in zip(ref, mean_img)]
        rows.append({"format": f, "psnr_db": float(np.mean(psnr)), "ssim": float(np.mean(ssim)),
                     "psnr_flat_baseline_db": float(np.mean(psnr0)), "test_images": len(te)})
        examples[f] = pred[:4]
        if tick:
            tick(f)
    plt = _plt()
    k = min(4, len(te))
    fig, axes = plt.subplots(1 + len(formats), k, figsize=(2.2 * k, 2.2 * (1 + len(formats))), squeeze=False)
    ref = target[te].numpy()[:k, 0]
    for j in range(k):
        axes[0, j].imshow(ref[j], cmap="gray", vmin=0, vmax=max(1e-6, float(ref[j].max())))
        for i, f in enumerate(formats, start=1):
            axes[i, j].imshow(examples[f][j], cmap="gray", vmin=0, vmax=max(1e-6, float(ref[j].max())))
        for i in range(1 + len(formats)):
            axes[i, j].axis("off")
    for i, name in enumerate(["RAW (target)", *formats]):
        axes[i, 0].set_title(name, fontsize=8, loc="left")
    fig.suptitle("RAW reconstruction by a 2-layer CNN")
    summary = {r["format"]: {"psnr_db": r["psnr_db"], "ssim": r["ssim"]} for r in rows}
    return _finish("reconstruction", out, rows, fig, summary)


def _finish(name: str, out: Path, rows: list[dict[str, object]], fig: object, summary: dict) -> Outcome:
    make_folder(out)
    csv_path, png = out / f"{name}.csv", out / f"{name}.png"
    _write_csv(csv_path, rows)
    _save_fig(fig, png)
    return Outcome(name, csv_path, png, rows, summary)


RUNNERS: dict[str, Callable[[ExperimentConfig, Path, Tick | None], Outcome]] = {
    "brightness": brightness, "channels": channels, "similarity": similarity, "reconstruction": reconstruction}

#: Progress steps per experiment (for the progress bar).
def steps(name: str, cfg: ExperimentConfig) -> int:
    if name == "brightness":
        return len(cfg.formats or BRIGHTNESS_FORMATS)
    if name == "channels":
        return len(cfg.formats or FORMATS) * len(cfg.c1)
    if name == "reconstruction":
        return len(cfg.formats or ("fp_loggrad", "loggrad_q3"))
    return len(cfg.formats or FORMATS)


def run(name: str, cfg: ExperimentConfig, out: Path, tick: Tick | None = None) -> Outcome:
    """Run one experiment; writes OUT/NAME.csv, OUT/NAME.png and OUT/NAME.json."""
    if name not in RUNNERS:
        raise ConfigError(f"experiment: unknown name {name!r}; choose from {', '.join(EXPERIMENTS)}")
    check_folder(out)  # before minutes of training, not after
    torch.set_num_threads(cfg.threads)
    t0 = time.perf_counter()
    res = RUNNERS[name](cfg, out, tick)
    res.seconds = time.perf_counter() - t0
    text = json.dumps({**res.as_dict(), "config": cfg.model_dump(mode="json")}, indent=2)
    atomic_write(out / f"{name}.json", lambda tmp: tmp.write_text(text, encoding="utf-8"))
    return res


__all__ = ["EXPERIMENTS", "QUICK", "ExperimentConfig", "Outcome", "ReconNet", "brightness", "channels",
           "cosine_similarities", "reconstruction", "run", "similarity", "steps"]
