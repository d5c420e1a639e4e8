"""Scaling rules against their second implementations (torchvision) and the papers' own numbers."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st
from torchvision.models._utils import _make_divisible
from torchvision.models.efficientnet import MBConvConfig, _MBConvConfig
from torchvision.models.regnet import BlockParams

from effnets.models import MODELS
from effnets.models.regnet import X_PRESETS, Y_PRESETS, stage_widths
from effnets.models.scaling import (
    adjust_widths_groups,
    compound_coefficients,
    compound_scaling,
    mobilenet_v1_channels,
    mobilenet_v2_channels,
    regnet_widths,
    resolution_for_rho,
    round_filters,
    round_repeats,
)

widths = st.sampled_from([16, 24, 32, 40, 80, 112, 192, 320, 1280])
mults = st.floats(0.05, 4.0, allow_nan=False).map(lambda v: round(v, 2))


@given(c=widths, w=mults)
def test_round_filters_is_torchvisions_adjust_channels(c, w):
    assert round_filters(c, w) == _MBConvConfig.adjust_channels(c, w) == _make_divisible(c * w, 8)


@given(n=st.integers(1, 6), d=mults)
def test_round_repeats_is_torchvisions_adjust_depth(n, d):
    assert round_repeats(n, d) == MBConvConfig.adjust_depth(n, d) == math.ceil(n * d)


def test_round_filters_never_loses_more_than_ten_percent():
    for c in range(8, 2000, 7):
        for w in (0.25, 0.5, 0.75, 1.1, 1.4, 1.8):
            r = round_filters(c, w)
            assert r % 8 == 0 and r >= 8
            assert r >= 0.9 * c * w


def test_efficientnet_b1_stage_one_gets_two_blocks():
    # The classic surprise of depth rounding: ceil(1 x 1.1) = 2.
    assert round_repeats(1, 1.1) == 2
    assert [r.repeats for r in MODELS["efficientnet_b1"].cost(MODELS["efficientnet_b1"].make_spec()).stages][1] == 2


def test_compound_coefficients():
    assert compound_coefficients(0) == (1.0, 1.0, 1.0)
    d, w, r = compound_coefficients(1)
    assert (d, w, r) == pytest.approx((1.2, 1.1, 1.15))
    assert d * w**2 * r**2 == pytest.approx(1.92, abs=0.01)  # "approximately 2"
    d, w, r = compound_coefficients(-1)
    assert d < 1 and w < 1 and r < 1
    s = compound_scaling(2)
    assert s["resolution"] == round(224 * 1.15**2)
    assert s["cost_ratio"] == pytest.approx(1.92**2, rel=1e-3)
    with pytest.raises(ValueError, match="alpha=0 must be positive"):
        compound_coefficients(1, alpha=0)


def test_mobilenet_rules():
    assert mobilenet_v1_channels(32, 0.25) == 8
    assert mobilenet_v1_channels(1024, 0.75) == 768
    assert mobilenet_v1_channels(16, 0.25) == 8  # min depth 8
    for c in (16, 24, 32, 64, 96, 160, 320):
        for a in (0.35, 0.5, 0.75, 1.0, 1.3, 1.4):
            assert mobilenet_v2_channels(c, a) == _make_divisible(c * a, 8)
    assert [resolution_for_rho(r) for r in (1, 6 / 7, 5 / 7, 4 / 7)] == [224, 192, 160, 128]
    with pytest.raises(ValueError, match="rho=0 must be positive"):
        resolution_for_rho(0)


regnet_params = st.tuples(
    st.integers(1, 32),
    st.integers(1, 32).map(lambda k: 8 * k),
    st.floats(0, 200, allow_nan=False).map(lambda v: round(v, 2)),
    st.floats(1.05, 3.5, allow_nan=False).map(lambda v: round(v, 2)),
    st.sampled_from([1, 2, 4, 8, 16, 24, 32, 48, 64]),
    st.sampled_from([0.25, 0.5, 1.0, 2.0, 4.0]),
)


@given(p=regnet_params)
def test_regnet_torchvision_rounding_is_torchvisions_block_params(p):
    d, w0, wa, wm, g, b = p
    ours = regnet_widths(d, w0, wa, wm, rounding="torchvision")
    ws, gs = adjust_widths_groups(ours.stage_widths, b, g, "torchvision")
    tv = BlockParams.from_init_params(d, w0, wa, wm, g, b)
    assert (ws, list(ours.stage_depths), gs) == (tv.widths, tv.depths, tv.group_widths)


@given(p=regnet_params)
def test_regnet_generator_structure(p):
    d, w0, wa, wm, _, _ = p
    r = regnet_widths(d, w0, wa, wm)
    assert len(r.continuous) == len(r.quantized) == d == sum(r.stage_depths)
    assert all(w % 8 == 0 for w in r.quantized)
    assert list(r.quantized) == sorted(r.quantized)  # widths never shrink
    assert len(set(r.stage_widths)) == len(r.stage_widths)
    assert r.continuous[0] == w0 and r.exponents[0] == 0


def test_regnet_roundings_differ_only_where_documented():
    # Among torchvision's builders: X-400MF, Y-800MF, Y-8.0GF (the reference's list); torchvision has no 4.0GF
    # builders, where the roundings differ too (pycls's published 22.1M / 20.6M match only pycls's rounding).
    differ = set()
    for kind, presets in (("x", X_PRESETS), ("y", Y_PRESETS)):
        for key in presets:
            info = MODELS[f"regnet{kind}_{key}"]
            a = stage_widths(info.make_spec())
            b = stage_widths(info.make_spec(rounding="torchvision"))
            if a != b:
                differ.add(f"regnet{kind}_{key}")
    assert differ == {"regnetx_400mf", "regnety_800mf", "regnety_8_0gf", "regnetx_4_0gf", "regnety_4_0gf"}
    pycls, _, _ = stage_widths(MODELS["regnetx_400mf"].make_spec())
    tv, _, _ = stage_widths(MODELS["regnetx_400mf"].make_spec(rounding="torchvision"))
    assert (pycls[-1], tv[-1]) == (384, 400)


def test_adjust_widths_groups_rounding_rules():
    # pycls: Python round(), half to even (20 / 8 = 2.5 -> 2); torchvision: half up (-> 3).
    assert adjust_widths_groups([20], 1.0, 8, "pycls") == ([16], [8])
    assert adjust_widths_groups([20], 1.0, 8, "torchvision") == ([24], [8])
    # The group width never exceeds the bottleneck width.
    assert adjust_widths_groups([24], 1.0, 64, "pycls") == ([24], [24])
    # b > 1 in pycls: the bottleneck is a multiple of lcm(g, b).
    ws, gs = adjust_widths_groups([100], 2.0, 3, "pycls")
    assert (ws[0] * 2) % math.lcm(3, 2) == 0
    with pytest.raises(ValueError, match="rounding='numpy' is not allowed"):
        adjust_widths_groups([32], 1.0, 8, "numpy")
    with pytest.raises(ValueError, match="pycls allows ratios below 1 or whole numbers"):
        adjust_widths_groups([32], 1.5, 8, "pycls")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((0, 24, 36.0, 2.5), "depth=0 must be at least 1"),
        ((13, 20, 36.0, 2.5), "w0=20 must be a positive multiple of q=8"),
        ((13, 24, -1.0, 2.5), "wa=-1.0 must be at least 0"),
        ((13, 24, 36.0, 1.0), "wm=1.0 must be above 1"),
    ],
)
def test_regnet_generator_rejects_its_domain(args, message):
    with pytest.raises(ValueError, match=message):
        regnet_widths(*args)
