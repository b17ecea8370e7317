"""Argmax alone under amaranth.sim: the index of the largest logit, ties to the lowest index.

Expected labels come from numpy's argmax (first occurrence of the maximum — the spec's tie rule) and
agree with the golden model's ``argmax_lowest``. Logit beats are drawn from few distinct values so
ties are frequent, include both ends of the signed range (a comparison that ignored the sign would
rank −1 above 1), and run through seeded random valid/ready.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from amaranth.hdl import signed

from logcam.hw.accel.argmax import Argmax
from logcam.nn.golden.accel import argmax_lowest
from tests.hw.accel.streambench import run_stream


def _logits(rng: np.random.Generator, n: int, classes: int, bits: int) -> np.ndarray:
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    pool = np.unique(np.array([lo, lo + 1, -1, 0, 1, hi - 1, hi]).clip(lo, hi))
    ties = rng.choice(pool, size=(n // 2, classes))  # few distinct values: many ties
    spread = rng.integers(lo, hi + 1, size=(n - n // 2, classes))
    x = np.concatenate([ties, spread])
    # hand-picked rows: all equal, maximum only at the last index, at both ends of the range, sign test
    special = [np.full(classes, lo), np.full(classes, hi), np.r_[np.full(classes - 1, lo), hi],
               np.r_[np.full(classes - 1, hi - 1), hi], np.r_[-1, np.full(classes - 1, lo)]]
    if classes > 1:
        special.append(np.r_[-1, 1, np.full(classes - 2, -1)])
    return np.concatenate([np.array(special)[:, :classes], x]).astype(np.int64)


@pytest.mark.parametrize(("classes", "bits", "p"), [(3, 8, 0.5), (1, 8, 0.7), (5, 4, 0.6), (10, 8, 1.0),
                                                    (2, 2, 0.4)])
def test_argmax_labels_with_ties_extremes_and_backpressure(classes: int, bits: int, p: float) -> None:
    dut = Argmax(classes=classes, shape=signed(bits))
    rng = np.random.default_rng(classes * 10 + bits)
    x = _logits(rng, 60, classes, bits)
    n = len(x)
    first = np.ones(n, np.int64)
    r = run_stream(dut, {"data": x, "first": first, "last": first}, n, p_valid=p, p_ready=p, seed=classes)
    assert not r.violations, f"argmax: {r.violations}"
    assert r.beats == n, f"argmax: {r.beats} labels for {n} logit beats"
    want = np.argmax(x, axis=1)
    assert np.array_equal(want, argmax_lowest(torch.from_numpy(x)).numpy())  # the golden model agrees
    bad = np.flatnonzero(r.out["label"] != want)
    assert not len(bad), (f"argmax ({classes} classes, {bits} bits): {len(bad)} labels differ; first: beat {bad[0]} "
                          f"logits {x[bad[0]].tolist()} want {want[bad[0]]} got {r.out['label'][bad[0]]}")
    if classes > 1:
        tied = (x == x.max(axis=1, keepdims=True)).sum(axis=1) > 1
        assert tied.sum() >= 5, "the vectors must contain ties for this test to mean anything"
    if p < 1:
        assert r.stalls > 0, "the sink never held a valid label back: no backpressure was exercised"
