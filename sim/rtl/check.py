"""Compare RTL output with golden values; shared result format of every ``logcam verify`` target.

:class:`Mismatch` names where (frame, channel, row, column; ``layer`` for the accelerator) and
what (expected, got). :class:`VerifyResult` is what ``logcam verify <target> --json`` prints and
what ``logcam run`` reads. numpy only, so the cocotb process can import it cheaply.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from logcam.errors import ConfigError

#: Mismatches listed in full in a result; the count is always exact.
MAX_REPORTED = 20

#: Simulators every ``verify`` target runs on: Verilator through cocotb, or Amaranth's Python simulator.
SIMS = ("verilator", "amaranth")


def check_sim(sim: str, p_valid: float, p_ready: float) -> None:
    """One ConfigError line unless ``sim`` is known and both handshake probabilities lie in (0, 1]."""
    if sim not in SIMS:
        raise ConfigError(f"--sim must be one of {', '.join(SIMS)}, got {sim!r}")
    for name, p in (("--p-valid", p_valid), ("--p-ready", p_ready)):
        if not 0.0 < p <= 1.0:
            raise ConfigError(f"{name} must lie in (0, 1], got {p}")


#: Verilator benches: "memory" (the generated shell streams from files and randomises valid/ready in the
#: simulator; cocotb awaits only ``done``) or "cycle" (cocotb drivers per clock edge, for protocol tests).
BENCHES = ("memory", "cycle")


def check_bench(bench: str, sim: str, waves: object = None) -> None:
    """One ConfigError line unless ``bench`` is known; ``waves`` (an FST trace) needs Verilator."""
    if bench not in BENCHES:
        raise ConfigError(f"--bench must be one of {', '.join(BENCHES)}, got {bench!r}")
    if waves is not None and sim != "verilator":
        raise ConfigError("--waves: the FST trace comes from Verilator; it does not apply to --sim amaranth")


@dataclass(frozen=True)
class Mismatch:
    """One differing value: position and the two values (``what`` says which quantity)."""

    frame: int
    row: int
    col: int
    expected: int
    got: int
    channel: int = 0
    layer: str | None = None
    what: str = "code"

    def __str__(self) -> str:
        at = f"frame {self.frame}" + (f", layer {self.layer}" if self.layer is not None else "")
        at += f", channel {self.channel}, row {self.row}, col {self.col}"
        return f"{self.what} mismatch at {at}: expected {self.expected}, got {self.got}"


@dataclass
class VerifyResult:
    """Outcome of one RTL-vs-golden run (counts in pixels, beats and clock cycles; wall time in s)."""

    target: str
    sim: str
    frames: int
    pixels: int
    cycles: int
    ideal_cycles: int
    mismatches: int
    wall_s: float
    build_s: float = 0.0
    first_mismatches: list[Mismatch] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return self.mismatches == 0

    @property
    def pixels_per_s(self) -> float:
        """Pixels verified per second of simulation wall time (build excluded)."""
        return self.pixels / self.wall_s if self.wall_s > 0 else 0.0

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["passed"] = self.passed
        d["pixels_per_s"] = round(self.pixels_per_s, 1)
        d["cycles_per_ideal"] = round(self.cycles / self.ideal_cycles, 4) if self.ideal_cycles else None
        d["wall_s"] = round(self.wall_s, 3)
        d["build_s"] = round(self.build_s, 3)
        return d

    def summary(self) -> str:
        status = "PASS" if self.passed else "FAIL"
        ratio = f" ({self.cycles / self.ideal_cycles:.3f}× ideal {self.ideal_cycles})" if self.ideal_cycles else ""
        lines = [f"{status} {self.target} on {self.sim}: {self.frames} frame(s), {self.pixels} pixels, "
                 f"{self.mismatches} mismatch(es), {self.cycles} cycles{ratio}, "
                 f"{self.wall_s:.2f} s ({self.pixels_per_s:,.0f} pixels/s)"]
        lines += [f"  {m}" for m in self.first_mismatches]
        if self.mismatches > len(self.first_mismatches):
            lines.append(f"  ... and {self.mismatches - len(self.first_mismatches)} more")
        if not self.passed:
            seed = self.extra.get("seed", self.config.get("seed"))
            lines.append(f"  seed {seed}" + (f"; reproduce: {self.extra['reproduce']}" if "reproduce" in self.extra
                                             else ""))
        return "\n".join(lines)


def mismatch_from_json(d: dict[str, Any]) -> Mismatch:
    return Mismatch(**d)


def compare_codes(expected: np.ndarray, got: np.ndarray, *, what: str = "code",
                  limit: int = MAX_REPORTED) -> tuple[int, list[Mismatch]]:
    """Compare N×C×H×W arrays value by value → (count, first ``limit`` mismatches in scan order)."""
    if expected.shape != got.shape:
        raise ValueError(f"compare_codes: shapes differ: expected {expected.shape}, got {got.shape}")
    bad = np.argwhere(expected != got)
    found = [Mismatch(frame=int(n), channel=int(c), row=int(y), col=int(x), expected=int(expected[n, c, y, x]),
                      got=int(got[n, c, y, x]), what=what) for n, c, y, x in bad[:limit]]
    return len(bad), found
