"""Products and adder trees of the MAC arrays.

:func:`product` multiplies an int8 weight by an input value. On ternary / 5- / 7-level RDC codes
(|x| ≤ 3) it uses no multiplier: w·x = ±(w·|x|) with w·|x| ∈ {0, w, w<<1, w + (w<<1)} — adds, a
shift and a negation, so Yosys shows no ``$mul`` cell in that layer. Elsewhere it is an ordinary
signed multiply. :func:`adder_tree` sums a list of values in a balanced tree (exact widths).
"""

from __future__ import annotations

from collections.abc import Sequence

from amaranth.hdl import Const, Mux, Value

#: Largest |code| the multiplier-free product handles (7-level codes: ±3).
MAX_CODE = 3


def product(w: Value, x: Value, *, max_abs: int | None) -> Value:
    """w·x exactly; ``max_abs`` = the largest |x| when x is a small signed code (multiplier-free), else None."""
    if max_abs is None:
        return w * x
    if not 1 <= max_abs <= MAX_CODE:
        raise ValueError(f"product: multiplier-free codes need 1 ≤ |x| ≤ {MAX_CODE}, got {max_abs}")
    mag = abs(x)  # unsigned
    term: Value = Mux(mag[0], w, 0)
    if max_abs >= 2:
        term = term + Mux(mag[1], w << 1, 0)
    return Mux(x[-1], -term, term)


def adder_tree(values: Sequence[Value]) -> Value:
    """Σ values as a balanced tree of adders (Amaranth widens every sum, so it is exact)."""
    vals = list(values)
    if not vals:
        return Const(0, 1)
    while len(vals) > 1:
        nxt = [vals[i] + vals[i + 1] for i in range(0, len(vals) - 1, 2)]
        if len(vals) % 2:
            nxt.append(vals[-1])
        vals = nxt
    return vals[0]
