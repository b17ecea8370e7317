"""A generated Verilog bench shell: the per-cycle stream work of a bench, done inside the simulator.

:func:`shell_verilog` wraps an emitted Amaranth design (``clk``, ``rst``, stream ports
``name__valid/ready/payload``, counter ports) in a module ``<top>_shell`` with the *same* ports, plus
``mem_mode``, ``done``, ``timed_out``, ``first_cycle`` and ``last_cycle``. One Verilator build of the
shell serves both benches:

- ``mem_mode = 0`` (cycle bench): the ports pass straight through, cocotb's clock and per-cycle
  drivers (:mod:`logcam.sim.rtl.streams`) drive ``clk``, ``rst``, ``i`` and ``o`` as before.
- ``mem_mode = 1`` (memory bench): the shell reads input beats from a file (``+in_file``, one beat
  per ``ceil(W/8)`` bytes, big-endian, as ``$fread`` takes them), offers each with probability
  ``+pv``/65536 per cycle and keeps valid until the beat is taken, takes output beats with
  probability ``+pr``/65536 per cycle (two seeded xorshift32 generators, ``+seed``), writes every
  beat that moves on ``o`` and on every ``tap*`` to ``+out_dir/<name>.bin`` (``$fwrite "%u"``:
  ``ceil(W/32)`` little-endian 32-bit words per beat) and the cycle stamp of every ``o`` beat to
  ``o_cycles.bin``, and raises ``done`` two cycles after ``o`` and every tap carried ``+n_<name>``
  beats (or ``timed_out`` after ``+max_cycles``), so the counters have taken the last beat. It makes
  its own clock and reset; cocotb sets ``mem_mode`` and awaits only ``done``.

In mem_mode the shell makes its own clock (``forever #5``, period :data:`PERIOD_NS` ns, Verilator
``--timing``: measured ≈ 2× less CPU per cycle than cocotb's C-level ``Clock(impl="gpi")``, see
docs/rtl.md) and holds the design in reset for its first two cycles. Cycle numbers count rising edges
since reset fell.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from logcam.sim.rtl.runner import VerilatorBuild

#: Clock period (ns) of the shell's own clock; built with ``--timing --timescale 1ns/1ps``.
PERIOD_NS = 10

#: Verilator flags of a shell build: the shell's ``always #5`` clock needs the timing scheduler.
BUILD_ARGS = ("--timing", "--timescale", "1ns/1ps")

#: Probability thresholds are fixed point: a beat is offered/taken when a 16-bit draw < round(p·2^16).
P_ONE = 1 << 16


@dataclass(frozen=True)
class Port:
    """One port of the wrapped design: name, direction ("input"/"output") and width (bits)."""

    name: str
    direction: str
    width: int


_PORT = re.compile(r"^\s*(input|output)\s+(?:wire\s+|reg\s+)?(?:\[(\d+):0\]\s*)?([A-Za-z_][\w$]*)\s*;", re.M)


def design_ports(verilog: str, top: str) -> list[Port]:
    """Ports of module ``top`` in Amaranth's Verilog (one ``input [N:0] name;`` declaration each)."""
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


