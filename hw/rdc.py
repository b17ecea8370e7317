"""Column-parallel ratio-to-digital converter (RDC) in Amaranth, generated from :class:`RdcSpec`.

Stream in: ``lanes`` DN pixels per beat, ``first`` (start of frame) and ``last`` (end of line).
Stream out: ``lanes`` signed codes per channel (2 channels for ``hv``), ``first``/``last`` of the
output position. The previous row lives in a line memory of ``width/lanes`` words; the left
neighbour of lane l is lane l−1 of the same beat, and for lane 0 a register holding the last lane
of the previous beat. Each comparison is the integer multiply-compare of the contract
(docs/architecture.md, :func:`logcam.nn.golden.rdc.quantize_ratio`): with a = P + 1, code +k for the
largest k with num·d_k ≥ den·n_k, else −k for the largest k with den·d_k ≥ num·n_k, else 0; code 0
where the neighbour does not exist (first row / first column).

Pipeline: accept (line-memory read + write) → products → comparator ladder → output register;
three register stages, the whole pipeline advances when the output register is empty or taken,
so with ``o.ready`` high it accepts one beat (``lanes`` pixels) per clock and a frame takes
H·W/lanes cycles plus 3 cycles of latency. Frames follow each other with no gap; the position is
counted from the spec's width and height, and an input beat with ``first`` set restarts the
count at row 0, column 0 (AXI4-Stream video start-of-frame).
"""

from __future__ import annotations

from pathlib import Path

from amaranth.hdl import Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, memory, stream, wiring
from amaranth.lib.wiring import In, Out

from logcam.config import read_yaml, validate
from logcam.errors import ConfigError
from logcam.hw.stream import code_layout, pixel_layout, rdc_stats_layout
from logcam.rdcspec import RdcSpec

#: Pipeline latency in cycles from an accepted input beat to its output beat being valid.
LATENCY = 3


