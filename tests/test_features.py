"""Feature maps from shared models without mutating them; layer similarity (linear CKA)."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import torch
from torch import nn
from torchvision.models import mobilenet_v2

import effnets
from effnets.runtime import features


def _snapshot(model: nn.Module) -> dict:
    return {
        "state": {k: v.clone() for k, v in model.state_dict().items()},
        "hooks": {n: (len(m._forward_hooks), len(m._forward_pre_hooks)) for n, m in model.named_modules()},
        "training": {n: m.training for n, m in model.named_modules()},
        "ptrs": {k: v.data_ptr() for k, v in model.state_dict().items()},
    }


def _assert_unchanged(model: nn.Module, snap: dict) -> None:
    now = _snapshot(model)
    assert now["hooks"] == snap["hooks"]
    assert now["training"] == snap["training"]
    assert now["ptrs"] == snap["ptrs"]
    assert now["state"].keys() == snap["state"].keys()
    for k, v in now["state"].items():
        assert torch.equal(v, snap["state"][k]), k


@pytest.fixture(scope="module")
def mnv2() -> nn.Module:
    torch.manual_seed(0)
    return mobilenet_v2(weights=None).eval()


def test_feature_maps_equal_a_manual_forward(mnv2):
    x = torch.randn(2, 3, 96, 96)
    snap = _snapshot(mnv2)
    got = features.feature_maps(mnv2, x, "features.3")
    with torch.no_grad():
        expected = mnv2.features[:4](x)
    assert got.shape == (2, 24, 24, 24)
    assert torch.allclose(got, expected, atol=1e-6)
    _assert_unchanged(mnv2, snap)


def test_inner_layer_before_an_inplace_relu_is_not_overwritten(mnv2):
    x = torch.randn(1, 3, 64, 64)
    conv_out = features.feature_maps(mnv2, x, "features.0.0")  # features.0 = conv, BN, ReLU6(inplace)
    bn_out = features.feature_maps(mnv2, x, "features.0.1")
    with torch.no_grad():
        expected_conv = mnv2.features[0][0](x)
        expected_bn = mnv2.features[0][1](expected_conv)
    assert torch.allclose(conv_out, expected_conv, atol=1e-6)
    assert torch.allclose(bn_out, expected_bn, atol=1e-6)
    assert bn_out.min() < 0  # the in-place ReLU6 that follows did not clip the captured tensor


def test_train_mode_model_is_left_in_train_mode_and_its_bn_stats_untouched():
    torch.manual_seed(0)
    model = mobilenet_v2(weights=None).train()
    snap = _snapshot(model)
    x = torch.randn(2, 3, 64, 64)
    got = features.feature_maps(model, x, "features.2")
    _assert_unchanged(model, snap)  # running_mean/var and num_batches_tracked unchanged, still training
    model.eval()
    with torch.no_grad():
        assert torch.allclose(got, model.features[:3](x), atol=1e-6)  # computed in eval mode


def test_private_copy_shares_tensors_but_not_modules(mnv2):
    c = features.private_copy(mnv2)
    assert c is not mnv2 and c.features[0] is not mnv2.features[0]
    assert all(a is b for a, b in zip(c.parameters(), mnv2.parameters(), strict=True))
    assert all(a is b for a, b in zip(c.buffers(), mnv2.buffers(), strict=True))
    c.train()
    c.features[0].register_forward_hook(lambda *a: None)
    assert not mnv2.training and len(mnv2.features[0]._forward_hooks) == 0


def test_several_layers_in_one_pass_and_errors(mnv2):
    x = torch.randn(1, 3, 64, 64)
    maps = features.feature_maps_many(mnv2, x, ["features.1", "features.5", "classifier.1"])
    assert maps["features.1"].shape == (1, 16, 32, 32)
    assert maps["classifier.1"].shape == (1, 1000)
    with torch.no_grad():
        assert torch.allclose(maps["classifier.1"], mnv2(x), atol=1e-5)
    with pytest.raises(ValueError, match=r"'features\.99' is not a layer of this model"):
        features.feature_maps(mnv2, x, "features.99")
    with pytest.raises(ValueError, match="N x C x H x W"):
        features.feature_maps(mnv2, torch.randn(64, 64), "features.1")


def test_shape_dependent_modules_work():
    """TF 'SAME' padding reads the input's shape in forward: an FX trace would fail; the private copy does not."""
    block = effnets.build_block("mbconv", in_channels=8, out_channels=8, stride=2, tf_padding=True, kernel_size=5)
    shuffle = effnets.build_block("shuffle_v2", in_channels=16, out_channels=16)
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), block, nn.Conv2d(8, 16, 1), shuffle).eval()
    snap = _snapshot(model)
    x = torch.randn(1, 3, 31, 31)
    names = [layer.name for layer in features.list_layers(model)]
    pad = next(n for n in names if n.startswith("1.") and type(dict(model.named_modules())[n]).__name__ == "TFSamePad")
    padded = features.feature_maps(model, x, pad)
    assert padded.shape[-2:] == (31 + 4, 31 + 4)  # 5x5 stride 2 on 31: 2 + 2
    out = features.feature_maps(model, x, "3")
    with torch.no_grad():
        assert torch.allclose(out, model(x), atol=1e-6)
    _assert_unchanged(model, snap)


def test_list_layers_with_shapes(mnv2):
    snap = _snapshot(mnv2)
    rows = features.list_layers(mnv2, input_shape=(3, 64, 64))
    by_name = {r.name: r for r in rows}
    assert rows[0].name == "features" and rows[0].depth == 1 and not rows[0].leaf
    assert by_name["features.0.0"].type == "Conv2d" and by_name["features.0.0"].leaf
    assert by_name["features.0.0"].params == 3 * 32 * 9
    assert by_name["features.0"].output_shape == (32, 32, 32)
    assert by_name["features.18"].output_shape == (1280, 2, 2)
    assert by_name["classifier.1"].output_shape == (1000,)
    assert features.list_layers(mnv2)[0].output_shape is None
    _assert_unchanged(mnv2, snap)


