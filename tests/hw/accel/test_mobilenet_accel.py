"""Residual networks through the whole accelerator: every activation of every layer bit-exact (amaranth.sim and
Verilator), the skip FIFOs sized from the NetSpec, throughput against the slowest layer's bound, and the RTL
activity counters of the new operators equal, count by count, to the energy model's analytic counts.

configs/nets/mobilenet6.yaml (six inverted-residual blocks, two stride-2 stages, four residual adds) runs
under Verilator in the ``slow`` tests; the default suite runs a small residual network (stem, one block with
its add, a stride-2 depthwise, global average pool, fc).
"""

from __future__ import annotations

import numpy as np
import pytest

from logcam.config import embedded_config
from logcam.energy.activity import cnn_activity, layer_memory_per_frame
from logcam.energy.rtl_activity import cnn_activity_measured
from logcam.nn.netspec import NetSpec, random_bundle
from logcam.sim.rtl.accel_verify import verify_accel

SMALL = {"name": "residual_small", "input": {"channels": 1, "height": 6, "width": 6, "format": "codes", "levels": 3},
         "layers": [{"type": "conv", "out_channels": 2, "kernel": 3, "pad": 1, "pe": 2, "simd": 9},
                    {"type": "pointwise", "out_channels": 4, "clamp_max": 100, "pe": 2, "simd": 2},
                    {"type": "depthwise", "kernel": 3, "pad": 1, "pe": 2, "simd": 3},
                    {"type": "pointwise", "out_channels": 2, "relu": False, "pe": 2, "simd": 4},
                    {"type": "add", "skip": 0, "pe": 1},
                    {"type": "depthwise", "kernel": 3, "pad": 1, "stride": 2, "pe": 1, "simd": 9},
                    {"type": "avgpool_global"},
                    {"type": "fc", "out_features": 3, "pe": 3, "simd": 2}],
         "quant": {"rounding": "half_even", "zero_point": 1}}


def mobilenet6() -> NetSpec:
    return NetSpec.load(embedded_config("nets/mobilenet6.yaml"))


