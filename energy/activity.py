"""Activity records (action counts per frame) — analytic from configs, or read from an RTL bench's JSON.

JSON format an RTL run writes (``logcam verify rdc|accel|top --activity-out F``, read back by
``logcam energy --activity rtl --activity-file F``), one object per stage::

    {"format": "logcam-activity/1", "frames": 4, "width": 96, "height": 96,
     "stages": {"readout": {"comparator_decisions": 1234, "cycles": 9216, ...},
                "cnn": {"macs": {"8x8": 460800, "2x8": 230400}, "adds": {"16": 100},
                        "sram_read_bits": 1000, "sram_write_bits": 800, "cycles": 9216}}}

Keys of an Activity not given are 0. ``macs`` keys are "<input bits>x<weight bits>"; ``adds`` keys are bits;
``sram_bits_by_size`` keys are an SRAM's size in bytes (its bits read + written are costed by that size).
``frames`` (optional, default 1): the counts are totals over that many frames; :func:`load_activity`
returns per-frame counts (floats where they do not divide). ``width``/``height`` (optional, together):
the sensor frame the counts belong to, checked against the pipeline's. Other top-level keys (``source``)
are ignored. energy/rtl_activity.py builds these files from the RTL's counters.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

from logcam.errors import ConfigError, InputError

FORMAT = "logcam-activity/1"
#: Widths (ADC bits, adder bits, MAC operand bits) and counts an activity record may hold.
MAX_BITS = 64
MAX_COUNT = 2**63
#: Largest SRAM (bytes) a ``sram_bits_by_size`` entry may name: 1 GB.
MAX_SRAM_BYTES = 2**30


@dataclass
class Activity:
    """Actions per frame of one stage."""

    pixel_reads: int = 0  # photodiode → column reads
    conversions: dict[int, int] = field(default_factory=dict)  # ADC bits → conversions
    comparator_decisions: int = 0  # RDC compares (capacitor-ratio comparisons)
    macs: dict[str, int] = field(default_factory=dict)  # "AxW" operand bits → multiply-accumulates
    adds: dict[int, int] = field(default_factory=dict)  # bits → additions (multiplier-free layers, ISP)
    mults: dict[int, int] = field(default_factory=dict)  # bits → stand-alone multiplies (ISP)
    sram_read_bits: int = 0
    sram_write_bits: int = 0
    sram_bits_by_size: dict[int, int] = field(default_factory=dict)  # SRAM bytes → bits read + written there
    link_bits: int = 0  # bits moved sensor → processor
    dram_bits: int = 0  # bits read + written in off-chip DRAM (frame buffers, frame hand-off between IP blocks)
    cycles: int = 0

    def to_json(self) -> dict:
        d = asdict(self)
        d["conversions"] = {str(k): v for k, v in self.conversions.items()}
        d["adds"] = {str(k): v for k, v in self.adds.items()}
        d["mults"] = {str(k): v for k, v in self.mults.items()}
        d["sram_bits_by_size"] = {str(k): v for k, v in self.sram_bits_by_size.items()}
        return d

    @classmethod
    def from_json(cls, d: object, where: str) -> Activity:
        if not isinstance(d, dict):
            raise InputError(f"{where}: expected an object of counts")
        known = set(cls.__dataclass_fields__)
        kw: dict[str, object] = {}
        for k, v in d.items():
            f = f"{where}.{k}"
            if k not in known:
                raise InputError(f"{f}: unknown count (allowed: {', '.join(sorted(known))})")
            if k in ("conversions", "adds", "mults", "macs", "sram_bits_by_size"):
                if not isinstance(v, dict):
                    raise InputError(f"{f}: expected an object of width → count")
                out = {}
                for w, n in v.items():
                    if k == "macs":
                        a, x, b = str(w).partition("x")
                        if not (x and _bits(a) and _bits(b)):
                            raise InputError(f"{f}.{w}: MAC width must be '<in bits>x<weight bits>', "
                                             f"each 1..{MAX_BITS}")
                        key: object = str(w)
                    elif k == "sram_bits_by_size":
                        w_s = str(w)
                        if not (w_s.isdecimal() and w_s.isascii() and len(w_s) <= 10
                                and 1 <= int(w_s) <= MAX_SRAM_BYTES):
                            raise InputError(f"{f}.{w}: an SRAM size in bytes, 1..{MAX_SRAM_BYTES}")
                        key = int(w)
                    else:
                        if not _bits(str(w)):
                            raise InputError(f"{f}.{w}: width must be a whole number of bits, 1..{MAX_BITS}")
                        key = int(w)
                    out[key] = _count(n, f"{f}.{w}")
                kw[k] = out
            else:
                kw[k] = _count(v, f)
        return cls(**kw)  # type: ignore[arg-type]


def _count(v: object, where: str) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v < MAX_COUNT:
        raise InputError(f"{where}: a non-negative integer count below 2^63 is required (got {v!r})")
    return v


def _bits(text: str) -> bool:
    """``text`` is a width the model costs: decimal digits, 1..MAX_BITS."""
    return text.isdecimal() and text.isascii() and 1 <= int(text) <= MAX_BITS


def load_activity(path: str | Path, *, width: int | None = None,
                  height: int | None = None) -> dict[str, Activity]:
    """Read an RTL activity JSON: stage name → per-frame Activity.

    Counts in the file are totals over its ``frames`` (default 1); they are divided by it. If the file
    names its frame geometry and ``width``/``height`` (the pipeline's sensor) are given, they must match.
    """
    p = Path(path)
    if not p.is_file():
        raise InputError(f"--activity-file {p}: no such file")
    try:
        text = p.read_bytes().decode("utf-8")
    except UnicodeDecodeError as e:
        raise InputError(f"{p}: not UTF-8 text (byte 0x{e.object[e.start]:02x} at offset {e.start}); "
                         "expected a logcam-activity/1 JSON file") from None
    except OSError as e:
        raise InputError(f"{p}: cannot read ({e.strerror or type(e).__name__})") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise InputError(f"{p}: invalid JSON at line {e.lineno}: {e.msg}") from None
    except RecursionError:
        raise InputError(f"{p}: JSON nested too deeply; expected a logcam-activity/1 file") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise InputError(f"{p}.format: must be {FORMAT!r}")
    stages = data.get("stages")
    if not isinstance(stages, dict):
        raise InputError(f"{p}.stages: expected an object stage → counts")

    def positive(key: str) -> int | None:
        v = data.get(key)
        if v is None and key not in data:
            return None
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise InputError(f"{p.name}.{key}: a positive integer is required (got {v!r})")
        return v

    frames = positive("frames") or 1
    fw, fh = positive("width"), positive("height")
    if (fw is None) != (fh is None):
        raise InputError(f"{p.name}.{'height' if fh is None else 'width'}: width and height go together")
    if fw is not None and width is not None and height is not None and (fw, fh) != (width, height):
        raise InputError(f"{p.name}: counts of a {fw}×{fh} frame (width×height), the pipeline's sensor is "
                         f"{width}×{height}; use --set sensor.width={fw} --set sensor.height={fh}")
    acts = {s: Activity.from_json(c, f"{p.name}.stages.{s}") for s, c in stages.items()}
    if frames == 1:
        return acts

    def per_frame(n: int) -> int | float:
        q, r = divmod(n, frames)
        return n / frames if r else q

    out = {}
    for s, a in acts.items():
        d = {k: ({w: per_frame(n) for w, n in v.items()} if isinstance(v, dict) else per_frame(v))
             for k, v in vars(a).items()}
        out[s] = Activity(**d)
    return out


# ---------------------------------------------------------------------------------------------------------
# Analytic activity

def sensor_activity(width: int, height: int) -> Activity:
    """Every pixel read once per frame (one row-settle of its column per read)."""
    return Activity(pixel_reads=width * height, cycles=height)


def adc_activity(width: int, height: int, bits: int) -> Activity:
    """One N-bit conversion per pixel (column-parallel ADC)."""
    return Activity(conversions={bits: width * height}, cycles=height)


def rdc_decisions(pixels: int, channels: int, levels: int) -> int:
    """Comparator decisions of the RDC for ``pixels`` pixels: 2·m per pixel and channel (m = (levels−1)/2).

    Golden semantics (:func:`logcam.nn.golden.rdc.quantize_ratio`): code = +k for the largest k with
    num·d_k ≥ den·n_k, else −k for the largest k with den·d_k ≥ num·n_k. A search that evaluates all 2·m
    comparisons per channel gives the result for any input, so 2·m decisions per pixel per channel are
    counted — an upper bound (:func:`rdc_decisions_from_codes` counts an early-exit search). First row/column
    pixels (code 0 by definition) are counted too: the column circuit fires regardless. The RTL's comparator
    array evaluates exactly these, so the analytic and the RTL-measured counts both come from here.
    """
    return pixels * channels * 2 * ((levels - 1) // 2)


def rdc_activity(width: int, height: int, levels: int, channels: int) -> Activity:
    """Analytic readout stage of an RDC frame: :func:`rdc_decisions` of every pixel, one row per cycle."""
    return Activity(comparator_decisions=rdc_decisions(width * height, channels, levels), cycles=height)


def rdc_counts(rdc, beats: int, nonzero: int) -> dict[str, int]:
    """Every action of an RDC run (an :class:`~logcam.rdcspec.RdcSpec` ``rdc``) from its hardware counters.

    The RDC exposes only raw counters — ``beats`` (input beats taken, ``lanes`` pixels each) and ``nonzero``
    (codes ≠ 0 sent); the action counts are the energy model's. Per beat the RTL reads and writes one
    line-memory word (lanes·adc_bits bits) and, per lane and channel, makes :func:`rdc_decisions`'s 2·m
    comparisons after 2 multiplications in ``sum`` mode. Only the comparisons are charged (as
    ``comparator_decisions``, :func:`logcam.energy.rtl_activity.readout_activity`): the line memory and the
    squaring emulate what the analog RDC does in the pixel array. The rest is reported, not costed.
    """
    pixels = beats * rdc.lanes
    word_bits = rdc.lanes * rdc.adc_bits
    return {
        "pixels": pixels,
        "line_memory_reads": beats,
        "line_memory_writes": beats,
        "line_memory_bits_read": beats * word_bits,
        "line_memory_bits_written": beats * word_bits,
        "comparisons": rdc_decisions(pixels, rdc.channels, rdc.levels),
        "multiplications": pixels * 2 if rdc.mode == "sum" else 0,
        "codes_out": pixels * rdc.channels,
        "codes_nonzero": nonzero,
    }


def rdc_decisions_from_codes(codes, m: int) -> int:
    """Decisions of an early-exit comparator search, counted from the RDC's codes (data-dependent).

    Search order: positive ratios from k = m down to 1 (stop at the first true: m − k + 1 decisions for
    code +k), then negative ones likewise (m + m − k + 1 for code −k; 2·m for code 0). Never more than
    the 2·m of :func:`rdc_activity`. ``codes``: the int8 output of ``logcam.nn.golden.rdc.rdc_codes``.
    """
    import numpy as np

    c = np.asarray(codes, dtype=np.int64)
    k = np.abs(c)
    per = np.where(c > 0, m - k + 1, np.where(c < 0, 2 * m - k + 1, 2 * m))
    return int(per.sum())


def link_activity(width: int, height: int, bits_per_pixel: int) -> Activity:
    """Bits moved sensor → processor (packed at ``bits_per_pixel``)."""
    return Activity(link_bits=width * height * bits_per_pixel)


#: ISP steps: per pixel (adds by bits, mults by bits, line-buffer reads/writes in units of the pixel width — a
#: step that reads k stored lines per pixel keeps a buffer of k lines at the frame's width —, LUT reads of 8 bits
#: from a 1024-entry table, DRAM reads/writes of a frame). Order of a phone ISP: black level, lens shading, white
#: balance (on the Bayer mosaic: one gain per pixel), demosaic, denoise, colour correction, tone mapping, gamma,
#: JPEG. Counts are the arithmetic of each textbook step, not of a particular chip (see docs/energy.md).
ISP_OPS: dict[str, dict[str, object]] = {
    "black_level": {"adds": {16: 1}},  # subtract the pedestal
    # lens shading: a gain per pixel, interpolated bilinearly from a coarse grid (incrementally along a row: 2
    # additions), then one multiplication
    "lens_shading": {"adds": {16: 2}, "mults": {16: 1}},
    "demosaic": {"adds": {16: 4}, "mults": {}, "lb_reads": 2, "lb_writes": 1},  # bilinear: 4-neighbour mean
    "white_balance": {"mults": {16: 1}},  # per-channel gain
    "ccm": {"adds": {16: 6}, "mults": {16: 9}},  # colour correction: 3×3 matrix on the demosaicked RGB
    "tone_mapping": {"lut_reads": 3},  # a global tone curve, one LUT read per colour channel
    "gamma": {"lut_reads": 1},  # 8-bit output LUT read (small SRAM)
    "denoise": {"adds": {16: 8}, "lb_reads": 2, "lb_writes": 1},  # 3×3 box filter
    "jpeg": {"adds": {16: 16}, "mults": {16: 17}, "lb_reads": 7, "lb_writes": 1},  # separable 8×8 DCT + quant
    # temporal (3D) denoise: blend with the previous output frame, which lives in DRAM (read + write 1 frame)
    "temporal_denoise": {"adds": {16: 2}, "mults": {16: 1}, "dram_reads": 1, "dram_writes": 1},
}
#: Entries of an ISP step's look-up table (8-bit output for a 10-bit input): 1 KB.
ISP_LUT_ENTRIES = 1024


def isp_activity(width: int, height: int, steps: list[str], in_bits: int) -> Activity:
    """Per-pixel operation counts of a streaming ISP (see :data:`ISP_OPS`). Each step's line buffer is its own
    SRAM of (lines kept) × ``width`` × ``in_bits``, its LUT one of :data:`ISP_LUT_ENTRIES` bytes; their accesses
    go to ``sram_bits_by_size`` so that they are costed by those sizes (``components.sram_pj_per_bit``)."""
    n = width * height
    act = Activity(cycles=n)

    def sram(size_bytes: int, bits: int) -> None:
        if bits:
            act.sram_bits_by_size[size_bytes] = act.sram_bits_by_size.get(size_bytes, 0) + bits

    for s in steps:
        if s not in ISP_OPS:
            raise ConfigError(f"isp.steps: unknown step {s!r} (allowed: {', '.join(ISP_OPS)})")
        op = ISP_OPS[s]
        for b, c in op.get("adds", {}).items():  # type: ignore[union-attr]
            act.adds[b] = act.adds.get(b, 0) + c * n
        for b, c in op.get("mults", {}).items():  # type: ignore[union-attr]
            act.mults[b] = act.mults.get(b, 0) + c * n
        lines, lb_w = int(op.get("lb_reads", 0)), int(op.get("lb_writes", 0))
        sram(lines * width * in_bits // 8, n * (lines + lb_w) * in_bits)
        sram(ISP_LUT_ENTRIES, n * int(op.get("lut_reads", 0)) * 8)
        act.dram_bits += n * (int(op.get("dram_reads", 0)) + int(op.get("dram_writes", 0))) * in_bits
    return act


def layer_memory_per_frame(spec, index: int) -> tuple[int, int, int]:
    """Per frame of layer ``index`` of the streaming accelerator: (line-buffer steps, pool writes, pool reads).

    The window generator (hw/accel/window.py) steps (H+pad)·(W+pad) times, each step reading and writing
    one word of (k−1)·C_in values (no line buffer for k = 1); the 2×2 pool (hw/accel/pool.py) touches its
    line memory at every odd column of the conv output: writes on even rows, reads on odd ones. Their sum
    is what the layer's ``lb_access`` counter adds per frame. Depthwise layers step their window generator
    the same way (pointwise: k = 1, none); an add reads (and the fork writes) its skip FIFO once per pixel,
    counted as H·W steps of one C-value word.
    """
    s = spec.layer_shapes()[index]
    layer = spec.layers[index]
    _, h, w = s.in_shape
    if s.kind == "add":
        return h * w, 0, 0
    if s.kind not in ("conv", "depthwise"):
        return 0, 0, 0
    steps = (h + layer.pad) * (w + layer.pad) if layer.kernel > 1 else 0
    if s.kind == "depthwise" or layer.pool != 2:
        return steps, 0, 0
    _, ch, cw = s.conv_shape
    return steps, (ch + 1) // 2 * (cw // 2), ch // 2 * (cw // 2)


def addition_bits(spec, index: int) -> int:
    """Width of the additions of an ``add`` (act_bits + mult_bits + 1) or ``avgpool_global`` layer (the sum's)."""
    s = spec.layer_shapes()[index]
    if s.kind == "add":
        return spec.quant.act_bits + spec.quant.mult_bits + 1
    return s.in_bits + math.ceil(math.log2(max(s.fan_in, 2)))


def code_layer_additions(spec) -> tuple[int, int]:
    """(accumulator bits, shifted additions per MAC) of a first layer on RDC codes (multiplier-free)."""
    s = spec.layer_shapes()[0]
    acc_bits = s.in_bits + 8 + math.ceil(math.log2(max(s.fan_in, 2)))
    return acc_bits, max(bin(v).count("1") for v in range(1, max(spec.input.hi, 1) + 1))


def cnn_activity(spec) -> Activity:
    """Analytic CNN activity of the streaming accelerator (hw/accel) running a NetSpec, per frame.

    Per layer: MACs keyed by (input bits × 8-bit weights); a first layer on RDC codes is multiplier-free:
    each MAC is counted as the worst-case number of shifted additions of a code value, max popcount of
    1..hi (1 for ±1 and ±2 — a shift is free — and 2 for ±3), at the accumulator width.
    Memory is the accelerator's own traffic, from the layer geometry and folding (pe, simd): line-buffer
    words and pool-memory words (:func:`layer_memory_per_frame`); one weight-ROM word of pe·simd 8-bit
    weights per MAC cycle, except in a conv layer whose weights fit one word (G·I = 1: constants, no ROM);
    the last (fc) layer's one beat of logits per frame. The RTL counts
    the same actions (tests/test_rtl_activity_json.py: equal under Verilator).
    Pointwise and depthwise layers count their MACs like conv (depthwise fan-in k²). An add counts one
    addition per output value (C·H·W, at act_bits + mult_bits + 1 bits; its constant operand scalings belong
    to requantization, which is not counted for any layer) and a skip-FIFO word (C activations) written and
    read per pixel; avgpool_global one addition per input value at the sum's width.
    """
    act = Activity(cycles=sum(spec.ideal_cycles()))
    shapes = spec.layer_shapes()
    for s, layer, cycles in zip(shapes, spec.layers, spec.ideal_cycles()):
        if s.kind in ("add", "avgpool_global"):
            bits = addition_bits(spec, s.index)
            act.adds[bits] = act.adds.get(bits, 0) + s.ops
            steps, _, _ = layer_memory_per_frame(spec, s.index)
            add_layer_memory(act, spec, s.index, rom_reads=0, steps=steps, pool_writes=0, pool_reads=0,
                             out_beats=0)
            continue
        if s.index == 0 and spec.input.format == "codes":
            acc_bits, per = code_layer_additions(spec)
            act.adds[acc_bits] = act.adds.get(acc_bits, 0) + s.macs * per
        else:
            key = f"{s.in_bits}x8"
            act.macs[key] = act.macs.get(key, 0) + s.macs
        rom_words = s.fan_in // layer.simd * (s.out_shape[0] // layer.pe)  # G·I words of pe·simd weights
        steps, pool_w, pool_r = layer_memory_per_frame(spec, s.index)
        add_layer_memory(act, spec, s.index, rom_reads=cycles if s.kind == "fc" or rom_words > 1 else 0,
                         steps=steps, pool_writes=pool_w, pool_reads=pool_r,
                         out_beats=1 if s.index == len(shapes) - 1 else 0)  # last layer (fc): 1 beat of logits
    return act


def add_layer_memory(act: Activity, spec, index: int, *, rom_reads: int, steps: int, pool_writes: int,
                     pool_reads: int, out_beats: int) -> None:
    """Add layer ``index``'s memory traffic to ``act``: its action counts × the accelerator's word widths.

    Weight ROM: pe·simd 8-bit weights per read; line buffer: one read and one write of (k−1)·C_in input
    values per step; pool memory: C_out activations per access; output beats: C_out activations each.
    The one definition of these widths, for analytic counts and RTL counters alike.
    """
    s, layer, act_bits = spec.layer_shapes()[index], spec.layers[index], spec.quant.act_bits
    if s.kind in ("conv", "depthwise"):
        lb_word = (layer.kernel - 1) * s.in_shape[0] * s.in_bits
    elif s.kind == "add":  # the skip FIFO: one word of C activations per pixel
        lb_word = s.in_shape[0] * act_bits
    else:
        lb_word = 0
    c_out_word = s.out_shape[0] * act_bits
    rom_bits = rom_reads * getattr(layer, "pe", 1) * getattr(layer, "simd", 1) * 8
    act.sram_read_bits += rom_bits + steps * lb_word + pool_reads * c_out_word
    act.sram_write_bits += steps * lb_word + (pool_writes + out_beats) * c_out_word
