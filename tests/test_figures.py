"""Every public figure of effnets.figures, built from representative inputs: no plotly warning, the shared base of
effnets.figures.style (a height and margins), and colours from the palette, the user's colour or the family registry
(greys aside: references, guides and padding)."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
import warnings
from collections.abc import Callable

import plotly.graph_objects as go
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as hst
from torch import nn

import effnets
import effnets.figures
from effnets.analysis import compare, design_space, roofline, sampling, scaling, zoo
from effnets.analysis import kernels as kernel_stats
from effnets.analysis.family_lessons import progressive_schedule
from effnets.blocks import BLOCKS
from effnets.figures import backends as backend_figures
from effnets.figures import blocks as block_figures
from effnets.figures import design_space as design_space_figures
from effnets.figures import kernels as kernel_figures
from effnets.figures import layer_time as layer_time_figures
from effnets.figures import scaling as scaling_figures
from effnets.figures import style
from effnets.figures import training as training_figures
from effnets.figures import zoo as zoo_figures
from effnets.models import FAMILIES, MODELS, mobilenet_grid, sample_regnet_space, shufflenet_v1_groups_sweep
from effnets.models import scaling as model_scaling
from effnets.report import human


def _tiny_convnet() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, stride=2, padding=1),
        nn.Conv2d(8, 8, 3, padding=1, groups=8),
        nn.Conv2d(8, 16, 1),
        nn.Conv2d(16, 16, 3, stride=2, padding=1, groups=16),
        nn.Conv2d(16, 16, 3, padding=1, groups=16),
    )


def _zoo_rows() -> list[zoo.ZooRow]:
    rows = [zoo.zoo_row(n) for n in ("mobilenet_v2", "efficientnet_b0", "squeezenet1_1", "regnetx_400mf")]
    for i, r in enumerate(rows):
        r.median_ms, r.p10_ms, r.p90_ms = 1.0 + i, 0.9 + i, 1.3 + i
        r.gmacs_per_s = r.macs / (r.median_ms / 1e3) / 1e9
    return rows


def _roofline_plot(with_points: bool) -> roofline.RooflinePlot:
    c = roofline.Ceilings(
        "cpu", "CPU", {"fp32": 400.0, "bf16": 900.0}, 20.0, {"fp32": 1024, "bf16": 1024}, 128.0, {}, 1
    )
    names = ("standard", "depthwise", "mbconv") if with_points else ()
    pts = [roofline.roofline_point(n, roofline.block_intensity(n, None, (32, 28, 28)), 0.3, c) for n in names]
    return roofline.roofline_plot(c, pts)


def _backend_rows() -> list[dict]:
    """Rows shaped as effnets.runtime.backends.compare gives them: timed, failing the check, and not run."""
    row = {"p10_ms": 1.0, "p90_ms": 3.0, "max_abs_diff": 1e-5, "within_tolerance": True}
    rows = [
        {**row, "backend": "fast", "precision": "fp32", "label": "fast fp32", "median_ms": 2.0},
        {**row, "backend": "openvino", "precision": "bf16", "label": "openvino bf16", "median_ms": 1.5},
        {**row, "backend": "onnxruntime", "precision": "int8", "label": "ort int8", "median_ms": 1.2},
        {"backend": "bogus", "precision": "fp32", "label": "bogus fp32", "median_ms": None, "reason": "unknown"},
    ]
    rows[2]["within_tolerance"] = False
    return rows


def _training(allocator: bool = False):
    """A block's traced training step (meta device): its memory series (with a made-up allocator line) and MACs."""
    from effnets.analysis import training

    tc = training.block_training_cost("mbconv", (16, 16, 16), batch=2)
    series = tc.timeline_series()
    if allocator:
        series["allocator"] = [int(b * 1.1) for b in map(sum, zip(*series["by_category"].values(), strict=True))]
    return series, tc.flops.rows


