"""Traced counts: what real tracers measure on a built module, to check the analytic model against.

Three tracers, each run on the real ``nn.Module``:

* :func:`flop_counter_macs`: ``torch.utils.flop_counter.FlopCounterMode`` on the meta device (no memory, no
  arithmetic). It reports FLOPs = 2 x MACs for conv and matmul only. Out of the box it counts
  ``torchvision::deform_conv2d`` as 0; we register :func:`deform_conv2d_macs` for it.
* :func:`fvcore_counts`: fvcore's ``FlopCountAnalysis`` (a JIT trace on the CPU). It counts a fused multiply-add as
  one "flop" and, by default, also counts batch norm (2 per element in eval mode: a scale and a shift) and adaptive
  average pooling (1 per input element). It skips ``torchvision::deform_conv2d`` without a rule; we register ours.
* :func:`dispatch_counts`: the project's own op rules in a ``TorchDispatchMode`` on the meta device, sorting every
  aten op into the same lines as :mod:`effnets.cost` (conv/linear MACs, acts, and each extras line), so that every
  line of the analytic breakdown has a traced twin.

The disagreements between tools are explained to users by :func:`explain_differences`.
"""

from __future__ import annotations

import contextlib
import io
import logging
import math
import warnings
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

from effnets.cost import EXTRA_KINDS, Cost

aten = torch.ops.aten


def _deform_op():
    import torchvision.ops  # noqa: F401  (registers torchvision::deform_conv2d)

    return torch.ops.torchvision.deform_conv2d


# ----- the project's rule for deformable convolution -----------------------------------------------------------


def deform_conv2d_macs(input_shape, weight_shape, out_shape) -> int:
    """MACs of torchvision::deform_conv2d: N * C_out * H_out * W_out * (C_in / groups) * k_h * k_w.

    The bilinear sampling that builds the columns is not a MAC of the convolution; it is counted on its own line
    (``sampling``) by the analytic model and by :func:`dispatch_counts`.
    """
    n = input_shape[0]
    c_out, cin_g, kh, kw = weight_shape
    return n * c_out * out_shape[2] * out_shape[3] * cin_g * kh * kw


def _deform_flops_for_flop_counter(input_shape, weight_shape, *args, out_shape=None, **kwargs) -> int:
    return 2 * deform_conv2d_macs(input_shape, weight_shape, out_shape)


# ----- FlopCounterMode ------------------------------------------------------------------------------------------


def build_on_meta(factory) -> nn.Module:
    """Build a module on the meta device (shapes only, no memory) in eval mode.

    A builder that computes with tensors while it builds (torchvision's RegNets derive their widths with torch ops)
    cannot run under the meta device; it runs on the CPU instead, with each parameter and buffer moved to the meta
    device the moment it is registered, so no weights are ever initialised or kept.
    """
    try:
        with torch.device("meta"):
            m = factory()
    except NotImplementedError:
        with _weights_on_meta():
            m = factory()
    return m.eval()


@contextlib.contextmanager
def _weights_on_meta():
    register_parameter, register_buffer = nn.Module.register_parameter, nn.Module.register_buffer

    def parameter(self, name, param):
        if param is not None:
            param = nn.Parameter(param.to("meta"), requires_grad=param.requires_grad)
        register_parameter(self, name, param)

    def buffer(self, name, tensor, persistent=True):
        register_buffer(self, name, None if tensor is None else tensor.to("meta"), persistent)

    nn.Module.register_parameter, nn.Module.register_buffer = parameter, buffer
    try:
        yield
    finally:
        nn.Module.register_parameter, nn.Module.register_buffer = register_parameter, register_buffer


