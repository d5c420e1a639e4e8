"""The Model Zoo's data: every model's exact cost, published accuracy with its source, and (after a measurement)
latency, with Pareto fronts and a reason for each latency outlier."""

from __future__ import annotations

import math
import statistics
from dataclasses import asdict, dataclass, field
from typing import Any

from effnets import units
from effnets.analysis.verdicts import fronts
from effnets.report import plural

DEFAULT_SET = (
    "mobilenet_v1",
    "mobilenet_v2",
    "shufflenet_v2_x1_0",
    "squeezenet1_1",
    "efficientnet_lite0",
    "efficientnet_b0",
    "regnetx_400mf",
    "regnety_400mf",
    "vgnetg_1_5mp",
    "xception",
    "mobilenet_v3_large",
    "resnet18",
)


@dataclass
class ZooRow:
    """One model in the zoo.

    Attributes:
        name, label, family: registry name, human name, family.
        source: "effnets" (our builder, analytic counts) or "torchvision" (reference model, counts traced on meta).
        resolution: input side the counts (and timings) are for.
        params, macs, acts: learnable parameters, conv/linear MACs, conv/linear output elements (per image).
        intensity: MACs per byte moved (fp32, batch 1; effnets' byte model in effnets.analysis.roofline.BYTE_MODEL).
        depthwise_share: share of the MACs in depthwise convs.
        elementwise_per_mac: element-wise and activation ops per MAC (SE gates, residual adds, nonlinearities).
        layers: conv and linear layers.
        top1, top1_source: published ImageNet top-1 (%) and where it comes from (None if none).
        median_ms, p10_ms, p90_ms, images_per_s, gmacs_per_s: measured on the current device (None until measured).
    """

    name: str
    label: str
    family: str
    source: str
    resolution: int
    params: int
    macs: int
    acts: int
    intensity: float | None
    depthwise_share: float | None
    elementwise_per_mac: float | None
    layers: int | None
    top1: float | None
    top1_source: str
    median_ms: float | None = None
    p10_ms: float | None = None
    p90_ms: float | None = None
    images_per_s: float | None = None
    gmacs_per_s: float | None = None
    error: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain data (round-trips through ``ZooRow(**d)``)."""
        d = asdict(self)
        d.pop("extra")
        return d


def all_names() -> list[str]:
    """Every model the zoo can show: effnets' registry, then torchvision's reference models."""
    from effnets.models import MODELS
    from effnets.runtime import weights as pretrained

    return list(MODELS) + [n for n in pretrained.torchvision_reference_models() if n not in MODELS]


def _effnets_row(name: str, resolution: int | None) -> ZooRow:
    from effnets.analysis.roofline import arithmetic_intensity
    from effnets.models import MODELS

    info = MODELS[name]
    form = info.inference_fields  # RepVGG/MobileOne: the deploy form, as published and as run
    spec = info.make_spec(**form, **({"resolution": resolution} if resolution else {}))
    c = info.cost(spec).total
    convs = [s for s in c.steps if s.kind in ("conv", "linear")]
    dw = sum(s.macs for s in convs if s.kind == "conv" and s.groups > 1 and s.in_shape and s.groups == s.in_shape[0])
    top1, src = None, ""
    for pub in info.published_figures():
        if pub.top1 is not None and pub.fields.items() <= form.items():
            top1, src = pub.top1, pub.source
            break
    return ZooRow(
        name=name,
        label=info.label + (" (deploy form)" if form else ""),
        family=info.family,
        source="effnets",
        resolution=int(spec.resolution),  # type: ignore[attr-defined]
        params=c.params,
        macs=c.macs,
        acts=c.acts,
        intensity=arithmetic_intensity(c, "fp32", 1).intensity,
        depthwise_share=dw / c.macs if c.macs else None,
        elementwise_per_mac=(c.extra("elementwise") + c.extra("act")) / c.macs if c.macs else None,
        layers=len(convs),
        top1=top1,
        top1_source=src,
    )


def _torchvision_row(name: str, resolution: int | None) -> ZooRow:
    import torchvision.models

    from effnets.counting import build_on_meta, flop_counter_macs, param_count, traced_structure
    from effnets.models import torchvision_weights_note
    from effnets.runtime import weights as pretrained

    res = resolution or pretrained.eval_transform(name).crop
    meta = build_on_meta(lambda: torchvision.models.get_model(name, weights=None))
    weights = list(torchvision.models.get_model_weights(name))[0]
    top1 = float(weights.meta["_metrics"]["ImageNet-1K"]["acc@1"])
    family = name.rsplit("_", 1)[0] if name[-1].isdigit() and "_" in name else name
    enum = f"{type(weights).__name__}.{weights.name}"
    traced = traced_structure(meta, (3, res, res))  # the same structure the registry's rows read from stage tables
    return ZooRow(
        name=name,
        label=f"{name} (torchvision)",
        family=family,
        source="torchvision",
        resolution=res,
        params=param_count(meta),
        macs=flop_counter_macs(meta, (3, res, res)),
        acts=int(traced["acts"]),
        intensity=traced["intensity"],
        depthwise_share=traced["depthwise_share"],
        elementwise_per_mac=traced["elementwise_per_mac"],
        layers=sum(1 for m in meta.modules() if isinstance(m, torch_conv_linear())),
        top1=top1,
        top1_source=f"torchvision {enum}.meta acc@1; {torchvision_weights_note(weights)}",
    )


def torch_conv_linear():
    from torch import nn

    return (nn.Conv2d, nn.Linear)


def zoo_row(name: str, resolution: int | None = None) -> ZooRow:
    """Counts and published accuracy of one model (``resolution`` None: the model's own)."""
    from effnets.models import MODELS

    if name in MODELS:
        return _effnets_row(name, resolution)
    if name in all_names():
        return _torchvision_row(name, resolution)
    raise ValueError(f"unknown model '{name}' (see python -m effnets list models)")


NO_TOP1 = "no published ImageNet top-1 for this network in effnets' registry"
# The table's columns, the measured ones next to the name so that they are on screen without scrolling.
TABLE_COLUMNS = (
    "name",
    "median_ms",
    "p10_ms",
    "p90_ms",
    "images_per_s",
    "gmacs_per_s",
    "top1",
    "params",
    "macs",
    "resolution",
    "acts",
    "intensity",
    "family",
    "source",
    "top1_source",
)
# The number columns' labels and formats ('localized': with thousands separators).
COLUMN_FORMATS = {
    "params": ("params", "localized"),
    "macs": ("MACs", "localized"),
    "acts": ("activations", "localized"),
    "intensity": ("MACs/byte", "%.1f"),
    "median_ms": ("median ms", "%.2f"),
    "p10_ms": ("p10 ms", "%.2f"),
    "p90_ms": ("p90 ms", "%.2f"),
    "images_per_s": ("images/s", "%.1f"),  # 0.5 images/s for a 2 s network, not 0
    "gmacs_per_s": ("GMAC/s", "%.1f"),
}


def table_rows(rows: list[ZooRow]) -> list[dict[str, Any]]:
    """The rows for the zoo's table: a missing top-1 is a dash, and its source column says why."""
    out = []
    for r in rows:
        d = r.to_dict()
        d["top1"] = f"{r.top1:.1f}" if r.top1 is not None else "—"
        d["top1_source"] = r.top1_source or NO_TOP1
        out.append(d)
    return out


def describe_measurement(env: dict[str, Any], reason: str, threads: int, channels_last: bool, eager: bool) -> str:
    """The sentence above the table: where the counts come from, and what the latency is measured on and how
    (``env``: :func:`effnets.runtime.bench.bench_environment`'s device_name, torch, precision and batch)."""
    return (
        "Counts are exact (effnets' analytic model; torchvision's reference models traced on the meta device). "
        f"Latency is measured **on this server**: {env['device_name']} ({reason}), torch {env['torch']}, "
        f"{plural(threads, 'CPU thread')}, {env['precision']}, batch {env['batch']}, "
        f"{'channels_last' if channels_last else 'NCHW'}, {'eager' if eager else 'fast path'}; each model at its own "
        "resolution."
    )


def attach_latency(rows: list[ZooRow], run) -> list[ZooRow]:
    """Copy a :class:`effnets.runtime.bench.BenchRun`'s measurements into the rows (matched by model name)."""
    by = {r.label: r for r in run.results}
    for row in rows:
        res = by.get(row.name)
        if res is None:
            continue
        row.error = res.error or ""
        if res.timing is not None:
            row.median_ms, row.p10_ms, row.p90_ms = res.median_ms, res.p10_ms, res.p90_ms
            row.images_per_s = res.images_per_s
            row.gmacs_per_s = units.giga_per_second(row.macs, res.median_ms) if res.median_ms else None
    return rows


def pareto_front(points: list[tuple[str, float, float]]) -> list[str]:
    """Names on the front of (cost, accuracy) points: no other point is cheaper AND at least as accurate."""
    front = []
    for name, cost, acc in points:
        dominated = any((c2 <= cost and a2 >= acc) and (c2 < cost or a2 > acc) for n2, c2, a2 in points if n2 != name)
        if not dominated:
            front.append(name)
    return front


def front_verdict(rows: list[ZooRow]) -> str:
    """Whether the accuracy Pareto front by measured latency holds the models of the front by MACs (over the rows
    with both a top-1 and a latency; :func:`effnets.analysis.verdicts.fronts`)."""
    known = [r for r in rows if r.top1 is not None and r.median_ms is not None]
    return fronts(
        pareto_front([(r.name, r.macs, r.top1) for r in known]),
        pareto_front([(r.name, r.median_ms, r.top1) for r in known]),
    )


def latency_outliers(rows: list[ZooRow], factor: float = 1.6) -> list[tuple[str, str]]:
    """Models whose achieved GMAC/s is far from the median (slower or faster per MAC than the others), each with the
    likeliest reason read from its structure."""
    timed = [r for r in rows if r.gmacs_per_s]
    if len(timed) < 3:
        return []
    med = statistics.median(r.gmacs_per_s for r in timed)
    med_int = statistics.median(r.intensity for r in timed if r.intensity) if any(r.intensity for r in timed) else None
    out = []
    for r in timed:
        ratio = r.gmacs_per_s / med
        if 1 / factor < ratio < factor:
            continue
        why = []
        if ratio < 1:
            if r.intensity and med_int and r.intensity < med_int / 1.3:
                why.append(
                    f"low arithmetic intensity ({r.intensity:.1f} vs a median {med_int:.1f} MACs per byte): "
                    "it moves much data per MAC, so it is memory-bound"
                )
            if r.depthwise_share is not None and r.depthwise_share > 0.1:
                why.append(f"{r.depthwise_share:.0%} of its MACs are depthwise convs, which run far below peak")
            if r.elementwise_per_mac and r.elementwise_per_mac > 0.02:
                why.append(
                    f"{r.elementwise_per_mac * 1000:.0f} element-wise/activation ops per 1000 MACs (SE gates, "
                    "swish, residual adds: memory passes that MACs do not count)"
                )
            if r.layers and r.macs / max(r.layers, 1) < 3e6:
                why.append(
                    f"{r.layers} small layers (about {human_m(r.macs / r.layers)} MACs each): per-layer "
                    "overhead dominates"
                )
            text = f"{1 / ratio:.1f}x slower per MAC than the median"
        else:
            if r.intensity and med_int and r.intensity > med_int * 1.3:
                why.append(f"high arithmetic intensity ({r.intensity:.1f} MACs per byte): dense convs reuse data")
            if r.depthwise_share is not None and r.depthwise_share < 0.05:
                why.append("almost no depthwise convs: its MACs are in dense, hardware-friendly convs")
            text = f"{ratio:.1f}x faster per MAC than the median"
        if not why:  # say what is known instead of a bare ratio
            why.append(
                "no reason found in its structure: its intensity, depthwise share, element-wise ops and layer sizes "
                "are all near the others', so the counts cannot say why"
            )
        out.append((r.name, text + ": " + "; ".join(why)))
    return out


def human_m(n: float) -> str:
    return f"{n / 1e6:.1f}M" if n >= 1e6 else f"{n / 1e3:.0f}K"


def finite(x: float | None) -> bool:
    return x is not None and math.isfinite(x)
