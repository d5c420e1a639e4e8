"""The Scaling Lab's and Design Space's data and figures (effnets.analysis.scaling), without streamlit."""

from __future__ import annotations

import math
import re

import plotly.graph_objects as go
import pytest
from hypothesis import given
from hypothesis import strategies as st

import effnets
from effnets import units
from effnets.analysis import design_space, scaling
from effnets.figures import design_space as design_space_figures
from effnets.figures import scaling as scaling_figures
from effnets.models import (
    FAMILIES,
    MODELS,
    family_models,
    mobilenet_grid,
    sample_regnet_space,
    shufflenet_v1_groups_sweep,
)
from effnets.models import scaling as model_scaling
from effnets.models.regnet import stage_widths
from effnets.models.scaling import regnet_widths

B0 = MODELS["efficientnet_b0"]


def b0_phi1_macs() -> int:
    """B0 at phi = 1 with the paper's bases: width 1.1, depth 1.2, resolution round(224 * 1.15) = 258."""
    return effnets.model_cost("efficientnet_b0", width_mult=1.1, depth_mult=1.2, resolution=258).macs


# ----- axes, multipliers, specs ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "family, axes",
    [
        ("efficientnet", ("width", "depth", "resolution")),
        ("efficientnet_lite", ("width", "depth", "resolution")),
        ("mobilenet_v1", ("width", "resolution")),
        ("mobilenet_v2", ("width", "resolution")),
        ("shufflenet_v2", ("resolution",)),  # four fixed channel tables, not a multiplier
        ("regnet", ("resolution",)),
        ("xception", ("resolution",)),
    ],
)
def test_scalable_axes_follow_the_spec_fields(family, axes):
    info = MODELS[family_models(family)[0]]
    assert model_scaling.scalable_axes(info.spec) == axes


def test_every_family_has_a_label_and_presets():
    families = {i.family for i in MODELS.values()}
    assert families <= set(FAMILIES)
    for f in families:
        assert family_models(f)
    with pytest.raises(ValueError, match="unknown family 'nope'"):
        family_models("nope")


def test_phi_multipliers_are_the_papers_powers_on_the_axes_a_family_has():
    m = model_scaling.phi_multipliers(1, 1.2, 1.1, 1.15)
    assert (m.depth, m.width, m.resolution) == pytest.approx((1.2, 1.1, 1.15))
    assert (
        m.law() == pytest.approx(model_scaling.compound_law(1, 1.2, 1.1, 1.15)) == pytest.approx(1.2 * 1.1**2 * 1.15**2)
    )
    neg = model_scaling.phi_multipliers(-2, 1.2, 1.1, 1.15)
    assert neg.depth == pytest.approx(1.2**-2) and neg.law() == pytest.approx(1.92027**-2, rel=1e-5)
    mb = model_scaling.phi_multipliers(2, 1.2, 1.1, 1.15, ("width", "resolution"))
    assert mb.depth == 1.0 and mb.width == pytest.approx(1.21)
    with pytest.raises(ValueError, match="alpha=0"):
        model_scaling.phi_multipliers(1, 0, 1.1, 1.15)


def test_scale_spec_multiplies_the_preset_and_rounds_the_resolution():
    b3 = MODELS["efficientnet_b3"]
    spec = model_scaling.scale_spec(b3, b3.make_spec(), model_scaling.Multipliers(width=1.5, depth=2.0, resolution=0.5))
    assert (spec.width_mult, spec.depth_mult, spec.resolution) == (1.8, 2.8, 150)
    assert (
        model_scaling.scale_spec(B0, B0.make_spec(), model_scaling.phi_multipliers(1, 1.2, 1.1, 1.15)).resolution == 258
    )
    regnet = MODELS["regnetx_200mf"]
    assert (
        model_scaling.scale_spec(
            regnet, regnet.make_spec(), model_scaling.Multipliers(width=3, resolution=2)
        ).resolution
        == 448
    )


def test_scale_spec_rejects_what_the_spec_rejects_with_the_field_named():
    b7 = MODELS["efficientnet_b7"]
    with pytest.raises(ValueError, match=r"width multiplier w \(width_mult\)=6.0 is above the maximum 4.0"):
        model_scaling.scale_spec(b7, b7.make_spec(), model_scaling.Multipliers(width=3.0))
    with pytest.raises(ValueError, match="resolution=22 is below the minimum 32"):
        model_scaling.scale_spec(B0, B0.make_spec(), model_scaling.Multipliers(resolution=0.1))


