"""RDC stream vectors: DN frames → input beats, output beats → codes, and the per-code check.

numpy only (loaded inside the cocotb process). Beat order is raster order: frame, row, then
``width/lanes`` beats per row, lane l of beat b holding column b·lanes + l.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from logcam.sim.rtl.check import MAX_REPORTED, Mismatch, compare_codes


@dataclass(frozen=True)
class RdcGeometry:
    """What the bench needs of an RdcSpec: frame size (pixels), lanes, output channels."""

    width: int
    height: int
    lanes: int
    channels: int

    @property
    def words(self) -> int:
        return self.width // self.lanes

    @property
    def beats_per_frame(self) -> int:
        return self.height * self.words

    @classmethod
    def of(cls, spec: Any) -> RdcGeometry:
        return cls(spec.width, spec.height, spec.lanes, spec.channels)

    def to_json(self) -> dict[str, int]:
        return {"width": self.width, "height": self.height, "lanes": self.lanes, "channels": self.channels}


def beat_flags(n: int, geo: RdcGeometry) -> dict[str, np.ndarray]:
    """``first`` and ``last`` of every beat of ``n`` frames (int64, raster order): one frame's pattern, tiled."""
    first = np.zeros(geo.beats_per_frame, dtype=np.int64)
    first[0] = 1
    last = np.tile(np.arange(geo.words) == geo.words - 1, geo.height).astype(np.int64)
    return {"first": np.tile(first, n), "last": np.tile(last, n)}


def input_fields(frames: np.ndarray, geo: RdcGeometry) -> dict[str, np.ndarray]:
    """Payload fields of the input beats for N×H×W DN frames: data (beats, lanes), first, last."""
    n = frames.shape[0]
    data = frames.reshape(n * geo.height * geo.words, geo.lanes)  # any integer dtype: the codec packs it as is
    return {"data": data, **beat_flags(n, geo)}


def output_fields(codes: np.ndarray, geo: RdcGeometry) -> dict[str, np.ndarray]:
    """Payload fields of the output beats that carry N×C×H×W codes: data (beats, channels, lanes), first,
    last — the layout :func:`check_output` reads back."""
    n = codes.shape[0]
    data = codes.reshape(n, geo.channels, geo.height, geo.words, geo.lanes).transpose(0, 2, 3, 1, 4)
    return {"data": data.reshape(n * geo.beats_per_frame, geo.channels, geo.lanes), **beat_flags(n, geo)}


#: Pixels per chunk of :func:`frame_chunks` (≈ 128 k in whole frames: one QVGA frame). Working through a long
#: run chunk by chunk reuses the same temporaries for every chunk, where whole-run arrays are fresh memory each
#: time — on a VM whose every new page faults on the host, the RDC golden model runs 3.4× faster per chunk than on
#: 400 QVGA frames at once, and packing likewise (docs/rtl.md, throughput).
CHUNK_PIXELS = 1 << 17


def frame_chunks(n: int, geo: RdcGeometry) -> list[tuple[int, int]]:
    """``[a, b)`` frame ranges that cover ``n`` frames, about :data:`CHUNK_PIXELS` pixels each (≥ 1 frame)."""
    step = max(1, CHUNK_PIXELS // (geo.width * geo.height))
    return [(a, min(n, a + step)) for a in range(0, n, step)]


def pack_chunked(codec: Any, fields_of: Callable[[int, int], dict[str, np.ndarray]],
                 chunks: list[tuple[int, int]], geo: RdcGeometry, out: np.ndarray) -> np.ndarray:
    """Pack beats frame chunk by frame chunk into ``out`` (beats, nb) uint8: ``fields_of(a, b)`` gives the
    payload fields of frames ``[a, b)`` (:func:`input_fields` or :func:`output_fields` of them), ``codec`` (a
    :class:`~logcam.sim.rtl.streams.PayloadCodec`) packs them; each beat keeps its first ``nb`` little-endian
    bytes (the shell's ``ceil(W/32)`` words, :func:`logcam.sim.rtl.shell.to_shell_bytes`). Returns ``out``."""
    nb, bpf = out.shape[1], geo.beats_per_frame
    if nb > 8 * codec.words:
        raise ValueError(f"pack_chunked: {nb} bytes per beat, the codec packs {8 * codec.words}")
    for a, b in chunks:
        out[a * bpf:b * bpf] = codec.pack_bytes(**fields_of(a, b))[:, :nb]
    return out


def check_output(fields: dict[str, np.ndarray], expected: np.ndarray, geo: RdcGeometry,
                 limit: int = MAX_REPORTED) -> tuple[int, list[Mismatch], np.ndarray]:
    """Compare received output beats with the expected N×C×H×W codes, and their first/last flags.

    Missing beats count as mismatches (one per missing code); a flag that differs from the
    position it should mark is reported as a ``first``/``last`` mismatch at that beat's first
    column. Returns (count, first mismatches, received codes N×C×H×W with −128 where missing).
    """
    n = expected.shape[0]
    want_beats = n * geo.beats_per_frame
    data = fields["data"]  # (beats, channels, lanes)
    got_beats = data.shape[0]
    full = np.full((want_beats, geo.channels, geo.lanes), -128, dtype=np.int64)
    full[:min(got_beats, want_beats)] = data[:want_beats]
    got = full.reshape(n, geo.height, geo.words, geo.channels, geo.lanes).transpose(0, 3, 1, 2, 4)
    got = got.reshape(n, geo.channels, geo.height, geo.width)
    count, found = compare_codes(expected.astype(np.int64), got, limit=limit)
    # Framing flags, for the beats that came.
    k = min(got_beats, want_beats)
    pos = beat_flags(n, geo)
    for flag in ("first", "last"):
        bad = np.flatnonzero(fields[flag][:k] != pos[flag][:k])
        count += int(bad.size)
        for b in bad[:max(0, limit - len(found))]:
            f, rem = divmod(int(b), geo.beats_per_frame)
            r, w = divmod(rem, geo.words)
            found.append(Mismatch(frame=f, row=r, col=w * geo.lanes, expected=int(pos[flag][b]),
                                  got=int(fields[flag][b]), what=flag))
    if got_beats > want_beats:
        count += got_beats - want_beats
        if len(found) < limit:
            found.append(Mismatch(frame=n, row=0, col=0, expected=0, got=got_beats - want_beats,
                                  what="extra beats"))
    return count, found, got
