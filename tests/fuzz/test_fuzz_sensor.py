"""Fuzzing ``logcam sensor info|ptc|render|presets|scenes`` with generated bad input: preset YAML that is not
text, not YAML or out of range (NaN and ±inf in every physical quantity), bad ``--set`` overrides, exposure,
binning, illuminance, frame counts, scene kinds, and unwritable output files.

Default suite: :data:`QUICK` examples per family; ``-m slow``: :data:`CAMPAIGN` each. Survey without stopping
at the first failure: ``.venv/bin/python -m tests.fuzz.test_fuzz_sensor [EXAMPLES]``.
"""

from __future__ import annotations

import functools
from pathlib import Path

import pytest
import yaml
from hypothesis import strategies as st

from tests.fuzz.inputs import (
    BAD_FILE_OUTPUTS,
    CAMPAIGN,
    NOT_A_NUMBER,
    QUICK,
    File,
    bad_field,
    bad_yaml_file,
    check_all_refused,
    out_path,
    put,
    yaml_file,
)
from tests.fuzz.survey import survey

#: SensorSpec fields with their allowed ranges (inclusive ends; open ends are tested one step outside)
SENSOR_FIELDS: dict[str, tuple[float | None, float | None]] = {
    "width": (2, 8192), "height": (2, 8192), "pixel_pitch_um": (0, 100), "quantum_efficiency": (0, 1),
    "full_well_e": (0, 1e7), "dark_current_e_per_s": (0, 1e7), "read_noise_e": (0, 1e4), "dsnu_e": (0, 1e4),
    "prnu": (0, 0.5), "gain_dn_per_e": (0, 1e3), "adc_bits": (1, 16), "exposure_s": (0, 100),
    "black_level_dn": (0, 1023), "temperature_c": (None, None)}
SENSOR_EXTRA = {"binning": [3, 0, 8, "two"], "sources": [{"no_field": "x"}, "text"], "name": [[1], {"a": 1}],
                "width": [321], "height": [241]}  # 321: not a multiple of binning 2 below
#: the lower ends that are open (> 0): 0 itself is bad there
OPEN_LOW = ["pixel_pitch_um", "quantum_efficiency", "full_well_e", "gain_dn_per_e", "exposure_s"]


@functools.cache
def _preset() -> dict:
    from logcam.config import embedded_config, read_yaml

    return read_yaml(embedded_config("sensors/tinyml_cmos.yaml"))


def bad_sensor_value() -> st.SearchStrategy[tuple[str, object]]:
    open_low = st.tuples(st.sampled_from(OPEN_LOW), st.just(0))
    return st.one_of(bad_field({}, SENSOR_FIELDS, SENSOR_EXTRA), open_low,
                     st.tuples(st.sampled_from(sorted(SENSOR_FIELDS)), st.sampled_from(NOT_A_NUMBER)))


def _as_set(value: object) -> str:
    return yaml.safe_dump(value, default_flow_style=True).strip().removesuffix("...").strip()


def preset_file() -> st.SearchStrategy:
    def mutate(kv: tuple[str, object]) -> File:
        k, v = kv
        data = {**_preset(), k: v}
        if k == "width" and v == 321:
            data["binning"] = 2
        if k == "height" and v == 241:
            data["binning"] = 4
        return yaml_file(data, f"preset-{k}")

    return st.tuples(st.one_of(bad_yaml_file(), bad_sensor_value().map(mutate)),
                     st.sampled_from(["info", "ptc", "render"]))


def _cmd(cmd: str) -> list[str]:
    return {"info": ["sensor", "info"], "ptc": ["sensor", "ptc", "--levels", "5"],
            "render": ["sensor", "render", "shapes", "-o", "raw.npy"]}[cmd]


def preset_argv(ex: tuple[File, str], wd: Path) -> list[str]:
    f, cmd = ex
    return [*_cmd(cmd), "--preset", put(f, wd, "preset")]


