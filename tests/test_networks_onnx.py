"""ONNX files (effnets.networks.onnx_graph): registry models and catalog blocks exported with export_onnx give the
registry's analytic counts exactly (params, MACs, acts, every extras line, stage by stage); graphs the registry
does not know are checked against torch (numel, FlopCounterMode); hostile files are refused with a message."""

from __future__ import annotations

import io
import math
import random
import resource
import warnings

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper
from torch import nn

from effnets import counting
from effnets.blocks import BLOCKS
from effnets.models import get_model
from effnets.networks import onnx_graph
from effnets.networks.onnx_graph import MAX_NODES, analyse_onnx, export_onnx, time_onnx
from effnets.spec import SpecError

FAST_MODELS = ["efficientnet_b0", "mobilenet_v2", "mobilenet_v3_small", "resnet18", "shufflenet_v2_x1_0"]
FAST_MODELS += ["squeezenet1_0", "convnext_tiny"]
SLOW_MODELS = ["efficientnet_lite0", "efficientnet_v2_s", "mobilenet_v1", "mobilenet_v3_large", "mnasnet0_5"]
SLOW_MODELS += ["ghostnet_100", "mobileone_s0", "shufflenet_v1", "xception", "regnetx_200mf", "regnety_200mf"]
SLOW_MODELS += ["vgnetg_1_0mp", "vgnetf_1_5mp", "resnet50", "resnext50_32x4d", "repvgg_a0", "densenet121"]
SLOW_MODELS += ["mobilenetv4_conv_small"]


def _torch_export(module: nn.Module, x: torch.Tensor, **kw) -> bytes:
    """torch's exporter with its defaults (eval mode, constant folding: conv-BN fusion), as a user's file."""
    buf = io.BytesIO()
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(module.eval(), (x,), buf, dynamo=False, opset_version=17, input_names=["x"], **kw)
    return buf.getvalue()


def _model(nodes, inputs, outputs, inits=(), opset=17, **kw) -> onnx.ModelProto:
    graph = helper.make_graph(nodes, "g", inputs, outputs, list(inits))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], **kw)


def _vi(name: str, dims) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, dims)


def _conv_model(dims, relus: int = 1) -> onnx.ModelProto:
    """x -> 3x3 conv (8 filters, no padding) -> relus x ReLU, built with onnx.helper."""
    w = numpy_helper.from_array(np.zeros((8, 3, 3, 3), np.float32), "w")
    nodes = [helper.make_node("Conv", ["x", "w"], ["r0"], name="/stem/Conv", kernel_shape=[3, 3])]
    nodes += [helper.make_node("Relu", [f"r{i}"], [f"r{i + 1}"], name=f"/body/Relu_{i}") for i in range(relus)]
    return _model(nodes, [_vi("x", dims)], [_vi(f"r{relus}", None)], [w])


def _refused(data, *words: str, **kw) -> SpecError:
    with pytest.raises(SpecError) as e:
        analyse_onnx(data, "net.onnx", **kw)
    for w in words:
        assert w in str(e.value), f"'{w}' missing from: {e.value}"
    return e.value


# ----- the registry's counts, exactly --------------------------------------------------------------------------------


def _check_model(name: str) -> None:
    info = get_model(name)
    spec = info.make_spec()
    cost = info.cost(spec)
    report = analyse_onnx(export_onnx(info.build(spec).eval(), cost.input_shape), name)
    assert (report.params, report.macs, report.acts) == (cost.params, cost.macs, cost.acts)
    assert report.extras == cost.total.extras_dict, "an extras line differs from the registry's"
    assert report.input_shape == cost.input_shape
    # the analytic record keeps C x 1 x 1 after a classifier; the graph's tensor is (classes,)
    assert math.prod(report.output_shape) == math.prod(cost.output_shape)
    plan = info.stage_plan(spec)
    assert [s.name for s in report.stages] == [st.name for st in plan.stages], "stages do not line up"
    for ours, theirs in zip(report.stages, cost.stages, strict=True):
        assert (ours.params, ours.macs, ours.acts, ours.extras) == (
            theirs.params,
            theirs.macs,
            theirs.acts,
            theirs.extras,
        ), f"stage {ours.name}"
        assert math.prod(ours.output_shape) == math.prod(theirs.output_shape)
    assert sum(r.params for r in report.layers) == report.params
    assert not any(n.startswith("not counted") for n in report.notes)