def test_preset_changes_and_spec_keys():
    info = MODELS["regnety_800mf"]
    spec = info.make_spec(depth=20, rounding="torchvision")
    assert model_scaling.preset_changes(info, spec) == {"depth": 20, "rounding": "torchvision"}
    assert model_scaling.preset_changes(info, spec.to_dict(), skip=("depth",)) == {"rounding": "torchvision"}
    assert model_scaling.spec_from_key("regnety_800mf", model_scaling.spec_key(spec)) == spec
    hash(model_scaling.spec_key(spec))


# ----- counting ---------------------------------------------------------------------------------------------------


def test_stage_rows_are_table_1_and_sum_to_the_totals():
    c = effnets.model_cost("efficientnet_b0")
    rows = scaling.stage_rows(c, "macs")
    assert [r["operator"] for r in rows][:3] == ["Conv3x3", "MBConv1, k3x3", "MBConv6, k3x3"]
    assert rows[0]["resolution"] == "224×224" and rows[3]["kernel"] == "5×5" and rows[2]["expand ratio"] == "6"
    assert sum(r["params"] for r in rows) == c.params
    assert sum(r["MACs (conv + linear)"] for r in rows) == c.macs
    flops = scaling.stage_rows(c, "flops", ["bn", "act"])
    label = "FLOPs (conv + linear + bn + act)"
    assert units.Counting("flops", ("bn", "act")).label == label
    assert sum(r[label] for r in flops) == 2 * (c.macs + c.total.extra("bn") + c.total.extra("act"))
    assert units.Counting("flops", ("act", "bn")).total(c) == sum(r[label] for r in flops)


def test_extras_note_lists_only_what_is_not_counted():
    c = effnets.model_cost("efficientnet_b0")
    note = scaling.extras_note(c, ["bn"], "macs")
    assert "bn" not in note.split(",")[0] and "act" in note and "elementwise" in note


@pytest.mark.parametrize("name", list(MODELS))
def test_sweep_cost_equals_the_registry_cost(name):
    info = MODELS[name]
    for fields in ({}, {"resolution": 160}):
        spec = info.make_spec(**fields)
        ref = info.cost(spec, record_steps=False)
        got = model_scaling.sweep_cost(info, spec)
        assert (got.params, got.macs, got.acts, got.extras, got.output_shape) == (
            ref.params,
            ref.macs,
            ref.acts,
            ref.total.extras,
            ref.output_shape,
        )


def test_sweep_cost_raises_like_the_registry():
    info = MODELS["regnetx_200mf"]
    with pytest.raises(ValueError, match="wm=1.0 must be above 1"):
        model_scaling.sweep_cost(info, info.make_spec(wm=1.0))


# ----- sweeps -----------------------------------------------------------------------------------------------------


def test_axis_sweeps_move_one_multiplier_and_anchor_the_law_at_the_preset():
    base = B0.make_spec()
    for axis in model_scaling.AXES:
        rows = model_scaling.axis_sweep(B0, base, axis, model_scaling.Multipliers())
        at_one = next(r for r in rows if r["multiplier"] == 1.0)
        assert at_one["macs"] == at_one["law"] == effnets.model_cost("efficientnet_b0").macs
        macs = [r["macs"] for r in rows]
        assert macs == sorted(macs), axis  # more of anything never costs less
        for r in rows:
            assert r["law"] == pytest.approx(at_one["macs"] * r["multiplier"] ** model_scaling.AXIS_EXPONENT[axis])
    res = model_scaling.axis_sweep(B0, base, "resolution", model_scaling.Multipliers())
    assert len({r["params"] for r in res}) == 1  # resolution never changes the parameters
    x2 = next(
        r
        for r in model_scaling.axis_sweep(B0, base, "width", model_scaling.Multipliers())
        if abs(r["multiplier"] - 2.0) < 0.11
    )
    assert x2["macs"] == effnets.model_cost("efficientnet_b0", width_mult=x2["multiplier"]).macs


