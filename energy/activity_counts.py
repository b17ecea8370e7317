"""Action counts per frame, per stage and component: analytic (from the pipeline and the NetSpec) or
measured (from the RTL activity counters, ``--activity rtl``).

An :class:`Action` names the technology-table entry that prices it. Special kinds: ``adc`` (one
conversion, priced FoM·2^bits), ``pixel`` (one readout, C·V²), ``link`` (bits moved), ``sram_read`` /
``sram_write`` (64-bit words of the SRAM size class that holds ``bytes``), ``leak`` (µW of an entry
times an amount, e.g. KiB).

Stated op counts of the ISP per pixel (32-bit integer ops — Horowitz has no 16-bit integer entry, so
this is an upper bound for a 10–12-bit datapath): black level 1 add; bilinear demosaic 4 adds (an
RGGB quad needs 6+6+2+2 neighbour additions) with a 2-line buffer (2 reads + 1 write of the raw
value); white balance 3 mults (gain per RGB channel); gamma 3 lookups (one read of a small table
each); RGB→gray 3 mults + 2 adds when the CNN takes one channel; optional 3×3 mean denoise 8 adds +
1 mult per channel with its own 2-line buffer.
"""

from __future__ import annotations

from dataclasses import dataclass

from logcam.errors import ConfigError


@dataclass(frozen=True)
class Action:
    """``count`` actions per frame of ``action`` (a tech entry or a special kind) in ``stage``/``component``."""

    stage: str
    component: str
    action: str
    count: float
    bits: int = 0  # adc: resolution; sram_*: unused
    bytes: float = 0.0  # sram_*: size of the memory (selects the SRAM entry)


def sram_entry(size_bytes: float) -> str:
    """The Horowitz SRAM entry for a memory of ``size_bytes`` (8 KB, 32 KB, 1 MB; larger → DRAM)."""
    if size_bytes <= 8 * 1024:
        return "sram8k_read64"
    if size_bytes <= 32 * 1024:
        return "sram32k_read64"
    if size_bytes <= 1024 * 1024:
        return "sram1m_read64"
    return "dram_read64"


def adds_per_code(hi: int) -> int:
    """Adds per multiplier-free MAC on a code of magnitude ≤ ``hi``: ±1, ±2 (shift) → 1; ±3 = 2w + w → 2."""
    return max(1, max(bin(v).count("1") for v in range(1, hi + 1)))


