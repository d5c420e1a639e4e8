"""Inference backends side by side: each engine's outputs against eager fp32 on the same photos, the comparison's
structure, the default it chooses and remembers, rows with reasons for what cannot run, and the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from effnets.cli import main
from effnets.runtime import backends, engines
from effnets.runtime.engines import BACKENDS

ROOT = Path(__file__).resolve().parents[1]
MODEL, RES = "efficientnet_lite0", 64  # packaged ImageNet weights: logits of a real scale
ROW_KEYS = {"backend", "precision", "median_ms", "p10_ms", "p90_ms", "max_abs_diff", "tolerance", "within_tolerance"}


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    """Remembered defaults go to a fresh cache directory, never the user's."""
    monkeypatch.setenv("EFFNETS_CACHE_DIR", str(tmp_path / "cache"))
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def lite0():
    """One interleaved comparison of the engines that need no compile, plus a name that cannot load."""
    names = ["eager", "fast", "onnxruntime", "openvino", "tensorrt_not_here"]
    return backends.compare_model(MODEL, resolution=RES, threads=1, backends=names, warmup=1, repeats=3, record=False)


def test_every_backend_matches_eager_within_its_tolerance(lite0):
    rows = {r["label"]: r for r in lite0["backends"]}
    want = {"eager fp32", "fast fp32", "onnxruntime fp32", "onnxruntime int8", "openvino fp32"}
    assert want <= set(rows)
    if "bf16" in backends.devices.supported_precisions("cpu"):
        assert {"eager bf16", "fast bf16"} <= set(rows)
    scale = None
    for label, r in rows.items():
        if r["backend"] == "tensorrt_not_here":
            continue
        assert r["reason"] is None, (label, r["reason"])
        assert set(r) >= ROW_KEYS
        assert r["p10_ms"] <= r["median_ms"] <= r["p90_ms"]
        rel = r["tolerance"] / backends.TOLERANCES[r["precision"]]
        scale = scale or rel
        assert rel == pytest.approx(scale) and scale >= 1  # one scale for every row: max(1, max |eager logit|)
        assert r["within_tolerance"] and r["max_abs_diff"] <= r["tolerance"], label
        if r["precision"] == "fp32":
            assert r["max_abs_diff"] < 1e-4 * scale and r["top1_agrees"], label
    assert scale > 2  # trained weights: the logits are not near zero, so the relative bound means something
    assert rows["eager fp32"]["max_abs_diff"] == 0.0
    assert any("INFERENCE_PRECISION_HINT=f32" in n for n in rows["openvino fp32"]["notes"])
    assert any("INFERENCE_NUM_THREADS=1" in n for n in rows["openvino fp32"]["notes"])
    if "openvino bf16" in rows:  # a bf16 row really runs in bf16: further from eager than fp32
        assert any("INFERENCE_PRECISION_HINT=bf16" in n for n in rows["openvino bf16"]["notes"])
        assert rows["openvino bf16"]["max_abs_diff"] > 10 * rows["openvino fp32"]["max_abs_diff"]
    assert rows["onnxruntime int8"]["max_abs_diff"] > 10 * rows["onnxruntime fp32"]["max_abs_diff"]
    # the row says how its weights were quantised: 7 bits on an AVX2 CPU without VNNI, where 8 bits saturate
    seven = any("7-bit" in n for n in rows["onnxruntime int8"]["notes"])
    assert seven == any("7-bit" in n for n in rows.get("openvino int8", rows["onnxruntime int8"])["notes"])
    assert (
        seven == engines.seven_bit_weights() == (torch.cpu._is_avx2_supported() and not torch.cpu._is_vnni_supported())
    )


def test_comparison_structure_and_default(lite0):
    assert {"default", "reason", "backends", "environment", "check", "model", "resolution", "batch"} <= set(lite0)
    assert (lite0["model"], lite0["resolution"], lite0["batch"], lite0["partial"]) == (MODEL, RES, 1, False)
    env = lite0["environment"]
    assert env["threads"] == 1 and env["device"] == "cpu" and env["versions"]["torch"] == torch.__version__
    assert env["versions"]["onnxruntime"] and env["versions"]["openvino"]
    assert lite0["default"] == backends.choose_default(lite0["backends"])[0]
    fp32 = [r for r in lite0["backends"] if r["precision"] == "fp32" and r["median_ms"] is not None]
    best = min(r["median_ms"] for r in fp32)
    chosen = next(r for r in fp32 if r["backend"] == lite0["default"])
    assert chosen["median_ms"] <= best * (1 + backends.WITHIN)
    assert lite0["default"] in lite0["reason"]
    json.dumps(lite0)  # JSON-ready


