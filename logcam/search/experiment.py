"""``logcam experiment sacod``: the co-search against its baselines on the same data and budget.

Per seed: SACoD (phase masks searched with the network) swept over λ under both costs (nJ/pixel from
logcam's energy model, and the paper's FLOPs); Gabor masks + the same search and a lens camera + the same
search over the same λ (energy cost); co-train (learned mask + a fixed MobileNetV2-style back end) at several
width multipliers; the mask ablations (fixed in search / in retraining / both) and the mask's fabrication
noise σ with back-end fine-tuning, at ``ablation_lam``. Writes ``sacod.csv`` (one row per cell: mean, 95 %
t-interval and per-seed values), ``sacod.json`` (rows, per-seed runs, summary, the paper's numbers) and
``sacod.png`` (accuracy vs MFLOPs and vs nJ/pixel, the paper's relative numbers beside ours).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from logcam.config import StrictModel, embedded_config
from logcam.errors import ConfigError
from logcam.files import atomic_write, check_folder, make_folder
from logcam.nn.data import MAX_SEED
from logcam.nn.experiments import aggregate
from logcam.nn.optics_train import SceneData, scenes_for
from logcam.search.config import SearchConfig, load_search_config
from logcam.search.run import SearchResult, cotrain, noise_finetune, run_search, torch_device

#: What the issue quotes from SACoD: its winner against co-train / Gabor masks + search (relative %, points).
PAPER = {
    "cifar10": {"vs_cotrain": {"flops_pct": -44.1, "energy_pct": -27.6, "acc_pp": 0.01, "area_pct": -60.0},
                "vs_gabor": {"flops_pct": -70.9, "energy_pct": -48.4, "acc_pp": 1.58, "area_pct": -80.0}},
    "cifar100": {"vs_cotrain": {"flops_pct": -62.9, "energy_pct": -49.7, "acc_pp": 0.71, "area_pct": -60.0},
                 "vs_gabor": {"flops_pct": -64.1, "energy_pct": -50.9, "acc_pp": 7.92, "area_pct": -80.0}},
    "mask_fixed_costs_pp": 0.93,
    "rl_nas": "within 0.3 % of SACoD's accuracy, 8 GPU-days against 0.5",
}
#: ``--quick``: minutes on 2 cores (4 slots on 16×16 images, 300 of them, 3 search + 8 retrain epochs, 12 runs).
QUICK: dict[str, object] = {"n": 300, "epochs": 3, "retrain_epochs": 8, "lams": (0.0, 0.1), "ablation_lam": 0.1,
                            "widths": (0.5, 1.0), "sigmas": (0.1,), "finetune_epochs": 1}
#: ``--paper``: the paper's schedule on CIFAR-10 (``--cifar ROOT``), configs/search/cifar10.yaml.
PAPER_PRESET: dict[str, object] = {"search": "search/cifar10.yaml", "n": None, "epochs": None, "retrain_epochs": None,
                                   "alpha_lr": None, "lams": (0.0, 0.01, 0.03, 0.1, 0.3), "seeds": 3}

Tick = Callable[[str], None]
VALUES = ("float_acc_pct", "int8_acc_pct", "nj_per_pixel", "mflops", "seconds")
KEYS = ("method", "cost", "lam", "width", "mask", "sigma_um")


class SacodConfig(StrictModel):
    """Scale of ``logcam experiment sacod`` (the search config it starts from, and what it sweeps)."""

    search: str = Field("search/quick.yaml", description="embedded search config (configs/…) or a YAML path")
    n: int | None = Field(600, ge=20, le=200_000, description="images (None: the search config's)")
    size: int | None = Field(None, ge=8, le=256, description="image side, pixels (None: the search config's)")
    epochs: int | None = Field(5, ge=1, le=1000, description="search epochs (None: the search config's)")
    retrain_epochs: int | None = Field(12, ge=0, le=1000, description="retraining epochs (None: the config's)")
    alpha_lr: float | None = Field(None, gt=0, le=10, description="architecture Adam lr (None: the config's)")
    lams: tuple[float, ...] = Field((0.0, 0.03, 0.1, 0.3), min_length=1, max_length=16, description="λ sweep")
    costs: tuple[str, ...] = Field(("energy", "flops"), min_length=1, description="costs SACoD is swept under")
    front_ends: tuple[str, ...] = Field(("gabor_mask", "lens"), description="fixed front-ends + the same search")
    widths: tuple[float, ...] = Field((0.5, 0.75, 1.0), description="co-train MobileNetV2 width multipliers")
    ablation_lam: float = Field(0.1, ge=0, description="λ of the mask ablations and the noise sweep (in lams)")
    sigmas: tuple[float, ...] = Field((0.05, 0.1, 0.2), description="mask fabrication error σ after search, µm")
    finetune_epochs: int = Field(2, ge=0, le=1000, description="back-end epochs after the noise")
    seeds: int = Field(1, ge=1, le=32, description="seeds (seed, seed + 1, …): mean ± 95 % t-interval")
    seed: int = Field(0, ge=0, le=MAX_SEED)
    threads: int = Field(1, ge=1, le=256, description="torch CPU threads per run")
    jobs: int = Field(1, ge=1, le=256, description="runs at once, each in its own process (results unchanged)")
    device: str = Field("cpu", pattern=r"^(cpu|cuda(:[0-9]+)?)$",
                        description="torch device of the training steps: cpu, or cuda / cuda:N on a GPU node")
    cifar: str | None = Field(None, description="CIFAR-10 python batches here instead of the synthetic set")
    area: bool = Field(False, description="also each exported network's chip area from its RTL (Yosys, ~10-30 s "
                                          "per run): accelerator cells (logcam.energy.area) + the sensor")
    mask_init: Literal["lens", "gabor"] | None = Field(
        None, description="start of the learned masks (SACoD, co-train): lens or gabor (None: the config's)")

    @model_validator(mode="after")
    def _check(self) -> SacodConfig:
        if any(v < 0 for v in self.lams):
            raise ValueError(f"lams: every λ must be ≥ 0, got {list(self.lams)}")
        if self.ablation_lam not in self.lams:
            raise ValueError(f"ablation_lam: {self.ablation_lam} must be one of lams {list(self.lams)}")
        if bad := [c for c in self.costs if c not in ("energy", "flops")]:
            raise ValueError(f"costs: energy or flops, got {bad}")
        if bad := [f for f in self.front_ends if f not in ("gabor_mask", "gabor", "lens", "psf")]:
            raise ValueError(f"front_ends: gabor_mask, gabor, lens or psf, got {bad}")
        if any(not 0 < w <= 4 for w in self.widths):
            raise ValueError(f"widths: multipliers in (0, 4], got {list(self.widths)}")
        if any(not 0 < s <= 10 for s in self.sigmas):
            raise ValueError(f"sigmas: every σ in (0, 10] µm, got {list(self.sigmas)}")
        return self


def search_config(cfg: SacodConfig, seed: int, **over: object) -> SearchConfig:
    """The search config every run starts from: ``cfg.search`` with the experiment's scale, ``seed`` and ``over``."""
    path = Path(cfg.search) if Path(cfg.search).is_file() else embedded_config(cfg.search)
    base = load_search_config(path)
    data = base.dataset.model_dump()
    if cfg.cifar is not None:
        data = {"kind": "cifar", "root": cfg.cifar, "limit": cfg.n}
    elif data["kind"] == "rgb_objects":
        data.update({k: v for k, v in (("n", cfg.n), ("size", cfg.size)) if v is not None})
    elif cfg.n is not None:
        data["limit"] = cfg.n
    scale = {k: v for k, v in (("epochs", cfg.epochs), ("retrain_epochs", cfg.retrain_epochs),
                               ("alpha_lr", cfg.alpha_lr)) if v is not None}
    if cfg.mask_init is not None and "optics" not in over:
        over = {**over, "optics": {**base.optics.model_dump(), "init": cfg.mask_init}}
    return load_search_config(path, {"dataset": data, **scale, "seed": seed, "threads": cfg.threads,
                                     "device": cfg.device, **over})


