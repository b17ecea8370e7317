"""Export a quantization-aware (or calibrated) :class:`~logcam.nn.models.QuantNet` to the accelerator:
NetSpec YAML + weights Bundle (.npz) — the pair the golden model and the RTL take.

Per layer i with input scale s_x (the format's input scale for layer 0, else layer i−1's output scale),
per-channel weight scale s_w and output scale s_o: weight = round_half_up(w / s_w) in −127..127,
bias = round_half_up(b / (s_x·s_w)) (int32), requant (m, s) = quantize_multiplier(s_x·s_w / s_o)
(nn/quant.py). These are the numbers the fake-quantized forward pass used.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
import yaml

from logcam.errors import ConfigError, InputError
from logcam.files import check_folder, check_writable, make_folder, outputs
from logcam.nn.formats import InputFormat
from logcam.nn.models import WMAX, QuantNet, weight_scale
from logcam.nn.netspec import Bundle, LayerParams, NetSpec
from logcam.nn.quant import quantize_multiplier


def _half_up(x: torch.Tensor) -> torch.Tensor:
    return torch.floor(x.to(torch.float64) + 0.5)


@torch.no_grad()
def calibrate(model: QuantNet, x: torch.Tensor, batch: int = 256) -> None:
    """Post-training calibration: set each layer's output scale from the maxima over ``x`` (float forward)."""
    was_q, was_t = model.quant, model.training
    model.quant = False
    for layer in model.layers:
        layer.out_max.zero_()
    maxima = torch.zeros(len(model.layers))
    model.train()
    for i in range(0, len(x), batch):
        for layer in model.layers:
            layer.out_max.zero_()  # observe this batch's maximum only
        model(x[i:i + batch])
        maxima = torch.maximum(maxima, torch.stack([la.out_max for la in model.layers]))
    for layer, m in zip(model.layers, maxima):
        layer.out_max.copy_(m)
    model.quant, model.training = was_q, was_t


@torch.no_grad()
def export_bundle(model: QuantNet, fmt: InputFormat, name: str | None = None) -> tuple[NetSpec, Bundle]:
    """The NetSpec (input format of ``fmt``) and the int8 Bundle of a trained QuantNet."""
    if fmt.netspec_format is None:
        raise ConfigError(f"export: format {fmt.name!r} has no integer form for the accelerator "
                          "(use jpeg8, loggrad_q3 or loggrad_q5)")
    spec = model.spec
    inp = spec.input.model_dump()
    inp.update(format=fmt.netspec_format, levels=fmt.netspec_levels, channels=fmt.channels)
    data = spec.model_dump()
    data["input"] = inp
    if name:
        data["name"] = name
    from logcam.config import validate

    spec = validate(NetSpec, data, "export")
    s_x = float(fmt.input_scale)
    layers = []
    scales = {"input": s_x}
    for i, layer in enumerate(model.layers):
        w = layer.op.weight.detach().to(torch.float64)
        b = layer.op.bias.detach().to(torch.float64)
        s_w = weight_scale(layer.op.weight).to(torch.float64)
        s_o = float(layer.out_scale)
        if not (math.isfinite(s_o) and s_o > 1e-7):
            raise InputError(f"export: layer {i} has no calibrated output scale (train or calibrate first)")
        view = (-1,) + (1,) * (w.dim() - 1)
        wq = _half_up(w / s_w.view(view)).clamp(-WMAX, WMAX).to(torch.int64)
        acc_scale = s_x * s_w
        bq = _half_up(b / acc_scale).clamp(-(1 << 30), (1 << 30) - 1).to(torch.int64)
        ms = [quantize_multiplier(float(a / s_o), spec.quant.mult_bits) for a in acc_scale.tolist()]
        layers.append(LayerParams(wq.numpy().astype(np.int8), bq.numpy().astype(np.int32),
                                  np.array([m for m, _ in ms], dtype=np.int32),
                                  np.array([s for _, s in ms], dtype=np.int32)))
        scales[f"layer{i}.out"] = s_o
        s_x = s_o
    bundle = Bundle(tuple(layers), scales)
    arrays = {}
    for i, lp in enumerate(bundle.layers):
        arrays.update({f"layer{i}.weight": lp.weight, f"layer{i}.bias": lp.bias, f"layer{i}.mult": lp.mult,
                       f"layer{i}.shift": lp.shift})
    Bundle.from_arrays(spec, arrays, where="export")  # the consumer's own checks
    return spec, bundle


