"""Sensor to label under Verilator: DN frames → RDC → accelerator; codes, every layer and labels bit-exact."""

from __future__ import annotations

import numpy as np
import pytest

from logcam.errors import ConfigError
from logcam.hw.top import Top
from logcam.nn.netspec import NetSpec, random_bundle
from logcam.rdcspec import RdcSpec
from logcam.sim.frames import scene_dn_frames
from logcam.sim.rtl.accel_verify import verify_top


def _pair(levels: int = 5, mode: str = "hv", lanes: int = 4) -> tuple[RdcSpec, NetSpec]:
    rdc = RdcSpec(width=8, height=6, adc_bits=10, levels=levels, mode=mode, lanes=lanes)
    net = NetSpec.model_validate({
        "input": {"channels": rdc.channels, "height": 6, "width": 8, "format": "codes", "levels": levels},
        "layers": [{"type": "conv", "out_channels": 4, "kernel": 3, "pad": 1, "pool": 2, "pe": 2,
                    "simd": 3 * 3 * rdc.channels},
                   {"type": "fc", "out_features": 3, "pe": 3, "simd": 2}],
        "quant": {"rounding": "half_even"}})
    return rdc, net


@pytest.mark.rtl
def test_dn_to_label_bit_exact_under_verilator() -> None:
    rdc, net = _pair()
    bundle = random_bundle(net, seed=3)
    # seeded scenes (procedural and photographs) captured by the EMVA 1288 sensor model
    dn = scene_dn_frames(rdc.height, rdc.width, rdc.adc_bits, 4, seed=3)
    assert len(np.unique(dn)) > 20  # real image content, not a flat field
    r = verify_top(rdc, net, bundle, dn, sim="verilator", seed=3, p_valid=0.7, p_ready=0.6)
    assert r.passed, r.summary()
    assert r.frames == 4 and not r.extra["timed_out"]


@pytest.mark.filterwarnings("ignore:.*created but never used")
def test_rdc_and_net_must_match() -> None:
    _, net = _pair()
    bundle = random_bundle(net, 0)
    with pytest.raises(ConfigError, match="levels"):
        Top(RdcSpec(width=8, height=6, levels=3, mode="hv", lanes=4), net, bundle)
    with pytest.raises(ConfigError, match="channels"):
        Top(RdcSpec(width=8, height=6, levels=5, mode="sum", lanes=4), net, bundle)
    with pytest.raises(ConfigError, match="width"):
        Top(RdcSpec(width=16, height=6, levels=5, mode="hv", lanes=4), net, bundle)


@pytest.mark.rtl
def test_memory_and_cycle_bench_agree_and_reuse_their_builds() -> None:
    """The memory-fed shell (default; its memory-only build) and the per-cycle cocotb bench (the full
    shell's build): at full speed both see the same counters and the same cycles per frame, and a second
    run reuses its build; the memory bench's seeded stalls change the timing only."""
    rdc, net = _pair()
    bundle = random_bundle(net, seed=3)
    dn = scene_dn_frames(rdc.height, rdc.width, rdc.adc_bits, 3, seed=5)
    mem = verify_top(rdc, net, bundle, dn, sim="verilator", seed=5)
    cyc = verify_top(rdc, net, bundle, dn, sim="verilator", seed=5, bench="cycle")
    assert mem.passed and cyc.passed, mem.summary() + "\n" + cyc.summary()
    assert mem.extra["stats"] == cyc.extra["stats"]
    assert mem.extra["cycles_per_frame"] == cyc.extra["cycles_per_frame"]
    slow = verify_top(rdc, net, bundle, dn, sim="verilator", seed=5, p_valid=0.5, p_ready=0.3)
    assert slow.passed, slow.summary()
    assert slow.build_s == 0.0  # the memory bench's build, cached by its Verilog
    hs, fast = slow.extra["handshake"], mem.extra["handshake"]
    assert fast["idle_i"] == 0 and fast["stall_o"] == 0  # p = 1: always offered, always taken
    assert hs["idle_i"] > 0 and hs["stall_o"] > 0  # the shell's generators held input back and stalled the labels