def _cases() -> dict[str, list[Callable[[], go.Figure | tuple[go.Figure, ...]]]]:
    """Representative inputs of each figure function, as calls (empty inputs included where a page can pass them)."""
    rows = compare.compare_blocks(32, 64, 3, 28, 28)
    standard = BLOCKS["standard"].make_spec()
    deformable = BLOCKS["deformable"].make_spec(kernel_size=5, dilation=2)
    model = _tiny_convnet()
    layers = kernel_stats.layer_shares(model)
    depthwise = kernel_stats.layer_weight(model, "3").reshape(-1, 3, 3)
    spectra = [(f"#{i}", kernel_stats.frequency_response(k)) for i, k in enumerate(depthwise[:6])]
    library = [(f"#{i}", k.numpy()) for i, k in enumerate(depthwise[:7])]
    zrows = _zoo_rows()
    b0 = MODELS["efficientnet_b0"]
    base = b0.make_spec()
    sweeps = {a: model_scaling.axis_sweep(b0, base, a, model_scaling.Multipliers()) for a in model_scaling.AXES}
    regnets = scaling.preset_points([n for n in MODELS if n.startswith("regnetx")])
    return {
        "backends.backends_figure": [
            lambda: backend_figures.backends_figure(_backend_rows(), default="fast"),
            lambda: backend_figures.backends_figure([]),
        ],
        "blocks.comparison_figure": [
            lambda: block_figures.comparison_figure(rows, "params", "macs", current="mbconv"),
            lambda: block_figures.comparison_figure(rows, "macs", "flops"),
        ],
        "blocks.sampling_figure": [
            lambda: block_figures.sampling_figure(sampling.picture(standard, (6, 6), (0, 0), (3, 3))),
            lambda: block_figures.sampling_figure(sampling.deformable_taps(deformable, (56, 56), None)),
        ],
        "kernels.kernel_grid": [
            lambda: kernel_figures.kernel_grid(kernel_stats.normalise_for_display(depthwise, "kernel"))
        ],
        "kernels.rgb_grid": [
            lambda: kernel_figures.rgb_grid(kernel_stats.rgb_tiles(kernel_stats.layer_weight(model, "0")))
        ],
        "kernels.pointwise_matrix": [lambda: kernel_figures.pointwise_matrix(kernel_stats.layer_weight(model, "2"))],
        "kernels.shares_figure": [lambda: kernel_figures.shares_figure(layers, highlight="3")],
        "kernels.strided_figure": [lambda: kernel_figures.strided_figure(kernel_stats.compare_strided(model))],
        "kernels.frequency_grid": [lambda: kernel_figures.frequency_grid(spectra, freq=kernel_stats.frequencies(32))],
        "kernels.kernel_library_figure": [
            lambda: kernel_figures.kernel_library_figure(library),
            lambda: kernel_figures.kernel_library_figure(library[:1], columns=1),
        ],
        "kernels.low_pass_by_layer": [lambda: kernel_figures.low_pass_by_layer(layers)],
        "kernels.feature_grid_figure": [
            lambda: kernel_figures.feature_grid_figure(torch.rand(7, 9).numpy(), "a layer")
        ],
        "kernels.similarity_figure": [
            lambda: kernel_figures.similarity_figure(["a -> b", "b -> c"], [0.9, 0.5], [False, True])
        ],
        "zoo.accuracy_figure": [
            lambda: zoo_figures.accuracy_figure(zrows, "macs", 1e-6, "MACs (millions)"),
            lambda: zoo_figures.accuracy_figure([], "median_ms"),
        ],
        "zoo.latency_vs_macs_figure": [
            lambda: zoo_figures.latency_vs_macs_figure(zrows, dict(zoo.latency_outliers(zrows)), rounds=8),
            lambda: zoo_figures.latency_vs_macs_figure([], {}),
        ],
        "zoo.roofline_figure": [
            lambda: zoo_figures.roofline_figure(_roofline_plot(True)),
            lambda: zoo_figures.roofline_figure(_roofline_plot(False)),
        ],
        "training.memory_timeline_figure": [
            lambda: training_figures.memory_timeline_figure(_training()[0]),
            lambda: training_figures.memory_timeline_figure(_training(allocator=True)[0]),
            lambda: training_figures.memory_timeline_figure({}),
        ],
        "training.flops_figure": [
            lambda: training_figures.flops_figure(_training()[1]),
            lambda: training_figures.flops_figure([]),
        ],
        "scaling.multiplier_figure": [
            lambda: scaling_figures.multiplier_figure(sweeps, model_scaling.Multipliers(1.1, 1.2, 1.15), "flops")
        ],
        "scaling.law_figure": [
            lambda: scaling_figures.law_figure(
                model_scaling.phi_sweep(b0, base, 1.2, 1.1, 1.15), {"law": 1.92, "exact": 2.57}, None
            )
        ],
        "scaling.params_macs_figure": [
            lambda: scaling_figures.params_macs_figure(
                {"B": scaling.preset_points(scaling.b_series_names())}, {"params": 9e6, "macs": 9.9e8}, "macs"
            )
        ],
        "scaling.published_figure": [
            lambda: scaling_figures.published_figure(scaling.published_points(), 9.9e8, "macs")
        ],
        "scaling.activation_figure": [
            lambda: scaling_figures.activation_figure(
                scaling.activation_rows(effnets.model_cost("efficientnet_b0"), 4, 4), 4, "float32"
            )
        ],
        "scaling.mobilenet_heatmaps": [
            lambda: scaling_figures.mobilenet_heatmaps(mobilenet_grid((1.0, 0.5), (224, 160)), "macs", "MobileNetV1")
        ],
        "scaling.shufflenet_figure": [lambda: scaling_figures.shufflenet_figure(shufflenet_v1_groups_sweep(), "macs")],
        "layer_time.shares_figure": [
            lambda: layer_time_figures.shares_figure(
                [
                    {"stage": "stem", "% of time": 30.0, "% of MACs": 10.0},
                    {"stage": "head", "% of time": 5.0, "% of MACs": 2.0},
                ]
            ),
            lambda: layer_time_figures.shares_figure([{"kind": "conv", "% of time": 60.0, "% of MACs": 99.0}], "kind"),
        ],
        "scaling.progressive_figure": [
            lambda v=v: scaling_figures.progressive_figure(progressive_schedule(v), v) for v in ("s", "l")
        ],
        "design_space.sample_figures": [
            lambda: design_space_figures.sample_figures(sample_regnet_space(20, seed=1), regnets, "flops")
        ],
    }