def steps(cfg: SacodConfig) -> int:
    """Training runs (progress steps) of the experiment."""
    return sum(len(tasks(cfg, cfg.seed + k)) for k in range(cfg.seeds))


def _row(method: str, res: SearchResult, seed: int, *, cost: str = "-", lam: float | None = None,
         width: float | None = None, mask: str = "trained", seconds: float = 0.0) -> dict[str, object]:
    s = res.summary
    return {"method": method, "cost": cost, "lam": "-" if lam is None else lam,
            "width": "-" if width is None else width, "mask": mask, "sigma_um": "-", "seed": seed,
            "choice": " | ".join(res.choice), "float_acc_pct": 100 * s["float_test_acc"],
            "int8_acc_pct": 100 * s["int8_test_acc"], "nj_per_pixel": s["nj_per_pixel"], "mflops": s["mflops"],
            "seconds": seconds}


@dataclass(frozen=True)
class Task:
    """One training run of a seed: ``what`` names it in the progress bar; ``kind`` and ``arg`` say which."""

    seed: int
    what: str
    kind: Literal["sacod", "front", "cotrain", "ablation"]
    arg: tuple


ABLATIONS: dict[str, dict[str, bool]] = {
    "fixed in search": {"mask_in_search": False}, "fixed in retrain": {"mask_in_retrain": False},
    "fixed in both": {"mask_in_search": False, "mask_in_retrain": False}}


