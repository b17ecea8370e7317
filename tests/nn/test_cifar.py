"""CIFAR python-pickle batches: a tiny folder in the exact format, written here; nothing downloaded."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest

from logcam.errors import InputError
from logcam.nn.cifar import load_cifar, write_batch, write_meta

NAMES10 = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def _raw_batch(path: Path, rows: np.ndarray, labels: list[int], key: bytes = b"labels") -> None:
    """A batch as CIFAR's own files hold it: a dict with bytes keys, data N×3072 uint8 (R, G, B planes)."""
    d = {b"batch_label": b"training batch", key: labels, b"data": rows,
         b"filenames": [b"x.png"] * len(labels)}
    path.write_bytes(pickle.dumps(d, protocol=2))


def _cifar10(root: Path, per_batch: int = 3) -> np.ndarray:
    folder = root / "cifar-10-batches-py"
    folder.mkdir()
    rng = np.random.default_rng(0)
    rows = rng.integers(0, 256, (6 * per_batch, 3072), dtype=np.uint8)
    labels = (np.arange(6 * per_batch) % 10).tolist()
    for i in range(5):
        sl = slice(i * per_batch, (i + 1) * per_batch)
        _raw_batch(folder / f"data_batch_{i + 1}", rows[sl], labels[sl])
    _raw_batch(folder / "test_batch", rows[5 * per_batch:], labels[5 * per_batch:])
    (folder / "batches.meta").write_bytes(pickle.dumps({b"label_names": [n.encode() for n in NAMES10]}, protocol=2))
    return rows


def test_cifar10_reads_planes_labels_and_names(tmp_path: Path) -> None:
    rows = _cifar10(tmp_path)
    tr = load_cifar(tmp_path)                                   # the parent of cifar-10-batches-py works
    assert tr.variant == "cifar10" and tr.class_names == tuple(NAMES10)
    assert tr.images.shape == (15, 3, 32, 32) and str(tr.images.dtype) == "torch.uint8"
    x = tr.images.numpy()
    # 1024 red values first, row-major; then green; then blue
    assert np.array_equal(x[4, 0], rows[4, :1024].reshape(32, 32))
    assert np.array_equal(x[4, 2, 31], rows[4, 2048 + 31 * 32: 2048 + 32 * 32])
    assert tr.labels.tolist() == (np.arange(15) % 10).tolist()
    te = load_cifar(tmp_path / "cifar-10-batches-py", split="test")
    assert te.images.shape == (3, 3, 32, 32)
    assert np.array_equal(te.images.numpy()[0, 1], rows[15, 1024:2048].reshape(32, 32))
    assert load_cifar(tmp_path, limit=4).images.shape[0] == 4


def test_missing_batch_is_one_line(tmp_path: Path) -> None:
    _cifar10(tmp_path)
    os.remove(tmp_path / "cifar-10-batches-py" / "data_batch_3")
    with pytest.raises(InputError) as e:
        load_cifar(tmp_path, split="test")                      # checked even when only test is read
    msg = str(e.value)
    assert "\n" not in msg and "data_batch_3 is missing" in msg


def test_cifar100_fine_and_coarse(tmp_path: Path) -> None:
    folder = tmp_path / "cifar-100-python"
    folder.mkdir()
    imgs = np.random.default_rng(1).integers(0, 256, (4, 3, 32, 32), dtype=np.uint8)
    fine = [f"c{i}" for i in range(100)]
    coarse = [f"s{i}" for i in range(20)]
    write_batch(folder / "train", imgs, np.array([3, 99, 0, 7]), "cifar100", coarse=np.array([1, 19, 0, 2]))
    write_batch(folder / "test", imgs[:2], np.array([5, 6]), "cifar100", coarse=np.array([4, 5]))
    write_meta(folder / "meta", fine, "cifar100", coarse)
    d = load_cifar(tmp_path)
    assert d.variant == "cifar100" and len(d.class_names) == 100
    assert np.array_equal(d.images.numpy(), imgs) and d.labels.tolist() == [3, 99, 0, 7]
    c = load_cifar(tmp_path, label="coarse")
    assert c.labels.tolist() == [1, 19, 0, 2] and c.class_names[19] == "s19"


def test_hostile_or_broken_files_are_one_line(tmp_path: Path) -> None:
    _cifar10(tmp_path)
    folder = tmp_path / "cifar-10-batches-py"
    marker = tmp_path / "ran"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    (folder / "data_batch_1").write_bytes(pickle.dumps({b"data": Evil()}, protocol=2))
    with pytest.raises(InputError) as e:
        load_cifar(tmp_path)
    assert "\n" not in str(e.value) and "not a CIFAR python batch" in str(e.value) and not marker.exists()
    (folder / "data_batch_1").write_bytes(b"not a pickle")
    with pytest.raises(InputError, match="data_batch_1 is not a CIFAR python batch"):
        load_cifar(tmp_path)
    with pytest.raises(InputError, match="no CIFAR batches"):
        load_cifar(tmp_path / "cifar-10-batches-py" / ".." / "..")
