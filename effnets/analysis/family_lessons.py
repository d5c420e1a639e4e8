"""Family lessons for the Scaling Lab: what each family's own scaling rule does, with exact counts from the registry.

EfficientNetV2's non-uniform S/M/L tables and its progressive learning, the width multipliers of MobileNetV3 and
MnasNet, DenseNet's growth rate and compression. Each lesson is plain data (rows of values and sentences computed
from them); the Scaling Lab renders it. Published figures carry their source.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from effnets.models import MODELS, ModelInfo, ModelSpec
from effnets.report import human

V2_PAPER_TABLE6 = "Tan & Le 2021 (EfficientNetV2), Table 6: progressive training settings"
# Table 6: (min, max) of each setting over training, per size; training runs in 4 stages of about 87 epochs
# (Sec. 4.2 / 5.1: 350 epochs in all), each setting interpolated linearly from min (first stage) to max (last).
PROGRESSIVE = {
    "s": {"image size": (128, 300), "RandAugment magnitude": (5, 15), "Mixup alpha": (0.0, 0.0), "dropout": (0.1, 0.3)},
    "m": {"image size": (128, 380), "RandAugment magnitude": (5, 20), "Mixup alpha": (0.0, 0.2), "dropout": (0.1, 0.4)},
    "l": {"image size": (128, 380), "RandAugment magnitude": (5, 25), "Mixup alpha": (0.0, 0.4), "dropout": (0.1, 0.5)},
}
PROGRESSIVE_STAGES = 4
EPOCHS = 350


@dataclass(frozen=True)
class Lesson:
    """One family's lesson.

    Attributes:
        title: the tab's heading.
        intro: what the rule is (markdown).
        tables: (caption, rows) pairs: plain values, the first column naming the row.
        findings: sentences computed from the rows (markdown).
        source: where the published figures in the rows come from ("" when every number is effnets' own count).
        schedule: EfficientNetV2's progressive-learning stages (for the figure), else empty.
    """

    title: str
    intro: str
    tables: list[tuple[str, list[dict[str, Any]]]]
    findings: list[str]
    source: str = ""
    schedule: list[dict[str, Any]] = field(default_factory=list)


def _cost(info: ModelInfo, **fields: Any):
    return info.cost(info.make_spec(**fields))


# ----- EfficientNetV2 -------------------------------------------------------------------------------------------------


def v2_stage_rows() -> list[dict[str, Any]]:
    """S, M and L stage by stage: each row of the stage tables with its blocks and width per size, and how many times
    S's blocks M and L have there (a different ratio in every stage: the scaling is not one depth multiplier)."""
    from effnets.models.efficientnet_v2 import STAGE_TABLES

    tables = {v: rows for v, (_, rows) in STAGE_TABLES.items()}
    n = max(len(r) for r in tables.values())
    out = []
    for i in range(n):
        s, m, l_ = (tables[v][i] if i < len(tables[v]) else None for v in ("s", "m", "l"))
        ref = s or m or l_
        op = ("Fused-MBConv" if ref.fused else "MBConv") + f"{ref.expand_ratio:g}, k{ref.kernel}x{ref.kernel}"
        row: dict[str, Any] = {"stage": i + 1, "operator": op + (", SE" if ref.se_ratio else "")}
        for v, r in (("S", s), ("M", m), ("L", l_)):
            row[f"{v} blocks"] = r.repeats if r else 0
            row[f"{v} channels"] = r.channels if r else None
        row["L / S blocks"] = round(l_.repeats / s.repeats, 2) if s and l_ else None
        out.append(row)
    return out


def progressive_schedule(variant: str) -> list[dict[str, Any]]:
    """The paper's progressive learning for one size (Table 6): four training stages, each setting interpolated
    linearly from its minimum to its maximum; with effnets' exact MACs per training image at each stage's image size.

    The image size is rounded down to a whole pixel (the paper gives only the ends of each range).
    """
    settings = PROGRESSIVE[variant]
    info = MODELS[f"efficientnet_v2_{variant}"]
    per = EPOCHS / PROGRESSIVE_STAGES
    rows = []
    for i in range(PROGRESSIVE_STAGES):
        t = i / (PROGRESSIVE_STAGES - 1)
        row: dict[str, Any] = {"stage": i + 1, "epochs": f"{round(i * per)}-{round((i + 1) * per)}"}
        for name, (lo, hi) in settings.items():
            v = lo + (hi - lo) * t
            row[name] = int(v) if name == "image size" else round(v, 3)
        row["MACs per image"] = _cost(info, resolution=row["image size"]).macs
        rows.append(row)
    return rows


def progressive_saving(variant: str) -> float:
    """Training compute (conv/linear MACs per image, summed over the stages) of progressive learning against training
    at the largest size throughout: a share below 1."""
    rows = progressive_schedule(variant)
    return sum(r["MACs per image"] for r in rows) / (len(rows) * rows[-1]["MACs per image"])


def efficientnet_v2_lesson(name: str, spec: ModelSpec) -> Lesson:
    variant = spec.variant  # type: ignore[attr-defined]
    rows = v2_stage_rows()
    ratios = [r["L / S blocks"] for r in rows if r["L / S blocks"] is not None]
    extra = [r["stage"] for r in rows if r["S blocks"] == 0]
    findings = [
        f"L has {min(ratios):g}x to {max(ratios):g}x S's blocks depending on the stage"
        + (f", and stage {', '.join(map(str, extra))} that S does not have at all" if extra else "")
        + ": no single depth multiplier turns S into L. The paper adds the layers mostly to the later stages "
        "(Sec. 3.3: more capacity without much runtime overhead) and caps the image size at 480.",
    ]
    sizes = {
        v: (_cost(MODELS[f"efficientnet_v2_{v}"]), MODELS[f"efficientnet_v2_{v}"].make_spec().resolution)
        for v in ("s", "m", "l")
    }
    findings.append(
        "Exact: "
        + "; ".join(
            f"{v.upper()} {human(c.params)} params, {human(c.macs)} MACs at {res} px" for v, (c, res) in sizes.items()
        )
        + "."
    )
    schedule = progressive_schedule(variant)
    saving = progressive_saving(variant)
    findings.append(
        f"Progressive learning ({variant.upper()}): training starts at {schedule[0]['image size']} px with weak "
        f"regularisation and ends at {schedule[-1]['image size']} px with strong; at "
        f"{human(schedule[0]['MACs per image'])} MACs per image the first stage costs "
        f"{schedule[0]['MACs per image'] / schedule[-1]['MACs per image']:.0%} of the last, so the four stages "
        f"together take {saving:.0%} of the compute of training at {schedule[-1]['image size']} px throughout "
        "(conv and linear MACs of the forward pass per image; the backward pass scales with them)."
    )
    return Lesson(
        title="Non-uniform scaling and progressive learning",
        intro=(
            "EfficientNetV2-S is searched; M and L are not S times one multiplier but their own stage tables. "
            "All three are trained with **progressive learning**: small images with weak regularisation first, "
            "larger images with stronger regularisation later (small images need less regularisation, the paper "
            "argues, so growing both together keeps accuracy while the early epochs run fast)."
        ),
        tables=[
            ("S, M and L stage by stage (stem and head left out)", rows),
            (f"Progressive learning of {variant.upper()} ({V2_PAPER_TABLE6}; MACs: effnets' count)", schedule),
        ],
        findings=findings,
        source=V2_PAPER_TABLE6,
        schedule=schedule,
    )


# ----- width multipliers (MobileNetV3, MnasNet) -----------------------------------------------------------------------

WIDTHS = (0.35, 0.5, 0.75, 1.0, 1.25, 1.4)


def width_rows(name: str, widths=WIDTHS) -> list[dict[str, Any]]:
    """The network at each width multiplier alpha: exact params and MACs, both against alpha = 1, beside alpha^2
    (what the multiplier would give if every layer's cost went as C_in x C_out), and the published top-1 where a
    source gives one at that width."""
    info = MODELS[name]
    base = _cost(info, width_mult=1.0)
    published: dict[float, Any] = {}
    for p in info.published_figures():  # the first source at a width (the authors' before a reimplementation)
        if p.top1 is not None and set(p.fields) <= {"width_mult"}:
            published.setdefault(float(p.fields.get("width_mult", info.make_spec().width_mult)), p)  # type: ignore[attr-defined]
    rows = []
    for a in widths:
        c = _cost(info, width_mult=a)
        pub = published.get(float(a))
        rows.append(
            {
                "alpha": a,
                "params": c.params,
                "MACs": c.macs,
                "params / alpha=1": round(c.params / base.params, 3),
                "MACs / alpha=1": round(c.macs / base.macs, 3),
                "alpha²": round(a * a, 3),
                "head share of params": round(c.stages[-1].params / c.params, 3),
                "last conv channels": [st.out_shape[0] for st in c.total.steps if st.kind == "conv"][-1],
                "published top-1 (%)": pub.top1 if pub else None,
            }
        )
    return rows


def width_lesson(name: str, spec: ModelSpec) -> Lesson:
    info = MODELS[name]
    rows = width_rows(name)
    small, one = rows[0], rows[WIDTHS.index(1.0)]
    last, last_one = small["last conv channels"], one["last conv channels"]
    head = (
        f"its {last:,}-channel last conv is kept at every width"
        if last == last_one
        else f"its last conv scales too ({last:,} channels here, {last_one:,} at alpha = 1)"
    )
    findings = [
        f"At alpha = {small['alpha']:g} the MACs fall to {small['MACs / alpha=1']:.0%} of alpha = 1 (alpha² = "
        f"{small['alpha²']:.0%}) but the parameters only to {small['params / alpha=1']:.0%}: the stem's 3 input "
        f"channels and the classifier's 1000 outputs do not scale, and {head}; the head holds "
        f"{small['head share of params']:.0%} of the parameters at this width ({one['head share of params']:.0%} "
        "at alpha = 1).",
        "Every width is rounded to a multiple of 8 after the multiplication, so the ratios step rather than follow "
        "alpha² exactly.",
    ]
    sources = sorted({p.source for p in info.published_figures() if p.top1 is not None})
    return Lesson(
        title="Width multiplier",
        intro=(
            f"{info.label} scales by one **width multiplier** alpha on every layer (MobileNetV1's rule, used by "
            "MobileNetV2, V3 and MnasNet). Depth and resolution stay; the Scaling Lab's sliders scale it further."
        ),
        tables=[(f"{info.label} at each width multiplier (the preset's other settings)", rows)],
        findings=findings,
        source="; ".join(sources),
    )


# ----- DenseNet -------------------------------------------------------------------------------------------------------

GROWTH_RATES = (12, 24, 32, 48)
COMPRESSIONS = (0.5, 1.0)


def dense_block_widths(spec: ModelSpec) -> list[dict[str, Any]]:
    """Channels into and out of each dense block and after each transition: a block of n layers turns c channels
    into c + n k; a transition keeps floor(theta x) of them."""
    from effnets.models.densenet import BLOCK_CONFIGS

    k, theta = spec.growth_rate, spec.compression  # type: ignore[attr-defined]
    c = spec.init_features  # type: ignore[attr-defined]
    rows = []
    blocks = BLOCK_CONFIGS[spec.block_config]  # type: ignore[attr-defined]
    for i, n in enumerate(blocks):
        out = c + n * k
        after = int(out * theta) if i < len(blocks) - 1 else None
        rows.append(
            {"dense block": i + 1, "layers": n, "channels in": c, "channels out": out, "after transition": after}
        )
        c = after if after is not None else out
    return rows


def densenet_rows(name: str) -> list[dict[str, Any]]:
    """The network at each growth rate k and compression theta (the rest of its settings as they are): exact params
    and MACs."""
    info = MODELS[name]
    rows = []
    for k in GROWTH_RATES:
        for theta in COMPRESSIONS:
            c = _cost(info, growth_rate=k, compression=theta)
            rows.append(
                {
                    "growth rate k": k,
                    "compression theta": theta,
                    "params": c.params,
                    "MACs": c.macs,
                    "channels at the end": dense_block_widths(info.make_spec(growth_rate=k, compression=theta))[-1][
                        "channels out"
                    ],
                }
            )
    return rows


def densenet_lesson(name: str, spec: ModelSpec) -> Lesson:
    rows = densenet_rows(name)
    by = {(r["growth rate k"], r["compression theta"]): r for r in rows}
    k32, k24 = by[(32, 0.5)], by[(24, 0.5)]
    no_c = by[(32, 1.0)]
    findings = [
        f"Growth rate 32 -> 24 cuts the parameters to {k24['params'] / k32['params']:.0%} and the MACs to "
        f"{k24['MACs'] / k32['MACs']:.0%}: every 3x3 and every 1x1 bottleneck is k or 4k wide, and the inputs "
        "grow by k per layer, so cost goes roughly as k².",
        f"Without compression (theta = 1) the transitions keep every channel: {human(no_c['params'])} params and "
        f"{human(no_c['MACs'])} MACs against {human(k32['params'])} and {human(k32['MACs'])} with theta = 0.5, "
        f"and {no_c['channels at the end']:,} channels at the end instead of {k32['channels at the end']:,}.",
    ]
    return Lesson(
        title="Growth rate and compression",
        intro=(
            "A dense block **concatenates**: layer l sees the block's input and the k maps of each earlier layer, "
            "so its input is c0 + (l - 1) k wide. The 1x1 bottleneck (4k channels, DenseNet-B) keeps each 3x3 "
            "cheap, and each transition keeps only theta of the channels (DenseNet-C). Below, DenseNet-121's exact "
            "cost over k and theta, and the channels of the network as it is set now."
        ),
        tables=[
            ("DenseNet-121 over growth rate and compression (exact)", rows),
            ("Channels of each dense block as set now", dense_block_widths(spec)),
        ],
        findings=findings,
    )


# ----- ConvNeXt -------------------------------------------------------------------------------------------------------


def convnext_lesson(name: str, spec: ModelSpec) -> Lesson:
    from effnets.analysis import convnext_roadmap

    rows = convnext_roadmap.roadmap_rows()
    return Lesson(
        title="The roadmap from ResNet-50",
        intro=(
            "ConvNeXt is ResNet-50 modernised one design decision at a time (Liu et al. 2022, Sec. 2 and Fig. 2): "
            "each row below is a real network built from effnets' blocks, with its exact params and MACs at 224 px; "
            "the first row is torchvision's ResNet-50 and the last its ConvNeXt-T, exactly. Walk down the table: "
            "which steps cost MACs, which buy accuracy?"
        ),
        tables=[
            ("ResNet-50 to ConvNeXt-T, step by step (exact counts; the paper's figures where it states them)", rows)
        ],
        findings=convnext_roadmap.summary(rows),
        source="Liu et al. 2022, A ConvNet for the 2020s, Sec. 2 (each row names its section)",
    )


LESSONS: dict[str, Callable[[str, ModelSpec], Lesson]] = {
    "efficientnet_v2": efficientnet_v2_lesson,
    "mobilenet_v3": width_lesson,
    "mnasnet": width_lesson,
    "densenet": densenet_lesson,
    "convnext": convnext_lesson,
}


def lesson_for(name: str, spec: ModelSpec | None = None) -> Lesson | None:
    """The lesson of the preset's family for the network as set (``spec``; the preset when None), or None when the
    family has none."""
    maker = LESSONS.get(MODELS[name].family)
    return maker(name, spec or MODELS[name].make_spec()) if maker else None


def has_lesson(family: str) -> bool:
    return family in LESSONS
