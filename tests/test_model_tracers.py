"""The tracers' differences from the analytic count are explained exactly for whole networks too: torchinfo's and
fvcore's (FlopCounterMode's is zero, tested for every model in test_models.py). A sample by default, every model in
the slow run."""

from __future__ import annotations

import re

import pytest

from effnets import counting
from effnets.layer_table import layer_table, torchinfo_reasons
from effnets.models import MODELS

SAMPLE = ["mobilenet_v2", "shufflenet_v2_x0_5", "squeezenet1_1", "efficientnet_lite0", "vgnetg_1_0mp"]
ALL = [pytest.param(n, marks=pytest.mark.slow) if n not in SAMPLE else n for n in MODELS]


def _net(name):
    info = MODELS[name]
    spec = info.make_spec()
    return info, spec, info.cost(spec).total, (3, spec.resolution, spec.resolution)


@pytest.mark.parametrize("name", ALL)
def test_torchinfo_difference_is_explained_exactly_for_models(name):
    info, spec, cost, shape = _net(name)
    _rows, totals = layer_table(counting.build_on_meta(lambda: info.build(spec)), shape)
    reasons = torchinfo_reasons(totals, cost.macs)
    assert sum(n for _, n in reasons) == totals["mult-adds (torchinfo)"] - cost.macs
    assert all(n > 0 for why, n in reasons if "biases" in why or "normalisation" in why)


@pytest.mark.parametrize("name", ALL)
def test_fvcore_difference_is_explained_exactly_for_models(name):
    info, spec, cost, shape = _net(name)
    cc = counting.cross_check(lambda: info.build(spec), cost, shape)
    added = sum(int(m.group(1).replace(",", "")) for n in cc.notes if (m := re.match(r"fvcore adds ([\d,]+) for", n)))
    assert added + (cc.fvcore.conv_linear - cost.macs) == cc.fvcore.total - cost.macs
    assert cc.fvcore.conv_linear == cost.macs or any("bug" in n for n in cc.notes)  # a difference is never silent