@pytest.mark.parametrize("name", FAST_MODELS)
def test_registry_model_counts_exactly(name):
    _check_model(name)


@pytest.mark.slow
@pytest.mark.parametrize("name", SLOW_MODELS)
def test_more_registry_models_count_exactly(name):
    _check_model(name)


@pytest.mark.parametrize("name", list(BLOCKS))
def test_every_block_counts_exactly(name):
    info = BLOCKS[name]
    spec = info.make_spec()
    shape = (spec.in_channels, 14, 12)
    cost = info.cost(spec, shape)
    module = info.build(spec).eval()
    if name == "deformable":  # torch's exporter has no rule for torchvision::deform_conv2d
        with pytest.raises(SpecError, match="cannot be exported to ONNX.*deform_conv2d"):
            export_onnx(module, shape)
        return
    report = analyse_onnx(export_onnx(module, shape), name)
    assert (report.params, report.macs, report.acts) == (cost.params, cost.macs, cost.acts)
    assert report.extras == cost.extras_dict
    assert report.output_shape == cost.output_shape


def test_layer_rows_name_their_kinds():
    info = get_model("mobilenet_v3_small")
    report = analyse_onnx(export_onnx(info.build(info.make_spec(resolution=64)).eval(), (3, 64, 64)))
    kinds = {r.kind for r in report.layers}
    assert {"conv", "depthwise conv", "linear", "norm", "act", "pool", "elementwise"} <= kinds
    ops = {r.op for r in report.layers}
    assert {"HardSwish", "HardSigmoid", "Relu", "GlobalAveragePool", "Gemm"} <= ops
    assert report.layers[0].stage == "stem" and report.layers[-1].stage == "head"
    assert report.source == "onnx" and report.to_dict(layers=True)["layers"][0]["op"] == "Conv"


# ----- batch norm: kept by export_onnx, folded by torch's defaults ---------------------------------------------------


def test_export_keeps_batch_norm_and_torch_defaults_fold_it():
    info = BLOCKS["resnet_basic"]
    spec = info.make_spec()
    module, shape = info.build(spec).eval(), (spec.in_channels, 14, 12)
    kept = onnx.load_model_from_string(export_onnx(module, shape))
    bns = [m for m in module.modules() if isinstance(m, nn.BatchNorm2d)]
    assert sum(n.op_type == "BatchNormalization" for n in kept.graph.node) == len(bns)
    faithful = analyse_onnx(kept.SerializeToString())
    folded = analyse_onnx(_torch_export(module, torch.zeros(1, *shape)))
    assert folded.extras["bn"] == 0 and faithful.extras["bn"] > 0
    # each BN's 2 C (gamma, beta) became its conv's C biases
    assert folded.params == faithful.params - sum(m.num_features for m in bns)
    assert folded.macs == faithful.macs
    assert any("folded" in n for n in folded.notes) and not any("folded" in n for n in faithful.notes)


def test_buffers_marked_by_export_are_not_params():
    info = BLOCKS["vgnet_downsampling"]
    spec = info.make_spec()
    module, shape = info.build(spec).eval(), (spec.in_channels, 14, 12)
    stats = ("running_mean", "running_var", "num_batches_tracked")
    fixed = sum(b.numel() for n, b in module.named_buffers() if not n.endswith(stats))
    assert fixed > 0
    ours = analyse_onnx(export_onnx(module, shape))
    theirs = analyse_onnx(_torch_export(module, torch.zeros(1, *shape), do_constant_folding=False))
    assert ours.params == counting.param_count(module)
    assert theirs.params == ours.params + fixed  # a plain file cannot tell a buffer from a weight


# ----- graphs the registry does not know, against torch ----------------------------------------------------------


class _Attention(nn.Module):
    """Linear on a 3-D input (MatMul + Add) and a matmul between two activations, GroupNorm, tanh, Mish."""

    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(8, 8)
        self.norm = nn.GroupNorm(2, 6)

    def forward(self, x):
        t = self.proj(x.flatten(2).transpose(1, 2))  # 1 x (H W) x 8
        a = torch.softmax(t @ t.transpose(1, 2), dim=-1)
        return self.norm((a @ t).transpose(1, 2).reshape(x.shape[0], 8, 3, 2)[:, :6])