def test_axis_sweep_leaves_out_settings_the_spec_rejects():
    rows = model_scaling.axis_sweep(B0, B0.make_spec(), "resolution", model_scaling.Multipliers())
    assert min(r["multiplier"] for r in rows) * 224 >= 32
    assert (
        model_scaling.axis_grid(B0, MODELS["efficientnet_b7"].make_spec(), "width")[-1] <= 2.0 + 1e-9
    )  # 2.0 x 2 = max 4


def test_phi_sweep_matches_the_exact_cost_of_each_phi():
    rows = model_scaling.phi_sweep(B0, B0.make_spec(), 1.2, 1.1, 1.15)
    by = {r["phi"]: r for r in rows}
    assert by[0]["exact"] == by[0]["law"] == 1.0
    b0 = effnets.model_cost("efficientnet_b0").macs
    assert by[1]["exact"] == pytest.approx(b0_phi1_macs() / b0)
    assert by[1]["exact"] == pytest.approx(2.573, abs=5e-4)  # ceil(1.2 x 1) = 2 blocks: above the 1.92 of the law
    assert by[1]["law"] == pytest.approx(1.92027, rel=1e-5)
    assert min(by) < 0 < max(by)


def test_released_table_gives_exact_costs_of_both_networks():
    rows = scaling.released_table()
    assert [r["model"] for r in rows] == scaling.b_series_names()
    b0 = effnets.model_cost("efficientnet_b0").macs
    for r in rows:
        assert r["macs_released"] == effnets.model_cost(r["model"]).macs
        assert r["released_ratio"] == pytest.approx(r["macs_released"] / b0)
    b1 = rows[1]
    assert b1["macs_compound"] == b0_phi1_macs() and b1["resolution_compound_px"] == 258
    assert rows[0]["cost_implied_phi"] == 0.0
    assert rows[7]["cost_implied_phi"] == pytest.approx(math.log(rows[7]["released_ratio"]) / math.log(1.92027), 1e-4)
    other = scaling.released_table(1.3, 1.1, 1.1)
    assert other[1]["depth_compound"] == pytest.approx(1.3)


def test_released_explanation_separates_documented_from_inferred_and_quotes_live_numbers():
    rows = scaling.released_table()
    known, inferred = scaling.released_explanation(rows)
    assert "390" in known and "738" in known and "efficientnet_builder.py" in known
    assert "multiples of 8" in known and "ceil" in known
    assert "inference" in inferred and "guess" in inferred
    assert f"{rows[7]['depth_compound']:.2f}" in inferred  # B7's 3.58, computed
    assert f"B7 {rows[7]['cost_implied_phi']:.1f}" in inferred
    display = scaling.released_display_rows(rows, "flops")
    assert display[1]["width: released / β^φ"] == "1.0 / 1.10"
    assert "FLOPs released" in display[0]


def test_released_points_for_the_law_figure():
    pts = scaling.released_points(scaling.released_table())
    assert pts[0] == {"label": "B0", "law": 1.0, "exact": 1.0}
    assert pts[7]["law"] == pytest.approx(3.1 * 2.0**2 * (600 / 224) ** 2)


def test_preset_and_published_points():
    pts = scaling.preset_points(scaling.b_series_names())
    assert [p["macs"] for p in pts] == [effnets.model_cost(n).macs for n in scaling.b_series_names()]
    pub = scaling.published_points()
    assert pub and all(p["source"] and p["top1"] for p in pub)
    b0 = next(p for p in pub if p["model"] == "efficientnet_b0" and not p["torchvision"])
    assert (b0["top1"], b0["published_macs"], b0["macs"]) == (77.1, 0.39e9, effnets.model_cost("efficientnet_b0").macs)
    assert any(p["torchvision"] for p in pub)


def test_activation_rows_count_the_input_and_every_stage():
    c = effnets.model_cost("efficientnet_b0")
    rows = scaling.activation_rows(c, 8, 2)
    assert rows[0]["values per image"] == 3 * 224 * 224
    assert sum(r["values per image"] for r in rows) == c.acts + 3 * 224 * 224
    assert rows[3]["bytes at batch N"] == rows[3]["values per image"] * 8 * 2


# ----- Design Space -----------------------------------------------------------------------------------------------


