"""Tiny grids for the exploration tests."""

from __future__ import annotations

from pathlib import Path

import yaml

#: 8 points, 4 trained networks: RDC vs ISP front-end × c1 × two nodes, 16×16 px, 1 epoch.
TINY = {
    "name": "tiny",
    "dataset": {"kind": "synthetic", "n": 90, "size": 16, "seed": 3},
    "train": {"epochs": 1, "batch": 32, "threads": 1},
    "axes": {"frontend": ["rdc", "isp"], "c1": [2, 3], "c2": [4], "node_nm": [45, 16]},
}


def write_grid(folder: Path, filename: str = "grid.yaml", **changes: object) -> Path:
    """TINY with top-level keys replaced (``axes=...`` replaces all axes), as a YAML file."""
    data = {**TINY, **changes}
    path = folder / filename
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path
