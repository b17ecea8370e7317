"""The main job (``logcam run``): scenes → sensor → RDC → (CNN) → report, RTL checked against golden.

Everything lands in one run folder, written to a temporary sibling and renamed at the end, so an
interrupted or failed run leaves nothing half-written:

- ``overview.png``: one row per scene — sensor illuminance (lux, log scale), RAW DN, 8-bit ISP image,
  float log-gradient, RDC codes;
- ``<nn>_<scene>_{raw,isp,fploggrad,codes}.png``: the same images at full resolution;
- ``summary.json``: the resolved config, sensor figures, per-scene statistics, RTL check results.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import Field

from logcam import __version__
from logcam.config import StrictModel, embedded_config, load_model, validate
from logcam.errors import ConfigError, InputError
from logcam.files import check_folder, make_folder, user_mode
from logcam.frontend import check_feeds, image_input, rdc_input, retarget
from logcam.nn.golden.rdc import fp_loggrad, rdc_codes
from logcam.rdcspec import RdcSpec
from logcam.run_optical import OpticalRunConfig
from logcam.sim.isp import isp
from logcam.sim.scenes import render_scene, scene_names
from logcam.sim.sensor import Sensor, SensorSpec, emva_figures, load_sensor


class FrameConfig(StrictModel):
    """The sensor window read out (pixels)."""

    height: int = Field(96, ge=2, le=4096)
    width: int = Field(96, ge=2, le=4096)


class RtlConfig(StrictModel):
    """Whether and how the RTL is checked against the golden model."""

    check: bool = True
    sim: Literal["verilator", "amaranth"] = "verilator"


class NetConfig(StrictModel):
    """The CNN that labels every frame: a NetSpec YAML and its int8 weights bundle."""

    spec: str = Field("nets/2conv1fc.yaml", description="NetSpec YAML: a path, or a name under configs/")
    weights: str | None = Field(None, description="bundle .npz (default: beside the YAML, same stem)")


class ObjectsConfig(StrictModel):
    """Synthetic objects of the classes the bundled network knows (nn/data.py), with their true labels."""

    n: int = Field(3, ge=0, le=64, description="object frames added after the scenes (0: none)")
    seed: int = Field(1000, ge=0, description="seed of the object renderer (training used seed 0)")


class RunConfig(StrictModel):
    """Configuration of ``logcam run`` (configs/default.yaml holds the embedded defaults)."""

    seed: int = Field(0, ge=0)
    scenes: list[str] = Field(default_factory=lambda: ["shapes", "shadow", "texture", "camera"], min_length=1,
                              max_length=64)
    mean_lux: float = Field(200.0, gt=0, le=1e6, description="mean illuminance at the sensor plane, lux")
    sensor: str = "tinyml_cmos"
    exposure_s: float | None = Field(None, gt=0, le=100)
    frame: FrameConfig = FrameConfig()
    rdc: dict[str, Any] = Field(default_factory=lambda: {"levels": 3, "mode": "sum", "lanes": 4})
    rtl: RtlConfig = RtlConfig()
    fps: float = Field(30.0, gt=0, le=10000, description="frame rate for the energy report (mW)")
    node_nm: int = Field(45, description="process node of the digital stages for the energy report")
    net: NetConfig | None = NetConfig()
    objects: ObjectsConfig = ObjectsConfig()
    optics: OpticalRunConfig | None = Field(
        None, description="lensless PhlatCam front-end instead of the RDC (scenes, rdc, net, objects unused)")

    def rdc_spec(self, adc_bits: int) -> RdcSpec:
        """The RdcSpec of this run: the ``rdc`` fields plus the frame size and the sensor's ADC bits."""
        fixed = {"width": self.frame.width, "height": self.frame.height, "adc_bits": adc_bits}
        clash = sorted(set(fixed) & set(self.rdc))
        if clash:
            raise ConfigError(f"rdc.{clash[0]}: set by frame/sensor in a run config; remove it from rdc")
        return validate(RdcSpec, {**self.rdc, **fixed}, where="rdc")


def _resolve(path: str) -> Path:
    """A config path as given, else a file shipped under configs/."""
    p = Path(path)
    return p if p.exists() else embedded_config(path)


