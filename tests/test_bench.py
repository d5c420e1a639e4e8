"""Interleaved timing: statistics and call order with a fake clock; stop and progress; keys and environment; sanity on
a matmul-only module and real models/blocks (no timed assertions)."""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest
import torch
from torch import nn

from effnets.runtime import bench, bench_networks, devices


class FakeClock:
    """Time moves only inside the timed functions, by scripted amounts per variant; every event is logged."""

    def __init__(self, durations_s: dict[str, list[float]]):
        self.now = 50.0
        self.durations = {k: list(v) for k, v in durations_s.items()}
        self.log: list[str] = []

    def clock(self) -> float:
        self.log.append("clock")
        return self.now

    def sync(self) -> None:
        self.log.append("sync")

    def fn(self, label: str):
        def run() -> None:
            self.log.append(label)
            self.now += self.durations[label].pop(0)

        return run


def variants(fc: FakeClock, labels=("A", "B", "C"), batch=1) -> list[bench.Variant]:
    return [bench.Variant(label, fc.fn(label), batch_size=batch, macs=1_000_000) for label in labels]


def test_interleaved_rounds_statistics_and_order():
    warm = {"A": [0.5], "B": [0.4], "C": [0.3]}
    timed = {
        "A": [0.010, 0.012, 0.011, 0.030, 0.009],
        "B": [0.020, 0.021, 0.019, 0.022, 0.020],
        "C": [0.005, 0.006, 0.004, 0.005, 0.050],
    }
    fc = FakeClock({k: warm[k] + timed[k] for k in warm})
    run = bench.run_interleaved(variants(fc, batch=2), warmup=1, repeats=5, clock=fc.clock, sync=fc.sync)
    # A B C A B C ..., never A A A
    calls = [e for e in fc.log if e in "ABC"]
    assert calls == ["A", "B", "C"] * 6
    assert [o[0] for o in run.order] == calls
    assert [o[1] for o in run.order] == ["warmup"] * 3 + ["timed"] * 15
    # each call between two syncs, the clock read right after the first and right after the second
    assert fc.log[:5] == ["sync", "clock", "A", "sync", "clock"]
    assert not run.partial
    for r in run.results:
        ms = [d * 1e3 for d in timed[r.label]]
        assert r.timing.samples == pytest.approx(ms)
        assert r.timing.warmup_ms == pytest.approx([warm[r.label][0] * 1e3])
        assert r.median_ms == pytest.approx(np.median(ms))
        assert r.p10_ms == pytest.approx(np.percentile(ms, 10))
        assert r.p90_ms == pytest.approx(np.percentile(ms, 90))
        assert r.images_per_s == pytest.approx(2e3 / np.median(ms))
        assert r.gmacs_per_s == pytest.approx(1e6 / (np.median(ms) * 1e-3) / 1e9)
    assert run.result("C").median_ms == pytest.approx(5.0)  # the 50 ms outlier does not move the median
    assert run.ratios("A") == pytest.approx({"A": 1.0, "B": 20.0 / 11.0, "C": 5.0 / 11.0})
    rows = run.rows("A")
    assert [r["label"] for r in rows] == ["A", "B", "C"] and rows[1]["ratio"] == pytest.approx(20 / 11)
    assert rows[0]["samples"] == 5


def test_rotated_rounds_change_who_goes_first():
    fc = FakeClock({k: [0.001] * 3 for k in "ABC"})
    bench.run_interleaved(variants(fc), warmup=0, repeats=3, clock=fc.clock, sync=fc.sync, rotate=True)
    assert [e for e in fc.log if e in "ABC"] == list("ABCBCACAB")


def test_progress_reports_every_call():
    fc = FakeClock({k: [0.001] * 5 for k in "AB"})
    seen = []
    bench.run_interleaved(
        variants(fc, "AB"), warmup=2, repeats=3, clock=fc.clock, sync=fc.sync, progress=lambda d, t: seen.append((d, t))
    )
    assert seen == [(i, 10) for i in range(11)]


