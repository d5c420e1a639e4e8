"""The fast path computes the same function: logits within float tolerance and identical top-5, for real Lite0 weights
and for random-init networks whose batch norms carry random statistics; the original model is never modified."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from effnets.blocks._layers import TFSamePad
from effnets.runtime import fastpath, inference, weights

HAS_CUDA = torch.cuda.is_available()
gpu = pytest.mark.gpu
needs_cuda = pytest.mark.skipif(not HAS_CUDA, reason="needs a CUDA GPU")


def randomise_bn(model: nn.Module, seed: int = 0) -> nn.Module:
    """Random BN statistics and affine parameters, so that folding is not the near-identity of a fresh init."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                c = m.num_features
                m.running_mean.copy_(torch.randn(c, generator=g) * 0.2)
                m.running_var.copy_(torch.rand(c, generator=g) * 1.5 + 0.3)
                m.weight.copy_(torch.rand(c, generator=g) + 0.5)
                m.bias.copy_(torch.randn(c, generator=g) * 0.2)
    return model.eval()


def snapshot(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.state_dict().items()}


def assert_same_function(ref: nn.Module, x: torch.Tensor, **kw) -> tuple[fastpath.FastModel, fastpath.FastPathInfo]:
    before = snapshot(ref)
    fast, info = fastpath.fast_model(ref, x, **kw)
    with torch.no_grad():
        want = ref(x)
    got = fast(x)
    scale = want.abs().max().item()
    assert scale > 0.1  # a meaningful comparison, not two near-zero vectors
    assert (got - want).abs().max().item() <= 1e-4 * max(1.0, scale)
    assert torch.equal(got.topk(5, dim=1).indices, want.topk(5, dim=1).indices)
    after = ref.state_dict()
    assert after.keys() == before.keys() and all(torch.equal(after[k], v) for k, v in before.items())
    assert not ref.training
    assert any(isinstance(m, nn.BatchNorm2d) for m in ref.modules())  # still the caller's unfolded model
    return fast, info


@pytest.fixture(scope="module")
def lite0() -> nn.Module:
    model, status = weights.load_model("efficientnet_lite0")
    assert status.status == "packaged"
    return model


@pytest.mark.parametrize(("size", "channels_last", "grown", "static"), [(224, True, 4, 1), (199, False, 2, 0)])
def test_lite0_packaged_weights(lite0, size, channels_last, grown, static):
    x = torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(size))
    fast, info = assert_same_function(lite0, x, channels_last=channels_last)
    assert info.folded_bn == 49 and info.unfolded_bn == 0
    n_pads = sum(isinstance(m, TFSamePad) for m in lite0.modules())
    assert info.pads_into_conv + info.static_pads == n_pads == 17
    # a stride-2 pad is asymmetric (odd pixel bottom/right) where the map is even: at 224 all 5 (224, 112, 56, 28,
    # 14), at 199 two (199, 100, 50, 25, 13). Before a depthwise conv it grows the kernel; before the stem it stays.
    assert info.pads_into_conv == 17 - static and info.static_pads == static and info.grown_kernels == grown
    assert sum(isinstance(m, nn.ZeroPad2d) for m in fast.modules()) == static
    assert info.fixed_size and info.pointwise_matmuls == (32 if channels_last else 0)


def test_lite0_fast_model_refuses_another_size(lite0):
    fast, info = fastpath.fast_model(lite0, torch.zeros(1, 3, 64, 64))
    assert info.fixed_size and fast.fixed_hw == (64, 64)
    with pytest.raises(ValueError, match="specialised for 64x64 inputs .* got 66x66"):
        fast(torch.zeros(1, 3, 66, 66))
    assert not any(isinstance(m, (TFSamePad, nn.BatchNorm2d)) for m in fast.modules())


@pytest.mark.parametrize(
    ("name", "size", "folded"),
    [("mobilenet_v2", 97, 52), ("regnetx_200mf", 64, 44), ("shufflenet_v2_x0_5", 75, 56)],
)
def test_random_init_registry_models(name, size, folded):
    model, _ = weights.load_model(name, pretrained=False)
    randomise_bn(model, seed=size)
    x = torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(1))
    fast, info = assert_same_function(model, x)
    n_bn = sum(isinstance(m, nn.BatchNorm2d) for m in model.modules())
    assert info.folded_bn == n_bn == folded and info.unfolded_bn == 0
    assert not info.fixed_size  # no TF padding: any input size works
    y = fast(torch.randn(1, 3, size + 5, size + 5))
    assert y.shape == (1, 1000)


def test_bn_after_an_activation_stays_and_is_reported():
    model, _ = weights.load_model("vgnetg_1_0mp", pretrained=False)
    randomise_bn(model)
    _, info = assert_same_function(model, torch.randn(1, 3, 64, 64))
    assert info.unfolded_bn > 0 and any("do not directly follow a conv" in n for n in info.notes)


def test_attribute_style_conv_bn_folded_by_tracing():
    import torchvision

    model = randomise_bn(torchvision.models.resnet18(weights=None))  # conv1/bn1 are attributes, not a Sequential
    _, info = assert_same_function(model, torch.randn(1, 3, 64, 64), channels_last=False)
    assert info.folded_bn == 20 and info.unfolded_bn == 0


