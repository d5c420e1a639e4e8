"""Checks run only with ``-p tests.recipes.plugin`` (tests/test_recipes.py starts them in a fresh process): the toy
block and family, registered by their own files alone, reach the CLI and the pages' choices."""

from __future__ import annotations

import json

import effnets
from effnets.blocks import BLOCKS
from effnets.cli import main
from effnets.models import FAMILIES, MODELS
from effnets.report import human
from tests.app.conftest import metric, no_exceptions, page


def test_the_registries_hold_them_in_their_declared_order():
    assert list(BLOCKS)[0] == "toy_bottleneck"  # order=5, before standard's 10
    assert list(FAMILIES)[0] == "toynet" and list(MODELS)[0] == "toynet_a"


def test_the_cli_lists_and_costs_them(capsys):
    assert main(["list", "blocks"]) == 0 and "toy_bottleneck" in capsys.readouterr().out
    assert main(["cost", "block", "toy_bottleneck", "--input", "16,32,32", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["macs"] == effnets.block_cost("toy_bottleneck", (16, 32, 32)).macs
    assert main(["cost", "model", "toynet_a", "--check", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["check"]["flop_counter_macs"] == out["macs"] and out["check"]["param_count"] == out["params"]


def test_the_block_lab_offers_and_renders_the_block():
    at = page("block_lab.py").run()
    assert "Toy bottleneck (recipe test)" in at.selectbox(key="blocks.name").options
    at = page("block_lab.py", {"block": "toy_bottleneck"}).run()  # its own defaults, from a link
    no_exceptions(at)
    assert metric(at, "MACs") == human(effnets.block_cost("toy_bottleneck", (32, 56, 56)).macs)
    assert metric(at, "Parameters") == human(effnets.block_cost("toy_bottleneck", (32, 56, 56)).params)


def test_the_scaling_lab_offers_and_scales_the_family():
    at = page("scaling_lab.py").run()
    assert "ToyNet (recipe test)" in at.selectbox(key="scaling.family").options
    at.selectbox(key="scaling.family").set_value("toynet").run()
    no_exceptions(at)
    assert metric(at, "MACs") == human(effnets.model_cost("toynet_a").macs)
