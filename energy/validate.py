"""Validation against published chips: model vs reported energy per chip and the mean absolute error."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from logcam.config import read_yaml
from logcam.energy.activity import Activity
from logcam.energy.components import analog_pj, digital_pj, dram_pj
from logcam.energy.tech import Scaling, TechTable, data_path
from logcam.errors import ConfigError

REPORTED_UNITS = ("pJ/pixel", "nJ/pixel", "uJ/frame", "mW")


@dataclass
class ChipResult:
    name: str
    source: str
    unit: str
    reported: float
    model: float | None  # None when the chip is not configured
    calibration: dict[str, float]
    why: str = ""

    @property
    def error(self) -> float | None:
        """Relative error (model − reported) / reported."""
        return None if self.model is None else (self.model - self.reported) / self.reported

    def to_json(self) -> dict:
        return {"name": self.name, "source": self.source, "unit": self.unit, "reported": self.reported,
                "model": self.model, "error": self.error, "calibration": self.calibration, "why": self.why}


def _num(v: object, where: str, positive: bool = True) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or (positive and v <= 0):
        raise ConfigError(f"{where}: a positive number is required (got {v!r})")
    return float(v)


def model_chip(chip: dict, tech: TechTable, scaling: Scaling, where: str) -> ChipResult:
    """Evaluate one chip entry of chips.yaml with the shared table."""
    for key in ("name", "source"):
        if not isinstance(chip.get(key), str) or not chip[key].strip():
            raise ConfigError(f"{where}.{key}: required (every chip needs its {key})")
    where = f"{where}({chip['name']})"
    rep = chip.get("reported")
    if not isinstance(rep, dict) or rep.get("unit") not in REPORTED_UNITS:
        raise ConfigError(f"{where}.reported.unit: one of {', '.join(REPORTED_UNITS)} is required")
    value = _num(rep.get("value"), f"{where}.reported.value")
    cal = chip.get("calibration") or {}
    if not chip.get("configured", True):
        return ChipResult(chip["name"], chip["source"], rep["unit"], value, None, cal, str(chip.get("why", "")))
    w, h = int(_num(chip.get("width"), f"{where}.width")), int(_num(chip.get("height"), f"{where}.height"))
    fps = _num(chip.get("fps"), f"{where}.fps")
    stages = chip.get("stages")
    if not isinstance(stages, dict) or not stages:
        raise ConfigError(f"{where}.stages: activity counts per stage are required")
    total = 0.0
    for s, counts in stages.items():
        act = Activity.from_json(counts, f"{where}.stages.{s}")
        comp = analog_pj(act, tech)
        digital = act.macs or act.adds or act.mults or act.sram_read_bits or act.sram_write_bits
        if digital:
            if "model_node_nm" not in chip:
                raise ConfigError(f"{where}.model_node_nm: required for digital activity (a scaling-table node)")
            node = int(chip["model_node_nm"])
            scaling.check(node, chip.get("vdd"), field=f"{where}.model_node_nm")
            scale = scaling.factor(node, chip.get("vdd")) / scaling.factor(tech.node_nm, tech.vdd)
            comp.update(digital_pj(act, tech, scale))
        comp.update(dram_pj(act, tech))
        total += sum(comp.values()) * float(cal.get(s, 1.0))
    unit = rep["unit"]
    model = {"pJ/pixel": total / (w * h), "nJ/pixel": total / (w * h) * 1e-3, "uJ/frame": total * 1e-6,
             "mW": total * 1e-12 * fps * 1e3}[unit]
    return ChipResult(chip["name"], chip["source"], unit, value, model, cal)


def validate_chips(path: str | Path | None = None, tech: TechTable | None = None,
                   scaling: Scaling | None = None) -> list[ChipResult]:
    """Model every chip of ``path`` (default: the shipped chips.yaml)."""
    p = Path(path) if path is not None else data_path("chips.yaml")
    data = read_yaml(p)
    if not isinstance(data, dict) or not isinstance(data.get("chips"), list):
        raise ConfigError(f"{p.name}.chips: expected a list of chip entries")
    tech = tech or TechTable.load()
    scaling = scaling or Scaling.load()
    return [model_chip(c if isinstance(c, dict) else {}, tech, scaling, f"{p.name}.chips[{i}]")
            for i, c in enumerate(data["chips"])]


def mean_abs_error(results: list[ChipResult]) -> float:
    """Mean |relative error| over the configured chips."""
    errs = [abs(r.error) for r in results if r.error is not None]
    return sum(errs) / len(errs)