def test_matmuls_linear_and_group_norm_against_torch():
    module = _Attention().eval()
    shape = (8, 3, 2)
    report = analyse_onnx(_torch_export(module, torch.zeros(1, *shape)))
    assert report.params == counting.param_count(module)
    assert report.macs == counting.flop_counter_macs(module, shape)
    rows = {r.op.split(" (")[0]: r for r in report.layers}
    assert rows["MatMul + Add"].kind == "linear" and rows["MatMul + Add"].params == 8 * 8 + 8
    assert rows["GroupNorm"].extras["ln"] == 5 * 6 * 3 * 2 and rows["GroupNorm"].params == 12
    assert report.extras["act"] == 6 * 6  # the softmax over the 6 x 6 scores
    assert report.extras["elementwise"] == 0


def test_torchvision_model_stages_and_counts():
    tv = pytest.importorskip("torchvision")
    module = tv.models.mobilenet_v2(num_classes=10).eval()
    report = analyse_onnx(_torch_export(module, torch.zeros(1, 3, 64, 64), do_constant_folding=False))
    assert report.params == counting.param_count(module)
    assert report.macs == counting.flop_counter_macs(module, (3, 64, 64))
    traced = counting.dispatch_counts(module, (3, 64, 64))
    assert report.extras == traced.extras and report.acts == traced.acts
    assert [s.name for s in report.stages] == [f"features.{i}" for i in range(19)] + ["classifier"]


def test_unknown_ops_are_listed_not_counted():
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], name="/stem/Conv", kernel_shape=[1, 1]),
        helper.make_node("Resize", ["c", "", "s"], ["y"], name="/up/Resize", mode="nearest"),
    ]
    inits = [
        helper.make_tensor("w", TensorProto.FLOAT, [4, 3, 1, 1], [0.0] * 12),
        helper.make_tensor("s", TensorProto.FLOAT, [4], [1.0, 1.0, 2.0, 2.0]),
    ]
    report = analyse_onnx(_model(nodes, [_vi("x", [1, 3, 8, 8])], [_vi("y", None)], inits).SerializeToString())
    assert report.macs == 4 * 8 * 8 * 3 and report.params == 12
    assert "not counted: 1 x Resize" in report.notes
    assert report.output_shape == (4, 16, 16)
    assert [r.kind for r in report.layers] == ["conv", "other"]


# ----- sizes: dynamic, given, per sample ---------------------------------------------------------------------------


def test_dynamic_size_needs_an_input_size():
    data = _conv_model(["N", 3, "H", "W"]).SerializeToString()
    _refused(data, "the input's size is dynamic (N x C x H x W with H, W unknown): give an input size")
    report = analyse_onnx(data, input_shape=(3, 10, 12))
    assert report.macs == (8 * 8 * 10) * 3 * 3 * 3 and report.input_shape == (3, 10, 12)
    assert report.output_shape == (8, 8, 10)


def test_dynamic_torch_export_counts_at_the_given_size():
    info = BLOCKS["mbconv"]
    spec = info.make_spec()
    shape = (spec.in_channels, 14, 12)
    axes = {"x": {0: "N", 2: "H", 3: "W"}}
    data = _torch_export(info.build(spec), torch.zeros(1, spec.in_channels, 20, 20), dynamic_axes=axes)
    _refused(data, "dynamic", "H, W unknown")
    cost = info.cost(spec, shape)
    report = analyse_onnx(data, input_shape=shape)
    assert (report.macs, report.extras["act"], report.extras["pool"]) == (
        cost.macs,
        cost.extra("act"),
        cost.extra("pool"),
    )


def test_a_fixed_batch_is_counted_per_sample():
    one = analyse_onnx(_conv_model([1, 3, 16, 16]).SerializeToString())
    four = analyse_onnx(_conv_model([4, 3, 16, 16]).SerializeToString())
    assert (four.macs, four.acts, four.extras, four.params) == (one.macs, one.acts, one.extras, one.params)
    assert any("batch of 4" in n for n in four.notes)


def test_bad_input_sizes_are_refused():
    data = _conv_model([1, 3, 16, 16]).SerializeToString()
    e = _refused(data, "does not fit", "C x H x W", input_shape=(16, 16))
    assert e.field == "input_shape"
    _refused(data, "'/stem/Conv' (Conv) gets 4 channels", input_shape=(4, 16, 16))  # its weight takes 3


