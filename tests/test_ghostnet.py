"""GhostNet against timm's builder (its reference): parameter shapes layer by layer, buffers, params and MACs on the
meta device, and the same function once timm's weights are copied in. The shared test over torchvision builders
does not reach timm, so this file does it; skipped when timm is not installed."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import effnets
from effnets import counting
from effnets.blocks.ghost import GhostModule, GhostSpec
from effnets.models import MODELS

timm = pytest.importorskip(
    "timm", reason="timm (a test dependency, requirements-dev.txt) builds the reference GhostNet"
)


def _meta(factory) -> nn.Module:
    with torch.device("meta"):
        return factory().eval()


def _shapes(module: nn.Module) -> list[tuple[int, ...]]:
    return [tuple(p.shape) for p in module.parameters()]


@pytest.mark.parametrize(("width", "timm_name"), [(1.0, "ghostnet_100"), (0.5, "ghostnet_050"), (1.3, "ghostnet_130")])
def test_same_network_as_timm(width, timm_name):
    info = MODELS["ghostnet_100"]
    spec = info.make_spec(width_mult=width)
    ours = _meta(lambda: info.build(spec))
    theirs = _meta(lambda: timm.create_model(timm_name, pretrained=False))
    assert _shapes(ours) == _shapes(theirs), "parameter shapes differ layer by layer"
    assert [tuple(b.shape) for b in ours.buffers()] == [tuple(b.shape) for b in theirs.buffers()]
    cost = info.cost(spec)
    assert cost.params == sum(p.numel() for p in theirs.parameters())
    assert cost.macs == counting.flop_counter_macs(theirs, (3, 224, 224))


def test_ghostnet_100_reference_figures():
    """The exact counts of the reference table (timm's ghostnet_100 at 224)."""
    cost = effnets.model_cost("ghostnet_100")
    assert (cost.params, cost.macs) == (5_182_508, 141_150_512)


def test_same_function_as_timm_with_its_weights():
    torch.manual_seed(0)
    ours = MODELS["ghostnet_100"].build(MODELS["ghostnet_100"].make_spec(resolution=64)).eval()
    theirs = timm.create_model("ghostnet_100", pretrained=False).eval()
    with torch.no_grad():
        for p in theirs.parameters():
            p.uniform_(-0.5, 0.5)  # beyond the init: BN shifts that move the SE gates off their flat parts
        for a, b in zip([*ours.parameters(), *ours.buffers()], [*theirs.parameters(), *theirs.buffers()], strict=True):
            a.copy_(b)
        x = torch.randn(2, 3, 64, 64)
        assert torch.allclose(ours(x), theirs(x), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize(("out_channels", "ratio"), [(33, 2), (40, 3), (7, 5)])
def test_ghost_module_slices_to_its_width(out_channels, ratio):
    """ceil(C/s) intrinsic maps and (s-1) ghosts each make at least C maps; the module keeps the first C."""
    m = GhostModule(8, out_channels, ratio).eval()
    assert m(torch.randn(1, 8, 6, 6)).shape == (1, out_channels, 6, 6)
    x = effnets.cost.start(8, 6, 6)
    assert GhostModule.cost(x, out_channels, ratio, 3, "relu", "ghost").c == out_channels


def test_shortcut_is_a_conv_path_only_when_the_shape_changes():
    assert not GhostSpec(in_channels=40, out_channels=40, stride=1).has_projection
    assert GhostSpec(in_channels=40, out_channels=40, stride=2).has_projection
    assert GhostSpec(in_channels=40, out_channels=48, stride=1).has_projection


@pytest.mark.parametrize(
    ("c_in", "mid", "c_out", "k", "stride", "se_ratio"),
    [(16, 16, 16, 3, 1, 0.0), (16, 48, 24, 3, 2, 0.0), (40, 120, 40, 5, 1, 0.25), (33, 70, 45, 5, 2, 0.25)],
)
def test_block_is_timms_ghost_bottleneck(c_in, mid, c_out, k, stride, se_ratio):
    """Odd widths too: the slice to C_out, the SE width rounded to 4, the conv shortcut."""
    from timm.models.ghostnet import GhostBottleneck as TimmGhostBottleneck

    torch.manual_seed(0)
    spec = GhostSpec(
        in_channels=c_in, out_channels=c_out, kernel_size=k, stride=stride, expanded_channels=mid, se_ratio=se_ratio
    )
    ours = effnets.build_block("ghost", **spec.to_dict()).eval()
    theirs = TimmGhostBottleneck(c_in, mid, c_out, k, stride, se_ratio=se_ratio).eval()
    assert _shapes(ours) == _shapes(theirs)
    with torch.no_grad():
        for p in theirs.parameters():
            p.uniform_(-0.5, 0.5)
        for a, b in zip([*ours.parameters(), *ours.buffers()], [*theirs.parameters(), *theirs.buffers()], strict=True):
            a.copy_(b)
        x = torch.randn(2, c_in, 12, 12)
        assert torch.allclose(ours(x), theirs(x), rtol=1e-5, atol=1e-5)