def tasks(cfg: SacodConfig, seed: int) -> list[Task]:
    """Every run of one seed, in the order of its rows (:func:`run_seed`)."""
    out: list[Task] = []
    for lam in cfg.lams:
        for cost in (cfg.costs[:1] if lam == 0 else cfg.costs):  # at λ = 0 the cost does not enter: one run
            out.append(Task(seed, f"sacod {cost} λ {lam:g}", "sacod", (cost, lam)))
    out += [Task(seed, f"{kind} λ {lam:g}", "front", (kind, lam)) for kind in cfg.front_ends for lam in cfg.lams]
    out += [Task(seed, f"co-train ×{w:g}", "cotrain", (w,)) for w in cfg.widths]
    out += [Task(seed, f"ablation: mask {name}", "ablation", (name,)) for name in ABLATIONS]
    return out


AREA_VALUES = ("accel_mm2", "area_mm2")


def chip_area_mm2(sc: SearchConfig, res: SearchResult) -> dict[str, float]:
    """A run's chip area: the exported accelerator's cells counted by Yosys (:func:`logcam.energy.area.chip_area`
    of :func:`logcam.sim.rtl.emit.layer_stats`) and the sensor regions its front-end reads, mm² at 40 nm."""
    from logcam.energy.area import chip_area
    from logcam.nn.optics import sensor_area_mm2
    from logcam.sim.rtl.emit import layer_stats

    size = int(res.summary["size"])
    area = chip_area(layer_stats(res.spec, res.bundle), sensor_area_mm2(sc.optics, size, size)["total_mm2"])
    return {"accel_mm2": area.accelerator_mm2, "area_mm2": area.total_mm2}


def run_task(cfg: SacodConfig, task: Task) -> tuple[list[dict[str, object]], list[dict[str, object]], float]:
    """One run: (its rows, rows that go after every run of the seed — the noise sweep of the headline run,
    SACoD under the energy cost at ``ablation_lam`` —, seconds). A top-level function of picklable arguments,
    so that ``jobs`` > 1 can run it in another process."""
    seed = task.seed
    base = search_config(cfg, seed)
    data = _scenes(cfg, seed)
    t0 = time.perf_counter()
    rows: list[dict[str, object]] = []
    tail: list[dict[str, object]] = []
    if task.kind == "sacod":
        cost, lam = task.arg
        sc = search_config(cfg, seed, cost=cost, lam=lam)
        res = run_search(sc, data=data)
        s = time.perf_counter() - t0
        rows += [_row("sacod", res, seed, cost=c, lam=lam, seconds=s) for c in (cfg.costs if lam == 0 else (cost,))]
        if cost == "energy" and lam == cfg.ablation_lam and base.optics.kind != "lens":
            for sigma in cfg.sigmas:
                noisy, tuned = noise_finetune(base, res, data, sigma, cfg.finetune_epochs)
                row = _row("noise", res, seed, cost="energy", lam=cfg.ablation_lam, mask="trained")
                row.update(sigma_um=sigma, float_acc_pct=100 * noisy, int8_acc_pct=float("nan"),
                           finetuned_acc_pct=100 * tuned)
                tail.append(row)
    elif task.kind == "front":
        kind, lam = task.arg
        sc = search_config(cfg, seed, cost="energy", lam=lam, optics={**base.optics.model_dump(), "kind": kind})
        res = run_search(sc, data=data)
        rows.append(_row(f"{kind}+search", res, seed, cost="energy", lam=lam, seconds=time.perf_counter() - t0))
    elif task.kind == "cotrain":
        (w,) = task.arg
        sc = base
        res = cotrain(base, w, data)
        rows.append(_row("co-train", res, seed, width=w, seconds=time.perf_counter() - t0))
    else:
        (name,) = task.arg
        sc = search_config(cfg, seed, cost="energy", lam=cfg.ablation_lam, **ABLATIONS[name])
        res = run_search(sc, data=data)
        rows.append(_row("ablation", res, seed, cost="energy", lam=cfg.ablation_lam, mask=name,
                         seconds=time.perf_counter() - t0))
    if cfg.area:
        area = chip_area_mm2(sc, res)
        for row in rows:
            row.update(area)
    return rows, tail, time.perf_counter() - t0


