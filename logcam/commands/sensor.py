"""``logcam sensor``: the EMVA 1288 sensor model — figures, photon-transfer check, rendering scenes."""

from __future__ import annotations

import json
from pathlib import Path

import click
import numpy as np

from logcam.config import parse_sets
from logcam.errors import ConfigError
from logcam.files import OutputSet, check_writable, outputs

PRESET_HELP = "sensor preset name (configs/sensors/) or a YAML path; default tinyml_cmos"
#: Most pixels one `sensor render` may produce (frames × rows × columns): one 8192×8192 frame, ~3 GB of work arrays.
MAX_RENDER_PIXELS = 1 << 26


def _parse_sets(items: tuple[str, ...]) -> dict[str, object]:
    """``FIELD=VALUE`` pairs (VALUE parsed as YAML: 0.5, 12, null) → overrides."""
    return parse_sets(items, "gain_dn_per_e=0.5")


def _spec(preset: str, exposure_s: float | None, binning: int | None, sets: tuple[str, ...] = ()):
    from logcam.sim.sensor import load_sensor

    over: dict[str, object] = _parse_sets(sets)
    if exposure_s is not None:
        over["exposure_s"] = exposure_s
    if binning is not None:
        over["binning"] = binning
    return load_sensor(preset, **over)


def _save_png(out: OutputSet, path: Path, img8: np.ndarray) -> None:
    from PIL import Image

    out.write(path, lambda p: Image.fromarray(img8).save(p, format="PNG"))


def _save_npy(out: OutputSet, path: Path, arr: np.ndarray) -> None:
    def w(p: Path) -> None:
        with open(p, "wb") as f:
            np.save(f, arr)

    out.write(path, w)


preset_opt = click.option("--preset", default="tinyml_cmos", show_default=True, help=PRESET_HELP)
exposure_opt = click.option("--exposure-s", type=float, default=None,
                            help="exposure time in seconds (default: the preset's)")
binning_opt = click.option("--binning", type=click.Choice(["1", "2", "4"]), default=None,
                           help="b×b charge-domain binning (default: the preset's)")
set_opt = click.option("--set", "sets", multiple=True, metavar="FIELD=VALUE",
                       help="override a sensor parameter, repeatable, e.g. --set gain_dn_per_e=0.5 --set adc_bits=12")
json_opt = click.option("--json", "as_json", is_flag=True, help="print a JSON object instead of text")


@click.group("sensor")
def cli() -> None:
    """The EMVA 1288 sensor model: figures of merit, photon-transfer check, scenes → RAW DN.

    Light is illuminance at the sensor plane in lux; signals in electrons (e⁻) and DN.
    Parameters come from a preset (configs/sensors/, default tinyml_cmos) or a YAML file.

    \b
    Examples:
      logcam sensor info
      logcam sensor ptc --plot ptc.png
      logcam sensor render shapes -o raw.npy --png raw.png --lux 50 --seed 3
    """


@cli.command("presets")
@json_opt
def presets_cmd(as_json: bool) -> None:
    """List the sensor presets shipped in configs/sensors/."""
    from logcam.sim.sensor import load_sensor, preset_names

    rows = [(n, load_sensor(n).description) for n in preset_names()]
    if as_json:
        click.echo(json.dumps({n: d for n, d in rows}, indent=2))
    else:
        for n, d in rows:
            click.echo(f"{n:<14} {d}")


