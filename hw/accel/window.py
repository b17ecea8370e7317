"""Line buffer + sliding k×k window with zero padding and stride, for one conv layer.

The generator walks the padded frame (H+2·pad)×(W+2·pad) in raster order, one position per step.
Inside the image a step takes one input beat (all C channels of a pixel); on the padding it inserts
zeros and takes nothing. The line buffer (``amaranth.lib.memory``, depth W+2·pad) keeps, per
column, the k−1 rows above the current one: a step reads the column at x, appends the new value
(the window's right column) and writes the newest k−1 values back. After a step at an output
position (row and column ≥ k−1, on the stride grid) ``win_valid`` rises and the window holds rows
y−k+1..y and columns x−k+1..x; the consumer asserts ``take`` in a cycle it copies ``win``, and the
generator steps again in that same cycle. So one step per cycle when the consumer keeps up:
(H+pad)·(W+pad) cycles per frame: the top and left padding steps are skipped. That needs no masking
because padding is symmetric: at a row's start the window's left columns hold the previous row's right
padding (zeros), and at a frame's start the line buffer's newest rows hold the previous frame's bottom
padding (zeros; all zero after reset). Frames follow each other with no gap; rows of the previous frame
that are still in the line buffer leave it before any window uses them.
"""

from __future__ import annotations

from amaranth.hdl import Const, Module, Mux, ShapeCastable, Signal
from amaranth.lib import data, memory, stream, wiring
from amaranth.lib.wiring import In, Out

from logcam.hw.stream import act_layout


class WindowGen(wiring.Component):
    """Sliding k×k×C window over a C×H×W pixel stream (values of ``shape``)."""

    def __init__(self, *, channels: int, height: int, width: int, shape: ShapeCastable, kernel: int,
                 pad: int = 0, stride: int = 1) -> None:
        if kernel < 1 or stride < 1 or pad < 0 or channels < 1:
            raise ValueError(f"WindowGen: need kernel, stride, channels ≥ 1 and pad ≥ 0, got "
                             f"k={kernel} s={stride} c={channels} pad={pad}")
        if pad >= kernel:
            raise ValueError(f"WindowGen: pad ({pad}) must be smaller than the kernel ({kernel})")
        hp, wp = height + 2 * pad, width + 2 * pad
        if kernel > hp or kernel > wp:
            raise ValueError(f"WindowGen: kernel {kernel} is larger than the padded input {hp}×{wp}")
        self.c, self.h, self.w = channels, height, width
        self.k, self.pad, self.stride = kernel, pad, stride
        self.hp, self.wp = hp, wp
        self.shape = shape
        self.ho = (hp - kernel) // stride + 1
        self.wo = (wp - kernel) // stride + 1
        pix = data.ArrayLayout(shape, channels)
        super().__init__({
            "i": In(stream.Signature(act_layout(channels, shape))),
            "win": Out(data.ArrayLayout(data.ArrayLayout(pix, kernel), kernel)),  # win[ky][kx][c]
            "win_valid": Out(1),
            "take": In(1),
            "step": Out(1),  # a position was processed this cycle (one line-buffer read + write)
        })

    @property
    def steps_per_frame(self) -> int:
        """Cycles per frame at one step per clock: (H+pad)·(W+pad) (cycles)."""
        return (self.hp - self.pad) * (self.wp - self.pad)

    @property
    def line_buffer_bits(self) -> int:
        """Bits of line memory: (k−1) rows × (W+2·pad) × C values."""
        from amaranth.hdl import Shape

        return (self.k - 1) * self.wp * self.c * Shape.cast(self.shape).width

    def elaborate(self, platform: object) -> Module:
        m = Module()
        k, pad, stride = self.k, self.pad, self.stride
        pix = data.ArrayLayout(self.shape, self.c)
        # Rows and columns start at ``pad``: the top/left padding steps are skipped (see the module docstring).
        py = Signal(range(max(self.hp, 2)), init=pad)
        px = Signal(range(max(self.wp, 2)), init=pad)
        # Phase of (position − (k−1)) modulo the stride, so outputs sit on the stride grid.
        sy_init = (pad - (k - 1)) % stride
        sy = Signal(range(max(stride, 2)), init=sy_init)
        sx = Signal(range(max(stride, 2)), init=sy_init)

        in_img = Signal()
        if pad:
            m.d.comb += in_img.eq((py < pad + self.h) & (px < pad + self.w))
        else:  # no padding: every position is an input pixel
            m.d.comb += in_img.eq(1)
        free = ~self.win_valid | self.take
        step = self.step
        m.d.comb += [
            self.i.ready.eq(in_img & free),
            step.eq(free & (~in_img | self.i.valid)),
        ]
        v = Signal(pix)
        m.d.comb += v.eq(Mux(in_img, self.i.payload.data, 0))

        # Column at px: rows py−k+1 .. py (oldest first); the last one is the new value.
        col = [Signal(pix, name=f"col{j}") for j in range(k)]
        m.d.comb += col[k - 1].eq(v)
        if k > 1:
            word = data.ArrayLayout(pix, k - 1)
            m.submodules.lines = lines = memory.Memory(shape=word, depth=self.wp, init=[])
            rd = lines.read_port(domain="comb")
            wr = lines.write_port()
            m.d.comb += [rd.addr.eq(px), wr.addr.eq(px), wr.en.eq(step)]
            for j in range(k - 1):
                m.d.comb += col[j].eq(rd.data[j])
                m.d.comb += wr.data[j].eq(col[j + 1])

        is_out = (sy == 0) & (sx == 0)
        if k > 1:
            is_out &= (py >= k - 1) & (px >= k - 1)
        with m.If(step):
            for ky in range(k):
                for kx in range(k - 1):
                    m.d.sync += self.win[ky][kx].eq(self.win[ky][kx + 1])
                m.d.sync += self.win[ky][k - 1].eq(col[ky])
            m.d.sync += self.win_valid.eq(is_out)
            sx_next = Const(0) if stride == 1 else Mux(sx == stride - 1, 0, sx + 1)
            sy_next = Const(0) if stride == 1 else Mux(sy == stride - 1, 0, sy + 1)
            with m.If(px == self.wp - 1):
                m.d.sync += [px.eq(pad), sx.eq(sy_init)]
                with m.If(py == self.hp - 1):
                    m.d.sync += [py.eq(pad), sy.eq(sy_init)]
                with m.Else():
                    m.d.sync += [py.eq(py + 1), sy.eq(sy_next)]
            with m.Else():
                m.d.sync += [px.eq(px + 1), sx.eq(sx_next)]
        with m.Elif(self.take):
            m.d.sync += self.win_valid.eq(0)
        return m


__all__ = ["WindowGen"]
