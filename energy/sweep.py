"""Design-space sweep, vectorised: readout × c1 × node × frame rate → nJ/pixel per stage, Pareto front.

The analytic model is evaluated once per discrete (readout, c1) combination — the network changes shape,
so this is a short loop over combinations, not over points — and split into an analog part, a digital
part at the table's node and leakage power. Every design point is then one numpy broadcast:
E[r, c, n, f] = analog[r, c] + digital[r, c]·scale[n] + leak·1e-6 / fps[f] (per stage, pJ/frame).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pydantic import Field

from logcam.config import StrictModel, read_yaml, validate
from logcam.energy.activity import Activity
from logcam.energy.components import leakage_pj, node_scale
from logcam.energy.pipeline import STAGES, PipelineCfg, analytic_activity, load_pipeline, resolve_net, stage_energy
from logcam.energy.tech import Scaling, TechTable
from logcam.errors import ConfigError, InputError


class Axes(StrictModel):
    readout: list[str] = Field(["adc10", "rdc3"], min_length=1, description="adcN (N bits) or rdcL (L levels)")
    c1: list[int] = Field([4], min_length=1, description="first-layer output channels")
    node_nm: list[int] = Field([45], min_length=1)
    fps: list[float] = Field([30.0], min_length=1)


class GridCfg(StrictModel):
    pipeline: str = Field("loggrad", description="base pipeline (name in configs/energy or a path)")
    axes: Axes = Axes()
    objective: str = Field("macs", pattern=r"^(macs|first_layer_bits|accuracy)$")
    results: str | None = Field(None, description="CSV with columns readout,c1,accuracy (objective accuracy)")


@dataclass
class SweepResult:
    """Flattened design points: columns name → 1-D array (readout as strings)."""

    columns: dict[str, np.ndarray]
    points: int


def parse_readout(r: str) -> tuple[str, int]:
    kind, num = r[:3], r[3:]
    if kind not in ("adc", "rdc") or not num.isdigit() or (kind == "rdc" and int(num) not in (3, 5, 7)) \
            or (kind == "adc" and not 1 <= int(num) <= 16):
        raise ConfigError(f"axes.readout: {r!r} must be adcN (N 1..16 bits) or rdc3/rdc5/rdc7")
    return kind, int(num)


def _variant(base: PipelineCfg, readout: str, c1: int) -> PipelineCfg:
    kind, n = parse_readout(readout)
    if base.circuits is not None and "readout" in base.circuits.stages and kind != base.readout.kind:
        raise ConfigError(f"axes.readout: {readout} — the base pipeline costs its {base.readout.kind} readout with "
                          f"circuit-level components (circuits.stages.readout); sweep {base.readout.kind} readouts "
                          f"only, or use a pipeline without readout circuits")
    d = base.model_dump()
    if kind == "adc":
        d["readout"] = {"kind": "adc", "bits": n}
        d["cnn"] = {**(d["cnn"] or {}), "input": "uint8"}
    else:
        d["readout"] = {"kind": "rdc", "levels": n, "mode": base.readout.mode}
        d["cnn"] = {**(d["cnn"] or {}), "input": "codes"}
        d["isp"] = None
    d["leakage_uw"] = base.leakage_uw
    return PipelineCfg.model_validate(d)


def _with_c1(net, c1: int):
    d = net.model_dump()
    d["layers"][0].update(out_channels=c1, pe=1)
    if len(d["layers"]) > 1:
        d["layers"][1].update(simd=1)
    return type(net).model_validate(d)


def run_sweep(grid: GridCfg, base_dir: Path | None = None, tech: TechTable | None = None,
              scaling: Scaling | None = None) -> SweepResult:
    """All points of the grid (readout × c1 × node × fps), vectorised over node and fps."""
    tech = tech or TechTable.load()
    scaling = scaling or Scaling.load()
    base, pdir = load_pipeline(grid.pipeline if base_dir is None or Path(grid.pipeline).is_absolute()
                               or not (base_dir / grid.pipeline).exists() else base_dir / grid.pipeline)
    ax = grid.axes
    for c in ax.c1:
        if c < 1:
            raise ConfigError(f"axes.c1: {c} must be ≥ 1")
    for f in ax.fps:
        if f <= 0:
            raise ConfigError(f"axes.fps: {f} must be > 0 frames per second")
    scale = np.array([node_scale(tech, scaling, n, field="axes.node_nm") for n in ax.node_nm], dtype=np.float64)
    fps = np.asarray(ax.fps, dtype=np.float64)
    R, C, S = len(ax.readout), len(ax.c1), len(STAGES)
    ana, dig = np.zeros((S, R, C)), np.zeros((S, R, C))
    leak = np.zeros(S)
    macs, flb = np.zeros((R, C)), np.zeros((R, C))
    for s, name in enumerate(STAGES):
        leak[s] = base.leakage_uw.get(name, 0.0)
    for i, r in enumerate(ax.readout):
        cfg = _variant(base, r, ax.c1[0])
        net0 = resolve_net(cfg, pdir) if cfg.cnn is not None else None
        for j, c1 in enumerate(ax.c1):
            net = _with_c1(net0, c1) if net0 is not None else None
            acts = analytic_activity(cfg, pdir, net=net)
            for s, name in enumerate(STAGES):
                st = stage_energy(cfg, acts.get(name, Activity()), tech, stage=name)
                ana[s, i, j], dig[s, i, j] = st.fixed_pj, st.digital_pj  # analog, links and DRAM do not scale
            if net is not None:
                macs[i, j] = net.macs()
                flb[i, j] = net.layer_shapes()[0].in_bits
    pixels = base.sensor.width * base.sensor.height
    # pJ/frame per stage: (S, R, C, N, F) by broadcasting
    e = (ana[:, :, :, None, None] + dig[:, :, :, None, None] * scale[None, None, None, :, None]
         + leakage_pj(leak[:, None, None, None, None], fps[None, None, None, None, :]))
    shape = (R, C, len(scale), len(fps))
    idx = np.indices(shape).reshape(4, -1)
    cols: dict[str, np.ndarray] = {
        "readout": np.asarray(ax.readout)[idx[0]], "c1": np.asarray(ax.c1)[idx[1]],
        "node_nm": np.asarray(ax.node_nm)[idx[2]], "fps": fps[idx[3]],
    }
    per = e.reshape(S, -1) / pixels * 1e-3
    for s, name in enumerate(STAGES):
        cols[f"{name}_nj_per_pixel"] = per[s]
    cols["total_nj_per_pixel"] = per.sum(axis=0)
    cols["mw"] = cols["total_nj_per_pixel"] * pixels * cols["fps"] * 1e-6
    cols["macs"] = macs[idx[0], idx[1]]
    cols["first_layer_bits"] = flb[idx[0], idx[1]]
    if grid.objective == "accuracy":
        cols["accuracy"] = _accuracy(grid, base_dir, cols)
    return SweepResult(cols, idx.shape[1])


def _accuracy(grid: GridCfg, base_dir: Path | None, cols: dict[str, np.ndarray]) -> np.ndarray:
    if grid.results is None:
        raise ConfigError("results: objective accuracy needs a results CSV (columns readout,c1,accuracy)")
    p = Path(grid.results)
    if not p.is_absolute() and base_dir is not None:
        p = base_dir / p
    if not p.is_file():
        raise InputError(f"results: {p} does not exist")
    import csv

    table: dict[tuple[str, int], float] = {}
    try:
        with open(p, newline="", encoding="utf-8") as f:
            for i, row in enumerate(csv.DictReader(f), start=1):
                try:
                    key, acc = (row["readout"], int(row["c1"])), float(row["accuracy"])
                except (KeyError, TypeError, ValueError):
                    raise InputError(f"{p}: row {i}: every row needs readout, c1 (integer) and accuracy "
                                     "(number)") from None
                if not math.isfinite(acc):
                    raise InputError(f"{p}: row {i}: accuracy must be a finite number (got {acc})")
                table[key] = acc
    except UnicodeDecodeError:
        raise InputError(f"{p}: not UTF-8 text; expected a CSV with columns readout,c1,accuracy") from None
    except csv.Error as e:
        raise InputError(f"{p}: not a readable CSV ({e})") from None
    keys = list(zip(cols["readout"].tolist(), cols["c1"].tolist()))
    missing = [k for k in set(keys) if k not in table]
    if missing:
        raise InputError(f"{p}: no accuracy for readout={missing[0][0]} c1={missing[0][1]}")
    uniq = {k: table[k] for k in set(keys)}
    return np.array([uniq[k] for k in keys], dtype=np.float64)


def pareto_mask(cost: np.ndarray, other: np.ndarray, maximize_other: bool) -> np.ndarray:
    """Points not dominated in (lower cost, better other); O(n log n) by a sort and a running extreme."""
    o = -other if maximize_other else other
    order = np.lexsort((o, cost))
    best = np.minimum.accumulate(o[order])
    prev = np.concatenate(([np.inf], best[:-1]))
    keep = np.zeros(cost.shape, dtype=bool)
    keep[order] = o[order] < prev
    return keep


def load_grid(path: str | Path) -> GridCfg:
    """A sweep grid file; an empty one is an error (every key has a default, so it would sweep by accident)."""
    data = read_yaml(path)
    if data is None or data == {}:
        raise ConfigError(f"{path}: empty sweep grid; give at least axes (readout, c1, node_nm, fps)")
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level, got {type(data).__name__}")
    return validate(GridCfg, data, where=Path(path).name)
