"""File input and output that never leaves anything half-written and answers a bad path in one line.

Outputs: :func:`atomic_write` writes one file through a temporary name in its folder; :func:`outputs`
stages several files and renames them together only when the command succeeds; :func:`check_writable`
and :func:`check_folder` test a destination before any work is done, so a long run does not fail at
its end. Inputs: :func:`load_npy` and :func:`load_npz` read NumPy files as plain numeric arrays in
native byte order (structured, string, object and datetime arrays, empty arrays, zip bundles where one
array is expected and corrupt files are one :class:`~logcam.errors.InputError` line).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import struct
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from logcam.errors import InputError

#: Exceptions numpy raises on a file that is not a readable array (zero bytes, bad header, bad zip, …).
_NP_READ_ERRORS = (OSError, ValueError, EOFError, MemoryError, SyntaxError, zipfile.BadZipFile, zlib.error,
                   struct.error, KeyError)
_NPY_MAGIC = b"\x93NUMPY"
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def user_mode(path: Path, directory: bool = False) -> None:
    """Give a file (0666) or folder (0777) from ``tempfile`` (0600/0700) the mode ``open`` gives, less the umask."""
    os.chmod(path, (0o777 if directory else 0o666) & ~_umask())


def _why(err: OSError) -> str:
    return err.strerror or type(err).__name__


# --- output -----------------------------------------------------------------------------------------

def _special(path: Path) -> bool:
    """True for an existing destination that is not a regular file or folder (/dev/null, /dev/stdout, a FIFO):
    it is written into, never replaced."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return False
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))


def _destination(path: str | Path) -> tuple[Path, Path]:
    """(path, its folder) after checking that a file can be placed there (without writing anything)."""
    text = str(path)
    path = Path(path)
    if not text or text.endswith(("/", os.sep)) or path.name in ("", ".", ".."):
        raise InputError(f"{text or '(empty)'}: names a folder; give a file name")
    if path.is_dir():
        raise InputError(f"{path}: is a folder; give a file name")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.exists():
        anc = next((a for a in parent.parents if a.exists()), None)
        if anc is not None and not anc.is_dir():
            raise InputError(f"{path}: {anc} is a file, not a folder")
        raise InputError(f"{path}: folder {parent} does not exist")
    if not parent.is_dir():
        raise InputError(f"{path}: {parent} is a file, not a folder")
    return path, parent


def _mkstemp(path: Path, parent: Path) -> Path:
    if _special(path):
        parent = Path(tempfile.gettempdir())  # staged aside, then copied into the device at the end
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=path.suffix, dir=parent)
    except OSError as err:
        raise InputError(f"{path}: cannot write in folder {parent} ({_why(err)})") from None
    os.close(fd)
    return Path(tmp)


def check_writable(path: str | Path) -> Path:
    """Raise :class:`InputError` unless a file can be written at ``path`` (tried with a temporary file)."""
    p, parent = _destination(path)
    if _special(p):
        if not os.access(p, os.W_OK):
            raise InputError(f"{p}: cannot write (permission denied)")
        return p
    _mkstemp(p, parent).unlink()
    return p


def _stage(path: str | Path, write: Callable[[Path], None]) -> tuple[Path, Path]:
    p, parent = _destination(path)
    tmp = _mkstemp(p, parent)
    try:
        write(tmp)
        user_mode(tmp)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp, p


def _rename(tmp: Path, path: Path) -> None:
    try:
        if _special(path):
            with open(tmp, "rb") as src, open(path, "wb") as dst:
                shutil.copyfileobj(src, dst)
            tmp.unlink()
        else:
            os.replace(tmp, path)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise InputError(f"{path}: cannot write ({_why(err)})") from None


def atomic_write(path: str | Path, write: Callable[[Path], None]) -> None:
    """Call ``write(tmp)`` on a temporary file in ``path``'s folder, then rename it to ``path``.

    A destination that cannot be written (missing folder, a file where a folder is needed, a folder where
    the file should go, no permission, a read-only or pseudo file system) is one :class:`InputError`
    line naming the path; on any failure the temporary file is removed. A device or FIFO (/dev/null,
    /dev/stdout) is written into at the end, not replaced.
    """
    tmp, p = _stage(path, write)
    _rename(tmp, p)


class OutputSet:
    """Files of one command, each written to a temporary name; :meth:`commit` renames them all."""

    def __init__(self) -> None:
        self._staged: list[tuple[Path, Path]] = []

    def check(self, *paths: str | Path | None) -> None:
        """Check every destination given (``None`` skipped) before any work is done."""
        for p in paths:
            if p is not None:
                check_writable(p)

    def write(self, path: str | Path, write: Callable[[Path], None]) -> Path:
        """Stage ``write(tmp)`` for ``path``; it appears under its name only at :meth:`commit`."""
        tmp, p = _stage(path, write)
        self._staged.append((tmp, p))
        return p

    def discard(self) -> None:
        """Remove every staged temporary file."""
        for tmp, _ in self._staged:
            tmp.unlink(missing_ok=True)
        self._staged.clear()

    def commit(self) -> None:
        """Rename the staged files to their names; if one rename fails the ones before are removed."""
        done: list[Path] = []
        try:
            for tmp, p in self._staged:
                _rename(tmp, p)
                done.append(p)
        except BaseException:
            for p in done:
                p.unlink(missing_ok=True)
            self.discard()
            raise
        self._staged.clear()


