"""ARCHITECTURE.md's recipes hold: a block or a family added as one file is picked up by the registry, the CLI, the
pages' choices and the parametrised tests, with no other edit.

The throwaway block and family (tests/recipes/toy_block.py, toy_family.py) are registered by a pytest plugin in a
fresh process, so they never leak into this run's registries.
"""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_a_new_block_and_family_are_picked_up_everywhere(tmp_path):
    report = tmp_path / "report.xml"
    run = subprocess.run(
        [
            sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "tests.recipes.plugin",
            "tests/test_blocks.py", "tests/test_models.py", "tests/test_scaling_views.py",
            "tests/recipes/pickup_checks.py", "-k", "toy or pickup", f"--junitxml={report}",
        ],
        cwd=ROOT, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    cases = ET.parse(report).getroot().iter("testcase")
    ran = {(c.get("classname", "").split(".")[-1], c.get("name")) for c in cases if not list(c)}  # passed ones
    by_module: dict[str, int] = {}
    for module, _name in ran:
        by_module[module] = by_module.get(module, 0) + 1
    # The parametrised tests over the registries ran for the toys (tracers, receptive field, registry entry ...).
    assert by_module.get("test_blocks", 0) >= 8, by_module
    assert by_module.get("test_models", 0) >= 5, by_module
    assert ("test_blocks", "test_default_spec_matches_all_tracers[toy_bottleneck]") in ran
    assert ("test_models", "test_analytic_matches_tracers_and_module[toynet_a]") in ran
    # The CLI and the pages' choices (tests/recipes/pickup_checks.py).
    assert by_module.get("pickup_checks", 0) == 4, by_module
