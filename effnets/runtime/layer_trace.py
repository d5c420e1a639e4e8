"""The static trace of a network for per-layer work: each leaf layer's kind, shapes, weights and FlopCounterMode MACs,
and the aten ops that run outside every leaf (residual adds, SE multiplies, concats, shuffles, views), traced on the
meta device (free: no memory, no arithmetic). :mod:`effnets.runtime.per_layer` times these layers;
:mod:`effnets.analysis.latency_table` turns them into the latency predictor's units.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

_ACTS = (
    nn.ReLU, nn.ReLU6, nn.SiLU, nn.GELU, nn.Sigmoid, nn.Hardswish, nn.Hardsigmoid, nn.Tanh, nn.LeakyReLU, nn.PReLU,
    nn.ELU, nn.Mish, nn.Softmax,
)  # fmt: skip
_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.LayerNorm, nn.GroupNorm, nn.InstanceNorm2d)
_POOLS = (nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)
_NOOPS = (nn.Identity, nn.Dropout, nn.Flatten, nn.Unflatten)

KINDS = ("conv", "depthwise conv", "grouped conv", "transposed conv", "linear", "norm", "act", "pool", "pad", "no-op")
"""Layer kinds, in the order tables list them; a module none of them fits is "other"."""


def layer_kind(module: nn.Module) -> str:
    """The kind of a leaf layer: "conv", "depthwise conv", "grouped conv", "transposed conv", "linear", "norm",
    "act", "pool", "pad", "no-op" (identity, dropout and flatten in eval) or "other". Custom leaves are sorted by
    what they compute (VGNet's fixed depthwise conv, ConvNeXt's channels-first LayerNorm, TF 'SAME' padding)."""
    name = type(module).__name__
    if isinstance(module, nn.ConvTranspose2d):
        return "transposed conv"
    if isinstance(module, nn.Conv2d):
        if module.groups == 1:
            return "conv"
        return "depthwise conv" if module.groups == module.in_channels else "grouped conv"
    if name == "FixedDepthwise" or name == "DeformConv2d":
        return "depthwise conv" if name == "FixedDepthwise" else "conv"
    if isinstance(module, nn.Linear):
        return "linear"
    if isinstance(module, _NORMS) or "Norm" in name:
        return "norm"
    if isinstance(module, _ACTS):
        return "act"
    if isinstance(module, _POOLS):
        return "pool"
    if isinstance(module, _NOOPS):
        return "no-op"
    if "Pad" in name:
        return "pad"
    return "other"


def leaf_modules(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """(qualified name, module) of every module without children, in registration order (the model itself, named
    after its class, when it has no children)."""
    leaves = [(n, m) for n, m in model.named_modules() if not any(True for _ in m.children())]
    return [(n or type(model).__name__, m) for n, m in leaves]


# ----- the static trace: shapes, MACs and the ops outside the leaves -----------------------------------------------


@dataclass(frozen=True)
class LayerShape:
    """One leaf layer as the meta-device trace saw it (its first call; ``calls`` counts all of them).

    Attributes:
        name, type, kind: qualified name, class name, :func:`layer_kind`.
        calls: calls per forward.
        macs: FlopCounterMode's MACs over all its calls (whole batch).
        in_shape, out_shape: shapes of its first tensor input and its output (batch included).
        params: parameters and buffers with a weight's role (numel), i.e. the weights it reads.
        config: what the latency depends on besides shapes: kernel, stride, groups, in/out channels, activation.
    """

    name: str
    type: str
    kind: str
    calls: int
    macs: int
    in_shape: tuple[int, ...]
    out_shape: tuple[int, ...]
    params: int
    config: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "kind": self.kind,
            "calls": self.calls,
            "macs": self.macs,
            "in_shape": list(self.in_shape),
            "out_shape": list(self.out_shape),
            "params": self.params,
            "config": dict(self.config),
        }


@dataclass(frozen=True)
class OutsideOp:
    """An aten op that ran outside every leaf layer (a residual add, an SE multiply, a concat, a view ...).

    Attributes:
        op: the aten overload packet's name ("add", "mul", "cat", "view", "clone" ...).
        in_shapes: shapes of its tensor inputs.
        out_shape: shape of its (first) output.
        parent: the qualified name of the module whose forward ran it.
    """

    op: str
    in_shapes: tuple[tuple[int, ...], ...]
    out_shape: tuple[int, ...]
    parent: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "op": self.op,
            "in_shapes": [list(s) for s in self.in_shapes],
            "out_shape": list(self.out_shape),
            "parent": self.parent,
        }


@dataclass(frozen=True)
class Trace:
    """A model's leaf layers, the ops outside them and its container calls, for one input (meta device)."""

    layers: list[LayerShape]
    outside: list[OutsideOp]
    container_calls: int
    flop_counter_macs: int
    input_shape: tuple[int, ...]


