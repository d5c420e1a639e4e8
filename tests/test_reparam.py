"""Structural reparameterization: the deploy form of RepVGG and MobileOne blocks and networks, and plain BN folding,
computes the training form's eval-mode function (float64 within 1e-10, float32 within float32 rounding), costs what
the spec with deploy=True says, and matches timm layer by layer in both forms; the CLI costs it; the analysis that
the Reparameterization Lab draws returns its records."""

from __future__ import annotations

import copy
import json
import subprocess
import sys

import pytest
import torch
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from torch import nn

import effnets
from effnets import counting
from effnets.analysis import reparam
from effnets.blocks import BLOCKS
from effnets.blocks._reparam import randomize_bn
from effnets.models import MODELS
from effnets.spec import SpecError
from tests.strategies import spec_fields

REP_BLOCKS = ("repvgg", "mobileone")
REP_MODELS = ("repvgg_a0", "mobileone_s0")
EXACT_64, EXACT_32 = 1e-10, 1e-5


def _shapes(module: nn.Module) -> list[tuple[int, ...]]:
    return [tuple(p.shape) for p in module.parameters()]


def _meta(factory) -> nn.Module:
    with torch.device("meta"):
        return factory().eval()


def _max_difference(module: nn.Module, x: torch.Tensor) -> float:
    """max |module(x) - reparameterize(module)(x)| in eval mode, in x's dtype."""
    m = module.to(x.dtype).eval()
    with torch.no_grad():
        return float((m(x) - effnets.reparameterize(m)(x)).abs().max())


def _drawn_block(name: str, data) -> tuple:
    info = BLOCKS[name]
    fields = data.draw(spec_fields(info.spec))
    fields["deploy"] = False
    try:
        spec = info.make_spec(**fields)
        h = data.draw(st.integers(1, 10))
        info.cost(spec, (spec.in_channels, h, h))
    except ValueError:
        assume(False)
    return info, spec, h


# ----- blocks -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", REP_BLOCKS)
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_deploy_form_is_the_same_function_for_drawn_blocks(name, data):
    info, spec, h = _drawn_block(name, data)
    torch.manual_seed(data.draw(st.integers(0, 1000)))
    block = randomize_bn(info.build(spec), torch.Generator().manual_seed(1))
    x = torch.randn(2, spec.in_channels, h, h, dtype=torch.float64)
    assert _max_difference(copy.deepcopy(block), x) <= EXACT_64
    assert _max_difference(copy.deepcopy(block), x.float()) <= EXACT_32


@pytest.mark.parametrize("name", REP_BLOCKS)
@settings(max_examples=15, deadline=None)
@given(data=st.data())
def test_deploy_module_costs_what_the_deploy_spec_says(name, data):
    """params and MACs of reparameterize(training form) == the analytic cost of the spec with deploy=True == the
    module built from that spec, parameter shape by shape."""
    info, spec, h = _drawn_block(name, data)
    shape = (spec.in_channels, h, h)
    deploy_spec = spec.replace(deploy=True)
    folded = effnets.reparameterize(_meta(lambda: info.build(spec)))
    cost = info.cost(deploy_spec, shape)
    assert cost.params == counting.param_count(folded) < info.cost(spec, shape).params
    assert cost.macs == counting.flop_counter_macs(folded, shape)
    assert _shapes(folded) == _shapes(_meta(lambda: info.build(deploy_spec)))
    assert not any(isinstance(m, nn.BatchNorm2d) for m in folded.modules())


@pytest.mark.parametrize("name", REP_BLOCKS)
def test_deploy_spec_matches_all_tracers(name):
    """The deploy form of the default spec under the same checks as every block's training form."""
    info = BLOCKS[name]
    spec = info.make_spec(deploy=True)
    shape = (spec.in_channels, 14, 12)
    cost = info.cost(spec, shape)
    meta = counting.build_on_meta(lambda: info.build(spec))
    traced = counting.dispatch_counts(meta, shape)
    assert (cost.params, cost.macs) == (counting.param_count(meta), counting.flop_counter_macs(meta, shape))
    assert (cost.macs, cost.acts, cost.extras_dict) == (traced.macs, traced.acts, traced.extras)
    assert cost.extra("bn") == cost.extra("elementwise") == 0


