"""Energy model: tables with sources, scaling bounds, analytic activity, pipelines, validation, CLI."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from logcam.cli import cli
from logcam.energy.activity import Activity, cnn_activity, load_activity, rdc_activity
from logcam.energy.components import add_pj, mult_pj, node_scale
from logcam.energy.pipeline import analytic_activity, energy, load_pipeline, pipeline_from_dict, resolve_net
from logcam.energy.sweep import GridCfg, pareto_mask, run_sweep
from logcam.energy.tech import Scaling, TechTable, data_path
from logcam.errors import ConfigError, InputError

TECH = TechTable.load()
SCALING = Scaling.load()


def test_every_entry_has_a_source_and_horowitz_numbers():
    for name, e in TECH.entries.items():
        assert e.source.strip(), name
    assert TECH["add8"] == 0.03 and TECH["mult8"] == 0.2 and TECH["mult32"] == 3.1
    # the array-multiplier model stays within 5 % of Horowitz's 32-bit multiply, the add model hits 32-bit add
    assert mult_pj(TECH, 32, 32) == pytest.approx(3.1, rel=0.05)
    assert add_pj(TECH, 32) == pytest.approx(0.1)
    assert TECH["adc_walden_fom"] == pytest.approx(0.1)  # 100 fJ/step in pJ


def _write_table(tmp_path, mutate):
    data = yaml.safe_load(data_path("tech.yaml").read_text())
    mutate(data)
    p = tmp_path / "t.yaml"
    p.write_text(yaml.safe_dump(data))
    return p


@pytest.mark.parametrize("mutate, field", [
    (lambda d: d["entries"]["add8"].update(value=-1), "entries.add8.value"),
    (lambda d: d["entries"]["add8"].pop("unit"), "entries.add8.unit"),
    (lambda d: d["entries"]["mult8"].update(source=""), "entries.mult8.source"),
    (lambda d: d["entries"]["mipi_byte"].update(unit="furlongs"), "entries.mipi_byte.unit"),
    (lambda d: d["entries"].pop("adc_walden_fom"), "entries.adc_walden_fom"),
])
def test_bad_table_is_one_line_naming_the_field(tmp_path, mutate, field):
    with pytest.raises(ConfigError) as e:
        TechTable.load(_write_table(tmp_path, mutate))
    assert field in str(e.value) and "\n" not in str(e.value)


def test_scaling_outside_table_is_an_error():
    with pytest.raises(ConfigError, match="28 nm is outside"):
        SCALING.factor(28)  # between two rows: still an error, not an interpolation
    with pytest.raises(ConfigError, match="vdd"):
        SCALING.factor(45, 2.0)
    # energy falls monotonically with the node at nominal supply, and rises with supply at one node
    nodes = sorted(SCALING.nodes, reverse=True)
    f = [SCALING.factor(n) for n in nodes]
    assert all(a > b for a, b in zip(f, f[1:]))
    assert SCALING.factor(45, 1.05) > SCALING.factor(45, 0.8)


@pytest.mark.parametrize("flavor", ["hp", "lp"])
def test_scaling_rows_are_plausible_and_a_shifted_row_is_caught(flavor, tmp_path):
    # q = energy step / (sqrt(area step) · V² step) between neighbouring nodes (Scaling.step_checks)
    table = Scaling.load(flavor)
    qs = {(a, b): q for a, b, q in table.step_checks()}
    assert len(qs) == len(table.nodes) - 1
    # the LP 32→20 step (q 2.3) is flagged in scaling_lp.yaml; every other step lies within 0.85…1.6
    assert all(0.85 <= q <= 1.6 for k, q in qs.items() if (flavor, k) != ("lp", (32, 20))), qs
    # the same check catches a transcription shifted by one row (each node given its larger neighbour's a, b, c)
    data = yaml.safe_load(data_path("scaling.yaml").read_text())
    nodes = sorted(data["nodes"], reverse=True)
    for big, small in reversed(list(zip(nodes, nodes[1:]))):
        data["nodes"][small].update({k: data["nodes"][big][k] for k in "abc"})
    p = tmp_path / "shifted.yaml"
    p.write_text(yaml.safe_dump(data))
    shifted = [q for _, _, q in Scaling.load(p).step_checks()]
    assert max(shifted) > 1.6 or min(shifted) < 0.85


def test_rdc_decisions_count_two_m_per_channel():
    assert rdc_activity(10, 4, 3, 1).comparator_decisions == 10 * 4 * 2
    assert rdc_activity(10, 4, 7, 2).comparator_decisions == 10 * 4 * 2 * 2 * 3


def test_cnn_activity_matches_layer_arithmetic():
    from logcam.config import embedded_config
    from logcam.nn.netspec import NetSpec

    spec = NetSpec.load(embedded_config("nets/2conv1fc.yaml"))
    act = cnn_activity(spec)
    # conv1 on 96×96 3-level codes: 96·96·4·25 MACs, all additions (multiplier-free)
    conv1 = 96 * 96 * 4 * 25
    conv2 = 48 * 48 * 8 * 4 * 25
    fc = 3 * 8 * 24 * 24
    assert sum(act.adds.values()) == conv1
    assert act.macs == {"8x8": conv2 + fc}
    assert sum(act.adds.values()) + sum(act.macs.values()) == spec.macs()
    # 5 levels (±1, ±2): still one shifted add per MAC; 7 levels (±3 = 2 + 1): two
    for levels, per in ((5, 1), (7, 2)):
        d = spec.model_dump()
        d["input"]["levels"] = levels
        assert sum(cnn_activity(NetSpec.model_validate(d)).adds.values()) == conv1 * per


def test_rdc_hv_mode_doubles_decisions():
    one = pipeline_from_dict({"name": "a", "readout": {"kind": "rdc", "levels": 5, "mode": "sum"}, "cnn": None})
    two = pipeline_from_dict({"name": "b", "readout": {"kind": "rdc", "levels": 5, "mode": "hv"}, "cnn": None})
    d1 = analytic_activity(one)["readout"].comparator_decisions
    d2 = analytic_activity(two)["readout"].comparator_decisions
    assert d1 == 320 * 240 * 4 and d2 == 2 * d1
    assert analytic_activity(two)["link"].link_bits == 320 * 240 * 2 * 3  # two 3-bit codes per pixel


def test_optical_pipeline_reads_the_mask_regions_and_runs_the_network_after_the_optics():
    """optical.yaml vs lens.yaml (the same scenes and task): the masks' convolution costs nothing, the sensor
    reads one region per mask (6 × 24×24 against 3 colour planes), each pair is subtracted on the way in (one
    9-bit addition per map pixel), MIPI carries the 3 signed maps, and the CNN is the network after the optics
    — on 3 int8 channels, one conv layer fewer than the lens camera's network, whose first (7×7) layer is digital."""
    (opt, obase), (lens, lbase) = load_pipeline("optical"), load_pipeline("lens")
    a_opt, a_lens = analytic_activity(opt, obase), analytic_activity(lens, lbase)
    maps = 3 * 24 * 24
    assert a_opt["sensor"].pixel_reads == 6 * 24 * 24 and a_lens["sensor"].pixel_reads == 3 * 24 * 24
    assert a_opt["readout"].conversions == {8: 6 * 24 * 24} and a_opt["readout"].adds == {9: maps}
    assert a_opt["link"].link_bits == maps * 8 and not a_lens["readout"].adds
    net_opt, net_lens = resolve_net(opt, obase), resolve_net(lens, lbase)
    assert (net_opt.input.format, net_opt.input.channels) == ("int8", 3)
    assert len(net_opt.layers) == len(net_lens.layers) - 1
    assert net_opt.layer_shapes()[0].macs == 3 * 24 * 24 * 8 * 5 * 5   # the stem reads the maps, not the regions
    lens_first = net_lens.layer_shapes()[0]
    assert lens_first.kind == "conv" and lens_first.macs == 3 * 24 * 24 * 3 * 7 * 7  # what the masks do for free
    assert sum(a_opt["cnn"].macs.values()) == net_opt.macs()
    b = energy(opt, TECH, SCALING, a_opt)
    assert set(b.stages) == {"sensor", "readout", "link", "cnn"}  # no stage for the optics: it costs nothing
    scale = node_scale(TECH, SCALING, opt.digital.node_nm, opt.digital.vdd)
    assert b.stages["readout"]["adds"] == pytest.approx(maps * add_pj(TECH, 9) * scale, rel=1e-12)
    # the folded form: every region over MIPI, no subtraction; the link costs twice the bits
    d = opt.model_dump()
    d["readout"]["pair_difference"], d["cnn"]["input"] = False, "uint8"
    a_fold = analytic_activity(pipeline_from_dict(d), obase)
    assert a_fold["link"].link_bits == 2 * a_opt["link"].link_bits and not a_fold["readout"].adds


