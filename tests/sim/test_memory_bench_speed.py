"""What makes ``verify`` fast end to end, checked for what it must not break: the vectorised payload codec
(against an independent Python-integer packing), the packed comparison of recorded beats, the Verilog cache
keyed by the design, and the shell's junk payload on idle cycles (a design that samples its input without
valid is caught). Speed itself is measured by bench/bench_verify.py, not here."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from logcam.hw.stream import code_layout, describe_layout, pixel_layout
from logcam.nn.golden.rdc import rdc_codes
from logcam.rdcspec import RdcSpec
from logcam.sim.rtl.rdc_frames import random_frames
from logcam.sim.rtl.rdc_io import RdcGeometry, check_output, input_fields, output_fields
from logcam.sim.rtl.shell import beats_equal, from_shell_words, to_shell_bytes
from logcam.sim.rtl.streams import PayloadCodec


def _random_layout(rng: np.random.Generator) -> list[dict]:
    """Fields packed back to back from a random start, so elements straddle 64-bit word boundaries."""
    fields, off = [], int(rng.integers(0, 70))
    for i in range(int(rng.integers(1, 6))):
        width = int(rng.choice([1, 2, 3, 7, 8, 13, 31, 32, 33, 63, 64]))
        shape = [int(rng.integers(1, 4)) for _ in range(int(rng.integers(0, 3)))]
        fields.append({"name": f"f{i}", "offset": off, "width": width, "shape": shape,
                       "signed": bool(rng.integers(0, 2))})
        off += width * int(np.prod(shape, dtype=np.int64)) + int(rng.integers(0, 5))
    return fields


def _reference_pack(fields: list[dict], values: dict[str, np.ndarray], n: int) -> list[int]:
    """Payload integers built with Python integers, element by element (the definition, slowly)."""
    out = []
    for b in range(n):
        word = 0
        for f in fields:
            flat = np.asarray(values[f["name"]][b]).reshape(-1)
            for j, v in enumerate(flat.tolist()):
                word |= (int(v) & ((1 << f["width"]) - 1)) << (f["offset"] + j * f["width"])
        out.append(word)
    return out


@pytest.mark.parametrize("seed", range(6))
def test_codec_matches_python_integer_packing_across_word_boundaries(seed: int) -> None:
    rng = np.random.default_rng(seed)
    fields = _random_layout(rng)
    codec = PayloadCodec(fields)
    n = 17
    values = {}
    for f in fields:
        lo, hi = (-(1 << (f["width"] - 1)), (1 << (f["width"] - 1)) - 1) if f["signed"] else (0, (1 << f["width"]) - 1)
        # the extremes of the range on the first beats, then random values (64-bit ranges via Python ints)
        vals = [lo, hi, 0] + [int(rng.integers(0, 1 << 62)) % (hi - lo + 1) + lo for _ in range(n - 3)]
        arr = np.array(vals, dtype=np.int64 if hi < (1 << 63) else np.uint64)
        values[f["name"]] = np.broadcast_to(arr.reshape(n, *([1] * len(f["shape"]))), (n, *f["shape"])).copy()
    want = _reference_pack(fields, values, n)
    assert codec.pack(**values) == want
    buf = codec.pack_bytes(**values)
    assert [int.from_bytes(row.tobytes(), "little") for row in buf] == want
    back = codec.unpack_bytes(buf)
    for f in fields:
        assert back[f["name"]].dtype == np.int64
        np.testing.assert_array_equal(back[f["name"]].astype(values[f["name"]].dtype), values[f["name"]])
    # through the shell's word format (ceil(W/32) 32-bit words per beat) and back
    shell = from_shell_words(to_shell_bytes(buf, codec.width), codec.width)
    assert [int.from_bytes(row.tobytes(), "little") for row in shell] == want


def test_codec_takes_narrow_and_bool_arrays_and_scalars_and_checks_ranges() -> None:
    codec = PayloadCodec(describe_layout(pixel_layout(4, 10)))
    data = np.array([[1023, 0, 5, 7], [1, 2, 3, 4]], dtype=np.uint16)
    words = codec.pack(data=data, first=np.array([True, False]), last=1)
    assert words == codec.pack(data=data.astype(np.int64), first=np.array([1, 0]), last=np.array([1, 1]))
    assert words[0] == 1023 | (5 << 20) | (7 << 30) | (1 << 40) | (1 << 41)
    with pytest.raises(ValueError, match=r"'data' values must lie in 0\.\.1023"):
        codec.pack(data=np.array([[1024, 0, 0, 0]], dtype=np.uint16), first=0, last=0)
    with pytest.raises(ValueError, match=r"'first' values must lie in 0\.\.1"):
        codec.pack(data=data, first=2, last=0)
    with pytest.raises(ValueError, match="needs shape"):
        codec.pack(data=data[:, :3], first=0, last=0)


def test_beats_equal_sees_every_bit_and_the_beat_count() -> None:
    spec = RdcSpec(width=8, height=4, lanes=2, mode="hv", levels=5)
    geo = RdcGeometry.of(spec)
    codec = PayloadCodec(describe_layout(code_layout(spec.lanes, spec.code_bits, spec.channels)))
    codes = rdc_codes(random_frames(spec, 2, seed=3), spec).numpy()
    want = codec.pack_bytes(**output_fields(codes, geo))
    recorded = from_shell_words(to_shell_bytes(want, codec.width), codec.width)
    assert beats_equal(recorded, want)
    assert check_output(codec.unpack_bytes(recorded), codes, geo)[0] == 0  # the layout check_output reads
    for beat, bit in [(0, 0), (5, codec.width - 1), (len(recorded) - 1, 9)]:
        bad = recorded.copy()
        bad[beat, bit // 8] ^= np.uint8(1 << (bit % 8))
        assert not beats_equal(bad, want)
    assert not beats_equal(recorded[:-1], want)
    above = want.copy()
    above[3, -1] = 0x80  # a bit beyond the payload's width in the expected beats
    assert not beats_equal(recorded, above)


def test_verilog_cache_is_keyed_by_the_design(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from logcam.hw.rdc import Rdc
    from logcam.sim.rtl import emit

    monkeypatch.setenv("LOGCAM_CACHE", str(tmp_path))
    monkeypatch.setattr(emit, "_VERILOG", {})
    made: list[RdcSpec] = []

    def make(spec: RdcSpec) -> Rdc:
        made.append(spec)
        return Rdc(spec)

    a, b = RdcSpec(width=8, height=4, lanes=2), RdcSpec(width=8, height=4, lanes=4)
    text = emit.cached_verilog(lambda: make(a), "rdc", a)
    assert text == emit.emit_verilog(Rdc(a), "rdc") and len(made) == 1
    monkeypatch.setattr(emit, "_VERILOG", {})  # a new process: the file is read, nothing is emitted
    assert emit.cached_verilog(lambda: make(a), "rdc", a) == text and len(made) == 1
    assert list((tmp_path / "verilog").glob("rdc-*.v")) == [tmp_path / "verilog" / f"rdc-{emit.design_key('rdc', a)}.v"]
    other = emit.cached_verilog(lambda: make(b), "rdc", b)  # another configuration is another design
    assert len(made) == 2 and other != text
    keys = {emit.design_key("rdc", a), emit.design_key("rdc", b), emit.design_key("top", a),
            emit.design_key("rdc", a, np.zeros(3, np.int8)), emit.design_key("rdc", a, np.ones(3, np.int8))}
    assert len(keys) == 5  # configuration, top name and weights all count
    assert emit.design_key("rdc", RdcSpec.model_validate_json(a.model_dump_json())) == emit.design_key("rdc", a)


def _small_run(spec: RdcSpec, n_frames: int, seed: int
               ) -> tuple[RdcGeometry, np.ndarray, PayloadCodec, PayloadCodec, int]:
    """A shell run's ingredients: geometry, random frames, input and output codecs, beats."""
    geo = RdcGeometry.of(spec)
    frames = random_frames(spec, n_frames, seed=seed)
    cin = PayloadCodec(describe_layout(pixel_layout(spec.lanes, spec.adc_bits)))
    cout = PayloadCodec(describe_layout(code_layout(spec.lanes, spec.code_bits, spec.channels)))
    return geo, frames, cin, cout, n_frames * geo.beats_per_frame


