"""A minimal compiler cache for Verilator's runtime library (make's ``OBJCACHE`` hook).

Verilator's makefile prefixes each compile with ``$(OBJCACHE)``. logcam points it here during a
build: compiles of sources under ``$VERILATOR_ROOT/include`` (verilated.cpp, verilated_vpi.cpp,
…, the same for every design) are keyed by the full command line and the source's content and
served from ``$LOGCAM_CACHE/rtl/_objcache``; every other compile runs unchanged. This roughly
halves the time of a new design's build. Usage (by make): ``python -m logcam.sim.rtl.objcache CXX ARGS…``.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path


def _cache_dir() -> Path:
    from logcam.sim.rtl.runner import cache_root

    return cache_root() / "rtl" / "_objcache"


def main(argv: list[str]) -> int:
    root = os.environ.get("VERILATOR_ROOT")
    sources = [a for a in argv if a.endswith(".cpp")]
    if "-o" not in argv or len(sources) != 1 or not root:
        return subprocess.call(argv)
    src = Path(sources[0])
    inc = Path(root).resolve() / "include"
    if not src.resolve().is_relative_to(inc):
        return subprocess.call(argv)
    out = Path(argv[argv.index("-o") + 1])
    dep = out.with_suffix(".d")
    key = hashlib.sha256("\0".join([*argv, hashlib.sha256(src.read_bytes()).hexdigest()]).encode())
    cached = _cache_dir() / key.hexdigest()[:24]
    cached.parent.mkdir(parents=True, exist_ok=True)
    # One compile per key at a time: a parallel build of another design waits and then copies.
    with open(cached.with_name(f"{cached.name}.lock"), "a+") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        if (cached / "OK").is_file():
            shutil.copyfile(cached / "obj.o", out)
            if (cached / "obj.d").is_file():
                shutil.copyfile(cached / "obj.d", dep)
            return 0
        return _compile_and_store(argv, out, dep, cached)


def _compile_and_store(argv: list[str], out: Path, dep: Path, cached: Path) -> int:
    rc = subprocess.call(argv)
    if rc == 0:
        tmp = cached.with_name(f"{cached.name}.{os.getpid()}.tmp")
        tmp.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(out, tmp / "obj.o")
        if dep.is_file():
            shutil.copyfile(dep, tmp / "obj.d")
        (tmp / "OK").write_text(" ".join(argv))
        try:
            tmp.rename(cached)
        except OSError:  # another build stored it first
            shutil.rmtree(tmp, ignore_errors=True)
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