@pytest.mark.parametrize(
    "conv",
    [
        nn.Conv2d(8, 16, 3, padding=1, bias=False),
        nn.Conv2d(8, 16, 3, padding=1, bias=True),
        nn.Conv2d(8, 16, 3, padding=1, groups=4, bias=True),
        nn.Conv2d(8, 8, 5, padding=2, groups=8, bias=False),
    ],
    ids=["no-bias", "bias", "grouped", "depthwise"],
)
def test_fold_bn_into_conv_exact(conv):
    bn = nn.BatchNorm2d(conv.out_channels, eps=1e-3)
    ref = randomise_bn(nn.Sequential(conv, bn))
    x = torch.randn(2, 8, 9, 9)
    with torch.no_grad():
        want = ref(x)
        fastpath.fold_bn_into_conv(conv, bn)
        got = conv(x)
    assert conv.bias is not None and (got - want).abs().max().item() < 1e-5


def test_pointwise_matmul_equals_the_conv_in_both_layouts():
    conv = nn.Conv2d(12, 20, 1, bias=True)
    pw = fastpath.Pointwise(conv)
    x = torch.randn(2, 12, 7, 5)
    with torch.no_grad():
        want = conv(x)
        nhwc = pw(x.contiguous(memory_format=torch.channels_last))
        nchw = pw(x)
    assert nhwc.is_contiguous(memory_format=torch.channels_last)
    assert torch.allclose(nhwc, want, atol=1e-5) and torch.allclose(nchw, want, atol=1e-5)
    with pytest.raises(ValueError, match="only 1x1 convs with stride 1"):
        fastpath.Pointwise(nn.Conv2d(4, 4, 1, stride=2))


def test_fast_model_runs_in_inference_mode_and_converts_the_input(lite0):
    fast, info = fastpath.fast_model(lite0, torch.zeros(3, 32, 32), channels_last=True)  # C x H x W example
    assert info.input_shape == (1, 3, 32, 32)
    y = fast(torch.zeros(1, 3, 32, 32, dtype=torch.float64))
    assert y.is_inference() and y.dtype == torch.float32
    assert fast.inference_config == inference.InferenceConfig("cpu", "fp32", True)
    assert inference.predict_logits(fast, torch.zeros(1, 3, 32, 32)).shape == (
        1,
        1000,
    )  # works with the inference helpers
    assert info.to_dict()["folded_bn"] == 49


def test_fast_model_refuses_bad_arguments(lite0):
    with pytest.raises(ValueError, match="precision 'fp16' is not available on cpu"):
        fastpath.fast_model(lite0, torch.zeros(1, 3, 32, 32), precision="fp16")
    with pytest.raises(ValueError, match="precision 'fp8' is not one of"):
        fastpath.fast_model(lite0, torch.zeros(1, 3, 32, 32), precision="fp8")
    with pytest.raises(ValueError, match="example_input must be N x C x H x W"):
        fastpath.fast_model(lite0, torch.zeros(32, 32))


@pytest.mark.slow
def test_compiled_fast_path_same_function_and_compile_time_reported(lite0):
    x = torch.randn(1, 3, 96, 96)
    fast, info = fastpath.fast_model(lite0, x, compile=True)
    assert info.compiled and info.compile_s is not None and info.compile_s > 0
    with torch.no_grad():
        want = lite0(x)
    got = fast(x)
    assert (got - want).abs().max().item() < 1e-3
    assert torch.equal(got.topk(5).indices, want.topk(5).indices)


# ----- GPU (run with: python3 -m pytest -m gpu) ---------------------------------------------------------------------


@gpu
@needs_cuda
def test_cuda_fast_path_matches_cpu_logits(lite0):
    x = torch.randn(4, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        cpu = lite0(x)
    prev = (torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32)
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    try:
        fast, info = fastpath.fast_model(lite0, x, device="cuda", channels_last=True)
        got = fast(x).float().cpu()
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = prev
    assert info.device.startswith("cuda") and info.pointwise_matmuls == 0  # the GEMM rewrite is for CPUs
    assert (got - cpu).abs().max().item() < 1e-3
    assert torch.equal(got.topk(5).indices, cpu.topk(5).indices)


@gpu
@needs_cuda
def test_cuda_fp16_fast_path_keeps_top1(lite0):
    from effnets.runtime import images, preprocessing

    t = weights.eval_transform("efficientnet_lite0")
    batch = preprocessing.preprocess_batch(list(images.sample_images().values()), t.resize, t.crop, t.normalization,
                                    t.interpolation)  # fmt: skip
    with torch.no_grad():
        fp32 = lite0(batch)
    fast, _ = fastpath.fast_model(lite0, batch, device="cuda", precision="fp16", channels_last=True)
    half = fast(batch).float().cpu()
    assert (half - fp32).abs().max().item() < 0.1  # measured fp16 error on an H100 is ~0.05 (test_inference)
    decided = (fp32.topk(2).values[:, 0] - fp32.topk(2).values[:, 1]) > 0.2
    assert decided.sum() >= 5 and torch.equal(half.argmax(1)[decided], fp32.argmax(1)[decided])