@pytest.mark.rtl
def test_junk_payload_while_valid_is_low_catches_a_design_that_samples_without_valid(tmp_path: Path) -> None:
    """The RDC's ``held`` register (lane 0's left neighbour) loaded on every cycle instead of on taken beats:
    with the payload held between beats it would reload the same value and survive; the shell's junk on idle
    cycles makes it differ. The correct design passes the same run."""
    from logcam.hw.rdc import Rdc
    from logcam.sim.rtl.emit import cached_verilog
    from logcam.sim.rtl.runner import verilator_build
    from logcam.sim.rtl.shell import BUILD_ARGS, run_shell, shell_verilog
    from logcam.sim.rtl.streams import default_timeout

    spec = RdcSpec(width=8, height=4, lanes=2, mode="sum", levels=3)  # the build of test_verify_ci's runs
    verilog = cached_verilog(lambda: Rdc(spec), "rdc", spec)
    reg = re.search(r"^\s*held <= (\\\$\d+) ;", verilog, re.M)
    assert reg is not None
    block = re.search(rf"if \(i__valid\) begin\n(\s*){re.escape(reg.group(1))}\s+= i__payload\[", verilog)
    assert block is not None
    mutant = verilog[:block.start()] + "if (1'h1) begin\n" + verilog[block.start() + len("if (i__valid) begin\n"):]
    assert mutant != verilog
    geo, frames, cin, cout, n = _small_run(spec, 4, seed=5)
    counts = []
    for text in (verilog, mutant):
        shell, top = shell_verilog(text, "rdc")
        build = verilator_build(shell, top, build_args=BUILD_ARGS)
        run = run_shell(build, cin.pack_bytes(**input_fields(frames, geo)), cin.width, {"o": cout.width}, {"o": n},
                        p_valid=0.6, p_ready=0.8, seed=1, max_cycles=default_timeout(n, n, 0.6, 0.8), stats=["stats"])
        assert not run.timed_out and run.handshake["idle_i"] > 0  # valid was low between beats
        counts.append(check_output(cout.unpack_bytes(run.streams["o"]), rdc_codes(frames, spec).numpy(), geo)[0])
    assert counts[0] == 0 and counts[1] > 0, counts


