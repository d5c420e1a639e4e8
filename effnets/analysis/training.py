"""What a training step costs against inference, for any network the app builds (a registry model, a scaled spec, a
block): forward and backward MACs, the activations kept for the backward pass, the peak memory of a step and where it
happens, and a measured step time beside the inference latency of the same model.

**FLOPs.** ``FlopCounterMode`` counts the backward: one forward and one ``loss.backward()`` on the meta device (no
memory, no arithmetic; exact shapes). A convolution's backward is two convolutions of the forward's size, one for the
gradient with respect to the input and one for the weight, so backward ≈ 2 x forward; the first convolution's input
(the image) needs no gradient, which takes its forward MACs off once. torch 2.14's rule for the weight gradient
forgets the groups: it counts ``groups`` times too much for a grouped or depthwise convolution (fixed upstream in
pytorch/pytorch#183405), which makes a depthwise network's backward look 30-40x its forward. We count with the
corrected rule and report the stock figure beside it. Only conv and matmul work is counted, as everywhere in effnets
(batch norm, activations and the optimizer's arithmetic are not MACs).

**Saved activations** (:mod:`effnets.runtime.training`): every tensor autograd saves for backward goes through the
``saved_tensors_hooks`` pack hook; the same storage saved twice (a ReLU's output that the next conv saves as its
input, a view of a saved tensor) is counted once, keyed by its storage (on the meta device every ``data_ptr`` is 0,
and one storage reaches the hook as several tensor objects, so neither the pointer nor ``id`` would do). Parameters
and the input batch are saved by reference and listed apart. The inference figure effnets reports
(:func:`effnets.analysis.scaling.activation_bytes`: the input and every conv/linear output) is what a forward writes;
training keeps more: batch norm keeps its input, the activation after it keeps its own input or output, and an
in-place SiLU or Hardswish makes autograd copy the input it overwrites.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from effnets.counting import build_on_meta
from effnets.report import Metric, human, human_bytes
from effnets.runtime import training as runtime_training

aten = torch.ops.aten
DTYPE_BYTES = {"float32": 4, "bfloat16": 2, "float16": 2}


# ----- forward and backward MACs ------------------------------------------------------------------------------------


def conv_kind(weight_shape, groups: int, transposed: bool) -> str:
    """'dense kxk', 'pointwise 1x1', 'depthwise', 'grouped' or 'transposed' from a conv's weight and groups."""
    if transposed:
        return "transposed conv"
    taps = math.prod(weight_shape[2:])
    if groups > 1:
        return "depthwise conv" if weight_shape[1] == 1 else "grouped conv"
    return "pointwise conv 1x1" if taps == 1 else "dense conv kxk"


class _Rows:
    """MACs by (kind, part) collected by the custom FlopCounterMode rules."""

    def __init__(self) -> None:
        self.macs: dict[tuple[str, str], int] = {}
        self.stock_weight_grad = 0
        self.skipped_input_grad = 0
        self.phase = "forward"

    def add(self, kind: str, part: str, macs: int) -> None:
        self.macs[(kind, part)] = self.macs.get((kind, part), 0) + macs


def _shape(t) -> list[int] | None:
    return list(t.shape) if isinstance(t, torch.Tensor) else None


