"""Reports: text tables, CSV, stacked nJ/pixel bars per pipeline and stage, Pareto plot (matplotlib Agg).

Every file is written through :mod:`logcam.files`: alone with ``atomic_write``, or staged in a command's
``outputs()`` set (``out``) so that a command's files appear together or not at all.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path

import numpy as np

from logcam.energy.pipeline import STAGES, Breakdown
from logcam.files import OutputSet, atomic_write

#: File formats of the plots (the name's ending says which).
PLOT_FORMATS = ("png", "svg", "pdf")


def _save(path: Path, write: Callable[[Path], None], out: OutputSet | None) -> None:
    if out is not None:
        out.write(path, write)
    else:
        atomic_write(path, write)


def _savefig(fig, path: Path, out: OutputSet | None) -> None:
    _save(path, lambda p: fig.savefig(p, format=path.suffix.lstrip(".").lower() or "png"), out)


def breakdown_text(b: Breakdown) -> str:
    """Per-stage nJ/pixel with components, then totals."""
    lines = [f"{b.name}: {b.pixels} pixels/frame at {b.fps:g} fps"]
    for s, comp in b.stages.items():
        tot = sum(comp.values()) / b.pixels * 1e-3
        parts = ", ".join(f"{k} {v / b.pixels * 1e-3:.4g}" for k, v in comp.items())
        lines.append(f"  {s:<8} {tot:10.4g} nJ/pixel   ({parts})")
    lines.append(f"  {'total':<8} {b.total_nj_per_pixel:10.4g} nJ/pixel   "
                 f"{b.uj_per_frame:.4g} µJ/frame   {b.mw:.4g} mW")
    return "\n".join(lines)


def write_compare_csv(path: Path, rows: list[Breakdown], out: OutputSet | None = None) -> None:
    def w(p: Path) -> None:
        with open(p, "w", newline="") as f:
            wr = csv.writer(f)
            wr.writerow(["pipeline", *[f"{s}_nj_per_pixel" for s in STAGES], "total_nj_per_pixel",
                         "uj_per_frame", "mw"])
            for b in rows:
                st = b.stage_nj_per_pixel()
                wr.writerow([b.name, *[f"{st.get(s, 0.0):.6g}" for s in STAGES], f"{b.total_nj_per_pixel:.6g}",
                             f"{b.uj_per_frame:.6g}", f"{b.mw:.6g}"])

    _save(path, w, out)


def plot_stacked(path: Path, rows: list[Breakdown], out: OutputSet | None = None) -> None:
    """Stacked nJ/pixel bars, one per pipeline, one colour per stage (the paper's Figure 2 story)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    bottom = np.zeros(len(rows))
    for s in STAGES:
        v = np.array([b.stage_nj_per_pixel().get(s, 0.0) for b in rows])
        ax.bar([b.name for b in rows], v, bottom=bottom, label=s)
        bottom += v
    ax.set_ylabel("energy (nJ/pixel)")
    ax.set_title("Energy per pixel by stage")
    ax.legend()
    fig.tight_layout()
    try:
        _savefig(fig, path, out)
    finally:
        plt.close(fig)


def write_sweep_csv(path: Path, cols: dict[str, np.ndarray], out: OutputSet | None = None) -> None:
    names = list(cols)

    def w(p: Path) -> None:
        with open(p, "w", newline="") as f:
            f.write(",".join(names) + "\n")
            data = np.column_stack([cols[n].astype(str) if cols[n].dtype.kind in "US" else
                                    np.char.mod("%.6g", cols[n]) for n in names])
            np.savetxt(f, data, fmt="%s", delimiter=",")

    _save(path, w, out)


def plot_pareto(path: Path, cost: np.ndarray, other: np.ndarray, mask: np.ndarray, other_name: str,
                out: OutputSet | None = None) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    ax.scatter(cost, other, s=6, c="0.7", label="design points")
    o = np.argsort(cost[mask])
    ax.plot(cost[mask][o], other[mask][o], "o-", c="C3", label="Pareto front")
    ax.set_xscale("log")
    ax.set_xlabel("total energy (nJ/pixel)")
    ax.set_ylabel(other_name)
    ax.legend()
    fig.tight_layout()
    try:
        _savefig(fig, path, out)
    finally:
        plt.close(fig)


def plot_validation(path: Path, results: list, out: OutputSet | None = None) -> None:
    """Model ÷ reported per configured chip, the model's bar stacked by stage; 1.0 is the chip's measurement."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in results if r.model is not None]
    fig, ax = plt.subplots(figsize=(7, 0.8 + 0.6 * len(rows)))
    names = [r.name for r in rows]
    left = np.zeros(len(rows))
    colours: dict[str, object] = {}
    for i, r in enumerate(rows):
        for stage, v in r.stages.items():
            first = stage not in colours  # label each stage once in the legend
            c = colours.setdefault(stage, plt.get_cmap("tab20")(len(colours) % 20))  # 20 distinct stage colours
            ax.barh(i, v / r.reported, left=left[i], color=c, label=stage if first else None)
            left[i] += v / r.reported
        ax.text(left[i] + 0.02, i, f"{r.error:+.0%}", va="center")
    ax.axvline(1.0, color="k", lw=1, ls="--", label="reported")
    ax.set_yticks(range(len(rows)), names)
    ax.invert_yaxis()
    ax.set_xlabel("model ÷ reported energy (1 = the chip's published number)")
    ax.set_xlim(0, max(1.3, float(left.max()) + 0.25))
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8)
    fig.tight_layout()
    try:
        _savefig(fig, path, out)
    finally:
        plt.close(fig)
