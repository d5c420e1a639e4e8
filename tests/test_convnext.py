"""ConvNeXt: the block against torchvision's CNBlock (same function once the weights are copied), the layer-norm and
layer-scale counts against the tracers, the family against torchvision's builders, and the roadmap from ResNet-50 to
ConvNeXt-T (every step a real network, exact against FlopCounterMode and numel; its ends torchvision's networks)."""

from __future__ import annotations

import pytest
import torch
import torchvision
from torch import nn
from torchvision.models.convnext import CNBlock

import effnets
from effnets import cost, counting
from effnets.analysis import convnext_roadmap as roadmap
from effnets.blocks import BLOCKS
from effnets.blocks.convnext import LayerNorm2d
from effnets.cost import EXTRA_LABELS
from effnets.models import MODELS
from effnets.models.network import Network, plan_cost


def _meta(factory) -> nn.Module:
    with torch.device("meta"):
        return factory().eval()


def _shapes(module: nn.Module) -> list[tuple[int, ...]]:
    return [tuple(p.shape) for p in module.parameters()]


def _copy_random(ours: nn.Module, theirs: nn.Module) -> None:
    """Random weights in torchvision's module (beyond its 1e-6 layer scale), copied into ours in the same order."""
    with torch.no_grad():
        for a, b in zip(ours.parameters(), theirs.parameters(), strict=True):
            b.copy_(torch.randn_like(b) * 0.5)
            a.copy_(b)


# ----- the block ------------------------------------------------------------------------------------------------


def test_block_is_torchvisions_cnblock_with_its_weights():
    spec = BLOCKS["convnext"].make_spec(in_channels=24)
    ours = BLOCKS["convnext"].build(spec).double().eval()
    theirs = CNBlock(24, layer_scale=1e-6, stochastic_depth_prob=0.0).double().eval()
    assert _shapes(ours) == _shapes(theirs)
    _copy_random(ours, theirs)
    x = torch.randn(2, 24, 9, 11, dtype=torch.float64)
    with torch.no_grad():
        assert torch.allclose(ours(x), theirs(x), rtol=0, atol=1e-10)


def test_block_without_layer_scale_is_cnblock_with_a_scale_of_one():
    ours = BLOCKS["convnext"].build(BLOCKS["convnext"].make_spec(in_channels=16, layer_scale=False)).double().eval()
    theirs = CNBlock(16, layer_scale=1.0, stochastic_depth_prob=0.0).double().eval()
    assert [n for n, _ in theirs.named_parameters()][0] == "layer_scale"
    with torch.no_grad():
        rest = [p for n, p in theirs.named_parameters() if n != "layer_scale"]
        for a, b in zip(ours.parameters(), rest, strict=True):
            b.copy_(torch.randn_like(b))
            a.copy_(b)
        x = torch.randn(1, 16, 6, 6, dtype=torch.float64)
        assert torch.allclose(ours(x), theirs(x), rtol=0, atol=1e-10)
    c = BLOCKS["convnext"].cost(BLOCKS["convnext"].make_spec(in_channels=16), (16, 6, 6))
    c_off = BLOCKS["convnext"].cost(BLOCKS["convnext"].make_spec(in_channels=16, layer_scale=False), (16, 6, 6))
    assert c.params - c_off.params == 16 and c.extra("elementwise") - c_off.extra("elementwise") == 16 * 36


@pytest.mark.parametrize(("c", "k", "t"), [(96, 7, 4.0), (8, 3, 1.5), (5, 11, 2.0)])
def test_block_cost_formula_and_the_depthwise_share(c, k, t):
    spec = BLOCKS["convnext"].make_spec(in_channels=c, kernel_size=k, expand_ratio=t)
    x = BLOCKS["convnext"].cost(spec, (c, 14, 14))
    hidden = spec.expanded_channels
    assert x.macs == (k * k * c + 2 * c * hidden) * 14 * 14
    assert x.params == counting.param_count(BLOCKS["convnext"].build(spec))
    dw = next(s for s in x.steps if "depthwise" in s.label)
    if (c, k, t) == (96, 7, 4.0):  # the explanation's claim: the 7x7 is about 6 % of the block's MACs
        assert 0.05 < dw.macs / x.macs < 0.07


# ----- the counting primitives: layer norm and layer scale -------------------------------------------------------