def set_override() -> st.SearchStrategy:
    words = st.sampled_from(["gain_dn_per_e", "nosuch", "", "=", "adc_bits", "binning"])
    malformed = st.one_of(words.map(lambda w: w),  # no '='
                          st.just("=1"), st.just("gain_dn_per_e=[1, 2"), st.just("x=" + "[" * 3000 + "]" * 3000),
                          st.just("read_noise_e=!!python/name:os.system"))

    def fix(kv: tuple[str, object]) -> list[str]:
        k, v = kv
        extra = {"width": ["binning=2"], "height": ["binning=4"]}.get(k, []) if v in (321, 241) else []
        return [f"{k}={_as_set(v)}", *extra]

    return st.tuples(st.one_of(bad_sensor_value().map(fix), malformed.map(lambda s: [s])),
                     st.sampled_from(["info", "ptc", "render"]))


def set_argv(ex: tuple[list[str], str], wd: Path) -> list[str]:
    sets, cmd = ex
    return [*_cmd(cmd), *[a for s in sets for a in ("--set", s)]]


BAD_FLOATS = ["nan", "inf", "-inf", "-1", "0", "1e400", "abc", ""]


def option_values() -> st.SearchStrategy:
    return st.one_of(
        st.tuples(st.sampled_from(["info", "ptc", "render"]), st.just("--exposure-s"),
                  st.sampled_from([*BAD_FLOATS, "101", "1e9"])),
        st.tuples(st.sampled_from(["info", "ptc", "render"]), st.just("--binning"), st.sampled_from(["3", "0", "x"])),
        st.tuples(st.sampled_from(["info", "ptc", "render"]), st.just("--preset"),
                  st.sampled_from(["nosuch", "", "tinyml", "../tinyml_cmos", "/nonexistent/x.yaml"])),
        st.tuples(st.just("render"), st.just("--lux"), st.sampled_from(BAD_FLOATS)),
        st.tuples(st.just("render"), st.just("--frames"), st.sampled_from(["0", "-1", "10001", "x", "4000"])),
        st.tuples(st.just("render"), st.just("--seed"), st.sampled_from(["-1", "x", "1.5"])),
        st.tuples(st.just("ptc"), st.just("--levels"), st.sampled_from(["2", "501", "-3", "x"])),
        st.tuples(st.just("ptc"), st.just("--seed"), st.sampled_from(["-1", "x"])),
        st.tuples(st.just("kind"), st.just(""), st.sampled_from(["nosuch", "", "Shapes", "../camera", "shapes2"])),
        st.tuples(st.sampled_from(["presets", "scenes", "info"]), st.just("--bogus"), st.just("1")),
    )


def option_argv(ex: tuple[str, str, str], wd: Path) -> list[str]:
    cmd, opt, val = ex
    if cmd == "kind":
        return ["sensor", "render", val, "-o", "raw.npy"]
    if cmd in ("presets", "scenes"):
        return ["sensor", cmd, opt, val]
    return [*_cmd(cmd), f"{opt}={val}"]


def outputs() -> st.SearchStrategy:
    return st.tuples(st.sampled_from(BAD_FILE_OUTPUTS), st.sampled_from(["-o", "--png", "--lux-out", "--plot",
                                                                         "same"]))


def outputs_argv(ex: tuple[str, str], wd: Path) -> list[str]:
    kind, which = ex
    if which == "--plot":
        return ["sensor", "ptc", "--levels", "5", "--plot", out_path(kind, wd, "ptc.png")]
    if which == "same":
        return ["sensor", "render", "shapes", "-o", "raw.npy", "--lux-out", "raw.npy"]
    files = {"-o": "raw.npy", "--png": "raw.png", "--lux-out": "lux.npy"}
    files[which] = out_path(kind, wd, files[which].replace("raw", "bad"))
    return ["sensor", "render", "gradient", *[a for k, v in files.items() for a in (k, v)]]


FAMILIES = {
    "sensor preset": (preset_file(), preset_argv),
    "sensor --set": (set_override(), set_argv),
    "sensor options": (option_values(), option_argv),
    "sensor outputs": (outputs(), outputs_argv),
}


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_fuzz_sensor(family: str) -> None:
    strategy, argv = FAMILIES[family]
    check_all_refused(family, strategy, argv, QUICK)


@pytest.mark.slow
@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_fuzz_sensor_campaign(family: str) -> None:
    strategy, argv = FAMILIES[family]
    check_all_refused(family, strategy, argv, CAMPAIGN)


if __name__ == "__main__":
    survey(FAMILIES)
