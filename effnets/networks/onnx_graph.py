"""ONNX files: an uploaded graph (bytes, in memory) counted node by node with the project's conventions, never run.

The bytes are parsed as a protobuf (``onnx.load_model_from_string``; never ``torch.load``, never pickle) and checked
(size, format, external data, control flow, node count, one input); the input's size is fixed and
``onnx.shape_inference`` gives every tensor its shape, with the integer size arithmetic torch's exporter leaves in a
graph folded to constants. Nodes are counted by the rules of :mod:`effnets.cost` and the dispatch counter
(``effnets.counting._Counter``), per sample:

* Conv: MACs = output elements x C_in/g x k_h x k_w; ConvTranspose: INPUT elements x C_out/g x k_h x k_w. Gemm and
  MatMul with a constant operand: output elements x K (MatMul -> Add of its bias, torch's Linear on 3-D inputs, is
  one layer); MatMul between activations: MACs, no params. Params: their constant weights and biases; acts: their
  output elements.
* ``bn``: BatchNormalization, 1 per element, params scale and B (mean and variance are buffers). ``ln``:
  LayerNormalization and InstanceNormalization 5 per element with an affine scale, 4 without (torch's GroupNorm,
  InstanceNormalization -> Reshape -> Mul -> Add, is one norm with its affine).
* ``act``: 1 per element for Relu, Clip (ReLU6), Sigmoid, HardSwish, Softmax, Gelu ...; SiLU as ``x * Sigmoid(x)``
  and GELU as ``x * (1 + Erf(x / sqrt 2)) / 2`` are ONE activation each, as effnets counts them.
* ``pool``: MaxPool/AveragePool k_h x k_w per output element; GlobalAveragePool and ReduceMean 1 per input element.
* ``elementwise``: Add, Mul, Sub, Div of two non-scalar float tensors, 1 per output element (a constant operand,
  such as ConvNeXt's layer scale, is a parameter). Reshapes and no-ops count nothing; other ops count 0 and are
  listed in the notes ("not counted: 3 x Resize").

A file cannot say which constants were buffers: :func:`export_onnx` lists the module's (VGNet's fixed kernels) in
the metadata entry ``effnets:buffers``. Stages are the first component of torch's node names ("/stage3/stage3.0/..."
-> "stage3"; in a ``features``, ``stages``, ``blocks`` or ``layers`` container the first two, "features.3").
"""

from __future__ import annotations

import contextlib
import copy
import io
import math
import operator
import re
import warnings
from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np
import onnx
from onnx import numpy_helper

from effnets.cost import EXTRA_KINDS
from effnets.networks.protowire import onnx_node_count
from effnets.networks.report import LayerRow, NetworkReport, no_extras, stages_from_layers
from effnets.spec import SpecError

MAX_BYTES = 200 * 1024 * 1024  # the library's and the CLI's limit; the app passes its upload limit (25 MB)
MAX_NODES = 20_000
MAX_INPUT_BYTES = 1 << 30  # the largest input tensor time_onnx allocates
OPSET = 17
MAX_FOLDS, FOLD_NODE_VISITS = 100, 600_000  # rounds of shape inference and folding (one per chained split)
BUFFERS_KEY = "effnets:buffers"

_ACT = {"Relu", "Clip", "Sigmoid", "HardSigmoid", "HardSwish", "Tanh", "Softmax", "LogSoftmax", "Gelu", "LeakyRelu",
        "PRelu", "Elu", "Selu", "Celu", "Softplus", "Softsign", "Mish", "ThresholdedRelu", "Swish"}  # fmt: skip
_ELEMENTWISE = {"Add", "Mul", "Sub", "Div"}
_WINDOW_POOL = {"MaxPool", "AveragePool", "LpPool"}
_GLOBAL_POOL = {"GlobalAveragePool", "GlobalMaxPool", "GlobalLpPool", "ReduceMean"}
_RESHAPE = {"Reshape", "Flatten", "Transpose", "Squeeze", "Unsqueeze", "Concat", "Split", "Slice", "Gather", "Expand",
            "Tile", "DepthToSpace", "SpaceToDepth"}  # fmt: skip