def load_net(cfg: NetConfig, rdc: RdcSpec) -> tuple[Any, Any]:
    """(NetSpec, Bundle) of the run, checked against the RDC that feeds it."""
    from logcam.nn.netspec import Bundle, NetSpec

    try:
        spec_path = _resolve(cfg.spec)
    except InputError:
        raise InputError(f"net.spec: {cfg.spec}: no such NetSpec file (nor one under configs/)") from None
    spec = NetSpec.load(spec_path)
    weights = Path(cfg.weights) if cfg.weights else spec_path.with_suffix(".npz")
    if not weights.is_file():
        raise InputError(f"net.weights: {weights}: no such weights bundle")
    bundle = Bundle.load(spec, weights)
    check_feeds(rdc_input(rdc), spec, source="the run's RDC", where=f"net.spec: {spec_path.name}",
                hint="set frame/rdc to match, or net: null")
    return spec, bundle


def load_run_config(path: str | Path | None) -> RunConfig:
    """The run config at ``path``, or the embedded defaults."""
    return load_model(RunConfig, path if path is not None else embedded_config("default.yaml"))


Progress = Callable[[str], None]


def _png(path: Path, img: np.ndarray, cmap: str = "gray", vmin: float | None = None,
         vmax: float | None = None) -> None:
    import matplotlib.pyplot as plt

    plt.imsave(path, img, cmap=cmap, vmin=vmin, vmax=vmax)