def _scenes(cfg: SacodConfig, seed: int) -> SceneData:
    """The seed's scenes, made once per process (every run of a seed trains on the same data)."""
    return _scenes_of(cfg.model_dump_json(), seed)


@lru_cache(maxsize=1)
def _scenes_of(cfg_json: str, seed: int) -> SceneData:
    base = search_config(SacodConfig.model_validate_json(cfg_json), seed)
    return scenes_for(base.optics, base.dataset)


def run_seed(cfg: SacodConfig, seed: int, tick: Tick | None = None) -> list[dict[str, object]]:
    """Every run of one seed, one after another in this process: rows of the per-seed table."""
    rows: list[dict[str, object]] = []
    tail: list[dict[str, object]] = []
    for task in tasks(cfg, seed):
        r, t, _ = run_task(cfg, task)
        rows += r
        tail += t
        if tick:
            tick(task.what)
    return rows + tail


def run_parallel(cfg: SacodConfig, tick: Tick | None = None,
                 done: Callable[[int, list[dict[str, object]]], None] | None = None) -> list[dict[str, object]]:
    """Every run of every seed in ``cfg.jobs`` worker processes (spawned: CUDA needs it); rows in the order
    :func:`run_seed` gives them, seed after seed, so the outcome equals the serial one value for value.
    ``done(seed, rows)`` is called as each seed completes, in seed order."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    seeds = [cfg.seed + k for k in range(cfg.seeds)]
    plan = [task for seed in seeds for task in tasks(cfg, seed)]
    results: dict[int, tuple[list[dict[str, object]], list[dict[str, object]], float]] = {}
    flushed = 0
    out: list[dict[str, object]] = []
    with ProcessPoolExecutor(max_workers=cfg.jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        futures = {pool.submit(run_task, cfg, task): i for i, task in enumerate(plan)}
        for fut in as_completed(futures):
            i = futures[fut]
            results[i] = fut.result()
            if tick:
                tick(f"seed {plan[i].seed}: {plan[i].what}")
            while flushed < len(seeds):  # seeds whose every run is back, in order
                idx = [j for j, t in enumerate(plan) if t.seed == seeds[flushed]]
                if any(j not in results for j in idx):
                    break
                rows = [r for j in idx for r in results[j][0]] + [r for j in idx for r in results[j][1]]
                out += rows
                if done:
                    done(seeds[flushed], out)
                flushed += 1
    return out


def _cells(runs: list[dict[str, object]]) -> list[dict[str, object]]:
    values = VALUES + (("finetuned_acc_pct",) if any("finetuned_acc_pct" in r for r in runs) else ())
    values += AREA_VALUES if any("area_mm2" in r for r in runs) else ()
    filled = [{"finetuned_acc_pct": float("nan"), **{k: float("nan") for k in AREA_VALUES}, **r} for r in runs]
    cells = aggregate(filled, KEYS, values)
    for c in cells:  # the architecture each seed derived
        c["choice"] = "; ".join(str(r["choice"]) for r in runs if all(r[k] == c[k] for k in KEYS))
    return cells


def _front(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Non-dominated (cost, accuracy) points: cheaper or more accurate than every other, by cost
    (:func:`logcam.energy.sweep.pareto_mask`, the project's one Pareto rule)."""
    import numpy as np

    from logcam.energy.sweep import pareto_mask

    if not points:
        return []
    cost, acc = np.array(points, dtype=np.float64).T
    return sorted(p for p, keep in zip(points, pareto_mask(cost, acc, maximize_other=True)) if keep)


