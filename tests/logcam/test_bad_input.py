"""Regressions for each kind of bad input the fuzz campaign of issue 11 found: one line, exit 2, nothing left.

Config text (not UTF-8, nested thousands deep, alias bombs), unwritable output paths, arrays of the wrong kind
(big-endian, structured, string, datetime, .npz for .npy, empty, corrupt or zero-byte bundles, missing
arrays), NaN/inf and overflowing counts, usage errors, and outputs written before a later step failed.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import pytest

from logcam.config import StrictModel, parse_sets, read_yaml, validate
from logcam.errors import ConfigError, InputError, LogcamError
from logcam.files import atomic_write, check_folder, check_writable, load_npy, load_npz, outputs
from tests.fuzz.harness import files_under, run_cli


def _npy(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, a, allow_pickle=True)
    return buf.getvalue()


def assert_refused(argv: list[str], wd: Path, match: str = "") -> str:
    """Run ``logcam argv`` in ``wd``; it must answer one error line, exit 2 and leave nothing new."""
    before = files_under(wd)
    res = run_cli(argv, wd)
    assert res.traceback is None, res.describe()
    assert res.code == 2, res.describe()
    lines = [ln for ln in res.err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("logcam: error: "), res.describe()
    assert files_under(wd) == before, res.describe()
    assert match in lines[0], res.describe()
    return lines[0]


# --- YAML text ----------------------------------------------------------------------------------------

@pytest.mark.parametrize(("data", "match"), [
    (b"\xff\xfe\x00\x80binary", "not UTF-8"),
    ("name: caf\xe9\n".encode("latin-1"), "byte 0xe9"),
    ("name: x\n".encode("utf-16"), "UTF-16"),
    (b"name: x\x00\n", "NUL"),
])
def test_read_yaml_refuses_what_is_not_utf8_text(tmp_path: Path, data: bytes, match: str) -> None:
    p = tmp_path / "c.yaml"
    p.write_bytes(data)
    with pytest.raises(InputError, match=match):
        read_yaml(p)


def test_read_yaml_takes_a_utf8_bom(tmp_path: Path) -> None:
    p = tmp_path / "c.yaml"
    p.write_bytes("\ufeffname: café\n".encode())
    assert read_yaml(p) == {"name": "café"}


@pytest.mark.parametrize("text", ["k: " + "[" * 5000 + "]" * 5000, "k: " + "{a: " * 3000 + "1" + "}" * 3000,
                                  "".join(f"{'  ' * i}k{i}:\n" for i in range(200)) + "  " * 200 + "v: 1\n"])
def test_read_yaml_bounds_nesting_instead_of_recursing(tmp_path: Path, text: str) -> None:
    p = tmp_path / "deep.yaml"
    p.write_text(text)
    with pytest.raises(ConfigError, match="nested deeper than 64 levels"):
        read_yaml(p)


def test_read_yaml_refuses_an_alias_bomb(tmp_path: Path) -> None:
    lines = ["a0: &a0 [1, 2, 3, 4, 5, 6, 7, 8, 9]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 14)]
    p = tmp_path / "bomb.yaml"
    p.write_text("\n".join(lines) + "\n")
    with pytest.raises(ConfigError, match="aliases"):
        read_yaml(p)


def test_read_yaml_folder_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="is a folder"):
        read_yaml(tmp_path)
    with pytest.raises(InputError, match="no such file"):
        read_yaml(tmp_path / "none.yaml")


def test_set_value_nested_thousands_deep_is_one_error() -> None:
    with pytest.raises(ConfigError, match="--set x"):
        parse_sets(["x=" + "[" * 3000 + "]" * 3000], "a=1")


class _Quantity(StrictModel):
    lux: float
    maybe: float | None = None


@pytest.mark.parametrize("data", [{"lux": float("nan")}, {"lux": float("inf")}, {"lux": 1.0, "maybe": -float("inf")}])
def test_nan_and_inf_are_errors_in_every_config_model(data: dict) -> None:
    with pytest.raises(ConfigError, match="finite number"):
        validate(_Quantity, data, "x")


# --- output paths -------------------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "match"), [
    ("/proc/logcam-x.npy", "cannot write in folder /proc"),
    ("afile/x.npy", "afile is a file, not a folder"),
    ("afile/deeper/x.npy", "is a file, not a folder"),
    ("no/such/x.npy", "does not exist"),
    ("adir", "is a folder"),
    (".", "names a folder"),
    ("adir/", "names a folder"),
])
def test_atomic_write_names_an_unwritable_destination(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      name: str, match: str) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "afile").write_text("x")
    (tmp_path / "adir").mkdir()
    before = files_under(tmp_path)
    with pytest.raises(InputError, match=match):
        atomic_write(name, lambda p: p.write_text("data"))
    with pytest.raises(InputError, match=match):
        check_writable(name)
    assert files_under(tmp_path) == before


def test_outputs_are_renamed_together_or_not_at_all(tmp_path: Path) -> None:
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"

    def boom(p: Path) -> None:
        p.write_text("half")
        raise RuntimeError("later step failed")

    with pytest.raises(RuntimeError), outputs(a, b) as out:
        out.write(a, lambda p: p.write_text("a"))
        out.write(b, boom)
    assert list(tmp_path.iterdir()) == []
    with outputs(a, b) as out:
        out.write(a, lambda p: p.write_text("a"))
        out.write(b, lambda p: p.write_text("b"))
        assert not a.exists()  # only at the end
    assert a.read_text() == "a" and b.read_text() == "b"
    with pytest.raises(InputError, match="does not exist"), outputs(a, tmp_path / "no" / "c.txt"):
        pytest.fail("the destinations are checked before the work")


def test_check_folder(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("x")
    with pytest.raises(InputError, match="is a file"):
        check_folder(tmp_path / "afile")
    with pytest.raises(InputError, match="is a file, not a folder"):
        check_folder(tmp_path / "afile" / "sub")
    with pytest.raises(InputError, match="cannot write"):
        check_folder("/proc/logcam-x")
    assert check_folder(tmp_path / "new" / "sub") == tmp_path / "new" / "sub"
    assert not (tmp_path / "new").exists()


# --- arrays -------------------------------------------------------------------------------------------

def test_load_npy_takes_big_endian_in_native_order(tmp_path: Path) -> None:
    a = np.arange(12, dtype=">u2").reshape(3, 4)
    np.save(tmp_path / "be.npy", a)
    got = load_npy(tmp_path / "be.npy")
    assert got.dtype.isnative and got.dtype == np.uint16 and np.array_equal(got, a)


@pytest.mark.parametrize(("arr", "match"), [
    (np.zeros((4, 4), dtype=[("a", "<u2"), ("b", "<u2")]), "structured"),
    (np.full((4, 4), "7"), "string"),
    (np.zeros((4, 4), dtype="datetime64[s]"), "datetime"),
    (np.ones((4, 4), dtype=np.complex64), "complex"),
    (np.zeros((0, 8, 8), dtype="<u2"), "empty array"),
])
def test_load_npy_refuses_arrays_of_the_wrong_kind(tmp_path: Path, arr: np.ndarray, match: str) -> None:
    np.save(tmp_path / "a.npy", arr)
    with pytest.raises(InputError, match=match):
        load_npy(tmp_path / "a.npy")


@pytest.mark.parametrize(("data", "match"), [
    (b"", "empty file"), (b"\x00garbage", "no NumPy header"), (_npy(np.arange(64))[:70], "not a readable"),
    (_npy(np.array([object()], dtype=object)), "not a readable"),
])
def test_load_npy_refuses_broken_files(tmp_path: Path, data: bytes, match: str) -> None:
    (tmp_path / "a.npy").write_bytes(data)
    with pytest.raises(InputError, match=match):
        load_npy(tmp_path / "a.npy")


def test_load_npy_refuses_an_npz(tmp_path: Path) -> None:
    np.savez(tmp_path / "a.npz", x=np.zeros(3))
    with pytest.raises(InputError, match="npz"):
        load_npy(tmp_path / "a.npz")


@pytest.mark.parametrize(("data", "match"), [(b"", "empty file"), (b"PK\x03\x04garbage", "not a readable .npz"),
                                             (b"junk", "not a zip"), (_npy(np.zeros(3)), "single .npy")])
def test_load_npz_refuses_broken_bundles(tmp_path: Path, data: bytes, match: str) -> None:
    (tmp_path / "w.npz").write_bytes(data)
    with pytest.raises(InputError, match=match):
        load_npz(tmp_path / "w.npz")


def test_bundle_missing_arrays_is_one_error(tmp_path: Path) -> None:
    from logcam.config import embedded_config
    from logcam.nn.netspec import Bundle, NetSpec

    spec = NetSpec.load(embedded_config("nets/2conv1fc.yaml"))
    arrays = load_npz(embedded_config("nets/2conv1fc.npz"))
    np.savez(tmp_path / "w.npz", **{k: v for k, v in arrays.items() if k != "layer2.mult"})
    with pytest.raises(InputError, match=r"missing array 'layer2\.mult'"):
        Bundle.load(spec, tmp_path / "w.npz")
    np.savez(tmp_path / "nan.npz", **{**arrays, "scale.input": np.float64("nan")})
    with pytest.raises(InputError, match=r"scale\.input must be a finite number"):
        Bundle.load(spec, tmp_path / "nan.npz")


def test_rdc_golden_takes_big_endian_frames() -> None:
    from logcam.nn.golden.rdc import check_frames, rdc_codes
    from logcam.rdcspec import RdcSpec

    spec = RdcSpec(width=8, height=8, lanes=1)
    le = (np.arange(64, dtype="<u2") * 13 % 1024).reshape(8, 8)
    assert np.array_equal(rdc_codes(le.astype(">u2"), spec).numpy(), rdc_codes(le, spec).numpy())
    with pytest.raises(InputError, match="must be integers"):
        check_frames(np.zeros((8, 8), dtype=[("a", "<u2")]), spec)


def test_capture_saturates_for_any_finite_illuminance() -> None:
    from logcam.sim.sensor import Sensor, load_sensor

    spec = load_sensor("tinyml_cmos", width=8, height=8)
    raw = Sensor(spec, seed=0).capture(np.full((8, 8), 1e300), rng=0)
    full = spec.black_level_dn + spec.gain_dn_per_e * spec.full_well_e  # every photodiode at its full well
    assert np.abs(raw.astype(np.float64) - full).max() <= 2  # DSNU and read noise: ~0.3 DN here


# --- commands -----------------------------------------------------------------------------------------

@pytest.fixture
def wd(tmp_path: Path) -> Path:
    np.save(tmp_path / "frames.npy", (np.arange(64, dtype="<u2") * 7).reshape(8, 8))
    np.save(tmp_path / "codes.npy", np.zeros((1, 1, 96, 96), np.int8))
    (tmp_path / "afile").write_text("x")
    return tmp_path


def test_golden_rdc_big_endian_input_gives_the_same_codes(wd: Path) -> None:
    np.save(wd / "be.npy", np.load(wd / "frames.npy").astype(">u2"))
    assert run_cli(["golden", "rdc", "frames.npy", "-o", "le.npy"], wd).code == 0
    assert run_cli(["golden", "rdc", "be.npy", "-o", "be_codes.npy"], wd).code == 0
    assert np.array_equal(np.load(wd / "le.npy"), np.load(wd / "be_codes.npy"))


@pytest.mark.parametrize(("argv", "match"), [
    (["golden", "rdc", "afile", "-o", "x.npy"], "no NumPy header"),
    (["golden", "rdc", "frames.npy", "-o", "/proc/x.npy"], "/proc/x.npy"),
    (["golden", "rdc", "frames.npy", "-o", "x.npy", "--config", "afile", "--section", "rdc"], "mapping"),
    (["golden", "accel", "codes.npy", "-o", "x.npz", "--onnx", "afile/net.onnx"], "afile"),
    (["golden", "accel", "empty.npy", "-o", "x.npz"], "empty array"),
    (["golden", "onnx", "-o", "net.onnx", "--check", "frames.npy"], "frames.npy"),
    (["golden", "onnx", "-o", "net.onnx", "--weights", "zero.npz"], "empty file"),
    (["sensor", "render", "shapes", "-o", "raw.npy", "--png", "/proc/raw.png"], "/proc/raw.png"),
    (["sensor", "render", "shapes", "-o", "raw.npy", "--frames", "5000"], "--frames"),
    (["sensor", "render", "shapes", "-o", "raw.npy", "--lux-out", "./raw.npy"], "name the same file"),
    (["golden", "accel", "codes.npy", "-o", "x.npz", "--onnx", "x.npz"], "name the same file"),
    (["sensor", "info", "--set", "temperature_c=.nan"], "finite number"),
    (["sensor", "info", "--preset", "nan_preset.yaml"], "finite number"),
    (["golden", "rdc", "frames.npy", "-o", "x.npy", "--config", "nan_rdc.yaml"], "thresholds"),
    (["sensor", "ptc", "--plot", "/proc/ptc.png"], "/proc/ptc.png"),
    (["experiment", "brightness", "--brightness", "2^99999"], "--brightness"),
    (["experiment", "channels", "--c1", "1e400"], "--c1"),
    (["experiment", "channels", "--c1", "nan"], "--c1"),
    (["experiment", "brightness", "--out", "afile/sub"], "afile"),
    (["train", "seed.yaml"], "seed"),
    (["train", "split.yaml"], "split"),
    (["train", "ok.yaml", "--export", "/proc/net"], "/proc/net"),
    (["train", "ok.yaml", "--out", "afile/ckpt"], "afile"),
    (["golden", "rdc", "frames.npy"], "Missing option"),
    (["doctor", "--bogus"], "No such option"),
])
def test_each_kind_is_one_line_and_nothing_left(wd: Path, argv: list[str], match: str) -> None:
    np.save(wd / "empty.npy", np.zeros((0, 1, 96, 96), np.int8))
    (wd / "zero.npz").write_bytes(b"")
    base = "dataset: {kind: synthetic, n: 30, size: 16}\nwidths: [2, 2]\nepochs: 1\n"
    (wd / "ok.yaml").write_text(base)
    (wd / "seed.yaml").write_text(base + f"seed: {1 << 70}\n")
    (wd / "split.yaml").write_text(base + "split: [-0.5, 1.0, 0.5]\n")
    (wd / "nan_preset.yaml").write_text("read_noise_e: .nan\n")
    (wd / "nan_rdc.yaml").write_text("thresholds: [.nan]\n")
    assert_refused(argv, wd, match)


def test_user_errors_stay_logcam_errors() -> None:
    assert issubclass(InputError, LogcamError) and issubclass(ConfigError, LogcamError)


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_training_images_with_nan_or_inf_are_refused(tmp_path: Path, value: float) -> None:
    import tifffile

    from logcam.nn.data import read_linear

    img = np.full((4, 4), 0.5, np.float32)
    img[1, 2] = value
    tifffile.imwrite(tmp_path / "a.tif", img)
    with pytest.raises(InputError, match="NaN or infinite"):
        read_linear(tmp_path / "a.tif")


def test_an_eoferror_is_a_bug_with_its_traceback_not_aborted(wd: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import logcam.commands.golden as golden

    def eof(path: object) -> None:
        raise EOFError("a reader ran off the end")

    monkeypatch.setattr(golden, "load_npy", eof)
    res = run_cli(["golden", "rdc", "frames.npy", "-o", "x.npy"], wd)
    assert res.traceback is not None and "EOFError" in res.traceback, res.describe()


def test_a_device_is_written_into_not_replaced(tmp_path: Path) -> None:
    import stat

    atomic_write("/dev/null", lambda p: p.write_text("gone"))
    assert stat.S_ISCHR(Path("/dev/null").stat().st_mode)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    import threading

    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    atomic_write(fifo, lambda p: p.write_bytes(b"through the pipe"))
    reader.join(10)
    assert got == [b"through the pipe"] and stat.S_ISFIFO(fifo.stat().st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fifo"]
