"""Component models: activity × energy per action (pJ) from a TechTable, digital parts node-scaled.

Analog: pixel V·I·t per read; ADC Walden FoM × 2^bits per conversion; RDC comparator per decision.
Digital: add(n) linear in n between Horowitz's 8- and 32-bit adds; mult(a, w) ∝ a·w (array multiplier),
anchored at the 8-bit multiply (gives 3.2 pJ at 32 bits vs Horowitz's 3.1); SRAM per bit = 64-bit read / 64,
writes costed as reads (assumption), of a named table size or, where a stage states its SRAM's size
(``sram_bits_by_size``), by that size (:func:`sram_pj_per_bit`). Link: bytes × pJ/byte. Off-chip DRAM:
bits × pJ/bit (interface energy, not logic-scaled): LPDDR4 8 pJ/bit or Horowitz's DRAM access 1.3 nJ per 64
bits (≈ 20 pJ/bit).
"""

from __future__ import annotations

from dataclasses import dataclass

from logcam.energy.activity import Activity
from logcam.energy.tech import Scaling, TechTable
from logcam.errors import ConfigError

SRAM_KINDS = ("sram8k_read64", "sram32k_read64", "sram1m_read64")
#: DRAM kinds a pipeline may name → the table entry and its bits per unit (pJ/bit entries: 1; per 64-bit access: 64).
DRAM_KINDS: dict[str, tuple[str, int]] = {"lpddr4": ("lpddr4_bit", 1), "ddr_horowitz": ("dram_read64", 64)}
#: Link kinds a pipeline may name → the table entry (pJ/byte). ``none`` moves no bits (its entry is never charged).
LINK_KINDS: dict[str, str] = {"mipi": "mipi_byte", "utsv": "utsv_byte", "none": "mipi_byte"}


def add_pj(t: TechTable, bits: int) -> float:
    """One n-bit addition at the table's node (pJ)."""
    if bits <= 8:
        return t["add8"] * bits / 8
    return t["add8"] + (bits - 8) * (t["add32"] - t["add8"]) / 24


def mult_pj(t: TechTable, a_bits: int, w_bits: int) -> float:
    """One a×w-bit multiplication (pJ), area/energy ∝ a·w, anchored at 8×8."""
    return t["mult8"] * a_bits * w_bits / 64


def analog_pj(act: Activity, t: TechTable, link: str = "mipi") -> dict[str, float]:
    """Energy per frame (pJ) of the analog and link components of ``act`` (``link``: a :data:`LINK_KINDS` key)."""
    out: dict[str, float] = {}
    if act.pixel_reads:
        out["pixel"] = act.pixel_reads * t["pixel_vdda"] * t["pixel_bias"] * t["pixel_settle"] * 1e12
    if act.conversions:
        out["adc"] = sum(n * t["adc_walden_fom"] * 2**b for b, n in act.conversions.items())
    if act.comparator_decisions:
        out["comparators"] = act.comparator_decisions * t["comparator_decision"]
    if act.link_bits:
        out["link"] = act.link_bits / 8 * t[LINK_KINDS[link]]
    return out


def dram_pj(act: Activity, t: TechTable, kind: str = "lpddr4") -> dict[str, float]:
    """Energy per frame (pJ) of the off-chip DRAM traffic of ``act`` (reads and writes costed alike)."""
    if not act.dram_bits:
        return {}
    entry, per = DRAM_KINDS[kind]
    return {"dram": act.dram_bits * t[entry] / per}


#: (bytes, table entry) of the table's SRAM points: Horowitz's 64-bit reads of 8 KB, 32 KB and 1 MB arrays.
SRAM_POINTS: tuple[tuple[int, str], ...] = ((8 * 1024, "sram8k_read64"), (32 * 1024, "sram32k_read64"),
                                            (1024 * 1024, "sram1m_read64"))


def sram_pj_per_bit(t: TechTable, size_bytes: float, banks: int = 1) -> float:
    """Energy per bit read or written (pJ) in an SRAM of ``size_bytes`` split into ``banks`` banks, by its size.

    Log-log interpolation through the table's three SRAM points (energy ∝ size^α between neighbours; Horowitz's
    points give α ≈ 0.5 from 8 KB to 32 KB and ≈ 0.46 from 32 KB to 1 MB, the √size growth of bit-line and
    word-line length in a square array that CACTI-style models have), extrapolated below 8 KB and above 1 MB
    with the nearest segment's slope. Per bit the energy does not depend on the word width (the points are
    64-bit reads; a wider word reads more bits at once). A bank is an SRAM of size/banks; the routing between
    banks is not costed (no sourced number)."""
    import math

    size = max(float(size_bytes) / banks, 1.0)
    pts = [(math.log(b), math.log(t[e] / 64)) for b, e in SRAM_POINTS]
    x = math.log(size)
    (x0, y0), (x1, y1) = (pts[0], pts[1]) if x <= pts[1][0] else (pts[1], pts[2])
    return math.exp(y0 + (x - x0) * (y1 - y0) / (x1 - x0))


