"""What the Scaling Lab says about one scaled network: its headline numbers and the sentences built from them.

Pure functions of a preset, the viewer's scaling rule (:class:`Rule`) and the costs of the preset and of its scaled
twin (:class:`Scaled`; no streamlit), so that the page only renders what they return and the tests can check each
number against a second way of computing it. Paper symbols as in :mod:`effnets.models.scaling`: phi the compound
coefficient, alpha / beta / gamma the bases of depth / width / resolution, d, w, r the multipliers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from effnets import units
from effnets.analysis.scaling import DTYPE_BYTES, activation_bytes, b_series_names, rounding_effects
from effnets.models import FAMILIES, MODELS, ModelCost, ModelInfo, ModelSpec, family_models
from effnets.models.scaling import (
    AXES,
    AXIS_FIELD,
    AXIS_RANGE,
    Multipliers,
    compound_law,
    phi_multipliers,
    scale_spec,
    scaled_fields,
)
from effnets.report import Metric, human, human_bytes

SHOWN_STAGES = 5  # the rounding note names this many stages, then counts the rest
AXIS_HELP = {
    "width": "w: every layer's channels × w, rounded to a multiple of 8 (MobileNetV1: truncated). Cost ∝ w².",
    "depth": "d: each stage's number of blocks × d, rounded up. Cost ∝ d.",
    "resolution": "r: the input side × r, rounded to whole pixels. Cost ∝ r²; parameters unchanged.",
}


def families_with_presets() -> list[str]:
    """The families the page offers: those with at least one registered preset, in registry order."""
    return [f for f in FAMILIES if any(i.family == f for i in MODELS.values())]


def is_mobilenet(family: str) -> bool:
    """MobileNet's papers call the width multiplier alpha and the resolution multiplier rho: the page says so."""
    return family.startswith("mobilenet")


