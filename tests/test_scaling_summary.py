"""What the Scaling Lab says (effnets.analysis.scaling_summary), each number checked against a second way of
computing it: the registry's own cost of the network written out by hand, the tables the page draws, the paper's
powers."""

from __future__ import annotations

import math
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

import effnets
from effnets import units
from effnets.analysis import scaling, scaling_summary
from effnets.models import FAMILIES, MODELS, family_models
from effnets.models import scaling as model_scaling
from effnets.report import human, human_bytes

B0 = MODELS["efficientnet_b0"]
MACS = units.Counting()


def rule(by_phi=True, phi=1.0, alpha=1.2, beta=1.1, gamma=1.15, axes=model_scaling.AXES, sliders=None):
    return scaling_summary.Rule(by_phi, phi, alpha, beta, gamma, tuple(axes), sliders or {})


def scaled(name="efficientnet_b0", r=None, counting=MACS, batch=1, dtype="float32", **values):
    info = MODELS[name]
    r = r or rule(axes=model_scaling.scalable_axes(info.spec))
    return scaling_summary.scale(info, values, r, counting, batch, dtype)


def by_label(metrics, start):
    return next(m for m in metrics if m.label.startswith(start))


def test_families_with_presets_are_the_registry_families_in_order():
    names = scaling_summary.families_with_presets()
    assert set(names) == {i.family for i in MODELS.values()}
    assert names == [f for f in FAMILIES if f in names]  # registry order
    assert all(family_models(f) for f in names)


@pytest.mark.parametrize("name", ["efficientnet_b3", "mobilenet_v1", "regnety_400mf", "shufflenet_v2_x1_0"])
def test_preset_fields_leave_out_what_the_multipliers_set(name):
    info = MODELS[name]
    skip = model_scaling.scaled_fields(info.spec)
    assert skip == tuple(model_scaling.AXIS_FIELD[a] for a in model_scaling.scalable_axes(info.spec))
    fields = scaling_summary.preset_fields(info)
    preset = info.make_spec().to_dict()
    assert fields == {k: v for k, v in preset.items() if k not in skip}
    assert "resolution" not in fields  # every family scales its resolution
    first = next(iter(fields))
    overridden = scaling_summary.preset_fields(info, {first: preset[first], "resolution": 999})
    assert overridden == fields  # a link's scaled field never reaches the widgets


def test_link_fields_warn_about_each_scaled_field():
    kept, warnings = scaling_summary.link_fields(B0, {"width_mult": 2.0, "dropout": 0.5, "resolution": 300})
    assert kept == {"dropout": 0.5}
    assert warnings == [
        f"ignored {k} in cfg from the link: the multiplier sliders set it" for k in ("resolution", "width_mult")
    ]
    assert scaling_summary.link_fields(MODELS["regnetx_200mf"], {"width_mult": 2.0}) == ({"width_mult": 2.0}, [])


@given(phi=st.floats(-4, 8), alpha=st.floats(0.5, 2.0), beta=st.floats(0.5, 2.0), gamma=st.floats(0.5, 2.0))
def test_slider_positions_are_the_powers_rounded_and_clamped(phi, alpha, beta, gamma):
    m = model_scaling.phi_multipliers(phi, alpha, beta, gamma)
    shown = scaling_summary.slider_positions(m, model_scaling.AXES)
    for axis, base in (("depth", alpha), ("width", beta), ("resolution", gamma)):
        lo, hi = model_scaling.AXIS_RANGE[axis]
        assert lo <= shown[axis] <= hi
        if lo <= base**phi <= hi:
            assert math.isclose(shown[axis], base**phi, abs_tol=0.005 + 1e-9)


def test_rule_multipliers_by_phi_and_by_hand():
    r = rule(phi=2.0, alpha=1.3)
    m = r.multipliers()
    assert (m.depth, m.width, m.resolution) == pytest.approx((1.3**2, 1.1**2, 1.15**2))
    assert r.growth == pytest.approx(model_scaling.compound_law(1.0, 1.3, 1.1, 1.15))
    by_hand = rule(by_phi=False, axes=("width", "resolution"), sliders={"width": 0.5, "depth": 3.0, "resolution": 0.7})
    assert by_hand.multipliers() == model_scaling.Multipliers(width=0.5, resolution=0.7)  # MobileNet has no depth


