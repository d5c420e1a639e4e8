"""Running a classifier: a prepared private copy on the chosen device and precision, logits, top-k labels.

The pieces a UI caches are explicit: a prepared model is determined by (model name, weights, device, precision,
channels_last), see :func:`cache_key`; :func:`prepare` never modifies the model it is given, so the cached base
model stays shareable. A faster path (batch norm folded into the convs, ``torch.compile``) can be layered on the
copy :func:`prepare` returns without changing the callers.

Devices and precisions are in :mod:`effnets.runtime.devices`, timing in :mod:`effnets.runtime.timing`.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from effnets.runtime.devices import PRECISIONS, check_precision
from effnets.runtime.timing import Timing, time_inference

# ----- preparing a model ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class InferenceConfig:
    """How a prepared model runs: the device, precision and memory layout."""

    device: str
    precision: str = "fp32"
    channels_last: bool = False


def cache_key(
    model_name: str, weights: str, device: torch.device | str, precision: str, channels_last: bool
) -> tuple[str, str, str, str, bool]:
    """The hashable key a UI should cache a prepared model under: everything that makes two prepared models differ.

    ``weights`` is the weight status or source ("packaged", "cached", "random init"), so that a model whose
    checkpoint appears in the cache later is prepared again.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision '{precision}' is not one of {', '.join(PRECISIONS)}")
    return (model_name, weights, str(torch.device(device)), precision, bool(channels_last))


def prepare(
    model: nn.Module, device: torch.device | str, precision: str = "fp32", channels_last: bool = False
) -> nn.Module:
    """A private copy of ``model`` ready for inference: eval mode, on ``device``, in ``precision``, optional NHWC.

    The argument is never modified (its device, dtype, mode and parameters stay as they were). Gradients are switched
    off on the copy. The copy carries its :class:`InferenceConfig` as ``model.inference_config``.

    Raises:
        ValueError: an unknown precision, or one the device does not support (message says why).
    """
    device = torch.device(device)
    check_precision(device, precision)
    m = copy.deepcopy(model)
    m.eval()
    m.to(device=device, dtype=PRECISIONS[precision])
    if channels_last:
        m.to(memory_format=torch.channels_last)
    for p in m.parameters():
        p.requires_grad_(False)
    m.inference_config = InferenceConfig(str(device), precision, bool(channels_last))
    return m


def _input_for(model: nn.Module, batch: torch.Tensor) -> torch.Tensor:
    if batch.dim() == 3:
        batch = batch.unsqueeze(0)
    if batch.dim() != 4:
        raise ValueError(f"expected an image batch N x 3 x H x W; got shape {tuple(batch.shape)}")
    cfg = getattr(model, "inference_config", None)
    if cfg is not None:
        device, dtype, nhwc = torch.device(cfg.device), PRECISIONS[cfg.precision], cfg.channels_last
    else:
        p = next(model.parameters(), None)
        device, dtype, nhwc = (
            (p.device, p.dtype, False) if p is not None else (torch.device("cpu"), torch.float32, False)
        )
    x = batch.to(device=device, dtype=dtype)
    return x.contiguous(memory_format=torch.channels_last) if nhwc else x


def predict_logits(model: nn.Module, batch: torch.Tensor) -> torch.Tensor:
    """The model's outputs for ``batch`` (moved to the model's device, dtype and layout) as float32 on the CPU.

    Runs under ``torch.inference_mode``; the model's train/eval mode is not changed (use a prepared model).
    """
    with torch.inference_mode():
        out = model(_input_for(model, batch))
    if not isinstance(out, torch.Tensor) or out.dim() != 2:
        raise ValueError("the model must return N x classes logits")
    return out.float().cpu()


@dataclass(frozen=True)
class Prediction:
    """One of the top-k classes of one image."""

    label: str
    index: int
    prob: float

    def to_dict(self) -> dict:
        return {"label": self.label, "index": self.index, "prob": self.prob}


def top_k(logits: torch.Tensor, k: int = 5, labels: Sequence[str] | None = None) -> list[list[Prediction]]:
    """Softmax (in float32) and the ``k`` most probable classes of each row of ``logits``."""
    if k < 1:
        raise ValueError(f"topk={k} must be at least 1")
    n_classes = logits.shape[1]
    if labels is None:
        from effnets.runtime.imagenet import NUM_CLASSES, categories

        labels = categories() if n_classes == NUM_CLASSES else [f"class {i}" for i in range(n_classes)]
    if len(labels) != n_classes:
        raise ValueError(f"{len(labels)} labels for a model with {n_classes} outputs")
    probs = logits.float().softmax(-1)
    values, indices = probs.topk(min(k, n_classes), dim=-1)
    return [
        [Prediction(labels[int(i)], int(i), float(v)) for v, i in zip(vs, ids, strict=True)]
        for vs, ids in zip(values, indices, strict=True)
    ]


def classify(
    model: nn.Module, batch_tensor: torch.Tensor, topk: int = 5, labels: Sequence[str] | None = None
) -> list[list[Prediction]]:
    """Top-``topk`` (label, index, prob) per image of ``batch_tensor`` (N x 3 x H x W, already normalised).

    Labels default to the ImageNet class names for a 1000-way classifier, "class i" otherwise.
    """
    return top_k(predict_logits(model, batch_tensor), topk, labels)


def time_model(model: nn.Module, batch: torch.Tensor, warmup: int = 3, repeats: int = 10) -> Timing:
    """Latency of ``model`` on ``batch`` (moved to the model's device/dtype/layout once, outside the timing)."""
    x = _input_for(model, batch)
    device = x.device

    def run() -> None:
        with torch.inference_mode():
            model(x)

    return time_inference(run, warmup, repeats, sync=device, batch_size=x.shape[0])
