"""The log-gradient paper's experiments on the synthetic RAW set; each writes a CSV, a JSON and a plot with the
paper's numbers beside ours.

- :func:`brightness`: accuracy against the brightness factor b (scene illuminance × b before the sensor)
  for networks trained at b = 1 (c1 = 32, c2 = 8 as in the paper), per input format; the drop in points
  from b = 1 beside the paper's drops.
- :func:`channels`: accuracy against the first layer's width c1 (c2 = 8), per format.
- :func:`similarity`: pairwise cosine similarity s = w_i·w_j / (|w_i| |w_j|) of first- and second-layer
  filters (the paper's Eq. 4) of c1 = 150, c2 = 5 networks: histograms, cumulative histogram of |s|, the
  count of pairs with s > 0.98 and its ratio to RAW's.
- :func:`reconstruction`: a two-layer CNN (channels 10 and 1, kernel 16, MSE, Adam 2e-4, batch 128) that
  reconstructs the normalised RAW frame from log-gradients (float and 3-level), PSNR and SSIM on the test split.

``seeds`` > 1 repeats every cell with seeds seed, seed + 1, … (data, split, initialisation, order) and reports
mean ± the half-width of the 95 % Student-t interval. :data:`PAPER` is the paper's settings (``--paper``);
the defaults keep its network widths and shrink images, images per set and epochs to fit 2 CPU cores;
:data:`QUICK` is a smoke run. Networks are float (the paper's setting); ``qat`` is the named int8 variant.
"""

from __future__ import annotations

import csv
import functools
import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from pydantic import Field, field_validator, model_validator

from logcam.config import StrictModel
from logcam.errors import ConfigError
from logcam.files import atomic_write, check_folder, make_folder
from logcam.nn.data import (
    ALL_CLASS_NAMES,
    MAX_SEED,
    RawDataset,
    SyntheticConfig,
    pascalraw_dataset,
    pascalraw_ratio,
    split_indices,
    synthetic_dataset,
)
from logcam.nn.formats import ACCEL_FORMATS, FORMATS, get_format
from logcam.nn.train import TrainConfig, TrainResult, accuracy, batches, train_on

EXPERIMENTS = ("brightness", "channels", "similarity", "reconstruction")
BRIGHTNESS_FORMATS = ("raw16", "jpeg8", "fp_loggrad", "loggrad_q3")
RECON_FORMATS = ("fp_loggrad", "loggrad_q3")
DEFAULT_BRIGHTNESS = tuple(2.0**k for k in range(-6, 9))
DEFAULT_C1 = (2, 4, 8, 16, 32)
#: Largest brightness factor (the synthetic set's own limit, SyntheticConfig.brightness).
MAX_BRIGHTNESS = 1e6
MAX_SEEDS = 50


class DataScale(StrictModel):
    """The synthetic set of a run: pixels, images, shape classes and their frequencies."""

    size: int = Field(32, ge=16, le=1024, description="image height = width, pixels")
    n: int = Field(1200, ge=30, le=200_000, description="images in the synthetic set")
    classes: int = Field(3, ge=2, le=len(ALL_CLASS_NAMES), description="synthetic shape classes")
    imbalance: Literal["none", "pascalraw"] = Field("none", description="class frequencies: balanced, or "
                                                                        "PASCAL RAW's 708 : 1765 : 4077")
    black: Literal["keep", "subtract"] = Field(
        "keep", description="named variant 'subtract': the sensor's black level (16 DN) taken off every frame "
                            "(clamped at 0) before any format, so the RDC sees pedestal-free DN; the RTL path and "
                            "the default keep it")
    pascalraw: str | None = Field(
        None, description="folder of PASCAL RAW 2014 (annotations/*.xml + RAW files): its first n objects of "
                          "bicycle, car, person instead of the synthetic set (classes and imbalance are the "
                          "data's own); brightness b scales the recorded 16-bit DN (an exposure change, clipped at "
                          "65 535, no noise re-simulated)")

    @model_validator(mode="after")
    def _real_data(self) -> DataScale:
        if self.pascalraw is not None and self.black == "subtract":
            raise ValueError("black: 'subtract' takes the synthetic sensor's black level; PASCAL RAW's camera "
                             "black level is not known here (use black: keep with pascalraw)")
        return self