@cli.command("info")
@preset_opt
@exposure_opt
@binning_opt
@set_opt
@click.option("--sources", is_flag=True, help="also print where each parameter value comes from")
@json_opt
def info_cmd(preset: str, exposure_s: float | None, binning: str | None, sets: tuple[str, ...], sources: bool,
             as_json: bool) -> None:
    """Parameters and EMVA 1288 figures of a sensor preset (computed from the parameters).

    Dynamic range = μ_p.sat / μ_p.min; SNR at saturation with all temporal noise; absolute sensitivity
    threshold μ_p.min = (σ_y.dark/K + ½)/η photons.

    \b
    Examples:
      logcam sensor info
      logcam sensor info --binning 2 --exposure-s 0.004 --json
      logcam sensor info --set read_noise_e=1.5 --sources
    """
    from logcam.sim.sensor import emva_figures

    spec = _spec(preset, exposure_s, int(binning) if binning else None, sets)
    fig = emva_figures(spec)
    if as_json:
        click.echo(json.dumps({"spec": spec.model_dump(exclude=set() if sources else {"sources"}),
                               "figures": fig.as_dict()}, indent=2))
        return
    click.echo(f"{spec.name}: {spec.description}")
    for name, f in type(spec).model_fields.items():
        if name in ("name", "description", "sources"):
            continue
        click.echo(f"  {name:<22} {getattr(spec, name)!s:<12} {f.description or ''}")
    rows = [
        ("output frame", f"{spec.out_shape[1]}×{spec.out_shape[0]} pixels, {spec.adc_bits}-bit DN"),
        ("photons per lux", f"{fig.photons_per_lux:.4g} photons/pixel/exposure (555 nm equivalent)"),
        ("responsivity R=ηK", f"{fig.responsivity_dn_per_photon:.4g} DN/photon"),
        ("dark noise σ_d", f"{fig.dark_noise_e:.3g} e⁻  (σ_y.dark {fig.dark_noise_dn:.3g} DN incl. quantization)"),
        ("saturation μ_e.sat", f"{fig.saturation_capacity_e:.5g} e⁻ ({fig.saturated_by} first), "
                               f"{fig.saturation_lux:.4g} lux at this exposure"),
        ("sensitivity threshold", f"{fig.sensitivity_threshold_photons:.3g} photons = "
                                  f"{fig.sensitivity_threshold_e:.3g} e⁻ = {fig.sensitivity_threshold_lux:.3g} lux"),
        ("dynamic range", f"{fig.dynamic_range_db:.2f} dB"),
        ("SNR at saturation", f"{fig.snr_max_db:.2f} dB (shot-noise limit √μ_e.sat: {fig.snr_max_ideal_db:.2f} dB)"),
    ]
    click.echo("EMVA 1288 figures (per read-out pixel):")
    for k, v in rows:
        click.echo(f"  {k:<22} {v}")
    if sources:
        click.echo("sources:")
        for k, v in spec.sources.items():
            click.echo(f"  {k}: {v}")


@cli.command("ptc")
@preset_opt
@exposure_opt
@binning_opt
@set_opt
@click.option("--levels", type=click.IntRange(3, 500), default=24, show_default=True,
              help="number of illumination levels up to 1.3× saturation")
@click.option("--seed", type=click.IntRange(0), default=0, show_default=True,
              help="seed of the sensor's fixed patterns and of the temporal noise")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="write the photon-transfer curve (variance vs mean, DN) as a PNG")
