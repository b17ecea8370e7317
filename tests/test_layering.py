"""Imports go one way: specs → physics → golden models and hardware → simulation → energy → commands.

Every module of the installed package (through the package-dir mapping: hw/ is ``logcam.hw`` …) is
parsed, and every ``logcam`` import it makes — at module level or inside a function — must name a
module of its own layer or one below. The layers are those of docs/architecture.md.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: package-dir mapping of pyproject.toml: import prefix → folder.
PACKAGE_DIRS = {"logcam.hw": "hw", "logcam.sim": "sim", "logcam.nn": "nn", "logcam.energy": "energy",
                "logcam.configs": "configs", "logcam": "logcam"}

#: (layer, prefixes), bottom first; a module belongs to the layer of its longest matching prefix.
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("specs", ("logcam", "logcam.errors", "logcam.config", "logcam.configs", "logcam.files", "logcam.toolchain",
               "logcam.rdcspec", "logcam.frontend", "logcam.nn.netspec", "logcam.nn.quant")),
    ("physics", ("logcam.sim", "logcam.sim.scenes", "logcam.sim.sensor", "logcam.sim.isp", "logcam.sim.optics",
                 "logcam.sim.frames")),
    ("models and hardware", ("logcam.nn", "logcam.hw")),
    ("simulation", ("logcam.sim.rtl",)),
    ("energy", ("logcam.energy",)),
    ("commands", ("logcam.run", "logcam.run_optical", "logcam.cli", "logcam.commands", "logcam.explore",
                  "logcam.search", "logcam.nn.unas")),  # nn.unas costs its networks with the energy model
]


def layer_of(module: str) -> int:
    best, level = "", -1
    for i, (_, prefixes) in enumerate(LAYERS):
        for p in prefixes:
            if (module == p or module.startswith(p + ".")) and len(p) > len(best):
                best, level = p, i
    if level < 0:
        raise AssertionError(f"{module}: in no layer of tests/test_layering.py; add it where it belongs")
    return level


def modules() -> dict[str, Path]:
    """Import name → file of every module in the package."""
    out: dict[str, Path] = {}
    for prefix, folder in PACKAGE_DIRS.items():
        for path in sorted((ROOT / folder).rglob("*.py")):
            rel = path.relative_to(ROOT / folder).with_suffix("")
            parts = [p for p in rel.parts if p != "__init__"]
            out[".".join([prefix, *parts])] = path
    return out


def imports_of(path: Path, module: str) -> list[tuple[str, int]]:
    """Every logcam module ``path`` imports, with its line (relative imports resolved)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(a.name, node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            found.append((base, node.lineno))
    return [(name, line) for name, line in found if name == "logcam" or name.startswith("logcam.")]


def test_every_module_has_a_layer() -> None:
    for name in modules():
        assert 0 <= layer_of(name) < len(LAYERS), name


@pytest.mark.parametrize("module", sorted(modules()))
def test_imports_point_down(module: str) -> None:
    path = modules()[module]
    mine = layer_of(module)
    upward = [f"{path.relative_to(ROOT)}:{line} imports {name} ({LAYERS[layer_of(name)][0]})"
              for name, line in imports_of(path, module) if layer_of(name) > mine]
    assert not upward, f"{module} ({LAYERS[mine][0]}) imports upward:\n" + "\n".join(upward)


def test_the_check_catches_an_upward_import(tmp_path: Path) -> None:
    """The parser sees lazy imports inside functions and resolves relative ones."""
    f = tmp_path / "mod.py"
    f.write_text("def f():\n    from logcam.commands import verify\n\nfrom . import emit\n")
    names = [n for n, _ in imports_of(f, "logcam.hw.mod")]
    assert sorted(names) == ["logcam.commands", "logcam.hw"]
    assert layer_of("logcam.commands.verify") > layer_of("logcam.hw.rdc")