# ----- hostile files -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(4))
def test_random_bytes_are_not_onnx(seed):
    _refused(random.Random(seed).randbytes(4096), "net.onnx is not an ONNX model")


def test_empty_text_and_wrong_types_are_refused():
    _refused(b"", "not an ONNX model")
    _refused(b"def build(): import os", "not an ONNX model")
    _refused("model.onnx", "expected the file's bytes")


def test_truncated_real_model_is_refused():
    info = BLOCKS["mbconv"]
    spec = info.make_spec()
    data = export_onnx(info.build(spec).eval(), (spec.in_channels, 14, 12))
    for cut in (len(data) // 2, len(data) - 1, 40):
        _refused(data[:cut], "truncated")


def test_external_data_is_refused(tmp_path):
    model = _conv_model([1, 3, 16, 16])
    path = tmp_path / "net.onnx"
    onnx.save_model(model, path, save_as_external_data=True, location="net.bin", size_threshold=0)
    assert (tmp_path / "net.bin").exists()
    _refused(path.read_bytes(), "external files", "export it with the weights inside")


def test_huge_graph_is_refused_before_shape_inference():
    data = _conv_model([1, 3, 16, 16], relus=25_000).SerializeToString()
    e = _refused(data, "25,001 nodes", f"{MAX_NODES:,}")
    assert e.field == "file"


def test_a_graph_at_the_node_limit_is_counted():
    data = _conv_model([1, 3, 6, 6], relus=MAX_NODES - 1).SerializeToString()
    report = analyse_onnx(data)
    assert len(report.layers) == MAX_NODES and report.extras["act"] == (MAX_NODES - 1) * 8 * 4 * 4


def test_too_large_a_file_is_refused():
    data = _conv_model([1, 3, 16, 16]).SerializeToString()
    e = _refused(data, "the limit is 100 (0 MB)", max_bytes=100)
    assert e.value == len(data)
    assert onnx_graph.MAX_BYTES == 200 * 1024 * 1024


def _loop_model(depth: int = 1) -> onnx.ModelProto:
    body = helper.make_graph(
        [helper.make_node("Identity", ["v"], ["v_out"]), helper.make_node("Identity", ["cond"], ["cond_out"])],
        "body",
        [helper.make_tensor_value_info("i", TensorProto.INT64, []), helper.make_tensor_value_info("cond", 9, [])],
        [helper.make_tensor_value_info("cond_out", 9, []), _vi("v_out", [1, 3, 4, 4])],
        value_info=[_vi("v", [1, 3, 4, 4])],
    )
    plain = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "plain", [], [_vi("y", [1, 3, 4, 4])])
    for _ in range(depth - 1):  # If nodes nested in If nodes
        inner = helper.make_node("If", ["c"], ["y"], then_branch=body, else_branch=plain)
        body = helper.make_graph([inner], "nest", [], [_vi("y", [1, 3, 4, 4])])
    if depth == 1:
        node = helper.make_node("Loop", ["n", "c", "x"], ["y"], name="/loop/Loop", body=body)
    else:
        node = helper.make_node("If", ["c"], ["y"], name="/nest/If", then_branch=body, else_branch=plain)
    inits = [helper.make_tensor("n", TensorProto.INT64, [], [2]), helper.make_tensor("c", 9, [], [True])]
    return _model([node], [_vi("x", [1, 3, 4, 4])], [_vi("y", [1, 3, 4, 4])], inits)


def test_control_flow_is_refused():
    _refused(_loop_model().SerializeToString(), "'/loop/Loop' (Loop) holds a subgraph", "not supported")
    _refused(_loop_model(depth=6).SerializeToString(), "(If) holds a subgraph", "not supported")


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        out.append((n & 0x7F) | (0x80 if n > 0x7F else 0))
        n >>= 7
        if not n:
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def test_deeply_nested_subgraphs_are_refused():
    """If inside If 1,000 deep, written at the wire level (onnx.helper cannot build it): protobuf's depth limit."""
    graph = _field(2, b"leaf")
    for _ in range(1000):  # GraphProto.node -> NodeProto.attribute -> AttributeProto.g -> GraphProto
        attribute = _field(1, b"then_branch") + _varint(20 << 3) + _varint(5) + _field(6, graph)
        graph = _field(1, _field(4, b"If") + _field(5, attribute))
    opset = _field(8, _varint(2 << 3) + _varint(17))
    data = _varint(1 << 3) + _varint(8) + _field(7, graph) + opset
    _refused(data, "nested deeper than", "not supported")


