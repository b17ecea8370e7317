"""cocotb bench of the accelerator (and, through :func:`run_stream_bench`, of the sensor-to-label top).

Inputs (``$LOGCAM_BENCH_DIR``): ``params.json`` — payload field descriptions of every port (``fields``),
``frames``, ``p_valid``, ``p_ready``, ``seed``, ``max_cycles`` — and ``in_<field>.npy`` input beat fields.
The bench resets the DUT, drives ``i`` with a seeded random-valid :class:`StreamSource`, takes labels on
``o`` with a random-ready :class:`StreamSink`, watches every ``tap*`` with a :class:`StreamMonitor`, stops
after ``frames`` labels (or ``max_cycles``), and writes each stream's decoded fields as
``out_<stream>.<field>.npy``, the label cycle stamps, and ``result.json`` (counters, cycles, timeout).
Comparison with the golden model happens outside (:mod:`logcam.sim.rtl.accel_verify`).
"""

from __future__ import annotations

from typing import Any

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, Event, First, RisingEdge, Timer

from logcam.sim.rtl.runner import bench_dir, bench_inputs, bench_write_result
from logcam.sim.rtl.streams import PayloadCodec, StreamMonitor, StreamSink, StreamSource

#: Clock period of the bench (ns); only relative cycle counts are reported.
PERIOD_NS = 10


class TimedSink(StreamSink):
    """A :class:`StreamSink` that also stamps the cycle of every beat it takes."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.cycles: list[int] = []
        super().__init__(*args, **kwargs)

    def _seen(self) -> None:
        self.cycles.append(self.cycle)
        super()._seen()


async def run_stream_bench(dut: Any) -> None:
    """Drive ``i``, sink ``o``, monitor ``tap*``; write the decoded streams and result.json."""
    params, arrays = bench_inputs()
    fields = params["fields"]
    frames, seed = int(params["frames"]), int(params["seed"])
    codecs = {name: PayloadCodec(f) for name, f in fields.items()}
    inputs = {k[3:]: v for k, v in arrays.items() if k.startswith("in_")}
    words = codecs["i"].pack(**inputs)

    cocotb.start_soon(Clock(dut.clk, PERIOD_NS, unit="ns").start())
    dut.mem_mode.value = 0  # the shell (logcam.sim.rtl.shell) passes every port through
    dut.rst.value = 1
    dut.i__valid.value = 0
    dut.o__ready.value = 0
    await ClockCycles(dut.clk, 3)
    dut.rst.value = 0
    await RisingEdge(dut.clk)

    expect = params.get("expect", {})
    taps = {name: StreamMonitor(dut, name, dut.clk, expect=expect.get(name)) for name in fields
            if name.startswith("tap")}
    sink = TimedSink(dut, "o", dut.clk, p_ready=float(params["p_ready"]), seed=seed + 1, expect=frames)
    source = StreamSource(dut, "i", dut.clk, p_valid=float(params["p_valid"]), seed=seed)
    source.send_nowait(words)
    finished = Event()

    async def all_done() -> None:
        # every label, then every tap's last beat (a layer's last row may follow the last label when
        # later layers do not need it)
        await sink.wait()
        for mon in taps.values():
            await mon.wait()
        finished.set()

    cocotb.start_soon(all_done())
    timeout = Timer(int(params["max_cycles"]) * PERIOD_NS, unit="ns")  # one timer, not a per-cycle trigger
    fired = await First(finished.wait(), timeout)
    timed_out = fired is timeout or len(sink.beats) < frames
    await ClockCycles(dut.clk, 2)

    out_dir = bench_dir()
    streams = {**taps, "o": sink}
    for name, mon in streams.items():
        if not mon.beats:
            continue
        for fname, arr in codecs[name].unpack(mon.beats).items():
            np.save(out_dir / f"out_{name}.{fname}.npy", arr)
    np.save(out_dir / "out_label_cycles.npy", np.asarray(sink.cycles, dtype=np.int64))
    stats: dict[str, dict[str, int]] = {}
    for name in fields:
        if "stats" in name:  # stats{i} of the layers, rdc_stats of the top (as port_fields lists them)
            vals = codecs[name].unpack([int(getattr(dut, name).value)])
            stats[name] = {k: int(v[0]) for k, v in vals.items()}
    bench_write_result({"timed_out": timed_out, "cycles": sink.cycle, "labels": len(sink.beats),
                        "sent": source.sent, "stats": stats})


@cocotb.test()
async def accel_stream(dut: Any) -> None:
    """Frames in, every tap and the labels out (see the module docstring)."""
    await run_stream_bench(dut)
