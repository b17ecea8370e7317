"""``verify_rdc``: DN frames through the RDC RTL (Verilator or Amaranth's simulator) vs the golden model.

The expected codes come from :func:`logcam.nn.golden.rdc.rdc_codes` on the same frames; every
code of every frame is compared, as are the first/last flags of every output beat.
"""

from __future__ import annotations

import contextlib
import functools
import json
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from logcam.errors import InputError
from logcam.hw.rdc import LATENCY, Rdc
from logcam.hw.stream import code_layout, describe_layout, pixel_layout, rdc_stats_layout
from logcam.nn.golden.rdc import check_frames, rdc_codes
from logcam.rdcspec import RdcSpec
from logcam.sim.rtl.check import MAX_REPORTED, VerifyResult, check_bench, check_sim, mismatch_from_json
from logcam.sim.rtl.emit import cached_verilog
from logcam.sim.rtl.rdc_frames import frames_for
from logcam.sim.rtl.rdc_io import (
    RdcGeometry,
    check_output,
    frame_chunks,
    input_fields,
    output_fields,
    pack_chunked,
)
from logcam.sim.rtl.streams import PayloadCodec

TOPLEVEL = "rdc"


@functools.lru_cache(maxsize=8)
def _verilog(spec_key: str) -> str:
    """Verilog of the RDC for a spec (emitted once per design key and cached on disk: emission runs Yosys)."""
    spec = RdcSpec.model_validate_json(spec_key)
    return cached_verilog(lambda: Rdc(spec), TOPLEVEL, spec)


@functools.lru_cache(maxsize=8)
def _shell(spec_key: str, memory_only: bool = False) -> tuple[str, str]:
    """The RDC's Verilog inside its bench shell (:mod:`logcam.sim.rtl.shell`) and the shell's name: the full
    shell the per-cycle bench runs on, or (``memory_only``) the memory bench's faster one."""
    from logcam.sim.rtl.shell import shell_verilog

    return shell_verilog(_verilog(spec_key), TOPLEVEL, memory_only=memory_only)


def _golden(p: np.ndarray, spec: RdcSpec, expected: np.ndarray | None) -> np.ndarray:
    """The expected codes N×C×H×W (int8): ``expected`` if given, else the golden model's."""
    return np.asarray(rdc_codes(p, spec).numpy() if expected is None else expected, dtype=np.int8)


