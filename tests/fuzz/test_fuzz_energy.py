"""Fuzzing ``logcam energy`` (show, compare, sweep, validate) with generated bad input.

Every example is a user's mistake: a technology override, pipeline, technology or scaling table, chip
file, sweep grid, RTL activity file or output path that must be refused. The verdict is the harness's
(tests/fuzz/harness.py): one ``logcam: error:`` line, exit 2, no traceback or hang, nothing left on disk.
NaN and ±inf are among the generated values wherever a physical quantity is read.

Default suite: :data:`QUICK` examples per family; ``-m slow``: :data:`CAMPAIGN` each. To count failures
without stopping at the first (each family, CAMPAIGN examples, the same inputs as the slow campaign)::

    .venv/bin/python -m tests.fuzz.test_fuzz_energy
"""

from __future__ import annotations

import copy
import json
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from hypothesis import strategies as st

from logcam.energy.tech import data_path
from tests.fuzz.harness import CAMPAIGN, QUICK, assert_rejected, campaign, files_under, run_cli
from tests.fuzz.harness import campaign as check_campaign

NAN, INF = float("nan"), float("inf")

# --- values ------------------------------------------------------------------------------------------

#: Never a physical quantity.
NONFINITE = st.sampled_from([NAN, INF, -INF])
#: Not a number at all (letters only, so never a string pydantic or float() would read as one).
WRONG_TYPE = st.one_of(st.text(alphabet="abcxyz_", min_size=1, max_size=6),
                       st.lists(st.integers(0, 9), min_size=1, max_size=3),
                       st.dictionaries(st.sampled_from(["a", "b"]), st.integers(0, 9), min_size=1, max_size=2))
NEGATIVE = st.one_of(st.floats(max_value=-1e-6, allow_nan=False, allow_infinity=False),
                     st.integers(max_value=-1))
#: Bad for any quantity that must be > 0.
NOT_POSITIVE = st.one_of(NONFINITE, WRONG_TYPE, NEGATIVE, st.just(0))
#: Bad for any quantity that must be ≥ 0.
NOT_NON_NEGATIVE = st.one_of(NONFINITE, WRONG_TYPE, NEGATIVE)
#: Bad for a count of actions (a non-negative integer that fits the model).
BAD_COUNT = st.one_of(NONFINITE, WRONG_TYPE, NEGATIVE, st.floats(0.25, 1e6).filter(lambda x: x != int(x)),
                      st.integers(min_value=2**63, max_value=2**70))


def _yaml(value: object) -> str:
    """``value`` as the YAML text a user would type after ``--set NAME=``."""
    return yaml.safe_dump(value, default_flow_style=True).strip().removesuffix("...").strip()


# --- fixtures of one example ---------------------------------------------------------------------------

class Case:
    """A fresh folder per example: inputs in ``inp/`` (made before the snapshot), the command runs in ``work/``."""

    def __init__(self) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="logcam-fuzz-energy-")
        root = Path(self._tmp.name)
        self.inp, self.work = root / "inp", root / "work"
        self.inp.mkdir()
        self.work.mkdir()

    def write(self, name: str, data: object) -> Path:
        p = self.inp / name
        if isinstance(data, bytes):
            p.write_bytes(data)
        elif isinstance(data, str):
            p.write_text(data)
        else:
            p.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
        return p

    def rejects(self, argv: list[str], family: str) -> None:
        try:
            before = files_under(self.work)
            assert_rejected(run_cli(["energy", *argv], self.work, timeout_s=60), self.work, before, family)
        finally:
            self._tmp.cleanup()


def _set(d: dict, path: tuple, value: object) -> dict:
    d = copy.deepcopy(d)
    node = d
    for k in path[:-1]:
        node = node[k]
    node[path[-1]] = value
    return d


# --- families -----------------------------------------------------------------------------------------

TECH = yaml.safe_load(data_path("tech.yaml").read_text())
SCALING = yaml.safe_load(data_path("scaling.yaml").read_text())
CHIPS = yaml.safe_load(data_path("chips.yaml").read_text())
PIPELINE = {"name": "fz", "sensor": {"width": 64, "height": 48, "adc_bits": 10, "fps": 30},
            "readout": {"kind": "rdc", "levels": 3, "mode": "sum"}, "link": {"kind": "mipi"},
            "cnn": {"input": "codes"}, "digital": {"node_nm": 45}, "leakage_uw": {"cnn": 1.0}}