def test_concurrent_calls_on_one_shared_model(mnv2):
    x = torch.randn(1, 3, 64, 64)
    layers = ["features.2", "features.4", "features.6", "features.8"]
    expected = {name: features.feature_maps(mnv2, x, name) for name in layers}
    results: dict[str, torch.Tensor] = {}
    errors: list[BaseException] = []

    def work(name):
        try:
            results[name] = features.feature_maps(mnv2, x, name)
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(n,)) for n in layers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    for name in layers:
        assert torch.equal(results[name], expected[name]), name


# ----- similarity ------------------------------------------------------------------------------------------------


def test_linear_cka_properties():
    torch.manual_seed(0)
    a = torch.randn(500, 20)
    q, _ = torch.linalg.qr(torch.randn(20, 20))
    assert features.linear_cka(a, a) == pytest.approx(1.0)
    assert features.linear_cka(a, 3.0 * a @ q) == pytest.approx(1.0)  # rotation + uniform scale
    assert features.linear_cka(a, a[:, torch.randperm(20)]) == pytest.approx(1.0)  # channel order
    assert features.linear_cka(a, torch.randn(500, 30)) < 0.1
    assert features.linear_cka(a, a + 0.1 * torch.randn(500, 20)) > 0.95
    with pytest.raises(ValueError, match="same number of rows"):
        features.linear_cka(a, torch.randn(10, 20))


def test_adjacent_similarity_identity_layers_and_pooling():
    torch.manual_seed(0)
    conv = nn.Conv2d(3, 8, 3, padding=1)
    model = nn.Sequential(conv, nn.Identity(), nn.AvgPool2d(2), nn.Conv2d(8, 8, 1), nn.ReLU()).eval()
    sims = features.adjacent_similarity(model, torch.randn(2, 3, 16, 16), ["0", "1", "2", "3"])
    assert [(s.a, s.b) for s in sims] == [("0", "1"), ("1", "2"), ("2", "3")]
    assert sims[0].cka == pytest.approx(1.0) and not sims[0].pooled
    assert sims[1].pooled and sims[1].shape_a == (8, 16, 16) and sims[1].shape_b == (8, 8, 8)
    assert sims[1].cka == pytest.approx(1.0)  # average pooling is exactly what the comparison does
    assert 0.0 < sims[2].cka < 1.0
    with pytest.raises(ValueError, match="at least two layers"):
        features.adjacent_similarity(model, torch.randn(1, 3, 8, 8), ["0"])


def test_feature_grid():
    fmap = torch.arange(5 * 4 * 3, dtype=torch.float32).reshape(1, 5, 4, 3)
    fmap[0, 2] = 7.0  # a constant channel
    grid = features.feature_grid(fmap, max_channels=4, columns=3)
    assert grid.shape == (2 * 5 - 1, 3 * 4 - 1)
    assert np.nanmin(grid) == 0.0 and np.nanmax(grid) == 1.0
    assert np.isnan(grid[4, 0]) and np.isnan(grid[0, 3])
    assert (grid[0:4, 8:11] == 0).all()  # constant channel drawn as 0


def test_lite0_residual_blocks_keep_their_input_similar():
    """VGNet's reason for half-identity blocks, on real weights: a stride-1 residual block changes its input little."""
    from effnets.runtime import images, preprocessing, weights

    model, _ = weights.load_model("efficientnet_lite0")
    snap = _snapshot(model)
    tf = weights.eval_transform("efficientnet_lite0")
    x = preprocessing.preprocess(
        images.sample_image("chelsea"), tf.resize, tf.crop, tf.normalization, interpolation=tf.interpolation
    )
    blocks = [layer.name for layer in features.list_layers(model) if layer.type == "MBConv"]
    assert len(blocks) == 16
    sims = features.adjacent_similarity(model, x.tensor, blocks)
    residual = [s.cka for s in sims if s.shape_a == s.shape_b]
    transition = [s.cka for s in sims if s.shape_a != s.shape_b]
    assert len(residual) == 9 and len(transition) == 6
    assert min(residual) > 0.8
    assert sum(residual) / len(residual) > sum(transition) / len(transition) + 0.1
    _assert_unchanged(model, snap)


def test_layer_picker_labels_defaults_and_blocks(mnv2):
    rows = [
        r for r in features.list_layers(mnv2, input_shape=(3, 64, 64)) if r.output_shape and len(r.output_shape) == 3
    ]
    for r in rows:  # the label names the layer, its class and its output shape, read back
        name, rest = r.label.split("  (")
        kind, shape = rest.rstrip(")").split(", ")
        assert (name, kind, tuple(int(d) for d in shape.split("x"))) == (r.name, r.type, r.output_shape)
    assert features.default_layer(rows) == rows[3].name
    assert features.default_layer(rows[:2]) == rows[1].name  # fewer than four: the last
    blocks = features.block_layers(rows)
    assert blocks == tuple(r.name for r in rows if r.name.count(".") == 1)[:40]
    assert blocks[:2] == ("features.0", "features.1") and len(features.block_layers(rows, limit=3)) == 3


def test_similarity_label_names_both_layers():
    s = features.LayerSimilarity("features.3", "features.4", 0.9, (8, 4, 4), (8, 4, 4), False)
    assert s.label == "features.3→4"
    assert features.LayerSimilarity("a", "b", 0.5, (1,), (1,), True).label == "a→b"