def _figure_functions() -> set[str]:
    """'module.function' of every public function of effnets.figures that returns plotly figures."""
    out = set()
    for info in pkgutil.iter_modules(effnets.figures.__path__):
        if info.name == "style":  # the builder itself
            continue
        module = importlib.import_module(f"effnets.figures.{info.name}")
        for name, fn in inspect.getmembers(module, inspect.isfunction):
            if fn.__module__ == module.__name__ and not name.startswith("_") and "Figure" in str(fn.__annotations__):
                out.add(f"{info.name}.{name}")
    return out


@pytest.fixture(scope="module")
def cases():
    return _cases()


def test_every_figure_function_has_representative_inputs(cases):
    assert _figure_functions() == set(cases)


ALLOWED = set(style.COLORS) | {style.USER_COLOR, style.GREY} | {f.color for f in FAMILIES.values()}


def _is_grey_or_clear(color: str) -> bool:
    """A neutral grey (#rgb or #rrggbb with r = g = b) or a fully transparent rgba."""
    if m := re.fullmatch(r"#([0-9a-fA-F]{3}|[0-9a-fA-F]{6})", color):
        h = m.group(1)
        channels = list(h) if len(h) == 3 else [h[i : i + 2] for i in (0, 2, 4)]
        return len(set(c.lower() for c in channels)) == 1
    return re.fullmatch(r"rgba\(\s*\d+\s*,\s*\d+\s*,\s*\d+\s*,\s*0(\.0*)?\s*\)", color) is not None


def _colors(node, path: str = "") -> list[tuple[str, str]]:
    """(path, colour) of every explicit colour under ``node`` (colorscales are continuous scales, not colours)."""
    out = []
    if isinstance(node, dict):
        for k, v in node.items():
            if k.endswith("color") and not k.endswith("colorscale"):
                values = v if isinstance(v, list | tuple) else [v]
                out += [(f"{path}.{k}", c) for c in values if isinstance(c, str)]
            elif k not in ("colorscale", "colorbar"):
                out += _colors(v, f"{path}.{k}")
    elif isinstance(node, list | tuple):
        for i, v in enumerate(node):
            out += _colors(v, f"{path}[{i}]")
    return out


