"""Pipelines (YAML) → per-stage activity → energy: nJ/pixel per stage, µJ/frame, mW at the frame rate."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from logcam.config import StrictModel, embedded_config, load_model, read_yaml, validate
from logcam.energy.activity import (
    ISP_OPS,
    Activity,
    adc_activity,
    cnn_activity,
    isp_activity,
    link_activity,
    rdc_activity,
    sensor_activity,
)
from logcam.energy.components import (
    DRAM_KINDS,
    LINK_KINDS,
    SRAM_KINDS,
    StageEnergy,
    ff_leak_pj,
    leakage_pj,
    node_scale,
    stage_pj,
)
from logcam.energy.tech import Scaling, TechTable
from logcam.errors import ConfigError, InputError

STAGES = ("sensor", "readout", "link", "isp", "cnn")


class SensorCfg(StrictModel):
    width: int = Field(320, ge=1, le=8192, description="pixels")
    height: int = Field(240, ge=1, le=8192, description="pixels")
    adc_bits: int = Field(10, ge=1, le=16, description="bits of the pixel DN")
    fps: float = Field(30.0, gt=0, le=10000, description="frames per second")


class ReadoutCfg(StrictModel):
    kind: Literal["adc", "rdc"] = "adc"
    bits: int | None = Field(None, ge=1, le=16, description="ADC bits (kind adc; default sensor.adc_bits)")
    levels: Literal[3, 5, 7] = Field(3, description="RDC levels (kind rdc)")
    mode: Literal["h", "v", "hv", "sum"] = Field("sum", description="RDC mode (kind rdc)")
    pair_difference: bool = Field(
        False, description="kind adc: the frame is PhlatCam mask regions in pairs R⁺, R⁻ (side by side), "
                           "subtracted on the way in — ⌊(R⁺ − R⁻)/2⌋, one (bits+1)-bit addition per map pixel — so "
                           "the link carries the signed maps (half the pixels) and the CNN reads them (cnn.input "
                           "int8)")


class LinkCfg(StrictModel):
    kind: Literal[tuple(LINK_KINDS)] = "mipi"  # type: ignore[valid-type]
    bits_per_pixel: int | None = Field(None, ge=1, le=32, description="default: readout output width")


class IspCfg(StrictModel):
    steps: list[str] = Field(default_factory=lambda: ["black_level", "demosaic", "white_balance", "gamma"])
    output: Literal["stream", "dram"] = Field(
        "stream", description="stream: the CNN takes the ISP's pixels as they come; dram: the ISP writes its "
                              "8-bit frame to DRAM and the CNN reads it back (separate IP blocks of an SoC)")

    @model_validator(mode="after")
    def _check(self) -> IspCfg:
        for s in self.steps:
            if s not in ISP_OPS:
                raise ValueError(f"unknown ISP step {s!r} (allowed: {', '.join(ISP_OPS)})")
        return self


class CnnCfg(StrictModel):
    net: str | None = Field(None, description="NetSpec YAML path (relative to the pipeline file); default 2conv1fc")
    input: Literal["codes", "uint8", "int8"] = Field(
        "uint8", description="codes (RDC), uint8 (an 8-bit image), int8 (signed maps: readout.pair_difference)")
    sram: Literal[SRAM_KINDS] = SRAM_KINDS[0]  # type: ignore[valid-type]


class MemoryCfg(StrictModel):
    dram: Literal[tuple(DRAM_KINDS)] = Field(  # type: ignore[valid-type]
        "lpddr4", description="off-chip DRAM for frame buffers: lpddr4 (8 pJ/bit) or ddr_horowitz (1.3 nJ/64 bit)")


class DigitalCfg(StrictModel):
    node_nm: int = Field(45, description="node of ISP and CNN logic (Stillmaker & Baas table)")
    vdd: float | None = Field(None, gt=0, description="supply in V; default the node's nominal")


#: Activity counts a circuit's actions may follow (instead of a number per sensor pixel).
CIRCUIT_COUNTS = ("pixel_reads", "comparator_decisions")
#: Table-level analog components a stage's circuits replace.
REPLACED_BY_CIRCUITS = ("pixel", "adc", "comparators")


class CircuitsCfg(StrictModel):
    file: str | None = Field(None, description="YAML with a `circuits:` section (path from the working folder); "
                                               "default: the shipped energy/data/chips.yaml")
    stages: dict[str, dict[str, float | Literal[CIRCUIT_COUNTS]]] = Field(  # type: ignore[valid-type]
        description="stage → {circuit: actions per sensor pixel, or pixel_reads / comparator_decisions (the "
                    "stage's own count)}; the circuits replace the stage's table-level pixel, adc, comparators")

    @model_validator(mode="after")
    def _check(self) -> CircuitsCfg:
        for st, cc in self.stages.items():
            if st not in STAGES:
                raise ValueError(f"circuits.stages.{st}: unknown stage (allowed: {', '.join(STAGES)})")
            for name, n in cc.items():
                if isinstance(n, float) and not (n >= 0 and n < 1e6):
                    raise ValueError(f"circuits.stages.{st}.{name}: actions per pixel in 0 … 10^6 (got {n})")
        return self


class PipelineCfg(StrictModel):
    name: str
    description: str = ""
    sensor: SensorCfg = SensorCfg()
    readout: ReadoutCfg = ReadoutCfg()
    link: LinkCfg = LinkCfg()
    isp: IspCfg | None = None
    cnn: CnnCfg | None = CnnCfg()
    digital: DigitalCfg = DigitalCfg()
    memory: MemoryCfg = MemoryCfg()
    leakage_uw: dict[str, float] = Field(default_factory=dict, description="stage → leakage power in µW")
    circuits: CircuitsCfg | None = Field(None, description="circuit-level analog components per stage")

    @model_validator(mode="after")
    def _check(self) -> PipelineCfg:
        pairs = self.readout.pair_difference
        if pairs and self.readout.kind != "adc":
            raise ValueError("readout.pair_difference: needs readout.kind adc (the RDC has no mask pairs)")
        if pairs and self.sensor.width % 2:
            raise ValueError(f"readout.pair_difference: sensor.width must be even, the mask pairs' regions side by "
                             f"side (got {self.sensor.width})")
        if self.cnn is not None and (self.cnn.input == "int8") != pairs:
            raise ValueError("cnn.input: int8 (signed maps) goes with readout.pair_difference: true, and only "
                             f"with it (got input {self.cnn.input}, pair_difference {str(pairs).lower()})")
        for s, v in self.leakage_uw.items():
            if s not in STAGES:
                raise ValueError(f"leakage_uw.{s}: unknown stage (allowed: {', '.join(STAGES)})")
            if v < 0:
                raise ValueError(f"leakage_uw.{s}: must be ≥ 0 µW")
        return self


def load_pipeline(path: str | Path) -> tuple[PipelineCfg, Path]:
    """Pipeline config and its folder (NetSpec paths are relative to it). A bare name → configs/energy/."""
    p = Path(path)
    if not p.exists() and p.suffix == "" and "/" not in str(path):
        p = embedded_config(f"energy/{path}.yaml")
    return load_model(PipelineCfg, p), p.parent


def pipeline_from_dict(data: dict, where: str = "pipeline") -> PipelineCfg:
    return validate(PipelineCfg, data, where)


@dataclass
class Breakdown:
    """Energy per frame (pJ) per stage and component, with what it takes to normalise it."""

    name: str
    pixels: int
    fps: float
    stages: dict[str, dict[str, float]]  # stage → component → pJ/frame

    def stage_nj_per_pixel(self) -> dict[str, float]:
        return {s: sum(c.values()) / self.pixels * 1e-3 for s, c in self.stages.items()}

    @property
    def total_nj_per_pixel(self) -> float:
        return sum(self.stage_nj_per_pixel().values())

    @property
    def uj_per_frame(self) -> float:
        return sum(sum(c.values()) for c in self.stages.values()) * 1e-6

    @property
    def mw(self) -> float:
        return self.uj_per_frame * self.fps * 1e-3

    def to_json(self) -> dict:
        return {
            "name": self.name, "pixels": self.pixels, "fps": self.fps,
            "stages": {s: {"nj_per_pixel": sum(c.values()) / self.pixels * 1e-3,
                           "components_nj_per_pixel": {k: v / self.pixels * 1e-3 for k, v in c.items()}}
                       for s, c in self.stages.items()},
            "total_nj_per_pixel": self.total_nj_per_pixel, "uj_per_frame": self.uj_per_frame, "mw": self.mw,
        }


def readout_rdc(cfg: PipelineCfg):
    """The RdcSpec of an ``rdc`` readout: the sensor frame, its ADC bits, the pipeline's levels and mode."""
    from logcam.rdcspec import RdcSpec

    return validate(RdcSpec, {"width": cfg.sensor.width, "height": cfg.sensor.height, "adc_bits": cfg.sensor.adc_bits,
                              "levels": cfg.readout.levels, "mode": cfg.readout.mode}, where="readout")


