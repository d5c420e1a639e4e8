"""The network's diagram and layer table coloured by measured time (effnets.figures.layer_time): every leaf layer's
time lands in exactly one box, darker boxes took longer, ops outside every layer stay grey, the key says what the
colours mean, and the DOT renders. One small real measurement (mobilenet_v3_small at 64 px, one round): nothing here
asserts a speed."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

import effnets
from effnets.counting import build_on_meta
from effnets.figures import diagram, layer_time
from effnets.runtime import per_layer

NAME, SHAPE = "mobilenet_v3_small", (3, 64, 64)
NODE = re.compile(r'^  (\w+) \[label="([^"]*)", fillcolor="(#[0-9a-f]{6})"(?:, fontcolor="(#[0-9a-f]{6})")?', re.M)


@pytest.fixture(scope="module")
def timed():
    r = per_layer.profile(effnets.build_model(NAME).eval(), SHAPE, warmup=0, repeats=1)
    meta = build_on_meta(lambda: effnets.build_model(NAME))
    return r, meta, layer_time.time_dot(meta, SHAPE, r)


def _nodes(dot: str) -> list[tuple[str, str, str, str | None]]:
    return NODE.findall(dot)


def _timed_boxes(dot: str) -> list[tuple[float, str, str]]:
    """(ms, fill, label) of every box that carries a measured time."""
    out = []
    for _, label, fill, _font in _nodes(dot):
        if m := re.search(r"\\n([0-9.]+) ms · ([0-9.]+)%", label):
            out.append((float(m.group(1)), fill, label))
    return out


def _luminance(hex_color: str) -> float:
    r, g, b = (int(hex_color[i : i + 2], 16) for i in (1, 3, 5))
    return 0.299 * r + 0.587 * g + 0.114 * b


def test_every_layer_time_is_in_exactly_one_box(timed):
    r, _, dot = timed
    boxes = _timed_boxes(dot)
    assert len(boxes) < len(r.layers)  # SE is one box for its four layers
    assert sum(ms for ms, _, _ in boxes) == pytest.approx(r.sum_ms, abs=0.0005 * len(boxes) + 1e-9)
    se = [label for _, _, label in boxes if label.startswith("SE ")]
    assert len(se) == sum(1 for m in build_on_meta(lambda: effnets.build_model(NAME)).modules() if diagram.is_box(m)
                          and any(True for _ in m.children()))  # fmt: skip


def test_boxes_that_took_longer_are_darker(timed):
    _, _, dot = timed
    # boxes whose printed times are equal (rounded in the label) may come in either order: the lighter one first
    boxes = sorted(_timed_boxes(dot), key=lambda b: (b[0], -_luminance(b[1])))
    lum = [_luminance(fill) for _, fill, _ in boxes]
    assert all(a >= b - 1.0 for a, b in zip(lum, lum[1:], strict=False))  # rounding of the fill to whole RGB steps
    assert boxes[-1][1] == "#7f0000"  # the slowest box gets the darkest colour of the scale
    assert _luminance(boxes[0][1]) > 240  # the fastest is nearly white


def test_ops_outside_every_layer_stay_grey_and_the_key_says_so(timed):
    _, _, dot = timed
    adds = [(label, fill) for _, label, fill, _ in _nodes(dot) if label.startswith("+ add")]
    assert adds and all(fill == diagram.UNPAINTED and " ms · " not in label for label, fill in adds)
    assert f'label="{layer_time.LEGEND_TITLE}"' in dot and "not timed" in dot
    top = max(float(m) for m in re.findall(r"\\n[0-9.]+ ms · ([0-9.]+)%", dot))
    cells = re.findall(r"<TD BGCOLOR=\"(#[0-9a-f]{6})\"><FONT COLOR=\"#[0-9a-f]{6}\">([0-9.]+)%</FONT>", dot)
    assert len(cells) == layer_time.LEGEND_STEPS and cells[0] == ("#fff7ec", "0.0")
    assert float(cells[-1][1]) == pytest.approx(top, abs=0.11) and cells[-1][0] == "#7f0000"


def test_dark_boxes_get_white_text(timed):
    _, _, dot = timed
    for _, _label, fill, font in _nodes(dot):
        if font:
            assert (font == "#ffffff") == (_luminance(fill) < 127.5)


def test_the_diagram_without_a_measurement_is_unchanged():
    meta = build_on_meta(lambda: effnets.build_model(NAME))
    dot = diagram.block_dot(meta, SHAPE)
    assert " ms · " not in dot and diagram.UNPAINTED not in dot and "#cfe2ff" in dot  # kinds' colours
    assert "cluster_time_legend" not in dot


def test_time_color_scale():
    assert layer_time.time_color(0.0, 0.2) == ("#fff7ec", "#111111")
    assert layer_time.time_color(0.2, 0.2) == ("#7f0000", "#ffffff")
    assert layer_time.time_color(0.5, 0.2) == layer_time.time_color(0.2, 0.2)  # clipped to the top
    assert layer_time.time_color(0.1, 0.0)[0] == "#fff7ec"  # nothing measured: no division by zero
    lum = [_luminance(layer_time.time_color(s / 20, 1.0)[0]) for s in range(21)]
    assert all(a > b for a, b in zip(lum, lum[1:], strict=False))


def test_table_cells_use_the_same_scale():
    css = layer_time.share_css([0.01, 0.3, 0.0, 0.15])
    assert len(css) == 4
    assert css[1] == "background-color: #7f0000; color: #ffffff"
    assert css[2] == "background-color: #fff7ec; color: #111111"
    assert css[3].startswith("background-color: " + layer_time.time_color(0.15, 0.3)[0])
    assert layer_time.share_css([]) == []


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
def test_the_coloured_diagram_renders(timed):
    _, _, dot = timed
    out = subprocess.run(["dot", "-Tsvg"], input=dot, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "share of measured time" in out.stdout and out.stderr.strip() == ""
