"""One design point, evaluated where it runs (a Dask worker or in-process): train, export, golden
accuracy, optional RTL verification with measured activity, energy.

:func:`evaluate_point` is the Dask task. The trained network of a point lives in
``OUT/nets/<training hash>/`` (NetSpec YAML, int8 bundle, ``train.json``), written into a private
folder and renamed into place, so points that share a network (they differ only in node or frame rate)
train it once and a killed worker never leaves half a network behind. Every start of a point appends a
line to ``OUT/points/<hash>/attempts.log``: the work actually done, countable after a crash.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import socket
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from logcam.errors import ConfigError

#: Metric name → (unit or meaning, better direction "max"/"min"). Every point that finishes has all of
#: them except the ``rtl_*`` ones (only with RTL verification).
METRICS: dict[str, tuple[str, str]] = {
    "accuracy": ("int8 golden-model test accuracy (fraction)", "max"),
    "float_accuracy": ("float (QAT) model test accuracy (fraction)", "max"),
    "val_accuracy": ("validation accuracy of the kept checkpoint (fraction)", "max"),
    "nj_per_pixel": ("energy per sensor pixel, all stages (nJ/pixel)", "min"),
    "nj_sensor": ("sensor stage (nJ/pixel)", "min"),
    "nj_readout": ("readout stage: ADC or RDC (nJ/pixel)", "min"),
    "nj_link": ("link stage (nJ/pixel)", "min"),
    "nj_isp": ("ISP stage (nJ/pixel)", "min"),
    "nj_cnn": ("CNN stage (nJ/pixel)", "min"),
    "uj_per_frame": ("energy per frame (µJ)", "min"),
    "mw": ("power at the point's frame rate (mW)", "min"),
    "macs": ("multiply-accumulates per frame", "min"),
    "params": ("weights of the network", "min"),
    "readout_bits": ("bits per pixel out of the sensor", "min"),
    "rtl_mismatches": ("RTL values differing from the golden models (RTL points only)", "min"),
    "rtl_cycles_per_frame": ("accelerator cycles per frame in the RTL run (RTL points only)", "min"),
}
STAGES = ("sensor", "readout", "link", "isp", "cnn")


def point_dir(out: Path, point_hash: str) -> Path:
    """Artefact folder of one point."""
    return out / "points" / point_hash[:16]


def net_dir(out: Path, train_hash: str) -> Path:
    """Folder of one trained network (shared by points with the same training hash)."""
    return out / "nets" / train_hash[:16]


# --- front-end ---------------------------------------------------------------------------------------
def rdc_spec(cfg: dict[str, Any], size: int, *, lanes: int = 1) -> Any:
    """The RdcSpec of an ``rdc`` point: levels, thresholds r, r², …, ADC bits, mode, frame size."""
    from fractions import Fraction

    from logcam.config import validate
    from logcam.rdcspec import RdcSpec

    r = Fraction(cfg["threshold"])
    m = (cfg["levels"] - 1) // 2
    return validate(RdcSpec, {"width": size, "height": size, "adc_bits": cfg["adc_bits"], "levels": cfg["levels"],
                              "thresholds": [str(r ** k) for k in range(1, m + 1)], "mode": cfg["rdc_mode"],
                              "lanes": lanes}, where="point")


def input_format(cfg: dict[str, Any], size: int) -> Any:
    """The network input format of a point: RDC codes with its thresholds, or the 8-bit ISP image."""
    from dataclasses import dataclass as _dc

    from logcam.nn.formats import Jpeg8, LoggradCodes

    if cfg["frontend"] == "isp":
        return Jpeg8(adc_bits=cfg["adc_bits"])
    spec = rdc_spec(cfg, size)

    @_dc(frozen=True)
    class _Codes(LoggradCodes):
        def rdc(self, h: int, w: int, levels: int = 3) -> Any:
            return spec.model_copy(update={"width": w, "height": h})

    return _Codes(adc_bits=cfg["adc_bits"], mode=cfg["rdc_mode"], levels=cfg["levels"])


@functools.lru_cache(maxsize=2)
def _rendered(dataset_json: str) -> Any:
    from logcam.config import validate
    from logcam.nn.data import SyntheticConfig, synthetic_dataset

    return synthetic_dataset(validate(SyntheticConfig, json.loads(dataset_json), "dataset"))


def dataset(cfg: dict[str, Any]) -> Any:
    """The point's RAW dataset: the grid's synthetic set, re-quantized to the point's ADC bits (same full scale:
    DN >> (sensor bits − bits))."""
    from logcam.nn.data import RawDataset

    data = _rendered(json.dumps(cfg["dataset"], sort_keys=True))
    shift = data.adc_bits - cfg["adc_bits"]
    if shift < 0:
        raise ConfigError(f"adc_bits: {cfg['adc_bits']} exceeds the sensor's {data.adc_bits} bits")
    if shift == 0:
        return data
    return RawDataset(data.frames >> shift, data.labels, cfg["adc_bits"], data.class_names)


# --- network -----------------------------------------------------------------------------------------
def network(cfg: dict[str, Any], size: int, classes: tuple[str, ...]) -> Any:
    """The point's NetSpec: the template with c1, c2, kernel applied, its input what the front-end gives."""
    import copy

    from logcam.config import validate
    from logcam.frontend import image_input, rdc_input, retarget
    from logcam.nn.netspec import NetSpec

    d = copy.deepcopy(cfg["net_template"])
    convs = [la for la in d["layers"] if la["type"] == "conv"]
    changed = False
    for i, key in ((0, "c1"), (1, "c2")):
        if cfg[key] is not None:
            if i >= len(convs):
                raise ConfigError(f"{key}: NetSpec {cfg['net']!r} has only {len(convs)} conv layer(s)")
            convs[i]["out_channels"] = cfg[key]
            changed = True
    if cfg["kernel"] is not None:
        for la in convs:
            la.update(kernel=cfg["kernel"], pad=cfg["kernel"] // 2)
        changed = True
    if changed:  # fold again as configs/nets/2conv1fc.yaml does: one input pixel per clock
        c_prev = None
        for la in d["layers"]:
            if la["type"] == "conv":
                la.update(pe=la["out_channels"], simd=la["kernel"] ** 2)
                c_prev = la["out_channels"]
            else:
                la.update(pe=la["out_features"], simd=c_prev or 1)
                c_prev = la["out_features"]
    d["classes"] = list(classes)
    spec = validate(NetSpec, d, where=f"net {cfg['net']}")
    produced = image_input(size, size) if cfg["frontend"] == "isp" else rdc_input(rdc_spec(cfg, size))
    return retarget(spec, produced, keep_size=False, where=f"net {cfg['net']}")


@dataclass
class Trained:
    """A point's network on disk and its accuracies."""

    folder: Path
    info: dict[str, Any]
    reused: bool

    @property
    def netspec(self) -> Path:
        """The exported NetSpec YAML."""
        return self.folder / "net.yaml"

    @property
    def bundle(self) -> Path:
        """The int8 weights bundle (.npz)."""
        return self.folder / "net.npz"


def _publish(tmp: Path, final: Path) -> bool:
    """Rename a finished private folder into place; False (and ``tmp`` removed) if another copy got there first."""
    try:
        os.rename(tmp, final)
        return True
    except OSError:
        if not (final / "train.json").is_file():
            shutil.rmtree(final, ignore_errors=True)  # a leftover without its last file: replace it
            try:
                os.rename(tmp, final)
                return True
            except OSError:
                pass
        shutil.rmtree(tmp, ignore_errors=True)
        return False


def train_point(point: dict[str, Any], out: Path) -> Trained:
    """Train and export the point's network (or reuse the one a point with the same training hash made)."""
    final = net_dir(out, point["train_hash"])
    if (final / "train.json").is_file():
        return Trained(final, json.loads((final / "train.json").read_text()), True)
    import torch

    from logcam.nn.export import export_bundle, golden_accuracy, netspec_yaml
    from logcam.nn.train import TrainConfig, train_on

    cfg = point["config"]
    data = dataset(cfg)
    size = int(data.frames.shape[-1])
    fmt = input_format(cfg, size)
    spec = network(cfg, size, data.class_names)
    tmp = final.parent / f".{final.name}.{uuid.uuid4().hex[:8]}"
    tmp.mkdir(parents=True)
    try:
        (tmp / "template.yaml").write_text(netspec_yaml(spec, f"explore point {point['hash'][:16]}"))
        t = cfg["train"]
        tcfg = TrainConfig(format="jpeg8" if cfg["frontend"] == "isp" else "loggrad_q3",
                           netspec=str(tmp / "template.yaml"), name="explore", epochs=t["epochs"], batch=t["batch"],
                           lr=t["lr"], decay=t["decay"], qat=True, qat_start=t["qat_start"], seed=point["seed"],
                           threads=t["threads"])
        res = train_on(tcfg, data, fmt=fmt)
        spec_out, bundle = export_bundle(res.model, fmt, f"explore_{point['train_hash'][:8]}")
        te = res.splits[2]
        acc, _ = golden_accuracy(spec_out, bundle, fmt.integer(data.frames[te]), data.labels[te])
        (tmp / "net.yaml").write_text(netspec_yaml(spec_out, f"explore network {point['train_hash'][:16]}"))
        bundle.save(tmp / "net.npz")
        info = {"accuracy": acc, "float_accuracy": res.test_acc, "val_accuracy": res.val_acc,
                "macs": int(spec_out.macs()), "params": int(sum(lp.weight.size for lp in bundle.layers)),
                "test_images": len(te), "train_s": round(res.seconds, 3), "seed": point["seed"],
                "torch_threads": torch.get_num_threads()}
        (tmp / "train.json").write_text(json.dumps(info, indent=2))  # last: marks the folder complete
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if not _publish(tmp, final):
        return Trained(final, json.loads((final / "train.json").read_text()), True)
    return Trained(final, info, False)


# --- RTL ---------------------------------------------------------------------------------------------
def verify_point(point: dict[str, Any], trained: Trained) -> tuple[dict[str, Any], Path]:
    """Verify the network's RTL on the first test frames (RDC → CNN top, or the accelerator on ISP images);
    returns the summary and the ``logcam-activity/1`` file of the hardware counters (cached per network)."""
    from logcam.energy.rtl_activity import from_verify, write_activity
    from logcam.nn.data import split_indices
    from logcam.nn.netspec import Bundle, NetSpec

    cfg, rtl = point["config"], point["config"]["rtl"]
    tag = f"rtl-{rtl['sim']}-f{rtl['frames']}"
    summary_path, act_path = trained.folder / f"{tag}.json", trained.folder / f"{tag}.activity.json"
    if summary_path.is_file() and act_path.is_file():
        return json.loads(summary_path.read_text()), act_path
    import numpy as np

    from logcam.sim.rtl.accel_verify import verify_accel, verify_top

    spec = NetSpec.load(trained.netspec)
    bundle = Bundle.load(spec, trained.bundle)
    data = dataset(cfg)
    size = int(data.frames.shape[-1])
    te = split_indices(data.labels, point["seed"], (0.7, 0.15, 0.15))[2][: rtl["frames"]]
    dn = data.frames[te].numpy().astype(np.int64)
    t0 = time.perf_counter()
    if cfg["frontend"] == "rdc":
        rdc = rdc_spec(cfg, size)
        res = verify_top(rdc, spec, bundle, dn, sim=rtl["sim"], seed=point["seed"])
        doc = from_verify(res, rdc=rdc, net=spec)
    else:
        fmt = input_format(cfg, size)
        res = verify_accel(spec, bundle, fmt.integer(data.frames[te]).numpy(), sim=rtl["sim"], seed=point["seed"])
        doc = from_verify(res, net=spec)
    summary = {"mismatches": int(res.mismatches), "frames": int(res.frames),
               "cycles_per_frame": res.extra.get("cycles_per_frame"), "build_s": round(res.build_s, 3),
               "sim_s": round(time.perf_counter() - t0, 3)}
    from logcam.files import atomic_write

    write_activity(act_path, doc)  # atomic, then the summary (atomic): both there means both whole
    atomic_write(summary_path, lambda tmp: tmp.write_text(json.dumps(summary, indent=2)))
    return summary, act_path


# --- energy ------------------------------------------------------------------------------------------
def pipeline(cfg: dict[str, Any], size: int) -> dict[str, Any]:
    """The energy pipeline of a point (as ``logcam run`` builds its own): sensor window = the image."""
    sensor = {"width": size, "height": size, "adc_bits": cfg["adc_bits"], "fps": cfg["fps"]}
    digital = {"node_nm": cfg["node_nm"]}
    if cfg["frontend"] == "isp":
        return {"name": "conventional", "sensor": sensor, "readout": {"kind": "adc", "bits": cfg["adc_bits"]},
                "link": {"kind": "mipi"}, "isp": {}, "cnn": {"input": "uint8"}, "digital": digital}
    return {"name": "loggrad", "sensor": sensor, "readout": {"kind": "rdc", "levels": cfg["levels"],
                                                             "mode": cfg["rdc_mode"]},
            "link": {"kind": "mipi"}, "cnn": {"input": "codes"}, "digital": digital}


def energy_point(cfg: dict[str, Any], spec: Any, activity_file: Path | None) -> dict[str, float]:
    """nJ/pixel per stage, µJ/frame and mW of a point; measured activity replaces the analytic stages it has."""
    from logcam.energy.activity import load_activity
    from logcam.energy.pipeline import analytic_activity, energy, pipeline_from_dict
    from logcam.energy.tech import Scaling, TechTable

    size = spec.input.width
    pcfg = pipeline_from_dict(pipeline(cfg, size), where="energy")
    acts = analytic_activity(pcfg, net=spec)
    if activity_file is not None:
        acts.update(load_activity(activity_file, width=size, height=size))
    b = energy(pcfg, TechTable.load(), Scaling.load(), acts)
    per = b.stage_nj_per_pixel()
    out = {"nj_per_pixel": b.total_nj_per_pixel, "uj_per_frame": b.uj_per_frame, "mw": b.mw}
    out.update({f"nj_{s}": per.get(s, 0.0) for s in STAGES})
    return out


# --- the task ----------------------------------------------------------------------------------------
def log_attempt(out: Path, point_hash: str, what: str) -> None:
    """Append ``what`` (start or done), the time, host and pid to the point's attempts.log (one O_APPEND write)."""
    folder = point_dir(Path(out), point_hash)
    folder.mkdir(parents=True, exist_ok=True)
    line = f"{what} {time.time():.3f} {socket.gethostname()} {os.getpid()}\n"
    fd = os.open(folder / "attempts.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


def count_starts(out: Path, point_hash: str) -> int:
    """How many evaluations of a point have started so far (all runs)."""
    log = point_dir(Path(out), point_hash) / "attempts.log"
    if not log.is_file():
        return 0
    return sum(1 for line in log.read_text().splitlines() if line.startswith("start "))


def evaluate_point(point: dict[str, Any], out: str | Path) -> dict[str, Any]:
    """Evaluate one point (the Dask task): metrics (see :data:`METRICS`), artefact paths relative to ``out``,
    timings in s. Deterministic: same metrics on any worker at the same torch thread count."""
    import torch

    from logcam.nn.netspec import NetSpec

    out = Path(out)
    cfg = point["config"]
    torch.set_num_threads(cfg["train"]["threads"])
    t0 = time.perf_counter()
    log_attempt(out, point["hash"], "start")
    trained = train_point(point, out)
    spec = NetSpec.load(trained.netspec)
    metrics: dict[str, Any] = {k: trained.info[k] for k in ("accuracy", "float_accuracy", "val_accuracy", "macs",
                                                              "params")}
    rdc = rdc_spec(cfg, spec.input.width) if cfg["frontend"] == "rdc" else None
    metrics["readout_bits"] = rdc.code_bits * rdc.channels if rdc is not None else cfg["adc_bits"]
    artefacts = {"netspec": str(trained.netspec.relative_to(out)), "bundle": str(trained.bundle.relative_to(out)),
                 "train": str((trained.folder / "train.json").relative_to(out))}
    act_file = None
    rtl_s = 0.0
    if cfg["rtl"]["verify"]:
        t1 = time.perf_counter()
        summary, act_file = verify_point(point, trained)
        rtl_s = time.perf_counter() - t1
        metrics["rtl_mismatches"] = summary["mismatches"]
        if summary["cycles_per_frame"]:  # measured between labels: needs ≥ 2 frames
            metrics["rtl_cycles_per_frame"] = summary["cycles_per_frame"]
        artefacts["activity"] = str(act_file.relative_to(out))
    metrics.update(energy_point(cfg, spec, act_file))
    metrics["activity"] = "measured" if act_file is not None else "analytic"
    log_attempt(out, point["hash"], "done")
    return {"hash": point["hash"], "metrics": metrics, "artefacts": artefacts,
            "timing": {"total_s": round(time.perf_counter() - t0, 3), "train_s": trained.info["train_s"],
                       "rtl_s": round(rtl_s, 3), "reused_network": trained.reused},
            "worker": f"{socket.gethostname()}:{os.getpid()}"}


__all__ = ["METRICS", "STAGES", "Trained", "count_starts", "dataset", "energy_point", "evaluate_point", "input_format",
           "log_attempt", "net_dir", "network", "pipeline", "point_dir", "rdc_spec", "train_point", "verify_point"]
