"""The exploration grid: a YAML of fixed settings and axes → the list of canonical design points.

A point is a plain JSON-able dict (front-end, network, node, frame rate, dataset, training and RTL
settings). Its *config hash* is the SHA-256 of its canonical JSON (sorted keys, no whitespace); its
*training hash* covers only what determines the trained network (front-end, network, dataset, training),
and the point's seed derives from that, so points that differ only in node or frame rate share one
network, bit for bit, on any worker.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, PrivateAttr, model_validator

from logcam.config import StrictModel, embedded_config, read_yaml, validate
from logcam.errors import ConfigError
from logcam.nn.data import SyntheticConfig

#: Axis name → (allowed values in words, default). The default applies when the grid has no such axis.
AXES: dict[str, tuple[str, object]] = {
    "frontend": ("rdc (log-gradient codes) or isp (10-bit ADC + ISP, 8-bit image)", "rdc"),
    "levels": ("RDC levels: 3, 5 or 7", 3),
    "threshold": ("first RDC threshold ratio r > 1 (k-th threshold r^k; number or 'n/d')", "2"),
    "adc_bits": ("ADC bits, 2 … the sensor preset's bits", None),
    "net": ("NetSpec template: embedded name (2conv1fc) or YAML path", "2conv1fc"),
    "c1": ("channels of conv layer 1, 1…64", None),
    "c2": ("channels of conv layer 2, 1…64", None),
    "kernel": ("conv kernel size of every conv layer: 1, 3, 5 or 7", None),
    "node_nm": ("process node of the digital stages in nm (energy scaling table)", 45),
    "fps": ("frame rate in frames/s, > 0 and ≤ 10000", 30.0),
}
#: Axes that change the trained network (the rest only change the energy).
TRAIN_AXES = ("frontend", "levels", "threshold", "adc_bits", "net", "c1", "c2", "kernel")


class TrainSettings(StrictModel):
    """Training of every point (the recipe of nn/train.py; small numbers for exploration)."""

    epochs: int = Field(1, ge=1, le=1000)
    batch: int = Field(64, ge=1, le=4096)
    lr: float = Field(1e-3, gt=0, le=1)
    decay: float = Field(0.95, gt=0, le=1)
    qat_start: int = Field(1, ge=0, description="float epochs before fake-quantization")
    threads: int = Field(1, ge=1, le=64, description="torch threads per point (workers × threads ≤ cores)")


class RtlSettings(StrictModel):
    """Optional RTL verification of each trained network on test frames, with measured activity."""

    verify: bool = False
    sim: Literal["verilator", "amaranth"] = "verilator"
    frames: int = Field(1, ge=1, le=64, description="test frames streamed through the RTL")


class GridConfig(StrictModel):
    """A design-space grid (configs/explore/example.yaml)."""

    name: str = Field(pattern=r"^[A-Za-z0-9_\-]+$", max_length=64)
    description: str = ""
    dataset: SyntheticConfig = SyntheticConfig(n=300, size=16)
    train: TrainSettings = TrainSettings()
    rtl: RtlSettings = RtlSettings()
    rdc_mode: Literal["sum", "h", "v"] = Field("sum", description="RDC mode of every rdc point (one channel)")
    axes: dict[str, list[Any]] = Field(default_factory=dict)
    #: folder of the grid file: relative NetSpec paths of the ``net`` axis are looked up there first
    _base: Path | None = PrivateAttr(None)

    @model_validator(mode="after")
    def _check(self) -> GridConfig:
        for name, values in self.axes.items():
            if name not in AXES:
                raise ValueError(f"axes.{name}: unknown axis (allowed: {', '.join(AXES)})")
            if not values:
                raise ValueError(f"axes.{name}: empty axis; give at least one value ({AXES[name][0]})")
        return self


def canonical_json(obj: object) -> str:
    """The canonical JSON of a config (sorted keys, no spaces): what hashes are taken of."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)


def config_hash(obj: object) -> str:
    """SHA-256 (hex) of the canonical JSON of ``obj``."""
    return hashlib.sha256(canonical_json(obj).encode()).hexdigest()


def seed_of(train_hash: str) -> int:
    """The training seed of a point: the first 31 bits of its training hash (same on every machine)."""
    return int(train_hash[:8], 16) & 0x7FFFFFFF


def _sensor_bits(preset: str) -> int:
    from logcam.sim.sensor import load_sensor

    return int(load_sensor(preset).adc_bits)


