"""RAW classification datasets: a synthetic set rendered through the sensor model, PASCAL RAW 2014, and a
generic folder loader (RAW/DNG via rawpy, TIFF via tifffile, PNG/JPEG linearised).

Every dataset is a :class:`RawDataset`: DN frames (uint16, N×H×W, ≤ 2^adc_bits − 1) and labels. An input
format (:mod:`logcam.nn.formats`) turns the frames into network inputs, per item (``transform=``, for a
DataLoader) or for the whole set at once (:meth:`RawDataset.formatted`, fast).

Synthetic objects (:func:`render_objects`): three shape classes — ``disc`` (ellipse, axis ratio 1–1.5),
``bar`` (rectangle, aspect 2.5–4) and ``cross`` (plus sign, arm width 0.2–0.35) — with random pose
(position, rotation), scale, surface texture (gratings), background texture (smooth log-normal noise) and
clutter (small discs and squares), lit by an illuminance log-uniform over ``lux_min…lux_max`` at the sensor
plane, a log-linear gradient of up to ``gradient_decades`` across the frame and, with probability
``shadow_prob``, a soft-edged shadow 3–30× darker. The brightness factor multiplies the illuminance
*before* :meth:`logcam.sim.sensor.Sensor.capture`, so shot noise, read noise and saturation act physically.
Each image depends only on (seed, index); sensor noise on (seed, chunk of :data:`CHUNK` images).
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from pydantic import Field, model_validator
from torch.utils.data import Dataset, TensorDataset

from logcam.config import StrictModel
from logcam.errors import ConfigError, InputError

CLASS_NAMES: tuple[str, ...] = ("disc", "bar", "cross")
#: Every synthetic shape class; ``SyntheticConfig.classes`` takes the first k (3: :data:`CLASS_NAMES`).
ALL_CLASS_NAMES: tuple[str, ...] = (*CLASS_NAMES, "ring", "triangle", "ell", "square", "tee")
#: PASCAL RAW 2014 classification classes and object counts (bicycle : car : person = 708 : 1765 : 4077).
PASCALRAW_CLASSES: tuple[str, ...] = ("bicycle", "car", "person")
PASCALRAW_COUNTS: tuple[int, ...] = (708, 1765, 4077)
CHUNK = 128

RAW_EXTS = (".dng", ".nef", ".cr2", ".cr3", ".arw", ".orf", ".rw2", ".raf", ".pef", ".srw", ".raw")
TIFF_EXTS = (".tif", ".tiff")
PIL_EXTS = (".png", ".jpg", ".jpeg")


# ---------------------------------------------------------------------------------------------
# Dataset container
# ---------------------------------------------------------------------------------------------

class RawDataset(Dataset):
    """DN frames + labels; ``transform`` (an input format) maps a frame to the network input."""

    def __init__(self, frames: torch.Tensor, labels: torch.Tensor, adc_bits: int, class_names: Sequence[str],
                 transform: Callable[[torch.Tensor], torch.Tensor] | None = None) -> None:
        if frames.dim() != 3 or frames.shape[0] != labels.shape[0]:
            raise InputError(f"dataset: frames must be N×H×W with N labels, got {tuple(frames.shape)} "
                             f"and {tuple(labels.shape)}")
        self.frames = frames
        self.labels = labels.to(torch.int64)
        self.adc_bits = adc_bits
        self.class_names = tuple(class_names)
        self.transform = transform

    def __len__(self) -> int:
        return int(self.frames.shape[0])

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.frames[i]
        return (self.transform(x) if self.transform else x), self.labels[i]

    def subset(self, idx: torch.Tensor) -> RawDataset:
        return RawDataset(self.frames[idx], self.labels[idx], self.adc_bits, self.class_names, self.transform)

    def formatted(self, fmt: Callable[[torch.Tensor], torch.Tensor], batch: int = 512) -> TensorDataset:
        """The whole set through ``fmt`` at once (batched): a TensorDataset of (input, label)."""
        xs = [fmt(self.frames[i:i + batch]) for i in range(0, len(self), batch)]
        return TensorDataset(torch.cat(xs) if xs else torch.empty(0), self.labels)

    def counts(self) -> list[int]:
        return torch.bincount(self.labels, minlength=len(self.class_names)).tolist()


def split_indices(labels: torch.Tensor, seed: int, fractions: tuple[float, float, float] = (0.7, 0.15, 0.15)
                  ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Seeded stratified train/val/test split (per class, then shuffled)."""
    if any(f < 0 for f in fractions) or not math.isclose(sum(fractions), 1.0, abs_tol=1e-6):
        raise ConfigError(f"split: fractions must be ≥ 0 and sum to 1, got {list(fractions)}")
    g = torch.Generator().manual_seed(seed)
    parts: list[list[torch.Tensor]] = [[], [], []]
    for c in torch.unique(labels).tolist():
        idx = torch.nonzero(labels == c).flatten()
        idx = idx[torch.randperm(idx.numel(), generator=g)]
        n_tr = round(fractions[0] * idx.numel())
        n_va = round(fractions[1] * idx.numel())
        parts[0].append(idx[:n_tr])
        parts[1].append(idx[n_tr:n_tr + n_va])
        parts[2].append(idx[n_tr + n_va:])
    out = []
    for p in parts:
        cat = torch.cat(p) if p else torch.empty(0, dtype=torch.int64)
        out.append(cat[torch.randperm(cat.numel(), generator=g)])
    return out[0], out[1], out[2]


