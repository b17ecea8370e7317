"""The project's CLI fuzzing harness: run ``logcam …`` in-process on a bad input and judge the answer.

A user's mistake must get one line on stderr (``logcam: error: …`` naming the input and what is
allowed), a non-zero exit (2 for a mistake), no traceback, no hang, and no file left behind.
:func:`run_cli` runs the command in this process (a subprocess per example would spend seconds on
imports), with a wall-clock alarm against hangs; :func:`assert_rejected` states the verdict.
:func:`campaign` runs a hypothesis strategy for a given number of examples, derandomized so CI sees
the same inputs every run, and counts what it ran in :data:`TALLY` (the slow campaign reports it).
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import signal
import traceback
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from logcam.cli import main

#: examples run per command family: {family: count}; the slow campaign asserts the total.
TALLY: Counter[str] = Counter()

#: Examples per fuzz test in the default suite, and in the ``-m slow`` campaign.
QUICK = 12
CAMPAIGN = 120


class Hang(Exception):
    """The command ran past its time limit."""


@dataclass
class CliResult:
    argv: list[str]
    code: int
    out: str
    err: str
    traceback: str | None

    def describe(self) -> str:
        return (f"logcam {' '.join(self.argv)} → exit {self.code}\nstderr: {self.err!r}\n"
                + (f"traceback:\n{self.traceback}" if self.traceback else ""))


@contextlib.contextmanager
def _alarm(seconds: int) -> Iterator[None]:
    def _raise(signum: int, frame: object) -> None:
        raise Hang(f"no answer within {seconds} s")

    old = signal.signal(signal.SIGALRM, _raise)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


@contextlib.contextmanager
def _cwd(path: Path) -> Iterator[None]:
    old = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


@contextlib.contextmanager
def _log_warnings_to(stream: io.StringIO) -> Iterator[None]:
    """Log records of WARNING and above go to ``stream``, as logging's last-resort handler writes them to a
    user's stderr (under pytest, its own handlers would swallow them and hide a second stderr line)."""
    handler = logging.StreamHandler(stream)
    handler.setLevel(logging.WARNING)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield
    finally:
        root.removeHandler(handler)


def run_cli(argv: list[str], cwd: Path, timeout_s: int = 120) -> CliResult:
    """Run ``logcam argv`` in-process in folder ``cwd``; exit code, stdout, stderr and any traceback."""
    out, err = io.StringIO(), io.StringIO()
    code, tb = 0, None
    with _cwd(cwd), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), _log_warnings_to(err):
        try:
            with _alarm(timeout_s):
                main([str(a) for a in argv])
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        except Hang:
            code, tb = -1, "HANG"
        except BaseException:  # a bug: what the user would have seen as a traceback
            code, tb = -2, traceback.format_exc()
    return CliResult([str(a) for a in argv], code, out.getvalue(), err.getvalue(), tb)


def files_under(path: Path) -> set[Path]:
    """Every file and folder below ``path`` (hidden ones too: a leftover temporary is a partial output)."""
    return {p.relative_to(path) for p in path.rglob("*")}


def assert_rejected(res: CliResult, workdir: Path, before: set[Path], family: str = "") -> None:
    """The verdict on a bad input: no traceback or hang, exit 2, one stderr line, nothing new on disk."""
    TALLY[family or (res.argv[0] if res.argv else "?")] += 1
    assert res.traceback is None, res.describe()
    assert res.code == 2, f"bad input accepted or wrong exit code:\n{res.describe()}"
    lines = [ln for ln in res.err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("logcam: error: "), f"not one error line:\n{res.describe()}"
    left = files_under(workdir) - before
    assert not left, f"left behind {sorted(map(str, left))}:\n{res.describe()}"


def campaign(strategy: st.SearchStrategy, check: Callable[..., None], examples: int) -> None:
    """Run ``check(example)`` on ``examples`` inputs drawn from ``strategy`` (same inputs every run)."""
    settings(max_examples=examples, deadline=None, derandomize=True, database=None, print_blob=True,
             suppress_health_check=list(HealthCheck))(given(strategy)(check))()
