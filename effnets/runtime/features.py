"""Feature maps of any layer, and how similar adjacent layers' maps are, without touching the shared model.

Models in the app are cached and shared between sessions and threads (``st.cache_resource``), so nothing here may
change them: no hooks left behind, no ``.eval()``/``.train()``, no ``.to()``. Every call works on a *private
structural copy* (:func:`private_copy`): new module objects whose parameters and buffers are the very same tensors
as the model's (no weight memory is copied). Hooks go on the copy's modules, the copy runs in eval mode under
``torch.inference_mode`` and is dropped when the call returns. Unlike an FX feature extractor this works for every
model, including modules whose forward depends on the input's shape (TensorFlow 'SAME' padding, channel shuffles),
and the forward pass stops as soon as the requested layers have produced their output.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


def private_copy(model: nn.Module) -> nn.Module:
    """A copy of ``model``'s module tree that shares every parameter and buffer tensor with it.

    Hooks registered on the copy and its mode (train/eval) do not affect ``model``. Writing into a shared tensor
    would; nothing in this module does (the copy runs in eval mode, so batch norm updates no running statistics).
    """
    memo: dict[int, object] = {id(t): t for t in model.parameters()}
    memo.update({id(t): t for t in model.buffers()})
    return copy.deepcopy(model, memo)


def _model_device_dtype(model: nn.Module) -> tuple[torch.device, torch.dtype]:
    for t in model.parameters():
        return t.device, t.dtype
    for t in model.buffers():
        if t.is_floating_point():
            return t.device, t.dtype
    return torch.device("cpu"), torch.float32


def _prepare_input(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    if x.dim() == 3:
        x = x.unsqueeze(0)
    if x.dim() != 4:
        raise ValueError(f"expected an image batch N x C x H x W (or one C x H x W image); got {tuple(x.shape)}")
    device, dtype = _model_device_dtype(model)
    return x.to(device=device, dtype=dtype)


class _Done(Exception):
    """Raised by the last hook to stop the forward pass early."""


def _resolve(model: nn.Module, layers: Sequence[str]) -> None:
    names = dict(model.named_modules())
    for layer in layers:
        if layer not in names or layer == "":
            close = [n for n in names if n and (layer in n or n in layer)][:5]
            hint = f"; similar: {', '.join(close)}" if close else ""
            raise ValueError(f"'{layer}' is not a layer of this model (see list_layers(model)){hint}")


def _capture(model: nn.Module, x: torch.Tensor, layers: Sequence[str]) -> dict[str, torch.Tensor]:
    """Outputs of ``layers`` (first call of each) on a private copy; stops once all are captured."""
    wanted = list(dict.fromkeys(layers))
    _resolve(model, wanted)
    work = private_copy(model).eval()
    modules = dict(work.named_modules())
    out: dict[str, torch.Tensor] = {}

    def make_hook(name: str):
        def hook(_module, _inputs, output):
            if name in out:
                return
            if not isinstance(output, torch.Tensor):
                raise ValueError(
                    f"layer '{name}' outputs a {type(output).__name__}, not a tensor; choose one of its sub-layers"
                )
            out[name] = output.detach().clone()  # clone: a following in-place ReLU would overwrite it
            if len(out) == len(wanted):
                raise _Done

        return hook

    for name in wanted:
        modules[name].register_forward_hook(make_hook(name))
    with torch.inference_mode(), contextlib.suppress(_Done):
        work(_prepare_input(model, x))
    missing = [n for n in wanted if n not in out]
    if missing:
        raise ValueError(f"layer(s) {', '.join(missing)} did not run in the forward pass")
    return out


@dataclass(frozen=True)
class LayerInfo:
    """A named module of a model, for a layer picker.

    Attributes:
        name: qualified name ("features.3.block.1").
        type: class name ("Conv2d", "MBConv", ...).
        depth: nesting level (1 = a child of the model).
        params: learnable parameters inside it (recursive).
        leaf: True if it has no sub-modules.
        output_shape: C x H x W of its output for the probe input, or None if not probed / not a tensor.
    """

    name: str
    type: str
    depth: int
    params: int
    leaf: bool
    output_shape: tuple[int, ...] | None = None

    @property
    def label(self) -> str:
        """'features.3  (MBConv, 40x28x28)': the name, the class and the output shape, for a layer picker."""
        shape = "x".join(map(str, self.output_shape)) if self.output_shape is not None else "?"
        return f"{self.name}  ({self.type}, {shape})"


def default_layer(layers: Sequence[LayerInfo]) -> str:
    """The layer a feature-map picker starts on: the fourth (an early block, past the stem), or the last of fewer."""
    return layers[min(3, len(layers) - 1)].name


def block_layers(layers: Sequence[LayerInfo], limit: int = 40) -> tuple[str, ...]:
    """The names of the first ``limit`` blocks: the layers one level below the model's children
    (``features.3``), the ones :func:`adjacent_similarity` compares."""
    return tuple(li.name for li in layers if li.depth == 2)[:limit]


def list_layers(model: nn.Module, input_shape: tuple[int, int, int] | None = None) -> list[LayerInfo]:
    """Every named sub-module in forward-definition order, optionally with its output shape.

    Args:
        model: the (shared) model; not modified.
        input_shape: C x H x W of a probe input; if given, one forward pass of zeros on a private copy records the
            output shape of every layer (layers that do not run, or output non-tensors, get None).
    """
    shapes: dict[str, tuple[int, ...]] = {}
    if input_shape is not None:
        work = private_copy(model).eval()
        for name, m in work.named_modules():
            if name:

                def hook(_m, _i, output, name=name):
                    if isinstance(output, torch.Tensor) and name not in shapes:
                        shapes[name] = tuple(output.shape[1:])

                m.register_forward_hook(hook)
        device, dtype = _model_device_dtype(model)
        with torch.inference_mode():
            work(torch.zeros((1, *input_shape), device=device, dtype=dtype))
    rows = []
    for name, m in model.named_modules():
        if not name:
            continue
        rows.append(
            LayerInfo(
                name=name,
                type=type(m).__name__,
                depth=name.count(".") + 1,
                params=sum(p.numel() for p in m.parameters()),
                leaf=next(m.children(), None) is None,
                output_shape=shapes.get(name),
            )
        )
    return rows


def feature_maps(model: nn.Module, x: torch.Tensor, layer: str) -> torch.Tensor:
    """Output of ``layer`` for input ``x`` (N x C x H x W, moved to the model's device and dtype), in eval mode.

    The model is not modified (see the module docstring). Raises ValueError for an unknown layer name.
    """
    return _capture(model, x, [layer])[layer]


def feature_maps_many(model: nn.Module, x: torch.Tensor, layers: Sequence[str]) -> dict[str, torch.Tensor]:
    """Outputs of several layers from one forward pass (name -> tensor)."""
    return _capture(model, x, layers)


def linear_cka(a: torch.Tensor, b: torch.Tensor) -> float:
    """Linear centred kernel alignment (Kornblith et al. 2019) of two feature matrices with the same rows.

    ``a`` is n x p, ``b`` is n x q (n examples, any numbers of features). With columns centred,
    CKA = ||b^T a||_F^2 / (||a^T a||_F ||b^T b||_F), between 0 and 1. It is 1 when b is a rotation or uniform
    scaling of a (so it ignores how channels are ordered or mixed orthogonally) and near 0 for unrelated features.
    """
    if a.dim() != 2 or b.dim() != 2 or a.shape[0] != b.shape[0]:
        raise ValueError(f"CKA needs two matrices with the same number of rows; got {tuple(a.shape)}, {tuple(b.shape)}")
    a = a.to(torch.float64)
    b = b.to(torch.float64)
    a = a - a.mean(0, keepdim=True)
    b = b - b.mean(0, keepdim=True)
    cross = (b.T @ a).norm() ** 2
    denom = (a.T @ a).norm() * (b.T @ b).norm()
    return float(cross / denom) if float(denom) > 0 else 0.0


def _as_rows(fmap: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    if fmap.shape[-2:] != size:
        fmap = F.adaptive_avg_pool2d(fmap.to(torch.float32), size)
    return fmap.permute(0, 2, 3, 1).reshape(-1, fmap.shape[1])


@dataclass(frozen=True)
class LayerSimilarity:
    """Similarity of two consecutive layers' feature maps.

    Attributes:
        a, b: the layer names.
        cka: linear CKA over all spatial positions of all images (see :func:`adjacent_similarity`).
        shape_a, shape_b: C x H x W of the two maps.
        pooled: True if the larger map was average-pooled to the smaller one's H x W first.
    """

    a: str
    b: str
    cka: float
    shape_a: tuple[int, ...]
    shape_b: tuple[int, ...]
    pooled: bool

    @property
    def label(self) -> str:
        """'features.3→4': the first layer's name and the last part of the second's."""
        return f"{self.a}→{self.b.split('.')[-1]}"


SIMILARITY_EXPLANATION = (
    "Similarity of two layers' feature maps is linear CKA (centred kernel alignment, Kornblith et al. 2019): every "
    "spatial position of every image is one example, described by the layer's C channel values; CKA compares the "
    "two layers' example-by-example similarity structures and is 1 when one map is a rotation or uniform scaling of "
    "the other, whatever the channel order or count, and near 0 for unrelated maps. Maps of different resolution "
    "are compared after average-pooling the larger one to the smaller size. High CKA between adjacent layers means "
    "the second layer mostly passes its input on, which is VGNet's argument for half-identity blocks."
)


def adjacent_similarity(model: nn.Module, x: torch.Tensor, layers: Sequence[str]) -> list[LayerSimilarity]:
    """Linear CKA between each pair of consecutive layers in ``layers`` (one forward pass, model not modified).

    See :data:`SIMILARITY_EXPLANATION`. Layers whose outputs are not N x C x H x W are refused with ValueError.
    """
    if len(layers) < 2:
        raise ValueError("adjacent_similarity needs at least two layers")
    maps = _capture(model, x, layers)
    for name in layers:
        if maps[name].dim() != 4:
            raise ValueError(f"layer '{name}' outputs shape {tuple(maps[name].shape)}, not N x C x H x W feature maps")
    out = []
    for a, b in zip(layers[:-1], layers[1:], strict=True):
        fa, fb = maps[a], maps[b]
        size = (min(fa.shape[-2], fb.shape[-2]), min(fa.shape[-1], fb.shape[-1]))
        pooled = fa.shape[-2:] != fb.shape[-2:]
        cka = linear_cka(_as_rows(fa, size), _as_rows(fb, size))
        out.append(LayerSimilarity(a, b, cka, tuple(fa.shape[1:]), tuple(fb.shape[1:]), pooled))
    return out


def feature_grid(fmap: torch.Tensor, max_channels: int = 64, columns: int = 8) -> np.ndarray:
    """The first ``max_channels`` channels of one image's feature maps tiled into a single 2-D array in 0..1.

    Args:
        fmap: C x H x W, or N x C x H x W (the first image is used).
        max_channels: how many channels to show.
        columns: tiles per row.

    Returns:
        An array (rows*(H+1)-1) x (columns*(W+1)-1), each channel scaled to 0..1 on its own (a constant channel is
        0), tiles separated by one-pixel gaps of NaN (drawn transparent by plotting libraries).
    """
    if fmap.dim() == 4:
        fmap = fmap[0]
    if fmap.dim() != 3:
        raise ValueError(f"expected feature maps C x H x W; got {tuple(fmap.shape)}")
    if max_channels < 1 or columns < 1:
        raise ValueError("max_channels and columns must be at least 1")
    f = fmap[:max_channels].detach().to("cpu", torch.float64)
    c, h, w = f.shape
    lo = f.amin((1, 2), keepdim=True)
    span = f.amax((1, 2), keepdim=True) - lo
    f = torch.where(span > 0, (f - lo) / span.clamp_min(1e-300), torch.zeros_like(f)).numpy()
    cols = min(columns, c)
    rows = -(-c // cols)
    grid = np.full((rows * (h + 1) - 1, cols * (w + 1) - 1), np.nan)
    for i in range(c):
        r, q = divmod(i, cols)
        grid[r * (h + 1) : r * (h + 1) + h, q * (w + 1) : q * (w + 1) + w] = f[i]
    return grid
