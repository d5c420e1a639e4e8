"""Per-layer table from torchinfo (a second, independent view of the module), on the meta device."""

from __future__ import annotations

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
    for layer in s.summary_list[1:]:
        leaf = not any(True for _ in layer.module.children())
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
    }
    return rows, totals
