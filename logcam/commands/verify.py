"""``logcam verify rdc|accel|top``: RTL against the golden model; exit 1 on any mismatch.

Every target shares :func:`common_options` (frames, seed, simulator, handshake randomisation,
--json, --keep, --activity-out) and :func:`report` (one result format, see
:class:`logcam.sim.rtl.check.VerifyResult`). A new target is one more ``@cli.command`` here.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
import numpy as np

from logcam.commands.options import WEIGHTS_RULE, net_options
from logcam.errors import ConfigError, InputError
from logcam.sim.rtl.check import BENCHES, SIMS


def common_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Options every ``verify`` target takes."""
    opts = [
        click.option("--frames", "n_frames", type=click.IntRange(1, 100000), default=4, show_default=True,
                     help="Number of frames to stream through the RTL."),
        click.option("--seed", type=click.IntRange(0), default=0, show_default=True,
                     help="Seed of the test frames and of the valid/ready randomisation."),
        click.option("--sim", type=click.Choice(SIMS), default="verilator", show_default=True,
                     help="Verilator through cocotb (bit-exact, fast), or Amaranth's Python simulator "
                          "(no build, slow: small frames only)."),
        click.option("--p-valid", type=click.FloatRange(0.0, 1.0, min_open=True), default=0.8, show_default=True,
                     help="Probability per cycle that the source offers a beat (1 = full throughput)."),
        click.option("--p-ready", type=click.FloatRange(0.0, 1.0, min_open=True), default=0.8, show_default=True,
                     help="Probability per cycle that the sink takes a beat (1 = no backpressure)."),
        click.option("--keep", type=click.Path(file_okay=False, path_type=Path), default=None,
                     help="Keep the simulation directory here (params.json, result.json, sim.log; the memory "
                          "bench's in.bin, o.bin, tap*.bin, o_cycles.bin (accel/top only), handshake.txt; the "
                          "cycle bench's .npy)."),
        click.option("--json", "as_json", is_flag=True, help="Print the result as one JSON object."),
        click.option("--activity-out", type=click.Path(dir_okay=False, path_type=Path), default=None,
                     help="Write the RTL-counted activity (logcam-activity/1 JSON, totals over the frames) for "
                          "`logcam energy --activity rtl --activity-file`; written only if the run passes."),
        click.option("--bench", type=click.Choice(BENCHES), default="memory", show_default=True,
                     help="Verilator bench: memory (a generated shell streams the frames from a file and "
                          "randomises valid/ready in the simulator; fast) or cycle (cocotb drives every clock "
                          "edge from Python; for protocol debugging)."),
        click.option("--waves", type=click.Path(dir_okay=False, path_type=Path), default=None,
                     help="Dump a trace of the run here: FST (Verilator --trace-fst, needs lz4.h), or VCD for a "
                          ".vcd name; a separate, traced build (cached too)."),
        click.option("--coverage", is_flag=True,
                     help="Report functional coverage: codes at every threshold edge, frame edges, lanes, "
                          "requantizer ties and saturation, labels, input/output/tap stalls."),
    ]
    for opt in reversed(opts):
        fn = opt(fn)
    return functools.wraps(fn)(fn)


def status(message: str, as_json: bool) -> Any:
    """A rich spinner on stderr for long work (silent with --json or when stderr is not a terminal)."""
    import contextlib

    from rich.console import Console

    console = Console(stderr=True)
    if as_json or not console.is_terminal:
        return contextlib.nullcontext()
    return console.status(message)


