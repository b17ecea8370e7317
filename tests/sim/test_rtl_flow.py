"""The RTL flow itself: payload codec, layouts, build cache, lint, Yosys statistics, the CLI."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import numpy as np
import pytest
from amaranth.hdl import signed, unsigned
from amaranth.lib import data

from logcam.cli import main
from logcam.errors import ConfigError, LogcamError
from logcam.hw.rdc import Rdc, load_rdc_spec
from logcam.hw.stream import code_layout, describe_layout, pixel_layout
from logcam.rdcspec import RdcSpec
from logcam.sim.rtl.emit import LINT_WAIVERS, emit_verilog, lint_verilog, yosys_stat
from logcam.sim.rtl.streams import PayloadCodec
from logcam.sim.rtl.targets import DesignOptions, get_target

# --- payload layouts and codec --------------------------------------------------------------------

def test_describe_layout_offsets_follow_amaranth() -> None:
    fields = {f["name"]: f for f in describe_layout(code_layout(lanes=3, code_bits=3, channels=2))}
    assert fields["data"] == {"name": "data", "offset": 0, "width": 3, "shape": [2, 3], "signed": True}
    assert fields["first"]["offset"] == 18 and fields["last"]["offset"] == 19
    # Cross-check against Amaranth's own packing of a constant.
    layout = pixel_layout(lanes=2, bits=5)
    const = layout.const({"data": [17, 9], "first": 1, "last": 0})
    word = PayloadCodec(describe_layout(layout)).pack(data=np.array([[17, 9]]), first=1, last=0)[0]
    assert word == const.as_value().value


@pytest.mark.parametrize("lanes,bits", [(4, 10), (64, 16)])  # 42 bits (uint64 path), 1026 bits (wide path)
def test_codec_round_trip(lanes: int, bits: int) -> None:
    rng = np.random.default_rng(lanes)
    codec = PayloadCodec(describe_layout(pixel_layout(lanes, bits)))
    assert codec.width == lanes * bits + 2
    values = {"data": rng.integers(0, 1 << bits, (50, lanes)), "first": rng.integers(0, 2, 50),
              "last": rng.integers(0, 2, 50)}
    words = codec.pack(**values)
    assert max(words).bit_length() <= codec.width
    back = codec.unpack(words)
    for k, v in values.items():
        np.testing.assert_array_equal(back[k], v)


def test_codec_signed_fields_and_range_check() -> None:
    codec = PayloadCodec(describe_layout(data.StructLayout({"c": data.ArrayLayout(signed(3), 4), "u": unsigned(2)})))
    c = np.array([[-4, -1, 0, 3], [1, 2, -3, -2]])
    back = codec.unpack(codec.pack(c=c, u=np.array([3, 0])))
    np.testing.assert_array_equal(back["c"], c)
    assert codec.pack(c=np.array([[-1, 0, 0, 0]]), u=0)[0] == 0b111
    with pytest.raises(ValueError, match=r"'c' values must lie in -4\.\.3"):
        codec.pack(c=np.array([[4, 0, 0, 0]]), u=0)
    with pytest.raises(ValueError, match="unknown field"):
        codec.pack(c=c, z=np.array([1, 2]))


# --- configs and targets -------------------------------------------------------------------------

def test_load_rdc_spec_section_overrides_and_errors(tmp_path: Path) -> None:
    cfg = tmp_path / "pipe.yaml"
    cfg.write_text("rdc:\n  width: 32\n  height: 8\n  levels: 5\n  mode: hv\nsensor: {}\n")
    spec = load_rdc_spec(cfg, lanes=2)
    assert (spec.width, spec.height, spec.levels, spec.mode, spec.lanes) == (32, 8, 5, "hv", 2)
    bad = tmp_path / "bad.yaml"
    bad.write_text("width: 30\nlanes: 4\n")
    with pytest.raises(ConfigError, match="lanes"):
        load_rdc_spec(bad)
    bad.write_text("widht: 30\n")
    with pytest.raises(ConfigError, match="widht: unknown key"):
        load_rdc_spec(bad)


def test_unknown_target_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="unknown RTL target"):
        get_target("nope")
    assert get_target("rdc").toplevel == "rdc"


# --- lint and statistics (real Verilator, real Yosys) ----------------------------------------------

@pytest.mark.rtl
@pytest.mark.parametrize("kw", [dict(), dict(mode="hv", levels=7, lanes=1, width=16, adc_bits=16),
                                dict(width=4, height=2, lanes=4, mode="v", levels=5)])
def test_lint_is_clean_with_only_the_named_waivers(tmp_path: Path, kw: dict) -> None:
    path = tmp_path / "rdc.v"
    path.write_text(emit_verilog(Rdc(RdcSpec(**kw)), "rdc"))
    rep = lint_verilog(str(path), "rdc")
    assert rep.clean, rep.messages
    assert set(rep.waivers) == set(LINT_WAIVERS) and all(rep.waivers.values())


@pytest.mark.rtl
def test_lint_reports_a_warning_it_does_not_waive(tmp_path: Path) -> None:
    path = tmp_path / "bad.v"
    # A latch (always @* without full assignment) is not among the waivers: lint must fail.
    path.write_text("module bad(input a, input en, output reg q);\n  always @* if (en) q = a;\nendmodule\n")
    rep = lint_verilog(str(path), "bad")
    assert not rep.clean
    assert any("LATCH" in m for m in rep.messages)


def test_yosys_stat_counts_the_line_memory_and_multipliers() -> None:
    spec = RdcSpec(width=40, height=8, lanes=4, adc_bits=10, mode="sum")
    s = yosys_stat(Rdc(spec), "rdc")
    assert s["num_memories"] == 1
    assert s["num_memory_bits"] == (spec.width // spec.lanes) * spec.lanes * spec.adc_bits
    assert s["cells"]["$mul"] == 2 * spec.lanes  # a·a and left·up per lane (threshold ×1, ×2 become shifts)
    h = yosys_stat(Rdc(spec.model_copy(update={"mode": "h"})), "rdc")
    assert "$mul" not in h["cells"]  # h mode with ratio 2/1 needs no multiplier


# --- CLI ---------------------------------------------------------------------------------------------

def _run(args: list[str]) -> tuple[int, str, str]:
    """Run ``logcam ARGS`` as the console script does: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    code = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(args)
        except SystemExit as exc:
            code = int(exc.code or 0)
    return code, out.getvalue(), err.getvalue()