# --set NAME=VALUE: a table entry (in its unit, ≥ 0) or a pipeline field
tech_override = st.tuples(st.sampled_from(sorted(TECH["entries"])),
                          st.one_of(NOT_NON_NEGATIVE.map(_yaml), st.sampled_from(
                              [".nan", ".NaN", ".inf", "-.inf", "1e400", "-1e400", "null", "true", "[1]", "{a: 1}"])))
PIPELINE_FIELDS = {  # field → values that must be refused
    "sensor.width": NOT_POSITIVE, "sensor.height": NOT_POSITIVE, "sensor.adc_bits": NOT_POSITIVE,
    "sensor.fps": NOT_POSITIVE, "readout.bits": NOT_POSITIVE, "link.bits_per_pixel": NOT_POSITIVE,
    "digital.vdd": NOT_POSITIVE, "digital.node_nm": st.one_of(NONFINITE, WRONG_TYPE, NEGATIVE, st.just(28)),
    "leakage_uw.cnn": NOT_NON_NEGATIVE, "leakage_uw.sensor": NOT_NON_NEGATIVE,
}
pipeline_field = st.sampled_from(sorted(PIPELINE_FIELDS)).flatmap(
    lambda f: st.tuples(st.just(f), PIPELINE_FIELDS[f]))


def check_set(example: tuple[str, str]) -> None:
    name, value = example
    Case().rejects(["loggrad", "--set", f"{name}={value}"], "energy --set (table)")


def check_set_pipeline(example: tuple[str, object]) -> None:
    name, value = example
    Case().rejects(["loggrad", "--set", f"{name}={_yaml(value)}"], "energy --set (pipeline)")


def check_pipeline_file(example: tuple[str, object]) -> None:
    field, value = example
    c = Case()
    p = c.write("pipe.yaml", _set(PIPELINE, tuple(field.split(".")), value))
    c.rejects([str(p)], "energy PIPELINE.yaml")


# technology table: an entry's value, the table's node or supply
tech_mutation = st.one_of(
    st.tuples(st.sampled_from(sorted(TECH["entries"])).map(lambda e: ("entries", e, "value")), NOT_NON_NEGATIVE),
    st.tuples(st.sampled_from([("node_nm",), ("vdd",)]), NOT_POSITIVE),
)


def check_tech_file(example: tuple[tuple, object]) -> None:
    path, value = example
    c = Case()
    p = c.write("tech.yaml", _set(TECH, path, value))
    c.rejects(["loggrad", "--tech", str(p)], "energy --tech")


# scaling table: a coefficient, supply bound or area of any node (every row is read, whichever is used)
scaling_mutation = st.tuples(st.sampled_from(sorted(SCALING["nodes"])),
                             st.sampled_from(["a", "b", "c", "vnom", "vmin", "vmax", "area"]),
                             st.one_of(NONFINITE, WRONG_TYPE))


def check_scaling_file(example: tuple[int, str, object]) -> None:
    node, key, value = example
    c = Case()
    p = c.write("scaling.yaml", _set(SCALING, ("nodes", node, key), value))
    c.rejects(["loggrad", "--scaling", str(p)], "energy --scaling")


# chip files: a chip's facts, its reported value, its activity counts
CONFIGURED = [i for i, ch in enumerate(CHIPS["chips"]) if ch.get("configured", True)]