def resolve_net(cfg: PipelineCfg, base: Path | None):
    """The NetSpec of the pipeline's CNN with its input replaced by what the pipeline feeds it.

    The network reads a window of the sensor frame (its own size is kept); the kind of input comes from the
    front-end through the one contract (:mod:`logcam.frontend`): the RDC's codes, an 8-bit image, or the
    optics' signed maps (int8, one per pair of regions).
    """
    from logcam.frontend import image_input, optical_input, rdc_input, retarget
    from logcam.nn.netspec import NetSpec

    assert cfg.cnn is not None
    if cfg.cnn.net is None:
        path = embedded_config("nets/2conv1fc.yaml")
    else:
        path = Path(cfg.cnn.net)
        if not path.is_absolute() and base is not None and not path.exists():
            path = base / path
        if not path.is_file():
            raise InputError(f"cnn.net: NetSpec {cfg.cnn.net} does not exist")
    spec = NetSpec.load(path)
    i = spec.input
    if cfg.cnn.input == "codes":
        if cfg.readout.kind != "rdc":
            raise ConfigError("cnn.input: codes need readout.kind rdc")
        produced = rdc_input(readout_rdc(cfg), window=(i.height, i.width))
    elif cfg.cnn.input == "int8":
        produced = optical_input(2 * i.channels, i.channels, i.height, i.width, signed=True)
    else:
        produced = image_input(i.height, i.width, channels=i.channels)
    return retarget(spec, produced, keep_size=True, where="cnn.net")