def preset_fields(info: ModelInfo, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The preset's own field values (with ``overrides`` from a link) for the settings widgets, without the fields
    the multipliers set."""
    skip = set(scaled_fields(info.spec))
    values = {**info.make_spec().to_dict(), **(overrides or {})}
    return {k: v for k, v in values.items() if k not in skip}


def link_fields(info: ModelInfo, fields: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The spec fields of a link split into (those the settings widgets take, a warning for each field the multiplier
    sliders set, which the link may not)."""
    skip = set(scaled_fields(info.spec))
    warnings = [f"ignored {k} in cfg from the link: the multiplier sliders set it" for k in sorted(fields) if k in skip]
    return {k: v for k, v in fields.items() if k not in skip}, warnings


def slider_positions(m: Multipliers, axes: Sequence[str]) -> dict[str, float]:
    """Where the (read-only) multiplier sliders stand in phi mode: each multiplier phi sets, rounded to the sliders'
    step of 0.01 and clamped into their range."""
    return {a: min(max(round(m.of(a), 2), AXIS_RANGE[a][0]), AXIS_RANGE[a][1]) for a in axes}


def axis_slider(family: str, axis: str) -> tuple[str, str]:
    """(label, help) of an axis's multiplier slider; MobileNet's names its paper's alpha and rho."""
    label = {"width": "width multiplier w", "depth": "depth multiplier d", "resolution": "resolution multiplier r"}
    if is_mobilenet(family):
        label = {**label, "width": "width multiplier w (× α)", "resolution": "resolution multiplier r (× ρ)"}
    return label[axis], AXIS_HELP[axis]


def missing_axes_note(family: str, axes: Sequence[str], by_phi: bool) -> str | None:
    """'MobileNetV1 has no depth multiplier; ...' for a family without every axis, else None."""
    missing = [a for a in AXES if a not in axes]
    if not missing:
        return None
    return f"{FAMILIES[family].label} has no {' or '.join(missing)} multiplier; " + (
        "those factors of φ are not applied." if by_phi else "its other settings are below."
    )


@dataclass(frozen=True)
class Rule:
    """How the viewer scales the preset: by the compound coefficient phi (``by_phi``, with the bases alpha, beta and
    gamma) or by the separate multipliers of the sliders (``sliders``: axis -> value), on the family's ``axes``."""

    by_phi: bool
    phi: float
    alpha: float
    beta: float
    gamma: float
    axes: tuple[str, ...]
    sliders: Mapping[str, float]

    @property
    def growth(self) -> float:
        """alpha * beta^2 * gamma^2: the cost growth per unit of phi the rule promises (about 2 in the paper)."""
        return self.alpha * self.beta**2 * self.gamma**2

    def multipliers(self) -> Multipliers:
        """d, w and r applied: alpha^phi, beta^phi, gamma^phi in phi mode, else the sliders (1 off the axes)."""
        if self.by_phi:
            return phi_multipliers(self.phi, self.alpha, self.beta, self.gamma, self.axes)
        return Multipliers(**{a: float(self.sliders[a]) for a in self.axes})


@dataclass(frozen=True)
class Scaled:
    """The page's network: the preset at the viewer's settings (``base``), its scaled twin (``spec``), the costs of
    both, how it was scaled and how it is counted; ``batch`` and ``dtype`` size the activation memory."""

    info: ModelInfo
    rule: Rule
    base: ModelSpec
    spec: ModelSpec
    base_cost: ModelCost
    cost: ModelCost
    counting: units.Counting
    batch: int
    dtype: str

    @property
    def m(self) -> Multipliers:
        return self.rule.multipliers()

    @property
    def resolution(self) -> int:
        return self.spec.resolution  # type: ignore[attr-defined]

    @property
    def predicted(self) -> float:
        """d * w^2 * r^2: the cost ratio the rule predicts (it ignores rounding)."""
        return self.m.law()

    @property
    def exact(self) -> float:
        """The counted cost of the rounded network over the preset's."""
        return self.counting.total(self.cost) / self.counting.total(self.base_cost)

    @property
    def bytes_per_value(self) -> int:
        return DTYPE_BYTES[self.dtype]

    @property
    def activation_bytes(self) -> int:
        return activation_bytes(self.cost, self.batch, self.bytes_per_value)

    @property
    def filename(self) -> str:
        """The stem of the page's downloads: 'efficientnet_b0_w1.10_d1.20_r258'."""
        return f"{self.info.name}_w{self.m.width:.2f}_d{self.m.depth:.2f}_r{self.resolution}"


def scale(info: ModelInfo, values: Mapping[str, Any], rule: Rule, counting: units.Counting, batch: int, dtype: str):
    """The preset with the widgets' ``values``, scaled by ``rule``, and both costs.

    Raises:
        ValueError: the settings or the scaled network are impossible (the message names the field).
    """
    base = info.make_spec(**values)
    spec = scale_spec(info, base, rule.multipliers())
    cost = info.cost(spec, record_steps=False)
    base_cost = info.cost(base, record_steps=False)
    return Scaled(info, rule, base, spec, base_cost, cost, counting, batch, dtype)


def headline(s: Scaled) -> list[Metric]:
    """The four numbers at the top: parameters, the count, input resolution, activation memory."""
    cost, base_cost, name, what = s.cost, s.base_cost, s.counting.name, s.counting.contents
    count, base_count, res = s.counting.total(cost), s.counting.total(base_cost), s.resolution
    rho = f" (ρ = {res / 224:.3f})" if is_mobilenet(s.info.family) else ""
    return [
        Metric(
            "Parameters",
            human(cost.params),
            f"{cost.params:,} learnable parameters (BN γ/β included; running statistics are buffers). "
            f"Preset: {base_cost.params:,}.",
            f"{cost.params / base_cost.params:.2f}× the preset",
        ),
        Metric(
            f"{name} per image",
            human(count),
            f"{count:,} {name}: {what}. Preset: {base_count:,}.",
            f"{count / base_count:.2f}× the preset",
        ),
        Metric("Input resolution", f"{res}×{res}", f"{res} px per side{rho}; the preset uses {s.base.resolution}."),
        Metric(
            f"Activation memory, batch {s.batch}",
            human_bytes(s.activation_bytes),
            f"(input + every conv/linear output) × batch {s.batch} × {s.bytes_per_value} bytes ({s.dtype}): what a "
            "training forward pass keeps for the backward pass. Details in the Activation memory tab.",
        ),
    ]


def _growth_applied(rule, family: str) -> str:
    """What the rule's growth is for a family that lacks an axis (MobileNet: no depth): the applied axes' product."""
    missing = [a for a in ("depth", "width", "resolution") if a not in rule.axes]
    if not missing:
        return ""
    value = phi_multipliers(1.0, rule.alpha, rule.beta, rule.gamma, rule.axes).law()  # d·w²·r² at φ = 1
    symbols = {"depth": "α", "width": "β²", "resolution": "γ²"}
    text = "·".join(symbols[a] for a in ("depth", "width", "resolution") if a in rule.axes) or "1"
    return (
        f" {family} has no {' or '.join(missing)} multiplier, so its cost grows by {text} = {value:.3f} per unit "
        "of φ instead."
    )


def rule_metrics(s: Scaled) -> list[Metric]:
    """The six numbers of the rule: d, w and r applied, alpha * beta^2 * gamma^2, the predicted and the exact cost
    ratio (with how far apart they are)."""
    rule, m, res = s.rule, s.m, s.resolution
    family = FAMILIES[s.info.family].label
    bases = {"depth": ("d", "α", rule.alpha), "width": ("w", "β", rule.beta), "resolution": ("r", "γ", rule.gamma)}
    out = []
    for axis, (sym, base_sym, base_val) in bases.items():
        applied = axis in rule.axes
        out.append(
            Metric(
                f"{sym} = {base_sym}^φ" if rule.by_phi else f"{sym} ({axis})",
                f"{m.of(axis):.3f}" if applied else "—",
                (f"{base_sym}^φ = {base_val:g}^{rule.phi:g}" if rule.by_phi else f"the {axis} multiplier you set")
                + ("" if applied else f" (not applied: {family} has no {axis} multiplier)"),
                f"{res} px" if axis == "resolution" and applied else None,
            )
        )
    compound = compound_law(rule.phi, rule.alpha, rule.beta, rule.gamma)
    predicted, exact = s.predicted, s.exact
    return [
        *out,
        Metric(
            "α·β²·γ²",
            f"{rule.growth:.3f}",
            "The cost growth per unit of φ the rule promises; the paper picks α, β, γ so that it is about 2."
            + _growth_applied(rule, family),
        ),
        Metric(
            "predicted cost ×",
            f"{predicted:.3f}",
            "d·w²·r² of the multipliers applied"
            + (f"; with all three it is (α·β²·γ²)^φ = {compound:.3f}" if rule.by_phi else "")
            + ". The rule ignores rounding.",
        ),
        Metric(
            "exact cost ×",
            f"{exact:.3f}",
            f"{s.counting.name} ({s.counting.contents}) of the rounded network ÷ the preset's: widths rounded to "
            "multiples of 8, depths rounded up, resolution to whole pixels. Below: how far that is from the predicted "
            "ratio.",
            f"{exact / predicted - 1:+.1%} off" if predicted else None,
        ),
    ]


def scaled_caption(s: Scaled) -> str:
    """'Counted in MACs (...), per image. Scaled network: width_mult = 1.1, ..., 258×258 input.'"""
    applied = ", ".join(f"{AXIS_FIELD[a]} = {getattr(s.spec, AXIS_FIELD[a])}" for a in s.rule.axes if a != "resolution")
    res = s.resolution
    mobilenet = ""
    if is_mobilenet(s.info.family):
        mobilenet = (  # MobileNet's own letters: its α is a width multiplier, not the compound rule's depth α
            f"; in MobileNet's terms, width multiplier α = {s.spec.width_mult:g} and resolution multiplier "  # type: ignore[attr-defined]
            f"ρ = {res}/224 = {res / 224:.3f} (not the compound rule's α, β, γ)"
        )
    return (
        f"Counted in **{s.counting.name}** ({s.counting.contents}), per image. Scaled network: "
        f"{applied + ', ' if applied else ''}{res}×{res} input{mobilenet}."
    )


def rounding_note(s: Scaled) -> str | None:
    """Why the exact cost is far from d * w^2 * r^2 (:func:`effnets.analysis.scaling.rounding_effects`) as a short
    list: the first stages by name, the others counted; None when the law is close."""
    lines = rounding_effects(s.base_cost, s.cost, s.m, s.counting.unit)
    if not lines:
        return None
    rest = len(lines) - SHOWN_STAGES
    return (
        lines[0]
        + "\n\n"
        + "\n".join(f"- {line}" for line in lines[1:SHOWN_STAGES])
        + (f"\n- and {rest} more stages (see the stage table)" if rest > 0 else "")
    )


def law_caption(s: Scaled, released: bool) -> str:
    """The caption under the law-vs-exact figure (``released``: the released B0-B7 are drawn too)."""
    return (
        f"Blue: {s.info.label} compound-scaled with your α, β, γ for φ from -3 to 7; each point is the exact cost "
        "ratio of the rounded network against d·w²·r². On the dotted diagonal the law is exact; above it the rounded "
        "network costs more than predicted, below it less."
        + (" Orange: the released B0-B7, each against B0 with its own released w, d, r." if released else "")
    )


def map_groups(family: str) -> dict[str, tuple[str, ...]]:
    """The presets of the params-vs-MACs map: EfficientNet B0-B7 and Lite0-4, and the viewer's family when it is
    another one."""
    groups = {
        "EfficientNet B0-B7": tuple(b_series_names()),
        "EfficientNet-Lite0-4": tuple(family_models("efficientnet_lite")),
    }
    if family not in ("efficientnet", "efficientnet_lite"):
        groups[FAMILIES[family].label] = tuple(family_models(family))
    return groups


def published_rows(points: Sequence[Mapping[str, Any]], counting: units.Counting) -> list[dict]:
    """:func:`effnets.analysis.scaling.published_points` as the page's table: each top-1 beside our exact count (in
    the viewer's unit) and the figures the source gives."""
    return [
        {
            "network": p["label"],
            "top-1 %": p["top1"],
            "resolution": p["resolution"],
            f"{counting.name} (exact)": counting.scale(p["macs"]),
            "published MACs": human(p["published_macs"]) if p["published_macs"] else "",
            "published params": human(p["published_params"]) if p["published_params"] else "",
            "source": p["source"],
        }
        for p in points
    ]


def activation_caption(s: Scaled) -> str:
    """The caption under the activation-memory figure, with the total."""
    return (
        f"Values written by the conv and linear layers of each stage row (plus the input image) × batch {s.batch} × "
        f"{s.bytes_per_value} bytes: {human_bytes(s.activation_bytes)} in all. A training forward pass keeps about "
        "this much for the backward pass (batch norm and activation outputs add more); inference needs only the "
        "largest few tensors at a time. Memory grows with r² and linearly with N, which is why large EfficientNets "
        "train with small batches."
    )


def released_intro(rule: Rule) -> str:
    """The sentence above the released-against-compound table, with the viewer's bases."""
    return (
        f"The released EfficientNet-B1…B7 are **not** B0 scaled by α^φ, β^φ, γ^φ with φ = 1…7 (here α = "
        f"{rule.alpha:g}, β = {rule.beta:g}, γ = {rule.gamma:g}). Released against compound, with the exact cost of "
        "both networks:"
    )


@dataclass(frozen=True)
class Question:
    """A 'predict, then reveal' question: the text, the live answer, a hint and the explanation after the reveal."""

    question: str
    answer: int
    hint: str
    explain: str


def phi_one_question(s: Scaled) -> Question:
    """How many MACs the preset has at phi = 1 with the viewer's bases (the real, rounded network).

    Raises:
        ValueError: the preset cannot be scaled to phi = 1 (the message names the field).
    """
    rule, info, base, base_cost = s.rule, s.info, s.base, s.base_cost
    q_m = phi_multipliers(1.0, rule.alpha, rule.beta, rule.gamma, rule.axes)
    q_spec = scale_spec(info, base, q_m)
    q_cost = info.cost(q_spec, record_steps=False)
    q_pred = q_m.law()
    return Question(
        f"{info.label} has {human(base_cost.macs)} MACs (conv + linear). Scale it with φ = 1 (α = {rule.alpha:g}, "
        f"β = {rule.beta:g}, γ = {rule.gamma:g}): how many MACs does the real, rounded network have?",
        q_cost.macs,
        f"The rule predicts d·w²·r² = {q_pred:.2f} × the preset. Rounding can move the real number.",
        f"Predicted {q_pred:.2f}× = {human(base_cost.macs * q_pred)}; exact {q_cost.macs / base_cost.macs:.2f}×. "
        f"Blocks per stage {[r.repeats for r in base_cost.stages]} → {[r.repeats for r in q_cost.stages]}, channels "
        f"{[r.channels for r in base_cost.stages]} → {[r.channels for r in q_cost.stages]}, resolution "
        f"{base.resolution} → {q_spec.resolution}.",  # type: ignore[attr-defined]
    )
