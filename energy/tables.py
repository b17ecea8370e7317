"""Technology tables: energy per action with a source for every number (YAML, validated).

An entry is ``{value, unit, source, scale}``. Units are converted to canonical ones on load:
energies to pJ, link costs to pJ/bit, ADC figures of merit to pJ/step, capacitance to pF,
supplies to V, powers to µW. ``scale: digital`` entries follow the node/voltage scaling table,
``scale: none`` ones (analog, links, ADC FoM) are used as stated.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator

from logcam.config import StrictModel, load_model, validate
from logcam.errors import ConfigError, InputError

#: unit → (canonical unit, factor to multiply by)
UNITS: dict[str, tuple[str, float]] = {
    "fJ": ("pJ", 1e-3), "pJ": ("pJ", 1.0), "nJ": ("pJ", 1e3), "uJ": ("pJ", 1e6),
    "pJ/bit": ("pJ/bit", 1.0), "fJ/bit": ("pJ/bit", 1e-3), "pJ/byte": ("pJ/bit", 1 / 8),
    "fJ/step": ("pJ/step", 1e-3), "pJ/step": ("pJ/step", 1.0),
    "fF": ("pF", 1e-3), "pF": ("pF", 1.0),
    "V": ("V", 1.0), "mV": ("V", 1e-3),
    "nW": ("uW", 1e-3), "uW": ("uW", 1.0), "mW": ("uW", 1e3),
    "ratio": ("ratio", 1.0),
}


class Entry(StrictModel):
    """One technology number: value in ``unit``, where it comes from, and whether it scales with node."""

    value: float = Field(..., ge=0, description="non-negative number in `unit`")
    unit: str = Field(..., description="one of " + ", ".join(UNITS))
    source: str = Field(..., min_length=3, description="paper, table/figure, node, supply — or 'ASSUMED: why'")
    scale: Literal["digital", "none"] = Field("digital", description="digital: scaled by node and supply")

    @field_validator("unit")
    @classmethod
    def _unit(cls, v: str) -> str:
        if v not in UNITS:
            raise ValueError(f"unit {v!r} is not one of {', '.join(UNITS)}")
        return v

    @property
    def canonical(self) -> tuple[float, str]:
        """(value, unit) in the canonical unit (pJ, pJ/bit, pJ/step, pF, V, µW, ratio)."""
        unit, factor = UNITS[self.unit]
        return self.value * factor, unit

    @property
    def assumed(self) -> bool:
        return self.source.strip().upper().startswith("ASSUMED")


class TechTable(StrictModel):
    """A named set of entries characterised at ``node_nm`` / ``vdd_v`` (for the digital ones)."""

    name: str
    node_nm: float = Field(..., gt=0, description="node of the digital entries, nm")
    vdd_v: float = Field(..., gt=0, description="supply of the digital entries, V")
    entries: dict[str, Entry]

    def get(self, name: str, unit: str, where: str = "tech") -> float:
        """Canonical value of entry ``name``, checked to be in ``unit`` (canonical)."""
        if name not in self.entries:
            raise ConfigError(f"{where}.entries.{name}: missing from technology table {self.name!r}")
        value, have = self.entries[name].canonical
        if have != unit:
            raise ConfigError(f"{where}.entries.{name}.unit: needs a {unit} unit, got {self.entries[name].unit}")
        return value

    def with_overrides(self, overrides: dict[str, Entry]) -> TechTable:
        """A copy with ``overrides`` replacing (or adding) entries."""
        return self.model_copy(update={"entries": {**self.entries, **overrides}})


def data_path(name: str) -> Path:
    """Path of a file shipped in ``energy/data``."""
    return Path(str(resources.files("logcam.energy").joinpath("data", name)))


DEFAULT_TECH = "tech_45nm_horowitz.yaml"


def load_tech(path: str | Path | None = None) -> TechTable:
    """Read a technology table (default: the Horowitz 45 nm table shipped in energy/data)."""
    p = data_path(DEFAULT_TECH) if path is None else Path(path)
    if path is not None and not p.is_file() and data_path(str(path)).is_file():
        p = data_path(str(path))
    if not p.is_file():
        raise InputError(f"--tech: {path}: no such technology table")
    return load_model(TechTable, p)


def parse_entries(data: object, where: str) -> dict[str, Entry]:
    """Validate a mapping of overrides (``name: {value, unit, source}``)."""
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping of name: {{value, unit, source}}")
    return {k: validate(Entry, v, where=f"{where}.{k}") for k, v in data.items()}
