"""Validation against published chips: the tolerance, the counts behind each chip, and bad chip entries."""

from __future__ import annotations

import copy

import pytest
import yaml
from click.testing import CliRunner

from logcam.cli import cli
from logcam.config import read_yaml
from logcam.energy.tech import data_path
from logcam.energy.validate import mean_abs_error, validate_chips
from logcam.errors import ConfigError, InputError


def _chips() -> list[dict]:
    return read_yaml(data_path("chips.yaml"))["chips"]


def _chip(name: str) -> dict:
    return next(c for c in _chips() if c["name"] == name)


#: |error| per configured chip today; a change that makes any chip worse by more than 2 points fails.
PINNED = {"young_loggrad_qvga": 0.017, "park_compressive_cis": 0.420, "choi_analog_cnn_cis": 0.853,
          "eyeriss": 0.053, "bankman_bcnn": 0.719, "hsu_ivs_08v": 0.055, "senputing_bnn": 0.656,
          "hsu_c2is_05v": 1.969}


def test_validation_errors_do_not_grow():
    """Every configured chip's |error| at most its pinned value + 2 points, the mean below 61 % (59.3 % today:
    the 0.5 V PWM sensor, added with the same 8-bit ADC rule as the 0.8 V one, is +197 %; 39.6 % over the other 7).

    Why not CamJ's 7.5 %: one shared, uncalibrated table where a chip states only a FoM, circuit parameters
    from CamJ's public configurations where it states none, and counts from stated facts only. At circuit level
    Young's sensor lands within 2 %; Hsu's within its unstated ADC's spread; Park's excess sits in its unstated
    ADC and link; the Sensors'20 chip is mostly static power that neither its abstract nor CamJ's configuration
    gives; Senputing is one lumped capacitor in CamJ; Bankman's missing 72 % is control, clocking, broadcast
    and leakage; the 0.5 V sensor's excess is its unstated ADC at the generic FoM (docs/energy.md)."""
    res = validate_chips()
    got = {r.name: abs(r.error) for r in res if r.error is not None}
    assert set(got) == set(PINNED)
    for name, err in got.items():
        assert err <= PINNED[name] + 0.02, (name, err)
    assert mean_abs_error(res) < 0.61
    young = next(r for r in res if r.name == "young_loggrad_qvga")
    assert young.circuits and abs(young.error) < 0.05


def test_a_chip_outside_20_percent_names_what_is_missing():
    for r in validate_chips():
        if r.error is not None and abs(r.error) > 0.2 and r.name != "bankman_bcnn":  # Bankman: docs/energy.md
            assert r.missing.strip(), r.name


def test_every_configured_chip_states_its_stages_and_their_sum():
    for r in validate_chips():
        if r.model is not None:
            assert r.stages and sum(r.stages.values()) == pytest.approx(r.model), r.name


def _binary_net_counts(size: int = 32, filters: int = 256, layers: int = 8, pool_after: tuple[int, ...] = (4, 6),
                       classes: int = 10) -> dict[str, int]:
    """Counts of the BinarEye-style network (2x2 binary convs, no padding, 2x2 pools) written from its description."""
    fan_in = 2 * 2 * filters
    evals = xnor = adds1 = adds11 = w_bits = rd_bits = wr_bits = 0
    for i in range(1, layers + 1):
        out = size - 1
        rd_bits += filters * size * size
        evals += filters * out * out
        w_bits += fan_in * filters
        size = out // 2 if i in pool_after else out
        wr_bits += filters * size * size
    fc_in = size * size * filters
    tree = {n: 2 ** (n.bit_length()) - (n.bit_length() - 1) - 2 for n in (fan_in, fc_in)}  # popcount full adders
    xnor = evals * fan_in + classes * fc_in
    adds1 = evals * tree[fan_in] + classes * tree[fc_in]
    adds11 = evals
    w_bits += fc_in * classes
    rd_bits += fc_in
    return {"xnor": xnor, "adds1": adds1, "adds11": adds11, "read": w_bits + rd_bits, "write": wr_bits}


def test_bankman_counts_follow_from_the_stated_topology():
    c = _binary_net_counts()
    assert c["adds11"] == 983_040  # 3840 output pixels x 256 filters
    st = _chip("bankman_bcnn")["stages"]
    assert st["neuron_array"]["mults"] == {"1": c["xnor"]}
    assert st["neuron_array"]["adds"] == {"1": c["adds1"], "11": c["adds11"]}
    assert st["memory"] == {"sram_read_bits": c["read"], "sram_write_bits": c["write"]}


def test_paper_factor_is_applied_and_shown_not_fitted():
    res = {r.name: r for r in validate_chips()}
    b = res["bankman_bcnn"]
    assert b.paper_factors == {"neuron_array": pytest.approx(1 / 12.9, rel=1e-3)}
    assert "32 nm" in b.node_note and b.calibration == {}


