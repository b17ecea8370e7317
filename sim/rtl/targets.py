"""Registry of RTL targets for ``logcam rtl`` and ``logcam verify``: name → component factory + config.

A target module exposes ``rtl_target() -> RtlTarget``; :data:`TARGET_MODULES` maps each name to
its module, imported only when the target is used. To add a target (``accel``, ``top``), give its
module that function; a name whose module does not exist yet is reported as not available.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from logcam.errors import ConfigError

#: target name → module that defines ``rtl_target()``.
TARGET_MODULES: dict[str, str] = {
    "rdc": "logcam.hw.rdc",
    "accel": "logcam.hw.accel.top",
    "top": "logcam.hw.top",
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
    try:
        module = importlib.import_module(TARGET_MODULES[name])
    except ModuleNotFoundError as err:
        if err.name and TARGET_MODULES[name].startswith(err.name):
            raise ConfigError(f"target: {name!r} is not available yet ({TARGET_MODULES[name]} is missing)") from None
        raise
    factory = getattr(module, "rtl_target", None)
    if factory is None:
        raise ConfigError(f"target: {TARGET_MODULES[name]} defines no rtl_target()")
    return factory()
