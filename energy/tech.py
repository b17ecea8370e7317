"""Technology tables (YAML, every number with its source) and Stillmaker & Baas node scaling."""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from logcam.config import read_yaml
from logcam.errors import ConfigError

#: Units an entry may carry, with the factor to the model's base unit (pJ, pJ/byte, pJ/bit, pJ/step, A, s, V,
#: and µW for a static power such as a flip-flop's leakage).
UNITS: dict[str, float] = {
    "pJ": 1.0, "fJ": 1e-3, "nJ": 1e3, "pJ/byte": 1.0, "pJ/bit": 1.0, "fJ/step": 1e-3, "pJ/step": 1.0,
    "uA": 1e-6, "us": 1e-6, "V": 1.0, "nW": 1e-3, "uW": 1.0,
}
REQUIRED = ("add8", "add32", "mult8", "mult32", "sram8k_read64", "sram32k_read64", "sram1m_read64",
            "dram_read64", "lpddr4_bit", "adc_walden_fom", "comparator_decision", "mipi_byte", "utsv_byte",
            "pixel_bias", "pixel_settle", "pixel_vdda")


def quantity(v: object, where: str, *, positive: bool = True, integer: bool = False,
             signed: bool = False) -> float:
    """A physical quantity read from a file or the command line, checked: a finite number, > 0 (``positive``)
    or ≥ 0, any sign when ``signed``; ``integer``: a whole number. NaN, ±inf, a bool, text or a list is one
    ConfigError line naming ``where`` and what is allowed."""
    x = math.nan
    if not isinstance(v, bool) and isinstance(v, (int, float)):
        with contextlib.suppress(OverflowError):  # an integer beyond any float stays NaN: refused
            x = float(v)
    ok = math.isfinite(x) and (signed or (x > 0 if positive else x >= 0)) and (not integer or x.is_integer())
    if not ok:
        what = "a finite" if signed else "a finite positive" if positive else "a finite non-negative"
        raise ConfigError(f"{where}: {what} {'whole number' if integer else 'number'} is required (got {v!r})")
    return x


def data_path(name: str) -> Path:
    """Path of a file shipped in energy/data/."""
    return Path(str(resources.files("logcam.energy").joinpath("data", name)))


@dataclass(frozen=True)
class Entry:
    """One table number in base units (pJ per action, pJ/byte, pJ/step, A, s, V) with its source."""

    value: float
    unit: str
    scales: bool
    source: str


@dataclass(frozen=True)
class TechTable:
    """Energy per action at (node_nm, vdd); digital entries scale with :class:`Scaling`."""

    name: str
    node_nm: int
    vdd: float
    entries: dict[str, Entry]

    def __getitem__(self, key: str) -> float:
        return self.entries[key].value

    @classmethod
    def load(cls, path: str | Path | None = None, overrides: dict[str, float] | None = None) -> TechTable:
        """Read a table (default: the shipped one); ``overrides`` replaces values (in each entry's unit)."""
        p = Path(path) if path is not None else data_path("tech.yaml")
        data = read_yaml(p)
        where = p.name
        if not isinstance(data, dict) or not isinstance(data.get("entries"), dict):
            raise ConfigError(f"{where}.entries: expected a mapping of entry name → {{value, unit, source}}")
        node_nm = int(quantity(data.get("node_nm"), f"{where}.node_nm", integer=True))
        vdd = quantity(data.get("vdd"), f"{where}.vdd")
        entries: dict[str, Entry] = {}
        for name, e in data["entries"].items():
            f = f"{where}.entries.{name}"
            if not isinstance(e, dict):
                raise ConfigError(f"{f}: expected {{value, unit, scales, source}}")
            extra = set(e) - {"value", "unit", "scales", "source"}
            if extra:
                raise ConfigError(f"{f}.{sorted(extra)[0]}: unknown key (allowed: value, unit, scales, source)")
            unit = e.get("unit")
            if unit not in UNITS:
                raise ConfigError(f"{f}.unit: one of {', '.join(UNITS)} is required (got {unit!r})")
            v = quantity(e.get("value"), f"{f}.value", positive=False)
            src = e.get("source")
            if not isinstance(src, str) or not src.strip():
                raise ConfigError(f"{f}.source: every number needs its source (paper, table, node, supply)")
            entries[name] = Entry(float(v) * UNITS[unit], unit, bool(e.get("scales", False)), src)
        for name, v in (overrides or {}).items():
            if name not in entries:
                raise ConfigError(f"tech override {name!r}: unknown entry (known: {', '.join(sorted(entries))})")
            v = quantity(v, f"tech override {name} (in {entries[name].unit})", positive=False)
            old = entries[name]
            entries[name] = Entry(v * UNITS[old.unit], old.unit, old.scales, "user override")
        missing = [k for k in REQUIRED if k not in entries]
        if missing:
            raise ConfigError(f"{where}.entries.{missing[0]}: required entry is missing")
        return cls(str(data.get("name", p.stem)), node_nm, vdd, entries)