def shell_verilog(verilog: str, top: str) -> tuple[str, str]:
    """The design plus its bench shell → (Verilog text, shell module name). See the module docstring."""
    ports = design_ports(verilog, top)
    by = {p.name: p for p in ports}
    for need in ("clk", "rst", "i__valid", "i__ready", "i__payload", "o__valid", "o__ready", "o__payload"):
        if need not in by:
            raise ValueError(f"shell_verilog: {top} has no port {need!r}")
    taps = sorted({p.name[:-len("__valid")] for p in ports if p.name.startswith("tap") and p.name.endswith("__valid")})
    watched = ["o", *taps]
    wi = by["i__payload"].width
    name = shell_name(top)
    decl = ["  input clk,", "  input rst,", "  input mem_mode,"]
    for p in ports:
        if p.name in ("clk", "rst"):
            continue
        decl.append(f"  {p.direction} {_w(p.width)}{p.name},")
    decl += ["  output reg done,", "  output reg timed_out,", "  output reg [31:0] first_cycle,",
             "  output reg [31:0] last_cycle"]
    conns = []
    for p in ports:
        src = {"i__valid": "d_i_valid", "i__payload": "d_i_payload", "o__ready": "d_o_ready", "clk": "dclk",
               "rst": "d_rst"}.get(p.name, p.name)
        conns.append(f"    .{p.name}({src})")
    counts = "\n".join(f"  reg [31:0] n_{s}, c_{s}, st_{s};\n  integer fd_{s};" for s in watched)
    plus = "\n".join(f"    if (!$value$plusargs(\"n_{s}=%d\", n_{s})) n_{s} = 0;" for s in watched)
    opens = "\n".join(f"      fd_{s} = $fopen({{out_dir, \"/{s}.bin\"}}, \"wb\");" for s in watched)
    closes = "\n".join(f"        $fclose(fd_{s});" for s in watched)
    reached = " && ".join(f"(c_{s} + {{31'd0, {s}_fire}} >= n_{s})" for s in watched)
    clear = "\n".join(f"      c_{s} <= 32'd0;\n      st_{s} <= 32'd0;" for s in watched)
    ready_of = {s: "d_o_ready" if s == "o" else f"{s}__ready" for s in watched}
    stalls = "\n".join(f"      if ({s}__valid && !{ready_of[s]}) st_{s} <= st_{s} + 32'd1;" for s in watched)
    hs_lines = "\n".join(f"        $fwrite(fd_hs, \"stall_{s} %0d\\n\", st_{s});" for s in watched)
    fires = "\n".join(f"  wire {s}_fire = {s}__valid && {'d_o_ready' if s == 'o' else f'{s}__ready'};"
                      for s in watched)
    records = []
    for s in watched:
        stamp = "\n        $fwrite(fd_o_cycles, \"%u\", cyc);" if s == "o" else ""
        records.append(f"      if ({s}_fire) begin\n        c_{s} <= c_{s} + 32'd1;\n"
                       f"        $fwrite(fd_{s}, \"%u\", {s}__payload);{stamp}\n      end")
    rec = "\n".join(records)
    body = f"""
// Bench shell generated by logcam.sim.rtl.shell: memory-fed streams, seeded random valid/ready.
module {name} (
{chr(10).join(decl)}
);
  // ---- mem_mode: the shell's own clock (Verilator's timing scheduler: no Python, no VPI call per edge)
  // and reset (2 cycles); the cycle bench drives clk and rst from cocotb ----
  reg gclk, fin;
  reg [1:0] rcnt, tail;
  initial begin
    gclk = 1'b0;
    rcnt = 2'd0;
    wait (mem_mode);
    forever #{PERIOD_NS // 2} gclk = ~gclk;
  end
  wire dclk = mem_mode ? gclk : clk;
  wire d_rst = mem_mode ? rcnt != 2'd2 : rst;
  always @(posedge dclk) if (mem_mode && rcnt != 2'd2) rcnt <= rcnt + 2'd1;

  // ---- run parameters (plusargs; absent in the cycle bench) ----
  reg [16:0] thr_v, thr_r;
  reg [31:0] seed, max_cycles;
  reg [2047:0] in_file, out_dir;
  integer fd_in, fd_o_cycles, fd_hs;
{counts}
  initial begin
    fd_in = 0;
    if (!$value$plusargs("pv=%d", thr_v)) thr_v = 17'd{P_ONE};
    if (!$value$plusargs("pr=%d", thr_r)) thr_r = 17'd{P_ONE};
    if (!$value$plusargs("seed=%d", seed)) seed = 32'd0;
    if (!$value$plusargs("max_cycles=%d", max_cycles)) max_cycles = 32'hffffffff;
{plus}
    if ($value$plusargs("in_file=%s", in_file) && $value$plusargs("out_dir=%s", out_dir)) begin
      fd_in = $fopen(in_file, "rb");
      fd_o_cycles = $fopen({{out_dir, "/o_cycles.bin"}}, "wb");
      fd_hs = $fopen({{out_dir, "/handshake.txt"}}, "w");
{opens}
    end
  end

  // ---- the design; in mem_mode the shell drives its input valid/payload and output ready ----
  reg m_valid, m_ready;
  reg [{wi - 1}:0] m_payload, rd;
  wire d_i_valid = mem_mode ? m_valid && !fin : i__valid;
  wire [{wi - 1}:0] d_i_payload = mem_mode ? m_payload : i__payload;
  wire d_o_ready = mem_mode ? m_ready && !fin : o__ready;
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
      m_valid <= 1'b0;
      m_ready <= 1'b0;
      m_payload <= {wi}'d0;
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
      sent <= sent1;
      m_ready <= take;
      if (!m_valid || in_fire) begin
        if (sent1 < n_in && offer) begin
          void'($fread(rd, fd_in));
          m_payload <= rd;
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
        $fclose(fd_o_cycles);
{closes}
      end
    end
  end
endmodule
"""
    return verilog + body, name


