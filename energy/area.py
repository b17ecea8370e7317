"""Chip area, mm²: logcam's own accelerator RTL counted by Yosys and costed per part, plus the sensor.

SACoD compares chip area beside FLOPs and energy. The accelerator's parts come from its RTL — the Yosys
statistics of each layer (:func:`logcam.sim.rtl.emit.layer_stats`: cells by type with their output bits,
flip-flop and memory bits) — and each is costed with a sourced per-unit area of energy/data/area.yaml (40 nm):

- flip-flop bits × a register bit (Aladdin);
- memory bits (weight ROMs, line buffers, pool memories: Yosys ``$mem``) × an SRAM bit cell (CACTI's 146 F²),
  without decoders or sense amplifiers (a RAM is understated; a ROM bit is smaller than an SRAM cell);
- ``$add``/``$sub`` output bits × an adder bit; ``$mul`` cells × a·b operand bits × Aladdin's multiplier per bit²,
  a·b taken as (Y/2)² of the mean output width Y of the layer's multipliers (the statistics keep output bits
  per cell type only: a lower bound, exact when they have one width); shifter output bits × a shifter bit;
  bitwise and multiplexer output bits × a bitwise gate bit (a wide ``$pmux`` is understated);
- not costed: comparators, reductions and ``$logic_*`` cells (reported by count), wiring, clock tree and
  placement utilisation — an estimate of the cells, not a layout.

The sensor is :func:`logcam.nn.optics.sensor_area_mm2` (the pixel regions the front-end reads).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from logcam.config import StrictModel, load_model
from logcam.energy.tech import data_path

#: Yosys cell types by the table entry that costs them per output bit.
PER_BIT = {"adder_bit": ("$add", "$sub", "$neg", "$alu"),
           "shifter_bit": ("$shl", "$shr", "$sshl", "$sshr", "$shift", "$shiftx"),
           "logic_bit": ("$and", "$or", "$xor", "$xnor", "$not", "$mux", "$pmux", "$bmux")}
#: Component names of the breakdown, in order.
COMPONENTS = ("flip_flops", "memory", "multipliers", "adders", "shifters", "logic")


class AreaEntry(StrictModel):
    value: float = Field(gt=0, allow_inf_nan=False, description="area per unit, µm²")
    unit: Literal["um2"]
    source: str = Field(min_length=1)


class AreaTable(StrictModel):
    """Per-unit areas (µm²) at one node, each with its source (energy/data/area.yaml)."""

    name: str
    node_nm: int = Field(gt=0)
    entries: dict[str, AreaEntry]

    def um2(self, key: str) -> float:
        return self.entries[key].value


@lru_cache(maxsize=4)
def load_area_table(path: str | None = None) -> AreaTable:
    """The area table (default: the shipped energy/data/area.yaml); one ConfigError line if it is malformed."""
    return load_model(AreaTable, Path(path) if path is not None else data_path("area.yaml"))


def layer_area_um2(stats: dict[str, Any], table: AreaTable) -> dict[str, float]:
    """µm² of one accelerator layer by component (:data:`COMPONENTS`) from its Yosys statistics."""
    cells, bits = stats["cells"], stats["cell_bits"]
    n_mul, y_mul = cells.get("$mul", 0), bits.get("$mul", 0)
    per_bit = {k: sum(bits.get(t, 0) for t in types) * table.um2(k) for k, types in PER_BIT.items()}
    return {"flip_flops": int(stats["num_ff_bits"]) * table.um2("ff_bit"),
            "memory": int(stats["num_memory_bits"]) * table.um2("sram_cell"),
            "multipliers": n_mul * (y_mul / n_mul / 2) ** 2 * table.um2("mult_bit2") if n_mul else 0.0,
            "adders": per_bit["adder_bit"], "shifters": per_bit["shifter_bit"], "logic": per_bit["logic_bit"]}


@dataclass(frozen=True)
class Area:
    """Chip area, mm²: the accelerator by component and layer, the sensor, and what was not costed."""

    node_nm: int
    components_mm2: dict[str, float]
    layers_mm2: list[float]
    sensor_mm2: float
    not_costed: dict[str, int]  # Yosys cell type → count

    @property
    def accelerator_mm2(self) -> float:
        return sum(self.components_mm2.values())

    @property
    def total_mm2(self) -> float:
        return self.accelerator_mm2 + self.sensor_mm2

    def to_json(self) -> dict[str, Any]:
        return {"node_nm": self.node_nm, "accelerator_mm2": self.accelerator_mm2, "sensor_mm2": self.sensor_mm2,
                "total_mm2": self.total_mm2, "components_mm2": self.components_mm2, "layers_mm2": self.layers_mm2,
                "not_costed_cells": self.not_costed}


def chip_area(stats: list[dict[str, Any]], sensor_mm2: float = 0.0, table: AreaTable | None = None) -> Area:
    """The accelerator's area from its layers' Yosys statistics (:func:`logcam.sim.rtl.emit.layer_stats`, or
    :func:`logcam.energy.overheads.rtl_layer_stats`), plus a sensor's (mm²)."""
    table = table or load_area_table()
    layers = [layer_area_um2(st, table) for st in stats]
    costed = {t for types in PER_BIT.values() for t in types} | {"$mul", "$scopeinfo"}
    skipped: dict[str, int] = {}
    for st in stats:
        for t, n in st["cells"].items():
            if t not in costed and not t.startswith("$mem") and "dff" not in t:
                skipped[t] = skipped.get(t, 0) + n
    comp = {c: sum(la[c] for la in layers) * 1e-6 for c in COMPONENTS}
    return Area(table.node_nm, comp, [sum(la.values()) * 1e-6 for la in layers], float(sensor_mm2),
                dict(sorted(skipped.items())))