def test_regnet_block_rows_follow_the_generator():
    spec = MODELS["regnetx_400mf"].make_spec()
    rows = design_space.regnet_block_rows(spec)
    gen = regnet_widths(spec.depth, spec.w0, spec.wa, spec.wm)
    assert len(rows) == spec.depth
    assert [r["quantized w_j"] for r in rows] == list(gen.quantized)
    assert [r["continuous u_j"] for r in rows] == [round(u, 2) for u in gen.continuous]
    widths, depths, _ = stage_widths(spec)
    assert sorted({(r["stage"], r["final width"]) for r in rows}) == [(i + 2, w) for i, w in enumerate(widths)]
    assert [sum(1 for r in rows if r["stage"] == i + 2) for i in range(len(depths))] == depths


def test_both_roundings_side_by_side():
    sides = design_space.rounding_sides(MODELS["regnetx_400mf"].make_spec())
    assert [s.rounding for s in sides] == ["pycls", "torchvision"]
    assert sides[0].widths[-1] == 384 and sides[1].widths[-1] == 400
    assert sides[1].macs == effnets.model_cost("regnetx_400mf", rounding="torchvision").macs
    table = design_space.rounding_table(sides, "macs")
    assert table[-2]["differs"] == "yes" and table[0]["differs"] == ""
    assert table[-1]["stage"] == "total"
    same = design_space.rounding_sides(MODELS["regnetx_200mf"].make_spec())
    assert same[0].widths == same[1].widths
    assert design_space.presets_where_roundings_differ() == [
        "regnetx_400mf",
        "regnetx_4_0gf",
        "regnety_800mf",
        "regnety_4_0gf",
        "regnety_8_0gf",
    ]


def test_rounding_sides_skip_a_rounding_that_rejects_the_settings():
    spec = MODELS["regnetx_200mf"].make_spec(rounding="torchvision", bottleneck_ratio=1.5, group_width=1)
    assert [s.rounding for s in design_space.rounding_sides(spec)] == ["torchvision"]  # pycls: b must be < 1 or whole
    bad_tv = MODELS["regnetx_200mf"].make_spec(rounding="torchvision", bottleneck_ratio=1.5)
    assert design_space.rounding_sides(bad_tv) == []  # neither builds it: the page shows the generator's own error


def test_mobilenet_heatmaps_show_params_constant_along_resolution():
    grid = mobilenet_grid((1.0, 0.5), (224, 160))
    fig = scaling_figures.mobilenet_heatmaps(grid, "macs", "MobileNetV1")
    params, macs = fig.data[0].z, fig.data[1].z
    assert all(len(set(row)) == 1 for row in params)
    assert macs[-1][-1] == effnets.model_cost("mobilenet_v1").macs  # alpha 1 (top row), 224 (right)
    flops = scaling_figures.mobilenet_heatmaps(grid, "flops", "MobileNetV1")
    assert flops.data[1].z[-1][-1] == 2 * macs[-1][-1] and "FLOPs" in flops.layout.annotations[1].text


def test_shufflenet_rows_compare_table_1_under_its_own_rule():
    sweep = shufflenet_v1_groups_sweep()
    published = {}
    for r in MODELS["shufflenet_v1"].compare_published():
        if r["quantity"] == "macs" and "Table 1" in r["source"]:
            published[int(r["fields"].get("groups", 3))] = r
    rows = scaling.shufflenet_rows(sweep, published)
    assert [r["groups g"] for r in rows] == [1, 2, 3, 4, 8]
    assert rows[0]["stage widths (2, 3, 4)"] == "144 / 288 / 576"
    assert rows[-1]["stage widths (2, 3, 4)"] == "384 / 768 / 1536"
    for r in rows:
        assert r["published MACs (no FC)"] and "Table 1" in r["source"]
        assert r["MACs without the FC (ours)"] < r["MACs (conv + linear)"]
    fig = scaling_figures.shufflenet_figure(sweep, "macs")
    assert len(fig.data) == 5