def report(result: Any, as_json: bool, activity_out: Path | None = None, *, rdc: Any = None,
           net: Any = None) -> None:
    """Print a VerifyResult (text or JSON), write its activity file, and exit 1 if anything mismatched.

    ``activity_out``: where to write the counters as a logcam-activity/1 JSON
    (:func:`logcam.energy.rtl_activity.from_verify`; ``rdc``/``net`` the specs of the run), only when it passed.
    """
    if activity_out is not None:
        if result.passed:
            from logcam.energy.rtl_activity import from_verify, write_activity

            write_activity(activity_out, from_verify(result, rdc=rdc, net=net))
        else:
            click.echo(f"--activity-out {activity_out}: not written, the run did not pass", err=True)
    if not result.passed and click.get_current_context(silent=True) is not None:
        result.extra["reproduce"] = reproduce_command()
    if as_json:
        click.echo(json.dumps(result.to_json(), indent=2))
    else:
        click.echo(result.summary())
        if "coverage" in result.extra:
            from logcam.sim.rtl.coverage import Coverage

            click.echo(Coverage(result.extra["coverage"]["groups"]).summary())
    if not result.passed:
        sys.exit(1)


def reproduce_command() -> str:
    """The one command line that reruns this verify invocation: every option that differs from its default,
    and always ``--seed`` (frames and valid/ready are drawn from it)."""
    import shlex

    ctx = click.get_current_context()
    words = ["logcam", *ctx.command_path.split()[1:]]
    for param in ctx.command.params:
        if not isinstance(param, click.Option) or param.name is None:
            continue
        value = ctx.params.get(param.name)
        if param.name == "seed":
            words += ["--seed", str(value)]
        elif param.is_flag:
            if value and param.name != "as_json":
                words.append(param.opts[0])
        elif value is None or value == param.default:
            continue
        else:
            words += [param.opts[0], str(value)]
    return shlex.join(words)


def load_image(path: Path) -> np.ndarray:
    """DN frames from .npy (H×W or N×H×W integers), .png or .tif/.tiff (grey, 8 or 16 bit)."""
    if not path.is_file():
        raise InputError(f"--image {path}: no such file")
    suffix = path.suffix.lower()
    try:
        if suffix == ".npy":
            from logcam.files import load_npy

            arr = load_npy(path)
        elif suffix in (".tif", ".tiff"):
            arr = _read_tiff(path)
        elif suffix == ".png":
            from PIL import Image

            with Image.open(path) as img:
                if img.mode not in ("L", "I;16", "I;16B", "I;16L", "I"):
                    raise InputError(f"--image {path}: need a greyscale PNG (mode L or I;16), got mode {img.mode}")
                arr = np.array(img)  # a writable copy
        else:
            raise InputError(f"--image {path}: unsupported type {suffix or '(none)'}; use .npy, .png, .tif or .tiff")
    except InputError:
        raise
    except Exception as err:  # unreadable file: one line, named
        raise InputError(f"--image {path}: cannot read ({type(err).__name__}: {err})") from None
    if arr.dtype.kind not in "iu":
        raise InputError(f"--image {path}: DN must be integers, got dtype {arr.dtype}")
    if arr.ndim not in (2, 3):
        raise InputError(f"--image {path}: expected H×W or N×H×W, got shape {arr.shape}")
    if arr.size == 0:
        raise InputError(f"--image {path}: no pixels (shape {arr.shape})")
    if not arr.dtype.isnative:
        arr = arr.astype(arr.dtype.newbyteorder("="))
    return arr if arr.ndim == 3 else arr[None]


def _read_tiff(path: Path) -> np.ndarray:
    """The first image of a TIFF file; a file with no readable image is one InputError (tifffile's own
    complaints about a broken file are logged, so they are silenced here in favour of that line)."""
    import logging

    import tifffile

    log = logging.getLogger("tifffile")
    level = log.level
    log.setLevel(logging.CRITICAL + 1)
    try:
        with tifffile.TiffFile(path) as tif:
            if not tif.pages or tif.pages.first is None:
                raise InputError(f"--image {path}: no image in this TIFF file (broken or empty)")
            return tif.asarray()
    finally:
        log.setLevel(level)


def check_outputs(sim: str, keep: Path | None, activity_out: Path | None, waves: Path | None = None) -> None:
    """Check ``--keep``, ``--activity-out`` and ``--waves`` before any work, so a bad path fails in one line,
    not after a run."""
    from logcam.files import check_folder, check_writable

    if keep is not None:
        if sim != "verilator":
            raise ConfigError("--keep: keeps the Verilator simulation folder; it does not apply to --sim amaranth")
        check_folder(keep)
    if activity_out is not None:
        check_writable(activity_out)
    if waves is not None:
        if sim != "verilator":
            raise ConfigError("--waves: the FST trace comes from Verilator; it does not apply to --sim amaranth")
        check_writable(waves)


