"""Analytic activity (energy/activity.py) agrees with what the RTL counts while it runs.

The energy model counts actions from the spec alone; the RDC and the accelerator count the same actions
in hardware counters during simulation. Both are compared here on the same configurations, raw and
through energy/rtl_activity.py (the converter behind ``logcam verify … --activity-out``).
"""

from __future__ import annotations

import numpy as np
import pytest

from logcam.energy.activity import cnn_activity, rdc_activity, rdc_counts
from logcam.energy.rtl_activity import cnn_activity_measured, layer_memory_per_frame, readout_activity
from logcam.nn.netspec import NetSpec, random_bundle
from logcam.rdcspec import RdcSpec
from logcam.sim.rtl.accel_verify import verify_accel
from logcam.sim.rtl.rdc_verify import verify_rdc

pytestmark = pytest.mark.rtl


@pytest.mark.parametrize("levels,mode", [(3, "sum"), (7, "hv")])
def test_rdc_comparator_decisions_measured_equal_analytic(levels: int, mode: str) -> None:
    spec = RdcSpec(width=16, height=6, adc_bits=10, levels=levels, mode=mode, lanes=4)
    frames = np.random.default_rng(3).integers(0, 1024, (3, 6, 16), dtype=np.uint16)
    r = verify_rdc(spec, frames, sim="amaranth", seed=3)
    assert r.passed, r.summary()
    stats = r.extra["stats"]  # the RDC's raw counters; the action counts are the energy model's
    measured = rdc_counts(spec, stats["beats"], stats["nonzero"])
    analytic = rdc_activity(spec.width, spec.height, spec.levels, spec.channels)
    assert measured["comparisons"] == 3 * analytic.comparator_decisions
    assert measured["pixels"] == 3 * spec.width * spec.height
    assert measured["codes_out"] == 3 * spec.width * spec.height * spec.channels
    assert measured["multiplications"] == (2 * measured["pixels"] if mode == "sum" else 0)
    readout = readout_activity(spec, r.extra["stats"])
    assert readout.comparator_decisions == 3 * analytic.comparator_decisions
    assert readout.cycles == 3 * spec.height * spec.width // spec.lanes  # input beats


def test_accelerator_mac_work_measured_equals_analytic() -> None:
    # even conv outputs, so every MAC of the last frame is done before its label leaves
    spec = NetSpec.model_validate({
        "input": {"channels": 1, "height": 8, "width": 8, "format": "codes", "levels": 3},
        "layers": [{"type": "conv", "out_channels": 2, "kernel": 3, "pad": 1, "pool": 2, "pe": 2, "simd": 3},
                   {"type": "fc", "out_features": 3, "pe": 1, "simd": 2}]})
    frames = np.random.default_rng(5).integers(-1, 2, (2, 1, 8, 8)).astype(np.int8)
    r = verify_accel(spec, random_bundle(spec, 5), frames, sim="verilator", seed=5)  # counters: Verilator bench
    assert r.passed, r.summary()
    analytic = cnn_activity(spec)
    shapes = spec.layer_shapes()
    measured_macs = [r.extra["stats"][f"stats{i}"]["mac_cycles"] * layer.pe * layer.simd
                     for i, layer in enumerate(spec.layers)]
    assert measured_macs == [2 * s.macs for s in shapes]
    # the energy model's per-frame totals: adds for the code layer (±1 codes: one add per MAC), 8×8 MACs after
    assert sum(analytic.adds.values()) == shapes[0].macs
    assert analytic.macs == {"8x8": shapes[1].macs}
    # the converter keeps those conventions: 2 frames of measured work = 2 × the analytic per-frame counts
    conv = cnn_activity_measured(spec, r.extra["stats"])
    assert conv.adds == {b: 2 * n for b, n in analytic.adds.items()}
    assert conv.macs == {k: 2 * n for k, n in analytic.macs.items()} and conv.cycles == 2 * analytic.cycles
    assert [r.extra["stats"][f"stats{i}"]["lb_access"] for i in range(2)] == \
        [2 * sum(layer_memory_per_frame(spec, i)) for i in range(2)]
