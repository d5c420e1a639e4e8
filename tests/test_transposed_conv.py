"""The transposed conv block: its cost primitive against PyTorch's shape rule and the tracers' convention, its
receptive field by phase, and its sampling picture (how many kernel taps reach each output pixel) against a
brute-force count by torch itself."""

from __future__ import annotations

import warnings

import plotly.graph_objects as go
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

import effnets
from effnets import cost, counting
from effnets.analysis import sampling
from effnets.blocks import BLOCKS
from effnets.figures import blocks as block_figures
from effnets.spec import OutputTooSmall, SpecError
from tests.rf import measured_receptive_field
from tests.test_figures import ALLOWED, _colors, _is_grey_or_clear

INFO = BLOCKS["transposed_conv"]


@given(
    size=st.integers(1, 12),
    k=st.integers(1, 7),
    s=st.integers(1, 4),
    p=st.integers(0, 4),
    op=st.integers(0, 3),
    groups=st.sampled_from([1, 2]),
)
def test_transposed_conv_primitive_matches_torch(size, k, s, p, op, groups):
    """Output size, params and MACs of cost.conv(transposed=True) against torch, FlopCounterMode and the dispatch
    counter; where the analytic output is below 1, torch refuses too."""
    if op >= s:
        return  # torch requires output_padding < stride (the spec says so; tested below)
    m = torch.nn.ConvTranspose2d(4, 6, k, s, p, op, groups=groups, bias=True)
    try:
        y = m(torch.zeros(1, 4, size, size + 1))
        assert 0 not in y.shape  # torch's grouped path returns an empty map where groups = 1 refuses
    except (RuntimeError, AssertionError):
        with pytest.raises(OutputTooSmall):
            cost.conv(cost.start(4, size, size + 1), 6, k, s, p, 1, groups, True, transposed=True, output_padding=op)
        return
    c = cost.conv(cost.start(4, size, size + 1), 6, k, s, p, 1, groups, True, transposed=True, output_padding=op)
    assert c.output_shape == tuple(y.shape[1:])
    assert c.params == sum(t.numel() for t in m.parameters())
    assert c.macs == 4 * (6 // groups) * k * k * size * (size + 1)  # every input pixel scattered over k x k taps
    meta = counting.build_on_meta(lambda: torch.nn.ConvTranspose2d(4, 6, k, s, p, op, groups=groups, bias=True))
    assert (
        c.macs
        == counting.flop_counter_macs(meta, (4, size, size + 1))
        == counting.dispatch_counts(meta, (4, size, size + 1)).macs
    )


def test_fvcore_counts_the_transposed_conv_the_same_way():
    spec = INFO.make_spec(in_channels=8, out_channels=16, kernel_size=4, stride=2, padding=1, output_padding=0)
    c = INFO.cost(spec, (8, 9, 7))
    assert counting.fvcore_counts(INFO.build(spec), (8, 9, 7)).conv_linear == c.macs == 8 * 16 * 16 * 9 * 7


@pytest.mark.parametrize(
    ("k", "s", "p", "op", "size"),
    [
        (3, 2, 1, 1, 7),
        (3, 2, 1, 0, 6),
        (4, 2, 1, 0, 5),
        (1, 2, 0, 1, 4),
        (5, 3, 2, 2, 6),
        (2, 1, 0, 0, 3),
        (7, 4, 3, 1, 5),
    ],
)
def test_tap_counts_equal_a_transposed_conv_of_ones(k, s, p, op, size):
    """conv_transpose2d of an all-ones input with an all-ones kernel adds 1 for each tap reaching each output."""
    spec = INFO.make_spec(in_channels=1, out_channels=1, kernel_size=k, stride=s, padding=p, output_padding=op)
    pic = sampling.transposed_taps(spec, (size, size + 2), None)
    brute = F.conv_transpose2d(torch.ones(1, 1, size, size + 2), torch.ones(1, 1, k, k), None, s, p, op)[0, 0]
    assert torch.equal(torch.tensor(pic.counts, dtype=brute.dtype), brute)
    assert pic.out_hw == tuple(brute.shape) == INFO.cost(spec, (1, size, size + 2)).output_shape[1:]
    i, j = pic.out_pos
    assert len(pic.sources) == pic.counts[i][j]  # the listed sources are exactly the taps counted there


def test_stride_2_kernel_3_is_a_checkerboard_and_kernel_4_is_uniform():
    spec3 = INFO.make_spec(kernel_size=3, stride=2, padding=1, output_padding=1)
    pic3 = sampling.transposed_taps(spec3, (8, 8), None)
    inner = [row[2:-2] for row in pic3.counts[2:-2]]
    assert {v for row in inner for v in row} == {1, 2, 4} and pic3.interior == [1, 2, 4]
    for r, row in enumerate(inner):  # 2 x 2 period: the count depends on the parity of the row and the column
        for c, v in enumerate(row):
            assert v == inner[r % 2][c % 2]
            if c + 1 < len(row):
                assert v != row[c + 1]
    assert "checkerboard" in pic3.caption() and "k = 4" in pic3.caption()
    spec4 = INFO.make_spec(kernel_size=4, stride=2, padding=1, output_padding=0)
    pic4 = sampling.transposed_taps(spec4, (8, 8), None)
    assert {v for row in pic4.counts[1:-1] for v in row[1:-1]} == {4} and pic4.uniform
    assert "every output pixel receives 4" in pic4.caption()
    holes = sampling.transposed_taps(INFO.make_spec(kernel_size=1, stride=2, padding=0), (6, 6), None)
    assert 0 in holes.interior and "holes" in holes.caption()


@pytest.mark.parametrize(("k", "s", "op"), [(3, 2, 0), (3, 2, 1), (4, 2, 0), (5, 3, 1), (2, 3, 0)])
def test_receptive_field_is_the_largest_over_the_phases(k, s, op):
    """Outputs of a transposed conv see ceil(k/s) or floor(k/s) inputs per axis by phase; the analytic field is the
    largest, which the gradient measurement over a phase's worth of neighbouring outputs finds."""
    spec = INFO.make_spec(in_channels=2, out_channels=2, kernel_size=k, stride=s, padding=1, output_padding=op)
    c = INFO.cost(spec, (2, 9, 9))
    assert c.receptive_field == (-(-k // s),) * 2 == (max(sampling.interior_counts(k, s)),) * 2
    assert measured_receptive_field(INFO.build(spec), 2, 9) == c.receptive_field


def test_spec_rejects_what_torch_rejects():
    with pytest.raises(SpecError, match="output_padding=2 must be smaller than stride=2") as e:
        INFO.make_spec(stride=2, output_padding=2)
    assert e.value.field == "output_padding"
    with pytest.raises(SpecError, match=r"groups=4 must divide C_in \(in_channels\)=6") as e:
        INFO.make_spec(in_channels=6, out_channels=8, groups=4)
    assert e.value.field == "groups"
    with pytest.raises(OutputTooSmall, match="needs at least 2x2 pixels"):
        effnets.block_cost("transposed_conv", (32, 1, 1), kernel_size=1, padding=1, output_padding=0)
    grouped = INFO.make_spec(in_channels=4, out_channels=4, kernel_size=1, padding=1, output_padding=1, groups=2)
    with pytest.raises(OutputTooSmall):
        INFO.cost(grouped, (4, 1, 2))
    with pytest.raises(RuntimeError, match="Output size is too small"):  # where torch itself would return 0 x 2
        INFO.build(grouped)(torch.zeros(1, 4, 1, 2))


def test_sampling_figure_builds_on_the_shared_style():
    """As tests/test_figures.py checks every figure: no plotly warning, the shared base, the palette's colours."""
    for k in (3, 4):
        spec = INFO.make_spec(kernel_size=k, stride=2, padding=1, output_padding=1 if k == 3 else 0)
        for hw, pos in (((7, 9), None), ((40, 40), (0, 0)), ((40, 40), (79, 79)), ((1024, 1024), None)):
            pic = sampling.picture(spec, hw, pos, INFO.cost(spec, (32, *hw)).receptive_field)
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                fig = block_figures.sampling_figure(pic)
            assert not caught and isinstance(fig, go.Figure)
            assert fig.layout.height and fig.layout.margin.l == 10
            spec_json = fig.to_plotly_json()
            spec_json["layout"].pop("template", None)
            assert all(c.lower() in ALLOWED or _is_grey_or_clear(c) for _, c in _colors(spec_json))
            heat = fig.data[0]
            assert len(heat.z) <= 31 and len(heat.z[0]) <= 31  # a window of the output around the chosen pixel
            i, j = pic.out_pos
            assert heat.z[list(heat.y).index(i)][list(heat.x).index(j)] == pic.count(i, j)
            assert fig.data[1].name == f"output ({i}, {j}): {pic.count(i, j)} taps"


def test_block_lab_sampling_section_shows_the_tap_counts():
    from tests.app.conftest import no_exceptions, page

    at = page("block_lab.py", {"block": "transposed_conv"}, section="Sampling").run()
    no_exceptions(at)
    assert any("How many kernel taps reach each output pixel" in m.value for m in at.markdown)
    assert any(
        "output (56, 56) of 112×112 receives 1 kernel tap" in c.value and "checkerboard" in c.value for c in at.caption
    )
