"""SRAM energy by size (through the table's three points) and the ISP's line buffers at the frame's width."""

from __future__ import annotations

import json

import pytest

from logcam.energy.activity import ISP_LUT_ENTRIES, ISP_OPS, Activity, isp_activity, load_activity
from logcam.energy.components import SRAM_POINTS, sram_pj_per_bit, stage_pj
from logcam.energy.tech import TechTable
from logcam.errors import InputError

TECH = TechTable.load()


def test_sram_by_size_passes_through_the_table_points_and_grows_with_size():
    for size, entry in SRAM_POINTS:
        assert sram_pj_per_bit(TECH, size) * 64 == pytest.approx(TECH[entry], rel=1e-12)
    sizes = [64, 1024, 8 * 1024, 20 * 1024, 32 * 1024, 300 * 1024, 1 << 20, 8 << 20]
    e = [sram_pj_per_bit(TECH, s) for s in sizes]
    assert all(a < b for a, b in zip(e, e[1:]))
    # below 8 KB the 8 KB → 32 KB slope goes on: a quarter of the size, 10 pJ / 2 per 64 bits (Horowitz's α = 0.5)
    assert sram_pj_per_bit(TECH, 2 * 1024) * 64 == pytest.approx(TECH["sram8k_read64"] / 2, rel=1e-12)
    # a bank is an SRAM of size/banks
    assert sram_pj_per_bit(TECH, 64 * 1024, banks=2) == pytest.approx(sram_pj_per_bit(TECH, 32 * 1024), rel=1e-12)


def test_a_stage_costs_sized_sram_bits_by_their_size():
    act = Activity(sram_bits_by_size={1024: 640, 65536: 64})
    got = stage_pj(act, TECH).components["sram"]
    assert got == pytest.approx(640 * sram_pj_per_bit(TECH, 1024) + 64 * sram_pj_per_bit(TECH, 65536), rel=1e-12)
    assert "sram" in stage_pj(act, TECH).digital


@pytest.mark.parametrize("width", [320, 1920, 3840])
def test_isp_line_buffers_are_sized_by_the_frame_width(width):
    h, bits = 4, 16
    n = width * h
    act = isp_activity(width, h, ["demosaic", "jpeg", "gamma", "tone_mapping", "ccm"], bits)
    lines = {s: ISP_OPS[s]["lb_reads"] for s in ("demosaic", "jpeg")}
    want = {lines["demosaic"] * width * bits // 8: n * (2 + 1) * bits,
            lines["jpeg"] * width * bits // 8: n * (7 + 1) * bits,
            ISP_LUT_ENTRIES: n * (1 + 3) * 8}
    assert act.sram_bits_by_size == want
    assert act.sram_read_bits == act.sram_write_bits == 0
    assert act.mults == {16: 9 * n + 17 * n} and act.adds[16] == 4 * n + 16 * n + 6 * n


def test_wider_frames_cost_more_per_pixel_in_their_line_buffers():
    per_px = [stage_pj(isp_activity(w, 2, ["demosaic"], 16), TECH).components["sram"] / (2 * w)
              for w in (320, 1920, 3840)]
    assert per_px[0] < per_px[1] < per_px[2]


def test_sized_sram_counts_in_an_activity_file(tmp_path):
    p = tmp_path / "a.json"
    p.write_text(json.dumps({"format": "logcam-activity/1", "frames": 2,
                             "stages": {"isp": {"sram_bits_by_size": {"1280": 10}}}}))
    assert load_activity(p)["isp"].sram_bits_by_size == {1280: 5}
    assert Activity.from_json(Activity(sram_bits_by_size={8: 3}).to_json(), "x").sram_bits_by_size == {8: 3}
    for bad in ("0", "1e3", "99999999999", "-1"):
        p.write_text(json.dumps({"format": "logcam-activity/1", "stages": {"isp": {"sram_bits_by_size": {bad: 1}}}}))
        with pytest.raises(InputError, match=r"sram_bits_by_size\..*an SRAM size in bytes"):
            load_activity(p)
