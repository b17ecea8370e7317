"""RTL-measured activity: the counters of a verification run → per-stage :class:`Activity` → JSON.

The RDC and the accelerator count their actions in hardware while they run (``stats`` ports, see
:func:`logcam.hw.stream.rdc_stats_layout` and :func:`logcam.hw.stream.layer_stats_layout`). This module turns
those counters into the same per-stage records the analytic model builds (energy/activity.py), with the
same conventions, and writes them as a ``logcam-activity/1`` file for ``logcam energy --activity rtl``:

readout (:func:`readout_activity`)
    ``comparator_decisions``: :func:`~logcam.energy.activity.rdc_decisions` of the pixels the RDC took
    (its ``beats`` counter × ``lanes``; 2·m per pixel and channel, as the analytic
    :func:`~logcam.energy.activity.rdc_activity`); ``cycles``: input beats (cycles the comparator array
    worked). The RTL's line memory and its ``sum``-mode squaring emulate what the analog RDC does in the
    pixel array; like the analytic model they are not charged (:func:`~logcam.energy.activity.rdc_counts`
    lists them).
cnn (:func:`cnn_activity_measured`)
    per layer, MACs = ``mac_cycles``·pe·simd; a first layer on RDC codes is counted as additions at the
    accumulator width (the multiplier-free convention of :func:`~logcam.energy.activity.cnn_activity`),
    the other layers as "<in bits>x8" MACs; ``cycles``: Σ ``mac_cycles`` (the analytic Σ ideal cycles).
    Memory is what the RTL moves, counters × word widths: per line-buffer step one read and one write of
    (k−1)·C_in values (hw/accel/window.py), per pool access one C_out-value word (hw/accel/pool.py;
    writes on even rows, reads on odd ones), per weight-ROM read pe·simd 8-bit weights, and the last
    layer's output beats (logits). MAC work and memory traffic both equal the analytic counts of
    :func:`~logcam.energy.activity.cnn_activity`, which models this accelerator's architecture.

Files hold totals over the run plus ``"frames"`` (counts are divided by it when loaded) and, where a
sensor frame exists (``verify rdc`` and ``verify top``), its ``"width"`` and ``"height"``; ``verify
accel`` has none, its cnn counts are per inference whatever the sensor. ``"source"`` records where the
counts came from (target, simulator, NetSpec name and input shape) and is not read back.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from logcam.energy.activity import (
    FORMAT,
    Activity,
    add_layer_memory,
    addition_bits,
    code_layer_additions,
    layer_memory_per_frame,
    rdc_counts,
)
from logcam.errors import InputError

#: Counters are COUNTER_BITS wide in the RTL and wrap; a run that could reach this is refused.
COUNTER_LIMIT = 1 << 32


def readout_activity(rdc: Any, stats: dict[str, int]) -> Activity:
    """Readout stage from the RDC's counters (``beats``, ``nonzero``) of an :class:`RdcSpec` ``rdc``."""
    counts = rdc_counts(rdc, _counter(stats, "beats", "rdc stats"), _counter(stats, "nonzero", "rdc stats"))
    return Activity(comparator_decisions=counts["comparisons"], cycles=stats["beats"])


def cnn_activity_measured(spec: Any, stats: dict[str, dict[str, int]]) -> Activity:
    """CNN stage from the accelerator's per-layer counters ``stats{i}`` of a NetSpec ``spec``."""
    shapes = spec.layer_shapes()
    act = Activity()
    for s, layer in zip(shapes, spec.layers):
        name = f"stats{s.index}"
        if name not in stats:
            raise InputError(f"stats.{name}: layer {s.index}'s counters are missing (a Verilator or Amaranth run "
                             "of the accelerator reports them)")
        c = stats[name]
        mac_cycles = _counter(c, "mac_cycles", name)
        act.cycles += mac_cycles
        if s.kind in ("add", "avgpool_global"):
            # an add takes pe channels of a pixel per cycle; the global pool adds a pixel's C values per cycle
            bits = addition_bits(spec, s.index)
            per_cycle = getattr(layer, "pe", 1) if s.kind == "add" else s.in_shape[0]
            act.adds[bits] = act.adds.get(bits, 0) + mac_cycles * per_cycle
            add_layer_memory(act, spec, s.index, rom_reads=0, steps=_counter(c, "lb_access", name), pool_writes=0,
                             pool_reads=0, out_beats=0)
            continue
        macs = mac_cycles * layer.pe * layer.simd
        if s.index == 0 and spec.input.format == "codes":
            # the analytic code-layer convention: shifted additions per MAC at the accumulator width
            acc_bits, per = code_layer_additions(spec)
            act.adds[acc_bits] = act.adds.get(acc_bits, 0) + macs * per
        else:
            key = f"{s.in_bits}x8"
            act.macs[key] = act.macs.get(key, 0) + macs
        steps_pf, pw_pf, pr_pf = layer_memory_per_frame(spec, s.index)
        per_frame = steps_pf + pw_pf + pr_pf
        lb = _counter(c, "lb_access", name)
        steps = pool_w = pool_r = 0
        if per_frame:
            # one counter adds line-buffer steps and pool accesses; split it in their per-frame proportion
            # (exact for whole frames)
            steps = round(lb * steps_pf / per_frame)
            pool_w = round(lb * pw_pf / per_frame)
            pool_r = lb - steps - pool_w
        last = s.index == len(shapes) - 1
        add_layer_memory(act, spec, s.index, rom_reads=_counter(c, "rom_reads", name), steps=steps,
                         pool_writes=pool_w, pool_reads=pool_r,
                         out_beats=_counter(c, "out_beats", name) if last else 0)
    return act