@click.group("verify")
def cli() -> None:
    """Check RTL against the golden model, value by value; exit 1 on any mismatch.

    The design is generated from the config, simulated under Verilator through cocotb (or
    Amaranth's Python simulator with --sim amaranth), and every output is compared with the
    bit-exact golden model. A mismatch names frame, channel, row, column, expected and got.
    """


@cli.command("rdc")
@click.option("--config", "config", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="RDC YAML (its `rdc:` section, or a bare mapping). Default: the built-in RDC.")
@common_options
@click.option("--image", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Verify on these DN frames (.npy H×W or N×H×W, .png, .tif) instead of generated ones; "
                   "the RDC takes the image's height and width.")
@click.option("--lanes", type=click.IntRange(1, 64), default=None,
              help="Columns per clock (overrides the config; must divide the width).")
@click.option("--source", type=click.Choice(["mixed", "random", "corners", "scenes"]), default="mixed",
              show_default=True, help="Generated frames: corner cases, sensor-model scenes, uniform random DN.")
def rdc(config: Path | None, n_frames: int, seed: int, sim: str, p_valid: float, p_ready: float,
        keep: Path | None, as_json: bool, activity_out: Path | None, bench: str, waves: Path | None, coverage: bool,
        image: Path | None, lanes: int | None, source: str) -> None:
    """The column-parallel RDC against logcam's RDC golden model (rdc_codes).

    Frames (default: corner cases, scenes through the sensor model and uniform random DN, in
    equal shares) stream in with randomised valid and out with randomised ready; --json prints
    mismatches, pixels, frames, cycles, ideal_cycles (frames·H·W/lanes), wall_s and more.

    Example: logcam verify rdc --frames 8 --lanes 2 --json --activity-out rdc_activity.json
    """
    from logcam.hw.rdc import load_rdc_spec
    from logcam.sim.rtl.rdc_verify import verify_rdc

    check_outputs(sim, keep, activity_out, waves)
    frames = None
    overrides: dict[str, object] = {"lanes": lanes}
    if image is not None:
        frames = load_image(image)
        overrides.update(height=int(frames.shape[1]), width=int(frames.shape[2]))
    spec = load_rdc_spec(config, **overrides)
    if sim == "amaranth" and spec.width * spec.height * (frames.shape[0] if frames is not None else n_frames) > 2e5:
        raise ConfigError("--sim amaranth: more than 200000 pixels would take minutes; use --sim verilator")
    n = frames.shape[0] if frames is not None else n_frames
    with status(f"rdc: {n} frame(s) of {spec.width}×{spec.height} through {sim} "
                f"(a new configuration builds first)…", as_json):
        result = verify_rdc(spec, frames, n_frames=n_frames, seed=seed, sim=sim, p_valid=p_valid,
                            p_ready=p_ready, source=source, workdir=keep, bench=bench, waves=waves,
                            coverage=coverage)
    report(result, as_json, activity_out, rdc=spec)


@cli.command("accel")
@net_options
@common_options
def accel(net: Path | None, weights: Path | None, random_weights: int | None, n_frames: int, seed: int, sim: str,
          p_valid: float, p_ready: float, keep: Path | None, as_json: bool, activity_out: Path | None, bench: str,
          waves: Path | None, coverage: bool) -> None:
    """Stream frames through the accelerator RTL; every layer, the logits and the labels vs the golden model.

    Frames are seeded random inputs over the NetSpec's range (codes ±m or uint8). Cycles per frame are
    meaningful at --p-valid 1 --p-ready 1 (compare with the bound: the slowest layer's MACs / (pe·simd)).
    Exit 1 on any mismatch.

    With --activity-out F the layer counters go to F as the cnn stage (per inference, no sensor frame).

    {rule}

    Example: logcam verify accel --frames 3 --p-valid 1 --p-ready 1 --json --activity-out accel_activity.json
    """
    from logcam.nn.netspec import load_net
    from logcam.sim.rtl.accel_verify import random_inputs, verify_accel

    check_outputs(sim, keep, activity_out, waves)
    spec, bundle, _ = load_net(net, weights, random_weights)
    x = random_inputs(spec, n_frames, seed)
    with status(f"accel: {n_frames} frame(s) of {'×'.join(map(str, spec.input.shape))} on {sim}", as_json):
        result = verify_accel(spec, bundle, x, sim=sim, seed=seed, p_valid=p_valid, p_ready=p_ready, workdir=keep,
                              bench=bench, waves=waves, coverage=coverage)
    report(result, as_json, activity_out, net=spec)


