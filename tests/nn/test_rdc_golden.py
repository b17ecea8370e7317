"""The RDC golden model against the contract of docs/architecture.md, written independently of it."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
import torch

from logcam.config import validate
from logcam.errors import ConfigError, InputError
from logcam.nn.golden.rdc import fp_loggrad, rdc_codes, work_dtype
from logcam.rdcspec import RdcSpec


def _reference_code(num: int, den: int, ratios: list[Fraction]) -> int:
    """Scalar reading of the contract with Python's exact rationals."""
    if den == 0:
        return 0
    r = Fraction(num, den)
    for k in range(len(ratios), 0, -1):
        if r >= ratios[k - 1]:
            return k
    for k in range(len(ratios), 0, -1):
        if 1 / r >= ratios[k - 1]:
            return -k
    return 0


@pytest.mark.parametrize("mode", ["h", "v", "hv", "sum"])
@pytest.mark.parametrize("levels,thresholds", [(3, None), (5, ["3/2", 4]), (7, None)])
def test_codes_match_scalar_reference(mode: str, levels: int, thresholds, gen) -> None:
    spec = RdcSpec(width=9, height=7, adc_bits=6, levels=levels, thresholds=thresholds, mode=mode, lanes=1)
    p = torch.randint(0, 64, (2, 7, 9), generator=gen)
    codes = rdc_codes(p, spec)
    a = (p + 1).tolist()
    ratios = list(spec.thresholds)
    for n in range(2):
        for y in range(7):
            for x in range(9):
                want = []
                left = a[n][y][x - 1] if x else None
                up = a[n][y - 1][x] if y else None
                c = a[n][y][x]
                if mode in ("h", "hv"):
                    want.append(_reference_code(c, left, ratios) if left else 0)
                if mode in ("v", "hv"):
                    want.append(_reference_code(c, up, ratios) if up else 0)
                if mode == "sum":
                    want.append(_reference_code(c * c, left * up, ratios) if left and up else 0)
                assert codes[n, :, y, x].tolist() == want, (n, y, x)


def test_ratio_exactly_on_threshold_counts_as_reached() -> None:
    spec = RdcSpec(width=4, height=2, adc_bits=8, levels=5, mode="h", lanes=1)  # ratios 2, 4
    # a = P+1: 10 → 20 (×2 exactly), 20 → 80 (×4 exactly), 80 → 20 (÷4), 20 → 39 (just under ×2)
    row = np.array([9, 19, 79, 19], dtype=np.uint16)
    p = np.stack([row, row])
    got = rdc_codes(p, spec)[0, 0, 0].tolist()
    assert got == [0, 1, 2, -2]
    p2 = np.array([[19, 38, 76, 38], [0, 0, 0, 0]], dtype=np.uint16)  # 20→39 (<2), 39→77 (<2)
    assert rdc_codes(p2, spec)[0, 0, 0].tolist() == [0, 0, 0, 0]


def test_equal_neighbours_and_flat_frames_give_zero() -> None:
    spec = RdcSpec(width=8, height=8, adc_bits=12, levels=7, mode="hv", lanes=1)
    for value in (0, 2048, 4095):
        assert not rdc_codes(np.full((8, 8), value, dtype=np.uint16), spec).any()


def test_first_row_and_column_are_zero(gen) -> None:
    spec = RdcSpec(width=6, height=5, adc_bits=10, levels=3, mode="sum", lanes=1)
    p = torch.randint(0, 1024, (4, 5, 6), generator=gen)
    c = rdc_codes(p, spec)
    assert not c[:, :, 0, :].any() and not c[:, :, :, 0].any()


def test_codes_are_fp_loggrad_quantized_at_log_thresholds(gen) -> None:
    spec = RdcSpec(width=32, height=24, adc_bits=16, levels=7, mode="sum", lanes=1)
    p = torch.randint(0, 65536, (2, 24, 32), generator=gen)
    f = fp_loggrad(p, spec).to(torch.float64)
    t = torch.tensor([math.log(float(r)) for r in spec.thresholds], dtype=torch.float64)
    q = ((f.abs().unsqueeze(-1) >= t).sum(-1) * f.sign()).to(torch.int8)
    near_tie = ((f.abs().unsqueeze(-1) - t).abs() < 1e-5).any(-1)
    c = rdc_codes(p, spec)
    assert torch.equal(c[~near_tie], q[~near_tie])
    assert c.abs().max() == 3  # full range exercised


def test_sixteen_bit_sum_mode_does_not_overflow() -> None:
    spec = RdcSpec(width=2, height=2, adc_bits=16, levels=7, mode="sum", lanes=1)
    p = np.array([[65535, 0], [0, 65535]], dtype=np.uint16)  # a² = 2^32 vs 1·1
    assert rdc_codes(p, spec)[0, 0, 1, 1] == 3


@pytest.mark.parametrize("adc_bits", [11, 12])
def test_largest_products_stay_exact_in_the_working_dtype(adc_bits: int) -> None:
    """At 11 bits sum-mode products with a 255 term fit int32, at 12 they do not: both must stay exact."""
    spec = RdcSpec(width=3, height=2, adc_bits=adc_bits, levels=5, thresholds=["254/253", "255/1"], mode="sum",
                   lanes=1)
    top = spec.max_dn
    p = np.array([[top, top, 0], [top, top, top]], dtype=np.int64)
    assert work_dtype(spec) == (torch.int32 if adc_bits == 11 else torch.int64)
    codes = rdc_codes(p, spec)
    a = (p + 1).tolist()
    ratios = list(spec.thresholds)
    for x in (1, 2):
        want = _reference_code(a[1][x] ** 2, a[1][x - 1] * a[0][x], ratios)
        assert codes[0, 0, 1, x] == want, x


def test_values_beyond_int32_do_not_wrap_into_range() -> None:
    p = np.full((2, 2), 2**32 + 5, dtype=np.int64)  # ≡ 5 modulo 2^32
    with pytest.raises(InputError, match=r"0\.\.1023"):
        rdc_codes(p, RdcSpec(width=2, height=2, adc_bits=10, lanes=1))


@pytest.mark.parametrize("bad,field", [
    ({"levels": 4}, "levels"), ({"thresholds": [1]}, "> 1"), ({"levels": 5, "thresholds": [4, 2]}, "increasing"),
    ({"levels": 5, "thresholds": [2]}, "need 2"), ({"width": 1}, "width"), ({"lanes": 3, "width": 8}, "lanes"),
    ({"colour": 1}, "unknown key"), ({"adc_bits": 17}, "adc_bits"), ({"thresholds": ["x/y"]}, "threshold"),
])
def test_bad_spec_is_one_line_naming_the_field(bad: dict, field: str) -> None:
    with pytest.raises(ConfigError) as err:
        validate(RdcSpec, bad, "rdc")
    assert field in str(err.value) and "\n" not in str(err.value)


@pytest.mark.parametrize("frames,msg", [
    (np.zeros((4, 4), dtype=np.float32), "integers"), (np.zeros((4,), dtype=np.uint16), "shape"),
    (np.full((4, 4), 1024, dtype=np.uint16), "0..1023"), (np.zeros((1, 4), dtype=np.uint16), "2×2"),
])
def test_bad_frames_are_rejected(frames: np.ndarray, msg: str) -> None:
    with pytest.raises(InputError, match=msg):
        rdc_codes(frames, RdcSpec(adc_bits=10))