def _write(tmp_path, chip: dict):
    p = tmp_path / "chips.yaml"
    p.write_text(yaml.safe_dump({"chips": [chip]}))
    return p


@pytest.mark.parametrize("edit,needle", [
    (lambda c: c.pop("source"), r"chips\[0\]\.source: required"),
    (lambda c: c.update(colour="red"), r"\(bankman_bcnn\)\.colour: unknown key"),
    (lambda c: c.pop("model_node_why"), r"model_node_why: required when model_node_nm \(32\) differs"),
    (lambda c: c.update(model_node_nm=28), r"28 nm is outside the scaling table"),
    (lambda c: c.update(vdd=0.6), r"vdd: 0.6 V is outside the 32 nm range"),
    (lambda c: c.update(sram="sram64k"), r"sram: one of sram8k_read64"),
    (lambda c: c["paper_factors"]["neuron_array"].pop("source"), r"paper_factors\.neuron_array\.source: required"),
    (lambda c: c["paper_factors"].update(pixels={"factor": 2, "source": "x"}), r"paper_factors\.pixels: no such"),
    (lambda c: c["paper_factors"]["neuron_array"].update(factor=-1), r"neuron_array\.factor: a finite positive number"),
    (lambda c: c.update(calibration={"memory": "x2"}), r"calibration\.memory: a finite positive number"),
    (lambda c: c.update(calibration={"dsp": 2}), r"calibration\.dsp: no such stage"),
])
def test_bad_chip_entry_is_one_line_naming_the_field(tmp_path, edit, needle):
    chip = copy.deepcopy(_chip("bankman_bcnn"))
    edit(chip)
    with pytest.raises(ConfigError, match=needle):
        validate_chips(_write(tmp_path, chip))


def test_cli_validate_prints_stages_factors_and_plots(tmp_path):
    r = CliRunner().invoke(cli, ["energy", "validate", "--plot", str(tmp_path / "v.png")])
    assert r.exit_code == 0, r.output
    assert "paper factor on neuron_array: ×0.07752" in r.output and "28 nm modelled at 32 nm" in r.output
    assert "stages: neuron_array" in r.output and "mean absolute error over 8 chips" in r.output
    assert (tmp_path / "v.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    r = CliRunner().invoke(cli, ["energy", "validate", "--plot", str(tmp_path / "no" / "v.png")])
    assert isinstance(r.exception, InputError) and "--plot" in str(r.exception) and "does not exist" in str(r.exception)


def test_a_calibration_constant_scales_its_stage_and_is_reported(tmp_path):
    chip = copy.deepcopy(_chip("bankman_bcnn"))
    base = validate_chips(_write(tmp_path, chip))[0]
    chip["calibration"] = {"memory": 2.0}
    cal = validate_chips(_write(tmp_path, chip))[0]
    assert cal.stages["memory"] == pytest.approx(2 * base.stages["memory"])
    assert cal.stages["neuron_array"] == pytest.approx(base.stages["neuron_array"])
    assert cal.calibration == {"memory": 2.0} and cal.to_json()["calibration"] == {"memory": 2.0}


def test_the_05v_sensor_counts_follow_from_its_geometry_and_its_adc_dominates():
    """128 x 128 PWM pixels read once per 3x3 window they fall in (9), 126 x 126 outputs at stride 1, 9 weight
    currents per row of windows; at the 8-bit rule the ADC is most of the model."""
    st = _chip("hsu_c2is_05v")["stages"]
    out = (128 - 3 + 1) ** 2
    assert st["sensor"]["circuits"] == {"c2is_pwm_pixel": 128 * 128}
    assert st["analog_conv"]["circuits"] == {"c2is_weight_dac": (128 - 2) * 9, "c2is_t2v_mac": out}
    assert st["adc"] == {"conversions": {"8": out}}
    r = next(x for x in validate_chips() if x.name == "hsu_c2is_05v")
    assert r.stages["adc"] / r.model > 0.8
    assert r.circuits["c2is_pwm_pixel"] == pytest.approx(
        (100e-15 * 0.25 + 9 * (10e-15 + 3.333e-15 * 128 + 1e-12) * 0.25) * 1e12, rel=1e-9)


def test_the_05v_sensor_at_4_bits_matches_its_missing_statement(tmp_path):
    doc = read_yaml(data_path("chips.yaml"))
    for c in doc["chips"]:
        if c["name"] == "hsu_c2is_05v":
            c["stages"]["adc"] = {"conversions": {"4": 126 * 126}}
    p = tmp_path / "chips.yaml"
    p.write_text(yaml.safe_dump(doc, allow_unicode=True))
    r = next(x for x in validate_chips(p) if x.name == "hsu_c2is_05v")
    assert -0.45 < r.error < -0.37 and "-41 %" in r.missing


def test_unconfigured_sensors_say_where_their_facts_were_searched():
    for c in _chips():
        if not c.get("configured", True) and c["name"] != "darkroom_isp":
            assert "Searched:" in c["why"], c["name"]
