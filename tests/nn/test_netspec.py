"""NetSpec and Bundle: derived shapes/cycles from the spec's arithmetic, and one clear line for every bad input."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from logcam.config import embedded_config, validate
from logcam.errors import ConfigError, InputError
from logcam.nn.netspec import Bundle, NetSpec, check_input_values, random_bundle

BASE = {"input": {"channels": 1, "height": 8, "width": 8},
        "layers": [{"type": "conv", "out_channels": 4, "kernel": 3}, {"type": "fc", "out_features": 3}]}


def spec_with(mod) -> dict:
    d = copy.deepcopy(BASE)
    mod(d)
    return d


def test_default_net_shapes_and_cycles() -> None:
    spec = NetSpec.load(embedded_config("nets/2conv1fc.yaml"))
    s = spec.layer_shapes()
    assert [x.out_shape for x in s] == [(4, 48, 48), (8, 24, 24), (3, 1, 1)]
    assert [x.conv_shape for x in s] == [(4, 96, 96), (8, 48, 48), (3, 1, 1)]
    assert [x.fan_in for x in s] == [25, 100, 8 * 24 * 24]
    assert [x.in_bits for x in s] == [2, 8, 8]
    # MACs = outputs × fan-in; cycles = MACs / (pe·simd)
    macs = [4 * 96 * 96 * 25, 8 * 48 * 48 * 100, 3 * 4608]
    assert [x.macs for x in s] == macs and spec.macs() == sum(macs)
    assert spec.ideal_cycles() == [macs[0] // 100, macs[1] // 200, macs[2] // 24] == [9216, 9216, 576]
    assert spec.bound_cycles() == 9216
    assert spec.clamp_of(0) == (0, 127) and spec.clamp_of(2) == (-128, 127)
    assert spec.num_classes == 3 and spec.input.bits == 2 and (spec.input.lo, spec.input.hi) == (-1, 1)


def test_stride_pad_pool_floor() -> None:
    spec = validate(NetSpec, {"input": {"channels": 2, "height": 11, "width": 9, "format": "uint8", "levels": None},
                              "layers": [{"type": "conv", "out_channels": 3, "kernel": 3, "stride": 2, "pad": 1,
                                          "pool": 2}, {"type": "fc", "out_features": 2}]})
    s = spec.layer_shapes()
    # (11 + 2 − 3)//2 + 1 = 6, (9 + 2 − 3)//2 + 1 = 5 → pool floor → 3×2
    assert s[0].conv_shape == (3, 6, 5) and s[0].out_shape == (3, 3, 2) and s[1].fan_in == 18
    assert spec.input.bits == 8 and (spec.input.lo, spec.input.hi) == (0, 255)


@pytest.mark.parametrize(("mod", "needle"), [
    (lambda d: d["layers"][0].update(kernel=11), "layers[0].kernel: 11 is larger than its padded input 8×8"),
    (lambda d: d["layers"][0].update(pad=3), "layers[0].pad"),
    (lambda d: d["layers"][0].update(out_channels=0), "out_channels"),
    (lambda d: d["layers"][0].update(out_channels=1000), "out_channels"),
    (lambda d: d["layers"][1].update(out_features=0), "out_features"),
    (lambda d: d["input"].update(channels=100), "input.channels"),
    (lambda d: d["input"].update(height=0), "input.height"),
    (lambda d: d.update(quant={"act_bits": 9}), "quant.act_bits"),
    (lambda d: d.update(quant={"act_bits": 1}), "quant.act_bits"),
    (lambda d: d.update(quant={"mult_bits": 40}), "quant.mult_bits"),
    (lambda d: d.update(quant={"weight_bits": 4}), "quant.weight_bits"),
    (lambda d: d.update(quant={"zero_point": 200}), "quant.zero_point"),
    (lambda d: d.update(quant={"rounding": "half_down"}), "quant.rounding"),
    (lambda d: d["input"].update(levels=4), "input.levels"),
    (lambda d: d["input"].update(levels=None), "input.levels"),
    (lambda d: d["input"].update(format="float"), "input.format"),
    (lambda d: d["layers"][0].update(kernal=3), "kernal: unknown key"),
    (lambda d: d["input"].update(colour=True), "colour: unknown key"),
    (lambda d: d.update(extra=1), "extra: unknown key"),
    (lambda d: d["layers"][0].update(type="pool"), "layers[0]"),
    (lambda d: d["layers"][0].update(pool=3), "pool"),
    (lambda d: d["layers"][0].update(stride=5), "stride"),
    (lambda d: d["layers"][0].update(pe=3), "layers[0].pe: 3 must divide out_channels (4)"),
    (lambda d: d["layers"][0].update(simd=4), "layers[0].simd: 4 must divide the fan-in in_channels·k² (9)"),
    (lambda d: d["layers"][1].update(simd=5), "layers[1].simd: 5 must divide in_features (144)"),
    (lambda d: d["layers"].reverse(), "layers[1]: a conv layer cannot follow an fc layer"),
    (lambda d: d["layers"].pop(), "the last layer must be fc"),
    (lambda d: d.update(layers=[]), "layers"),
    (lambda d: d.update(name="a b"), "name"),
    (lambda d: d["input"].update(format="uint8", levels=None, channels=64, height=64, width=64)
     or d["layers"][0].update(out_channels=4, kernel=11, pad=5, pool=2)
     or d["layers"].insert(1, {"type": "conv", "out_channels": 4, "kernel": 3}), None),
    (lambda d: d["input"].update(height=32, width=32)
     or d["layers"][0].update(out_channels=64, kernel=1),
     "layers[1]: fan-in 65536 could overflow the int32 accumulator"),
    (lambda d: d["input"].update(height=32, width=32)
     or d["layers"][0].update(out_channels=63, kernel=1), None),
])
def test_bad_netspec_one_line(mod, needle: str | None) -> None:
    d = spec_with(mod)
    if needle is None:  # the valid neighbour of a bad case
        validate(NetSpec, d)
        return
    with pytest.raises(ConfigError) as e:
        validate(NetSpec, d, where="net.yaml")
    msg = str(e.value)
    assert needle in msg and "\n" not in msg and msg.startswith("net.yaml")


def test_load_yaml_errors(tmp_path) -> None:
    p = tmp_path / "n.yaml"
    p.write_text("input: {height: 8, width: 8}\nlayers: [{type: fc, out_features: 2, relu: maybe}]\n")
    with pytest.raises(ConfigError, match=r"n\.yaml\.layers\[0\]\.relu"):
        NetSpec.load(p)
    with pytest.raises(InputError, match="no such file"):
        NetSpec.load(tmp_path / "missing.yaml")


@pytest.fixture(scope="module")
def spec_arrays() -> tuple[NetSpec, dict[str, np.ndarray]]:
    spec = validate(NetSpec, BASE)
    b = random_bundle(spec, seed=0)
    arrs: dict[str, np.ndarray] = {}
    for i, lp in enumerate(b.layers):
        arrs.update({f"layer{i}.weight": lp.weight, f"layer{i}.bias": lp.bias, f"layer{i}.mult": lp.mult,
                     f"layer{i}.shift": lp.shift})
    return spec, arrs


@pytest.mark.parametrize(("mod", "needle"), [
    (lambda a: a.update({"layer0.weight": a["layer0.weight"].astype(np.int16) * 2}),
     "layer0.weight values must lie in -128..127"),
    (lambda a: a.update({"layer0.weight": a["layer0.weight"].astype(np.float32)}), "layer0.weight must be integer"),
    (lambda a: a.update({"layer0.mult": np.full(4, 1 << 15)}), "layer0.mult values must lie in 0..32767"),
    (lambda a: a.update({"layer0.mult": np.full(4, -1)}), "layer0.mult values must lie in 0..32767"),
    (lambda a: a.update({"layer0.shift": np.full(4, 48)}), "layer0.shift values must lie in 0..47"),
    (lambda a: a.update({"layer1.shift": np.full(3, -1)}), "layer1.shift values must lie in 0..47"),
    (lambda a: a.update({"layer1.bias": np.full(3, 1 << 31, np.int64)}), "layer1.bias values must lie in"),
    (lambda a: a.update({"layer0.weight": np.zeros((4, 1, 5, 5), np.int8)}),
     "layer0.weight has shape (4, 1, 5, 5), NetSpec needs (4, 1, 3, 3)"),
    (lambda a: a.update({"layer1.weight": np.zeros((3, 100), np.int8)}), "layer1.weight has shape (3, 100)"),
    (lambda a: a.update({"layer0.mult": np.ones(5, np.int32)}), "layer0.mult has shape (5,)"),
    (lambda a: a.pop("layer1.bias"), "missing array 'layer1.bias'"),
    (lambda a: a.update({"layer2.weight": np.zeros(3)}), "arrays for layers the NetSpec does not have"),
    (lambda a: a.update({"layerx.weight": np.zeros(3)}), "unknown arrays ['layerx.weight']"),
    (lambda a: a.update({"layer0.gain": np.zeros(3)}), "unknown arrays ['layer0.gain']"),
    (lambda a: a.update({"scale.input": np.zeros(3)}), "scale.input must be one number"),
])
def test_bad_bundle_one_line(spec_arrays, mod, needle: str) -> None:
    spec, arrs = spec_arrays
    a = dict(arrs)
    mod(a)
    with pytest.raises(InputError) as e:
        Bundle.from_arrays(spec, a, where="w.npz")
    msg = str(e.value)
    assert needle in msg and "\n" not in msg and msg.startswith("w.npz: ")


def test_bundle_save_load_round_trip(tmp_path, spec_arrays) -> None:
    spec, arrs = spec_arrays
    b = Bundle.from_arrays(spec, {**arrs, "scale.input": np.float64(0.5)})
    p = tmp_path / "w.npz"
    b.save(p)
    c = Bundle.load(spec, p)
    assert c.scales == {"input": 0.5}
    for x, y in zip(b.layers, c.layers):
        for f in ("weight", "bias", "mult", "shift"):
            assert np.array_equal(getattr(x, f), getattr(y, f))
    assert [q.name for q in tmp_path.iterdir()] == ["w.npz"]
    other = validate(NetSpec, spec_with(lambda d: d["layers"][0].update(out_channels=2)))
    with pytest.raises(InputError, match=r"layer0\.weight has shape"):
        Bundle.load(other, p)
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(InputError, match=r"not a readable \.npz"):
        Bundle.load(spec, tmp_path / "junk.npz")


def test_random_bundle_fits_its_spec(spec_arrays) -> None:
    spec, _ = spec_arrays
    weights = []
    for seed in range(3):
        b = random_bundle(spec, seed)
        arrays = {f"layer{i}.{f}": getattr(lp, f) for i, lp in enumerate(b.layers)
                  for f in ("weight", "bias", "mult", "shift")}
        checked = Bundle.from_arrays(spec, arrays)  # raises on a shape or range the NetSpec does not allow
        assert len(checked.layers) == len(spec.layers)
        assert all((lp.mult > 0).all() for lp in checked.layers)
        weights.append(b.layers[0].weight)
    assert not np.array_equal(weights[0], weights[1])  # the seed matters


def test_check_input_values() -> None:
    spec = validate(NetSpec, BASE)
    check_input_values(np.zeros((2, 1, 8, 8), np.int8), spec)
    with pytest.raises(InputError, match=r"-1\.\.1"):
        check_input_values(np.full((1, 1, 8, 8), -2, np.int8), spec)
    with pytest.raises(InputError, match="N×1×8×8"):
        check_input_values(np.zeros((1, 8, 8, 1), np.int8), spec)
    import torch

    check_input_values(torch.ones(3, 1, 8, 8, dtype=torch.int8), spec)
    with pytest.raises(InputError, match="must be integer"):
        check_input_values(torch.zeros(1, 1, 8, 8), spec)