class ExperimentConfig(DataScale):
    """Scale and recipe of an experiment run (pixels, images, epochs, optimiser, widths, seeds)."""

    epochs: int = Field(8, ge=1, le=1000)
    batch: int = Field(64, ge=1, le=4096)
    lr: float = Field(1e-3, gt=0, le=1)
    decay: float = Field(0.95, gt=0, le=1, description="learning-rate factor per epoch")
    qat: bool = Field(False, description="named variant: quantization-aware int8 training (jpeg8, loggrad_q3/q5)")
    formats: tuple[str, ...] | None = Field(None, description="input formats (default per experiment)")
    brightness: tuple[float, ...] = DEFAULT_BRIGHTNESS
    c1: tuple[int, ...] = DEFAULT_C1
    c2: int = Field(8, ge=1, le=512, description="second-layer channels (brightness, channels)")
    bright_c1: int = Field(32, ge=1, le=512, description="brightness: c1 of the trained networks")
    sim_c1: int = Field(150, ge=2, le=512, description="similarity: c1 of the analysed networks")
    sim_c2: int = Field(5, ge=2, le=512, description="similarity: c2 of the analysed networks")
    recon_size: int | None = Field(None, ge=16, le=1024, description="reconstruction: image size (default size)")
    recon_epochs: int = Field(30, ge=1, le=1000)
    recon_batch: int = Field(128, ge=1, le=4096)
    recon_lr: float = Field(2e-4, gt=0, le=1)
    recon_hidden: int = Field(10, ge=1, le=512, description="reconstruction: channels of the first layer")
    recon_kernel: int = Field(16, ge=1, le=64, description="reconstruction: kernel size of both layers")
    seed: int = Field(0, ge=0, le=MAX_SEED - MAX_SEEDS)
    seeds: int = Field(1, ge=1, le=MAX_SEEDS, description="seeds per cell (seed, seed + 1, …)")
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

    @model_validator(mode="after")
    def _check(self) -> ExperimentConfig:
        if self.qat and self.formats:
            bad = [f for f in self.formats if f not in ACCEL_FORMATS]
            if bad:
                raise ValueError(f"qat: format {bad[0]!r} has no integer form (use {', '.join(ACCEL_FORMATS)})")
        return self

    def formats_or(self, default: Sequence[str]) -> tuple[str, ...]:
        """The configured formats, else ``default`` (only the integer ones under ``qat``)."""
        if self.formats:
            return self.formats
        return tuple(f for f in default if not self.qat or f in ACCEL_FORMATS)


#: A smoke run: seconds per network (the paper's widths kept).
QUICK = {"size": 24, "n": 150, "epochs": 2, "brightness": (2.0**-6, 1.0, 8.0, 256.0), "c1": (2, 8),
         "recon_epochs": 2}
#: The paper's settings as issue 18 lists them: 224×224×1, 40 epochs, batch 64, Adam 1e-3 × 0.95 per epoch,
#: float networks, split 70/15/15, c1 = 32 / c2 = 8 for brightness, c1 ∈ {2 … 32} / c2 = 8 for channels,
#: c1 = 150 / c2 = 5 for similarity; reconstruction 96×96, channels 10 and 1, kernel 16, MSE, Adam 2e-4,
#: batch 128, 150 epochs. The set: 6 550 objects with PASCAL RAW's class imbalance (synthetic shapes unless
#: ``logcam train`` is pointed at the real data).
PAPER = {"size": 224, "n": 6550, "imbalance": "pascalraw", "epochs": 40, "batch": 64, "lr": 1e-3, "decay": 0.95,
         "qat": False, "brightness": DEFAULT_BRIGHTNESS, "c1": DEFAULT_C1, "c2": 8, "bright_c1": 32,
         "sim_c1": 150, "sim_c2": 5, "recon_size": 96, "recon_epochs": 150, "recon_batch": 128, "recon_lr": 2e-4,
         "recon_hidden": 10, "recon_kernel": 16}
#: A larger synthetic set that resolves a few points: 6 000 images of 6 shape classes (900 test images,
#: one image = 0.11 points).
LARGE = {"n": 6000, "classes": 6}


def family(fmt: str) -> str:
    """The paper's format family of an input format: ``raw``, ``jpeg`` or ``loggrad``."""
    return "raw" if fmt == "raw16" else "jpeg" if fmt.startswith("jpeg") else "loggrad"


#: The paper's numbers (issue 18); keys by experiment. Drops are in accuracy points from b = 1.
PAPER_NUMBERS: dict[str, dict[str, object]] = {
    "brightness": {
        "drop_points": {("jpeg", -6): 10.9, ("jpeg", 3): 4.3, ("loggrad", -6): 0.1, ("loggrad", 3): 1.7},
        "max_drop_points_2^-5..2^3": {"jpeg": 10.0, "loggrad": 1.7},
        "claim": "log-gradient loses ≈ 0.1 points at 2^-6 and 1.7 at 8×, JPEG 10.9 and 4.3; over 2^-5…2^3 "
                 "log-gradient loses ≤ 1.7 %, JPEG up to 10 %",
    },
    "channels": {
        "accuracy": {("loggrad", 2): 0.953},
        "raw_c1_to_match": 32,
        "claim": "log-gradient reaches 95.3 % with c1 = 2; RAW needs c1 = 32 for the same",
    },
    "similarity": {
        "ratio_above_0.98_vs_raw": 11.0,
        "claim": "log-gradient filters have heavier tails near |s| = 1: about 11× more pairs with s > 0.98 "
                 "than RAW",
    },
    "reconstruction": {
        "claim": "qualitative: the RAW image is reconstructed well enough to recognise the car (no number)",
    },
}


