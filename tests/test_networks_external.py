"""torchvision and timm models by name (effnets.networks.external): the traced totals equal FlopCounterMode and numel
on a sample of both libraries, the rows lose nothing (layers and stages add up, the dispatch counter's whole-pass
totals agree), work is attributed to the right layer (FlopCounterMode's own per-module counts), and for every
registered network with a reference builder the traced reference and the analytic plan agree in total and layer by
layer. Everything is built on the meta device (no weights, no download)."""

from __future__ import annotations

import math

import pytest
import torch
import torchvision
from torch import nn

from effnets import counting
from effnets.models import FAMILIES, MODELS
from effnets.networks import external as ex
from effnets.networks.report import NetworkReport
from effnets.runtime.layer_trace import leaf_modules, trace_layers
from effnets.spec import SpecError

timm = pytest.importorskip("timm", reason="timm builds the timm half of the sample")

CONV_LINEAR = {"conv", "depthwise conv", "grouped conv", "transposed conv", "linear"}

SAMPLE = [
    "torchvision:resnet18",
    "torchvision:mobilenet_v3_small",
    "torchvision:efficientnet_b0",
    "torchvision:regnet_y_400mf",
    "torchvision:convnext_tiny",
    "torchvision:squeezenet1_1",
    "torchvision:densenet121",
    "torchvision:vit_b_32",
    "timm:convnext_atto",
    "timm:ghostnet_100",
    "timm:mobilenetv4_conv_small",
    "timm:repvgg_a0",
    "timm:efficientnet_b0",
    "timm:vit_tiny_patch16_224",
    "timm:pit_ti_224",  # a parameter passed straight into a module: FlopCounterMode's module tracker needs care
]


def _independent_meta(text: str) -> nn.Module:
    """The same network built without effnets.networks (the tests' own path to the reference builder)."""
    lib, name = text.split(":")
    if lib == "torchvision":
        return counting.build_on_meta(lambda: torchvision.models.get_model(name, weights=None))
    return counting.build_on_meta(lambda: timm.create_model(name, pretrained=False))


def _sum_extras(rows) -> dict[str, int]:
    out: dict[str, int] = {}
    for r in rows:
        for k, v in r.extras.items():
            out[k] = out.get(k, 0) + v
    return out


@pytest.mark.parametrize("text", SAMPLE)
def test_traced_totals_equal_flop_counter_and_numel(text):
    report = ex.analyse(text)
    theirs = _independent_meta(text).requires_grad_(False)
    assert report.macs == counting.flop_counter_macs(theirs, report.input_shape)
    assert report.params == sum(p.numel() for p in theirs.parameters())
    # nothing lost between the whole pass and the rows: the dispatch counter's totals are the rows' sums
    whole = counting.dispatch_counts(theirs, report.input_shape)
    assert (report.macs, report.acts, report.extras) == (whole.macs, whole.acts, whole.extras)
    for rows in (report.layers, report.stages):
        assert sum(r.params for r in rows) == report.params
        assert sum(r.macs for r in rows) == report.macs
        assert sum(r.acts for r in rows) == report.acts
        assert _sum_extras(rows) == report.extras
    assert sum(s.layers for s in report.stages) == len(report.layers)
    assert report.notes[0].startswith("FlopCounterMode (meta device, FLOPs halved) agrees exactly")


@pytest.mark.parametrize("text", ["torchvision:mobilenet_v3_small", "timm:ghostnet_100", "timm:convnext_atto"])
def test_each_layer_gets_the_macs_flop_counter_gives_that_module(text):
    """FlopCounterMode's own module hierarchy (runtime.layer_trace) is an independent per-layer attribution."""
    report = ex.analyse(text)
    theirs = _independent_meta(text)
    by_module = {layer.name: layer.macs for layer in trace_layers(theirs, report.input_shape).layers}
    leaves = dict(leaf_modules(theirs))
    rows = [r for r in report.layers if not r.name.endswith("(outside layers)")]
    assert rows and all(r.macs == by_module.get(r.name, 0) for r in rows)
    assert all(r.params == sum(p.numel() for p in leaves[r.name].parameters()) for r in rows)