def test_headline_is_the_registry_cost_of_the_rounded_network():
    s = scaled(counting=units.Counting("flops", ("bn",)), batch=16, dtype="float16 / bfloat16")
    c = effnets.model_cost("efficientnet_b0", width_mult=1.1, depth_mult=1.2, resolution=258)
    b0 = effnets.model_cost("efficientnet_b0")
    h = scaling_summary.headline(s)
    assert [m.label for m in h] == ["Parameters", "FLOPs per image", "Input resolution", "Activation memory, batch 16"]
    assert h[0].value == human(c.params) and h[0].delta == f"{c.params / b0.params:.2f}× the preset"
    flops = 2 * (c.macs + c.total.extra("bn"))
    assert h[1].value == human(flops) and f"{flops:,} FLOPs: conv + linear + bn." in h[1].help
    assert h[1].delta == f"{flops / (2 * (b0.macs + b0.total.extra('bn'))):.2f}× the preset"
    assert h[2].value == "258×258" and h[2].help.endswith("the preset uses 224.")
    rows = scaling.activation_rows(c, 16, 2)
    assert h[3].value == human_bytes(sum(r["bytes at batch N"] for r in rows))
    assert "× batch 16 × 2 bytes (float16 / bfloat16)" in h[3].help


@pytest.mark.parametrize(("name", "batch", "dtype"), [("efficientnet_b0", 1, "float32"), ("regnetx_200mf", 7, "int8")])
def test_activation_bytes_are_the_sum_of_the_activation_table(name, batch, dtype):
    c = effnets.model_cost(name)
    per_value = scaling.DTYPE_BYTES[dtype]
    rows = scaling.activation_rows(c, batch, per_value)
    total = scaling.activation_bytes(c, batch, per_value)
    assert total == sum(r["bytes at batch N"] for r in rows)
    assert total == (sum(r.acts for r in c.stages) + 3 * 224 * 224) * batch * per_value


def test_rule_metrics_predicted_and_exact():
    s = scaled(r=rule(phi=1.0))
    c = effnets.model_cost("efficientnet_b0", width_mult=1.1, depth_mult=1.2, resolution=258)
    b0 = effnets.model_cost("efficientnet_b0")
    g = scaling_summary.rule_metrics(s)
    assert [m.label for m in g[:3]] == ["d = α^φ", "w = β^φ", "r = γ^φ"]
    assert [m.value for m in g[:3]] == ["1.200", "1.100", "1.150"] and g[2].delta == "258 px"
    assert by_label(g, "α·β²·γ²").value == f"{1.2 * 1.1**2 * 1.15**2:.3f}"
    predicted = 1.2 * 1.1**2 * 1.15**2  # d w^2 r^2 with all three axes = (alpha beta^2 gamma^2)^1
    assert by_label(g, "predicted").value == f"{predicted:.3f}"
    exact = c.macs / b0.macs
    assert (
        by_label(g, "exact").value == f"{exact:.3f}"
        and by_label(g, "exact").delta == f"{exact / predicted - 1:+.1%} off"
    )


def test_rule_metrics_name_the_axes_a_family_lacks():
    info = MODELS["mobilenet_v1"]
    r = rule(by_phi=False, axes=model_scaling.scalable_axes(info.spec), sliders={"width": 0.5, "resolution": 0.5})
    g = scaling_summary.rule_metrics(scaled("mobilenet_v1", r=r))
    depth = by_label(g, "d (depth)")
    assert depth.value == "—" and "(not applied: MobileNetV1 has no depth multiplier)" in depth.help
    assert by_label(g, "predicted").value == f"{0.5**2 * 0.5**2:.3f}"
    assert by_label(g, "α·β²·γ²").help.endswith(
        f"MobileNetV1 has no depth multiplier, so its cost grows by β²·γ² = {r.beta**2 * r.gamma**2:.3f} per unit "
        "of φ instead."
    )
    b0 = scaling_summary.rule_metrics(scaled("efficientnet_b0"))
    assert "instead" not in by_label(b0, "α·β²·γ²").help
    assert scaling_summary.missing_axes_note("mobilenet_v1", r.axes, False) == (
        "MobileNetV1 has no depth multiplier; its other settings are below."
    )
    assert scaling_summary.missing_axes_note("efficientnet", model_scaling.AXES, True) is None
    s = scaled("mobilenet_v1", r=r)
    caption = scaling_summary.scaled_caption(s)
    assert f"resolution multiplier ρ = {s.resolution}/224 = {s.resolution / 224:.3f}" in caption
    assert f"width multiplier α = {s.spec.width_mult:g}" in caption and "not the compound rule" in caption
    assert scaling_summary.axis_slider("mobilenet_v1", "width")[0] == "width multiplier w (× α)"
    assert scaling_summary.axis_slider("efficientnet", "width")[0] == "width multiplier w"


