"""Export a NetSpec + Bundle as an ONNX graph of integer operators (QLinearConv, Clip, MaxPool, ArgMax).

The graph computes what nn/golden/accel.py computes, in ONNX's own terms:

- every conv is a ``QLinearConv`` with x_scale = y_scale = 1, per-channel w_scale = m/2^s (exact in
  float32 since m < 2^24 and 2^−s is a power of two), w_zero_point = 0, y_zero_point = the NetSpec's
  zero point and the int32 bias B (scale x_scale·w_scale, so acc = Σ w·(x − x_zp) + B exactly);
- the clamp (ReLU at the zero point, act_bits < 8) is a ``Clip`` on int8, the pool a 2×2 ``MaxPool``
  (stride 2, floor) on int8;
- an fc layer is a 1×1 ``QLinearConv`` on the input reshaped to N×F×1×1 (F = C·H·W in C, H, W order,
  PyTorch's flatten), because ``QLinearMatMul`` has no bias input;
- pointwise is a 1×1 ``QLinearConv``, depthwise a ``QLinearConv`` with group = C;
- add is ``com.microsoft.QLinearAdd`` with a_scale = m_a/2^s, b_scale = m_b/2^s, zero points 0 and
  y_scale = 1: ORT forms a·m_a/2^s + b·m_b/2^s in float32 (exact: |a·m_a + b·m_b| < 2^24 for
  mult_bits ≤ 16) and rounds it once to nearest even, as the NetSpec's add in half_even;
- avgpool_global is ``com.microsoft.QLinearGlobalAveragePool`` with x_scale = m·H·W/2^s and y_scale = 1:
  ORT's scale x_scale/(y_scale·H·W) is then exactly m/2^s (needs m·H·W < 2^24), applied to the int32 sum;
- later layers get x_zero_point = 0: the NetSpec accumulates the raw int8 activations (zero point
  included) and pads with raw 0, and so does this graph;
- an 8-bit (uint8) input is moved to int8 by x − 128 (Cast, Sub, Cast) and fed with x_zero_point = −128,
  which keeps the padding at value 0;
- outputs: ``layer{i}`` (int8 activations of layer i, after clamp and pool; fc: N×O), ``logits`` and
  ``labels`` (ArgMax, first maximum).

ONNX requantizes with ties to even, so the graph implements ``rounding: half_even`` whatever the
NetSpec says. onnxruntime evaluates it as float32(acc) · float32(m/2^s), rounded to nearest even: that
equals the exact half_even result whenever acc·m is exactly representable in float32 (at most 24
significant bits; |acc·m| < 2^24 is sufficient) — see :func:`ort_exact` and docs/netspec.md.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper

from logcam.errors import InputError
from logcam.files import atomic_write
from logcam.nn.netspec import (
    Bundle,
    ConvSpec,
    DepthwiseSpec,
    LayerParams,
    LayerShape,
    LayerSpec,
    NetSpec,
    PointwiseSpec,
)

OPSET = 19
MS_DOMAIN = "com.microsoft"  # QLinearAdd, QLinearGlobalAveragePool (onnxruntime contrib operators)


def _init(name: str, arr: np.ndarray) -> onnx.TensorProto:
    return numpy_helper.from_array(np.asarray(arr), name=name)


def build_model(spec: NetSpec, bundle: Bundle) -> onnx.ModelProto:
    """The ONNX model (opset 19) of ``spec`` with ``bundle``'s integers; batch dimension ``N`` is free."""
    if len(bundle.layers) != len(spec.layers):
        raise InputError(f"bundle has {len(bundle.layers)} layers, the NetSpec {len(spec.layers)}")
    q = spec.quant
    nodes: list[onnx.NodeProto] = []
    inits: list[onnx.TensorProto] = [_init("one", np.float32(1.0))]
    in_type = TensorProto.UINT8 if spec.input.format == "uint8" else TensorProto.INT8
    c, h, w = spec.input.shape
    graph_in = helper.make_tensor_value_info("input", in_type, ["N", c, h, w])
    x = "input"
    if spec.input.format == "uint8":
        inits += [_init("u8_offset", np.int32(128)), _init("x_zp_in", np.int8(-128))]
        nodes += [helper.make_node("Cast", ["input"], ["input_i32"], to=TensorProto.INT32),
                  helper.make_node("Sub", ["input_i32", "u8_offset"], ["input_c"]),
                  helper.make_node("Cast", ["input_c"], ["input_i8"], to=TensorProto.INT8)]
        x = "input_i8"
    else:
        inits.append(_init("x_zp_in", np.int8(0)))
    x_zp = "x_zp_in"
    inits += [_init("y_zp", np.int8(q.zero_point)), _init("x_zp_raw", np.int8(0))]
    outputs: list[onnx.ValueInfoProto] = []
    layer_out: list[str] = []  # the ONNX tensor of every layer's int8 output (an add reads its skip layer's)
    for shape, layer, lp in zip(spec.layer_shapes(), spec.layers, bundle.layers):
        i = shape.index
        p = f"l{i}_"
        n_out = shape.conv_shape[0]
        if shape.kind == "add":
            sc = lp.mult.astype(np.float64) / np.exp2(float(lp.shift[0]))
            inits += [_init(p + "a_scale", np.float32(sc[0])), _init(p + "b_scale", np.float32(sc[1]))]
            nodes.append(helper.make_node(
                "QLinearAdd", [x, p + "a_scale", "x_zp_raw", layer_out[shape.skip], p + "b_scale", "x_zp_raw", "one",
                               "y_zp"], [p + "q"], domain=MS_DOMAIN))
        elif shape.kind == "avgpool_global":
            hw = shape.in_shape[1] * shape.in_shape[2]
            x_scale = np.float32(float(lp.mult[0]) * hw / 2.0 ** float(lp.shift[0]))
            if float(x_scale) * 2.0 ** float(lp.shift[0]) != float(lp.mult[0]) * hw:
                raise InputError(f"layer {i}: avgpool_global m·H·W = {int(lp.mult[0]) * hw} does not fit float32 "
                                 f"(needs < 2^24)")
            inits.append(_init(p + "x_scale", x_scale))
            nodes.append(helper.make_node("QLinearGlobalAveragePool", [x, p + "x_scale", x_zp, "one", "y_zp"],
                                          [p + "q"], domain=MS_DOMAIN, channels_last=0))
        else:
            _conv_node(nodes, inits, p, layer, lp, shape, x, x_zp)
        y = p + "q"
        lo, hi = spec.clamp_of(i)
        if lo > -128 or hi < 127:
            inits += [_init(p + "lo", np.int8(lo)), _init(p + "hi", np.int8(hi))]
            nodes.append(helper.make_node("Clip", [y, p + "lo", p + "hi"], [p + "clip"]))
            y = p + "clip"
        if isinstance(layer, ConvSpec) and layer.pool == 2:
            nodes.append(helper.make_node("MaxPool", [y], [p + "pool"], kernel_shape=[2, 2], strides=[2, 2]))
            y = p + "pool"
        out_name = f"layer{i}"
        if shape.kind != "fc":
            nodes.append(helper.make_node("Identity", [y], [out_name]))
            outputs.append(helper.make_tensor_value_info(out_name, TensorProto.INT8, ["N", *shape.out_shape]))
        else:
            inits.append(_init(p + "shape2", np.array([0, -1], np.int64)))
            nodes.append(helper.make_node("Reshape", [y, p + "shape2"], [out_name]))
            outputs.append(helper.make_tensor_value_info(out_name, TensorProto.INT8, ["N", n_out]))
        layer_out.append(y)
        x, x_zp = y, "x_zp_raw"  # the NetSpec multiplies raw int8 activations: acc = Σ w·x + bias
    last = f"layer{len(spec.layers) - 1}"
    nodes += [helper.make_node("Identity", [last], ["logits"]),
              helper.make_node("Cast", [last], ["logits_i32"], to=TensorProto.INT32),
              helper.make_node("ArgMax", ["logits_i32"], ["labels"], axis=1, keepdims=0, select_last_index=0)]
    outputs += [helper.make_tensor_value_info("logits", TensorProto.INT8, ["N", spec.num_classes]),
                helper.make_tensor_value_info("labels", TensorProto.INT64, ["N"])]
    graph = helper.make_graph(nodes, spec.name, [graph_in], outputs, initializer=inits)
    opsets = [helper.make_opsetid("", OPSET)]
    if any(n.domain == MS_DOMAIN for n in nodes):
        opsets.append(helper.make_opsetid(MS_DOMAIN, 1))
    model = helper.make_model(graph, opset_imports=opsets, producer_name="logcam")
    model.ir_version = 9
    model.doc_string = (f"logcam NetSpec {spec.name}: integer CNN, requantization ties-to-even (half_even); "
                        f"NetSpec rounding is {q.rounding}")
    helper.set_model_props(model, {"logcam.netspec": spec.model_dump_json(), "logcam.rounding": "half_even"})
    onnx.checker.check_model(model)
    return model


