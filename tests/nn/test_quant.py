"""The requantizer (nn/quant.py) against exact rational arithmetic (fractions.Fraction), ties above all.

Expected values come from ``Fraction`` (half_up: floor(v + 1/2), half_even: Python's round()), never
from the shift-and-add code under test.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
import torch

from logcam.nn.quant import (
    MAX_SHIFT,
    quantize_multiplier,
    requantize,
    requantize_tflite_double,
    rounding_shift,
)


def frac_round(v: Fraction, mode: str) -> int:
    if mode == "half_up":
        return math.floor(v + Fraction(1, 2))
    if mode == "half_even":
        return round(v)
    raise AssertionError(mode)


def tie_vectors(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(acc, m, s) with acc·m an exact odd multiple of 2^(s−1): every one is a tie (x.5)."""
    rng = np.random.default_rng(seed)
    acc, ms, ss = [], [], []
    while len(acc) < n:
        s = int(rng.integers(1, MAX_SHIFT + 1))
        u = int(rng.integers(0, 1 << 14)) * 2 + 1  # odd part of m
        v = int(rng.integers(0, 2))  # m = u·2^v < 2^16
        if v > s - 1:
            continue
        e = s - 1 - v  # acc = odd · 2^e
        if e > 29:
            continue
        odd = int(rng.integers(0, 1 << max(0, 29 - e))) * 2 + 1
        a = odd << e
        acc.append(a if rng.integers(0, 2) else -a)
        ms.append(u << v)
        ss.append(s)
    return np.array(acc, dtype=np.int64), np.array(ms, dtype=np.int64), np.array(ss, dtype=np.int64)


def test_hand_ties() -> None:
    """±0.5, ±1.5, ±2.5: half_up goes towards +∞, half_even to the even neighbour."""
    acc = torch.tensor([1, -1, 3, -3, 5, -5, 7, -7], dtype=torch.int64)
    s = torch.ones(8, dtype=torch.int64)
    assert rounding_shift(acc, s, "half_up").tolist() == [1, 0, 2, -1, 3, -2, 4, -3]
    assert rounding_shift(acc, s, "half_even").tolist() == [0, 0, 2, -2, 2, -2, 4, -4]


@pytest.mark.parametrize("mode", ["half_up", "half_even"])
def test_tie_heavy_vectors(mode: str) -> None:
    acc, m, s = tie_vectors(4000, seed=5)
    assert all(Fraction(int(a) * int(b), 1 << int(c)).denominator == 2 for a, b, c in zip(acc, m, s))
    assert (acc > 0).sum() > 1000 and (acc < 0).sum() > 1000
    got = rounding_shift(torch.from_numpy(acc * m), torch.from_numpy(s), mode).tolist()
    want = [frac_round(Fraction(int(a) * int(b), 1 << int(c)), mode) for a, b, c in zip(acc, m, s)]
    assert got == want
    # and through requantize, one channel per element (no clamp: wide limits)
    out = requantize(torch.from_numpy(acc).view(1, -1), torch.from_numpy(m), torch.from_numpy(s),
                     rounding=mode, lo=-(1 << 50), hi=1 << 50)
    assert out.view(-1).tolist() == want


@pytest.mark.parametrize("mode", ["half_up", "half_even"])
def test_random_and_extreme_vectors(mode: str) -> None:
    rng = np.random.default_rng(11)
    n = 3000
    acc = rng.integers(-(1 << 31), 1 << 31, size=n, dtype=np.int64)
    acc[:4] = [-(1 << 31), (1 << 31) - 1, 0, -1]
    m = rng.integers(0, 1 << 31, size=n, dtype=np.int64)  # up to mult_bits = 32
    m[:4] = (1 << 31) - 1
    s = rng.integers(0, MAX_SHIFT + 1, size=n, dtype=np.int64)
    s[:2] = MAX_SHIFT
    s[4:40] = 0
    got = rounding_shift(torch.from_numpy(acc * m), torch.from_numpy(s), mode).tolist()
    want = [frac_round(Fraction(int(a) * int(b), 1 << int(c)), mode) for a, b, c in zip(acc, m, s)]
    assert got == want


