"""CLI of the energy model (backup implementation, logcam/commands/energy_b.py)."""

from __future__ import annotations

import csv
import json

import pytest
from click.testing import CliRunner

from logcam.commands.energy_b import cli
from logcam.errors import ConfigError


def run(*args):
    return CliRunner().invoke(cli, list(args))


def test_default_is_loggrad_with_breakdown():
    r = run()
    assert r.exit_code == 0, r.output
    assert r.output.startswith("loggrad: 96×96")
    for word in ("sensor", "rdc_comparators", "link", "cnn", "layer0_conv_adds", "nJ/pixel", "mW"):
        assert word in r.output
    assert "isp" not in r.output.split("\n", 2)[2]


def test_json_and_options():
    r = run("conventional", "--node", "28", "--fps", "60", "--json")
    assert r.exit_code == 0, r.output
    d = json.loads(r.output)
    assert d["pipeline"] == "conventional" and d["node_nm"] == 28 and d["fps"] == 60 and d["vdd_v"] == 0.9
    assert set(d["stages"]) == {"sensor", "link", "isp", "cnn"}


def test_compare_writes_csv_and_plot(tmp_path):
    r = run("compare", "--json", "--out", str(tmp_path))
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    assert [d["pipeline"] for d in data] == ["conventional", "loggrad", "optical"]
    rows = list(csv.DictReader((tmp_path / "energy_compare.csv").read_text().splitlines()))
    totals = {row["pipeline"]: float(row["nJ_per_pixel"]) for row in rows if row["stage"] == "total"}
    for d in data:
        assert totals[d["pipeline"]] == pytest.approx(d["total_nJ_per_pixel"])
        assert sum(d["stages"].values()) == pytest.approx(d["total_nJ_per_pixel"])
    assert (tmp_path / "energy_compare.png").read_bytes()[:4] == b"\x89PNG"
    # the log-gradient pipeline moves fewer bits and has no ISP
    by = {d["pipeline"]: d for d in data}
    assert by["loggrad"]["stages"]["link"] < by["conventional"]["stages"]["link"]
    assert by["loggrad"]["total_nJ_per_pixel"] < by["conventional"]["total_nJ_per_pixel"]


def test_bad_node_is_one_line():
    r = run("loggrad", "--node", "27")
    assert isinstance(r.exception, ConfigError)
    assert "node_nm: 27 nm" in str(r.exception) and "\n" not in str(r.exception)


def test_rtl_activity_needs_file(tmp_path):
    r = run("--activity", "rtl")
    assert "--activity-file" in str(r.exception)
    p = tmp_path / "act.json"
    p.write_text(json.dumps({"rdc": {"beats": 9216, "nonzero": 0}}))
    r = run("loggrad", "--activity", "rtl", "--activity-file", str(p), "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["stages"]["sensor"]["components"]["rdc_comparators"]["count"] == 2 * 9216


def test_validate_prints_model_and_error():
    r = run("validate")
    assert r.exit_code == 0, r.output
    assert "eyeriss2017" in r.output and "not modelled" in r.output and "mean |error|" in r.output


def test_sweep_writes_csv_and_matches_pointwise_model(tmp_path):
    import yaml

    from logcam.energy.model import pipeline_energy

    g = tmp_path / "g.yaml"
    g.write_text(yaml.safe_dump({"pipelines": ["loggrad", "conventional"], "adc_bits": [8, 10], "levels": [3, 5],
                                 "c1": [4, 8], "node_nm": [65, 28], "fps": [10, 30]}))
    r = run("sweep", str(g), "--out", str(tmp_path / "o"), "--json")
    assert r.exit_code == 0, r.output
    s = json.loads(r.output)
    assert s["points"] == 2 * 2 * 2 * 2 + 2 * 2 * 2 * 2  # rdc: levels×c1×node×fps; adc: bits×c1×node×fps
    rows = list(csv.DictReader((tmp_path / "o" / "sweep.csv").read_text().splitlines()))
    assert len(rows) == s["points"]
    row = next(x for x in rows if x["pipeline"] == "conventional" and x["adc_bits"] == "8" and x["c1"] == "8"
               and x["node_nm"] == "28" and x["fps"] == "10")
    ref = pipeline_energy("conventional", node_nm=28, fps=10, sensor={"readout": "adc", "adc_bits": 8},
                          isp={"enabled": True}, cnn={"netspec": "../../nets/2conv1fc.yaml", "input_format": "uint8",
                                                      "c1": 8})
    assert float(row["nJ_per_pixel"]) == pytest.approx(ref["total_nJ_per_pixel"], rel=1e-5)
    assert (tmp_path / "o" / "sweep_pareto.png").is_file()
    front = s["pareto"]
    assert front and all(p["nJ_per_pixel"] <= max(float(x["nJ_per_pixel"]) for x in rows) for p in front)


def test_bad_grid_names_the_field(tmp_path):
    g = tmp_path / "g.yaml"
    g.write_text("levels: [4]\n")
    r = run("sweep", str(g), "--out", str(tmp_path / "o"))
    assert isinstance(r.exception, ConfigError) and "g.yaml.levels" in str(r.exception)


def test_sweep_against_accuracy_results(tmp_path):
    import yaml

    res = tmp_path / "acc.csv"
    res.write_text("pipeline,adc_bits,levels,c1,accuracy\n"
                   "loggrad,0,3,4,0.90\nloggrad,0,3,8,0.95\nloggrad,0,5,4,0.80\nloggrad,0,5,8,0.96\n")
    g = tmp_path / "g.yaml"
    g.write_text(yaml.safe_dump({"pipelines": ["loggrad"], "levels": [3, 5], "c1": [4, 8], "node_nm": [45],
                                 "fps": [30], "objective": "error", "results": str(res)}))
    r = run("sweep", str(g), "--out", str(tmp_path / "o"), "--json")
    assert r.exit_code == 0, r.output
    front = {(p["levels"], p["c1"]) for p in json.loads(r.output)["pareto"]}
    # levels 5 / c1 4 is worse in accuracy than levels 3 / c1 4 and costs more energy: dominated
    assert (5, 4) not in front and (3, 4) in front
    res.write_text("pipeline,adc_bits,levels,c1,accuracy\nloggrad,0,3,4,0.9\n")
    r = run("sweep", str(g), "--out", str(tmp_path / "o"))
    assert isinstance(r.exception, ConfigError) and "no accuracy for pipeline=loggrad" in str(r.exception)
