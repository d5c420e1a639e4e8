"""MobileNetV3 and MnasNet: the block against torchvision's InvertedResidual, the networks computing torchvision's
function (weights copied in order), the width multiplier against torchvision's own builders, the paper's table as
stage rows, the figures the notes quote (checked here, not trusted), and one Model Zoo row per name."""

from __future__ import annotations

from functools import partial

import pytest
import torch
from torch import nn

import effnets
from effnets import counting
from effnets.blocks import BLOCKS
from effnets.models import MODELS
from effnets.models import mobilenet_v3 as v3

NAMES = ["mobilenet_v3_large", "mobilenet_v3_small", "mnasnet0_5", "mnasnet1_0"]
SLOW = pytest.mark.slow


def _shapes(module: nn.Module) -> list[tuple[int, ...]]:
    return [tuple(p.shape) for p in module.parameters()]


def _same_function(ours: nn.Module, theirs: nn.Module, shape: tuple[int, ...]) -> None:
    """Copy torchvision's tensors into ours in registration order (same shapes), then compare outputs in eval mode."""
    with torch.no_grad():
        for m in theirs.modules():  # non-trivial BN statistics, so that eps and the BN order matter
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
    src, dst = theirs.state_dict(), ours.state_dict()
    assert [tuple(t.shape) for t in src.values()] == [tuple(t.shape) for t in dst.values()]
    ours.load_state_dict(dict(zip(dst, src.values(), strict=True)))
    ours.eval(), theirs.eval()
    x = torch.randn(2, *shape, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        torch.testing.assert_close(ours(x), theirs(x), rtol=1e-5, atol=1e-5)


# ----- the block ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("c_in", "k", "exp", "c_out", "se", "hs", "s"),
    [
        (16, 3, 16, 16, True, False, 2),  # Small's first row: no expansion, SE, stride 2
        (24, 5, 72, 40, True, False, 2),  # SE from 72 // 4 = 18 -> 24 (rounding up past 10 %)
        (80, 3, 184, 80, False, True, 1),  # residual, hard-swish, no SE
        (112, 3, 672, 112, True, True, 1),
    ],
)
def test_block_is_torchvisions_inverted_residual(c_in, k, exp, c_out, se, hs, s):
    from torchvision.models.mobilenetv3 import InvertedResidual, InvertedResidualConfig

    cnf = InvertedResidualConfig(c_in, k, exp, c_out, se, "HS" if hs else "RE", s, 1, 1.0)
    theirs = InvertedResidual(cnf, partial(nn.BatchNorm2d, eps=0.001, momentum=0.01))
    info = BLOCKS["mbconv_v3"]
    spec = info.make_spec(
        in_channels=c_in,
        out_channels=c_out,
        kernel_size=k,
        stride=s,
        expanded_channels=exp,
        se_ratio=0.25 if se else 0.0,
        activation="hardswish" if hs else "relu",
    )
    ours = info.build(spec)
    assert _shapes(ours) == _shapes(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())  # the same keys: block.0.0.weight, ...
    shape = (c_in, 14, 14)
    _same_function(ours, theirs, shape)
    c = info.cost(spec, shape)
    assert c.macs == counting.flop_counter_macs(theirs, shape)
    assert c.extras_dict == counting.dispatch_counts(theirs, shape).extras


def test_se_width_comes_from_the_expanded_tensor_not_the_input():
    info = BLOCKS["mbconv_v3"]
    assert info.make_spec(in_channels=24, expanded_channels=72).squeeze_channels == 24  # 18 rounds up to 24
    assert info.make_spec(in_channels=40, expanded_channels=120).squeeze_channels == 32  # 30 -> 32
    assert info.make_spec(in_channels=112, expanded_channels=672).squeeze_channels == 168
    assert info.make_spec(in_channels=40, expanded_channels=120, se_ratio=0.0).squeeze_channels == 0
    mbconv = BLOCKS["mbconv"].make_spec(in_channels=40, expand_ratio=3)  # EfficientNet: a quarter of the input
    assert mbconv.squeeze_channels == 10
    gates = [m for m in info.build(info.make_spec()).modules() if isinstance(m, nn.Hardsigmoid)]
    assert len(gates) == 1