@pytest.mark.rtl
def test_memory_verify_reports_codes_no_output_field_can_carry() -> None:
    """An expected code outside the output's range cannot be packed for the quick comparison: the run is
    decoded and that code reported at its place."""
    from logcam.sim.rtl.rdc_verify import verify_rdc

    spec = RdcSpec(width=8, height=4, lanes=2, mode="sum", levels=3)
    frames = random_frames(spec, 2, seed=9)
    expected = rdc_codes(frames, spec).numpy().copy()
    expected[1, 0, 2, 3] = 99
    r = verify_rdc(spec, frames, expected=expected)
    assert r.mismatches == 1
    (m,) = r.first_mismatches
    assert (m.frame, m.channel, m.row, m.col, m.expected) == (1, 0, 2, 3, 99)
    assert json.dumps(r.to_json())  # still the --json format


@pytest.mark.rtl
def test_deferred_input_waits_for_its_file_and_an_aborted_one_ends_the_run(tmp_path: Path) -> None:
    """The simulator started before its input exists (verify's overlap of start-up and packing) reads the
    input fed later exactly as one given up front; an input that never comes ends the run without a hang."""
    import time

    from logcam.hw.rdc import Rdc
    from logcam.sim.rtl.emit import cached_verilog
    from logcam.sim.rtl.runner import verilator_build
    from logcam.sim.rtl.shell import BUILD_ARGS, run_shell, shell_verilog, start_shell
    from logcam.sim.rtl.streams import default_timeout

    spec = RdcSpec(width=8, height=4, lanes=2, mode="sum", levels=3)  # the build of test_verify_ci's runs
    shell, top = shell_verilog(cached_verilog(lambda: Rdc(spec), "rdc", spec), "rdc")
    build = verilator_build(shell, top, build_args=BUILD_ARGS)
    geo = RdcGeometry.of(spec)
    frames = random_frames(spec, 3, seed=11)
    cin = PayloadCodec(describe_layout(pixel_layout(spec.lanes, spec.adc_bits)))
    cout = PayloadCodec(describe_layout(code_layout(spec.lanes, spec.code_bits, spec.channels)))
    n = frames.shape[0] * geo.beats_per_frame
    kw = {"p_valid": 0.7, "p_ready": 0.7, "seed": 3, "max_cycles": default_timeout(n, n, 0.7, 0.7),
          "stats": ["stats"]}
    packed = cin.pack_bytes(**input_fields(frames, geo))
    upfront = run_shell(build, packed, cin.width, {"o": cout.width}, {"o": n}, **kw)
    pending = start_shell(build, None, cin.width, {"o": cout.width}, {"o": n}, n_in=n, workdir=tmp_path / "late",
                          **kw)
    time.sleep(0.5)  # the simulator is up and waiting before the input appears
    pending.feed(packed)
    late = pending.result()
    assert np.array_equal(late.streams["o"], upfront.streams["o"]) and late.handshake == upfront.handshake
    assert check_output(cout.unpack_bytes(late.streams["o"]), rdc_codes(frames, spec).numpy(), geo)[0] == 0
    gone = start_shell(build, None, cin.width, {"o": cout.width}, {"o": n}, n_in=n, workdir=tmp_path / "gone", **kw)
    gone.abort()  # returns once the simulator has exited
    assert not gone._thread.is_alive()
    with pytest.raises(RuntimeError, match=r"return code: 3|simulation"):  # the simulator's exit 3: no input
        gone.result()