def test_a_backend_that_cannot_load_is_a_row_with_a_reason(lite0):
    (row,) = [r for r in lite0["backends"] if r["backend"] == "tensorrt_not_here"]
    assert row["median_ms"] is None and row["max_abs_diff"] is None
    assert "unknown backend 'tensorrt_not_here'" in row["reason"] and "onnxruntime" in row["reason"]


def test_a_failed_export_is_a_row_with_a_reason():
    """A model the ONNX exporter cannot take (an FFT: no ONNX op in opset 17) still runs eager and fast; the ONNX
    engines give rows that say what failed."""

    class Spectral(nn.Module):
        def forward(self, x):
            return torch.fft.rfft2(x).abs().mean((2, 3))

    ctx = backends.Context(Spectral(), torch.randn(1, 3, 8, 8), threads=1)
    result = backends.compare(ctx, ["eager", "onnxruntime", "openvino"], ["fp32"], warmup=0, repeats=1)
    rows = {r["backend"]: r for r in result["backends"]}
    assert rows["eager"]["reason"] is None and rows["eager"]["median_ms"] is not None
    for name, label in (("onnxruntime", "ONNX Runtime"), ("openvino", "OpenVINO")):
        assert rows[name]["reason"].startswith(f"{label} failed: ") and "\n" not in rows[name]["reason"]
        assert rows[name]["median_ms"] is None
    assert result["default"] == "eager"


def test_compile_on_a_tiny_model_matches_eager():
    torch.manual_seed(0)
    m = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU(),
                      nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 5)).eval()  # fmt: skip
    with torch.no_grad():
        m[1].running_mean.uniform_(-1, 1), m[1].running_var.uniform_(0.5, 2)
    result = backends.compare(backends.Context(m, torch.randn(1, 3, 16, 16), threads=1), ["compile"], warmup=0)
    (row,) = result["backends"]
    assert row["reason"] is None and row["within_tolerance"] and row["compile_s"] > 0
    assert row["precision"] == "fp32" and row["layout"] == "channels_last (NHWC)"


def test_inputs_are_photos_and_calibration_never_sees_the_checked_input():
    ctx = backends.model_context(MODEL, resolution=32, batch=2, threads=1)
    assert ctx.x.shape == (2, 3, 32, 32) and ctx.x.is_contiguous()
    assert not torch.equal(ctx.x[0], ctx.x[1])
    assert ctx.calibration and all(c.shape == ctx.x.shape for c in ctx.calibration)
    assert not any(torch.equal(c[i], ctx.x[j]) for c in ctx.calibration for i in range(2) for j in range(2))


def _row(backend, precision, ms, ok=True):
    return {"backend": backend, "precision": precision, "label": f"{backend} {precision}", "median_ms": ms,
            "within_tolerance": ok}  # fmt: skip


def test_choose_default_prefers_within_five_percent_and_skips_failures():
    rows = [_row("fast", "fp32", 10.2), _row("openvino", "fp32", 10.0), _row("eager", "fp32", 20.0)]
    assert backends.choose_default(rows)[0] == "fast"  # 2% slower than the best: kept, and the reason says why
    assert "within 5%" in backends.choose_default(rows)[1]
    rows[0]["median_ms"] = 10.6  # 6% slower: the fastest wins
    assert backends.choose_default(rows)[0] == "openvino"
    rows[1]["within_tolerance"] = False  # the fastest's outputs are wrong: never the default
    assert backends.choose_default(rows)[0] == "fast"
    assert backends.choose_default([_row("openvino", "int8", 1.0), _row("eager", "fp32", 9.0)])[0] == "eager"
    assert backends.choose_default([_row("openvino", "bf16", 1.0)])[0] is None