@pytest.mark.parametrize(
    ("c_in", "c_out", "stride", "groups"), [(16, 16, 1, 1), (16, 32, 2, 1), (16, 16, 1, 4), (12, 24, 1, 3)]
)
def test_repvgg_block_is_timms_in_both_forms(c_in, c_out, stride, groups):
    from timm.models.byobnet import RepVggBlock

    torch.manual_seed(0)
    ours = effnets.build_block("repvgg", in_channels=c_in, out_channels=c_out, stride=stride, groups=groups)
    theirs = RepVggBlock(c_in, c_out, stride=stride, group_size=c_in // groups if groups > 1 else None)
    assert _shapes(ours) == _shapes(theirs)
    randomize_bn(ours)
    with torch.no_grad():
        for a, b in zip([*ours.parameters(), *ours.buffers()], [*theirs.parameters(), *theirs.buffers()], strict=True):
            b.copy_(a)
    ours, theirs = ours.double().eval(), theirs.double().eval()
    x = torch.randn(2, c_in, 9, 9, dtype=torch.float64)
    with torch.no_grad():
        assert float((ours(x) - theirs(x)).abs().max()) <= EXACT_64
        theirs.reparameterize()
        folded = effnets.reparameterize(ours)
        assert _shapes(folded) == _shapes(theirs)
        assert float((folded(x) - theirs(x)).abs().max()) <= EXACT_64


def test_mobileone_block_is_two_of_timms_stages_in_both_forms():
    from timm.models.byobnet import MobileOneBlock as TimmStage

    torch.manual_seed(0)
    ours = effnets.build_block("mobileone", in_channels=16, out_channels=24, stride=2, num_conv_branches=3)
    theirs = nn.Sequential(
        TimmStage(16, 16, 3, stride=2, group_size=1, num_conv_branches=3),
        TimmStage(16, 24, 1, num_conv_branches=3),
    )
    assert _shapes(ours) == _shapes(theirs)
    randomize_bn(ours)
    with torch.no_grad():
        for a, b in zip([*ours.parameters(), *ours.buffers()], [*theirs.parameters(), *theirs.buffers()], strict=True):
            b.copy_(a)
    ours, theirs = ours.double().eval(), theirs.double().eval()
    x = torch.randn(2, 16, 9, 9, dtype=torch.float64)
    with torch.no_grad():
        assert float((ours(x) - theirs(x)).abs().max()) <= EXACT_64
        for stage in theirs:
            stage.reparameterize()
        folded = effnets.reparameterize(ours)
        assert _shapes(folded) == _shapes(theirs)
        assert float((folded(x) - theirs(x)).abs().max()) <= EXACT_64


def test_reparameterize_leaves_its_input_alone():
    torch.manual_seed(0)
    block = randomize_bn(effnets.build_block("mobileone")).train()
    before = copy.deepcopy(block.state_dict())
    folded = effnets.reparameterize(block)
    assert block.training and not folded.training
    assert not block.spec.deploy and folded.spec.deploy
    assert all(torch.equal(before[k], v) for k, v in block.state_dict().items())
    again = effnets.reparameterize(folded)  # a deploy form folds to an equal copy
    assert again is not folded
    assert all(
        torch.equal(a, b) for a, b in zip(again.state_dict().values(), folded.state_dict().values(), strict=True)
    )


def test_in_training_mode_the_forms_differ():
    """The deploy form equals the eval-mode function only: in train mode BN uses the batch's statistics."""
    torch.manual_seed(0)
    block = randomize_bn(effnets.build_block("repvgg", in_channels=8, out_channels=8)).double()
    folded = effnets.reparameterize(block)
    x = torch.randn(4, 8, 6, 6, dtype=torch.float64)
    with torch.no_grad():
        assert float((copy.deepcopy(block).train()(x) - folded(x)).abs().max()) > 1e-3  # (it moves its statistics)
        assert float((block.eval()(x) - folded(x)).abs().max()) <= EXACT_64


# ----- plain BN folding -------------------------------------------------------------------------------------------


@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_bn_folding_of_a_conv_bn_relu(data):
    info = BLOCKS[reparam.BN_FOLD_BLOCK]
    fields = data.draw(spec_fields(info.spec))
    h = data.draw(st.integers(1, 12))
    try:
        spec = info.make_spec(**fields)
        cost = reparam.folded_conv_cost(spec, effnets.cost.start(spec.in_channels, h, h))
    except ValueError:
        assume(False)
    torch.manual_seed(0)
    layer = randomize_bn(info.build(spec))
    x = torch.randn(2, spec.in_channels, h, h, dtype=torch.float64)
    assert _max_difference(copy.deepcopy(layer), x) <= EXACT_64
    assert _max_difference(copy.deepcopy(layer), x.float()) <= EXACT_32
    folded = effnets.reparameterize(_meta(lambda: info.build(spec)))
    shape = (spec.in_channels, h, h)
    assert cost.params == counting.param_count(folded) == info.cost(spec, shape).params - spec.out_channels
    assert cost.macs == counting.flop_counter_macs(folded, shape)
    assert counting.dispatch_counts(folded, shape).extras == cost.extras_dict
    assert not any(isinstance(m, nn.BatchNorm2d) for m in folded.modules())


def test_bn_folding_reaches_the_conv_bn_layers_inside_any_block():
    torch.manual_seed(0)
    block = randomize_bn(effnets.build_block("mbconv", in_channels=16, out_channels=16)).double()
    folded = effnets.reparameterize(block)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in folded.modules())
    x = torch.randn(2, 16, 10, 10, dtype=torch.float64)
    with torch.no_grad():
        assert float((block.eval()(x) - folded(x)).abs().max()) <= EXACT_64


