"""``logcam golden``: run the bit-exact golden models on files (RDC codes, accelerator layers)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import click
import numpy as np

from logcam.errors import InputError
from logcam.files import load_npy, outputs

json_opt = click.option("--json", "as_json", is_flag=True, help="print a JSON summary instead of text")
BATCH = 64  # frames per golden-model call (bounds memory: 64 × 96×96 frames of int64 is a few MB per layer)


# --- $readmemh text -------------------------------------------------------------------------------

def to_hex(codes: np.ndarray, bits: int) -> str:
    """$readmemh text: a ``//`` header with the shape, then one two's-complement code per line, row-major."""
    digits = -(-bits // 4)
    mask = (1 << bits) - 1
    vals = (codes.astype(np.int64).ravel() & mask).tolist()
    head = (f"// logcam rdc codes: shape {'x'.join(map(str, codes.shape))}, {bits}-bit two's complement, "
            f"row-major, one per line\n")
    return head + "".join(f"{v:0{digits}x}\n" for v in vals)


def from_hex(text: str) -> np.ndarray:
    """Inverse of :func:`to_hex`: the int8 codes with the shape and width named in the header."""
    lines = text.splitlines()
    head = lines[0]
    if not head.startswith("// logcam rdc codes: shape "):
        raise InputError("not a logcam rdc hex file (header missing)")
    shape_s, bits_s = head[len("// logcam rdc codes: shape "):].split(", ")[:2]
    shape = tuple(int(v) for v in shape_s.split("x"))
    bits = int(bits_s.split("-")[0])
    vals = np.array([int(v, 16) for v in lines[1:] if v and not v.startswith("//")], dtype=np.int64)
    vals = np.where(vals >= 1 << (bits - 1), vals - (1 << bits), vals)
    return vals.astype(np.int8).reshape(shape)


# --- group ------------------------------------------------------------------------------------------

@click.group("golden")
def cli() -> None:
    """Bit-exact golden models on files: the RDC (DN → log-gradient codes) and the CNN accelerator
    (codes or 8-bit pixels → every layer's integers, logits, label); the network as ONNX.

    Example: logcam golden rdc raw.npy -o codes.npy && logcam golden accel codes.npy -o out.npz --random-weights 1
    """


def _rdc_spec(config: Path | None, section: str | None, frames: np.ndarray):
    from logcam.config import read_yaml, validate
    from logcam.rdcspec import RdcSpec

    data: dict = {}
    where = "rdc"
    if config is not None:
        raw = read_yaml(config) or {}
        if not isinstance(raw, dict):
            raise InputError(f"{config}: expected a mapping of RdcSpec fields")
        if section:
            if section not in raw:
                raise InputError(f"{config}: no top-level key {section!r} (--section); "
                                 f"keys: {', '.join(map(str, raw))}")
            raw = raw[section] or {}
            if not isinstance(raw, dict):
                raise InputError(f"{config}:{section}: expected a mapping of RdcSpec fields")
        data = dict(raw)
        where = config.name + (f":{section}" if section else "")
    h, w = int(frames.shape[-2]), int(frames.shape[-1])
    for key, got in (("height", h), ("width", w)):
        if key in data and data[key] != got:
            raise InputError(f"{where}: {key} is {data[key]} but the input frames are {h}×{w} (H×W)")
        data[key] = got
    if "lanes" not in data and w % RdcSpec.model_fields["lanes"].default:
        data["lanes"] = 1  # lanes shapes the RTL only, never the codes
    return validate(RdcSpec, data, where=where)


def _save_npy(path: Path, arr: np.ndarray) -> None:
    with open(path, "wb") as f:
        np.save(f, arr)


def _rdc_run(in_path: Path, config: Path | None, section: str | None):
    """(RdcSpec, codes) of the DN frames in ``in_path``."""
    from logcam.nn.golden.rdc import check_frames, rdc_codes

    frames = load_npy(in_path)
    if frames.ndim not in (2, 3):
        raise InputError(f"{in_path}: expected H×W or N×H×W DN frames, got shape {tuple(frames.shape)}")
    if frames.shape[-1] < 2 or frames.shape[-2] < 2:
        raise InputError(f"{in_path}: frames must be at least 2×2, got {tuple(frames.shape[-2:])}")
    spec = _rdc_spec(config, section, frames)
    check_frames(frames, spec, name=str(in_path))
    codes = rdc_codes(frames, spec).numpy()
    return spec, codes[0] if frames.ndim == 2 else codes


@cli.command("rdc")
@click.argument("in_path", metavar="IN.npy", type=click.Path(path_type=Path))
@click.option("-o", "--output", "out_path", required=True, type=click.Path(path_type=Path),
              help="codes out: .npy (int8) or, with --format hex, $readmemh text")
@click.option("--config", type=click.Path(path_type=Path), default=None,
              help="YAML mapping of RdcSpec fields (levels, thresholds, mode, adc_bits, ...); default: defaults")
@click.option("--section", default=None, help="read the RdcSpec from this top-level key of --config (e.g. rdc)")
@click.option("--format", "fmt", type=click.Choice(["npy", "hex"]), default="npy", show_default=True,
              help="npy: int8 array; hex: one two's-complement code per line at the code width, row-major")
@json_opt
def rdc_cmd(in_path: Path, out_path: Path, config: Path | None, section: str | None, fmt: str, as_json: bool) -> None:
    """DN frames (IN.npy: H×W or N×H×W unsigned integers ≤ 2^adc_bits − 1) → RDC codes (C×H×W or N×C×H×W, int8).

    The frame size comes from IN.npy; a --config that sets width/height must agree with it. lanes (an RTL
    parameter that does not change the codes) falls back to 1 when the default 4 does not divide the width.
    Codes: ±1 for 3 levels, up to ±3 for 7; C = 2 for mode hv. Example:

      logcam golden rdc raw.npy -o codes.hex --format hex --config rdc.yaml
    """
    t0 = time.perf_counter()
    with outputs(out_path) as out:
        spec, codes = _rdc_run(in_path, config, section)
        if fmt == "hex":
            text = to_hex(codes, spec.code_bits)
            out.write(out_path, lambda p: p.write_text(text, encoding="ascii"))
        else:
            out.write(out_path, lambda p: _save_npy(p, codes))
    vals, counts = np.unique(codes, return_counts=True)
    summary = {"command": "golden rdc", "input": str(in_path), "output": str(out_path), "format": fmt,
               "shape": list(codes.shape), "code_bits": spec.code_bits,
               "spec": json.loads(spec.model_dump_json()),
               "histogram": {str(int(v)): int(c) for v, c in zip(vals, counts)},
               "wall_s": round(time.perf_counter() - t0, 4)}
    if as_json:
        click.echo(json.dumps(summary, indent=2))
    else:
        hist = ", ".join(f"{k}: {v}" for k, v in summary["histogram"].items())
        click.echo(f"{out_path}: codes {'×'.join(map(str, codes.shape))} ({spec.levels} levels, mode {spec.mode}, "
                   f"{fmt}); histogram {hist}")


def _save_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    with open(path, "wb") as f:
        np.savez(f, **arrays)


def _accel_layers(spec, bundle, xb, rounding: str | None, progress: bool) -> tuple[dict[str, np.ndarray], int, float]:
    """Every layer's arrays for the batch ``xb`` (in chunks of BATCH frames), the frame count, the end time."""
    from rich.console import Console
    from rich.progress import Progress

    from logcam.nn.golden.accel import run

    n = int(xb.shape[0])
    parts = []
    with Progress(console=Console(stderr=True), transient=True, disable=not progress or n <= BATCH) as bar:
        task = bar.add_task("golden accel", total=n)
        for i in range(0, n, BATCH):
            parts.append(run(spec, bundle, xb[i:i + BATCH], rounding=rounding))  # type: ignore[arg-type]
            bar.advance(task, min(BATCH, n - i))
    t_end = time.perf_counter()
    arrays = {k: np.concatenate([p.arrays()[k] for p in parts]) for k in parts[0].arrays()}
    return arrays, n, t_end


@cli.command("accel")
@click.argument("in_path", metavar="IN.npy", type=click.Path(path_type=Path))
@click.option("-o", "--output", "out_path", required=True, type=click.Path(path_type=Path),
              help=".npz with layer{i}.acc (int32), layer{i}.act (int8), logits (int8), labels (int64)")
@click.option("--net", type=click.Path(path_type=Path), default=None,
              help="NetSpec YAML; default: the embedded configs/nets/2conv1fc.yaml")
@click.option("--weights", type=click.Path(path_type=Path), default=None,
              help="weights bundle .npz; default: NET.npz next to the NetSpec if present")
@click.option("--random-weights", type=click.IntRange(0), default=None, metavar="SEED",
              help="use random int8 weights drawn with this seed (tests, benchmarks)")
@click.option("--rounding", type=click.Choice(["half_up", "half_even", "tflite_double"]), default=None,
              help="override the NetSpec's requant rounding (tflite_double: comparison only, not in RTL)")
@click.option("--onnx", "onnx_path", type=click.Path(path_type=Path), default=None,
              help="also write the network as an ONNX graph (QLinearConv; rounds ties to even)")
@json_opt
def accel_cmd(in_path: Path, out_path: Path, net: Path | None, weights: Path | None, random_weights: int | None,
              rounding: str | None, onnx_path: Path | None, as_json: bool) -> None:
    """Integer CNN golden model: IN.npy (C×H×W or N×C×H×W codes ±m or uint8 pixels, per the NetSpec input)
    → every layer's int32 accumulators and int8 activations, the logits and the labels (argmax, ties → lowest).

    Example: logcam golden accel codes.npy -o layers.npz --random-weights 3 --onnx net.onnx --json
    """
    from logcam.nn.golden.accel import as_input_batch

    t0 = time.perf_counter()
    from logcam.nn.netspec import load_net

    with outputs(out_path, onnx_path) as out:
        spec, bundle, wsrc = load_net(net, weights, random_weights)
        x = load_npy(in_path)
        xb = as_input_batch(spec, x, name=str(in_path))
        arrays, n, t_run = _accel_layers(spec, bundle, xb, rounding, progress=not as_json)
        if x.ndim == 3:
            arrays = {k: v[0] for k, v in arrays.items()}
        out.write(out_path, lambda p: _save_npz(p, arrays))
        if onnx_path is not None:
            import onnx

            from logcam.nn.onnx_export import build_model

            model = build_model(spec, bundle)
            out.write(onnx_path, lambda p: onnx.save_model(model, str(p)))
    t_run -= t0
    labels = np.atleast_1d(arrays["labels"])

    summary = {"command": "golden accel", "net": spec.name, "weights": wsrc, "input": str(in_path),
               "output": str(out_path), "onnx": str(onnx_path) if onnx_path else None,
               "onnx_rounding": "half_even" if onnx_path else None,
               "rounding": rounding or spec.quant.rounding, "frames": int(n),
               "layers": [{"index": s.index, "kind": s.kind, "acc_shape": list(s.conv_shape),
                           "act_shape": list(s.out_shape)} for s in spec.layer_shapes()],
               "labels": labels.tolist() if n <= 64 else None,
               "label_counts": {str(int(v)): int(c) for v, c in zip(*np.unique(labels, return_counts=True))},
               "wall_s": round(time.perf_counter() - t0, 4), "frames_per_s": round(n / max(t_run, 1e-9), 1)}
    if as_json:
        click.echo(json.dumps(summary, indent=2))
        return
    click.echo(f"{out_path}: {n} frame(s) through {spec.name} ({len(spec.layers)} layers, weights {wsrc}, "
               f"rounding {summary['rounding']}); labels {summary['label_counts']}")
    if onnx_path is not None:
        rnd = spec.quant.rounding
        note = "" if rnd == "half_even" else f" — the NetSpec rounds {rnd}; ONNX rounds ties to even"
        click.echo(f"{onnx_path}: ONNX graph (QLinearConv, opset 19){note}")


def first_mismatch(golden, ort_out: dict[str, np.ndarray]) -> tuple[int, str | None]:
    """(number of differing values over all layers and labels, description of the first one)."""
    total, first = 0, None
    for i, want_t in enumerate(golden.acts):
        want, got = want_t.numpy(), ort_out[f"layer{i}"]
        bad = np.argwhere(want != got)
        total += len(bad)
        if len(bad) and first is None:
            idx = tuple(int(v) for v in bad[0])
            coords = f", y={idx[2]}, x={idx[3]}" if len(idx) == 4 else ""
            first = (f"frame {idx[0]}, layer {i}, channel {idx[1]}{coords}: expected {int(want[idx])}, "
                     f"onnxruntime {int(got[idx])}")
    lbad = np.flatnonzero(golden.labels.numpy() != ort_out["labels"])
    total += len(lbad)
    if len(lbad) and first is None:
        f = int(lbad[0])
        first = f"frame {f}, label: expected {int(golden.labels[f])}, onnxruntime {int(ort_out['labels'][f])}"
    return total, first


@cli.command("onnx")
@click.option("-o", "--output", "out_path", required=True, type=click.Path(path_type=Path), help="ONNX file to write")
@click.option("--net", type=click.Path(path_type=Path), default=None,
              help="NetSpec YAML; default: the embedded configs/nets/2conv1fc.yaml")
@click.option("--weights", type=click.Path(path_type=Path), default=None,
              help="weights bundle .npz; default: NET.npz next to the NetSpec if present")
@click.option("--random-weights", type=click.IntRange(0), default=None, metavar="SEED",
              help="use random int8 weights drawn with this seed")
@click.option("--check", "check_path", type=click.Path(path_type=Path), default=None, metavar="IN.npy",
              help="run IN.npy through onnxruntime and the golden model (half_even) and compare every layer")
@json_opt
def onnx_cmd(out_path: Path, net: Path | None, weights: Path | None, random_weights: int | None,
             check_path: Path | None, as_json: bool) -> None:
    """Export the network as ONNX (QLinearConv/Clip/MaxPool/ArgMax, int8, opset 19), optionally cross-checked.

    ONNX rounds requantization ties to even, so --check compares with the golden model in half_even mode;
    onnxruntime is exact where acc·m fits float32 (docs/netspec.md). Exit 1 on any mismatch. Example:

      logcam golden onnx -o net.onnx --random-weights 1 --check codes.npy --json
    """
    import onnx

    from logcam.nn.golden.accel import as_input_batch, run
    from logcam.nn.onnx_export import OPSET, build_model, ort_exact, run_onnxruntime

    t0 = time.perf_counter()
    from logcam.nn.netspec import load_net

    summary: dict = {"command": "golden onnx", "output": str(out_path), "opset": OPSET, "rounding": "half_even"}
    with outputs(out_path) as out:
        spec, bundle, wsrc = load_net(net, weights, random_weights)
        summary.update(net=spec.name, weights=wsrc, netspec_rounding=spec.quant.rounding)
        xb = as_input_batch(spec, load_npy(check_path), name=str(check_path)) if check_path is not None else None
        model = build_model(spec, bundle)
        if xb is not None:
            import torch

            g = run(spec, bundle, xb, rounding="half_even")
            o = run_onnxruntime(model, xb.numpy())
            n_bad, first = first_mismatch(g, o)
            inside = all(bool(ort_exact(a, torch.from_numpy(lp.mult.astype(np.int64))).all())
                         for a, lp in zip(g.acc, bundle.layers))
            summary["check"] = {"input": str(check_path), "frames": int(xb.shape[0]), "mismatches": n_bad,
                                "first_mismatch": first, "inside_float32_exact_condition": inside}
        out.write(out_path, lambda p: onnx.save_model(model, str(p)))
    summary["wall_s"] = round(time.perf_counter() - t0, 4)
    if as_json:
        click.echo(json.dumps(summary, indent=2))
    else:
        click.echo(f"{out_path}: ONNX opset {OPSET} of {spec.name} (weights {wsrc}); requantization rounds ties "
                   f"to even" + ("" if spec.quant.rounding == "half_even" else
                                 f" (the NetSpec says {spec.quant.rounding})"))
        if check_path is not None:
            c = summary["check"]
            verdict = ("bit-exact" if c["mismatches"] == 0
                       else f"{c['mismatches']} mismatches; first: {c['first_mismatch']}")
            click.echo(f"check on {c['frames']} frame(s) vs golden half_even: {verdict}"
                       + ("" if c["inside_float32_exact_condition"] else " (some acc·m outside float32-exact range)"))
    if check_path is not None and summary["check"]["mismatches"]:
        raise click.exceptions.Exit(1)
