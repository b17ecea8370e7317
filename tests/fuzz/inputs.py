"""Bad inputs for the CLI fuzz tests, as hypothesis strategies: files (YAML, .npy, .npz), paths, option values.

Every example is *bad by construction* (a test that feeds it to a command expects a one-line rejection),
and is plain data (bytes, strings), written into the example's own folder by :func:`put`. Output paths
are ``OutPath`` tokens that :func:`out_path` turns into a real path inside (or outside, /proc) that folder.
"""

from __future__ import annotations

import contextlib
import io
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml
from hypothesis import strategies as st

from tests.fuzz.harness import CAMPAIGN, QUICK, TALLY, assert_rejected, campaign, files_under, run_cli

# --- files ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class File:
    """A file to place in the example's folder: what it is (for the report), its bytes, its suffix."""

    label: str
    data: bytes
    suffix: str

    def __repr__(self) -> str:  # hypothesis prints failing examples: keep them short
        return f"File({self.label!r}, {len(self.data)} bytes, {self.suffix})"


def put(f: File, wd: Path, stem: str = "in") -> Path:
    """Write ``f`` into ``wd`` as ``stem + suffix``; the path is relative to ``wd`` (the CLI runs there)."""
    name = stem + f.suffix
    if f.label == "is-folder":
        (wd / name).mkdir()
    elif f.label != "missing":
        (wd / name).write_bytes(f.data)
    return Path(name)


def npy_bytes(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, a, allow_pickle=True)
    return buf.getvalue()


def npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)  # type: ignore[arg-type]
    return buf.getvalue()


def yaml_bytes(data: object) -> bytes:
    return yaml.safe_dump(data, sort_keys=False).encode()


# --- YAML that no command may accept, whatever the schema -----------------------------------------

_text = st.text(alphabet=st.characters(codec="ascii", categories=("L", "N")), min_size=1, max_size=12)


def _deep(depth: int, style: str) -> bytes:
    if style == "flow_list":
        return ("key: " + "[" * depth + "1" + "]" * depth + "\n").encode()
    if style == "flow_map":
        return ("key: " + "{a: " * depth + "1" + "}" * depth + "\n").encode()
    return "".join(f"{'  ' * i}k{i}:\n" for i in range(depth)).encode() + ("  " * depth + "v: 1\n").encode()


def _alias_bomb(width: int) -> bytes:
    lines = ["a0: &a0 [1, 2, 3, 4, 5, 6, 7, 8]"]
    for i in range(1, 12):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * width) + "]")
    return ("\n".join(lines) + "\n").encode()


def not_text_yaml() -> st.SearchStrategy[File]:
    """YAML files that are not UTF-8 text: binary, Latin-1, UTF-16 (with or without BOM), NUL bytes."""
    return st.one_of(
        st.binary(min_size=1, max_size=64).map(lambda b: File("binary", b"\xff\xfe\x00" + b, ".yaml")),
        _text.map(lambda t: File("latin-1", f"name: {t}\xe9\xe8\n".encode("latin-1"), ".yaml")),
        _text.map(lambda t: File("utf-16", f"name: {t}\n".encode("utf-16"), ".yaml")),
        _text.map(lambda t: File("utf-16-le", f"name: {t}\n".encode("utf-16-le"), ".yaml")),
        _text.map(lambda t: File("nul", f"name: {t}\x00\n".encode(), ".yaml")),
    )


def broken_yaml() -> st.SearchStrategy[File]:
    """Parseable-looking files that are not a config: bad syntax, nesting thousands deep, an alias bomb,
    a key given twice, a list or a scalar at the top, a folder, a missing file."""
    syntax = st.sampled_from([b"a: [1, 2\n", b"a: {b: 1\n", b"a: 'x\n", b"a:\n\t- 1\n", b"a: b: c\n",
                              b"- a\nb: 1\n", b"%YAML 9.9\n---\na: 1\n", b"a: !!python/object:os.system x\n",
                              b"a: *nothing\n", b"? [1, 2\n"])
    return st.one_of(
        syntax.map(lambda b: File("syntax", b, ".yaml")),
        st.tuples(st.integers(65, 4000), st.sampled_from(["flow_list", "flow_map"])).map(
            lambda t: File(f"deep-{t[1]}", _deep(*t), ".yaml")),
        st.integers(65, 300).map(lambda d: File("deep-block", _deep(d, "block"), ".yaml")),
        st.integers(9, 12).map(lambda w: File("alias-bomb", _alias_bomb(w), ".yaml")),
        st.sampled_from([b"- 1\n- 2\n", b"42\n", b"just text\n", b"[a, b]\n", b"3.5\n"]).map(
            lambda b: File("not-a-mapping", b, ".yaml")),
        st.just(File("is-folder", b"", ".yaml")),
        st.just(File("missing", b"", ".yaml")),
    )


