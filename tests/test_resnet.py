"""ResNet / ResNeXt: every torchvision ResNet builder is a setting of the one spec (not only the three presets the
registry-wide tests check), the blocks compute torchvision's functions, the stage table is the paper's Table 1, and
the v1 / v1.5 stride placement changes MACs only."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import effnets
from effnets import counting
from effnets.blocks.resnet_basic import ResNetBasicBlock, ResNetBasicSpec
from effnets.blocks.resnet_bottleneck import ResNetBottleneck, ResNetBottleneckSpec
from effnets.models import MODELS
from effnets.spec import SpecError


def _meta(factory) -> nn.Module:
    with torch.device("meta"):
        return factory().eval()


def _randomise(module: nn.Module, seed: int = 0) -> nn.Module:
    """Random weights and BN statistics, so that equal outputs mean equal functions (eval mode)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=g, dtype=p.dtype) * 0.2)
        for m in module.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.copy_(torch.randn(m.num_features, generator=g, dtype=m.running_mean.dtype) * 0.1)
                m.running_var.copy_(torch.rand(m.num_features, generator=g, dtype=m.running_var.dtype) + 0.5)
    return module.eval()


def _copy_in_order(src: nn.Module, dst: nn.Module) -> None:
    pairs = list(zip(src.state_dict().values(), dst.state_dict().items(), strict=True))
    assert all(a.shape == b.shape for a, (_, b) in pairs)
    dst.load_state_dict({k: a for a, (k, _) in pairs})


@pytest.mark.parametrize(
    ("builder", "fields"),
    [
        ("resnet34", {"depth": 34}),
        ("resnet101", {"depth": 101}),
        ("resnet152", {"depth": 152}),
        ("resnext101_32x8d", {"depth": 101, "groups": 32, "width_per_group": 8}),
        ("resnext101_64x4d", {"depth": 101, "groups": 64, "width_per_group": 4}),
        ("wide_resnet50_2", {"depth": 50, "width_per_group": 128}),
        ("wide_resnet101_2", {"depth": 101, "width_per_group": 128}),
    ],
)
def test_every_torchvision_resnet_is_a_setting_of_the_spec(builder, fields):
    import torchvision.models

    info = MODELS["resnet50"]
    spec = info.make_spec(**fields)
    ours = _meta(lambda: info.build(spec))
    theirs = _meta(lambda: torchvision.models.get_model(builder, weights=None))
    assert [p.shape for p in ours.parameters()] == [p.shape for p in theirs.parameters()]
    assert [b.shape for b in ours.buffers()] == [b.shape for b in theirs.buffers()]
    assert info.cost(spec, record_steps=False).macs == counting.flop_counter_macs(theirs, (3, 224, 224))


@pytest.mark.parametrize("name", ["resnet18", "resnext50_32x4d"])
def test_the_network_computes_torchvisions_function(name):
    """Weights copied in registration order give torchvision's outputs: what loading its checkpoints relies on."""
    import torchvision.models

    info = MODELS[name]
    theirs = _randomise(torchvision.models.get_model(info.torchvision, weights=None).double())
    ours = info.build(info.make_spec(resolution=64)).double().eval()
    _copy_in_order(theirs, ours)
    x = torch.randn(2, 3, 64, 64, dtype=torch.float64)
    with torch.no_grad():
        assert torch.allclose(ours(x), theirs(x), rtol=0, atol=1e-10)