def to_shell_bytes(le_bytes: np.ndarray, width: int) -> bytes:
    """Input beats as the shell's ``$fread`` reads them: (beats, ≥ceil(W/8)) little-endian bytes → big-endian
    ``ceil(W/8)`` bytes per beat, concatenated."""
    nb = (width + 7) // 8
    return np.ascontiguousarray(le_bytes[:, :nb][:, ::-1]).tobytes()


def from_shell_words(raw: bytes, width: int) -> np.ndarray:
    """A ``$fwrite "%u"`` file → (beats, 4·ceil(W/32)) little-endian bytes."""
    nb = 4 * ((width + 31) // 32)
    buf = np.frombuffer(raw, dtype=np.uint8)
    if buf.size % nb:
        raise ValueError(f"shell output of {buf.size} bytes is not a whole number of {nb}-byte beats")
    return buf.reshape(-1, nb)


@dataclass
class ShellRun:
    """What a memory-fed run returned: per watched stream its payload bytes (beats, bytes), the cycle of
    every ``o`` beat, the first offered and last output cycle, timeout, raw counter values, wall times
    (s), and the handshake counts (cycles): ``stall_i`` input offered but not taken, ``idle_i`` input not
    offered after the first offer while beats remained, ``stall_<name>`` a watched stream valid but not
    ready, ``cycles`` the run's length."""

    streams: dict[str, np.ndarray]
    o_cycles: np.ndarray
    first_cycle: int
    last_cycle: int
    timed_out: bool
    stats: dict[str, int]
    loop_s: float
    sim_s: float
    handshake: dict[str, int]

    @property
    def cycles(self) -> int:
        """Cycles from the first offered input beat to the last output beat taken, both included."""
        return max(0, self.last_cycle - self.first_cycle + 1) if self.first_cycle else 0


def run_shell(build: VerilatorBuild, in_bytes: np.ndarray, in_width: int, widths: dict[str, int],
              expect: dict[str, int], *, p_valid: float, p_ready: float, seed: int, max_cycles: int,
              stats: list[str], workdir: Path | None = None, waves: Path | None = None) -> ShellRun:
    """Run the memory bench on a shell build: ``in_bytes`` (beats, bytes) little-endian input payloads of
    ``in_width`` bits; ``widths`` the payload width (bits) of every watched stream (``o``, ``tap*``),
    ``expect`` the beats each must carry before ``done``. Counters in ``stats`` are read after ``done``."""
    from logcam.sim.rtl.runner import run_cocotb

    n_in = int(in_bytes.shape[0])
    plus = ["+in_file={dir}/in.bin", "+out_dir={dir}", f"+n_in={n_in}", f"+pv={threshold(p_valid)}",
            f"+pr={threshold(p_ready)}", f"+seed={seed & 0xffffffff}", f"+max_cycles={min(max_cycles, 2**32 - 1)}"]
    plus += [f"+n_{name}={expect.get(name, 0)}" for name in widths]
    res = run_cocotb(build, "logcam.sim.rtl.mem_bench", arrays={}, params={"stats": stats},
                     files={"in.bin": to_shell_bytes(in_bytes, in_width)}, plusargs=plus, read_bins=True,
                     workdir=workdir, seed=seed, waves=waves)
    bins = res["_bin"]
    streams = {name: from_shell_words(bins.get(f"{name}.bin", b""), w) for name, w in widths.items()}
    o_cycles = np.frombuffer(bins.get("o_cycles.bin", b""), dtype="<u4").astype(np.int64)
    text = bins.get("handshake.txt", b"").decode()
    hs = {k: int(v) for k, v in (line.split() for line in text.splitlines() if line.strip())}
    return ShellRun(streams, o_cycles, int(res["first_cycle"]), int(res["last_cycle"]), bool(res["timed_out"]),
                    {k: int(v) for k, v in res["stats"].items()}, float(res["sim_loop_s"]), float(res["sim_s"]), hs)

