"""Measure a module's receptive field from gradients: the input pixels one output pixel depends on."""

from __future__ import annotations

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


def measured_receptive_field(module: nn.Module, in_channels: int, size: int) -> tuple[int, int]:
    """Height and width of the input region the centre output pixel depends on (float64, positive weights)."""
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
    y[0, :, ho, wo].sum().backward()
    nz = x.grad[0].abs().sum(0) > 0
    rows = torch.nonzero(nz.any(1)).flatten()
    cols = torch.nonzero(nz.any(0)).flatten()
    return int(rows.max() - rows.min() + 1), int(cols.max() - cols.min() + 1)
