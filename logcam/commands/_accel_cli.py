"""CLI pieces of the accelerator for the lead to attach: ``logcam verify accel|top`` and ``logcam rtl`` helpers.

``accel`` and ``top`` are click commands (attach with ``verify.cli.add_command(accel)``); :func:`load_net`,
:func:`accel_component`, :func:`top_component` and :func:`print_layer_stats` serve ``logcam rtl emit|stat``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
import numpy as np

from logcam.commands.verify import common_options, report, status
from logcam.errors import InputError

DEFAULT_NET = Path(__file__).resolve().parents[1] / "configs" / "nets" / "2conv1fc.yaml"

NET = click.option("--net", "net", type=click.Path(dir_okay=False, path_type=Path), default=None,
                   help="NetSpec YAML. Default: the built-in 2conv1fc network (96×96 3-level codes).")
WEIGHTS = click.option("--weights", "weights", type=click.Path(dir_okay=False, path_type=Path), default=None,
                       help="Weights bundle .npz matching the NetSpec. Default: random int8 weights from --seed.")


def load_net(net: Path | None, weights: Path | None, seed: int = 0) -> tuple[Any, Any]:
    """(NetSpec, Bundle) from files, or the built-in net and seeded random weights."""
    from logcam.nn.netspec import Bundle, NetSpec, random_bundle

    spec = NetSpec.load(net or _default_net())
    bundle = Bundle.load(spec, weights) if weights else random_bundle(spec, seed=seed)
    return spec, bundle


def _default_net() -> Path:
    from importlib.resources import files

    p = Path(str(files("logcam.configs") / "nets" / "2conv1fc.yaml"))
    return p if p.is_file() else DEFAULT_NET


def accel_component(net: Path | None, weights: Path | None, seed: int = 0) -> Any:
    """The Accelerator of a NetSpec + bundle (for ``logcam rtl emit|lint|stat accel``)."""
    from logcam.hw.accel.net import Accelerator

    return Accelerator(*load_net(net, weights, seed))


def rdc_for(spec: Any, lanes: int = 1) -> Any:
    """The RdcSpec whose codes are the NetSpec's input (hv for 2 channels, else sum)."""
    from logcam.rdcspec import RdcSpec

    inp = spec.input
    if inp.format != "codes" or inp.channels > 2:
        raise InputError(f"the top needs a NetSpec on RDC codes with 1 or 2 channels, got {inp.format} "
                         f"with {inp.channels} channel(s)")
    return RdcSpec(width=inp.width, height=inp.height, levels=inp.levels, mode="hv" if inp.channels == 2 else "sum",
                   lanes=lanes)


def top_component(net: Path | None, weights: Path | None, seed: int = 0, lanes: int = 1) -> Any:
    """RDC → accelerator Top for a NetSpec (for ``logcam rtl emit|lint|stat top``)."""
    from logcam.hw.top import Top

    spec, bundle = load_net(net, weights, seed)
    return Top(rdc_for(spec, lanes), spec, bundle)


def print_layer_stats(net: Path | None, weights: Path | None, seed: int = 0, as_json: bool = False) -> list[dict]:
    """Yosys statistics per accelerator layer (cells, $mul count, memory and FF bits); returns them."""
    from logcam.hw.accel.net import layer_stats

    spec, bundle = load_net(net, weights, seed)
    stats = layer_stats(spec, bundle)
    if as_json:
        click.echo(json.dumps(stats, indent=2))
        return stats
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{spec.name}: Yosys cells per layer (proc; flatten; opt; wreduce)")
    for col in ("layer", "type", "$mul cells", "cells", "adders", "memory bits", "FF bits", "note"):
        table.add_column(col, justify="right" if col not in ("type", "note") else "left")
    for s in stats:
        note = "multiplier-free (codes)" if s["multiplier_free"] else ""
        table.add_row(str(s["layer"]), s["type"], str(s["multipliers"]), str(s["num_cells"]),
                      str(s["by_kind"].get("adder", 0)), str(s["num_memory_bits"]), str(s["num_ff_bits"]), note)
    Console().print(table)
    return stats


def random_frames(spec: Any, n: int, seed: int) -> np.ndarray:
    """Seeded N×C×H×W integer frames over the NetSpec's whole input range."""
    rng = np.random.default_rng(seed)
    return rng.integers(spec.input.lo, spec.input.hi + 1, size=(n, *spec.input.shape), dtype=np.int64)