# ----- whole networks ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", REP_MODELS)
def test_networks_are_timms_in_both_forms(name):
    """Training form vs timm.create_model, deploy form vs timm.utils.model.reparameterize_model of it: parameter
    shapes layer by layer, params and MACs at 224 exactly; and our reparameterize gives the deploy form."""
    timm = pytest.importorskip("timm")
    from timm.utils.model import reparameterize_model

    info = MODELS[name]
    theirs = timm.create_model(name, pretrained=False).eval()
    their_deploy = reparameterize_model(theirs).to("meta")  # a copy; timm folds on the CPU only
    theirs = theirs.to("meta")
    for deploy, reference in ((False, theirs), (True, their_deploy)):
        spec = info.make_spec(deploy=deploy)
        ours = _meta(lambda spec=spec: info.build(spec))
        cost = info.cost(spec)
        assert _shapes(ours) == _shapes(reference), f"deploy={deploy}: parameter shapes differ layer by layer"
        assert cost.params == sum(p.numel() for p in reference.parameters())
        assert cost.macs == counting.flop_counter_macs(reference, (3, 224, 224))
    folded = effnets.reparameterize(_meta(lambda: info.build(info.make_spec())))
    assert _shapes(folded) == _shapes(their_deploy)
    assert counting.flop_counter_macs(folded, (3, 224, 224)) == info.cost(info.make_spec(deploy=True)).macs


@pytest.mark.slow
def test_repvgg_a0_computes_timms_function_in_both_forms():
    timm = pytest.importorskip("timm")
    from timm.utils.model import reparameterize_model

    info = MODELS["repvgg_a0"]
    torch.manual_seed(0)
    ours = randomize_bn(info.build(info.make_spec())).double().eval()
    theirs = timm.create_model("repvgg_a0", pretrained=False).double().eval()
    with torch.no_grad():
        for a, b in zip([*ours.parameters(), *ours.buffers()], [*theirs.parameters(), *theirs.buffers()], strict=True):
            b.copy_(a)
        x = torch.randn(1, 3, 64, 64, dtype=torch.float64)
        assert float((ours(x) - theirs(x)).abs().max()) <= EXACT_64
        assert float((effnets.reparameterize(ours)(x) - reparameterize_model(theirs)(x)).abs().max()) <= EXACT_64


@pytest.mark.parametrize("name", ["repvgg_a0", pytest.param("mobileone_s0", marks=pytest.mark.slow)])
def test_whole_network_deploy_form_is_the_same_function(name):
    """BN statistics calibrated on random images and moved off them (outputs of order 1-10, every stage alive): the
    forms agree to 1e-10 in float64; in float32 the difference is the network's own float32 rounding (the training
    form alone moves as much between float64 and float32), ~1e-5 for RepVGG-A0 and ~1e-3 for MobileOne-S0's 42
    stages of up to six summed branches."""
    e = reparam.exactness(reparam.forms(name), batch=1)
    assert e.scale > 0.5  # the outputs are not trivially small
    assert e.float64 <= EXACT_64
    assert e.float32 <= 3 * e.float32_noise + EXACT_32
    assert e.float32 <= 1e-3 * e.scale


def test_whole_network_deploy_module_costs_what_the_deploy_spec_says():
    for name in REP_MODELS:
        info = MODELS[name]
        folded = effnets.reparameterize(_meta(lambda info=info: info.build(info.make_spec(resolution=160))))
        cost = info.cost(info.make_spec(resolution=160, deploy=True))
        assert cost.params == counting.param_count(folded)
        assert cost.macs == counting.flop_counter_macs(folded, (3, 160, 160))
        assert cost.total.extras_dict == counting.dispatch_counts(folded, (3, 160, 160)).extras


def test_published_figures_are_of_the_deploy_form():
    for name in REP_MODELS:
        rows = MODELS[name].compare_published()
        assert rows and all(r["agrees"] or r["documented_mismatch"] for r in rows)
        assert any(r["fields"].get("deploy") is True and r["agrees"] for r in rows)


