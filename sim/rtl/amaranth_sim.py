"""Stream a component in Amaranth's Python simulator: the quick path beside Verilator.

Same beats, same randomised valid/ready discipline as the cocotb drivers
(:mod:`logcam.sim.rtl.streams`), written as amaranth.sim async testbenches.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from amaranth.sim import Simulator


def stream_through_amaranth(dut: Any, beats: Sequence[int], n_out: int, *, in_name: str = "i",
                            out_name: str = "o", p_valid: float = 1.0, p_ready: float = 1.0, seed: int = 0,
                            timeout_cycles: int | None = None, read: Sequence[str] = ()) -> dict[str, Any]:
    """Send payload ints ``beats`` into stream ``in_name``, collect ``n_out`` beats from ``out_name``.

    Returns ``{"out": [payload ints], "cycles": cycles from the first offered beat to the last
    output beat taken, "timed_out": bool, "ports": {name: int value at the end} for ``read``}``.
    """
    if not (0.0 < p_valid <= 1.0 and 0.0 < p_ready <= 1.0):
        raise ValueError(f"p_valid and p_ready must lie in (0, 1], got {p_valid}, {p_ready}")
    i_port, o_port = getattr(dut, in_name), getattr(dut, out_name)
    limit = timeout_cycles if timeout_cycles is not None else int(20 * max(len(beats), n_out)
                                                                   / (p_valid * p_ready)) + 1000
    # Each testbench counts the clock edges it has awaited; both start at time 0, so the counts agree.
    state: dict[str, Any] = {"out": [], "first": None, "last": None, "timed_out": False}

    async def source(ctx: Any) -> None:
        rng = random.Random(seed)
        payload = i_port.payload.as_value()
        edges = 0
        for beat in beats:
            while p_valid < 1.0 and rng.random() >= p_valid:
                await ctx.tick()
                edges += 1
            if state["first"] is None:
                state["first"] = edges
            ctx.set(payload, beat)
            ctx.set(i_port.valid, 1)
            while True:
                _, _, ready = await ctx.tick().sample(i_port.ready)
                edges += 1
                if ready:
                    break
            ctx.set(i_port.valid, 0)

    async def sink(ctx: Any) -> None:
        rng = random.Random(seed + 1)
        payload = o_port.payload.as_value()
        edges = 0
        while len(state["out"]) < n_out and edges < limit:
            ready = p_ready >= 1.0 or rng.random() < p_ready
            ctx.set(o_port.ready, int(ready))
            _, _, valid, value = await ctx.tick().sample(o_port.valid, payload)
            edges += 1
            if ready and valid:
                state["out"].append(int(value))
                state["last"] = edges
        ctx.set(o_port.ready, 0)
        await ctx.tick().repeat(2)  # let the counters take the last beat
        state["timed_out"] = len(state["out"]) < n_out
        state["ports"] = {name: int(ctx.get(getattr(dut, name).as_value())) for name in read}

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(source, background=True)
    sim.add_testbench(sink)
    sim.run()
    start = state["first"] or 0
    end = state["last"] if state["last"] is not None else limit
    return {"out": state["out"], "cycles": max(0, end - start), "timed_out": state["timed_out"],
            "ports": state.get("ports", {})}