@dataclass(frozen=True)
class NodeCoeffs:
    a: float
    b: float
    c: float
    vnom: float
    vmin: float
    vmax: float
    area: float | None = None  # area of a fixed circuit relative to the table's largest node (plausibility check)


#: Shipped scaling tables by name (``--scaling hp|lp``).
SCALING_TABLES = {"hp": "scaling.yaml", "lp": "scaling_lp.yaml"}


@dataclass(frozen=True)
class Scaling:
    """Stillmaker & Baas energy factor E(node, V) = a·V² + b·V + c; outside the table is an error."""

    nodes: dict[int, NodeCoeffs]
    source: str

    @classmethod
    def load(cls, path: str | Path | None = None) -> Scaling:
        """Read a scaling table: a YAML path, or a shipped one by name (``hp``, the default, or ``lp``)."""
        name = "hp" if path is None else str(path)
        p = data_path(SCALING_TABLES[name]) if name in SCALING_TABLES else Path(name)
        data = read_yaml(p)
        if not isinstance(data, dict) or not isinstance(data.get("nodes"), dict):
            raise ConfigError(f"{p.name}.nodes: expected a mapping node_nm → {{a, b, c, vnom, vmin, vmax}}")
        if not isinstance(data.get("source"), str):
            raise ConfigError(f"{p.name}.source: the scaling table needs its source")
        nodes = {}
        for n, c in data["nodes"].items():
            f = f"{p.name}.nodes.{n}"
            if isinstance(n, bool) or not (isinstance(n, int) or (isinstance(n, str) and n.isdecimal())) \
                    or int(n) <= 0:
                raise ConfigError(f"{f}: a node is a positive whole number of nm (got {n!r})")
            if not isinstance(c, dict) or any(k not in c for k in ("a", "b", "c", "vnom", "vmin", "vmax")):
                raise ConfigError(f"{f}: needs numbers a, b, c, vnom, vmin, vmax (area optional)")
            kw = {k: quantity(c[k], f"{f}.{k}", signed=k in "abc") for k in ("a", "b", "c", "vnom", "vmin", "vmax")}
            area = quantity(c["area"], f"{f}.area") if c.get("area") is not None else None
            if not kw["vmin"] <= kw["vnom"] <= kw["vmax"]:
                raise ConfigError(f"{f}.vnom: must lie in vmin…vmax")
            nodes[int(n)] = NodeCoeffs(**kw, area=area)
        return cls(nodes, data["source"])

    def check(self, node_nm: int, vdd: float | None, field: str = "node_nm") -> float:
        """The supply to use at ``node_nm`` (nominal when ``vdd`` is None); raises outside the table."""
        if node_nm not in self.nodes:
            raise ConfigError(f"{field}: {node_nm} nm is outside the scaling table "
                              f"(nodes: {', '.join(str(n) for n in sorted(self.nodes, reverse=True))})")
        c = self.nodes[node_nm]
        v = c.vnom if vdd is None else float(vdd)
        if not c.vmin <= v <= c.vmax:
            raise ConfigError(f"vdd: {v} V is outside the {node_nm} nm range {c.vmin}–{c.vmax} V")
        return v

    def factor(self, node_nm: int, vdd: float | None = None) -> float:
        """Energy factor E(node, V) (arbitrary units; only ratios are meaningful)."""
        v = self.check(node_nm, vdd)
        c = self.nodes[node_nm]
        e = c.a * v * v + c.b * v + c.c
        if not e > 0:
            raise ConfigError(f"nodes.{node_nm}: a·V² + b·V + c = {e:.4g} at {v} V; an energy factor must be > 0 "
                              f"(check the row's coefficients)")
        return e

    def ratio(self, src: tuple[int, float], dst: tuple[int, float | None]) -> float:
        """Energy of a fixed circuit at ``dst`` relative to ``src`` ((node_nm, vdd) pairs)."""
        return self.factor(*dst) / self._factor_any(*src)

    def step_checks(self) -> list[tuple[int, int, float]]:
        """Plausibility of each step between neighbouring nodes at nominal supply.

        Returns (larger node, smaller node, q) with q = E ratio / (sqrt(area ratio) · (Vnom ratio)²): the energy
        step divided by what a C·V² model predicts when capacitance follows linear dimensions. A row shifted by
        one node, or a mistyped coefficient, shows as a q far from its neighbours' (see scaling.yaml).
        """
        ns = sorted((n for n in self.nodes if self.nodes[n].area is not None), reverse=True)
        out = []
        for big, small in zip(ns, ns[1:]):
            a, b = self.nodes[big], self.nodes[small]
            e = self.factor(big) / self.factor(small)
            proxy = (a.area / b.area) ** 0.5 * (a.vnom / b.vnom) ** 2  # type: ignore[operator]
            out.append((big, small, e / proxy))
        return out

    def _factor_any(self, node_nm: int, vdd: float) -> float:
        # The reference point of a table (e.g. Horowitz 45 nm at 0.9 V) must itself lie in the table.
        return self.factor(node_nm, vdd)