@contextlib.contextmanager
def _one_torch_thread() -> Iterator[None]:
    """torch on one thread while the simulator runs on the other core (a second OpenMP thread would take
    the simulator's core, and spin on it between operations)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(n)


def _frame_source(frames: np.ndarray | torch.Tensor, spec: RdcSpec) -> np.ndarray:
    """N×H×W frames as given (no copy), their type, dimensions and size checked as :func:`check_frames` does,
    their shape against the spec and their DN range (one read pass, no copy) — all before any RTL tool runs."""
    a = frames.numpy() if isinstance(frames, torch.Tensor) else np.asarray(frames)
    a = a[None] if a.ndim == 2 else a
    check_frames(a[:1] if a.ndim == 3 else a, spec)  # one clear error for a wrong type or shape
    if a.shape[1:] != (spec.height, spec.width):
        raise InputError(f"frames: shape {a.shape[1:]} does not match the RDC's height×width "
                         f"({spec.height}, {spec.width})")
    return _in_range(a, spec)


def _in_range(block: np.ndarray, spec: RdcSpec) -> np.ndarray:
    """``block`` of frames (any integer type) if every DN lies in 0..max_dn; else :func:`check_frames`'s
    error (the range is checked in numpy, which needs no converted copy)."""
    if block.size and (block.min() < 0 or block.max() > spec.max_dn):
        check_frames(block, spec)
        raise InputError(f"frames: DN must lie in 0..{spec.max_dn} for adc_bits={spec.adc_bits}")
    return block


def _golden_packed(raw: np.ndarray, spec: RdcSpec, given: np.ndarray | None, codec: PayloadCodec,
                   geo: RdcGeometry, chunks: list[tuple[int, int]], nb: int) -> tuple[np.ndarray, np.ndarray | None]:
    """The expected codes N×C×H×W (int8: ``given``, else the golden model's, chunk by chunk on one torch
    thread) and their output beats packed as the shell records them ((beats, ``nb``) uint8), or None where an
    expected code fits no output field (the run is then judged by decoding)."""
    n = raw.shape[0]
    expected = (np.empty((n, spec.channels, spec.height, spec.width), dtype=np.int8) if given is None
                else np.asarray(given, dtype=np.int8))
    want: np.ndarray | None = np.empty((n * geo.beats_per_frame, nb), dtype=np.uint8)
    with _one_torch_thread():
        for a, b in chunks:
            if given is None:
                expected[a:b] = rdc_codes(raw[a:b], spec).numpy()
            if want is not None:
                try:
                    pack_chunked(codec, lambda i, j: output_fields(expected[i:j], geo), [(a, b)], geo, want)
                except ValueError:
                    want = None
    return expected, want


def spec_json(spec: RdcSpec) -> dict[str, object]:
    """The RdcSpec as plain JSON (thresholds as "n/d" strings)."""
    d = spec.model_dump()
    d["thresholds"] = [str(t) for t in spec.thresholds or ()]
    return d


def verify_rdc(spec: RdcSpec, frames: np.ndarray | None = None, *, n_frames: int = 4, seed: int = 0,
               sim: str = "verilator", p_valid: float = 0.8, p_ready: float = 0.8, source: str = "mixed",
               expected: np.ndarray | None = None, workdir: Path | None = None,
               limit: int = MAX_REPORTED, bench: str = "memory", waves: Path | None = None,
               coverage: bool = False) -> VerifyResult:
    """Stream ``frames`` (N×H×W DN; default: ``n_frames`` from ``source``) through the RDC RTL.

    ``p_valid``/``p_ready`` are the per-cycle probabilities of the randomised handshake (1.0 for
    full throughput). ``expected`` overrides the golden codes (N×C×H×W), for testing the checker.
    Returns a :class:`VerifyResult`; ``cycles`` counts from the first offered beat to the last
    output beat taken, ``ideal_cycles`` = frames·H·W/lanes. ``bench`` (Verilator): "memory" (the shell
    streams from files and randomises valid/ready in the simulator) or "cycle" (cocotb drivers per clock
    edge); ``waves``: an FST trace of the run (a separate, traced build); ``coverage``: functional
    coverage (:mod:`logcam.sim.rtl.coverage`) in ``extra["coverage"]``.
    """
    check_sim(sim, p_valid, p_ready)
    check_bench(bench, sim, waves)
    if frames is None:
        frames = frames_for(spec, n_frames, seed, source)
    memory = sim == "verilator" and bench == "memory"
    if memory:  # checked, packed and compared chunk by chunk, while the simulator runs
        raw = _frame_source(frames, spec)
        n = raw.shape[0]
    else:
        p = check_frames(frames, spec, dtype=torch.int32).numpy()  # DN ≤ 2^16 − 1: half the bytes of int64
        if p.shape[1:] != (spec.height, spec.width):
            raise InputError(f"frames: shape {p.shape[1:]} does not match the RDC's height×width "
                             f"({spec.height}, {spec.width})")
        n = p.shape[0]
        expected = _golden(p, spec, expected)
    geo = RdcGeometry.of(spec)
    in_codec = PayloadCodec(describe_layout(pixel_layout(spec.lanes, spec.adc_bits)))
    out_codec = PayloadCodec(describe_layout(code_layout(spec.lanes, spec.code_bits, spec.channels)))
    stats_codec = PayloadCodec(describe_layout(rdc_stats_layout()))
    build_s = 0.0
    t0 = time.perf_counter()
    if sim == "verilator":
        from logcam.sim.rtl.runner import run_cocotb, trace_kind, verilator_build
        from logcam.sim.rtl.shell import BUILD_ARGS

        text, top = _shell(json.dumps(spec_json(spec), sort_keys=True), memory)
        build = verilator_build(text, top, build_args=BUILD_ARGS, waves=trace_kind(waves))
        build_s = build.build_s
        t0 = time.perf_counter()
    if memory:
        from logcam.sim.rtl.shell import beats_equal, start_shell
        from logcam.sim.rtl.streams import default_timeout

        n_beats = n * geo.beats_per_frame
        chunks = frame_chunks(n, geo)
        # the simulator starts first and waits for its input, so its start-up overlaps the packing
        pending = start_shell(build, None, in_codec.width, {"o": out_codec.width}, {"o": n_beats},
                              p_valid=p_valid, p_ready=p_ready, seed=seed,
                              max_cycles=default_timeout(n_beats, n_beats, p_valid, p_ready), stats=["stats"],
                              workdir=workdir, waves=waves, n_in=n_beats, stamps=False)
        try:  # every chunk's values checked (an InputError names the field), packed into the input file
            pending.feed_with(lambda out: pack_chunked(
                in_codec, lambda a, b: input_fields(_in_range(raw[a:b], spec), geo), chunks, geo, out))
        except BaseException:
            pending.abort()
            raise
        # on the other core, while the simulator runs; want is None where a code fits no output field
        nb = 4 * ((out_codec.width + 31) // 32)  # the bytes of a beat as the shell records it
        expected, want = _golden_packed(raw, spec, expected, out_codec, geo, chunks, nb)
        run = pending.result()
        # every bit of every beat at once; only a differing run is decoded to name its mismatches
        count, found = 0, []
        if want is None or not beats_equal(run.streams["o"], want):
            count, found, _ = check_output(out_codec.unpack_bytes(run.streams["o"]), expected, geo, limit=limit)
        cycles, timed_out = run.cycles, run.timed_out
        stats = {k: int(v[0]) for k, v in stats_codec.unpack([run.stats["stats"]]).items()}
        extra = {"sim_loop_s": round(run.loop_s, 4), "sim_loop_cpu_s": round(run.loop_cpu_s, 4), "bench": "memory",
                 "handshake": run.handshake}
    elif sim == "verilator":
        res = run_cocotb(build, "logcam.sim.rtl.rdc_bench",
                         arrays={"frames": p.astype(np.uint16), "expected": expected},
                         params={"geometry": geo.to_json(), "in_fields": in_codec.describe(),
                                 "out_fields": out_codec.describe(), "stats_fields": stats_codec.describe(),
                                 "p_valid": p_valid, "p_ready": p_ready, "seed": seed, "limit": limit},
                         workdir=workdir, seed=seed, waves=waves)
        count, found = res["mismatches"], [mismatch_from_json(m) for m in res["first_mismatches"]]
        cycles, stats, timed_out = res["cycles"], res["stats"], res["timed_out"]
        extra = {"sim_loop_s": round(res["sim_loop_s"], 3), "bench": "cycle"}
    else:
        from logcam.sim.rtl.amaranth_sim import stream_through_amaranth

        beats = in_codec.pack(**input_fields(p, geo))
        run = stream_through_amaranth(Rdc(spec), beats, len(beats), p_valid=p_valid, p_ready=p_ready, seed=seed,
                                      read=["stats"])
        count, found, _ = check_output(out_codec.unpack(run["out"]), expected, geo, limit=limit)
        cycles, timed_out = run["cycles"], run["timed_out"]
        stats = {k: int(v[0]) for k, v in stats_codec.unpack([run["ports"]["stats"]]).items()}
        extra = {}
    wall_s = time.perf_counter() - t0
    if coverage:
        from logcam.sim.rtl.coverage import rdc_coverage

        if memory:
            p = check_frames(raw, spec, dtype=torch.int32).numpy()
        extra["coverage"] = rdc_coverage(spec, p, expected, extra.get("handshake")).to_json()
    extra.update({"stats": stats,
                  "timed_out": timed_out, "latency_cycles": LATENCY,
                  "p_valid": p_valid, "p_ready": p_ready, "seed": seed})
    return VerifyResult(target="rdc", sim=sim, frames=n, pixels=n * spec.height * spec.width, cycles=cycles,
                        ideal_cycles=n * geo.beats_per_frame, mismatches=count, wall_s=wall_s, build_s=build_s,
                        first_mismatches=found, config=spec_json(spec), extra=extra)
