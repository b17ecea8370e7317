"""Inside a cocotb bench: read the inputs the runner wrote, write the result back.

Kept apart from :mod:`logcam.sim.rtl.runner` so the simulator process imports only numpy, and that only
when the bench has arrays (the memory bench has none: its process starts without numpy).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np


def bench_dir() -> Path:
    """Inside a bench: the directory with the inputs (``$LOGCAM_BENCH_DIR``)."""
    return Path(os.environ["LOGCAM_BENCH_DIR"])


def bench_inputs() -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Inside a bench: ``params.json`` and every ``.npy`` array of the bench directory."""
    d = bench_dir()
    params = json.loads((d / "params.json").read_text())
    files = sorted(d.glob("*.npy"))
    if not files:
        return params, {}
    import numpy as np

    arrays = {p.stem: np.load(p) for p in files}
    return params, arrays


def bench_write_result(result: dict[str, Any]) -> None:
    """Inside a bench: write ``result.json`` atomically (temp file, then rename)."""
    d = bench_dir()
    tmp = d / "result.json.tmp"
    tmp.write_text(json.dumps(result))
    tmp.replace(d / "result.json")