def test_work_outside_the_layers_gets_a_row_of_its_parent():
    report = ex.analyse("torchvision:resnet18")
    add = next(r for r in report.layers if r.name == "layer1.0 (outside layers)")
    assert (add.kind, add.stage, add.op) == ("elementwise", "layer1", "add_")
    assert add.extras["elementwise"] == math.prod(add.output_shape) == 64 * 56 * 56
    se = ex.analyse("torchvision:mobilenet_v3_small")
    gates = [r for r in se.layers if r.name.endswith(".block.1 (outside layers)")]  # SE: scale * input
    assert gates and all(r.op == "mul" and r.extras["elementwise"] == math.prod(r.output_shape) for r in gates)
    vit = ex.analyse("timm:vit_tiny_patch16_224")
    dim, h, w = next(r for r in vit.layers if r.name == "patch_embed.proj").output_shape
    tokens = h * w + 1  # the patches and the class token
    attn = next(r for r in vit.layers if r.name == "blocks.0.attn (outside layers)")
    assert (attn.kind, attn.macs) == ("other", 2 * tokens * tokens * dim)  # q @ k^T and attn @ v, all heads
    top = next(r for r in vit.layers if r.stage == ex.TOP_LEVEL)
    model = _independent_meta("timm:vit_tiny_patch16_224")
    assert top.params == sum(p.numel() for p in model.parameters(recurse=False))  # cls token, position embedding
    assert top.extras["elementwise"] == math.prod(model.pos_embed.shape)  # the position embedding add


def test_stages_collapse_to_the_top_level_or_the_container_that_holds_the_network():
    resnet = ex.analyse("torchvision:resnet18")
    assert [s.name for s in resnet.stages] == [
        "conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4", "avgpool", "fc"
    ]  # fmt: skip
    layer4 = resnet.stages[7]
    blocks = len(leaf_modules(_independent_meta("torchvision:resnet18").layer4))
    assert (layer4.operator, layer4.output_shape, layer4.layers) == ("2 x BasicBlock", (512, 7, 7), blocks + 2)
    mnv3 = ex.analyse("torchvision:mobilenet_v3_small")
    assert [s.name for s in mnv3.stages] == [f"features.{i}" for i in range(13)] + ["avgpool", "classifier"]
    assert mnv3.stages[3].operator == "InvertedResidual (3 x Conv2dNormActivation)"  # its block: expand, dw, project
    atto = ex.analyse("timm:convnext_atto")
    assert [s.name for s in atto.stages] == ["stem", "stages.0", "stages.1", "stages.2", "stages.3", "norm_pre", "head"]
    assert atto.stages[3].operator == "ConvNeXtStage (6 x ConvNeXtBlock)"
    inception = ex.analyse("torchvision:googlenet")
    stage = next(s for s in inception.stages if s.name == "inception3a")
    assert (stage.operator, stage.output_shape) == ("Inception", (256, 28, 28))  # the concat's shape, not a branch's


def test_layers_that_never_run_keep_their_parameters_and_say_so():
    """googlenet(weights=None) keeps its auxiliary heads, which eval never runs."""
    report = ex.analyse("torchvision:googlenet")
    aux = [r for r in report.layers if r.stage in ("aux1", "aux2")]
    assert aux and all(r.macs == 0 and r.output_shape == () for r in aux)
    assert sum(r.params for r in aux) > 0
    assert any(f"holding {sum(r.params for r in aux):,} parameters" in n for n in report.notes)


def test_default_resolution_comes_from_the_library():
    from torchvision.models import get_model_weights

    crop = get_model_weights("efficientnet_b3").DEFAULT.transforms().crop_size[0]
    assert ex.analyse("torchvision:efficientnet_b3").input_shape == (3, crop, crop)
    assert ex.analyse("torchvision:vit_b_32").input_shape == (3, 224, 224)  # built without weights: fixed to 224
    cfg = timm.models.get_pretrained_cfg("efficientnet_b3")
    assert ex.analyse("timm:efficientnet_b3").input_shape == tuple(cfg.input_size)
    small = ex.analyse("torchvision:resnet18", resolution=112)
    assert small.input_shape == (3, 112, 112) and small.params == ex.analyse("torchvision:resnet18").params
    assert ex.analyse("torchvision:resnet18", resolution=(96, 128)).input_shape == (3, 96, 128)


def test_counts_are_per_sample_whatever_the_batch():
    one, three = ex.analyse("torchvision:mobilenet_v3_small"), ex.analyse("torchvision:mobilenet_v3_small", batch=3)
    assert three.layers == one.layers and (three.macs, three.extras) == (one.macs, one.extras)