@contextlib.contextmanager
def outputs(*paths: str | Path | None) -> Iterator[OutputSet]:
    """Stage a command's output files; all are renamed into place at the end, none if anything failed.

    ``paths`` are checked first (:func:`check_writable`), so a bad destination is found before the work; two
    of them naming the same file is an error too (one would silently overwrite the other).
    """
    given = [Path(p) for p in paths if p is not None]
    seen: dict[Path, Path] = {}
    for p in given:
        key = p.resolve()
        if key in seen and not _special(p):
            raise InputError(f"{seen[key]} and {p} name the same file; give each output its own name")
        seen[key] = p
    out = OutputSet()
    out.check(*given)
    try:
        yield out
    except BaseException:
        out.discard()
        raise
    out.commit()


def check_folder(path: str | Path) -> Path:
    """Raise :class:`InputError` unless ``path`` is a folder, or one can be made there (nothing is created)."""
    p = Path(path)
    if p.exists():
        if not p.is_dir():
            raise InputError(f"{p}: is a file; expected a folder")
        anc = p
    else:
        anc = next((a for a in p.parents if a.exists()), Path("."))
        if not anc.is_dir():
            raise InputError(f"{p}: {anc} is a file, not a folder")
    try:
        Path(tempfile.mkdtemp(prefix=".logcam-check.", dir=anc)).rmdir()
    except OSError as err:
        raise InputError(f"{p}: cannot write in folder {anc} ({_why(err)})") from None
    return p


def make_folder(path: str | Path) -> Path:
    """Create folder ``path`` (and its parents); a place where that is not possible is one InputError."""
    p = check_folder(path)
    try:
        p.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise InputError(f"{p}: cannot create the folder ({_why(err)})") from None
    return p


# --- input ------------------------------------------------------------------------------------------

def _plain(a: object, where: str) -> np.ndarray:
    """A numeric (bool, integer, float) ndarray in native byte order, or one InputError line."""
    if not isinstance(a, np.ndarray):
        raise InputError(f"{where}: not an array")
    if a.dtype.names is not None or a.dtype.kind not in "biuf":
        kind = {"V": "structured", "U": "string", "S": "bytes", "O": "object", "M": "datetime",
                "m": "timedelta", "c": "complex"}.get(a.dtype.kind, "non-numeric")
        raise InputError(f"{where}: {kind} arrays are not allowed (dtype {a.dtype}); "
                         f"expected integer or float numbers")
    if not a.dtype.isnative:
        a = a.astype(a.dtype.newbyteorder("="))
    return a


def _open_check(path: Path, what: str) -> bytes:
    if path.is_dir():
        raise InputError(f"{path}: is a folder; expected a {what} file")
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    try:
        with open(path, "rb") as f:
            head = f.read(6)
    except OSError as err:
        raise InputError(f"{path}: cannot read ({_why(err)})") from None
    if not head:
        raise InputError(f"{path}: empty file (0 bytes); expected a {what} file")
    return head


def load_npy(path: str | Path, allow_empty: bool = False) -> np.ndarray:
    """One array from a .npy file: numeric, native byte order, not empty (unless ``allow_empty``).

    A missing, zero-byte, corrupt or pickled file, an .npz bundle, a structured/string/datetime array
    or an empty one is one :class:`InputError` line naming the file.
    """
    p = Path(path)
    head = _open_check(p, ".npy")
    if head.startswith(_ZIP_MAGIC):
        raise InputError(f"{p}: is an .npz (zip) bundle; expected one .npy array")
    if not head.startswith(_NPY_MAGIC):
        raise InputError(f"{p}: not a readable .npy array (no NumPy header)")
    try:
        a = np.load(p, allow_pickle=False)
    except _NP_READ_ERRORS as err:
        msg = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise InputError(f"{p}: not a readable .npy array ({msg})") from None
    a = _plain(a, str(p))
    if not allow_empty and a.size == 0:
        raise InputError(f"{p}: empty array (shape {tuple(a.shape)}); expected at least one value")
    return a


def load_npz(path: str | Path) -> dict[str, np.ndarray]:
    """Every array of an .npz bundle (numeric, native byte order); a bad bundle is one InputError line."""
    p = Path(path)
    head = _open_check(p, ".npz")
    if head.startswith(_NPY_MAGIC):
        raise InputError(f"{p}: is a single .npy array; expected an .npz bundle")
    if not head.startswith(_ZIP_MAGIC):
        raise InputError(f"{p}: not a readable .npz bundle (not a zip file)")
    try:
        with np.load(p, allow_pickle=False) as z:
            raw = {k: z[k] for k in z.files}
    except _NP_READ_ERRORS as err:
        msg = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise InputError(f"{p}: not a readable .npz bundle ({msg})") from None
    return {k: _plain(v, f"{p}: {k}") for k, v in raw.items()}


__all__ = ["OutputSet", "atomic_write", "check_folder", "check_writable", "load_npy", "load_npz", "make_folder",
           "outputs", "user_mode"]
