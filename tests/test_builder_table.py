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
    assert all(isinstance(r["more"], str) and r["more"] != "None" for r in rows)
    assert builder.from_table(rows, d.resolution, d.in_channels) == d


def test_cells_as_the_editor_returns_them_blank_or_nan_read_as_the_blocks_default():
    d = design.from_model("mobilenet_v2")
    rows = builder.table_rows(d)
    # pandas turns a missing number in a number column into NaN and a new line's text into None
    nan_rows = [{k: (math.nan if v is None else v) for k, v in r.items()} for r in rows]
    assert builder.from_table(nan_rows, d.resolution, d.in_channels) == d
    assert builder.from_table([{**r, "more": r["more"] or None} for r in rows], d.resolution, d.in_channels) == d


def test_a_line_without_a_type_is_named():
    d = design.from_model("mobilenet_v2")
    rows = builder.table_rows(d)
    rows.insert(2, {"stage": 2, "type": None, "repeats": 1, "more": None})
    with pytest.raises(SpecError, match="line 3: choose a block or layer type"):
        builder.from_table(rows, d.resolution, d.in_channels)
