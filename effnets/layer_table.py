"""Per-layer table from torchinfo (a second, independent view of the module), on the meta device."""

from __future__ import annotations

import math
import warnings

import torch
from torch import nn


def layer_table(module: nn.Module, input_shape: tuple[int, int, int], batch: int = 1) -> tuple[list[dict], dict]:
    """torchinfo's per-layer rows and totals for ``module`` (build it on the meta device to avoid any arithmetic).

    torchinfo's "Mult-Adds" is a layer's parameter count times its output positions: it includes biases and counts
    BN's gamma and beta, so its total is close to, but not the same as, effnets' conv + linear MACs.

    Returns:
        (rows with depth, layer, type, output shape, params, mult_adds (torchinfo), leaf flag; totals dict).
    """
    import torchinfo

    device = next((p.device for p in module.parameters()), torch.device("cpu"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        s = torchinfo.summary(
            module,
            input_size=(batch, *input_shape),
            device=device,
            verbose=0,
            depth=8,
            col_names=("output_size", "num_params", "mult_adds"),
        )
    rows = []
    parts = {"weights": 0, "bias": 0, "norm": 0, "other": 0}
    others: set[str] = set()
    for layer in s.summary_list[1:]:
        leaf = not any(True for _ in layer.module.children())
        if leaf and layer.macs:
            _split(layer, batch, parts, others)
        rows.append(
            {
                "layer": ("  " * (layer.depth - 1)) + (layer.var_name or layer.class_name),
                "type": layer.class_name,
                "output shape": "x".join(str(d) for d in (layer.output_size or [])[1:]),
                "params": layer.num_params if leaf else None,
                "mult-adds (torchinfo)": layer.macs // batch if leaf else None,
                "leaf": leaf,
            }
        )
    totals = {
        "params": int(s.total_params),
        "trainable params": int(s.trainable_params),
        "mult-adds (torchinfo)": int(s.total_mult_adds) // batch,
        "parts": parts,
        "other layers": sorted(others),
    }
    return rows, totals


def _split(layer, batch: int, parts: dict[str, int], others: set[str]) -> None:
    """Split one leaf's torchinfo mult-adds (its parameters x output positions x batch) into weights, biases, norm
    parameters and other layers' parameters."""
    m = layer.module
    per_image = layer.macs // batch
    weight = getattr(m, "weight", None)
    bias = getattr(m, "bias", None)
    if isinstance(m, nn.modules.batchnorm._NormBase | nn.LayerNorm | nn.GroupNorm):
        parts["norm"] += per_image
    elif isinstance(weight, torch.Tensor) and (isinstance(m, nn.Linear) or weight.dim() >= 3):  # conv-like, too
        # (torchvision's DeformConv2d is no nn.Conv2d but counts the same way)
        n_bias = bias.numel() if isinstance(bias, torch.Tensor) else 0
        positions = per_image // (weight.numel() + n_bias)
        parts["weights"] += weight.numel() * positions
        parts["bias"] += n_bias * positions
        out = list(layer.output_size or [])
        if isinstance(m, nn.Linear) and len(out) > 2:  # a Linear at every pixel (N x H x W x C): torchinfo counts it
            pixels = math.prod(out[1:-1])  # at fewer positions than it runs at
            parts["linear at every pixel"] = parts.get("linear at every pixel", 0) + weight.numel() * (
                pixels - positions
            )
    else:
        parts["other"] += per_image
        others.add(layer.class_name)


def torchinfo_reasons(totals: dict, analytic_macs: int) -> list[tuple[str, int]]:
    """Why torchinfo's mult-adds differ from effnets' conv + linear MACs, as (reason, amount) pairs that add up to
    the difference exactly. torchinfo's rule: each leaf layer's parameters x its output positions x batch (a norm
    layer: its parameters x batch); a conv written as ``F.conv2d`` with a fixed kernel is no layer, so it is missed."""
    parts = totals["parts"]
    per_pixel = parts.get("linear at every pixel", 0)
    missed = analytic_macs - parts["weights"] - per_pixel  # conv/linear work torchinfo does not see at all
    reasons = []
    if per_pixel:
        reasons.append(
            (
                "Linear layers applied at every pixel of an N x H x W x C map (ConvNeXt's 1x1s): torchinfo counts "
                "their weights once per image, not once per pixel",
                -per_pixel,
            )
        )
    if parts["bias"]:
        reasons.append(("the biases of conv/linear layers (bias parameters x output positions)", parts["bias"]))
    if parts["norm"]:
        reasons.append(
            ("normalisation layers' γ and β (torchinfo counts their parameters once per image)", parts["norm"])
        )
    if parts["other"]:
        reasons.append((f"the parameters of {', '.join(totals['other layers'])} layers", parts["other"]))
    if missed > 0:
        reasons.append(
            ("convs torchinfo does not see: F.conv2d calls with fixed kernels (buffers, not layers)", -missed)
        )
    elif missed < 0:
        reasons.append(("conv/linear weights torchinfo counts at more positions than effnets' rule", -missed))
    return reasons


def torchinfo_caption(totals: dict, analytic_macs: int) -> str:
    """torchinfo's totals against effnets' conv + linear MACs, with each reason for the difference and its amount."""
    torchinfo_macs = totals["mult-adds (torchinfo)"]
    reasons = torchinfo_reasons(totals, analytic_macs)
    return (
        f"torchinfo: {totals['params']:,} params, {torchinfo_macs:,} mult-adds, {torchinfo_macs - analytic_macs:+,} "
        f"against the {analytic_macs:,} conv + linear MACs above. torchinfo counts each layer's parameters × its "
        "output positions (a norm layer's parameters once per image)"
        + (": " + "; ".join(f"{n:+,} for {why}" for why, n in reasons) + "." if reasons else ", which agrees here.")
    )