@pytest.mark.parametrize("name", sorted(_figure_functions()))
def test_figure_builds_on_the_shared_style(name, cases):
    for i, call in enumerate(cases[name]):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = call()
        assert not caught, f"{name} case {i}: {[str(w.message) for w in caught]}"
        for fig in result if isinstance(result, tuple) else (result,):
            assert isinstance(fig, go.Figure)
            assert fig.layout.height and fig.layout.margin.t is not None and fig.layout.margin.l == 10
            spec = fig.to_plotly_json()
            spec["layout"].pop("template", None)
            stray = [(path, c) for path, c in _colors(spec) if c.lower() not in ALLOWED and not _is_grey_or_clear(c)]
            assert not stray, f"{name} case {i}: colours outside the palette, the user's and the families': {stray}"


def test_palette_checks_catch_a_stray_colour():
    fig = style.figure([{"type": "bar", "x": [1], "y": [1], "marker": {"color": ["#1f77b4", "#e41a1c"]}}], {})
    found = [c for _, c in _colors(fig.to_plotly_json()["data"]) if c not in ALLOWED and not _is_grey_or_clear(c)]
    assert found == ["#e41a1c"]
    assert _is_grey_or_clear("#888") and _is_grey_or_clear("rgba(0,0,0,0)") and not _is_grey_or_clear("#889")


@pytest.mark.parametrize("name", sorted(BLOCKS))
def test_block_diagram_names_every_layer(name):
    """Every layer of every block's default module gets a named box (conv, norm, act, pool, merge): only an identity
    may be drawn as 'other'."""
    from effnets.figures import diagram

    info = BLOCKS[name]
    module = info.module(info.make_spec())
    gm = diagram.trace(module)
    labels = [diagram._module_label(gm.get_submodule(n.target)) for n in gm.graph.nodes if n.op == "call_module"]
    assert labels
    assert [label for kind, label in labels if kind == "other" and label != "identity"] == []


@pytest.mark.parametrize("preset", ["regnetx_200mf", "regnetx_400mf", "regnety_800mf"])
def test_regnet_widths_chart_is_valid_vega_lite_and_shows_every_block(preset):
    """The Design Space's widths chart (Vega-Lite, not plotly: see style.vega_layers) is a spec that Vega-Lite's own
    schema accepts (altair validates against it), draws every block's u_j and w_j, a cross exactly where the group
    width changed a width, one shaded band per stage, and only the palette's colours."""
    import altair as alt

    rows = design_space.regnet_block_rows(MODELS[preset].make_spec())
    spec = design_space_figures.regnet_widths_chart(rows)
    alt.LayerChart.from_dict(spec)  # raises on anything the schema rejects
    bands, labels, lines = spec["layer"]
    data = spec["datasets"]
    assert {layer["data"]["name"] for layer in (bands, labels, *lines["layer"])} == set(data)
    assert [p["width"] for p in data["u"]] == [r["continuous u_j"] for r in rows]
    assert [p["width"] for p in data["w"]] == [r["quantized w_j"] for r in rows]
    assert [p["block"] for p in data["changed"]] == [r["block"] for r in rows if r["final width"] != r["quantized w_j"]]
    assert len(data["bands"]) == len({r["stage"] for r in rows})
    for layer in lines["layer"]:  # what the axes count, as test_scaling_figures_say_what_they_count asks of plotly's
        enc = layer["encoding"]
        assert (enc["x"]["title"], enc["y"]["title"]) == ("block j", "output channels of the block")
    for band in data["bands"]:
        inside = [r for r in rows if band["x0"] < r["block"] < band["x1"]]
        assert {f"stage {r['stage']}" for r in inside} == {band["stage"]}
    drawn = {k: v for k, v in spec.items() if k != "resolve"}  # resolve.scale.color is a rule, not a colour
    stray = [(path, c) for path, c in _colors(drawn) if c.lower() not in ALLOWED and not _is_grey_or_clear(c)]
    ranges = [
        c
        for layer in (bands, *lines["layer"])
        for c in layer["encoding"].get("color", {}).get("scale", {}).get("range", [])
    ]
    assert not stray and set(ranges) <= ALLOWED, stray


def _without_data(spec: dict) -> dict:
    return {k: v for k, v in spec.items() if k != "datasets"}


