"""Golden model of the RDC: DN frames → signed log-gradient codes, integer arithmetic only.

This is *the* RDC quantizer of logcam: the input formats ``loggrad_q3``/``loggrad_q5`` used in
training call :func:`rdc_codes`, and the RTL is checked against it value by value.
"""

from __future__ import annotations

import numpy as np
import torch

from logcam.errors import InputError
from logcam.rdcspec import RdcSpec


def check_frames(frames: torch.Tensor | np.ndarray, spec: RdcSpec, name: str = "frames",
                 dtype: torch.dtype = torch.int64) -> torch.Tensor:
    """Validate DN frames (H×W or N×H×W, unsigned integers ≤ 2^adc_bits − 1) → N×H×W tensor of ``dtype``.

    The range is checked in a dtype that holds every input value (``dtype`` itself when the input's
    type fits in it, else int64), so no value wraps into range on the way.
    """
    if not isinstance(frames, torch.Tensor):
        a = np.asarray(frames)
        if a.dtype.names is not None or a.dtype.kind not in "biufc":
            raise InputError(f"{name}: DN frames must be integers (uint8/uint16/int32/int64), got {a.dtype}")
        if not a.dtype.isnative:
            a = a.astype(a.dtype.newbyteorder("="))  # torch takes native byte order only
        frames = a
    t = torch.as_tensor(frames) if not isinstance(frames, torch.Tensor) else frames
    if t.dtype.is_floating_point or t.dtype == torch.bool or t.dtype.is_complex:
        raise InputError(f"{name}: DN frames must be integers (uint8/uint16/int32/int64), got {t.dtype}")
    if t.dim() == 2:
        t = t.unsqueeze(0)
    if t.dim() != 3:
        raise InputError(f"{name}: expected H×W or N×H×W, got shape {tuple(t.shape)}")
    if t.shape[1] < 2 or t.shape[2] < 2:
        raise InputError(f"{name}: frames must be at least 2×2, got {tuple(t.shape[1:])}")
    src, dst = torch.iinfo(t.dtype), torch.iinfo(dtype)
    t = t.to(dtype if dst.min <= src.min and src.max <= dst.max else torch.int64)
    if t.numel():
        lo, hi = int(t.min()), int(t.max())
        if lo < 0 or hi > spec.max_dn:
            raise InputError(
                f"{name}: DN must lie in 0..{spec.max_dn} for adc_bits={spec.adc_bits}, got {lo}..{hi}")
    return t.to(dtype)


def gradient_pairs(
    a: torch.Tensor, mode: str, log_domain: bool = False
) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """(num, den, valid) per output channel for a = P + 1 (N×H×W).

    h: num = a[y,x], den = a[y,x−1]; v: den = a[y−1,x]; sum: num = a², den = a_left·a_up.
    With ``log_domain`` the input is log a and products become sums (num − den is the log-gradient).
    ``valid`` is False where the neighbour does not exist (first column / first row).
    """
    n, h, w = a.shape
    left = torch.zeros_like(a)
    left[:, :, 1:] = a[:, :, :-1]
    up = torch.zeros_like(a)
    up[:, 1:, :] = a[:, :-1, :]
    has_left = (torch.arange(w).view(1, 1, w) > 0).expand(n, h, w)
    has_up = (torch.arange(h).view(1, h, 1) > 0).expand(n, h, w)
    if mode == "h":
        return [(a, left, has_left)]
    if mode == "v":
        return [(a, up, has_up)]
    if mode == "hv":
        return [(a, left, has_left), (a, up, has_up)]
    if mode == "sum":
        if log_domain:
            return [(2 * a, left + up, has_left & has_up)]
        return [(a * a, left * up, has_left & has_up)]
    raise ValueError(f"unknown RDC mode {mode!r}")


def quantize_ratio(num: torch.Tensor, den: torch.Tensor, terms: list[tuple[int, int]]) -> torch.Tensor:
    """Signed code of num/den against ratios n_k/d_k (ascending, all > 1): the comparator ladder.

    +k for the largest k with num·d_k ≥ den·n_k; else −k for the largest k with den·d_k ≥ num·n_k;
    else 0. Because the ratios are > 1 and strictly increasing (RdcSpec checks both), each side's
    tests are monotone in k and the two sides exclude each other, so the code is the count of passed
    upward tests minus the count of passed downward ones. Exact in the inputs' integer dtype (the
    caller picks one wide enough for num·d_k and den·n_k: :func:`work_dtype`).
    """
    code = torch.zeros(num.shape, dtype=torch.int8)
    for nk, dk in terms:
        code += (num * dk >= den * nk).to(torch.int8)
        code -= (den * dk >= num * nk).to(torch.int8)
    return code


def work_dtype(spec: RdcSpec) -> torch.dtype:
    """The narrowest of int32/int64 that holds every product num·d_k, den·n_k of ``spec`` exactly."""
    a_max = spec.max_dn + 1
    largest = (a_max * a_max if spec.mode == "sum" else a_max) * max(max(t) for t in spec.ratio_terms)
    return torch.int32 if largest < 2**31 else torch.int64


def rdc_codes(frames: torch.Tensor | np.ndarray, spec: RdcSpec) -> torch.Tensor:
    """DN frames (H×W or N×H×W) → int8 codes N×C×H×W in −m..m (C = 2 for ``hv``, else 1)."""
    a = check_frames(frames, spec, dtype=work_dtype(spec)) + 1
    out = []
    for num, den, valid in gradient_pairs(a, spec.mode):
        code = quantize_ratio(num, den, spec.ratio_terms)
        out.append(torch.where(valid, code, torch.zeros((), dtype=torch.int8)))
    return torch.stack(out, dim=1)


def fp_loggrad(frames: torch.Tensor | np.ndarray, spec: RdcSpec) -> torch.Tensor:
    """Float log-gradient: log(P+1) filtered by the mode's kernel (natural log), N×C×H×W float32.

    The RDC code of a pixel is this value quantized at ±ln(r_k) (up to float rounding at exact
    ties); pixels without the neighbour are 0 as in the codes.
    """
    la = torch.log(check_frames(frames, spec).to(torch.float64) + 1.0)
    out = [torch.where(valid, num - den, torch.zeros((), dtype=torch.float64))
           for num, den, valid in gradient_pairs(la, spec.mode, log_domain=True)]
    return torch.stack(out, dim=1).to(torch.float32)
