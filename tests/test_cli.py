"""The CLI as a user runs it: a real subprocess, exit codes, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import effnets


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "effnets", *args], capture_output=True, text=True, timeout=300)


def test_list_blocks_json():
    r = run("list", "blocks", "--json")
    assert r.returncode == 0, r.stderr
    names = [row["name"] for row in json.loads(r.stdout)]
    assert names == effnets.list_blocks()


def test_cost_block_json_matches_api():
    r = run("cost", "block", "mbconv", "--input", "32,28,28", "--set", "out_channels=48", "--set", "stride=2", "--json")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    c = effnets.block_cost("mbconv", (32, 28, 28), out_channels=48, stride=2)
    assert data["name"] == "mbconv"
    assert (data["params"], data["macs"], data["flops"]) == (c.params, c.macs, 2 * c.macs)
    assert data["output_shape"] == [48, 14, 14]


def test_cost_block_check_includes_tracers():
    r = run("cost", "block", "deformable", "--input", "8,12,12", "--json", "--check")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["check"]["flop_counter_macs"] == data["macs"]
    assert data["check"]["fvcore_conv_linear"] == data["macs"]
    assert any("deform_conv2d" in n for n in data["check"]["notes"])


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["cost", "block", "nope", "--input", "3,8,8"], "unknown block 'nope'"),
        (["cost", "block", "standard", "--input", "3,8"], "must be C,H,W"),
        (["cost", "block", "standard", "--input", "3,0,8"], "at least 1"),
        (
            ["cost", "block", "grouped", "--input", "30,8,8", "--set", "groups=4"],
            "groups g=4 must divide C_in (in_channels)=30",
        ),
        (["cost", "block", "standard", "--input", "3,8,8", "--set", "kernel_size"], "key=value"),
        (["cost", "block", "standard", "--input", "3,8,8", "--set", "kernel_size=abc"], "not an integer"),
        (["cost", "block", "standard", "--input", "3,8,8", "--set", "in_channels=4"], "comes from --input"),
        (["cost", "block", "standard"], "required"),
        (["frobnicate"], "invalid choice"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(args, needle):
    r = run(*args)
    assert r.returncode == 2
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, r.stderr
    assert needle in lines[0]
    assert "Traceback" not in r.stderr


def test_cost_block_defaults_follow_the_input():
    """A stride-1 shuffle unit on a 64-channel input: C_out follows C_in (and groups a divisor of it), and says so."""
    r = run("cost", "block", "shuffle_v1", "--input", "64,32,32", "--json")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["spec"]["out_channels"] == 64 and data["output_shape"] == [64, 32, 32]
    c = effnets.block_cost("shuffle_v1", (64, 32, 32))
    assert data["params"] == c.params and data["macs"] == c.macs
    text = run("cost", "block", "shuffle_v1", "--input", "64,32,32").stdout
    assert "out_channels=64 (default 240)" in text and "do not fit a 64-channel input" in text
