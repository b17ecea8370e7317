"""The fuzz harness itself: stubbing the RTL tools must leave nothing behind for the tests that build RTL."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_no_rtl_tools_restores_every_binding_even_on_first_import() -> None:
    """In a fresh interpreter (the RTL modules not imported yet, as in an xdist worker that runs a fuzz test
    first), the stub is gone after the block from every module that binds setup_verilator."""
    code = ("from tests.fuzz.inputs import no_rtl_tools\n"
            "with no_rtl_tools():\n    pass\n"
            "import logcam.sim.rtl.runner as r, logcam.sim.rtl.emit as e, logcam.toolchain as t\n"
            "assert r.setup_verilator is t.setup_verilator is e.setup_verilator, 'stub leaked'\n"
            "assert t.setup_verilator.__module__ == 'logcam.toolchain'\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