def test_rounding_note_lists_the_first_stages_and_counts_the_rest():
    assert scaling_summary.rounding_note(scaled(r=rule(phi=0.0))) is None  # the preset itself: the law is exact
    s = scaled(r=rule(phi=7.0))
    lines = scaling.rounding_effects(s.base_cost, s.cost, s.m, "macs")
    note = scaling_summary.rounding_note(s)
    assert note.startswith(lines[0] + "\n\n")
    bullets = [line[2:] for line in note.split("\n") if line.startswith("- ")]
    shown = scaling_summary.SHOWN_STAGES - 1
    assert bullets[:shown] == lines[1 : 1 + shown]
    if len(lines) > scaling_summary.SHOWN_STAGES:
        assert bullets[-1] == f"and {len(lines) - scaling_summary.SHOWN_STAGES} more stages (see the stage table)"
    else:
        assert len(bullets) == len(lines) - 1


@pytest.mark.parametrize("family", ["efficientnet", "efficientnet_lite", "regnet", "mobilenet_v2"])
def test_map_groups_show_the_b_series_lite_and_the_viewers_family(family):
    groups = scaling_summary.map_groups(family)
    assert groups["EfficientNet B0-B7"] == tuple(f"efficientnet_b{i}" for i in range(8))
    assert groups["EfficientNet-Lite0-4"] == tuple(family_models("efficientnet_lite"))
    if family.startswith("efficientnet"):
        assert len(groups) == 2
    else:
        assert groups[FAMILIES[family].label] == tuple(family_models(family))


def test_published_rows_count_in_the_viewers_unit():
    points = scaling.published_points()[:5]
    rows = scaling_summary.published_rows(points, units.Counting("flops"))
    assert [r["FLOPs (exact)"] for r in rows] == [2 * p["macs"] for p in points]
    assert [r["top-1 %"] for r in rows] == [p["top1"] for p in points]


def test_phi_one_question_is_answered_by_the_rounded_network():
    s = scaled(r=rule(phi=3.0, alpha=1.3))  # the question is always phi = 1, whatever the slider says
    q = scaling_summary.phi_one_question(s)
    phi1 = effnets.model_cost("efficientnet_b0", width_mult=1.1, depth_mult=1.3, resolution=258)
    assert q.answer == phi1.macs
    assert f"d·w²·r² = {1.3 * 1.1**2 * 1.15**2:.2f}" in q.hint
    blocks = re.search(r"Blocks per stage (\[.*?\]) → (\[.*?\])", q.explain)
    b0 = effnets.model_cost("efficientnet_b0")
    assert blocks.groups() == (str([r.repeats for r in b0.stages]), str([r.repeats for r in phi1.stages]))
    assert q.explain.endswith("resolution 224 → 258.")


def test_impossible_scaling_raises_with_the_field_named():
    with pytest.raises(ValueError, match="width_mult"):
        scaled("efficientnet_b7", r=rule(by_phi=False, sliders={"width": 3.0, "depth": 1.0, "resolution": 1.0}))
    s = scaled("efficientnet_b7", r=rule(phi=0.0, alpha=2.0, beta=2.0, gamma=2.0))
    with pytest.raises(ValueError):
        scaling_summary.phi_one_question(s)  # B7 x 2 in width is beyond the spec's range