def _dominated(p: tuple[float, float], others: list[tuple[float, float]]) -> bool:
    """Some other point is as cheap or cheaper and as accurate or more (and not the same point)."""
    return any(q[0] <= p[0] and q[1] >= p[1] and q != p for q in others)


def _gap(point: tuple[float, float], front: list[tuple[float, float]]) -> float | None:
    """Accuracy points by which ``point`` trails the best of ``front`` at equal or lower cost (negative: ahead);
    None when nothing on the front is as cheap."""
    best = [a for c, a in front if c <= point[0] * (1 + 1e-12)]
    return None if not best else max(best) - point[1]


def _pct(new: float, old: float) -> float:
    return round(100.0 * (new / old - 1.0), 2)


def summarise(cells: list[dict[str, object]], cfg: SacodConfig) -> dict[str, object]:
    """Fronts, SACoD against the baselines' front, energy cost against FLOPs cost, the paper's comparisons."""
    def pts(method: str, cost: str | None = None, x: str = "nj_per_pixel") -> list[tuple[float, float]]:
        return [(float(c[x]), float(c["int8_acc_pct"])) for c in cells  # type: ignore[arg-type]
                if c["method"] == method and (cost is None or c["cost"] == cost)]

    baselines = [f"{k}+search" for k in cfg.front_ends] + ["co-train"]
    out: dict[str, object] = {}
    for x in ("nj_per_pixel", "mflops"):
        base_pts = [p for m in baselines for p in pts(m, x=x)]
        base_front = _front(base_pts)
        sacod = pts("sacod", "energy" if x == "nj_per_pixel" else cfg.costs[-1], x)
        gaps = [g for p in sacod if (g := _gap(p, base_front)) is not None]
        out[f"baseline_front_{x}"] = base_front
        out[f"sacod_front_{x}"] = _front(sacod)
        out[f"sacod_trails_baselines_by_pp_{x}"] = None if not gaps else round(min(gaps), 2)
        # SACoD points no baseline point dominates (as cheap or cheaper and as accurate or more, not equal)
        out[f"sacod_on_combined_front_{x}"] = [p for p in sacod if not _dominated(p, base_pts)]
    if "energy" in cfg.costs and "flops" in cfg.costs:
        e, f = pts("sacod", "energy"), pts("sacod", "flops")
        fe, ff = _front(e), _front(f)
        out["energy_vs_flops"] = {
            "energy_front": fe, "flops_front": ff,
            "flops_points_dominated_by_energy": sum(1 for p in f if _dominated(p, e)),
            "energy_points_dominated_by_flops": sum(1 for p in e if _dominated(p, f)),
            "per_lam": [{"lam": c["lam"], "cost": c["cost"], "nj_per_pixel": c["nj_per_pixel"],
                         "int8_acc_pct": c["int8_acc_pct"]}
                        for c in cells if c["method"] == "sacod" and c["lam"] != 0]}

    def one(method: str, **match: object) -> dict[str, object] | None:
        found = [c for c in cells if c["method"] == method and all(c[k] == v for k, v in match.items())]
        return found[0] if found else None

    head = one("sacod", cost="energy", lam=cfg.ablation_lam)
    ours: dict[str, object] = {}
    for name, other in (("vs_cotrain", one("co-train", width=max(cfg.widths)) if cfg.widths else None),
                        ("vs_gabor", one("gabor_mask+search", lam=cfg.ablation_lam))):
        if head is not None and other is not None:
            ours[name] = {"flops_pct": _pct(head["mflops"], other["mflops"]),  # type: ignore[arg-type]
                          "energy_pct": _pct(head["nj_per_pixel"], other["nj_per_pixel"]),  # type: ignore[arg-type]
                          "acc_pp": round(head["int8_acc_pct"] - other["int8_acc_pct"], 2)}  # type: ignore[operator]
            if "accel_mm2" in head and "accel_mm2" in other:  # the accelerator's: the sensor is the same for all
                ours[name]["area_pct"] = _pct(head["accel_mm2"], other["accel_mm2"])  # type: ignore[index,arg-type]
    if head is not None and (both := one("ablation", mask="fixed in both")) is not None:
        ours["mask_fixed_costs_pp"] = round(head["int8_acc_pct"] - both["int8_acc_pct"], 2)  # type: ignore[operator]
    out["ours"] = ours
    out["paper"] = PAPER
    return out