def _paper_cell(name: str, fmt: str, key: object) -> float | None:
    table = PAPER_NUMBERS[name].get("drop_points" if name == "brightness" else "accuracy", {})
    return table.get((family(fmt), key)) if isinstance(table, dict) else None  # type: ignore[return-value]


def t95(n: int) -> float:
    """Two-sided 95 % Student-t quantile for n samples (n − 1 degrees of freedom)."""
    from scipy.stats import t

    return float(t.ppf(0.975, n - 1))


def mean_ci(values: Sequence[float]) -> tuple[float | None, float | None]:
    """(mean, half-width of the 95 % t-interval); the half-width is None for one value, both None for none."""
    v = [float(x) for x in values if x is not None and math.isfinite(float(x))]
    if not v:
        return None, None
    m = float(np.mean(v))
    if len(v) < 2:
        return m, None
    return m, t95(len(v)) * float(np.std(v, ddof=1)) / math.sqrt(len(v))


def aggregate(rows: list[dict[str, object]], keys: Sequence[str], values: Sequence[str],
              sums: Sequence[str] = ()) -> list[dict[str, object]]:
    """Per-seed rows → one row per cell (equal ``keys``): each value's mean, ``VALUE_ci95`` (95 % t half-width)
    and ``VALUE_seeds`` (the per-seed values, space-separated); ``sums`` (space-separated integer histograms)
    are added up over the seeds; ``seeds`` counts them."""
    cells: dict[tuple, list[dict[str, object]]] = {}
    for r in rows:
        cells.setdefault(tuple(r[k] for k in keys), []).append(r)
    out = []
    for key, rs in cells.items():
        row: dict[str, object] = dict(zip(keys, key))
        for v in values:
            m, ci = mean_ci([r[v] for r in rs])  # type: ignore[misc]
            row[v], row[f"{v}_ci95"] = m, ci
            row[f"{v}_seeds"] = " ".join(f"{float(r[v]):.6g}" for r in rs)  # type: ignore[arg-type]
        for s in sums:
            tot = np.sum([np.array(str(r[s]).split(), dtype=np.int64) for r in rs], axis=0)
            row[s] = " ".join(map(str, tot.tolist()))
        row["seeds"] = len(rs)
        out.append(row)
    return out


@dataclass
class Outcome:
    name: str
    csv: Path
    plot: Path
    rows: list[dict[str, object]]
    summary: dict[str, object] = field(default_factory=dict)
    seconds: float = 0.0
    per_seed: list[dict[str, object]] = field(default_factory=list)

    def paper(self) -> object:
        """The paper's numbers for this experiment."""
        return PAPER_NUMBERS[self.name]

    def as_dict(self) -> dict[str, object]:
        return {"experiment": self.name, "csv": str(self.csv), "plot": str(self.plot), "seconds": self.seconds,
                "paper": _jsonable(self.paper()), "summary": self.summary, "rows": self.rows,
                "per_seed": self.per_seed}


def _jsonable(d: object) -> object:
    if isinstance(d, dict):
        return {(k if isinstance(k, str) else "/".join(map(str, k))): _jsonable(v) for k, v in d.items()}
    return d


def _synthetic(cfg: DataScale, seed: int, brightness: float = 1.0, size: int | None = None) -> SyntheticConfig:
    ratio = pascalraw_ratio(cfg.classes) if cfg.imbalance == "pascalraw" else None
    return SyntheticConfig(n=cfg.n, size=size or cfg.size, seed=seed, brightness=brightness, classes=cfg.classes,
                           class_ratio=ratio)


@functools.lru_cache(maxsize=2)
def _pascalraw(root: str, size: int, n: int) -> RawDataset:
    """The first ``n`` objects of PASCAL RAW under ``root`` (read once per run; callers copy before changing)."""
    return pascalraw_dataset(root, size, limit=n)


def _data(cfg: DataScale, seed: int, brightness: float = 1.0, size: int | None = None) -> RawDataset:
    if cfg.pascalraw is not None:  # real RAW: the split (seeded by the caller) varies per seed, the images do not
        real = _pascalraw(cfg.pascalraw, size or cfg.size, cfg.n)
        top = (1 << real.adc_bits) - 1
        frames = (real.frames.to(torch.float64) * brightness).round().clamp(0, top).to(real.frames.dtype)
        return RawDataset(frames, real.labels.clone(), real.adc_bits, real.class_names)
    syn = _synthetic(cfg, seed, brightness, size)
    data = synthetic_dataset(syn)
    black = _black_dn(cfg, syn.sensor)
    if black:
        data.frames = (data.frames.to(torch.int64) - black).clamp(min=0).to(data.frames.dtype)
    return data


def _black_dn(cfg: DataScale, sensor: str = "tinyml_cmos") -> int:
    """DN taken off every frame: the sensor's black level (rounded) under ``black: subtract``, else 0."""
    if cfg.black == "keep":
        return 0
    from logcam.sim.sensor import load_sensor

    return math.floor(load_sensor(sensor).black_level_dn + 0.5)


