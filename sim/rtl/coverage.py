"""Functional coverage of a verify run, computed from its stimulus, the golden values and the handshake counts.

Each bin counts how often a situation worth testing occurred among the values the run compared
(``logcam verify … --coverage``). A bin that cannot occur in a configuration (a first-column code in
mode ``h``: no left neighbour) is left out, not counted as missed.

- RDC (``rdc``, and the RDC of ``top``), per channel: every code −m..m; at every threshold n_k/d_k and
  its inverse, the comparator exactly at the edge (num·d_k = den·n_k → +k; den·d_k = num·n_k → −k),
  failing where one DN more of the pixel would reach it, passing where one DN less would not pass;
  nonzero codes in the first/last row and column; nonzero codes in every lane position (lane 0 takes
  its left neighbour from the previous beat).
- Accelerator (``accel``, ``top``), per layer: requantizer rounding ties (acc·m mod 2^s = 2^(s−1)),
  saturation at the low and the high clamp; every class label.
- Handshake (memory bench): input held back by the design, gaps in the input, output stalled, and
  every tap (every pipeline stage's output) stalled.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class Coverage:
    """Bins by group: group → bin → hits (occurrences among the compared values)."""

    groups: dict[str, dict[str, int]] = field(default_factory=dict)

    def add(self, group: str, name: str, hits: int) -> None:
        self.groups.setdefault(group, {})[name] = self.groups.get(group, {}).get(name, 0) + int(hits)

    def merge(self, other: Coverage, prefix: str = "") -> None:
        for g, bins in other.groups.items():
            for b, h in bins.items():
                self.add(prefix + g, b, h)

    @property
    def total(self) -> int:
        return sum(len(b) for b in self.groups.values())

    @property
    def hit(self) -> int:
        return sum(1 for b in self.groups.values() for h in b.values() if h > 0)

    @property
    def missed(self) -> list[str]:
        return [f"{g}: {b}" for g, bins in self.groups.items() for b, h in bins.items() if h == 0]

    @property
    def percent(self) -> float:
        return 100.0 * self.hit / self.total if self.total else 100.0

    def to_json(self) -> dict[str, Any]:
        return {"percent": round(self.percent, 2), "hit": self.hit, "total": self.total, "missed": self.missed,
                "groups": self.groups}

    def summary(self) -> str:
        lines = [f"coverage: {self.hit}/{self.total} bins ({self.percent:.1f} %)"]
        for g, bins in self.groups.items():
            hit = sum(1 for h in bins.values() if h > 0)
            lines.append(f"  {g}: {hit}/{len(bins)}")
        lines += [f"  missed {m}" for m in self.missed]
        return "\n".join(lines)


def _pairs(frames: np.ndarray, mode: str) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """(num, den, valid) per channel as int64 numpy, as :func:`logcam.nn.golden.rdc.gradient_pairs`."""
    import torch

    from logcam.nn.golden.rdc import gradient_pairs

    a = torch.as_tensor(np.asarray(frames, dtype=np.int64)) + 1
    return [(n.numpy(), d.numpy(), v.numpy()) for n, d, v in gradient_pairs(a, mode)]


def rdc_coverage(spec: Any, frames: np.ndarray, codes: np.ndarray, handshake: dict[str, int] | None = None,
                 *, group: str = "rdc") -> Coverage:
    """Coverage of N×H×W DN ``frames`` with golden N×C×H×W ``codes`` through the RDC ``spec``."""
    cov = Coverage()
    m = (spec.levels - 1) // 2
    w, lanes = spec.width, spec.lanes
    a = np.asarray(frames, dtype=np.int64) + 1
    # the numerator with the centre pixel one DN lower / higher (h, v, hv: a; sum: a²)
    lower, higher = ((a - 1) ** 2, (a + 1) ** 2) if spec.mode == "sum" else (a - 1, a + 1)
    for ch, (num, den, valid) in enumerate(_pairs(frames, spec.mode)):
        tag = f"{group} ch{ch}" if spec.channels > 1 else group
        c = np.asarray(codes)[:, ch]
        for k in range(-m, m + 1):
            cov.add(f"{tag} codes", f"{k:+d}", int(((c == k) & valid).sum()))
        for k, (nk, dk) in enumerate(spec.ratio_terms, start=1):
            g = f"{tag} threshold edges"
            # +k: num·d_k ≥ den·n_k — exactly equal; failing, with one DN more at or past the edge; passing,
            # with one DN less at or short of it
            cov.add(g, f"+{k} at edge", int(((num * dk == den * nk) & valid).sum()))
            cov.add(g, f"+{k} 1 DN short", int(((num * dk < den * nk) & (higher * dk >= den * nk) & valid).sum()))
            cov.add(g, f"+{k} 1 DN past", int(((num * dk > den * nk) & (lower * dk <= den * nk) & valid).sum()))
            # −k: den·d_k ≥ num·n_k, the same three from the other side
            cov.add(g, f"-{k} at edge", int(((den * dk == num * nk) & valid).sum()))
            cov.add(g, f"-{k} 1 DN short", int(((den * dk < num * nk) & (den * dk >= lower * nk) & valid).sum()))
            cov.add(g, f"-{k} 1 DN past", int(((den * dk > num * nk) & (den * dk <= higher * nk) & valid).sum()))
        nz = (c != 0) & valid
        places = {"first row": (slice(None), 0, slice(None)), "last row": (slice(None), -1, slice(None)),
                  "first column": (slice(None), slice(None), 0), "last column": (slice(None), slice(None), -1)}
        for name, where in places.items():
            if valid[where].any():  # a row/column without neighbours can only give 0: not a bin
                cov.add(f"{tag} frame edges", f"{name} nonzero", int(nz[where].sum()))
        cols = np.arange(w)
        for lane in range(lanes):
            sel = (cols % lanes == lane) & (cols > 0) if spec.mode != "v" else cols % lanes == lane
            cov.add(f"{tag} lanes", f"lane {lane} nonzero", int(nz[:, :, sel].sum()))
    if handshake:
        cov.merge(handshake_coverage(handshake))
    return cov


def handshake_coverage(handshake: dict[str, int]) -> Coverage:
    """Bins from the memory bench's counters: input held back and gapped, output and every tap stalled."""
    cov = Coverage()
    cov.add("handshake", "input held back by the design", handshake.get("stall_i", 0))
    cov.add("handshake", "input gaps (valid low)", handshake.get("idle_i", 0))
    cov.add("handshake", "output stalled (ready low)", handshake.get("stall_o", 0))
    for name in sorted(k for k in handshake if k.startswith("stall_tap")):
        cov.add("handshake", f"{name[len('stall_'):]} stalled", handshake[name])
    return cov