def _rules(rows: _Rows) -> dict:
    """FlopCounterMode rules (raw: they see the tensors) for convolution, its backward and the matmuls."""
    from torch.utils.flop_counter import conv_flop_count, flop_registry

    def conv(x, w, _b, _s, _p, _d, transposed, _op, groups, *args, out_val=None, **kwargs) -> int:
        flops = conv_flop_count(_shape(x), _shape(w), _shape(out_val), transposed=transposed)
        rows.add(conv_kind(w.shape, groups, transposed), "forward", flops // 2)
        return flops

    def conv_backward(grad_out, x, w, _b, _s, _p, _d, transposed, _op, groups, mask, *args, out_val=None, **kw):
        kind = conv_kind(w.shape, groups, transposed)
        gi, gw = 0, 0
        if mask[0]:
            gi = conv_flop_count(_shape(grad_out), _shape(w), _shape(out_val[0]), not transposed)
        else:  # the input needs no gradient (the image): what this conv's forward cost, not spent
            rows.skipped_input_grad += conv_flop_count(_shape(x), _shape(w), _shape(grad_out), transposed) // 2
        if mask[1]:
            stock = flop_registry[aten.convolution_backward](
                grad_out, x, w, None, _s, _p, _d, transposed, _op, groups, [False, True, False], out_val=out_val
            )
            rows.stock_weight_grad += stock // 2
            gw = stock // groups  # the stock rule drops the groups of the weight gradient (pytorch#183405)
        rows.add(kind, "grad wrt input", gi // 2)
        rows.add(kind, "grad wrt weight", gw // 2)
        return gi + gw

    def matmul(op):
        stock = flop_registry[op]

        def rule(*args, out_val=None, **kwargs) -> int:
            flops = stock(*args, out_val=out_val, **kwargs)
            rows.add("linear (matmul)", rows.phase if rows.phase == "forward" else "backward", flops // 2)
            return flops

        rule._get_raw = True  # type: ignore[attr-defined]
        return rule

    conv._get_raw = True  # type: ignore[attr-defined]
    conv_backward._get_raw = True  # type: ignore[attr-defined]
    out = {aten.convolution: conv, aten.convolution_backward: conv_backward}
    out.update({op: matmul(op) for op in (aten.mm, aten.addmm, aten.bmm, aten.baddbmm)})
    return out


@dataclass(frozen=True)
class TrainingFlops:
    """Conv/linear MACs of one training step's forward and backward, whole batch.

    Attributes:
        forward_macs, backward_macs: FlopCounterMode's counts with the corrected grouped-conv rule (FLOPs / 2).
        flop_counter_backward_macs: the backward as torch 2.14's stock rule counts it.
        input_grad_skipped: MACs of the convs whose input needs no gradient (the stem on the image), not spent.
        rows: per kind of layer: forward, grad wrt input, grad wrt weight (MACs).
        other_macs: FLOPs/2 that FlopCounterMode counted outside these rows (none in the catalog's CNNs).
    """

    forward_macs: int
    backward_macs: int
    flop_counter_backward_macs: int
    input_grad_skipped: int
    rows: list[dict[str, Any]]
    other_macs: int = 0

    @property
    def ratio(self) -> float:
        return self.backward_macs / self.forward_macs if self.forward_macs else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "forward_macs": self.forward_macs,
            "backward_macs": self.backward_macs,
            "backward_to_forward": self.ratio,
            "step_macs": self.forward_macs + self.backward_macs,
            "flop_counter_backward_macs": self.flop_counter_backward_macs,
            "input_grad_skipped_macs": self.input_grad_skipped,
            "by_kind": [dict(r) for r in self.rows],
        }


def training_flops(step: runtime_training.TrainingStep) -> TrainingFlops:
    """Forward and backward MACs of ``step`` (forward, loss, ``backward()``; no optimizer) under FlopCounterMode."""
    from torch.utils.flop_counter import FlopCounterMode, shape_wrapper

    from effnets.counting import _deform_flops_for_flop_counter, _deform_op

    rows = _Rows()
    deform_rule = shape_wrapper(_deform_flops_for_flop_counter)

    def deform(*args, out_val=None, **kwargs) -> int:
        flops = deform_rule(*args, out_val=out_val, **kwargs)
        rows.add("deformable conv", "forward", flops // 2)
        return flops

    deform._get_raw = True  # type: ignore[attr-defined]
    mapping = {**_rules(rows), _deform_op(): deform}
    step.optimizer.zero_grad(set_to_none=True)
    with FlopCounterMode(display=False, custom_mapping=mapping) as fc:
        loss = step.loss()
        fwd_total = fc.get_total_flops() // 2
        rows.phase = "backward"
        loss.backward()
        total = fc.get_total_flops() // 2
    step.optimizer.zero_grad(set_to_none=True)
    parts = ("forward", "grad wrt input", "grad wrt weight", "backward")
    kinds = list(dict.fromkeys(k for k, _ in rows.macs))
    table = []
    for kind in kinds:
        r = {"kind": kind, **{p: rows.macs.get((kind, p), 0) for p in parts}}
        if kind == "linear (matmul)":
            r["grad wrt input"] = r["grad wrt weight"] = r["backward"] // 2  # one mm each (the stock rule's split)
        r["backward"] = r["grad wrt input"] + r["grad wrt weight"]
        table.append(r)
    fwd = sum(r["forward"] for r in table)
    bwd = total - fwd_total
    stock_bwd = bwd - sum(rows.macs.get((k, "grad wrt weight"), 0) for k in kinds if "conv" in k)
    return TrainingFlops(
        forward_macs=fwd_total,
        backward_macs=bwd,
        flop_counter_backward_macs=stock_bwd + rows.stock_weight_grad,
        input_grad_skipped=rows.skipped_input_grad,
        rows=table,
        other_macs=fwd_total - fwd,
    )


# ----- the whole report ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrainingCost:
    """One network's training cost at batch N: FLOPs, the timeline (with the saved activations), the inference
    figures it is compared with."""

    label: str
    input_shape: tuple[int, ...]
    batch: int
    dtype: str
    optimizer: str
    params: int
    analytic_macs: int  # effnets' analytic conv/linear MACs per image
    inference_activation_bytes: int  # effnets' figure: (input + every conv/linear output) x N x bytes
    flops: TrainingFlops
    timeline: runtime_training.Timeline

    @property
    def saved_bytes(self) -> int:
        return sum(self.timeline.saved.values())

    @property
    def param_bytes(self) -> int:
        return self.params * DTYPE_BYTES[self.dtype]

    def timeline_series(self) -> dict[str, Any]:
        """What :func:`effnets.figures.training.memory_timeline_figure` draws: per op its name, phase and module,
        the bytes alive by category, where the phases start, the peak, and the CUDA allocator's figure if any."""
        tl = self.timeline
        return {
            "op": list(tl.ops),
            "phase": list(tl.phases),
            "module": list(tl.modules),
            "by_category": {c: list(v) for c, v in tl.bytes_by_category.items()},
            "phase_starts": {p: tl.phase_start(p) for p in runtime_training.PHASES},
            "peak": tl.peak(),
            "allocator": list(tl.allocator),
        }

    def saved_rows(self) -> list[dict[str, Any]]:
        """The activations kept for backward by the kind of layer that saved them, then the inference figure."""
        rows = [{"kept by": who, "bytes": b} for who, b in self.timeline.saved.items()]
        rows.append({"kept by": "total kept for backward", "bytes": self.saved_bytes})
        rows.append({"kept by": "inference: input + conv/linear outputs", "bytes": self.inference_activation_bytes})
        return rows

    def peak_rows(self) -> list[dict[str, Any]]:
        """The split of the peak by category, with bytes and share."""
        peak = self.timeline.peak()
        return [
            {"category": c, "bytes": b, "share": b / peak["bytes"] if peak["bytes"] else 0.0}
            for c, b in peak["split"].items()
        ]

    def to_dict(self, series: bool = False) -> dict[str, Any]:
        return {
            "network": self.label,
            "input_shape": list(self.input_shape),
            "batch": self.batch,
            "dtype": self.dtype,
            "optimizer": self.optimizer,
            "optimizer_detail": runtime_training.OPTIMIZERS[self.optimizer],
            "loss": self.timeline.loss,
            "params": self.params,
            "analytic_macs_per_image": self.analytic_macs,
            "analytic_macs_batch": self.analytic_macs * self.batch,
            "flops": self.flops.to_dict(),
            "saved_activation_bytes": self.saved_bytes,
            "saved_by_layer": dict(self.timeline.saved),
            "saved_tensors": self.timeline.saved_tensors,
            "saved_storages": self.timeline.saved_storages,
            "inference_activation_bytes": self.inference_activation_bytes,
            "saved_to_inference": self.saved_bytes / self.inference_activation_bytes,
            "memory": self.timeline.to_dict(series=series),
            "explanation": explain(self),
        }


def network_training_cost(
    factory: Callable[[], nn.Module],
    input_shape: tuple[int, ...],
    analytic_macs: int,
    analytic_acts: int,
    label: str,
    batch: int = 32,
    optimizer: str = "sgd",
    dtype: str = "float32",
) -> TrainingCost:
    """The training cost of the network ``factory()`` builds, traced on the meta device (exact shapes, no memory):
    ``analytic_macs`` and ``analytic_acts`` are effnets' per-image counts of it, for the comparisons.

    Raises:
        ValueError: batch below 2, an unknown optimizer or dtype.
    """
    if optimizer not in runtime_training.OPTIMIZERS:
        raise ValueError(f"optimizer '{optimizer}' is not one of: {', '.join(runtime_training.OPTIMIZERS)}")
    if dtype not in DTYPE_BYTES:
        raise ValueError(f"dtype '{dtype}' is not one of: {', '.join(DTYPE_BYTES)}")
    module = build_on_meta(factory)
    step = runtime_training.make_step(module, input_shape, batch, optimizer, dtype)
    flops = training_flops(step)
    timeline = runtime_training.memory_timeline(step)
    inference = (analytic_acts + math.prod(input_shape)) * batch * DTYPE_BYTES[dtype]
    params = sum(p.numel() for p in module.parameters())
    return TrainingCost(label, tuple(input_shape), batch, dtype, optimizer, params, analytic_macs, inference, flops,
                        timeline)  # fmt: skip


def model_training_cost(
    name: str, batch: int = 32, resolution: int | None = None, optimizer: str = "sgd", dtype: str = "float32", **fields
) -> TrainingCost:
    """:func:`network_training_cost` of registry model ``name`` (``effnets.build_model``) at ``resolution``."""
    import effnets

    cost = effnets.model_cost(name, resolution=resolution, **fields)
    factory = lambda: effnets.build_model(name, resolution=resolution, **fields)  # noqa: E731
    label = name if resolution is None else f"{name} at {resolution} px"
    return network_training_cost(factory, cost.input_shape, cost.macs, cost.acts, label, batch, optimizer, dtype)


def block_training_cost(
    name: str, input_shape: tuple[int, int, int], batch: int = 32, optimizer: str = "sgd", dtype: str = "float32",
    **fields,
) -> TrainingCost:  # fmt: skip
    """:func:`network_training_cost` of block ``name`` on a C x H x W input (C sets in_channels, as
    :func:`effnets.block_cost` does; ``fields`` are the spec's)."""
    from effnets.blocks import get_block

    info = get_block(name)
    spec = info.spec_for_input(int(input_shape[0]), **fields)
    cost = info.cost(spec, tuple(input_shape))
    label = f"{name} on {'x'.join(map(str, input_shape))}"
    return network_training_cost(lambda: info.build(spec), tuple(input_shape), cost.macs, cost.acts, label, batch,
                                 optimizer, dtype)  # fmt: skip


def explain(tc: TrainingCost) -> list[str]:
    """The sentences that explain the numbers (:func:`explanation`'s, in order)."""
    return list(explanation(tc).values())


def explanation(tc: TrainingCost) -> dict[str, str]:
    """The sentences that explain the numbers: ``flops`` (backward against forward), ``flop_counter`` (only where
    torch's stock rule differs), ``saved`` (kept for backward against inference), ``peak`` (where and its split)."""
    f, tl = tc.flops, tc.timeline
    out = {}
    out["flops"] = (
        f"Backward {human(f.backward_macs)} MACs = {f.ratio:.2f}x the forward's {human(f.forward_macs)}: each conv "
        "and linear layer does two products of its forward's size, one for the gradient of its input and one for "
        "its weights"
        + (f"; the first layer's input (the batch) needs no gradient, {human(f.input_grad_skipped)} MACs not spent"
           if f.input_grad_skipped else "") + "."
    )  # fmt: skip
    if f.flop_counter_backward_macs != f.backward_macs:
        out["flop_counter"] = (
            f"torch's stock FlopCounterMode says {human(f.flop_counter_backward_macs)} backward MACs "
            f"({f.flop_counter_backward_macs / f.forward_macs:.1f}x the forward): its weight-gradient rule ignores the "
            "groups of grouped and depthwise convs (pytorch/pytorch#183405); the figure above uses the corrected rule."
        )
    top = ", ".join(f"{k} {human_bytes(v)}" for k, v in list(tl.saved.items())[:3])
    copies = sum(v for k, v in tl.saved.items() if "in-place" in k)
    out["saved"] = (
        f"Kept for backward: {human_bytes(tc.saved_bytes)}, {tc.saved_bytes / tc.inference_activation_bytes:.2f}x "
        f"the {human_bytes(tc.inference_activation_bytes)} of input and conv/linear outputs an inference forward "
        f"writes. Largest: {top}. Batch norm keeps its input (the conv's output) and the activation after it keeps "
        "its own input or output, so a conv -> BN -> activation keeps two to three tensors where inference counts one"
        + (f"; an in-place activation that needs its input for the gradient (SiLU, Hardswish) makes autograd copy "
           f"that input first ({human_bytes(copies)}), so inplace=True saves nothing in training" if copies else "")
        + f". {tl.saved_tensors} saved tensors held {tl.saved_storages} distinct storages (each counted once)."
    )  # fmt: skip
    peak = tl.peak()
    split = peak["split"]
    state = split["optimizer state"]
    out["peak"] = (
        f"Peak {human_bytes(peak['bytes'])} in the {peak['phase']} pass at {peak['op']}"
        + (f" in {peak['module']}" if peak["module"] else "")
        + f": parameters {human_bytes(split['parameters'])} + gradients {human_bytes(split['gradients'])} + "
        f"optimizer state {human_bytes(state)} ({runtime_training.OPTIMIZERS[tc.optimizer].split(' (')[0]}) + "
        f"saved activations {human_bytes(split['saved for backward'])} + batch {human_bytes(split['input batch'])} "
        f"+ temporaries {human_bytes(split['temporaries'])}."
    )
    return out


# ----- measured step time -------------------------------------------------------------------------------------------


def memory_headroom(peak_bytes: int, device: torch.device | str) -> str | None:
    """Why a measured step should not run here (its traced peak above half the device's free memory), or None."""
    device = torch.device(device)
    if device.type == "cuda":
        free = torch.cuda.mem_get_info(device)[0]
    else:
        try:
            free = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError, AttributeError):
            return None
    if peak_bytes > free / 2:
        return (
            f"a step needs about {human_bytes(peak_bytes)} and {device.type} has {human_bytes(free)} free: lower the "
            "batch or the resolution to measure it"
        )
    return None


def measure_step(
    factory: Callable[[], nn.Module],
    input_shape: tuple[int, ...],
    batch: int,
    optimizer: str = "sgd",
    device: torch.device | str = "cpu",
    warmup: int = 2,
    repeats: int = 5,
    flops: TrainingFlops | None = None,
    progress=None,
    stop=None,
) -> dict[str, Any]:
    """A measured training step (random init, float32) against the inference latency of the same model at the same
    batch, interleaved on ``device`` (:func:`effnets.runtime.training.time_step`), with the ratio and, given
    ``flops``, the ratio the MACs predict ((forward + backward) / forward)."""
    torch.manual_seed(0)
    module = factory()
    step = runtime_training.make_step(module, input_shape, batch, optimizer, "float32", device)
    run = runtime_training.time_step(step, warmup, repeats, progress, stop)
    train, infer = run.result("training step"), run.result("inference")
    ratio = train.median_ms / infer.median_ms if train.median_ms and infer.median_ms else None
    out = {
        "training_step_ms": train.median_ms,
        "training_step_p10_ms": train.p10_ms,
        "training_step_p90_ms": train.p90_ms,
        "inference_ms": infer.median_ms,
        "inference_p10_ms": infer.p10_ms,
        "inference_p90_ms": infer.p90_ms,
        "step_to_inference": ratio,
        "busy": bool(train.timing and train.timing.busy or infer.timing and infer.timing.busy),
        "partial": run.partial,
        "warmup": warmup,
        "repeats": repeats,
        "batch": batch,
        "optimizer": optimizer,
        "environment": dict(train.environment),
    }
    if flops is not None:
        out["macs_ratio"] = (flops.forward_macs + flops.backward_macs) / flops.forward_macs
    return out


def measure(
    factory: Callable[[], nn.Module],
    tc: TrainingCost,
    device: torch.device | str,
    warmup: int = 2,
    repeats: int = 5,
    series: bool = False,
    progress=None,
    stop=None,
) -> dict[str, Any]:
    """:func:`measure_step` for the network ``tc`` describes (its batch, input and optimizer) on ``device`` and, on a
    CUDA device, its memory timeline recorded there (``cuda_memory``: the tracked peak beside the allocator's).

    Raises:
        ValueError: the traced peak would not fit in half the device's free memory (:func:`memory_headroom`).
    """
    if why := memory_headroom(tc.timeline.peak_bytes, device):
        raise ValueError(f"not measured: {why}")
    out = measure_step(factory, tc.input_shape, tc.batch, tc.optimizer, device, warmup, repeats, tc.flops, progress,
                       stop)  # fmt: skip
    if torch.device(device).type == "cuda":
        step = runtime_training.make_step(factory(), tc.input_shape, tc.batch, tc.optimizer, "float32", device)
        tl = runtime_training.memory_timeline(step)
        out["cuda_memory"] = {**tl.to_dict(series=series), "tracked_peak_bytes": tl.peak_bytes}
    return out


def training_metrics(tc: TrainingCost) -> list[Metric]:
    """The four headline numbers: forward and backward MACs, kept activations, the peak."""
    f, peak = tc.flops, tc.timeline.peak()
    exact = "equals" if f.forward_macs == tc.analytic_macs * tc.batch else "DIFFERS from"
    return [
        Metric("Forward MACs, step", human(f.forward_macs),
               f"{f.forward_macs:,} conv/linear MACs for batch {tc.batch} (FlopCounterMode); {exact} effnets' "
               f"analytic {tc.analytic_macs:,} x {tc.batch}."),
        Metric("Backward MACs", human(f.backward_macs),
               f"{f.backward_macs:,}: gradients of inputs and weights (grouped-conv rule corrected; torch's stock rule "
               f"says {f.flop_counter_backward_macs:,}).", f"{f.ratio:.2f}x forward"),
        Metric("Kept for backward", human_bytes(tc.saved_bytes),
               f"Tensors autograd saves during the forward, each storage once, at batch {tc.batch} in {tc.dtype}.",
               f"{tc.saved_bytes / tc.inference_activation_bytes:.2f}x inference activations"),
        Metric("Peak memory, step", human_bytes(peak["bytes"]),
               f"Most bytes alive after one op: after {peak['op']} in the {peak['phase']} pass"
               + (f" ({peak['module']})" if peak["module"] else "") + ".", f"in {peak['phase']}"),
    ]  # fmt: skip


def measured_metrics(m: dict[str, Any]) -> list[Metric]:
    """A measured step against inference: both medians, their ratio against the ratio the MACs predict."""
    ratio = m["step_to_inference"]
    return [
        Metric("Training step", f"{m['training_step_ms']:.1f} ms",
               f"zero_grad + forward + loss + backward + {m['optimizer']} step, median of {m['repeats']} after "
               f"{m['warmup']} warm-up (p10 {m['training_step_p10_ms']:.1f}, p90 {m['training_step_p90_ms']:.1f})."),
        Metric("Inference", f"{m['inference_ms']:.1f} ms",
               f"The same model in eval mode under inference_mode, same batch, timed interleaved (p10 "
               f"{m['inference_p10_ms']:.1f}, p90 {m['inference_p90_ms']:.1f})."),
        Metric("Step / inference", "-" if ratio is None else f"{ratio:.2f}x",
               "Measured ratio; the MACs alone predict (forward + backward) / forward. Batch norm, activations and "
               "the optimizer are memory-bound work the MACs leave out.",
               f"MACs say {m['macs_ratio']:.2f}x" if "macs_ratio" in m else None),
    ]  # fmt: skip
