"""Measure a module's receptive field from gradients: the input pixels one output pixel depends on."""

from __future__ import annotations

import math

import torch
from torch import nn


def _positive(module: nn.Module) -> nn.Module:
    """Make every path carry gradient: small positive weights, neutral BN stats, average instead of max pooling."""
    for name, child in list(module.named_children()):
        if isinstance(child, nn.MaxPool2d):
            setattr(
                module,
                name,
                nn.AvgPool2d(
                    child.kernel_size, child.stride, child.padding, ceil_mode=child.ceil_mode, count_include_pad=True
                ),
            )
        else:
            _positive(child)
    return module


def _phases(module: nn.Module) -> int:
    """How many neighbouring output pixels per axis to measure: a transposed conv's outputs see different numbers of
    inputs by their position mod its stride (k = 3, s = 2: 2 or 1; k < s: some see none), and effnets' field is the
    largest of them. Every other layer's interior outputs all see the same window: 1."""
    return math.prod(max(m.stride) for m in module.modules() if isinstance(m, nn.ConvTranspose2d))


def measured_receptive_field(module: nn.Module, in_channels: int, size: int) -> tuple[int, int]:
    """Height and width of the input region the centre output pixel depends on (float64, positive weights); with a
    transposed conv, the largest over the centre pixel and its neighbours of every phase (:func:`_phases`)."""
    g = torch.Generator().manual_seed(0)
    m = _positive(module).double().eval()
    with torch.no_grad():
        for name, p in m.named_parameters():
            if p.dim() > 1:  # conv/linear weights: positive, scaled by fan-in so activations stay O(input)
                p.copy_((torch.rand(p.shape, generator=g, dtype=torch.float64) * 0.5 + 0.5) / p[0].numel())
            else:  # BN gamma 1, every bias slightly positive
                p.fill_(1.0 if name.endswith("weight") else 0.01)
        for mod in m.modules():
            # Deformable convs: zero offsets = the regular grid, which is what the analytic field describes.
            if isinstance(getattr(mod, "offset", None), nn.Conv2d):
                mod.offset.weight.zero_()
                mod.offset.bias.zero_()
            if isinstance(mod, nn.BatchNorm2d):
                mod.running_mean.zero_()
                mod.running_var.fill_(1.0)
    x = (torch.rand(1, in_channels, size, size, generator=g, dtype=torch.float64) * 0.1 + 0.05).requires_grad_()
    y = m(x)
    ho, wo = y.shape[-2] // 2, y.shape[-1] // 2
    n = _phases(m)
    extents = []
    for dy in range(n):
        for dx in range(n):
            (grad,) = torch.autograd.grad(y[0, :, ho + dy, wo + dx].sum(), x, retain_graph=True)
            nz = grad[0].abs().sum(0) > 0
            rows = torch.nonzero(nz.any(1)).flatten()
            cols = torch.nonzero(nz.any(0)).flatten()
            if rows.numel():  # an output no kernel tap reaches (k < s) sees nothing
                extents.append((int(rows.max() - rows.min() + 1), int(cols.max() - cols.min() + 1)))
    return max(h for h, _ in extents), max(w for _, w in extents)
