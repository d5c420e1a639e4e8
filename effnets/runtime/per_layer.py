"""Per-layer time on the PyTorch eager path: which leaf layers take the time, beside their MACs.

What is measured (:func:`profile`), on the eager path only (a private copy in eval mode, ``inference_mode``, fp32,
NCHW: the layers a student can see, batch norm not folded):

* **Each leaf layer's time** (a module without children: conv, batch norm, activation, linear, pooling ...). A
  forward pre-hook and a forward hook stamp the clock around the layer's call: ``time.perf_counter`` on a CPU (which
  runs the layer synchronously), a pair of CUDA events on a GPU (recorded on the stream around the layer's kernels and
  read after one synchronisation at the end of the forward, so the hooks do not serialise the GPU). A module called
  several times in one forward (a shared ReLU) adds up its calls. Per layer: the median over ``repeats`` forwards
  after ``warmup`` untimed ones.
* **The whole forward without hooks**, on the same copy and input, interleaved with the hooked forwards (one of each
  per round), so that a machine that slows down slows both alike.
* **The gap** between the sum of the parts and the whole, in two measured pieces: ``hook_ms`` = hooked forward -
  plain forward (what the hooks themselves cost: a slower module-call path plus two clock reads per layer), and
  ``outside_ms`` = hooked forward - sum of the layers (the time outside every leaf: containers' Python code and the
  ops that are no module, such as residual adds, SE multiplies, concats and channel shuffles, listed by
  :func:`outside_ops`). So ``whole = sum + outside - hook``.

MACs per layer are **FlopCounterMode's per-module counts** (``torch.utils.flop_counter``, FLOPs / 2; conv and matmul
only, with effnets' rule for deformable convs), counted on the meta device: they sum to FlopCounterMode's total.
Layer kinds and shapes come from a trace on the meta device (:mod:`effnets.runtime.layer_trace`), which the
latency predictor (:mod:`effnets.analysis.predictor`) reads as well.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from effnets.runtime import devices, timing
from effnets.runtime.layer_trace import (  # noqa: F401  (re-exported: the trace is part of this module's API)
    KINDS,
    LayerShape,
    OutsideOp,
    Trace,
    layer_kind,
    leaf_modules,
    trace_layers,
)

BACKEND = "eager"

# ----- the measurement ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LayerTime:
    """One leaf layer's measured time beside its MACs.

    Attributes:
        name, kind, type, macs, calls: from the trace.
        ms: median over the repeats of its time per forward (all its calls).
        p10_ms, p90_ms: the spread over the repeats.
        share_ms, share_macs: its share of the sum of the layers' times and of the MACs.
        stage: the stage it belongs to (the top-level child, or the registry's stage row).
    """

    name: str
    kind: str
    type: str
    macs: int
    calls: int
    ms: float
    p10_ms: float
    p90_ms: float
    share_ms: float
    share_macs: float
    stage: str
    in_shape: tuple[int, ...] = ()
    out_shape: tuple[int, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "type": self.type,
            "macs": self.macs,
            "ms": self.ms,
            "p10_ms": self.p10_ms,
            "p90_ms": self.p90_ms,
            "calls": self.calls,
            "share_ms": self.share_ms,
            "share_macs": self.share_macs,
            "stage": self.stage,
            "in_shape": list(self.in_shape),
            "out_shape": list(self.out_shape),
        }


@dataclass(frozen=True)
class GroupTime:
    """The layers of one stage or one kind together: time and MACs, and their shares."""

    name: str
    layers: int
    ms: float
    macs: int
    share_ms: float
    share_macs: float

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "layers": self.layers,
            "ms": self.ms,
            "macs": self.macs,
            "share_ms": self.share_ms,
            "share_macs": self.share_macs,
        }


@dataclass(frozen=True)
class PerLayerResult:
    """Per-layer times of one network on one device (see the module docstring for what each figure is).

    Attributes:
        median_ms: the whole forward without hooks (median).
        hooked_ms: the whole forward with the hooks (median).
        sum_ms: the sum of the layers' medians.
        hook_ms, outside_ms: hooked - whole, hooked - sum (so median_ms = sum_ms + outside_ms - hook_ms).
        layers, stages, kinds: the rows, and their sums per stage and per kind.
        outside_ops: aten ops outside every leaf, counted by op name; container_calls: non-leaf module calls.
        flop_counter_macs: FlopCounterMode's total (the layers' MACs sum to it).
        gap: sentences explaining sum vs whole.
    """

    median_ms: float
    hooked_ms: float
    sum_ms: float
    hook_ms: float
    outside_ms: float
    layers: list[LayerTime]
    stages: list[GroupTime]
    kinds: list[GroupTime]
    outside_ops: dict[str, int]
    container_calls: int
    flop_counter_macs: int
    gap: list[str]
    environment: dict[str, Any]
    warmup: int
    repeats: int
    backend: str = BACKEND
    macs_source: str = "FlopCounterMode per module (FLOPs / 2; conv and matmul only), on the meta device"

    def to_dict(self) -> dict[str, Any]:
        return {
            "backend": self.backend,
            "median_ms": self.median_ms,
            "sum_ms": self.sum_ms,
            "hooked_ms": self.hooked_ms,
            "hook_ms": self.hook_ms,
            "outside_ms": self.outside_ms,
            "layers": [r.to_dict() for r in self.layers],
            "stages": [g.to_dict() for g in self.stages],
            "kinds": [g.to_dict() for g in self.kinds],
            "outside_ops": dict(self.outside_ops),
            "container_calls": self.container_calls,
            "flop_counter_macs": self.flop_counter_macs,
            "macs_source": self.macs_source,
            "gap": list(self.gap),
            "environment": dict(self.environment),
            "warmup": self.warmup,
            "repeats": self.repeats,
        }


class _Stamps:
    """Per-leaf clock stamps of one forward: perf_counter on a CPU, CUDA events on a GPU."""

    def __init__(self, device: torch.device):
        self.cuda = device.type == "cuda"
        self.sync = timing.device_sync(device)  # MPS: wait before reading the clock (a no-op on the CPU)
        self.open: dict[int, Any] = {}
        self.spans: dict[str, list[Any]] = {}

    def start(self, key: int) -> None:
        if self.cuda:
            ev = torch.cuda.Event(enable_timing=True)
            ev.record()
            self.open[key] = ev
        else:
            self.sync()
            self.open[key] = time.perf_counter()

    def stop(self, key: int, name: str) -> None:
        begin = self.open.pop(key)
        if self.cuda:
            end = torch.cuda.Event(enable_timing=True)
            end.record()
            self.spans.setdefault(name, []).append((begin, end))
        else:
            self.sync()
            self.spans.setdefault(name, []).append((time.perf_counter() - begin) * 1e3)

    def totals(self) -> dict[str, float]:
        if self.cuda:
            torch.cuda.synchronize()
            return {n: sum(b.elapsed_time(e) for b, e in spans) for n, spans in self.spans.items()}
        return {n: sum(spans) for n, spans in self.spans.items()}


def _hooked_forward(model: nn.Module, leaves: list[tuple[str, nn.Module]], x, device, sync) -> tuple[float, dict]:
    stamps = _Stamps(device)
    handles = []
    for name, mod in leaves:
        handles.append(mod.register_forward_pre_hook(lambda m, a: stamps.start(id(m))))
        handles.append(mod.register_forward_hook(lambda m, a, o, name=name: stamps.stop(id(m), name)))
    try:
        ms = timing.time_call(lambda: model(x), sync)
    finally:
        for h in handles:
            h.remove()
    return ms, stamps.totals()


def _stage_of(name: str, stage_labels: dict[str, str]) -> str:
    top = name.split(".", 1)[0]
    return stage_labels.get(top, top)


def _groups(rows: list[LayerTime], key: Callable[[LayerTime], str], sum_ms: float, macs: int) -> list[GroupTime]:
    order: dict[str, list[LayerTime]] = {}
    for r in rows:
        order.setdefault(key(r), []).append(r)
    out = []
    for name, rs in order.items():
        ms, mc = sum(r.ms for r in rs), sum(r.macs for r in rs)
        out.append(GroupTime(name, len(rs), ms, mc, ms / sum_ms if sum_ms else 0.0, mc / macs if macs else 0.0))
    return out


def _outside_counts(ops: list[OutsideOp]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for op in ops:
        counts[op.op] = counts.get(op.op, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: -kv[1]))


def explain_gap(r: dict[str, Any]) -> list[str]:
    """Sentences on why the sum of the layers differs from the whole forward (``r``: the figures of a result)."""
    whole, total, hook, outside = r["median_ms"], r["sum_ms"], r["hook_ms"], r["outside_ms"]
    ops = r["outside_ops"]
    n_ops = sum(ops.values())
    named = ", ".join(f"{k} x{v}" for k, v in list(ops.items())[:5]) or "none"
    lines = [
        f"Sum of the {r['n_layers']} layers {total:.3f} ms vs the whole forward {whole:.3f} ms "
        f"({(total - whole) / whole * 100:+.0f}%).",
        f"The hooks cost {hook:.3f} ms (hooked forward {r['hooked_ms']:.3f} ms - plain forward): a slower module-call "
        f"path and two clock reads per layer, part of it inside each layer's span, which inflates the parts."
        + (
            " Negative here: the machine's noise was larger than the hooks' cost; measure with more repeats."
            if hook < 0
            else ""
        ),
        f"Outside every layer {outside:.3f} ms of the hooked forward: {r['container_calls']} container calls "
        f"(Python code of blocks and Sequentials) and {n_ops} ops that are no module ({named}): residual adds, SE "
        "multiplies, concats and shuffles run there, and their time is in the whole but in no layer's row.",
    ]
    memory = [x for x in r["kinds"] if x["name"] in ("norm", "act", "depthwise conv", "pool") and x["share_ms"] > 0]
    if memory:
        ms_share = sum(x["share_ms"] for x in memory)
        mac_share = sum(x["share_macs"] for x in memory)
        lines.append(
            f"Memory-bound and overhead-bound layers (norm, act, depthwise, pool) take {ms_share:.0%} of the layers' "
            f"time for {mac_share:.1%} of the MACs: each reads and writes a whole tensor for little arithmetic, and "
            "each pays a fixed per-call cost, so on the eager path their time is not in the MACs."
        )
    return lines


def profile(
    model: nn.Module,
    input_shape: tuple[int, int, int],
    *,
    batch: int = 1,
    device: torch.device | str = "cpu",
    warmup: int = 3,
    repeats: int = 10,
    stage_labels: dict[str, str] | None = None,
    seed: int = 0,
) -> PerLayerResult:
    """Per-layer and whole-forward times of ``model`` (never modified: a private eval copy in fp32 on ``device``)
    on a batch x ``input_shape`` input, interleaved round by round (see the module docstring).

    Args:
        stage_labels: top-level child name -> stage label (the registry's stage rows); default: the child's name.

    Raises:
        ValueError: repeats < 1, warmup < 0, batch < 1.
    """
    from effnets.runtime import inference

    if repeats < 1 or warmup < 0 or batch < 1:
        raise ValueError(f"need repeats >= 1, warmup >= 0, batch >= 1; got {repeats}, {warmup}, {batch}")
    device = torch.device(device)
    trace = trace_layers(model, input_shape, batch)
    m = inference.prepare(model, device, "fp32")
    leaves = [(n, mod) for n, mod in leaf_modules(m) if n in {layer.name for layer in trace.layers}]
    g = torch.Generator().manual_seed(seed)
    x = torch.randn((batch, *input_shape), generator=g).to(device)
    sync = timing.device_sync(device)
    whole: list[float] = []
    hooked: list[float] = []
    per: dict[str, list[float]] = {}
    with torch.inference_mode():
        for i in range(warmup + repeats):
            w = timing.time_call(lambda: m(x), sync)
            h, spans = _hooked_forward(m, leaves, x, device, sync)
            if i < warmup:
                continue
            whole.append(w)
            hooked.append(h)
            for name, ms in spans.items():
                per.setdefault(name, []).append(ms)
    labels = stage_labels or {}
    sum_ms = float(sum(np.median(v) for v in per.values()))
    macs = sum(layer.macs for layer in trace.layers)
    rows = []
    for layer in trace.layers:
        v = np.asarray(per.get(layer.name, [0.0]))
        ms = float(np.median(v))
        rows.append(
            LayerTime(
                name=layer.name,
                kind=layer.kind,
                type=layer.type,
                macs=layer.macs,
                calls=layer.calls,
                ms=ms,
                p10_ms=float(np.percentile(v, 10)),
                p90_ms=float(np.percentile(v, 90)),
                share_ms=ms / sum_ms if sum_ms else 0.0,
                share_macs=layer.macs / macs if macs else 0.0,
                stage=_stage_of(layer.name, labels),
                in_shape=layer.in_shape,
                out_shape=layer.out_shape,
            )
        )
    median_ms, hooked_ms = float(np.median(whole)), float(np.median(hooked))
    stages = _groups(rows, lambda r: r.stage, sum_ms, macs)
    kinds = _groups(rows, lambda r: r.kind, sum_ms, macs)
    outside = _outside_counts(trace.outside)
    figures = {
        "median_ms": median_ms,
        "hooked_ms": hooked_ms,
        "sum_ms": sum_ms,
        "hook_ms": hooked_ms - median_ms,
        "outside_ms": hooked_ms - sum_ms,
        "outside_ops": outside,
        "container_calls": trace.container_calls,
        "n_layers": len(rows),
        "kinds": [k.to_dict() for k in kinds],
    }
    env = dict(devices.environment(device))
    env.update({"precision": "fp32", "layout": "contiguous (NCHW)", "batch": batch, "input_shape": list(input_shape)})
    return PerLayerResult(
        median_ms=median_ms,
        hooked_ms=hooked_ms,
        sum_ms=sum_ms,
        hook_ms=hooked_ms - median_ms,
        outside_ms=hooked_ms - sum_ms,
        layers=rows,
        stages=stages,
        kinds=kinds,
        outside_ops=outside,
        container_calls=trace.container_calls,
        flop_counter_macs=trace.flop_counter_macs,
        gap=explain_gap(figures),
        environment=env,
        warmup=warmup,
        repeats=repeats,
    )


def stage_labels(name: str) -> dict[str, str]:
    """Top-level child name -> "stage N: operator" from the registry's stage rows (empty for other models)."""
    from effnets.models import MODELS, network

    info = MODELS.get(name)
    if info is None:
        return {}
    spec = info.make_spec()
    plan = info.plan(spec) if hasattr(info, "plan") else None
    if plan is None or not isinstance(plan, network.Plan):
        return {}
    return {st.name: f"stage {i}: {st.operator}" for i, st in enumerate(plan.stages, 1)}


def model_per_layer(
    name: str,
    *,
    resolution: int | None = None,
    batch: int = 1,
    device: torch.device | str = "cpu",
    warmup: int = 3,
    repeats: int = 10,
) -> PerLayerResult:
    """:func:`profile` of model ``name`` (registry or torchvision reference; random init: weights do not change the
    eager path's time) at ``resolution`` (default: its own)."""
    from effnets.runtime import bench_networks, weights

    resolution = bench_networks.default_resolution(name) if resolution is None else int(resolution)
    if resolution < 8:
        raise ValueError(f"resolution={resolution} is too small: use at least 8 pixels (224 is usual)")
    model, _ = weights.load_model(name, pretrained=False)
    return profile(
        model,
        (3, resolution, resolution),
        batch=batch,
        device=device,
        warmup=warmup,
        repeats=repeats,
        stage_labels=stage_labels(name),
    )


def block_per_layer(
    name: str,
    fields: dict[str, Any] | None = None,
    input_shape: tuple[int, int, int] = (32, 56, 56),
    *,
    batch: int = 1,
    device: torch.device | str = "cpu",
    warmup: int = 3,
    repeats: int = 10,
) -> PerLayerResult:
    """:func:`profile` of block ``name`` with spec ``fields`` on a C x H x W input (C sets in_channels)."""
    from effnets.blocks import get_block

    info = get_block(name)
    rest = {k: v for k, v in (fields or {}).items() if k != "in_channels"}
    spec = info.spec_for_input(int(input_shape[0]), **rest)
    return profile(info.build(spec), tuple(input_shape), batch=batch, device=device, warmup=warmup, repeats=repeats)