def sensor_actions(pixels: int, readout: str, adc_bits: int, rdc_spec=None, optics: str | None = None) -> list[Action]:
    """Pixel readout, then an ADC conversion per pixel or the RDC's comparator decisions."""
    acts: list[Action] = []
    if optics:
        acts.append(Action("sensor", "optics", optics, 1))
    acts.append(Action("sensor", "pixel_readout", "pixel", pixels))
    if readout == "adc":
        acts.append(Action("sensor", "adc", "adc", pixels, bits=adc_bits))
    elif readout == "rdc":
        from logcam.hw.rdc import activity

        counts = activity(rdc_spec, beats=pixels // rdc_spec.lanes, nonzero=0)
        acts.append(Action("sensor", "rdc_comparators", "comparator", counts["comparisons"]))
    else:
        raise ConfigError(f"sensor.readout: {readout!r} is not adc or rdc")
    return acts


def link_actions(pixels: int, bits_per_pixel: float, kind: str) -> list[Action]:
    """Bits moved off the sensor: one per bit of every pixel's value."""
    if kind == "none":
        return []
    return [Action("link", kind, f"link_{kind}", pixels * bits_per_pixel)]


def isp_actions(pixels: int, raw_bits: int, gray: bool, denoise: bool, width: int) -> list[Action]:
    """The ISP's op counts (see the module docstring), per frame."""
    lb_bytes = 2 * width * raw_bits / 8
    acts = [
        Action("isp", "black_level", "add32", pixels),
        Action("isp", "demosaic", "add32", 4 * pixels),
        Action("isp", "demosaic_linebuf", "sram_read", pixels * 2 * raw_bits / 64, bytes=lb_bytes),
        Action("isp", "demosaic_linebuf", "sram_write", pixels * raw_bits / 64, bytes=lb_bytes),
        Action("isp", "white_balance", "mult32", 3 * pixels),
        Action("isp", "gamma_lut", "sram_read", 3 * pixels, bytes=1024),
    ]
    if gray:
        acts += [Action("isp", "rgb_to_gray", "mult32", 3 * pixels), Action("isp", "rgb_to_gray", "add32", 2 * pixels)]
    if denoise:
        dn_bytes = 2 * width * 3
        acts += [
            Action("isp", "denoise", "add32", 3 * 8 * pixels),
            Action("isp", "denoise", "mult32", 3 * pixels),
            Action("isp", "denoise_linebuf", "sram_read", pixels * 2 * 24 / 64, bytes=dn_bytes),
            Action("isp", "denoise_linebuf", "sram_write", pixels * 24 / 64, bytes=dn_bytes),
        ]
    return acts


def mac_cycles(shape, layer) -> int:
    """Cycles the layer's pe×simd MAC array works per frame: MACs / (pe·simd) (the RTL's ``mac_cycles``)."""
    return shape.macs // (layer.pe * layer.simd)


def rom_words(shape, layer) -> int:
    """Weight-ROM words read per frame (the RTL's ``rom_reads``): 0 when the weights are stationary."""
    groups = shape.conv_shape[0] // layer.pe
    slices = shape.fan_in // layer.simd
    stationary = shape.kind == "conv" and groups * slices == 1
    return 0 if stationary else mac_cycles(shape, layer)


def cnn_actions(net) -> list[Action]:
    """Per layer: MACs (adds on codes for layer 0), weight reads, line-buffer reads/writes, leakage.

    Weights, as the accelerator holds them (hw/accel conv.py, fc.py): a layer whose weights all fit its
    pe×simd MAC array (one output group, one input slice) keeps them stationary in registers and reads
    nothing; otherwise every MAC cycle (MACs / (pe·simd)) reads one ROM word of pe·simd 8-bit weights,
    priced as SRAM of the layer's weight bytes. fc layers always read. Activations: a conv layer writes
    each input value once into its (k−1)-row line buffer and reads it k−1 times; an fc layer reads each
    input once per ``pe`` outputs.
    """
    acts: list[Action] = []
    q_bits = net.quant.act_bits
    for shape, layer in zip(net.layer_shapes(), net.layers):
        name = f"layer{shape.index}_{shape.kind}"
        if shape.index == 0 and net.input.format == "codes":
            acts.append(Action("cnn", f"{name}_adds", "add32", shape.macs * adds_per_code(net.input.hi)))
        else:
            acts.append(Action("cnn", f"{name}_mults", "mult8", shape.macs))
            acts.append(Action("cnn", f"{name}_accum", "add32", shape.macs))
        w_bytes = shape.weight_count
        words = rom_words(shape, layer)
        w_words64 = words * layer.pe * layer.simd * 8 / 64
        acts.append(Action("cnn", f"{name}_weights", "sram_read", w_words64, bytes=w_bytes))
        c, h, w = shape.in_shape
        in_elems = c * h * w
        if shape.kind == "conv":
            k = layer.kernel
            lb_bytes = max(1, (k - 1)) * w * c * shape.in_bits / 8
            acts.append(Action("cnn", f"{name}_linebuf", "sram_write", in_elems * shape.in_bits / 64, bytes=lb_bytes))
            acts.append(Action("cnn", f"{name}_linebuf", "sram_read", in_elems * (k - 1) * shape.in_bits / 64,
                               bytes=lb_bytes))
            mem_kib = (w_bytes + lb_bytes) / 1024
        else:
            in_bytes = in_elems * shape.in_bits / 8
            acts.append(Action("cnn", f"{name}_inbuf", "sram_write", in_elems * shape.in_bits / 64, bytes=in_bytes))
            acts.append(Action("cnn", f"{name}_inbuf", "sram_read", shape.macs / layer.pe * shape.in_bits / 64,
                               bytes=in_bytes))
            mem_kib = (w_bytes + in_bytes) / 1024
        acts.append(Action("cnn", f"{name}_leakage", "leak:sram_leakage_per_kib", mem_kib))
    del q_bits
    return acts


def cnn_actions_rtl(net, stats: list[dict]) -> list[Action]:
    """CNN actions from the accelerator's per-layer counters (``mac_cycles``, ``lb_access``, ``rom_reads``,
    ``out_beats``): MACs = mac_cycles·pe·simd; weights = rom_reads words of pe·simd bytes; line-buffer
    words of in_channels·in_bits bits (read = written). Leakage as in the analytic count."""
    shapes = net.layer_shapes()
    if len(stats) != len(shapes):
        raise ConfigError(f"activity.layers: {len(stats)} entries for {len(shapes)} layers of {net.name}")
    acts: list[Action] = []
    for shape, layer, st in zip(shapes, net.layers, stats):
        for key in ("mac_cycles", "lb_access", "rom_reads"):
            if not isinstance(st.get(key), int) or st[key] < 0:
                raise ConfigError(f"activity.layers[{shape.index}].{key}: needs a non-negative integer")
        name = f"layer{shape.index}_{shape.kind}"
        macs = st["mac_cycles"] * layer.pe * layer.simd
        if shape.index == 0 and net.input.format == "codes":
            acts.append(Action("cnn", f"{name}_adds", "add32", macs * adds_per_code(net.input.hi)))
        else:
            acts.append(Action("cnn", f"{name}_mults", "mult8", macs))
            acts.append(Action("cnn", f"{name}_accum", "add32", macs))
        w_bytes = shape.weight_count
        acts.append(Action("cnn", f"{name}_weights", "sram_read", st["rom_reads"] * layer.pe * layer.simd * 8 / 64,
                           bytes=w_bytes))
        c, _h, w = shape.in_shape
        word_bits = c * shape.in_bits
        k = layer.kernel if shape.kind == "conv" else 1
        lb_bytes = max(1, k - 1) * w * word_bits / 8
        acts.append(Action("cnn", f"{name}_linebuf", "sram_read", st["lb_access"] * word_bits / 64, bytes=lb_bytes))
        acts.append(Action("cnn", f"{name}_linebuf", "sram_write", st["lb_access"] * word_bits / 64, bytes=lb_bytes))
        acts.append(Action("cnn", f"{name}_leakage", "leak:sram_leakage_per_kib", (w_bytes + lb_bytes) / 1024))
    return acts