@json_opt
def ptc_cmd(preset: str, exposure_s: float | None, binning: str | None, sets: tuple[str, ...], levels: int, seed: int,
            plot_path: Path | None, as_json: bool) -> None:
    """Measure the photon-transfer curve on simulated flat fields (EMVA 1288 two-frame method).

    Fits the system gain K, quantum efficiency η and dark noise from the frames and compares them with
    the parameters they were simulated from.

    \b
    Examples:
      logcam sensor ptc --plot ptc.png
      logcam sensor ptc --set gain_dn_per_e=0.5 --set adc_bits=12 --json
    """
    from rich.console import Console
    from rich.progress import Progress

    from logcam.sim.sensor import Sensor, emva_figures, photon_transfer

    if plot_path is not None:
        check_writable(plot_path)  # before the measurement, not after it
    spec = _spec(preset, exposure_s, int(binning) if binning else None, sets)
    sensor = Sensor(spec, seed=seed)
    with Progress(console=Console(stderr=True), transient=True, disable=as_json) as bar:
        task = bar.add_task("flat-field pairs", total=None)
        res = photon_transfer(sensor, levels, rng=seed, progress=lambda: bar.advance(task))
    fig = emva_figures(spec)
    compare = {
        "gain_dn_per_e": (spec.gain_dn_per_e, res.gain_dn_per_e),
        "quantum_efficiency": (spec.quantum_efficiency, res.quantum_efficiency),
        "read_noise_e": (spec.read_noise_e, res.read_noise_e),
        "dark_noise_e": (fig.dark_noise_e, res.dark_noise_e),
        "saturation_capacity_e": (fig.saturation_capacity_e, res.saturation_capacity_e),
        "dynamic_range_db": (fig.dynamic_range_db, res.dynamic_range_db),
        "snr_max_db": (fig.snr_max_db, res.snr_max_db),
    }
    quant_limited = res.dark_var_dn2 < 0.25
    note = ("σ_y.dark < 0.5 DN: the dark noise is quantization-limited and the read-noise estimate is "
            "unreliable (EMVA 1288 asks for σ_y.dark ≥ 0.5 DN; raise the gain)") if quant_limited else ""
    if plot_path is not None:
        _plot_ptc(plot_path, res, spec)
    if as_json:
        click.echo(json.dumps({
            "preset": spec.name, "seed": seed,
            "compare": {k: {"spec": a, "measured": b, "rel_error": (b - a) / a if a else None}
                        for k, (a, b) in compare.items()},
            "quantization_limited": bool(quant_limited), "note": note or None,
            "curve": {"lux": res.lux.tolist(), "mean_dn": res.mean_dn.tolist(), "var_dn2": res.var_dn2.tolist(),
                      "fit": res.fit_mask.tolist(), "dark_mean_dn": res.dark_mean_dn,
                      "dark_var_dn2": res.dark_var_dn2},
            "plot": str(plot_path) if plot_path else None}, indent=2))
        return
    click.echo(f"photon transfer of {spec.name} (seed {seed}, {res.lux.size} levels, "
               f"{spec.out_shape[1]}×{spec.out_shape[0]} pixels, {int(res.fit_mask.sum())} levels in the fit)")
    click.echo(f"  {'':<22} {'spec':>12} {'measured':>12} {'error':>8}")
    for k, (a, b) in compare.items():
        err = f"{100 * (b - a) / a:+.2f}%" if a else ""
        click.echo(f"  {k:<22} {a:>12.5g} {b:>12.5g} {err:>8}")
    click.echo("  (measured saturation is the EMVA max-variance point, a few % below the clip level)")
    if note:
        click.echo(f"  note: {note}")
    if plot_path is not None:
        click.echo(f"  plot: {plot_path}")


def _plot_ptc(path: Path, res, spec) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    f, ax = plt.subplots(1, 2, figsize=(10, 4))
    sig = res.mean_dn - res.dark_mean_dn
    ax[0].plot(sig, res.var_dn2 - res.dark_var_dn2, "o", ms=4, label="measured")
    ax[0].plot(sig[res.fit_mask], (res.var_dn2 - res.dark_var_dn2)[res.fit_mask], "o", ms=4, label="in fit")
    xs = np.linspace(0, sig.max(), 50)
    ax[0].plot(xs, res.gain_dn_per_e * xs, "-", label=f"fit K = {res.gain_dn_per_e:.4g} DN/e⁻")
    ax[0].plot(xs, spec.gain_dn_per_e * xs, "--", label=f"spec K = {spec.gain_dn_per_e:.4g}")
    ax[0].set(xlabel="μ_y − μ_y.dark (DN)", ylabel="σ_y² − σ_y.dark² (DN²)", title="photon transfer")
    ax[0].legend()
    ax[1].plot(res.photons, sig, "o", ms=4)
    ax[1].set(xlabel="μ_p (photons/pixel)", ylabel="μ_y − μ_y.dark (DN)",
              title=f"sensitivity: η = {res.quantum_efficiency:.3g}")
    f.tight_layout()
    try:
        with outputs() as out:
            out.write(path, lambda p: f.savefig(p, format="png", dpi=100))
    finally:
        plt.close(f)


