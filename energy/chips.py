"""Validation against published chips: each configured only from what its paper states.

A chip's ``model`` is either a pipeline (evaluated like any other) or a list of actions priced from the
technology table at the chip's node and supply; ``model: null`` lists the chip with its reported energy
but no prediction (the reason is in the data file). Errors are (model − reported) / reported.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from logcam.config import StrictModel, load_model, validate
from logcam.energy.activity_counts import Action
from logcam.energy.model import Pipeline, action_energy_pj, evaluate
from logcam.energy.scaling import load_scaling
from logcam.energy.tables import TechTable, data_path, load_tech, parse_entries

REPORTED_UNITS = ("pJ/pixel", "mW", "uJ/frame")


class Reported(StrictModel):
    value: float = Field(..., gt=0)
    unit: Literal["pJ/pixel", "mW", "uJ/frame"]


class ChipAction(StrictModel):
    action: str
    count: float = Field(..., ge=0, description="actions per frame")


class ChipModel(StrictModel):
    pipeline: dict[str, Any] | None = None
    actions: list[ChipAction] | None = None
    overrides: dict[str, Any] = Field(default_factory=dict)


class Chip(StrictModel):
    name: str
    source: str = Field(..., min_length=10, description="paper, venue, year and where the numbers are")
    kind: Literal["sensor", "cnn", "system"]
    node_nm: float = Field(..., gt=0)
    vdd_v: float | None = Field(None, gt=0)
    resolution: tuple[int, int] | None = None
    fps: float | None = Field(None, gt=0)
    reported: Reported
    calibration: dict[str, float] = Field(default_factory=dict, description="named per-chip calibration constants")
    model: ChipModel | None = None


class ChipList(StrictModel):
    chips: list[Chip] = Field(..., min_length=1)


def load_chips(path: str | Path | None = None) -> list[Chip]:
    return load_model(ChipList, data_path("chips_b.yaml") if path is None else path).chips


def predict(chip: Chip, tech: TechTable) -> float | None:
    """Model energy in the chip's reported unit, or None when the chip is not modelled."""
    if chip.model is None:
        return None
    m = chip.model
    t = tech.with_overrides(parse_entries(m.overrides, f"{chip.name}.model.overrides"))
    if m.pipeline is not None:
        pipe = validate(Pipeline, m.pipeline, where=f"{chip.name}.model.pipeline")
        r = evaluate(pipe, data_path("chips_b.yaml"), t)
        pj_frame, pixels, fps = r["uJ_per_frame"] * 1e6, r["pixels"], pipe.fps
    else:
        scaling = load_scaling()
        vdd = chip.vdd_v if chip.vdd_v is not None else scaling.nominal_vdd(chip.node_nm)
        digital = scaling.factor(t.node_nm, t.vdd_v, chip.node_nm, vdd)
        pj_frame = sum(action_energy_pj(Action("chip", a.action, a.action, a.count), t, digital)[0] * a.count
                       for a in m.actions or [])
        pixels = chip.resolution[0] * chip.resolution[1] if chip.resolution else None
        fps = chip.fps
    pj_frame *= chip.calibration.get("energy_scale", 1.0)
    unit = chip.reported.unit
    if unit == "pJ/pixel":
        return pj_frame / pixels
    if unit == "uJ/frame":
        return pj_frame / 1e6
    if fps is None:
        return None
    return pj_frame * 1e-12 * fps * 1e3


def validate_chips(path: str | Path | None = None, tech: str | Path | None = None) -> dict:
    """Per chip: reported, model, relative error; mean absolute error over the modelled chips."""
    t = load_tech(tech)
    rows = []
    for chip in load_chips(path):
        model = predict(chip, t)
        err = None if model is None else (model - chip.reported.value) / chip.reported.value
        rows.append({"name": chip.name, "kind": chip.kind, "node_nm": chip.node_nm, "vdd_v": chip.vdd_v,
                     "resolution": chip.resolution, "fps": chip.fps, "unit": chip.reported.unit,
                     "reported": chip.reported.value, "model": model, "error": err,
                     "calibration": chip.calibration, "source": chip.source})
    errs = [abs(r["error"]) for r in rows if r["error"] is not None]
    return {"chips": rows, "modelled": len(errs), "mean_abs_error": sum(errs) / len(errs) if errs else None}