def test_scaling_rule_is_the_registered_familys_where_the_network_is_registered():
    b0 = ex.analyse("torchvision:efficientnet_b0")
    assert b0.scaling == FAMILIES["efficientnet"].scaling and "Scale it as efficientnet_b0 (same network)." in b0.notes
    regnet = ex.analyse("torchvision:regnet_x_400mf")
    assert "Scale it as regnetx_400mf with rounding='torchvision' (same network)." in regnet.notes
    ghost = ex.analyse("timm:ghostnet_050")
    assert ghost.scaling == FAMILIES["ghostnet"].scaling
    assert "Scale it as ghostnet_100 with width_mult=0.5 (same network)." in ghost.notes
    atto = ex.analyse("timm:convnext_atto")
    assert atto.scaling == "" and any("only the resolution can be changed" in n for n in atto.notes)


def test_fvcore_on_request_runs_on_a_cpu_copy_and_is_explained():
    report = ex.analyse("torchvision:squeezenet1_1", fvcore=True)
    assert f"its conv + linear + matmul part is {report.macs:,}." in report.notes[-3]
    assert any(n.startswith("fvcore adds") and "adaptive_avg_pool2d" in n for n in report.notes)
    assert not any(n.startswith("fvcore was not run") for n in report.notes)


# ----- bad input ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("torchvision:resnet5", "did you mean torchvision:resnet50"),
        ("timm:convnext_atoo", "did you mean timm:convnext_atto"),
        ("timm:zzzzqqq", "model names is close, they read like timm:"),
        ("keras:resnet50", "unknown library prefix 'keras' in 'keras:resnet50': write 'torchvision:NAME' or"),
        ("resnet50", "no library prefix"),
        ("torchvision:", "names no model"),
        ("torchvision:fasterrcnn_resnet50_fpn", "is a detection model"),
        ("timm:resnet50.not_a_tag", "has no pretrained tag 'not_a_tag'"),
    ],
)
def test_bad_names_are_refused_before_anything_is_built(text, expected, monkeypatch):
    def never(*args, **kwargs):
        raise AssertionError("built a model for a bad name")

    monkeypatch.setattr(timm, "create_model", never)
    monkeypatch.setattr(torchvision.models, "get_model", never)
    with pytest.raises(SpecError, match=expected.replace(".", r"\.")) as e:
        ex.analyse(text)
    assert e.value.field == "name" and e.value.value == text


def test_bad_resolution_batch_and_too_many_layers_raise_spec_errors():
    with pytest.raises(SpecError, match="resolution=4 must be a side") as e:
        ex.analyse("torchvision:resnet18", resolution=4)
    assert e.value.field == "resolution"
    with pytest.raises(SpecError, match="batch=0") as e:
        ex.analyse("torchvision:resnet18", batch=0)
    assert e.value.field == "batch"
    layers = len(leaf_modules(_independent_meta("torchvision:resnet18")))
    with pytest.raises(SpecError, match=f"has {layers} layers; effnets analyses networks of at most 50 layers"):
        ex.analyse("torchvision:resnet18", max_layers=50)
    with pytest.raises(SpecError, match=r"does not run on a 3 x 256 x 256 input") as e:
        ex.analyse("timm:vit_tiny_patch16_224", resolution=256)  # a ViT fixed to its 224 position embedding
    assert e.value.field == "resolution"
    with pytest.raises(SpecError, match="unknown library 'keras'"):
        ex.list_names("keras")


def test_name_lists_are_the_libraries_classifiers():
    tv = ex.list_names("torchvision")
    assert "resnet50" in tv and "fasterrcnn_resnet50_fpn" not in tv and tv == sorted(tv)
    assert ex.list_names("timm") == sorted(timm.list_models())
    assert ex.parse_name(" TorchVision:ResNet50 ") == ("torchvision", "resnet50")
    assert ex.parse_name("timm:resnet50.a1_in1k") == ("timm", "resnet50.a1_in1k")


# ----- shared parameters, reused modules, parameters of containers, the shared op rules ------------------------


