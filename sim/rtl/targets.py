"""The RTL designs logcam generates, by name: how each is configured and built.

One registry below the command line: ``logcam rtl emit|lint|stat TARGET``, the verify flows and the
benches all build their designs here. ``rdc`` is configured by an RDC YAML (``--config``); ``accel``
and ``top`` by a NetSpec (``--net``) with its weights (:func:`logcam.nn.netspec.load_net`: ``--weights``,
``--random-weights SEED``, else the bundle beside the NetSpec) and, for ``top``, the RDC's ``lanes``;
the top's RDC is the one whose codes are the network's input (:func:`logcam.frontend.rdc_feeding`).
Hardware modules are imported only when a design is built, so listing targets stays cheap.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from logcam.errors import ConfigError


@dataclass(frozen=True)
class DesignOptions:
    """What the command line may say about a design; each target reads the fields it takes."""

    config: Path | None = None  # rdc: RDC YAML
    net: Path | None = None  # accel, top: NetSpec YAML
    weights: Path | None = None  # accel, top: weights bundle .npz
    random_weights: int | None = None  # accel, top: seed of random int8 weights
    lanes: int | None = None  # rdc, top: RDC columns per clock


#: Which options each target takes (anything else given is a one-line error).
TAKES: dict[str, tuple[str, ...]] = {
    "rdc": ("config", "lanes"),
    "accel": ("net", "weights", "random_weights"),
    "top": ("net", "weights", "random_weights", "lanes"),
}

#: Option field → how the command line spells it (for error lines).
FLAGS = {"config": "--config", "net": "--net", "weights": "--weights", "random_weights": "--random-weights",
         "lanes": "--lanes"}


@dataclass(frozen=True)
class RtlTarget:
    """One design: its name, the Verilog top module name, a line of help, and its builder
    (options → (config object, Amaranth component))."""

    name: str
    toplevel: str
    help: str
    build: Callable[[DesignOptions], tuple[Any, Any]]

    def component(self, options: DesignOptions | None = None) -> tuple[Any, Any]:
        """(config, component) of this design; an option it does not take is a one-line ConfigError."""
        options = options or DesignOptions()
        for field in ("config", "net", "weights", "random_weights", "lanes"):
            if getattr(options, field) is not None and field not in TAKES[self.name]:
                takes = ", ".join(FLAGS[f] for f in TAKES[self.name])
                raise ConfigError(f"{FLAGS[field]}: does not apply to {self.name} (it takes {takes})")
        return self.build(options)


def _build_rdc(o: DesignOptions) -> tuple[Any, Any]:
    from logcam.hw.rdc import Rdc, load_rdc_spec

    spec = load_rdc_spec(o.config, lanes=o.lanes)
    return spec, Rdc(spec)


def _build_accel(o: DesignOptions) -> tuple[Any, Any]:
    from logcam.hw.accel.net import Accelerator
    from logcam.nn.netspec import load_net

    spec, bundle, _ = load_net(o.net, o.weights, o.random_weights)
    return (spec, bundle), Accelerator(spec, bundle)


def _build_top(o: DesignOptions) -> tuple[Any, Any]:
    from logcam.frontend import rdc_feeding
    from logcam.hw.top import Top
    from logcam.nn.netspec import load_net

    spec, bundle, _ = load_net(o.net, o.weights, o.random_weights)
    rdc = rdc_feeding(spec, lanes=o.lanes or 1)
    return (rdc, spec, bundle), Top(rdc, spec, bundle)


TARGETS: dict[str, RtlTarget] = {
    "rdc": RtlTarget("rdc", "rdc", "column-parallel ratio-to-digital converter", _build_rdc),
    "accel": RtlTarget("accel", "accel", "streaming CNN accelerator of a NetSpec", _build_accel),
    "top": RtlTarget("top", "top", "RDC → CNN accelerator, DN in, label out", _build_top),
}


def target_names() -> list[str]:
    return list(TARGETS)


def get_target(name: str) -> RtlTarget:
    """The registered target ``name``; an unknown one is a one-line ConfigError."""
    if name not in TARGETS:
        raise ConfigError(f"target: unknown RTL target {name!r}; choose from {', '.join(TARGETS)}")
    return TARGETS[name]
