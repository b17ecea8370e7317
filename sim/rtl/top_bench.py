"""cocotb bench of the sensor-to-label top: DN pixels in, codes + every layer + labels out.

Same streams and files as :mod:`logcam.sim.rtl.accel_bench` (``tap_codes`` is the RDC's code stream
after serialisation); the comparison with the RDC and accelerator golden models is done by
:func:`logcam.sim.rtl.accel_verify.verify_top`.
"""

from __future__ import annotations

from typing import Any

import cocotb

from logcam.sim.rtl.accel_bench import run_stream_bench


@cocotb.test()
async def top_stream(dut: Any) -> None:
    """DN frames in, codes, taps and labels out."""
    await run_stream_bench(dut)
