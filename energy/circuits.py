"""Analog circuits at circuit level (CamJ's method, ISCA 2023, in logcam's own code): energy per action from
capacitances, supplies, bias currents and times, each parameter read from YAML with its unit and source.

Kinds and their energy per action (J; reported in pJ):

- ``aps``  one read of an active pixel (3T or 4T): the photodiode reset C_pd·V², the floating-diffusion reset
  C_fd·V² (4T), and per sample (2 with CDS: reset and signal) the source follower driving its column line:
  a static source follower draws its bias for the settling time, I·t from V, and must at least deliver the
  charge of its load and the column wire, (C_load + c_col·rows)·ΔV; the larger of the two is taken. Without a
  bias current the charge form V·(C_load + c_col·rows)·ΔV is used; ``dynamic: true`` (no static current, the
  load precharged and discharged through the swing) gives (C_load + c_col·rows)·ΔV².
- ``column_amp``  one sample-and-hold of a switched-capacitor amplifier (Razavi, *Design of Analog CMOS
  Integrated Circuits*, Fig. 13.5): the op-amp's current I for the hold time, V·I·t_hold, plus charging its
  input, feedback (C_in/G) and load capacitors, (C_in + C_in/G + C_load)·V². I is given, or from the gm/Id
  method: gm = 2π·C_load·G·f with f = 1/t_sample, I = gm/(gm/Id)·(2 if differential), gm/Id = 16 in moderate
  inversion (Jespers, *Systematic Design of Analog CMOS Circuits*, as CamJ uses it).
- ``comparator``  one decision: V·I_bias·t_decision.
- ``sc_array``  one switching of a passive switched-capacitor array: Σ C_i·ΔV_i² (each capacitor charged
  through its swing from a source at that swing).
- ``source_follower``  one drive of a load: V·C_load·ΔV (charge C·ΔV drawn from V).
- ``bias``  a static bias branch on for a time: V·I·t.
- ``adc``  one conversion, by Walden FoM (FoM·2^bits) or by a stated energy per conversion.
- ``pwm_pixel``  one frame of a pulse-width-modulation pixel (Hsu et al., JSSC 2021 and ISSCC 2022: the pixel
  compares its photodiode voltage with a ramp and outputs a pulse whose width is the light): the photodiode reset
  C_pd·V², and per readout the in-pixel comparator's input gate C_gate·V², the column line the pulse swings rail
  to rail (c_col·rows)·V², and the ramp line C_ramp·V² (charged from the supply through its swing; discharging it
  draws nothing from the supply — CamJ's model charges it twice).
- ``current_dac``  one conversion of a current-steering DAC (a weight as a current): the branch current that
  slews its load C_load through the supply V in t_readout, I = C_load·V/t (or a stated bias), drawn for
  t_readout: V·I·t (= C_load·V² when I is derived).
- ``time_to_voltage``  one output of a time-to-voltage multiply-accumulate: a current mirror integrates the
  weight current, gated by the pixel's pulse width, onto a sampling capacitor. The mirror's output branch
  delivers at most the charge that takes its load through the supply, V·I·t with I = C_load·V/t (or a
  stated bias), and the sampling capacitor is charged once, C_s·V_s².

The RDC that Young et al. built (JSSC 2019: column-parallel ratio-to-digital converter by successive capacitive
divisions) is the composition of these: per gradient the ratio-capacitor divider (``sc_array``) and its
source-follower buffer, per pixel the column amplifier, per decision the comparator — see chips.yaml.

A parameter outside its physical range (negative capacitance, bias current 0, supply above the node's limit,
NaN) is one :class:`ConfigError` line naming the circuit, the field and the allowed range.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from logcam.errors import ConfigError

#: Unit → factor to SI (F, A, V, s, J). ``1``: dimensionless.
UNITS: dict[str, float] = {
    "F": 1.0, "pF": 1e-12, "fF": 1e-15, "A": 1.0, "mA": 1e-3, "uA": 1e-6, "nA": 1e-9, "V": 1.0, "mV": 1e-3,
    "s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9, "J": 1.0, "pJ": 1e-12, "fJ": 1e-15, "fJ/step": 1e-15,
    "J/step": 1.0, "1": 1.0,
}
#: Physical quantity → (SI unit, low, high, low inclusive). Ranges are the physically meaningful ones for an
#: on-chip circuit; a supply's upper bound is the node's limit (:data:`SUPPLY_LIMIT_V`).
RANGES: dict[str, tuple[str, float, float, bool]] = {
    "capacitance": ("F", 0.0, 1e-9, True),   # 0 … 1 nF (0: an absent capacitor, e.g. C_fd of a 3T pixel)
    "current": ("A", 0.0, 1e-2, False),      # > 0 … 10 mA
    "voltage": ("V", 0.0, 5.0, False),       # > 0; supplies further bounded by the node
    "time": ("s", 0.0, 1.0, False),          # > 0 … 1 s
    "gain": ("1", 1.0, 1e4, True),           # closed-loop gain 1 … 10^4
    "count": ("1", 1.0, 1e6, True),          # rows, samples
    "bits": ("1", 1.0, 24.0, True),
    "fom": ("J/step", 0.0, 1e-11, False),    # > 0 … 10 pJ/step (Murmann's survey spans ~0.1 fJ … ~1 pJ/step)
    "energy": ("J", 0.0, 1e-6, False),       # > 0 … 1 µJ per action
}

#: Highest supply (V) a circuit may use at a node. ASSUMPTION (no single source): CIS processes of 65 nm and
#: above offer 3.3 V thick-oxide I/O devices used for pixels and column circuits; +10 % tolerance → 3.63 V.
#: Below 65 nm only 1.8 V I/O devices are assumed (+10 % → 1.98 V).
def supply_limit_v(node_nm: int) -> float:
    return 3.63 if node_nm >= 65 else 1.98


#: kind → {field: quantity}; fields in OPTIONAL may be left out.
FIELDS: dict[str, dict[str, str]] = {
    "aps": {"pd_capacitance": "capacitance", "fd_capacitance": "capacitance", "supply": "voltage",
            "swing": "voltage", "load_capacitance": "capacitance", "column_capacitance_per_pixel": "capacitance",
            "rows": "count", "samples": "count", "sf_bias": "current", "settle_time": "time"},
    "column_amp": {"supply": "voltage", "input_capacitance": "capacitance", "load_capacitance": "capacitance",
                   "gain": "gain", "t_sample": "time", "t_hold": "time", "bias": "current"},
    "comparator": {"supply": "voltage", "bias": "current", "t_decision": "time"},
    "sc_array": {},  # capacitances / swings lists
    "source_follower": {"supply": "voltage", "swing": "voltage", "load_capacitance": "capacitance"},
    "bias": {"supply": "voltage", "current": "current", "time": "time"},
    "adc": {"bits": "bits", "fom": "fom", "energy_per_conversion": "energy"},
    "pwm_pixel": {"pd_capacitance": "capacitance", "gate_capacitance": "capacitance",
                  "ramp_capacitance": "capacitance", "column_capacitance_per_pixel": "capacitance",
                  "rows": "count", "supply": "voltage", "readouts": "count"},
    "current_dac": {"supply": "voltage", "load_capacitance": "capacitance", "t_readout": "time", "bias": "current"},
    "time_to_voltage": {"supply": "voltage", "load_capacitance": "capacitance", "t_readout": "time",
                        "bias": "current", "sample_capacitance": "capacitance", "sample_supply": "voltage"},
}
OPTIONAL: dict[str, set[str]] = {
    "aps": {"sf_bias", "settle_time"}, "column_amp": {"bias"}, "adc": {"bits", "fom", "energy_per_conversion"},
    "current_dac": {"bias"}, "time_to_voltage": {"bias"},
}
#: Flags (booleans) a kind takes.
FLAGS: dict[str, tuple[str, ...]] = {"aps": ("dynamic",), "column_amp": ("differential",)}
#: Kinds with capacitor lists (``capacitances`` and ``swings``, the same length).
LISTS = ("sc_array",)
#: gm/Id in moderate inversion (S/A): Jespers, as CamJ's energy_utils.gm_id uses it.
GM_ID_MODERATE = 16.0


def _check(v: object, quantity: str, where: str, node_nm: int | None = None, is_supply: bool = False,
           shown: str | None = None) -> float:
    unit, lo, hi, lo_in = RANGES[quantity]
    if is_supply and node_nm is not None:
        hi = min(hi, supply_limit_v(node_nm))
    x = float(v) if not isinstance(v, bool) and isinstance(v, (int, float)) else math.nan
    ok = math.isfinite(x) and (x >= lo if lo_in else x > lo) and x <= hi
    if quantity in ("count", "bits") and ok:
        ok = x.is_integer()
    if not ok:
        what = f"{'[' if lo_in else '('}{lo:g} … {hi:g}] {unit}"
        node = f" at {node_nm} nm" if is_supply and node_nm is not None else ""
        whole = " (a whole number)" if quantity in ("count", "bits") else ""
        raise ConfigError(f"{where}: {shown or repr(v)} is outside the physical range of a {quantity}{node}: "
                          f"{what}{whole}")
    return x


def _param(p: object, quantity: str, where: str, node_nm: int, is_supply: bool = False) -> float:
    """A parameter ``{value, unit[, source]}`` in SI units, range-checked."""
    if not isinstance(p, dict) or "value" not in p or "unit" not in p:
        raise ConfigError(f"{where}: expected {{value, unit, source}} (unit one of {', '.join(UNITS)})")
    extra = set(p) - {"value", "unit", "source"}
    if extra:
        raise ConfigError(f"{where}.{sorted(extra)[0]}: unknown key (allowed: value, unit, source)")
    unit = p["unit"]
    want = RANGES[quantity][0]
    ok_units = [u for u in UNITS if u == want or (u != "1" and _base(u) == want)]
    if unit not in ok_units:
        raise ConfigError(f"{where}.unit: one of {', '.join(ok_units)} for a {quantity} (got {unit!r})")
    v = p["value"]
    x = float(v) * UNITS[unit] if not isinstance(v, bool) and isinstance(v, (int, float)) else math.nan
    return _check(x if math.isfinite(x) else v, quantity, f"{where}.value", node_nm, is_supply,
                  shown=f"{v!r} {unit}")


def _base(unit: str) -> str:
    for base in ("J/step", "F", "A", "V", "s", "J"):
        if unit == base or (unit.endswith(base) and len(unit) == len(base) + 1 and unit[0] in "mupnf"):
            return base
    return unit


@dataclass(frozen=True)
class Circuit:
    """One analog circuit: its kind, SI parameters, flags, capacitor lists, node and source."""

    name: str
    kind: str
    node_nm: int
    params: dict[str, float]
    flags: dict[str, bool]
    caps: tuple[float, ...]
    swings: tuple[float, ...]
    source: str

    def energy_j(self) -> float:
        """Energy of one action (J), from the physics of its kind (see the module docstring)."""
        p, k = self.params, self.kind
        if k == "aps":
            v, dv = p["supply"], p["swing"]
            c_line = p["load_capacitance"] + p["column_capacitance_per_pixel"] * p["rows"]
            if self.flags.get("dynamic"):
                per_sample = c_line * dv * dv
            else:
                per_sample = v * c_line * dv
                if "sf_bias" in p:
                    per_sample = max(per_sample, v * p["sf_bias"] * p["settle_time"])
            return (p["pd_capacitance"] + p["fd_capacitance"]) * v * v + p["samples"] * per_sample
        if k == "column_amp":
            v, g, cin, cl = p["supply"], p["gain"], p["input_capacitance"], p["load_capacitance"]
            i = p.get("bias")
            if i is None:
                gm = 2 * math.pi * cl * g / p["t_sample"]
                i = gm / GM_ID_MODERATE * (2 if self.flags.get("differential") else 1)
            return v * i * p["t_hold"] + (cin + cin / g + cl) * v * v
        if k == "comparator":
            return p["supply"] * p["bias"] * p["t_decision"]
        if k == "sc_array":
            return sum(c * s * s for c, s in zip(self.caps, self.swings))
        if k == "source_follower":
            return p["supply"] * p["load_capacitance"] * p["swing"]
        if k == "bias":
            return p["supply"] * p["current"] * p["time"]
        if k == "adc":
            return p["energy_per_conversion"] if "energy_per_conversion" in p else p["fom"] * 2 ** p["bits"]
        if k == "pwm_pixel":
            v2 = p["supply"] ** 2
            per_read = (p["gate_capacitance"] + p["column_capacitance_per_pixel"] * p["rows"]
                        + p["ramp_capacitance"]) * v2
            return p["pd_capacitance"] * v2 + p["readouts"] * per_read
        if k in ("current_dac", "time_to_voltage"):
            v, t = p["supply"], p["t_readout"]
            i = p.get("bias", p["load_capacitance"] * v / t)
            e = v * i * t
            if k == "time_to_voltage":
                e += p["sample_capacitance"] * p["sample_supply"] ** 2
            return e
        raise AssertionError(k)  # kinds are checked on load

    def energy_pj(self) -> float:
        return self.energy_j() * 1e12


def load_circuit(name: str, d: object, where: str) -> Circuit:
    """One circuit entry ``{kind, node_nm, source, params: {field: {value, unit[, source]}}, …}``, checked."""
    where = f"{where}.{name}"
    if not isinstance(d, dict):
        raise ConfigError(f"{where}: expected {{kind, node_nm, source, params}}")
    kind = d.get("kind")
    if kind not in FIELDS:
        raise ConfigError(f"{where}.kind: one of {', '.join(FIELDS)} is required (got {kind!r})")
    allowed = {"kind", "node_nm", "source", "params", *FLAGS.get(kind, ()),
               *(("capacitances", "swings") if kind in LISTS else ())}
    for key in d:
        if key not in allowed:
            raise ConfigError(f"{where}.{key}: unknown key for a {kind} (allowed: {', '.join(sorted(allowed))})")
    src = d.get("source")
    if not isinstance(src, str) or not src.strip():
        raise ConfigError(f"{where}.source: required (where every parameter of this circuit comes from)")
    node = d.get("node_nm")
    if isinstance(node, bool) or not isinstance(node, int) or not 5 <= node <= 1000:
        raise ConfigError(f"{where}.node_nm: the circuit's process node, a whole number of nm in 5 … 1000 "
                          f"(got {node!r})")
    params_in = d.get("params") or {}
    if not isinstance(params_in, dict):
        raise ConfigError(f"{where}.params: expected field → {{value, unit, source}}")
    fields = FIELDS[kind]
    params: dict[str, float] = {}
    for f, p in params_in.items():
        if f not in fields:
            raise ConfigError(f"{where}.params.{f}: unknown for a {kind} (allowed: {', '.join(fields) or 'none'})")
        params[f] = _param(p, fields[f], f"{where}.params.{f}", node, is_supply=f in ("supply", "sample_supply"))
    missing = [f for f in fields if f not in params and f not in OPTIONAL.get(kind, set())]
    if missing:
        raise ConfigError(f"{where}.params.{missing[0]}: required for a {kind} "
                          f"(a {fields[missing[0]]} in {RANGES[fields[missing[0]]][0]})")
    if kind == "adc" and ("fom" in params) == ("energy_per_conversion" in params):
        raise ConfigError(f"{where}.params: an adc needs exactly one of fom (with bits) or energy_per_conversion")
    if kind == "adc" and "fom" in params and "bits" not in params:
        raise ConfigError(f"{where}.params.bits: required with fom (a Walden FoM is per conversion step, 2^bits)")
    if kind == "aps":
        if ("sf_bias" in params) != ("settle_time" in params):
            raise ConfigError(f"{where}.params.settle_time: sf_bias and settle_time go together (V·I·t per sample)")
        if params["samples"] > 2:
            raise ConfigError(f"{where}.params.samples.value: 1 or 2 (2 with correlated double sampling)")
        if params["swing"] > params["supply"]:
            raise ConfigError(f"{where}.params.swing.value: {params['swing']:g} V is outside the physical range "
                              f"(0 … supply {params['supply']:g}] V")
    if kind == "source_follower" and params["swing"] > params["supply"]:
        raise ConfigError(f"{where}.params.swing.value: {params['swing']:g} V is outside the physical range "
                          f"(0 … supply {params['supply']:g}] V")
    flags = {}
    for fl in FLAGS.get(kind, ()):
        if fl in d:
            if not isinstance(d[fl], bool):
                raise ConfigError(f"{where}.{fl}: true or false (got {d[fl]!r})")
            flags[fl] = d[fl]
    caps: tuple[float, ...] = ()
    swings: tuple[float, ...] = ()
    if kind in LISTS:
        cl, sl = d.get("capacitances"), d.get("swings")
        for key, lst in (("capacitances", cl), ("swings", sl)):
            if not isinstance(lst, dict) or not isinstance(lst.get("values"), list) or not lst["values"]:
                raise ConfigError(f"{where}.{key}: expected {{values: [...], unit}} with at least one value")
        if len(cl["values"]) != len(sl["values"]):
            raise ConfigError(f"{where}.swings.values: one swing per capacitor ({len(cl['values'])} capacitors, "
                              f"{len(sl['values'])} swings)")
        caps = tuple(_param({"value": c, "unit": cl.get("unit")}, "capacitance", f"{where}.capacitances[{i}]", node)
                     for i, c in enumerate(cl["values"]))
        swings = tuple(_param({"value": s, "unit": sl.get("unit")}, "voltage", f"{where}.swings[{i}]", node,
                              is_supply=True) for i, s in enumerate(sl["values"]))
    return Circuit(name, kind, node, params, flags, caps, swings, src)


def load_circuits(d: object, where: str) -> dict[str, Circuit]:
    """A mapping name → circuit entry (the ``circuits:`` section of a chips file)."""
    if d is None:
        return {}
    if not isinstance(d, dict):
        raise ConfigError(f"{where}: expected a mapping of circuit name → {{kind, node_nm, source, params}}")
    return {str(n): load_circuit(str(n), c, where) for n, c in d.items()}
