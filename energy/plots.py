"""Figures of the energy model (matplotlib, Agg backend): stacked nJ/pixel bars and the sweep's Pareto plot."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from logcam.files import atomic_write

STAGE_COLORS = {"sensor": "#4c72b0", "link": "#dd8452", "isp": "#55a868", "cnn": "#c44e52"}


def _figure():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def stacked_bars(reports: list[dict], path: str | Path) -> None:
    """One bar per pipeline, stacked by stage, in nJ/pixel (the log-gradient paper's Figure 2 story)."""
    plt = _figure()
    fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
    names = [r["pipeline"] for r in reports]
    bottom = np.zeros(len(reports))
    for stage, color in STAGE_COLORS.items():
        vals = np.array([r["stages"].get(stage, {}).get("nJ_per_pixel", 0.0) for r in reports])
        if vals.any():
            ax.bar(names, vals, bottom=bottom, color=color, label=stage)
            bottom += vals
    for x, total in enumerate(bottom):
        ax.text(x, total, f"{total:.3g}", ha="center", va="bottom", fontsize=8)
    ax.set_ylabel("energy, nJ/pixel")
    ax.set_title("Energy per pixel by stage")
    ax.legend()
    fig.tight_layout()
    atomic_write(path, lambda p: fig.savefig(p, format="png"))
    plt.close(fig)


def pareto_plot(x: np.ndarray, y: np.ndarray, front: np.ndarray, xlabel: str, path: str | Path) -> None:
    """All design points (x, nJ/pixel) with the Pareto front (lower is better on both) highlighted."""
    plt = _figure()
    fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
    step = max(1, x.size // 20000)  # plot a thinned cloud; the front in full
    ax.scatter(x[::step], y[::step], s=2, alpha=0.3, color="#999999", label="design points")
    order = np.argsort(x[front])
    ax.plot(x[front][order], y[front][order], "o-", color="#c44e52", ms=3, label="Pareto front")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("total energy, nJ/pixel")
    ax.set_yscale("log")
    ax.legend()
    fig.tight_layout()
    atomic_write(path, lambda p: fig.savefig(p, format="png"))
    plt.close(fig)