@pytest.mark.parametrize("kind", ["callable", "event"])
def test_stop_returns_what_it_has_flagged_partial(kind):
    fc = FakeClock({k: [0.002] * 10 for k in "AB"})
    event = threading.Event()
    calls = []

    def progress(done, total):
        calls.append(done)
        if done == 6:  # 2 warm-up calls + 2 full rounds
            event.set()

    stop = event if kind == "event" else event.is_set
    run = bench.run_interleaved(
        variants(fc, "AB"), warmup=1, repeats=4, clock=fc.clock, sync=fc.sync, progress=progress, stop=stop
    )
    assert run.partial and all(r.partial for r in run.results)
    assert len(run.order) == 6 and calls[-1] == 6
    assert [len(r.timing.samples) for r in run.results] == [2, 2]
    assert run.result("A").median_ms == pytest.approx(2.0)


def test_stop_before_any_timed_call_gives_no_timing():
    fc = FakeClock({k: [0.002] * 10 for k in "AB"})
    run = bench.run_interleaved(variants(fc, "AB"), warmup=2, repeats=3, clock=fc.clock, stop=lambda: True)
    assert run.partial and run.order == []
    assert all(r.timing is None and r.median_ms is None and r.gmacs_per_s is None for r in run.results)
    assert run.ratios("A") == {"A": None, "B": None}
    assert run.to_dict()["results"][0]["samples"] == []


def test_run_interleaved_rejects_bad_input():
    fc = FakeClock({"A": []})
    with pytest.raises(ValueError, match="at least one variant"):
        bench.run_interleaved([])
    with pytest.raises(ValueError, match="unique; repeated: A"):
        bench.run_interleaved(variants(fc, "AA"))
    with pytest.raises(ValueError, match="repeats >= 1"):
        bench.run_interleaved(variants(fc, "A"), repeats=0)
    run = bench.run_interleaved(variants(FakeClock({"A": [0.1]}), "A"), warmup=0, repeats=1, clock=lambda: 1.0)
    with pytest.raises(ValueError, match="no variant 'Z' in this run"):
        run.result("Z")


def test_config_key_is_stable_and_names_what_differs():
    a = bench.config_key("cpu", model="mobilenet_v2", batch=1, resolution=224, channels_last=False)
    assert a == bench.config_key("cpu", channels_last=False, resolution=224, batch=1, model="mobilenet_v2")
    assert a != bench.config_key("cpu", model="mobilenet_v2", batch=2, resolution=224, channels_last=False)
    data = json.loads(a)
    assert data["device"] == "cpu" and data["threads"] == torch.get_num_threads()
    assert data["torch"] == torch.__version__ and data["device_name"] == devices.device_name("cpu")
    with bench.num_threads(1):
        assert json.loads(bench.config_key("cpu", model="mobilenet_v2"))["threads"] == 1
    assert torch.get_num_threads() == data["threads"]  # restored
    json.loads(bench.config_key("cpu", shape=(1, 2), obj=object()))  # tuples and odd objects still serialise


def test_environment_is_attached_to_every_result():
    fc = FakeClock({k: [0.001] * 2 for k in "AB"})
    vs = variants(fc, "AB")
    vs[1].precision, vs[1].channels_last, vs[1].resolution = "bf16", True, 160
    run = bench.run_interleaved(vs, warmup=0, repeats=2, clock=fc.clock)
    a, b = run.results
    for r in (a, b):
        assert {"device", "device_name", "threads", "torch", "precision", "layout", "batch", "resolution"} <= set(
            r.environment
        )
    assert (a.environment["precision"], a.environment["layout"]) == ("fp32", "contiguous (NCHW)")
    assert (b.environment["precision"], b.environment["layout"], b.environment["resolution"]) == (
        "bf16",
        "channels_last (NHWC)",
        160,
    )
    assert a.key != b.key and json.loads(b.key)["precision"] == "bf16"
    d = b.to_dict()
    assert {"median_ms", "p10_ms", "p90_ms", "images_per_s", "environment", "compile_s", "key"} <= set(d)


# ----- real work, known cost -------------------------------------------------------------------------------------


class MatMul(nn.Module):
    """y = x @ W: exactly n * k * m multiply-accumulates for an n x k input and a k x m weight, nothing else."""

    def __init__(self, k: int, m: int):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(k, m))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x @ self.weight