def _plot(cells: list[dict[str, object]], summary: dict[str, object], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series = [("sacod", "energy", "SACoD (nJ/pixel cost)", "tab:blue", "o"),
              ("sacod", "flops", "SACoD (FLOPs cost)", "tab:cyan", "s"),
              ("gabor_mask+search", None, "Gabor masks + search", "tab:orange", "^"),
              ("gabor+search", None, "Gabor PSFs + search", "tab:orange", "v"),
              ("lens+search", None, "lens + search", "tab:gray", "D"),
              ("co-train", None, "co-train (MobileNetV2 ×w)", "tab:red", "P"),
              ("ablation", None, "SACoD, mask fixed (ablations)", "tab:purple", "x")]
    fig, ax = plt.subplots(1, 3, figsize=(14, 4.2), gridspec_kw={"width_ratios": [1, 1, 0.8]})
    accs = [float(c["int8_acc_pct"]) for c in cells if c["method"] != "noise"]  # type: ignore[arg-type]
    bottom = max(0.0, 10.0 * math.floor(min(accs, default=0.0) / 10.0) - 10.0)  # near-saturated sets stay readable
    for a, x, label in ((ax[0], "mflops", "MFLOPs per frame"), (ax[1], "nj_per_pixel", "nJ/pixel (read-out included)")):
        for method, cost, name, colour, marker in series:
            cs = sorted((c for c in cells if c["method"] == method and (cost is None or c["cost"] == cost)),
                        key=lambda c: float(c[x]))  # type: ignore[arg-type]
            if not cs:
                continue
            err = [c["int8_acc_pct_ci95"] or 0 for c in cs]
            a.errorbar([c[x] for c in cs], [c["int8_acc_pct"] for c in cs], yerr=err, color=colour, marker=marker,
                       ls="-" if method in ("sacod", "co-train") else ":", label=name, capsize=2)
        a.set_xscale("log")
        a.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())  # decade labels only: no overprinting
        a.set_ylim(bottom, 100)  # a 95 % t-interval over 2–3 seeds can reach far past the means
        a.set_xlabel(label)
        a.set_ylabel("int8 test accuracy, %")
        a.grid(alpha=0.3)
    ax[0].legend(fontsize=7)
    ax[2].axis("off")
    ours = summary.get("ours", {})
    lines = ["SACoD's winner against … (Δ FLOPs / Δ energy / Δ acc.)", ""]
    for key, label in (("vs_cotrain", "co-train"), ("vs_gabor", "Gabor + search")):
        p10, p100 = PAPER["cifar10"][key], PAPER["cifar100"][key]  # type: ignore[index]
        lines.append(f"{label}:")
        lines.append(f"  paper CIFAR-10   {p10['flops_pct']:+.1f} % / {p10['energy_pct']:+.1f} % / "
                     f"{p10['acc_pp']:+.2f} pp")
        lines.append(f"  paper CIFAR-100  {p100['flops_pct']:+.1f} % / {p100['energy_pct']:+.1f} % / "
                     f"{p100['acc_pp']:+.2f} pp")
        o = ours.get(key)  # type: ignore[union-attr]
        lines.append("  ours             " + (f"{o['flops_pct']:+.1f} % / {o['energy_pct']:+.1f} % / "
                                              f"{o['acc_pp']:+.2f} pp" if o else "—"))
        lines.append(f"  area: paper {p10['area_pct']:+.1f} %, ours "
                     + (f"{o['area_pct']:+.1f} % (accelerator)" if o and "area_pct" in o else "— (--area)"))
    fixed = ours.get("mask_fixed_costs_pp")  # type: ignore[union-attr]
    lines += ["", f"mask fixed in both stages costs: paper {PAPER['mask_fixed_costs_pp']} pp, ours "
              + ("—" if fixed is None else f"{fixed:+.2f} pp")]
    ax[2].text(0, 1, "\n".join(lines), va="top", family="monospace", fontsize=7.5)
    fig.tight_layout()
    try:
        atomic_write(path, lambda p: fig.savefig(p, dpi=110, format="png"))
    finally:
        plt.close(fig)


