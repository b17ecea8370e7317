"""The RDC RTL (hw/rdc.py) against the golden model, in Amaranth's simulator and under Verilator.

Expected codes always come from logcam.nn.golden.rdc.rdc_codes; the counters are checked against
what the frames imply (beats = frames·H·W/lanes, nonzero = golden codes ≠ 0).
"""

from __future__ import annotations

import numpy as np
import pytest

from logcam.hw.rdc import LATENCY, Rdc
from logcam.hw.stream import describe_layout
from logcam.nn.golden.rdc import rdc_codes
from logcam.rdcspec import RdcSpec
from logcam.sim.rtl.amaranth_sim import stream_through_amaranth
from logcam.sim.rtl.rdc_frames import corner_frames, frames_for, random_frames
from logcam.sim.rtl.rdc_io import RdcGeometry, check_output, input_fields
from logcam.sim.rtl.rdc_verify import verify_rdc
from logcam.sim.rtl.streams import PayloadCodec

pytestmark = pytest.mark.rtl


def _assert_ok(result, frames: np.ndarray, spec: RdcSpec) -> None:
    assert result.mismatches == 0, result.summary()
    assert not result.extra["timed_out"]
    golden = rdc_codes(frames, spec).numpy()
    assert result.extra["stats"]["beats"] == frames.shape[0] * spec.height * spec.width // spec.lanes
    assert result.extra["stats"]["nonzero"] == int((golden != 0).sum())
    assert result.pixels == frames.size  # the action counts derive from beats/nonzero (energy.activity)


# --- Amaranth simulator: many small configurations, fast -------------------------------------

AMARANTH_SPECS = [
    dict(width=8, height=5, lanes=4, mode="sum", levels=3),
    dict(width=6, height=4, lanes=2, mode="hv", levels=5, thresholds=["3/2", "5/2"]),
    dict(width=5, height=4, lanes=1, mode="h", levels=7, adc_bits=12),
    dict(width=6, height=5, lanes=3, mode="v", levels=5, adc_bits=6),
    dict(width=4, height=3, lanes=4, mode="sum", levels=7, adc_bits=16),   # one beat per line
    dict(width=6, height=3, lanes=2, mode="sum", levels=5, thresholds=["9/8", "255/100"], adc_bits=8),
]


@pytest.mark.parametrize("kw", AMARANTH_SPECS, ids=lambda kw: f"{kw['mode']}-L{kw['levels']}-x{kw['lanes']}")
def test_amaranth_matches_golden_with_backpressure(kw: dict) -> None:
    spec = RdcSpec(**kw)
    frames = np.concatenate([corner_frames(spec, 30, seed=1), random_frames(spec, 3, seed=2)])
    result = verify_rdc(spec, frames, sim="amaranth", p_valid=0.6, p_ready=0.6, seed=3)
    _assert_ok(result, frames, spec)
    assert result.extra["stats"]["stalls"] > 0  # backpressure was exercised


def test_full_throughput_cycles_are_beats_plus_constant_latency() -> None:
    spec = RdcSpec(width=8, height=4, lanes=2, mode="hv", levels=3)
    for n in (1, 3):
        frames = random_frames(spec, n, seed=n)
        result = verify_rdc(spec, frames, sim="amaranth", p_valid=1.0, p_ready=1.0)
        assert result.mismatches == 0, result.summary()
        assert result.ideal_cycles == n * spec.height * spec.width // spec.lanes
        assert result.cycles == result.ideal_cycles + LATENCY  # frames back to back, latency constant
        assert result.extra["stats"]["stalls"] == 0


def test_first_flag_restarts_the_frame() -> None:
    """A beat with `first` set mid-frame restarts at row 0, column 0 (AXI video start of frame)."""
    spec = RdcSpec(width=6, height=4, lanes=2, mode="sum", levels=5)
    geo = RdcGeometry.of(spec)
    dut = Rdc(spec)
    frames = random_frames(spec, 2, seed=7)
    fields = input_fields(frames, geo)
    cut = geo.words * 2 + 1  # two rows and one beat of frame 0, then all of frame 1
    keep = np.r_[0:cut, geo.beats_per_frame:2 * geo.beats_per_frame]
    beats = PayloadCodec(describe_layout(dut.i.payload.shape())).pack(**{k: v[keep] for k, v in fields.items()})
    run = stream_through_amaranth(dut, beats, len(beats), p_valid=0.7, p_ready=0.7, seed=1)
    out = PayloadCodec(describe_layout(dut.o.payload.shape())).unpack(run["out"])
    tail = {k: v[cut:] for k, v in out.items()}
    count, found, _ = check_output(tail, rdc_codes(frames[1:], spec).numpy(), geo)
    assert count == 0, [str(m) for m in found]


def test_corrupted_expected_value_is_reported_at_its_place_amaranth() -> None:
    spec = RdcSpec(width=8, height=4, lanes=4, mode="hv", levels=5)
    frames = random_frames(spec, 2, seed=11)
    expected = rdc_codes(frames, spec).numpy().copy()
    expected[1, 1, 2, 5] = 3  # no 5-level code is 3: this value cannot come out of the RTL
    result = verify_rdc(spec, frames, sim="amaranth", expected=expected)
    assert result.mismatches == 1
    (m,) = result.first_mismatches
    assert (m.frame, m.channel, m.row, m.col, m.expected) == (1, 1, 2, 5, 3)
    assert m.got == int(rdc_codes(frames, spec)[1, 1, 2, 5])
    assert "frame 1" in str(m) and "row 2" in str(m) and "col 5" in str(m)


def test_rdc_rejects_a_non_spec() -> None:
    with pytest.raises(TypeError, match="RdcSpec"):
        Rdc({"width": 8})


