"""cocotb bench of the memory-fed shell (:mod:`logcam.sim.rtl.shell`): set ``mem_mode``, await ``done``.

The shell reads the input beats from a file, randomises valid/ready with its seeded generators, writes
every beat of ``o`` and the taps to files and resets the design; logcam's Verilator main
(sim/rtl/verilator_main.cpp) clocks it in a C++ loop while ``mem_mode`` is set. Python wakes once, at
``done`` (two cycles after the last beat, so the counters have taken it).
``params.json``: ``stats`` (the counter ports to read).
``result.json``: first/last cycle, timed_out, the counters as integers, the loop's wall and CPU time (s).
"""

from __future__ import annotations

import time
from typing import Any

import cocotb
from cocotb.triggers import RisingEdge

from logcam.sim.rtl.benchio import bench_inputs, bench_write_result


@cocotb.test()
async def memory_stream(dut: Any) -> None:
    """Run the shell in mem_mode until ``done``; report cycles, timeout and counters."""
    params, _ = bench_inputs()
    for name in ("clk", "rst", "i__valid", "o__ready"):
        if hasattr(dut, name):  # a memory-only shell keeps its design's ports private
            getattr(dut, name).value = 0
    t0, c0 = time.perf_counter(), time.process_time()
    dut.mem_mode.value = 1  # the shell resets the design; the main's C++ loop clocks it until done
    await RisingEdge(dut.done)
    loop_s, loop_cpu_s = time.perf_counter() - t0, time.process_time() - c0
    bench_write_result({
        "first_cycle": int(dut.first_cycle.value), "last_cycle": int(dut.last_cycle.value),
        "timed_out": bool(int(dut.timed_out.value)), "sim_loop_s": loop_s, "sim_loop_cpu_s": loop_cpu_s,
        "stats": {name: str(int(getattr(dut, name).value)) for name in params.get("stats", [])},
    })
