"""Circuit-level analog components: each formula against the physics written out by hand, the physical
ranges of every parameter, and the chips configured at circuit level."""

from __future__ import annotations

import copy
import math

import pytest
import yaml
from click.testing import CliRunner

from logcam.cli import cli
from logcam.config import read_yaml
from logcam.energy.activity import rdc_decisions
from logcam.energy.circuits import load_circuit, load_circuits, supply_limit_v
from logcam.energy.tech import data_path
from logcam.energy.validate import validate_chips
from logcam.errors import ConfigError

fF, pF, uA, us, ns = 1e-15, 1e-12, 1e-6, 1e-6, 1e-9


def _p(value, unit):
    return {"value": value, "unit": unit}


APS = {"kind": "aps", "node_nm": 130, "source": "test",
       "params": {"pd_capacitance": _p(100, "fF"), "fd_capacitance": _p(10, "fF"), "supply": _p(2.5, "V"),
                  "swing": _p(1.0, "V"), "load_capacitance": _p(100, "fF"),
                  "column_capacitance_per_pixel": _p(9, "fF"), "rows": _p(240, "1"), "samples": _p(2, "1")}}


def test_aps_static_dynamic_and_biased_source_follower():
    c_line = 100 * fF + 9 * fF * 240
    reset = (100 + 10) * fF * 2.5**2
    e = load_circuit("px", APS, "t").energy_j()
    assert e == pytest.approx(reset + 2 * 2.5 * c_line * 1.0, rel=1e-12)
    dyn = copy.deepcopy(APS) | {"dynamic": True}
    assert load_circuit("px", dyn, "t").energy_j() == pytest.approx(reset + 2 * c_line * 1.0**2, rel=1e-12)
    biased = copy.deepcopy(APS)
    biased["params"] |= {"sf_bias": _p(5, "uA"), "settle_time": _p(2, "us")}  # V·I·t = 25 pJ > C·V·ΔV = 5.65 pJ
    assert load_circuit("px", biased, "t").energy_j() == pytest.approx(reset + 2 * 2.5 * 5 * uA * 2 * us, rel=1e-12)
    three_t = copy.deepcopy(APS)
    three_t["params"]["fd_capacitance"] = _p(0, "fF")
    assert load_circuit("px", three_t, "t").energy_j() < e


def test_column_amp_gm_over_id_and_capacitor_charging():
    d = {"kind": "column_amp", "node_nm": 130, "source": "t", "differential": True,
         "params": {"supply": _p(2.5, "V"), "input_capacitance": _p(200, "fF"), "load_capacitance": _p(100, "fF"),
                    "gain": _p(2, "1"), "t_sample": _p(100, "ns"), "t_hold": _p(2.3, "us")}}
    i = 2 * (2 * math.pi * 100 * fF * 2 / (100 * ns)) / 16
    want = 2.5 * i * 2.3 * us + (200 * fF + 100 * fF + 100 * fF) * 2.5**2
    assert load_circuit("ca", d, "t").energy_j() == pytest.approx(want, rel=1e-12)
    d["params"]["bias"] = _p(3, "uA")
    assert load_circuit("ca", d, "t").energy_j() == pytest.approx(2.5 * 3 * uA * 2.3 * us + 400 * fF * 6.25,
                                                                  rel=1e-12)


