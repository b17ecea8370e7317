"""Config loading: YAML → pydantic models with one-line errors that name the field.

Every config model in logcam derives from :class:`StrictModel` (unknown keys are errors) and is
loaded through :func:`load_model` or validated through :func:`validate`, which turn pydantic's
multi-line reports into a single :class:`~logcam.errors.ConfigError` line.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from logcam.errors import ConfigError, InputError

M = TypeVar("M", bound=BaseModel)


#: Deepest nesting of mappings and lists a config file may have (PyYAML recurses once per level).
MAX_YAML_DEPTH = 64
#: Most aliases (``*name``) one YAML document may use: each one is a reference that validation walks
#: again, so a few nested ones ("billion laughs") would take forever.
MAX_YAML_ALIASES = 100


class StrictModel(BaseModel):
    """Base for config models: unknown keys are rejected, values are immutable, NaN and ±inf are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


def _field_path(loc: tuple, data: Any) -> str:
    """``layers[0].kernel`` from a pydantic location, dropping union tags that are not keys of the input."""
    parts: list[str] = []
    node = data
    for i, p in enumerate(loc):
        last = i == len(loc) - 1
        if isinstance(p, int) and isinstance(node, (list, tuple)) and 0 <= p < len(node):
            parts.append(f"[{p}]")
            node = node[p]
        elif isinstance(node, dict) and p in node:
            parts.append(f".{p}")
            node = node[p]
        elif last or not isinstance(node, (dict, list, tuple)):
            parts.append(f"[{p}]" if isinstance(p, int) else f".{p}")
            node = None
    return "".join(parts).lstrip(".")


def format_validation_error(err: ValidationError, where: str = "", data: Any = None) -> str:
    """The first problem of a pydantic error as one line: ``where.field: message (got value)``."""
    first = err.errors()[0]
    loc = _field_path(tuple(first["loc"]), data)
    field = ".".join(x for x in (where, loc) if x)
    msg = first["msg"]
    if first["type"] == "extra_forbidden":
        msg = "unknown key"
    elif msg.startswith("Value error, "):
        msg = msg[len("Value error, "):]
    got = first.get("input")
    quiet = first["type"] in ("missing", "extra_forbidden") or isinstance(got, (dict, list))
    got_s = "" if quiet else f" (got {got!r})"
    more = len(err.errors()) - 1
    tail = f"; and {more} more problem{'s' if more > 1 else ''}" if more else ""
    return f"{field or 'config'}: {msg}{got_s}{tail}"


def validate(model: type[M], data: Any, where: str = "") -> M:
    """Validate ``data`` as ``model``; a problem becomes one :class:`ConfigError` line."""
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise ConfigError(format_validation_error(err, where, data)) from None


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses a mapping key given twice (PyYAML silently keeps the last one), nesting deeper
    than :data:`MAX_YAML_DEPTH` and more than :data:`MAX_YAML_ALIASES` aliases."""

    _depth = 0
    _aliases = 0

    def compose_node(self, parent: yaml.Node | None, index: object) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_YAML_ALIASES:
                raise yaml.composer.ComposerError(
                    None, None, f"more than {MAX_YAML_ALIASES} aliases (*name)", self.peek_event().start_mark)
        self._depth += 1
        try:
            if self._depth > MAX_YAML_DEPTH:
                raise yaml.composer.ComposerError(
                    None, None, f"nested deeper than {MAX_YAML_DEPTH} levels", self.peek_event().start_mark)
            return super().compose_node(parent, index)  # type: ignore[misc]
        finally:
            self._depth -= 1

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: set = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} is given twice in one mapping", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep)


def _yaml_error(where: str, err: yaml.YAMLError) -> ConfigError:
    mark = getattr(err, "problem_mark", None)
    at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
    problem = getattr(err, "problem", None) or str(err).splitlines()[0]
    return ConfigError(f"{where}: invalid YAML{at}: {problem}")


def parse_yaml_text(text: str, where: str) -> Any:
    """Parse YAML text (safe, keys unique, depth and aliases bounded); a problem is one ConfigError naming ``where``."""
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)  # SafeLoader subclass
    except yaml.YAMLError as err:
        raise _yaml_error(where, err) from None


def read_text_file(path: str | Path, what: str = "file") -> str:
    """The text of a UTF-8 file (a BOM is dropped); missing, a folder, unreadable or not UTF-8 is one InputError."""
    p = Path(path)
    if p.is_dir():
        raise InputError(f"{p}: is a folder; expected a UTF-8 text {what}")
    if not p.is_file():
        raise InputError(f"{p}: no such file")
    try:
        data = p.read_bytes()
    except OSError as err:
        raise InputError(f"{p}: cannot read ({err.strerror or err})") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        utf16 = data[:2] in (b"\xff\xfe", b"\xfe\xff")
        raise InputError(f"{p}: not UTF-8 text (byte 0x{data[err.start]:02x} at offset {err.start}"
                         f"{'; it looks like UTF-16' if utf16 else ''}); save the {what} as UTF-8") from None
    if "\x00" in text:
        raise InputError(f"{p}: not a text {what} (it contains NUL bytes)")
    return text


def read_yaml(path: str | Path) -> Any:
    """Parse a YAML file; a missing or non-UTF-8 file, bad YAML, a key given twice or nesting deeper than
    :data:`MAX_YAML_DEPTH` becomes one error line."""
    p = Path(path)
    return parse_yaml_text(read_text_file(p, "YAML file"), str(p))


def load_model(model: type[M], path: str | Path, section: str | None = None) -> M:
    """Read a YAML file (optionally one top-level section of it) and validate it as ``model``."""
    data = read_yaml(path)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level, got {type(data).__name__}")
    if section is not None:
        data = data.get(section, {})
    return validate(model, data, where=f"{Path(path).name}" + (f":{section}" if section else ""))


def embedded_config(name: str) -> Path:
    """Path of a YAML shipped in ``configs/`` (installed as ``logcam.configs``)."""
    path = Path(str(resources.files("logcam.configs").joinpath(name)))
    if not path.exists():
        raise InputError(f"no embedded config named {name!r}")
    return path


def parse_sets(items: tuple[str, ...] | list[str], example: str) -> dict[str, object]:
    """``NAME=VALUE`` command-line overrides (VALUE parsed as YAML: 0.5, 12, null) → a dict.

    ``example`` shows a valid item in the error, e.g. ``gain_dn_per_e=0.5``.
    """
    over: dict[str, object] = {}
    for item in items:
        name, eq, value = item.partition("=")
        if not eq or not name.strip():
            raise ConfigError(f"--set: expected NAME=VALUE, e.g. {example} (got {item!r})")
        try:
            over[name.strip()] = yaml.load(value, Loader=_UniqueKeyLoader)  # SafeLoader subclass
        except yaml.YAMLError:
            raise ConfigError(f"--set {name.strip()}: cannot read {value!r} as a value") from None
    return over