def test_sample_summary_and_figures():
    samples = sample_regnet_space(40, seed=1)
    summ = design_space.sample_summary(samples)
    macs = sorted(s["macs"] for s in samples)
    assert summ.n == 40 and macs[0] <= summ.macs_p10 <= summ.macs_median <= summ.macs_p90 <= macs[-1]
    presets = scaling.preset_points([n for n in MODELS if n.startswith("regnetx")])
    dist, scat = design_space_figures.sample_figures(samples, presets, "flops")
    assert sum(dist.data[0].y) == 40
    bars = dist.data[0]  # each bar spans its bin exactly: plotly draws x +- width/2, then maps it to the log axis
    left = [x - w / 2 for x, w in zip(bars.x, bars.width, strict=True)]
    right = [x + w / 2 for x, w in zip(bars.x, bars.width, strict=True)]
    assert all(math.isclose(r, nxt, rel_tol=1e-9) for r, nxt in zip(right[:-1], left[1:], strict=True))
    ratios = [r / lf for lf, r in zip(left, right, strict=True)]
    assert max(ratios) == pytest.approx(min(ratios), rel=1e-9)  # equally wide on the log axis
    assert list(scat.data[0].x) == [2 * s["macs"] for s in samples]
    assert "FLOPs" in scat.layout.xaxis.title.text
    table = design_space.sample_table(samples, "macs")
    assert table[0]["MACs (conv + linear)"] == samples[0]["macs"]


def test_published_comparison_rows():
    rows = scaling.published_comparison_rows(MODELS["mobilenet_v1"].compare_published())
    assert rows[0]["setting"] == "224 px" and rows[0]["quantity"] == "learnable params"
    assert any(r["agrees within rounding"] == "no (documented)" for r in rows)  # Table 7 at 160 px


# ----- figures ------------------------------------------------------------------------------------------------------


def test_scaling_figures_say_what_they_count():
    base = B0.make_spec()
    m = model_scaling.Multipliers(1.1, 1.2, 1.15)
    sweeps = {a: model_scaling.axis_sweep(B0, base, a, model_scaling.Multipliers()) for a in model_scaling.AXES}
    figs = {
        "multipliers": scaling_figures.multiplier_figure(sweeps, m, "flops"),
        "law": scaling_figures.law_figure(
            model_scaling.phi_sweep(B0, base, 1.2, 1.1, 1.15), {"law": 1.92, "exact": 2.57}, None
        ),
        "map": scaling_figures.params_macs_figure(
            {"B": scaling.preset_points(scaling.b_series_names())}, {"params": 9e6, "macs": 9.9e8}, "flops"
        ),
        "published": scaling_figures.published_figure(scaling.published_points(), 9.9e8, "flops"),
        "acts": scaling_figures.activation_figure(
            scaling.activation_rows(effnets.model_cost("efficientnet_b0"), 4, 4), 4, "float32"
        ),
    }
    for fig in figs.values():
        assert isinstance(fig, go.Figure) and fig.data
    assert "FLOPs" in figs["multipliers"].layout.yaxis.title.text
    assert len(figs["multipliers"].layout.shapes) == 3  # your w, d and r
    assert "FLOPs" in figs["map"].layout.xaxis.title.text and "parameters" in figs["map"].layout.yaxis.title.text
    assert figs["map"].data[-1].x[0] == 2 * 9.9e8
    assert "top-1" in figs["published"].layout.yaxis.title.text
    assert any("source" in t.hovertemplate for t in figs["published"].data)
    assert "MiB at batch 4" in figs["acts"].layout.yaxis.title.text
    assert figs["law"].layout.xaxis.type == "log"


def _effects(phi, alpha=1.2, beta=1.1, gamma=1.15, name="efficientnet_b0"):
    info = MODELS[name]
    base = info.make_spec()
    m = model_scaling.phi_multipliers(phi, alpha, beta, gamma, model_scaling.scalable_axes(info.spec))
    b, c = info.cost(base, record_steps=False), info.cost(model_scaling.scale_spec(info, base, m), record_steps=False)
    return b, c, m, scaling.rounding_effects(b, c, m)


def test_rounding_jump_at_phi_0_1_is_explained_at_that_spot():
    b, c, m, lines = _effects(0.1)
    assert "+62.7% off" in lines[0]
    assert any(line.startswith("stage 8 (MBConv6, k3x3): 1 → 2 layers") for line in lines)


