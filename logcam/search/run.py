"""The co-search: bilevel Gumbel-softmax search of mask + architecture (SACoD / DARTS / FBNet), derive,
retrain, int8 export, golden accuracy, RTL check and analytic energy (docs/search.md)."""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from logcam.errors import ConfigError, InputError
from logcam.files import make_folder
from logcam.nn.data import split_indices
from logcam.nn.export import golden_accuracy
from logcam.nn.models import WMAX, weight_scale
from logcam.nn.netspec import AddSpec, AvgPoolGlobalSpec, Bundle, LayerParams, NetSpec, check_buildable
from logcam.nn.optics import OpticalLayer
from logcam.nn.optics_train import (
    OpticalClassifier,
    SceneData,
    accuracy,
    region_inputs,
    scenes_for,
    stem_inputs,
    stem_scale,
)
from logcam.nn.quant import MAX_SHIFT, quantize_multiplier
from logcam.search.config import SearchConfig
from logcam.search.model import FloatNet, SuperNet
from logcam.search.space import CostTable, check_budget, cost_table, net_spec

CHECKPOINT = "checkpoint.pt"
Progress = Callable[[int, int, dict], None]


@dataclass
class SearchResult:
    """What a search found and what its export measured."""

    choice: list[str]
    spec: NetSpec
    bundle: Bundle
    history: list[dict] = field(default_factory=list)
    summary: dict = field(default_factory=dict)
    frames: np.ndarray | None = None  # test-split inputs of the exported network (export_frames) for RTL checks
    model: OpticalClassifier | None = None  # the retrained float model (optics + derived back end)
    splits: tuple | None = None  # train / val / test indices


def torch_device(name: str) -> torch.device:
    """The training device ``name`` (``cpu``, ``cuda``, ``cuda:N``), checked: one line when this torch has no
    such device (a CPU build, no GPU, or N past the last GPU)."""
    dev = torch.device(name)
    if dev.type == "cuda":
        have = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if have == 0:
            raise ConfigError(f"device: {name} asked for, but this torch ({torch.__version__}) sees no CUDA GPU; "
                              f"use device: cpu")
        if dev.index is not None and dev.index >= have:
            raise ConfigError(f"device: {name} asked for, but this machine has {have} CUDA GPU(s): cuda:0 … "
                              f"cuda:{have - 1}")
    return dev


def _seed_epoch(seed: int, epoch: int) -> None:
    torch.manual_seed(seed * 1_000_003 + epoch)  # every epoch reseeded: a resumed run draws the same noise


def _cost(net: SuperNet, table: CostTable, kind: str) -> torch.Tensor:
    """Expected cost under the last forward's mixture weights, normalised by the dearest architecture."""
    per = table.pj if kind == "energy" else table.flops
    fixed = table.fixed_pj if kind == "energy" else table.fixed_flops
    total = torch.tensor(float(fixed), device=net.last_weights[0].device)
    for w, slot, costs in zip(net.last_weights, net.slots, per):
        total = total + (w * torch.tensor([float(costs[n]) for n in slot.candidates], device=w.device)).sum()
    top = table.extreme(kind, max)
    return total / (top * (table.pixels * 1000.0 if kind == "energy" else 1e6))


