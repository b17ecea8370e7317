"""Stream drivers for cocotb benches, after cocotbext-axi: source, sink, monitor, payload codec.

An Amaranth stream port ``name`` appears in the emitted Verilog as ``name__valid``,
``name__ready`` and one flat ``name__payload`` vector. :class:`PayloadCodec` packs and unpacks
that vector from a field description (:func:`logcam.hw.stream.describe_layout`, JSON-able, so
this module needs neither Amaranth nor torch and loads fast inside the simulator process).

Handshake rule (AXI4-Stream / amaranth.lib.stream): a beat moves on a rising clock edge where
valid and ready are both high; a source never drops valid before its beat is taken. Valid and
ready are randomised with seeded probabilities so benches exercise backpressure.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

try:  # only inside a cocotb simulation; the codec is usable anywhere
    import cocotb
    from cocotb.triggers import Event, RisingEdge
except ImportError:  # pragma: no cover - cocotb is a dependency, but keep the codec importable
    cocotb = None


@dataclass(frozen=True)
class Field:
    """One leaf of a payload: ``shape`` elements of ``width`` bits from bit ``offset``, row-major."""

    name: str
    offset: int
    width: int
    shape: tuple[int, ...]
    signed: bool

    @property
    def count(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) if self.shape else 1


class PayloadCodec:
    """Pack numpy field arrays into payload integers and back (vectorised over beats)."""

    def __init__(self, fields: Iterable[dict[str, Any] | Field]) -> None:
        self.fields: dict[str, Field] = {}
        for f in fields:
            fd = f if isinstance(f, Field) else Field(f["name"], int(f["offset"]), int(f["width"]),
                                                      tuple(int(x) for x in f["shape"]), bool(f["signed"]))
            self.fields[fd.name] = fd
        self.width = max((f.offset + f.width * f.count for f in self.fields.values()), default=0)

    def describe(self) -> list[dict[str, Any]]:
        """The JSON-able field list this codec was built from."""
        return [{"name": f.name, "offset": f.offset, "width": f.width, "shape": list(f.shape),
                 "signed": f.signed} for f in self.fields.values()]

    def _beats(self, values: dict[str, np.ndarray | int], what: str) -> int:
        """Number of beats of a pack call (the first axis of its array arguments); unknown fields are errors."""
        n = None
        for v in values.values():
            if np.ndim(v):
                n = int(np.shape(v)[0])
        if n is None:
            raise ValueError(f"{what}: need at least one array argument to know the number of beats")
        unknown = set(values) - set(self.fields)
        if unknown:
            raise ValueError(f"{what}: unknown field(s) {sorted(unknown)}; fields are {list(self.fields)}")
        return n

    @property
    def words(self) -> int:
        """64-bit words of one packed beat (at least 1)."""
        return max(1, (self.width + 63) // 64)

    def pack(self, **values: np.ndarray | int) -> list[int]:
        """Payload integers, one per beat; each field is an array (beats, *shape) or a scalar for all."""
        buf = self.pack_bytes(**values)
        if self.words == 1:
            return buf.view("<u8").reshape(-1).tolist()
        return [int.from_bytes(row.tobytes(), "little") for row in buf]

    def unpack(self, words: Sequence[int]) -> dict[str, np.ndarray]:
        """Field arrays (beats, *shape) as int64 from payload integers."""
        nbytes = 8 * self.words
        if self.words == 1:
            buf = np.asarray(words, dtype=np.uint64).reshape(len(words)).astype("<u8").view(np.uint8)
        else:
            buf = np.frombuffer(b"".join(int(w).to_bytes(nbytes, "little") for w in words), dtype=np.uint8)
        return self.unpack_bytes(buf.reshape(len(words), nbytes))

    def pack_bytes(self, **values: np.ndarray | int) -> np.ndarray:
        """Like :meth:`pack`, as a (beats, 8·ceil(width/64)) uint8 array of little-endian bytes (no Python ints).

        Vectorised per field element, never per beat: each element (``width`` ≤ 64 bits) is shifted into the
        64-bit word holding its offset, and its high bits into the next word where it straddles the two."""
        n = self._beats(values, "pack_bytes")
        acc = np.zeros((self.words, n), dtype=np.uint64)  # word-major: every operation runs on contiguous rows
        tmp, part = np.empty(n, dtype=np.uint64), np.empty(n, dtype=np.uint64)
        for name, v in values.items():
            f = self.fields[name]
            arr = self._elements(f, v, n)
            mask = np.uint64((1 << f.width) - 1)
            for j in range(f.count):
                col = arr if arr.ndim == 0 else arr[:, j]
                if arr.ndim == 0 and int(col) == 0:
                    break
                np.copyto(tmp, col, casting="unsafe")  # two's complement for negative values
                if f.signed:
                    np.bitwise_and(tmp, mask, out=tmp)
                k, b = divmod(f.offset + j * f.width, 64)
                np.left_shift(tmp, np.uint64(b), out=part)
                acc[k] |= part
                if b + f.width > 64:
                    np.right_shift(tmp, np.uint64(64 - b), out=part)
                    acc[k + 1] |= part
        return np.ascontiguousarray(acc.T).astype("<u8", copy=False).view(np.uint8).reshape(n, 8 * self.words)

    def unpack_bytes(self, buf: np.ndarray) -> dict[str, np.ndarray]:
        """Field arrays (beats, *shape) as int64 from (beats, ≥ceil(width/8)) little-endian payload bytes."""
        buf = np.asarray(buf, dtype=np.uint8)
        n = buf.shape[0]
        nb = 8 * self.words
        padded = np.zeros((n, nb), dtype=np.uint8)
        k = min(nb, buf.shape[1])
        padded[:, :k] = buf[:, :k]
        words = padded.view("<u8").astype(np.uint64, copy=False)  # (beats, words)
        out: dict[str, np.ndarray] = {}
        for f in self.fields.values():
            offs = f.offset + f.width * np.arange(f.count)
            k, b = offs // 64, (offs % 64).astype(np.uint64)
            x = words[:, k] >> b  # (beats, count): every element of the field at once
            over = np.flatnonzero(b + np.uint64(f.width) > 64)  # elements that straddle two words
            if over.size:
                x[:, over] |= words[:, k[over] + 1] << (np.uint64(64) - b[over])
            # the element's top bit to bit 63, then back down: arithmetic (signed) or logical shift
            up = 64 - f.width
            x <<= np.uint64(up)
            if f.signed:
                raw = x.view(np.int64)
                raw >>= np.int64(up)
            else:
                x >>= np.uint64(up)
                raw = x.view(np.int64)
            out[f.name] = raw.reshape(n, *f.shape)
        return out

    @staticmethod
    def _elements(f: Field, v: np.ndarray | int, n: int) -> np.ndarray:
        """A field's values as (beats, count) integers of their own dtype (a 0-d array for a scalar), range
        checked against the field's width."""
        if f.width > 64:
            raise ValueError(f"pack: field {f.name!r} has {f.width}-bit elements; at most 64 are supported")
        arr = np.asarray(v)
        if arr.dtype.kind == "b":
            arr = arr.astype(np.uint8)
        if arr.dtype.kind not in "iu":
            arr = arr.astype(np.int64)
        if arr.ndim and arr.shape != (n, *f.shape):
            raise ValueError(f"pack: field {f.name!r} needs shape {(n, *f.shape)}, got {arr.shape}")
        lo, hi = (-(1 << (f.width - 1)), (1 << (f.width - 1)) - 1) if f.signed else (0, (1 << f.width) - 1)
        info = np.iinfo(arr.dtype)
        if arr.size and (info.min < lo or info.max > hi) and (arr.min() < lo or arr.max() > hi):
            raise ValueError(f"pack: field {f.name!r} values must lie in {lo}..{hi}")
        return arr if arr.ndim == 0 else arr.reshape(n, f.count)


