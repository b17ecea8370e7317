"""Design-space sweep, vectorised: every point of adc_bits × levels × c1 × node × fps at once.

The model is linear in its action counts, so each *structure* (the counts that depend on adc_bits,
levels and c1) is evaluated once by the scalar model and split into four coefficients — digital pJ
(scaled by node and supply), fixed pJ (analog, links, ADC), leakage µW (scaled) — and the grid is
then one numpy broadcast: E[pJ/frame] = dig·f(node, V) + fixed + leak·f(node, V)/fps. No Python loop
runs per design point; the loop over structures is small (readouts that ignore an axis are deduplicated).
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import Field

from logcam.config import StrictModel, load_model
from logcam.energy.activity_counts import sram_entry
from logcam.energy.model import action_energy_pj, load_net, load_pipeline, pipeline_actions, rdc_spec
from logcam.energy.scaling import ScalingTable, load_scaling
from logcam.energy.tables import TechTable, load_tech, parse_entries
from logcam.errors import ConfigError, InputError


class Grid(StrictModel):
    """A sweep: base pipelines and the values of each axis (configs/energy/backup/sweep.yaml)."""

    pipelines: list[str] = Field(["conventional", "loggrad"], min_length=1, description="names or YAML paths")
    adc_bits: list[int] = Field([10], min_length=1, description="ADC bits (adc readout)")
    levels: list[Literal[3, 5, 7]] = Field([3], min_length=1, description="RDC levels (rdc readout)")
    c1: list[int] = Field([4], min_length=1, description="first conv layer output channels")
    node_nm: list[float] = Field([45], min_length=1, description="digital node, nm (nominal supply)")
    fps: list[float] = Field([30], min_length=1, description="frames per second")
    objective: Literal["macs", "link_bits", "error"] = Field(
        "macs", description="second Pareto objective; error = 1 − accuracy from `results`")
    results: str | None = Field(None, description="CSV with pipeline, adc_bits, levels, c1, accuracy (for error)")


def load_results(path: str | Path) -> dict[tuple[str, int, int, int], float]:
    """Accuracy per (pipeline, adc_bits, levels, c1) from a CSV; 0 in adc_bits/levels means 'not applicable'."""
    import csv

    p = Path(path)
    if not p.is_file():
        raise InputError(f"results: {p}: no such file")
    out = {}
    with p.open(newline="") as fh:
        for i, row in enumerate(csv.DictReader(fh)):
            try:
                key = (row["pipeline"], int(row["adc_bits"]), int(row["levels"]), int(row["c1"]))
                acc = float(row["accuracy"])
            except (KeyError, TypeError, ValueError):
                raise ConfigError(f"results: {p} row {i + 1}: needs pipeline, adc_bits, levels, c1, accuracy") from None
            if not 0.0 <= acc <= 1.0:
                raise ConfigError(f"results: {p} row {i + 1}: accuracy {acc} is not in [0, 1]")
            out[key] = acc
    return out


def load_grid(path: str | Path) -> Grid:
    """Read a sweep grid; a relative ``results`` path is taken relative to the grid file."""
    grid = load_model(Grid, path)
    if grid.results is not None and not Path(grid.results).is_absolute():
        grid = grid.model_copy(update={"results": str(Path(path).parent / grid.results)})
    return grid


def _structure(name: str, adc_bits: int, levels: int, c1: int, tech: TechTable) -> dict[str, float]:
    """Coefficients of one structure: dig_pj, fixed_pj, leak_uw per frame (digital at the table's node)."""
    pipe, path = load_pipeline(name)
    sensor = pipe.sensor.model_copy(update={"adc_bits": adc_bits, "levels": levels})
    cnn = pipe.cnn.model_copy(update={"c1": c1}) if pipe.cnn is not None else None
    pipe = pipe.model_copy(update={"sensor": sensor, "cnn": cnn})
    t = tech.with_overrides(parse_entries(pipe.overrides, "overrides"))
    out = {"dig_pj": 0.0, "fixed_pj": 0.0, "leak_uw": 0.0}
    for act in pipeline_actions(pipe, path):
        if act.action.startswith("leak:"):
            name_ = act.action[5:]
            key = "leak_uw" if t.entries[name_].scale == "digital" else "fixed_uw"
            out[key] = out.get(key, 0.0) + t.get(name_, "uW") * act.count
            continue
        per, _ = action_energy_pj(act, t, 1.0)
        entry = {"sram_read": sram_entry(act.bytes), "sram_write": sram_entry(act.bytes)}.get(act.action, act.action)
        digital = entry in t.entries and t.entries[entry].scale == "digital"
        out["dig_pj" if digital else "fixed_pj"] += per * act.count
    out["pixels"] = pipe.width * pipe.height
    net = load_net(pipe, path) if pipe.cnn is not None else None
    out["macs"] = float(net.macs()) if net is not None else 0.0
    bpp = pipe.link.bits_per_pixel
    if bpp is None:
        bpp = (lambda s: s.code_bits * s.channels)(rdc_spec(pipe)) if pipe.sensor.readout == "rdc" else adc_bits
    out["link_bits"] = float(bpp * out["pixels"])
    out["readout"] = pipe.sensor.readout
    out["pipeline"] = pipe.name
    return out


def sweep(grid: Grid, tech: TechTable | None = None, scaling: ScalingTable | None = None) -> dict[str, np.ndarray]:
    """All design points as flat columns: pipeline, adc_bits, levels, c1, node_nm, fps, nJ_per_pixel, mW, objective."""
    tech = load_tech() if tech is None else tech
    scaling = load_scaling() if scaling is None else scaling
    nodes = np.asarray(grid.node_nm, dtype=np.float64)
    vdd = np.array([scaling.nominal_vdd(n) for n in grid.node_nm], dtype=np.float64)
    f_node = np.array([scaling.factor(tech.node_nm, tech.vdd_v, n, v) for n, v in zip(nodes, vdd)])
    fps = np.asarray(grid.fps, dtype=np.float64)
    if (fps <= 0).any():
        raise ConfigError("fps: every frame rate must be > 0")
    cols: dict[str, list[np.ndarray]] = {k: [] for k in ("pipeline", "adc_bits", "levels", "c1", "node_nm", "fps",
                                                         "nJ_per_pixel", "mW", "objective")}
    accuracy = None
    if grid.objective == "error":
        if grid.results is None:
            raise ConfigError("results: objective error needs a results CSV with accuracy per design")
        accuracy = load_results(grid.results)
    for p_index, name in enumerate(grid.pipelines):
        readout = load_pipeline(name)[0].sensor.readout
        # an axis the readout ignores is swept once and written as 0 (not applicable)
        bits = grid.adc_bits if readout == "adc" else [0]
        levels = grid.levels if readout == "rdc" else [0]
        for b, lv, c in itertools.product(bits, levels, grid.c1):
            s = _structure(name, b or grid.adc_bits[0], lv or 3, c, tech)
            # broadcast over node × fps: shape (N, F)
            dig = s["dig_pj"] * f_node[:, None]
            leak_pj = (s["leak_uw"] * f_node[:, None] + s.get("fixed_uw", 0.0)) / fps[None, :] * 1e6
            e_pj = dig + s["fixed_pj"] + leak_pj
            n = e_pj.size
            cols["pipeline"].append(np.full(n, p_index, dtype=np.int16))
            cols["adc_bits"].append(np.full(n, b, dtype=np.int16))
            cols["levels"].append(np.full(n, lv, dtype=np.int16))
            cols["c1"].append(np.full(n, c, dtype=np.int16))
            cols["node_nm"].append(np.broadcast_to(nodes[:, None], e_pj.shape).ravel())
            cols["fps"].append(np.broadcast_to(fps[None, :], e_pj.shape).ravel())
            cols["nJ_per_pixel"].append((e_pj / s["pixels"] / 1e3).ravel())
            cols["mW"].append((e_pj * 1e-9 * fps[None, :]).ravel())
            if accuracy is not None:
                key = (s["pipeline"], b, lv, c)
                if key not in accuracy:
                    raise ConfigError(f"results: no accuracy for pipeline={key[0]} adc_bits={b} levels={lv} c1={c}")
                obj = 1.0 - accuracy[key]
            else:
                obj = s[grid.objective]
            cols["objective"].append(np.full(n, obj, dtype=np.float64))
    return {k: np.concatenate(v) for k, v in cols.items()}


def pareto_front(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Indices of the points not dominated in (x, y), both minimised (vectorised: sort + running minimum)."""
    order = np.lexsort((y, x))
    ys = y[order]
    best = np.minimum.accumulate(ys)
    keep = np.ones(ys.size, dtype=bool)
    keep[1:] = ys[1:] < best[:-1]
    return order[keep]


def write_csv(cols: dict[str, np.ndarray], names: list[str], objective: str, path: Path) -> None:
    """CSV of every design point (numpy formatting, no per-row Python)."""
    from logcam.files import atomic_write

    pipe = np.asarray(names, dtype=object)[cols["pipeline"]]
    table = np.column_stack([pipe, cols["adc_bits"], cols["levels"], cols["c1"], cols["node_nm"], cols["fps"],
                             cols["nJ_per_pixel"], cols["mW"], cols["objective"]])
    header = f"pipeline,adc_bits,levels,c1,node_nm,fps,nJ_per_pixel,mW,{objective}"
    fmt = ["%s", "%d", "%d", "%d", "%g", "%g", "%.6g", "%.6g", "%.6g"]
    atomic_write(path, lambda p: np.savetxt(p, table, fmt=fmt, delimiter=",", header=header, comments=""))