def _overview(path: Path, rows: list[dict[str, Any]], spec: RdcSpec) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = ["lux", "raw", "isp", "fp", "codes"]
    titles = {"lux": "illuminance (lux, log)", "raw": "RAW (DN)", "isp": "ISP 8-bit sRGB",
              "fp": "log-gradient (float)", "codes": f"RDC codes ({spec.levels} levels)"}
    fig, axes = plt.subplots(len(rows), len(cols), figsize=(2.6 * len(cols), 2.6 * len(rows)), squeeze=False)
    m = float(np.log(float(spec.thresholds[-1]))) * 1.5 if spec.thresholds else 1.0
    for r, row in enumerate(rows):
        imgs = {"lux": (np.log10(np.maximum(row["lux"], 1e-3)), "magma", None, None),
                "raw": (row["raw"], "gray", 0, spec.max_dn), "isp": (row["isp"], "gray", 0, 255),
                "fp": (row["fp"][0], "RdBu_r", -m, m), "codes": (row["codes"][0], "RdBu_r", -spec.m, spec.m)}
        for c, key in enumerate(cols):
            ax = axes[r, c]
            img, cmap, lo, hi = imgs[key]
            im = ax.imshow(img, cmap=cmap, vmin=lo, vmax=hi, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(titles[key], fontsize=9)
            if c == 0:
                ax.set_ylabel(row["name"], fontsize=9)
            if key == "codes" and "label" in row:
                ax.set_xlabel(f"CNN: {row['label']}", fontsize=8)
            if key in ("lux", "raw", "codes"):
                ticks = list(range(-spec.m, spec.m + 1)) if key == "codes" else None
                fig.colorbar(im, ax=ax, fraction=0.046, pad=0.02, ticks=ticks)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def run_pipeline(cfg: RunConfig, out_dir: Path, progress: Progress | None = None) -> dict[str, Any]:
    """Run the main job into ``out_dir`` (created; must not exist). Returns the summary dict."""
    say = progress or (lambda _msg: None)
    body: Callable[[Path], dict[str, Any]]
    if cfg.optics is not None:
        from logcam.run_optical import check_optical, run_optical

        check_optical(cfg)  # every config mistake before the folder and the training
        body = lambda tmp: run_optical(cfg, tmp, say)  # noqa: E731
    else:
        for i, name in enumerate(cfg.scenes):
            if name not in scene_names():
                raise ConfigError(f"scenes[{i}]: unknown scene {name!r}; allowed: {', '.join(scene_names())}")
        sensor_spec = load_sensor(cfg.sensor, width=cfg.frame.width, height=cfg.frame.height)
        rdc = cfg.rdc_spec(sensor_spec.adc_bits)
        net = load_net(cfg.net, rdc) if cfg.net is not None else None
        body = lambda tmp: _run_into(cfg, rdc, sensor_spec, net, tmp, say)  # noqa: E731
    if out_dir.exists() or out_dir.is_symlink():
        raise ConfigError(f"out: {out_dir} exists already; choose another run folder")
    if out_dir.name in ("", ".", ".."):
        raise ConfigError(f"out: {out_dir} names no new folder; give a run folder name")
    check_folder(out_dir.parent)
    t0 = time.perf_counter()
    made = [d for d in (out_dir.parent, *out_dir.parent.parents) if not d.exists()]  # the folders we create
    make_folder(out_dir.parent)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        summary = {"logcam": __version__, "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                   "config": cfg.model_dump(mode="json"), **body(tmp)}
        summary["wall_s"] = round(time.perf_counter() - t0, 3)
        summary["out_dir"] = str(out_dir)
        (tmp / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
        user_mode(tmp, directory=True)
        tmp.rename(out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        for d in made:  # innermost first: leave no empty folder behind either
            with contextlib.suppress(OSError):
                d.rmdir()
        raise
    return summary


def _illuminance(cfg: RunConfig) -> list[tuple[str, np.ndarray, int | None]]:
    """(name, lux map, true label or None) of every frame: the scenes, then the synthetic objects."""
    h, w = cfg.frame.height, cfg.frame.width
    out: list[tuple[str, np.ndarray, int | None]] = [
        (name, render_scene(name, h, w, seed=cfg.seed + i, mean_lux=cfg.mean_lux), None)
        for i, name in enumerate(cfg.scenes)]
    if cfg.objects.n and cfg.net is not None:
        from logcam.nn.data import CLASS_NAMES, SyntheticConfig, render_objects

        if h != w:
            raise ConfigError(f"objects: synthetic objects are square; frame is {h}×{w} (set objects.n: 0)")
        ocfg = SyntheticConfig(n=max(3, cfg.objects.n), size=h, seed=cfg.objects.seed)
        lux, labels = render_objects(ocfg, 0, cfg.objects.n)
        out += [(f"{CLASS_NAMES[lab]}", lux[j], int(lab)) for j, lab in enumerate(labels)]
    return out


def _run_into(cfg: RunConfig, rdc: RdcSpec, sensor_spec: SensorSpec, net: tuple[Any, Any] | None, tmp: Path,
              say: Progress) -> dict[str, Any]:
    sensor = Sensor(sensor_spec, seed=cfg.seed)
    rows: list[dict[str, Any]] = []
    scenes: list[dict[str, Any]] = []
    raws = []
    frames_lux = _illuminance(cfg)
    for i, (name, lux, truth) in enumerate(frames_lux):
        say(f"frame {i + 1}/{len(frames_lux)}: {name}")
        raw = sensor.capture(lux, exposure_s=cfg.exposure_s, rng=np.random.default_rng([cfg.seed, i]))
        img8 = isp(raw, sensor_spec)
        codes = rdc_codes(raw, rdc)[0].numpy()
        fp = fp_loggrad(raw, rdc)[0].numpy()
        stem = f"{i:02d}_{name}"
        _png(tmp / f"{stem}_raw.png", raw, vmin=0, vmax=rdc.max_dn)
        _png(tmp / f"{stem}_isp.png", img8, vmin=0, vmax=255)
        lim = float(np.log(float(rdc.thresholds[-1]))) * 1.5
        _png(tmp / f"{stem}_fploggrad.png", fp[0], cmap="RdBu_r", vmin=-lim, vmax=lim)
        _png(tmp / f"{stem}_codes.png", codes[0], cmap="RdBu_r", vmin=-rdc.m, vmax=rdc.m)
        rows.append({"name": name, "lux": lux, "raw": raw, "isp": img8, "fp": fp, "codes": codes})
        raws.append(raw)
        hist = np.bincount((codes.astype(np.int64) + rdc.m).ravel(), minlength=rdc.levels)
        scenes.append({
            "name": name, "kind": "scene" if truth is None else "object",
            **({"true_label": truth} if truth is not None else {}),
            "lux_min": float(lux.min()), "lux_max": float(lux.max()), "lux_mean": float(lux.mean()),
            "raw_dn_mean": float(raw.mean()), "raw_saturated_fraction": float((raw >= rdc.max_dn).mean()),
            "code_histogram": {str(k - rdc.m): int(v) for k, v in enumerate(hist)},
            "code_zero_fraction": float(hist[rdc.m] / hist.sum()),
        })
    frames = np.stack(raws).astype(np.uint16)
    codes_all = rdc_codes(frames, rdc)
    cnn: dict[str, Any] | None = None
    if net is not None:
        cnn = _classify(net, codes_all, scenes)
        for row, s in zip(rows, scenes):
            row["label"] = s["label_name"] + (f" (true {net[0].class_name(s['true_label'])})"
                                              if "true_label" in s else "")
    say("overview.png")
    _overview(tmp / "overview.png", rows, rdc)
    np.save(tmp / "raw_dn.npy", frames)
    np.save(tmp / "codes.npy", codes_all.numpy())
    summary: dict[str, Any] = {
        "rdc": rdc.model_dump(mode="json"),
        "sensor": {"spec": sensor_spec.model_dump(mode="json"), "emva": emva_figures(sensor_spec).as_dict()},
        "data": {"raw_bits_per_pixel": sensor_spec.adc_bits, "code_bits_per_pixel": rdc.code_bits * rdc.channels,
                 "code_information_bits_per_pixel": round(rdc.bits_per_pixel, 3)},
        "scenes": scenes,
    }
    if cnn is not None:
        summary["cnn"] = cnn
    say("energy per pixel")
    summary["energy"] = run_energy(cfg, rdc, net)
    if cfg.rtl.check:
        if net is not None:
            say(f"RTL top (RDC → CNN accelerator) vs golden on {cfg.rtl.sim}, {len(raws)} frames "
                "(the first build of a configuration takes a minute or two)")
            summary["rtl"] = {"top": _check_top_rtl(rdc, net, frames, cfg)}
        else:
            say(f"RDC RTL vs golden on {cfg.rtl.sim} ({len(raws)} frames)")
            summary["rtl"] = {"rdc": _check_rdc_rtl(rdc, frames, cfg)}
    return summary


def run_energy(cfg: RunConfig, rdc: RdcSpec, net: tuple[Any, Any] | None) -> dict[str, Any]:
    """nJ/pixel per stage of this run's log-gradient chip, beside a conventional ADC + ISP chip with the same
    sensor window and network (energy/: analytic activity × the sourced technology table)."""
    from logcam.energy.pipeline import analytic_activity, energy, pipeline_from_dict
    from logcam.energy.tech import Scaling, TechTable

    sensor = {"width": rdc.width, "height": rdc.height, "adc_bits": rdc.adc_bits, "fps": cfg.fps}
    cnn = None if net is None else {"input": "codes"}
    loggrad = {"name": "loggrad", "sensor": sensor, "readout": {"kind": "rdc", "levels": rdc.levels, "mode": rdc.mode},
               "link": {"kind": "mipi"}, "cnn": cnn, "digital": {"node_nm": cfg.node_nm}}
    conventional = {"name": "conventional", "sensor": sensor, "readout": {"kind": "adc"}, "link": {"kind": "mipi"},
                    "isp": {}, "cnn": None if net is None else {"input": "uint8"}, "digital": {"node_nm": cfg.node_nm}}
    tech, scaling = TechTable.load(), Scaling.load()
    out: dict[str, Any] = {}
    for data in (loggrad, conventional):
        pcfg = pipeline_from_dict(data, where="energy")
        spec = None
        if net is not None:  # the same network behind the RDC, or behind the ISP
            fed = rdc_input(rdc) if pcfg.name == "loggrad" else image_input(rdc.height, rdc.width)
            spec = retarget(net[0], fed)
        out[pcfg.name] = energy(pcfg, tech, scaling, analytic_activity(pcfg, net=spec)).to_json()
    return out


def _classify(net: tuple[Any, Any], codes: Any, scenes: list[dict[str, Any]]) -> dict[str, Any]:
    """Labels from the integer golden CNN; adds label/logits to each scene entry, returns the CNN summary."""
    from logcam.nn.golden.accel import run as golden_run

    spec, bundle = net
    result = golden_run(spec, bundle, codes)
    labels = result.labels.tolist()
    logits = result.logits.tolist()
    for s, lab, lg in zip(scenes, labels, logits):
        s["label"], s["label_name"], s["logits"] = int(lab), spec.class_name(int(lab)), lg
    objects = [s for s in scenes if "true_label" in s]
    correct = sum(s["label"] == s["true_label"] for s in objects)
    return {"net": spec.name, "classes": spec.classes, "macs_per_frame": spec.macs(),
            "bound_cycles_per_frame": spec.bound_cycles(), "objects": len(objects), "objects_correct": correct}


def _check_top_rtl(rdc: RdcSpec, net: tuple[Any, Any], frames: np.ndarray, cfg: RunConfig) -> dict[str, Any]:
    from logcam.sim.rtl.accel_verify import verify_top

    spec, bundle = net
    return verify_top(rdc, spec, bundle, frames, sim=cfg.rtl.sim, seed=cfg.seed).to_json()


def _check_rdc_rtl(rdc: RdcSpec, frames: np.ndarray, cfg: RunConfig) -> dict[str, Any]:
    from logcam.sim.rtl.rdc_verify import verify_rdc

    return verify_rdc(rdc, frames, sim=cfg.rtl.sim, seed=cfg.seed).to_json()


def default_out_dir(root: Path = Path("runs")) -> Path:
    """``runs/run-YYYYmmdd-HHMMSS`` (UTC)."""
    return root / datetime.now(timezone.utc).strftime("run-%Y%m%d-%H%M%S")