def _train(cfg: ExperimentConfig, data: RawDataset, fmt: str, widths: Sequence[int], seed: int) -> TrainResult:
    tc = TrainConfig(format=fmt, widths=list(widths), epochs=cfg.epochs, batch=cfg.batch, lr=cfg.lr,
                     decay=cfg.decay, seed=seed, threads=cfg.threads, qat=cfg.qat)
    return train_on(tc, data)


def _write_csv(path: Path, rows: list[dict[str, object]]) -> None:
    make_folder(path.parent)
    names: list[str] = []
    for r in rows:
        names += [k for k in r if k not in names]

    def write(tmp: Path) -> None:
        with tmp.open("w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=names or ["empty"])
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


def _err(rows: list[dict[str, object]], key: str) -> list[float]:
    return [float(r[f"{key}_ci95"]) if r.get(f"{key}_ci95") is not None else 0.0 for r in rows]  # type: ignore[arg-type]


def _scale_note(cfg: ExperimentConfig) -> str:
    return (f"{cfg.size}×{cfg.size}, {cfg.n} images, {cfg.classes} classes, {cfg.epochs} epochs, "
            f"{cfg.seeds} seed{'s' if cfg.seeds > 1 else ''} (mean ± 95 % t)"
            + (", black level subtracted" if cfg.black == "subtract" else ""))


# --- brightness ----------------------------------------------------------------------------------------

def _sensor_levels(sensor: str = "tinyml_cmos") -> tuple[int, int]:
    """(DN of a saturated pixel less 2 DN of read-noise margin, DN one step above the black level)."""
    from logcam.sim.sensor import load_sensor

    s = load_sensor(sensor)
    sat = int(min(s.max_dn, math.floor(s.black_level_dn + s.gain_dn_per_e * s.full_well_e + 0.5))) - 2
    return sat, math.floor(s.black_level_dn + 0.5) + 1


def _brightness_seed(cfg: ExperimentConfig, seed: int, tick: Tick | None) -> tuple[list[dict[str, object]], dict]:
    formats = cfg.formats_or(BRIGHTNESS_FORMATS)
    base = _data(cfg, seed)
    _, _, te = split_indices(base.labels, seed)
    levels = sorted(set(cfg.brightness) | {1.0})
    lit = {b: (base if b == 1.0 else _data(cfg, seed, b)) for b in levels}
    sat_dn, dark_dn = ((v - _black_dn(cfg) for v in _sensor_levels()) if cfg.pascalraw is None
                       else ((1 << base.adc_bits) - 1, 0))  # real RAW: clipped at full scale, or exactly 0
    codes = get_format("loggrad_q3", base.adc_bits)
    nonzero = {b: float((codes(d.frames[te]) != 0).double().mean()) for b, d in lit.items()}
    rows: list[dict[str, object]] = []
    for f in formats:
        res = _train(cfg, base, f, (cfg.bright_c1, cfg.c2), seed)
        acc = {b: accuracy(res.model, d.subset(te).formatted(res.fmt).tensors[0], d.labels[te]) for b, d in lit.items()}
        for b in cfg.brightness:
            fr = lit[b].frames[te]
            rows.append({"format": f, "brightness": b, "log2_brightness": math.log2(b), "seed": seed,
                         "accuracy": acc[b], "drop_points": 100 * (acc[1.0] - acc[b]),
                         "saturated_fraction": float((fr >= sat_dn).double().mean()),
                         "dark_fraction": float((fr <= dark_dn).double().mean()),
                         "nonzero_code_fraction": nonzero[b]})
        if tick:
            tick(f"{f} seed {seed}")
    return rows, {}


def _brightness_finish(cfg: ExperimentConfig, rows: list[dict[str, object]], extra: dict) -> tuple[object, dict]:
    formats = list(dict.fromkeys(str(r["format"]) for r in rows))
    for r in rows:
        lb = float(r["log2_brightness"])  # type: ignore[arg-type]
        r["paper_drop_points"] = _paper_cell("brightness", str(r["format"]), round(lb) if lb == round(lb) else lb)
    window = [r for r in rows if -5 <= float(r["log2_brightness"]) <= 3]  # type: ignore[arg-type]
    paper_max = PAPER_NUMBERS["brightness"]["max_drop_points_2^-5..2^3"]
    summary: dict[str, object] = {}
    for f in formats:
        fr = [r for r in rows if r["format"] == f]
        w = [r for r in window if r["format"] == f]
        worst = max(w, key=lambda r: float(r["drop_points"])) if w else None  # type: ignore[arg-type]
        summary[f] = {
            "accuracy_b1": next((r["accuracy"] for r in fr if r["brightness"] == 1.0), None),
            **{f"drop_points_2^{k}": next(({"ours": r["drop_points"], "ci95": r["drop_points_ci95"],
                                             "paper": r["paper_drop_points"]}
                                            for r in fr if r["log2_brightness"] == k), None) for k in (-6, 3)},
            "max_drop_points_2^-5..2^3": None if worst is None else {
                "ours": worst["drop_points"], "ci95": worst["drop_points_ci95"], "at_log2_b": worst["log2_brightness"],
                "paper": paper_max.get(family(f))},  # type: ignore[union-attr]
        }
    plt = _plt()
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.2))
    for f in formats:
        fr = [r for r in rows if r["format"] == f]
        x = [r["log2_brightness"] for r in fr]
        axes[0].errorbar(x, [r["accuracy"] for r in fr], yerr=_err(fr, "accuracy"), marker="o", capsize=2, label=f)
        line = axes[1].errorbar(x, [r["drop_points"] for r in fr], yerr=_err(fr, "drop_points"), marker="o",
                                capsize=2, label=f"{f} (ours)")
        px = [(r["log2_brightness"], r["paper_drop_points"]) for r in fr if r["paper_drop_points"] is not None]
        if px:
            axes[1].plot(*zip(*px), ls="none", marker="*", ms=13, mec="k", color=line[0].get_color(),
                         label=f"{f}: paper ({family(f)})")
    axes[0].axhline(1 / cfg.classes, color="gray", ls=":", lw=1, label="chance")
    axes[0].set(xlabel="log2 b (illuminance × b before the sensor)", ylabel="test accuracy",
                title="accuracy vs brightness (trained at b = 1)")
    axes[1].axvspan(-5, 3, color="0.92", zorder=0, label="paper's 2^-5…2^3")
    axes[1].axhline(0, color="gray", lw=0.8)
    axes[1].set(xlabel="log2 b", ylabel="drop from b = 1, accuracy points",
                title="drop: ours (line ± 95 % t) vs paper (★)")
    phys = [r for r in rows if r["format"] == formats[0]]
    axes[2].plot([r["log2_brightness"] for r in phys], [r["saturated_fraction"] for r in phys], marker="s",
                 label="pixels at full well (saturation)")
    axes[2].plot([r["log2_brightness"] for r in phys], [r["dark_fraction"] for r in phys], marker="v",
                 label="pixels ≤ 1 DN above black (≤ 10 e⁻: read noise, shot noise)")
    axes[2].plot([r["log2_brightness"] for r in phys], [10 * float(r["nonzero_code_fraction"]) for r in phys],  # type: ignore[arg-type]
                 marker="d", label="non-zero 3-level RDC codes × 10 (ratio ≥ 2: RDC threshold)")
    axes[2].set(xlabel="log2 b", ylabel="fraction of test pixels", title="what the sensor does to the frames")
    for a in axes:
        a.legend(fontsize=7)
    fig.suptitle(f"brightness, c1 = {cfg.bright_c1}, c2 = {cfg.c2}; {_scale_note(cfg)}", fontsize=9)
    return fig, summary