def test_chunked_packing_writes_the_beats_whole_array_packing_gives(monkeypatch: pytest.MonkeyPatch) -> None:
    """verify_rdc packs input and expected beats frame chunk by frame chunk straight into the shell's format:
    every chunking gives the bytes of one whole-array pack, cut to the shell's 32-bit words."""
    from logcam.sim.rtl import rdc_io

    spec = RdcSpec(width=8, height=4, lanes=2, mode="hv", levels=5)
    geo = RdcGeometry.of(spec)
    frames = random_frames(spec, 7, seed=4)
    codes = rdc_codes(frames, spec).numpy()
    cin = PayloadCodec(describe_layout(pixel_layout(spec.lanes, spec.adc_bits)))
    cout = PayloadCodec(describe_layout(code_layout(spec.lanes, spec.code_bits, spec.channels)))
    monkeypatch.setattr(rdc_io, "CHUNK_PIXELS", 2 * spec.width * spec.height)  # two frames a chunk
    chunked = rdc_io.frame_chunks(7, geo)
    assert chunked == [(0, 2), (2, 4), (4, 6), (6, 7)]
    for codec, whole, of in ((cin, input_fields(frames, geo), lambda a, b: input_fields(frames[a:b], geo)),
                             (cout, output_fields(codes, geo), lambda a, b: output_fields(codes[a:b], geo))):
        want = from_shell_words(to_shell_bytes(codec.pack_bytes(**whole), codec.width), codec.width)
        for chunks in ([(0, 7)], chunked, [(0, 1), (1, 5), (5, 7)]):
            out = np.full_like(want, 0xA5)  # every byte must be written
            assert np.array_equal(rdc_io.pack_chunked(codec, of, chunks, geo, out), want)
    with pytest.raises(ValueError, match="bytes per beat"):  # wider than the codec packs
        rdc_io.pack_chunked(cout, lambda a, b: output_fields(codes[a:b], geo), chunked, geo,
                            np.zeros((7 * geo.beats_per_frame, 8 * cout.words + 4), dtype=np.uint8))


