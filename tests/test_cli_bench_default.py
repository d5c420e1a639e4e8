"""``python -m effnets bench model NAME`` without ``--backend`` measures this device's default path: the engine a
``--backend all`` comparison remembered as the fastest here (at this thread count), else the fast path; it says which
it measured and why, and ``--eager``/``--fast``/``--compile`` ask for a PyTorch path instead. Small runs in-process."""

from __future__ import annotations

import importlib.util
import json

import pytest
import torch

from effnets.cli import main
from effnets.runtime import backends, bench

ARGS = ["bench", "model", "mobilenet_v2", "--resolution", "32", "--threads", "1", "--warmup", "0", "--repeats", "2",
        "--random-init", "--device", "cpu"]  # fmt: skip


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    """Remembered defaults live in a fresh cache directory, never the user's; torch's thread count is restored."""
    monkeypatch.setenv("EFFNETS_CACHE_DIR", str(tmp_path))
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def remember(default: str, threads: int = 1, ms: float = 4.0) -> None:
    """What ``bench model ... --backend all`` leaves behind on this device at ``threads``: its fastest backend."""
    result = {"default": default, "reason": "r", "backends": [{"label": f"{default} fp32", "median_ms": ms}],
              "environment": {"threads": threads}, "model": "efficientnet_lite0"}  # fmt: skip
    with bench.num_threads(threads):
        assert backends.remember_default("cpu", result)


def bench_json(capsys, *extra: str) -> dict:
    assert main([*ARGS, *extra, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_nothing_measured_here_measures_the_fast_path_and_says_so(capsys):
    d = bench_json(capsys)
    assert (d["backend"], d["path"]) == ("fast", "fast") and d["info"]["folded_bn"] > 0
    assert d["why"].startswith("the default path: the fast path, since no backend comparison has been measured")


def test_a_remembered_eager_default_is_measured_eager(capsys):
    remember("eager")
    d = bench_json(capsys)
    assert (d["backend"], d["path"]) == ("eager", "eager") and "folded_bn" not in d["info"]
    assert d["why"].startswith("the default path: eager, the fastest fp32 backend (4.00 ms) in the comparison")
    assert "on efficientnet_lite0 at 1 thread" in d["why"] and d["environment"]["layout"] == "contiguous (NCHW)"


def test_a_default_remembered_at_another_thread_count_does_not_apply(capsys):
    remember("eager", threads=2)
    assert bench_json(capsys)["backend"] == "fast"


@pytest.mark.skipif(importlib.util.find_spec("onnxruntime") is None, reason="onnxruntime is not installed")
def test_a_remembered_onnxruntime_default_is_measured_on_onnxruntime(capsys, tmp_path):
    remember("onnxruntime")
    before = (tmp_path / "backends.json").read_text()
    d = bench_json(capsys)
    assert (d["backend"], d["path"], d["precision"], d["name"]) == (
        "onnxruntime",
        "onnxruntime",
        "fp32",
        "mobilenet_v2",
    )
    assert d["reason"] is None and d["within_tolerance"] and d["median_ms"] > 0
    assert d["environment"]["threads"] == 1 and d["why"].startswith("the default path: onnxruntime, the fastest")
    assert (tmp_path / "backends.json").read_text() == before  # one backend is no comparison: nothing remembered


def test_the_text_output_names_the_backend_and_why(capsys):
    remember("eager")
    assert main(ARGS) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert first.startswith("mobilenet_v2: eager (the default path: eager, the fastest fp32 backend")


def test_a_flag_asks_for_a_pytorch_path_instead_of_the_default(capsys):
    remember("openvino")
    d = bench_json(capsys, "--eager")
    assert (d["backend"], d["path"], d["why"]) == ("eager", "eager", "asked for with --eager")
    d = bench_json(capsys, "--fast", "--channels-last")
    assert (d["backend"], d["path"]) == ("fast", "fast") and d["environment"]["layout"] == "channels_last (NHWC)"


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (["--channels-last"], "--channels-last applies to the PyTorch paths: add --fast or --eager"),
        (["--eager", "--fast"], "--eager and --fast are two different paths"),
        (["--eager", "--compile"], "--compile applies to the fast path"),
        (["--fast", "--backend", "all"], "drop them with --backend"),
    ],
)
def test_contradictory_requests_exit_2_with_one_line(extra, needle, capsys):
    remember("onnxruntime")
    assert main([*ARGS, *extra]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("effnets: error: ") and needle in err