def scene_dn(rdc: Any, n: int, seed: int, mean_lux: float = 300.0) -> np.ndarray:
    """N×H×W DN frames of the RDC's size: seeded scenes (procedural kinds and photographs, sensor-plane lux)
    captured by the default EMVA 1288 sensor preset at the RDC's ADC resolution (no binning)."""
    from logcam.sim.scenes import SCENE_KINDS, render_scene
    from logcam.sim.sensor import Sensor, load_sensor, with_overrides

    spec = with_overrides(load_sensor(), width=rdc.width, height=rdc.height, binning=1, adc_bits=rdc.adc_bits)
    sensor = Sensor(spec, seed=seed)
    kinds = [*SCENE_KINDS, "camera", "astronaut"]
    lux = np.stack([render_scene(kinds[(seed + f) % len(kinds)], rdc.height, rdc.width, seed + f, mean_lux)
                    for f in range(n)])
    return sensor.capture(lux, rng=seed).astype(np.int64)


@click.command("accel")
@NET
@WEIGHTS
@common_options
def accel(net: Path | None, weights: Path | None, config: Path | None, n_frames: int, seed: int, sim: str,
          p_valid: float, p_ready: float, keep: Path | None, as_json: bool, activity_out: Path | None) -> None:
    """Stream frames through the accelerator RTL; every layer, the logits and the labels vs the golden model.

    Frames are seeded random inputs over the NetSpec's range (codes ±m or uint8). Cycles per frame are
    meaningful at --p-valid 1 --p-ready 1 (compare with the bound: the slowest layer's MACs / (pe·simd)).
    Exit 1 on any mismatch.

    With --activity-out F the layer counters go to F as the cnn stage (per inference, no sensor frame).

    Example: logcam verify accel --frames 3 --p-valid 1 --p-ready 1 --json --activity-out accel_activity.json
    """
    from logcam.sim.rtl.accel_verify import verify_accel

    if config is not None:
        raise InputError("verify accel takes --net and --weights, not --config")
    spec, bundle = load_net(net, weights, seed)
    x = random_frames(spec, n_frames, seed)
    with status(f"accel: {n_frames} frame(s) of {'×'.join(map(str, spec.input.shape))} on {sim}", as_json):
        result = verify_accel(spec, bundle, x, sim=sim, seed=seed, p_valid=p_valid, p_ready=p_ready, workdir=keep)
    report(result, as_json, activity_out, net=spec)


@click.command("top")
@NET
@WEIGHTS
@click.option("--lanes", type=click.IntRange(1, 64), default=1, show_default=True,
              help="RDC columns per clock (must divide the width); the accelerator takes one pixel per clock.")
@common_options
def top(net: Path | None, weights: Path | None, lanes: int, config: Path | None, n_frames: int, seed: int, sim: str,
        p_valid: float, p_ready: float, keep: Path | None, as_json: bool, activity_out: Path | None) -> None:
    """DN frames through RDC → accelerator (hw/top.py): codes, every layer, logits and labels vs the golden models.

    The RDC is the one whose codes are the NetSpec's input (mode hv for 2 channels, else sum; 10-bit DN).
    DN frames: seeded scenes (procedural and photographs, 300 lux mean at the sensor plane) captured by
    the default EMVA 1288 sensor preset. Exit 1 on any mismatch.

    With --activity-out F the RDC's and the accelerator's counters go to F (readout and cnn stages, the
    RDC's width×height as the sensor frame) for `logcam energy --activity rtl --activity-file F`.

    Example: logcam verify top --frames 2 --lanes 4 --json --activity-out top_activity.json
    """
    from logcam.sim.rtl.accel_verify import verify_top

    if config is not None:
        raise InputError("verify top takes --net, --weights and --lanes, not --config")
    spec, bundle = load_net(net, weights, seed)
    rdc = rdc_for(spec, lanes)
    dn = scene_dn(rdc, n_frames, seed)
    with status(f"top: {n_frames} DN frame(s) of {rdc.height}×{rdc.width} on {sim}", as_json):
        result = verify_top(rdc, spec, bundle, dn, sim=sim, seed=seed, p_valid=p_valid, p_ready=p_ready, workdir=keep)
    report(result, as_json, activity_out, rdc=rdc, net=spec)