def layer_config(m: nn.Module) -> dict[str, Any]:
    """What a layer's latency depends on besides shapes: kernel, stride, padding, dilation, groups, channels."""
    cfg: dict[str, Any] = {}
    for key in ("kernel_size", "stride", "padding", "dilation"):
        v = getattr(m, key, None)
        if v is not None and not isinstance(v, str):
            cfg[key] = int(v[0]) if isinstance(v, tuple | list) else int(v)
    for key in ("groups", "in_channels", "out_channels", "in_features", "out_features"):
        v = getattr(m, key, None)
        if isinstance(v, int):
            cfg[key] = v
    if type(m).__name__ == "FixedDepthwise":
        cfg.update(kernel_size=3, groups=int(m.weight.shape[0]), in_channels=int(m.weight.shape[0]))
        cfg["out_channels"] = cfg["in_channels"]
    return cfg


def weight_count(m: nn.Module) -> int:
    """The weights a layer reads per call: its own parameters, and a fixed ``weight`` buffer (VGNet)."""
    n = sum(p.numel() for p in m.parameters(recurse=False))
    w = getattr(m, "weight", None)
    if isinstance(w, torch.Tensor) and not isinstance(w, nn.Parameter):
        n += w.numel()
    return n


def _shape(t: Any) -> tuple[int, ...]:
    return tuple(int(v) for v in t.shape) if isinstance(t, torch.Tensor) else ()


class _OutsideRecorder(TorchDispatchMode):
    def __init__(self, state: dict[str, Any]):
        super().__init__()
        self.state = state
        self.ops: list[OutsideOp] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        if self.state["depth"] == 0:
            flat, _ = tree_flatten((args, kwargs or {}))
            ins = tuple(_shape(t) for t in flat if isinstance(t, torch.Tensor))
            outs = [t for t in tree_flatten(out)[0] if isinstance(t, torch.Tensor)]
            parent = self.state["stack"][-1] if self.state["stack"] else ""
            self.ops.append(OutsideOp(func.overloadpacket.__name__, ins, _shape(outs[0]) if outs else (), parent))
        return out


def meta_copy(model: nn.Module) -> nn.Module:
    """``model`` itself if it is on the meta device already, else a copy moved there."""
    on_meta = all(t.device.type == "meta" for t in list(model.parameters()) + list(model.buffers()))
    return model if on_meta else copy.deepcopy(model).to("meta")


def trace_layers(model: nn.Module, input_shape: tuple[int, ...], batch: int = 1) -> Trace:
    """Trace ``model`` on a batch x ``input_shape`` input on the meta device (a meta copy; free): each leaf's kind,
    shapes, weights and FlopCounterMode MACs, the aten ops outside every leaf, and the container calls."""
    from torch.utils.flop_counter import FlopCounterMode

    from effnets.counting import _deform_flops_for_flop_counter, _deform_op  # the project's deform_conv2d rule

    m = meta_copy(model).eval()
    leaves = leaf_modules(m)
    leaf_ids = {id(mod) for _, mod in leaves}
    names = {id(mod): n for n, mod in m.named_modules()}
    state: dict[str, Any] = {"depth": 0, "stack": [], "containers": 0}
    seen: dict[str, dict[str, Any]] = {}

    def pre(mod, args):
        if id(mod) in leaf_ids:
            state["depth"] += 1
        else:
            state["containers"] += 1
            state["stack"].append(names.get(id(mod), ""))

    def post(mod, args, out):
        if id(mod) not in leaf_ids:
            state["stack"].pop()
            return
        state["depth"] -= 1
        name = names.get(id(mod)) or type(m).__name__
        if name in seen:
            seen[name]["calls"] += 1
            return
        x = next((a for a in args if isinstance(a, torch.Tensor)), None)
        y = out[0] if isinstance(out, tuple | list) else out
        seen[name] = {"calls": 1, "in": _shape(x), "out": _shape(y)}

    handles = []
    for _, mod in m.named_modules():
        handles.append(mod.register_forward_pre_hook(pre))
        handles.append(mod.register_forward_hook(post))
    x = torch.empty((batch, *input_shape), device="meta")
    rec = _OutsideRecorder(state)
    try:
        mapping = {_deform_op(): _deform_flops_for_flop_counter}
        with torch.no_grad(), FlopCounterMode(display=False, depth=None, custom_mapping=mapping) as fc, rec:
            m(x)
    finally:
        for h in handles:
            h.remove()
    counts = fc.get_flop_counts()
    root = type(m).__name__
    layers = []
    for name, mod in leaves:
        info = seen.get(name)
        if info is None:  # a leaf the forward never calls (an unused branch): no row
            continue
        key = root if name == root else f"{root}.{name}"
        flops = sum(counts.get(key, {}).values())
        layers.append(
            LayerShape(
                name=name,
                type=type(mod).__name__,
                kind=layer_kind(mod),
                calls=info["calls"],
                macs=int(flops // 2),
                in_shape=info["in"],
                out_shape=info["out"],
                params=weight_count(mod),
                config=layer_config(mod),
            )
        )
    total = int(fc.get_total_flops() // 2)
    return Trace(layers, rec.ops, state["containers"], total, (batch, *input_shape))
