"""The energy model: energy per frame = Σ (action count × energy per action) + leakage power × frame time.

The method of Accelergy's energy-reference tables with CamJ's analog/digital/communication split:
pixel readout as C·V², ADC by Walden FoM × 2^bits, RDC by comparator decisions, links by energy per
bit, ISP and CNN by digital ops and SRAM accesses priced from the technology table and scaled to
the pipeline's digital node and supply. Reported as nJ/pixel per stage (per sensor pixel), µJ per
frame and mW at the frame rate.
"""

from __future__ import annotations

import contextlib
import copy
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from logcam.config import StrictModel, embedded_config, read_yaml, validate
from logcam.energy.activity_counts import (
    Action,
    cnn_actions,
    cnn_actions_rtl,
    isp_actions,
    link_actions,
    sensor_actions,
    sram_entry,
)
from logcam.energy.scaling import ScalingTable, load_scaling
from logcam.energy.tables import Entry, TechTable, load_tech, parse_entries
from logcam.errors import ConfigError, InputError

STAGES = ("sensor", "link", "isp", "cnn")
PIPELINES = ("conventional", "loggrad", "optical")


class SensorCfg(StrictModel):
    """Pixel array readout: an ADC per pixel (conventional, optical) or the RDC (log-gradient)."""

    readout: Literal["adc", "rdc"] = Field(..., description="adc or rdc")
    adc_bits: int = Field(10, ge=1, le=16, description="ADC resolution, bits (adc readout; RDC input DN bits)")
    levels: Literal[3, 5, 7] = Field(3, description="RDC output levels")
    mode: Literal["h", "v", "hv", "sum"] = Field("sum", description="RDC mode (RdcSpec.mode)")
    lanes: int = Field(1, ge=1, description="RDC columns per clock (RdcSpec.lanes)")
    optics: str | None = Field(None, description="tech entry of a passive optical front end (e.g. optics_phlatcam)")


class LinkCfg(StrictModel):
    """Sensor → processor link."""

    kind: Literal["mipi", "utsv", "none"] = "mipi"
    bits_per_pixel: float | None = Field(None, gt=0, description="default: ADC bits, or RDC code bits × channels")


class IspCfg(StrictModel):
    enabled: bool = False
    denoise: bool = False


class CnnCfg(StrictModel):
    """The CNN: a NetSpec (path relative to the pipeline file, or under configs/), optionally re-fed."""

    netspec: str = Field(..., description="NetSpec YAML, e.g. nets/2conv1fc.yaml")
    input_format: Literal["codes", "uint8"] | None = Field(None, description="override the NetSpec input format")
    c1: int | None = Field(None, ge=1, le=512, description="override the first conv layer's output channels (pe = c1)")


class Pipeline(StrictModel):
    """One sensing + processing pipeline (configs/energy/*.yaml)."""

    name: str
    description: str = ""
    width: int = Field(..., ge=2, le=8192, description="pixels")
    height: int = Field(..., ge=2, le=8192, description="pixels")
    fps: float = Field(30.0, gt=0, description="frames per second")
    node_nm: float = Field(45, gt=0, description="digital node (ISP, CNN), nm")
    vdd_v: float | None = Field(None, gt=0, description="digital supply, V (default: the node's nominal)")
    sensor: SensorCfg
    link: LinkCfg = LinkCfg()
    isp: IspCfg = IspCfg()
    cnn: CnnCfg | None = None
    overrides: dict[str, Any] = Field(default_factory=dict, description="tech entries to replace")


def resolve_pipeline_path(name_or_path: str | Path) -> Path:
    """A pipeline name (conventional, loggrad, optical) or a YAML path."""
    p = Path(name_or_path)
    if p.suffix in (".yaml", ".yml"):
        if not p.is_file():
            raise InputError(f"PIPELINE: {p}: no such file")
        return p
    if str(name_or_path) in PIPELINES:
        return embedded_config(f"energy/backup/{name_or_path}.yaml")
    raise ConfigError(f"PIPELINE: {name_or_path!r} is not one of {', '.join(PIPELINES)} nor a .yaml file")


def load_pipeline(name_or_path: str | Path, **over: Any) -> tuple[Pipeline, Path]:
    """Read and validate a pipeline (with top-level field overrides); returns it and its file."""
    path = resolve_pipeline_path(name_or_path)
    data = _read_yaml_cached(path)
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    data.update({k: v for k, v in over.items() if v is not None})
    return validate(Pipeline, data, where=path.name), path