# ----- the CLI ----------------------------------------------------------------------------------------------------


def test_cli_costs_the_deploy_form_with_set_deploy():
    """As a user runs it: a real process."""
    r = subprocess.run(
        [sys.executable, "-m", "effnets", "cost", "model", "repvgg_a0", "--set", "deploy=true", "--json"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    deploy = effnets.model_cost("repvgg_a0", deploy=True)
    assert (data["params"], data["macs"]) == (deploy.params, deploy.macs)
    assert data["params"] < effnets.model_cost("repvgg_a0").params


def test_cli_costs_a_deploy_block_and_refuses_a_deploy_that_is_not_true_or_false(capsys):
    """The same entry point in-process (no second torch import)."""
    from effnets.cli import main

    assert main(["cost", "block", "repvgg", "--input", "48,56,56", "--set", "deploy=true", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    block = effnets.block_cost("repvgg", (48, 56, 56), deploy=True)
    assert (data["params"], data["macs"]) == (block.params, block.macs)
    assert data["extras"]["bn"] == 0 < effnets.block_cost("repvgg", (48, 56, 56)).extra("bn")
    assert main(["cost", "model", "mobileone_s0", "--set", "deploy=true"]) == 0
    assert "2,078,504" in capsys.readouterr().out
    assert main(["cost", "block", "mobileone", "--input", "64,28,28", "--set", "deploy=maybe"]) == 2
    assert capsys.readouterr().err.strip() == "effnets: error: deploy: 'maybe' is not true or false"


# ----- the analysis -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", list(reparam.CASES))
def test_forms_of_every_case(case):
    f = reparam.forms(case)
    a, b = f.cost(reparam.FORMS[0]), f.cost(reparam.FORMS[1])
    assert b.params < a.params and b.macs <= a.macs and a.extra("bn") > 0 == b.extra("bn")
    rows = reparam.cost_rows(f)
    assert [r["quantity"] for r in rows][:2] == ["parameters", "MACs"]
    assert rows[0][reparam.FORMS[0]] == a.params and rows[0][reparam.FORMS[1]] == b.params
    assert reparam.layer_rows(f, reparam.FORMS[0]) and reparam.layer_rows(f, reparam.FORMS[1])
    assert "fewer parameters" in reparam.saving(f)


def test_forms_follow_the_settings_and_refuse_what_has_no_deploy_form():
    f = reparam.forms("repvgg", {"in_channels": 8, "out_channels": 16, "stride": 2, "deploy": True}, (8, 10, 10))
    assert f.fields["deploy"] is False and f.deploy.output_shape == (16, 5, 5)
    assert f.deploy.params == effnets.block_cost("repvgg", (8, 10, 10), out_channels=16, stride=2, deploy=True).params
    with pytest.raises(SpecError, match="has no deploy form") as e:
        reparam.forms("ghost")
    assert e.value.field == "name"
    with pytest.raises(SpecError, match="has no deploy form"):
        reparam.forms("resnet18")
    with pytest.raises(SpecError, match="groups=5 must divide"):
        reparam.forms("repvgg", {"groups": 5})


def test_exactness_of_the_bn_fold_case():
    e = reparam.exactness(reparam.forms(reparam.BN_FOLD), seed=3)
    assert e.float64 <= EXACT_64 and e.float32 <= EXACT_32 and e.scale > 0.5
    assert e.input_shape == (2, 32, 28, 28) and e.seed == 3
    assert "float64" in e.sentence()


def test_measure_times_both_forms_interleaved():
    f = reparam.forms("repvgg", {"in_channels": 8, "out_channels": 8}, (8, 8, 8))
    calls = []
    m = reparam.measure(f, warmup=1, repeats=2, progress=lambda done, total: calls.append((done, total)))
    assert (m.training.label, m.deploy.label) == reparam.FORMS
    assert len(m.training.timing.samples) == len(m.deploy.timing.samples) == 2
    assert m.speedup == pytest.approx(m.training.median_ms / m.deploy.median_ms)
    assert m.training.macs == f.training.macs and m.deploy.macs == f.deploy.macs
    assert calls[-1] == (6, 6) and not m.partial and m.environment["device"] == "cpu"
    rows = m.rows()
    assert [r["form"] for r in rows] == list(reparam.FORMS) and rows[0]["time / training form"] == 1.0


def test_measure_stops_when_asked():
    f = reparam.forms(reparam.BN_FOLD, {"in_channels": 4, "out_channels": 4}, (4, 6, 6))
    m = reparam.measure(f, warmup=0, repeats=5, stop=lambda: True)
    assert m.partial and m.speedup is None and m.training.timing is None
