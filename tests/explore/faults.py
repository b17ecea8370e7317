"""Point functions for the fault tests, importable by Dask workers (``tests.explore.faults``).

They stand in for :func:`logcam.explore.point.evaluate_point`: fast fake metrics, and a worker that dies
(``os._exit``) on chosen points, every time or only on the first attempt (a marker file counts attempts).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def _attempt(point: dict[str, Any], out: str) -> int:
    """Count this attempt in OUT/attempts-<hash>; returns the attempt number (1, 2, …)."""
    path = Path(out) / f"attempts-{point['hash'][:12]}"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.write(fd, b"x")
    finally:
        os.close(fd)
    return path.stat().st_size


def dying(point: dict[str, Any], out: str) -> dict[str, Any]:
    """Kill the worker on every attempt of point 0 and on the first attempt of point 1, raise on point 2;
    else fake metrics."""
    n = _attempt(point, out)
    if point["index"] == 0 or (point["index"] == 1 and n == 1):
        os._exit(1)
    if point["index"] == 2:
        raise ValueError("point 2 cannot be built")
    return {"hash": point["hash"], "metrics": {"accuracy": 0.5 + point["index"] / 100, "nj_per_pixel": 0.1},
            "artefacts": {}, "timing": {"total_s": 0.0}, "worker": str(os.getpid())}