@cli.command("top")
@net_options
@click.option("--lanes", type=click.IntRange(1, 64), default=1, show_default=True,
              help="RDC columns per clock (must divide the width); the accelerator takes one pixel per clock.")
@common_options
def top(net: Path | None, weights: Path | None, random_weights: int | None, lanes: int, n_frames: int, seed: int,
        sim: str, p_valid: float, p_ready: float, keep: Path | None, as_json: bool,
        activity_out: Path | None, bench: str, waves: Path | None, coverage: bool) -> None:
    """DN frames through RDC → accelerator (hw/top.py): codes, every layer, logits and labels vs the golden models.

    The RDC is the one whose codes are the NetSpec's input (mode hv for 2 channels, else sum; 10-bit DN).
    DN frames: seeded scenes (procedural and photographs, mean sensor-plane illuminance cycled from 3 to
    30 000 lux) captured by the default EMVA 1288 sensor preset. Exit 1 on any mismatch.

    With --activity-out F the RDC's and the accelerator's counters go to F (readout and cnn stages, the
    RDC's width×height as the sensor frame) for `logcam energy --activity rtl --activity-file F`.

    {rule}

    Example: logcam verify top --frames 2 --lanes 4 --json --activity-out top_activity.json
    """
    from logcam.frontend import rdc_feeding
    from logcam.nn.netspec import load_net
    from logcam.sim.frames import scene_dn_frames
    from logcam.sim.rtl.accel_verify import verify_top

    check_outputs(sim, keep, activity_out, waves)
    spec, bundle, _ = load_net(net, weights, random_weights)
    rdc = rdc_feeding(spec, lanes=lanes)
    dn = scene_dn_frames(rdc.height, rdc.width, rdc.adc_bits, n_frames, seed)
    with status(f"top: {n_frames} DN frame(s) of {rdc.height}×{rdc.width} on {sim}", as_json):
        result = verify_top(rdc, spec, bundle, dn, sim=sim, seed=seed, p_valid=p_valid, p_ready=p_ready, workdir=keep,
                            bench=bench, waves=waves, coverage=coverage)
    report(result, as_json, activity_out, rdc=rdc, net=spec)


accel.help = (accel.help or "").replace("{rule}", WEIGHTS_RULE)
top.help = (top.help or "").replace("{rule}", WEIGHTS_RULE)


@cli.command("mutate")
@click.argument("target", type=click.Choice(["rdc", "accel", "top"]), default="rdc")
@click.option("--config", "config", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="rdc: RDC YAML (its `rdc:` section, or a bare mapping). Default: the built-in RDC.")
@net_options
@click.option("--lanes", type=click.IntRange(1, 64), default=None,
              help="rdc, top: RDC columns per clock (overrides the config; must divide the width).")
@click.option("--frames", "n_frames", type=click.IntRange(2, 1000), default=None,
              help="accel, top: frames of the regression (half synthetic objects, half random inputs or scenes). "
                   "Default: 6.")
@click.option("--count", type=click.IntRange(0), default=48, show_default=True,
              help="Mutants to run, spread over the design's blocks (0: every candidate).")
@click.option("--seed", type=click.IntRange(0), default=0, show_default=True,
              help="Seed of the mutant choice, the regression's frames and the valid/ready randomisation.")
