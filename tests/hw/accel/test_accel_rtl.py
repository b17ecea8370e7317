"""The accelerator under Verilator (cocotb): random small networks, both rounding modes, codes and uint8,
random valid/ready, several frames back to back; every layer, the logits and the labels bit-exact.

Two Verilator builds in the default suite (small nets); the default 96×96 network is ``slow``.
"""

from __future__ import annotations

import numpy as np
import pytest

from logcam.configs import __file__ as _configs_init
from logcam.nn.netspec import NetSpec, random_bundle
from logcam.sim.rtl.accel_verify import random_netspec, verify_accel
from logcam.sim.rtl.emit import layer_stats

pytestmark = pytest.mark.rtl


def photo_inputs(spec: NetSpec, n: int, seed: int) -> np.ndarray:
    """N frames from photographs (scikit-image's camera and astronaut): random crops of the NetSpec's size,
    as RDC codes (rdc_codes on 10-bit DN, mode sum or hv) or as 8-bit pixels."""
    from skimage import data

    from logcam.nn.golden.rdc import rdc_codes
    from logcam.rdcspec import RdcSpec

    rng = np.random.default_rng(seed)
    photos = [data.camera().astype(np.int64), data.astronaut()[..., 1].astype(np.int64)]
    c, h, w = spec.input.shape
    out = np.empty((n, c, h, w), dtype=np.int64)
    for f in range(n):
        img = photos[f % 2]
        y, x = rng.integers(0, img.shape[0] - 2 * h), rng.integers(0, img.shape[1] - 2 * w)
        crop = img[y:y + 2 * h:2, x:x + 2 * w:2]
        if spec.input.format == "codes":
            rdc = RdcSpec(width=w, height=h, levels=spec.input.levels, mode="hv" if c == 2 else "sum", lanes=1)
            codes = rdc_codes(crop * 4, rdc).numpy()[0]  # 8-bit → 10-bit DN
            out[f] = codes if c <= 2 else np.repeat(codes[:1], c, axis=0)
        else:
            out[f] = np.repeat(crop[None], c, axis=0)
    return out


@pytest.mark.parametrize(("fmt", "rounding", "seed"), [("codes", "half_even", 21), ("uint8", "half_up", 22)])
def test_random_net_bit_exact_under_verilator(fmt: str, rounding: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    spec = random_netspec(rng, fmt, rounding)
    bundle = random_bundle(spec, seed=seed)
    x = rng.integers(spec.input.lo, spec.input.hi + 1, size=(4, *spec.input.shape))
    r = verify_accel(spec, bundle, x, sim="verilator", seed=seed, p_valid=0.6, p_ready=0.5)
    assert r.passed, f"{spec.model_dump_json()}\n{r.summary()}"
    # the same build at full speed on real inputs (RDC codes / 8-bit crops of photographs): frames back to
    # back, cycles per frame near the expected ones
    fast = verify_accel(spec, bundle, photo_inputs(spec, 4, seed), sim="verilator", seed=seed)
    assert fast.passed, fast.summary()
    assert fast.build_s == 0.0  # one build per configuration
    assert fast.extra["cycles_per_frame"] <= 1.10 * max(fast.extra["expected_cycles_per_layer"]) + 8
    st = fast.extra["stats"]
    shapes = spec.layer_shapes()
    # every MAC cycle does pe·simd multiply-accumulates; by the 4th label at least 3 frames' MACs are done
    # (not all 4: a conv row or column that the pool drops may still be in the works)
    for i, (s, layer) in enumerate(zip(shapes, spec.layers)):
        assert st[f"stats{i}"]["mac_cycles"] >= 3 * s.macs // (layer.pe * layer.simd)
        assert st[f"stats{i}"]["mac_cycles"] <= 5 * s.macs // (layer.pe * layer.simd)


def test_first_layer_on_codes_has_no_multipliers() -> None:
    # the default 2conv1fc network's layers and folding on a 16×16 input (small ROMs: Yosys stays quick)
    d = NetSpec.load(f"{_configs_init.rsplit('/', 1)[0]}/nets/2conv1fc.yaml").model_dump(mode="json")
    d["input"].update(height=16, width=16)
    spec = NetSpec.model_validate(d)
    stats = layer_stats(spec, random_bundle(spec, 0))
    assert stats[0]["multiplier_free"] and stats[0]["multipliers"] == 0
    assert stats[0]["by_kind"].get("adder", 0) > 0  # the MACs are adds and subtracts
    assert stats[1]["multipliers"] >= spec.layers[1].pe * spec.layers[1].simd  # int8 × int8 layers do multiply
    assert all(s["num_memory_bits"] > 0 for s in stats)


@pytest.mark.slow
def test_default_network_96x96_throughput_and_bit_exact() -> None:
    spec = NetSpec.load(f"{_configs_init.rsplit('/', 1)[0]}/nets/2conv1fc.yaml")
    bundle = random_bundle(spec, seed=1)
    x = np.random.default_rng(1).integers(-1, 2, size=(3, *spec.input.shape))
    r = verify_accel(spec, bundle, x, sim="verilator", seed=1)
    assert r.passed, r.summary()
    assert r.extra["cycles_per_frame"] <= 1.10 * spec.bound_cycles()


def test_verilog_is_lint_clean(tmp_path) -> None:
    """`verilator --lint-only -Wall` (named waivers only) on a folded net with stride, padding, pooling and 2 fc."""
    from logcam.hw.accel.net import Accelerator
    from logcam.sim.rtl.emit import emit_verilog, lint_verilog

    spec = NetSpec.model_validate({
        "input": {"channels": 2, "height": 9, "width": 7, "format": "codes", "levels": 5},
        "layers": [{"type": "conv", "out_channels": 3, "kernel": 3, "stride": 2, "relu": False, "pe": 3, "simd": 6},
                   {"type": "conv", "out_channels": 4, "kernel": 2, "pad": 1, "pool": 2, "pe": 2, "simd": 4},
                   {"type": "fc", "out_features": 6, "pe": 2, "simd": 2}, {"type": "fc", "out_features": 3}],
        "quant": {"rounding": "half_even"}})
    path = tmp_path / "logcam_accel.v"
    path.write_text(emit_verilog(Accelerator(spec, random_bundle(spec, 0)), "logcam_accel"))
    rep = lint_verilog(str(path), "logcam_accel")
    assert rep.clean, "\n".join(rep.messages[:10])
