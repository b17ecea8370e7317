"""Registry of RTL targets for ``logcam rtl``: name → config loader + component factory + top name.

:data:`TARGET_MODULES` maps each name to ``module:function`` returning an :class:`RtlTarget`,
imported only when the target is used; a name whose module does not exist yet is reported as not
available. ``rdc`` lives in :mod:`logcam.hw.rdc`; ``accel`` and ``top`` are adapters here over the
accelerator's CLI helpers (:mod:`logcam.commands._accel_cli`): their "config" is the NetSpec YAML
(``--config``), with ``weights`` (a bundle .npz, default seeded random) and, for ``top``, ``lanes``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from logcam.errors import ConfigError

#: target name → ``module:function`` returning its :class:`RtlTarget`.
TARGET_MODULES: dict[str, str] = {
    "rdc": "logcam.hw.rdc:rtl_target",
    "accel": "logcam.sim.rtl.targets:accel_target",
    "top": "logcam.sim.rtl.targets:top_target",
}


@dataclass(frozen=True)
class RtlTarget:
    """How to build one design: its config loader (YAML path or None → config object, with keyword
    overrides), its component factory (config → wiring.Component), and the Verilog top name."""

    name: str
    toplevel: str
    help: str
    load_config: Callable[..., Any]
    build: Callable[[Any], Any]

    def component(self, config_path: str | Path | None = None, **overrides: object) -> tuple[Any, Any]:
        """(config, component) for a config file (or the defaults)."""
        config = self.load_config(config_path, **overrides)
        return config, self.build(config)


def target_names() -> list[str]:
    return list(TARGET_MODULES)


def get_target(name: str) -> RtlTarget:
    """The registered target ``name``; an unknown or not yet available one is a one-line ConfigError."""
    if name not in TARGET_MODULES:
        raise ConfigError(f"target: unknown RTL target {name!r}; choose from {', '.join(TARGET_MODULES)}")
    module_name, func = TARGET_MODULES[name].split(":")
    module = importlib.import_module(module_name)
    factory = getattr(module, func, None)
    if factory is None:
        raise ConfigError(f"target: {module_name} defines no {func}()")
    return factory()


def _accel_cli() -> Any:
    try:
        from logcam.commands import _accel_cli
    except ModuleNotFoundError as err:
        raise ConfigError(f"target: the accelerator is not available yet ({err.name} is missing)") from None
    return _accel_cli


def _net_config(path: str | Path | None = None, *, weights: str | Path | None = None, seed: int = 0,
                lanes: int | None = None, **unknown: object) -> dict[str, Any]:
    if unknown:
        raise ConfigError(f"accel/top: unknown option(s) {', '.join(unknown)}")
    for label, p in (("--config", path), ("--weights", weights)):
        if p is not None and not Path(p).is_file():
            raise ConfigError(f"{label} {p}: no such file")
    return {"net": Path(path) if path else None, "weights": Path(weights) if weights else None, "seed": seed,
            "lanes": lanes or 1}


def accel_target() -> RtlTarget:
    """The CNN accelerator of a NetSpec (``--config`` = NetSpec YAML, default the built-in net)."""
    cli = _accel_cli()
    return RtlTarget(name="accel", toplevel="accel", help="streaming CNN accelerator of a NetSpec",
                     load_config=_net_config,
                     build=lambda c: cli.accel_component(c["net"], c["weights"], c["seed"]))


def top_target() -> RtlTarget:
    """RDC → accelerator, sensor DN to label (``--config`` = NetSpec YAML; ``lanes`` of the RDC)."""
    cli = _accel_cli()
    return RtlTarget(name="top", toplevel="top", help="RDC → CNN accelerator, DN in, label out",
                     load_config=_net_config,
                     build=lambda c: cli.top_component(c["net"], c["weights"], c["seed"], c["lanes"]))
