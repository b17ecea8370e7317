"""``logcam experiment NAME``: the log-gradient paper's experiments; each writes CSV + plot (+ JSON)."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import click

NAMES = ("brightness", "channels", "similarity", "reconstruction", "unas")
#: SACoD's optics experiments (logcam.nn.optics_experiments), on the synthetic RGB objects.
OPTICS_NAMES = ("fm-designs", "mask-noise", "optics-vs-lens")
#: SACoD's co-search against its baselines (logcam.search.experiment, docs/search.md).
SACOD_NAMES = ("sacod",)


def _floats(text: str | None, field: str) -> tuple[float, ...] | None:
    if text is None:
        return None
    from logcam.errors import ConfigError

    vals = []
    for t in text.split(","):
        t = t.strip()
        try:
            v = 2.0 ** float(t[2:]) if t.startswith("2^") else float(t)
        except (ValueError, OverflowError):
            raise ConfigError(f"--{field}: expected comma-separated finite numbers (2^k allowed), got {t!r}") from None
        if not math.isfinite(v):
            raise ConfigError(f"--{field}: expected comma-separated finite numbers (2^k allowed), got {t!r}")
        vals.append(v)
    return tuple(vals)


@click.command("experiment")
@click.argument("name", type=click.Choice(NAMES + OPTICS_NAMES + SACOD_NAMES))
@click.option("--quick", is_flag=True, help="Tiny run (24×24 px, 150 images, 2 epochs): seconds, for smoke tests.")
@click.option("--paper", is_flag=True,
              help="The paper's settings: 224×224, 6 550 images with PASCAL RAW's class imbalance, 40 epochs, batch "
                   "64, Adam 1e-3 × 0.95/epoch, float; reconstruction 96×96, 150 epochs, Adam 2e-4, batch 128 "
                   "(hours on 2 cores: docs/experiments.md). Other options override it.")
@click.option("--large", is_flag=True, help="Larger synthetic set: 6 000 images of 6 shape classes.")
@click.option("--seeds", type=int, default=None,
              help="Seeds per cell (seed, seed+1, …): mean ± 95 %% t-interval per cell [default 1].")
@click.option("--classes", type=int, default=None, help="Synthetic shape classes, 2..8 [default 3].")
@click.option("--pascalraw", "pascalraw_root", default=None,
              help="brightness|channels|similarity|reconstruction|unas: PASCAL RAW 2014 in this folder "
                   "(annotations/*.xml + RAW files) instead of the synthetic set, its first --n objects; "
                   "brightness scales the recorded DN.")
@click.option("--imbalance", type=click.Choice(["none", "pascalraw"]), default=None,
              help="Class frequencies: balanced, or PASCAL RAW's 708 : 1765 : 4077 [default none].")
@click.option("--black-level", "black", type=click.Choice(["keep", "subtract"]), default=None,
              help="Named variant: 'subtract' takes the sensor's 16 DN black level off every frame before any "
                   "format (the RDC sees pedestal-free DN) [default keep, as the RTL path].")
@click.option("--qat", is_flag=True, help="Named variant: quantization-aware int8 networks (jpeg8, loggrad_q3/q5).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Output folder for NAME.csv, NAME.png, NAME.json [default: runs/experiments/NAME].")
@click.option("--size", type=int, default=None, help="Image height = width, pixels [default 32].")
@click.option("--n", "n_images", type=int, default=None, help="Images in the synthetic set [default 1200].")
@click.option("--epochs", type=int, default=None, help="Training epochs per network [default 8].")
@click.option("--formats", default=None,
              help="Comma-separated input formats (raw16, jpeg8, fp_loggrad, loggrad_q3, loggrad_q5).")
@click.option("--brightness", "brightness_text", default=None,
              help="brightness: comma-separated factors > 0, e.g. '2^-6,1,2^8' [default 2^-6 … 2^8].")
@click.option("--c1", "c1_text", default=None, help="channels: comma-separated c1 values ≥ 1 [default 2,4,8,16,32].")
@click.option("--seed", type=int, default=None, help="Seed of data, split, init and order [default 0].")
@click.option("--threads", type=int, default=None,
              help="torch CPU threads [default 1; more only on an idle machine].")
@click.option("--population", type=int, default=None,
              help="unas: aging-evolution population (random points first) [default 8; --paper 100].")
@click.option("--cycles", type=int, default=None,
              help="unas: evolution cycles after the population [default 12; --paper 1 900].")
@click.option("--cifar", "cifar_root", default=None,
              help="fm-designs|mask-noise|optics-vs-lens: CIFAR-10/100 python batches in this folder instead of "
                   "the synthetic RGB objects (the first --n training images).")
@click.option("--jobs", type=int, default=None,
              help="sacod: runs at once, each in its own process; the results are the same as one at a time "
                   "[default 1].")
@click.option("--device", default=None,
              help="sacod: torch device of the training steps, cpu or cuda[:N] (a GPU node with a CUDA build of "
                   "torch; export, golden model and RTL stay on the CPU) [default cpu].")
@click.option("--mask-init", "mask_init", type=click.Choice(["lens", "gabor"]), default=None,
              help="sacod: start of the learned masks (SACoD, co-train): a Fresnel lens, or the phase masks "
                   "fitted to the Gabor bank [default: the search config's, lens].")
@click.option("--area", is_flag=True, default=None,
              help="sacod: also each exported network's chip area from its own RTL (Yosys statistics, ~10-30 s "
                   "per run; 40 nm units of energy/data/area.yaml) and the paper's area comparison.")
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as JSON.")
def cli(name: str, quick: bool, paper: bool, large: bool, seeds: int | None, classes: int | None,
        imbalance: str | None, black: str | None, qat: bool, out_dir: Path | None, size: int | None,
        n_images: int | None, epochs: int | None,
        formats: str | None, brightness_text: str | None, c1_text: str | None, seed: int | None,
        threads: int | None, population: int | None, cycles: int | None, cifar_root: str | None,
        pascalraw_root: str | None, jobs: int | None, device: str | None, mask_init: str | None,
        area: bool | None, as_json: bool) -> None:
    """Run one of the paper's experiments on the synthetic RAW set (float networks, CPU).

    \b
    brightness      accuracy vs illuminance factor b (applied before the sensor), trained at b = 1
    channels        accuracy vs c1 ∈ {2, 4, 8, 16, 32} with c2 = 8, every format
    similarity      cosine similarity (Eq. 4) of layer-1/2 filter pairs, count with |s| > 0.98
    reconstruction  2-layer CNN: log-gradients (float, 3-level) → RAW, PSNR (dB) and SSIM
    unas            µNAS per format: aging evolution + structured pruning, size/MACs/memory at fixed error
    fm-designs      lensless optics: feature-map designs (a)/(b)/(c), equal training budget
    mask-noise      accuracy vs fabrication error σ, co-trained mask and Gabor bank, ± fine-tuning
    optics-vs-lens  lensless optics + CNN vs lens camera + CNN: accuracy, digital MACs, pixels, area
    sacod           co-search λ sweeps (nJ/pixel and FLOPs costs) vs Gabor+search, lens+search, co-train

    Defaults keep the paper's network widths (brightness c1 = 32, c2 = 8; similarity c1 = 150, c2 = 5;
    reconstruction 10 and 1 channels, kernel 16) and shrink images and epochs to finish in minutes on
    2 cores; --paper is the paper's own scale; --seeds N gives mean ± 95 % interval per cell. Every CSV,
    JSON and plot carries the paper's number beside ours.

    Example: logcam experiment brightness --brightness '2^-6,2^-3,1,2^4,2^8' --out /tmp/bright
    Example: logcam experiment channels --seeds 3 --large
    """
    from logcam.config import validate
    from logcam.errors import ConfigError
    from logcam.nn.experiments import LARGE, PAPER, QUICK, ExperimentConfig, run, steps

    if quick and paper:
        raise ConfigError("--paper: not together with --quick (choose one preset)")
    if name in SACOD_NAMES:
        from logcam.search.experiment import command as sacod_command

        sacod_command(quick=quick, paper=paper, out_dir=out_dir, as_json=as_json,
                      settings={"seeds": seeds, "n": n_images, "size": size, "epochs": epochs, "seed": seed,
                                "threads": threads, "cifar": cifar_root, "jobs": jobs, "device": device,
                                "mask_init": mask_init, "area": area or None},
                      unused={"--formats": formats, "--brightness": brightness_text, "--c1": c1_text,
                              "--large": large or None, "--classes": classes, "--imbalance": imbalance,
                              "--qat": qat or None, "--population": population, "--cycles": cycles,
                              "--black-level": black, "--pascalraw": pascalraw_root})
        return
    if name in OPTICS_NAMES:
        from logcam.nn.optics_experiments import OPTICS_QUICK, OpticsExperimentConfig, optics_steps, run_optics

        for opt, given in (("--formats", formats), ("--brightness", brightness_text), ("--c1", c1_text),
                           ("--paper", paper or None), ("--large", large or None), ("--seeds", seeds),
                           ("--classes", classes), ("--imbalance", imbalance), ("--qat", qat or None),
                           ("--black-level", black), ("--pascalraw", pascalraw_root)):
            if given is not None:
                raise ConfigError(f"{opt}: not an option of {name} (it takes --quick/--size/--n/--epochs/--seed)")
        quick_set, model, run_fn, steps_fn = OPTICS_QUICK, OpticsExperimentConfig, run_optics, optics_steps
    elif name == "unas":
        from logcam.nn.unas import UNAS_PAPER, UNAS_QUICK, UnasConfig, run_unas, unas_steps

        for opt, given in (("--brightness", brightness_text), ("--c1", c1_text), ("--qat", qat or None),
                           ("--cifar", cifar_root)):
            if given is not None:
                raise ConfigError(f"{opt}: not an option of unas")
        quick_set, model, run_fn, steps_fn = UNAS_QUICK, UnasConfig, run_unas, lambda _name, c: unas_steps(c)
    else:
        if cifar_root is not None:
            raise ConfigError(f"--cifar: not an option of {name} (only of {', '.join(OPTICS_NAMES)})")
        quick_set, model, run_fn, steps_fn = QUICK, ExperimentConfig, run, steps
    if (jobs, device, mask_init, area or None) != (None, None, None, None):
        raise ConfigError(f"--jobs/--device/--mask-init/--area: options of sacod only, not of {name}")
    if name != "unas" and (population, cycles) != (None, None):
        raise ConfigError(f"--population/--cycles: options of unas only, not of {name}")
    paper_set = UNAS_PAPER if name == "unas" else PAPER
    data: dict[str, object] = dict(quick_set) if quick else dict(paper_set) if paper else {}
    if large:
        data.update(LARGE)
    if qat:
        data["qat"] = True
    for key, val in (("seeds", seeds), ("classes", classes), ("imbalance", imbalance), ("black", black)):
        if val is not None:
            data[key] = val
    if cifar_root is not None:
        data["cifar"] = cifar_root
    if pascalraw_root is not None:
        data["pascalraw"] = pascalraw_root
    for key, val in (("size", size), ("n", n_images), ("epochs", epochs), ("seed", seed), ("threads", threads),
                     ("population", population), ("cycles", cycles)):
        if val is not None:
            data[key] = val
    if formats is not None:
        data["formats"] = tuple(f.strip() for f in formats.split(",") if f.strip())
    b = _floats(brightness_text, "brightness")
    if b is not None:
        data["brightness"] = b
    c1 = _floats(c1_text, "c1")
    if c1 is not None:
        if any(c != int(c) for c in c1):
            raise ConfigError(f"--c1: channel counts must be integers, got {c1_text!r}")
        data["c1"] = tuple(int(c) for c in c1)
    cfg = validate(model, data, "experiment")
    out = out_dir or Path("runs") / "experiments" / name
    if as_json or not sys.stderr.isatty():
        res = run_fn(name, cfg, out)
    else:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        with Progress(TextColumn(f"{name}"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[info]}"),
                      TimeElapsedColumn(), transient=True) as prog:
            task = prog.add_task(name, total=steps_fn(name, cfg), info="")
            res = run_fn(name, cfg, out, tick=lambda what: prog.update(task, advance=1, info=what))
    if as_json:
        click.echo(json.dumps(res.as_dict(), indent=2, default=str))
        return
    click.echo(f"{name}: {len(res.rows)} rows in {res.seconds:.1f} s → {res.csv}, {res.plot}")
    for key, val in res.summary.items():
        click.echo(f"  {key}: {json.dumps(val, default=str)}")
