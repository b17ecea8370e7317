"""Chip area (logcam.energy.area): sourced per-part areas, the count from the accelerator's Yosys statistics,
and the signed-maps stem against the folded one."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from logcam.config import embedded_config
from logcam.energy.area import COMPONENTS, chip_area, layer_area_um2, load_area_table
from logcam.errors import ConfigError
from logcam.frontend import optical_input, retarget
from logcam.nn.netspec import Bundle, LayerParams, NetSpec
from logcam.nn.optics import fold_pairs, optical_config
from logcam.sim.rtl.emit import layer_stats

TABLE = load_area_table()


def test_every_entry_is_sourced_and_follows_its_cited_figures():
    for name, e in TABLE.entries.items():
        assert e.source.strip() and e.unit == "um2", name
    # the cited rows: Aladdin's 5 ns adder, multiplier, shifter, bitwise unit (32 bits) and register; CACTI's 146 F²
    assert TABLE.um2("adder_bit") * 32 == pytest.approx(179.4430, rel=1e-6)
    assert TABLE.um2("mult_bit2") * 32**2 == pytest.approx(4595.0, rel=1e-6)
    assert TABLE.um2("shifter_bit") * 32 == pytest.approx(519.7551, rel=1e-6)
    assert TABLE.um2("logic_bit") * 32 == pytest.approx(50.36996, rel=1e-6)
    assert TABLE.um2("sram_cell") == pytest.approx(146 * (TABLE.node_nm * 1e-3) ** 2, rel=1e-9)


def test_layer_area_counts_each_part_once():
    st = {"cells": {"$mul": 2, "$add": 3, "$sshr": 1, "$mux": 4, "$eq": 5, "$sdffe": 2, "$mem_v2": 1},
          "cell_bits": {"$mul": 32, "$add": 30, "$sshr": 12, "$mux": 20, "$eq": 5, "$sdffe": 40, "$mem_v2": 800},
          "num_ff_bits": 40, "num_memory_bits": 800}
    got = layer_area_um2(st, TABLE)
    assert set(got) == set(COMPONENTS)
    assert got["flip_flops"] == pytest.approx(40 * TABLE.um2("ff_bit"))
    assert got["memory"] == pytest.approx(800 * TABLE.um2("sram_cell"))
    assert got["multipliers"] == pytest.approx(2 * 8 * 8 * TABLE.um2("mult_bit2"))   # two 8×8 (16-bit) products
    assert got["adders"] == pytest.approx(30 * TABLE.um2("adder_bit"))
    assert got["shifters"] == pytest.approx(12 * TABLE.um2("shifter_bit"))
    assert got["logic"] == pytest.approx(20 * TABLE.um2("logic_bit"))
    area = chip_area([st], sensor_mm2=0.5)
    assert area.not_costed == {"$eq": 5} and area.total_mm2 == pytest.approx(0.5 + sum(got.values()) * 1e-6)


def test_bad_area_table_is_one_line(tmp_path: Path):
    p = tmp_path / "area.yaml"
    p.write_text("name: x\nnode_nm: 40\nentries:\n  ff_bit: {value: -1, unit: um2, source: s}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        load_area_table(str(p))
    assert "\n" not in str(e.value) and "value" in str(e.value)


def _folded(spec: NetSpec, bundle: Bundle) -> tuple[NetSpec, Bundle]:
    """The same network on the six uint8 regions, the pairs folded into the stem ([W, −W])."""
    cfg = optical_config({})
    net = retarget(spec, optical_input(cfg.regions, cfg.feature_maps, spec.input.height, spec.input.width),
                   keep_size=False)
    first = bundle.layers[0]
    w = fold_pairs(cfg, torch.from_numpy(first.weight.astype(np.int64))).numpy().astype(np.int8)
    return net, Bundle((LayerParams(w, first.bias, first.mult, first.shift), *bundle.layers[1:]), bundle.scales)


def test_signed_maps_stem_is_smaller_than_the_folded_one():
    spec = NetSpec.load(embedded_config("nets/optical_quick.yaml"))
    bundle = Bundle.load(spec, embedded_config("nets/optical_quick.npz"))
    assert spec.input.format == "int8" and spec.input.channels == 3
    signed = layer_stats(spec, bundle)
    folded = layer_stats(*_folded(spec, bundle))
    a, b = chip_area(signed), chip_area(folded)
    assert a.layers_mm2[0] < b.layers_mm2[0] and a.layers_mm2[1:] == pytest.approx(b.layers_mm2[1:])
    assert int(signed[0]["num_memory_bits"]) < int(folded[0]["num_memory_bits"])   # half the stem's weights
    assert a.accelerator_mm2 == pytest.approx(sum(a.components_mm2.values())) and a.components_mm2["memory"] > 0