@pytest.mark.parametrize(("over", "needle"), [
    ({"cnn": {"input": "int8"}}, "cnn.input"),
    ({"readout": {"kind": "adc", "pair_difference": True}}, "cnn.input"),
    ({"readout": {"kind": "rdc", "pair_difference": True}, "cnn": None}, "readout.pair_difference"),
    ({"sensor": {"width": 143}, "readout": {"pair_difference": True}, "cnn": {"input": "int8"}},
     "sensor.width must be even"),
])
def test_pair_difference_goes_with_int8_maps_only(over: dict, needle: str):
    with pytest.raises(ConfigError) as e:
        pipeline_from_dict({"name": "x", **over})
    assert "\n" not in str(e.value) and needle in str(e.value)


def test_loggrad_pipeline_is_cheaper_and_isp_free():
    out = {}
    for n in ("conventional", "loggrad", "optical"):
        cfg, base = load_pipeline(n)
        out[n] = energy(cfg, TECH, SCALING, analytic_activity(cfg, base))
    assert "isp" not in out["loggrad"].stages and "isp" in out["conventional"].stages
    tot = {n: b.total_nj_per_pixel for n, b in out.items()}
    assert tot["loggrad"] < tot["conventional"]
    b = out["conventional"]
    # ADC: 2^10 steps × 100 fJ per pixel = 0.1024 nJ/pixel; MIPI: 10 bits = 1.25 bytes × 100 pJ
    assert b.stage_nj_per_pixel()["readout"] == pytest.approx(1024 * 100e-6)
    assert b.stage_nj_per_pixel()["link"] == pytest.approx(0.125)
    assert b.mw == pytest.approx(b.uj_per_frame * 30 * 1e-3)