def load_net(pipe: Pipeline, base: Path, levels: int | None = None):
    """The pipeline's NetSpec, with the input format/levels the sensor feeds it."""
    from logcam.nn.netspec import NetSpec

    assert pipe.cnn is not None
    cand = [base.parent / pipe.cnn.netspec, Path(pipe.cnn.netspec)]
    with contextlib.suppress(InputError):
        cand.append(embedded_config(pipe.cnn.netspec))
    path = next((c for c in cand if c.is_file()), None)
    if path is None:
        raise InputError(f"cnn.netspec: {pipe.cnn.netspec}: no such NetSpec file")
    data = _read_yaml_cached(path)
    if not isinstance(data, dict):
        raise ConfigError(f"cnn.netspec: {path}: expected a mapping at the top level")
    inp = dict(data.get("input", {}))
    if pipe.cnn.input_format is not None:
        inp["format"] = pipe.cnn.input_format
    if inp.get("format", "codes") == "codes":
        inp["levels"] = levels if levels is not None else pipe.sensor.levels
    else:
        inp["levels"] = None
    data["input"] = inp
    if pipe.cnn.c1 is not None:
        layers = [dict(x) for x in data.get("layers", [])]
        if not layers or layers[0].get("type") != "conv":
            raise ConfigError("cnn.c1: the NetSpec's first layer must be conv")
        layers[0].update(out_channels=pipe.cnn.c1, pe=pipe.cnn.c1)
        data["layers"] = layers
    return validate(NetSpec, data, where=f"cnn.netspec({path.name})")


def _read_yaml_cached(path: Path) -> Any:
    """A fresh copy of a YAML file's data, parsed once per (path, mtime) — sweeps read the same NetSpec often."""
    key = (str(Path(path).resolve()), Path(path).stat().st_mtime_ns)
    if key not in _YAML_CACHE:
        _YAML_CACHE[key] = read_yaml(path)
    return copy.deepcopy(_YAML_CACHE[key])


_YAML_CACHE: dict[tuple[str, int], Any] = {}


def rdc_spec(pipe: Pipeline):
    from logcam.rdcspec import RdcSpec

    s = pipe.sensor
    return validate(RdcSpec, {"width": pipe.width, "height": pipe.height, "adc_bits": s.adc_bits,
                              "levels": s.levels, "mode": s.mode, "lanes": s.lanes}, where="sensor")


def pipeline_actions(pipe: Pipeline, base: Path, activity: dict | None = None) -> list[Action]:
    """All actions per frame of ``pipe``; ``activity`` (RTL counters) replaces the analytic CNN/RDC counts."""
    pixels = pipe.width * pipe.height
    s = pipe.sensor
    spec = rdc_spec(pipe) if s.readout == "rdc" else None
    if activity is not None and "rdc" in activity and spec is not None:
        from logcam.hw.rdc import activity as rdc_activity

        r = activity["rdc"]
        counts = rdc_activity(spec, beats=int(r["beats"]), nonzero=int(r.get("nonzero", 0)))
        acts = [Action("sensor", "pixel_readout", "pixel", counts["pixels"]),
                Action("sensor", "rdc_comparators", "comparator", counts["comparisons"])]
    else:
        acts = sensor_actions(pixels, s.readout, s.adc_bits, spec, s.optics)
    bpp = pipe.link.bits_per_pixel
    if bpp is None:
        bpp = spec.code_bits * spec.channels if spec is not None else s.adc_bits
    acts += link_actions(pixels, bpp, pipe.link.kind)
    net = load_net(pipe, base) if pipe.cnn is not None else None
    if pipe.isp.enabled:
        gray = net is not None and net.input.channels == 1
        acts += isp_actions(pixels, s.adc_bits, gray, pipe.isp.denoise, pipe.width)
    if net is not None:
        if activity is not None and "layers" in activity:
            acts += cnn_actions_rtl(net, activity["layers"])
        else:
            acts += cnn_actions(net)
    return acts