def _check_value(axis: str, v: object, sensor_bits: int) -> object:
    """One axis value, validated and normalised (ConfigError naming the axis and what is allowed)."""
    where = f"axes.{axis}"
    allowed = AXES[axis][0]
    bad = ConfigError(f"{where}: {v!r} is out of range (allowed: {allowed})")
    if axis == "frontend":
        if v not in ("rdc", "isp"):
            raise bad
        return v
    if axis == "threshold":
        from logcam.rdcspec import MAX_RATIO_TERM, parse_ratio

        try:
            r = parse_ratio(v)
        except ValueError:
            raise bad from None
        if r <= 1 or (r ** 3).numerator > MAX_RATIO_TERM or (r ** 3).denominator > MAX_RATIO_TERM:
            raise ConfigError(f"{where}: {v!r} is out of range (allowed: a ratio r > 1 whose r³ has terms "
                              f"≤ {MAX_RATIO_TERM}, e.g. 2, 3/2, 5/2)")
        return str(r)
    if axis == "net":
        if not isinstance(v, str) or not v:
            raise bad
        return v
    if axis == "fps":
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 < v <= 10000:
            raise bad
        return float(v)
    if isinstance(v, bool) or not isinstance(v, int):
        raise bad
    ranges = {"levels": (3, 7), "adc_bits": (2, sensor_bits), "c1": (1, 64), "c2": (1, 64), "kernel": (1, 7),
              "node_nm": (1, 1000)}
    lo, hi = ranges[axis]
    if not lo <= v <= hi or (axis == "levels" and v not in (3, 5, 7)) or (axis == "kernel" and v % 2 == 0):
        if axis == "adc_bits":
            allowed = f"ADC bits, 2 … {hi} (the sensor preset's bits)"
        raise ConfigError(f"{where}: {v!r} is out of range (allowed: {allowed})")
    if axis == "node_nm":
        from logcam.energy.tech import Scaling

        try:
            Scaling.load().check(v, None, field=where)
        except ConfigError as err:
            raise ConfigError(str(err)) from None
    return v


def load_grid(path: str | Path | None) -> GridConfig:
    """A grid YAML (None → the embedded configs/explore/example.yaml), checked; ConfigError on one line."""
    p = Path(path) if path is not None else embedded_config("explore/example.yaml")
    data = read_yaml(p)
    if not isinstance(data, dict):
        raise ConfigError(f"{p}: a grid is a mapping (name, dataset, train, rtl, axes)")
    grid = validate(GridConfig, data, where=p.name)
    grid._base = p.parent
    return grid


def net_template(name: str, base: Path | None) -> dict[str, Any]:
    """The NetSpec a ``net`` value names, as a JSON dict: a path (beside the grid file, then from here) or an
    embedded name. The points carry it, so workers need no file and the hash covers its content."""
    from logcam.errors import InputError
    from logcam.nn.train import resolve_netspec

    where = f"axes.net: {name!r}"
    try:
        if base is not None and not Path(name).is_absolute() and (base / name).is_file():
            spec = resolve_netspec(str(base / name))
        else:
            spec = resolve_netspec(name)
    except (ConfigError, InputError) as err:
        raise ConfigError(f"{where}: {err}") from None
    return spec.model_dump(mode="json")


def quick(grid: GridConfig) -> GridConfig:
    """The same axes on tiny settings: ≤ 150 images of 16×16 px, 1 epoch, 1 RTL frame."""
    ds = grid.dataset.model_copy(update={"n": min(grid.dataset.n, 150), "size": 16})
    return grid.model_copy(update={"name": f"{grid.name}-quick", "dataset": ds,
                                   "train": grid.train.model_copy(update={"epochs": 1}),
                                   "rtl": grid.rtl.model_copy(update={"frames": 1})})


def expand(grid: GridConfig) -> list[dict[str, Any]]:
    """All distinct points of a grid in axis order, each a canonical dict with ``hash``, ``train_hash``, ``seed``.

    Every value is range-checked first (ConfigError naming the axis). Points that only differ in axes that
    do not apply (levels and threshold of an ``isp`` front-end) are merged.
    """
    sensor_bits = _sensor_bits(grid.dataset.sensor)
    axes = {a: [_check_value(a, v, sensor_bits) for v in vals] for a, vals in grid.axes.items()}
    templates = {n: net_template(n, grid._base) for n in axes.get("net", [AXES["net"][1]])}
    for a, vals in axes.items():
        if len({canonical_json(v) for v in vals}) != len(vals):
            raise ConfigError(f"axes.{a}: a value is given twice")
    names = list(axes)
    points: dict[str, dict[str, Any]] = {}
    base = {"dataset": grid.dataset.model_dump(mode="json"), "train": grid.train.model_dump(mode="json"),
            "rtl": grid.rtl.model_dump(mode="json"), "rdc_mode": grid.rdc_mode}
    for combo in itertools.product(*(axes[n] for n in names)):
        p: dict[str, Any] = {a: d for a, (_, d) in AXES.items()}
        p.update(zip(names, combo))
        if p["adc_bits"] is None:
            p["adc_bits"] = sensor_bits
        p["threshold"] = str(Fraction(str(p["threshold"])))
        if p["frontend"] == "isp":
            p["levels"] = p["threshold"] = None
        p["fps"] = float(p["fps"])
        p["net_template"] = templates[p["net"]]
        p.update(base)
        if not p["rtl"]["verify"]:
            p["rtl"] = {"verify": False}
        train_part = {k: p[k] for k in (*TRAIN_AXES, "net_template", "dataset", "train", "rdc_mode")}
        th = config_hash(train_part)
        h = config_hash(p)
        if h not in points:
            points[h] = {"config": p, "hash": h, "train_hash": th, "seed": seed_of(th), "index": len(points)}
    return list(points.values())


def grid_identity(grid: GridConfig) -> str:
    """Hash of the whole grid (what a store belongs to)."""
    return config_hash(grid.model_dump(mode="json"))


__all__ = ["AXES", "TRAIN_AXES", "GridConfig", "RtlSettings", "TrainSettings", "canonical_json", "config_hash",
           "expand", "grid_identity", "load_grid", "net_template", "quick", "seed_of"]
