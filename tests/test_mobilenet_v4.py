"""MobileNetV4 Conv-S and its universal inverted bottleneck against timm's builder (the reference): parameter shapes
layer by layer, buffers, params and MACs on the meta device, at timm's widths too, and the same function once timm's
weights are copied in. The shared test over torchvision builders does not reach timm, so this file does it; skipped
when timm is not installed."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import effnets
from effnets import counting
from effnets.blocks.uib import VARIANTS, UIBSpec
from effnets.models import MODELS
from effnets.spec import SpecError

timm = pytest.importorskip(
    "timm", reason="timm (a test dependency, requirements-dev.txt) builds the reference MobileNetV4"
)


def _meta(factory) -> nn.Module:
    with torch.device("meta"):
        return factory().eval()


def _shapes(module: nn.Module) -> list[tuple[int, ...]]:
    return [tuple(p.shape) for p in module.parameters()]


def _timm_at_width(width: float):
    """timm's presets where it has one; its generator with the same channel_multiplier otherwise."""
    names = {1.0: "mobilenetv4_conv_small", 0.5: "mobilenetv4_conv_small_050", 0.35: "mobilenetv4_conv_small_035"}
    if width in names:
        return lambda: timm.create_model(names[width], pretrained=False)
    from timm.models.mobilenetv3 import _gen_mobilenet_v4

    return lambda: _gen_mobilenet_v4("mobilenetv4_conv_small", width)


@pytest.mark.parametrize("width", [1.0, 0.5, 0.35, 1.25])
def test_same_network_as_timm(width):
    info = MODELS["mobilenetv4_conv_small"]
    spec = info.make_spec(width_mult=width)
    ours = _meta(lambda: info.build(spec))
    theirs = _meta(_timm_at_width(width))
    assert _shapes(ours) == _shapes(theirs), "parameter shapes differ layer by layer"
    assert [tuple(b.shape) for b in ours.buffers()] == [tuple(b.shape) for b in theirs.buffers()]
    cost = info.cost(spec)
    assert cost.params == sum(p.numel() for p in theirs.parameters())
    assert cost.macs == counting.flop_counter_macs(theirs, (3, 224, 224))


def test_reference_figures():
    """The exact counts of the reference table (timm's mobilenetv4_conv_small at 224)."""
    cost = effnets.model_cost("mobilenetv4_conv_small")
    assert (cost.params, cost.macs) == (3_774_024, 186_005_568)


def test_same_function_as_timm_with_its_weights():
    torch.manual_seed(0)
    info = MODELS["mobilenetv4_conv_small"]
    ours = info.build(info.make_spec(resolution=64)).eval()
    theirs = timm.create_model("mobilenetv4_conv_small", pretrained=False).eval()
    with torch.no_grad():
        for p in theirs.parameters():
            p.uniform_(-0.5, 0.5)
        for a, b in zip([*ours.parameters(), *ours.buffers()], [*theirs.parameters(), *theirs.buffers()], strict=True):
            a.copy_(b)
        x = torch.randn(2, 3, 64, 64)
        assert torch.allclose(ours(x), theirs(x), rtol=1e-4, atol=1e-4)


def test_stages_follow_the_architecture_table():
    """Each UIB row is the variant its kernels say (ExtraDW to downsample, IB, one ConvNeXt-like block)."""
    spec = MODELS["mobilenetv4_conv_small"].make_spec()
    plan = MODELS["mobilenetv4_conv_small"].stage_plan(spec)
    ops = [st.operator for st in plan.stages]
    assert ops[5] == "UIB ExtraDW 5x5, e3" and ops[6] == "UIB IB 3, e2" and ops[7] == "UIB ConvNeXt-like 3, e4"
    assert plan.stages[6].repeat_count == 4 and plan.stages[-2].operator == "Conv2d 1x1"


SETTINGS = [(64, 64, 5, 3, 1, 4.0, False), (24, 40, 3, 5, 2, 3.0, True), (33, 33, 7, 3, 1, 2.5, True)]
BLOCK_CASES = [(v, *c) for v in VARIANTS for c in SETTINGS if not (v == "ffn" and c[4] > 1)]  # FFN: no stride 2


@pytest.mark.parametrize(("variant", "c_in", "c_out", "start", "mid", "stride", "expand", "layer_scale"), BLOCK_CASES)
def test_block_is_timms_universal_inverted_residual(variant, c_in, c_out, start, mid, stride, expand, layer_scale):
    """Every variant, odd widths (the expanded width rounded to 8 as timm does), the stride on the start conv where
    there is no middle one, layer scale: same parameters, same function."""
    from timm.models._efficientnet_blocks import UniversalInvertedResidual

    torch.manual_seed(0)
    spec = UIBSpec(
        in_channels=c_in,
        out_channels=c_out,
        variant=variant,
        start_kernel_size=start,
        kernel_size=mid,
        stride=stride,
        expand_ratio=expand,
        layer_scale=layer_scale,
    )
    ours = effnets.build_block("uib", **spec.to_dict()).eval()
    theirs = UniversalInvertedResidual(
        c_in,
        c_out,
        spec.start_kernel,
        spec.mid_kernel,
        stride=stride,
        exp_ratio=expand,
        layer_scale_init_value=1e-5 if layer_scale else None,
    ).eval()
    assert _shapes(ours) == _shapes(theirs)
    with torch.no_grad():
        for p in theirs.parameters():
            p.uniform_(-0.5, 0.5)
        for a, b in zip([*ours.parameters(), *ours.buffers()], [*theirs.parameters(), *theirs.buffers()], strict=True):
            a.copy_(b)
        x = torch.randn(2, c_in, 13, 11)
        assert torch.allclose(ours(x), theirs(x), rtol=1e-5, atol=1e-5)
    assert effnets.block_cost("uib", (c_in, 13, 11), **spec.to_dict()).output_shape == tuple(ours(x).shape[1:])


def test_variant_fills_the_kernels():
    """The variant decides which depthwise convs exist; the kernel settings give their sizes."""
    kernels = {
        v: (s.start_kernel, s.mid_kernel)
        for v in VARIANTS
        if (s := UIBSpec(variant=v, start_kernel_size=5, kernel_size=7))
    }
    assert kernels == {"extra_dw": (5, 7), "ib": (0, 7), "convnext": (5, 0), "ffn": (0, 0)}
    assert UIBSpec(variant="convnext", stride=2).start_stride == 2
    assert UIBSpec(variant="extra_dw", stride=2).start_stride == 1


def test_ffn_cannot_downsample():
    with pytest.raises(SpecError, match="variant=ffn has none") as e:
        UIBSpec(variant="ffn", stride=2)
    assert e.value.field == "stride"