def pair_difference_activity(map_pixels: int, bits: int) -> Activity:
    """Subtracting PhlatCam region pairs on the way in (:func:`logcam.nn.optics.signed_maps_int8`): one
    (bits+1)-bit addition per map pixel, R⁺ − R⁻ of two ``bits``-bit read-outs; the halving drops a wire."""
    return Activity(adds={bits + 1: map_pixels})


def analytic_activity(cfg: PipelineCfg, base: Path | None = None, net=None) -> dict[str, Activity]:
    """Per-stage analytic activity of a pipeline."""
    w, h = cfg.sensor.width, cfg.sensor.height
    acts: dict[str, Activity] = {"sensor": sensor_activity(w, h)}
    link_w = w
    if cfg.readout.kind == "adc":
        bits = cfg.readout.bits or cfg.sensor.adc_bits
        acts["readout"] = adc_activity(w, h, bits)
        out_bits = bits
        if cfg.readout.pair_difference:
            link_w = w // 2                                 # the signed maps: one per pair of regions
            acts["readout"].adds.update(pair_difference_activity(link_w * h, bits).adds)
    else:
        rdc = readout_rdc(cfg)
        acts["readout"] = rdc_activity(w, h, rdc.levels, rdc.channels)
        out_bits = rdc.code_bits * rdc.channels
    if cfg.link.kind != "none":
        acts["link"] = link_activity(link_w, h, cfg.link.bits_per_pixel or out_bits)
    if cfg.isp is not None:
        acts["isp"] = isp_activity(w, h, cfg.isp.steps, 16)
    if cfg.cnn is not None:
        spec = net if net is not None else resolve_net(cfg, base)
        acts["cnn"] = cnn_activity(spec)
        if cfg.isp is not None and cfg.isp.output == "dram":
            # frame hand-off through DRAM: the ISP writes its 8-bit frame, the CNN reads its input window back
            acts["isp"].dram_bits += w * h * 8
            i = spec.input
            acts["cnn"].dram_bits += i.channels * i.height * i.width * 8
    return acts


