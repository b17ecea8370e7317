"""``logcam run`` with an ``optics:`` section: scene → PhlatCam masks → sensor → integer CNN → label.

The lensless front-end is trained first, jointly with the network that follows it (the training
config the section names, e.g. configs/optics/quick.yaml, about a minute on 2 cores); the network
after the optics is exported to a NetSpec + int8 bundle; then held-out RGB scenes go through the
masks, the EMVA 1288 sensor (photon budget and noise after the optics, each mask region on its own
part of the sensor), the pair subtraction on the way in (the training config's ``stem_input``: signed
int8 maps by default) and the integer golden model, and — unless ``rtl.check`` is off — the same
network inputs stream through the accelerator RTL, compared layer by layer with the golden model.
Everything is written into the run folder: ``overview.png`` (PSFs, region read-outs, feature maps and
label of the first scene), one such figure per scene, the exported network, and ``summary.json`` (with the
chip area: the sensor regions and the exported accelerator's cells, :mod:`logcam.energy.area`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from pydantic import Field

from logcam.config import StrictModel, embedded_config
from logcam.errors import InputError


class OpticalRunConfig(StrictModel):
    """The ``optics:`` section of a run config."""

    train: str = Field("optics/quick.yaml", description="optics + CNN training config: a path, or a name under "
                                                         "configs/")
    frames: int = Field(6, ge=1, le=64, description="held-out scenes sensed and labelled")


def _resolve(path: str) -> Path:
    p = Path(path)
    if p.exists():
        return p
    try:
        return embedded_config(path)
    except InputError:
        raise InputError(f"optics.train: {path}: no such training config (nor one under configs/)") from None


def check_optical(cfg: Any) -> None:
    """Every mistake in the optical run's configs as one line, before any folder or training."""
    from logcam.nn.optics_train import load_optics_train_config
    from logcam.sim.sensor import load_sensor

    load_optics_train_config(_resolve(cfg.optics.train))
    load_sensor(cfg.sensor)


def run_optical(cfg: Any, tmp: Path, say: Any) -> dict[str, Any]:
    """The optical main job into folder ``tmp`` (``cfg``: the RunConfig); returns the summary's body."""
    from logcam.nn.export import write_export
    from logcam.nn.optics import sensor_area_mm2
    from logcam.nn.optics_train import (
        export_digital,
        input_words,
        load_optics_train_config,
        overview_figure,
        sense_and_classify,
        train_optics,
    )
    from logcam.sim.sensor import Sensor, load_sensor

    ocfg: OpticalRunConfig = cfg.optics
    tcfg = load_optics_train_config(_resolve(ocfg.train))
    say(f"training optics + CNN ({tcfg.name}: {tcfg.epochs} epochs on {tcfg.dataset.n} scenes)")
    res = train_optics(tcfg)
    say("exporting the network after the optics to int8")
    net, bundle, acc = export_digital(res)
    write_export(net, bundle, tmp / net.name, header=f"{net.name}: the network after the optics, exported by "
                                                        f"`logcam run` (input: {input_words(tcfg)})")
    size = int(res.data.images.shape[-1])
    sensor_spec = load_sensor(cfg.sensor)  # the whole preset frame: the mask regions lie side by side on it
    sensor = Sensor(sensor_spec, seed=cfg.seed)
    test = res.splits[2][: ocfg.frames]
    names = res.data.class_names
    frames: list[dict[str, Any]] = []
    region_dn, net_in = [], []
    for i, idx in enumerate(test.tolist()):
        truth = int(res.data.labels[idx])
        say(f"scene {i + 1}/{len(test)}: {names[truth]} through masks, sensor and network")
        scene = res.data.images[idx].double().numpy()
        frame = sense_and_classify(res, net, bundle, scene, sensor, rng=np.random.default_rng([cfg.seed, i]))
        overview_figure(frame, names, truth, tmp / f"{i:02d}_{names[truth]}_optics.png")
        if i == 0:
            overview_figure(frame, names, truth, tmp / "overview.png")
        region_dn.append(frame.region_dn)
        net_in.append(frame.net_input)
        in_kernel = [float(p.sum(axis=(-2, -1)).mean()) for p in frame.psfs]  # light inside the k×k kernel, per colour
        frames.append({"name": names[truth], "true_label": truth, "label": frame.label,
                       "label_name": names[frame.label], "region_dn_mean": float(frame.region_dn.mean()),
                       "psf_energy": in_kernel})
    np.save(tmp / "region_dn.npy", np.stack(region_dn))
    inputs = np.stack(net_in)
    np.save(tmp / "net_input.npy", inputs)
    oc = tcfg.optics
    summary: dict[str, Any] = {
        "optics": {"train": ocfg.train, "kind": oc.kind, "design": oc.design, "masks": oc.mask.masks,
                   "kernel": oc.mask.kernel, "distance_mm": oc.mask.distance_mm, "regions": oc.regions,
                   "feature_maps": oc.feature_maps, "stem_input": tcfg.stem_input,
                   "sensor_area_mm2": sensor_area_mm2(oc, size, size)},
        "training": {**res.as_dict(), "int8_test_acc": acc["int8_test_acc"]},
        "cnn": {"net": net.name, "classes": list(names), "macs_per_frame": net.macs(),
                "input": net.input.model_dump(mode="json")},
        "frames": frames,
        "frames_correct": sum(f["label"] == f["true_label"] for f in frames),
        "sensor": {"preset": cfg.sensor, "width": sensor_spec.width, "height": sensor_spec.height,
                   "region_px": [size, size]},
    }
    summary["area"] = _area(net, bundle, sensor_area_mm2(oc, size, size)["total_mm2"])
    if cfg.rtl.check:
        from logcam.sim.rtl.accel_verify import verify_accel

        say(f"accelerator RTL vs golden on {cfg.rtl.sim}, {len(inputs)} frames of {net.input.format} network input "
            "(the first build of a configuration takes a minute or two)")
        summary["rtl"] = {"accel": verify_accel(net, bundle, inputs.astype(np.int64), sim=cfg.rtl.sim,
                                                seed=cfg.seed).to_json()}
    return summary


def _area(net: Any, bundle: Any, sensor_mm2: float) -> dict[str, Any]:
    """Chip area (:mod:`logcam.energy.area`): the exported accelerator's cells counted by Yosys, plus the sensor."""
    from logcam.energy.area import chip_area
    from logcam.sim.rtl.emit import layer_stats

    return chip_area(layer_stats(net, bundle), sensor_mm2).to_json()