_NOOP = {"Identity", "Dropout", "Shape", "Size", "Constant", "ConstantOfShape", "Cast", "CastLike"}
_WEIGHTED = {"Conv", "ConvTranspose", "Gemm", "MatMul", "PRelu"}  # ops whose constant operands are weights
_INT_MATH = {"Add": operator.add, "Sub": operator.sub, "Mul": operator.mul, "Div": operator.floordiv}
_CONTAINERS = ("features", "stages", "blocks", "layers")
_FLOATS = {1, 10, 11, 16}  # TensorProto FLOAT, FLOAT16, DOUBLE, BFLOAT16


def _attr(node, key: str, default: Any = None) -> Any:
    a = next((a for a in node.attribute if a.name == key), None)
    return default if a is None else (list(a.ints) if a.ints else a.i if a.type == 2 else a.f)


# ----- reading and refusing ------------------------------------------------------------------------------------------


def _parse(data: bytes, name: str, max_bytes: int):
    if not isinstance(data, bytes | bytearray | memoryview):
        raise SpecError(f"{name}: expected the file's bytes, got {type(data).__name__}", "file")
    data = bytes(data)
    if len(data) > max_bytes:
        size = f"{len(data):,} bytes; the limit is {max_bytes:,} ({max_bytes / 2**20:.0f} MB)"
        raise SpecError(f"{name} is {size}", "file", len(data))
    if (nodes := onnx_node_count(data)) > MAX_NODES:  # before the parser builds every node
        raise SpecError(f"{name} has {nodes:,} nodes; graphs over {MAX_NODES:,} nodes are refused", "file")
    try:
        model = onnx.load_model_from_string(data)
    except Exception as e:
        if "depth" in str(e).lower():
            msg = f"{name} holds subgraphs nested deeper than protobuf reads; control flow (If, Loop, Scan) is"
            raise SpecError(f"{msg} not supported", "file", len(data)) from e
        if len(data) > 1 and data[0] == 0x08 and 0 < data[1] < 16:  # it starts as ONNX does: the ir_version
            msg = f"{name} ends early: the file is truncated (an incomplete upload or copy?); send the whole file"
            raise SpecError(msg, "file", len(data)) from e
        raise SpecError(f"{name} is not an ONNX model: its bytes do not parse as one", "file", len(data)) from e
    if not model.ir_version or not model.opset_import or not model.HasField("graph") or not model.graph.node:
        what = "truncated: it holds no graph of nodes" if model.ir_version else "not an ONNX model: it holds no graph"
        raise SpecError(f"{name} is {what} (or no operator set)", "file", len(data))
    return model


def _refuse_unsupported(model, name: str) -> None:
    g = model.graph  # the node count was checked at the wire level, before parsing (_parse)
    attributes = [a for node in g.node for a in node.attribute]
    in_nodes = [t for a in attributes for t in ([a.t] if a.HasField("t") else []) + list(a.tensors)]
    sparse = [s.values for s in g.sparse_initializer] + [a.sparse_tensor.values for a in attributes]
    for t in (*g.initializer, *sparse, *in_nodes):
        if t.data_location == 1 or t.external_data:  # TensorProto.EXTERNAL
            msg = f"{name}: this model keeps its weights in external files (tensor '{t.name}'); export it with the"
            raise SpecError(f"{msg} weights inside", "file", t.name)
    for node in g.node:
        if any(a.type in (5, 10) or a.HasField("g") or a.graphs for a in node.attribute):  # GRAPH, GRAPHS
            msg = f"{name}: node '{node.name or node.op_type}' ({node.op_type}) holds a subgraph; control flow"
            raise SpecError(f"{msg} (If, Loop, Scan) is not supported", "file", node.op_type)


def _dims(type_proto) -> tuple[int | None, ...] | None:
    if not type_proto.HasField("tensor_type") or not type_proto.tensor_type.HasField("shape"):
        return None
    return tuple(d.dim_value if d.dim_value > 0 else None for d in type_proto.tensor_type.shape.dim)


