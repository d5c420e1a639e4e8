"""The Network Builder's stage table (effnets.analysis.builder.table_rows / from_table): every registered network's
design survives the table unchanged, cells a line does not use are blank (never the text 'None'), and a line that
cannot be read is named."""

from __future__ import annotations

import math

import pytest

from effnets.analysis import builder
from effnets.models import MODELS
from effnets.networks import design
from effnets.spec import SpecError


@pytest.mark.parametrize("name", sorted(MODELS))
def test_every_registered_network_survives_the_table(name):
    d = design.from_model(name)
    rows = builder.table_rows(d)
    assert all(set(r) == set(builder.COLUMNS) for r in rows)
    assert all(isinstance(r[k], str) and r[k] != "None" for r in rows for k in (*builder.MAIN, "more"))
    assert builder.from_table(rows, d.resolution, d.in_channels) == d


def test_cells_as_the_editor_returns_them_blank_none_or_nan_read_as_the_blocks_default():
    d = design.from_model("mobilenet_v2")
    rows = builder.table_rows(d)
    assert any(r["kernel_size"] == "" for r in rows) and any(r["more"] for r in rows)
    # a new line's empty cells come back as None; a number typed into a number column as a float, missing as NaN
    for blank in (None, math.nan, "  "):
        edited = [{k: (blank if v == "" else v) for k, v in r.items()} for r in rows]
        assert builder.from_table(edited, d.resolution, d.in_channels) == d
    numeric = [{**r, "out_channels": float(r["out_channels"]) if r["out_channels"] else math.nan} for r in rows]
    assert builder.from_table(numeric, d.resolution, d.in_channels) == d
    spaced = [{**r, "out_channels": f" {r['out_channels']} "} for r in rows]
    assert builder.from_table(spaced, d.resolution, d.in_channels) == d


@pytest.mark.parametrize("bad", ["abc", "32,k:7", "3)|conv(c:1", "1e"])
def test_a_main_cell_that_is_not_a_number_is_named_with_its_line(bad):
    d = design.from_model("mobilenet_v2")
    rows = builder.table_rows(d)
    rows[1]["out_channels"] = bad
    with pytest.raises(SpecError, match=r"line 2: out_channels must be a number"):
        builder.from_table(rows, d.resolution, d.in_channels)


def test_a_line_without_a_type_is_named():
    d = design.from_model("mobilenet_v2")
    rows = builder.table_rows(d)
    rows.insert(2, {"stage": 2, "type": None, "repeats": 1, "more": None})
    with pytest.raises(SpecError, match="line 3: choose a block or layer type"):
        builder.from_table(rows, d.resolution, d.in_channels)
