"""``logcam golden rdc|accel``: outputs equal the library calls, hex round-trips, bad input → one line, no file."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from logcam.commands.golden import from_hex, to_hex
from logcam.config import embedded_config
from logcam.nn.golden.accel import run
from logcam.nn.golden.rdc import rdc_codes
from logcam.nn.netspec import NetSpec, random_bundle
from logcam.rdcspec import RdcSpec


def invoke(*args: str):
    from logcam.cli import cli

    return CliRunner().invoke(cli, ["golden", *args], catch_exceptions=False, standalone_mode=False)


def fails(capsys, *args: str) -> str:
    """Run through logcam.cli.main (the real entry point): exit code 2 and one error line."""
    from logcam.cli import main

    with pytest.raises(SystemExit) as e:
        main(["golden", *args])
    assert e.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("logcam: error: ") and "\n" not in err, err
    return err


@pytest.fixture
def raw(tmp_path: Path) -> Path:
    p = tmp_path / "raw.npy"
    np.save(p, np.random.default_rng(0).integers(0, 1024, size=(2, 20, 30)).astype(np.uint16))
    return p


def test_rdc_npy_equals_library(tmp_path: Path, raw: Path) -> None:
    out = tmp_path / "codes.npy"
    r = invoke("rdc", str(raw), "-o", str(out), "--json")
    summary = json.loads(r.output)
    codes = np.load(out)
    want = rdc_codes(np.load(raw), RdcSpec(width=30, height=20, lanes=1)).numpy()
    assert codes.dtype == np.int8 and np.array_equal(codes, want)
    assert summary["shape"] == [2, 1, 20, 30] and summary["spec"]["lanes"] == 1
    assert sum(summary["histogram"].values()) == codes.size


def test_rdc_config_section_and_single_frame(tmp_path: Path, raw: Path) -> None:
    cfg = tmp_path / "pipe.yaml"
    cfg.write_text("rdc: {levels: 7, mode: hv, adc_bits: 10, thresholds: ['3/2', 3, 6]}\nother: 1\n")
    frame = tmp_path / "one.npy"
    np.save(frame, np.load(raw)[1])
    out = tmp_path / "c.npy"
    invoke("rdc", str(frame), "-o", str(out), "--config", str(cfg), "--section", "rdc")
    spec = RdcSpec(width=30, height=20, lanes=1, levels=7, mode="hv", thresholds=["3/2", 3, 6])
    want = rdc_codes(np.load(raw)[1], spec).numpy()[0]
    got = np.load(out)
    assert got.shape == (2, 20, 30) and np.array_equal(got, want)
    assert got.min() == -3 and got.max() == 3


def test_rdc_hex_round_trips(tmp_path: Path, raw: Path) -> None:
    cfg = tmp_path / "rdc.yaml"
    cfg.write_text("levels: 5\n")
    out = tmp_path / "codes.hex"
    invoke("rdc", str(raw), "-o", str(out), "--format", "hex", "--config", str(cfg))
    text = out.read_text()
    lines = text.splitlines()
    assert lines[0].startswith("//") and "2x1x20x30" in lines[0]
    assert len(lines) == 1 + 2 * 20 * 30
    assert set(lines[1:]) <= {"0", "1", "2", "6", "7"}  # 3-bit two's complement: −2 → 6, −1 → 7
    want = rdc_codes(np.load(raw), RdcSpec(width=30, height=20, lanes=1, levels=5)).numpy()
    assert np.array_equal(from_hex(text), want)
    # row-major: line 1 + index of (frame 1, y 3, x 7)
    k = ((1 * 1 + 0) * 20 + 3) * 30 + 7
    assert int(lines[1 + k], 16) == int(want[1, 0, 3, 7]) & 7


def test_hex_wide_codes() -> None:
    codes = np.array([[-128, -1, 0, 1, 127]], dtype=np.int8)
    text = to_hex(codes, 8)
    assert text.splitlines()[1:] == ["80", "ff", "00", "01", "7f"]
    assert np.array_equal(from_hex(text), codes)


@pytest.mark.parametrize(("arr", "needle"), [
    (np.zeros((2, 3, 4, 5), np.uint16), "expected H×W or N×H×W"),
    (np.zeros((4, 5), np.float32), "must be integers"),
    (np.full((4, 5), 1024, np.uint16), "DN must lie in 0..1023"),
    (np.zeros((1, 5), np.uint16), "at least 2×2"),
])
def test_rdc_bad_input(tmp_path: Path, capsys, arr: np.ndarray, needle: str) -> None:
    p = tmp_path / "in.npy"
    np.save(p, arr)
    out = tmp_path / "out.npy"
    assert needle in fails(capsys, "rdc", str(p), "-o", str(out))
    assert sorted(x.name for x in tmp_path.iterdir()) == ["in.npy"]


def test_rdc_config_disagrees_with_input(tmp_path: Path, raw: Path, capsys) -> None:
    cfg = tmp_path / "rdc.yaml"
    cfg.write_text("width: 64\n")
    err = fails(capsys, "rdc", str(raw), "-o", str(tmp_path / "o.npy"), "--config", str(cfg))
    assert "width is 64" in err and "20×30" in err
    cfg.write_text("levels: 4\n")
    assert "levels" in fails(capsys, "rdc", str(raw), "-o", str(tmp_path / "o.npy"), "--config", str(cfg))
    assert not (tmp_path / "o.npy").exists()


def _codes(tmp_path: Path, n: int = 3) -> tuple[Path, np.ndarray]:
    x = np.random.default_rng(4).integers(-1, 2, size=(n, 1, 96, 96)).astype(np.int8)
    p = tmp_path / "codes.npy"
    np.save(p, x)
    return p, x


def test_accel_outputs_equal_library(tmp_path: Path) -> None:
    inp, x = _codes(tmp_path)
    out = tmp_path / "layers.npz"
    onnx_path = tmp_path / "net.onnx"
    r = invoke("accel", str(inp), "-o", str(out), "--random-weights", "3", "--onnx", str(onnx_path), "--json")
    summary = json.loads(r.output)
    spec = NetSpec.load(embedded_config("nets/2conv1fc.yaml"))
    g = run(spec, random_bundle(spec, seed=3), x)
    z = np.load(out)
    for i in range(3):
        assert np.array_equal(z[f"layer{i}.acc"], g.acc[i].numpy())
        assert np.array_equal(z[f"layer{i}.act"], g.acts[i].numpy())
    assert np.array_equal(z["logits"], g.logits.numpy()) and np.array_equal(z["labels"], g.labels.numpy())
    assert summary["frames"] == 3 and summary["labels"] == g.labels.tolist()
    assert summary["onnx_rounding"] == "half_even"
    import onnx

    onnx.checker.check_model(onnx.load(onnx_path))


def test_accel_weights_file_and_rounding_override(tmp_path: Path) -> None:
    inp, x = _codes(tmp_path, n=2)
    spec = NetSpec.load(embedded_config("nets/2conv1fc.yaml"))
    b = random_bundle(spec, seed=8)
    w = tmp_path / "w.npz"
    b.save(w)
    out = tmp_path / "o.npz"
    invoke("accel", str(inp), "-o", str(out), "--weights", str(w), "--rounding", "half_even")
    g = run(spec, b, x, rounding="half_even")
    assert np.array_equal(np.load(out)["layer1.act"], g.acts[1].numpy())


def test_accel_uint8_net_single_frame(tmp_path: Path) -> None:
    net = tmp_path / "u8.yaml"
    net.write_text("name: u8\ninput: {channels: 3, height: 12, width: 10, format: uint8, levels: null}\n"
                   "layers:\n  - {type: conv, out_channels: 2, kernel: 3, pad: 1, pool: 2}\n"
                   "  - {type: fc, out_features: 4}\n")
    x = np.random.default_rng(1).integers(0, 256, size=(3, 12, 10)).astype(np.uint8)
    inp = tmp_path / "img.npy"
    np.save(inp, x)
    out = tmp_path / "o.npz"
    invoke("accel", str(inp), "-o", str(out), "--net", str(net), "--random-weights", "0")
    spec = NetSpec.load(net)
    g = run(spec, random_bundle(spec, seed=0), torch.from_numpy(x))
    z = np.load(out)
    assert z["logits"].shape == (4,) and np.array_equal(z["logits"], g.logits[0].numpy())
    assert z["labels"].shape == () and int(z["labels"]) == int(g.labels[0])


def test_accel_sibling_bundle_is_used(tmp_path: Path) -> None:
    net = tmp_path / "n.yaml"
    net.write_text(embedded_config("nets/2conv1fc.yaml").read_text())
    spec = NetSpec.load(net)
    random_bundle(spec, seed=2).save(tmp_path / "n.npz")
    inp, x = _codes(tmp_path, n=1)
    invoke("accel", str(inp), "-o", str(tmp_path / "o.npz"), "--net", str(net))
    assert np.array_equal(np.load(tmp_path / "o.npz")["logits"], run(spec, random_bundle(spec, seed=2), x).logits)


def test_accel_errors(tmp_path: Path, capsys) -> None:
    inp, _ = _codes(tmp_path, n=1)
    out = tmp_path / "o.npz"
    lonely = tmp_path / "lonely.yaml"  # a NetSpec with no bundle beside it
    lonely.write_text(embedded_config("nets/2conv1fc.yaml").read_text())
    assert "--random-weights SEED" in fails(capsys, "accel", str(inp), "-o", str(out), "--net", str(lonely))
    bad = tmp_path / "bad.npy"
    np.save(bad, np.full((1, 1, 96, 96), 2, np.int8))
    assert "values must lie in -1..1" in fails(capsys, "accel", str(bad), "-o", str(out), "--random-weights", "1")
    np.save(bad, np.zeros((1, 2, 96, 96), np.int8))
    assert "N×1×96×96" in fails(capsys, "accel", str(bad), "-o", str(out), "--random-weights", "1")
    w = tmp_path / "w.npz"
    np.savez(w, **{"layer0.weight": np.zeros((4, 1, 5, 5), np.int8)})
    assert "missing array 'layer0.bias'" in fails(capsys, "accel", str(inp), "-o", str(out), "--weights", str(w))
    assert "no such file" in fails(capsys, "accel", str(tmp_path / "nope.npy"), "-o", str(out),
                                   "--random-weights", "1")
    assert not out.exists()


def test_onnx_export_and_check(tmp_path: Path) -> None:
    inp, _ = _codes(tmp_path, n=2)
    out = tmp_path / "net.onnx"
    r = invoke("onnx", "-o", str(out), "--random-weights", "4", "--check", str(inp), "--json")
    s = json.loads(r.output)
    assert s["check"]["mismatches"] == 0 and s["check"]["first_mismatch"] is None and s["check"]["frames"] == 2
    import onnx

    ops = {n.op_type for n in onnx.load(out).graph.node}
    assert {"QLinearConv", "Clip", "MaxPool", "ArgMax"} <= ops


def test_onnx_check_reports_mismatch_and_exits_1(tmp_path: Path) -> None:
    """Outside the float32 condition (acc = 2^24 + 1, m/2^s = 2^−25) ORT rounds to 0, golden to 1."""
    from logcam.nn.netspec import Bundle, LayerParams

    net = tmp_path / "n.yaml"
    net.write_text("input: {channels: 1, height: 4, width: 4}\nlayers:\n"
                   "  - {type: conv, out_channels: 2, kernel: 1, relu: false}\n  - {type: fc, out_features: 2}\n"
                   "quant: {rounding: half_even}\n")
    spec = NetSpec.load(net)
    b = random_bundle(spec, seed=0)
    lp0 = LayerParams(np.zeros((2, 1, 1, 1), np.int8), np.full(2, (1 << 24) + 1, np.int32), np.ones(2, np.int32),
                      np.full(2, 25, np.int32))
    Bundle((lp0, b.layers[1]), {}).save(tmp_path / "n.npz")
    x = tmp_path / "x.npy"
    np.save(x, np.zeros((1, 1, 4, 4), np.int8))
    r = CliRunner().invoke(__import__("logcam.cli", fromlist=["cli"]).cli,
                           ["golden", "onnx", "-o", str(tmp_path / "n.onnx"), "--net", str(net), "--check", str(x)])
    assert r.exit_code == 1
    assert "frame 0, layer 0, channel 0, y=0, x=0: expected 1, onnxruntime 0" in r.output
    assert "outside float32-exact range" in r.output