def _fix_input(model, name: str, input_shape: tuple[int, ...] | None) -> tuple[Any, tuple[int, ...], list[str]]:
    """Set the one input's dims (batch 1 when dynamic); return it, its full shape and notes."""
    g = model.graph
    inits = {t.name for t in g.initializer} | {s.values.name for s in g.sparse_initializer}
    inputs = [i for i in g.input if i.name not in inits]
    if len(inputs) != 1:
        listed = ", ".join(f"'{i.name}'" for i in inputs) or "none"
        msg = f"{name} has {len(inputs)} inputs ({listed}); only models with one image input are supported"
        raise SpecError(msg, "file", len(inputs))
    inp, notes = inputs[0], []
    dims = _dims(inp.type)
    if not dims:
        raise SpecError(f"{name}: its input '{inp.name}' declares no tensor shape: give an input size", "input_shape")
    letters = ("N", "C", "H", "W") if len(dims) == 4 else tuple(f"d{i}" for i in range(len(dims)))
    if input_shape is not None:
        want = tuple(input_shape)
        if len(want) not in (len(dims) - 1, len(dims)) or not all(isinstance(v, int) and v >= 1 for v in want):
            msg = f"input size {want} does not fit the input '{inp.name}' ({' x '.join(letters)}): give"
            raise SpecError(f"{msg} {len(dims) - 1} positive sizes ({' x '.join(letters[1:])})", "input_shape", want)
        full = want if len(want) == len(dims) else (dims[0] or 1, *want)
        if any(d is not None and d != v for d, v in zip(dims, full, strict=True)):
            declared = " x ".join(str(d or letters[i]) for i, d in enumerate(dims))
            notes.append(f"Counted at input {' x '.join(map(str, full))}; the file declares {declared}.")
    else:
        unknown = [letters[i] for i, d in enumerate(dims) if d is None and i > 0]
        if unknown:
            msg = f"the input's size is dynamic ({' x '.join(letters)} with {', '.join(unknown)} unknown)"
            raise SpecError(f"{msg}: give an input size", "input_shape")
        full = (dims[0] or 1, *dims[1:])
    for d, v in zip(inp.type.tensor_type.shape.dim, full, strict=True):
        d.Clear()
        d.dim_value = v
    return inp, tuple(int(v) for v in full), notes


def _strip_weights(model) -> None:
    """Drop the values of large initializers but small integers (dims stay): nothing else reads the weights."""
    for t in model.graph.initializer:
        if t.data_type not in (6, 7) and math.prod(t.dims) > 16:  # not INT32, INT64
            for f in ("raw_data", "float_data", "double_data", "int32_data", "int64_data"):
                t.ClearField(f)


def _infer(model, name: str):
    try:
        return onnx.shape_inference.infer_shapes(model, check_type=True, strict_mode=True, data_prop=True)
    except Exception as e:
        text = " ".join(str(e).split())
        where = re.search(r"node name: ([^)]*)\)", text)
        at = f" at node '{where.group(1)}'" if where else ""
        raise SpecError(f"{name}: shape inference failed{at}: {text[:300]}", "file") from e


def _int_value(node, vals: dict, shapes: dict):
    """The value of a small integer tensor (at most 64) a node computes from sizes and integer constants, or None."""
    op, ins = node.op_type, [vals.get(x) for x in node.input]
    try:
        if op == "Constant" and node.attribute:
            a = node.attribute[0]
            ints = np.array(list(a.ints) or a.i) if a.name in ("value_int", "value_ints") else None
            out = numpy_helper.to_array(a.t) if a.HasField("t") and math.prod(a.t.dims) <= 64 else ints
        elif op == "Shape":
            dims = shapes.get(node.input[0])
            out = None if dims is None or None in dims else np.array(dims[_attr(node, "start", 0) : _attr(node, "end")])
        elif not node.input or any(v is None for v in ins):
            return None
        elif op == "Gather":
            out = np.take(ins[0], ins[1], axis=_attr(node, "axis", 0))
        elif op in _INT_MATH:
            out = _INT_MATH[op](*ins)
        elif op == "Concat":
            out = np.concatenate([np.atleast_1d(v) for v in ins], axis=_attr(node, "axis", 0))
        elif op in ("Unsqueeze", "Squeeze"):
            axes = tuple(int(v) for v in np.atleast_1d(ins[1])) if len(ins) > 1 else None
            out = np.expand_dims(ins[0], axes) if op == "Unsqueeze" else np.squeeze(ins[0], axes)
        elif op == "Slice":
            index = [slice(None)] * ins[0].ndim
            axes, steps = (ins[3] if len(ins) > 3 else range(len(ins[1]))), (ins[4] if len(ins) > 4 else None)
            for k, ax in enumerate(axes):
                index[int(ax)] = slice(int(ins[1][k]), int(ins[2][k]), 1 if steps is None else int(steps[k]))
            out = ins[0][tuple(index)]
        else:
            out = ins[0] if op in ("Cast", "Identity") else None
    except (ValueError, IndexError, TypeError, ZeroDivisionError):
        return None
    out = None if out is None else np.asarray(out)
    return out.astype(np.int64) if out is not None and out.size <= 64 and out.dtype.kind in "iu" else None