def test_two_inputs_are_refused():
    nodes = [helper.make_node("Add", ["a", "b"], ["y"], name="/Add")]
    data = _model(nodes, [_vi("a", [1, 3, 4, 4]), _vi("b", [1, 3, 4, 4])], [_vi("y", None)]).SerializeToString()
    _refused(data, "2 inputs ('a', 'b')", "one image input")


def test_unresolved_shapes_name_the_node():
    nodes = [
        helper.make_node("Mystery", ["x"], ["m"], name="/odd/Mystery", domain="custom.ops"),
        helper.make_node("Conv", ["m", "w"], ["y"], name="/after/Conv", kernel_shape=[1, 1]),
    ]
    w = helper.make_tensor("w", TensorProto.FLOAT, [4, 3, 1, 1], [0.0] * 12)
    graph = helper.make_graph(nodes, "g", [_vi("x", [1, 3, 8, 8])], [_vi("y", None)], [w])
    opsets = [helper.make_opsetid("", 17), helper.make_opsetid("custom.ops", 1)]
    data = helper.make_model(graph, opset_imports=opsets).SerializeToString()
    _refused(data, "'/odd/Mystery' (Mystery)", "'/after/Conv' (Conv)", "does not resolve")


def test_huge_declared_shapes_allocate_nothing():
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    side = 2**40
    report = analyse_onnx(_conv_model([1, 3, side, side]).SerializeToString())
    assert report.macs == 8 * (side - 2) ** 2 * 3 * 3 * 3
    assert report.extras["act"] == 8 * (side - 2) ** 2
    # a ConstantOfShape of 10^15 elements and an Expand to it: shapes only, never built
    nodes = [
        helper.make_node("ConstantOfShape", ["shape"], ["big"], name="/big/ConstantOfShape"),
        helper.make_node("Expand", ["x", "shape"], ["e"], name="/big/Expand"),
        helper.make_node("Add", ["e", "big"], ["y"], name="/big/Add"),
    ]
    shape = helper.make_tensor("shape", TensorProto.INT64, [4], [1, 1000, 10**6, 10**6])
    report = analyse_onnx(_model(nodes, [_vi("x", [1, 1, 1, 1])], [_vi("y", None)], [shape]).SerializeToString())
    assert report.extras["elementwise"] == 10**15
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert grown_kib < 1 << 20, "analysing declared shapes grew the process by over 1 GiB"


# ----- timing, only when asked ---------------------------------------------------------------------------------------


def test_time_onnx_runs_onnx_runtime():
    pytest.importorskip("onnxruntime")
    info = BLOCKS["depthwise_separable"]
    spec = info.make_spec()
    data = export_onnx(info.build(spec).eval(), (spec.in_channels, 14, 12))
    t = time_onnx(data, threads=1, repeats=5, warmup=1)
    assert 0 < t["p10_ms"] <= t["median_ms"] <= t["p90_ms"]
    assert len(t["samples"]) == 5 and t["threads"] == 1 and "ONNX Runtime" in t["engine"]
    assert t["input_shape"] == [1, spec.in_channels, 14, 12]
    with pytest.raises(SpecError, match="dynamic"):
        time_onnx(_conv_model(["N", 3, "H", "W"]).SerializeToString())
    with pytest.raises(SpecError, match="holds a subgraph"):
        time_onnx(_loop_model().SerializeToString())


def test_a_graph_of_a_million_nodes_is_refused_before_it_is_parsed():
    """The node count is read at the wire level (effnets.networks.protowire), so the parser never builds them."""
    from effnets.networks.protowire import onnx_node_count

    data = _conv_model([1, 3, 6, 6], relus=200_000).SerializeToString()
    assert onnx_node_count(data) == 200_001
    _refused(data, "200,001 nodes")
    assert onnx_node_count(b"\xff" * 100) == 0 and onnx_node_count(b"") == 0
