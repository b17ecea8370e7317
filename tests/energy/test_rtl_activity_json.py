"""RTL-counted activity end to end: `logcam verify … --activity-out F` → `logcam energy --activity rtl`.

The RTL counters of a run become a logcam-activity/1 file (energy/rtl_activity.py); the energy model
reads it per frame, keeps the other stages analytic, and says which stages were measured. MAC work
(MACs, a code layer's additions) and the RDC's comparator decisions are defined to agree with the
analytic counts, and so is memory traffic (the analytic model is this accelerator's architecture), so the
measured and analytic energies must be equal.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner

from logcam.cli import cli
from logcam.energy.activity import FORMAT, cnn_activity, load_activity, rdc_activity
from logcam.energy.rtl_activity import from_verify, layer_memory_per_frame
from logcam.errors import ConfigError, InputError
from logcam.nn.netspec import NetSpec, random_bundle
from logcam.rdcspec import RdcSpec

#: 8×8 3-level codes, one conv (pool, so line-buffer steps and pool accesses share a counter) and an fc.
SMALL_NET = {"input": {"channels": 1, "height": 8, "width": 8, "format": "codes", "levels": 3},
             "layers": [{"type": "conv", "out_channels": 2, "kernel": 3, "pad": 1, "pool": 2, "pe": 2, "simd": 3},
                        {"type": "fc", "out_features": 3, "pe": 1, "simd": 2}]}


def _cli(*args: str):
    return CliRunner().invoke(cli, [str(a) for a in args], standalone_mode=False)


def _net_file(tmp_path: Path, d: dict = SMALL_NET) -> Path:
    p = tmp_path / "net.yaml"
    p.write_text(yaml.safe_dump(d))
    return p


def _energy(*args: str) -> dict:
    r = _cli("energy", "loggrad", "--json", *args)
    assert r.exception is None, r.output
    return json.loads(r.output)


def _components(j: dict, stage: str) -> dict[str, float]:
    return j["stages"][stage]["components_nj_per_pixel"]


@pytest.mark.rtl
def test_verify_top_activity_out_feeds_energy(tmp_path: Path) -> None:
    net = _net_file(tmp_path)
    out = tmp_path / "top_activity.json"
    r = _cli("verify", "top", "--net", net, "--random-weights", 0, "--frames", 3, "--sim", "amaranth", "--seed", 2,
             "--activity-out", out)
    assert r.exception is None, r.output
    doc = json.loads(out.read_text())
    assert doc["format"] == FORMAT and doc["frames"] == 3 and (doc["width"], doc["height"]) == (8, 8)
    assert set(doc["stages"]) == {"readout", "cnn"}

    sets = ("--set", "sensor.width=8", "--set", "sensor.height=8", "--set", f"cnn.net={net}")
    analytic = _energy(*sets)
    measured = _energy(*sets, "--activity", "rtl", "--activity-file", str(out))
    assert measured["activity"]["measured"] == ["cnn", "readout"]
    assert measured["activity"]["analytic"] == ["link", "sensor"]
    assert analytic["activity"] == {"measured": [], "analytic": ["cnn", "link", "readout", "sensor"]}
    # comparator decisions and MAC work agree with the analytic counts, per frame
    assert _components(measured, "readout") == pytest.approx(_components(analytic, "readout"), rel=1e-12)
    for part in ("adds", "macs"):
        assert _components(measured, "cnn")[part] == pytest.approx(_components(analytic, "cnn")[part], rel=1e-12)
    for stage in ("sensor", "link"):  # still analytic
        assert measured["stages"][stage] == analytic["stages"][stage]
    # memory traffic (line-buffer words, pool memory, weight ROM, logits) too: the analytic model is this RTL's
    assert _components(measured, "cnn")["sram"] == pytest.approx(_components(analytic, "cnn")["sram"], rel=1e-12)

    text = _cli("energy", "loggrad", *sets, "--activity", "rtl", "--activity-file", out)
    assert text.exception is None and "measured (RTL" in text.output and "cnn, readout" in text.output


@pytest.mark.rtl
def test_default_top_every_count_equals_the_analytic_model(tmp_path: Path) -> None:
    """The default RDC (96×96, 3 levels, sum) and network (2conv1fc): RTL counters == analytic, count by count."""
    from logcam.energy.pipeline import analytic_activity, pipeline_from_dict, resolve_net

    out = tmp_path / "top.json"
    r = _cli("verify", "top", "--frames", 1, "--p-valid", 1, "--p-ready", 1, "--activity-out", out)
    assert r.exception is None, r.output
    measured = load_activity(out, width=96, height=96)
    cfg = pipeline_from_dict({"name": "default_top", "sensor": {"width": 96, "height": 96},
                              "readout": {"kind": "rdc", "levels": 3, "mode": "sum"}, "cnn": {"input": "codes"}})
    analytic = analytic_activity(cfg, net=resolve_net(cfg, None))
    for stage in ("readout", "cnn"):
        a, m = analytic[stage].to_json(), measured[stage].to_json()
        assert m["cycles"] > 0 and (a["macs"] or a["adds"] or a["comparator_decisions"])
        if stage == "readout":
            a["cycles"] = m["cycles"]  # analytic counts rows settled, the RTL its input beats
        assert m == a, stage


@pytest.mark.rtl
def test_verify_accel_activity_has_no_sensor_frame(tmp_path: Path) -> None:
    net = _net_file(tmp_path)
    out = tmp_path / "accel_activity.json"
    r = _cli("verify", "accel", "--net", net, "--random-weights", 0, "--frames", 2, "--sim", "amaranth",
             "--activity-out", out)
    assert r.exception is None, r.output
    doc = json.loads(out.read_text())
    assert "width" not in doc and set(doc["stages"]) == {"cnn"}
    # no geometry: the cnn counts are per inference, whatever the sensor (here the shipped 320×240)
    j = _energy("--set", f"cnn.net={net}", "--activity", "rtl", "--activity-file", str(out))
    a = _energy("--set", f"cnn.net={net}")
    assert j["activity"]["measured"] == ["cnn"]
    assert _components(j, "cnn")["adds"] == pytest.approx(_components(a, "cnn")["adds"], rel=1e-12)


@pytest.mark.rtl
def test_verilator_top_counters_match_the_analytic_model() -> None:
    """Under Verilator (the bench reads rdc_stats too); the pair of test_top_rtl.py, so its build is reused."""
    from logcam.sim.frames import scene_dn_frames
    from logcam.sim.rtl.accel_verify import verify_top

    rdc = RdcSpec(width=8, height=6, adc_bits=10, levels=5, mode="hv", lanes=4)
    net = NetSpec.model_validate({
        "input": {"channels": 2, "height": 6, "width": 8, "format": "codes", "levels": 5},
        "layers": [{"type": "conv", "out_channels": 4, "kernel": 3, "pad": 1, "pool": 2, "pe": 2, "simd": 18},
                   {"type": "fc", "out_features": 3, "pe": 3, "simd": 2}],
        "quant": {"rounding": "half_even"}})
    n = 2
    dn = scene_dn_frames(rdc.height, rdc.width, rdc.adc_bits, n, seed=4)
    r = verify_top(rdc, net, random_bundle(net, seed=3), dn, sim="verilator", seed=4,
                   p_valid=0.7, p_ready=0.6)
    assert r.passed, r.summary()
    stats = r.extra["stats"]
    for i in range(len(net.layers)):  # the split of lb_access into line-buffer steps and pool accesses
        assert stats[f"stats{i}"]["lb_access"] == n * sum(layer_memory_per_frame(net, i))
    doc = from_verify(r, rdc=rdc, net=net)
    st = doc["stages"]
    assert st["readout"]["comparator_decisions"] == n * rdc_activity(8, 6, 5, 2).comparator_decisions
    assert st["readout"]["cycles"] == n * 6 * 8 // 4  # input beats
    ana = cnn_activity(net)
    assert {int(b): c for b, c in st["cnn"]["adds"].items()} == {b: n * c for b, c in ana.adds.items()}
    assert st["cnn"]["macs"] == {k: n * c for k, c in ana.macs.items()}
    assert st["cnn"]["cycles"] == n * ana.cycles
    assert (st["cnn"]["sram_read_bits"], st["cnn"]["sram_write_bits"]) == (n * ana.sram_read_bits,
                                                                            n * ana.sram_write_bits)


def _write(tmp_path: Path, **top) -> Path:
    p = tmp_path / "a.json"
    stages = {"cnn": {"macs": {"8x8": 10}, "sram_read_bits": 7, "cycles": 4},
              "readout": {"comparator_decisions": 6}}
    p.write_text(json.dumps({"format": FORMAT, **top, "stages": stages}))
    return p


def test_load_activity_divides_by_frames(tmp_path: Path) -> None:
    one = load_activity(_write(tmp_path))  # an old file: no frames, counts per frame
    assert one["cnn"].macs == {"8x8": 10} and one["cnn"].sram_read_bits == 7
    two = load_activity(_write(tmp_path, frames=2, width=8, height=8), width=8, height=8)
    assert two["cnn"].macs == {"8x8": 5} and two["cnn"].cycles == 2 and two["readout"].comparator_decisions == 3
    assert two["cnn"].sram_read_bits == pytest.approx(3.5)
    assert two["cnn"].adds == {} and two["cnn"].pixel_reads == 0


@pytest.mark.parametrize("top, field", [
    ({"frames": 0}, "frames"), ({"frames": -2}, "frames"), ({"frames": 1.5}, "frames"), ({"frames": "2"}, "frames"),
    ({"frames": True}, "frames"), ({"frames": None}, "frames"), ({"width": 0, "height": 8}, "width"),
    ({"width": 8}, "height"), ({"height": 8.0, "width": 8}, "height"),
])
def test_load_activity_bad_header_is_one_line(tmp_path: Path, top: dict, field: str) -> None:
    with pytest.raises(InputError, match=rf"a\.json\.{field}:") as e:
        load_activity(_write(tmp_path, **top))
    assert "\n" not in str(e.value)


def test_geometry_mismatch_is_one_line(tmp_path: Path) -> None:
    p = _write(tmp_path, frames=3, width=8, height=6)
    r = _cli("energy", "loggrad", "--activity", "rtl", "--activity-file", p)
    msg = str(r.exception)
    assert isinstance(r.exception, InputError) and "\n" not in msg
    assert "8×6" in msg and "320×240" in msg and "--set sensor.width=8 --set sensor.height=6" in msg
    ok = _cli("energy", "loggrad", "--activity", "rtl", "--activity-file", p, "--set", "sensor.width=8",
              "--set", "sensor.height=6")
    assert ok.exception is None, ok.output


@pytest.mark.parametrize("item, text", [("sensor.width=0", "sensor.width"), ("readout.levels=4", "readout.levels"),
                                        ("sensor.width.x=1", "sensor.width")])
def test_pipeline_set_errors_are_one_line(item: str, text: str) -> None:
    r = _cli("energy", "loggrad", "--set", item)
    assert isinstance(r.exception, (ConfigError, InputError)) and text in str(r.exception)
    assert "\n" not in str(r.exception)


@pytest.mark.rtl
def test_verify_rdc_activity_out_and_missing_folder(tmp_path: Path) -> None:
    img = tmp_path / "f.npy"
    np.save(img, np.random.default_rng(1).integers(0, 1024, (2, 3, 4), dtype=np.uint16))
    out = tmp_path / "rdc.json"
    r = _cli("verify", "rdc", "--image", img, "--lanes", 2, "--sim", "amaranth", "--activity-out", out)
    assert r.exception is None, r.output
    doc = json.loads(out.read_text())
    assert (doc["frames"], doc["width"], doc["height"]) == (2, 4, 3) and set(doc["stages"]) == {"readout"}
    assert doc["stages"]["readout"]["comparator_decisions"] == 2 * rdc_activity(4, 3, 3, 1).comparator_decisions
    missing = tmp_path / "nope" / "a.json"
    r = _cli("verify", "rdc", "--image", img, "--lanes", 2, "--sim", "amaranth", "--activity-out", missing)
    assert isinstance(r.exception, InputError) and "nope" in str(r.exception) and "\n" not in str(r.exception)
    assert not missing.parent.exists()