class _Port:
    """The three Verilog signals of a stream port ``name`` on the DUT."""

    def __init__(self, dut: Any, name: str) -> None:
        self.valid = getattr(dut, f"{name}__valid")
        self.ready = getattr(dut, f"{name}__ready")
        self.payload = getattr(dut, f"{name}__payload")


class StreamSource:
    """Drives ``name__valid``/``name__payload``; valid is offered with probability ``p_valid`` per cycle."""

    def __init__(self, dut: Any, name: str, clock: Any, *, p_valid: float = 1.0, seed: int = 0) -> None:
        if not 0.0 < p_valid <= 1.0:
            raise ValueError(f"p_valid must lie in (0, 1], got {p_valid}")
        self.port = _Port(dut, name)
        self.clock = clock
        self.p_valid = p_valid
        self.rng = random.Random(seed)
        self.queue: list[int] = []
        self.sent = 0
        self.first_cycle: int | None = None
        self.cycle = 0
        self._idle = Event()
        self._idle.set()
        self.port.valid.value = 0
        self._task = cocotb.start_soon(self._run())

    def send_nowait(self, beats: Sequence[int]) -> None:
        """Queue payload integers (one per beat)."""
        self.queue.extend(beats)
        if self.sent < len(self.queue):
            self._idle.clear()

    async def send(self, beats: Sequence[int]) -> None:
        """Queue beats and wait until all have been taken."""
        self.send_nowait(beats)
        await self.wait()

    async def wait(self) -> None:
        """Wait until every queued beat has been taken."""
        if self.sent < len(self.queue):
            await self._idle.wait()

    async def _run(self) -> None:
        valid, ready = self.port.valid, self.port.ready
        payload = self.port.payload
        edge = RisingEdge(self.clock)
        offering = False
        valid_now = 0  # what valid is driven to: written only on change (each write costs µs)
        rng, p = self.rng.random, self.p_valid
        while True:
            await edge
            self.cycle += 1
            if offering and ready.value:
                self.sent += 1
                offering = False
                if self.sent == len(self.queue):
                    self._idle.set()
            if not offering:
                if self.sent < len(self.queue) and (p >= 1.0 or rng() < p):
                    payload.value = self.queue[self.sent]
                    offering = True
                    if not valid_now:
                        valid.value = valid_now = 1
                    if self.first_cycle is None:
                        self.first_cycle = self.cycle
                elif valid_now:
                    valid.value = valid_now = 0