def test_cli_rtl_emit_writes_verilog(tmp_path: Path) -> None:
    out = tmp_path / "rdc.v"
    code, _, err = _run(["rtl", "emit", "rdc", "-o", str(out)])
    assert code == 0, err
    text = out.read_text()
    assert "module rdc(" in text and "i__payload" in text and "o__ready" in text
    code, _, err = _run(["rtl", "emit", "rdc", "-o", str(tmp_path / "sub" / "rdc.v")])  # no folder is made
    assert code == 2 and "folder" in err and not (tmp_path / "sub").exists()


def test_cli_verify_rdc_amaranth_json() -> None:
    code, out, err = _run(["verify", "rdc", "--sim", "amaranth", "--frames", "2", "--json", "--lanes", "2"])
    assert code == 0, err
    d = json.loads(out)
    for key in ("mismatches", "pixels", "frames", "cycles", "ideal_cycles", "wall_s"):
        assert key in d
    assert d["mismatches"] == 0 and d["frames"] == 2 and d["pixels"] == 2 * 64 * 48
    assert d["ideal_cycles"] == 2 * 64 * 48 // 2


def test_cli_verify_rdc_image(tmp_path: Path) -> None:
    img = tmp_path / "img.npy"
    np.save(img, np.random.default_rng(0).integers(0, 1024, (2, 6, 8), dtype=np.uint16))
    code, out, err = _run(["verify", "rdc", "--sim", "amaranth", "--image", str(img), "--json"])
    assert code == 0, err
    d = json.loads(out)
    assert d["frames"] == 2 and d["config"]["width"] == 8 and d["config"]["height"] == 6


