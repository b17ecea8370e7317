"""CIFAR-10 / CIFAR-100 from the standard python-pickle batches at a user's path (nothing is downloaded).

The "python version" archives unpack to ``cifar-10-batches-py/`` (``data_batch_1`` … ``data_batch_5``,
``test_batch``, ``batches.meta``) or ``cifar-100-python/`` (``train``, ``test``, ``meta``). Each batch is a
pickled dict (bytes keys, written by Python 2): ``data`` is an N×3072 uint8 array — 1024 red, then 1024
green, then 1024 blue values of a 32×32 image in row-major order — and ``labels`` (CIFAR-10) or
``fine_labels`` / ``coarse_labels`` (CIFAR-100) a list of N ints.

The pickles are read with an unpickler that only builds plain containers and numpy arrays, so a file
that is not a CIFAR batch cannot run code.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from logcam.errors import ConfigError, InputError

#: Files of each variant: (train batches, test batch, meta file, label key, names key in meta).
LAYOUTS: dict[str, tuple[tuple[str, ...], str, str]] = {
    "cifar10": (tuple(f"data_batch_{i}" for i in range(1, 6)), "test_batch", "batches.meta"),
    "cifar100": (("train",), "test", "meta"),
}
FOLDERS = {"cifar10": "cifar-10-batches-py", "cifar100": "cifar-100-python"}
IMAGE_SHAPE = (3, 32, 32)

_ALLOWED = {
    ("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"), ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"), ("_codecs", "encode"),
}


class _SafeUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> object:
        if (module, name) in _ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"{module}.{name} is not allowed in a CIFAR batch")


@dataclass(frozen=True)
class CifarData:
    """Images (uint8 N×3×32×32, sRGB), labels (int64 N) and the class names."""

    images: torch.Tensor
    labels: torch.Tensor
    class_names: tuple[str, ...]
    variant: str


def _text(v: object) -> str:
    return v.decode("utf-8") if isinstance(v, bytes) else str(v)


def _get(d: dict, key: str) -> object:
    """A key of a batch dict written by Python 2 (bytes keys) or 3 (str keys); None if absent."""
    return d.get(key.encode(), d.get(key))


def _read(path: Path) -> dict:
    if not path.is_file():
        raise InputError(f"cifar: {path} is missing")
    try:
        with path.open("rb") as f:
            obj = _SafeUnpickler(f, encoding="bytes").load()
    except Exception as err:  # any failure to unpickle is a bad file, said in one line
        raise InputError(f"cifar: {path} is not a CIFAR python batch ({type(err).__name__}: "
                         f"{str(err).splitlines()[0] if str(err) else 'unreadable'})") from None
    if not isinstance(obj, dict):
        raise InputError(f"cifar: {path} is not a CIFAR python batch (a {type(obj).__name__}, not a dict)")
    return obj


def detect(root: str | Path) -> tuple[str, Path]:
    """(variant, folder) for a CIFAR folder or its parent; one InputError line naming what is missing."""
    p = Path(root).expanduser()
    if not p.is_dir():
        raise InputError(f"cifar: {p}: no such folder")
    for folder in FOLDERS.values():
        if (p / folder).is_dir():
            p = p / folder
            break
    if (p / "batches.meta").exists() or any((p / f).exists() for f in LAYOUTS["cifar10"][0]):
        return "cifar10", p
    if (p / "meta").exists() or (p / "train").exists():
        return "cifar100", p
    raise InputError(f"cifar: {p} holds no CIFAR batches (CIFAR-10: data_batch_1 … data_batch_5, test_batch, "
                     f"batches.meta; CIFAR-100: train, test, meta)")


def load_cifar(root: str | Path, split: Literal["train", "test"] = "train", label: Literal["fine", "coarse"] = "fine",
               limit: int | None = None) -> CifarData:
    """Read CIFAR-10 or CIFAR-100 (detected from the files) from ``root``.

    Every file the variant needs is checked before any is read, so a folder with a missing batch is one
    InputError line naming the file; ``label`` picks CIFAR-100's fine (100) or coarse (20) classes;
    ``limit`` keeps the first N images of the split.
    """
    if split not in ("train", "test"):
        raise ConfigError(f"cifar.split: must be train or test (got {split!r})")
    if label not in ("fine", "coarse"):
        raise ConfigError(f"cifar.label: must be fine or coarse (got {label!r})")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise ConfigError(f"cifar.limit: must be an integer ≥ 1 or null (got {limit!r})")
    variant, folder = detect(root)
    train, test, meta = LAYOUTS[variant]
    need = (*train, test, meta)
    missing = [f for f in need if not (folder / f).is_file()]
    if missing:
        raise InputError(f"cifar: {folder / missing[0]} is missing ({variant} needs {', '.join(need)})")
    names_key = "label_names" if variant == "cifar10" else f"{label}_label_names"
    names = _get(_read(folder / meta), names_key)
    if not isinstance(names, list) or not names:
        raise InputError(f"cifar: {folder / meta} has no {names_key}")
    class_names = tuple(_text(n) for n in names)
    label_key = "labels" if variant == "cifar10" else f"{label}_labels"
    images, labels = [], []
    got = 0
    for f in (train if split == "train" else (test,)):
        d = _read(folder / f)
        data, lab = _get(d, "data"), _get(d, label_key)
        if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
            raise InputError(f"cifar: {folder / f}: data must be an N×3072 uint8 array "
                             f"(got {getattr(data, 'dtype', type(data).__name__)} {getattr(data, 'shape', '')})")
        lab = np.asarray(lab if lab is not None else [], dtype=np.int64)
        if lab.shape != (data.shape[0],):
            raise InputError(f"cifar: {folder / f}: {label_key} must hold one label per image "
                             f"({data.shape[0]} images, {lab.size} labels)")
        if lab.size and (lab.min() < 0 or lab.max() >= len(class_names)):
            raise InputError(f"cifar: {folder / f}: labels must be in 0 … {len(class_names) - 1}")
        images.append(data.reshape(-1, *IMAGE_SHAPE))
        labels.append(lab)
        got += data.shape[0]
        if limit is not None and got >= limit:
            break
    x = np.concatenate(images)[:limit]
    y = np.concatenate(labels)[:limit]
    return CifarData(torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(y), class_names, variant)


def write_batch(path: str | Path, images: np.ndarray, labels: np.ndarray, variant: str = "cifar10",
                coarse: np.ndarray | None = None) -> None:
    """Write images (uint8 N×3×32×32) and labels as one CIFAR python batch (Python 2 layout: bytes keys,
    protocol 2) — what the test suite uses to make a small CIFAR folder."""
    x = np.asarray(images, dtype=np.uint8).reshape(len(images), 3072)
    d: dict[bytes, object] = {b"batch_label": b"logcam test batch", b"data": x,
                              b"filenames": [f"img_{i}.png".encode() for i in range(len(x))]}
    if variant == "cifar10":
        d[b"labels"] = [int(v) for v in labels]
    else:
        d[b"fine_labels"] = [int(v) for v in labels]
        d[b"coarse_labels"] = [int(v) for v in (labels if coarse is None else coarse)]
    Path(path).write_bytes(pickle.dumps(d, protocol=2))


def write_meta(path: str | Path, names: list[str], variant: str = "cifar10",
               coarse_names: list[str] | None = None) -> None:
    """Write a ``batches.meta`` (CIFAR-10) or ``meta`` (CIFAR-100) file with the class names."""
    enc = [n.encode() for n in names]
    if variant == "cifar10":
        d: dict[bytes, object] = {b"label_names": enc, b"num_cases_per_batch": 10000, b"num_vis": 3072}
    else:
        d = {b"fine_label_names": enc, b"coarse_label_names": [n.encode() for n in (coarse_names or names)]}
    Path(path).write_bytes(pickle.dumps(d, protocol=2))
