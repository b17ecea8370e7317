"""Digital overheads counted from logcam's own RTL: flip-flop bits (Yosys statistics) × the cycles they are clocked.

Its memories are counted the same way: :func:`cnn_sram_pj_per_bit` costs each layer's weight ROM, line buffer
and pool memory at its RTL size instead of the table's fixed 8 KB point.

The RDC (hw/rdc.py) is ours as well: :func:`rdc_ff_bit_cycles` takes its ``num_ff_bits`` (Yosys, same script)
and its ``ideal_cycles_per_frame`` (H·W/lanes: one beat of ``lanes`` pixels per clock) for the readout stage.

The CNN accelerator (hw/accel) is ours, so its registers are counted, not assumed: :func:`cnn_ff_bit_cycles`
takes each layer's ``num_ff_bits`` from :func:`logcam.sim.rtl.emit.layer_stats` (Yosys ``stat`` after
``proc; flatten; opt; wreduce``) and multiplies it by that layer's ideal cycles per frame
(``NetSpec.ideal_cycles()``): a layer's registers are charged while it computes (ASSUMED clock-gated when idle;
an ungated clock would charge every layer for the frame's longest layer). The result feeds
``stage_pj(…, ff_bit_cycles=…)`` (the ``clock_ff`` component, tech entry ``ff_clock_bit``). The same
flip-flops leak for the whole frame: their bit counts feed ``pipeline.energy(…, ff_bits=…)`` (the ``leak_ff``
component, tech entry ``ff_leak_bit``, Aladdin's 40 nm register leakage).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, NamedTuple


class RtlOverheads(NamedTuple):
    """What the RTL of a pipeline's own stages says, per stage: flip-flop bits × clocked cycles per frame
    (``clock_ff``), flip-flop bits (their leakage over the frame, ``leak_ff``), SRAM pJ per bit by the RTL's
    memory sizes; and which CNN weights were used."""

    ff_bit_cycles: dict[str, int]
    sram_bit_pj: dict[str, float]
    weights: str
    ff_bits: dict[str, int]


def cnn_ff_bit_cycles(spec: Any, stats: list[dict]) -> int:
    """Σ over layers of flip-flop bits × the layer's cycles per frame."""
    cycles = spec.ideal_cycles()
    if len(stats) != len(cycles):
        raise ValueError(f"layer stats for {len(stats)} layers, NetSpec has {len(cycles)}")
    return sum(int(s["num_ff_bits"]) * int(c) for s, c in zip(stats, cycles))


def rdc_ff_bit_cycles(spec: Any) -> tuple[int, dict]:
    """(flip-flop bits × cycles per frame of the RDC of ``spec`` (an RdcSpec), its Yosys statistics).

    Every register of the RDC is clocked on every beat of the frame (it streams; no idle gating is assumed
    inside a frame). The statistics also give its line memory (``num_memory_bits``), which is reported, not
    costed here: its reads and writes are the readout's activity counts."""
    from logcam.hw.rdc import Rdc
    from logcam.sim.rtl.emit import yosys_stat

    dut = Rdc(spec)
    st = yosys_stat(dut, "rdc")
    return int(st["num_ff_bits"]) * dut.ideal_cycles_per_frame, st


def rtl_layer_stats(spec: Any, weights: str | Path | None = None) -> tuple[list[dict], str]:
    """(Yosys statistics of each accelerator layer of ``spec``, which weights were used).

    The weights matter only through the widths Yosys ``wreduce`` gives the accumulators (on the default
    network the shipped and a random bundle differ by 0.3 % in flip-flop bits: 3778 vs 3792). ``weights``: an
    .npz bundle, used when it loads for ``spec``; otherwise a seeded random int8 bundle stands in (said so)."""
    from logcam.nn.netspec import Bundle, random_bundle
    from logcam.sim.rtl.emit import layer_stats

    bundle, used = None, "random int8 bundle (seed 0)"
    if weights is not None and Path(weights).is_file():
        try:
            bundle, used = Bundle.load(spec, weights), str(weights)
        except Exception:  # a bundle for another input (e.g. retargeted channels): the random one stands in
            bundle = None
    return layer_stats(spec, bundle if bundle is not None else random_bundle(spec, 0)), used