@pytest.mark.rtl
def test_memory_verify_names_a_mismatch_in_a_late_chunk(monkeypatch: pytest.MonkeyPatch) -> None:
    """A wrong expected code in the last of several chunks (one that packs: the packed comparison finds it) is
    reported at its frame, channel, row and column; an out-of-range DN in a late chunk is the frames' one-line
    error, and the simulator waiting for that input is ended."""
    from logcam.errors import InputError
    from logcam.sim.rtl import rdc_io
    from logcam.sim.rtl.rdc_verify import verify_rdc

    spec = RdcSpec(width=8, height=4, lanes=2, mode="sum", levels=3)
    monkeypatch.setattr(rdc_io, "CHUNK_PIXELS", spec.width * spec.height)  # one frame a chunk
    frames = random_frames(spec, 5, seed=9)
    expected = rdc_codes(frames, spec).numpy().copy()
    assert verify_rdc(spec, frames, expected=expected, p_valid=1.0, p_ready=1.0).passed
    expected[4, 0, 3, 5] = 1 if expected[4, 0, 3, 5] != 1 else -1
    r = verify_rdc(spec, frames, expected=expected, seed=7)
    assert r.mismatches == 1
    (m,) = r.first_mismatches
    assert (m.frame, m.channel, m.row, m.col) == (4, 0, 3, 5) and "seed 7" in r.summary()
    bad = frames.astype(np.int64)
    bad[3, 1, 1] = spec.max_dn + 1
    with pytest.raises(InputError, match=rf"frames: DN must lie in 0\.\.{spec.max_dn}"):
        verify_rdc(spec, bad)


@pytest.mark.rtl
def test_memory_only_shell_runs_exactly_as_the_full_shell_in_mem_mode(tmp_path: Path) -> None:
    """The memory bench's own shell (no pass-through, the design's ports inside) records the same beats in the
    same cycles with the same handshake counts and counters as the full shell that also serves the cycle bench;
    it is lint clean and its only ports are the clock, mem_mode, the counters and the bench's results."""
    from logcam.hw.rdc import Rdc
    from logcam.sim.rtl.emit import cached_verilog, lint_verilog
    from logcam.sim.rtl.runner import verilator_build
    from logcam.sim.rtl.shell import BUILD_ARGS, design_ports, run_shell, shell_verilog
    from logcam.sim.rtl.streams import default_timeout

    spec = RdcSpec(width=8, height=4, lanes=2, mode="sum", levels=3)  # the build of test_verify_ci's runs
    verilog = cached_verilog(lambda: Rdc(spec), "rdc", spec)
    geo, frames, cin, cout, n = _small_run(spec, 6, seed=13)
    runs = []
    for memory_only in (False, True):
        text, top = shell_verilog(verilog, "rdc", memory_only=memory_only)
        if memory_only:
            ports = {p.name for p in design_ports(text, top)}
            assert ports == {"clk", "mem_mode", "stats", "done", "timed_out", "first_cycle", "last_cycle"}
            (tmp_path / "shell.v").write_text(text)
            rep = lint_verilog(str(tmp_path / "shell.v"), top)
            assert rep.clean, "\n".join(rep.messages[:10])
        build = verilator_build(text, top, build_args=BUILD_ARGS)
        runs.append(run_shell(build, cin.pack_bytes(**input_fields(frames, geo)), cin.width, {"o": cout.width},
                              {"o": n}, p_valid=0.6, p_ready=0.7, seed=5, max_cycles=default_timeout(n, n, 0.6, 0.7),
                              stats=["stats"], stamps=memory_only))
    full, mem = runs
    assert not mem.timed_out and mem.handshake["stall_o"] > 0 and mem.handshake["idle_i"] > 0
    assert np.array_equal(full.streams["o"], mem.streams["o"])
    assert (full.first_cycle, full.last_cycle, full.stats, full.handshake) == (
        mem.first_cycle, mem.last_cycle, mem.stats, mem.handshake)
    assert full.o_cycles.size == 0 and mem.o_cycles.size == n and mem.o_cycles[-1] == mem.last_cycle  # +stamps
    assert check_output(cout.unpack_bytes(mem.streams["o"]), rdc_codes(frames, spec).numpy(), geo)[0] == 0