@given(
    preset=hst.sampled_from(["regnetx_200mf", "regnety_800mf", "regnetx_1_6gf"]),
    depth=hst.integers(1, 40),
    w0=hst.integers(1, 32).map(lambda k: 8 * k),
    wa=hst.floats(0.0, 100.0),
    wm=hst.floats(1.5, 3.0),
    g=hst.sampled_from([1, 8, 16, 24, 48]),
)
@settings(max_examples=25, deadline=None)
def test_regnet_widths_chart_spec_is_the_same_at_every_setting(preset, depth, w0, wa, wm, g):
    """Only the datasets follow the settings: with the same spec, Streamlit's frontend swaps the data in the drawn
    chart instead of embedding it again (what keeps a Design Space change fast; style.vega_layers)."""
    base = MODELS[preset].make_spec()
    try:
        spec = base.replace(depth=depth, w0=w0, wa=wa, wm=wm, group_width=g)
        rows = design_space.regnet_block_rows(spec)
    except ValueError:
        return  # a setting that makes no network draws no chart
    chart = design_space_figures.regnet_widths_chart(rows)
    assert _without_data(chart) == _without_data(
        design_space_figures.regnet_widths_chart(design_space.regnet_block_rows(base))
    )
    assert len(chart["datasets"]["u"]) == len(rows)


def test_regnet_widths_chart_marks_a_group_width_change():
    """A setting where the group width moves widths (g = 24 on widths that are multiples of 8, not of 24)."""
    spec = MODELS["regnetx_200mf"].make_spec().replace(group_width=24)
    rows = design_space.regnet_block_rows(spec)
    assert any(r["final width"] != r["quantized w_j"] for r in rows)
    chart = design_space_figures.regnet_widths_chart(rows)
    crosses = chart["layer"][2]["layer"][-1]
    assert crosses["mark"]["color"] == style.USER_COLOR and crosses["data"]["name"] == "changed"
    assert len(chart["datasets"]["changed"]) == sum(r["final width"] != r["quantized w_j"] for r in rows) > 0


@pytest.mark.parametrize("k", [1, 5, 10])
def test_topk_chart_is_valid_vega_lite_with_the_most_likely_class_on_top(k):
    import altair as alt

    labels = [f"class {i}" for i in range(k)]
    probs = [0.5 / (i + 1) for i in range(k)]
    spec = kernel_figures.topk_chart(labels, probs, f"top-{k}")
    alt.LayerChart.from_dict(spec)  # Vega-Lite's schema accepts it
    rows = spec["datasets"][spec["data"]["name"]]
    assert [r["class"] for r in sorted(rows, key=lambda r: r["rank"])] == labels  # drawn in rank order, top first
    assert [r["probability"] for r in rows] == probs and rows[0]["text"] == "50.0%"
    assert spec["layer"][0]["encoding"]["y"]["sort"] == {"field": "rank"}
    assert (
        spec["title"]["text"] == f"top-{k}"
        and spec["height"] == kernel_figures.TOPK_CHROME_PX + kernel_figures.TOPK_BAR_PX * k
    )
    assert spec["layer"][0]["mark"]["color"] in ALLOWED


def test_the_leftmost_preset_label_is_drawn_to_its_right_where_it_cannot_be_cut():
    from effnets.figures.scaling import params_macs_figure

    groups = {
        "A": [
            {"macs": 400, "params": 5, "label": "A0", "resolution": 224},
            {"macs": 900, "params": 8, "label": "A1", "resolution": 240},
        ],
        "B": [{"macs": 500, "params": 6, "label": "B0", "resolution": 224}],
        "C": [{"macs": 100, "params": 3, "label": "C0", "resolution": 224}],
    }
    fig = params_macs_figure(groups, None, "macs")
    positions = {t.name: list(t.textposition) for t in fig.data}
    assert positions == {"A": ["top left", "top left"], "B": ["bottom right"], "C": ["top right"]}


def test_the_comparison_labels_never_round_a_difference_away():
    from effnets.analysis.compare import compare_blocks
    from effnets.figures.blocks import comparison_figure

    rows = compare_blocks(32, 64, 3, 56, 56, 1)
    fig = comparison_figure(rows, "macs", "macs")
    labels = dict(zip(fig.data[0].y, fig.data[0].text, strict=True))
    std = next(r for r in rows if r.name == "standard")
    for r in rows:
        if r.macs is None:
            continue
        text = labels[r.label]
        assert "(0% " not in text
        if r.macs == std.macs:
            assert text.endswith("(1x)")
        elif abs(r.macs - std.macs) < 0.005 * std.macs:  # SE: a few thousand MACs over the standard conv
            assert text.endswith(f"(+{human(r.macs - std.macs)})") or text.endswith(f"(-{human(std.macs - r.macs)})")
