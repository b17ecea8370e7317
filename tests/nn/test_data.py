"""Datasets: the synthetic set is seeded, balanced as configured and lit physically; the file loaders read
what the tests write and reject broken input with one line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile
import torch
from PIL import Image

from logcam.config import validate
from logcam.errors import ConfigError, InputError
from logcam.nn.data import (
    PASCALRAW_COUNTS,
    SyntheticConfig,
    class_labels,
    folder_dataset,
    pascalraw_dataset,
    read_linear,
    render_objects,
    split_indices,
    synthetic_dataset,
)

SMALL = {"n": 48, "size": 32}


def test_synthetic_set_is_reproducible_and_seeded() -> None:
    a = synthetic_dataset(SyntheticConfig(**SMALL, seed=3))
    b = synthetic_dataset(SyntheticConfig(**SMALL, seed=3))
    c = synthetic_dataset(SyntheticConfig(**SMALL, seed=4))
    assert torch.equal(a.frames, b.frames) and torch.equal(a.labels, b.labels)
    assert not torch.equal(a.frames, c.frames)
    assert a.frames.shape == (48, 32, 32) and a.adc_bits == 10
    assert int(a.frames.min()) >= 0 and int(a.frames.max()) <= 1023


def test_each_scene_depends_only_on_seed_and_index() -> None:
    cfg = SyntheticConfig(**SMALL)
    whole, lab = render_objects(cfg, 0, 20)
    part, lab_part = render_objects(cfg, 7, 20)
    assert np.array_equal(whole[7:], part) and np.array_equal(lab[7:], lab_part)


def test_scenes_vary_within_class_and_span_orders_of_magnitude() -> None:
    cfg = SyntheticConfig(n=60, size=32)
    lux, lab = render_objects(cfg, 0, 60)
    discs = lux[lab == 0]
    assert len(discs) >= 10 and not np.allclose(discs[0], discs[1])
    ratio = lux.max(axis=(1, 2)) / lux.min(axis=(1, 2))  # within-frame dynamic range
    assert np.median(ratio) > 10
    means = lux.mean(axis=(1, 2))
    assert means.max() / means.min() > 5  # between frames


@pytest.mark.parametrize("ratio", [(1, 1, 1), PASCALRAW_COUNTS])
def test_class_counts_follow_the_ratio(ratio) -> None:
    n = 655
    counts = np.bincount(class_labels(n, ratio, seed=1), minlength=3)
    want = n * np.asarray(ratio, dtype=float) / sum(ratio)
    assert counts.sum() == n and np.all(np.abs(counts - want) < 1)


def test_brightness_scales_light_before_the_sensor() -> None:
    """DN above black level scale with the factor where unsaturated; a high factor clips at full well
    (not at ×DN); a low factor leaves shot and read noise dominating."""
    def frames(b: float) -> torch.Tensor:
        return synthetic_dataset(SyntheticConfig(**SMALL, brightness=b)).frames.to(torch.float64)

    black, full = 16.0, 16.0 + 1000.0  # tinyml_cmos: 16 DN black level, 10 000 e⁻ × 0.1 DN/e⁻
    f1, f4, f256, f64th = frames(1.0), frames(4.0), frames(256.0), frames(1 / 64)
    ok = f4 < full - 50
    assert ok.float().mean() > 0.5
    gain = (f4[ok] - black).sum() / (f1[ok] - black).sum()
    assert gain.item() == pytest.approx(4.0, rel=0.05)
    assert (f256 >= full - 3).float().mean() > 0.5 and f256.max() <= full + 5  # full well, not 1023
    dark = f64th - black
    assert dark.mean() < (f1 - black).mean() / 30
    # at 1/64 the frame-to-frame noise of one scene is comparable to its signal
    again = synthetic_dataset(SyntheticConfig(**SMALL, brightness=1 / 64, seed=0)).frames
    assert torch.equal(again.to(torch.float64), f64th)  # same seed → same noise
    other = synthetic_dataset(SyntheticConfig(**SMALL, brightness=1 / 64, seed=0, sensor="tinyml_cmos"))
    assert other.frames.shape == again.shape


def test_split_is_stratified_disjoint_and_seeded() -> None:
    labels = torch.from_numpy(class_labels(400, (1, 2, 5), seed=0))
    tr, va, te = split_indices(labels, seed=5)
    allidx = torch.cat([tr, va, te])
    assert allidx.numel() == 400 and allidx.unique().numel() == 400
    assert abs(len(tr) - 280) <= 3 and abs(len(va) - 60) <= 3
    for part in (tr, va, te):
        frac = torch.bincount(labels[part], minlength=3).double() / len(part)
        assert torch.allclose(frac, torch.tensor([1 / 8, 2 / 8, 5 / 8], dtype=torch.float64), atol=0.03)
    assert all(torch.equal(a, b) for a, b in zip((tr, va, te), split_indices(labels, seed=5)))
    assert not torch.equal(tr, split_indices(labels, seed=6)[0])


def test_bad_synthetic_config_is_one_line() -> None:
    for bad, word in (({"class_ratio": [1, 0, 1]}, "class_ratio"), ({"brightness": 0}, "brightness"),
                      ({"lux_min": 10, "lux_max": 1}, "lux_max"), ({"colour": 1}, "unknown key")):
        with pytest.raises(ConfigError) as err:
            validate(SyntheticConfig, bad, "dataset")
        assert word in str(err.value) and "\n" not in str(err.value)


# --- files ------------------------------------------------------------------------------------

def _write_folder(root: Path) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    imgs = {"a/x.tif": rng.integers(0, 65536, (16, 16), dtype=np.uint16),
            "a/y.png": rng.integers(0, 256, (16, 16), dtype=np.uint8),
            "b/z.tiff": rng.integers(0, 256, (16, 16, 3), dtype=np.uint8),
            "b/w.jpg": np.full((16, 16), 200, dtype=np.uint8)}
    for name, a in imgs.items():
        p = root / name
        p.parent.mkdir(parents=True, exist_ok=True)
        if p.suffix in (".tif", ".tiff"):
            tifffile.imwrite(p, a)
        else:
            Image.fromarray(a).save(p, quality=95)
    (root / "b" / "notes.txt").write_text("not an image")
    return imgs


def test_folder_loader_reads_tiff_png_jpeg_linearly(tmp_path: Path) -> None:
    imgs = _write_folder(tmp_path)
    ds = folder_dataset(tmp_path, size=16)
    assert ds.class_names == ("a", "b") and ds.adc_bits == 16 and len(ds) == 4
    assert ds.labels.tolist() == [0, 0, 1, 1]
    assert np.array_equal(ds.frames[0].numpy(), imgs["a/x.tif"])  # 16-bit TIFF: linear DN as is
    png = np.rint((imgs["a/y.png"] / 255.0) ** 2.2 * 65535)  # 8-bit gamma → linear 16 bit
    assert np.array_equal(ds.frames[1].numpy(), png)
    jpg = (200 / 255) ** 2.2 * 65535  # files sorted by name: w.jpg, then z.tiff
    assert np.abs(ds.frames[2].numpy() - jpg).max() < 0.02 * 65535
    assert np.abs(ds.frames[3].numpy() - imgs["b/z.tiff"].mean(-1) * 257).max() <= 1  # uint8 TIFF ×257, gray
    small = folder_dataset(tmp_path, size=8)
    assert small.frames.shape == (4, 8, 8)


def test_folder_loader_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such dataset folder"):
        folder_dataset(tmp_path / "missing")
    (tmp_path / "cls").mkdir()
    (tmp_path / "cls" / "readme.txt").write_text("x")
    with pytest.raises(InputError, match="no usable images"):
        folder_dataset(tmp_path)
    (tmp_path / "cls" / "broken.png").write_bytes(b"\x89PNG not really")
    with pytest.raises(InputError) as err:
        folder_dataset(tmp_path)
    assert "broken.png" in str(err.value) and "\n" not in str(err.value)


def test_raw_dng_path_reports_a_broken_file(tmp_path: Path) -> None:
    """rawpy cannot write DNG, so only the error path of RAW reading is tested here."""
    p = tmp_path / "shot.dng"
    p.write_bytes(b"II*\x00" + b"\x00" * 64)
    with pytest.raises(InputError) as err:
        read_linear(p)
    assert "shot.dng" in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(InputError, match="no such image"):
        read_linear(tmp_path / "gone.nef")


def _voc(name: str, objects: list[tuple[str, tuple[int, int, int, int]]]) -> str:
    objs = "".join(f"<object><name>{n}</name><bndbox><xmin>{b[0]}</xmin><ymin>{b[1]}</ymin><xmax>{b[2]}</xmax>"
                   f"<ymax>{b[3]}</ymax></bndbox></object>" for n, b in objects)
    return f"<annotation><filename>{name}</filename>{objs}</annotation>"


def test_pascalraw_crops_boxes_from_developed_images(tmp_path: Path) -> None:
    (tmp_path / "annotations").mkdir()
    (tmp_path / "original").mkdir()
    img = np.arange(40 * 60, dtype=np.uint16).reshape(40, 60) * 10
    tifffile.imwrite(tmp_path / "original" / "2014_000001.tiff", img)
    (tmp_path / "annotations" / "2014_000001.xml").write_text(
        _voc("2014_000001.nef", [("person", (11, 5, 26, 20)), ("car", (1, 1, 16, 16)), ("dog", (1, 1, 5, 5))]))
    ds = pascalraw_dataset(tmp_path, size=16)
    assert ds.class_names == ("bicycle", "car", "person") and ds.labels.tolist() == [2, 1]
    assert np.array_equal(ds.frames[0].numpy(), img[4:20, 10:26])  # VOC boxes are 1-based, inclusive
    assert np.array_equal(ds.frames[1].numpy(), img[0:16, 0:16])


def test_pascalraw_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no PASCAL VOC annotations"):
        pascalraw_dataset(tmp_path)
    ann = tmp_path / "annotations"
    ann.mkdir()
    (ann / "a.xml").write_text(_voc("a.nef", [("car", (1, 1, 8, 8))]))
    with pytest.raises(InputError, match="RAW file a"):
        pascalraw_dataset(tmp_path)
    (tmp_path / "a.nef").write_bytes(b"not a nef")
    with pytest.raises(InputError, match=r"a\.nef: cannot read"):
        pascalraw_dataset(tmp_path)
    (ann / "a.xml").write_text("<annotation><object>")
    with pytest.raises(InputError, match="malformed"):
        pascalraw_dataset(tmp_path)
