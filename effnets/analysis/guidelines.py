"""ShuffleNetV2's four guidelines (Ma et al. 2018, section 3) as a checker, and their measured effect on this device.

Two networks with the same MACs can differ several-fold in speed, because MACs ignore memory access cost (MAC in the
paper: elements read and written) and the degree of parallelism. The paper derives four guidelines:

* **G1, equal channel widths minimise memory access.** A 1x1 conv with c1 inputs, c2 outputs on an h x w map does
  B = hw c1 c2 MACs and touches hw (c1 + c2) + c1 c2 elements, which for fixed B is smallest when c1 = c2
  (MAC >= 2 sqrt(hw B) + B / hw).
* **G2, many groups cost memory.** A 1x1 group conv with g groups at fixed B and c1 touches hw c1 + B g / c1 + B / hw
  elements: more groups mean more output channels to write for the same MACs.
* **G3, fragmentation reduces parallelism.** Many small operators (several parallel branches, Inception-style) launch
  many small kernels that keep a wide device busy badly, and synchronise more.
* **G4, element-wise operations are not free.** ReLU, residual adds, bias adds and SE gates have few or no MACs but
  read and write whole tensors.

:func:`check_block` and :func:`check_model` apply them to the analytic cost steps (:mod:`effnets.cost`), with the
thresholds stated in :data:`THRESHOLDS`; :func:`measured_effect` builds, for each guideline, two variants that differ
only in that aspect at matched MACs and times them interleaved on the device (:mod:`effnets.runtime.bench`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from effnets.analysis.verdicts import Timed, compare_pair
from effnets.cost import Cost, Step
from effnets.report import plural
from effnets.runtime import bench, bench_networks

PAPER = "Ma et al. 2018, ShuffleNet V2: Practical Guidelines for Efficient CNN Architecture Design, section 3"
URL = "https://arxiv.org/abs/1807.11164"

TITLES: dict[str, str] = {
    "G1": "Equal channel width minimises memory access cost",
    "G2": "Excessive group convolution increases memory access cost",
    "G3": "Network fragmentation reduces the degree of parallelism",
    "G4": "Element-wise operations are non-negligible",
}

THRESHOLDS: dict[str, str] = {
    "G1": "warn when a 1x1 conv touches more than 25 % more memory than equal widths at the same MACs (beyond ~1:4)",
    "G2": "warn when a conv that is not depthwise has 4 or more groups",
    "G3": "warn when a block has 3 or more paths with their own convs or pools (the main path included)",
    "G4": "warn when element-wise ops move more than a third of the bytes (element-wise + conv/linear traffic)",
}
G1_EXCESS, G2_GROUPS, G3_PATHS, G4_SHARE = 0.25, 4, 3, 1 / 3


@dataclass(frozen=True)
class Finding:
    """One guideline applied to a block or model.

    Attributes:
        guideline: "G1" .. "G4".
        title: the guideline in words.
        status: "ok", "warn" or "n/a" (nothing the guideline applies to).
        summary: one sentence with the numbers.
        rule: the threshold behind the status (:data:`THRESHOLDS`).
        rows: the details, one dict per layer or block (keys depend on the guideline; see the check functions).
    """

    guideline: str
    title: str
    status: str
    summary: str
    rule: str
    rows: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "guideline": self.guideline,
            "title": self.title,
            "status": self.status,
            "summary": self.summary,
            "rule": self.rule,
            "rows": [dict(r) for r in self.rows],
        }


def _finding(g: str, status: str, summary: str, rows: list[dict[str, Any]]) -> Finding:
    return Finding(g, TITLES[g], status, summary, THRESHOLDS[g], rows)


# ----- the checks -----------------------------------------------------------------------------------------------


def memory_access_1x1(hw: int, c1: int, c2: int) -> tuple[int, float]:
    """(elements touched by a 1x1 conv c1 -> c2 on hw pixels, the minimum for the same MACs) per G1."""
    macs = hw * c1 * c2
    return hw * (c1 + c2) + c1 * c2, 2 * math.sqrt(hw * macs) + macs / hw


def _convs(steps: Sequence[Step]) -> list[Step]:
    return [s for s in steps if s.kind == "conv" and s.in_shape is not None and s.kernel_size is not None]


def check_g1(steps: Sequence[Step], where: Sequence[str] | None = None) -> Finding:
    """G1 on the ungrouped 1x1 convs. Rows: where, label, c_in, c_out, ratio (c_out / c_in), memory (elements),
    min_memory (at equal widths, same MACs), excess (memory / min_memory - 1)."""
    rows = []
    for i, s in enumerate(steps):
        if s.kind != "conv" or s.kernel_size != (1, 1) or s.groups != 1 or s.in_shape is None:
            continue
        c1, c2, hw = s.in_shape[0], s.out_shape[0], s.out_shape[1] * s.out_shape[2]
        mem, low = memory_access_1x1(hw, c1, c2)
        rows.append(
            {
                "where": where[i] if where else "",
                "label": s.label,
                "c_in": c1,
                "c_out": c2,
                "ratio": c2 / c1,
                "memory": mem,
                "min_memory": low,
                "excess": mem / low - 1,
            }
        )
    if not rows:
        return _finding("G1", "n/a", "no ungrouped 1x1 convs", rows)
    worst = max(rows, key=lambda r: r["excess"])
    bad = [r for r in rows if r["excess"] > G1_EXCESS]
    a, b = sorted((worst["c_in"], worst["c_out"]))
    summary = (
        f"{len(bad)} of {len(rows)} ungrouped 1x1 convs are unbalanced beyond the threshold; worst: '{worst['label']}'"
        f"{' in ' + worst['where'] if worst['where'] else ''} {worst['c_in']} -> {worst['c_out']} (1:{b / a:.1f}), "
        f"{100 * worst['excess']:.0f} % more memory access than equal widths at the same MACs"
    )
    return _finding("G1", "warn" if bad else "ok", summary, rows)


def check_g2(steps: Sequence[Step], where: Sequence[str] | None = None) -> Finding:
    """G2 on the grouped convs. Rows: where, label, c_in, c_out, groups, depthwise, extra_memory (elements the conv
    touches beyond an ungrouped conv with the same MACs and c_in: B (g - 1) / (c_in k^2))."""
    rows = []
    for i, s in enumerate(steps):
        if s.kind != "conv" or s.groups <= 1 or s.in_shape is None or s.kernel_size is None:
            continue
        c1, c2, g = s.in_shape[0], s.out_shape[0], s.groups
        k2 = s.kernel_size[0] * s.kernel_size[1]
        rows.append(
            {
                "where": where[i] if where else "",
                "label": s.label,
                "c_in": c1,
                "c_out": c2,
                "groups": g,
                "depthwise": g == c1,
                "extra_memory": s.macs * (g - 1) / (c1 * k2),
            }
        )
    if not rows:
        return _finding("G2", "n/a", "no grouped or depthwise convs", rows)
    grouped = [r for r in rows if not r["depthwise"]]
    depthwise = len(rows) - len(grouped)
    bad = [r for r in grouped if r["groups"] >= G2_GROUPS]
    counts = sorted({r["groups"] for r in grouped})
    summary = f"{len(grouped)} group convs" + (f" (groups {', '.join(map(str, counts))})" if counts else "")
    summary += f" and {depthwise} depthwise convs (groups = channels, the cheap extreme the guideline tolerates)"
    if bad:
        summary += f"; {len(bad)} have {G2_GROUPS} or more groups"
    return _finding("G2", "warn" if bad else "ok", summary, rows)


def _block_fragments(steps: Sequence[Step]) -> dict[str, Any]:
    ops = [s for s in steps if s.kind in ("conv", "pool", "linear")]
    paths = {s.branch for s in ops}
    eager = [s for s in steps if s.kind not in ("split", "bn")]
    return {"fragments": len(ops), "paths": len(paths), "eager_ops": len(eager)}


def check_g3(blocks: Sequence[tuple[str, Sequence[Step]]]) -> Finding:
    """G3 per block. Rows: where, fragments (convs + pools + linears), paths (distinct paths holding them, main path
    included), eager_ops (separate operators an eager run launches, BN excluded as it folds at inference)."""
    rows = [{"where": where, **_block_fragments(steps)} for where, steps in blocks]
    rows = [r for r in rows if r["fragments"]]
    if not rows:
        return _finding("G3", "n/a", "no convs or pools", rows)
    worst = max(rows, key=lambda r: (r["paths"], r["fragments"]))
    bad = [r for r in rows if r["paths"] >= G3_PATHS]
    total = sum(r["fragments"] for r in rows)
    summary = (
        f"{plural(total, 'conv/pool', 'convs/pools')} in {plural(len(rows), 'block')} ({total / len(rows):.1f} per "
        f"block); most parallel: {worst['where'] or 'the block'} with {plural(worst['paths'], 'path')} and "
        f"{plural(worst['fragments'], 'fragment')}"
    )
    return _finding("G3", "warn" if bad else "ok", summary, rows)


_EW_TRAFFIC = {"act": 2, "add": 3, "mul": 3}
"""Elements moved per element of output: an activation reads and writes; an add or multiply reads two, writes one
(an SE gate's second input is small, so a multiply is slightly overcounted)."""


def check_g4(steps: Sequence[Step], where: Sequence[str] | None = None) -> Finding:
    """G4 on activations, adds and multiplies. Rows: where, label, kind, elements, traffic (elements moved).
    The summary compares their traffic with the conv/linear traffic (input + weights + output)."""
    rows = []
    conv_traffic = 0
    for i, s in enumerate(steps):
        if s.kind in ("conv", "linear") and s.in_shape is not None:
            conv_traffic += math.prod(s.in_shape) + s.params + math.prod(s.out_shape)
        elif s.kind in _EW_TRAFFIC and s.extra:
            rows.append(
                {
                    "where": where[i] if where else "",
                    "label": s.label,
                    "kind": s.kind,
                    "elements": s.extra,
                    "traffic": _EW_TRAFFIC[s.kind] * s.extra,
                }
            )
    if not rows:
        return _finding("G4", "n/a", "no element-wise operations", rows)
    ew = sum(r["traffic"] for r in rows)
    share = ew / (ew + conv_traffic) if ew + conv_traffic else 0.0
    n_act = sum(r["kind"] == "act" for r in rows)
    summary = (
        f"{plural(len(rows), 'element-wise op')} ({plural(n_act, 'activation')}, "
        f"{plural(len(rows) - n_act, 'add/multiply', 'adds/multiplies')}) with no MACs move "
        f"{100 * share:.0f} % of the bytes (BN, which folds into the conv at inference, not counted)"
    )
    return _finding("G4", "warn" if share > G4_SHARE else "ok", summary, rows)


def check_steps(blocks: Sequence[tuple[str, Sequence[Step]]]) -> list[Finding]:
    """G1-G4 on cost steps grouped by block: ``[(where, steps), ...]``."""
    flat = [s for _, steps in blocks for s in steps]
    where = [w for w, steps in blocks for _ in steps]
    return [check_g1(flat, where), check_g2(flat, where), check_g3(blocks), check_g4(flat, where)]


def check_cost(cost: Cost, where: str = "") -> list[Finding]:
    """G1-G4 on one cost record (one block, or a whole network taken as one block)."""
    if not cost.steps:
        raise ValueError("the cost has no per-layer steps: compute it with record_steps=True")
    return check_steps([(where, cost.steps)])


def check_block(
    name: str, fields: dict[str, Any] | None = None, input_shape: tuple[int, int, int] | None = None
) -> list[Finding]:
    """G1-G4 for block ``name`` with spec ``fields`` on a C x H x W input (default: its in_channels at 56 x 56)."""
    from effnets.blocks import get_block

    info = get_block(name)
    fields = dict(fields or {})
    if input_shape is None:
        input_shape = (int(fields.get("in_channels", info.make_spec().in_channels)), 56, 56)
    fields.pop("in_channels", None)
    spec = info.spec_for_input(int(input_shape[0]), **fields)
    return check_cost(info.cost(spec, input_shape), info.label)


def check_model(name: str, resolution: int | None = None, **fields: Any) -> list[Finding]:
    """G1-G4 for registry model ``name`` (G3 per block: each layer of each stage)."""
    from effnets import cost as steps
    from effnets.models import get_model

    info = get_model(name)
    if resolution is not None:
        fields["resolution"] = int(resolution)
    plan = info.stage_plan(info.make_spec(**fields))
    x = steps.start(*plan.input_shape)
    blocks: list[tuple[str, Sequence[Step]]] = []
    for stage in plan.stages:
        for j, layer in enumerate(stage.layers):
            n = len(x.steps)
            x = layer.cost(x)
            blocks.append((f"{stage.name}.{j}", x.steps[n:]))
    return check_steps(blocks)


# ----- measured effects ---------------------------------------------------------------------------------------------


class _Stack(nn.Sequential):
    """Layers applied in order (a named Sequential, for readable module trees)."""


class _Parallel(nn.Module):
    """Branches applied to the same input, concatenated along channels."""

    def __init__(self, branches: Sequence[nn.Module]):
        super().__init__()
        self.branches = nn.ModuleList(branches)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([b(x) for b in self.branches], dim=1)


class _Bottleneck(nn.Module):
    """1x1 -> 3x3 -> 1x1 (ResNet's bottleneck) with or without the ReLUs and the residual add (G4's experiment)."""

    def __init__(self, c: int, mid: int, elementwise: bool):
        super().__init__()
        self.a = nn.Conv2d(c, mid, 1, bias=False)
        self.b = nn.Conv2d(mid, mid, 3, padding=1, bias=False)
        self.c = nn.Conv2d(mid, c, 1, bias=False)
        self.elementwise = elementwise

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.elementwise:
            return self.c(self.b(self.a(x)))
        y = torch.relu(self.a(x))
        y = torch.relu(self.b(y))
        return torch.relu(self.c(y) + x)


def _conv_macs(module: nn.Module, hw: int) -> int:
    """MACs of the (size-preserving) convs of ``module`` on an hw-pixel map."""
    return sum(
        hw * m.out_channels * (m.in_channels // m.groups) * m.kernel_size[0] * m.kernel_size[1]
        for m in module.modules()
        if isinstance(m, nn.Conv2d)
    )


@dataclass(frozen=True)
class EffectVariant:
    """One network of an experiment.

    Attributes:
        label: what it is ("1x1 convs 128 -> 128 -> 128 (1:1)").
        module: the network (eval mode).
        input_shape: (C, H, W) it takes.
        macs: conv MACs per sample.
    """

    label: str
    module: nn.Module
    input_shape: tuple[int, int, int]
    macs: int


@dataclass(frozen=True)
class EffectPair:
    """Two networks that differ only in one guideline's aspect, at matched MACs.

    Attributes:
        guideline: "G1" .. "G4".
        question: what is compared, in words.
        follows: the variant that follows the guideline.
        breaks: the variant that breaks it.
    """

    guideline: str
    question: str
    follows: EffectVariant
    breaks: EffectVariant


SIZES: dict[str, dict[str, int]] = {
    "small": {"channels": 128, "hw": 28, "depth": 4},
    "large": {"channels": 256, "hw": 56, "depth": 10},
}
"""Experiment sizes: "small" keeps each check to about a second on a 2-core CPU; "large" is closer to the paper's
(10 stacked blocks) for GPUs."""


def _balanced_pair(c: int, ratio: int) -> tuple[int, int]:
    """(c1, c2) with c2 / c1 ~ ratio and c1 * c2 ~ c * c (equal MACs to a c -> c 1x1 conv)."""
    c1 = max(1, round(c / math.sqrt(ratio)))
    return c1, max(1, round(c * c / c1))


def _variant(label: str, module: nn.Module, channels: int, hw: int) -> EffectVariant:
    return EffectVariant(label, module.eval(), (channels, hw, hw), _conv_macs(module, hw * hw))


def _pointwise(a: int, b: int, groups: int = 1) -> nn.Conv2d:
    return nn.Conv2d(a, b, 1, groups=groups, bias=False)


def effect_pair(guideline: str, size: str = "small") -> EffectPair:
    """The pair of networks for one guideline (see :func:`measured_effect`): no BN, random weights, eval mode.

    * G1: ``depth`` pairs of 1x1 convs c -> c -> c vs c1 -> c2 -> c1 with c2 = 6 c1 and c1 c2 ~ c^2.
    * G2: 2 ``depth`` 1x1 convs c -> c (g = 1) vs c' -> c' with g = 8 and c' ~ c sqrt(8) (a multiple of 8).
    * G3: 2 ``depth`` layers of one 1x1 conv c -> c vs four parallel 1x1 convs c -> c/4, concatenated.
    * G4: ``depth`` ResNet bottlenecks (1x1 c -> c/4, 3x3, 1x1 back) without vs with ReLUs and residual adds.

    Raises:
        ValueError: an unknown guideline or size.
    """
    if guideline not in TITLES:
        raise ValueError(f"guideline '{guideline}' is not one of {', '.join(TITLES)}")
    if size not in SIZES:
        raise ValueError(f"size '{size}' is not one of {', '.join(SIZES)}")
    c, hw, depth = SIZES[size]["channels"], SIZES[size]["hw"], SIZES[size]["depth"]
    if guideline == "G1":
        ratio = 6
        c1, c2 = _balanced_pair(c, ratio)

        def pairs(a: int, b: int) -> nn.Module:
            return _Stack(*[m for _ in range(depth) for m in (_pointwise(a, b), _pointwise(b, a))])

        follows = _variant(f"1x1 convs {c} -> {c} -> {c} (1:1)", pairs(c, c), c, hw)
        breaks = _variant(f"1x1 convs {c1} -> {c2} -> {c1} (1:{ratio})", pairs(c1, c2), c1, hw)
        question = f"{depth} pairs of 1x1 convs, c1:c2 = 1:1 vs 1:{ratio}, equal MACs"
    elif guideline == "G2":
        g = 8
        cg = max(g, round(c * math.sqrt(g) / g) * g)
        follows = _variant(f"1x1 convs {c} -> {c}, g=1", _Stack(*[_pointwise(c, c) for _ in range(2 * depth)]), c, hw)
        breaks = _variant(
            f"1x1 group convs {cg} -> {cg}, g={g}", _Stack(*[_pointwise(cg, cg, g) for _ in range(2 * depth)]), cg, hw
        )
        question = f"{2 * depth} 1x1 convs, g=1 vs g={g} (wider, so that MACs are equal)"
    elif guideline == "G3":
        n = 4
        one = _Stack(*[_pointwise(c, c) for _ in range(2 * depth)])
        frag = _Stack(*[_Parallel([_pointwise(c, c // n) for _ in range(n)]) for _ in range(2 * depth)])
        follows = _variant(f"1 branch: 1x1 conv {c} -> {c}", one, c, hw)
        breaks = _variant(f"{n} parallel branches: 1x1 convs {c} -> {c // n}, concatenated", frag, c, hw)
        question = f"{2 * depth} layers of one 1x1 conv vs {n} parallel 1x1 convs of a quarter width, equal MACs"
    else:
        mid = c // 4
        plain = _Stack(*[_Bottleneck(c, mid, False) for _ in range(depth)])
        full = _Stack(*[_Bottleneck(c, mid, True) for _ in range(depth)])
        follows = _variant(f"bottleneck {c} -> {mid} -> {c} without ReLU and shortcut", plain, c, hw)
        breaks = _variant(f"bottleneck {c} -> {mid} -> {c} with ReLU and shortcut add", full, c, hw)
        question = f"{depth} ResNet bottlenecks without vs with their ReLUs and residual adds (same MACs)"
    return EffectPair(guideline, question, follows, breaks)


@dataclass(frozen=True)
class MeasuredEffect:
    """One guideline's experiment, timed on the device.

    Attributes:
        guideline, title, question: what was compared.
        follows, breaks: the two timed variants (:class:`effnets.runtime.bench.BenchResult`; label, median_ms, p10_ms,
            p90_ms, environment ... and ``macs`` for the batch).
        follows_macs, breaks_macs: conv MACs per sample (matched within a few per mille).
        ratio: breaks.median / follows.median: how many times slower breaking the guideline is here (None if
            stopped before both were timed).
        partial: the run was stopped early.
        environment: device, threads, torch, precision, layout, batch, resolution.
    """

    guideline: str
    title: str
    question: str
    follows: bench.BenchResult
    breaks: bench.BenchResult
    follows_macs: int
    breaks_macs: int
    ratio: float | None
    partial: bool
    environment: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {
            "guideline": self.guideline,
            "title": self.title,
            "question": self.question,
            "follows": self.follows.to_dict(),
            "breaks": self.breaks.to_dict(),
            "follows_macs": self.follows_macs,
            "breaks_macs": self.breaks_macs,
            "ratio": self.ratio,
            "partial": self.partial,
            "environment": dict(self.environment),
        }


def measured_effect(
    guideline: str,
    *,
    device: torch.device | str = "cpu",
    size: str | None = None,
    batch: int = 1,
    precision: str = "fp32",
    channels_last: bool = False,
    warmup: int = 5,
    repeats: int = 30,
    progress: bench.Progress = None,
    stop: bench.StopSignal = None,
) -> MeasuredEffect:
    """Time the two variants of :func:`effect_pair` interleaved on ``device`` (eager, inference_mode).

    ``size`` defaults to "small" on the CPU (each check well under a second with one thread here) and "large" on a
    GPU. The current torch thread count is used and recorded in the environment.
    """
    device = torch.device(device)
    size = size or ("small" if device.type == "cpu" else "large")
    pair = effect_pair(guideline, size)
    variants = []
    for v in (pair.follows, pair.breaks):
        x = torch.randn(batch, *v.input_shape, generator=torch.Generator().manual_seed(0))
        variants.append(
            bench_networks.prepared_variant(
                v.module,
                x,
                label=v.label,
                device=device,
                precision=precision,
                channels_last=channels_last,
                eager=True,
                macs_per_sample=v.macs,
                config={"kind": "guideline", "guideline": guideline, "size": size},
            )
        )
    run = bench.run_interleaved(variants, device=device, warmup=warmup, repeats=repeats, progress=progress, stop=stop)
    a, b = run.results
    ratio = b.median_ms / a.median_ms if a.median_ms and b.median_ms is not None else None
    return MeasuredEffect(
        guideline,
        TITLES[guideline],
        pair.question,
        a,
        b,
        pair.follows.macs,
        pair.breaks.macs,
        ratio,
        run.partial,
        dict(a.environment),
    )


def measured_effects(guidelines: Sequence[str] = ("G1", "G2", "G3", "G4"), **settings: Any) -> list[MeasuredEffect]:
    """:func:`measured_effect` for several guidelines (same settings); stops early if ``stop`` fires."""
    out = []
    for g in guidelines:
        out.append(measured_effect(g, **settings))
        if out[-1].partial:
            break
    return out


def effect_rows(effects: Sequence[MeasuredEffect]) -> list[dict[str, Any]]:
    """The table of :func:`measured_effects`: each pair's medians and MACs, and what breaking the guideline did
    (:func:`effnets.analysis.verdicts.compare_pair`: an effect only outside the spread)."""

    def timed(label: str, macs: int, r: bench.BenchResult) -> Timed:
        return Timed(label, macs, r.median_ms, r.p10_ms, r.p90_ms)

    return [
        {
            "guideline": e.guideline,
            "question": e.question,
            "follows (ms)": e.follows.median_ms,
            "breaks (ms)": e.breaks.median_ms,
            "MACs follows": e.follows_macs,
            "MACs breaks": e.breaks_macs,
            "effect of breaking it": compare_pair(
                timed("follows", e.follows_macs, e.follows), timed("breaks", e.breaks_macs, e.breaks)
            )
            if e.ratio
            else "not measured (stopped)",
        }
        for e in effects
    ]
