"""Block diagrams drawn from the real module: a torch.fx trace rendered as Graphviz DOT.

The diagram is traced from the module that is costed and run, so it cannot drift from the code. Layers that hide
shape-dependent Python (deformable conv, TF 'SAME' padding) and small composites (SE, fixed kernels) are kept as single
boxes; shape bookkeeping (``x.shape``, integer arithmetic) is left out so only tensors appear.
"""

from __future__ import annotations

import operator
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch
import torch.fx as fx
from torch import nn
from torch.fx.passes.shape_prop import ShapeProp

_LEAF_NAMES = {"DeformConv2d", "FixedDepthwise", "TFSamePad", "SqueezeExcite"}

_COLORS = {
    "conv": "#cfe2ff",
    "depthwise": "#d1f0e0",
    "pointwise": "#e8dcff",
    "norm": "#f2f2f2",
    "act": "#fff3cd",
    "pool": "#ffe5d0",
    "merge": "#f8d7da",
    "io": "#ffffff",
    "other": "#eeeeee",
}


UNPAINTED = "#f4f4f4"
"""The fill of a box a ``paint`` mapping has no entry for (ops outside every module: adds, concats, splits)."""


@dataclass(frozen=True)
class Paint:
    """How a measurement colours one module's box: ``fill``, the text colour ``font``, an extra label line."""

    fill: str
    font: str = "#111111"
    note: str = ""


class _Tracer(fx.Tracer):
    def is_leaf_module(self, m: nn.Module, qualname: str) -> bool:
        return type(m).__name__ in _LEAF_NAMES or super().is_leaf_module(m, qualname)


def is_box(m: nn.Module) -> bool:
    """Whether a diagram draws ``m`` as one box (its tracer does not look inside it)."""
    return _Tracer().is_leaf_module(m, "")


def trace(module: nn.Module) -> fx.GraphModule:
    """fx-trace ``module`` with the project's leaf rules."""
    tracer = _Tracer()
    graph = tracer.trace(module)
    return fx.GraphModule(tracer.root, graph)


def _module_label(m: nn.Module) -> tuple[str, str]:
    name = type(m).__name__
    if isinstance(m, nn.Conv2d):
        kh, kw = m.kernel_size
        s = m.stride[0]
        g = m.groups
        if g == m.in_channels and g == m.out_channels and g > 1:
            kind, what = "depthwise", f"{kh}x{kw} depthwise"
        elif kh == kw == 1:
            kind, what = "pointwise", "1x1 conv"
        else:
            kind, what = "conv", f"{kh}x{kw} conv"
        extra = []
        if s != 1:
            extra.append(f"s{s}")
        if 1 < g < m.in_channels or (g > 1 and kind != "depthwise"):
            extra.append(f"g={g}")
        if m.dilation[0] != 1:
            extra.append(f"d={m.dilation[0]}")
        return kind, f"{what} {' '.join(extra)}".strip() + f"\\n{m.in_channels}→{m.out_channels}"
    if isinstance(m, nn.ConvTranspose2d):
        (kh, kw), (s, _) = m.kernel_size, m.stride
        return "conv", f"{kh}x{kw} transposed conv s{s}\\n{m.in_channels}→{m.out_channels}"
    if name == "DeformConv2d":
        return "conv", f"{m.kernel_size[0]}x{m.kernel_size[1]} deformable conv\\n{m.in_channels}→{m.out_channels}"
    if name == "FixedDepthwise":
        return "depthwise", f"3x3 depthwise ({m.kind}, fixed)" + (f" s{m.stride}" if m.stride != 1 else "")
    if name == "SqueezeExcite":
        return "merge", f"SE {m.fc1.in_channels}→{m.fc1.out_channels}→{m.fc2.out_channels}"
    if name == "TFSamePad":
        return "other", "TF 'SAME' pad"
    if isinstance(m, nn.BatchNorm2d):
        return "norm", "BN"
    if isinstance(m, nn.LayerNorm):  # (torchvision's and effnets' LayerNorm2d too)
        return "norm", "LN"
    if isinstance(m, nn.ReLU | nn.ReLU6 | nn.SiLU | nn.Hardswish | nn.Hardsigmoid | nn.Sigmoid | nn.GELU):
        return "act", name
    if isinstance(m, nn.MaxPool2d | nn.AvgPool2d):
        return (
            "pool",
            f"{m.kernel_size}x{m.kernel_size} {'max' if isinstance(m, nn.MaxPool2d) else 'avg'} pool s{m.stride}",
        )
    if isinstance(m, nn.AdaptiveAvgPool2d):
        return "pool", "global avg pool"
    if isinstance(m, nn.Linear):
        return "conv", f"FC {m.in_features}→{m.out_features}"
    if isinstance(m, nn.Identity):
        return "other", "identity"
    return "other", name


_FUNC_LABELS = {
    operator.add: ("merge", "+ add"),
    torch.add: ("merge", "+ add"),
    operator.mul: ("merge", "× multiply"),
    torch.mul: ("merge", "× multiply"),
    torch.cat: ("merge", "concat"),
    torch.sigmoid: ("act", "sigmoid"),
    torch.flatten: ("other", "flatten"),
}