@pytest.mark.parametrize("affine", [True, False])
def test_layer_norm_count_matches_dispatch_counter_and_fvcore(affine):
    ln = LayerNorm2d(12)
    if not affine:
        ln = nn.LayerNorm(12, elementwise_affine=False)
    module = ln if affine else nn.Sequential(_ChannelsLast(), ln, _ChannelsFirst())
    x = cost.layer_norm(cost.start(12, 5, 7), affine=affine)
    per_element = 5 if affine else 4
    assert x.extra("ln") == per_element * 12 * 5 * 7
    assert x.params == counting.param_count(module) == (24 if affine else 0)
    traced = counting.dispatch_counts(module, (12, 5, 7), batch=3)
    assert traced.extras["ln"] == x.extra("ln") and traced.macs == 0
    fv = counting.fvcore_counts(module, (12, 5, 7))
    assert fv.by_operator.get("layer_norm") == x.extra("ln")  # fvcore's rule: 5 (4) per input element
    assert "fvcore" in EXTRA_LABELS["ln"]


class _ChannelsLast(nn.Module):
    def forward(self, x):
        return x.permute(0, 2, 3, 1)


class _ChannelsFirst(nn.Module):
    def forward(self, x):
        return x.permute(0, 3, 1, 2)


def test_flop_counter_counts_no_layer_norm_and_the_block_extras_match_the_dispatch_counter():
    from torch.utils.flop_counter import FlopCounterMode

    spec = BLOCKS["convnext"].make_spec(in_channels=16)
    c = BLOCKS["convnext"].cost(spec, (16, 8, 8))
    meta = counting.build_on_meta(lambda: BLOCKS["convnext"].build(spec))
    with FlopCounterMode(display=False) as fc, torch.no_grad():
        meta(torch.empty(1, 16, 8, 8, device="meta"))
    ops = {str(k).split(".")[-1] for k in fc.get_flop_counts()["Global"]}
    assert ops == {"convolution", "addmm"}  # layer norm, GELU and the layer scale are no FLOPs to it
    assert fc.get_total_flops() == 2 * c.macs
    traced = counting.dispatch_counts(meta, (16, 8, 8))
    assert traced.extras == c.extras_dict
    assert c.extra("ln") == 5 * 16 * 64 and c.extra("act") == 64 * 64 and c.extra("elementwise") == 2 * 16 * 64


def test_layer_scale_primitive_is_c_params_and_one_multiply_per_element():
    x = cost.layer_scale(cost.start(10, 3, 4))
    assert (x.params, x.extra("elementwise"), x.steps[-1].params, x.steps[-1].kind) == (10, 120, 10, "mul")
    fast = cost.layer_scale(cost.start(10, 3, 4, record_steps=False))
    assert (fast.params, fast.steps) == (10, ())


def test_gelu_is_an_activation_everywhere():
    x = cost.act(cost.start(4, 2, 2), "gelu")
    assert x.extra("act") == 16
    from effnets.blocks._layers import make_act

    assert isinstance(make_act("gelu"), nn.GELU)


# ----- the family -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "tv_name"),
    [
        ({"variant": "base"}, "convnext_base"),
        ({"variant": "small", "width_mult": 4 / 3}, "convnext_base"),  # S -> B is a width multiplier of 4/3
        ({"variant": "small", "width_mult": 2.0}, "convnext_large"),
    ],
)
def test_variants_and_width_multiplier_are_torchvisions_bigger_convnexts(fields, tv_name):
    info = MODELS["convnext_tiny"]
    spec = info.make_spec(**fields)
    ours = _meta(lambda: info.build(spec))
    theirs = _meta(lambda: torchvision.models.get_model(tv_name, weights=None))
    assert _shapes(ours) == _shapes(theirs)
    c = info.cost(spec)
    assert c.params == counting.param_count(theirs)
    assert c.macs == counting.flop_counter_macs(theirs, (3, 224, 224))


def test_tiny_and_small_counts_are_torchvisions():
    for name in ("convnext_tiny", "convnext_small"):
        theirs = _meta(MODELS[name].build_torchvision)
        c = effnets.model_cost(name)
        assert (c.params, c.macs) == (counting.param_count(theirs), counting.flop_counter_macs(theirs, (3, 224, 224)))


def test_same_function_as_torchvision_with_its_weights():
    torch.manual_seed(0)
    info = MODELS["convnext_tiny"]
    ours = info.build(info.make_spec(resolution=64)).eval()
    theirs = info.build_torchvision().eval()
    _copy_random(ours, theirs)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        a, b = ours(x), theirs(x)
    assert torch.allclose(a, b, rtol=1e-4, atol=1e-4 * b.abs().max().item())