def _chip_mutations(i: int) -> st.SearchStrategy:
    chip = CHIPS["chips"][i]
    fields = [("width",), ("height",), ("fps",), ("reported", "value"), ("node_nm",)]
    if "vdd" in chip:
        fields.append(("vdd",))
    if "model_node_nm" in chip:
        fields.append(("model_node_nm",))
    facts = st.tuples(st.sampled_from(fields), NOT_POSITIVE)
    counts = [(("stages", s, k), v) for s, acts in chip["stages"].items() for k, v in acts.items()]
    scalar = [p for p, v in counts if not isinstance(v, dict)]
    per_width = [(*p, w) for p, v in counts if isinstance(v, dict) for w in v]
    stage = st.tuples(st.sampled_from(scalar + per_width), BAD_COUNT)
    new_stage = sorted(chip["stages"])[0]
    calibration = st.tuples(st.just(("calibration",)), NOT_POSITIVE.map(lambda v: {new_stage: v}))
    return st.one_of(facts, stage, calibration).map(lambda m: (i, *m))


chip_mutation = st.sampled_from(CONFIGURED).flatmap(_chip_mutations)


def check_chip_file(example: tuple[int, tuple, object]) -> None:
    i, path, value = example
    c = Case()
    p = c.write("chips.yaml", _set(CHIPS, ("chips", i, *path), value))
    c.rejects(["validate", "--chips", str(p)], "energy validate --chips")


# sweep grids
def _valid_readout(r: str) -> bool:
    """adcN (N 1..16) or rdc3/5/7, leading zeros allowed (what the sweep accepts)."""
    kind, num = r[:3], r[3:]
    return num.isdigit() and ((kind == "adc" and 1 <= int(num) <= 16) or (kind == "rdc" and int(num) in (3, 5, 7)))


GRID = {"pipeline": "loggrad", "axes": {"readout": ["adc8", "rdc3"], "c1": [2, 4], "node_nm": [45, 16],
                                        "fps": [10, 30]}}
grid_mutation = st.one_of(
    st.tuples(st.sampled_from([("axes", "fps", 0), ("axes", "fps", 1)]), NOT_POSITIVE),
    st.tuples(st.sampled_from([("axes", "c1", 0), ("axes", "c1", 1)]), NOT_POSITIVE),
    st.tuples(st.just(("axes", "node_nm", 1)), st.one_of(NONFINITE, WRONG_TYPE, NEGATIVE, st.sampled_from([28, 3]))),
    st.tuples(st.just(("axes", "readout", 0)), st.one_of(
        st.sampled_from(["adc0", "adc17", "rdc4", "rdc9", "adc", "ADC8", "adc8 ", "adc1e1"]),
        st.text(alphabet="adcr0123456789x", min_size=1, max_size=6).filter(lambda s: not _valid_readout(s)))),
    st.tuples(st.sampled_from([("axes", "fps"), ("axes", "c1"), ("axes", "node_nm"), ("axes", "readout")]),
              st.just([])),
)
ACCURACY = st.one_of(NONFINITE.map(repr), st.sampled_from(["nan", "inf", "-inf", "", "abc"]))


def check_grid_file(example: tuple[tuple, object]) -> None:
    path, value = example
    c = Case()
    p = c.write("grid.yaml", _set(GRID, path, value))
    c.rejects(["sweep", str(p), "--out-dir", "out"], "energy sweep GRID")


grid_raw = st.one_of(st.sampled_from(["", "{}", "null", "[]", "- 1", "42", "axes: 5", "axes: {fps: .nan}",
                                      "axes: {c1: [.inf]}", "objective: energy"]),
                     st.binary(min_size=1, max_size=30).filter(lambda b: b.strip()[:1] not in (b"", b"#")))


def check_grid_raw(data: str | bytes) -> None:
    c = Case()
    p = c.write("grid.yaml", data)
    c.rejects(["sweep", str(p), "--out-dir", "out"], "energy sweep GRID (raw)")


def check_grid_results(accuracy: str) -> None:
    c = Case()
    res = c.write("acc.csv", "readout,c1,accuracy\n" + "".join(
        f"{r},{n},{accuracy if (r, n) == ('rdc3', 4) else 0.7}\n" for r in ("adc8", "rdc3") for n in (2, 4)))
    p = c.write("grid.yaml", {**GRID, "objective": "accuracy", "results": str(res)})
    c.rejects(["sweep", str(p), "--out-dir", "out"], "energy sweep results")