def test_default_backend_is_remembered_per_device_and_thread_count(tmp_path):
    assert backends.default_backend("cpu") == backends.FALLBACK_DEFAULT == "fast"  # nothing measured yet
    result = {"default": "openvino", "reason": "r", "backends": [_row("openvino", "fp32", 4.0)],
              "environment": {"threads": 1}, "model": MODEL}  # fmt: skip
    with backends.bench.num_threads(1):
        assert backends.remember_default("cpu", result)
        assert backends.default_backend("cpu") == "openvino"
        assert backends.default_record("cpu")["median_ms"] == 4.0
    with backends.bench.num_threads(2):
        assert backends.default_backend("cpu") == "fast"  # another thread count is another device
    assert (tmp_path / "cache" / "backends.json").exists()
    (tmp_path / "cache" / "backends.json").write_text("{not json")
    with backends.bench.num_threads(1):
        assert backends.default_backend("cpu") == "fast"  # a damaged cache is ignored, not an error


def test_every_registered_backend_has_a_name_and_precisions():
    assert tuple(BACKENDS) == backends.BACKEND_NAMES
    for b in BACKENDS.values():
        assert b.precisions(torch.device("cpu"))[0] == "fp32"


# ----- the CLI ------------------------------------------------------------------------------------------------------


def _run(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "effnets", *args], capture_output=True, text=True, timeout=600,
                          env=env, cwd=ROOT)  # fmt: skip


BASE = ("bench", "model", MODEL, "--resolution", str(RES), "--threads", "1", "--warmup", "0", "--repeats", "2")


def test_cli_one_backend_gives_its_row(tmp_path):
    r = _run(*BASE, "--backend", "fast", "--json")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert set(d) >= ROW_KEYS and (d["backend"], d["precision"]) == ("fast", "fp32")
    assert d["within_tolerance"] and d["reason"] is None and d["environment"]["threads"] == 1
    assert not (tmp_path / "cache" / "backends.json").exists()  # one backend is no comparison: nothing remembered


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--backend", "nope"], "invalid choice: 'nope'"),
        (["--backend", "onnxruntime", "--precision", "bf16"], "ONNX Runtime offers fp32, int8 on cpu, not bf16"),
        (["--backend", "eager", "--precision", "int8"], "offers fp32"),
        (["--precision", "int8"], "int8 runs on ONNX Runtime and OpenVINO"),
        (["--backend", "all", "--eager"], "drop them with --backend"),
        (["--backend", "fast", "--batch", "0"], "--batch 0 must be at least 1"),
    ],
)
def test_cli_bad_backend_requests_exit_2_with_one_line(args, needle, capsys):
    assert main(["bench", "model", MODEL, *args]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("effnets: error: ") and needle in err


@pytest.mark.slow
def test_cli_all_gives_the_table_and_remembers_the_default(tmp_path):
    """Every backend (torch.compile included) at every precision offered here, through the CLI."""
    r = _run(*BASE, "--backend", "all", "--json")
    assert r.returncode == 0, r.stderr
    d = json.loads(r.stdout)
    assert {r["backend"] for r in d["backends"]} == set(backends.BACKEND_NAMES)
    assert all(set(row) >= ROW_KEYS and row["reason"] is None and row["within_tolerance"] for row in d["backends"])
    assert d["default"] in backends.BACKEND_NAMES and d["environment"]["threads"] == 1
    cache = json.loads((tmp_path / "cache" / "backends.json").read_text())
    assert [v["default"] for v in cache.values()] == [d["default"]]
    text = _run(*BASE, "--backend", "all")
    assert text.returncode == 0 and "default: " in text.stdout and "1 thread for every engine" in text.stdout


@pytest.mark.slow
def test_inference_lab_compares_backends_on_demand():
    from tests.app.conftest import no_exceptions, page

    at = page("inference_lab.py", {"model": "mobilenet_v3_small"}, section="Latency").run()
    no_exceptions(at)
    assert any("Press *Compare backends*" in i.value for i in at.info)
    at.number_input(key="infer.repeats").set_value(2).run()
    at.button(key="infer.backends").click().run()
    no_exceptions(at)
    table = next(df.value for df in at.dataframe if "backend" in df.value.columns)
    assert {"eager", "fast", "onnxruntime", "openvino"} <= set(table["backend"]) and "compile" not in set(
        table["backend"]
    )
    assert any(m.value.startswith("Fastest: ") for m in at.markdown)
    assert any(c.value.startswith("Measured for you at") for c in at.caption)
