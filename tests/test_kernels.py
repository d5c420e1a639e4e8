"""Fixed kernel library and the analysis of learned kernels (VGNet's observations)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from effnets.analysis import kernels
from effnets.blocks import vgnet


def _random_depthwise(n: int, k: int, seed: int = 0) -> torch.Tensor:
    conv = nn.Conv2d(n, n, k, groups=n, bias=False)  # PyTorch's own init: kaiming uniform
    torch.manual_seed(seed)
    conv.reset_parameters()
    return conv.weight.detach()


# ----- the fixed library (existing API) ----------------------------------------------------------------------------


def test_library_values_match_vgnet():
    lib = vgnet.library()
    g = lib["gaussian"]
    assert g.sum().item() == pytest.approx(1.0)
    assert g[1, 1].item() == pytest.approx(0.1853, abs=5e-4) and g[0, 1].item() == pytest.approx(0.1226, abs=5e-4)
    assert lib["gaussian_sharp"][1, 1].item() == pytest.approx(0.4452, abs=2e-3)
    for name in ("sobel_x", "sobel_y", "laplacian_4", "laplacian_8", "sobel_diag", "sobel_antidiag"):
        assert lib[name].sum().item() == pytest.approx(0.0, abs=1e-6), name


def test_fixed_depthwise_is_a_buffer_and_blurs():
    m = vgnet.FixedDepthwise(8, "gaussian", stride=2)
    assert list(m.parameters()) == [] and "weight" in dict(m.named_buffers())
    x = torch.ones(1, 8, 8, 8)
    y = m(x)
    assert y.shape == (1, 8, 4, 4)
    assert torch.allclose(y[..., 1:, 1:], torch.ones_like(y[..., 1:, 1:]))  # a blur keeps flat regions flat
    with pytest.raises(ValueError, match="'box' is not 'gaussian' or 'edge'"):
        vgnet.bank("box", 4)


# ----- classification --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "family"),
    [
        ("gaussian", "gaussian"),
        ("gaussian_sharp", "gaussian"),
        ("sobel_x", "edge"),
        ("sobel_y", "edge"),
        ("sobel_diag", "edge"),
        ("sobel_antidiag", "edge"),
        ("laplacian_4", "edge"),
        ("laplacian_8", "edge"),
        ("identity", "identity"),
    ],
)
def test_library_kernels_are_classified_as_themselves(name, family):
    (m,) = kernels.classify_kernels(vgnet.library()[name])
    assert m.family == family
    assert m.score == pytest.approx(1.0, abs=1e-6)
    # sobel_y and the anti-diagonal are found as rotations of sobel_x / sobel_diag: the same template up to sign
    base = {"sobel_y": "sobel_x", "sobel_antidiag": "sobel_diag"}.get(name, name)
    assert m.template.split(" ")[0] == base


def test_whole_edge_bank_is_edges_and_blurs():
    matches = kernels.classify_kernels(vgnet.bank("edge", 16))
    fams = [m.family for m in matches]
    assert fams == (["edge"] * 6 + ["gaussian"] * 2) * 2


@pytest.mark.parametrize("k", [3, 5, 7])
def test_gaussians_of_any_size_are_gaussian(k):
    for sigma in (0.7, 1.0, 1.3, 1.8):
        (m,) = kernels.classify_kernels(vgnet.gaussian(sigma, k))
        assert m.family == "gaussian", (k, sigma, m.rule)
        assert m.score > 0.97


def test_rotated_flipped_scaled_and_negated_sobel_is_edge():
    s = vgnet.library()["sobel_x"]
    for variant in (torch.rot90(s, 1), torch.rot90(s, 3), torch.flip(s, (0,)), -3.7 * s, 0.01 * s.T):
        (m,) = kernels.classify_kernels(variant)
        assert m.family == "edge" and m.score == pytest.approx(1.0, abs=1e-6)


def test_noisy_templates_still_match_but_noise_alone_is_other():
    torch.manual_seed(1)
    noise = torch.randn(200, 3, 3)
    lib = vgnet.library()
    noisy_sobel = lib["sobel_x"] / lib["sobel_x"].norm() + 0.08 * noise
    noisy_gauss = lib["gaussian"] / lib["gaussian"].norm() + 0.08 * noise
    assert all(m.family == "edge" for m in kernels.classify_kernels(noisy_sobel))
    assert all(m.family == "gaussian" for m in kernels.classify_kernels(noisy_gauss))
    others = kernels.family_shares(kernels.classify_kernels(noise))["other"]
    assert others > 0.85


@pytest.mark.parametrize("k, threshold, chunk", [(3, 0.8, 7), (3, 0.55, 65536), (5, 0.7, 13), (7, 0.95, 50)])
def test_family_counts_make_the_per_kernel_decisions(k, threshold, chunk):
    torch.manual_seed(k)
    lib = [t for t in vgnet.library().values() if t.shape[-1] == 3]
    parts = [torch.randn(120, k, k), torch.zeros(3, k, k)]  # noise and dead channels
    if k == 3:  # templates, their negatives and noisy copies: ties and near-threshold scores
        bank = torch.stack(lib)
        parts += [bank, -2 * bank, bank + 0.3 * torch.randn_like(bank)]
    weight = torch.cat(parts)[torch.randperm(sum(p.shape[0] for p in parts))].unsqueeze(1)
    counts = kernels.family_counts(weight, threshold, chunk=chunk)
    matches = kernels.classify_kernels(weight, threshold)
    assert counts == {f: sum(m.family == f for m in matches) for f in kernels.FAMILIES}
    assert kernels.shares_of(counts) == pytest.approx(kernels.family_shares(matches))


def test_off_centre_gaussian_5x5_matches_a_shifted_template():
    g = torch.zeros(5, 5)
    g[0:4, 0:4] = vgnet.gaussian(1.0, 5)[1:5, 1:5]  # moved one pixel up-left, as strided TF-SAME layers learn
    (m,) = kernels.classify_kernels(g)
    assert m.family == "gaussian" and "shifted 1 up 1 left" in m.template
    assert m.score > 0.99


def test_threshold_and_rule_text():
    k = vgnet.library()["gaussian"] + 0.3 * torch.tensor([[1.0, 0, -1], [0, 0, 0], [-1, 0, 1]])
    (m,) = kernels.classify_kernels(k)
    strict = kernels.classify_kernels(k, threshold=0.999)[0]
    assert strict.family == "other" and strict.rule.startswith(f"best |cos| = {m.score:.2f}")
    assert "< 0.999" in strict.rule
    assert set(m.family_scores) == {"gaussian", "edge", "identity"}
    assert m.score == max(m.family_scores.values())


def test_zero_kernel_is_other_not_nan():
    (m,) = kernels.classify_kernels(torch.zeros(3, 3))
    assert m.family == "other" and m.template == "zero" and m.score == 0.0


@pytest.mark.parametrize(
    ("weight", "match"),
    [
        (torch.zeros(4, 1, 1, 1), "1x1"),
        (torch.zeros(4, 1, 3, 5), "square"),
        (torch.zeros(4, 1, 4, 4), "odd sizes"),
        (torch.zeros(3), "expected kernels shaped"),
    ],
)
def test_bad_kernel_shapes(weight, match):
    with pytest.raises(ValueError, match=match):
        kernels.classify_kernels(weight)


def test_threshold_range():
    with pytest.raises(ValueError, match="threshold=1.5"):
        kernels.classify_kernels(torch.eye(3), threshold=1.5)


@pytest.mark.parametrize(("k", "most"), [(3, 0.9), (5, 0.99)])
def test_random_init_kernels_are_mostly_other(k, most):
    shares = kernels.family_shares(kernels.classify_kernels(_random_depthwise(512, k)))
    assert shares["other"] >= most
    assert math.isclose(sum(shares.values()), 1.0)


def test_explanation_mentions_the_measure():
    text = kernels.SIMILARITY_EXPLANATION
    assert "absolute cosine similarity" in text and "0.8" in text and "mean is NOT removed" in text


# ----- frequency response ------------------------------------------------------------------------------------------


def test_frequency_response_centre_is_dc_gain():
    g = vgnet.library()["gaussian"]
    r = kernels.frequency_response(g, size=32)
    f = kernels.frequencies(32)
    assert r.shape == (32, 32) and f[16] == 0.0 and f[0] == -0.5
    assert r[16, 16] == pytest.approx(1.0, abs=1e-6)  # a normalised blur passes flat regions unchanged
    assert r[0, 0] < 0.1  # and kills the one-pixel checkerboard
    sob = kernels.frequency_response(vgnet.library()["sobel_x"], size=32)
    assert sob[16, 16] == pytest.approx(0.0, abs=1e-6)  # edge detectors ignore flat regions
    assert np.allclose(kernels.frequency_response(vgnet.library()["identity"]), 1.0)


def test_low_pass_scores_order_and_baseline():
    lib = vgnet.library()
    scores = {
        n: kernels.low_pass_score(lib[n]) for n in ("gaussian", "gaussian_sharp", "identity", "sobel_x", "laplacian_4")
    }
    assert scores["gaussian"] > 0.8 > scores["gaussian_sharp"] > scores["identity"] > scores["laplacian_4"]
    assert scores["identity"] == pytest.approx(math.pi * 0.25**2, abs=0.02)  # flat spectrum: the disc's area
    random_mean = kernels.low_pass_scores(_random_depthwise(256, 3)).mean()
    assert random_mean == pytest.approx(math.pi * 0.25**2, abs=0.03)
    with pytest.raises(ValueError, match="one kernel"):
        kernels.low_pass_score(torch.zeros(2, 3, 3))


@pytest.mark.parametrize("k, size, cutoff", [(3, 32, 0.25), (5, 16, 0.1), (7, 32, 0.4), (3, 8, 0.707)])
def test_low_pass_scores_are_the_fft_energy_share(k, size, cutoff):
    torch.manual_seed(size)
    w = torch.cat([torch.randn(40, k, k, dtype=torch.float64), torch.zeros(1, k, k, dtype=torch.float64)])
    power = torch.fft.fft2(w, s=(size, size)).abs() ** 2  # the spectrum itself, summed inside and outside the disc
    f = torch.from_numpy(np.fft.fftfreq(size))
    inside = torch.sqrt(f[:, None] ** 2 + f[None, :] ** 2) <= cutoff
    total = power.sum((-2, -1))
    expected = torch.where(total > 0, (power * inside).sum((-2, -1)) / total.clamp_min(1e-300), 0.0)
    assert kernels.low_pass_scores(w, cutoff, size) == pytest.approx(expected.numpy(), abs=1e-12)
    with pytest.raises(ValueError, match="at least the kernel size"):
        kernels.low_pass_scores(w, cutoff, k - 1)


# ----- per layer ------------------------------------------------------------------------------------------------


class _TinyNet(nn.Module):
    """stem 3x3 s2 -> depthwise 3x3 s2 (set to Gaussians) -> pointwise -> fixed edge bank -> depthwise 5x5 s1."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, 2, 1, bias=False)
        self.dw_s2 = nn.Conv2d(8, 8, 3, 2, 1, groups=8, bias=False)
        self.pw = nn.Conv2d(8, 16, 1, bias=False)
        self.fixed = vgnet.FixedDepthwise(16, "edge")
        self.dw_s1 = nn.Conv2d(16, 16, 5, 1, 2, groups=16, bias=False)
        with torch.no_grad():
            self.dw_s2.weight.copy_(vgnet.bank("gaussian", 8))

    def forward(self, x):
        return self.dw_s1(self.fixed(self.pw(self.dw_s2(self.stem(x)))))