@cli.command("render")
@click.argument("kind")
@click.option("-o", "--out", "out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="RAW DN output (.npy, uint16, H×W or N×H×W)")
@preset_opt
@exposure_opt
@binning_opt
@set_opt
@click.option("--lux", type=float, default=100.0, show_default=True,
              help="mean illuminance at the sensor plane, lux")
@click.option("--seed", type=click.IntRange(0), default=0, show_default=True,
              help="seed of the scene, of the sensor's fixed patterns and of the noise")
@click.option("--frames", type=click.IntRange(1, 10000), default=1, show_default=True,
              help="frames of the same scene (independent temporal noise); >1 writes N×H×W")
@click.option("--png", "png", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="also write the first frame through the ISP as an 8-bit sRGB-gamma PNG")
@click.option("--lux-out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="also write the scene illuminance (float64 lux, .npy)")
@json_opt
def render_cmd(kind: str, out: Path, preset: str, exposure_s: float | None, binning: str | None,
               sets: tuple[str, ...], lux: float,
               seed: int, frames: int, png: Path | None, lux_out: Path | None, as_json: bool) -> None:
    """Render scene KIND through the sensor model to RAW DN.

    KIND is a procedural scene (shapes, texture, gradient, shadow, checker, blobs) or a scikit-image
    photograph (camera, astronaut, coffee, chelsea, moon, ...; `logcam sensor scenes` lists them).

    \b
    Examples:
      logcam sensor render gradient -o raw.npy --png raw.png --lux 20 --seed 7
      logcam sensor render camera -o raw.npy --frames 8 --binning 2 --json
    """
    from logcam.sim.isp import isp, white_level_dn
    from logcam.sim.scenes import render_scene
    from logcam.sim.sensor import Sensor

    with outputs(out, lux_out, png) as files:
        spec = _spec(preset, exposure_s, int(binning) if binning else None, sets)
        pixels = frames * spec.height * spec.width
        if pixels > MAX_RENDER_PIXELS:
            raise ConfigError(f"--frames: {frames} frame(s) of {spec.width}×{spec.height} photodiodes are {pixels} "
                              f"pixels, more than the {MAX_RENDER_PIXELS} one render may take; render fewer frames")
        scene = render_scene(kind, spec.height, spec.width, seed=seed, mean_lux=lux)
        sensor = Sensor(spec, seed=seed)
        batch = np.broadcast_to(scene, (frames, *scene.shape))
        raw = sensor.capture(np.ascontiguousarray(batch), rng=seed)
        raw_out = raw[0] if frames == 1 else raw
        _save_npy(files, out, raw_out)
        if lux_out is not None:
            _save_npy(files, lux_out, scene)
        if png is not None:
            _save_png(files, png, isp(raw[0], spec))
    sat = float((raw >= white_level_dn(spec)).mean())
    summary = {"kind": kind, "preset": spec.name, "seed": seed, "mean_lux": lux,
               "lux_min": float(scene.min()), "lux_max": float(scene.max()),
               "shape": list(raw_out.shape), "dtype": "uint16", "adc_bits": spec.adc_bits,
               "dn_min": int(raw.min()), "dn_max": int(raw.max()), "dn_mean": float(raw.mean()),
               "saturated_fraction": sat, "out": str(out), "png": str(png) if png else None,
               "lux_out": str(lux_out) if lux_out else None}
    if as_json:
        click.echo(json.dumps(summary, indent=2))
    else:
        click.echo(f"{kind} → {spec.name}: {out} {raw_out.shape} uint16, DN {summary['dn_min']}..{summary['dn_max']} "
                   f"(mean {summary['dn_mean']:.1f}), scene {summary['lux_min']:.3g}..{summary['lux_max']:.3g} lux, "
                   f"{100 * sat:.2f}% saturated" + (f"; PNG {png}" if png else ""))


@cli.command("scenes")
@json_opt
def scenes_cmd(as_json: bool) -> None:
    """List scene kinds: procedural (seeded) and scikit-image photographs."""
    from logcam.sim.scenes import PHOTOGRAPHS, SCENE_KINDS

    if as_json:
        click.echo(json.dumps({"procedural": list(SCENE_KINDS), "photographs": list(PHOTOGRAPHS)}, indent=2))
    else:
        click.echo("procedural:  " + " ".join(SCENE_KINDS))
        click.echo("photographs: " + " ".join(PHOTOGRAPHS))
