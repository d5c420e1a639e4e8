"""Every registered block: analytic counts == tracers, output shape == the module's, receptive field == gradients.

Parametrised over the registry, so a new block file is covered without new tests.
"""

from __future__ import annotations

import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from effnets import counting
from effnets.blocks import BLOCKS
from effnets.cost import EXTRA_KINDS
from effnets.spec import SpecError
from tests.rf import measured_receptive_field
from tests.strategies import input_hw, spec_fields

NAMES = list(BLOCKS)


def _valid(info, fields, shape):
    try:
        spec = info.make_spec(**fields)
        return spec, info.cost(spec, shape)
    except ValueError:
        return None, None


def _check_against_tracers(info, spec, cost, shape):
    meta = counting.build_on_meta(lambda: info.build(spec))
    assert cost.params == counting.param_count(meta), "analytic params != sum(p.numel())"
    assert cost.macs == counting.flop_counter_macs(meta, shape), "analytic MACs != FlopCounterMode / 2"
    traced = counting.dispatch_counts(meta, shape)
    assert cost.macs == traced.macs
    assert cost.acts == traced.acts, "analytic activation elements != conv/linear outputs"
    assert cost.extras_dict == traced.extras, "an extras line differs from the dispatch counter"
    with torch.no_grad():
        y = info.build(spec).eval()(torch.randn(1, *shape))
    assert tuple(y.shape[1:]) == cost.output_shape


@pytest.mark.parametrize("name", NAMES)
def test_default_spec_matches_all_tracers(name):
    info = BLOCKS[name]
    spec = info.make_spec()
    shape = (spec.in_channels, 14, 12)
    cost = info.cost(spec, shape)
    _check_against_tracers(info, spec, cost, shape)
    fv = counting.fvcore_counts(info.build(spec), shape)
    assert fv.conv_linear == cost.macs, "fvcore's conv+linear != analytic MACs"
    assert fv.acts == cost.acts, "fvcore's ActivationCountAnalysis != analytic acts"
    # fvcore's extra BN count is its 2-per-element rule applied to our BN line.
    assert fv.by_operator.get("batch_norm", 0) == 2 * cost.extra("bn")


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=40)
@given(data=st.data())
def test_random_specs_match_tracers(name, data):
    info = BLOCKS[name]
    fields = data.draw(spec_fields(info.spec))
    h, w = data.draw(input_hw(1, 18))
    shape = (fields["in_channels"], h, w)
    spec, cost = _valid(info, fields, shape)
    assume(spec is not None)
    _check_against_tracers(info, spec, cost, shape)


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=15)
@given(data=st.data())
def test_analytic_rejects_only_what_torch_rejects(name, data):
    """If the cost model says an input is too small, running the real module must fail too (not over-strict)."""
    info = BLOCKS[name]
    fields = data.draw(spec_fields(info.spec))
    h, w = data.draw(input_hw(1, 6))
    try:
        spec = info.make_spec(**fields)
    except ValueError:
        assume(False)
    shape = (spec.in_channels, h, w)
    try:
        info.cost(spec, shape)
        ok = True
    except ValueError:
        ok = False
    if ok:
        return
    with pytest.raises(RuntimeError), torch.no_grad():
        info.build(spec).eval()(torch.randn(1, *shape))


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=6)
@given(data=st.data())
def test_receptive_field_matches_gradients(name, data):
    info = BLOCKS[name]
    fields = data.draw(spec_fields(info.spec))
    fields["in_channels"] = data.draw(st.sampled_from([2, 4, 8]))
    try:
        spec = info.make_spec(**fields)
        probe = info.cost(spec, (spec.in_channels, 64, 64))
    except ValueError:
        assume(False)
    rf = max(probe.receptive_field)
    size = 2 * rf + 4 * probe.jump + 1
    cost = info.cost(spec, (spec.in_channels, size, size))
    measured = measured_receptive_field(info.build(spec), spec.in_channels, size)
    if cost.global_context:  # a global pool feeds the output: it reaches far beyond the local window
        assert all(cost.receptive_field[i] < measured[i] <= size for i in (0, 1))
    else:
        assert measured == cost.receptive_field


@pytest.mark.parametrize("name", NAMES)
def test_global_context_flag_matches_module(name):
    info = BLOCKS[name]
    spec = info.make_spec()
    cost = info.cost(spec, (spec.in_channels, 16, 16))
    has_global_pool = any(isinstance(m, torch.nn.AdaptiveAvgPool2d) for m in info.build(spec).modules())
    assert cost.global_context == has_global_pool


@pytest.mark.parametrize("name", NAMES)
def test_registry_entry_is_complete(name):
    info = BLOCKS[name]
    assert info.name == name
    for attr in ("label", "paper", "url", "layout", "explanation", "formula"):
        assert getattr(info, attr), f"{name}: empty {attr}"
    assert info.url.startswith("https://")
    for f in info.spec.__dataclass_fields__.values():
        assert f.metadata.get("help"), f"{name}.{f.name} has no help text"
    doc = info.module.__doc__ or ""
    assert "->" in doc.splitlines()[0] or "->" in doc, f"{name}: module docstring should open with its layout"


