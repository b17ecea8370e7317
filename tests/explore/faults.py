"""Point functions for the fault tests, importable by Dask workers (``tests.explore.faults``).

They stand in for :func:`logcam.explore.point.evaluate_point`: fast fake metrics, and a worker that dies
(SIGKILL) on chosen points, every time or only on the first attempt (a marker file counts attempts).
"""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

from logcam.explore.point import count_starts, log_attempt


def _attempt(point: dict[str, Any], out: str) -> int:
    """Log this attempt as evaluate_point does (attempts.log); returns the attempt number (1, 2, …)."""
    log_attempt(Path(out), point["hash"], "start")
    return count_starts(Path(out), point["hash"])


def dying(point: dict[str, Any], out: str) -> dict[str, Any]:
    """Kill the worker on every attempt of point 0 and on the first attempt of point 1, raise on point 2;
    else fake metrics."""
    n = _attempt(point, out)
    if point["index"] == 0 or (point["index"] == 1 and n == 1):
        os.kill(os.getpid(), signal.SIGKILL)  # kill -9 of the worker process
    if point["index"] == 2:
        raise ValueError("point 2 cannot be built")
    return {"hash": point["hash"], "metrics": {"accuracy": 0.5 + point["index"] / 100, "nj_per_pixel": 0.1},
            "artefacts": {}, "timing": {"total_s": 0.0}, "worker": str(os.getpid())}