@pytest.mark.parametrize("args,needle", [
    (["--config", "{cfg}"], "levels"),
    (["--image", "{img}"], "DN must lie in 0..1023"),
    (["--image", "{txt}"], "unsupported type"),
    (["--image", "{missing}"], "no such file"),
    (["--lanes", "5"], "lanes (5) must divide width (64)"),
])
def test_cli_verify_rdc_bad_input_is_one_line_exit_2(tmp_path: Path, args: list[str], needle: str) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text("rdc:\n  levels: 4\n")
    img = tmp_path / "img.npy"
    np.save(img, np.full((4, 4), 5000, dtype=np.uint16))
    txt = tmp_path / "img.txt"
    txt.write_text("x")
    paths = {"cfg": cfg, "img": img, "txt": txt, "missing": tmp_path / "none.npy"}
    args = [a.format(**paths) for a in args]
    code, out, err = _run(["verify", "rdc", "--sim", "amaranth", *args])
    assert code == 2
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("logcam: error:") and needle in lines[0], err


def test_report_exits_1_on_mismatch_and_names_the_place(capsys: pytest.CaptureFixture[str]) -> None:
    from logcam.commands.verify import report
    from logcam.sim.rtl.check import Mismatch, VerifyResult

    bad = VerifyResult(target="rdc", sim="verilator", frames=2, pixels=32, cycles=20, ideal_cycles=16,
                       mismatches=1, wall_s=0.1,
                       first_mismatches=[Mismatch(frame=1, channel=0, row=2, col=3, expected=1, got=-1)])
    with pytest.raises(SystemExit) as exc:
        report(bad, as_json=False)
    assert exc.value.code == 1
    assert "frame 1, channel 0, row 2, col 3: expected 1, got -1" in capsys.readouterr().out
    good = VerifyResult(target="rdc", sim="verilator", frames=2, pixels=32, cycles=20, ideal_cycles=16,
                        mismatches=0, wall_s=0.1)
    report(good, as_json=True)
    assert json.loads(capsys.readouterr().out)["passed"] is True


def test_accel_and_top_are_reachable_through_rtl_and_verify() -> None:
    assert get_target("accel").toplevel == "accel" and get_target("top").toplevel == "top"
    code, out, _ = _run(["verify", "--help"])
    assert code == 0 and all(name in out for name in ("rdc", "accel", "top"))
    with pytest.raises(LogcamError, match="no such file"):
        get_target("accel").component(DesignOptions(net=Path("/nonexistent/net.yaml")))
    with pytest.raises(ConfigError, match="--net: does not apply to rdc"):
        get_target("rdc").component(DesignOptions(net=Path("net.yaml")))


def test_cli_rtl_stat_per_layer_shows_the_multiplier_free_first_layer(tmp_path: Path) -> None:
    from logcam.config import embedded_config, read_yaml

    d = read_yaml(embedded_config("nets/2conv1fc.yaml"))
    d["input"].update(height=12, width=12)  # the default layers and folding, small ROMs: Yosys stays quick
    net = tmp_path / "net.yaml"
    net.write_text(json.dumps(d))  # JSON is YAML
    code, out, err = _run(["rtl", "stat", "accel", "--per-layer", "--net", str(net), "--random-weights", "0", "--json"])
    assert code == 0, err
    layers = json.loads(out)
    assert [x["type"] for x in layers] == ["conv", "conv", "fc"]
    assert layers[0]["multipliers"] == 0 and layers[1]["multipliers"] > 0
    code, _, err = _run(["rtl", "stat", "rdc", "--per-layer"])
    assert code == 2 and "--per-layer applies to accel" in err
