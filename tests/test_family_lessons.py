"""The Scaling Lab's family lessons: EfficientNetV2's S/M/L tables and progressive learning, width multipliers,
DenseNet's growth rate and compression, each count checked against a second implementation (torchvision's
builders, FlopCounterMode)."""

from __future__ import annotations

import pytest
import torchvision
from torchvision.models.efficientnet import FusedMBConv as TvFused
from torchvision.models.efficientnet import MBConv as TvMBConv

from effnets import counting
from effnets.analysis import family_lessons as fl
from effnets.figures.scaling import progressive_figure
from effnets.models import MODELS


@pytest.mark.parametrize("variant", ["s", "m", "l"])
def test_v2_stage_rows_count_torchvisions_blocks(variant):
    tv = counting.build_on_meta(lambda: torchvision.models.get_model(f"efficientnet_v2_{variant}", weights=None))
    blocks = sum(isinstance(m, TvFused | TvMBConv) for m in tv.modules())
    rows = fl.v2_stage_rows()
    assert sum(r[f"{variant.upper()} blocks"] for r in rows) == blocks
    fused = sum(isinstance(m, TvFused) for m in tv.modules())
    assert sum(r[f"{variant.upper()} blocks"] for r in rows if r["operator"].startswith("Fused")) == fused


def test_v2_scaling_is_not_one_depth_multiplier():
    ratios = {r["L / S blocks"] for r in fl.v2_stage_rows() if r["L / S blocks"] is not None}
    assert len(ratios) > 1
    lesson = fl.lesson_for("efficientnet_v2_s")
    assert f"{min(ratios):g}x to {max(ratios):g}x" in lesson.findings[0]


@pytest.mark.parametrize("variant", ["s", "m", "l"])
def test_progressive_schedule_rises_from_min_to_max(variant):
    rows = fl.progressive_schedule(variant)
    assert len(rows) == fl.PROGRESSIVE_STAGES
    for name, (lo, hi) in fl.PROGRESSIVE[variant].items():
        values = [r[name] for r in rows]
        assert values == sorted(values) and values[0] == lo and values[-1] == pytest.approx(hi)
    macs = [r["MACs per image"] for r in rows]
    assert macs == sorted(macs) and len(set(macs)) == len(macs)
    saving = fl.progressive_saving(variant)
    assert 0 < saving < 1 and saving == pytest.approx(sum(macs) / (len(macs) * macs[-1]))


def test_progressive_macs_are_torchvisions_at_that_size():
    row = fl.progressive_schedule("s")[1]
    tv = counting.build_on_meta(lambda: torchvision.models.get_model("efficientnet_v2_s", weights=None))
    size = row["image size"]
    assert row["MACs per image"] == counting.flop_counter_macs(tv, (3, size, size))


def test_progressive_figure_steps_per_stage():
    rows = fl.progressive_schedule("m")
    fig = progressive_figure(rows, "m")
    size = fig.data[0]
    assert list(size.y) == [r["image size"] for r in rows for _ in (0, 1)]
    assert size.x[0] == 0 and size.x[-1] == fl.EPOCHS
    assert [t.name for t in fig.data] == list(fl.PROGRESSIVE["m"])  # one panel per setting, on its own axis
    assert len({t.yaxis for t in fig.data}) == len(fig.data)
    for t in fig.data[1:]:
        lo, hi = fl.PROGRESSIVE["m"][t.name]
        assert t.y[0] == lo and t.y[-1] == pytest.approx(hi)


@pytest.mark.parametrize("alpha", [0.35, 0.75, 1.4])
def test_mnasnet_width_rows_are_torchvisions(alpha):
    row = next(r for r in fl.width_rows("mnasnet1_0") if r["alpha"] == alpha)
    tv = counting.build_on_meta(lambda: torchvision.models.MNASNet(alpha))
    assert row["params"] == counting.param_count(tv)
    assert row["MACs"] == counting.flop_counter_macs(tv, (3, 224, 224))


def test_width_lesson_says_what_scales():
    mnas = fl.lesson_for("mnasnet1_0")
    assert "1,280-channel last conv is kept at every width" in mnas.findings[0]
    v3 = fl.lesson_for("mobilenet_v3_large")
    assert "last conv scales too" in v3.findings[0]
    rows = fl.width_rows("mobilenet_v3_large")
    one = next(r for r in rows if r["alpha"] == 1.0)
    assert one["published top-1 (%)"] == MODELS["mobilenet_v3_large"].published_figures()[0].top1  # the authors'
    assert all(0 < r["head share of params"] < 1 for r in rows)
    shares = [r["head share of params"] for r in rows]
    assert shares == sorted(shares, reverse=True)  # the classifier's 1000 outputs weigh more in a thinner network


@pytest.mark.parametrize("k", fl.GROWTH_RATES)
def test_densenet_rows_are_torchvisions(k):
    row = next(r for r in fl.densenet_rows("densenet121") if r["growth rate k"] == k and r["compression theta"] == 0.5)
    from torchvision.models.densenet import DenseNet

    tv = counting.build_on_meta(lambda: DenseNet(growth_rate=k, block_config=(6, 12, 24, 16), num_init_features=2 * k))
    assert row["params"] == counting.param_count(tv)
    assert row["MACs"] == counting.flop_counter_macs(tv, (3, 224, 224))
    assert row["channels at the end"] == tv.features.norm5.num_features


def test_densenet_widths_follow_the_network_as_set():
    spec = MODELS["densenet121"].make_spec(growth_rate=12, compression=1.0)
    lesson = fl.lesson_for("densenet121", spec)
    widths = lesson.tables[1][1]
    assert [w["channels in"] for w in widths] == [24, 24 + 6 * 12, 24 + 18 * 12, 24 + 42 * 12]
    assert widths[-1]["after transition"] is None
    assert "1,920 channels at the end instead of 1,024" in lesson.findings[1]


def test_every_lesson_family_builds_a_lesson_and_others_have_none():
    for name, info in MODELS.items():
        lesson = fl.lesson_for(name) if fl.has_lesson(info.family) else None
        if fl.has_lesson(info.family):
            assert lesson.tables and all(rows for _, rows in lesson.tables) and lesson.findings
        else:
            assert fl.lesson_for(name) is None


def test_convnext_lesson_walks_from_torchvisions_resnet50_to_its_convnext_tiny():
    tv50 = counting.build_on_meta(lambda: torchvision.models.resnet50())
    tvt = counting.build_on_meta(lambda: torchvision.models.convnext_tiny())
    lesson = fl.lesson_for("convnext_small")
    rows = lesson.tables[0][1]
    assert rows[0]["params"] == counting.param_count(tv50) and rows[-1]["params"] == counting.param_count(tvt)
    assert rows[-1]["MACs"] == counting.flop_counter_macs(tvt, (3, 224, 224))
    assert all(r["Δ MACs"] == r["MACs"] - p["MACs"] for p, r in zip(rows, rows[1:], strict=False))