def accel_coverage(spec: Any, bundle: Any, golden: Any, handshake: dict[str, int] | None = None) -> Coverage:
    """Requantizer ties and saturation per layer, and every class label, from the golden accumulators."""
    import torch

    from logcam.nn.quant import rounding_shift

    cov = Coverage()
    for i, layer in enumerate(spec.layers):
        acc = golden.acc[i].to(torch.int64)
        n_ch = acc.shape[1]
        lp = bundle.layers[i]
        m = torch.as_tensor(np.asarray(lp.mult, dtype=np.int64)).reshape(-1)
        s = torch.as_tensor(np.asarray(lp.shift, dtype=np.int64)).reshape(-1)
        zp = spec.quant.zero_point
        if layer.type == "add":  # as the golden model: the multipliers are inside acc
            m, zp = torch.ones(n_ch, dtype=torch.int64), 0
        m, s = m.expand(n_ch), s.expand(n_ch)
        view = [1, n_ch] + [1] * (acc.dim() - 2)
        prod, sh = acc * m.view(view), s.view(view)
        half = torch.where(sh > 0, torch.ones_like(sh) << (sh - 1).clamp(min=0), torch.full_like(sh, -1))
        rem = prod - ((prod >> sh) << sh)
        q = rounding_shift(prod, sh, spec.quant.rounding) + zp
        lo, hi = spec.clamp_of(i)
        g = f"requant layer {i} ({layer.type})"
        cov.add(g, "rounding tie", int((rem == half).sum()))
        cov.add(g, "saturate low", int((q < lo).sum()))
        cov.add(g, "saturate high", int((q > hi).sum()))
    labels = golden.labels.numpy()
    for k in range(spec.num_classes):
        cov.add("labels", f"class {k}", int((labels == k).sum()))
    if handshake:
        cov.merge(handshake_coverage(handshake))
    return cov