def test_extra_kinds_are_all_exercised_somewhere():
    seen = set()
    for info in BLOCKS.values():
        spec = info.make_spec()
        c = info.cost(spec, (spec.in_channels, 16, 16))
        seen |= {k for k in EXTRA_KINDS if c.extra(k)}
    assert seen == set(EXTRA_KINDS)


@pytest.mark.parametrize("name", list(BLOCKS))
@given(c_in=st.sampled_from((1, 2, 3, 8, 30, 32, 64, 96, 240)))
def test_defaults_follow_the_input_or_explain(name, c_in):
    """For any C_in, the block's defaults either fit it (following C_in where they must) or the error says why."""
    info = BLOCKS[name]
    try:
        spec = info.spec_for_input(c_in)
    except SpecError as e:
        assert e.field is not None and str(e)
        return
    assert spec.in_channels == c_in
    info.cost(spec, (c_in, 16, 16))


def test_stride_1_shuffle_units_default_to_c_out_equal_c_in():
    for name in ("shuffle_v1", "shuffle_v2"):
        spec = BLOCKS[name].spec_for_input(64)
        assert spec.out_channels == 64 and spec.stride == 1
    assert BLOCKS["shuffle_v1"].spec_for_input(64).groups == 2  # 3 does not divide 64
    with pytest.raises(SpecError, match="must equal C_out"):  # a C_out the user gave is kept, and refused
        BLOCKS["shuffle_v2"].spec_for_input(64, out_channels=128)


@pytest.mark.parametrize("name", list(BLOCKS))
@given(carried=spec_fields(BLOCKS["standard"].spec))
def test_switching_block_always_gives_a_valid_block(name, carried):
    """Settings another block left behind become settings that make this block (kept where they fit)."""
    info = BLOCKS[name]
    fitted, reset = info.fit(carried)
    spec = info.make_spec(**fitted)
    shared = {k for k in carried if k in fitted}
    assert set(reset) <= shared
    assert all(fitted[k] == carried[k] for k in shared - set(reset))
    if not reset:
        assert all(getattr(spec, k) == carried[k] for k in shared)


def test_sampling_figure_legend_names_only_what_is_drawn():
    from effnets.analysis.sampling import deformable_taps, picture
    from effnets.figures import blocks as block_figures

    spec = BLOCKS["standard"].make_spec()
    corner = block_figures.sampling_figure(picture(spec, (6, 6), (0, 0), (3, 3)))
    names = [t.name for t in corner.data if t.name]
    assert "zero padding (outside the input)" in names and any("receptive field 3x3" in n for n in names)
    assert any(s.line.dash == "dash" for s in corner.layout.shapes)
    centre = block_figures.sampling_figure(picture(spec, (56, 56), (28, 28), (3, 3)))
    assert not any("zero padding" in (t.name or "") for t in centre.data)
    d = BLOCKS["deformable"].make_spec(kernel_size=5, dilation=2)  # fractional sampling points (once a crash)
    pic = deformable_taps(d, (56, 56), None)
    fig = block_figures.sampling_figure(pic)
    assert any(t.name == "deformable sampling points" for t in fig.data)
    assert not fig.layout.shapes and not any("receptive field" in (t.name or "") for t in fig.data)


@pytest.mark.parametrize("name", list(BLOCKS))
def test_torchinfo_difference_is_explained_exactly(name):
    """The listed reasons for torchinfo's mult-adds add up to its difference from the analytic MACs, exactly, and
    the page's caption states that difference and each reason's amount."""
    import re

    from effnets.layer_table import layer_table, torchinfo_caption, torchinfo_reasons

    info = BLOCKS[name]
    spec = info.make_spec()
    shape = (spec.in_channels, 28, 28)
    c = info.cost(spec, shape)
    _rows, totals = layer_table(counting.build_on_meta(lambda: info.build(spec)), shape)
    reasons = torchinfo_reasons(totals, c.macs)
    assert sum(n for _, n in reasons) == totals["mult-adds (torchinfo)"] - c.macs
    assert all(n > 0 for why, n in reasons if "biases" in why or "normalisation" in why)  # extra counting adds
    text = torchinfo_caption(totals, c.macs)
    stated = int(re.search(r"mult-adds, ([+-][\d,]+) against", text).group(1).replace(",", ""))
    assert stated == totals["mult-adds (torchinfo)"] - c.macs
    assert [int(n.replace(",", "")) for n in re.findall(r"([+-][\d,]+) for ", text)] == [n for _, n in reasons]
    assert text.endswith("which agrees here.") == (not reasons)


