"""cocotb bench of the RDC: frames in through randomised valid, codes out through randomised ready.

Inputs come from ``$LOGCAM_BENCH_DIR`` (see :func:`logcam.sim.rtl.runner.run_cocotb`):
``frames.npy`` (N×H×W DN), ``expected.npy`` (N×C×H×W golden codes from
:func:`logcam.nn.golden.rdc.rdc_codes`) and ``params.json`` (geometry, payload fields, p_valid,
p_ready, seed). Every code of every frame is compared; ``result.json`` gets the mismatch count,
the first mismatches (frame, channel, row, col, expected, got), cycles and the DUT's counters.
"""

from __future__ import annotations

import time
from dataclasses import asdict

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles

from logcam.sim.rtl.benchio import bench_inputs, bench_write_result
from logcam.sim.rtl.rdc_io import RdcGeometry, check_output, input_fields
from logcam.sim.rtl.streams import PayloadCodec, reset, stream_through

PERIOD_NS = 10


@cocotb.test()
async def rdc_frames(dut) -> None:
    """Stream every frame through the RDC and compare every code with the golden model."""
    params, arrays = bench_inputs()
    geo = RdcGeometry(**params["geometry"])
    frames, expected = arrays["frames"], arrays["expected"]
    in_codec, out_codec = PayloadCodec(params["in_fields"]), PayloadCodec(params["out_fields"])
    beats = in_codec.pack(**input_fields(frames, geo))

    Clock(dut.clk, PERIOD_NS, unit="ns").start()
    dut.mem_mode.value = 0  # the shell (logcam.sim.rtl.shell) passes every port through
    dut.i__valid.value = 0
    dut.o__ready.value = 0
    await reset(dut, dut.clk)
    t0 = time.perf_counter()
    run = await stream_through(dut, beats, len(beats), clock=dut.clk, p_valid=params["p_valid"],
                               p_ready=params["p_ready"], seed=params["seed"], period_ns=PERIOD_NS)
    sim_loop_s = time.perf_counter() - t0
    out = out_codec.unpack(run["out"])
    count, found, _ = check_output(out, expected, geo, limit=params.get("limit", 20))
    await ClockCycles(dut.clk, 2)  # let the counters take the last beat
    stats = PayloadCodec(params["stats_fields"]).unpack([int(dut.stats.value)])
    bench_write_result({
        "mismatches": count,
        "first_mismatches": [asdict(m) for m in found],
        "cycles": run["cycles"],
        "timed_out": run["timed_out"],
        "beats_in": len(beats),
        "beats_out": len(run["out"]),
        "sim_loop_s": sim_loop_s,
        "stats": {name: int(v[0]) for name, v in stats.items()},
    })