def test_layer_shares_rows():
    net = _TinyNet()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    rows = {r.name: r for r in kernels.layer_shares(net)}
    assert [(n, r.kind) for n, r in rows.items()] == [
        ("stem", "stem"),
        ("dw_s2", "depthwise"),
        ("pw", "pointwise"),
        ("fixed", "fixed"),
        ("dw_s1", "depthwise"),
    ]
    assert rows["stem"].count == 24 and rows["stem"].stride == 2 and rows["stem"].kernel_size == 3
    assert rows["dw_s2"].shares["gaussian"] == 1.0 and rows["dw_s2"].low_pass > 0.8
    assert rows["pw"].shares is None and rows["pw"].row()["share_edge"] is None
    assert rows["fixed"].shares == {"gaussian": 0.25, "edge": 0.75, "identity": 0.0, "other": 0.0}
    assert rows["dw_s1"].shares["other"] == 1.0 and rows["dw_s1"].kernel_size == 5
    assert set(rows["stem"].row()) >= {"name", "kind", "stride", "kernel_size", "count", "share_other", "low_pass"}
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())


def test_compare_strided():
    summary = {s.stride: s for s in kernels.compare_strided(_TinyNet())}
    assert set(summary) == {1, 2}
    assert summary[2].shares["gaussian"] == 1.0 and summary[2].kernels == 8 and summary[2].layers == 1
    assert summary[1].shares["other"] == 1.0 and summary[1].kernels == 16  # the fixed layer is left out
    assert summary[2].mean_low_pass > summary[1].mean_low_pass
    assert summary[2].row()["share_gaussian"] == 1.0


