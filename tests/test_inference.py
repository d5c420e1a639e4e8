"""Devices, precisions, prepared copies, top-k classification, timing with a fake clock; GPU checks (marked gpu)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from effnets.runtime import devices, imagenet, images, inference, preprocessing, timing, weights

HAS_CUDA = torch.cuda.is_available()
gpu = pytest.mark.gpu
needs_cuda = pytest.mark.skipif(not HAS_CUDA, reason="needs a CUDA GPU")


@pytest.fixture(scope="module")
def lite0():
    model, status = weights.load_model("efficientnet_lite0")
    assert status.status == "packaged"
    return model


@pytest.fixture(scope="module")
def batch() -> torch.Tensor:
    t = weights.eval_transform("efficientnet_lite0")
    imgs = [images.sample_image("chelsea"), images.sample_image("coffee")]
    return preprocessing.preprocess_batch(imgs, t.resize, t.crop, t.normalization, t.interpolation)


@pytest.fixture(scope="module")
def samples() -> torch.Tensor:
    """All bundled sample photos: some have a clear winner (coffee), some a near tie (chelsea: two cat classes)."""
    t = weights.eval_transform("efficientnet_lite0")
    imgs = list(images.sample_images().values())
    return preprocessing.preprocess_batch(imgs, t.resize, t.crop, t.normalization, t.interpolation)


def assert_same_top1_where_decided(ref: torch.Tensor, other: torch.Tensor, tol: float) -> int:
    """Reduced precision moves every logit by less than ``tol``; then the top-1 class cannot change for an image
    whose two best fp32 logits are more than 2 * tol apart, and must stay among the fp32 top 3 for every image.
    Returns how many images were decided (so a test can require some)."""
    assert (other - ref).abs().max().item() < tol
    top2 = ref.topk(2, dim=1).values
    decided = (top2[:, 0] - top2[:, 1]) > 2 * tol
    assert torch.equal(other.argmax(1)[decided], ref.argmax(1)[decided])
    top3 = ref.topk(3, dim=1).indices
    assert (top3 == other.argmax(1, keepdim=True)).any(1).all()
    return int(decided.sum())


# ----- ImageNet names ------------------------------------------------------------------------------------------


def test_imagenet_categories():
    names = imagenet.categories()
    assert len(names) == 1000 and len(set(names)) == 1000  # torchvision disambiguates e.g. the two 'crane's
    assert [imagenet.label(i) for i in sorted(imagenet.CAT_INDICES)] == [
        "tabby",
        "tiger cat",
        "Persian cat",
        "Siamese cat",
        "Egyptian cat",
    ]
    assert imagenet.index_of("Espresso") == 967 and imagenet.label(968) == "cup"
    with pytest.raises(ValueError, match="outside 0..999"):
        imagenet.label(1000)
    with pytest.raises(ValueError, match="'unicorn' is not an ImageNet class name"):
        imagenet.index_of("unicorn")


# ----- devices and precisions -------------------------------------------------------------------------------------


def test_pick_device_auto_prefers_cuda_then_mps_then_cpu():
    dev, reason = devices.pick_device("auto")
    if HAS_CUDA:
        assert dev.type == "cuda" and reason.startswith("auto: CUDA GPU found")
    elif devices.available_devices()["mps"] is None:
        assert dev.type == "mps"
    else:
        assert dev == torch.device("cpu") and reason == "auto: no CUDA GPU or Apple GPU (MPS) here, so the CPU"
    assert devices.pick_device("cpu")[0] == torch.device("cpu")


@pytest.mark.skipif(HAS_CUDA, reason="CUDA is present here")
def test_asking_for_absent_cuda_says_why():
    with pytest.raises(ValueError, match=r"device 'cuda' is not available here: .*Use 'auto' or 'cpu'"):
        devices.pick_device("cuda")


def test_asking_for_absent_or_unknown_devices():
    if devices.available_devices()["mps"] is not None:
        with pytest.raises(ValueError, match="device 'mps' is not available here: .*Apple"):
            devices.pick_device("mps")
    with pytest.raises(ValueError, match="device 'tpu' is not one of auto, cpu, cuda, mps"):
        devices.pick_device("tpu")
    with pytest.raises(ValueError, match="device 'cpu:1' is not one of"):
        devices.pick_device("cpu:1")


def test_cpu_precisions():
    rows = {p.precision: p for p in devices.precision_support("cpu")}
    assert list(rows) == ["fp32", "fp16", "bf16"]
    assert rows["fp32"].supported
    assert not rows["fp16"].supported and "try bf16" in rows["fp16"].reason
    assert rows["bf16"].reason  # supported or not, it says why
    assert devices.supported_precisions("cpu")[0] == "fp32"
    assert ("bf16" in devices.supported_precisions("cpu")) == rows["bf16"].supported


def test_a_cpus_name_carries_the_thread_count_a_measurement_runs_at():
    assert devices.device_name("cpu", 3).endswith(", 3 threads)")
    assert devices.device_name("cpu", 1).endswith(", 1 thread)")
    assert devices.device_name("cpu") == devices.device_name("cpu", torch.get_num_threads())


def test_environment_fields():
    env = devices.environment("cpu")
    assert env["device"] == "cpu" and env["threads"] == torch.get_num_threads() and env["torch"] == torch.__version__


# ----- prepare ----------------------------------------------------------------------------------------------------


def test_prepare_never_touches_the_callers_model(lite0):
    before = {k: v.clone() for k, v in lite0.state_dict().items()}
    lite0.train()
    try:
        prepared = inference.prepare(lite0, "cpu", "fp32", channels_last=True)
        assert lite0.training
        assert all(p.requires_grad for p in lite0.parameters())
        assert all(p.dtype == torch.float32 and p.device.type == "cpu" for p in lite0.parameters())
        stem = next(m for m in lite0.modules() if isinstance(m, torch.nn.Conv2d))
        assert stem.weight.is_contiguous()
        for k, v in lite0.state_dict().items():
            assert torch.equal(v, before[k])
            assert v.data_ptr() != prepared.state_dict()[k].data_ptr()
    finally:
        lite0.eval()
    assert not prepared.training and not any(p.requires_grad for p in prepared.parameters())
    assert prepared.inference_config == inference.InferenceConfig("cpu", "fp32", True)
    conv = next(m for m in prepared.modules() if isinstance(m, torch.nn.Conv2d))
    assert conv.weight.is_contiguous(memory_format=torch.channels_last) and not conv.weight.is_contiguous()


def test_prepare_refuses_unsupported_precisions(lite0):
    with pytest.raises(ValueError, match="precision 'fp16' is not available on cpu: float16 is not offered on the CPU"):
        inference.prepare(lite0, "cpu", "fp16")
    with pytest.raises(ValueError, match="precision 'fp8' is not one of fp32, fp16, bf16"):
        inference.prepare(lite0, "cpu", "fp8")


def test_cache_key_names_everything_that_differs():
    a = inference.cache_key("efficientnet_lite0", "packaged", "cpu", "fp32", False)
    assert a == ("efficientnet_lite0", "packaged", "cpu", "fp32", False)
    assert a != inference.cache_key("efficientnet_lite0", "random init", "cpu", "fp32", False)
    assert a != inference.cache_key("efficientnet_lite0", "packaged", "cpu", "fp32", True)
    hash(a)


def test_channels_last_and_fp32_give_the_same_predictions(lite0, batch):
    plain = inference.predict_logits(inference.prepare(lite0, "cpu"), batch)
    nhwc = inference.predict_logits(inference.prepare(lite0, "cpu", channels_last=True), batch)
    assert torch.allclose(plain, nhwc, atol=1e-4)


def test_bf16_on_cpu_keeps_a_clear_top1(lite0, batch):
    if "bf16" not in devices.supported_precisions("cpu"):
        pytest.skip("bf16 does not run on this CPU")
    coffee = batch[1:]  # espresso wins by a wide margin; bf16 moves logits by < 0.5 (bf16 on CPUs without it is slow)
    fp32 = inference.predict_logits(inference.prepare(lite0, "cpu"), coffee)
    bf16 = inference.predict_logits(inference.prepare(lite0, "cpu", "bf16"), coffee)
    assert assert_same_top1_where_decided(fp32, bf16, tol=0.75) == 1


@pytest.mark.slow
def test_bf16_on_cpu_keeps_top1_where_supported(lite0, samples):
    if "bf16" not in devices.supported_precisions("cpu"):
        pytest.skip("bf16 does not run on this CPU")
    fp32 = inference.predict_logits(inference.prepare(lite0, "cpu"), samples)
    bf16 = inference.predict_logits(inference.prepare(lite0, "cpu", "bf16"), samples)
    assert assert_same_top1_where_decided(fp32, bf16, tol=0.75) >= 2  # coffee, camera at least


# ----- classify -----------------------------------------------------------------------------------------------------


def test_classify_returns_sorted_labelled_probabilities(lite0, batch):
    model = inference.prepare(lite0, "cpu")
    results = inference.classify(model, batch, topk=5)
    assert len(results) == 2 and all(len(r) == 5 for r in results)
    for r in results:
        probs = [p.prob for p in r]
        assert probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 1.0 + 1e-6
        assert all(p.label == imagenet.label(p.index) for p in r)
    assert results[0][0].index in imagenet.CAT_INDICES and results[1][0].label == "espresso"
    assert results[1][0].to_dict() == {"label": "espresso", "index": 967, "prob": results[1][0].prob}
    single = inference.classify(model, batch[1], topk=1)  # one C x H x W image
    assert single[0][0].index == 967


def test_top_k_edge_cases():
    logits = torch.tensor([[0.0, 2.0, 1.0]])
    (top,) = inference.top_k(logits, k=10)
    assert [p.label for p in top] == ["class 1", "class 2", "class 0"]
    assert sum(p.prob for p in top) == pytest.approx(1.0)
    assert inference.top_k(logits, 1, labels=["a", "b", "c"])[0][0].label == "b"
    with pytest.raises(ValueError, match="topk=0 must be at least 1"):
        inference.top_k(logits, 0)
    with pytest.raises(ValueError, match="2 labels for a model with 3 outputs"):
        inference.top_k(logits, 1, labels=["a", "b"])


# ----- timing -------------------------------------------------------------------------------------------------------


class FakeClock:
    """Time moves only when the timed function runs, by scripted amounts; every event is logged."""

    def __init__(self, durations_s):
        self.now = 100.0
        self.durations = list(durations_s)
        self.log: list[str] = []

    def clock(self) -> float:
        self.log.append("clock")
        return self.now

    def fn(self) -> None:
        self.log.append("fn")
        self.now += self.durations.pop(0)

    def sync(self) -> None:
        self.log.append("sync")


def test_time_inference_with_a_fake_clock():
    warm = [0.5, 0.2]  # slow first calls: excluded
    timed = [0.010, 0.012, 0.011, 0.030, 0.009, 0.010, 0.011, 0.010, 0.013, 0.010]
    fc = FakeClock(warm + timed)
    t = timing.time_inference(fc.fn, warmup=2, repeats=10, sync=fc.sync, clock=fc.clock, batch_size=4)
    assert t.samples == pytest.approx([d * 1e3 for d in timed])
    assert t.warmup_ms == pytest.approx([500.0, 200.0])
    assert t.median_ms == pytest.approx(10.5)
    assert t.p10_ms == pytest.approx(np.percentile([d * 1e3 for d in timed], 10))
    assert t.p90_ms == pytest.approx(np.percentile([d * 1e3 for d in timed], 90))
    assert t.p10_ms <= t.median_ms <= t.p90_ms < 30.0
    assert t.images_per_s == pytest.approx(4 / 0.0105)
    # every call is bracketed: sync, start clock, work, sync, stop clock
    assert fc.log == ["sync", "clock", "fn", "sync", "clock"] * 12
    keys = {"median_ms", "p10_ms", "p90_ms", "images_per_s", "samples", "warmup_ms", "batch_size", "spread", "busy"}
    assert set(t.to_dict()) == keys
    assert t.to_dict()["spread"] == pytest.approx(t.p90_ms / t.p10_ms) and t.busy == (t.spread > 2.0)


def test_time_inference_validates_counts():
    with pytest.raises(ValueError, match="repeats >= 1"):
        timing.time_inference(lambda: None, repeats=0)
    zero = timing.time_inference(lambda: None, warmup=0, repeats=3, clock=lambda: 1.0)
    assert zero.median_ms == 0.0 and zero.images_per_s == float("inf")


def test_time_model_on_the_cpu(lite0):
    t = inference.time_model(inference.prepare(lite0, "cpu"), torch.randn(1, 3, 64, 64), warmup=1, repeats=3)
    assert len(t.samples) == 3 and len(t.warmup_ms) == 1 and t.batch_size == 1
    assert 0 < t.p10_ms <= t.median_ms <= t.p90_ms
    assert t.images_per_s == pytest.approx(1e3 / t.median_ms)


# ----- GPU (run with: python3 -m pytest -m gpu) ---------------------------------------------------------------------


@gpu
@needs_cuda
def test_cuda_fp32_matches_cpu_logits(lite0, batch):
    cpu = inference.predict_logits(inference.prepare(lite0, "cpu"), batch)
    prev = (torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32)
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    try:
        cuda = inference.predict_logits(inference.prepare(lite0, "cuda"), batch)
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = prev
    assert (cuda - cpu).abs().max().item() < 1e-3
    with_tf32 = inference.predict_logits(
        inference.prepare(lite0, "cuda", channels_last=True), batch
    )  # the default settings
    assert torch.equal(with_tf32.argmax(1), cpu.argmax(1))
    assert (with_tf32 - cpu).abs().max().item() < 0.1


@gpu
@needs_cuda
@pytest.mark.parametrize(("precision", "tol", "decided"), [("fp16", 0.1, 5), ("bf16", 0.75, 2)])
def test_cuda_half_precisions_keep_top1(lite0, samples, precision, tol, decided):
    """Measured on an H100: fp16 moves lite0's logits by at most 0.05, bf16 by at most 0.45 (10 sample photos)."""
    if precision not in devices.supported_precisions("cuda"):
        pytest.skip(f"{precision} is not supported on this GPU")
    prev = torch.backends.cudnn.allow_tf32
    torch.backends.cudnn.allow_tf32 = False
    try:
        fp32 = inference.predict_logits(inference.prepare(lite0, "cuda"), samples)
    finally:
        torch.backends.cudnn.allow_tf32 = prev
    half = inference.predict_logits(inference.prepare(lite0, "cuda", precision, channels_last=True), samples)
    assert assert_same_top1_where_decided(fp32, half, tol) >= decided
    coffee = list(images.SAMPLE_IMAGES).index("coffee")
    assert half[coffee].argmax().item() == 967


@gpu
@needs_cuda
def test_cuda_timing_synchronises(lite0, batch):
    model = inference.prepare(lite0, "cuda", "fp16")
    t = inference.time_model(model, batch, warmup=3, repeats=10)
    assert 0 < t.p10_ms <= t.median_ms <= t.p90_ms and t.batch_size == 2
    assert "fp16" in devices.supported_precisions("cuda")
    dev, reason = devices.pick_device("cuda")
    assert dev.type == "cuda" and torch.cuda.get_device_name(dev) in reason