# output paths: compare/sweep --out-dir, validate --plot
NAME = st.text(alphabet="abcdefgh0123456789_-", min_size=1, max_size=8)
out_dir_kind = st.sampled_from(["is_file", "under_file", "under_proc", "deep_under_file"])
plot_kind = st.sampled_from(["bad_suffix", "no_suffix", "folder", "missing_folder", "under_file", "under_proc"])


def _bad_out_dir(c: Case, kind: str, name: str) -> str:
    blocker = c.work / f"{name}.txt"
    blocker.write_text("a file, not a folder\n")
    return {"is_file": str(blocker), "under_file": str(blocker / name), "under_proc": f"/proc/{name}/{name}",
            "deep_under_file": str(blocker / name / name / name)}[kind]


def check_out_dir(example: tuple[str, str, str]) -> None:
    command, kind, name = example
    c = Case()
    # the blocking file is part of the folder before the command runs: Case.rejects snapshots after this
    out = _bad_out_dir(c, kind, name)
    grid = c.write("grid.yaml", GRID)
    argv = ["compare", "--out-dir", out] if command == "compare" else ["sweep", str(grid), "--out-dir", out]
    c.rejects(argv, f"energy {command} --out-dir")


def check_plot(example: tuple[str, str, str]) -> None:
    kind, name, suffix = example
    c = Case()
    blocker = c.work / f"{name}.txt"
    blocker.write_text("a file\n")
    (c.work / "folder.png").mkdir()
    plot = {"bad_suffix": c.work / f"{name}.{suffix}", "no_suffix": c.work / name, "folder": c.work / "folder.png",
            "missing_folder": c.work / "nope" / f"{name}.png", "under_file": blocker / f"{name}.png",
            "under_proc": Path(f"/proc/{name}.png")}[kind]
    c.rejects(["validate", "--plot", str(plot)], "energy validate --plot")


bad_suffix = st.one_of(st.sampled_from(["txt", "csv", "json", "yaml", "npy", "PNGX", "png~"]),
                       st.text(alphabet="qwxz", min_size=1, max_size=4))

# RTL activity files (energy --activity rtl)
ACTIVITY = {"format": "logcam-activity/1", "frames": 2, "width": 320, "height": 240,
            "stages": {"readout": {"comparator_decisions": 307200, "cycles": 480},
                       "cnn": {"macs": {"8x8": 1000}, "adds": {"16": 10}, "sram_read_bits": 64}}}
activity_mutation = st.one_of(
    st.tuples(st.sampled_from([("stages", "readout", "comparator_decisions"), ("stages", "cnn", "sram_read_bits"),
                               ("stages", "cnn", "macs", "8x8"), ("stages", "cnn", "adds", "16")]), BAD_COUNT),
    st.tuples(st.sampled_from([("frames",), ("width",), ("height",)]), NOT_POSITIVE),
    st.tuples(st.sampled_from([("stages", "cnn", "macs"), ("stages", "cnn", "adds"),
                               ("stages", "readout", "conversions")]),
              st.sampled_from([{"99999999999": 1}, {"0": 1}, {"8x": 1}, {"x8": 1}, {"65x8": 1}, {"-3": 1}])),
    st.tuples(st.just(("format",)), st.sampled_from(["logcam-activity/2", "", None, 1])),
)
raw_activity = st.one_of(
    st.sampled_from([b"", b"\xff\xfe{\x00", "{}".encode("utf-16"), b"\x80\x81", b"{\"format\": ",
                     b"[" * 100_000 + b"]" * 100_000, b"{\"a\":" * 50_000 + b"1" + b"}" * 50_000]),
    st.binary(min_size=1, max_size=40).filter(lambda b: not b.strip().startswith(b"{")),
)


def check_activity_file(example: tuple[tuple, object]) -> None:
    path, value = example
    c = Case()
    p = c.write("act.json", json.dumps(_set(ACTIVITY, path, value)))  # NaN/inf as JSON's NaN/Infinity
    c.rejects(["loggrad", "--activity", "rtl", "--activity-file", str(p)], "energy --activity-file")


def check_raw_activity_file(data: bytes) -> None:
    c = Case()
    p = c.write("act.json", data)
    c.rejects(["loggrad", "--activity", "rtl", "--activity-file", str(p)], "energy --activity-file (raw)")