# ----- the networks ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", [n if n in ("mobilenet_v3_large", "mnasnet0_5") else pytest.param(n, marks=SLOW) for n in NAMES]
)
def test_network_computes_torchvisions_function(name):
    import torchvision

    info = MODELS[name]
    torch.manual_seed(0)
    ours = info.build(info.make_spec())
    theirs = torchvision.models.get_model(name, weights=None)
    _same_function(ours, theirs, (3, 64, 64))
    assert all(m.eps == theirs_bn.eps for m, theirs_bn in zip(_bns(ours), _bns(theirs), strict=True))


@pytest.mark.parametrize("name", NAMES)
def test_every_extras_line_equals_torchvisions_network(name):
    """Not only params and MACs: BN, activations (hard-swish, hard-sigmoid), gates and adds, pooling, traced on
    torchvision's own network, equal our analytic lines."""
    import torchvision

    c = effnets.model_cost(name)
    theirs = counting.build_on_meta(lambda: torchvision.models.get_model(name, weights=None))
    traced = counting.dispatch_counts(theirs, c.input_shape)
    assert (c.macs, c.acts, c.total.extras_dict) == (traced.macs, traced.acts, traced.extras)


def _bns(m: nn.Module) -> list[nn.BatchNorm2d]:
    return [x for x in m.modules() if isinstance(x, nn.BatchNorm2d)]


@pytest.mark.parametrize("variant", ["large", "small"])
@pytest.mark.parametrize("alpha", [pytest.param(0.35, marks=SLOW), 0.75, pytest.param(1.25, marks=SLOW)])
def test_width_multiplier_rounds_as_torchvision(variant, alpha):
    import torchvision

    name = f"mobilenet_v3_{variant}"
    spec = MODELS[name].make_spec(width_mult=alpha)
    ours = counting.build_on_meta(lambda: MODELS[name].build(spec))
    theirs = counting.build_on_meta(lambda: torchvision.models.get_model(name, weights=None, width_mult=alpha))
    assert _shapes(ours) == _shapes(theirs)
    assert MODELS[name].cost(spec).macs == counting.flop_counter_macs(theirs, (3, 224, 224))


@pytest.mark.parametrize("alpha", [pytest.param(0.35, marks=SLOW), 0.75, 1.3])
def test_mnasnet_widths_are_torchvisions(alpha):
    from torchvision.models import MNASNet

    spec = MODELS["mnasnet1_0"].make_spec(width_mult=alpha)
    ours = counting.build_on_meta(lambda: MODELS["mnasnet1_0"].build(spec))
    theirs = counting.build_on_meta(lambda: MNASNet(alpha))
    assert _shapes(ours) == _shapes(theirs)
    assert MODELS["mnasnet1_0"].cost(spec).macs == counting.flop_counter_macs(theirs, (3, 224, 224))


def test_mnasnet_separable_conv_never_adds_a_skip():
    """At a width where the stem and the separable conv's output are both 8 wide, torchvision still adds no skip."""
    c = effnets.model_cost("mnasnet1_0", width_mult=0.2, resolution=64)
    assert c.stages[0].channels == c.stages[1].channels == 8
    assert c.stages[1].extras["elementwise"] == 0


def test_large_is_the_papers_table_1():
    rows = effnets.model_cost("mobilenet_v3_large").stages
    table = [(r.resolution[0], r.operator, r.channels, r.stride) for r in rows]
    assert table == [
        (224, "conv2d 3x3, HS", 16, 2),
        (112, "bneck 3x3, exp 16, RE", 16, 1),
        (112, "bneck 3x3, exp 64, RE", 24, 2),
        (56, "bneck 3x3, exp 72, RE", 24, 1),
        (56, "bneck 5x5, exp 72, SE, RE", 40, 2),
        (28, "bneck 5x5, exp 120, SE, RE", 40, 1),
        (28, "bneck 5x5, exp 120, SE, RE", 40, 1),
        (28, "bneck 3x3, exp 240, HS", 80, 2),
        (14, "bneck 3x3, exp 200, HS", 80, 1),
        (14, "bneck 3x3, exp 184, HS", 80, 1),
        (14, "bneck 3x3, exp 184, HS", 80, 1),
        (14, "bneck 3x3, exp 480, SE, HS", 112, 1),
        (14, "bneck 3x3, exp 672, SE, HS", 112, 1),
        (14, "bneck 5x5, exp 672, SE, HS", 160, 2),
        (7, "bneck 5x5, exp 960, SE, HS", 160, 1),
        (7, "bneck 5x5, exp 960, SE, HS", 160, 1),
        (7, "conv2d 1x1, HS", 960, 1),
        (7, "pool, conv2d 1x1 NBN 1280 HS, conv2d 1x1 NBN", 1000, 1),
    ]
    small = effnets.model_cost("mobilenet_v3_small").stages
    assert len(small) == 1 + 11 + 2 and small[-2].channels == 576 and small[1].operator == "bneck 3x3, exp 16, SE, RE"