# --- channels ------------------------------------------------------------------------------------------

def _channels_seed(cfg: ExperimentConfig, seed: int, tick: Tick | None) -> tuple[list[dict[str, object]], dict]:
    formats = cfg.formats_or(FORMATS)
    data = _data(cfg, seed)
    rows: list[dict[str, object]] = []
    for f in formats:
        for c1 in cfg.c1:
            res = _train(cfg, data, f, (c1, cfg.c2), seed)
            params = sum(p.numel() for p in res.model.parameters())
            rows.append({"format": f, "c1": c1, "c2": cfg.c2, "parameters": params, "macs": res.spec.macs(),
                         "seed": seed, "val_accuracy": res.val_acc, "test_accuracy": res.test_acc})
            if tick:
                tick(f"{f} c1={c1} seed {seed}")
    return rows, {}


def _channels_finish(cfg: ExperimentConfig, rows: list[dict[str, object]], extra: dict) -> tuple[object, dict]:
    formats = list(dict.fromkeys(str(r["format"]) for r in rows))
    for r in rows:
        r["paper_test_accuracy"] = _paper_cell("channels", str(r["format"]), r["c1"])
    summary: dict[str, object] = {f: {str(r["c1"]): {"ours": r["test_accuracy"], "ci95": r["test_accuracy_ci95"],
                                                   "paper": r["paper_test_accuracy"]}
                                      for r in rows if r["format"] == f} for f in formats}
    lg = [r for r in rows if family(str(r["format"])) == "loggrad" and r["c1"] == min(cfg.c1)]
    raw = sorted((r for r in rows if r["format"] == "raw16"), key=lambda r: int(r["c1"]))  # type: ignore[arg-type]
    if lg and raw:
        best = max(float(r["test_accuracy"]) for r in lg)  # type: ignore[arg-type]
        match = next((int(r["c1"]) for r in raw if float(r["test_accuracy"]) >= best), None)  # type: ignore[arg-type]
        summary["raw16_c1_to_match_loggrad"] = {"loggrad_c1": min(cfg.c1), "loggrad_best": best, "ours": match,
                                                 "paper": PAPER_NUMBERS["channels"]["raw_c1_to_match"]}
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    for f in formats:
        fr = [r for r in rows if r["format"] == f]
        ax.errorbar([r["c1"] for r in fr], [r["test_accuracy"] for r in fr], yerr=_err(fr, "test_accuracy"),
                    marker="o", capsize=2, label=f)
    ax.plot([2], [0.953], ls="none", marker="*", ms=14, mec="k", color="gold", label="paper: log-gradient, c1 = 2")
    ax.axhline(1 / cfg.classes, color="gray", ls=":", lw=1, label="chance")
    ax.set_xscale("log", base=2)
    ax.set(xlabel=f"c1 (first-layer channels), c2 = {cfg.c2}", ylabel="test accuracy (± 95 % t)",
           title="accuracy vs width (paper: RAW needs c1 = 32)")
    ax.legend(fontsize=7)
    fig.suptitle(_scale_note(cfg), fontsize=8)
    return fig, summary