def test_matmul_module_sanity():
    from torch.utils.flop_counter import FlopCounterMode

    small, big = MatMul(128, 128), MatMul(128, 512)
    x = torch.randn(64, 128)
    known = {"small": 64 * 128 * 128, "big": 64 * 128 * 512}
    for name, m in (("small", small), ("big", big)):
        with FlopCounterMode(display=False) as fcm:
            m(x)
        assert fcm.get_total_flops() == 2 * known[name]  # the cost we claim is the cost torch counts
    vs = [
        bench.Variant("small", lambda: small(x), macs=known["small"]),
        bench.Variant("big", lambda: big(x), macs=known["big"]),
    ]
    run = bench.run_interleaved(vs, warmup=1, repeats=5)
    for r in run.results:
        assert len(r.timing.samples) == 5 and all(s > 0 for s in r.timing.samples)
        assert r.p10_ms <= r.median_ms <= r.p90_ms
        assert r.gmacs_per_s == pytest.approx(known[r.label] / (r.median_ms * 1e-3) / 1e9)
    assert [o[0] for o in run.order] == ["small", "big"] * 6


def test_bench_models_interleaves_and_reports_failures_per_model():
    run = bench_networks.bench_models(
        ["mobilenet_v2", "squeezenet1_1", "nope"], resolution=64, warmup=1, repeats=2, pretrained=False
    )
    assert [r.label for r in run.results] == ["mobilenet_v2", "squeezenet1_1", "nope"]
    mv2, sq, nope = run.results
    assert nope.timing is None and "unknown model 'nope'" in nope.error
    assert [o[0] for o in run.order] == ["mobilenet_v2", "squeezenet1_1"] * 3
    from effnets.models import MODELS

    spec = MODELS["mobilenet_v2"].make_spec(resolution=64)
    assert mv2.macs == MODELS["mobilenet_v2"].cost(spec).macs
    assert mv2.config["path"] == "fast" and mv2.info["folded_bn"] == 52 and mv2.environment["resolution"] == 64
    assert sq.timing is not None and len(sq.timing.samples) == 2


def test_bench_block_eager_and_fast():
    r = bench_networks.bench_block(
        "depthwise_separable", {"out_channels": 32}, (16, 20, 20), warmup=1, repeats=2, batch=2
    )
    import effnets

    assert r.macs == 2 * effnets.block_cost("depthwise_separable", (16, 20, 20), out_channels=32).macs
    assert r.config["path"] == "eager" and r.config["input_shape"] == [16, 20, 20]
    assert r.environment["batch"] == 2 and r.timing.batch_size == 2
    f = bench_networks.bench_block("mbconv", None, None, eager=False, warmup=0, repeats=1)
    assert f.config["path"] == "fast" and f.config["input_shape"] == [32, 56, 56] and f.info["folded_bn"] == 3
    with pytest.raises(ValueError, match="in_channels=8 disagrees with the input's 16 channels"):
        bench_networks.block_variant("standard", {"in_channels": 8}, (16, 8, 8))
    with pytest.raises(ValueError, match="batch=0 must be at least 1"):
        bench_networks.block_variant("standard", None, (16, 8, 8), batch=0)
    with pytest.raises(ValueError, match="--compile applies to the fast path"):
        bench_networks.model_variant("mobilenet_v2", resolution=32, eager=True, compile=True, pretrained=False)
    with pytest.raises(ValueError, match="resolution=4 is too small"):
        bench_networks.model_variant("mobilenet_v2", resolution=4)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_models_interleaved_with_sync():
    run = bench_networks.bench_models(
        ["efficientnet_lite0", "mobilenet_v2"], device="cuda", precision="fp16", channels_last=True, repeats=5
    )
    for r in run.results:
        assert r.timing is not None and r.environment["device"].startswith("cuda")
        assert r.environment["precision"] == "fp16" and r.environment["device_name"] == torch.cuda.get_device_name()
        assert r.info["device"].startswith("cuda") and r.info["pointwise_matmuls"] == 0
    eager = bench_networks.bench_model("efficientnet_lite0", device="cuda", eager=True, repeats=5)
    assert eager.config["path"] == "eager" and eager.median_ms > 0