def test_requantize_zero_point_clamp_and_channel_dim() -> None:
    acc = torch.tensor([[[100, -100]], [[300, -300]]], dtype=torch.int32).permute(1, 0, 2)  # 1×2×2, channel dim 1
    m = torch.tensor([1, 3])
    s = torch.tensor([2, 3])
    # ch0: 100/4=25, -25; ch1: 900/8=112.5→113 (half_up), -112.5→-112; zp +5, clamp -20..120
    out = requantize(acc, m, s, rounding="half_up", zero_point=5, lo=-20, hi=120)
    assert out.tolist() == [[[30, -20], [118, -20]]]
    out = requantize(acc.transpose(1, 2), m, s, rounding="half_even", zero_point=0, lo=-128, hi=127, channel_dim=2)
    assert out.tolist() == [[[25, 112], [-25, -112]]]


def test_unknown_mode() -> None:
    with pytest.raises(ValueError, match="rounding must be one of"):
        rounding_shift(torch.tensor([1]), torch.tensor([1]), "stochastic")  # type: ignore[arg-type]


@pytest.mark.parametrize("bits", [8, 16, 24, 32])
def test_quantize_multiplier(bits: int) -> None:
    rng = np.random.default_rng(bits)
    for scale in np.concatenate([10.0 ** rng.uniform(-9, 2, size=300), [1.0, 0.5, 2.0**-20, 1 - 1e-12]]):
        if scale >= 1 << (bits - 1):
            with pytest.raises(ValueError, match="too large"):
                quantize_multiplier(float(scale), bits)
            continue
        m, s = quantize_multiplier(float(scale), bits)
        assert 0 <= m < 1 << (bits - 1) and 0 <= s <= MAX_SHIFT
        if s < MAX_SHIFT:
            assert m >= 1 << (bits - 2)  # full mantissa used
            assert abs(Fraction(m, 1 << s) - Fraction(float(scale))) <= Fraction(1, 1 << (s + 1))
    with pytest.raises(ValueError, match="positive"):
        quantize_multiplier(0.0)


def test_tflite_double_rounding() -> None:
    """TFLite's MultiplyByQuantizedMultiplier: SRDHM (half towards +∞ of acc·M0/2^31) then RoundingDivideByPOT
    (half away from zero), with M0 = m·2^(32−bits). Reference: the two roundings done in Fraction."""
    rng = np.random.default_rng(3)
    bits = 16
    acc = rng.integers(-(1 << 24), 1 << 24, size=4000, dtype=np.int64)
    m = rng.integers(1 << 14, 1 << 15, size=4000, dtype=np.int64)
    s = rng.integers(15, 40, size=4000, dtype=np.int64)
    acc[:1000] = tie_vectors(1000, 9)[0] >> 6  # plenty of near-ties
    got = requantize_tflite_double(torch.from_numpy(acc).view(1, -1), torch.from_numpy(m), torch.from_numpy(s),
                                   mult_bits=bits, lo=-(1 << 50), hi=1 << 50).view(-1).tolist()
    want = []
    for a, mm, ss in zip(acc.tolist(), m.tolist(), s.tolist()):
        m0 = mm << (32 - bits)
        right = ss - (bits - 1)
        step1 = math.floor(Fraction(a * m0, 1 << 31) + Fraction(1, 2))
        v = Fraction(step1, 1 << right)
        want.append(int(math.copysign(math.floor(abs(v) + Fraction(1, 2)), v)) if v else 0)
    assert got == want
    # it differs from single rounding on a few outputs only (the double-rounding ppm effect)
    single = requantize(torch.from_numpy(acc).view(1, -1), torch.from_numpy(m), torch.from_numpy(s),
                        lo=-(1 << 50), hi=1 << 50).view(-1).tolist()
    diff = sum(g != h for g, h in zip(got, single))
    assert 0 < diff < len(got) // 10