def test_depth_multiplier_and_kernel_change_the_blocks():
    info = MODELS["convnext_tiny"]
    assert info.make_spec(depth_mult=2.0).depths == (6, 6, 18, 6)
    assert info.make_spec(depth_mult=0.25).depths == (1, 1, 3, 1)
    a, b = info.cost(info.make_spec()), info.cost(info.make_spec(kernel_size=3))
    dw_positions = sum(
        n * c * (224 // 2 ** (i + 2)) ** 2
        for i, (n, c) in enumerate(zip((3, 3, 9, 3), (96, 192, 384, 768), strict=True))
    )
    assert a.macs - b.macs == (49 - 9) * dw_positions and a.params > b.params


# ----- the roadmap ----------------------------------------------------------------------------------------------

ROWS = roadmap.roadmap_rows()


@pytest.mark.parametrize("i", range(len(roadmap.STEPS)))
def test_every_step_is_a_real_network_exact_against_the_tracers(i):
    step = roadmap.STEPS[i]
    plan = roadmap.step_plan(step)
    c = plan_cost(plan)
    meta = _meta(lambda: Network(plan))
    assert (c.params, c.macs) == (ROWS[i]["params"], ROWS[i]["MACs"])
    assert c.params == counting.param_count(meta) == sum(p.numel() for p in meta.parameters())
    assert c.macs == counting.flop_counter_macs(meta, plan.input_shape)
    traced = counting.dispatch_counts(meta, plan.input_shape)
    assert (c.acts, c.total.extras_dict) == (traced.acts, traced.extras)
    assert ROWS[i]["activation ops"] == c.total.extra("act")


def test_first_step_is_torchvisions_resnet50_and_the_last_its_convnext_tiny():
    for i, tv_name in ((0, "resnet50"), (-1, "convnext_tiny")):
        ours = _meta(lambda i=i: Network(roadmap.step_plan(roadmap.STEPS[i])))
        theirs = _meta(lambda n=tv_name: torchvision.models.get_model(n, weights=None))
        assert _shapes(ours) == _shapes(theirs), tv_name
        assert [tuple(b.shape) for b in ours.buffers()] == [tuple(b.shape) for b in theirs.buffers()]
        assert ROWS[i]["params"] == counting.param_count(theirs)
        assert ROWS[i]["MACs"] == counting.flop_counter_macs(theirs, (3, 224, 224))
    resnet50 = effnets.model_cost("resnet50")
    assert (ROWS[0]["params"], ROWS[0]["MACs"]) == (resnet50.params, resnet50.macs)


def test_rows_are_plain_values_with_deltas_and_the_papers_figures():
    assert [r["step"] for r in ROWS] == list(range(len(ROWS))) and len(ROWS) == 12
    assert ROWS[0]["Δ params"] is None and ROWS[0]["Δ MACs"] is None
    for a, b in zip(ROWS, ROWS[1:], strict=False):
        assert b["Δ params"] == b["params"] - a["params"] and b["Δ MACs"] == b["MACs"] - a["MACs"]
    for r in ROWS:
        assert all(isinstance(v, int | float | str | type(None)) for v in r.values())
        assert r["paper top-1 (%)"] is not None and r["source"].startswith(roadmap.PAPER)
        if r["paper GFLOPs"] is not None:  # the paper's rounded figure holds our exact count within its rounding
            assert abs(r["MACs"] / 1e9 - r["paper GFLOPs"]) <= 0.05, r["name"]
    by = {r["name"]: r for r in ROWS}
    # Micro design: GELU moves nothing; fewer activations only the act line; fewer norms the norm line and biases.
    assert by["ReLU -> GELU"]["Δ MACs"] == by["ReLU -> GELU"]["Δ params"] == 0
    assert by["fewer activations"]["activation ops"] < by["ReLU -> GELU"]["activation ops"]
    assert by["fewer activations"]["Δ params"] == by["fewer activations"]["Δ MACs"] == 0
    assert by["fewer norms"]["norm ops"] < by["fewer activations"]["norm ops"] and by["fewer norms"]["Δ MACs"] == 0
    assert by["inverted bottleneck"]["Δ MACs"] < 0 < by["ResNeXt-ify"]["Δ MACs"]  # the paper's 5.3G then 4.6G


def test_designs_change_one_thing_per_step_and_the_last_must_be_convnext_t():
    for a, b in zip(roadmap.STEPS, roadmap.STEPS[1:], strict=False):
        changed = [k for k in a.design.__dataclass_fields__ if getattr(a.design, k) != getattr(b.design, k)]
        assert 1 <= len(changed) <= 2, (b.name, changed)
    wrong = roadmap.Step("x", "x", roadmap.Design(separate_downsampling=True))
    with pytest.raises(ValueError, match="ConvNeXt-T itself"):
        roadmap.step_plan(wrong)


def test_summary_sentences_come_from_the_rows():
    text = roadmap.summary(ROWS)
    assert len(text) == 3 and "ResNet-50" in text[0] and "ConvNeXt-T" in text[0]
    assert f"{ROWS[-1]['MACs'] / 1e9:.3f} GMACs" in text[0]
    assert "ResNeXt-ify" in text[1]