# options: a node outside the table or not a number, missing files, options that do not go together
cli_args = st.one_of(
    st.integers(-10**6, 10**6).filter(lambda n: n not in SCALING["nodes"]).map(lambda n: ["loggrad", "--node", str(n)]),
    st.sampled_from([["loggrad", "--node", "abc"], ["loggrad", "--node", "nan"], ["loggrad", "--node", "4.5"],
                     ["loggrad", "--activity", "rtl"], ["loggrad", "--activity-file", "{inp}/a.json"],
                     ["loggrad", "--activity", "measured"], ["no_such_pipeline"], ["{inp}"],
                     ["loggrad", "--tech", "{inp}/none.yaml"], ["loggrad", "--scaling", "xp"],
                     ["loggrad", "--set", "sensor.width"], ["loggrad", "--set", "=1"], ["loggrad", "--set", "warp=1"],
                     ["loggrad", "--set", "sensor.width.x=1"], ["compare", "--json", "extra"],
                     ["sweep"], ["validate", "--chips", "{inp}"], ["validate", "--plot", ""]]),
)


def check_cli_args(argv: list[str]) -> None:
    c = Case()
    (c.inp / "a.json").write_text(json.dumps({"format": "logcam-activity/1", "stages": {}}))
    c.rejects([a.replace("{inp}", str(c.inp)) for a in argv], "energy options")


FAMILIES: dict[str, tuple[st.SearchStrategy, Callable[..., None]]] = {
    "cli_args": (cli_args, check_cli_args),
    "set_table": (tech_override, check_set),
    "set_pipeline": (pipeline_field, check_set_pipeline),
    "pipeline_file": (pipeline_field, check_pipeline_file),
    "tech_file": (tech_mutation, check_tech_file),
    "scaling_file": (scaling_mutation, check_scaling_file),
    "chip_file": (chip_mutation, check_chip_file),
    "grid_file": (grid_mutation, check_grid_file),
    "grid_raw": (grid_raw, check_grid_raw),
    "grid_results": (ACCURACY, check_grid_results),
    "out_dir": (st.tuples(st.sampled_from(["compare", "sweep"]), out_dir_kind, NAME), check_out_dir),
    "plot": (st.tuples(plot_kind, NAME, bad_suffix), check_plot),
    "activity_file": (activity_mutation, check_activity_file),
    "activity_raw": (raw_activity, check_raw_activity_file),
}


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_fuzz_energy(family: str) -> None:
    strategy, check = FAMILIES[family]
    check_campaign(strategy, check, QUICK)


@pytest.mark.slow
@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_fuzz_energy_campaign(family: str) -> None:
    strategy, check = FAMILIES[family]
    check_campaign(strategy, check, CAMPAIGN)


def _counting(name: str, check: Callable[..., None], tally: list[int]) -> Callable[[object], None]:
    """``check`` that counts [examples, failures] in ``tally`` instead of stopping at the first failure."""

    def run(example: object) -> None:
        tally[0] += 1
        try:
            check(example)
        except AssertionError as err:
            tally[1] += 1
            if tally[1] <= 2:
                print(f"[{name}] {str(err).splitlines()[0][:200]}", file=sys.stderr)

    return run


def measure(examples: int = CAMPAIGN) -> dict[str, tuple[int, int]]:
    """Per family (examples run, examples failed), without stopping at the first failure."""
    out: dict[str, tuple[int, int]] = {}
    for name, (strategy, check) in FAMILIES.items():
        tally = [0, 0]
        campaign(strategy, _counting(name, check, tally), examples)
        out[name] = (tally[0], tally[1])
    return out


if __name__ == "__main__":
    n = int(sys.argv[1]) if len(sys.argv) > 1 else CAMPAIGN
    res = measure(n)
    for name, (ran, failed) in res.items():
        print(f"{name:<15} {ran:>5} examples {failed:>5} failed")
    total = sum(r for r, _ in res.values())
    print(f"{'total':<15} {total:>5} examples {sum(f for _, f in res.values()):>5} failed")
    sys.exit(1 if any(f for _, f in res.values()) else 0)