def test_dram_frame_handoff_and_temporal_denoise_are_counted_in_bits():
    cfg, base = load_pipeline("conventional_soc")
    acts = analytic_activity(cfg, base)
    w, h = cfg.sensor.width, cfg.sensor.height
    spec_in = 96 * 96  # the default network's input window
    # ISP: temporal denoise reads + writes a 16-bit frame, the hand-off writes the 8-bit output frame
    assert acts["isp"].dram_bits == w * h * (16 + 16 + 8)
    assert acts["cnn"].dram_bits == spec_in * 8
    b = energy(cfg, TECH, SCALING, acts)
    assert b.stages["isp"]["dram"] == pytest.approx(acts["isp"].dram_bits * 8.0)  # LPDDR4 8 pJ/bit
    horowitz = energy(pipeline_from_dict({**cfg.model_dump(), "memory": {"dram": "ddr_horowitz"}}),
                      TECH, SCALING, acts)
    assert horowitz.stages["isp"]["dram"] == pytest.approx(acts["isp"].dram_bits * 1300.0 / 64)
    # DRAM is an interface: not moved by node scaling
    assert energy(cfg, TECH, SCALING, acts, node_nm=7).stages["isp"]["dram"] == b.stages["isp"]["dram"]
    plain = analytic_activity(load_pipeline("conventional")[0])
    assert plain["isp"].dram_bits == 0 and plain["cnn"].dram_bits == 0


