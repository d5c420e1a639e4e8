"""Figures drawn as PNG images (effnets.figures.images): the colours are plotly's (checked against plotly's own
colorscale sampling), every pixel is the value it stands for, and the Kernel Gallery's images show the real layer."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image
from plotly.colors import convert_colors_to_same_type, get_colorscale, sample_colorscale, unlabel_rgb

from effnets.figures import images
from effnets.figures import kernels as kernel_figures


def _decode(data: bytes) -> np.ndarray:
    im = Image.open(io.BytesIO(data))
    assert im.format == "PNG" and im.mode == "RGB"
    return np.asarray(im)


@pytest.mark.parametrize("scale", ["RdBu_r", "Viridis"])
def test_colours_are_plotlys_interpolation(scale):
    values = np.random.default_rng(0).uniform(-1, 1, 200)
    ours = images.colorize(values, scale)
    stops = get_colorscale(scale)
    rgb = convert_colors_to_same_type([c for _, c in stops], colortype="rgb")[0]
    theirs = sample_colorscale([[p, c] for (p, _), c in zip(stops, rgb, strict=True)], list((values + 1) / 2))
    theirs = np.array([unlabel_rgb(c) for c in theirs])
    assert np.abs(ours.astype(float) - theirs).max() <= 1.0  # rounding only


def test_sign_clipping_and_gaps():
    red, white, blue = images.colorize(np.array([1.0, 0.0, -1.0]))
    assert red[0] > 2 * red[2] and blue[2] > 2 * blue[0]  # positive red, negative blue
    assert white.min() > 230  # zero is (near) white
    assert (images.colorize(np.array([5.0, -5.0])) == images.colorize(np.array([1.0, -1.0]))).all()
    assert tuple(images.colorize(np.array([np.nan]))[0]) == images.GAP


def test_every_pixel_of_a_heatmap_is_its_tiled_value():
    kernels = np.random.default_rng(1).uniform(-1, 1, (7, 3, 5))
    grid = kernel_figures.tile(kernels, columns=3)  # 3 rows of up to 3 kernels, NaN gaps
    img = _decode(images.heatmap_png(grid, target=200))
    f = images.fit_factor(grid.shape[1], 200)
    assert f > 1 and img.shape == (grid.shape[0] * f, grid.shape[1] * f, 3)
    expected = images.colorize(grid)
    assert (img[::f, ::f] == expected).all() and (img[f - 1 :: f, f - 1 :: f] == expected).all()
    # kernel 4 (second row, second column), its top-left value, is at the top-left of its tile: rows read downwards
    r0, c0 = (3 + 1) * f, (5 + 1) * f
    assert (img[r0, c0] == images.colorize(kernels[4][:1, :1])[0, 0]).all()


def test_legend_runs_from_blue_to_red():
    bar = _decode(images.legend_png(width=50, height=4))
    assert bar.shape == (4, 50, 3)
    assert bar[0, 0, 2] > bar[0, 0, 0] and bar[0, -1, 0] > bar[0, -1, 2]


def test_kernel_table_writes_every_value_and_escapes_the_title():
    k = np.array([[0.25, -0.5], [1.0, 0.0]])
    out = images.kernel_table_html(k, "<script>alert(1)</script> #3")
    assert "<script>" not in out and "&lt;script&gt;" in out
    for v in ("0.25", "-0.50", "1.00", "0.00"):
        assert f">{v}</td>" in out
    assert out.count("<td") == 4


def test_stem_image_is_what_the_interactive_chart_shows():
    tiles = np.random.default_rng(2).uniform(0, 1, (10, 3, 3, 3))
    fig = kernel_figures.rgb_grid(tiles, columns=4)
    assert (np.asarray(fig.data[0].z) == kernel_figures.rgb_image(tiles, columns=4)).all()


@pytest.fixture(scope="module")
def lite0_views():
    from effnets.analysis import kernels as kernel_stats
    from effnets.ui import kernels_cached, runtime

    model, _ = runtime.base_model("efficientnet_lite0", True)
    rows = kernel_stats.layer_shares(model)
    names = {r.kind: r.name for r in reversed(rows)}  # the first layer of each kind
    return {
        kind: kernels_cached.layer_view("efficientnet_lite0", True, name, "kernel", kernel_stats.DEFAULT_THRESHOLD)
        for kind, name in names.items()
    }


def test_gallery_image_shows_the_layers_own_kernels(lite0_views):
    view = lite0_views["depthwise"]
    shown = view["kernels"]
    grid = kernel_figures.tile(shown, columns=16)
    img = _decode(view["png"])
    f = img.shape[1] // grid.shape[1]
    assert img.shape[:2] == (grid.shape[0] * f, grid.shape[1] * f)
    k = shown.shape[1]
    for i in (0, 17, len(shown) - 1):
        r, c = divmod(i, 16)
        tile = img[r * (k + 1) * f : (r * (k + 1) + k) * f : f, c * (k + 1) * f : (c * (k + 1) + k) * f : f]
        assert (tile == images.colorize(shown[i])).all(), f"kernel {i}"


def test_gallery_pointwise_and_stem_images(lite0_views):
    pw = lite0_views["pointwise"]
    values = kernel_figures.pointwise_values(pw["weight"])
    img = _decode(pw["png"])
    f = img.shape[1] // values.shape[1]
    assert (img[::f, ::f] == images.colorize(values)).all()
    stem = lite0_views["stem"]
    assert (_decode(stem["png"]) == kernel_figures.rgb_image(stem["tiles"])).all()
