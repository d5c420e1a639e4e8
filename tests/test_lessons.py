"""The lessons' statements about the software's numbers hold: each checked against effnets' own computation."""

from __future__ import annotations

import math

import effnets
from effnets.analysis import design_space
from effnets.models import MODELS, shufflenet_v1_widths
from effnets.models import scaling as model_scaling
from effnets.ui.lessons import LESSONS


def text(prefix: str) -> str:
    return " ".join(LESSONS[prefix].steps)


def test_block_lab_lesson_depthwise_separable_is_about_8x_cheaper():
    std = effnets.block_cost("standard", (32, 56, 56), out_channels=64)
    sep = effnets.block_cost("depthwise_separable", (32, 56, 56), out_channels=64)
    assert "about 8x fewer MACs at k = 3" in text("blocks")
    assert round(std.macs / sep.macs) == 8
    assert math.isclose(sep.macs / std.macs, 1 / 64 + 1 / 9, rel_tol=1e-9)


def test_scaling_lab_lesson_numbers():
    t = text("scaling")
    b0 = effnets.model_cost("efficientnet_b0")
    assert f"({b0.macs / 1e9:.2f}G)" in t
    assert f"α·β²·γ² ≈ {1.2 * 1.1**2 * 1.15**2:.2f}" in t
    info = MODELS["efficientnet_b0"]
    m = model_scaling.phi_multipliers(1.0, 1.2, 1.1, 1.15)
    phi1 = info.cost(model_scaling.scale_spec(info, info.make_spec(), m), record_steps=False)
    assert f"costs {phi1.macs / b0.macs:.2f} times more" in t
    assert math.ceil(1.2 * 1) == 2 and "ceil(1.2 × 1) = 2" in t


def test_design_space_lesson_numbers():
    t = text("design")
    sides = design_space.rounding_sides(MODELS["regnetx_400mf"].make_spec())
    last = {s.rounding: s.widths[-1] for s in sides}
    assert "round the last stage to 384 and 400 channels" in t and last == {"pycls": 384, "torchvision": 400}
    assert shufflenet_v1_widths(1)[1] == 144 and shufflenet_v1_widths(8)[1] == 384
    assert "stage 2: 144 channels at g = 1, 384 at g = 8" in t


def test_measuring_lessons_promise_no_result_before_the_measurement():
    """What a measurement will show is asked, not asserted: the page's computed sentence answers."""
    for prefix in ("zoo", "latency"):
        t = text(prefix)
        assert "several-fold" not in t and "is a different set of models" not in t