def test_random_init_torchvision_model_is_mostly_other():
    from torchvision.models import mobilenet_v2

    rows = [r for r in kernels.layer_shares(mobilenet_v2(weights=None)) if r.kind == "depthwise"]
    assert len(rows) == 17
    other = sum(r.shares["other"] * r.count for r in rows) / sum(r.count for r in rows)
    assert other > 0.9


def test_display_helpers():
    net = _TinyNet()
    w = kernels.layer_weight(net, "stem")
    assert w.shape == (8, 3, 3, 3) and w.data_ptr() != net.stem.weight.data_ptr()
    tiles = kernels.rgb_tiles(w)
    assert tiles.shape == (8, 3, 3, 3) and tiles.min() >= 0 and tiles.max() <= 1
    assert np.isclose(np.abs(tiles - 0.5).reshape(8, -1).max(1), 0.5).all()
    per_kernel = kernels.normalise_for_display(kernels.layer_weight(net, "dw_s1"), per="kernel")
    per_layer = kernels.normalise_for_display(kernels.layer_weight(net, "dw_s1"), per="layer")
    assert per_kernel.shape == (16, 5, 5)
    assert np.isclose(np.abs(per_kernel).reshape(16, -1).max(1), 1).all()
    assert np.isclose(np.abs(per_layer).max(), 1) and np.abs(per_layer).reshape(16, -1).max(1).min() < 1
    with pytest.raises(ValueError, match="'nope' is not a convolution layer"):
        kernels.layer_weight(net, "nope")