def action_energy_pj(act: Action, tech: TechTable, digital: float) -> tuple[float, str]:
    """(pJ per action, source) for one action; ``digital`` scales the digital entries to the pipeline node."""

    def entry(name: str, unit: str) -> tuple[float, Entry]:
        v = tech.get(name, unit)
        e = tech.entries[name]
        return v * (digital if e.scale == "digital" else 1.0), e

    if act.action == "pixel":
        c, ec = entry("pixel_readout_cap", "pF")
        v, ev = entry("pixel_vdd", "V")
        return c * v * v, f"C·V²: {ec.source}; {ev.source}"
    if act.action == "adc":
        fom, e = entry("adc_walden_fom", "pJ/step")
        return fom * 2.0**act.bits, f"FoM·2^{act.bits}: {e.source}"
    if act.action.startswith("link_"):
        v, e = entry(act.action, "pJ/bit")
        return v, e.source
    if act.action in ("sram_read", "sram_write"):
        name = sram_entry(act.bytes)
        v, e = entry(name, "pJ")
        if act.action == "sram_write":
            r, er = entry("sram_write_per_read", "ratio")
            return v * r, f"{e.source}; {er.source}"
        return v, e.source
    if act.action.startswith("leak:"):
        raise ValueError("leakage is priced per second, not per action")
    v, e = entry(act.action, "pJ")
    return v, e.source


def evaluate(pipe: Pipeline, base: Path, tech: TechTable | None = None, scaling: ScalingTable | None = None,
             activity: dict | None = None) -> dict:
    """Energy report of ``pipe``: stages → components (count, pJ/action, pJ/frame, nJ/pixel, source)."""
    tech = load_tech() if tech is None else tech
    tech = tech.with_overrides(parse_entries(pipe.overrides, "overrides"))
    scaling = load_scaling() if scaling is None else scaling
    vdd = pipe.vdd_v if pipe.vdd_v is not None else scaling.nominal_vdd(pipe.node_nm)
    digital = scaling.factor(tech.node_nm, tech.vdd_v, pipe.node_nm, vdd)
    pixels = pipe.width * pipe.height
    frame_s = 1.0 / pipe.fps
    stages: dict[str, dict] = {}
    for act in pipeline_actions(pipe, base, activity):
        st = stages.setdefault(act.stage, {"pJ_per_frame": 0.0, "components": {}})
        if act.action.startswith("leak:"):
            name = act.action[5:]
            p_uw = tech.get(name, "uW") * (digital if tech.entries[name].scale == "digital" else 1.0)
            per, src, pj = p_uw * act.count, tech.entries[name].source, p_uw * act.count * frame_s * 1e6
            unit = "uW"
        else:
            per, src = action_energy_pj(act, tech, digital)
            pj, unit = per * act.count, "pJ"
        comp = st["components"].setdefault(act.component, {"count": 0.0, "action": act.action, "pJ_per_frame": 0.0,
                                                           "per_action": per, "per_action_unit": unit,
                                                           "source": src})
        comp["count"] += act.count
        comp["pJ_per_frame"] += pj
        if comp["action"] != act.action:
            comp["action"] += f"+{act.action}"
            comp["source"] += f"; {src}"
        st["pJ_per_frame"] += pj
    for st in stages.values():
        st["nJ_per_pixel"] = st["pJ_per_frame"] / pixels / 1e3
        for comp in st["components"].values():
            comp["nJ_per_pixel"] = comp["pJ_per_frame"] / pixels / 1e3
    total_pj = sum(st["pJ_per_frame"] for st in stages.values())
    ordered = {k: stages[k] for k in STAGES if k in stages}
    return {"pipeline": pipe.name, "width": pipe.width, "height": pipe.height, "pixels": pixels, "fps": pipe.fps,
            "node_nm": pipe.node_nm, "vdd_v": vdd, "tech": tech.name, "scaling_rule": scaling.rule,
            "stages": ordered, "total_nJ_per_pixel": total_pj / pixels / 1e3, "uJ_per_frame": total_pj / 1e6,
            "mW": total_pj * 1e-12 * pipe.fps * 1e3}


def pipeline_energy(name_or_path: str | Path = "loggrad", tech: str | Path | None = None,
                    node_nm: float | None = None, vdd_v: float | None = None, fps: float | None = None,
                    activity: dict | None = None, **over: Any) -> dict:
    """Energy breakdown of a pipeline (name or YAML path) as a dict; what ``logcam run`` adds to its report.

    ``node_nm``/``vdd_v``/``fps`` and other top-level pipeline fields override the file; ``activity``
    holds RTL counters: ``{"rdc": {"beats", "nonzero"}, "layers": [{"mac_cycles", "lb_access",
    "rom_reads", "out_beats"}, ...]}`` per frame.
    """
    if node_nm is not None and vdd_v is None:
        vdd_v = load_scaling().nominal_vdd(node_nm)
    pipe, path = load_pipeline(name_or_path, node_nm=node_nm, vdd_v=vdd_v, fps=fps, **over)
    return evaluate(pipe, path, load_tech(tech), activity=activity)