class StreamMonitor:
    """Records the payload of every beat that moves on ``name`` (valid and ready high at an edge)."""

    def __init__(self, dut: Any, name: str, clock: Any, *, expect: int | None = None) -> None:
        self.port = _Port(dut, name)
        self.clock = clock
        self.beats: list[int] = []
        self.last_cycle: int | None = None
        self.cycle = 0
        self.expect = expect
        self._done = Event()
        self._task = cocotb.start_soon(self._run())

    async def wait(self) -> None:
        """Wait until ``expect`` beats have been seen."""
        if self.expect is not None and len(self.beats) < self.expect:
            await self._done.wait()

    def _seen(self) -> None:
        self.last_cycle = self.cycle
        if self.expect is not None and len(self.beats) >= self.expect:
            self._done.set()

    async def _run(self) -> None:
        valid, ready, payload = self.port.valid, self.port.ready, self.port.payload
        edge = RisingEdge(self.clock)
        while True:
            await edge
            self.cycle += 1
            if valid.value and ready.value:
                self.beats.append(int(payload.value))
                self._seen()


class StreamSink(StreamMonitor):
    """Drives ``name__ready`` high with probability ``p_ready`` per cycle and records taken beats."""

    def __init__(self, dut: Any, name: str, clock: Any, *, p_ready: float = 1.0, seed: int = 0,
                 expect: int | None = None) -> None:
        if not 0.0 < p_ready <= 1.0:
            raise ValueError(f"p_ready must lie in (0, 1], got {p_ready}")
        self.p_ready = p_ready
        self.rng = random.Random(seed)
        _Port(dut, name).ready.value = 1 if p_ready >= 1.0 else 0
        super().__init__(dut, name, clock, expect=expect)

    async def _run(self) -> None:
        valid, ready, payload = self.port.valid, self.port.ready, self.port.payload
        edge = RisingEdge(self.clock)
        rng, p = self.rng.random, self.p_ready
        ready_now = p >= 1.0
        while True:
            await edge
            self.cycle += 1
            if ready_now and valid.value:
                self.beats.append(int(payload.value))
                self._seen()
            if p < 1.0:
                nxt = rng() < p
                if nxt != ready_now:
                    ready.value = int(nxt)
                    ready_now = nxt


def default_timeout(n_in: int, n_out: int, p_valid: float = 1.0, p_ready: float = 1.0) -> int:
    """Cycles after which a stream run counts as hung: 20× the beats, stretched by the handshake odds."""
    return int(20 * max(n_in, n_out) / (p_valid * p_ready)) + 1000


async def reset(dut: Any, clock: Any, cycles: int = 2) -> None:
    """Hold Amaranth's synchronous ``rst`` high for ``cycles`` clock cycles."""
    dut.rst.value = 1
    for _ in range(cycles):
        await RisingEdge(clock)
    dut.rst.value = 0


async def stream_through(dut: Any, beats: Sequence[int], n_out: int, *, clock: Any, in_name: str = "i",
                         out_name: str = "o", p_valid: float = 1.0, p_ready: float = 1.0, seed: int = 0,
                         period_ns: float = 10.0, timeout_cycles: int | None = None) -> dict[str, Any]:
    """Send ``beats`` into ``in_name`` and collect ``n_out`` beats from ``out_name``.

    Returns ``{"out": [payload ints], "cycles": clock cycles from the first offered input beat to
    the last output beat taken (inclusive), "timed_out": bool}``. ``timeout_cycles`` defaults to
    :func:`default_timeout`; ``period_ns`` is the period of ``clock``.
    """
    from cocotb.triggers import with_timeout

    src = StreamSource(dut, in_name, clock, p_valid=p_valid, seed=seed)
    sink = StreamSink(dut, out_name, clock, p_ready=p_ready, seed=seed + 1, expect=n_out)
    limit = timeout_cycles if timeout_cycles is not None else default_timeout(len(beats), n_out, p_valid, p_ready)
    src.send_nowait(beats)
    timed_out = False
    try:
        await with_timeout(sink.wait(), limit * period_ns, "ns")
    except Exception as err:  # SimTimeoutError: report what came, the caller counts what is missing
        if type(err).__name__ != "SimTimeoutError":
            raise
        timed_out = True
    # Cycle numbers count rising edges since the drivers started; both started on the same edge.
    start = src.first_cycle if src.first_cycle is not None else 0
    end = sink.last_cycle if sink.last_cycle is not None else sink.cycle
    return {"out": list(sink.beats), "cycles": max(0, end - start), "timed_out": timed_out}

