"""A generated Verilog bench shell: the per-cycle stream work of a bench, done inside the simulator.

:func:`shell_verilog` wraps an emitted Amaranth design (``clk``, ``rst``, stream ports
``name__valid/ready/payload``, counter ports) in a module ``<top>_shell`` with the *same* ports, plus
``mem_mode``, ``done``, ``timed_out``, ``first_cycle`` and ``last_cycle``. One Verilator build of this
(full) shell serves both benches:

- ``mem_mode = 0`` (cycle bench): the ports pass straight through, cocotb's clock and per-cycle
  drivers (:mod:`logcam.sim.rtl.streams`) drive ``clk``, ``rst``, ``i`` and ``o`` as before.
- ``mem_mode = 1`` (memory bench): the shell takes input beats from a file (``+in_file``, one beat
  per ``ceil(W/32)`` little-endian 32-bit words, mapped once through DPI), offers each with probability
  ``+pv``/65536 per cycle and keeps valid until the beat is taken, drives seeded junk on the input payload
  on every cycle its valid is low (a third xorshift32 generator, so a design that samples the payload
  without valid is caught), takes output beats with
  probability ``+pr``/65536 per cycle (two seeded xorshift32 generators, ``+seed``), writes every
  beat that moves on ``o`` and on every ``tap*`` to ``+out_dir/<name>.bin`` (``ceil(W/32)``
  little-endian 32-bit words per beat, written through DPI straight into the mapped file) and the
  cycle stamp of every ``o`` beat to ``o_cycles.bin`` (unless ``+stamps=0``), and raises ``done`` two cycles after ``o``
  and every tap carried ``+n_<name>`` beats (or ``timed_out`` after ``+max_cycles``), so the counters
  have taken the last beat. cocotb sets ``mem_mode`` and awaits only ``done``.

In mem_mode the clock comes from a C++ loop in logcam's Verilator main (sim/rtl/verilator_main.cpp:
cocotb's main plus that loop; two evals per cycle and no VPI callback per edge, like the bare harness —
measured against Verilator ``--timing`` with an ``always #5`` clock and cocotb's C-level
``Clock(impl="gpi")`` in docs/rtl.md) and the shell holds the design in reset for its first two cycles.
Cycle numbers count rising edges since reset fell.

``shell_verilog(..., memory_only=True)`` is the same shell without the pass-through: only the memory bench
runs on it, and its simulation loop is faster than the bare harness's (see :func:`shell_verilog`).
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from logcam.sim.rtl.runner import VerilatorBuild

#: Clock period of the memory bench's C++ clock loop (time units of Verilator's default 1 ps precision).
PERIOD_PS = 10_000

#: Verilator flags of a shell build: logcam's main (:data:`logcam.sim.rtl.runner.MAIN_CPP`) compiles its
#: clock loop and DPI I/O for the shell's ``mem_mode`` only with LOGCAM_SHELL defined; the runner then
#: leaves out cocotb's ``--public-flat-rw`` (the shell marks its own ports public).
BUILD_ARGS = ("-CFLAGS", f"-DLOGCAM_SHELL -DLOGCAM_HALF_PERIOD={PERIOD_PS // 2}")

#: Environment of a memory-bench process: mem_bench has no ``assert`` to rewrite, and cocotb's pytest
#: assertion-rewriting hook (set up before the test module is imported) loads pytest's configuration and
#: every installed plugin — about 0.9 s of the process's 1.6 s start (measured, docs/rtl.md).
FAST_START_ENV = {"COCOTB_REWRITE_ASSERTION_FILES": ""}

#: Probability thresholds are fixed point: a beat is offered/taken when a 16-bit draw < round(p·2^16).
P_ONE = 1 << 16


@dataclass(frozen=True)
class Port:
    """One port of the wrapped design: name, direction ("input"/"output") and width (bits)."""

    name: str
    direction: str
    width: int


_PORT = re.compile(r"^\s*(input|output)\s+(?:wire\s+|reg\s+)?(?:\[(\d+):0\]\s*)?([A-Za-z_][\w$]*)\s*"
                   r"(?:/\*[^*]*\*/\s*)?[;,]?\s*$", re.M)


def design_ports(verilog: str, top: str) -> list[Port]:
    """Ports of module ``top``: one ``input [N:0] name;`` declaration per line (Amaranth's Verilog), or one
    per line of an ANSI header (the shell's)."""
    start = re.search(rf"^module\s+{re.escape(top)}\s*\(", verilog, re.M)
    if start is None:
        raise ValueError(f"design_ports: no module {top!r} in the Verilog")
    end = verilog.index("endmodule", start.end())
    return [Port(m.group(3), m.group(1), int(m.group(2)) + 1 if m.group(2) else 1)
            for m in _PORT.finditer(verilog, start.end(), end)]


def shell_name(top: str) -> str:
    """Module name of the shell around ``top``."""
    return f"{top}_shell"


def threshold(p: float) -> int:
    """A probability in (0, 1] as the shell's 17-bit threshold: round(p·65536), at least 1."""
    if not 0.0 < p <= 1.0:
        raise ValueError(f"probability must lie in (0, 1], got {p}")
    return max(1, min(P_ONE, round(p * P_ONE)))


def _w(width: int) -> str:
    return f"[{width - 1}:0] " if width > 1 else ""


def _stream_port(name: str) -> bool:
    return name.endswith(("__valid", "__ready", "__payload"))


def shell_verilog(verilog: str, top: str, *, memory_only: bool = False) -> tuple[str, str]:
    """The design plus its bench shell → (Verilog text, shell module name). See the module docstring.

    ``memory_only``: a shell for the memory bench alone. Its stream ports, ``rst`` and other inputs are the
    design's, wired inside the shell, not ports (the counters stay ports): no top-level input reaches the
    design through a ``mem_mode`` multiplexer, so Verilator evaluates the design's combinational logic once
    per clock edge from its registers instead of again on every ``eval`` as logic that depends on an input
    (its "ico" region) — the RDC's simulation loop runs 1.6× faster (docs/rtl.md). The same beats, cycles and
    handshake counts as the full shell in ``mem_mode`` (tested); the per-cycle bench needs the full shell."""
    ports = design_ports(verilog, top)
    by = {p.name: p for p in ports}
    for need in ("clk", "rst", "i__valid", "i__ready", "i__payload", "o__valid", "o__ready", "o__payload"):
        if need not in by:
            raise ValueError(f"shell_verilog: {top} has no port {need!r}")
    taps = sorted({p.name[:-len("__valid")] for p in ports if p.name.startswith("tap") and p.name.endswith("__valid")})
    watched = ["o", *taps]
    wi = by["i__payload"].width
    name = shell_name(top)
    pub = " /*verilator public_flat_rw*/"  # cocotb sees the shell's ports only: the design inside optimises freely
    decl = [f"  input clk{pub},", *([] if memory_only else [f"  input rst{pub},"]), f"  input mem_mode{pub},"]
    inner = []  # memory_only: the design's ports that stay inside the shell
    driven = ("i__valid", "i__payload", "o__ready")  # the shell's d_* signals drive these in mem_mode
    for p in ports:
        if p.name in ("clk", "rst"):
            continue
        if memory_only and (_stream_port(p.name) or p.direction == "input"):
            if p.direction == "output":
                inner.append(f"  wire {_w(p.width)}{p.name};")
            elif p.name not in driven:
                inner.append(f"  wire {_w(p.width)}{p.name} = {p.width}'d0;")
            continue
        decl.append(f"  {p.direction} {_w(p.width)}{p.name}{pub},")
    decl += [f"  output reg done{pub},", f"  output reg timed_out{pub},", f"  output reg [31:0] first_cycle{pub},",
             f"  output reg [31:0] last_cycle{pub}"]
    conns = []
    for p in ports:
        src = {"i__valid": "d_i_valid", "i__payload": "d_i_payload", "o__ready": "d_o_ready", "clk": "dclk",
               "rst": "d_rst"}.get(p.name, p.name)
        conns.append(f"    .{p.name}({src})")
    counts = "\n".join(f"  reg [31:0] n_{s}, c_{s}, st_{s};\n  integer id_{s};" for s in watched)
    nw = {s: (by[f"{s}__payload"].width + 31) // 32 for s in watched}
    nwi = (wi + 31) // 32
    # junk words: the generator's state, XORed with a different constant per 32-bit word (MSB word first)
    junk = "{" + ", ".join(f"lj ^ 32'h{(0x9E3779B9 * j) & 0xFFFFFFFF:08x}" for j in reversed(range(nwi))) + "}"
    puts = "\n".join(
        f"  task automatic put_{s}(input [{32 * nw[s] - 1}:0] v);\n    integer j;\n"
        f"    for (j = 0; j < {nw[s]}; j = j + 1) logcam_word(id_{s}, v[32 * j +: 32]);\n  endtask"
        for s in watched)
    plus = "\n".join(f"    if (!$value$plusargs(\"n_{s}=%d\", n_{s})) n_{s} = 0;" for s in watched)
    opens = "\n".join(f"      id_{s} = logcam_open($sformatf(\"%0s/{s}.bin\", out_dir), n_{s} * {nw[s]});"
                      for s in watched)
    reached = " && ".join(f"(c_{s} + {{31'd0, {s}_fire}} >= n_{s})" for s in watched)
    clear = "\n".join(f"      c_{s} <= 32'd0;\n      st_{s} <= 32'd0;" for s in watched)
    ready_of = {s: "d_o_ready" if s == "o" else f"{s}__ready" for s in watched}
    stalls = "\n".join(f"      if ({s}__valid && !{ready_of[s]}) st_{s} <= st_{s} + 32'd1;" for s in watched)
    hs_lines = "\n".join(f"        $fwrite(fd_hs, \"stall_{s} %0d\\n\", st_{s});" for s in watched)
    fires = "\n".join(f"  wire {s}_fire = {s}__valid && {'d_o_ready' if s == 'o' else f'{s}__ready'};"
                      for s in watched)
    records = []
    for s in watched:
        stamp = "\n        if (stamps) logcam_word(id_o_cycles, cyc);" if s == "o" else ""
        pad = 32 * nw[s] - by[f"{s}__payload"].width
        val = f"{{{{{pad}{{1'b0}}}}, {s}__payload}}" if pad else f"{s}__payload"
        records.append(f"      if ({s}_fire) begin\n        c_{s} <= c_{s} + 32'd1;\n"
                       f"        put_{s}({val});{stamp}\n      end")
    rec = "\n".join(records)
    i_payload = f"d_i_valid ? m_payload[{wi - 1}:0] : junk[{wi - 1}:0]"
    i_payload = i_payload if memory_only else f"mem_mode ? ({i_payload}) : i__payload"
    inner_decl = "".join(f"{line}\n" for line in inner)
    body = f"""
// Bench shell generated by logcam.sim.rtl.shell: memory-fed streams, seeded random valid/ready.
module {name} (
{chr(10).join(decl)}
);
  // ---- mem_mode: the shell resets the design for its first two cycles; the clock comes from the C++
  // loop of logcam's Verilator main (sim/rtl/verilator_main.cpp), not from cocotb ----
  reg fin;
  reg [1:0] rcnt, tail;
  initial rcnt = 2'd0;
  wire dclk = clk;
{inner_decl}  wire d_rst = {"rcnt != 2'd2" if memory_only else "mem_mode ? rcnt != 2'd2 : rst"};
  always @(posedge dclk) if (mem_mode && rcnt != 2'd2) rcnt <= rcnt + 2'd1;

  // ---- run parameters (plusargs; absent in the cycle bench) ----
  reg [16:0] thr_v, thr_r;
  reg [31:0] seed, max_cycles;
  reg stamps;  // +stamps=0: no o_cycles.bin (a target that does not read the cycle of every output beat)
  reg [2047:0] in_file, out_dir;
  integer id_o_cycles, fd_hs;
  // per-beat I/O through DPI (logcam's Verilator main): the input file is mapped once, every output word
  // goes straight into its file (mapped, sized for the expected beats), cut to length when the run ends
  import "DPI-C" function int logcam_load(input string path, input int words);
  import "DPI-C" function int logcam_in(input int beat, input int w);
  import "DPI-C" function int logcam_open(input string path, input int words);
  import "DPI-C" function void logcam_word(input int id, input int w);
  import "DPI-C" function void logcam_close();
{counts}
{puts}
  function automatic [{32 * nwi - 1}:0] get_beat(input [31:0] beat);
    integer j;
    for (j = 0; j < {nwi}; j = j + 1) get_beat[32 * j +: 32] = logcam_in(beat, j);
  endfunction
  initial begin
    if (!$value$plusargs("pv=%d", thr_v)) thr_v = 17'd{P_ONE};
    if (!$value$plusargs("pr=%d", thr_r)) thr_r = 17'd{P_ONE};
    if (!$value$plusargs("seed=%d", seed)) seed = 32'd0;
    if (!$value$plusargs("max_cycles=%d", max_cycles)) max_cycles = 32'hffffffff;
    if (!$value$plusargs("stamps=%d", stamps)) stamps = 1'b1;
{plus}
    if ($value$plusargs("in_file=%s", in_file) && $value$plusargs("out_dir=%s", out_dir)) begin
      void'(logcam_load($sformatf("%0s", in_file), {nwi}));
      if (stamps) id_o_cycles = logcam_open($sformatf("%0s/o_cycles.bin", out_dir), n_o);
      fd_hs = $fopen({{out_dir, "/handshake.txt"}}, "w");
{opens}
    end
  end

  // ---- the design; in mem_mode the shell drives its input valid/payload and output ready ----
  reg m_valid, m_ready;
  reg [{32 * nwi - 1}:0] m_payload;
  wire d_i_valid = {"m_valid && !fin" if memory_only else "mem_mode ? m_valid && !fin : i__valid"};
  // while valid is low the payload carries junk (a third seeded generator, new every cycle), so a design
  // that samples the payload without valid reads something else than the beat it took last
  reg [31:0] lj;
  wire [31:0] lj1 = lj ^ (lj << 13);
  wire [31:0] lj2 = lj1 ^ (lj1 >> 17);
  wire [31:0] lj3 = lj2 ^ (lj2 << 5);
  wire [{32 * nwi - 1}:0] junk = {junk};
  wire [{wi - 1}:0] d_i_payload = {i_payload};
  wire d_o_ready = {"m_ready && !fin" if memory_only else "mem_mode ? m_ready && !fin : o__ready"};
  {top} dut (
{(','+chr(10)).join(conns)}
  );
{fires}
  wire in_fire = d_i_valid && i__ready;

  // ---- two xorshift32 generators: a 16-bit draw per cycle each ----
  reg [31:0] lv, lr, sent, n_in, cyc, st_i, idle_i;
  wire [31:0] lv1 = lv ^ (lv << 13);
  wire [31:0] lv2 = lv1 ^ (lv1 >> 17);
  wire [31:0] lv3 = lv2 ^ (lv2 << 5);
  wire [31:0] lr1 = lr ^ (lr << 13);
  wire [31:0] lr2 = lr1 ^ (lr1 >> 17);
  wire [31:0] lr3 = lr2 ^ (lr2 << 5);
  wire offer = {{1'b0, lv3[31:16]}} < thr_v;
  wire take = {{1'b0, lr3[31:16]}} < thr_r;
  wire [31:0] sent1 = sent + {{31'd0, in_fire}};
  wire finished = {reached};
  initial begin
    if (!$value$plusargs("n_in=%d", n_in)) n_in = 0;
  end

  always @(posedge dclk) begin
    if (d_rst || !mem_mode) begin
      lv <= seed ^ 32'h9e3779b9;
      lr <= seed ^ 32'h7f4a7c15;
      lj <= (seed ^ 32'h5bd1e995) | 32'd1;
      m_valid <= 1'b0;
      m_ready <= 1'b0;
      m_payload <= {32 * nwi}'d0;
      sent <= 32'd0;
      cyc <= 32'd0;
      st_i <= 32'd0;
      idle_i <= 32'd0;
      done <= 1'b0;
      fin <= 1'b0;
      tail <= 2'd0;
      timed_out <= 1'b0;
      first_cycle <= 32'd0;
      last_cycle <= 32'd0;
{clear}
    end else if (fin) begin  // two cycles for the counters to take the last beat, then done
      tail <= tail + 2'd1;
      if (tail == 2'd1) done <= 1'b1;
    end else begin
      cyc <= cyc + 32'd1;
      lv <= lv3;
      lr <= lr3;
      lj <= lj3;
      sent <= sent1;
      m_ready <= take;
      if (!m_valid || in_fire) begin
        if (sent1 < n_in && offer) begin
          m_payload <= get_beat(sent1);
          m_valid <= 1'b1;
          if (first_cycle == 32'd0) first_cycle <= cyc + 32'd1;
        end else begin
          m_valid <= 1'b0;
        end
      end
{rec}
      // handshake statistics: input held back by the design / not offered, every watched stream stalled
      if (d_i_valid && !i__ready) st_i <= st_i + 32'd1;
      if (first_cycle != 32'd0 && !m_valid && sent < n_in) idle_i <= idle_i + 32'd1;
{stalls}
      if (o_fire) last_cycle <= cyc;
      if (finished || cyc + 32'd1 >= max_cycles) begin
        fin <= 1'b1;
        timed_out <= !finished;
        $fwrite(fd_hs, "stall_i %0d\\nidle_i %0d\\ncycles %0d\\n", st_i, idle_i, cyc + 32'd1);
{hs_lines}
        $fclose(fd_hs);
        logcam_close();
      end
    end
  end
endmodule
"""
    return verilog + body, name


def to_shell_bytes(le_bytes: np.ndarray, width: int) -> bytes:
    """Input beats as the shell loads them: (beats, ≥ceil(W/8)) little-endian bytes → ``ceil(W/32)``
    little-endian 32-bit words per beat, concatenated."""
    nb = 4 * ((width + 31) // 32)
    out = np.zeros((le_bytes.shape[0], nb), dtype=np.uint8)
    k = min(nb, le_bytes.shape[1])
    out[:, :k] = le_bytes[:, :k]
    return out.tobytes()


def from_shell_words(raw: bytes | np.ndarray, width: int) -> np.ndarray:
    """An output file of the shell (``ceil(W/32)`` little-endian 32-bit words per beat) → (beats, bytes)."""
    nb = 4 * ((width + 31) // 32)
    buf = np.frombuffer(raw, dtype=np.uint8)
    if buf.size % nb:
        raise ValueError(f"shell output of {buf.size} bytes is not a whole number of {nb}-byte beats")
    return buf.reshape(-1, nb)


@dataclass
class ShellRun:
    """What a memory-fed run returned: per watched stream its payload bytes (beats, bytes), the cycle of
    every ``o`` beat, the first offered and last output cycle, timeout, raw counter values, the wall and
    CPU time of the simulation loop and the simulator process's wall time (s), and the handshake counts
    (cycles): ``stall_i`` input offered but not taken, ``idle_i`` input not offered after the first offer
    while beats remained, ``stall_<name>`` a watched stream valid but not ready, ``cycles`` the run."""

    streams: dict[str, np.ndarray]
    o_cycles: np.ndarray
    first_cycle: int
    last_cycle: int
    timed_out: bool
    stats: dict[str, int]
    loop_s: float
    loop_cpu_s: float
    sim_s: float
    handshake: dict[str, int]

    @property
    def cycles(self) -> int:
        """Cycles from the first offered input beat to the last output beat taken, both included."""
        return max(0, self.last_cycle - self.first_cycle + 1) if self.first_cycle else 0


def beats_equal(recorded: np.ndarray, expected: np.ndarray) -> bool:
    """Whether the beats a stream recorded (``(beats, 4·ceil(W/32))`` bytes, :attr:`ShellRun.streams`) are
    exactly ``expected`` (``(beats, ≥ that)`` little-endian bytes from :meth:`PayloadCodec.pack_bytes` of the
    golden values): every bit of every field of every beat, and the beat count. One memory comparison, so a
    passing run needs no decoding; a failing one is decoded and judged field by field to name its mismatches."""
    if recorded.shape[0] != expected.shape[0]:
        return False
    nb = recorded.shape[1]
    return bool(np.array_equal(recorded, expected[:, :nb]) and not expected[:, nb:].any())


class PendingShell:
    """A memory-bench run under way in a background thread (:func:`start_shell`). The simulator is its own
    process and the thread only waits for it, so the caller computes the golden model on the other core in
    the meantime; :meth:`result` joins and returns the :class:`ShellRun` (or raises what the run raised).
    Started without its input, the simulator waits for :meth:`feed` (or :meth:`abort`) while it starts up."""

    def __init__(self, run: Callable[[], ShellRun], in_path: Path | None = None, in_width: int = 0,
                 cleanup: Callable[[], None] | None = None, n_in: int = 0) -> None:
        self._out: list[ShellRun] = []
        self._err: list[BaseException] = []
        self._in_path, self._in_width, self._cleanup, self._n_in = in_path, in_width, cleanup, n_in

        def body() -> None:
            try:
                self._out.append(run())
            except BaseException as err:  # re-raised in the caller's thread by result()
                self._err.append(err)

        self._thread = threading.Thread(target=body, name="logcam-shell", daemon=True)
        self._thread.start()

    def feed(self, in_bytes: np.ndarray) -> None:
        """The deferred input: (beats, bytes) little-endian payloads, written beside and renamed into place so
        the waiting simulator reads it whole."""
        if self._in_path is None:
            raise ValueError("feed: this run was started with its input")
        part = self._in_path.with_name(self._in_path.name + ".part")
        part.write_bytes(to_shell_bytes(in_bytes, self._in_width))
        os.replace(part, self._in_path)

    def feed_with(self, fill: Callable[[np.ndarray], object]) -> None:
        """The deferred input packed in place: ``fill`` writes the ``n_in`` beats, ``ceil(W/32)`` little-endian
        32-bit words each, into the (n_in, 4·ceil(W/32)) uint8 array it is given — the input file itself,
        mapped — which then appears whole by rename. One pass over fresh memory instead of an array, its shell
        copy and a write (on this VM fresh pages are what packing costs most)."""
        if self._in_path is None:
            raise ValueError("feed_with: this run was started with its input")
        part = self._in_path.with_name(self._in_path.name + ".part")
        nb = 4 * ((self._in_width + 31) // 32)
        try:
            if self._n_in:
                buf = np.memmap(part, dtype=np.uint8, mode="w+", shape=(self._n_in, nb))
                fill(buf)
                del buf  # unmapped: the pages stay in the page cache, where the simulator maps them
            else:
                part.write_bytes(b"")
        except BaseException:
            part.unlink(missing_ok=True)
            raise
        os.replace(part, self._in_path)

    def abort(self) -> None:
        """The input will not come: the waiting simulator exits, and this waits for it and cleans up (the
        caller raises its own error; the run's failure is dropped)."""
        if self._in_path is not None:
            self._in_path.with_name(self._in_path.name + ".abort").write_bytes(b"")
        with contextlib.suppress(Exception):
            self.result()

    def result(self) -> ShellRun:
        """Wait for the run; its :class:`ShellRun`."""
        self._thread.join()
        if self._cleanup is not None:
            self._cleanup()
        if self._err:
            raise self._err[0]
        return self._out[0]


#: Seconds a simulator started without its input waits for it (:meth:`PendingShell.feed`), and its file name.
IN_WAIT_S = 600
DEFERRED_IN = "in.dat"


def start_shell(build: VerilatorBuild, in_bytes: np.ndarray | None, in_width: int, widths: dict[str, int],
                expect: dict[str, int], *, p_valid: float, p_ready: float, seed: int, max_cycles: int,
                stats: list[str], workdir: Path | None = None, waves: Path | None = None,
                n_in: int | None = None, stamps: bool = True) -> PendingShell:
    """:func:`run_shell` started in the background: returns at once with a :class:`PendingShell`. With
    ``in_bytes`` None the simulator starts before its input exists (``n_in`` beats, given by
    :meth:`PendingShell.feed`), so its start-up overlaps the packing of the input."""
    if in_bytes is not None:
        return PendingShell(lambda: run_shell(build, in_bytes, in_width, widths, expect, p_valid=p_valid,
                                              p_ready=p_ready, seed=seed, max_cycles=max_cycles, stats=stats,
                                              workdir=workdir, waves=waves, stamps=stamps))
    if n_in is None:
        raise ValueError("start_shell: a deferred input needs n_in (its number of beats)")
    cleanup = None
    if workdir is None:
        tmp = tempfile.TemporaryDirectory(prefix="logcam-sim-")
        workdir, cleanup = Path(tmp.name), tmp.cleanup
    workdir.mkdir(parents=True, exist_ok=True)
    in_path = workdir / DEFERRED_IN  # not *.bin: the run's *.bin files come back as its outputs
    for stale in (in_path, in_path.with_name(DEFERRED_IN + ".abort")):
        stale.unlink(missing_ok=True)
    return PendingShell(lambda: run_shell(build, None, in_width, widths, expect, p_valid=p_valid, p_ready=p_ready,
                                          seed=seed, max_cycles=max_cycles, stats=stats, workdir=workdir,
                                          waves=waves, n_in=n_in, stamps=stamps),
                        in_path, in_width, cleanup, n_in)


def run_shell(build: VerilatorBuild, in_bytes: np.ndarray | None, in_width: int, widths: dict[str, int],
              expect: dict[str, int], *, p_valid: float, p_ready: float, seed: int, max_cycles: int,
              stats: list[str], workdir: Path | None = None, waves: Path | None = None,
              n_in: int | None = None, stamps: bool = True) -> ShellRun:
    """Run the memory bench on a shell build: ``in_bytes`` (beats, bytes) little-endian input payloads of
    ``in_width`` bits; ``widths`` the payload width (bits) of every watched stream (``o``, ``tap*``),
    ``expect`` the beats each must carry before ``done``. Counters in ``stats`` are read after ``done``.
    ``in_bytes`` None: the input is deferred (``n_in`` beats, :meth:`PendingShell.feed` of :func:`start_shell`).
    ``stamps`` False: no cycle stamp per ``o`` beat (:attr:`ShellRun.o_cycles` stays empty)."""
    from logcam.sim.rtl.runner import run_cocotb

    deferred = in_bytes is None  # the input comes later, into {dir}/in.dat (PendingShell.feed)
    n_in = int(n_in if deferred else in_bytes.shape[0])  # type: ignore[union-attr]
    in_name = DEFERRED_IN if deferred else "in.bin"
    plus = [f"+in_file={{dir}}/{in_name}", "+out_dir={dir}", f"+n_in={n_in}", f"+pv={threshold(p_valid)}",
            f"+pr={threshold(p_ready)}", f"+seed={seed & 0xffffffff}", f"+max_cycles={min(max_cycles, 2**32 - 1)}"]
    plus += [f"+n_{name}={expect.get(name, 0)}" for name in widths] + ([] if stamps else ["+stamps=0"])
    res = run_cocotb(build, "logcam.sim.rtl.mem_bench", arrays={}, params={"stats": stats},
                     files={} if deferred else {"in.bin": to_shell_bytes(in_bytes, in_width)},  # type: ignore[arg-type]
                     plusargs=plus, read_bins=True, workdir=workdir, seed=seed, waves=waves,
                     env={**FAST_START_ENV, "LOGCAM_IN_WAIT_S": str(IN_WAIT_S)} if deferred else FAST_START_ENV)
    bins = res["_bin"]
    streams = {name: from_shell_words(bins.get(f"{name}.bin", b""), w) for name, w in widths.items()}
    o_cycles = np.frombuffer(bins.get("o_cycles.bin", b""), dtype="<u4").astype(np.int64)
    text = bins.get("handshake.txt", b"").decode()
    hs = {k: int(v) for k, v in (line.split() for line in text.splitlines() if line.strip())}
    return ShellRun(streams, o_cycles, int(res["first_cycle"]), int(res["last_cycle"]), bool(res["timed_out"]),
                    {k: int(v) for k, v in res["stats"].items()}, float(res["sim_loop_s"]),
                    float(res["sim_loop_cpu_s"]), float(res["sim_s"]), hs)