@pytest.mark.parametrize("d,want", [
    ({"kind": "comparator", "params": {"supply": _p(2.5, "V"), "bias": _p(10, "uA"), "t_decision": _p(10, "ns")}},
     2.5 * 10 * uA * 10 * ns),
    ({"kind": "sc_array", "capacitances": {"values": [1, 2], "unit": "pF"}, "swings": {"values": [1.0, 0.5],
                                                                                        "unit": "V"}},
     1 * pF * 1.0 + 2 * pF * 0.25),
    ({"kind": "source_follower", "params": {"supply": _p(1.8, "V"), "swing": _p(1, "V"),
                                             "load_capacitance": _p(1, "pF")}}, 1.8 * pF),
    ({"kind": "bias", "params": {"supply": _p(1.5, "V"), "current": _p(1.1, "uA"), "time": _p(15, "us")}},
     1.5 * 1.1 * uA * 15 * us),
    ({"kind": "adc", "params": {"bits": _p(10, "1"), "fom": _p(100, "fJ/step")}}, 100 * fF * 1024),
    ({"kind": "adc", "params": {"energy_per_conversion": _p(3, "pJ")}}, 3 * pF),
    ({"kind": "pwm_pixel", "params": {"pd_capacitance": _p(100, "fF"), "gate_capacitance": _p(10, "fF"),
                                      "ramp_capacitance": _p(1, "pF"), "column_capacitance_per_pixel": _p(3, "fF"),
                                      "rows": _p(126, "1"), "supply": _p(0.8, "V"), "readouts": _p(8, "1")}},
     100 * fF * 0.64 + 8 * (10 * fF + 3 * fF * 126 + 1 * pF) * 0.64),
    ({"kind": "current_dac", "params": {"supply": _p(0.8, "V"), "load_capacitance": _p(2, "pF"),
                                        "t_readout": _p(7.9, "us")}}, 2 * pF * 0.8 * 0.8),  # I = C·V/t for t: C·V²
    ({"kind": "current_dac", "params": {"supply": _p(0.8, "V"), "load_capacitance": _p(2, "pF"),
                                        "t_readout": _p(7.9, "us"), "bias": _p(1, "uA")}}, 0.8 * 1 * uA * 7.9 * us),
    ({"kind": "time_to_voltage", "params": {"supply": _p(0.8, "V"), "load_capacitance": _p(2, "pF"),
                                            "t_readout": _p(7.9, "us"), "sample_capacitance": _p(1, "pF"),
                                            "sample_supply": _p(0.5, "V")}}, 2 * pF * 0.64 + 1 * pF * 0.25),
])
def test_each_kind_is_its_formula(d, want):
    assert load_circuit("c", d | {"node_nm": 110, "source": "t"}, "t").energy_j() == pytest.approx(want, rel=1e-12)


def _bad(edit):
    d = copy.deepcopy(APS)
    edit(d)
    return d


@pytest.mark.parametrize("d,needle", [
    (_bad(lambda d: d["params"].update(pd_capacitance=_p(-1, "fF"))),
     r"t\.px\.params\.pd_capacitance\.value: -1 fF is outside the physical range of a capacitance: \[0 … 1e-09\] F"),
    (_bad(lambda d: d["params"].update(supply=_p(5.0, "V"))),
     r"params\.supply\.value: 5\.0 V is outside the physical range of a voltage at 130 nm: \(0 … 3\.63\] V"),
    (_bad(lambda d: d["params"].update(supply=_p(float("nan"), "V"))), r"params\.supply\.value: nan V is outside"),
    (_bad(lambda d: d["params"].update(sf_bias=_p(0, "uA"), settle_time=_p(1, "us"))),
     r"params\.sf_bias\.value: 0 uA is outside the physical range of a current: \(0 … 0\.01\] A"),
    (_bad(lambda d: d["params"].update(swing=_p(3.0, "V"))), r"params\.swing\.value: 3 V is outside .*supply 2\.5"),
    (_bad(lambda d: d["params"].update(rows=_p(2.5, "1"))), r"params\.rows\.value: .*whole number"),
    (_bad(lambda d: d["params"].update(samples=_p(3, "1"))), r"params\.samples\.value: 1 or 2"),
    (_bad(lambda d: d["params"].update(pd_capacitance=_p(100, "uA"))),
     r"params\.pd_capacitance\.unit: one of F, pF, fF for a capacitance"),
    (_bad(lambda d: d["params"].pop("supply")), r"params\.supply: required for a aps"),
    (_bad(lambda d: d["params"].update(colour=_p(1, "1"))), r"params\.colour: unknown for a aps"),
    (_bad(lambda d: d.update(kind="opamp")), r"t\.px\.kind: one of aps"),
    (_bad(lambda d: d.pop("source")), r"t\.px\.source: required"),
    (_bad(lambda d: d.update(node_nm=True)), r"t\.px\.node_nm: the circuit's process node"),
    (_bad(lambda d: d.update(dynamic="yes")), r"t\.px\.dynamic: true or false"),
])
def test_out_of_range_parameter_is_one_line_naming_circuit_field_and_range(d, needle):
    with pytest.raises(ConfigError, match=needle) as e:
        load_circuit("px", d, "t")
    assert "\n" not in str(e.value)


def test_a_sampling_supply_is_checked_against_the_node_like_a_supply():
    d = {"kind": "time_to_voltage", "node_nm": 28, "source": "t",
         "params": {"supply": _p(0.8, "V"), "load_capacitance": _p(2, "pF"), "t_readout": _p(1, "us"),
                    "sample_capacitance": _p(1, "pF"), "sample_supply": _p(2.5, "V")}}
    with pytest.raises(ConfigError, match=r"params\.sample_supply\.value: 2\.5 V is outside .* at 28 nm"):
        load_circuit("t2v", d, "t")