@lru_cache(maxsize=8)
def _circuit_table(file: str | None) -> dict:
    from logcam.energy.circuits import load_circuits
    from logcam.energy.tech import data_path

    p = data_path("chips.yaml") if file is None else Path(file)
    if not p.is_file():
        raise InputError(f"circuits.file: {file}: no such file")
    data = read_yaml(p)
    if not isinstance(data, dict) or not isinstance(data.get("circuits"), dict):
        raise ConfigError(f"circuits.file: {p.name} has no `circuits:` section")
    return load_circuits(data["circuits"], f"{p.name}.circuits")


def circuits_pj(cfg: PipelineCfg, stage: str, act: Activity) -> float | None:
    """Energy per frame (pJ) of the circuit-level components ``cfg`` gives ``stage`` (None: the stage has none)."""
    if cfg.circuits is None or stage not in cfg.circuits.stages:
        return None
    table = _circuit_table(cfg.circuits.file)
    pixels = cfg.sensor.width * cfg.sensor.height
    e = 0.0
    for name, n in cfg.circuits.stages[stage].items():
        if name not in table:
            raise ConfigError(f"circuits.stages.{stage}.{name}: no such circuit (known: {', '.join(table)})")
        count = getattr(act, n) if isinstance(n, str) else n * pixels
        e += count * table[name].energy_pj()
    return e


def stage_energy(cfg: PipelineCfg, act: Activity, tech: TechTable, ff_bit_cycles: float = 0,
                 stage: str | None = None, sram_bit_pj: float | None = None) -> StageEnergy:
    """One stage of ``cfg`` at the table's node: :func:`~logcam.energy.components.stage_pj` with the
    pipeline's link, CNN SRAM and DRAM kinds (``ff_bit_cycles``: the stage's flip-flop bits × clocked cycles;
    ``sram_bit_pj``: its SRAM energy per bit by its RTL memory sizes, in place of the SRAM kind).
    Where ``cfg.circuits`` gives ``stage`` circuit-level components, they replace its table-level pixel, ADC and
    comparators (component ``circuits``, node-independent)."""
    sram = cfg.cnn.sram if cfg.cnn is not None else SRAM_KINDS[0]
    st = stage_pj(act, tech, link=cfg.link.kind, sram=sram, dram=cfg.memory.dram, ff_bit_cycles=ff_bit_cycles,
                  sram_bit_pj=sram_bit_pj)
    circ = circuits_pj(cfg, stage, act) if stage is not None else None
    if circ is None:
        return st
    comp = {"circuits": circ, **{k: v for k, v in st.components.items() if k not in REPLACED_BY_CIRCUITS}}
    return StageEnergy(comp, st.digital)


def energy(cfg: PipelineCfg, tech: TechTable, scaling: Scaling, acts: dict[str, Activity],
           node_nm: int | None = None, ff_bit_cycles: dict[str, float] | None = None,
           sram_bit_pj: dict[str, float] | None = None, ff_bits: dict[str, float] | None = None) -> Breakdown:
    """Energy per frame of each stage from its activity (``node_nm`` overrides ``digital.node_nm``);
    ``ff_bit_cycles``: stage → flip-flop bits × clocked cycles per frame, ``sram_bit_pj``: stage → SRAM pJ per
    bit by the RTL's memory sizes, ``ff_bits``: stage → flip-flop bits, whose leakage over the frame is
    ``leak_ff`` (all from :mod:`logcam.energy.overheads`)."""
    ff = ff_bit_cycles or {}
    bits = ff_bits or {}
    sram_pb = sram_bit_pj or {}
    node = node_nm if node_nm is not None else cfg.digital.node_nm
    vdd = cfg.digital.vdd if node_nm is None else None
    scale = node_scale(tech, scaling, node, vdd)
    stages: dict[str, dict[str, float]] = {}
    for s, act in acts.items():
        if s not in STAGES:
            raise ConfigError(f"activity stage {s!r}: unknown (allowed: {', '.join(STAGES)})")
        comp = stage_energy(cfg, act, tech, ff.get(s, 0), stage=s, sram_bit_pj=sram_pb.get(s)).at(scale)
        comp.update(ff_leak_pj(tech, bits.get(s, 0), cfg.sensor.fps))
        leak = cfg.leakage_uw.get(s, 0.0)
        if leak:
            comp["leakage"] = leakage_pj(leak, cfg.sensor.fps)
        stages[s] = comp
    return Breakdown(cfg.name, cfg.sensor.width * cfg.sensor.height, cfg.sensor.fps, stages)