# --- Verilator through cocotb: three configurations, one build each ----------------------------

VERILATOR_SPECS = [
    dict(width=32, height=12, lanes=4, mode="sum", levels=3),
    dict(width=24, height=10, lanes=2, mode="hv", levels=5),
    dict(width=16, height=8, lanes=1, mode="h", levels=7),
]


@pytest.mark.parametrize("kw", VERILATOR_SPECS, ids=lambda kw: f"{kw['mode']}-L{kw['levels']}-x{kw['lanes']}")
def test_verilator_matches_golden(kw: dict) -> None:
    spec = RdcSpec(**kw)
    frames = np.concatenate([corner_frames(spec, 40, seed=5), frames_for(spec, 6, seed=6)])
    result = verify_rdc(spec, frames, sim="verilator", p_valid=0.7, p_ready=0.7, seed=9)
    _assert_ok(result, frames, spec)
    assert result.cycles > result.ideal_cycles  # randomised handshake slows it down


def test_verilator_reports_a_broken_golden_at_its_place(tmp_path) -> None:
    spec = RdcSpec(**VERILATOR_SPECS[0])  # same Verilog as above: the build is reused
    frames = random_frames(spec, 3, seed=21)
    golden = rdc_codes(frames, spec).numpy()
    expected = golden.copy()
    expected[2, 0, 7, 13] = -expected[2, 0, 7, 13] if expected[2, 0, 7, 13] else 1
    expected[0, 0, 0, 0] = 1  # first row/column must be 0: the RTL must not agree with this golden
    result = verify_rdc(spec, frames, sim="verilator", expected=expected, workdir=tmp_path / "sim")
    assert result.mismatches == 2
    where = sorted((m.frame, m.channel, m.row, m.col, m.expected, m.got) for m in result.first_mismatches)
    assert where == [(0, 0, 0, 0, 1, 0), (2, 0, 7, 13, int(expected[2, 0, 7, 13]), int(golden[2, 0, 7, 13]))]
    assert (tmp_path / "sim" / "result.json").is_file()


def test_verilator_and_amaranth_agree_cycle_for_cycle() -> None:
    """The per-cycle cocotb bench draws valid/ready from the same Python generators as amaranth.sim."""
    spec = RdcSpec(**VERILATOR_SPECS[1])
    frames = random_frames(spec, 2, seed=4)
    a = verify_rdc(spec, frames, sim="amaranth", p_valid=0.75, p_ready=0.6, seed=8)
    v = verify_rdc(spec, frames, sim="verilator", p_valid=0.75, p_ready=0.6, seed=8, bench="cycle")
    assert a.mismatches == v.mismatches == 0
    assert a.cycles == v.cycles
    assert a.extra["stats"] == v.extra["stats"]
    assert v.extra["bench"] == "cycle"


def test_memory_bench_full_speed_and_seeded_backpressure() -> None:
    """The memory-fed shell (the default; its own memory-only build, reused by every run after the first):
    beats back to back at p = 1; with p < 1 its hardware generators stall input and output, deterministically
    per seed, and differently per seed."""
    spec = RdcSpec(**VERILATOR_SPECS[1])
    frames = random_frames(spec, 3, seed=4)
    full = verify_rdc(spec, frames, sim="verilator", p_valid=1.0, p_ready=1.0)
    assert full.extra["bench"] == "memory"
    _assert_ok(full, frames, spec)
    assert full.cycles == full.ideal_cycles + LATENCY and full.extra["stats"]["stalls"] == 0
    runs = [verify_rdc(spec, frames, sim="verilator", p_valid=0.5, p_ready=0.4, seed=s) for s in (1, 1, 2)]
    assert all(r.build_s == 0.0 for r in runs)  # the first run's build, cached by its Verilog
    for r in runs:
        _assert_ok(r, frames, spec)
        assert r.extra["stats"]["stalls"] > 0 and r.cycles > 2 * r.ideal_cycles
    assert runs[0].cycles == runs[1].cycles and runs[0].extra["stats"] == runs[1].extra["stats"]
    assert runs[0].cycles != runs[2].cycles


# --- long runs (pytest -m slow) ------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("mode", ["h", "v", "hv", "sum"])
@pytest.mark.parametrize("levels", [3, 5, 7])
@pytest.mark.parametrize("lanes", [1, 2, 4, 8])
def test_amaranth_every_mode_level_and_lane_count(mode: str, levels: int, lanes: int) -> None:
    spec = RdcSpec(width=16, height=5, lanes=lanes, mode=mode, levels=levels, adc_bits=10)
    frames = np.concatenate([corner_frames(spec, 40, seed=lanes), random_frames(spec, 2, seed=levels)])
    result = verify_rdc(spec, frames, sim="amaranth", p_valid=0.7, p_ready=0.7, seed=lanes + levels)
    _assert_ok(result, frames, spec)


@pytest.mark.slow
@pytest.mark.parametrize("kw", [
    dict(width=320, height=240, lanes=4, mode="sum", levels=3),
    dict(width=320, height=240, lanes=8, mode="hv", levels=7, adc_bits=16),  # 130-bit input payload
    dict(width=96, height=64, lanes=16, mode="v", levels=5, thresholds=["5/4", "7/2"], adc_bits=12),
], ids=["qvga-sum-x4", "qvga-hv-x8-16bit", "v-x16"])
def test_verilator_large_frames_and_wide_payloads(kw: dict) -> None:
    spec = RdcSpec(**kw)
    frames = frames_for(spec, 6, seed=13)
    result = verify_rdc(spec, frames, sim="verilator", p_valid=0.9, p_ready=0.9, seed=2)
    _assert_ok(result, frames, spec)