def test_hsu_counts_follow_from_the_stated_topology():
    """126 x 126 PWM pixels read once per kernel; 3x3 stride-3 conv → 42 x 42 per kernel (8 kernels, CamJ's);
    9 weight currents per kernel per row of windows; 2x2 pool → 21 x 21 x 8 inputs of the one-output FC."""
    hsu = next(c for c in read_yaml(data_path("chips.yaml"))["chips"] if c["name"] == "hsu_ivs_08v")
    circ = read_yaml(data_path("chips.yaml"))["circuits"]
    w, k = hsu["width"], circ["hsu_pwm_pixel"]["params"]["readouts"]["value"]
    out = (w // 3) ** 2 * k
    st = hsu["stages"]
    assert st["sensor"]["circuits"]["hsu_pwm_pixel"] == w * hsu["height"]
    assert st["analog_conv"]["circuits"] == {"hsu_weight_dac": (w // 3) * k * 9, "hsu_t2v_mac": out,
                                             "hsu_relu": out}
    assert st["adc"]["conversions"] == {"8": out}
    pooled = (w // 6) ** 2 * k
    assert st["digital"] == {"macs": {"8x8": pooled}, "adds": {"8": 3 * pooled}}


def test_supply_limit_depends_on_the_node():
    assert supply_limit_v(130) > supply_limit_v(28)
    d = {"kind": "comparator", "node_nm": 28, "source": "t",
         "params": {"supply": _p(2.5, "V"), "bias": _p(1, "uA"), "t_decision": _p(1, "ns")}}
    with pytest.raises(ConfigError, match=r"voltage at 28 nm: \(0 … 1\.98\] V"):
        load_circuit("cmp", d, "t")
    bad_sc = {"kind": "sc_array", "node_nm": 130, "source": "t", "capacitances": {"values": [1, 1], "unit": "pF"},
              "swings": {"values": [1.0], "unit": "V"}}
    with pytest.raises(ConfigError, match=r"swings\.values: one swing per capacitor"):
        load_circuit("sc", bad_sc, "t")


def test_shipped_circuits_load_and_every_one_has_a_source():
    data = read_yaml(data_path("chips.yaml"))
    circuits = load_circuits(data["circuits"], "chips.yaml.circuits")
    assert {"young_pixel", "young_comparator", "young_column_amp", "park_pixel", "park_cs_matrix"} <= set(circuits)
    assert all(c.source.strip() and c.energy_pj() > 0 for c in circuits.values())


def test_young_rdc_counts_are_logcams_rdc_counts():
    """The comparator decisions are rdc_decisions (1.5-bit = 3 levels, 2 directions); dividers one per direction."""
    young = next(c for c in read_yaml(data_path("chips.yaml"))["chips"] if c["name"] == "young_loggrad_qvga")
    pixels = young["width"] * young["height"]
    rd = young["stages"]["readout"]["circuits"]
    assert rd["young_comparator"] == rdc_decisions(pixels, 2, 3)
    assert rd["young_rdc_divider"] == rd["young_rdc_buffer"] == 2 * pixels
    assert rd["young_column_amp"] == pixels == young["stages"]["sensor"]["circuits"]["young_pixel"]


def test_circuit_level_young_is_the_sum_of_its_circuits():
    r = next(r for r in validate_chips() if r.name == "young_loggrad_qvga")
    c = r.circuits
    sensor = c["young_pixel"] + c["young_pixel_bias"] + c["young_pixel_sample"]
    readout = 2 * (c["young_rdc_divider"] + c["young_rdc_buffer"]) + c["young_column_amp"] + 4 * c["young_comparator"]
    assert r.stages["sensor"] == pytest.approx(sensor, rel=1e-12)
    assert r.stages["readout"] == pytest.approx(readout, rel=1e-12)


def test_bad_circuit_in_a_chips_file_is_exit_2_one_line(tmp_path):
    data = read_yaml(data_path("chips.yaml"))
    data["circuits"]["young_comparator"]["params"]["bias"] = _p(0, "uA")
    p = tmp_path / "chips.yaml"
    p.write_text(yaml.safe_dump(data, allow_unicode=True))
    with pytest.raises(ConfigError, match=r"young_comparator\.params\.bias\.value: 0 uA is outside"):
        validate_chips(p)
    r = CliRunner().invoke(cli, ["energy", "validate", "--chips", str(p)])
    assert isinstance(r.exception, ConfigError) and "young_comparator.params.bias" in str(r.exception)
    data = read_yaml(data_path("chips.yaml"))
    data["chips"][0]["stages"]["sensor"]["circuits"]["nope"] = 1
    p.write_text(yaml.safe_dump(data, allow_unicode=True))
    with pytest.raises(ConfigError, match=r"stages\.sensor\.circuits\.nope: no such circuit"):
        validate_chips(p)


def test_choi_counts_follow_from_the_stated_topology():
    """160 x 120 pixels; conv1 2x2 stride 2 → 60 x 80, 2 switchings each; pool → 30 x 40; conv2 → 15 x 20, 1 each."""
    choi = next(c for c in read_yaml(data_path("chips.yaml"))["chips"] if c["name"] == "choi_analog_cnn_cis")
    w, h = choi["width"], choi["height"]
    conv1 = (h // 2) * (w // 2)
    conv2 = (h // 8) * (w // 8)
    assert choi["stages"]["sensor"]["circuits"]["choi_pixel"] == w * h
    cnn = choi["stages"]["analog_cnn"]["circuits"]
    assert cnn["choi_conv_caps"] == cnn["choi_conv_buffer"] == 2 * conv1 + conv2
    assert cnn["choi_maxpool_bias"] == 40 + 10


def test_loggrad_configured_as_youngs_chip_matches_the_chip_and_replaces_table_components():
    """The pipeline path (configs/energy/loggrad_young.yaml) and the chip path give the same sensor side."""
    from logcam.energy.pipeline import analytic_activity, energy, load_pipeline
    from logcam.energy.tech import Scaling, TechTable

    cfg, base = load_pipeline("loggrad_young")
    b = energy(cfg, TechTable.load(), Scaling.load(), analytic_activity(cfg, base))
    young = next(r for r in validate_chips() if r.name == "young_loggrad_qvga")
    px = cfg.sensor.width * cfg.sensor.height
    for st in ("sensor", "readout", "link"):
        assert sum(b.stages[st].values()) / px == pytest.approx(young.stages[st], rel=1e-12), st
    assert set(b.stages["sensor"]) == {"circuits"} and set(b.stages["readout"]) == {"circuits"}
    side = sum(sum(b.stages[s].values()) for s in ("sensor", "readout", "link")) / px * 1e-3
    assert 0.09 < side < 0.13  # nJ/pixel; Young et al. measured 0.099 (JSSC) – 0.127 (ISSCC)


def test_pipeline_circuit_errors_are_one_line(tmp_path):
    from logcam.energy.pipeline import analytic_activity, energy, load_pipeline, pipeline_from_dict
    from logcam.energy.sweep import _variant
    from logcam.energy.tech import Scaling, TechTable

    cfg, base = load_pipeline("loggrad_young")
    d = cfg.model_dump()
    d["circuits"]["stages"]["sensor"]["nope"] = 1.0
    bad = pipeline_from_dict(d)
    with pytest.raises(ConfigError, match=r"circuits\.stages\.sensor\.nope: no such circuit"):
        energy(bad, TechTable.load(), Scaling.load(), analytic_activity(bad, base))
    d = cfg.model_dump()
    d["circuits"]["stages"]["dsp"] = {"young_pixel": 1.0}
    with pytest.raises(ConfigError, match=r"circuits\.stages\.dsp: unknown stage"):
        pipeline_from_dict(d)
    with pytest.raises(ConfigError, match=r"axes\.readout: adc10 — the base pipeline costs its rdc readout"):
        _variant(cfg, "adc10", 8)


@pytest.mark.parametrize("field,value,needle", [
    ("readouts", _p(0, "1"), r"t\.pwm\.params\.readouts\.value: 0 1 is outside the physical range of a count"),
    ("ramp_capacitance", _p(-1, "pF"), r"t\.pwm\.params\.ramp_capacitance\.value: -1 pF is outside"),
    ("supply", _p(2.5, "V"), r"t\.pwm\.params\.supply\.value: 2\.5 V is outside .* at 28 nm: \(0 … 1\.98\] V"),
])
def test_new_kinds_refuse_out_of_range_parameters_in_one_line(field, value, needle):
    d = {"kind": "pwm_pixel", "node_nm": 28, "source": "t",
         "params": {"pd_capacitance": _p(100, "fF"), "gate_capacitance": _p(10, "fF"), "ramp_capacitance": _p(1, "pF"),
                    "column_capacitance_per_pixel": _p(3, "fF"), "rows": _p(126, "1"), "supply": _p(0.8, "V"),
                    "readouts": _p(8, "1")}}
    d["params"][field] = value
    with pytest.raises(ConfigError, match=needle) as e:
        load_circuit("pwm", d, "t")
    assert "\n" not in str(e.value)
