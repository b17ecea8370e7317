"""MaxPool2 alone under amaranth.sim: 2×2 max-pool, stride 2, floor (an odd last row/column is dropped).

The expected frame is a direct numpy computation from the spec (docs/netspec.md: ``maxpool2x2``,
stride 2, floor), cross-checked with the golden model's ``max_pool2``. Frames run back to back with
seeded random valid/ready; values include both ends of the signed range and many ties; the output's
``first``/``last`` flags must sit on pixel (0, 0) and on the last column of every pooled row.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from amaranth.hdl import signed

from logcam.hw.accel.pool import MaxPool2
from logcam.nn.golden.accel import max_pool2
from tests.hw.accel.streambench import check_pixels, pixel_beats, run_stream


def _pool_spec(x: np.ndarray) -> np.ndarray:
    """max over x[2i:2i+2, 2j:2j+2] for i < H//2, j < W//2 (the spec, written as loops)."""
    n, c, h, w = x.shape
    out = np.empty((n, c, h // 2, w // 2), dtype=np.int64)
    for i in range(h // 2):
        for j in range(w // 2):
            out[:, :, i, j] = x[:, :, 2 * i:2 * i + 2, 2 * j:2 * j + 2].max(axis=(2, 3))
    return out


@pytest.mark.parametrize(("c", "h", "w", "bits", "p"), [
    (1, 2, 2, 8, 1.0),      # the smallest frame, full speed
    (2, 4, 6, 8, 0.6),      # even sizes, random handshake
    (3, 5, 7, 8, 0.5),      # odd height and width: last row and column dropped
    (2, 3, 2, 4, 0.7),      # odd height only, 4-bit values
    (1, 6, 3, 8, 0.4),      # odd width only, heavy backpressure
])
def test_maxpool_frames_back_to_back(c: int, h: int, w: int, bits: int, p: float) -> None:
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    rng = np.random.default_rng(h * 100 + w * 10 + c)
    frames = 6
    x = rng.integers(lo, hi + 1, size=(frames, c, h, w))
    x[1::3] = rng.choice([lo, lo + 1, -1, 0, hi], size=(2, c, h, w))  # many ties, both ends of the range
    x[2, :, ::2, ::2] = lo  # a window's maximum can sit at any of its four positions
    x[2, :, 1::2, 1::2] = np.minimum(x[2, :, 1::2, 1::2], -1)
    want = _pool_spec(x)
    assert np.array_equal(want, max_pool2(torch.from_numpy(x)).numpy())  # the golden model agrees
    dut = MaxPool2(channels=c, height=h, width=w, shape=signed(bits))
    r = run_stream(dut, pixel_beats(x), want[0].size // c * frames, p_valid=p, p_ready=p, seed=c + h)
    check_pixels(f"maxpool {c}×{h}×{w}", r, want)
    if p < 1:
        assert r.stalls > 0, "no backpressure was exercised"