@click.option("--jobs", type=click.IntRange(1, 256), default=None,
              help="Parallel processes (one Verilator build + run each). Default: the CPU count.")
@click.option("--p-valid", type=click.FloatRange(0.0, 1.0, min_open=True), default=0.8, show_default=True,
              help="Probability per cycle that the source offers a beat.")
@click.option("--p-ready", type=click.FloatRange(0.0, 1.0, min_open=True), default=0.8, show_default=True,
              help="Probability per cycle that the sink takes a beat.")
@click.option("--coverage", is_flag=True,
              help="Run no mutant: report the functional coverage of the regression on the unmutated design.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object.")
def mutate(target: str, config: Path | None, net: Path | None, weights: Path | None, random_weights: int | None,
           lanes: int | None, n_frames: int | None, count: int, seed: int, jobs: int | None, p_valid: float,
           p_ready: float, coverage: bool, as_json: bool) -> None:
    """Mutation testing: single-point faults in the generated Verilog, each built and run against the regression.

    Every mutant (a flipped comparison, a constant off by one, & ↔ |, a dropped inversion, swapped ?: arms,
    a dropped operand bit, a net stuck at 0/1, a register enable stuck) is one Verilator build (cached by
    content) run on the target's regression with random valid/ready, every value compared bit-exactly with
    the golden model. rdc: every corner case, scenes and random frames, a truncated frame and back-to-back
    frames without `first`; accel, top: `verify accel|top` on --frames frames. A mutant that survives is
    handed to Yosys (equiv_make/equiv_simple/equiv_induct): proven equivalent, or survived. Reports killed /
    survived / equivalent / timed out per block, the mutation score and each survivor's diff. Exit 1 if a
    mutant survives. --coverage: the regression's functional coverage instead (no mutant runs).

    Example: logcam verify mutate accel --count 24 --jobs 2 --json
    """
    from logcam.sim.rtl.mutate import mutate_net, mutate_rdc
    from logcam.sim.rtl.targets import DesignOptions, get_target

    options = DesignOptions(config=config, net=net, weights=weights, random_weights=random_weights, lanes=lanes)
    from logcam.sim.rtl.emit import quiet_unused

    quiet_unused(get_target(target).component(options)[1])  # an option the target does not take: one error line
    if target == "rdc" and n_frames is not None:
        raise ConfigError("--frames: does not apply to rdc (its regression's frames are fixed: every corner case, "
                          "2 scenes, 2 random frames)")
    n_frames = n_frames or 6
    if coverage:
        from logcam.sim.rtl.mutate import regression_coverage

        with status(f"mutate {target}: coverage of the regression", as_json):
            cov = regression_coverage(target, options, frames=n_frames, seed=seed, p_valid=p_valid, p_ready=p_ready)
        click.echo(json.dumps(cov.to_json(), indent=2) if as_json else cov.summary())
        return
    import contextlib

    from rich.console import Console
    from rich.progress import Progress

    console = Console(stderr=True)
    show = not as_json and console.is_terminal
    with contextlib.ExitStack() as stack:
        progress = stack.enter_context(Progress(console=console, transient=True)) if show else None
        task = progress.add_task(f"mutants of {target}", total=None) if progress else None

        def tick(res: Any, total: int) -> None:
            if progress is not None and task is not None:
                progress.update(task, total=total, advance=1)

        if target == "rdc":
            from logcam.hw.rdc import load_rdc_spec

            result = mutate_rdc(load_rdc_spec(config, lanes=lanes), count=count or None, seed=seed, jobs=jobs,
                                p_valid=p_valid, p_ready=p_ready, progress=tick)
        else:
            result = mutate_net(target, options, frames=n_frames, count=count or None, seed=seed, jobs=jobs,
                                p_valid=p_valid, p_ready=p_ready, progress=tick)
    if as_json:
        click.echo(json.dumps(result.to_json(), indent=2))
    else:
        click.echo(result.summary() if result.baseline == "passed"
                   else f"mutate {target}: the unmutated design fails the regression ({result.baseline})")
    if result.baseline != "passed" or result.survivors or result.count("error"):
        sys.exit(1)
