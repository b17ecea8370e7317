"""Node and supply scaling of digital energies.

The shipped rule (``energy/data/scaling_dennard.yaml``) is ASSUMED constant-field scaling,
E ∝ node · V², with a supply range per node; a node or supply outside the table is a
:class:`ConfigError`. A Stillmaker & Baas (2017) table of per-node ``a·V² + b·V + c`` fits can be
dropped in as ``rule: polynomial`` with ``a, b, c`` per node (energy relative between nodes).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from logcam.config import StrictModel, load_model
from logcam.energy.tables import data_path
from logcam.errors import ConfigError

DEFAULT_SCALING = "scaling_dennard.yaml"


class NodeRow(StrictModel):
    """Supported supply range at one node, and the polynomial (rule: polynomial)."""

    vdd_nom: float = Field(..., gt=0, description="nominal supply, V (used when only the node is given)")
    vdd_min: float = Field(..., gt=0, description="V")
    vdd_max: float = Field(..., gt=0, description="V")
    a: float | None = None
    b: float | None = None
    c: float | None = None


class ScalingTable(StrictModel):
    """Scaling rule plus the nodes (nm) and supplies (V) it covers."""

    rule: Literal["dennard", "polynomial"]
    source: str = Field(..., min_length=3)
    nodes: dict[float, NodeRow]

    def _row(self, node_nm: float, vdd_v: float, what: str) -> NodeRow:
        row = self.nodes.get(float(node_nm))
        if row is None:
            known = ", ".join(f"{n:g}" for n in sorted(self.nodes))
            raise ConfigError(f"{what}node_nm: {node_nm:g} nm is not in the scaling table (known: {known})")
        if not row.vdd_min <= vdd_v <= row.vdd_max:
            raise ConfigError(f"{what}vdd_v: {vdd_v:g} V is outside {row.vdd_min:g}–{row.vdd_max:g} V at "
                              f"{node_nm:g} nm (no extrapolation)")
        return row

    def nominal_vdd(self, node_nm: float) -> float:
        """Nominal supply at ``node_nm`` (V); ConfigError when the node is not in the table."""
        row = self.nodes.get(float(node_nm))
        if row is None:
            known = ", ".join(f"{n:g}" for n in sorted(self.nodes))
            raise ConfigError(f"node_nm: {node_nm:g} nm is not in the scaling table (known: {known})")
        return row.vdd_nom

    def energy_rel(self, node_nm: float, vdd_v: float, what: str = "") -> float:
        """Energy of a digital action at (node, V), in arbitrary units consistent within this table."""
        row = self._row(node_nm, vdd_v, what)
        if self.rule == "dennard":
            return float(node_nm) * vdd_v * vdd_v
        if row.a is None or row.b is None or row.c is None:
            raise ConfigError(f"scaling.nodes.{node_nm:g}: rule polynomial needs a, b and c")
        return row.a * vdd_v * vdd_v + row.b * vdd_v + row.c

    def factor(self, from_node: float, from_v: float, to_node: float, to_v: float) -> float:
        """Multiply a digital energy characterised at (from_node, from_v) by this to get it at (to_node, to_v)."""
        return self.energy_rel(to_node, to_v) / self.energy_rel(from_node, from_v, "tech.")

    def check(self, node_nm, vdd_v) -> None:
        """Raise ConfigError unless every (node, V) pair of the arrays is in the table (vectorised sweeps)."""
        import numpy as np

        for n in np.unique(np.asarray(node_nm, dtype=np.float64)):
            sel = np.asarray(node_nm) == n
            v = np.asarray(vdd_v, dtype=np.float64)
            v = v[sel] if v.shape == np.asarray(node_nm).shape else v
            self._row(float(n), float(np.min(v)), "")
            self._row(float(n), float(np.max(v)), "")


def load_scaling(path: str | Path | None = None) -> ScalingTable:
    """Read a scaling table (default: the ASSUMED Dennard table shipped in energy/data)."""
    return load_model(ScalingTable, data_path(DEFAULT_SCALING) if path is None else path)