def activity_document(frames: int, stages: dict[str, Activity], *, width: int | None = None,
                      height: int | None = None, source: dict[str, Any] | None = None) -> dict[str, Any]:
    """The ``logcam-activity/1`` object: totals over ``frames`` frames, geometry of the sensor frame if any."""
    doc: dict[str, Any] = {"format": FORMAT, "frames": int(frames)}
    if width is not None and height is not None:
        doc.update(width=int(width), height=int(height))
    if source:
        doc["source"] = source
    doc["stages"] = {name: act.to_json() for name, act in stages.items()}
    return doc


def from_verify(result: Any, *, rdc: Any = None, net: Any = None) -> dict[str, Any]:
    """The activity document of a :class:`~logcam.sim.rtl.check.VerifyResult` of ``verify rdc|accel|top``.

    ``rdc``: the RdcSpec (targets rdc and top), ``net``: the NetSpec (accel and top). Counters that could
    have wrapped (≥ 2^32 over the run) are refused: verify fewer frames.
    """
    stats = result.extra.get("stats") or {}
    stages: dict[str, Activity] = {}
    geometry: dict[str, int] = {}
    source: dict[str, Any] = {"target": result.target, "sim": result.sim}
    n = result.frames
    if result.target == "rdc":
        _check_wrap(n * rdc.height * rdc.width // rdc.lanes, "rdc beats")
        stages["readout"] = readout_activity(rdc, stats)
    elif result.target in ("accel", "top"):
        _check_wrap(n * max(max(net.ideal_cycles()), *(sum(layer_memory_per_frame(net, i))
                                                      for i in range(len(net.layers)))), "accelerator counters")
        if result.target == "top":
            if "rdc_stats" not in stats:
                raise InputError("stats.rdc_stats: the top's RDC counters are missing from the run")
            stages["readout"] = readout_activity(rdc, stats["rdc_stats"])
        stages["cnn"] = cnn_activity_measured(net, stats)
        source.update(net=net.name, net_input=list(net.input.shape), net_format=net.input.format)
    else:
        raise InputError(f"activity: no counters for verify target {result.target!r} (rdc, accel, top)")
    if rdc is not None:
        geometry = {"width": rdc.width, "height": rdc.height}
        source.update(rdc_levels=rdc.levels, rdc_mode=rdc.mode, lanes=rdc.lanes)
    return activity_document(n, stages, source=source, **geometry)


def write_activity(path: str | Path, doc: dict[str, Any]) -> None:
    """Write an activity document atomically (a missing folder is one InputError line)."""
    from logcam.files import atomic_write

    atomic_write(path, lambda tmp: tmp.write_text(json.dumps(doc, indent=2) + "\n"))


def _counter(d: dict[str, int], key: str, where: str) -> int:
    if key not in d:
        raise InputError(f"{where}.{key}: counter missing from the run")
    return int(d[key])


def _check_wrap(total: int, what: str) -> None:
    if total >= COUNTER_LIMIT:
        raise InputError(f"--activity-out: the {what} would reach {total} ≥ 2^32 and wrap; verify fewer frames")


__all__ = ["COUNTER_LIMIT", "activity_document", "cnn_activity_measured", "from_verify", "layer_memory_per_frame",
           "readout_activity", "write_activity"]