def test_mnasnet_stage_rows_are_b1():
    rows = effnets.model_cost("mnasnet1_0").stages
    assert [(r.operator, r.channels, r.repeats) for r in rows] == [
        ("Conv3x3", 32, 1),
        ("SepConv, k3x3", 16, 1),
        ("MBConv3, k3x3", 24, 3),
        ("MBConv3, k5x5", 40, 3),
        ("MBConv6, k5x5", 80, 3),
        ("MBConv6, k3x3", 96, 2),
        ("MBConv6, k5x5", 192, 4),
        ("MBConv6, k3x3", 320, 1),
        ("Conv1x1 & Pooling & FC", 1280, 1),
    ]
    half = effnets.model_cost("mnasnet0_5").stages
    assert [r.channels for r in half] == [16, 8, 16, 24, 40, 48, 96, 160, 1280]  # the last conv is never scaled


# ----- figures the registry quotes --------------------------------------------------------------------------------


def test_the_figures_the_notes_quote():
    from torchvision.models import get_model_weights

    large, small = effnets.model_cost("mobilenet_v3_large"), effnets.model_cost("mobilenet_v3_small")
    assert f"{large.params:,}" in v3._LARGE_NOTE and f"{large.macs / 1e6:.2f}M" in v3._LARGE_NOTE
    assert f"{small.params:,}" in v3._SMALL_NOTE and f"{small.macs / 1e6:.2f}M" in v3._SMALL_NOTE
    meta = list(get_model_weights("mobilenet_v3_small"))[0].meta
    assert f"{meta['_ops']:g} GMACs" in v3._SMALL_NOTE and meta["num_params"] == small.params
    pub = MODELS["mobilenet_v3_small"].published
    assert f"{(pub.params - small.params) / 1e6:.2f}M parameters" in v3._SMALL_NOTE
    assert f"{(pub.macs - small.macs) / 1e6:.1f}M MACs fewer" in v3._SMALL_NOTE


@pytest.mark.parametrize("name", ["mnasnet0_75", "mnasnet1_3"])
def test_mnasnet_widths_are_registry_entries_with_torchvisions_figures(name):
    """The widths torchvision ships weights for are presets of their own (no longer reference rows in the Zoo)."""
    from effnets.analysis import zoo

    info = MODELS[name]
    tv = info.torchvision_published()
    c = effnets.model_cost(name)
    assert tv.params == c.params and tv.agrees("macs", c.macs)
    assert zoo.zoo_row(name).source == "effnets" and zoo.all_names().count(name) == 1


# ----- the Model Zoo ----------------------------------------------------------------------------------------------


def test_each_name_is_one_registry_row_in_the_zoo():
    from effnets.analysis import zoo

    names = zoo.all_names()
    for name in NAMES:
        assert names.count(name) == 1
        row = zoo.zoo_row(name)
        assert row.source == "effnets" and row.label == MODELS[name].label and row.top1 is not None


@pytest.mark.parametrize("name", ["mobilenet_v3_large", "mnasnet0_5"])
def test_zoo_row_reads_what_tracing_torchvisions_network_reads(name):
    import torchvision

    from effnets.analysis import zoo
    from effnets.counting import build_on_meta, traced_structure

    ours = zoo.zoo_row(name)
    traced = traced_structure(build_on_meta(lambda: torchvision.models.get_model(name, weights=None)), (3, 224, 224))
    assert traced["acts"] == ours.acts
    assert traced["intensity"] == pytest.approx(ours.intensity, rel=1e-12)
    assert traced["depthwise_share"] == pytest.approx(ours.depthwise_share, abs=1e-12)
    assert traced["elementwise_per_mac"] == pytest.approx(ours.elementwise_per_mac, rel=1e-12)
