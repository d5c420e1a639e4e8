"""EfficientNetV2 and its Fused-MBConv block: the paper's stage table, torchvision's block layer by layer, and the
figures the registry's notes quote (checked here, not trusted)."""

from __future__ import annotations

from functools import partial

import pytest
import torch
from torch import nn

import effnets
from effnets import counting
from effnets.blocks import BLOCKS
from effnets.models import MODELS
from effnets.models import efficientnet_v2 as v2

NAMES = ["efficientnet_v2_s", "efficientnet_v2_m", "efficientnet_v2_l"]


def test_efficientnet_v2_s_is_the_papers_table_4():
    rows = effnets.model_cost("efficientnet_v2_s").stages
    table = [(r.operator, r.stride, r.channels, r.repeats) for r in rows]
    assert table == [
        ("Conv3x3", 2, 24, 1),
        ("Fused-MBConv1, k3x3", 1, 24, 2),
        ("Fused-MBConv4, k3x3", 2, 48, 4),
        ("Fused-MBConv4, k3x3", 2, 64, 4),
        ("MBConv4, k3x3, SE0.25", 2, 128, 6),
        ("MBConv6, k3x3, SE0.25", 1, 160, 9),
        ("MBConv6, k3x3, SE0.25", 2, 256, 15),
        ("Conv1x1 & Pooling & FC", 1, 1280, 1),
    ]


def test_m_and_l_add_layers_to_the_later_stages():
    s, m, l_ = (effnets.model_cost(n).stages for n in NAMES)
    assert [r.repeats for r in m[1:-1]] == [3, 5, 5, 7, 14, 18, 5]
    assert [r.repeats for r in l_[1:-1]] == [4, 7, 7, 10, 19, 25, 7]
    # Growth from S to L is far larger in the MBConv stages than in the Fused-MBConv ones.
    assert sum(r.repeats for r in l_[1:4]) / sum(r.repeats for r in s[1:4]) < 2
    assert sum(r.repeats for r in l_[4:-1]) / sum(r.repeats for r in s[4:-1]) > 2
    assert [MODELS[n].make_spec().resolution for n in NAMES] == [384, 480, 480]


@pytest.mark.parametrize("name", NAMES)
def test_the_figures_the_notes_quote(name):
    """The notes quote torchvision's _ops and our count at 224 px: both must be what they say."""
    from torchvision.models import get_model_weights

    key = name[-1]
    weights = list(get_model_weights(name))[0]
    assert v2._OPS[key] == f"{weights.meta['_ops']:g}"
    assert weights.transforms.keywords["crop_size"] == MODELS[name].make_spec().resolution
    macs_224 = effnets.model_cost(name, resolution=224).macs
    assert v2._MACS_224[key] == f"{macs_224 / 1e9:.3f}B"
    assert f"_ops {v2._OPS[key]}" in MODELS[name].published.note


def test_efficientnet_v2_s_ops_is_at_384_not_224():
    """torchvision's EfficientNetV2-S `_ops` (8.366) is the MACs at its 384 px crop; at 224 it is 2.85 G."""
    assert round(effnets.model_cost("efficientnet_v2_s").macs / 1e9, 3) == 8.366
    assert round(effnets.model_cost("efficientnet_v2_s", resolution=224).macs / 1e9, 3) == 2.850


@pytest.mark.parametrize(
    ("expand_ratio", "stride", "c_in", "c_out"), [(1, 1, 24, 24), (4, 2, 24, 48), (4, 1, 48, 48), (1, 2, 16, 32)]
)
def test_fused_mbconv_is_torchvisions_block(expand_ratio, stride, c_in, c_out):
    from torchvision.models.efficientnet import FusedMBConv, FusedMBConvConfig

    info = BLOCKS["fused_mbconv"]
    spec = info.make_spec(
        in_channels=c_in, out_channels=c_out, stride=stride, expand_ratio=float(expand_ratio), bn_eps=1e-3
    )
    ours = info.build(spec).eval()
    cnf = FusedMBConvConfig(expand_ratio, 3, stride, c_in, c_out, 1)
    theirs = FusedMBConv(cnf, 0.0, partial(nn.BatchNorm2d, eps=1e-3)).eval()
    assert [tuple(p.shape) for p in ours.parameters()] == [tuple(p.shape) for p in theirs.parameters()]
    assert list(ours.state_dict()) == list(theirs.state_dict())
    shape = (c_in, 20, 20)
    assert info.cost(spec, shape).macs == counting.flop_counter_macs(theirs, shape)
    theirs.load_state_dict(ours.state_dict())
    x = torch.randn(2, *shape)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), theirs(x))


def test_fused_mbconv_se_without_expansion_gates_the_input():
    """google/automl's FusedMBConvBlock: with t = 1 the SE acts on the block's input, before the single kxk conv."""
    info = BLOCKS["fused_mbconv"]
    spec = info.make_spec(in_channels=16, out_channels=24, expand_ratio=1.0, se_ratio=0.25)
    layers = list(info.build(spec).block)
    assert type(layers[0]).__name__ == "SqueezeExcite" and layers[0].fc1.in_channels == 16
    assert layers[0].fc1.out_channels == 4 and layers[1][0].kernel_size == (3, 3)
    expanded = info.make_spec(in_channels=16, out_channels=24, expand_ratio=4.0, se_ratio=0.25)
    layers = list(info.build(expanded).block)
    assert [type(m).__name__ for m in layers] == ["ConvBNAct", "SqueezeExcite", "ConvBNAct"]
    assert layers[1].fc1.in_channels == 64 and layers[1].fc1.out_channels == 4  # SE width from C_in, not t C_in
    assert len(layers[2]) == 2  # the projection is linear: conv + BN, no activation


def test_torchvision_checkpoint_loads_and_computes_the_same_function():
    """A torchvision EfficientNetV2-S state dict (random, with non-trivial BN statistics) loads into ours through the
    weights loader, which checks the outputs agree on a probe input: same layers in the same order, same BN eps."""
    import torchvision

    from effnets.runtime import weights

    torch.manual_seed(0)
    ref = torchvision.models.get_model("efficientnet_v2_s").eval()
    for m in ref.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    info = MODELS["efficientnet_v2_s"]
    model = info.build(info.make_spec())
    weights._load_into_other_layout("efficientnet_v2_s", "efficientnet_v2_s", ref.state_dict(), model)
    assert torch.equal(model.state_dict()["stem.0.1.running_var"], ref.state_dict()["features.0.1.running_var"])


def test_torchvision_rows_say_where_the_weights_come_from():
    """torchvision ported V2-L's weights from the paper but trained S and M itself: the note follows its metadata."""
    assert "ported from the original paper" in MODELS["efficientnet_v2_l"].torchvision_published().note
    assert "training recipe" in MODELS["efficientnet_v2_s"].torchvision_published().note
    assert "ported from LuaTorch" in MODELS["densenet121"].torchvision_published().note