# --- similarity ----------------------------------------------------------------------------------------

def cosine_similarities(w: torch.Tensor) -> torch.Tensor:
    """Eq. 4: s_ij = w_i·w_j / (|w_i| |w_j|) for all filter pairs i < j (filters along dim 0)."""
    v = w.detach().flatten(1).to(torch.float64)
    v = v / v.norm(dim=1, keepdim=True).clamp(min=1e-12)
    s = v @ v.T
    i, j = torch.triu_indices(len(v), len(v), offset=1)
    return s[i, j]


EDGES = np.linspace(-1, 1, 41)


def _similarity_seed(cfg: ExperimentConfig, seed: int, tick: Tick | None) -> tuple[list[dict[str, object]], dict]:
    formats = cfg.formats_or(FORMATS)
    data = _data(cfg, seed)
    rows: list[dict[str, object]] = []
    sims: dict[str, list[np.ndarray]] = {}
    for f in formats:
        res = _train(cfg, data, f, (cfg.sim_c1, cfg.sim_c2), seed)
        sims[f] = []
        for li in (0, 1):
            s = cosine_similarities(res.model.layers[li].op.weight).numpy()
            sims[f].append(s)
            hist, _ = np.histogram(s, bins=EDGES)
            rows.append({"format": f, "layer": li + 1, "pairs": len(s), "seed": seed,
                         "above_0.98": int((s > 0.98).sum()), "abs_above_0.98": int((np.abs(s) > 0.98).sum()),
                         "mean_abs": float(np.abs(s).mean()), "test_accuracy": res.test_acc,
                         "histogram": " ".join(map(str, hist.tolist()))})
        if tick:
            tick(f"{f} seed {seed}")
    return rows, {"sims": sims}


def _similarity_finish(cfg: ExperimentConfig, rows: list[dict[str, object]], extra: dict) -> tuple[object, dict]:
    formats = list(dict.fromkeys(str(r["format"]) for r in rows))
    paper = PAPER_NUMBERS["similarity"]["ratio_above_0.98_vs_raw"]
    for r in rows:
        raw = next((x for x in rows if x["format"] == "raw16" and x["layer"] == r["layer"]), None)
        r["ratio_above_0.98_vs_raw16"] = (float(r["above_0.98"]) / float(raw["above_0.98"])  # type: ignore[arg-type]
                                          if raw is not None and float(raw["above_0.98"]) > 0 else None)  # type: ignore[arg-type]
        r["paper_ratio_vs_raw16"] = paper if family(str(r["format"])) == "loggrad" else None
    summary = {f"{r['format']}/layer{r['layer']}": {
        "above_0.98": r["above_0.98"], "ci95": r["above_0.98_ci95"], "pairs": r["pairs"], "mean_abs": r["mean_abs"],
        "ratio_vs_raw16": r["ratio_above_0.98_vs_raw16"], "paper_ratio": r["paper_ratio_vs_raw16"]} for r in rows}
    sims: dict[str, list[np.ndarray]] = extra["sims"]
    plt = _plt()
    fig, axes = plt.subplots(2, 2, figsize=(11, 7.5))
    for li in (0, 1):
        for f in formats:
            hist = np.array(str(next(r for r in rows if r["format"] == f and r["layer"] == li + 1)["histogram"])
                            .split(), dtype=float)
            axes[li, 0].stairs(hist, EDGES, label=f)
            a = np.sort(np.abs(sims[f][li]))
            axes[li, 1].plot(a, np.arange(1, len(a) + 1) / len(a), label=f)
        axes[li, 0].set(xlabel=f"cosine similarity s, layer {li + 1} (all seeds)", ylabel="filter pairs")
        axes[li, 0].set_yscale("symlog", linthresh=1)
        axes[li, 1].set(xlabel=f"|s|, layer {li + 1} (first seed)", ylabel="cumulative fraction of pairs")
        axes[li, 1].axvline(0.98, color="gray", ls=":", lw=1)
        text = "\n".join(f"{r['format']}: s>0.98 {float(r['above_0.98']):.1f}"  # type: ignore[arg-type]
                         + (f" ({float(r['ratio_above_0.98_vs_raw16']):.1f}× RAW)"  # type: ignore[arg-type]
                            if r["ratio_above_0.98_vs_raw16"] is not None else "")
                         for r in rows if r["layer"] == li + 1)
        axes[li, 1].text(0.02, 0.98, f"{text}\npaper: log-gradient ≈ {paper:g}× RAW", va="top", fontsize=7,
                         transform=axes[li, 1].transAxes)
    axes[0, 0].legend(fontsize=7)
    fig.suptitle(f"filter similarity (Eq. 4), c1 = {cfg.sim_c1}, c2 = {cfg.sim_c2}; {_scale_note(cfg)}", fontsize=9)
    return fig, summary


