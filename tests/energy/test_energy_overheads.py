"""Digital overheads: flip-flop bits from the RTL's Yosys statistics × clocked cycles, costed per bit-cycle."""

from __future__ import annotations

from pathlib import Path

import pytest

import logcam.configs as _configs
from logcam.energy.activity import Activity
from logcam.energy.components import ff_leak_pj, node_scale, stage_pj
from logcam.energy.overheads import cnn_ff_bit_cycles, rtl_layer_stats
from logcam.energy.pipeline import energy, load_pipeline
from logcam.energy.tech import Scaling, TechTable, data_path
from logcam.errors import ConfigError
from logcam.nn.netspec import NetSpec

NETS = Path(_configs.__file__).parent / "nets"


def test_clock_ff_is_bit_cycles_times_the_table_entry_and_scales_with_the_node():
    t = TechTable.load()
    st = stage_pj(Activity(macs={"8x8": 10}), t, ff_bit_cycles=1000)
    assert st.components["clock_ff"] == pytest.approx(1000 * 0.009, rel=1e-12)
    assert "clock_ff" in st.digital
    assert st.at(0.5)["clock_ff"] == pytest.approx(0.5 * 9.0, rel=1e-12)
    assert "clock_ff" not in stage_pj(Activity(macs={"8x8": 10}), t).components
    assert "Aladdin" in t.entries["ff_clock_bit"].source


def test_missing_table_entry_is_one_line(tmp_path):
    text = data_path("tech.yaml").read_text()
    cut = text[:text.index("  ff_clock_bit:")]
    p = tmp_path / "t.yaml"
    p.write_text(cut)
    t = TechTable.load(p)
    stage_pj(Activity(), t)  # no flip-flop counts: the entry is not needed
    with pytest.raises(ConfigError, match=r"tech\.entries\.ff_clock_bit: required when flip-flop counts"):
        stage_pj(Activity(), t, ff_bit_cycles=1)


def test_ff_bit_cycles_pair_each_layers_registers_with_its_cycles():
    spec = NetSpec.load(NETS / "2conv1fc.yaml")
    cyc = spec.ideal_cycles()
    stats = [{"num_ff_bits": 10 * (i + 1)} for i in range(len(cyc))]
    assert cnn_ff_bit_cycles(spec, stats) == sum(10 * (i + 1) * c for i, c in enumerate(cyc))
    with pytest.raises(ValueError, match="layer stats for 1 layers"):
        cnn_ff_bit_cycles(spec, stats[:1])


def test_pipeline_energy_takes_the_stage_overheads():
    cfg, base = load_pipeline("loggrad")
    from logcam.energy.pipeline import analytic_activity

    t, s = TechTable.load(), Scaling.load()
    acts = analytic_activity(cfg, base)
    plain = energy(cfg, t, s, acts)
    with_ff = energy(cfg, t, s, acts, ff_bit_cycles={"cnn": 1_000_000})
    extra = with_ff.stages["cnn"]["clock_ff"]
    assert extra > 0 and sum(with_ff.stages["cnn"].values()) == pytest.approx(
        sum(plain.stages["cnn"].values()) + extra, rel=1e-12)
    assert with_ff.stages["sensor"] == plain.stages["sensor"]


def test_ff_leakage_is_bits_times_the_entry_for_one_frame_and_ignores_the_node():
    """Aladdin's 40 nm register leakage (7.395e-5 mW per bit, its header: 'power numbers are in mW') per
    flip-flop bit for 1/fps seconds: halving the frame rate doubles it; the node factor leaves it alone."""
    t = TechTable.load()
    assert t["ff_leak_bit"] == pytest.approx(0.07395, rel=1e-12)  # µW
    assert "power_func.h" in t.entries["ff_leak_bit"].source and not t.entries["ff_leak_bit"].scales
    e30 = ff_leak_pj(t, 1000, 30.0)["leak_ff"]
    assert e30 == pytest.approx(1000 * 73.95e-9 / 30 * 1e12, rel=1e-12)
    assert ff_leak_pj(t, 1000, 15.0)["leak_ff"] == pytest.approx(2 * e30, rel=1e-12)
    assert ff_leak_pj(t, 0, 30.0) == {}
    cfg, base = load_pipeline("loggrad")
    from logcam.energy.pipeline import analytic_activity

    s, acts = Scaling.load(), analytic_activity(cfg, base)
    b45 = energy(cfg, t, s, acts, ff_bits={"cnn": 1000})
    b32 = energy(cfg, t, s, acts, ff_bits={"cnn": 1000}, node_nm=32)
    assert b45.stages["cnn"]["leak_ff"] == pytest.approx(1000 * 73.95e-9 / cfg.sensor.fps * 1e12, rel=1e-12)
    assert b32.stages["cnn"]["leak_ff"] == b45.stages["cnn"]["leak_ff"]
    assert b32.stages["cnn"]["macs"] < b45.stages["cnn"]["macs"]
    assert "leak_ff" not in energy(cfg, t, s, acts).stages["cnn"]