@dataclass
class SacodOutcome:
    csv: Path
    plot: Path
    rows: list[dict[str, object]]
    runs: list[dict[str, object]]
    summary: dict[str, object]
    seconds: float = 0.0

    def as_dict(self) -> dict[str, object]:
        return {"name": "sacod", "csv": str(self.csv), "plot": str(self.plot), "rows": self.rows, "runs": self.runs,
                "summary": self.summary, "seconds": self.seconds}


def run_sacod(cfg: SacodConfig, out: Path, tick: Tick | None = None) -> SacodOutcome:
    """Run every seed, aggregate, write OUT/sacod.csv, sacod.json and sacod.png."""
    import csv
    import io

    check_folder(out)
    torch_device(search_config(cfg, cfg.seed).device)  # a bad config, scale or device: one line before any run
    t0 = time.perf_counter()
    make_folder(out)
    runs: list[dict[str, object]] = []

    def keep(rows: list[dict[str, object]]) -> None:  # a killed experiment keeps its finished seeds
        text = json.dumps(rows, indent=1, default=str)
        atomic_write(out / "sacod_runs.json", lambda p: p.write_text(text, encoding="utf-8"))

    if cfg.jobs > 1:
        runs = run_parallel(cfg, tick, lambda _seed, rows: keep(rows))
    else:
        for k in range(cfg.seeds):
            runs += run_seed(cfg, cfg.seed + k, tick)
            keep(runs)
    cells = _cells(runs)
    summary = summarise(cells, cfg)
    buf = io.StringIO()
    fields = list(dict.fromkeys(k for c in cells for k in c))
    w = csv.DictWriter(buf, fieldnames=fields, restval="")
    w.writeheader()
    w.writerows(cells)
    text = buf.getvalue()
    csv_path, png = out / "sacod.csv", out / "sacod.png"
    atomic_write(csv_path, lambda p: p.write_text(text, encoding="utf-8"))
    _plot(cells, summary, png)
    res = SacodOutcome(csv_path, png, cells, runs, summary, time.perf_counter() - t0)
    body = json.dumps({**res.as_dict(), "config": cfg.model_dump(mode="json")}, indent=2, default=str)
    atomic_write(out / "sacod.json", lambda p: p.write_text(body, encoding="utf-8"))
    return res


def sacod_config(data: dict[str, object]) -> SacodConfig:
    """A :class:`SacodConfig` from the command line's settings (one ConfigError line on a mistake)."""
    from logcam.config import validate

    return validate(SacodConfig, data, where="experiment sacod")



def command(*, quick: bool, paper: bool, out_dir: Path | None, as_json: bool, settings: dict[str, object],
            unused: dict[str, object]) -> None:
    """``logcam experiment sacod``: presets (--quick, defaults, --paper), the options it takes, progress bar."""
    import sys

    import click

    for opt, given in unused.items():
        if given is not None:
            raise ConfigError(f"{opt}: not an option of sacod (it takes --quick/--paper/--seeds/--n/--size/--epochs/"
                              f"--seed/--threads/--jobs/--device/--mask-init/--area/--cifar/--out/--json)")
    data: dict[str, object] = dict(QUICK) if quick else dict(PAPER_PRESET) if paper else {}
    data.update({k: v for k, v in settings.items() if v is not None})
    if paper and data.get("cifar") is None:
        raise ConfigError("--paper: needs --cifar FOLDER (the CIFAR-10 python batches the paper's schedule runs on)")
    cfg = sacod_config(data)
    out = out_dir or Path("runs") / "experiments" / "sacod"
    if as_json or not sys.stderr.isatty():
        res = run_sacod(cfg, out)
    else:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        with Progress(TextColumn("sacod"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[info]}"),
                      TimeElapsedColumn(), transient=True) as prog:
            task = prog.add_task("sacod", total=steps(cfg), info="")
            res = run_sacod(cfg, out, tick=lambda what: prog.update(task, advance=1, info=what))
    if as_json:
        click.echo(json.dumps(res.as_dict(), indent=2, default=str))
        return
    click.echo(f"sacod: {len(res.rows)} cells, {len(res.runs)} runs in {res.seconds:.1f} s → {res.csv}, {res.plot}")
    for key in ("sacod_trails_baselines_by_pp_nj_per_pixel", "sacod_trails_baselines_by_pp_mflops", "ours"):
        click.echo(f"  {key}: {json.dumps(res.summary.get(key), default=str)}")
