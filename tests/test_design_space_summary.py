"""What the Design Space page says (effnets.analysis.design_space), each number checked against a second way of
computing it: the registry's cost, the RegNet generator itself, the samples' own quantiles."""

from __future__ import annotations

import statistics

import pytest

import effnets
from effnets import units
from effnets.analysis import design_space
from effnets.models import MODELS, family_models, sample_regnet_space, shufflenet_v1_groups_sweep
from effnets.models.regnet import stage_widths
from effnets.report import human


def test_generate_gives_the_registry_network_or_the_message():
    info = MODELS["regnetx_200mf"]
    g = design_space.generate(info, {**info.make_spec().to_dict(), "depth": 16})
    c = effnets.model_cost("regnetx_200mf", depth=16)
    assert g.error is None and (g.cost.params, g.cost.macs) == (c.params, c.macs) and g.spec.depth == 16
    bad = design_space.generate(info, {**info.make_spec().to_dict(), "wm": 1.0})
    assert bad.spec is None and bad.cost is None
    with pytest.raises(ValueError) as e:
        info.make_spec(wm=1.0)
    assert bad.error == str(e.value)


@pytest.mark.parametrize("name", ["regnetx_200mf", "regnety_800mf", "regnetx_3_2gf"])
def test_regnet_metrics_follow_the_generator(name):
    info = MODELS[name]
    spec = info.make_spec()
    cost = info.cost(spec, record_steps=False)
    counting = units.Counting("flops", ("bn",))
    params, count, blocks, widths = design_space.regnet_metrics(spec, cost, counting)
    built, depths, _ = stage_widths(spec)
    assert params.value == human(cost.params)
    assert count.label == "FLOPs per image" and count.value == human(2 * (cost.macs + cost.total.extra("bn")))
    assert blocks.value == f"{sum(depths)} / {len(built)}" and sum(depths) == spec.depth
    assert widths.value == f"{built[0]} → {built[-1]}" and widths.help.endswith(", ".join(map(str, built)) + ".")


def test_regnet_caption_quotes_the_settings():
    spec = MODELS["regnety_800mf"].make_spec()
    text = design_space.regnet_caption(spec)
    assert text.startswith(f"d = {spec.depth}, w0 = {spec.w0}, wa = {spec.wa:g}, wm = {spec.wm:g}")
    assert f"{spec.rounding} rounding" in text


def test_rounding_verdict_matches_the_two_networks():
    x400 = MODELS["regnetx_400mf"].make_spec()
    kind, text = design_space.rounding_verdict(design_space.rounding_sides(x400), x400.rounding)
    pycls, tv = stage_widths(x400.replace(rounding="pycls")), stage_widths(x400.replace(rounding="torchvision"))
    assert kind == "warning" and f"pycls {pycls[0]} vs torchvision {tv[0]} channels" in text
    same = MODELS["regnetx_200mf"].make_spec()
    assert design_space.rounding_verdict(design_space.rounding_sides(same), same.rounding)[0] == "success"
    one = MODELS["regnetx_200mf"].make_spec(rounding="torchvision", bottleneck_ratio=1.5, group_width=1)
    kind, text = design_space.rounding_verdict(design_space.rounding_sides(one), one.rounding)
    assert kind == "info" and text.startswith("Only torchvision rounding can build these settings: pycls cannot")


def test_differ_caption_names_every_preset_that_differs():
    names = design_space.presets_where_roundings_differ()
    text = design_space.differ_caption(names)
    assert all(MODELS[n].label in text for n in names)
    assert MODELS["regnetx_200mf"].label not in text  # its two roundings agree


def test_shufflenet_caption_quotes_the_sweep():
    sweep = shufflenet_v1_groups_sweep(224)
    text = design_space.shufflenet_caption(sweep, units.Counting("flops"))
    g1 = next(r for r in sweep if r["groups"] == 1)
    g8 = next(r for r in sweep if r["groups"] == 8)
    assert f"stage 2: {g1['widths'][1]} channels at g = 1, {g8['widths'][1]} at g = 8" in text
    assert "about the same FLOPs" in text


def test_sample_presets_and_se_ratio():
    with_se, without = design_space.sample_presets(True), design_space.sample_presets(False)
    assert set(with_se) | set(without) == set(family_models("regnet")) and not set(with_se) & set(without)
    assert all(MODELS[n].make_spec().se_ratio > 0 for n in with_se)
    assert all(MODELS[n].make_spec().se_ratio == 0 for n in without)
    assert design_space.sampled_se_ratio(True) == 0.25 and design_space.sampled_se_ratio(False) == 0.0


@pytest.mark.parametrize("n", [11, 20])
def test_sample_metrics_are_the_samples_medians(n):
    samples = sample_regnet_space(n, seed=3)
    summary = design_space.sample_summary(samples)
    networks, macs, params = design_space.sample_metrics(summary, units.Counting("flops"))
    assert networks.value == str(n)
    assert macs.label == "median FLOPs" and macs.value == human(2 * statistics.median(s["macs"] for s in samples))
    assert params.value == human(statistics.median(s["params"] for s in samples))
    assert design_space.sample_caption(n, 3).startswith(f"{n} networks at 224 px, seed 3.")


def test_the_rounding_verdict_never_quotes_two_equal_looking_param_counts_as_different():
    from effnets.analysis.design_space import RoundingSide

    def side(rounding, widths, params):
        return RoundingSide(rounding, widths, (1, 1), (8, 8), params, 1)

    for p0, p1 in ((303_123_456, 303_199_000), (303_123_456, 303_123_456), (3_000_000, 4_000_000)):
        kind, text = design_space.rounding_verdict(
            [side("pycls", (24, 56), p0), side("torchvision", (24, 64), p1)], "pycls"
        )
        assert kind == "warning"
        quoted = text[text.rindex("(") + 1 : text.rindex(")")]
        if p0 == p1:
            assert quoted == f"both {p0:,} params"
        else:
            a, b = quoted.removesuffix(" params").split(" vs ")
            assert a != b