def _atomic_save(obj: dict, path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def _front(cfg: SearchConfig, backend: Callable[[], nn.Module], data: SceneData,
           tr: torch.Tensor) -> OpticalClassifier:
    """Seeded optics (no fabrication noise) + ``backend()`` behind the 8-bit read-out, exposure and input gain
    calibrated on ``calib`` training scenes."""
    torch.manual_seed(cfg.seed)
    optics = OpticalLayer(cfg.optics.model_copy(update={"noise_sigma_um": 0.0}))
    model = OpticalClassifier(optics, backend())  # type: ignore[arg-type]  # any back end on the maps
    model.set_gain(data.images[tr[:cfg.calib]])
    return model


def _splits(cfg: SearchConfig, data: SceneData) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    tr, va, te = split_indices(data.labels, cfg.seed, cfg.split)
    if len(tr) < 2 or len(te) == 0:
        raise ConfigError(f"dataset: {len(data.labels)} images leave {len(tr)} training and {len(te)} test images "
                          f"after the split; at least 2 and 1 are needed")
    return tr, va, te


def search(cfg: SearchConfig, out_dir: Path | None = None, *, resume: bool = False,
           progress: Progress | None = None, data: SceneData | None = None) -> tuple[OpticalClassifier, SuperNet,
                                                                                      list[dict], tuple, SceneData]:
    """The bilevel loop: per batch one SGD step of weights + mask on half A, one Adam step of α on half B.

    Checkpoints every epoch to ``out_dir/checkpoint.pt``; ``resume`` continues from it (same bits as an
    uninterrupted run: every epoch reseeds its shuffles and Gumbel noise).
    """
    torch.set_num_threads(cfg.threads)
    data = scenes_for(cfg.optics, cfg.dataset, data)
    size = int(data.images.shape[-1])
    classes = len(data.class_names)
    table = cost_table(cfg, size, classes)
    check_budget(cfg, table)
    tr, va, te = _splits(cfg, data)
    half_a, half_b = tr[: len(tr) // 2], tr[len(tr) // 2:]
    dev = torch_device(cfg.device)
    model = _front(cfg, lambda: SuperNet(cfg, size, classes), data, tr).to(dev)
    net, optics = model.backend, model.optics
    x, y = data.images.to(dev), data.labels.to(dev)
    groups = [{"params": net.weights(), "lr": cfg.w_lr}]
    groups += _mask_group(cfg, optics, cfg.mask_in_search)
    w_opt = torch.optim.SGD(groups, momentum=0.9)
    m_opts = _mask_adam(cfg, optics, cfg.mask_in_search)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(w_opt, T_max=cfg.epochs)
    a_opt = torch.optim.Adam(list(net.alpha), lr=cfg.alpha_lr)
    history: list[dict] = []
    start = 0
    ckpt = out_dir / CHECKPOINT if out_dir is not None else None
    if out_dir is not None:
        make_folder(out_dir)
    if resume:
        if ckpt is None or not ckpt.is_file():
            raise InputError(f"--resume: no checkpoint at {ckpt}")
        state = torch.load(ckpt, weights_only=False, map_location=dev)
        if state["config"] != cfg.model_dump(mode="json"):
            raise InputError(f"--resume: {ckpt} was written by a different config")
        model.load_state_dict(state["model"])
        w_opt.load_state_dict(state["w_opt"])
        for o, st in zip(m_opts, state["m_opt"], strict=True):
            o.load_state_dict(st)
        a_opt.load_state_dict(state["a_opt"])
        sched.load_state_dict(state["sched"])
        history, start = state["history"], state["epoch"]
    nb = math.ceil(len(half_a) / cfg.batch)
    for epoch in range(start, cfg.epochs):
        _seed_epoch(cfg.seed, epoch)
        net.tau = cfg.tau * cfg.tau_decay ** epoch
        pa, pb = torch.randperm(len(half_a)), torch.randperm(len(half_b))
        model.train()
        sums = {"loss_w": 0.0, "loss_a": 0.0, "cost": 0.0}
        for i in range(nb):
            ia = half_a[pa[i * cfg.batch:(i + 1) * cfg.batch]]
            for o in (w_opt, *m_opts):
                o.zero_grad(set_to_none=True)
            loss = nn.functional.cross_entropy(model(x[ia]), y[ia])
            loss.backward()
            for o in (w_opt, *m_opts):
                o.step()
            sums["loss_w"] += float(loss.detach())
            if epoch >= cfg.warmup_epochs and len(half_b):
                j = i % max(1, math.ceil(len(half_b) / cfg.batch))
                ib = half_b[pb[j * cfg.batch:(j + 1) * cfg.batch]]
                a_opt.zero_grad(set_to_none=True)
                ce = nn.functional.cross_entropy(model(x[ib]), y[ib])
                c = _cost(net, table, cfg.cost)
                (ce + cfg.lam * c).backward()
                a_opt.step()
                sums["loss_a"] += float(ce.detach())
                sums["cost"] += float(c.detach())
        for o in (w_opt, *m_opts):
            o.zero_grad(set_to_none=True)
        sched.step()
        choice = net.derive()
        rec = {"epoch": epoch + 1, "tau": net.tau, **{k: v / nb for k, v in sums.items()}, "choice": choice,
               "nj_per_pixel": table.nj_per_pixel(choice), "mflops": table.mflops(choice)}
        history.append(rec)
        if ckpt is not None:
            _atomic_save({"config": cfg.model_dump(mode="json"), "epoch": epoch + 1, "model": model.state_dict(),
                          "w_opt": w_opt.state_dict(), "m_opt": [o.state_dict() for o in m_opts],
                          "a_opt": a_opt.state_dict(), "sched": sched.state_dict(), "history": history}, ckpt)
        if progress is not None:
            progress(epoch + 1, cfg.epochs, rec)
    model.to("cpu")  # derive, export, golden model and RTL work on the CPU
    return model, net, history, (tr, va, te, table), data


def _mask_params(cfg: SearchConfig, optics: nn.Module, train: bool) -> list[nn.Parameter]:
    """The mask heights to train (none when the mask is fixed: ablation, no heights, or mask_lr 0)."""
    mask = [p for p in optics.parameters() if p.requires_grad]
    return mask if train and cfg.mask_lr > 0 else []


def _mask_group(cfg: SearchConfig, optics: nn.Module, train: bool) -> list[dict]:
    """``mask_optimizer: sgd``: the mask heights as a parameter group of the weights' SGD."""
    mask = _mask_params(cfg, optics, train)
    return [{"params": mask, "lr": cfg.mask_lr}] if mask and cfg.mask_optimizer == "sgd" else []


def _mask_adam(cfg: SearchConfig, optics: nn.Module, train: bool) -> list[torch.optim.Optimizer]:
    """``mask_optimizer: adam``: an Adam of its own for the mask heights (≈ ``mask_lr`` µm per step)."""
    mask = _mask_params(cfg, optics, train)
    return [torch.optim.Adam(mask, lr=cfg.mask_lr)] if mask and cfg.mask_optimizer == "adam" else []


def _sgd_epochs(cfg: SearchConfig, model: nn.Module, groups: list[dict], data: SceneData, tr: torch.Tensor,
                epochs: int, seed: int, extra: list[torch.optim.Optimizer] | None = None) -> None:
    """``epochs`` of SGD (momentum 0.9, cosine) on the training split ``tr`` (and a step of every ``extra``
    optimiser per batch); each epoch reseeded from ``seed``. Trains on ``cfg.device``; ``model`` ends on the
    CPU (its parameters keep their identity, so the optimisers' groups stay valid)."""
    dev = torch_device(cfg.device)
    model.to(dev)
    opts = [torch.optim.SGD(groups, momentum=0.9), *(extra or [])]
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opts[0], T_max=max(epochs, 1))
    x, y = data.images.to(dev), data.labels.to(dev)
    for epoch in range(epochs):
        _seed_epoch(seed, epoch)
        model.train()
        for idx in tr[torch.randperm(len(tr))].split(cfg.batch):
            for o in opts:
                o.zero_grad(set_to_none=True)
            nn.functional.cross_entropy(model(x[idx]), y[idx]).backward()
            for o in opts:
                o.step()
        sched.step()
    model.to("cpu")
    model.eval()


def retrain(cfg: SearchConfig, model: OpticalClassifier, net: SuperNet | None, choice: list[str], data: SceneData,
            splits: tuple, *, epochs: int | None = None, lr: float | None = None) -> tuple[OpticalClassifier, NetSpec]:
    """The derived network (initialised from the supernet ``net``; from scratch when None) and the mask (unless
    ``mask_in_retrain`` is false), trained on the whole training split: SGD momentum 0.9, cosine over
    ``epochs`` (default ``retrain_epochs``) at ``lr`` (default ``retrain_lr``)."""
    size = int(data.images.shape[-1])
    spec = net_spec(cfg, size, choice, data.class_names)
    derived = FloatNet(spec, bn=True)
    if net is not None:
        net.copy_into(derived, choice)
    out = OpticalClassifier(model.optics, derived)  # type: ignore[arg-type]
    out.readout.load_state_dict(model.readout.state_dict())
    out.gain.copy_(model.gain)
    groups = [{"params": list(derived.parameters()), "lr": cfg.retrain_lr if lr is None else lr},
              *_mask_group(cfg, model.optics, cfg.mask_in_retrain)]
    _sgd_epochs(cfg, out, groups, data, splits[0], cfg.retrain_epochs if epochs is None else epochs, cfg.seed + 1,
                _mask_adam(cfg, model.optics, cfg.mask_in_retrain))
    return out, spec


def _half_up(x: torch.Tensor) -> torch.Tensor:
    return torch.floor(x.to(torch.float64) + 0.5)


def _shared_shift(ratios: list[float], mult_bits: int) -> tuple[list[int], int]:
    """Multipliers m_i and one shift s with m_i / 2^s ≈ ratios[i] (the add's two operand scalings)."""
    top = (1 << (mult_bits - 1)) - 1
    s = min(MAX_SHIFT, math.floor(math.log2(top / max(ratios))))
    if s < 0:
        raise InputError(f"export: add rescaling {max(ratios):.3g} too large for {mult_bits}-bit multipliers")
    return [round(r * (1 << s)) for r in ratios], s


@torch.no_grad()
def export_frames(cfg: SearchConfig, model: OpticalClassifier, x: torch.Tensor) -> torch.Tensor:
    """What the exported network reads for scenes ``x``: the regions' 8-bit read-outs with the pairs subtracted
    on the way in (int8 N×feature_maps×H×W, :func:`~logcam.nn.optics_train.stem_inputs`); lens: uint8 planes."""
    return stem_inputs(cfg.optics, region_inputs(model, x))


@torch.no_grad()
def export_int8(cfg: SearchConfig, model: OpticalClassifier, choice: list[str], data: SceneData,
                tr: torch.Tensor) -> tuple[NetSpec, Bundle]:
    """Post-training int8 export on the signed maps (:func:`export_frames`; the stem reads feature_maps
    channels, not both regions of every pair, so its MACs are half those of the folded [W, −W] form),
    per-layer output scales calibrated on ``cfg.calib`` training scenes, weights per output channel
    (export_bundle's formulas), add and avgpool_global rescalings as multiplier + shift."""
    size = int(data.images.shape[-1])
    folded = net_spec(cfg, size, choice, data.class_names)
    fnet = model.backend.folded(folded)  # batch norm folded
    scale = stem_scale(cfg.optics, model)
    x_cal = export_frames(cfg, model, data.images[tr[:cfg.calib]]).to(torch.float32) * scale
    outs: list[torch.Tensor] = []
    fnet(x_cal, outs)
    q = folded.quant
    s_out = [max(float(o.abs().amax()), 1e-6) / q.act_max for o in outs]
    layers = []
    for i, (layer, op) in enumerate(zip(folded.layers, fnet.ops)):
        s_x = scale if i == 0 else s_out[i - 1]
        s_o = s_out[i]
        empty8, empty32 = np.zeros(0, np.int8), np.zeros(0, np.int32)
        if isinstance(layer, AddSpec):
            ms, s = _shared_shift([s_x / s_o, s_out[layer.skip] / s_o], q.mult_bits)
            layers.append(LayerParams(empty8, empty32, np.array(ms, np.int32), np.array([s], np.int32)))
            continue
        if isinstance(layer, AvgPoolGlobalSpec):
            shp = folded.layer_shapes()[i].in_shape
            m, s = quantize_multiplier(s_x / (shp[1] * shp[2] * s_o), q.mult_bits)
            layers.append(LayerParams(empty8, empty32, np.array([m], np.int32), np.array([s], np.int32)))
            continue
        w = op.weight.detach().to(torch.float64)
        b = op.bias.detach().to(torch.float64)
        s_w = weight_scale(op.weight).to(torch.float64)
        wq = _half_up(w / s_w.view((-1,) + (1,) * (w.dim() - 1))).clamp(-WMAX, WMAX).to(torch.int64)
        acc = s_x * s_w
        bq = _half_up(b / acc).clamp(-(1 << 30), (1 << 30) - 1).to(torch.int64)
        ms = [quantize_multiplier(float(a / s_o), q.mult_bits) for a in acc.tolist()]
        layers.append(LayerParams(wq.numpy().astype(np.int8), bq.numpy().astype(np.int32),
                                  np.array([m for m, _ in ms], np.int32), np.array([s for _, s in ms], np.int32)))
    arrays: dict[str, np.ndarray] = {}
    for i, lp in enumerate(layers):
        arrays.update({f"layer{i}.{k}": v for k, v in (("weight", lp.weight), ("bias", lp.bias),
                                                       ("mult", lp.mult), ("shift", lp.shift)) if v.size})
    bundle = Bundle.from_arrays(folded, arrays, where="search export")  # the consumer's own checks
    check_buildable(folded)
    return folded, bundle


def run_search(cfg: SearchConfig, out_dir: Path | None = None, *, resume: bool = False,
               progress: Progress | None = None, data: SceneData | None = None) -> SearchResult:
    """Search → derive → retrain → int8 export → golden accuracy and analytic energy."""
    t0 = time.perf_counter()
    model, net, history, (tr, va, te, table), data = search(cfg, out_dir, resume=resume, progress=progress,
                                                             data=data)
    t_search = time.perf_counter() - t0
    choice = net.derive()
    sup_val = accuracy(model, data.images[va], data.labels[va])
    derived, _ = retrain(cfg, model, net, choice, data, (tr, va, te))
    res = finish(cfg, derived, choice, data, (tr, va, te), table, history)
    res.summary.update(supernet_val_acc=sup_val, search_s=t_search, total_s=time.perf_counter() - t0)
    return res


def finish(cfg: SearchConfig, model: OpticalClassifier, choice: list[str], data: SceneData, splits: tuple,
           table: CostTable, history: list[dict] | None = None) -> SearchResult:
    """A trained network → int8 export → golden test accuracy, with its analytic cost."""
    tr, va, te = splits
    spec, bundle = export_int8(cfg, model, choice, data, tr)
    frames = export_frames(cfg, model, data.images[te])
    int8_acc, _ = golden_accuracy(spec, bundle, frames, data.labels[te])
    summary = {
        "choice": choice, "cost": cfg.cost, "lam": cfg.lam, "epochs": cfg.epochs, "seed": cfg.seed,
        "images": len(data.labels), "size": int(data.images.shape[-1]), "split": [len(tr), len(va), len(te)],
        "float_test_acc": accuracy(model, data.images[te], data.labels[te]),
        "int8_test_acc": int8_acc,
        "nj_per_pixel": table.nj_per_pixel(choice), "mflops": table.mflops(choice),
        "space_nj_per_pixel": [table.extreme("energy", min), table.extreme("energy", max)],
        "space_mflops": [table.extreme("flops", min), table.extreme("flops", max)],
        "budget": cfg.budget, "within_budget": cfg.budget is None or table.value(cfg.cost, choice) <= cfg.budget,
        "layers": len(spec.layers), "macs": spec.macs(), "input": spec.input.format,
    }
    return SearchResult(choice, spec, bundle, history or [], summary, frames.numpy(), model, splits)


def mobilenet_config(cfg: SearchConfig, width: float) -> tuple[SearchConfig, list[str]]:
    """The co-train baseline's fixed back end: MobileNetV2-style inverted residuals (expansion 1 in the first
    block, 6 after, kernel 3) on the search config's slots and strides, stem and channels × ``width``
    (at least 1 channel each). Returns the config (a space of just those blocks) and the choice."""
    ch = [max(1, round(c * width)) for c in cfg.channels]
    stem = max(1, round(cfg.stem * width))
    over = {"channels": ch, "stem": stem, "expansions": [1, 6], "kernels": [3], "name": f"{cfg.name}_mbv2"}
    fixed = SearchConfig.model_validate({**cfg.model_dump(), **over})
    return fixed, ["e1_k3"] + ["e6_k3"] * (len(ch) - 1)


def cotrain(cfg: SearchConfig, width: float, data: SceneData | None = None) -> SearchResult:
    """The co-train baseline: a learned mask + a fixed MobileNetV2-style back end at width multiplier ``width``,
    trained together from scratch for the search's whole budget (``epochs`` + ``retrain_epochs`` over the
    full training split, SGD at ``w_lr``), then exported like a searched winner."""
    t0 = time.perf_counter()
    fixed, choice = mobilenet_config(cfg, width)
    torch.set_num_threads(cfg.threads)
    data = scenes_for(fixed.optics, fixed.dataset, data)
    size, classes = int(data.images.shape[-1]), len(data.class_names)
    table = cost_table(fixed, size, classes)
    splits = _splits(fixed, data)
    model = _front(fixed, nn.Identity, data, splits[0])
    derived, _ = retrain(fixed, model, None, choice, data, splits, epochs=fixed.epochs + fixed.retrain_epochs,
                         lr=fixed.w_lr)
    res = finish(fixed, derived, choice, data, splits, table)
    res.summary.update(width=width, total_s=time.perf_counter() - t0)
    return res


def noise_finetune(cfg: SearchConfig, res: SearchResult, data: SceneData, sigma_um: float,
                   epochs: int) -> tuple[float, float]:
    """Fabricate the trained mask with error N(0,1)·σ on its heights (one seeded draw), and fine-tune the back
    end only for ``epochs`` (SGD at ``retrain_lr``): (float test accuracy with the noise, after fine-tuning).
    The result's model is restored afterwards."""
    model = res.model
    assert model is not None and res.splits is not None
    tr, _, te = res.splits
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    try:
        model.optics.set_noise(sigma_um, cfg.seed)
        noisy = accuracy(model, data.images[te], data.labels[te])
        _sgd_epochs(cfg, model, [{"params": list(model.backend.parameters()), "lr": cfg.retrain_lr}], data, tr,
                    epochs, cfg.seed + 2)
        return noisy, accuracy(model, data.images[te], data.labels[te])
    finally:
        model.load_state_dict(state)
