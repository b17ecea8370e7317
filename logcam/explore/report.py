"""Outputs of an exploration: CSV of all points, Pareto fronts (table + PNG), JSON summary; all atomic."""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path
from typing import Any

from logcam.errors import ConfigError
from logcam.explore.grid import AXES
from logcam.explore.point import METRICS
from logcam.explore.store import Row
from logcam.files import atomic_write

#: The default front: int8 accuracy against energy per pixel.
DEFAULT_FRONT = ("accuracy", "nj_per_pixel")


def parse_front(text: str) -> tuple[str, str]:
    """``"X,Y"`` → two metric names (ConfigError naming the allowed ones)."""
    parts = [t.strip() for t in text.split(",")]
    if len(parts) != 2 or parts[0] == parts[1]:
        raise ConfigError(f"--pareto: {text!r} must name two different metrics as X,Y")
    for m in parts:
        if m not in METRICS:
            raise ConfigError(f"--pareto: unknown metric {m!r} (allowed: {', '.join(METRICS)})")
    return parts[0], parts[1]


def _value(row: Row, metric: str) -> float | None:
    v = row.metrics.get(metric)
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) else None


def pareto(rows: list[Row], x: str, y: str) -> list[Row]:
    """The finished points no other point beats on both metrics (directions from METRICS), sorted by x."""
    sign = {m: (1.0 if METRICS[m][1] == "max" else -1.0) for m in (x, y)}
    pts = [(r, _value(r, x), _value(r, y)) for r in rows if r.status == "ok"]
    pts = [(r, a * sign[x], b * sign[y]) for r, a, b in pts if a is not None and b is not None]
    front = []
    for r, a, b in pts:
        dominated = any(a2 >= a and b2 >= b and (a2 > a or b2 > b) for _, a2, b2 in pts)
        if not dominated:
            front.append((r, a, b))
    front.sort(key=lambda t: (t[1] * sign[x], t[2] * sign[y], t[0].index))
    return [r for r, _, _ in front]


def columns(rows: list[Row]) -> list[str]:
    """CSV columns: identity, axes, metrics (those present), artefacts, timing."""
    metrics = [m for m in METRICS if any(m in r.metrics for r in rows)]
    return ["index", "hash", "status", *AXES, "seed", *metrics, "activity", "netspec", "bundle", "activity_file",
            "worker", "total_s", "error"]


def row_dict(r: Row) -> dict[str, Any]:
    """One point as a flat dict (CSV row, JSON entry)."""
    d: dict[str, Any] = {"index": r.index, "hash": r.hash, "status": r.status}
    d.update({a: r.config.get(a) for a in AXES})
    d["seed"] = r.seed
    d.update({m: v for m, v in r.metrics.items()})
    d.update(netspec=r.artefacts.get("netspec"), bundle=r.artefacts.get("bundle"),
             activity_file=r.artefacts.get("activity"), worker=r.worker, total_s=r.timing.get("total_s"),
             error=r.error)
    return d


def write_csv(rows: list[Row], path: Path) -> None:
    """All points, one line each (``repr`` floats: the stored bits)."""
    cols = columns(rows)
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=cols, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: ("" if v is None else v) for k, v in row_dict(r).items()})
    atomic_write(path, lambda tmp: tmp.write_text(buf.getvalue()))


def plot_front(rows: list[Row], front: list[Row], x: str, y: str, path: Path, title: str) -> None:
    """Scatter of all finished points by front-end, the Pareto front drawn over them."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.4), dpi=110)
    for fe, marker in (("rdc", "o"), ("isp", "s")):
        pts = [(_value(r, x), _value(r, y)) for r in rows if r.status == "ok" and r.config.get("frontend") == fe]
        pts = [(a, b) for a, b in pts if a is not None and b is not None]
        if pts:
            ax.scatter([p[1] for p in pts], [p[0] for p in pts], marker=marker, alpha=0.5,
                       label="log-gradient RDC" if fe == "rdc" else "ADC + ISP")
    fx = [_value(r, y) for r in front]
    fy = [_value(r, x) for r in front]
    ax.plot(fx, fy, "k-", lw=1, drawstyle="steps-post" if len(front) > 1 else "default")
    ax.scatter(fx, fy, facecolors="none", edgecolors="k", s=80, label="Pareto front")
    ax.set_xlabel(f"{y}: {METRICS[y][0]}")
    ax.set_ylabel(f"{x}: {METRICS[x][0]}")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png"))
    plt.close(fig)


def front_name(x: str, y: str) -> str:
    """File stem of a front: ``pareto`` for the default, ``pareto_X_Y`` otherwise."""
    return "pareto" if (x, y) == DEFAULT_FRONT else f"pareto_{x}_{y}"


def write_outputs(rows: list[Row], out: Path, fronts: list[tuple[str, str]], grid_name: str,
                  plots: bool = True) -> dict[str, Any]:
    """points.csv, and per front NAME.csv (+ NAME.png); returns the fronts for the summary."""
    write_csv(rows, out / "points.csv")
    result: dict[str, Any] = {}
    for x, y in fronts:
        front = pareto(rows, x, y)
        name = front_name(x, y)
        write_csv(front, out / f"{name}.csv")
        if plots:
            plot_front(rows, front, x, y, out / f"{name}.png", f"{grid_name}: {x} vs {y} ({len(front)} on the front)")
        result[f"{x},{y}"] = {"csv": str(out / f"{name}.csv"), "png": str(out / f"{name}.png") if plots else None,
                              "points": [row_dict(r) for r in front]}
    return result


def table(front: list[Row], x: str, y: str) -> str:
    """A Pareto front as a text table."""
    head = f"{'#':>3} {'front-end':9} {'lv':>2} {'thr':>4} {'adc':>3} {'c1':>3} {'c2':>3} {'k':>2} {'node':>4} " \
           f"{x:>14} {y:>14}"
    lines = [head]
    for r in front:
        c = r.config

        def f(v: object) -> str:
            return "-" if v is None else str(v)

        lines.append(f"{r.index:>3} {c['frontend']:9} {f(c.get('levels')):>2} {f(c.get('threshold')):>4} "
                     f"{c['adc_bits']:>3} {f(c.get('c1')):>3} {f(c.get('c2')):>3} {f(c.get('kernel')):>2} "
                     f"{c['node_nm']:>4} {_value(r, x):>14.6g} {_value(r, y):>14.6g}")
    return "\n".join(lines)


def write_json(summary: dict[str, Any], path: Path) -> None:
    """The summary JSON, atomically."""
    atomic_write(path, lambda tmp: tmp.write_text(json.dumps(summary, indent=2) + "\n"))


__all__ = [
    "DEFAULT_FRONT",
    "columns",
    "front_name",
    "pareto",
    "parse_front",
    "plot_front",
    "row_dict",
    "table",
    "write_csv",
    "write_json",
    "write_outputs",
]
