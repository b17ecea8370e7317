"""Validation against published chips: model vs reported energy per chip and the mean absolute error."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from logcam.config import read_yaml
from logcam.energy.activity import Activity
from logcam.energy.circuits import Circuit, load_circuits
from logcam.energy.components import SRAM_KINDS, node_scale, stage_pj
from logcam.energy.tech import Scaling, TechTable, data_path, quantity
from logcam.errors import ConfigError

REPORTED_UNITS = ("pJ/pixel", "nJ/pixel", "uJ/frame", "mW", "uW")


#: Keys a chip entry may have (anything else is a typo and an error).
CHIP_KEYS = ("name", "source", "node_nm", "model_node_nm", "model_node_why", "vdd", "sram", "width", "height",
             "fps", "reported", "facts", "activity_note", "stages", "calibration", "paper_factors", "configured",
             "why", "camj", "missing")


@dataclass
class ChipResult:
    name: str
    source: str
    unit: str
    reported: float
    model: float | None  # None when the chip is not configured
    calibration: dict[str, float]
    why: str = ""
    stages: dict[str, float] = field(default_factory=dict)  # stage → model energy in ``unit``
    paper_factors: dict[str, float] = field(default_factory=dict)  # stage → factor the paper states
    node_note: str = ""  # how the chip's node maps onto the scaling table
    camj: float | None = None  # CamJ's published estimate for this chip, in ``unit`` (None: not published/reachable)
    circuits: dict[str, float] = field(default_factory=dict)  # circuit → energy per action (pJ), circuit-level stages
    missing: str = ""  # the term the docs name as missing when the chip stays outside ±20 %

    @property
    def camj_error(self) -> float | None:
        return None if self.camj is None else (self.camj - self.reported) / self.reported

    @property
    def error(self) -> float | None:
        """Relative error (model − reported) / reported."""
        return None if self.model is None else (self.model - self.reported) / self.reported

    def to_json(self) -> dict:
        return {"name": self.name, "source": self.source, "unit": self.unit, "reported": self.reported,
                "model": self.model, "error": self.error, "stages": self.stages, "calibration": self.calibration,
                "paper_factors": self.paper_factors, "node_note": self.node_note, "why": self.why,
                "camj": self.camj, "camj_error": self.camj_error, "circuits_pj_per_action": self.circuits,
                "missing": self.missing}


def _in_unit(pj_per_frame: float, unit: str, w: int, h: int, fps: float) -> float:
    """Energy per frame (pJ) in one of REPORTED_UNITS."""
    return {"pJ/pixel": pj_per_frame / (w * h), "nJ/pixel": pj_per_frame / (w * h) * 1e-3,
            "uJ/frame": pj_per_frame * 1e-6, "mW": pj_per_frame * 1e-12 * fps * 1e3,
            "uW": pj_per_frame * 1e-12 * fps * 1e6}[unit]


def _paper_factors(chip: dict, stages: dict, where: str) -> dict[str, float]:
    """``paper_factors``: stage → {factor, source}: a ratio the chip's paper states (not fitted to its energy)."""
    out: dict[str, float] = {}
    for s, entry in (chip.get("paper_factors") or {}).items():
        f = f"{where}.paper_factors.{s}"
        if s not in stages:
            raise ConfigError(f"{f}: no such stage in this chip (stages: {', '.join(stages)})")
        if not isinstance(entry, dict) or not isinstance(entry.get("source"), str) or not entry["source"].strip():
            raise ConfigError(f"{f}.source: required (a paper factor must say where the paper states it)")
        out[s] = quantity(entry.get("factor"), f"{f}.factor")
    return out


def _node_scale(chip: dict, tech: TechTable, scaling: Scaling, where: str) -> tuple[float, str]:
    """Digital-energy factor of the chip's node and supply against the table's, and a note when the node is a proxy."""
    if "model_node_nm" not in chip:
        raise ConfigError(f"{where}.model_node_nm: required for digital activity (a scaling-table node)")
    node = int(quantity(chip["model_node_nm"], f"{where}.model_node_nm", integer=True))
    vdd = quantity(chip["vdd"], f"{where}.vdd") if chip.get("vdd") is not None else None
    scale = node_scale(tech, scaling, node, vdd, field=f"{where}.model_node_nm")
    note = ""
    if chip.get("node_nm") != node:
        why = chip.get("model_node_why")
        if not isinstance(why, str) or not why.strip():
            raise ConfigError(f"{where}.model_node_why: required when model_node_nm ({node}) differs from node_nm "
                              f"({chip.get('node_nm')}): say why that table row stands in for the chip's node")
        note = f"{chip.get('node_nm')} nm modelled at {node} nm: {why}"
    return scale, note


def _circuit_counts(counts: object, circuits: dict[str, Circuit], where: str) -> tuple[dict, float, dict]:
    """Split a stage's ``circuits: {name: actions per frame}`` off its activity counts → (counts, pJ/frame, used)."""
    if not isinstance(counts, dict) or "circuits" not in counts:
        return counts, 0.0, {}
    counts = dict(counts)
    cc = counts.pop("circuits")
    if not isinstance(cc, dict) or not cc:
        raise ConfigError(f"{where}.circuits: expected circuit name → actions per frame")
    e, used = 0.0, {}
    for name, n in cc.items():
        if name not in circuits:
            raise ConfigError(f"{where}.circuits.{name}: no such circuit (known: {', '.join(circuits) or 'none'})")
        count = quantity(n, f"{where}.circuits.{name}", positive=False)
        if not float(count).is_integer() or count >= 2**63:  # counted like every other activity count
            raise ConfigError(f"{where}.circuits.{name}: actions per frame must be a whole number in 0 … 2^63 − 1 "
                              f"(got {n!r})")
        e += count * circuits[name].energy_pj()
        used[name] = circuits[name].energy_pj()
    return counts, e, used


