"""Blocks of the accelerator under amaranth.sim, and whole small networks against the golden model."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from amaranth.hdl import signed
from amaranth.sim import Simulator

from logcam.hw.accel.net import Accelerator
from logcam.hw.accel.requant import Requantizer, csd_digits
from logcam.hw.accel.window import WindowGen
from logcam.nn.golden.accel import run as golden_run
from logcam.nn.netspec import Bundle, NetSpec, random_bundle
from logcam.nn.quant import requantize
from logcam.sim.rtl.accel_verify import Capture, compare_all, verify_accel


def _net(inp: dict, layers: list[dict], rounding: str = "half_up", **quant: object) -> NetSpec:
    return NetSpec.model_validate({"input": inp, "layers": layers, "quant": {"rounding": rounding, **quant}})


def test_csd_digits_rebuild_the_value() -> None:
    rng = np.random.default_rng(5)
    for v in [0, 1, 2, 3, 7, 255, 32767, 2**31 - 1, *rng.integers(0, 2**31, 200).tolist()]:
        d = csd_digits(int(v))
        assert sum(s << b for b, s in d) == v
        assert all(b2 - b1 >= 2 for (b1, _), (b2, _) in zip(d, d[1:]))  # non-adjacent form


@pytest.mark.parametrize("rounding", ["half_up", "half_even"])
@pytest.mark.parametrize("const_mult", [False, True])
def test_requantizer_matches_nn_quant(rounding: str, const_mult: bool) -> None:
    """Tie-heavy and extreme accumulators through 4 channels (shift 0, 1, 13, 47) in 2 lanes."""
    mult = [1, 3, 21845, 32767]
    shift = [0, 1, 13, 47]
    lo, hi, zp = -5, 100, 3
    pe = 2
    rq = Requantizer(mult=mult, shift=shift, pe=pe, acc_bits=32, act_bits=8, mult_bits=16, rounding=rounding,
                     zero_point=zp, lo=lo, hi=hi, const_mult=const_mult)
    rng = np.random.default_rng(11)
    ties = [(2 * k + 1) << 12 for k in range(-6, 6)]  # exact halves for the shift-13 channel with m = 1
    vals = [0, 1, -1, 2, -2, 3, -3, 2**31 - 1, -(2**31), *ties, *rng.integers(-(2**31), 2**31, 40).tolist()]
    acc = np.array(vals, dtype=np.int64)
    n = len(acc)
    # every value through every channel: rows = values, cols = channels
    want = requantize(torch.from_numpy(np.repeat(acc[:, None], 4, axis=1)), torch.tensor(mult), torch.tensor(shift),
                      rounding=rounding, zero_point=zp, lo=lo, hi=hi, channel_dim=1).numpy()
    got = np.zeros((n, 4), dtype=np.int64)

    async def tb(ctx):
        ctx.set(rq.en, 1)
        outs = []
        feed = [(v, g) for v in range(n) for g in range(2)]
        for step in range(len(feed) + 3):
            if step < len(feed):
                v, g = feed[step]
                ctx.set(rq.i_valid, 1)
                ctx.set(rq.i_group, g)
                for lane in range(pe):
                    ctx.set(rq.i_acc[lane], int(acc[v]))
            else:
                ctx.set(rq.i_valid, 0)
            _, _, valid, group, q = await ctx.tick().sample(rq.o_valid, rq.o_group, rq.o_q)
            if valid:
                outs.append((group, [int(q[lane]) for lane in range(pe)]))
        assert len(outs) == len(feed)
        for (v, g), (og, q) in zip(feed, outs):
            assert og == g
            for lane in range(pe):
                got[v, g * pe + lane] = q[lane]

    sim = Simulator(rq)
    sim.add_clock(1e-8)
    sim.add_testbench(tb)
    sim.run()
    bad = np.argwhere(got != want)
    assert not len(bad), f"{len(bad)} differ, first acc={acc[bad[0][0]]} ch={bad[0][1]}: " \
                         f"want {want[tuple(bad[0])]} got {got[tuple(bad[0])]}"


def test_window_generator_windows_equal_padded_slices() -> None:
    """Stride 2, pad 1, k 3 on a 2-channel 5×6 frame, twice back to back, consumer taking every other cycle."""
    c, h, w, k, pad, stride = 2, 5, 6, 3, 1, 2
    wg = WindowGen(channels=c, height=h, width=w, shape=signed(4), kernel=k, pad=pad, stride=stride)
    rng = np.random.default_rng(2)
    frames = rng.integers(-8, 8, size=(2, c, h, w))
    xp = np.pad(frames, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    want = [xp[f, :, y:y + k, x:x + k] for f in range(2) for y in range(0, h + 2 * pad - k + 1, stride)
            for x in range(0, w + 2 * pad - k + 1, stride)]
    got = []

    async def source(ctx):
        for f in range(2):
            for y in range(h):
                for x in range(w):
                    for ch in range(c):
                        ctx.set(wg.i.payload.data[ch], int(frames[f, ch, y, x]))
                    ctx.set(wg.i.valid, 1)
                    await ctx.tick().until(wg.i.ready)
        ctx.set(wg.i.valid, 0)

    async def consumer(ctx):
        cyc = 0
        while len(got) < len(want) and cyc < 2000:
            take = cyc % 2 == 0
            ctx.set(wg.take, int(take) & ctx.get(wg.win_valid))
            _, _, valid, win = await ctx.tick().sample(wg.win_valid, wg.win)
            if valid and take:
                got.append(np.array([[[int(win[ky][kx][ch]) for kx in range(k)] for ky in range(k)]
                                     for ch in range(c)]))
            cyc += 1

    sim = Simulator(wg)
    sim.add_clock(1e-8)
    sim.add_testbench(source, background=True)
    sim.add_testbench(consumer)
    sim.run()
    assert len(got) == len(want)
    for j, (a, b) in enumerate(zip(want, got)):
        assert np.array_equal(a, b), f"window {j}: want {a.tolist()} got {b.tolist()}"


NETS = [
    pytest.param(_net({"channels": 1, "height": 8, "width": 8, "format": "codes", "levels": 3},
                      [{"type": "conv", "out_channels": 4, "kernel": 3, "pad": 1, "pool": 2, "pe": 2, "simd": 3},
                       {"type": "fc", "out_features": 3, "pe": 1, "simd": 2}]), 1.0, id="codes3-pool-fold"),
    pytest.param(_net({"channels": 2, "height": 9, "width": 7, "format": "codes", "levels": 5},
                      [{"type": "conv", "out_channels": 3, "kernel": 3, "stride": 2, "relu": False, "pe": 3,
                        "simd": 18},
                       {"type": "conv", "out_channels": 4, "kernel": 2, "pad": 1, "pool": 2, "pe": 1, "simd": 4},
                       {"type": "fc", "out_features": 5, "pe": 5, "simd": 4}], "half_even", zero_point=-3),
                 0.6, id="codes5-stride-halfeven-random-handshake"),
    pytest.param(_net({"channels": 3, "height": 6, "width": 7, "format": "uint8", "levels": None},
                      [{"type": "conv", "out_channels": 2, "kernel": 3, "pad": 2, "pool": 2, "pe": 1, "simd": 9},
                       {"type": "fc", "out_features": 4, "pe": 2, "simd": 1},
                       {"type": "fc", "out_features": 2, "relu": False}], act_bits=6),
                 0.7, id="uint8-two-fc-act6"),
]


@pytest.mark.rtl
@pytest.mark.parametrize(("spec", "p"), NETS)
def test_small_nets_bit_exact_in_amaranth_sim(spec: NetSpec, p: float) -> None:
    bundle = random_bundle(spec, seed=7)
    x = np.random.default_rng(3).integers(spec.input.lo, spec.input.hi + 1, size=(3, *spec.input.shape))
    r = verify_accel(spec, bundle, x, sim="amaranth", seed=4, p_valid=p, p_ready=p)
    assert r.passed, r.summary()
    assert not r.extra["timed_out"]


def test_compare_names_frame_layer_channel_and_coordinates() -> None:
    """The comparison itself: one corrupted activation and one corrupted label are reported exactly."""
    spec = NETS[0].values[0]
    bundle = random_bundle(spec, seed=1)
    x = np.random.default_rng(0).integers(-1, 2, size=(2, *spec.input.shape))
    g = golden_run(spec, bundle, x)
    streams = {}
    for i, act in enumerate(g.acts):
        a = act.numpy().astype(np.int64)
        a = a.reshape(a.shape[0], -1, 1, 1) if a.ndim == 2 else a
        n, c, h, w = a.shape
        data = a.transpose(0, 2, 3, 1).reshape(-1, c).copy()
        xs = np.tile(np.arange(w), n * h)
        ys = np.tile(np.repeat(np.arange(h), w), n)
        streams[f"tap{i}"] = {"data": data, "first": ((xs == 0) & (ys == 0)).astype(np.int64),
                              "last": (xs == w - 1).astype(np.int64)}
    labels = g.labels.numpy().astype(np.int64).copy()
    streams["o"] = {"label": labels}
    assert compare_all(spec, g, Capture(streams, np.zeros(0)))[0] == 0
    # frame 1, channel 2, row 3, col 1 of layer 0 (4×4 after pooling)
    streams["tap0"]["data"][16 + 3 * 4 + 1, 2] += 1
    streams["o"]["label"][0] = (labels[0] + 1) % 3
    count, found = compare_all(spec, g, Capture(streams, np.zeros(0)))
    assert count == 2
    m0 = found[0]
    assert (m0.frame, m0.channel, m0.row, m0.col, m0.layer.split()[0]) == (1, 2, 3, 1, "0")
    assert m0.got == m0.expected + 1
    assert found[1].what == "label" and found[1].frame == 0


@pytest.mark.filterwarnings("ignore:.*created but never used")
def test_bad_hardware_parameters_are_plain_errors() -> None:
    spec = NETS[0].values[0]
    other = _net({"channels": 1, "height": 8, "width": 8, "format": "codes", "levels": 3},
                 [{"type": "conv", "out_channels": 2, "kernel": 3}, {"type": "fc", "out_features": 3}])
    with pytest.raises(ValueError, match="weights have shape"):
        Accelerator(spec, random_bundle(other, 0))
    with pytest.raises(ValueError, match="bundle has 1 layers"):
        Accelerator(spec, Bundle(random_bundle(spec, 0).layers[:1], {}))
    fc_bad = _net({"channels": 1, "height": 4, "width": 4, "format": "codes", "levels": 3},
                  [{"type": "conv", "out_channels": 2, "kernel": 3, "pad": 1}, {"type": "fc", "out_features": 2,
                                                                                  "simd": 4}])
    with pytest.raises(ValueError, match=r"simd .4. must divide the input channels"):
        Accelerator(fc_bad, random_bundle(fc_bad, 0))
    with pytest.raises(ValueError, match="pad"):
        WindowGen(channels=1, height=4, width=4, shape=signed(2), kernel=3, pad=3)


@pytest.mark.rtl
@pytest.mark.parametrize("seed", range(6))
def test_random_nets_bit_exact_in_amaranth_sim(seed: int) -> None:
    """Random NetSpecs (both input formats and rounding modes), random handshakes, 2 frames."""
    from logcam.sim.rtl.accel_verify import random_netspec

    rng = np.random.default_rng(100 + seed)
    spec = random_netspec(rng, ("codes", "uint8")[seed % 2], ("half_up", "half_even")[(seed // 2) % 2])
    bundle = random_bundle(spec, seed=seed)
    x = rng.integers(spec.input.lo, spec.input.hi + 1, size=(2, *spec.input.shape))
    r = verify_accel(spec, bundle, x, sim="amaranth", seed=seed, p_valid=0.7, p_ready=0.7)
    assert r.passed, f"{spec.model_dump_json()}\n{r.summary()}"