def bad_yaml_file() -> st.SearchStrategy[File]:
    """Any YAML file no command may accept (schema aside)."""
    return st.one_of(not_text_yaml(), broken_yaml())


#: a numeric field's bad values: NaN, ±inf, a word, a list, a mapping
NOT_A_NUMBER = [float("nan"), float("inf"), float("-inf"), "abc", [1, 2], {"x": 1}]


def bad_field(base: dict, fields: dict[str, tuple[float | None, float | None]],
              extra: dict[str, list] | None = None) -> st.SearchStrategy[tuple[str, object]]:
    """(field, value) pairs that the schema must refuse: outside ``fields[name] = (lo, hi)`` (inclusive bounds;
    None: unbounded), not a number at all, or ``extra[name]``'s listed values; plus an unknown key."""
    choices: list[st.SearchStrategy[tuple[str, object]]] = []
    for name, (lo, hi) in fields.items():
        vals: list[st.SearchStrategy] = [st.sampled_from(NOT_A_NUMBER)]
        if lo is not None:
            vals.append(st.sampled_from([lo - 1, lo - 1e6, -1e300] if lo > -1e300 else [-1e300]))
        if hi is not None:
            vals.append(st.sampled_from([hi + 1, hi * 10 + 1, 1e300]))
        choices.append(st.tuples(st.just(name), st.one_of(*vals)))
    for name, vals in (extra or {}).items():
        choices.append(st.tuples(st.just(name), st.sampled_from(vals)))
    choices.append(st.tuples(_text.map(lambda t: f"no_such_{t}"), st.just(1)))
    return st.one_of(*choices)


def with_field(base: dict, path: str, value: object) -> dict:
    """A deep copy of ``base`` with the dotted ``path`` set to ``value``."""
    import copy

    out = copy.deepcopy(base)
    node = out
    keys = path.split(".")
    for k in keys[:-1]:
        node = node[int(k)] if isinstance(node, list) else node[k]
    last = keys[-1]
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return out


def yaml_file(data: object, label: str) -> File:
    return File(label, yaml_bytes(data), ".yaml")


# --- arrays ----------------------------------------------------------------------------------------

def _wrong_kind(shape: tuple[int, ...]) -> st.SearchStrategy[File]:
    n = int(np.prod(shape))
    kinds = {
        "structured": lambda: np.zeros(shape, dtype=[("a", "<u2"), ("b", ">i4")]),
        "string": lambda: np.full(shape, "12", dtype="<U2"),
        "bytes": lambda: np.full(shape, b"7", dtype="S1"),
        "datetime": lambda: np.zeros(shape, dtype="datetime64[s]"),
        "timedelta": lambda: np.zeros(shape, dtype="timedelta64[ms]"),
        "complex": lambda: np.ones(shape, dtype=np.complex64),
        "object": lambda: np.array([object()] * n, dtype=object).reshape(shape) if n else np.zeros(shape, object),
        "big-endian-structured": lambda: np.zeros(shape, dtype=np.dtype([("x", ">u2")])),
    }
    return st.sampled_from(sorted(kinds)).map(lambda k: File(f"npy-{k}", npy_bytes(kinds[k]()), ".npy"))