# ----- real trained kernels (VGNet's observation on EfficientNet-Lite0's ImageNet weights) -------------------------


@pytest.fixture(scope="module")
def lite0_pretrained():
    from effnets.runtime import weights

    model, status = weights.load_model("efficientnet_lite0")
    assert status.status == "packaged"
    return model


def test_lite0_layers_are_listed_with_kinds(lite0_pretrained):
    rows = kernels.layer_shares(lite0_pretrained)
    assert rows[0].kind == "stem" and rows[0].stride == 2 and rows[0].count == 32 * 3
    dw = [r for r in rows if r.kind == "depthwise"]
    assert len(dw) == 16 and [r.stride for r in dw].count(2) == 4
    assert {r.kernel_size for r in dw} == {3, 5}
    assert all(r.shares is None for r in rows if r.kind == "pointwise")


def test_lite0_strided_depthwise_kernels_are_gaussian_low_pass(lite0_pretrained):
    """Trained strided depthwise kernels blur before downsampling; the same network untrained shows nothing."""
    s1, s2 = kernels.compare_strided(lite0_pretrained)
    assert (s1.stride, s2.stride) == (1, 2) and (s1.layers, s2.layers) == (12, 4)
    assert s2.shares["gaussian"] > 0.6 and s2.shares["gaussian"] > 2 * s1.shares["gaussian"]
    assert s2.mean_low_pass > s1.mean_low_pass + 0.2
    assert s1.shares["other"] < 0.5  # most trained kernels resemble a template

    import effnets

    for s in kernels.compare_strided(effnets.build_model("efficientnet_lite0")):  # random init
        assert s.shares["other"] > 0.95
        assert s.mean_low_pass == pytest.approx(math.pi * 0.25**2, abs=0.03)


# ----- what the Kernel Gallery says about a layer -------------------------------------------------------------------


def test_default_layer_is_the_first_strided_depthwise_else_the_first():
    rows = kernels.layer_shares(_TinyNet())
    chosen = kernels.default_layer(rows)
    position = [r.name for r in rows].index(chosen)
    assert rows[position].kind == "depthwise" and rows[position].stride > 1
    assert not any(r.kind == "depthwise" and r.stride > 1 for r in rows[:position])
    unstrided = [r for r in rows if not (r.kind == "depthwise" and r.stride > 1)]
    assert kernels.default_layer(unstrided) == unstrided[0].name


def test_layer_labels_give_position_kind_kernel_and_stride():
    rows = kernels.layer_shares(_TinyNet())
    labels = kernels.layer_labels(rows)
    assert list(labels) == [r.name for r in rows]
    for position, r in enumerate(rows, 1):
        head, name = labels[r.name].split(" · ")
        number, kind, kernel, *stride = head.split(" ")
        assert (number, kind, name) == (f"{position}.", r.kind, r.name)
        assert kernel == f"{r.kernel_size}x{r.kernel_size}"
        assert stride == ([f"s{r.stride}"] if r.stride > 1 else [])
    wide = kernels.LayerKernels("odd", "regular", 1, (3, 1), 4, 4, 1, 16, None, None)
    assert kernels.layer_labels([wide])["odd"] == "1. regular (3, 1) · odd"  # a non-square kernel as its shape


def test_layer_and_family_sentences_carry_the_numbers():
    row = kernels.LayerKernels("blocks.1", "depthwise", 2, 3, 1280, 1280, 1280, 12345, None, None)
    text = kernels.layer_sentence(row, "random init")
    assert "1280 → 1280 channels" in text and "stride 2, groups 1280" in text
    assert f"{row.count:,} spatial kernels" in text and text.endswith("Weights: **random init**.")
    shares = {"gaussian": 0.625, "edge": 0.25, "identity": 0.125}  # 'other' missing: shown as 0 %
    text = kernels.families_sentence(128, row.count, shares)
    assert text.startswith(f"Showing 128 of {row.count:,} kernels")
    for family in kernels.FAMILIES:
        assert f"**{kernels.FAMILY_LABELS[family]}** {round(100 * shares.get(family, 0))}%" in text
