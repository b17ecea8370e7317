"""DN test frames for the RDC: uniform random, corner cases, and scenes through the sensor model.

Every source is a function ``(spec, n, seed) → n×H×W uint16`` (DN ≤ 2^adc_bits − 1), registered
in :data:`SOURCES`; :func:`frames_for` mixes them. Vectorised numpy, seeded.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np

from logcam.rdcspec import RdcSpec
from logcam.sim.frames import scene_dn_frames

FrameSource = Callable[[RdcSpec, int, int], np.ndarray]


def random_frames(spec: RdcSpec, n: int, seed: int) -> np.ndarray:
    """Uniform random DN in 0..max_dn."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, spec.max_dn + 1, size=(n, spec.height, spec.width), dtype=np.int64).astype(np.uint16)


def _threshold_stripes(spec: RdcSpec, rng: np.random.Generator) -> list[tuple[int, np.ndarray]]:
    """(δ, frame): stripes whose neighbour ratios sit exactly on a threshold n/d (and its inverse, δ = 0), and
    ±1 DN off it.

    Columns alternate a = d·c and a = n·c + δ (a = P + 1), constant down each column: the
    horizontal ratio is n/d (or d/n) exactly for δ = 0, and so is the ``sum`` ratio
    a² / (left · up); the transposed frame does the same vertically.
    """
    h, w, top = spec.height, spec.width, spec.max_dn + 1
    out = []
    for nk, dk in spec.ratio_terms:
        cmax = (top - 1) // nk
        if cmax < 1:
            continue
        for delta in (-1, 0, 1):
            c = int(rng.integers(1, cmax + 1))
            lo, hi = dk * c, nk * c + delta
            if not (1 <= lo <= top and 1 <= hi <= top):
                continue
            cols = np.where(np.arange(w) % 2 == 0, lo, hi)
            rows = np.where(np.arange(h) % 2 == 0, lo, hi)
            out.append((delta, np.broadcast_to(cols[None, :], (h, w)) - 1))
            out.append((delta, np.broadcast_to(rows[:, None], (h, w)) - 1))
    return out


def corner_frames(spec: RdcSpec, n: int, seed: int, edges_first: bool = False) -> np.ndarray:
    """Corner cases, cycled to ``n`` frames: zero, full scale, saturated areas, equal neighbours,
    ratios exactly on each threshold (and 1 DN either side), 1-pixel-wide features, checkerboards.
    ``edges_first``: the stripes exactly on a threshold come first (what a run of few frames needs most:
    every comparator at its edge, both signs), then the rest in the same order."""
    rng = np.random.default_rng(seed)
    h, w, top = spec.height, spec.width, spec.max_dn
    yy, xx = np.mgrid[0:h, 0:w]
    cases: list[np.ndarray] = [
        np.zeros((h, w), dtype=np.int64),                                   # all zero
        np.full((h, w), top, dtype=np.int64),                              # full scale
        np.where((xx // max(1, w // 4) + yy // max(1, h // 4)) % 2 == 0, top,  # saturated blocks
                 rng.integers(0, top + 1, (h, w))),
        np.broadcast_to(rng.integers(0, top + 1, (h, 1)), (h, w)),          # equal left neighbours
        np.broadcast_to(rng.integers(0, top + 1, (1, w)), (h, w)),          # equal upper neighbours
        np.where(xx == w // 2, top, 0),                                      # 1-pixel-wide column
        np.where(yy == h // 2, top, 0),                                      # 1-pixel-wide row
        np.where((xx == w // 3) & (yy == h // 3), top, top // 3),           # single pixel
        np.where((xx + yy) % 2 == 0, top, 0),                               # checkerboard
        np.where((xx + yy) % 2 == 0, top // 2, top // 2 + 1),               # fine checkerboard, ±1 DN
        np.where(xx % spec.lanes == 0, top, 1),                              # lane-boundary stripes
    ]
    stripes = _threshold_stripes(spec, rng)
    exact = [len(cases) + i for i, (delta, _) in enumerate(stripes) if delta == 0] if edges_first else []
    cases += [f for _, f in stripes]
    stack = np.stack([np.asarray(c, dtype=np.int64) for c in cases])
    order = np.asarray(exact + [i for i in range(len(stack)) if i not in exact])
    return np.clip(stack[order[np.arange(n) % len(stack)]], 0, top).astype(np.uint16)


def scene_frames(spec: RdcSpec, n: int, seed: int) -> np.ndarray:
    """Scenes through the EMVA 1288 sensor model at the RDC's size and ADC bits (:mod:`logcam.sim.frames`)."""
    return scene_dn_frames(spec.height, spec.width, spec.adc_bits, n, seed)


def object_frames(spec: RdcSpec, n: int, seed: int) -> np.ndarray:
    """The synthetic objects the bundled networks were trained on (:func:`logcam.nn.data.synthetic_dataset`:
    disc, bar, cross on textured, shadowed backgrounds, through the sensor model), rendered square at the
    larger side, cropped to the RDC's frame and clipped to its DN range. A classifier's regression needs
    them: random and procedural frames reach one class of the bundled 2conv1fc only."""
    from logcam.nn.data import SyntheticConfig, synthetic_dataset

    ds = synthetic_dataset(SyntheticConfig(n=max(n, 3), size=max(spec.height, spec.width, 16), seed=seed))
    return np.minimum(ds.frames[:n, :spec.height, :spec.width].numpy(), spec.max_dn).astype(np.uint16)


SOURCES: dict[str, FrameSource] = {"random": random_frames, "corners": corner_frames, "scenes": scene_frames}


def frames_for(spec: RdcSpec, n: int, seed: int, source: str = "mixed") -> np.ndarray:
    """``n`` frames from ``source`` (a name in :data:`SOURCES`, or ``mixed``: corners — the stripes exactly on
    each threshold first —, scenes and random, in equal shares)."""
    if n < 1:
        raise ValueError(f"frames must be ≥ 1, got {n}")
    if source != "mixed":
        if source not in SOURCES:
            raise ValueError(f"unknown frame source {source!r}; choose from {[*SOURCES, 'mixed']}")
        return SOURCES[source](spec, n, seed)
    parts = [functools.partial(corner_frames, edges_first=True), scene_frames, random_frames]
    shares = [n // len(parts) + (1 if i < n % len(parts) else 0) for i in range(len(parts))]
    # The last part (random) takes the remainder first so that one frame is random DN.
    shares = shares[::-1]
    chunks = [fn(spec, k, seed + i) for i, (fn, k) in enumerate(zip(parts, shares)) if k]
    return np.concatenate(chunks).astype(np.uint16)


def regression_frames(spec: RdcSpec, seed: int, scenes: int = 2, randoms: int = 2) -> np.ndarray:
    """The mutation-testing regression (:mod:`logcam.sim.rtl.mutate`): every corner case once (all
    threshold stripes included, which a 4-frame ``mixed`` run leaves out), then ``scenes`` sensor-model
    scenes and ``randoms`` uniform random frames. Streamed back to back with ``first`` on every other
    frame only, so a position counter that fails to wrap at the frame's end is seen."""
    n_corners = 11 + 6 * len(spec.ratio_terms)  # corner_frames' fixed cases + stripes (n/d, d/n; δ = −1, 0, 1)
    parts = [corner_frames(spec, n_corners, seed)]
    if scenes:
        parts.append(scene_frames(spec, scenes, seed + 1))
    if randoms:
        parts.append(random_frames(spec, randoms, seed + 2))
    return np.concatenate(parts).astype(np.uint16)