# --- reconstruction ------------------------------------------------------------------------------------

class ReconNet(torch.nn.Module):
    """Two conv layers (the paper: channels 10 and 1, kernel 16, 'same' padding): log-gradient → hidden
    (ReLU) → normalised RAW."""

    def __init__(self, in_ch: int = 1, hidden: int = 10, kernel: int = 16) -> None:
        super().__init__()
        self.c1 = torch.nn.Conv2d(in_ch, hidden, kernel)
        self.c2 = torch.nn.Conv2d(hidden, 1, kernel)
        lo = (kernel - 1) // 2
        self.pad = (lo, kernel - 1 - lo, lo, kernel - 1 - lo)  # 'same' (one more zero after for even kernels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pad = torch.nn.functional.pad
        return self.c2(pad(torch.relu(self.c1(pad(x, self.pad))), self.pad))


def _reconstruction_seed(cfg: ExperimentConfig, seed: int, tick: Tick | None
                         ) -> tuple[list[dict[str, object]], dict]:
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity

    formats = cfg.formats_or(RECON_FORMATS)
    torch.set_num_threads(cfg.threads)
    data = _data(cfg, seed, size=cfg.recon_size)
    tr, _, te = split_indices(data.labels, seed)
    target = get_format("raw16", data.adc_bits)(data.frames)
    rows: list[dict[str, object]] = []
    examples: dict[str, np.ndarray] = {}
    ref = target[te].numpy()[:, 0].astype(np.float64)
    win = min(7, ref.shape[-1] - (1 - ref.shape[-1] % 2))
    mean_img = np.broadcast_to(ref.mean(axis=(1, 2), keepdims=True), ref.shape)  # baseline: flat frame
    psnr0 = float(np.mean([peak_signal_noise_ratio(r, p, data_range=1.0) for r, p in zip(ref, mean_img)]))
    for f in formats:
        torch.manual_seed(seed)
        x = get_format(f, data.adc_bits)(data.frames)
        net = ReconNet(x.shape[1], cfg.recon_hidden, cfg.recon_kernel)
        opt = torch.optim.Adam(net.parameters(), lr=cfg.recon_lr)
        gen = torch.Generator().manual_seed(seed)
        for _ in range(cfg.recon_epochs):
            for idx in batches(len(tr), cfg.recon_batch, gen):
                opt.zero_grad(set_to_none=True)
                loss = torch.nn.functional.mse_loss(net(x[tr[idx]]), target[tr[idx]])
                loss.backward()
                opt.step()
        with torch.no_grad():
            pred = net(x[te]).clamp(0, 1).numpy()[:, 0].astype(np.float64)
        psnr = [peak_signal_noise_ratio(r, p, data_range=1.0) for r, p in zip(ref, pred)]
        ssim = [structural_similarity(r, p, data_range=1.0, win_size=win) for r, p in zip(ref, pred)]
        rows.append({"format": f, "test_images": len(te), "seed": seed, "psnr_db": float(np.mean(psnr)),
                     "ssim": float(np.mean(ssim)), "psnr_flat_baseline_db": psnr0})
        examples[f] = pred[:4]
        if tick:
            tick(f"{f} seed {seed}")
    return rows, {"examples": examples, "ref": ref[:4]}


def _reconstruction_finish(cfg: ExperimentConfig, rows: list[dict[str, object]], extra: dict
                           ) -> tuple[object, dict]:
    claim = PAPER_NUMBERS["reconstruction"]["claim"]
    for r in rows:
        r["paper"] = claim
    formats = [str(r["format"]) for r in rows]
    examples, ref = extra["examples"], extra["ref"]
    plt = _plt()
    k = len(ref)
    fig, axes = plt.subplots(1 + len(formats), k, figsize=(2.2 * k, 2.2 * (1 + len(formats))), squeeze=False)
    for j in range(k):
        top = max(1e-6, float(ref[j].max()))
        axes[0, j].imshow(ref[j], cmap="gray", vmin=0, vmax=top)
        for i, f in enumerate(formats, start=1):
            axes[i, j].imshow(examples[f][j], cmap="gray", vmin=0, vmax=top)
        for i in range(1 + len(formats)):
            axes[i, j].axis("off")
    for i, name in enumerate(["RAW (target)", *formats]):
        axes[i, 0].set_title(name, fontsize=8, loc="left")
    fig.suptitle(f"RAW reconstruction, 2-layer CNN ({cfg.recon_hidden}, 1 ch, kernel {cfg.recon_kernel}), "
                 f"{cfg.recon_epochs} epochs\npaper: {claim}", fontsize=8)
    summary = {r["format"]: {"psnr_db": r["psnr_db"], "psnr_ci95": r["psnr_db_ci95"], "ssim": r["ssim"],
                             "ssim_ci95": r["ssim_ci95"], "flat_baseline_db": r["psnr_flat_baseline_db"]}
               for r in rows}
    return fig, summary