def _fold_sizes(model, name: str):
    """Shape inference, repeated with the integer size arithmetic torch's exporter leaves in a graph (Shape ->
    Gather -> Div -> Slice for a channel split) replaced by its values, computed in Python from the fixed input
    size; only tensors of at most 64 integers are ever evaluated."""
    for _ in range(min(MAX_FOLDS, FOLD_NODE_VISITS // len(model.graph.node))):
        model = _infer(model, name)
        g = model.graph
        shapes = {vi.name: _dims(vi.type) for vi in (*g.input, *g.value_info, *g.output)}
        small = [t for t in g.initializer if t.data_type in (6, 7) and math.prod(t.dims) <= 64]  # INT32, INT64
        vals = {t.name: numpy_helper.to_array(t) for t in small}
        folded: dict[str, Any] = {}
        for node in g.node:
            v = _int_value(node, vals, shapes) if len(node.output) == 1 else None
            if v is not None:
                vals[node.output[0]] = v
                folded.update({node.output[0]: v} if node.op_type != "Constant" else {})
        readers = [n for n in g.node if not (n.output and n.output[0] in folded)]
        users = [(n, k, x) for n in readers for k, x in enumerate(n.input) if x in folded]
        for x in dict.fromkeys(x for _, _, x in users):
            g.initializer.append(numpy_helper.from_array(folded[x], f"{x}:folded"))
        for node, k, x in users:
            node.input[k] = f"{x}:folded"
        if not users:
            break
    return model


@dataclass
class _Graph:
    nodes: list[Any]
    shapes: dict[str, tuple[int | None, ...]]
    floats: set[str]  # tensors of a floating-point type
    const: dict[str, tuple[int, ...]]  # constant tensors (initializers, Constant nodes, computed from them): dims
    learned: set[str]  # constants from initializers that are not buffers (the file's parameters)
    buffers: set[str]  # constants export_onnx marked as the module's buffers
    consumers: dict[str, list[int]]
    producer: dict[str, int]
    plumbing: set[int]  # nodes that only compute constants (no row)


def _graph(model) -> _Graph:
    g = model.graph
    shapes, floats, const = {}, set(), {}
    for vi in (*g.input, *g.value_info, *g.output):
        if (dims := _dims(vi.type)) is not None:
            shapes[vi.name] = dims
        if vi.type.HasField("tensor_type") and vi.type.tensor_type.elem_type in _FLOATS:
            floats.add(vi.name)
    for t in g.initializer:
        const[t.name] = tuple(t.dims)
        floats.update([t.name] if t.data_type in _FLOATS else [])
    const.update({s.values.name: tuple(s.dims) for s in g.sparse_initializer})
    buffers = {v for p in model.metadata_props if p.key == BUFFERS_KEY for v in p.value.split(",") if v}
    learned = set(const) - buffers
    nodes, consumers, producer, plumbing = list(g.node), {}, {}, set()
    for i, node in enumerate(nodes):
        for x in node.input:
            consumers.setdefault(x, []).append(i)
        producer.update(dict.fromkeys(node.output, i))
        if node.op_type == "Constant":
            a = node.attribute[0] if node.attribute else None
            listed = (len(a.floats or a.ints),) if a and (a.floats or a.ints) else ()
            const[node.output[0]] = tuple(a.t.dims) if a and a.HasField("t") else listed
            plumbing.add(i)
        elif (ins := [x for x in node.input if x]) and all(x in const for x in ins) and node.op_type not in _WEIGHTED:
            for y in node.output:  # computed from constants only (a weight's Identity, Transpose, Dequantize)
                const[y] = tuple(d or 0 for d in shapes.get(y, const[ins[0]]))
                if y not in buffers and any(x in learned for x in ins):
                    learned.add(y)
            plumbing.add(i)
    read = {*consumers, *(o.name for o in g.output), *floats}  # size arithmetic nothing reads after folding: no row
    plumbing.update(i for i, n in enumerate(nodes) if not read.intersection(n.output))
    for name, dims in const.items():
        shapes.setdefault(name, dims)
    return _Graph(nodes, shapes, floats, const, learned, buffers, consumers, producer, plumbing)


# ----- fused patterns: SiLU, GELU, Linear with its bias, GroupNorm with its affine -----------------------------------


def _scalar(g: _Graph, name: str) -> bool:
    return name in g.const and math.prod(g.const[name]) <= 1


def _only_user(g: _Graph, name: str) -> int | None:
    users = g.consumers.get(name, [])
    return users[0] if len(users) == 1 else None


def _other(node, name: str) -> str | None:
    ins = list(node.input)
    return ins[1 - ins.index(name)] if len(ins) == 2 and name in ins else None


def _gelu(g: _Graph, i: int) -> tuple[int, str, list[int]] | None:
    """x * (1 + Erf(x / sqrt 2)) / 2 around the Erf node i: (its first node, x, the other members)."""
    d = g.producer.get(g.nodes[i].input[0])
    if d is None or g.nodes[d].op_type not in ("Div", "Mul"):
        return None
    x = next((v for v in g.nodes[d].input if not _scalar(g, v)), None)
    chain, cur = [], g.nodes[i].output[0]
    while (j := _only_user(g, cur)) is not None and g.nodes[j].op_type in _ELEMENTWISE:
        chain.append(j)
        cur, other = g.nodes[j].output[0], _other(g.nodes[j], cur)
        if g.nodes[j].op_type == "Mul" and other == x:
            k = _only_user(g, cur)
            if k is not None and g.nodes[k].op_type in ("Mul", "Div") and _scalar(g, _other(g.nodes[k], cur) or ""):
                chain.append(k)
            return d, x, [i, *chain]
        if other is None or not _scalar(g, other):
            return None
    return None


def _patterns(g: _Graph) -> tuple[dict[int, tuple[str, str]], dict[int, int]]:
    """Fused groups: (label, the GELU's input) of each group's first node, and every other member -> that node."""
    label: dict[int, tuple[str, str]] = {}
    member: dict[int, int] = {}
    for i, node in enumerate(g.nodes):
        op, out = node.op_type, node.output[0] if node.output else ""
        j = _only_user(g, out)
        user = g.nodes[j] if j is not None else None
        if op == "Sigmoid" and user is not None and user.op_type == "Mul" and _other(user, out) == node.input[0]:
            label[i], member[j] = ("SiLU (x * Sigmoid(x))", ""), i
        elif op == "Erf" and (found := _gelu(g, i)):
            label[found[0]] = ("Gelu (x * (1 + Erf(x / sqrt 2)) / 2)", found[1])
            member.update(dict.fromkeys(found[2], found[0]))
        elif op == "MatMul" and any(v in g.const for v in node.input) and user is not None and user.op_type == "Add":
            bias, dims = _other(user, out), g.shapes.get(out)
            if bias in g.const and dims and g.const[bias] and math.prod(g.const[bias]) == dims[-1]:
                label[i], member[j] = ("MatMul + Add (Linear with bias)", ""), i
        elif op == "InstanceNormalization" and not any(v in g.learned for v in node.input[1:]):
            chain, cur = [], out
            while (j := _only_user(g, cur)) is not None and g.nodes[j].op_type == "Reshape":
                chain.append(j)
                cur = g.nodes[j].output[0]
            for want in ("Mul", "Add"):
                j = _only_user(g, cur)
                if j is None or g.nodes[j].op_type != want or _other(g.nodes[j], cur) not in g.learned:
                    break
                chain.append(j)
                cur = g.nodes[j].output[0]
            else:
                label[i] = ("GroupNorm (InstanceNormalization with its affine Mul, Add)", "")
                member.update(dict.fromkeys(chain, i))
    return label, member


@dataclass
class _Count:
    kind: str
    params: int = 0
    macs: int = 0
    acts: int = 0
    extra: str = ""
    n: int = 0


def _shape(g: _Graph, tensor: str, node, where: str) -> tuple[int, ...]:
    dims = g.shapes.get(tensor)
    if dims is None or None in dims:
        up = g.producer.get(tensor)
        came = f", produced by '{g.nodes[up].name}' ({g.nodes[up].op_type})" if up is not None else ""
        msg = f"{where}: the shape of '{tensor}'{came}, which node '{node.name or node.op_type}' ({node.op_type})"
        raise SpecError(f"{msg} reads, does not resolve after shape inference", "file", tensor)
    return dims  # type: ignore[return-value]


def _count(g: _Graph, node, where: str, take) -> _Count:
    op, ins, out = node.op_type, list(node.input), node.output[0] if node.output else ""

    def numel(t: str) -> int:
        return math.prod(_shape(g, t, node, where))

    if op in ("Conv", "ConvTranspose"):
        x, w, group = _shape(g, ins[0], node, where), _shape(g, ins[1], node, where), _attr(node, "group", 1)
        if len(x) < 2 or x[1] != (w[0] if op == "ConvTranspose" else w[1] * group):
            msg = f"{where}: node '{node.name or op}' ({op}) gets {x[1] if len(x) > 1 else '?'} channels"
            raise SpecError(f"{msg}; its weight {tuple(w)} with group {group} takes other channels", "file", node.name)
        macs = (math.prod(x) if op == "ConvTranspose" else numel(out)) * math.prod(w[1:])
        kind = "transposed conv" if op == "ConvTranspose" else "conv" if group == 1 else "grouped conv"
        kind = "depthwise conv" if kind == "grouped conv" and group == x[1] else kind
        return _Count(kind, take(ins[1:], True), macs, numel(out))
    if op in ("Gemm", "MatMul"):
        a = _shape(g, ins[0], node, where)
        k = a[0] if op == "Gemm" and _attr(node, "transA", 0) else (a[-1] if a else 1)
        return _Count("linear", take(ins[1:] if op == "Gemm" else ins, True), numel(out) * k, numel(out))
    if op == "BatchNormalization":
        return _Count("norm", take(ins[1:3]), extra="bn", n=numel(out))
    if op in ("LayerNormalization", "InstanceNormalization"):
        affine = len(ins) > 1 and ins[1] in g.learned
        return _Count("norm", take(ins[1:3]), extra="ln", n=numel(ins[0]) * (5 if affine else 4))
    if op in _ACT:
        return _Count("act", take(ins[1:], True) if op == "PRelu" else 0, extra="act", n=numel(out))
    if op in _WINDOW_POOL:
        return _Count("pool", extra="pool", n=numel(out) * math.prod(_attr(node, "kernel_shape", [1])))
    if op in _GLOBAL_POOL:
        return _Count("pool", extra="pool", n=numel(ins[0]))
    if op in _ELEMENTWISE:
        if out not in g.floats or len(ins) != 2 or any(_scalar(g, v) or g.shapes.get(v) == () for v in ins):
            return _Count("no-op")  # a scalar operand, or arithmetic on sizes
        return _Count("elementwise", take(ins), extra="elementwise", n=numel(out))
    kinds = {**dict.fromkeys(_RESHAPE, "reshape"), **dict.fromkeys(_NOOP, "no-op"), "Pad": "pad"}
    return _Count(kinds.get(op, "other"))


def _stage_keys(g: _Graph, order: list[int]) -> dict[int, str]:
    """Each counted node's stage: its name's module prefix; a node without one joins the stage before it."""
    keys, stage, pending = {}, None, []
    for i in order:
        parts = [p for p in g.nodes[i].name.split("/") if p]
        key = parts[0] if len(parts) > 1 else stage
        if len(parts) > 1 and parts[0] in _CONTAINERS and re.fullmatch(rf"{re.escape(parts[0])}\.\d+", parts[1]):
            key = parts[1]
        if key is None:
            pending.append(i)
            continue
        keys.update(dict.fromkeys([*pending, i], key))
        stage, pending = key, []
    keys.update(dict.fromkeys(pending, "graph"))
    return keys


def _notes(g: _Graph, rows: list[LayerRow], batch: int) -> list[str]:
    notes = [f"The file fixes a batch of {batch}; every count is per sample."] if batch > 1 else []
    uncounted = Counter(r.op for r in rows if r.kind == "other")
    if uncounted:
        notes.append("not counted: " + ", ".join(f"{n} x {op}" for op, n in uncounted.most_common()))
    fused = sum(1 for n in g.nodes if n.op_type == "Conv" and n.input[2:] and n.input[1].startswith("onnx::Conv_"))
    if fused and not any(n.op_type == "BatchNormalization" for n in g.nodes):  # torch's name for a conv-BN fusion
        why = "their params are the conv biases (C_out), not batch norm's 2 x C_out, and no bn extras are counted"
        notes.append(f"Batch norm was folded into {fused} convs by torch's exporter: {why}; export_onnx keeps it.")
    if n := sum(r.params for r in rows if r.kind == "elementwise"):
        notes.append(f"{n:,} params are constant operands of element-wise nodes (layer scales); a file does not say")
        notes[-1] += " which constants were learnable, so all are counted."
    if n := sum(math.prod(g.const[b]) for b in g.buffers if b in g.consumers and b in g.const):
        notes.append(f"{n:,} values the exporter marked as the module's buffers are not counted as params.")
    return notes


def analyse_onnx(
    data: bytes, name: str = "model.onnx", input_shape: tuple[int, ...] | None = None, max_bytes: int = MAX_BYTES
) -> NetworkReport:
    """Count an ONNX model's nodes (``data``, the file's bytes, kept in memory) per sample, without running it.

    ``input_shape`` is the input's size without the batch (C, H, W), or with it, needed where the file's is dynamic
    (the batch is then 1); ``max_bytes`` the largest file accepted (the app passes its upload limit).

    Raises:
        SpecError: a file that is not ONNX, truncated, too large, with external data, control flow, over MAX_NODES
            nodes or more than one input, a dynamic size without ``input_shape``, shapes that do not resolve.
    """
    model = _parse(data, name, max_bytes)
    _refuse_unsupported(model, name)
    inp, full, size_notes = _fix_input(model, name, input_shape)
    _strip_weights(model)
    model = _fold_sizes(model, name)
    g = _graph(model)
    batch = full[0] if len(full) > 1 else 1
    label, member = _patterns(g)
    seen: set[str] = set()

    def take(names, any_const: bool = False) -> int:
        new = [v for v in dict.fromkeys(names) if v and v not in seen and v not in g.buffers]
        new = [v for v in new if v in g.learned or (any_const and v in g.const)]
        seen.update(new)
        return sum(math.prod(g.const[v]) for v in new)

    counts: dict[int, _Count] = {}
    last_out: dict[int, str] = {}
    for i, node in enumerate(g.nodes):
        if i in g.plumbing:
            continue
        c = _count(g, node, name, take)
        lead = member.get(i, i)
        if lead == i:
            counts[i] = c
        else:  # a fused member: its weights (a Linear's bias, a GroupNorm's affine) join the group's row
            counts[lead].params += c.params
        last_out[lead] = node.output[0] if node.output else ""
    for i, (text, x) in label.items():
        if text.startswith("Gelu"):  # one activation over the input of the whole pattern
            counts[i] = _Count("act", counts[i].params, extra="act", n=math.prod(_shape(g, x, g.nodes[i], name)))
        elif text.startswith("GroupNorm"):
            counts[i].n = counts[i].n // 4 * 5  # with its affine multiply-add: 5 per element, as layer norm
    keys = _stage_keys(g, list(counts))
    rows: list[LayerRow] = []
    for i, c in counts.items():
        node, extras = g.nodes[i], no_extras()
        if c.extra:
            extras[c.extra] = c.n // batch
        out = g.shapes.get(last_out[i], ())
        out = out[1:] if len(out) >= 2 and out[0] == batch else out
        op, shape = label[i][0] if i in label else node.op_type, tuple(d or 0 for d in out)
        row = (node.name or f"{node.op_type}_{i}", c.kind, keys[i], c.params, c.macs // batch, c.acts // batch)
        rows.append(LayerRow(*row, extras=extras, output_shape=shape, op=op))
    operators = {}
    for key in dict.fromkeys(r.stage for r in rows):
        ops = Counter(r.op.split(" (")[0] for r in rows if r.stage == key and r.kind not in ("reshape", "no-op"))
        operators[key] = ", ".join(f"{op} x {n}" if n > 1 else op for op, n in ops.items()) or "reshapes"
    out_dims = g.shapes.get(model.graph.output[0].name, ()) if model.graph.output else ()
    first = f"Parsed in memory and counted from shape inference; nothing was run. Input '{inp.name}'."
    return NetworkReport(
        name=name,
        source="onnx",
        input_shape=full[1:] if len(full) > 1 else full,
        params=sum(r.params for r in rows),
        macs=sum(r.macs for r in rows),
        acts=sum(r.acts for r in rows),
        extras={k: sum(r.extras[k] for r in rows) for k in EXTRA_KINDS},
        output_shape=tuple(d or 0 for d in out_dims[1:]),
        stages=stages_from_layers(rows, operators),
        layers=rows,
        notes=[first, *size_notes, *_notes(g, rows, batch)],
    )


# ----- exporting and timing ------------------------------------------------------------------------------------------

_NO_ONNX = {"DeformConv2d": "torchvision::deform_conv2d (deformable convolution)"}  # no rule in torch's exporter


def export_onnx(module, input_shape: tuple[int, ...], opset: int = OPSET) -> bytes:
    """A module (in eval mode) as ONNX bytes at one input size, batch 1, by the TorchScript exporter at opset 17 as
    the ONNX Runtime engine uses it, faithful to the module: ``TrainingMode.PRESERVE`` skips the exporter's conv-BN
    fusion, so batch norm stays BatchNormalization; node names keep the module paths; the buffers are listed in the
    metadata (:data:`BUFFERS_KEY`). Raises SpecError where the exporter has no rule for an op (deformable conv)."""
    import torch

    for m in module.modules():
        if type(m).__name__ in _NO_ONNX:
            what = f"torch's exporter has no rule for {_NO_ONNX[type(m).__name__]}"
            raise SpecError(f"this network cannot be exported to ONNX: {what}", "format", "onnx")
    module = copy.deepcopy(module).eval() if module.training else module
    buf = io.BytesIO()
    try:
        with warnings.catch_warnings(), torch.no_grad(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            x, keep = torch.zeros((1, *input_shape)), torch.onnx.TrainingMode.PRESERVE
            names = {"input_names": ["x"], "output_names": ["y"]}
            torch.onnx.export(module, (x,), buf, dynamo=False, opset_version=opset, training=keep, **names)
    except Exception as e:
        op = re.search(r"(\w+::\w+)", text := " ".join(str(e).split()))
        what = f"torch's exporter has no rule for {op.group(1)}" if op else f"the exporter failed: {text[:200]}"
        raise SpecError(f"this network cannot be exported to ONNX: {what}", "format", "onnx") from e
    model = onnx.load_model_from_string(buf.getvalue())
    names = {t.name for t in model.graph.initializer} | {y for n in model.graph.node for y in n.output}
    stats = ("running_mean", "running_var")  # batch norm's buffers: never counted as params anyway
    buffers = [b for b, _ in module.named_buffers() if b in names and not b.endswith(stats)]
    if buffers:
        onnx.helper.set_model_props(model, {BUFFERS_KEY: ",".join(buffers)})
    return model.SerializeToString()


def time_onnx(
    data: bytes, input_shape: tuple[int, ...] | None = None, threads: int | None = None, repeats: int = 20, warmup=3
) -> dict[str, Any]:
    """ONNX Runtime's CPU latency of the model (only when the user asks): the checks of :func:`analyse_onnx` first (a
    refused file never reaches ONNX Runtime), random data of ``input_shape``; the fields of
    :class:`effnets.runtime.timing.Timing` (median_ms, p10_ms, p90_ms, spread, busy ...) and what it ran with."""
    import onnxruntime as ort
    import torch

    from effnets.runtime.timing import time_inference

    name = "model.onnx"
    model = _parse(data, name, MAX_BYTES)
    _refuse_unsupported(model, name)
    inp, full, _ = _fix_input(model, name, input_shape)
    dtype = np.dtype(onnx.helper.tensor_dtype_to_np_dtype(inp.type.tensor_type.elem_type))
    if math.prod(full) * dtype.itemsize > MAX_INPUT_BYTES:
        raise SpecError(f"an input of {' x '.join(map(str, full))} is too large to time here", "input_shape", full)
    threads = threads or torch.get_num_threads()
    so = ort.SessionOptions()
    so.intra_op_num_threads, so.inter_op_num_threads, so.log_severity_level = threads, 1, 3
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL  # as effnets.runtime's ONNX Runtime
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        sess = ort.InferenceSession(bytes(data), so, providers=["CPUExecutionProvider"])
    except Exception as e:
        raise SpecError(f"{name}: ONNX Runtime cannot load it: {' '.join(str(e).split())[:300]}", "file") from e
    rng = np.random.default_rng(0)
    x = rng.standard_normal(full).astype(dtype) if dtype.kind == "f" else np.zeros(full, dtype)
    t = time_inference(lambda: sess.run(None, {inp.name: x}), warmup=warmup, repeats=repeats, batch_size=full[0])
    engine = f"ONNX Runtime {ort.__version__}, CPUExecutionProvider, ORT_ENABLE_ALL, spinning off"
    ran = {"threads": threads, "engine": engine, "device": "cpu", "precision": str(dtype), "input_shape": list(full)}
    return {**t.to_dict(), **ran}