# ---------------------------------------------------------------------------------------------
# Synthetic objects
# ---------------------------------------------------------------------------------------------

#: Largest seed a config may give (torch's generators take at most 64 bits).
MAX_SEED = (1 << 63) - 1


class SyntheticConfig(StrictModel):
    """The synthetic RAW classification set (sizes in pixels, illuminance in lux at the sensor plane)."""

    kind: Literal["synthetic"] = "synthetic"
    n: int = Field(1500, ge=3, le=200_000, description="images")
    size: int = Field(48, ge=16, le=1024, description="height = width, pixels")
    classes: int = Field(3, ge=2, le=len(ALL_CLASS_NAMES),
                         description=f"shape classes: the first k of {', '.join(ALL_CLASS_NAMES)}")
    class_ratio: tuple[float, ...] | None = Field(None, description="relative class frequencies, one per class "
                                                                    "(default: balanced)")
    lux_min: float = Field(20.0, gt=0, le=1e6, description="lowest mean illuminance at the sensor plane, lux")
    lux_max: float = Field(300.0, gt=0, le=1e6, description="highest mean illuminance at the sensor plane, lux")
    gradient_decades: float = Field(1.0, ge=0, le=4, description="largest illuminance gradient across the frame")
    shadow_prob: float = Field(0.5, ge=0, le=1)
    clutter: int = Field(3, ge=0, le=12, description="largest number of distractor shapes")
    brightness: float = Field(1.0, gt=0, le=1e6, description="factor on the illuminance before the sensor")
    sensor: str = Field("tinyml_cmos", description="sensor preset (logcam.sim.sensor.load_sensor)")
    seed: int = Field(0, ge=0, le=MAX_SEED)

    @model_validator(mode="after")
    def _check(self) -> SyntheticConfig:
        v = self.class_ratio
        if v is not None and (len(v) != self.classes or any(not 0 < r <= 1e6 for r in v)):
            raise ValueError(f"class_ratio needs {self.classes} numbers in (0, 1e6] (one per class)")
        if self.lux_max < self.lux_min:
            raise ValueError("lux_max must be ≥ lux_min")
        return self

    @property
    def ratio(self) -> tuple[float, ...]:
        return self.class_ratio if self.class_ratio is not None else (1.0,) * self.classes

    @property
    def class_names(self) -> tuple[str, ...]:
        return ALL_CLASS_NAMES[:self.classes]


def pascalraw_ratio(classes: int = 3) -> tuple[float, ...]:
    """Class frequencies with PASCAL RAW's imbalance: exactly bicycle : car : person = 708 : 1765 : 4077 for
    3 classes; for k classes a geometric progression with the same largest-to-smallest ratio (4077 / 708)."""
    if classes == len(PASCALRAW_COUNTS):
        return tuple(float(c) for c in PASCALRAW_COUNTS)
    top = PASCALRAW_COUNTS[-1] / PASCALRAW_COUNTS[0]
    return tuple(float(top ** (i / (classes - 1))) for i in range(classes))