def cnn_memory_bits(spec: Any, stats: list[dict]) -> list[dict[str, tuple[int, int]]]:
    """Per layer: memory → (bits accessed per frame, its size in bytes), the sizes from the layer's RTL.

    Traffic is :func:`~logcam.energy.activity.add_layer_memory`'s (the one definition of the accelerator's
    memory widths), split by memory: weight ROM, line buffer, pool memory, output beats. Sizes: the line
    buffer is Yosys' ``line_buffer_bits`` of the layer; the pool memory the rest of its ``num_memory_bits``
    (conv layers; an fc layer's Yosys memory is its ROM); the ROM holds the layer's 8-bit weights
    (fan-in × C_out bytes; a small ROM is folded into logic and is no Yosys memory); an output beat is one
    word of C_out activations."""
    from logcam.energy.activity import Activity, add_layer_memory, layer_memory_per_frame

    shapes = spec.layer_shapes()
    out = []
    for s, layer, cycles, st in zip(shapes, spec.layers, spec.ideal_cycles(), stats):
        steps, pool_w, pool_r = layer_memory_per_frame(spec, s.index)
        if s.kind in ("add", "avgpool_global"):
            rom_reads, pool_w, pool_r = 0, 0, 0
        else:
            rom_words = s.fan_in // layer.simd * (s.out_shape[0] // layer.pe)
            rom_reads = cycles if s.kind == "fc" or rom_words > 1 else 0
        last = s.index == len(shapes) - 1 and s.kind not in ("add", "avgpool_global")
        parts = {"rom": dict(rom_reads=rom_reads), "line_buffer": dict(steps=steps),
                 "pool": dict(pool_writes=pool_w, pool_reads=pool_r), "out": dict(out_beats=1 if last else 0)}
        lb = int(st.get("line_buffer_bits", 0)) // 8
        mem = int(st["num_memory_bits"]) // 8
        sizes = {"rom": s.fan_in * s.out_shape[0], "line_buffer": lb, "pool": mem - lb if s.kind != "fc" else 0,
                 "out": s.out_shape[0] * spec.quant.act_bits // 8}
        layer_out = {}
        for name, kw in parts.items():
            a = Activity()
            add_layer_memory(a, spec, s.index, **{"rom_reads": 0, "steps": 0, "pool_writes": 0, "pool_reads": 0,
                                                  "out_beats": 0, **kw})
            bits = a.sram_read_bits + a.sram_write_bits
            if bits:
                layer_out[name] = (bits, max(sizes[name], 1))
        out.append(layer_out)
    return out


def cnn_sram_pj_per_bit(spec: Any, stats: list[dict], tech: Any) -> float:
    """The CNN's SRAM energy per bit (pJ, at the table's node) with each memory costed by its RTL size
    (:func:`cnn_memory_bits`, :func:`~logcam.energy.components.sram_pj_per_bit`): Σ bits·e(size) / Σ bits.
    Applied to the stage's SRAM bits, analytic or RTL-measured alike (their counts agree)."""
    from logcam.energy.components import sram_pj_per_bit

    parts = [p for layer in cnn_memory_bits(spec, stats) for p in layer.values()]
    total = sum(b for b, _ in parts)
    return sum(b * sram_pj_per_bit(tech, size) for b, size in parts) / total if total else 0.0


def pipeline_rtl_overheads(cfg: Any, base: Path | None, tech: Any) -> RtlOverheads:
    """What the RTL of the stages that are logcam's own (an RDC readout, the CNN) says about a pipeline
    (:class:`RtlOverheads`: flip-flop bit-cycles and bits per stage, the CNN's SRAM pJ per bit, weights used)."""
    from logcam.config import embedded_config
    from logcam.energy.pipeline import readout_rdc, resolve_net

    ff: dict[str, int] = {}
    bits: dict[str, int] = {}
    if cfg.readout.kind == "rdc":
        ff["readout"], st = rdc_ff_bit_cycles(readout_rdc(cfg))
        bits["readout"] = int(st["num_ff_bits"])
    if cfg.cnn is None:
        return RtlOverheads(ff, {}, "", bits)
    spec = resolve_net(cfg, base)
    if cfg.cnn.net is None:
        weights: Path | None = Path(embedded_config("nets/2conv1fc.npz"))
    else:
        p = Path(cfg.cnn.net)
        p = p if p.is_absolute() or base is None or p.exists() else base / p
        weights = p.with_suffix(".npz")
    stats, used = rtl_layer_stats(spec, weights)
    ff["cnn"] = cnn_ff_bit_cycles(spec, stats)
    bits["cnn"] = sum(int(s["num_ff_bits"]) for s in stats)
    return RtlOverheads(ff, {"cnn": cnn_sram_pj_per_bit(spec, stats, tech)}, used, bits)


def pipeline_ff_bit_cycles(cfg: Any, base: Path | None) -> tuple[dict[str, int], str]:
    """stage → flip-flop bit-cycles per frame of the stages whose RTL is logcam's own, and the CNN weights used."""
    from logcam.energy.tech import TechTable

    o = pipeline_rtl_overheads(cfg, base, TechTable.load())
    return o.ff_bit_cycles, o.weights