def _func_label(node: fx.Node) -> tuple[str, str]:
    t = node.target
    if t in _FUNC_LABELS:
        return _FUNC_LABELS[t]
    name = getattr(t, "__name__", str(t))
    if name == "channel_shuffle":
        return "merge", f"channel shuffle g={node.args[1]}"
    if name == "getitem":
        return "other", "slice"
    if name == "chunk":
        return "other", "split"
    return "other", name


def _shape_text(node: fx.Node) -> str:
    meta = node.meta.get("tensor_meta")
    if meta is None or not hasattr(meta, "shape"):
        return ""
    return "×".join(str(d) for d in tuple(meta.shape)[1:])


def _owner(node: fx.Node) -> str | None:
    """The module a node belongs to: its target for a module call, else the innermost module it was traced in."""
    if node.op == "call_module":
        return str(node.target)
    stack = node.meta.get("nn_module_stack") or {}
    return str(list(stack.values())[-1][0]) if stack else None


def _is_tensor(node: fx.Node) -> bool:
    meta = node.meta.get("tensor_meta")
    return meta is not None and hasattr(meta, "shape")


def block_dot(
    module: nn.Module,
    input_shape: tuple[int, int, int],
    title: str = "",
    dark: bool = False,
    paint: Mapping[str, Paint] | None = None,
    legend: Sequence[str] = (),
) -> str:
    """Graphviz DOT of ``module`` traced with a meta input of ``input_shape`` (C, H, W); edges carry C×H×W.

    ``dark`` draws edges and their labels in a light grey for a dark page background (boxes keep light fills with
    dark text, readable on both). ``paint`` (module name -> :class:`Paint`) colours the boxes by a measurement
    instead of by kind: a module box gets its entry's fill, text colour and extra label line, every other box
    (inputs and outputs aside) :data:`UNPAINTED`; ``legend`` are DOT statements added to the graph (a key)."""
    gm = trace(module)
    device = next((p.device for p in module.parameters()), torch.device("cpu"))
    x = torch.empty((1, *input_shape), device=device)
    ShapeProp(gm).propagate(x)
    modules = dict(gm.named_modules())
    lines = [
        "digraph block {",
        '  rankdir=TB; bgcolor="transparent";',
        '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=11];',
        f'  edge [fontname="Helvetica", fontsize=9, color="{"#bbbbbb" if dark else "#666666"}", '
        f'fontcolor="{"#dddddd" if dark else "#333333"}"];',
    ]
    if title:
        lines.append(f'  labelloc="t"; label="{title}"; fontcolor="{"#dddddd" if dark else "#333333"}";')
    shown: dict[str, str] = {}
    noted: set[str] = set()

    def source_of(arg) -> list[str]:
        """Tensor producers feeding ``arg``, looking through hidden bookkeeping nodes."""
        out: list[str] = []
        if isinstance(arg, fx.Node):
            if arg.name in shown:
                out.append(arg.name)
            else:
                for a in arg.all_input_nodes:
                    out += source_of(a)
        elif isinstance(arg, list | tuple):
            for a in arg:
                out += source_of(a)
        return out

    for node in gm.graph.nodes:
        if node.op == "placeholder":
            kind, label = "io", f"input\\n{'×'.join(map(str, input_shape))}"
        elif node.op == "output":
            kind, label = "io", "output"
        elif not _is_tensor(node):
            continue
        elif node.op == "call_module":
            kind, label = _module_label(modules[node.target])
        elif node.op in ("call_function", "call_method"):
            if node.op == "call_method":
                kind, label = {"chunk": ("other", "split"), "view": ("other", "view")}.get(
                    node.target, ("other", str(node.target))
                )
            else:
                kind, label = _func_label(node)
            if label in ("slice",) and node.args and isinstance(node.args[0], fx.Node):
                parent = node.args[0]
                if parent.op == "call_method" and parent.target == "chunk":
                    label = f"half {node.args[1]}"
        else:
            continue
        shown[node.name] = kind
        color, font = _COLORS.get(kind, _COLORS["other"]), ""
        if paint is not None and kind != "io":
            owner = _owner(node)
            p = paint.get(owner) if owner is not None else None
            color, font = (p.fill, f', fontcolor="{p.font}"') if p else (UNPAINTED, "")
            if p and p.note and owner not in noted:  # a module traced into several nodes says its time once
                label += f"\\n{p.note}"
                noted.add(owner)
        shape = ', shape="ellipse"' if kind == "io" else ""
        lines.append(f'  {node.name} [label="{label}", fillcolor="{color}"{font}{shape}];')
        for src in dict.fromkeys(source_of(list(node.args) + list(node.kwargs.values()))):
            producer = next(n for n in gm.graph.nodes if n.name == src)
            lines.append(f'  {src} -> {node.name} [label=" {_shape_text(producer)}"];')
    lines.extend(f"  {line}" for line in legend)
    lines.append("}")
    return "\n".join(lines)