def class_labels(n: int, ratio: Sequence[float], seed: int) -> np.ndarray:
    """Exactly proportional class counts (largest remainder), seeded order."""
    r = np.asarray(ratio, dtype=np.float64)
    exact = n * r / r.sum()
    counts = np.floor(exact).astype(np.int64)
    counts[np.argsort(-(exact - counts), kind="stable")[: n - counts.sum()]] += 1
    labels = np.repeat(np.arange(len(r)), counts)
    return np.random.default_rng([seed, 7]).permutation(labels)


def _params(seed: int, index: int, label: int, cfg: SyntheticConfig) -> dict[str, np.ndarray | float]:
    """Random scene parameters of one image (depends only on seed and index)."""
    rng = np.random.default_rng([seed, index, 1])
    lo, hi = math.log(0.05), math.log(0.9)
    rho_b = math.exp(rng.uniform(lo, hi))
    ratio = math.exp(rng.uniform(math.log(2.0), math.log(8.0)))
    sign = 1 if rng.random() < 0.5 else -1
    if rho_b * ratio > 0.95:
        sign = -1
    elif rho_b / ratio < 0.03:
        sign = 1
    rho_o = float(np.clip(rho_b * ratio**sign, 0.02, 0.95))
    k = int(rng.integers(0, cfg.clutter + 1))
    clutter = np.zeros((cfg.clutter, 6))  # cy, cx, r, square?, reflectance, present
    clutter[:k] = np.column_stack([rng.uniform(-0.9, 0.9, k), rng.uniform(-0.9, 0.9, k), rng.uniform(0.05, 0.12, k),
                                   rng.random(k) < 0.5, np.exp(rng.uniform(lo, hi, k)), np.ones(k)])
    return {
        "cy": rng.uniform(-0.2, 0.2), "cx": rng.uniform(-0.2, 0.2), "theta": rng.uniform(0, math.pi),
        "scale": rng.uniform(0.45, 0.75), "aspect": rng.uniform(1.0, 1.5), "bar": rng.uniform(2.5, 4.0),
        "arm": rng.uniform(0.2, 0.35), "rho_o": rho_o, "rho_b": rho_b,
        "tex_amp": rng.uniform(0.0, 0.3), "tex_f": rng.uniform(1.0, 4.0), "tex_phi": rng.uniform(0, math.pi),
        "tex_ph": rng.uniform(0, 2 * math.pi), "bg_noise": rng.standard_normal((6, 6)), "bg_amp": rng.uniform(0.1, 0.4),
        "clutter": clutter,
        "lux": math.exp(rng.uniform(math.log(cfg.lux_min), math.log(cfg.lux_max))),
        "grad": rng.uniform(0, cfg.gradient_decades), "grad_dir": rng.uniform(0, 2 * math.pi),
        "shadow": float(rng.random() < cfg.shadow_prob), "shadow_f": math.exp(rng.uniform(math.log(3), math.log(30))),
        "shadow_dir": rng.uniform(0, 2 * math.pi), "shadow_off": rng.uniform(-0.6, 0.6),
        "shadow_soft": rng.uniform(0.01, 0.08), "label": float(label),
    }