def test_node_scaling_moves_only_digital_stages():
    cfg, base = load_pipeline("conventional")
    acts = analytic_activity(cfg, base)
    a, b = energy(cfg, TECH, SCALING, acts, node_nm=65), energy(cfg, TECH, SCALING, acts, node_nm=16)
    sa, sb = a.stage_nj_per_pixel(), b.stage_nj_per_pixel()
    for s in ("sensor", "readout", "link"):
        assert sa[s] == sb[s]
    ratio = SCALING.factor(16) / SCALING.factor(65)
    assert sb["cnn"] / sa["cnn"] == pytest.approx(ratio)


def test_bad_pipelines():
    with pytest.raises(ConfigError, match="stage"):
        pipeline_from_dict({"name": "x", "leakage_uw": {"dsp": 1.0}})
    with pytest.raises(ConfigError, match="isp"):
        pipeline_from_dict({"name": "x", "isp": {"steps": ["sharpen"]}})
    cfg = pipeline_from_dict({"name": "x", "cnn": {"net": "no/such/net.yaml"}})
    with pytest.raises(InputError, match=r"cnn\.net"):
        analytic_activity(cfg)


def test_rtl_activity_file_roundtrip_and_errors(tmp_path):
    cfg, base = load_pipeline("loggrad")
    acts = analytic_activity(cfg, base)
    p = tmp_path / "a.json"
    p.write_text(json.dumps({"format": "logcam-activity/1", "stages": {k: v.to_json() for k, v in acts.items()}}))
    back = load_activity(p)
    assert back == acts
    a = energy(cfg, TECH, SCALING, acts).total_nj_per_pixel
    assert energy(cfg, TECH, SCALING, back).total_nj_per_pixel == a
    p.write_text(json.dumps({"format": "logcam-activity/1", "stages": {"cnn": {"macs": {"8x8": -3}}}}))
    with pytest.raises(InputError, match=r"cnn\.macs\.8x8"):
        load_activity(p)
    with pytest.raises(ConfigError, match="dsp"):
        energy(cfg, TECH, SCALING, {"dsp": Activity(adds={8: 1})})


@pytest.mark.parametrize("pipeline", ["loggrad", "conventional_soc"])  # the latter has DRAM traffic
def test_sweep_matches_pointwise_model(pipeline):
    grid = GridCfg.model_validate({"pipeline": pipeline, "axes": {"readout": ["adc10", "rdc5"], "c1": [2, 4],
                                                                   "node_nm": [65, 16], "fps": [10, 30]}})
    r = run_sweep(grid)
    assert r.points == 16
    # a point of the sweep equals the pointwise model of the same design (adc10, c1=4, 16 nm)
    from logcam.energy.pipeline import resolve_net
    from logcam.energy.sweep import _variant, _with_c1

    base_cfg, pdir = load_pipeline(pipeline)
    v = _variant(base_cfg, "adc10", 4)
    net = _with_c1(resolve_net(v, pdir), 4)
    want = energy(v, TECH, SCALING, analytic_activity(v, pdir, net=net), node_nm=16).total_nj_per_pixel
    i = np.nonzero((r.columns["readout"] == "adc10") & (r.columns["c1"] == 4) & (r.columns["node_nm"] == 16))[0]
    assert np.allclose(r.columns["total_nj_per_pixel"][i], want)


def test_pareto_mask():
    cost = np.array([1.0, 2.0, 3.0, 1.5, 4.0])
    other = np.array([5.0, 3.0, 1.0, 6.0, 1.0])  # lower is better
    assert pareto_mask(cost, other, False).tolist() == [True, True, True, False, False]
    assert pareto_mask(cost, -other, True).tolist() == [True, True, True, False, False]


def _run(*args: str):
    return CliRunner().invoke(cli, ["energy", *args], standalone_mode=False)