def test_missing_leakage_entry_is_one_line(tmp_path):
    text = data_path("tech.yaml").read_text()
    i = text.index("  ff_leak_bit:")
    p = tmp_path / "t.yaml"
    p.write_text(text[:i] + text[text.index("  ff_clock_bit:"):])
    t = TechTable.load(p)
    with pytest.raises(ConfigError, match=r"tech\.entries\.ff_leak_bit: required when flip-flop counts"):
        ff_leak_pj(t, 1, 30.0)


@pytest.mark.rtl
def test_yosys_counts_the_accelerators_registers():
    """The default network's layers on a 16×16 input (Yosys stays quick): every layer has registers, and
    the bit-cycles are the Yosys counts times NetSpec's cycles."""
    d = NetSpec.load(NETS / "2conv1fc.yaml").model_dump(mode="json")
    d["input"].update(height=16, width=16)
    spec = NetSpec.model_validate(d)
    stats, used = rtl_layer_stats(spec)
    assert used.startswith("random")
    assert all(s["num_ff_bits"] > 0 for s in stats)
    assert cnn_ff_bit_cycles(spec, stats) == sum(s["num_ff_bits"] * c for s, c in zip(stats, spec.ideal_cycles()))


@pytest.mark.rtl
def test_the_rdc_readout_is_charged_its_own_registers_for_every_beat():
    """An RDC readout's flip-flops come from Yosys on logcam's RDC at the pipeline's frame, clocked H·W/lanes
    times per frame; a 16×8 frame keeps Yosys quick. The readout stage then carries clock_ff."""
    from logcam.energy.overheads import pipeline_ff_bit_cycles, rdc_ff_bit_cycles
    from logcam.energy.pipeline import analytic_activity, pipeline_from_dict, readout_rdc

    cfg, base = load_pipeline("loggrad")
    d = cfg.model_dump()
    d["sensor"].update(width=16, height=8)
    d["cnn"] = None
    small = pipeline_from_dict(d)
    spec = readout_rdc(small)
    bit_cycles, st = rdc_ff_bit_cycles(spec)
    assert st["num_ff_bits"] > 0 and st["num_memory_bits"] > 0
    assert bit_cycles == st["num_ff_bits"] * 16 * 8 // spec.lanes
    ff, _ = pipeline_ff_bit_cycles(small, base)
    assert ff == {"readout": bit_cycles}
    t, s = TechTable.load(), Scaling.load()
    b = energy(small, t, s, analytic_activity(small, base), ff_bit_cycles=ff)
    scale = node_scale(t, s, small.digital.node_nm, small.digital.vdd)
    assert b.stages["readout"]["clock_ff"] == pytest.approx(bit_cycles * 0.009 * scale, rel=1e-12)


def _fake_stats(spec, lb_bytes: int = 100, pool_bytes: int = 200) -> list[dict]:
    return [{"num_ff_bits": 1, "line_buffer_bits": 8 * lb_bytes if s.kind == "conv" else 0,
             "num_memory_bits": 8 * (lb_bytes + pool_bytes) if s.kind == "conv" else 8 * 4096}
            for s in spec.layer_shapes()]


def test_cnn_memory_split_adds_up_to_the_analytic_sram_traffic():
    """Split by memory (ROM, line buffer, pool, output beats), the bits are cnn_activity's, exactly."""
    from logcam.energy.activity import cnn_activity
    from logcam.energy.overheads import cnn_memory_bits

    spec = NetSpec.load(NETS / "2conv1fc.yaml")
    parts = cnn_memory_bits(spec, _fake_stats(spec))
    act = cnn_activity(spec)
    assert sum(b for layer in parts for b, _ in layer.values()) == act.sram_read_bits + act.sram_write_bits
    conv = [p for p, s in zip(parts, spec.layer_shapes()) if s.kind == "conv"]
    assert all(p["line_buffer"][1] == 100 for p in conv if "line_buffer" in p)
    assert all(p["pool"][1] == 200 for p in conv if "pool" in p)


def test_cnn_sram_by_rtl_sizes_is_a_weighted_mean_of_the_sized_energies():
    from logcam.energy.components import sram_pj_per_bit
    from logcam.energy.overheads import cnn_memory_bits, cnn_sram_pj_per_bit

    t = TechTable.load()
    spec = NetSpec.load(NETS / "2conv1fc.yaml")
    stats = _fake_stats(spec)
    parts = [p for layer in cnn_memory_bits(spec, stats) for p in layer.values()]
    want = sum(b * sram_pj_per_bit(t, size) for b, size in parts) / sum(b for b, _ in parts)
    got = cnn_sram_pj_per_bit(spec, stats, t)
    assert got == pytest.approx(want, rel=1e-12)
    assert min(sram_pj_per_bit(t, s) for _, s in parts) <= got <= max(sram_pj_per_bit(t, s) for _, s in parts)
    # a stage given this per-bit energy costs its SRAM bits with it instead of the named kind
    act = Activity(sram_read_bits=640, sram_write_bits=64)
    assert stage_pj(act, t, sram_bit_pj=got).components["sram"] == pytest.approx(704 * got, rel=1e-12)
    assert stage_pj(act, t).components["sram"] == pytest.approx(704 * t["sram8k_read64"] / 64, rel=1e-12)
