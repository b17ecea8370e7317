"""Digital overheads counted from logcam's own RTL: flip-flop bits (Yosys statistics) × the cycles they are clocked.

The RDC (hw/rdc.py) is ours as well: :func:`rdc_ff_bit_cycles` takes its ``num_ff_bits`` (Yosys, same script)
and its ``ideal_cycles_per_frame`` (H·W/lanes: one beat of ``lanes`` pixels per clock) for the readout stage.

The CNN accelerator (hw/accel) is ours, so its registers are counted, not assumed: :func:`cnn_ff_bit_cycles`
takes each layer's ``num_ff_bits`` from :func:`logcam.sim.rtl.emit.layer_stats` (Yosys ``stat`` after
``proc; flatten; opt; wreduce``) and multiplies it by that layer's ideal cycles per frame
(``NetSpec.ideal_cycles()``): a layer's registers are charged while it computes (ASSUMED clock-gated when idle;
an ungated clock would charge every layer for the frame's longest layer). The result feeds
``stage_pj(…, ff_bit_cycles=…)`` (the ``clock_ff`` component, tech entry ``ff_clock_bit``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


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


def pipeline_ff_bit_cycles(cfg: Any, base: Path | None) -> tuple[dict[str, int], str]:
    """stage → flip-flop bit-cycles per frame of the stages whose RTL is logcam's own (an RDC readout, the CNN),
    and the CNN weights used."""
    from logcam.config import embedded_config
    from logcam.energy.pipeline import readout_rdc, resolve_net

    out: dict[str, int] = {}
    if cfg.readout.kind == "rdc":
        out["readout"] = rdc_ff_bit_cycles(readout_rdc(cfg))[0]
    if cfg.cnn is None:
        return out, ""
    spec = resolve_net(cfg, base)
    if cfg.cnn.net is None:
        weights: Path | None = Path(embedded_config("nets/2conv1fc.npz"))
    else:
        p = Path(cfg.cnn.net)
        p = p if p.is_absolute() or base is None or p.exists() else base / p
        weights = p.with_suffix(".npz")
    stats, used = rtl_layer_stats(spec, weights)
    return {**out, "cnn": cnn_ff_bit_cycles(spec, stats)}, used