class _Tied(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.a, self.b, self.unused = nn.Linear(8, 8), nn.Linear(8, 8), nn.Linear(8, 3)
        self.b.weight = self.a.weight  # tied: counted once
        self.gamma = nn.Parameter(torch.ones(8))  # a container's own parameter (a layer scale)
        self.act = nn.LeakyReLU()

    def forward(self, x):
        return self.act(self.b(self.a(self.a(x))) * self.gamma)


def test_tied_and_reused_layers_count_parameters_once_and_work_per_call():
    with torch.device("meta"):
        model = _Tied()
    report = ex.trace(model, (8,), name="tied")
    rows = {r.name: r for r in report.layers}
    assert report.params == sum(p.numel() for p in model.parameters()) == 64 + 8 + 8 + 24 + 3 + 8
    assert (rows["a"].macs, rows["a"].params, rows["b"].params) == (2 * 64, 72, 8)  # called twice; b's bias only
    assert (rows["_Tied (outside layers)"].params, rows["_Tied (outside layers)"].extras["elementwise"]) == (8, 8)
    assert rows["unused"].params == 27 and rows["unused"].macs == 0
    assert rows["act"].extras["act"] == 8  # LeakyReLU: one of the activations added to the shared rule
    assert report.macs == counting.flop_counter_macs(model, (8,)) == counting.dispatch_counts(model, (8,)).macs
    on_cpu = _Tied()
    assert ex.trace(on_cpu, (8,), name="tied").layers == report.layers  # traced on a meta copy, the same rows
    assert all(p.device.type == "cpu" and p.requires_grad for p in on_cpu.parameters())  # the original untouched


class _Attention(nn.Module):
    def forward(self, q):
        k = q.transpose(1, 2)
        return torch.baddbmm(torch.bmm(q, k), q, k)


def test_bmm_and_baddbmm_are_in_the_shared_rule():
    m = _Attention()
    assert counting.dispatch_counts(m, (5, 7)).macs == counting.flop_counter_macs(m, (5, 7)) == 2 * 5 * 5 * 7
    assert ex.trace(m, (5, 7)).macs == 2 * 5 * 5 * 7


# ----- every registered network with a reference builder: traced reference == analytic plan --------------------

REFERENCES = [
    (f"torchvision:{info.torchvision}", name, dict(info.torchvision_fields))
    for name, info in MODELS.items()
    if info.torchvision
] + [(f"timm:{t}", name, fields) for t, (name, fields) in ex.TIMM_REFERENCES.items()]
FAST = {
    "efficientnet_b0", "efficientnet_v2_s", "mobilenet_v2", "mobilenet_v3_small", "mnasnet0_5", "shufflenet_v2_x0_5",
    "squeezenet1_1", "regnet_x_400mf", "regnet_y_400mf", "resnet18", "resnext50_32x4d", "convnext_tiny", "densenet121",
    "ghostnet_100", "mobilenetv4_conv_small", "repvgg_a0", "mobileone_s0",
}  # fmt: skip
"""The default run's share (one or two of each family); the slow run checks every reference."""
BRANCH_ORDER = {"shufflenet_v2", "regnet", "repvgg", "mobileone"}
"""Families whose analytic plan visits a block's parallel branches (the shortcut projection, the 1x1 and identity
branches) in another order than the module's forward; their layers are matched within the block."""


def _aligned(analytic: list[tuple], traced: list[tuple], window: int = 8) -> tuple[bool, bool]:
    """(every analytic layer has its traced twin within ``window`` places, whether any was out of order)."""
    left = list(traced)
    reordered = False
    for step in analytic:
        try:
            i = left.index(step, 0, window)
        except ValueError:
            return False, reordered
        reordered |= i > 0
        left.pop(i)
    return not left, reordered


@pytest.mark.parametrize(
    ("text", "name", "fields"),
    [pytest.param(*r, id=r[0], marks=() if r[0].split(":")[1] in FAST else pytest.mark.slow) for r in REFERENCES],
)
def test_traced_reference_equals_the_analytic_plan_layer_by_layer(text, name, fields):
    info = MODELS[name]
    spec = info.make_spec(**fields)
    cost = info.cost(spec)
    report: NetworkReport = ex.analyse(text, resolution=spec.resolution)
    assert (report.params, report.macs, report.acts) == (cost.params, cost.macs, cost.acts)
    assert report.extras == cost.total.extras_dict
    analytic = [(s.macs, s.params, math.prod(s.out_shape)) for s in cost.total.steps if s.kind in ("conv", "linear")]
    traced = [(r.macs, r.params, math.prod(r.output_shape)) for r in report.layers if r.kind in CONV_LINEAR]
    assert not [r for r in report.layers if r.macs and r.kind not in CONV_LINEAR]  # all MACs in conv/linear layers
    matched, reordered = _aligned(analytic, traced)
    assert matched, "a conv/linear layer of the plan has no traced twin (params, MACs, output size)"
    assert not reordered or info.family in BRANCH_ORDER
    if info.family not in BRANCH_ORDER:
        assert analytic == traced
