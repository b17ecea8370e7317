"""The search space, read from the accelerator's :data:`~logcam.nn.netspec.OPERATORS`, and its two costs.

Every searchable layer chooses one candidate: an FBNet inverted-residual block ``e{E}_k{K}`` (pointwise
expansion ×E when E > 1 → depthwise K×K at the layer's stride → pointwise projection, plus a residual
``add`` where stride 1 and channels match) or ``skip`` (the identity, where stride 1 and channels match).
Each candidate's cost is computed once: FLOPs (MACs + other additions per frame, from
``NetSpec.layer_shapes``) and energy (pJ per frame, from ``energy.activity.cnn_activity`` of a NetSpec
holding the block × the technology table through ``energy.components.stage_pj``).
"""

from __future__ import annotations

from dataclasses import dataclass

from logcam.config import validate
from logcam.energy.activity import Activity, adc_activity, cnn_activity, link_activity, sensor_activity
from logcam.energy.components import stage_pj
from logcam.energy.pipeline import pair_difference_activity
from logcam.energy.tech import TechTable
from logcam.errors import ConfigError
from logcam.nn.netspec import NetSpec
from logcam.nn.optics import network_input
from logcam.search.config import SearchConfig

SKIP = "skip"


@dataclass(frozen=True)
class Slot:
    """One searchable layer: input C×H×W, output channels, stride and its candidate names."""

    index: int
    in_shape: tuple[int, int, int]
    out_channels: int
    stride: int
    candidates: tuple[str, ...]

    @property
    def out_shape(self) -> tuple[int, int, int]:
        _, h, w = self.in_shape
        return (self.out_channels, (h - 1) // self.stride + 1, (w - 1) // self.stride + 1)

    @property
    def identity_ok(self) -> bool:
        return self.stride == 1 and self.in_shape[0] == self.out_channels


def candidate(name: str) -> tuple[int, int]:
    """(expansion, kernel) of a block candidate ``e{E}_k{K}``."""
    e, k = name.split("_")
    return int(e[1:]), int(k[1:])


def slots(cfg: SearchConfig, size: int) -> list[Slot]:
    """The searchable layers for ``size``×``size`` optical maps after the stem conv."""
    out = []
    shape = (cfg.stem, size, size)
    blocks = tuple(f"e{e}_k{k}" for e in cfg.expansions for k in cfg.kernels)
    for i, (c, s) in enumerate(zip(cfg.channels, cfg.strides)):
        slot = Slot(i, shape, c, s, blocks)
        if cfg.skip and slot.identity_ok:
            slot = Slot(i, shape, c, s, (*blocks, SKIP))
        out.append(slot)
        shape = slot.out_shape
    return out


def block_layers(slot: Slot, name: str, first: int, residual: bool) -> list[dict]:
    """NetSpec layers of candidate ``name`` at ``slot``; ``first``: the NetSpec index of its first layer (the
    block's input is layer ``first − 1``'s output)."""
    if name == SKIP:
        return []
    e, k = candidate(name)
    c_in = slot.in_shape[0]
    layers: list[dict] = []
    if e > 1:
        layers.append({"type": "pointwise", "out_channels": e * c_in, "relu": True})
    layers.append({"type": "depthwise", "kernel": k, "stride": slot.stride, "pad": k // 2, "relu": True})
    layers.append({"type": "pointwise", "out_channels": slot.out_channels, "relu": False})
    if residual and slot.identity_ok:
        layers.append({"type": "add", "skip": first - 1, "relu": False})
    return layers


def stem_layer(cfg: SearchConfig) -> dict:
    """The first digital layer: 3×3 conv on the optical maps (folded onto the region read-outs at export)."""
    return {"type": "conv", "out_channels": cfg.stem, "kernel": 3, "stride": 1, "pad": 1, "relu": True}


def head_layers(classes: int) -> list[dict]:
    return [{"type": "avgpool_global", "relu": False}, {"type": "fc", "out_features": classes}]


def net_spec(cfg: SearchConfig, size: int, choice: list[str], class_names: tuple[str, ...]) -> NetSpec:
    """The NetSpec of one architecture (``choice``: a candidate per slot) on what the front-end sends: the
    signed maps as int8 (:func:`logcam.nn.optics.signed_maps_int8`), or the lens camera's uint8 planes."""
    layers = [stem_layer(cfg)]
    for slot, name in zip(slots(cfg, size), choice):
        layers += block_layers(slot, name, len(layers), cfg.residual)
    layers += head_layers(len(class_names))
    inp = network_input(cfg.optics, size, size, signed=cfg.optics.kind != "lens")
    data = {"name": cfg.name, "input": inp.model_dump(), "layers": layers, "classes": list(class_names)}
    return validate(NetSpec, data, where="search")


# ------------------------------------------------------------------------------------------------- costs

def _spec(in_shape: tuple[int, int, int], layers: list[dict], fmt: str = "int8") -> NetSpec:
    c, h, w = in_shape
    return validate(NetSpec, {"input": {"channels": c, "height": h, "width": w, "format": fmt, "levels": None},
                              "layers": layers}, where="search cost")


def _pj(spec: NetSpec, tech: TechTable) -> float:
    return sum(stage_pj(cnn_activity(spec), tech).components.values())


def layers_cost(in_shape: tuple[int, int, int], layers: list[dict], tech: TechTable,
                fmt: str = "int8") -> tuple[float, int]:
    """(pJ per frame, FLOPs per frame) of ``layers`` on an ``in_shape`` input, alone.

    A NetSpec must end in fc and an add's skip must name a layer, so the layers are costed inside
    [pointwise C→C] + layers + [fc → 1] and the two wrappers' own energy (each costed alone) subtracted —
    exact, as the stage energy is linear in the per-layer action counts.
    """
    if not layers:
        return 0.0, 0
    ends_fc = layers[-1]["type"] == "fc"
    wrap = [{"type": "pointwise", "out_channels": in_shape[0], "relu": True}]
    fc1 = [{"type": "fc", "out_features": 1}]
    shifted = [dict(la, skip=la["skip"] + 1) if la["type"] == "add" else la for la in layers]
    full = _spec(in_shape, wrap + shifted + ([] if ends_fc else fc1), fmt)
    shapes = full.layer_shapes()
    flops = sum(s.macs + s.ops for s in shapes[1:len(shapes) - (0 if ends_fc else 1)])
    pj = _pj(full, tech) - _pj(_spec(in_shape, wrap + fc1, fmt), tech) + _pj(_spec(in_shape, fc1, fmt), tech)
    if not ends_fc:
        pj -= _pj(_spec(shapes[-1].in_shape, fc1), tech)
    return pj, flops


@dataclass(frozen=True)
class CostTable:
    """Costs per frame: the fixed part (read-out, stem, head) and one per candidate per slot; ``pixels``: the
    scene pixels per frame that nJ/pixel divides by."""

    pixels: int
    fixed_pj: float
    fixed_flops: int
    pj: list[dict[str, float]]
    flops: list[dict[str, int]]

    def nj_per_pixel(self, choice: list[str]) -> float:
        """Analytic nJ/pixel of one architecture."""
        return (self.fixed_pj + sum(p[c] for p, c in zip(self.pj, choice))) / self.pixels / 1000.0

    def mflops(self, choice: list[str]) -> float:
        """MFLOPs per frame (MACs + additions) of one architecture."""
        return (self.fixed_flops + sum(f[c] for f, c in zip(self.flops, choice))) / 1e6

    def value(self, kind: str, choice: list[str]) -> float:
        return self.nj_per_pixel(choice) if kind == "energy" else self.mflops(choice)

    def extreme(self, kind: str, pick) -> float:
        """The cost of the cheapest (``pick=min``) or dearest (``max``) architecture."""
        table = self.pj if kind == "energy" else self.flops
        return self.value(kind, [pick(t, key=t.get) for t in table])


def readout_pj(cfg: SearchConfig, size: int, tech: TechTable) -> float:
    """Reading the front-end's planes (pJ): every region pixel read and converted at 8 bits; the pairs
    subtracted on the way in (one 9-bit addition per map pixel, :func:`logcam.nn.optics.signed_maps_int8`)
    so that MIPI carries the 8-bit signed maps, not both regions (the lens camera: its colour planes)."""
    w, h = cfg.optics.regions * size, size
    maps = cfg.optics.feature_maps * size * size
    sub = pair_difference_activity(maps, 8) if cfg.optics.kind != "lens" else Activity()
    return sum(sum(stage_pj(a, tech).components.values())
               for a in (sensor_activity(w, h), adc_activity(w, h, 8), sub,
                         link_activity(cfg.optics.feature_maps * size, h, 8)))


def cost_table(cfg: SearchConfig, size: int, classes: int, tech: TechTable | None = None) -> CostTable:
    """Every candidate's cost, computed once per search."""
    tech = tech or TechTable.load()
    o = cfg.optics
    fmt = "uint8" if o.kind == "lens" else "int8"  # the signed maps (lens: the colour planes)
    stem_pj, stem_fl = layers_cost((o.feature_maps, size, size), [stem_layer(cfg)], tech, fmt)
    sl = slots(cfg, size)
    last = sl[-1].out_shape if sl else (cfg.stem, size, size)
    head_pj, head_fl = layers_cost(last, head_layers(classes), tech)
    pj: list[dict[str, float]] = []
    flops: list[dict[str, int]] = []
    for slot in sl:
        pj.append({})
        flops.append({})
        for name in slot.candidates:
            # first = 0: the block's add names layer −1, the block input (layers_cost wraps it)
            p, f = layers_cost(slot.in_shape, block_layers(slot, name, 0, cfg.residual), tech)
            pj[-1][name], flops[-1][name] = p, f
    return CostTable(size * size, readout_pj(cfg, size, tech) + stem_pj + head_pj, stem_fl + head_fl, pj, flops)


def check_budget(cfg: SearchConfig, table: CostTable) -> None:
    """ConfigError (one line) when no architecture of the space meets ``cfg.budget``."""
    if cfg.budget is None:
        return
    low = table.extreme(cfg.cost, min)
    unit = "nJ/pixel" if cfg.cost == "energy" else "MFLOPs"
    if low > cfg.budget:
        raise ConfigError(f"budget: {cfg.budget:g} {unit} is below the cheapest network of the search space "
                          f"({low:.4g} {unit}, {cfg.cost} cost); raise it or shrink the space")