def traced_structure(module: nn.Module, input_shape: tuple[int, int, int]) -> dict[str, float]:
    """What the Model Zoo reads from a network it has no stage table for (a torchvision reference model), traced on
    its device (meta: free): per image, conv/linear output elements (acts), arithmetic intensity by
    :data:`effnets.analysis.roofline.BYTE_MODEL` in fp32, the share of MACs in depthwise convs, and element-wise and
    activation ops per MAC (from the dispatch counter)."""
    seen = {"macs": 0, "dw": 0, "acts": 0, "bytes": 0}

    def hook(m, inputs, out):
        x = inputs[0]
        if isinstance(m, nn.Conv2d):
            kh, kw = m.kernel_size
            macs = out.numel() * (m.in_channels // m.groups) * kh * kw
            if m.groups > 1 and m.groups == m.in_channels:
                seen["dw"] += macs
        else:
            macs = out.numel() * m.in_features
        seen["macs"] += macs
        seen["acts"] += out.numel()
        seen["bytes"] += 4 * (x.numel() + out.numel() + sum(p.numel() for p in m.parameters(recurse=False)))

    handles = [m.register_forward_hook(hook) for m in module.modules() if isinstance(m, nn.Conv2d | nn.Linear)]
    try:
        with torch.no_grad():
            module(torch.empty((1, *input_shape), device=_module_device(module)))
    finally:
        for h in handles:
            h.remove()
    extras = dispatch_counts(module, input_shape).extras
    macs = seen["macs"] or 1
    return {
        "acts": seen["acts"],
        "intensity": seen["macs"] / seen["bytes"] if seen["bytes"] else 0.0,
        "depthwise_share": seen["dw"] / macs,
        "elementwise_per_mac": (extras.get("elementwise", 0) + extras.get("act", 0)) / macs,
    }


def flop_counter_macs(module: nn.Module, input_shape: tuple[int, ...], batch: int = 1) -> int:
    """MACs per sample measured by FlopCounterMode (with the deform_conv2d rule) on the module's device.

    Pass a module built on the meta device (:func:`build_on_meta`) to count without memory or arithmetic.
    """
    from torch.utils.flop_counter import FlopCounterMode

    device = _module_device(module)
    x = torch.empty((batch, *input_shape), device=device)
    mapping = {_deform_op(): _deform_flops_for_flop_counter}
    with torch.no_grad(), FlopCounterMode(display=False, custom_mapping=mapping) as fc:
        module(x)
    return fc.get_total_flops() // 2 // batch


def _module_device(module: nn.Module) -> torch.device:
    for t in list(module.parameters()) + list(module.buffers()):
        return t.device
    return torch.device("cpu")


# ----- fvcore --------------------------------------------------------------------------------------------------


def _fvcore_deform_handle(inputs, outputs) -> int:
    from fvcore.nn.jit_handles import get_shape

    return deform_conv2d_macs(get_shape(inputs[0]), get_shape(inputs[1]), get_shape(outputs[0]))


def _fvcore_deform_acts(inputs, outputs) -> int:
    from fvcore.nn.jit_handles import get_shape

    return math.prod(get_shape(outputs[0]))


@dataclass
class FvcoreCounts:
    """fvcore's counts for one sample.

    Attributes:
        total: FlopCountAnalysis.total() with fvcore's defaults (+ our deform_conv2d rule).
        by_operator: the same total split by operator name (conv, linear, batch_norm, adaptive_avg_pool2d, ...).
        acts: ActivationCountAnalysis.total() (conv/linear outputs).
        unsupported: operator -> how often fvcore skipped it.
    """

    total: int
    by_operator: dict[str, int]
    acts: int
    unsupported: dict[str, int] = field(default_factory=dict)

    tensor_ops: dict[str, int] = field(default_factory=dict)  # skipped operator -> uses on tensors (not sizes)

    CONV_LINEAR = ("conv", "linear", "addmm", "matmul", "mm", "bmm", "einsum", "deform_conv2d")

    @property
    def conv_linear(self) -> int:
        """The part of fvcore's total that is conv and linear work (comparable with analytic MACs)."""
        return sum(v for k, v in self.by_operator.items() if k in self.CONV_LINEAR)


def fvcore_counts(module: nn.Module, input_shape: tuple[int, ...]) -> FvcoreCounts:
    """Run fvcore's FlopCountAnalysis and ActivationCountAnalysis on a CPU copy of ``module`` (eval, batch 1)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from fvcore.nn import ActivationCountAnalysis, FlopCountAnalysis

    x = torch.zeros((1, *input_shape))
    module = module.eval()
    handle = {"torchvision::deform_conv2d": _fvcore_deform_handle}
    logger = logging.getLogger("fvcore")
    old = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), torch.no_grad(), contextlib.redirect_stderr(io.StringIO()):
            warnings.simplefilter("ignore")
            flops = FlopCountAnalysis(module, x).set_op_handle(**handle)
            flops.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
            total = int(flops.total())
            by_op = {k: int(v) for k, v in flops.by_operator().items()}
            unsupported = dict(flops.unsupported_ops())
            acts_an = ActivationCountAnalysis(module, x).set_op_handle(
                **{"torchvision::deform_conv2d": _fvcore_deform_acts}
            )
            acts_an.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
            acts = int(acts_an.total())
            tensor_ops = _tensor_uses(module, x, set(unsupported))
    finally:
        logger.setLevel(old)
    return FvcoreCounts(total=total, by_operator=by_op, acts=acts, unsupported=unsupported, tensor_ops=tensor_ops)


_SIZE_NODES = {"prim::NumToTensor", "prim::Constant"}  # a traced size (x.shape[1]) or a literal, not a feature map


def _tensor_uses(module: nn.Module, x: torch.Tensor, ops: set[str]) -> dict[str, int]:
    """How often each of ``ops`` (JIT names, 'aten::sub') takes a tensor in the traced graph: a skipped 'aten::sub'
    on integer sizes is no tensor work at all."""
    graph = torch.jit.trace(module, x, check_trace=False).inlined_graph
    uses = dict.fromkeys(ops, 0)
    for node in graph.nodes():
        if node.kind() in uses and any(
            isinstance(i.type(), torch._C.TensorType) and i.node().kind() not in _SIZE_NODES for i in node.inputs()
        ):
            uses[node.kind()] += 1
    return uses


def _skipped_reason(op: str, tensor_uses: int | None, analytic: Cost) -> str:
    """Which effnets extras line holds the work of an operator fvcore skips (or why there is none)."""
    name = op.split("::")[-1].rstrip("_")
    if tensor_uses == 0:
        return "arithmetic on sizes (integers) in the traced code, not tensor work: nothing to count"
    if name in _ACT_OPS or f"{name}_" in _ACT_OPS:
        return "an activation: effnets' act line"
    if name in ("add", "mul", "div", "sub"):
        return "element-wise: effnets' elementwise line" + ("" if analytic.extra("elementwise") else " (empty here)")
    if "pool" in name:
        return "pooling: effnets' pool line"
    return "no effnets line counts it"


# ----- the project's own dispatch-level counter ----------------------------------------------------------------

_ACT_OPS = {
    "relu",
    "relu_",
    "hardtanh",
    "hardtanh_",
    "silu",
    "silu_",
    "sigmoid",
    "sigmoid_",
    "hardswish",
    "hardswish_",
    "hardsigmoid",
    "hardsigmoid_",
    "gelu",
    "tanh",
    *("leaky_relu", "leaky_relu_", "elu", "elu_", "celu", "mish", "mish_", "softplus", "_prelu_kernel"),  # timm nets
}
_ELEMENTWISE_OPS = {"add", "add_", "mul", "mul_"}
_BN_OPS = {"_native_batch_norm_legit_no_training", "native_batch_norm", "batch_norm", "_native_batch_norm_legit"}
_WINDOW_POOL_OPS = {"max_pool2d_with_indices", "max_pool2d", "avg_pool2d"}
_GLOBAL_POOL_OPS = {"_adaptive_avg_pool2d", "adaptive_avg_pool2d", "mean"}
_LN_OPS = {"native_layer_norm", "layer_norm"}  # 5 per element with gamma (effnets.cost's ln line), 4 without


@dataclass
class TracedCounts:
    """Counts sorted into the analytic model's lines (per sample)."""

    macs: int = 0
    acts: int = 0
    extras: dict[str, int] = field(default_factory=lambda: dict.fromkeys(EXTRA_KINDS, 0))
    uncounted: dict[str, int] = field(default_factory=dict)


def _numel(shape) -> int:
    return math.prod(shape)


_MM_OPS = {"addmm", "mm", "linear", "bmm", "baddbmm"}  # bmm/baddbmm: attention's q @ k^T and attn @ v (timm)


def count_op(c: TracedCounts, func, args, kwargs, out) -> bool:
    """Add one aten op's work to ``c`` by the project's rules (the lines of :mod:`effnets.cost`): conv, linear and
    matmul MACs and their outputs (acts), deformable sampling, and each extras line. Returns whether a rule names the
    op (ops none names add nothing). :class:`_Counter` applies it to a whole forward pass,
    :mod:`effnets.networks.external` to each layer's ops."""
    name = func._overloadpacket.__name__
    flat = tree_flatten(out)[0]
    first_out = flat[0] if flat else None
    if name in ("convolution", "_convolution", "conv2d"):
        x, w = args[0], args[1]
        # transposed (args[6]; weight C_in x C_out/g x k x k): each input pixel is scattered over k x k outputs
        scattered = x if name != "conv2d" and len(args) > 6 and args[6] else first_out
        c.macs += _numel(scattered.shape) * _numel(w.shape[1:])
        c.acts += first_out.numel()
    elif name in _MM_OPS:
        w = args[-1] if name in ("addmm", "baddbmm") else args[1]
        k = w.shape[-1] if name == "linear" else w.shape[-2]  # mm/bmm: (.., k, n); linear: (n, k)
        c.macs += _numel(first_out.shape) * k
        c.acts += first_out.numel()
    elif name == "deform_conv2d":
        x, w, _offset, mask = args[0], args[1], args[2], args[3]
        c.macs += deform_conv2d_macs(x.shape, w.shape, first_out.shape)
        c.acts += first_out.numel()
        sampled = x.shape[0] * x.shape[1] * w.shape[2] * w.shape[3] * first_out.shape[2] * first_out.shape[3]
        use_mask = bool(args[-1]) if isinstance(args[-1], bool) else mask.numel() > 0
        c.extras["sampling"] += sampled * (5 if use_mask else 4)
    elif name in _BN_OPS:
        c.extras["bn"] += first_out.numel()
    elif name in _LN_OPS:
        c.extras["ln"] += args[0].numel() * (5 if len(args) > 2 and args[2] is not None else 4)
    elif name in _ACT_OPS:
        c.extras["act"] += first_out.numel()
    elif name in _ELEMENTWISE_OPS:
        tensors = [a for a in args[:2] if isinstance(a, torch.Tensor)]
        if len(tensors) == 2 and all(t.dim() > 0 for t in tensors):
            c.extras["elementwise"] += first_out.numel()
    elif name in _WINDOW_POOL_OPS:
        k = args[1] if len(args) > 1 else kwargs.get("kernel_size")
        kh, kw = (k[0], k[-1]) if isinstance(k, list | tuple) else (k, k)
        c.extras["pool"] += first_out.numel() * kh * kw
    elif name in _GLOBAL_POOL_OPS:
        c.extras["pool"] += args[0].numel()
    else:
        return False
    return True


class _Counter(TorchDispatchMode):
    def __init__(self) -> None:
        super().__init__()
        self.c = TracedCounts()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        count_op(self.c, func, args, kwargs, out)
        return out


def dispatch_counts(module: nn.Module, input_shape: tuple[int, ...], batch: int = 1) -> TracedCounts:
    """Count a forward pass with the project's op rules (per sample). Runs on the module's device; meta is free."""
    device = _module_device(module)
    x = (
        torch.empty((batch, *input_shape), device=device)
        if device.type == "meta"
        else torch.zeros((batch, *input_shape), device=device)
    )
    counter = _Counter()
    with torch.no_grad(), counter:
        module(x)
    c = counter.c
    return TracedCounts(
        macs=c.macs // batch,
        acts=c.acts // batch,
        extras={k: v // batch for k, v in c.extras.items()},
    )


def param_count(module: nn.Module) -> int:
    """Learnable parameters (requires_grad), the analytic model's ``params``."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


# ----- explaining disagreements --------------------------------------------------------------------------------

_FVCORE_WHY = {
    "batch_norm": "fvcore counts batch norm by default: 2 per element in eval mode (a scale and a shift).",
    "adaptive_avg_pool2d": "fvcore counts adaptive average pooling (1 per input element); the headline leaves "
    "pooling to the 'pooling' line.",
    "upsample_nearest2d": "fvcore counts upsampling.",
    "upsample_bilinear2d": "fvcore counts upsampling.",
    "group_norm": "fvcore counts group norm.",
    "layer_norm": "fvcore counts layer norm: 5 per element with gamma and beta (4 without), as effnets' ln line.",
}


@dataclass
class CrossCheck:
    """The analytic count beside the tracers', with a sentence per disagreement."""

    analytic_macs: int
    flop_counter_macs: int | None
    fvcore: FvcoreCounts | None
    dispatch: TracedCounts | None
    notes: list[str]

    def rows(self) -> list[dict]:
        rows = [{"source": "analytic (effnets.cost)", "MACs": self.analytic_macs, "agrees": True}]
        if self.flop_counter_macs is not None:
            rows.append(
                {
                    "source": "FlopCounterMode (meta device) / 2",
                    "MACs": self.flop_counter_macs,
                    "agrees": self.flop_counter_macs == self.analytic_macs,
                }
            )
        if self.fvcore is not None:
            rows.append(
                {
                    "source": "fvcore total (defaults)",
                    "MACs": self.fvcore.total,
                    "agrees": self.fvcore.total == self.analytic_macs,
                }
            )
            rows.append(
                {
                    "source": "fvcore conv + linear only",
                    "MACs": self.fvcore.conv_linear,
                    "agrees": self.fvcore.conv_linear == self.analytic_macs,
                }
            )
        if self.dispatch is not None:
            rows.append(
                {
                    "source": "effnets dispatch counter",
                    "MACs": self.dispatch.macs,
                    "agrees": self.dispatch.macs == self.analytic_macs,
                }
            )
        return rows


def explain_differences(analytic: Cost, fc: int | None, fv: FvcoreCounts | None, has_deform: bool) -> list[str]:
    """One sentence per way a tool's number differs from the analytic MACs."""
    notes: list[str] = []
    if has_deform:
        notes.append(
            "Out of the box both FlopCounterMode and fvcore count torchvision::deform_conv2d as 0; effnets registers "
            "its rule (N x C_out x H_out x W_out x C_in/groups x k_h x k_w) in both, so the numbers shown include it."
        )
    if fc is not None and fc != analytic.macs:
        notes.append(f"FlopCounterMode differs by {fc - analytic.macs:+,} MACs: this is a bug in effnets' cost model.")
    elif fc is not None:
        notes.append("FlopCounterMode reports FLOPs = 2 x MACs for conv and matmul only; halved, it matches exactly.")
    if fv is not None:
        for op, n in sorted(fv.by_operator.items()):
            if op not in FvcoreCounts.CONV_LINEAR and n:  # every part of fvcore's total beyond conv and linear
                notes.append(f"fvcore adds {n:,} for {op}: {_FVCORE_WHY.get(op, f'its own rule for {op}.')}")
        if fv.conv_linear != analytic.macs:
            notes.append(
                f"fvcore's conv + linear part differs by {fv.conv_linear - analytic.macs:+,}: this is a bug in "
                "effnets' cost model."
            )
        skipped = {k: v for k, v in fv.unsupported.items() if "deform" not in k}
        if skipped:
            notes.append(
                "fvcore skips (counts 0 for) "
                + "; ".join(
                    f"{k} x{v} ({_skipped_reason(k, fv.tensor_ops.get(k), analytic)})"
                    for k, v in sorted(skipped.items())
                )
                + "."
            )
    return notes


def cross_check(
    module_factory, analytic: Cost, input_shape: tuple[int, int, int], use_fvcore: bool = True
) -> CrossCheck:
    """Run the tracers on modules from ``module_factory`` and explain how they compare with ``analytic``."""
    meta = build_on_meta(module_factory)
    fc = flop_counter_macs(meta, input_shape)
    dc = dispatch_counts(meta, input_shape)
    fv = None
    if use_fvcore:
        cpu = module_factory().eval()
        fv = fvcore_counts(cpu, input_shape)
    has_deform = any(type(m).__name__ == "DeformConv2d" for m in meta.modules())
    notes = explain_differences(analytic, fc, fv, has_deform)
    return CrossCheck(analytic.macs, fc, fv, dc, notes)
