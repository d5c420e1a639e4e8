"""DenseNet: the dense layer and the network compute torchvision's functions (not only its shapes and counts, which
the registry-wide tests check), the transitions' rounding, and the torchvision figures typed into the registry."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import effnets
from effnets import cost as steps
from effnets.blocks import BLOCKS
from effnets.blocks.dense_layer import DenseLayer, DenseLayerSpec
from effnets.models import MODELS
from effnets.models.densenet import BLOCK_CONFIGS, Transition, compressed


def _randomise(module: nn.Module, seed: int = 0) -> nn.Module:
    """Random weights and BN statistics, so that equal outputs mean equal functions (float64, eval mode)."""
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


def test_dense_layers_compute_torchvisions_dense_block():
    """torchvision concatenates the block's list of maps inside each layer; appending per layer is the same."""
    from torchvision.models.densenet import _DenseBlock

    theirs = _randomise(_DenseBlock(3, 16, bn_size=4, growth_rate=8, drop_rate=0.0).double())
    layers, c = [], 16
    for _ in range(3):
        spec = DenseLayerSpec(in_channels=c, growth_rate=8, bn_size=4)
        layers.append(DenseLayer(spec))
        c = spec.output_channels
    ours = nn.Sequential(*layers).double().eval()
    _copy_in_order(theirs, ours)
    x = torch.randn(2, 16, 9, 7, dtype=torch.float64)
    with torch.no_grad():
        assert torch.allclose(ours(x), theirs(x), rtol=0, atol=1e-10)
    assert c == 16 + 3 * 8


def test_transition_computes_torchvisions_transition():
    from torchvision.models.densenet import _Transition

    theirs = _randomise(_Transition(40, 20).double())
    ours = Transition(40, 20).build().double().eval()
    _copy_in_order(theirs, ours)
    x = torch.randn(2, 40, 9, 8, dtype=torch.float64)
    with torch.no_grad():
        assert torch.allclose(ours(x), theirs(x), rtol=0, atol=1e-10)
    assert Transition(40, 20).cost(steps.start(40, 9, 8)).output_shape == (20, 4, 4)


@pytest.mark.slow
def test_densenet121_computes_torchvisions_function():
    """The whole network, torchvision's weights copied in registration order (two 8M-parameter builds: slow)."""
    import torchvision

    theirs = _randomise(torchvision.models.densenet121(weights=None))
    ours = effnets.build_model("densenet121").eval()
    _copy_in_order(theirs, ours)
    x = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        a, b = ours(x), theirs(x)
    assert (a - b).abs().max().item() <= 1e-4 * max(1.0, b.abs().max().item())


def test_exact_counts_at_224():
    """The exactness table: params and MACs of each depth equal torchvision's builder (counted in test_models.py
    for the preset; here the figures the note quotes)."""
    expected = {
        (121, 32): (7_978_856, 2_834_161_664),
        (169, 32): (14_149_480, 3_359_843_328),
        (201, 32): (20_013_928, 4_291_365_888),
        (161, 48): (28_681_000, 7_727_907_072),
    }
    for (depth, k), (params, macs) in expected.items():
        c = effnets.model_cost("densenet121", block_config=depth, growth_rate=k)
        assert (c.params, c.macs, c.input_shape) == (params, macs, (3, 224, 224))


def test_torchvision_figures_in_the_registry_are_torchvisions():
    from torchvision.models import get_model_weights

    info = MODELS["densenet121"]
    names = {161: "densenet161", 169: "densenet169", 201: "densenet201"}
    assert len(info.also_published) == len(names)
    for pub in info.also_published:
        w = list(get_model_weights(names[pub.fields["block_config"]]))[0]
        assert pub.params == w.meta["num_params"]
        assert pub.macs == pytest.approx(w.meta["_ops"] * 1e9, abs=1.0)
        assert pub.top1 == w.meta["_metrics"]["ImageNet-1K"]["acc@1"]
        assert f"{type(w).__name__}.{w.name}" in pub.source


def test_layer_names_say_what_the_network_is():
    assert sum(BLOCK_CONFIGS[121]) * 2 + 5 == 121  # dense layers (2 convs each), stem, 3 transitions, FC
    assert sum(BLOCK_CONFIGS[169]) * 2 + 5 == 169
    assert sum(BLOCK_CONFIGS[201]) * 2 + 5 == 201
    assert sum(BLOCK_CONFIGS[264]) * 2 + 5 == 265  # the paper's Table 1 names (6, 12, 64, 48) 264: one off
    assert sum(BLOCK_CONFIGS[161]) * 2 + 5 == 161


def test_compression_is_floor_theta_m():
    assert compressed(256, 0.5) == 128 and compressed(1023, 0.5) == 511  # torchvision's m // 2
    assert compressed(100, 0.57) == 57  # 0.57 * 100 = 56.999... in floating point
    assert compressed(3, 0.05) == 1
    rows = effnets.model_cost("densenet121").stages
    assert [r.channels for r in rows if r.operator.startswith("Transition")] == [128, 256, 512]
    assert rows[-1].channels == 1024
    plain = effnets.model_cost("densenet121", compression=1.0).stages
    assert [r.channels for r in plain if r.operator.startswith("Transition")] == [256, 640, 1408]


def test_growth_rate_and_bottleneck_in_the_block_cost():
    info = BLOCKS["dense_layer"]
    spec = info.make_spec(in_channels=128, growth_rate=32, bn_size=4)
    c = info.cost(spec, (128, 28, 28))
    assert c.output_shape == (160, 28, 28)
    assert c.params == 2 * 128 + 128 * 128 + 2 * 128 + 9 * 128 * 32
    assert c.macs == (128 * 128 + 9 * 128 * 32) * 28 * 28
    plain = info.cost(info.make_spec(in_channels=128, growth_rate=32, bn_size=0), (128, 28, 28))
    assert plain.params == 2 * 128 + 9 * 128 * 32 and plain.output_shape == (160, 28, 28)