def model_chip(chip: dict, tech: TechTable, scaling: Scaling, where: str,
               circuits: dict[str, Circuit] | None = None) -> ChipResult:
    """Evaluate one chip entry of chips.yaml with the shared table (and the file's circuit-level components)."""
    circuits = circuits or {}
    for key in ("name", "source"):
        if not isinstance(chip.get(key), str) or not chip[key].strip():
            raise ConfigError(f"{where}.{key}: required (every chip needs its {key})")
    where = f"{where}({chip['name']})"
    for key in chip:
        if key not in CHIP_KEYS:
            raise ConfigError(f"{where}.{key}: unknown key (allowed: {', '.join(CHIP_KEYS)})")
    rep = chip.get("reported")
    if not isinstance(rep, dict) or rep.get("unit") not in REPORTED_UNITS:
        raise ConfigError(f"{where}.reported.unit: one of {', '.join(REPORTED_UNITS)} is required")
    value = quantity(rep.get("value"), f"{where}.reported.value")
    for key in ("node_nm", "vdd"):  # facts of the chip, checked whether or not the model uses them
        if chip.get(key) is not None:
            quantity(chip[key], f"{where}.{key}")
    cal = chip.get("calibration") or {}
    camj = None
    if chip.get("camj") is not None:
        cj = chip["camj"]
        if not isinstance(cj, dict) or not isinstance(cj.get("source"), str) or not cj["source"].strip():
            raise ConfigError(f"{where}.camj: expected {{value, source}} (CamJ's published estimate, in the "
                              f"chip's reported unit, and where it is published)")
        camj = quantity(cj.get("value"), f"{where}.camj.value")
    if not chip.get("configured", True):
        return ChipResult(chip["name"], chip["source"], rep["unit"], value, None, cal, str(chip.get("why", "")),
                          camj=camj)
    w, h = (int(quantity(chip.get(k), f"{where}.{k}", integer=True)) for k in ("width", "height"))
    fps = quantity(chip.get("fps"), f"{where}.fps")
    stages = chip.get("stages")
    if not isinstance(stages, dict) or not stages:
        raise ConfigError(f"{where}.stages: activity counts per stage are required")
    sram = chip.get("sram", SRAM_KINDS[0])
    if sram not in SRAM_KINDS:
        raise ConfigError(f"{where}.sram: one of {', '.join(SRAM_KINDS)} is required (got {sram!r})")
    factors = _paper_factors(chip, stages, where)
    if not isinstance(cal, dict):
        raise ConfigError(f"{where}.calibration: expected stage → multiplier")
    for s, v in cal.items():
        if s not in stages:
            raise ConfigError(f"{where}.calibration.{s}: no such stage in this chip (stages: {', '.join(stages)})")
        quantity(v, f"{where}.calibration.{s}")
    per_stage: dict[str, float] = {}
    node_note = ""
    used: dict[str, float] = {}
    for s, counts in stages.items():
        counts, circ_pj, u = _circuit_counts(counts, circuits, f"{where}.stages.{s}")
        used.update(u)
        act = Activity.from_json(counts, f"{where}.stages.{s}")
        stage = stage_pj(act, tech, sram=sram)
        scale = 1.0
        if stage.digital:
            scale, node_note = _node_scale(chip, tech, scaling, where)
        per_stage[s] = (sum(stage.at(scale).values()) + circ_pj) * float(cal.get(s, 1.0)) * factors.get(s, 1.0)
    unit = rep["unit"]
    model = _in_unit(sum(per_stage.values()), unit, w, h, fps)
    return ChipResult(chip["name"], chip["source"], unit, value, model, cal,
                      stages={s: _in_unit(e, unit, w, h, fps) for s, e in per_stage.items()},
                      paper_factors=factors, node_note=node_note,
                      camj=camj, circuits=used,
                      missing=str(chip.get("missing", "")))


def validate_chips(path: str | Path | None = None, tech: TechTable | None = None,
                   scaling: Scaling | None = None) -> list[ChipResult]:
    """Model every chip of ``path`` (default: the shipped chips.yaml)."""
    p = Path(path) if path is not None else data_path("chips.yaml")
    data = read_yaml(p)
    if not isinstance(data, dict) or not isinstance(data.get("chips"), list):
        raise ConfigError(f"{p.name}.chips: expected a list of chip entries")
    tech = tech or TechTable.load()
    scaling = scaling or Scaling.load()
    circuits = load_circuits(data.get("circuits"), f"{p.name}.circuits")
    return [model_chip(c if isinstance(c, dict) else {}, tech, scaling, f"{p.name}.chips[{i}]", circuits)
            for i, c in enumerate(data["chips"])]


def mean_abs_error(results: list[ChipResult]) -> float:
    """Mean |relative error| over the configured chips."""
    errs = [abs(r.error) for r in results if r.error is not None]
    return sum(errs) / len(errs)