def frames(spec: NetSpec, n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(spec.input.lo, spec.input.hi + 1, size=(n, *spec.input.shape))


def assert_counters_match_energy(spec: NetSpec, stats: dict[str, dict[str, int]], n: int) -> None:
    """Each layer's RTL counters against the analytic per-frame counts the energy model is built from."""
    analytic = cnn_activity(spec)
    adds = 0
    for s, layer, cycles in zip(spec.layer_shapes(), spec.layers, spec.ideal_cycles()):
        c = stats[f"stats{s.index}"]
        where = f"layer {s.index} ({s.kind})"
        if s.kind == "add":
            assert c["mac_cycles"] * layer.pe == s.ops * n, where  # one addition per output value
            adds += c["mac_cycles"] * layer.pe
        elif s.kind == "avgpool_global":
            assert c["mac_cycles"] * s.in_shape[0] == s.ops * n, where  # one addition per input value
            adds += c["mac_cycles"] * s.in_shape[0]
        else:
            assert c["mac_cycles"] * layer.pe * layer.simd == s.macs * n, where
            rom_words = s.fan_in // layer.simd * (s.conv_shape[0] // layer.pe)
            want_rom = cycles if s.kind == "fc" or rom_words > 1 else 0
            assert c["rom_reads"] == want_rom * n, where
        assert c["lb_access"] == sum(layer_memory_per_frame(spec, s.index)) * n, where
        assert c["out_beats"] == s.out_shape[1] * s.out_shape[2] * n, where
    # the analytic model's additions of the new operators (the code layer's shifted adds are other widths)
    q = spec.quant
    add_bits = {q.act_bits + q.mult_bits + 1} | {s.in_bits + int(np.ceil(np.log2(max(s.fan_in, 2))))
                                                  for s in spec.layer_shapes() if s.kind == "avgpool_global"}
    assert sum(v for b, v in analytic.adds.items() if b in add_bits) * n == adds
    # and the energy model's measured-activity path (logcam verify --activity-out) gives every analytic count
    measured = cnn_activity_measured(spec, stats).to_json()
    for key, want in analytic.to_json().items():
        if key == "cycles":  # measured: MAC-array cycles; analytic: the ideal pipeline cycles
            continue
        got = measured[key]
        if isinstance(want, dict):
            assert got == {k: v * n for k, v in want.items()}, key
        else:
            assert got == want * n, key


@pytest.mark.rtl
def test_small_residual_net_amaranth_counts() -> None:
    spec = NetSpec.model_validate(SMALL)
    bundle = random_bundle(spec, seed=1)
    r = verify_accel(spec, bundle, frames(spec, 3, 0), sim="amaranth", seed=3, p_valid=0.7, p_ready=0.6)
    assert r.passed, r.summary()
    assert_counters_match_energy(spec, r.extra["stats"], 3)


@pytest.mark.rtl
@pytest.mark.parametrize(("seed", "fmt", "rounding"), [(0, "codes", "half_up"), (1, "int8", "half_even"),
                                                       (2, "uint8", "half_up"), (3, "int8", "half_up")])
def test_random_residual_nets_amaranth(seed: int, fmt: str, rounding: str) -> None:
    """Random residual NetSpecs (random_residual_netspec): every layer bit-exact with random valid/ready, and
    the counters equal the energy model's counts."""
    from logcam.sim.rtl.accel_verify import random_residual_netspec

    spec = random_residual_netspec(np.random.default_rng(seed), fmt, rounding)
    assert any(layer.type == "depthwise" for layer in spec.layers)
    bundle = random_bundle(spec, seed=seed)
    r = verify_accel(spec, bundle, frames(spec, 2, seed), sim="amaranth", seed=seed, p_valid=0.7, p_ready=0.7)
    assert r.passed, r.summary()
    assert_counters_match_energy(spec, r.extra["stats"], 2)


@pytest.mark.rtl
def test_small_residual_net_verilator() -> None:
    """The one default-suite Verilator run of the new operators: random valid/ready, then full speed."""
    spec = NetSpec.model_validate(SMALL)
    bundle = random_bundle(spec, seed=2)
    r = verify_accel(spec, bundle, frames(spec, 3, 1), sim="verilator", seed=4, p_valid=0.6, p_ready=0.7)
    assert r.passed, r.summary()
    assert_counters_match_energy(spec, r.extra["stats"], 3)


def test_mobilenet6_netspec() -> None:
    """Six inverted-residual blocks, two stride-2 stages, residual adds; the skip FIFOs and line buffers sized
    from the NetSpec; the generator's expected cycles within 1.10× of the bound."""
    import gc
    import warnings

    from logcam.hw.accel.net import Accelerator

    spec = mobilenet6()
    kinds = [layer.type for layer in spec.layers]
    assert kinds.count("depthwise") == 6 and kinds.count("add") == 4
    assert sum(1 for layer in spec.layers if getattr(layer, "stride", 1) == 2) == 2
    with warnings.catch_warnings():  # built for its sizes only: never elaborated (amaranth would warn)
        warnings.simplefilter("ignore")
        dut = Accelerator(spec, random_bundle(spec, 0))
        bits, expected = dut.buffer_bits(), dut.expected_cycles()
        del dut
        gc.collect()
    for i, layer in enumerate(spec.layers):
        assert (bits[i]["skip_fifo_bits"] > 0) == (layer.type == "add")
        assert (bits[i]["line_buffer_bits"] > 0) == (getattr(layer, "kernel", 1) > 1)
    assert max(expected) <= 1.10 * spec.bound_cycles()


@pytest.mark.slow
@pytest.mark.rtl
def test_mobilenet6_verilator_bit_exact_and_throughput() -> None:
    spec = mobilenet6()
    bundle = random_bundle(spec, seed=0)
    r = verify_accel(spec, bundle, frames(spec, 4, 0), sim="verilator", seed=3)
    assert r.passed, r.summary()
    assert r.extra["cycles_per_frame"] <= 1.10 * spec.bound_cycles(), r.extra
    assert_counters_match_energy(spec, r.extra["stats"], 4)
    r = verify_accel(spec, bundle, frames(spec, 3, 1), sim="verilator", seed=5, p_valid=0.6, p_ready=0.7)
    assert r.passed, r.summary()


@pytest.mark.slow
@pytest.mark.rtl
def test_mobilenet6_through_the_top() -> None:
    """DN frames → RDC (3 levels, mode sum) → mobilenet6: codes, every layer, logits and labels bit-exact."""
    from logcam.rdcspec import RdcSpec
    from logcam.sim.frames import scene_dn_frames
    from logcam.sim.rtl.accel_verify import verify_top

    spec = mobilenet6()
    rdc = RdcSpec(width=16, height=16, adc_bits=10, levels=3, mode="sum", lanes=4)
    dn = scene_dn_frames(rdc.height, rdc.width, rdc.adc_bits, 3, seed=1)
    r = verify_top(rdc, spec, random_bundle(spec, seed=0), dn, sim="verilator", seed=2, p_valid=0.8, p_ready=0.7)
    assert r.passed, r.summary()
    assert r.frames == 3 and not r.extra["timed_out"]


@pytest.mark.rtl
def test_layer_stats_of_a_residual_net() -> None:
    """Yosys per layer (what `logcam rtl stat accel --per-layer` prints): the stem on codes and the adds (constant
    shift-add scalings) have no multiplier, depthwise/pointwise layers multiply, buffer bits sit where they
    belong."""
    from logcam.sim.rtl.emit import layer_stats

    spec = NetSpec.model_validate(SMALL)
    stats = layer_stats(spec, random_bundle(spec, 0))
    assert stats[0]["multiplier_free"] and stats[0]["multipliers"] == 0
    for s, layer in zip(stats, spec.layers):
        if layer.type == "add":
            assert s["multipliers"] == 0 and s["skip_fifo_bits"] > 0, s
        else:
            assert s["skip_fifo_bits"] == 0, s
        if layer.type in ("pointwise", "depthwise"):
            assert s["multipliers"] >= layer.pe * layer.simd, s
        assert (s["line_buffer_bits"] > 0) == (getattr(layer, "kernel", 1) > 1), s


@pytest.mark.slow
@pytest.mark.rtl
def test_int8_feature_maps_residual_net_verilator() -> None:
    """Three int8 feature maps in (what the optical front-end delivers), k 7 depthwise with stride 2 and an add,
    under Verilator with random valid/ready: every layer bit-exact, counters equal to the energy counts."""
    from logcam.sim.rtl.accel_verify import random_residual_netspec

    spec = random_residual_netspec(np.random.default_rng(1), "int8", "half_even")
    assert spec.input.channels == 3 and {"add", "depthwise"} <= {layer.type for layer in spec.layers}
    r = verify_accel(spec, random_bundle(spec, seed=1), frames(spec, 3, 1), sim="verilator", seed=1, p_valid=0.7,
                     p_ready=0.6)
    assert r.passed, r.summary()
    assert_counters_match_energy(spec, r.extra["stats"], 3)