def test_blocks_compute_torchvisions_blocks():
    from torchvision.models.resnet import BasicBlock, Bottleneck, conv1x1

    def down(c_in, c_out, s):
        return nn.Sequential(conv1x1(c_in, c_out, s), nn.BatchNorm2d(c_out))

    cases = [
        (BasicBlock(16, 32, 2, down(16, 32, 2)), ResNetBasicBlock(ResNetBasicSpec(in_channels=16, out_channels=32))),
        (BasicBlock(16, 16), ResNetBasicBlock(ResNetBasicSpec(in_channels=16, out_channels=16, stride=1))),
        (
            Bottleneck(32, 16, 2, down(32, 64, 2), groups=4, base_width=8),
            ResNetBottleneck(
                ResNetBottleneckSpec(in_channels=32, out_channels=64, stride=2, groups=4, width_per_group=8)
            ),
        ),
        (
            Bottleneck(64, 16),
            ResNetBottleneck(ResNetBottleneckSpec(in_channels=64, out_channels=64, stride=1)),
        ),
    ]
    for theirs, ours in cases:
        theirs, ours = _randomise(theirs.double()), ours.double().eval()
        _copy_in_order(theirs, ours)
        x = torch.randn(2, theirs.conv1.in_channels, 9, 7, dtype=torch.float64)
        with torch.no_grad():
            assert torch.allclose(ours(x), theirs(x), rtol=0, atol=1e-10)


def test_stage_table_is_the_papers_table_1():
    rows = effnets.model_cost("resnet50").stages
    assert [r.output_shape for r in rows[:-1]] == [
        (64, 56, 56),  # conv1 (112x112) and the max-pool
        (256, 56, 56),
        (512, 28, 28),
        (1024, 14, 14),
        (2048, 7, 7),
    ]
    assert [r.repeats for r in rows] == [1, 3, 4, 6, 3, 1]
    assert [r.repeats for r in effnets.model_cost("resnet50", depth=152).stages[1:-1]] == [3, 8, 36, 3]
    assert [r.channels for r in effnets.model_cost("resnet18").stages[1:-1]] == [64, 128, 256, 512]
    assert rows[1].operator == "conv2_x: Bottleneck [1x1, 3x3, 1x1]"
    resnext = effnets.model_cost("resnext50_32x4d")
    assert resnext.stages[1].operator == "conv2_x: ResNeXt bottleneck [1x1, 3x3 g=32, 1x1]"
    # 32 groups of 4 channels at 64 planes: the 3x3 of conv2_x is 128 wide where ResNet-50's is 64.
    widths = [s.out_shape[0] for s in resnext.total.steps if s.label.startswith("3x3 group conv")]
    assert widths[0] == 128 and widths[-1] == 1024


def test_v1_strides_the_first_1x1_same_parameters_fewer_macs():
    v15 = effnets.model_cost("resnet50")
    v1 = effnets.model_cost("resnet50", stride_on="1x1")
    assert v1.params == v15.params == 25_557_032
    assert (v1.macs, v15.macs) == (3_857_973_248, 4_089_184_256)
    for cost, strided in ((v1, "1x1 reduce s2"), (v15, "3x3 conv s2")):  # conv3_x, conv4_x and conv5_x's first
        labels = [s.label for s in cost.total.steps if s.kind == "conv" and s.label.endswith(" s2")]
        assert sorted(set(labels)) == sorted({strided, "1x1 projection shortcut s2"})
        assert labels.count(strided) == 3
    # Basic blocks have no 1x1 to stride: the setting changes nothing there.
    assert effnets.model_cost("resnet18", stride_on="1x1").macs == effnets.model_cost("resnet18").macs


def test_settings_the_blocks_cannot_take_are_refused_with_the_field_named():
    with pytest.raises(SpecError) as e:
        effnets.model_cost("resnet18", groups=32)
    assert e.value.field == "groups" and "bottleneck" in str(e.value)
    with pytest.raises(SpecError) as e:
        effnets.model_cost("resnet50", groups=64, width_per_group=16)  # conv5_x's 3x3 would be 8192 wide
    assert e.value.field == "width_per_group"
    with pytest.raises(SpecError) as e:
        ResNetBottleneckSpec(in_channels=64, out_channels=30)
    assert e.value.field == "out_channels"
    with pytest.raises(SpecError) as e:
        ResNetBottleneckSpec(in_channels=64, out_channels=64, width_per_group=2)  # int(16 x 2 / 64) = 0
    assert e.value.field == "width_per_group" and "at least 4" in str(e.value)
