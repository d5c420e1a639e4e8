"""The model commands of the CLI as a user runs them: a real subprocess, exit codes, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import effnets


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "effnets", *args], capture_output=True, text=True, timeout=300)


def test_list_models_json():
    r = run("list", "models", "--json")
    assert r.returncode == 0, r.stderr
    rows = json.loads(r.stdout)
    assert [row["name"] for row in rows] == effnets.list_models()
    assert {"label", "family", "paper"} <= set(rows[0])


def test_cost_model_json_with_stages_matches_api():
    r = run("cost", "model", "efficientnet_b0", "--width", "1.1", "--resolution", "256", "--stages", "--json")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    c = effnets.model_cost("efficientnet_b0", width_mult=1.1, resolution=256)
    assert data["name"] == "efficientnet_b0"
    assert (data["params"], data["macs"], data["flops"]) == (c.params, c.macs, 2 * c.macs)
    assert data["output_shape"] == [1000, 1, 1]
    assert [s["macs"] for s in data["stages"]] == [s.macs for s in c.stages]
    assert sum(s["params"] for s in data["stages"]) == data["params"]
    assert data["stages"][0]["resolution"] == [256, 256]


def test_cost_model_text_with_set_and_check():
    r = run("cost", "model", "regnetx_400mf", "--set", "rounding=torchvision", "--stages", "--check")
    assert r.returncode == 0, r.stderr
    assert "5,495,976" in r.stdout  # torchvision's regnet_x_400mf
    assert "agrees with the analytic count" in r.stdout
    assert "RegNetX block g=16" in r.stdout


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["cost", "model", "efficientnet_b9"], "unknown model 'efficientnet_b9'"),
        (
            ["cost", "model", "efficientnet_b0", "--width", "0"],
            "width multiplier w (width_mult)=0.0 is below the minimum 0.05",
        ),
        (["cost", "model", "efficientnet_b0", "--width", "abc"], "invalid float value: 'abc'"),
        (["cost", "model", "xception", "--depth", "2"], "xception has no depth multiplier"),
        (["cost", "model", "shufflenet_v1", "--set", "groups=5"], "groups g=5 is not allowed"),
        (["cost", "model", "mobilenet_v2", "--set", "alpha=0.5"], "unknown setting 'alpha'"),
        (["cost", "model", "mobilenet_v2", "--set", "width_mult=1", "--width", "2"], "width_mult is given twice"),
    ],
)
def test_bad_model_arguments_exit_2_with_one_line(args, needle):
    r = run(*args)
    assert r.returncode == 2
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, r.stderr
    assert needle in lines[0]
    assert "Traceback" not in r.stderr


def test_scaling_released_json_gives_the_rows_and_the_computed_sentences():
    from effnets.analysis import scaling

    r = run("scaling", "released", "--alpha", "1.3", "--beta", "1.2", "--gamma", "1.2", "--json")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    rows = scaling.released_table(1.3, 1.2, 1.2)
    assert [x["model"] for x in data["rows"]] == [x["model"] for x in rows]
    assert data["rows"][7]["cost_implied_phi"] == pytest.approx(rows[7]["cost_implied_phi"])
    assert scaling.cost_ladder(rows) in " ".join(data["explanation"])
    assert not any("*" in s for s in data["explanation"])
    bad = run("scaling", "released", "--alpha", "0")
    assert bad.returncode == 2 and bad.stderr.strip().count("\n") == 0 and "--alpha 0 is outside" in bad.stderr


def test_cost_model_check_json_keeps_its_notes():
    r = run("cost", "model", "mobilenet_v2", "--check", "--json")
    assert r.returncode == 0, r.stderr
    check = json.loads(r.stdout)["check"]
    assert check["flop_counter_macs"] == effnets.model_cost("mobilenet_v2").macs
    assert check["notes"] == [
        "FlopCounterMode reports FLOPs = 2 x MACs for conv and matmul only; halved, it matches exactly."
    ]


@pytest.mark.parametrize(
    "name, key, value", [("resnet50", "resolution", "256"), ("mobilenet_v3_large", "width_mult", "0.75")]
)
def test_cost_model_set_of_a_multiplier_is_the_flag(name, key, value):
    """`--set resolution=256` costs what `--resolution 256` does (the multipliers are settings like any other)."""
    import effnets

    out = run("cost", "model", name, "--set", f"{key}={value}", "--json")
    assert out.returncode == 0, out.stderr
    c = effnets.model_cost(name, **{key: float(value) if "." in value else int(value)})
    assert json.loads(out.stdout)["macs"] == c.macs