def digital_pj(act: Activity, t: TechTable, sram: str = "sram8k_read64",
               sram_bit_pj: float | None = None) -> dict[str, float]:
    """Energy per frame (pJ) of the digital components of ``act`` at the table's node; ``sram_bit_pj``: the
    stage's SRAM energy per bit where its memories' sizes are known (else the ``sram`` entry / 64)."""
    out: dict[str, float] = {}
    if act.macs:
        e = 0.0
        for key, n in act.macs.items():
            a, _, w = key.partition("x")
            e += n * (mult_pj(t, int(a), int(w)) + add_pj(t, int(a) + int(w) + 8))
        out["macs"] = e
    if act.adds:
        out["adds"] = sum(n * add_pj(t, b) for b, n in act.adds.items())
    if act.mults:
        out["mults"] = sum(n * mult_pj(t, b, b) for b, n in act.mults.items())
    if act.sram_read_bits or act.sram_write_bits or act.sram_bits_by_size:
        per_bit = t[sram] / 64 if sram_bit_pj is None else sram_bit_pj
        out["sram"] = ((act.sram_read_bits + act.sram_write_bits) * per_bit
                       + sum(n * sram_pj_per_bit(t, size) for size, n in act.sram_bits_by_size.items()))
    return out


@dataclass(frozen=True)
class StageEnergy:
    """Energy per frame (pJ) of one stage by component, digital components at the table's own node.

    ``components`` keeps the report order (analog and link, digital, DRAM); ``digital`` names the ones
    that scale with the node. :meth:`at` gives the components at a node factor, :attr:`fixed_pj` and
    :attr:`digital_pj` the two sums a sweep broadcasts: E(scale) = fixed + digital·scale.
    """

    components: dict[str, float]
    digital: frozenset[str]

    def at(self, scale: float) -> dict[str, float]:
        """Components (pJ/frame) with the digital ones times the node factor ``scale``."""
        return {k: v * scale if k in self.digital else v for k, v in self.components.items()}

    @property
    def fixed_pj(self) -> float:
        """Node-independent part (pixel, ADC, comparators, link, DRAM), pJ/frame."""
        return sum(v for k, v in self.components.items() if k not in self.digital)

    @property
    def digital_pj(self) -> float:
        """Digital part at the table's node (MACs, adds, mults, SRAM), pJ/frame."""
        return sum(v for k, v in self.components.items() if k in self.digital)


def clock_pj(t: TechTable, ff_bit_cycles: float) -> dict[str, float]:
    """Flip-flops and their clock pins (pJ/frame): ``ff_bit_cycles`` (flip-flop bits × the cycles they are
    clocked, per frame) × the table's ``ff_clock_bit``. Clock-tree buffers are not included (no sourced number)."""
    if not ff_bit_cycles:
        return {}
    if "ff_clock_bit" not in t.entries:
        raise ConfigError("tech.entries.ff_clock_bit: required when flip-flop counts are given (pJ per flip-flop "
                          "bit per clock cycle, with its source)")
    return {"clock_ff": ff_bit_cycles * t["ff_clock_bit"]}


def ff_leak_pj(t: TechTable, ff_bits: float, fps: float) -> dict[str, float]:
    """Leakage of ``ff_bits`` flip-flop bits over one frame at ``fps`` (pJ/frame): bits × the table's
    ``ff_leak_bit`` (µW per bit) for 1/fps seconds; every flip-flop powered for the whole frame (no power gating
    assumed). Node-independent: leakage does not follow the C·V² scaling of the digital components."""
    if not ff_bits:
        return {}
    if "ff_leak_bit" not in t.entries:
        raise ConfigError("tech.entries.ff_leak_bit: required when flip-flop counts are given (leakage per "
                          "flip-flop bit, nW or uW, with its source)")
    return {"leak_ff": leakage_pj(ff_bits * t["ff_leak_bit"], fps)}


def stage_pj(act: Activity, t: TechTable, *, link: str = "mipi", sram: str = SRAM_KINDS[0],
             dram: str = "lpddr4", ff_bit_cycles: float = 0, sram_bit_pj: float | None = None) -> StageEnergy:
    """The one stage model: a stage's activity → its components in pJ/frame (digital ones at ``t``'s node).

    ``link``: a :data:`LINK_KINDS` key, ``sram``: one of :data:`SRAM_KINDS`, ``dram``: a :data:`DRAM_KINDS` key;
    ``ff_bit_cycles``: flip-flop bits × clocked cycles per frame (from the RTL's Yosys statistics,
    :mod:`logcam.energy.overheads`), costed as ``clock_ff``; ``sram_bit_pj``: SRAM energy per bit from the
    stage's own memory sizes (``overheads.cnn_sram_pj_per_bit``), in place of the ``sram`` entry.
    """
    comp = analog_pj(act, t, link)
    digital = digital_pj(act, t, sram, sram_bit_pj)
    digital.update(clock_pj(t, ff_bit_cycles))
    comp.update(digital)
    comp.update(dram_pj(act, t, dram))
    return StageEnergy(comp, frozenset(digital))


def node_scale(t: TechTable, scaling: Scaling, node_nm: int, vdd: float | None = None,
               field: str = "node_nm") -> float:
    """Digital-energy factor of (``node_nm``, ``vdd``; nominal supply when None) against the table's own node."""
    scaling.check(t.node_nm, t.vdd, field="tech.node_nm")
    scaling.check(node_nm, vdd, field=field)
    return scaling.factor(node_nm, vdd) / scaling.factor(t.node_nm, t.vdd)


def leakage_pj(uw, fps):
    """Leakage energy per frame (pJ) of ``uw`` µW at ``fps`` frames per second (scalars or numpy arrays)."""
    return uw * 1e-6 / fps * 1e12

