"""LaneSerializer alone under amaranth.sim: ``lanes`` codes per beat (the RDC's output) → one code pixel per
beat (the accelerator's input), in order, with seeded random valid/ready.

The expected stream is written from the contract: pixels leave in raster order, lane 0 first; a beat's
``first`` marks its lane-0 pixel and its ``last`` its last-lane pixel. Framed input (first on a frame's
first beat, last on each row's last beat) must come out as the accelerator's pixel stream: first at
(0, 0), last at the end of every row. Codes span the signed range of their width.
"""

from __future__ import annotations

import numpy as np
import pytest

from logcam.hw.top import LaneSerializer
from tests.hw.accel.streambench import check_pixels, run_stream


def _lane_beats(x: np.ndarray, lanes: int) -> dict[str, np.ndarray]:
    """N×C×H×W codes → RDC-style beats of ``lanes`` pixels: data (beats, C, lanes), first, last."""
    n, c, h, w = x.shape
    per_row = w // lanes
    data = x.reshape(n, c, h, per_row, lanes).transpose(0, 2, 3, 1, 4).reshape(-1, c, lanes)
    b = np.tile(np.arange(per_row), n * h)
    y = np.tile(np.repeat(np.arange(h), per_row), n)
    return {"data": data.astype(np.int64), "first": ((b == 0) & (y == 0)).astype(np.int64),
            "last": (b == per_row - 1).astype(np.int64)}


@pytest.mark.parametrize(("lanes", "code_bits", "channels", "p"), [
    (1, 2, 1, 0.6),   # one lane: a plain register stage
    (2, 2, 2, 0.5),   # hv mode: two channels
    (4, 3, 1, 0.7),   # the default 4 lanes, 5/7-level codes
    (4, 2, 2, 1.0),   # full speed
    (3, 3, 2, 0.4),   # a lane count that is not a power of two, heavy backpressure
])
def test_framed_codes_come_out_as_the_accelerator_pixel_stream(lanes: int, code_bits: int, channels: int,
                                                               p: float) -> None:
    rng = np.random.default_rng(lanes * 10 + channels)
    h, w, frames = 3, 4 * lanes if lanes < 4 else 8, 3
    cmax = (1 << (code_bits - 1)) - 1
    x = rng.integers(-cmax - 1, cmax + 1, size=(frames, channels, h, w))
    x[0, :, 0, :2] = [-cmax - 1, cmax]  # both ends of the code width
    dut = LaneSerializer(lanes=lanes, code_bits=code_bits, channels=channels)
    r = run_stream(dut, _lane_beats(x, lanes), x[0, 0].size * frames, p_valid=p, p_ready=p, seed=lanes)
    check_pixels(f"lane serializer ({lanes} lanes, {channels} ch, {code_bits} bits)", r, x)
    if p < 1:
        assert r.stalls > 0, "no backpressure was exercised"


def test_flags_land_on_the_first_and_last_lane_of_their_beat() -> None:
    """Arbitrary first/last bits per beat (not only frame-shaped): first goes to the beat's lane-0 pixel,
    last to its last-lane pixel, no other pixel carries a flag."""
    lanes, channels, beats = 4, 2, 64
    rng = np.random.default_rng(9)
    data = rng.integers(-2, 2, size=(beats, channels, lanes))
    first, last = rng.integers(0, 2, size=beats), rng.integers(0, 2, size=beats)
    dut = LaneSerializer(lanes=lanes, code_bits=2, channels=channels)
    r = run_stream(dut, {"data": data, "first": first, "last": last}, beats * lanes, p_valid=0.6, p_ready=0.6,
                   seed=3)
    assert not r.violations, r.violations
    assert r.beats == beats * lanes
    want = data.transpose(0, 2, 1).reshape(-1, channels)
    bad = np.argwhere(r.out["data"] != want)
    assert not len(bad), f"lane serializer: pixel {bad[0][0]} (beat {bad[0][0] // lanes}, lane {bad[0][0] % lanes}) " \
                         f"channel {bad[0][1]}: want {want[tuple(bad[0])]} got {r.out['data'][tuple(bad[0])]}"
    lane = np.tile(np.arange(lanes), beats)
    want_first = np.repeat(first, lanes) & (lane == 0)
    want_last = np.repeat(last, lanes) & (lane == lanes - 1)
    for name, flag in (("first", want_first), ("last", want_last)):
        wrong = np.flatnonzero(r.out[name] != flag)
        assert not len(wrong), f"lane serializer: {name} flag wrong at beat {wrong[0] // lanes} lane {wrong[0] % lanes}"
