"""``logcam train CONFIG``: train a network on a RAW dataset in one input format; optionally export to int8."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click


@click.command("train")
@click.argument("config", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--export", "export_stem", type=click.Path(path_type=Path), default=None,
              help="Write the int8 network as STEM.yaml (NetSpec) + STEM.npz (weights bundle).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder for checkpoints (best.pt, last.pt) and history.json.")
@click.option("--epochs", type=click.IntRange(1, 1000), default=None, help="Override the config's epochs.")
@click.option("--seed", type=click.IntRange(0, (1 << 63) - 1), default=None,
              help="Override the config's seed (split, init, order).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object instead of a summary.")
def cli(config: Path, export_stem: Path | None, out_dir: Path | None, epochs: int | None, seed: int | None,
        as_json: bool) -> None:
    """Train the 2conv1fc family on a RAW dataset (configs/train/*.yaml) and report float and int8 accuracy.

    Recipe of the log-gradient paper: Adam lr 1e-3, ×0.95 per epoch, batch 64, 70/15/15 split, best
    validation checkpoint; quantization-aware for the formats the accelerator takes (loggrad_q3/q5, jpeg8).
    With --export the integer accuracy on the test split comes from the bit-exact golden model.

    Example (reproduces the bundled network):

        logcam train configs/train/default.yaml --export configs/nets/2conv1fc
    """
    from logcam.config import validate
    from logcam.files import atomic_write, check_folder
    from logcam.nn.export import check_export, export_bundle, golden_accuracy, write_export
    from logcam.nn.optics_train import is_optics_config, train_command
    from logcam.nn.train import TrainConfig, load_train_config, train

    if is_optics_config(config):  # an `optics:` section: PhlatCam optics + CNN (logcam.nn.optics_train)
        summary = train_command(config, export_stem, out_dir, epochs, seed)
        click.echo(json.dumps(summary, indent=2) if as_json else
                   f"optics {summary['optics']} design {summary['design']}: test accuracy {summary['test_acc']:.3f}"
                   + (f", int8 {summary['int8_test_acc']:.3f} → {summary['netspec']}" if export_stem else ""))
        return
    cfg = load_train_config(config)
    if epochs is not None or seed is not None:
        over = {k: v for k, v in (("epochs", epochs), ("seed", seed)) if v is not None}
        cfg = validate(TrainConfig, {**cfg.model_dump(), **over}, where=config.name)
    # every destination is checked before training, which takes minutes
    if export_stem is not None:
        check_export(export_stem)
    if out_dir is not None:
        check_folder(out_dir)
    res = train(cfg, ckpt_dir=out_dir, progress=not as_json and sys.stderr.isatty())
    out: dict[str, object] = {
        "config": str(config), "format": res.fmt.name, "images": len(res.data), "classes": list(res.data.class_names),
        "split": [len(s) for s in res.splits], "epochs": cfg.epochs, "qat": cfg.use_qat,
        "val_acc": res.val_acc, "test_acc": res.test_acc, "train_images_per_s": res.images_per_s,
        "train_seconds": res.seconds}
    if export_stem is not None:
        spec, bundle = export_bundle(res.model, res.fmt, cfg.name)
        te = res.splits[2]
        acc, _ = golden_accuracy(spec, bundle, res.fmt.integer(res.data.frames[te]), res.data.labels[te])
        ypath, npath = write_export(spec, bundle, export_stem,
                                    header=f"{spec.name}: exported by `logcam train {config}`")
        out.update(int8_test_acc=acc, netspec=str(ypath), bundle=str(npath))
    if out_dir is not None:
        from logcam.files import make_folder

        make_folder(out_dir)
        text = json.dumps({"summary": out, "history": res.history}, indent=2)
        atomic_write(out_dir / "history.json", lambda p: p.write_text(text, encoding="utf-8"))
    if as_json:
        click.echo(json.dumps(out, indent=2))
        return
    click.echo(f"{res.fmt.name}: {len(res.data)} images {res.data.counts()} split {out['split']}, "
               f"{cfg.epochs} epochs ({'QAT' if cfg.use_qat else 'float'}), "
               f"{res.images_per_s:.0f} images/s")
    click.echo(f"accuracy: val {res.val_acc:.3f}, test {res.test_acc:.3f} (float model)")
    if export_stem is not None:
        click.echo(f"int8 (golden model) test accuracy {out['int8_test_acc']:.3f} → {out['netspec']}, {out['bundle']}")