def broken_npy() -> st.SearchStrategy[File]:
    """Files that are not one readable array: zero bytes, garbage, a truncated header or body, an .npz."""
    good = npy_bytes(np.arange(64, dtype="<u2").reshape(8, 8))
    return st.one_of(
        st.just(File("zero-byte", b"", ".npy")),
        st.binary(min_size=1, max_size=200).map(lambda b: File("garbage", b"\x00" + b, ".npy")),
        st.integers(1, len(good) - 1).map(lambda k: File("truncated", good[:k], ".npy")),
        st.just(File("npz-as-npy", npz_bytes({"a": np.zeros((8, 8), "<u2")}), ".npy")),
        st.just(File("npz-suffix", npz_bytes({"a": np.zeros((8, 8), "<u2")}), ".npz")),
        st.just(File("text", b"1 2 3\n4 5 6\n", ".npy")),
        st.just(File("is-folder", b"", ".npy")),
        st.just(File("missing", b"", ".npy")),
    )


def empty_arrays() -> st.SearchStrategy[File]:
    shapes = st.sampled_from([(0,), (0, 8, 8), (0, 1, 96, 96), (8, 0), (3, 0, 8), (0, 0)])
    dtypes = st.sampled_from(["<u2", ">u2", "<i8", "u1", "i1"])
    return st.tuples(shapes, dtypes).map(lambda t: File(f"empty{t[0]}", npy_bytes(np.zeros(t[0], t[1])), ".npy"))


def bad_array_file(shape: tuple[int, ...], bad_values: st.SearchStrategy[File]) -> st.SearchStrategy[File]:
    """A bad .npy for a command that wants arrays of ``shape``: wrong kind, broken file, empty, or
    ``bad_values`` (the command's own out-of-range or wrong-shape arrays)."""
    return st.one_of(_wrong_kind(shape), broken_npy(), empty_arrays(), bad_values)


def arr_file(label: str, a: np.ndarray) -> File:
    return File(label, npy_bytes(a), ".npy")


