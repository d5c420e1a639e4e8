"""Structural reparameterization: a multi-branch training form folded into the one conv (with a bias) it equals.

Why it works (Ding et al. 2021, RepVGG, Sec. 3.3): in eval mode a batch norm is a fixed per-channel affine map,
``BN(y) = gamma (y - mu) / sigma + beta`` with ``sigma = sqrt(var + eps)``, so a conv followed by a BN is one conv
with the kernel scaled by ``gamma / sigma`` per output channel and a bias ``beta - gamma mu / sigma``. Convolution is
linear in its kernel, so branches that read the same input with the same stride add up to one conv whose kernel is
the sum of theirs: a 1x1 kernel is a kxk kernel that is zero off its centre, and the identity (C_in == C_out) is a
kxk kernel holding one 1 at the centre of each channel's own input. The folded conv is exact up to rounding, but only
in eval mode: in training a BN normalises with the batch's own statistics, which no fixed kernel reproduces.

:func:`reparameterize` returns the deploy form of any effnets module: each RepVGG / MobileOne block (anything with a
``deploy_form()``) becomes its deploy form, and each :class:`~effnets.blocks._layers.ConvBNAct` with a batch norm
becomes a conv with a bias (plain BN folding). :func:`randomize_bn` gives batch norms non-trivial statistics, so that
a check of the folding is not passed by identity BNs.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from effnets.blocks._layers import ConvBNAct

Branch = ConvBNAct | nn.BatchNorm2d | None


def fold_bn(kernel: torch.Tensor, bias: torch.Tensor | None, bn: nn.BatchNorm2d) -> tuple[torch.Tensor, torch.Tensor]:
    """(kernel, bias) of the conv ``kernel`` (+ ``bias``) followed by ``bn`` in eval mode."""
    std = (bn.running_var + bn.eps).sqrt()
    gamma = bn.weight if bn.weight is not None else torch.ones_like(std)
    beta = bn.bias if bn.bias is not None else torch.zeros_like(std)
    scale = gamma / std
    b = bias if bias is not None else torch.zeros_like(std)
    return kernel * scale.reshape(-1, 1, 1, 1), beta + (b - bn.running_mean) * scale


def identity_kernel(channels: int, groups: int, kernel_size: int, like: torch.Tensor) -> torch.Tensor:
    """The kxk grouped kernel of the identity map: output channel i reads input channel i (local index i mod C/g
    within its group) at the window's centre."""
    per_group = channels // groups
    kernel = torch.zeros(channels, per_group, kernel_size, kernel_size, dtype=like.dtype, device=like.device)
    idx = torch.arange(channels, device=like.device)
    kernel[idx, idx % per_group, kernel_size // 2, kernel_size // 2] = 1
    return kernel


def branch_kernel(branch: Branch, kernel_size: int, groups: int) -> tuple[torch.Tensor, torch.Tensor] | None:
    """A branch (conv-BN, identity BN or None) as a kxk kernel and bias, the smaller kernel zero-padded around the
    centre."""
    if branch is None:
        return None
    if isinstance(branch, nn.BatchNorm2d):
        like = branch.running_mean
        return fold_bn(identity_kernel(branch.num_features, groups, kernel_size, like), None, branch)
    conv, bn = branch[0], branch[1]
    if not isinstance(bn, nn.BatchNorm2d):
        raise TypeError("a branch to fold must be conv -> BN")
    kernel, bias = fold_bn(conv.weight, conv.bias, bn)
    kh, kw = kernel.shape[-2:]
    ph, pw = (kernel_size - kh) // 2, (kernel_size - kw) // 2
    return F.pad(kernel, [pw, pw, ph, ph]), bias


def fuse_branches(branches: Sequence[Branch], kernel_size: int, groups: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The kernel and bias of one kxk conv equal (in eval mode) to the sum of the ``branches`` (None ones skipped)."""
    parts = [p for p in (branch_kernel(b, kernel_size, groups) for b in branches) if p is not None]
    if not parts:
        raise ValueError("nothing to fuse: every branch is empty")
    kernel = torch.stack([k for k, _ in parts]).sum(0)
    bias = torch.stack([b for _, b in parts]).sum(0)
    return kernel, bias


def deployed(
    module: nn.Module, weights: dict[str, tuple[torch.Tensor, torch.Tensor]] | None, make: Callable[[], nn.Module]
) -> nn.Module:
    """A new module from ``make()`` on ``module``'s device and dtype, its convs named in ``weights`` set to the given
    (kernel, bias), in ``module``'s train/eval mode. ``weights`` None: a copy of ``module`` (already deployed)."""
    if weights is None:
        return copy.deepcopy(module)
    ref = next(module.parameters())
    with torch.device(ref.device):
        new = make().to(ref.dtype)
    with torch.no_grad():
        for name, (kernel, bias) in weights.items():
            conv = new.get_submodule(name)
            conv.weight.copy_(kernel)
            conv.bias.copy_(bias)
    return new.train(module.training)


def fold_conv_bn(layer: ConvBNAct) -> ConvBNAct:
    """A conv -> BN -> [act] layer as conv (bias) -> [act], the same function in eval mode (plain BN folding)."""
    conv = layer[0]
    if len(layer) < 2 or not isinstance(layer[1], nn.BatchNorm2d):
        return copy.deepcopy(layer)
    kernel, bias = fold_bn(conv.weight, conv.bias, layer[1])
    with torch.device(conv.weight.device):
        new = ConvBNAct(
            conv.in_channels,
            conv.out_channels,
            conv.kernel_size,
            conv.stride,
            conv.padding,  # a tuple: used as it is
            conv.dilation,  # type: ignore[arg-type]
            conv.groups,
            norm=False,
            activation="none",
            bias=True,
        ).to(conv.weight.dtype)
    for rest in list(layer)[2:]:
        new.append(copy.deepcopy(rest))
    with torch.no_grad():
        new[0].weight.copy_(kernel)
        new[0].bias.copy_(bias)
    return new.train(layer.training)


def _convert(module: nn.Module) -> nn.Module:
    if callable(getattr(module, "deploy_form", None)):
        return module.deploy_form()
    if isinstance(module, ConvBNAct):
        return fold_conv_bn(module)
    for name, child in list(module.named_children()):
        new = _convert(child)
        if new is not child:
            module._modules[name] = new
    return module


def reparameterize(module: nn.Module) -> nn.Module:
    """The deploy form of ``module``: a new module, in eval mode, computing the same function as ``module`` in eval
    mode (``module`` itself is not changed).

    Every RepVGG and MobileOne block becomes its deploy form (one conv with a bias per stage) and every conv -> BN
    (-> act) layer of effnets (:class:`~effnets.blocks._layers.ConvBNAct`) a conv with a bias; everything else is
    copied. Works on any device and dtype, the meta device included (shapes and counts without memory).
    """
    return _convert(copy.deepcopy(module)).eval()


def _draw(n: int, kind: str, a: float, b: float, g: torch.Generator, like: torch.Tensor) -> torch.Tensor:
    """n values, N(a, b) or U(a, b), drawn in float64 on the CPU (the same draw on any device and dtype)."""
    if kind == "normal":
        t = torch.randn(n, generator=g, dtype=torch.float64) * b + a
    else:
        t = torch.rand(n, generator=g, dtype=torch.float64) * (b - a) + a
    return t.to(dtype=like.dtype, device=like.device)


def _batch_norms(module: nn.Module) -> list[nn.BatchNorm2d]:
    return [m for m in module.modules() if isinstance(m, nn.BatchNorm2d)]


def _calibrate(module: nn.Module, x: torch.Tensor) -> None:
    """Running statistics of every BN from one train-mode pass on ``x`` (a cumulative average, not a moving one)."""
    norms = _batch_norms(module)
    saved = [(m.momentum, m.training) for m in norms]
    was_training = module.training
    for m in norms:
        m.reset_running_stats()
        m.momentum = None
    module.train()
    module(x)
    module.train(was_training)
    for m, (momentum, training) in zip(norms, saved, strict=True):
        m.momentum = momentum
        m.train(training)


def randomize_bn(
    module: nn.Module, generator: torch.Generator | None = None, calibrate: torch.Tensor | None = None
) -> nn.Module:
    """Give every batch norm of ``module`` (in place) non-trivial affine parameters and statistics, so that a check
    of BN folding is not passed by BNs that do nothing. Returns the module.

    gamma ~ U(0.5, 1.5) and beta ~ N(0, 0.1). Without ``calibrate``: running mean ~ N(0, 0.1) and variance
    ~ U(0.5, 2). With an input ``calibrate``: the statistics of that input's activations (one train-mode pass), then
    moved off them (mean + N(0, 0.05) sigma, variance x U(0.8, 1.25)): a deep stack of summed branches (MobileOne's
    six per stage) then keeps its outputs near unit scale instead of growing by the branch count at every stage.
    """
    g = generator if generator is not None else torch.Generator().manual_seed(0)
    norms = _batch_norms(module)
    with torch.no_grad():
        for m in norms:
            n, like = m.num_features, m.running_mean
            if m.weight is not None:
                m.weight.copy_(_draw(n, "uniform", 0.5, 1.5, g, like))
            if m.bias is not None:
                m.bias.copy_(_draw(n, "normal", 0.0, 0.1, g, like))
        if calibrate is None:
            for m in norms:
                n, like = m.num_features, m.running_mean
                m.running_mean.copy_(_draw(n, "normal", 0.0, 0.1, g, like))
                m.running_var.copy_(_draw(n, "uniform", 0.5, 2.0, g, like))
            return module
        _calibrate(module, calibrate)
        for m in norms:
            n, like = m.num_features, m.running_mean
            m.running_mean.add_(_draw(n, "normal", 0.0, 0.05, g, like) * m.running_var.sqrt())
            m.running_var.mul_(_draw(n, "uniform", 0.8, 1.25, g, like))
    return module
