"""`logcam energy` on a user's mistakes: one line naming the input, exit 2, no traceback, nothing left.

One regression test per kind of bad input the fuzz campaign (tests/fuzz/test_fuzz_energy.py) generates:
NaN/inf where a physical quantity is read (overrides, tables, chip files, pipelines, grids, activity files),
unreadable files, a plot format that does not exist, output paths that cannot be written. Plus the one
stage function and the RDC action counts that the energy model owns.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from logcam.energy.activity import rdc_activity, rdc_counts, rdc_decisions
from logcam.energy.components import LINK_KINDS, node_scale, stage_pj
from logcam.energy.pipeline import analytic_activity, energy, load_pipeline
from logcam.energy.tech import Scaling, TechTable, data_path, quantity
from logcam.errors import ConfigError
from logcam.rdcspec import RdcSpec
from tests.fuzz.harness import assert_rejected, files_under, run_cli

TECH = TechTable.load()
SCALING = Scaling.load()


def assert_refused(tmp_path: Path, *argv: str, says: str) -> str:
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    before = files_under(work)
    r = run_cli(["energy", *argv], work)
    assert_rejected(r, work, before, "energy regression")
    assert says in r.err, r.err
    return r.err


def _yaml(tmp_path: Path, name: str, data: object) -> Path:
    p = tmp_path / name
    p.write_text(yaml.safe_dump(data, sort_keys=False))
    return p


# --- the one stage function ---------------------------------------------------------------------------

def test_stage_function_splits_fixed_and_digital_energy():
    cfg, base = load_pipeline("conventional_soc")
    acts = analytic_activity(cfg, base)
    scale = node_scale(TECH, SCALING, 16)
    b = energy(cfg, TECH, SCALING, acts, node_nm=16)
    for name, act in acts.items():
        st = stage_pj(act, TECH, link=cfg.link.kind, sram=cfg.cnn.sram, dram=cfg.memory.dram)
        assert st.at(scale) == b.stages[name]  # the pipeline is this function, component for component
        assert sum(b.stages[name].values()) == pytest.approx(st.fixed_pj + st.digital_pj * scale, rel=1e-12)
        assert st.digital == {k for k in st.components if k in ("macs", "adds", "mults", "sram")}
    # DRAM and the link are node-independent, the ISP's arithmetic is not
    assert "dram" not in stage_pj(acts["isp"], TECH, dram="lpddr4").digital
    assert stage_pj(acts["isp"], TECH).digital_pj > 0


@pytest.mark.parametrize("kind", sorted(LINK_KINDS))
def test_link_kinds_cost_their_table_entry(kind):
    from logcam.energy.activity import Activity

    st = stage_pj(Activity(link_bits=800), TECH, link=kind)
    assert st.components == {"link": 100 * TECH[LINK_KINDS[kind]]} and not st.digital


def test_rdc_counts_from_raw_counters_equal_the_analytic_decisions():
    for levels, mode, lanes in ((3, "sum", 4), (5, "hv", 2), (7, "h", 1)):
        spec = RdcSpec(width=16, height=6, levels=levels, mode=mode, lanes=lanes)
        beats = 3 * spec.width * spec.height // lanes  # three frames
        c = rdc_counts(spec, beats, nonzero=17)
        assert c["comparisons"] == 3 * rdc_activity(16, 6, levels, spec.channels).comparator_decisions
        assert c["comparisons"] == rdc_decisions(3 * 16 * 6, spec.channels, levels)
        assert c["pixels"] == 3 * 16 * 6 and c["codes_out"] == c["pixels"] * spec.channels
        assert c["codes_nonzero"] == 17 and c["line_memory_bits_read"] == beats * lanes * spec.adc_bits
        assert c["multiplications"] == (2 * c["pixels"] if mode == "sum" else 0)


def test_hardware_no_longer_counts_actions():
    import logcam.hw.rdc as hw_rdc

    assert not hasattr(hw_rdc, "activity")


# --- physical quantities: NaN, inf and the wrong kind of value are errors --------------------------------

@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf"), -1, True, "abc", [1], 10**400])
def test_quantity_refuses_what_is_not_a_finite_number(value):
    with pytest.raises(ConfigError, match="where: a finite non-negative number") as e:
        quantity(value, "where", positive=False)
    assert "\n" not in str(e.value)


def test_quantity_accepts_and_converts():
    assert quantity(3, "x") == 3.0 and quantity(0, "x", positive=False) == 0.0
    assert quantity(-2.5, "x", signed=True) == -2.5
    with pytest.raises(ConfigError, match="whole number"):
        quantity(2.5, "x", integer=True)


@pytest.mark.parametrize("value", [".nan", ".inf", "-.inf", "1e400", "-1"])
def test_tech_override_not_finite(tmp_path, value):
    assert_refused(tmp_path, "loggrad", "--set", f"adc_walden_fom={value}", says="adc_walden_fom")


@pytest.mark.parametrize("field, value", [("node_nm", float("nan")), ("vdd", float("inf")), ("node_nm", 45.5)])
def test_tech_table_node_and_supply(tmp_path, field, value):
    data = yaml.safe_load(data_path("tech.yaml").read_text())
    data[field] = value
    assert_refused(tmp_path, "--tech", str(_yaml(tmp_path, "t.yaml", data)), says=f"t.yaml.{field}")


@pytest.mark.parametrize("key, value", [("a", float("nan")), ("vmin", -float("inf")), ("area", float("inf")),
                                        ("c", "abc")])
def test_scaling_table_not_finite(tmp_path, key, value):
    data = yaml.safe_load(data_path("scaling.yaml").read_text())
    data["nodes"][7][key] = value  # a row no shipped pipeline uses: every row is checked when read
    assert_refused(tmp_path, "loggrad", "--scaling", str(_yaml(tmp_path, "s.yaml", data)), says=f"s.yaml.nodes.7.{key}")


def test_scaling_energy_factor_must_be_positive(tmp_path):
    data = yaml.safe_load(data_path("scaling.yaml").read_text())
    data["nodes"][16].update(a=0.0, b=0.0, c=-1.0)
    assert_refused(tmp_path, "loggrad", "--node", "16", "--scaling", str(_yaml(tmp_path, "s.yaml", data)),
              says="must be > 0")


@pytest.mark.parametrize("field, value, says", [
    (("fps",), float("nan"), "fps"), (("vdd",), float("inf"), "vdd"), (("width",), 320.5, "width"),
    (("calibration",), {"cnn": float("nan")}, "calibration.cnn"), (("node_nm",), -float("inf"), "node_nm"),
    (("stages", "cnn", "macs", "16x16"), 2**63, "16x16"), (("reported", "value"), float("nan"), "reported.value"),
])
def test_chip_file(tmp_path, field, value, says):
    data = yaml.safe_load(data_path("chips.yaml").read_text())
    chip = next(c for c in data["chips"] if c["name"] == "eyeriss")
    node = chip
    for k in field[:-1]:
        node = node[k]
    node[field[-1]] = value
    assert_refused(tmp_path, "validate", "--chips", str(_yaml(tmp_path, "c.yaml", data)), says=says)


@pytest.mark.parametrize("section, value", [("sensor", {"fps": float("nan")}), ("digital", {"vdd": float("inf")}),
                                            ("leakage_uw", {"cnn": float("inf")})])
def test_pipeline_yaml(tmp_path, section, value):
    p = _yaml(tmp_path, "p.yaml", {"name": "p", section: value})
    assert_refused(tmp_path, str(p), says=f"p.yaml.{section}")


@pytest.mark.parametrize("axes, says", [({"fps": [float("nan")]}, "axes.fps"), ({"fps": [float("inf")]}, "axes.fps"),
                                        ({"c1": [0]}, "axes.c1"), ({"node_nm": [28]}, "28 nm")])
def test_sweep_grid(tmp_path, axes, says):
    assert_refused(tmp_path, "sweep", str(_yaml(tmp_path, "g.yaml", {"axes": axes})), says=says)


def test_empty_sweep_grid(tmp_path):
    (tmp_path / "g.yaml").write_text("")
    assert_refused(tmp_path, "sweep", str(tmp_path / "g.yaml"), says="empty sweep grid")


@pytest.mark.parametrize("content, says", [("nan", "finite"), ("inf", "finite"), ("x", "accuracy (number)")])
def test_sweep_results_csv(tmp_path, content, says):
    res = tmp_path / "acc.csv"
    res.write_text(f"readout,c1,accuracy\nrdc3,2,{content}\n")
    g = _yaml(tmp_path, "g.yaml", {"objective": "accuracy", "results": str(res),
                                   "axes": {"readout": ["rdc3"], "c1": [2]}})
    assert_refused(tmp_path, "sweep", str(g), says=says)
    res.write_bytes(b"readout,c1,accuracy\n\xff\xfe,2,0.5\n")
    assert_refused(tmp_path, "sweep", str(g), says="not UTF-8")


@pytest.mark.parametrize("data, says", [
    (b"\xff\xfe{\x00}\x00", "not UTF-8"), (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    (json.dumps({"format": "logcam-activity/1", "stages": {"cnn": {"adds": {"99999": 1}}}}).encode(), "1..64"),
    (json.dumps({"format": "logcam-activity/1", "stages": {"cnn": {"sram_read_bits": 2**63}}}).encode(), "2^63"),
    (b'{"format": "logcam-activity/1", "stages": {"cnn": {"cycles": NaN}}}', "cnn.cycles"),
])
def test_activity_file(tmp_path, data, says):
    p = tmp_path / "a.json"
    p.write_bytes(data)
    assert_refused(tmp_path, "loggrad", "--activity", "rtl", "--activity-file", str(p), says=says)


def test_activity_file_without_rtl_activity_is_refused(tmp_path):
    p = tmp_path / "a.json"
    p.write_text(json.dumps({"format": "logcam-activity/1", "stages": {}}))
    assert_refused(tmp_path, "loggrad", "--activity-file", str(p), says="--activity rtl")


# --- outputs ---------------------------------------------------------------------------------------------

def test_validate_plot_format_fails_before_any_work(tmp_path, monkeypatch):
    import logcam.energy.validate as v

    def boom(*a, **k):
        raise AssertionError("validate_chips ran before the plot name was checked")

    monkeypatch.setattr(v, "validate_chips", boom)
    for plot in [str(tmp_path / "work" / name) for name in ("x.txt", "x", "x.png~")] + [""]:
        assert_refused(tmp_path, "validate", "--plot", plot, says="--plot")


@pytest.mark.parametrize("where", ["folder", "missing", "under_file", "proc"])
def test_validate_plot_unwritable(tmp_path, where):
    (tmp_path / "work").mkdir()
    (tmp_path / "work" / "f.txt").write_text("x")
    (tmp_path / "work" / "d.png").mkdir()
    plot = {"folder": tmp_path / "work" / "d.png", "missing": tmp_path / "work" / "no" / "v.png",
            "under_file": tmp_path / "work" / "f.txt" / "v.png", "proc": Path("/proc/logcam-v.png")}[where]
    assert_refused(tmp_path, "validate", "--plot", str(plot), says="--plot")


def test_validate_plot_written(tmp_path):
    r = run_cli(["energy", "validate", "--plot", "v.svg"], tmp_path)
    assert r.code == 0, r.describe()
    assert (tmp_path / "v.svg").read_text().lstrip().startswith("<?xml")
    assert files_under(tmp_path) == {Path("v.svg")}


@pytest.mark.parametrize("command", ["compare", "sweep"])
@pytest.mark.parametrize("where", ["is_file", "under_file", "proc"])
def test_out_dir_unwritable_fails_before_any_work(tmp_path, monkeypatch, command, where):
    import logcam.energy.tech as tech

    def boom(*a, **k):
        raise AssertionError("the model ran before --out-dir was checked")

    monkeypatch.setattr(tech.TechTable, "load", boom)
    (tmp_path / "work").mkdir()
    f = tmp_path / "work" / "f.txt"
    f.write_text("x")
    out = {"is_file": f, "under_file": f / "out", "proc": Path("/proc/logcam-out/x")}[where]
    grid = _yaml(tmp_path, "g.yaml", {"axes": {"readout": ["rdc3"], "c1": [2]}})
    argv = ["compare"] if command == "compare" else ["sweep", str(grid)]
    assert_refused(tmp_path, *argv, "--out-dir", str(out), says="--out-dir")


def test_sweep_outputs_appear_together_or_not_at_all(tmp_path, monkeypatch):
    import logcam.energy.report as report

    def boom(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(report, "plot_pareto", boom)
    grid = _yaml(tmp_path, "g.yaml", {"axes": {"readout": ["rdc3"], "c1": [2]}})
    r = run_cli(["energy", "sweep", str(grid), "--out-dir", "new/sweep"], tmp_path)
    assert r.code != 0
    # sweep.csv was staged, then the plot failed: no csv, and the folders this command made are gone
    assert files_under(tmp_path) == {Path("g.yaml")}
