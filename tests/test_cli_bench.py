"""``python -m effnets bench model|block`` as a user runs it (small repeats), one-line exit-2 errors, and a closed
stdout pipe (``| head``) ending quietly."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import effnets
from effnets.cli import EXIT_BROKEN_PIPE, main

ROOT = Path(__file__).resolve().parents[1]


def run(*args: str, stdout=subprocess.PIPE) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, "-m", "effnets", *args],
        stdout=stdout,
        stderr=subprocess.PIPE,
        text=True,
        timeout=300,
        env=env,
        cwd=ROOT,
    )


def test_bench_model_json():
    r = run("bench", "model", "mobilenet_v2", "--resolution", "64", "--batch", "2", "--device", "cpu", "--threads",
            "1", "--warmup", "1", "--repeats", "3", "--random-init", "--channels-last", "--json")  # fmt: skip
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert {"median_ms", "p10_ms", "p90_ms", "images_per_s", "environment"} <= set(d)
    assert d["p10_ms"] <= d["median_ms"] <= d["p90_ms"] and len(d["samples"]) == 3
    assert d["images_per_s"] == pytest.approx(2e3 / d["median_ms"])
    assert d["spread"] == pytest.approx(d["p90_ms"] / d["p10_ms"]) and d["busy"] is (d["spread"] > 2.0)
    env = d["environment"]
    assert (env["device"], env["threads"], env["torch"]) == ("cpu", 1, torch.__version__)
    assert (env["batch"], env["resolution"], env["layout"], env["precision"]) == (2, 64, "channels_last (NHWC)", "fp32")
    assert d["path"] == "fast" and d["info"]["folded_bn"] == 52 and d["compile_s"] is None
    assert d["macs"] == 2 * effnets.model_cost("mobilenet_v2", resolution=64).macs


def test_bench_block_text():
    r = run("bench", "block", "depthwise_separable", "--input", "16,24,24", "--set", "out_channels=32", "--threads",
            "1", "--warmup", "1", "--repeats", "3", "--device", "cpu")  # fmt: skip
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "Depthwise-separable convolution on a 16x24x24 input, eager path"
    assert lines[1].startswith("  median ") and "(3 timed calls after 1 warm-up)" in lines[1]
    macs = effnets.block_cost("depthwise_separable", (16, 24, 24), out_channels=32).macs
    rest = [line for line in lines[2:] if not line.startswith("  busy: ")]  # a noisy machine is said, on its own line
    assert f"({macs:,} MACs per call)" in rest[0]
    assert lines[-1].startswith("  environment: CPU (") and "1 threads" in lines[-1] and "batch 1" in lines[-1]


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["bench", "model", "nope"], "unknown model 'nope'"),
        (["bench", "model", "mobilenet_v2", "--batch", "0"], "--batch 0 must be at least 1"),
        (["bench", "model", "mobilenet_v2", "--resolution", "4"], "--resolution 4 must be at least 8"),
        (["bench", "model", "mobilenet_v2", "--eager", "--compile"], "--compile applies to the fast path"),
        (["bench", "model", "mobilenet_v2", "--device", "cpu", "--precision", "fp16"], "not available on cpu"),
        (["bench", "model", "mobilenet_v2", "--threads", "0"], "--threads 0 must be at least 1"),
        (["bench", "block", "nope"], "unknown block 'nope'"),
        (["bench", "block", "grouped", "--input", "30,8,8", "--set", "groups=4"], "groups g=4 must divide"),
        (["bench", "block", "standard", "--set", "in_channels=4"], "comes from --input"),
        (["bench", "block", "standard", "--input", "3,8"], "must be C,H,W"),
        (["bench", "block", "standard", "--repeats", "0"], "--repeats 0 must be at least 1"),
        (["bench"], "required"),
    ],
)
def test_usage_errors_exit_2_with_one_line(args, needle, capsys):
    threads = torch.get_num_threads()
    try:
        assert main(args) == 2  # in-process: the same entry point, without a new torch
    finally:
        torch.set_num_threads(threads)
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("effnets: error: ") and needle in err


def test_closed_stdout_pipe_exits_quietly():
    """``python -m effnets weights status | head`` used to print 'internal error: BrokenPipeError'. The reader is gone
    before the first write here, so every write fails: deterministic."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        r = run("weights", "status", stdout=write_end)
    finally:
        os.close(write_end)
    assert r.stderr == ""
    assert r.returncode == EXIT_BROKEN_PIPE == 141