@given(
    phi=st.sampled_from([-2.0, -0.5, 0.1, 0.3, 1.0, 2.0, 4.5]),
    alpha=st.sampled_from([1.0, 1.2, 1.4]),
    beta=st.sampled_from([1.0, 1.1, 1.3]),
    gamma=st.sampled_from([1.0, 1.15, 1.3]),
)
def test_rounding_sentences_name_the_stages_that_changed(phi, alpha, beta, gamma):
    """Every stage a sentence names did change as it says; a cost near the law gets no sentence."""
    b, c, m, lines = _effects(phi, alpha, beta, gamma)
    off = c.macs / (b.macs * m.law()) - 1
    if abs(off) <= scaling.FAR_FROM_THE_LAW:
        assert lines == []
        return
    if not lines:  # far off, but no stage's layers or channels changed: nothing to blame on rounding
        assert all(x.repeats == y.repeats for x, y in zip(b.stages, c.stages, strict=True))
        return
    assert f"{off:+.1%} off" in lines[0]
    for line in lines[1:]:
        stage = int(re.match(r"stage (\d+) ", line).group(1))
        x, y = b.stages[stage - 1], c.stages[stage - 1]
        if mm := re.search(r"(\d+) → (\d+) layers", line):
            assert (int(mm.group(1)), int(mm.group(2))) == (x.repeats, y.repeats)
        if mm := re.search(r"(\d+) → (\d+) channels", line):
            assert (int(mm.group(1)), int(mm.group(2))) == (x.channels, y.channels)


@given(
    alpha=st.sampled_from([1.1, 1.2, 1.3, 1.5]),
    beta=st.sampled_from([1.05, 1.1, 1.2]),
    gamma=st.sampled_from([1.1, 1.15, 1.2, 1.3]),
)
def test_the_cost_ladder_sentence_says_what_the_table_shows(alpha, beta, gamma):
    """Every model the sentence names as less / more than the rule, or near its phi, is so in the table."""
    rows = scaling.released_table(alpha, beta, gamma)
    text = scaling.cost_ladder(rows)
    by = {f"B{r['phi']}": r for r in rows}
    near = re.match(r"([B\d, ]+) lands? within half a step", text)
    for m in [m.strip() for m in near.group(1).split(",")] if near else []:
        assert abs(by[m]["cost_implied_phi"] - by[m]["phi"]) < 0.5
    for axis, symbol in (("depth", "α^φ"), ("width", "β^φ"), ("resolution", "224·γ^φ")):
        clause = re.search(
            rf"{axis} is (less than {re.escape(symbol)} in ([B\d, ]+)(?:\([^)]*\))?)?( and )?(more in ([B\d, ]+))?",
            text,
        )
        less = [m.strip() for m in clause.group(2).split(",")] if clause.group(2) else []
        more = [m.strip() for m in clause.group(5).split(",")] if clause.group(5) else []
        for m in less:
            assert by[m][f"{axis}_released"] < by[m][f"{axis}_compound"]
        for m in more:
            assert by[m][f"{axis}_released"] > by[m][f"{axis}_compound"]
    assert "land near φ = 5, 6, 7" not in text  # the fixed sentence this replaced


def test_b5_width_is_not_called_more_than_beta_to_the_fifth():
    text = scaling.cost_ladder(scaling.released_table())
    assert re.search(r"width is less than β\^φ in [B\d, ]*B5\b", text)  # 1.6 against 1.1^5 = 1.611


@pytest.mark.parametrize("name", ["mobilenet_v2", "mobilenet_v3_large", "ghostnet_100", "efficientnet_b0"])
@pytest.mark.parametrize("phi", [-2.0, 0.1, 1.0, 2.0])
def test_the_rounding_note_accounts_for_the_gap_or_names_the_feature_map_sides(name, phi):
    """The stages the note lists add up to the share it states (their excesses, recomputed here from the stage
    costs); when that share is far from all of it, the note names the rounded feature-map sides as the rest."""
    b, c, m, lines = _effects(phi, name=name)
    if not lines:
        return
    gap = c.macs - b.macs * m.law()
    listed = {int(re.match(r"stage (\d+) ", line).group(1)) for line in lines[1:]}
    excess = sum(s.macs - x.macs * m.law() for x, s in zip(b.stages, c.stages, strict=True) if s.stage in listed)
    share = int(re.search(r"add up to (-?\d+)% of that difference", lines[0]).group(1))
    assert share == round(100 * excess / gap)
    if abs(share) < 90:
        sides = re.search(r"which every stride rounds \(([\d → ]+) against", lines[0]).group(1)
        assert [int(v) for v in sides.split(" → ")][0] == c.input_shape[1]