def _conv_node(nodes: list[onnx.NodeProto], inits: list[onnx.TensorProto], p: str, layer: LayerSpec,
               lp: LayerParams, shape: LayerShape, x: str, x_zp: str) -> None:
    """The QLinearConv of a conv, pointwise, depthwise or fc layer on tensor ``x`` (output ``{p}q``)."""
    n_out = shape.conv_shape[0]
    scale = (lp.mult.astype(np.float64) / np.exp2(lp.shift.astype(np.float64))).astype(np.float32)
    if not np.array_equal(scale.astype(np.float64) * np.exp2(lp.shift.astype(np.float64)), lp.mult):
        raise InputError(f"layer {shape.index}: requant multiplier does not fit float32 (needs m < 2^24)")
    inits += [_init(p + "w_scale", scale), _init(p + "w_zp", np.zeros(n_out, np.int8)),
              _init(p + "b", lp.bias.astype(np.int32))]
    src = x
    if isinstance(layer, (ConvSpec, DepthwiseSpec)):
        inits.append(_init(p + "w", lp.weight.astype(np.int8)))
        attrs: dict[str, object] = {"kernel_shape": [layer.kernel] * 2, "pads": [layer.pad] * 4,
                                    "strides": [layer.stride] * 2}
        if isinstance(layer, DepthwiseSpec):
            attrs["group"] = n_out
    elif isinstance(layer, PointwiseSpec):
        inits.append(_init(p + "w", lp.weight.astype(np.int8)))
        attrs = {"kernel_shape": [1, 1]}
    else:  # fc: a 1×1 conv on N×F×1×1
        inits += [_init(p + "w", lp.weight.astype(np.int8).reshape(n_out, shape.fan_in, 1, 1)),
                  _init(p + "shape4", np.array([0, -1, 1, 1], np.int64))]
        nodes.append(helper.make_node("Reshape", [x, p + "shape4"], [p + "flat"]))
        attrs = {"kernel_shape": [1, 1]}
        src = p + "flat"
    nodes.append(helper.make_node(
        "QLinearConv", [src, "one", x_zp, p + "w", p + "w_scale", p + "w_zp", "one", "y_zp", p + "b"],
        [p + "q"], **attrs))