def render_objects(cfg: SyntheticConfig, start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
    """Illuminance maps (lux at the sensor plane, float64 N×size×size, brightness not applied) and labels of
    images ``start``…``stop−1``."""
    labels_all = class_labels(cfg.n, cfg.ratio, cfg.seed)
    labels = labels_all[start:stop]
    ps = [_params(cfg.seed, i, int(labels[j]), cfg) for j, i in enumerate(range(start, stop))]

    def col(key: str) -> np.ndarray:
        return np.asarray([p[key] for p in ps], dtype=np.float64).reshape(-1, 1, 1)

    s = cfg.size
    t = (np.arange(s, dtype=np.float64) + 0.5) / s * 2 - 1
    y, x = t.reshape(1, s, 1), t.reshape(1, 1, s)
    # object frame: rotate and scale about its centre
    th = col("theta")
    dx, dy = x - col("cx"), y - col("cy")
    u = (dx * np.cos(th) + dy * np.sin(th)) / col("scale")
    v = (-dx * np.sin(th) + dy * np.cos(th)) / col("scale")
    lab = col("label")
    disc = u**2 + (v * col("aspect")) ** 2 <= 1.0
    bar = (np.abs(u) <= 1.0) & (np.abs(v) * col("bar") <= 1.0)
    arm = col("arm")
    cross = ((np.abs(u) <= 1.0) & (np.abs(v) <= arm)) | ((np.abs(v) <= 1.0) & (np.abs(u) <= arm))
    obj = np.where(lab == 0, disc, np.where(lab == 1, bar, cross))
    if cfg.classes > 3:  # the extra shapes reuse the pose/size draws, so classes 0-2 render as before
        asp = col("aspect")
        shapes = {
            3: (u**2 + (v * asp) ** 2 <= 1.0) & (u**2 + (v * asp) ** 2 >= 0.55**2),  # ring
            4: (v >= -0.5) & (np.sqrt(3) * u + v <= 1.0) & (-np.sqrt(3) * u + v <= 1.0),  # triangle
            5: (((np.abs(u + 0.5) <= arm) & (np.abs(v) <= 1.0))
                | ((np.abs(v - 1.0 + arm) <= arm) & (u >= -0.5 - arm) & (u <= 0.9))),  # ell
            6: (np.abs(u) <= 0.75) & (np.abs(v) <= 0.75),  # square
            7: (((np.abs(u) <= arm) & (v >= -1.0) & (v <= 0.8))
                | ((np.abs(v - 0.8) <= arm) & (np.abs(u) <= 0.9))),  # tee
        }
        for k, m in shapes.items():
            obj = np.where(lab == k, m, obj)
    # background: smooth log-normal texture (bilinear upsampling of a 6×6 grid) and clutter
    grid = torch.from_numpy(np.stack([p["bg_noise"] for p in ps])).unsqueeze(1)
    bg = torch.nn.functional.interpolate(grid, size=(s, s), mode="bicubic", align_corners=False)[:, 0].numpy()
    refl = col("rho_b") * np.exp(col("bg_amp") * bg)
    for k in range(cfg.clutter):
        c = np.stack([p["clutter"][k] for p in ps]).reshape(-1, 6, 1, 1)
        cy, cx, r, sq, rho, present = (c[:, i] for i in range(6))
        m = np.where(sq > 0, np.maximum(np.abs(y - cy), np.abs(x - cx)) <= r, (y - cy) ** 2 + (x - cx) ** 2 <= r**2)
        refl = np.where(m & (present > 0), rho, refl)
    # object surface: a grating texture on its reflectance
    phi = col("tex_phi")
    grating = np.sin(2 * np.pi * col("tex_f") * (u * np.cos(phi) + v * np.sin(phi)) + col("tex_ph"))
    refl = np.where(obj, col("rho_o") * np.exp(col("tex_amp") * grating), refl)
    refl = np.clip(refl, 0.02, 0.95)
    # illumination: level, log-linear gradient, soft shadow
    gd = col("grad_dir")
    illum = col("lux") * 10.0 ** (col("grad") * 0.5 * (x * np.cos(gd) + y * np.sin(gd)) / math.sqrt(2))
    sd = col("shadow_dir")
    edge = (x * np.cos(sd) + y * np.sin(sd) - col("shadow_off")) / col("shadow_soft")
    shade = 1.0 / (1.0 + np.exp(-np.clip(edge, -60, 60)))
    illum = illum * (1.0 - col("shadow") * shade * (1.0 - 1.0 / col("shadow_f")))
    return refl * illum, labels.astype(np.int64)


def synthetic_dataset(cfg: SyntheticConfig, progress: Callable[[int], None] | None = None) -> RawDataset:
    """Render the synthetic set through the sensor: uint16 DN frames (seeded, reproducible)."""
    from logcam.sim.sensor import Sensor, load_sensor, with_overrides

    spec = with_overrides(load_sensor(cfg.sensor), width=cfg.size, height=cfg.size, binning=1)
    sensor = Sensor(spec, seed=cfg.seed)
    frames, labels = [], []
    for start in range(0, cfg.n, CHUNK):
        stop = min(cfg.n, start + CHUNK)
        lux, lab = render_objects(cfg, start, stop)
        rng = np.random.default_rng([cfg.seed, start, 2])
        dn = sensor.capture(lux * cfg.brightness, rng=rng)
        frames.append(torch.from_numpy(np.asarray(dn, dtype=np.int32)))
        labels.append(torch.from_numpy(lab))
        if progress:
            progress(stop - start)
    return RawDataset(torch.cat(frames).to(torch.int32), torch.cat(labels), spec.adc_bits, cfg.class_names)


# ---------------------------------------------------------------------------------------------
# Files: RAW (rawpy), TIFF (tifffile), PNG/JPEG (Pillow, linearised)
# ---------------------------------------------------------------------------------------------

def _gray16(img: np.ndarray) -> np.ndarray:
    """Colour → mean of channels; float64 in DN16 units."""
    a = np.asarray(img, dtype=np.float64)
    if a.ndim == 3:
        a = a[..., :3].mean(axis=-1)
    if a.ndim != 2:
        raise ValueError(f"expected a 2-D or H×W×C image, got shape {img.shape}")
    return a


def read_linear(path: Path) -> np.ndarray:
    """One image file → linear grayscale float64 in 0..65535 (16-bit DN), or InputError naming the file
    (also for an image with no pixels or with NaN/inf samples). Formats: see :func:`_read_linear`."""
    img = _read_linear(path)
    if img.size == 0:
        raise InputError(f"{path}: image has no pixels (shape {img.shape})")
    if not np.isfinite(img).all():
        raise InputError(f"{path}: image has NaN or infinite samples")
    return img


def _read_linear(path: Path) -> np.ndarray:
    """One image file → linear grayscale float64 in 0..65535 (16-bit DN), or InputError naming the file.

    RAW/DNG: rawpy demosaic with linear gamma, camera white balance, no auto-brightening, 16 bit, then the
    mean of R, G, B. TIFF: integer samples scaled to 16 bit as linear values, float samples 0..1.
    PNG/JPEG: 8-bit gamma-2.2 values linearised ((v/255)^2.2).
    """
    ext = path.suffix.lower()
    if not path.is_file():
        raise InputError(f"{path}: no such image file")
    try:
        if ext in RAW_EXTS:
            import rawpy

            with rawpy.imread(str(path)) as raw:
                rgb = raw.postprocess(gamma=(1, 1), no_auto_bright=True, output_bps=16, use_camera_wb=True)
            return _gray16(rgb)
        if ext in TIFF_EXTS:
            import tifffile

            a = np.asarray(tifffile.imread(str(path)))
            if a.dtype.kind == "f":
                if not np.isfinite(a).all():
                    raise InputError(f"{path}: image has NaN or infinite samples")
                return _gray16(np.clip(a, 0, 1) * 65535.0)
            if a.dtype.kind not in "iu":
                raise ValueError(f"unsupported TIFF sample type {a.dtype}")
            bits = a.dtype.itemsize * 8
            return _gray16(a.astype(np.float64) * (65535.0 / ((1 << min(bits, 16)) - 1)) if bits <= 16
                           else a.astype(np.float64) / ((1 << bits) - 1) * 65535.0)
        if ext in PIL_EXTS:
            from PIL import Image

            with Image.open(path) as im:
                im.load()
                a = np.asarray(im.convert("L") if im.mode not in ("L", "I;16", "I") else im)
            if a.dtype == np.uint8:
                return (a.astype(np.float64) / 255.0) ** 2.2 * 65535.0
            return _gray16(a.astype(np.float64))  # 16-bit PNG: taken as linear
    except InputError:
        raise
    except Exception as err:  # rawpy/tifffile/Pillow raise many types for a broken file
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise InputError(f"{path}: cannot read image ({type(err).__name__}: {first})") from None
    raise InputError(f"{path}: unsupported extension {ext!r} (use {', '.join(RAW_EXTS + TIFF_EXTS + PIL_EXTS)})")


def to_frame(img: np.ndarray, size: int) -> np.ndarray:
    """Linear 0..65535 float image → size×size uint16 DN (area-averaging resize)."""
    from skimage.transform import resize

    if img.shape != (size, size):
        img = resize(img, (size, size), order=1, anti_aliasing=True, preserve_range=True, mode="reflect")
    return np.clip(np.rint(img), 0, 65535).astype(np.uint16)


def folder_dataset(root: str | Path, size: int = 48) -> RawDataset:
    """Images in ``root/<class>/`` (RAW/DNG, TIFF, PNG, JPEG) → 16-bit DN dataset, classes sorted by name."""
    r = Path(root)
    if not r.is_dir():
        raise InputError(f"{r}: no such dataset folder")
    exts = RAW_EXTS + TIFF_EXTS + PIL_EXTS
    classes = sorted(d.name for d in r.iterdir() if d.is_dir() and not d.name.startswith("."))
    files = [(f, c) for c, name in enumerate(classes) for f in sorted((r / name).iterdir())
             if f.is_file() and f.suffix.lower() in exts]
    if not files:
        raise InputError(f"{r}: no usable images (expected {r}/<class>/*{{{','.join(exts)}}})")
    frames = np.stack([to_frame(read_linear(f), size) for f, _ in files])
    labels = np.array([c for _, c in files], dtype=np.int64)
    return RawDataset(torch.from_numpy(frames.astype(np.int32)), torch.from_numpy(labels), 16, classes)


@dataclass(frozen=True)
class VocObject:
    name: str
    box: tuple[int, int, int, int]  # xmin, ymin, xmax, ymax (pixels, inclusive, 1-based as in VOC)


def read_voc(path: Path) -> tuple[str, list[VocObject]]:
    """A PASCAL VOC annotation → (image file name, objects); InputError naming the file if malformed."""
    try:
        root = ET.parse(path).getroot()
        fname = (root.findtext("filename") or "").strip()
        objs = []
        for o in root.iter("object"):
            bb = o.find("bndbox")
            if bb is None:
                raise ValueError("object without bndbox")
            box = tuple(int(float(bb.findtext(k) or "nan")) for k in ("xmin", "ymin", "xmax", "ymax"))
            objs.append(VocObject((o.findtext("name") or "").strip().lower(), box))  # type: ignore[arg-type]
    except (ET.ParseError, ValueError) as err:
        raise InputError(f"{path}: malformed PASCAL VOC annotation ({err})") from None
    return fname, objs


def pascalraw_dataset(root: str | Path, size: int = 48, classes: Sequence[str] = PASCALRAW_CLASSES,
                      limit: int | None = None) -> RawDataset:
    """PASCAL RAW 2014: VOC annotations (``annotations/*.xml``) + RAW files (``original/*.nef``, or anywhere
    under ``root`` by stem), each object's bounding box cropped from the 16-bit grayscale demosaic and resized
    to size×size (the classification set of the log-gradient paper)."""
    r = Path(root)
    ann_dir = r / "annotations" if (r / "annotations").is_dir() else r
    xmls = sorted(ann_dir.glob("*.xml"))
    if not xmls:
        raise InputError(f"{r}: no PASCAL VOC annotations (*.xml under {ann_dir})")
    exts = RAW_EXTS + TIFF_EXTS + PIL_EXTS  # RAW as published; developed copies (TIFF, PNG) also accepted
    raws = {p.stem: p for p in sorted(r.rglob("*"), key=lambda q: (q.suffix.lower() in RAW_EXTS, str(q)))
            if p.suffix.lower() in exts}  # a RAW file wins over a developed copy of the same stem
    frames, labels = [], []
    for xml in xmls:
        fname, objs = read_voc(xml)
        objs = [o for o in objs if o.name in classes]
        if not objs:
            continue
        stem = Path(fname).stem if fname else xml.stem
        if stem not in raws:
            raise InputError(f"{xml}: its RAW file {stem}.* is missing under {r}")
        img = read_linear(raws[stem])
        for o in objs:
            x0, y0, x1, y1 = o.box
            crop = img[max(0, y0 - 1):y1, max(0, x0 - 1):x1]
            if crop.shape[0] < 2 or crop.shape[1] < 2:
                raise InputError(f"{xml}: bounding box {o.box} of {o.name!r} is empty inside the {img.shape} image")
            frames.append(to_frame(crop, size))
            labels.append(list(classes).index(o.name))
            if limit and len(frames) >= limit:
                break
        if limit and len(frames) >= limit:
            break
    if not frames:
        raise InputError(f"{r}: no objects of classes {list(classes)} in the annotations")
    return RawDataset(torch.from_numpy(np.stack(frames).astype(np.int32)), torch.tensor(labels), 16, classes)


__all__ = ["ALL_CLASS_NAMES", "CLASS_NAMES", "MAX_SEED", "PASCALRAW_CLASSES", "PASCALRAW_COUNTS", "RawDataset",
           "SyntheticConfig", "class_labels", "folder_dataset", "pascalraw_dataset", "pascalraw_ratio", "read_linear",
           "read_voc", "render_objects", "split_indices", "synthetic_dataset"]
