"""Atomic output files: nothing half-written, and the permissions an ordinary write would give."""

from __future__ import annotations

import os
import stat

import pytest

from logcam.errors import InputError
from logcam.files import atomic_write


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_atomic_write_gives_the_umask_mode_not_tempfiles_0600(tmp_path, umask_022):
    out = tmp_path / "a.csv"
    atomic_write(out, lambda p: p.write_text("x\n"))
    assert out.read_text() == "x\n" and stat.S_IMODE(out.stat().st_mode) == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["a.csv"]


def test_failed_write_leaves_nothing(tmp_path):
    def boom(p):
        p.write_text("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        atomic_write(tmp_path / "b.csv", boom)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(InputError, match="does not exist"):
        atomic_write(tmp_path / "no" / "c.csv", boom)