def test_cli(tmp_path):
    r = _run("conventional", "--json")
    assert r.exception is None, r.output
    j = json.loads(r.output)
    assert set(j["stages"]) == {"sensor", "readout", "link", "isp", "cnn"}
    assert math.isclose(j["total_nj_per_pixel"], sum(s["nj_per_pixel"] for s in j["stages"].values()))
    r = _run("compare", "--json", "--out-dir", str(tmp_path))
    assert r.exception is None, r.output
    names = [p["name"] for p in json.loads(r.output)["pipelines"]]
    assert names == ["conventional", "conventional_soc", "loggrad", "optical", "lens"]
    assert (tmp_path / "compare.png").stat().st_size > 0 and (tmp_path / "compare.csv").read_text().count("\n") == 6
    r = _run("validate", "--json")
    assert r.exception is None and "mean_abs_error" in json.loads(r.output)
    grid = tmp_path / "g.yaml"
    grid.write_text(yaml.safe_dump({"pipeline": "loggrad", "axes": {"readout": ["rdc3", "adc8"], "c1": [2, 4]}}))
    r = _run("sweep", str(grid), "--json", "--out-dir", str(tmp_path))
    assert r.exception is None, r.output
    assert json.loads(r.output)["points"] == 4 and (tmp_path / "pareto.png").stat().st_size > 0


def test_cli_set_overrides_an_entry():
    base = json.loads(_run("conventional", "--json").output)["stages"]["readout"]["nj_per_pixel"]
    r = _run("conventional", "--json", "--set", "adc_walden_fom=10")
    assert r.exception is None, r.output
    assert json.loads(r.output)["stages"]["readout"]["nj_per_pixel"] == pytest.approx(base / 10)


@pytest.mark.parametrize("args, exc, text", [
    (("--set", "adc_walden_fom=-1"), ConfigError, "adc_walden_fom"),
    (("--set", "warp_drive=1"), ConfigError, "warp_drive"),
    (("--node", "28"), ConfigError, "28 nm"),
    (("--activity", "rtl"), InputError, "--activity-file"),
    (("no_such.yaml",), InputError, "no_such"),
])
def test_cli_errors_are_one_line(args, exc, text):
    r = _run(*args)
    assert isinstance(r.exception, exc) and text in str(r.exception) and "\n" not in str(r.exception)


def test_sweep_accuracy_objective_and_bad_axes(tmp_path):
    res = tmp_path / "acc.csv"
    res.write_text("readout,c1,accuracy\nrdc3,2,0.70\nrdc3,4,0.77\nadc8,2,0.72\n")
    grid = GridCfg.model_validate({"pipeline": "loggrad", "objective": "accuracy", "results": str(res),
                                   "axes": {"readout": ["rdc3", "adc8"], "c1": [2, 4]}})
    with pytest.raises(InputError, match="readout=adc8 c1=4"):
        run_sweep(grid)
    res.write_text(res.read_text() + "adc8,4,0.79\n")
    r = run_sweep(grid)
    acc = r.columns["accuracy"]
    keep = pareto_mask(r.columns["total_nj_per_pixel"], acc, True)
    # the cheapest point is always on the front, and the most accurate one too
    assert keep[np.argmin(r.columns["total_nj_per_pixel"])] and keep[np.argmax(acc)]
    with pytest.raises(ConfigError, match=r"axes\.readout"):
        run_sweep(GridCfg.model_validate({"axes": {"readout": ["adc99"]}}))
    with pytest.raises(ConfigError, match="outside the scaling table"):
        run_sweep(GridCfg.model_validate({"axes": {"node_nm": [3]}}))


def test_rdc_early_exit_decisions_from_golden_codes_bounded_by_analytic():
    from logcam.energy.activity import rdc_decisions_from_codes
    from logcam.nn.golden.rdc import rdc_codes
    from logcam.rdcspec import RdcSpec

    rng = np.random.default_rng(0)
    for levels, mode in ((3, "sum"), (5, "hv"), (7, "h")):
        spec = RdcSpec(width=16, height=8, levels=levels, mode=mode, lanes=1)
        frame = rng.integers(0, spec.max_dn + 1, size=(8, 16), dtype=np.uint16)
        codes = rdc_codes(frame, spec).numpy()
        analytic = rdc_activity(16, 8, levels, spec.channels).comparator_decisions
        got = rdc_decisions_from_codes(codes, spec.m)
        assert 0 < got < analytic  # random scenes give non-zero codes, so early exit saves decisions
        # a flat frame codes 0 everywhere: the search runs to the end, exactly the analytic count
        flat = rdc_codes(np.full((8, 16), 100, dtype=np.uint16), spec).numpy()
        assert rdc_decisions_from_codes(flat, spec.m) == analytic