def test_torchinfo_misses_vgnets_fixed_blur_and_counts_bn_once_per_image():
    from effnets.layer_table import layer_table, torchinfo_reasons

    info = BLOCKS["vgnet_downsampling"]
    spec = info.make_spec()
    c = info.cost(spec, (spec.in_channels, 28, 28))
    _rows, totals = layer_table(counting.build_on_meta(lambda: info.build(spec)), (spec.in_channels, 28, 28))
    reasons = dict((why.split(" (")[0].split(":")[0], n) for why, n in torchinfo_reasons(totals, c.macs))
    assert reasons == {"normalisation layers' γ and β": 112, "convs torchinfo does not see": -98_784}
    conv_bn = torch.nn.Sequential(torch.nn.Conv2d(8, 16, 3, padding=1, bias=False), torch.nn.BatchNorm2d(16))
    _rows, t = layer_table(counting.build_on_meta(lambda: conv_bn), (8, 8, 8), batch=2)
    assert t["parts"] == {"weights": 73_728, "bias": 0, "norm": 32, "other": 0}  # BN: params per image


@pytest.mark.parametrize("name", list(BLOCKS))
def test_fvcore_difference_is_explained_exactly(name):
    """fvcore's total minus the analytic MACs is exactly what the notes say it adds; every skipped op is put on the
    extras line that holds its work (a line that is not empty), or said to be no tensor work."""
    import re

    info = BLOCKS[name]
    spec = info.make_spec()
    shape = (spec.in_channels, 20, 20)
    c = info.cost(spec, shape)
    cc = counting.cross_check(lambda: info.build(spec), c, shape)
    added = sum(int(m.group(1).replace(",", "")) for n in cc.notes if (m := re.match(r"fvcore adds ([\d,]+) for", n)))
    assert added + (cc.fvcore.conv_linear - c.macs) == cc.fvcore.total - c.macs
    line_of = {"act": "act", "elementwise": "elementwise", "pool": "pool"}
    for note in cc.notes:
        if note.startswith("fvcore skips"):
            for line in re.findall(r"effnets' (\w+) line(?! \(empty here\))", note):
                assert c.extra(line_of[line]) > 0, (line, note)


@pytest.mark.parametrize("name", NAMES)
def test_formula_lines_add_up_to_the_totals_shown_under_them(name):
    """Each conv/linear layer's substituted formula ends in its MACs; they sum to the total line, which is the
    traced count, and the params line is the module's."""
    import re

    from effnets.figures import blocks as block_figures

    info = BLOCKS[name]
    spec = info.make_spec()
    shape = (spec.in_channels, 20, 20)
    c = info.cost(spec, shape)
    *layers, total, params = block_figures.formula_latex(c)
    assert len(layers) == sum(1 for s in c.steps if s.kind in ("conv", "linear"))

    def last_number(tex: str) -> int:
        return int(re.findall(r"= ([\d{},]+)$", tex)[-1].replace("{,}", ""))

    module = info.build(spec)
    traced = counting.dispatch_counts(module, shape)
    assert sum(last_number(t) for t in layers) == last_number(total) == traced.macs
    assert last_number(params) == counting.param_count(module)


def test_extras_check_rows_flag_exactly_the_lines_that_disagree():
    from effnets.figures import blocks as block_figures

    info = BLOCKS["mbconv"]
    spec = info.make_spec()
    shape = (spec.in_channels, 16, 16)
    c = info.cost(spec, shape)
    traced = counting.dispatch_counts(info.build(spec), shape).extras
    rows = block_figures.extras_check_rows(c, traced)
    assert [r["line"] for r in rows] == list(EXTRA_KINDS) and all(r["agrees"] for r in rows)
    off = {**traced, "act": traced["act"] + 1}
    assert [r["line"] for r in block_figures.extras_check_rows(c, off) if not r["agrees"]] == ["act"]


@pytest.mark.parametrize(("out_pos", "expected_in_padding"), [((0, 0), 5), ((3, 3), 0)])
def test_sampling_caption_counts_the_taps_and_those_in_the_padding(out_pos, expected_in_padding):
    """A 3x3 window at the corner of a 6x6 input reads 5 padding cells (a row and a column of 3, sharing one)."""
    from effnets.analysis.sampling import picture

    spec = BLOCKS["standard"].make_spec()
    pic = picture(spec, (6, 6), out_pos, (3, 3))
    outside = sum(1 for r, col in pic.taps if not (0 <= r < 6 and 0 <= col < 6))
    assert outside == expected_in_padding
    assert f"reads {len(pic.taps)} input pixels, {outside} of them in the zero padding" in pic.caption()
    assert "receptive field (3×3)" in pic.caption()


def test_torchinfo_counts_convnexts_per_pixel_linears_once_per_image():
    """ConvNeXt's 1x1s are Linear layers on an N x H x W x C map: torchinfo counts their weights once per image, and
    the caption says so (not 'convs torchinfo does not see')."""
    from effnets.layer_table import layer_table, torchinfo_reasons

    info = BLOCKS["convnext"]
    spec = info.make_spec(in_channels=96)
    c = info.cost(spec, (96, 28, 28))
    _rows, totals = layer_table(counting.build_on_meta(lambda: info.build(spec)), (96, 28, 28))
    reasons = dict(torchinfo_reasons(totals, c.macs))
    linear = 2 * 96 * 384  # the two 1x1 weights
    per_pixel = next(n for why, n in reasons.items() if why.startswith("Linear layers applied at every pixel"))
    assert per_pixel == -linear * (28 * 28 - 1)
    assert not any(why.startswith("convs torchinfo does not see") for why in reasons)