class Rdc(wiring.Component):
    """The RDC of ``spec``: ``i`` pixel stream in, ``o`` code stream out, ``stats`` counters out."""

    def __init__(self, spec: RdcSpec) -> None:
        if not isinstance(spec, RdcSpec):
            self._MustUse__silence = True  # never elaborated: no "created but never used" warning
            raise TypeError(f"Rdc needs an RdcSpec, got {type(spec).__name__}")
        if spec.width % spec.lanes:
            self._MustUse__silence = True
            raise ValueError(f"lanes ({spec.lanes}) must divide width ({spec.width})")
        self.spec = spec
        self.words = spec.width // spec.lanes
        super().__init__({
            "i": In(stream.Signature(pixel_layout(spec.lanes, spec.adc_bits))),
            "o": Out(stream.Signature(code_layout(spec.lanes, spec.code_bits, spec.channels))),
            "stats": Out(rdc_stats_layout()),
        })

    @property
    def ideal_cycles_per_frame(self) -> int:
        """H·W/lanes: cycles per frame at one beat per clock (cycles)."""
        return self.spec.height * self.words

    def elaborate(self, platform: object) -> Module:
        spec = self.spec
        lanes, words, bits = spec.lanes, self.words, spec.adc_bits
        m = Module()

        o_valid = self.o.valid
        advance = Signal()  # the whole pipeline moves one step this cycle
        accept = Signal()   # an input beat is taken this cycle
        m.d.comb += [
            advance.eq(~o_valid | self.o.ready),
            self.i.ready.eq(advance),
            accept.eq(self.i.valid & advance),
        ]

        # Stage 0: position of the incoming beat; line memory read (previous row) and write.
        col = Signal(range(max(words, 2)))  # ≥ 1 bit even when one beat spans the line (no [-1:0] vectors)
        row = Signal(range(spec.height))
        pos_col = Signal(range(max(words, 2)))
        pos_row = Signal(range(spec.height))
        first_in = self.i.payload.first
        m.d.comb += [pos_col.eq(Mux(first_in, 0, col)), pos_row.eq(Mux(first_in, 0, row))]
        with m.If(accept):
            with m.If(pos_col == words - 1):
                m.d.sync += [col.eq(0), row.eq(Mux(pos_row == spec.height - 1, 0, pos_row + 1))]
            with m.Else():
                m.d.sync += [col.eq(pos_col + 1), row.eq(pos_row)]

        word = data.ArrayLayout(unsigned(bits), lanes)
        # Depth ≥ 2 keeps a real address port when one beat spans the whole line (words == 1).
        m.submodules.line = line = memory.Memory(shape=word, depth=max(words, 2), init=[])
        wp = line.write_port()
        rp = line.read_port(domain="sync")  # not transparent: reads the previous row at the write address
        m.d.comb += [
            wp.addr.eq(pos_col), wp.data.eq(self.i.payload.data), wp.en.eq(accept),
            rp.addr.eq(pos_col), rp.en.eq(advance),
        ]

        # Stage 1: the beat, the left neighbour of lane 0, position flags; rp.data is the row above.
        s1_valid = Signal()
        s1_cur = Signal(word)
        s1_left0 = Signal(bits)
        s1_row0 = Signal()
        s1_col0 = Signal()
        s1_first = Signal()
        s1_last = Signal()
        held = Signal(bits)  # last lane of the previous beat
        with m.If(advance):
            m.d.sync += s1_valid.eq(self.i.valid)
            with m.If(self.i.valid):
                m.d.sync += [
                    s1_cur.eq(self.i.payload.data),
                    s1_left0.eq(held),
                    held.eq(self.i.payload.data[lanes - 1]),
                    s1_row0.eq(pos_row == 0),
                    s1_col0.eq(pos_col == 0),
                    s1_first.eq((pos_row == 0) & (pos_col == 0)),
                    s1_last.eq(pos_col == words - 1),
                ]

        # Stage 2: a = P + 1 and the (num, den) products of each channel.
        abits = bits + 1
        a = [Signal(abits, name=f"a{lane}") for lane in range(lanes)]
        left = [Signal(abits, name=f"left{lane}") for lane in range(lanes)]
        up = [Signal(abits, name=f"up{lane}") for lane in range(lanes)]
        for lane in range(lanes):
            m.d.comb += [
                a[lane].eq(s1_cur[lane] + 1),
                left[lane].eq((s1_left0 if lane == 0 else s1_cur[lane - 1]) + 1),
                up[lane].eq(rp.data[lane] + 1),
            ]
        pairs = []  # per channel: (num, den, has_neighbour) per lane
        pbits = 2 * abits if spec.mode == "sum" else abits
        for ch in range(spec.channels):
            kind = {"h": "h", "v": "v", "sum": "sum"}.get(spec.mode, "h" if ch == 0 else "v")
            lane_pairs = []
            for lane in range(lanes):
                has_left = ~s1_col0 if lane == 0 else 1
                if kind == "h":
                    lane_pairs.append((a[lane], left[lane], has_left))
                elif kind == "v":
                    lane_pairs.append((a[lane], up[lane], ~s1_row0))
                else:
                    lane_pairs.append((a[lane] * a[lane], left[lane] * up[lane], has_left & ~s1_row0))
            pairs.append(lane_pairs)

        s2_valid = Signal()
        s2_first = Signal()
        s2_last = Signal()
        s2_num = [[Signal(pbits, name=f"num{ch}_{lane}") for lane in range(lanes)]
                  for ch in range(spec.channels)]
        s2_den = [[Signal(pbits, name=f"den{ch}_{lane}") for lane in range(lanes)]
                  for ch in range(spec.channels)]
        s2_ok = [[Signal(name=f"ok{ch}_{lane}") for lane in range(lanes)] for ch in range(spec.channels)]
        with m.If(advance):
            m.d.sync += [s2_valid.eq(s1_valid), s2_first.eq(s1_first), s2_last.eq(s1_last)]
            for ch in range(spec.channels):
                for lane in range(lanes):
                    num, den, ok = pairs[ch][lane]
                    m.d.sync += [s2_num[ch][lane].eq(num), s2_den[ch][lane].eq(den),
                                 s2_ok[ch][lane].eq(ok)]

        # Stage 3: comparator ladder → signed code, into the output register.
        codes = [[Signal(signed(spec.code_bits), name=f"code{ch}_{lane}") for lane in range(lanes)]
                 for ch in range(spec.channels)]
        for ch in range(spec.channels):
            for lane in range(lanes):
                num, den = s2_num[ch][lane], s2_den[ch][lane]
                code = 0
                for k, (nk, dk) in enumerate(spec.ratio_terms, start=1):
                    code = Mux(den * dk >= num * nk, -k, code)
                for k, (nk, dk) in enumerate(spec.ratio_terms, start=1):
                    code = Mux(num * dk >= den * nk, k, code)
                m.d.comb += codes[ch][lane].eq(Mux(s2_ok[ch][lane], code, 0))
        with m.If(advance):
            m.d.sync += [o_valid.eq(s2_valid), self.o.payload.first.eq(s2_first),
                         self.o.payload.last.eq(s2_last)]
            for ch in range(spec.channels):
                for lane in range(lanes):
                    m.d.sync += self.o.payload.data[ch][lane].eq(codes[ch][lane])

        # Activity counters.
        taken = self.o.valid & self.o.ready
        nonzero = sum((self.o.payload.data[ch][lane] != 0).as_unsigned()
                      for ch in range(spec.channels) for lane in range(lanes))
        with m.If(accept):
            m.d.sync += self.stats.beats.eq(self.stats.beats + 1)
        with m.If(taken):
            m.d.sync += self.stats.nonzero.eq(self.stats.nonzero + nonzero)
        with m.If(self.o.valid & ~self.o.ready):
            m.d.sync += self.stats.stalls.eq(self.stats.stalls + 1)
        return m


def load_rdc_spec(path: str | Path | None = None, **overrides: object) -> RdcSpec:
    """The RdcSpec of a YAML file (its ``rdc:`` section if it has one, else the whole mapping),
    or the defaults without a file; ``overrides`` (e.g. ``lanes=2``) replace fields, validated again."""
    data: dict[str, object] = {}
    where = "rdc"
    if path is not None:
        raw = read_yaml(path)
        if raw is None:
            raw = {}
        if not isinstance(raw, dict):
            raise ConfigError(f"{path}: expected a mapping at the top level, got {type(raw).__name__}")
        section = raw.get("rdc", raw) if "rdc" in raw else raw
        if not isinstance(section, dict):
            raise ConfigError(f"{path}: rdc: expected a mapping, got {type(section).__name__}")
        data = dict(section)
        where = f"{Path(path).name}:rdc" if "rdc" in raw else Path(path).name
    data.update({k: v for k, v in overrides.items() if v is not None})
    return validate(RdcSpec, data, where=where)
