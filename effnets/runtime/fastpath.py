"""A fast inference path: the same function as the eager model, with less work per call.

:func:`fast_model` returns a private copy of a model (the argument is never modified, so a model cached and shared
by the UI stays as it was) with these changes, each exact up to float rounding:

* **Batch norm folded into the preceding conv.** In eval mode BN is a per-channel affine map
  ``y = gamma * (z - mean) / sqrt(var + eps) + beta``; applied to a conv's output ``z = W * x + b`` it is the conv with
  ``W' = W * s`` and ``b' = (b - mean) * s + beta``, ``s = gamma / sqrt(var + eps)`` (per output channel, so the same
  formula holds for grouped and depthwise convs, with or without a bias). The arithmetic is done in float64 and cast
  back. A BN that does not directly follow a conv (VGNet's conv -> act -> BN) stays; ``info.unfolded_bn`` counts them.
* **Static padding.** TensorFlow 'SAME' padding (:class:`effnets.blocks._layers.TFSamePad`) works out the padding
  from the input size at every call and pads with a separate copy. For one fixed input size it is a constant: where it
  is symmetric it becomes the conv's own padding (no copy at all); an asymmetric pad before a depthwise conv too, with
  the kernel grown by zero taps at the top/left; otherwise a fixed ``nn.ZeroPad2d``. The model is then specialised to
  that input size, and :class:`FastModel` refuses other sizes with a ValueError rather than compute a different
  function.
* **channels_last** (optional): NHWC tensors, which oneDNN on CPUs and cuDNN's tensor-core kernels prefer.
* **1x1 convs as matrix products** (CPU with channels_last, by default): in NHWC memory a 1x1 stride-1 conv is the
  product of the (N*H*W) x C_in pixel matrix with the C_in x C_out weight, so :class:`Pointwise` calls one GEMM on a
  view of the tensor, without copies. PyTorch would otherwise send a small-batch 1x1 conv on one thread to its slow
  im2col path and convert the layout there and back.
* **torch.inference_mode** around every call (no autograd bookkeeping, no version counters).
* **torch.compile** (optional, off by default): the first call compiles; its time is ``info.compile_s``, reported on
  its own and never part of a latency.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from effnets import cost
from effnets.blocks._layers import TFSamePad
from effnets.report import plural
from effnets.runtime import devices, inference, timing


@dataclass(frozen=True)
class FastPathInfo:
    """What :func:`fast_model` did.

    Attributes:
        input_shape: (N, C, H, W) of the example input the static padding was fixed for.
        device: where the model runs ("cpu", "cuda:0").
        precision: "fp32", "fp16" or "bf16".
        channels_last: NHWC memory layout.
        folded_bn: batch norms folded into the conv before them.
        unfolded_bn: batch norms left in place (not directly after a conv).
        pads_into_conv: TF 'SAME' pads that became the conv's own (symmetric) padding, or vanished (zero).
        grown_kernels: of those, asymmetric pads before a depthwise conv absorbed by growing its kernel with zero
            taps at the top/left (those convs then do a few more multiply-adds, all by zero).
        static_pads: TF 'SAME' pads that became a fixed ``nn.ZeroPad2d`` (asymmetric ones: odd pixel bottom/right).
        fixed_size: whether the module only accepts inputs of ``input_shape``'s H x W (True when any pad was fixed).
        pointwise_matmuls: 1x1 convs computed as matrix products (:class:`Pointwise`).
        compiled: torch.compile was applied.
        compile_s: seconds of the first (compiling) call, None without compile.
        notes: sentences for the user (what could not be sped up, and why).
    """

    input_shape: tuple[int, int, int, int]
    device: str
    precision: str
    channels_last: bool
    folded_bn: int
    unfolded_bn: int
    pads_into_conv: int
    grown_kernels: int
    static_pads: int
    fixed_size: bool
    pointwise_matmuls: int
    compiled: bool
    compile_s: float | None
    notes: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict:
        return {
            "input_shape": list(self.input_shape),
            "device": self.device,
            "precision": self.precision,
            "channels_last": self.channels_last,
            "folded_bn": self.folded_bn,
            "unfolded_bn": self.unfolded_bn,
            "pads_into_conv": self.pads_into_conv,
            "grown_kernels": self.grown_kernels,
            "static_pads": self.static_pads,
            "fixed_size": self.fixed_size,
            "pointwise_matmuls": self.pointwise_matmuls,
            "compiled": self.compiled,
            "compile_s": self.compile_s,
            "notes": list(self.notes),
        }


class FastModel(nn.Module):
    """The fast path's module: moves the input to the model's device, dtype and layout, checks its size where the
    padding was fixed for one size, and runs the body under ``torch.inference_mode``."""

    def __init__(self, body: nn.Module, config: inference.InferenceConfig, fixed_hw: tuple[int, int] | None):
        super().__init__()
        self.body = body
        self.inference_config = config
        self.fixed_hw = fixed_hw
        self._device = torch.device(config.device)
        self._dtype = devices.PRECISIONS[config.precision]
        self._format = torch.channels_last if config.channels_last else torch.contiguous_format
        self._run = body  # replaced by the compiled body; kept out of the module tree (no duplicate state_dict keys)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.fixed_hw is not None and tuple(x.shape[-2:]) != self.fixed_hw:
            h, w = self.fixed_hw
            raise ValueError(
                f"this fast model was specialised for {h}x{w} inputs (its TF 'SAME' padding is fixed for that size); "
                f"got {x.shape[-2]}x{x.shape[-1]}: build another with fast_model(model, an input of that size)"
            )
        with torch.inference_mode():
            x = x.to(device=self._device, dtype=self._dtype, memory_format=self._format)
            return self._run(x)


# ----- batch norm folding -----------------------------------------------------------------------------------------


def _foldable(conv: nn.Module, bn: nn.Module) -> bool:
    return (
        type(conv) is nn.Conv2d
        and isinstance(bn, nn.BatchNorm2d)
        and bn.running_mean is not None
        and bn.running_var is not None
        and conv.out_channels == bn.num_features
    )


@torch.no_grad()
def fold_bn_into_conv(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> None:
    """Fold an eval-mode ``bn`` into ``conv`` in place: ``conv`` then computes ``bn(conv(x))``.

    Works for grouped and depthwise convs (the scale is per output channel) and for convs with or without a bias.
    """
    w64 = conv.weight.detach().double()
    mean, var = bn.running_mean.double(), bn.running_var.double()
    gamma = bn.weight.detach().double() if bn.weight is not None else torch.ones_like(mean)
    beta = bn.bias.detach().double() if bn.bias is not None else torch.zeros_like(mean)
    scale = gamma / torch.sqrt(var + bn.eps)
    b64 = conv.bias.detach().double() if conv.bias is not None else torch.zeros_like(mean)
    dtype = conv.weight.dtype
    conv.weight = nn.Parameter((w64 * scale.reshape(-1, *([1] * (w64.dim() - 1)))).to(dtype), requires_grad=False)
    conv.bias = nn.Parameter(((b64 - mean) * scale + beta).to(dtype), requires_grad=False)


def _fold_in_sequentials(model: nn.Module) -> int:
    """Fold every BN that directly follows a conv inside an ``nn.Sequential`` (ConvBNAct, torchvision's
    Conv2dNormActivation); the BN becomes an ``nn.Identity`` so the other children keep their names."""
    folded = 0
    for parent in model.modules():
        if not isinstance(parent, nn.Sequential):
            continue
        kids = list(parent._modules.items())
        for (_, a), (name_b, b) in zip(kids, kids[1:], strict=False):
            if _foldable(a, b):
                fold_bn_into_conv(a, b)
                parent._modules[name_b] = nn.Identity()
                folded += 1
    return folded


def _fold_by_tracing(model: nn.Module) -> tuple[nn.Module, int, str | None]:
    """Fold conv -> BN pairs that are not neighbours in a Sequential (e.g. ResNet's ``conv1``/``bn1`` attributes) by
    tracing the forward with torch.fx; returns (module, folded, why not) and leaves untraceable models as they are."""
    import torch.fx

    try:
        gm = torch.fx.symbolic_trace(model)
    except Exception as e:  # control flow on tensor values and the like: fx raises many types
        return model, 0, f"the remaining batch norms stay: torch.fx cannot trace the model ({type(e).__name__})"
    mods = dict(gm.named_modules())
    folded = 0
    for node in list(gm.graph.nodes):
        if node.op != "call_module" or not isinstance(mods.get(node.target), nn.BatchNorm2d):
            continue
        src = node.args[0]
        if not isinstance(src, torch.fx.Node) or src.op != "call_module" or len(src.users) != 1:
            continue
        conv, bn = mods.get(src.target), mods[node.target]
        if not _foldable(conv, bn):
            continue
        fold_bn_into_conv(conv, bn)
        node.replace_all_uses_with(src)
        gm.graph.erase_node(node)
        folded += 1
    if folded:
        gm.graph.lint()
        gm.recompile()
        gm.delete_all_unused_submodules()
    return gm, folded, None


# ----- static padding ---------------------------------------------------------------------------------------------


def _record_pad_inputs(model: nn.Module, x: torch.Tensor) -> dict[int, set[tuple[int, int]]]:
    """Input H x W of every TFSamePad during one forward pass of ``model`` (a private copy: hooks are fine)."""
    seen: dict[int, set[tuple[int, int]]] = {}
    handles = []
    for m in model.modules():
        if isinstance(m, TFSamePad):

            def hook(mod, args, _seen=seen):
                _seen.setdefault(id(mod), set()).add((int(args[0].shape[-2]), int(args[0].shape[-1])))

            handles.append(m.register_forward_pre_hook(hook))
    if handles:
        try:
            with torch.inference_mode():
                model(x)
        finally:
            for h in handles:
                h.remove()
    return seen


def _first_conv(m: nn.Module) -> nn.Conv2d | None:
    if type(m) is nn.Conv2d:
        return m
    if isinstance(m, nn.Sequential) and len(m) and type(m[0]) is nn.Conv2d:
        return m[0]
    return None


@torch.no_grad()
def _grow_kernel_top_left(conv: nn.Conv2d, dh: int, dw: int) -> None:
    """Prepend ``dh`` rows and ``dw`` columns of zero taps to ``conv``'s kernel (its output is unchanged when the
    padding grows to match: the extra taps only ever meet the extra zeros)."""
    w = conv.weight
    grown = w.new_zeros(w.shape[0], w.shape[1], w.shape[2] + dh, w.shape[3] + dw)
    grown[:, :, dh:, dw:] = w
    conv.weight = nn.Parameter(grown, requires_grad=False)
    conv.kernel_size = (conv.kernel_size[0] + dh, conv.kernel_size[1] + dw)


def _fix_pads(model: nn.Module, x: torch.Tensor) -> tuple[int, int, int, list[str]]:
    """Replace every TFSamePad by constant padding for the size it sees with input ``x``.

    A symmetric pad becomes the next conv's own padding. An asymmetric one (TF puts the odd pixel bottom/right)
    before a depthwise conv becomes the conv's symmetric padding ``after`` with the kernel grown by ``after - before``
    zero taps at the top/left: window for window the same products, without copying the input into a padded buffer
    (a depthwise conv is memory-bound, so the zero taps cost little). Before other convs it becomes a fixed
    ``nn.ZeroPad2d``.

    Returns (pads absorbed into the next conv, of which by growing a depthwise kernel, pads made static, notes).
    """
    seen = _record_pad_inputs(model, x)
    into_conv = grown = static = 0
    notes: list[str] = []
    for parent in list(model.modules()):
        kids = list(parent._modules.items())
        for i, (name, m) in enumerate(kids):
            if not isinstance(m, TFSamePad):
                continue
            sizes = seen.get(id(m), set())
            if len(sizes) != 1:
                notes.append(
                    f"a TF 'SAME' pad saw {len(sizes)} input sizes in one pass (shared or unused), left dynamic"
                )
                continue
            ((h, w),) = sizes
            (top, bottom) = cost.tf_same_pad(h, m.kernel_size, m.stride, m.dilation)
            (left, right) = cost.tf_same_pad(w, m.kernel_size, m.stride, m.dilation)
            nxt = _first_conv(kids[i + 1][1]) if i + 1 < len(kids) else None
            fits = (
                nxt is not None
                and nxt.padding == (0, 0)
                and nxt.padding_mode == "zeros"
                and nxt.kernel_size == (m.kernel_size, m.kernel_size)
                and nxt.dilation == (m.dilation, m.dilation)
            )
            if (top, bottom, left, right) == (0, 0, 0, 0):
                parent._modules[name] = nn.Identity()
                into_conv += 1
            elif fits and top == bottom and left == right:
                nxt.padding = (top, left)
                parent._modules[name] = nn.Identity()
                into_conv += 1
            elif fits and nxt.groups == nxt.in_channels and m.dilation == 1 and top <= bottom and left <= right:
                _grow_kernel_top_left(nxt, bottom - top, right - left)
                nxt.padding = (bottom, right)
                parent._modules[name] = nn.Identity()
                into_conv += 1
                grown += 1
            else:
                parent._modules[name] = nn.ZeroPad2d((left, right, top, bottom))
                static += 1
    return into_conv, grown, static, notes


# ----- 1x1 convs as matrix products -------------------------------------------------------------------------------


class Pointwise(nn.Module):
    """A 1x1, stride-1, ungrouped conv computed as a matrix product over the pixels of an NHWC tensor.

    On a channels_last input ``x.permute(0, 2, 3, 1)`` is a contiguous N x H x W x C_in view, ``F.linear`` of it is
    contiguous N x H x W x C_out, and permuting back gives a channels_last N x C_out x H x W tensor: no copies. Inputs
    in another layout take the ordinary conv.
    """

    def __init__(self, conv: nn.Conv2d):
        super().__init__()
        if not _is_pointwise(conv):
            raise ValueError("Pointwise replaces only 1x1 convs with stride 1, no padding, dilation 1 and groups 1")
        self.in_channels, self.out_channels = conv.in_channels, conv.out_channels
        self.weight = nn.Parameter(conv.weight.detach()[:, :, 0, 0].clone(), requires_grad=False)
        self.bias = None if conv.bias is None else nn.Parameter(conv.bias.detach().clone(), requires_grad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.is_contiguous(memory_format=torch.channels_last):
            return F.linear(x.permute(0, 2, 3, 1), self.weight, self.bias).permute(0, 3, 1, 2)
        return F.conv2d(x, self.weight[:, :, None, None], self.bias)

    def extra_repr(self) -> str:
        return f"{self.in_channels}, {self.out_channels}, 1x1 as a matrix product, bias={self.bias is not None}"


def _is_pointwise(m: nn.Module) -> bool:
    return (
        type(m) is nn.Conv2d
        and m.kernel_size == (1, 1)
        and m.stride == (1, 1)
        and m.padding == (0, 0)
        and m.dilation == (1, 1)
        and m.groups == 1
    )


def _pointwise_to_matmul(model: nn.Module) -> int:
    n = 0
    for parent in list(model.modules()):
        for name, m in list(parent._modules.items()):
            if _is_pointwise(m):
                parent._modules[name] = Pointwise(m)
                n += 1
    return n


# ----- the fast path ----------------------------------------------------------------------------------------------


def _as_batch(example_input: torch.Tensor) -> torch.Tensor:
    if example_input.dim() == 3:
        example_input = example_input.unsqueeze(0)
    if example_input.dim() != 4:
        raise ValueError(f"example_input must be N x C x H x W (or C x H x W); got shape {tuple(example_input.shape)}")
    return example_input


def fast_model(
    model: nn.Module,
    example_input: torch.Tensor,
    channels_last: bool = True,
    compile: bool = False,
    device: torch.device | str | None = None,
    precision: str = "fp32",
    compile_mode: str | None = None,
    pointwise_matmul: bool | None = None,
) -> tuple[FastModel, FastPathInfo]:
    """A fast private copy of ``model`` for inputs of ``example_input``'s size (see the module docstring).

    Args:
        model: any eval-able ``nn.Module``; never modified (parameters, buffers, mode, device, dtype all stay).
        example_input: an input of the size the model will see (N x C x H x W or C x H x W); it fixes the padding.
        channels_last: NHWC memory layout (the input is converted at each call).
        compile: apply ``torch.compile``; the compiling first call is timed into ``info.compile_s``.
        device: where to run; default: where ``model``'s parameters are.
        precision: "fp32", "fp16" or "bf16" (BN is folded in float64 first, then cast).
        compile_mode: torch.compile's ``mode`` (None: its default).
        pointwise_matmul: compute 1x1 convs as matrix products (:class:`Pointwise`); None: on the CPU with
            channels_last, where it helps.

    Returns:
        (module, info): call ``module(x)``; it runs under inference_mode and converts ``x`` itself.

    Raises:
        ValueError: an unknown or unsupported precision, or a malformed example input.
    """
    x = _as_batch(example_input)
    if device is None:
        p = next(model.parameters(), None)
        device = p.device if p is not None else torch.device("cpu")
    device = torch.device(device)
    devices.check_precision(device, precision)

    body = copy.deepcopy(model)
    body.eval()
    body.to(device=device, dtype=torch.float32)
    for p in body.parameters():
        p.requires_grad_(False)
    notes: list[str] = []
    folded = _fold_in_sequentials(body)
    x_dev = x.to(device=device, dtype=torch.float32)
    into_conv, grown, static, pad_notes = _fix_pads(body, x_dev)
    notes += pad_notes
    if any(isinstance(m, nn.BatchNorm2d) for m in body.modules()):
        body, more, why = _fold_by_tracing(body)
        folded += more
        if why:
            notes.append(why)
    unfolded = sum(isinstance(m, nn.BatchNorm2d) for m in body.modules())
    if unfolded:
        notes.append(
            f"{plural(unfolded, 'batch norm')} {'does' if unfolded == 1 else 'do'} not directly follow a conv and "
            f"{'stays as a separate layer' if unfolded == 1 else 'stay as separate layers'}"
        )
    if pointwise_matmul is None:
        pointwise_matmul = device.type == "cpu" and channels_last
    matmuls = _pointwise_to_matmul(body) if pointwise_matmul else 0
    body.to(dtype=devices.PRECISIONS[precision])
    if channels_last:
        body.to(memory_format=torch.channels_last)
    fixed = static + into_conv > 0
    config = inference.InferenceConfig(str(device), precision, bool(channels_last))
    fast = FastModel(body, config, (int(x.shape[-2]), int(x.shape[-1])) if fixed else None)
    compile_s = None
    if compile:
        fast._run = torch.compile(body, mode=compile_mode)
        sync = timing.device_sync(device)
        sync()
        t0 = time.perf_counter()
        fast(x)
        sync()
        compile_s = time.perf_counter() - t0
    info = FastPathInfo(
        input_shape=tuple(int(v) for v in x.shape),  # type: ignore[arg-type]
        device=str(device),
        precision=precision,
        channels_last=bool(channels_last),
        folded_bn=folded,
        unfolded_bn=unfolded,
        pads_into_conv=into_conv,
        grown_kernels=grown,
        static_pads=static,
        fixed_size=fixed,
        pointwise_matmuls=matmuls,
        compiled=bool(compile),
        compile_s=compile_s,
        notes=tuple(notes),
    )
    return fast, info