def save_model(spec: NetSpec, bundle: Bundle, path: str | Path) -> Path:
    """Build and write the ONNX model atomically (temp file in the same folder, then rename)."""
    path = Path(path)
    model = build_model(spec, bundle)
    atomic_write(path, lambda tmp: onnx.save_model(model, str(tmp)))  # a missing folder is one InputError line
    return path


def run_onnxruntime(model: onnx.ModelProto | str | Path, x: np.ndarray | torch.Tensor) -> dict[str, np.ndarray]:
    """Evaluate an exported model on onnxruntime's CPU provider: output name → array."""
    import onnxruntime as ort

    data = model.SerializeToString() if isinstance(model, onnx.ModelProto) else str(model)
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    sess = ort.InferenceSession(data, opts, providers=["CPUExecutionProvider"])
    xs = x.numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
    if xs.ndim == 3:
        xs = xs[None]
    want = sess.get_inputs()[0].type
    xs = xs.astype(np.uint8 if "uint8" in want else np.int8)
    names = [o.name for o in sess.get_outputs()]
    return dict(zip(names, sess.run(names, {"input": xs})))


def float32_exact(v: torch.Tensor) -> torch.Tensor:
    """True where the integers v (int64) are exactly representable in float32 (≤ 24 significant bits)."""
    v = v.to(torch.int64)
    return v.to(torch.float32).to(torch.int64) == v


def ort_exact(acc: torch.Tensor, mult: torch.Tensor, channel_dim: int = 1) -> torch.Tensor:
    """True where onnxruntime's float32 requantization equals the exact half_even result.

    ORT (MLAS) computes round_even(float32(acc) · float32(m/2^s)) + zero point. With m/2^s exact in
    float32, that product is exact — hence the rounding too — iff acc and acc·m both fit float32
    exactly; acc·m exact with m ≥ 1 implies acc exact unless m is a large power of two, so both are
    checked. Values where this fails may still agree by luck; this is the guarantee.
    """
    view = [1] * acc.dim()
    view[channel_dim] = -1
    m = torch.as_tensor(mult, dtype=torch.int64).view(view)
    a = acc.to(torch.int64)
    return float32_exact(a) & float32_exact(a * m)


def worst_case_ort_exact(spec: NetSpec, bundle: Bundle) -> bool:
    """Sufficient for every input: per channel (fan_in·128·max|x| + |bias|)·m < 2^24; add: 128·(m_a + m_b) < 2^24;
    avgpool_global: H·W·max|x|·m < 2^24."""
    for shape, lp in zip(spec.layer_shapes(), bundle.layers):
        i = shape.index
        max_x = max(-spec.input.lo, spec.input.hi) if i == 0 else 128 + abs(spec.quant.zero_point)
        if shape.kind in ("add", "avgpool_global"):
            n = max_x * (int(lp.mult.astype(np.int64).sum()) if shape.kind == "add" else shape.fan_in * int(lp.mult[0]))
            if n >= 1 << 24:
                return False
            continue
        bound = shape.fan_in * 128 * max_x + np.abs(lp.bias.astype(np.int64))
        if np.any(bound * lp.mult.astype(np.int64) >= 1 << 24):
            return False
    return True


__all__ = ["OPSET", "build_model", "float32_exact", "ort_exact", "run_onnxruntime", "save_model",
           "worst_case_ort_exact"]