def bad_dn_frames() -> st.SearchStrategy[File]:
    """DN frames the RDC golden model must refuse: floats, bools, negative or above 2^10 − 1, too small, 1-D/4-D;
    in both byte orders."""
    order = st.sampled_from(["<", ">"])
    h = st.integers(2, 12)
    w = st.integers(2, 12)

    def neg(o: str, hh: int, ww: int) -> File:
        a = np.full((hh, ww), 5, dtype=o + "i4")
        a[hh // 2, ww // 2] = -1
        return arr_file(f"dn-negative{o}", a)

    def high(o: str, hh: int, ww: int) -> File:
        a = np.full((2, hh, ww), 5, dtype=o + "u2")
        a[1, 0, 0] = 1024 + hh
        return arr_file(f"dn-above-10-bit{o}", a)

    return st.one_of(
        st.builds(neg, order, h, w),
        st.builds(high, order, h, w),
        st.tuples(order, h, w).map(lambda t: arr_file("dn-float", np.full((t[1], t[2]), 3.0, dtype=t[0] + "f8"))),
        st.tuples(h, w).map(lambda t: arr_file("dn-nan", np.full(t, np.nan))),
        st.tuples(h, w).map(lambda t: arr_file("dn-bool", np.ones(t, dtype=bool))),
        st.integers(2, 40).map(lambda n: arr_file("dn-1d", np.ones(n, dtype="<u2"))),
        st.integers(1, 3).map(lambda n: arr_file("dn-4d", np.ones((n, 1, 4, 4), dtype="<u2"))),
        st.integers(1, 9).map(lambda n: arr_file("dn-1-row", np.ones((1, n + 1), dtype="<u2"))),
    )


def bad_codes(shape: tuple[int, int, int] = (1, 96, 96), hi: int = 1) -> st.SearchStrategy[File]:
    """Network inputs the 2conv1fc golden model must refuse: out-of-range codes, floats, wrong shapes."""
    c, h, w = shape
    order = st.sampled_from(["<", ">"])

    def out_of_range(o: str, n: int, v: int) -> File:
        a = np.zeros((n, c, h, w), dtype=o + "i2")
        a[-1, 0, h // 2, w // 2] = v
        return arr_file(f"codes-out-of-range{o}", a)

    return st.one_of(
        st.builds(out_of_range, order, st.integers(1, 2), st.sampled_from([hi + 1, -hi - 1, 127, -128, 300])),
        st.integers(1, 2).map(lambda n: arr_file("codes-float", np.zeros((n, c, h, w), dtype="<f4"))),
        st.integers(1, 2).map(lambda n: arr_file("codes-bool", np.zeros((n, c, h, w), dtype=bool))),
        st.sampled_from([(h, w), (c, h, w + 1), (2, c, h - 1, w), (c + 1, h, w), (1, 1, c, h, w), (8,)]).map(
            lambda s: arr_file(f"codes-shape{s}", np.zeros(s, dtype="<i1"))),
    )


# --- weights bundles -------------------------------------------------------------------------------

def bad_bundle(good: dict[str, np.ndarray]) -> st.SearchStrategy[File]:
    """Weights bundles to refuse, made from a good one: missing or extra arrays, wrong dtype/shape/range,
    NaN scales, string arrays, a single .npy, zero bytes, garbage, a truncated zip."""
    keys = sorted(k for k in good if not k.startswith("scale."))  # scale.* are optional
    scales = sorted(k for k in good if k.startswith("scale.")) or ["scale.input"]
    good_bytes = npz_bytes(good)

    def bad_scale(k: str, v: object) -> File:
        return File(f"npz-bad-{k}", npz_bytes({**good, k: np.asarray(v)}), ".npz")

    def drop(k: str) -> File:
        return File(f"npz-missing-{k}", npz_bytes({a: v for a, v in good.items() if a != k}), ".npz")

    def mutate(k: str, how: str) -> File:
        arrays = dict(good)
        a = arrays[k]
        if how == "float":
            arrays[k] = a.astype(np.float32)
        elif how == "shape":
            arrays[k] = np.concatenate([a.ravel(), a.ravel()[:1]])
        elif how == "range":
            b = a.astype(np.int64).copy().ravel()
            b[0] = -(1 << 40) if k.endswith((".mult", ".shift")) or k.endswith(".bias") else 1000
            arrays[k] = b.reshape(a.shape)
        elif how == "string":
            arrays[k] = np.full(a.shape, "1", dtype="<U1")
        elif how == "structured":
            arrays[k] = np.zeros(a.shape, dtype=[("v", "<i4")])
        return File(f"npz-{how}-{k}", npz_bytes(arrays), ".npz")

    return st.one_of(
        st.sampled_from(keys).map(drop),
        st.tuples(st.sampled_from(keys), st.sampled_from(["float", "shape", "range", "string", "structured"])).map(
            lambda t: mutate(*t)),
        st.tuples(st.sampled_from(scales),
                  st.sampled_from([float("nan"), float("inf"), -1.0, 0.0, [1.0, 2.0], "x"])).map(
            lambda t: bad_scale(*t)),
        st.sampled_from(["layer9.weight", "bogus", "scale.input"]).map(
            lambda k: File(f"npz-extra-{k}", npz_bytes({**good, k: np.array(float("nan") if "scale" in k else 1)}),
                           ".npz")),
        st.just(File("npz-zero-byte", b"", ".npz")),
        st.binary(min_size=1, max_size=100).map(lambda b: File("npz-garbage", b"\x00" + b, ".npz")),
        st.integers(1, max(2, len(good_bytes) - 1)).map(lambda k: File("npz-truncated", good_bytes[:k], ".npz")),
        st.just(File("npy-as-npz", npy_bytes(np.zeros(3)), ".npz")),
        st.just(File("npz-empty-bundle", npz_bytes({}), ".npz")),
        st.just(File("is-folder", b"", ".npz")),
        st.just(File("missing", b"", ".npz")),
    )


# --- output paths ----------------------------------------------------------------------------------

#: how an output path can be unwritable; see :func:`out_path`
BAD_FILE_OUTPUTS = ("proc", "under-file", "missing-folder", "is-folder", "dot", "trailing-slash", "proc-self")
BAD_DIR_OUTPUTS = ("proc", "under-file", "is-file", "proc-self")


def out_path(kind: str, wd: Path, name: str) -> str:
    """An output path of ``kind`` that cannot be written; props (a regular file, a folder) are made in ``wd``."""
    if kind == "proc":
        return f"/proc/{name}"
    if kind == "proc-self":
        return f"/proc/self/{name}"
    if kind == "under-file":
        (wd / "afile").write_text("x")
        return f"afile/{name}"
    if kind == "is-file":
        (wd / "afile").write_text("x")
        return "afile"
    if kind == "missing-folder":
        return f"no/such/folder/{name}"
    if kind == "is-folder":
        (wd / "adir").mkdir(exist_ok=True)
        return "adir"
    if kind == "dot":
        return "."
    if kind == "trailing-slash":
        (wd / "adir").mkdir(exist_ok=True)
        return "adir/"
    raise ValueError(kind)


# --- running ---------------------------------------------------------------------------------------

#: failing examples of the last :func:`fuzz` run with ``collect=True``: (family, description)
FAILURES: list[tuple[str, str]] = []
#: families whose full campaign (CAMPAIGN examples) ran in this process
CAMPAIGNS_DONE: set[str] = set()


def check_all_refused(family: str, strategy: st.SearchStrategy, argv: Callable[[object, Path], list[str]],
                      examples: int, collect: bool = False, timeout_s: int = 120, rtl_guard: bool = False) -> None:
    """Run ``logcam argv(example, folder)`` on ``examples`` bad inputs, each in a fresh folder, and require a
    one-line rejection with nothing left behind. ``collect``: record failures in :data:`FAILURES` and go on
    (the campaign's survey) instead of stopping at the first. ``rtl_guard``: :func:`no_rtl_tools` around each run."""

    def check(example: object) -> None:
        wd = Path(tempfile.mkdtemp(prefix="logcam-fuzz-"))
        try:
            args = [str(a) for a in argv(example, wd)]
            before = files_under(wd)
            with no_rtl_tools() if rtl_guard else contextlib.nullcontext():
                res = run_cli(args, wd, timeout_s=timeout_s)
            try:
                assert_rejected(res, wd, before, family)
            except AssertionError as err:
                if not collect:
                    raise
                FAILURES.append((family, f"example {example!r}\n{err}"))
        finally:
            shutil.rmtree(wd, ignore_errors=True)

    campaign(strategy, check, examples)
    if examples >= CAMPAIGN:
        CAMPAIGNS_DONE.add(family)


# --- keeping the simulators out ----------------------------------------------------------------------

class ReachedTool(Exception):
    """A bad input got as far as Verilator or Yosys: it should have been refused before any build."""


def _reached(name: str) -> Callable[..., object]:
    def stop(*args: object, **kwargs: object) -> object:
        raise ReachedTool(f"{name} was called: the bad input was not refused before the RTL tools")

    return stop


@contextlib.contextmanager
def no_rtl_tools() -> Iterator[None]:
    """Make every path to Verilator (build, lint) and Yosys raise :class:`ReachedTool` (a traceback the verdict
    reports), so a fuzz example never starts a minutes-long build and a late check is caught as such."""
    import importlib

    targets = [("logcam.toolchain", "setup_verilator"), ("logcam.sim.rtl.runner", "setup_verilator"),
               ("logcam.sim.rtl.emit", "setup_verilator"), ("logcam.sim.rtl.emit", "_run_yosys_in")]
    # import every module first: a module imported while logcam.toolchain is patched would bind the stub by
    # `from logcam.toolchain import setup_verilator` and keep it after the restore (it leaked into later tests)
    modules = {mod: importlib.import_module(mod) for mod, _ in targets}
    saved = []
    for mod, name in targets:
        m = modules[mod]
        if hasattr(m, name):
            saved.append((m, name, getattr(m, name)))
            setattr(m, name, _reached(f"{mod}.{name}"))
    try:
        yield
    finally:
        for m, name, f in saved:
            setattr(m, name, f)


__all__ = ["BAD_DIR_OUTPUTS", "BAD_FILE_OUTPUTS", "CAMPAIGN", "CAMPAIGNS_DONE", "FAILURES", "NOT_A_NUMBER", "QUICK",
           "TALLY", "File",
           "ReachedTool", "arr_file", "bad_array_file", "bad_bundle", "bad_codes", "bad_dn_frames", "bad_field",
           "bad_yaml_file", "broken_npy", "broken_yaml", "check_all_refused", "empty_arrays", "no_rtl_tools",
           "not_text_yaml", "npy_bytes", "npz_bytes", "out_path", "put", "with_field", "yaml_bytes", "yaml_file"]