def netspec_yaml(spec: NetSpec, header: str = "") -> str:
    """A NetSpec as YAML (flow-style layers, like configs/nets/)."""
    d = spec.model_dump(mode="json")
    lines = [f"# {h}" for h in header.splitlines()] if header else []
    lines.append(f"name: {d['name']}")
    def flow(v: object) -> str:
        return yaml.safe_dump(v, default_flow_style=True, sort_keys=False, width=1000).strip()

    lines.append("input: " + flow(d["input"]))
    lines.append("layers:")
    lines += ["  - " + flow(la) for la in d["layers"]]
    lines.append("quant: " + flow(d["quant"]))
    rest = {k: v for k, v in d.items() if k not in ("name", "input", "layers", "quant") and v is not None}
    lines += [f"{k}: {flow(v)}" for k, v in rest.items()]
    return "\n".join(lines) + "\n"


def export_paths(stem: str | Path) -> tuple[Path, Path]:
    """(STEM.yaml, STEM.npz) for an export stem (a trailing .yaml or .npz is dropped)."""
    stem = Path(stem)
    if stem.suffix in (".yaml", ".npz"):
        stem = stem.with_suffix("")
    return stem.with_name(stem.name + ".yaml"), stem.with_name(stem.name + ".npz")


def check_export(stem: str | Path) -> tuple[Path, Path]:
    """Raise InputError unless both export files can be written (their folder is made if missing)."""
    ypath, npath = export_paths(stem)
    if not ypath.parent.is_dir():
        check_folder(ypath.parent)  # it will be made
        return ypath, npath
    check_writable(ypath)
    check_writable(npath)
    return ypath, npath


def write_export(spec: NetSpec, bundle: Bundle, stem: str | Path, header: str = "") -> tuple[Path, Path]:
    """Write STEM.yaml (unless an equal NetSpec is already there, so its comments stay) and STEM.npz, both or
    neither (staged under temporary names, then renamed); the folder is made if missing."""
    ypath, npath = check_export(stem)
    make_folder(ypath.parent)
    keep = False
    if ypath.is_file():
        try:
            keep = NetSpec.load(ypath) == spec
        except (ConfigError, InputError):
            keep = False
    with outputs() as out:
        if not keep:
            text = netspec_yaml(spec, header)
            out.write(ypath, lambda p: p.write_text(text, encoding="utf-8"))
        out.write(npath, bundle.write)
    return ypath, npath


def golden_accuracy(spec: NetSpec, bundle: Bundle, x_int: torch.Tensor, labels: torch.Tensor,
                    batch: int = 256) -> tuple[float, torch.Tensor]:
    """Top-1 accuracy of the bit-exact integer golden model (logcam.nn.golden.accel) and its labels."""
    from logcam.nn.golden.accel import run

    preds = []
    for i in range(0, len(labels), batch):
        res = run(spec, bundle, x_int[i:i + batch])
        preds.append(torch.as_tensor(np.asarray(res.labels)).to(torch.int64).flatten())
    pred = torch.cat(preds) if preds else torch.empty(0, dtype=torch.int64)
    acc = float((pred == labels).to(torch.float64).mean()) if len(labels) else float("nan")
    return acc, pred


__all__ = ["calibrate", "check_export", "export_bundle", "export_paths", "golden_accuracy", "netspec_yaml",
           "write_export"]