# --- driver --------------------------------------------------------------------------------------------

SeedFn = Callable[[ExperimentConfig, int, Tick | None], tuple[list[dict[str, object]], dict]]
FinishFn = Callable[[ExperimentConfig, list[dict[str, object]], dict], tuple[object, dict]]
#: name → (one seed, cell keys, averaged values, summed histograms, plot + summary)
SPECS: dict[str, tuple[SeedFn, tuple[str, ...], tuple[str, ...], tuple[str, ...], FinishFn]] = {
    "brightness": (_brightness_seed, ("format", "brightness", "log2_brightness"),
                   ("accuracy", "drop_points", "saturated_fraction", "dark_fraction", "nonzero_code_fraction"), (),
                   _brightness_finish),
    "channels": (_channels_seed, ("format", "c1", "c2", "parameters", "macs"), ("val_accuracy", "test_accuracy"),
                 (), _channels_finish),
    "similarity": (_similarity_seed, ("format", "layer", "pairs"),
                   ("above_0.98", "abs_above_0.98", "mean_abs", "test_accuracy"), ("histogram",), _similarity_finish),
    "reconstruction": (_reconstruction_seed, ("format", "test_images"), ("psnr_db", "ssim", "psnr_flat_baseline_db"),
                       (), _reconstruction_finish),
}


def steps(name: str, cfg: ExperimentConfig) -> int:
    """Progress steps of a run (for the progress bar)."""
    if name == "brightness":
        per = len(cfg.formats_or(BRIGHTNESS_FORMATS))
    elif name == "channels":
        per = len(cfg.formats_or(FORMATS)) * len(cfg.c1)
    elif name == "reconstruction":
        per = len(cfg.formats_or(RECON_FORMATS))
    else:
        per = len(cfg.formats_or(FORMATS))
    return per * cfg.seeds


def _check_formats(name: str, cfg: ExperimentConfig) -> None:
    if name == "reconstruction" and cfg.qat:
        raise ConfigError("qat: not an option of reconstruction (its network is float only)")
    default = {"brightness": BRIGHTNESS_FORMATS, "reconstruction": RECON_FORMATS}.get(name, FORMATS)
    if not cfg.formats_or(default):
        raise ConfigError("formats: none left for this experiment")


def run(name: str, cfg: ExperimentConfig, out: Path, tick: Tick | None = None) -> Outcome:
    """Run one experiment over ``cfg.seeds`` seeds; writes OUT/NAME.csv (one row per cell: mean, ``_ci95``,
    per-seed values, the paper's number), OUT/NAME.png and OUT/NAME.json (+ the per-seed rows)."""
    if name not in SPECS:
        raise ConfigError(f"experiment: unknown name {name!r}; choose from {', '.join(EXPERIMENTS)}")
    _check_formats(name, cfg)
    check_folder(out)  # before minutes of training, not after
    torch.set_num_threads(cfg.threads)
    seed_fn, keys, values, sums, finish = SPECS[name]
    t0 = time.perf_counter()
    per_seed: list[dict[str, object]] = []
    extra: dict = {}
    for seed in range(cfg.seed, cfg.seed + cfg.seeds):
        rows, ex = seed_fn(cfg, seed, tick)
        per_seed += rows
        extra = extra or ex  # the first seed's arrays for the plots
    rows = aggregate(per_seed, keys, values, sums)
    fig, summary = finish(cfg, rows, extra)
    make_folder(out)
    csv_path, png = out / f"{name}.csv", out / f"{name}.png"
    _write_csv(csv_path, rows)
    _save_fig(fig, png)
    res = Outcome(name, csv_path, png, rows, summary, time.perf_counter() - t0, per_seed)
    text = json.dumps({**res.as_dict(), "config": cfg.model_dump(mode="json")}, indent=2, default=str)
    atomic_write(out / f"{name}.json", lambda tmp: tmp.write_text(text, encoding="utf-8"))
    return res


__all__ = ["EXPERIMENTS", "LARGE", "PAPER", "PAPER_NUMBERS", "QUICK", "DataScale", "ExperimentConfig", "Outcome",
           "ReconNet", "aggregate", "cosine_similarities", "family", "mean_ci", "run", "steps", "t95"]
