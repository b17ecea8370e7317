"""Fuzzing ``logcam golden rdc|accel|onnx`` with generated bad input: arrays of the wrong kind, broken or empty
files, out-of-range values, bad RdcSpec/NetSpec YAML, broken weights bundles, unwritable outputs, bad options.

Default suite: :data:`QUICK` examples per family; ``-m slow``: :data:`CAMPAIGN` each. Survey without stopping
at the first failure: ``.venv/bin/python -m tests.fuzz.test_fuzz_golden [EXAMPLES]``.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pytest
from hypothesis import strategies as st

from tests.fuzz.inputs import (
    BAD_FILE_OUTPUTS,
    CAMPAIGN,
    QUICK,
    File,
    arr_file,
    bad_array_file,
    bad_bundle,
    bad_codes,
    bad_dn_frames,
    bad_field,
    bad_yaml_file,
    check_all_refused,
    out_path,
    put,
    with_field,
    yaml_file,
)
from tests.fuzz.survey import survey

GOOD_DN = arr_file("good-dn", (np.arange(64, dtype="<u2") * 7).reshape(8, 8))
GOOD_CODES = arr_file("good-codes", np.zeros((1, 1, 96, 96), dtype=np.int8))


@functools.cache
def _net() -> dict:
    from logcam.config import embedded_config, read_yaml

    return read_yaml(embedded_config("nets/2conv1fc.yaml"))


@functools.cache
def _good_bundle() -> dict[str, np.ndarray]:
    from logcam.config import embedded_config
    from logcam.files import load_npz

    return load_npz(embedded_config("nets/2conv1fc.npz"))


# --- golden rdc -------------------------------------------------------------------------------------

def rdc_input() -> st.SearchStrategy:
    return st.tuples(bad_array_file((8, 8), bad_dn_frames()), st.sampled_from(["npy", "hex"]))


def rdc_input_argv(ex: tuple[File, str], wd: Path) -> list[str]:
    f, fmt = ex
    return ["golden", "rdc", put(f, wd), "-o", "codes.out", "--format", fmt]


RDC_FIELDS = {"adc_bits": (1, 16), "lanes": (1, 64)}
RDC_EXTRA = {"levels": [4, 2, 9, "three", None], "mode": ["x", "hh", 1, None], "width": [9, 7, 0],
             "height": [9, 1], "thresholds": [[1], [0.5], ["1/0"], [float("nan")], [300], "abc", [2, 2], [[2]]]}


def rdc_config() -> st.SearchStrategy:
    schema = bad_field({}, RDC_FIELDS, RDC_EXTRA).map(lambda kv: yaml_file({kv[0]: kv[1]}, f"rdc-{kv[0]}"))
    return st.tuples(st.one_of(bad_yaml_file(), schema), st.sampled_from([None, "rdc"]))


def rdc_config_argv(ex: tuple[File, str | None], wd: Path) -> list[str]:
    f, section = ex
    if section and f.suffix == ".yaml" and f.label.startswith("rdc-"):
        import yaml

        f = File(f.label, yaml.safe_dump({section: yaml.safe_load(f.data)}).encode(), ".yaml")
    argv = ["golden", "rdc", put(GOOD_DN, wd, "frames"), "-o", "codes.npy", "--config", put(f, wd, "rdc")]
    return argv + (["--section", section] if section else [])


def rdc_output() -> st.SearchStrategy:
    return st.tuples(st.sampled_from(BAD_FILE_OUTPUTS), st.sampled_from(["npy", "hex"]))


def rdc_output_argv(ex: tuple[str, str], wd: Path) -> list[str]:
    kind, fmt = ex
    return ["golden", "rdc", put(GOOD_DN, wd, "frames"), "-o", out_path(kind, wd, "codes.out"), "--format", fmt]


# --- golden accel -----------------------------------------------------------------------------------

def accel_input() -> st.SearchStrategy:
    return bad_array_file((1, 1, 96, 96), bad_codes())


def accel_input_argv(f: File, wd: Path) -> list[str]:
    return ["golden", "accel", put(f, wd), "-o", "layers.npz"]


NET_FIELDS = {"input.height": (1, 1024), "input.channels": (1, 64), "layers.0.kernel": (1, 11),
              "layers.0.out_channels": (1, 512), "layers.0.stride": (1, 4), "layers.0.pad": (0, 5),
              "quant.act_bits": (2, 8), "quant.mult_bits": (2, 32), "quant.zero_point": (-128, 127),
              "layers.2.out_features": (1, 4096)}
NET_EXTRA = {"input.format": ["float", 3, None], "input.levels": [4, 9, "x"], "layers.0.type": ["pool", "dense", 1],
             "quant.rounding": ["up", "nearest", 0], "layers.0.pool": [3, 0], "name": ["has space", "a/b", ""],
             "classes": [["a"], ["a", "b", "c", "d"]], "layers": [[], "conv"], "layers.0.pe": [3, 0],
             "layers.0.simd": [7, 0], "layers.0.relu": ["maybe", [1]], "input": [None, [1, 2]]}


def netspec_yaml() -> st.SearchStrategy[File]:
    def mutate(kv: tuple[str, object]) -> File:
        path, val = kv
        if path.startswith("no_such_"):
            return yaml_file({**_net(), path: val}, "net-unknown-key")
        return yaml_file(with_field(_net(), path, val), f"net-{path}")

    return st.one_of(bad_yaml_file(), bad_field({}, NET_FIELDS, NET_EXTRA).map(mutate))


def misfit_netspec() -> st.SearchStrategy[File]:
    """Valid NetSpecs that no RDC can feed (8-bit pixels, three channels): fine for the accelerator alone,
    a mistake for the top (RDC → accelerator)."""
    return st.sampled_from([("input.format", "uint8"), ("input.channels", 3)]).map(
        lambda kv: yaml_file(with_field(_net(), *kv), f"net-misfit-{kv[0]}={kv[1]}"))


def accel_net_argv(f: File, wd: Path) -> list[str]:
    return ["golden", "accel", put(GOOD_CODES, wd, "codes"), "-o", "layers.npz", "--net", put(f, wd, "net"),
            "--random-weights", "0"]


def accel_weights() -> st.SearchStrategy:
    return st.deferred(lambda: bad_bundle(_good_bundle()))


def accel_weights_argv(f: File, wd: Path) -> list[str]:
    return ["golden", "accel", put(GOOD_CODES, wd, "codes"), "-o", "layers.npz", "--weights", put(f, wd, "w")]


def accel_output() -> st.SearchStrategy:
    return st.tuples(st.sampled_from(BAD_FILE_OUTPUTS), st.sampled_from(["-o", "--onnx"]))


def accel_output_argv(ex: tuple[str, str], wd: Path) -> list[str]:
    kind, which = ex
    bad = out_path(kind, wd, "out.bin")
    o, onnx = (bad, "net.onnx") if which == "-o" else ("layers.npz", bad)
    return ["golden", "accel", put(GOOD_CODES, wd, "codes"), "-o", o, "--onnx", onnx]


# --- golden onnx ------------------------------------------------------------------------------------

def onnx_bad() -> st.SearchStrategy:
    return st.one_of(
        st.tuples(st.just("-o"), st.sampled_from(BAD_FILE_OUTPUTS)),
        st.tuples(st.just("--check"), accel_input()),
        st.tuples(st.just("--weights"), accel_weights()),
        st.tuples(st.just("--net"), netspec_yaml()),
    )


def onnx_argv(ex: tuple[str, object], wd: Path) -> list[str]:
    which, bad = ex
    argv = ["golden", "onnx"]
    if which == "-o":
        return [*argv, "-o", out_path(bad, wd, "net.onnx"), "--check", put(GOOD_CODES, wd, "codes")]  # type: ignore[arg-type]
    argv += ["-o", "net.onnx", which, put(bad, wd, "bad")]  # type: ignore[arg-type]
    return argv + (["--random-weights", "1"] if which == "--net" else [])


# --- options ----------------------------------------------------------------------------------------

BAD_OPTIONS = [
    ["rdc", "IN", "-o", "x.npy", "--format", "bin"], ["rdc", "IN"], ["rdc", "-o", "x.npy"],
    ["rdc", "IN", "-o", "x.npy", "--section", "nosuch", "--config", "CFG"],
    ["rdc", "IN", "-o", "x.npy", "--bogus"], ["accel", "CODES", "-o", "x.npz", "--random-weights", "-1"],
    ["accel", "CODES", "-o", "x.npz", "--rounding", "up"], ["accel", "CODES", "-o", "x.npz", "--random-weights", "x"],
    ["accel", "CODES", "-o", "x.npz", "--random-weights", "1", "--weights", "W"], ["onnx"],
    ["onnx", "-o", "x.onnx", "--random-weights", "-5"], ["nosuch"], ["accel", "CODES", "-o", "x.npz", "extra"],
]


def options_argv(ex: list[str], wd: Path) -> list[str]:
    sub = {"IN": lambda: put(GOOD_DN, wd, "frames"), "CODES": lambda: put(GOOD_CODES, wd, "codes"),
           "CFG": lambda: put(yaml_file({"rdc": {"levels": 3}}, "cfg"), wd, "cfg"),
           "W": lambda: put(File("w", b"", ".npz"), wd, "w")}
    return ["golden", *[str(sub[a]()) if a in sub else a for a in ex]]


FAMILIES = {
    "golden rdc input": (rdc_input(), rdc_input_argv),
    "golden rdc config": (rdc_config(), rdc_config_argv),
    "golden rdc output": (rdc_output(), rdc_output_argv),
    "golden accel input": (accel_input(), accel_input_argv),
    "golden accel net": (netspec_yaml(), accel_net_argv),
    "golden accel weights": (accel_weights(), accel_weights_argv),
    "golden accel output": (accel_output(), accel_output_argv),
    "golden onnx": (onnx_bad(), onnx_argv),
    "golden options": (st.sampled_from(BAD_OPTIONS), options_argv),
}


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_fuzz_golden(family: str) -> None:
    strategy, argv = FAMILIES[family]
    check_all_refused(family, strategy, argv, QUICK)


@pytest.mark.slow
@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_fuzz_golden_campaign(family: str) -> None:
    strategy, argv = FAMILIES[family]
    check_all_refused(family, strategy, argv, CAMPAIGN)


if __name__ == "__main__":
    survey(FAMILIES)
