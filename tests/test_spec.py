"""Validation: every impossible setting raises ValueError naming the rule and the values."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

import effnets
from effnets.blocks import BLOCKS
from effnets.spec import OutputTooSmall, SpecError, clamp_fields, decode_fields, encode_fields, parse_fields
from tests.strategies import spec_fields

CASES = [
    ("grouped", dict(in_channels=30, groups=4), "groups g=4 must divide C_in (in_channels)=30", "groups"),
    (
        "grouped",
        dict(in_channels=32, out_channels=30, groups=4),
        "groups g=4 must divide C_out (out_channels)=30",
        "groups",
    ),
    ("shuffle_v1", dict(in_channels=240, out_channels=200), "must equal C_out (out_channels)=200", "in_channels"),
    (
        "shuffle_v1",
        dict(in_channels=240, out_channels=240, stride=2),
        "must be greater than C_in (in_channels)=240",
        "out_channels",
    ),
    ("shuffle_v1", dict(in_channels=240, out_channels=240, groups=7), "groups g=7 must divide", "groups"),
    (
        "shuffle_v2",
        dict(in_channels=116, out_channels=117, stride=2),
        "C_out (out_channels)=117 must be even",
        "out_channels",
    ),
    ("shuffle_v2", dict(in_channels=115, out_channels=116), "C_in (in_channels)=115 must be even", "in_channels"),
    ("shuffle_v2", dict(in_channels=58, out_channels=116), "must equal C_out (out_channels)=116", "in_channels"),
    (
        "regnet",
        dict(out_channels=24, group_width=32),
        "group width g (group_width)=32 is above the bottleneck width 24",
        "group_width",
    ),
    (
        "regnet",
        dict(out_channels=40, group_width=16),
        "group width g (group_width)=16 must divide the bottleneck width 40",
        "group_width",
    ),
    ("vgnet_half_identity", dict(in_channels=7), "C (in_channels)=7 must be even", "in_channels"),
    ("vgnet_downsampling", dict(out_channels=9), "C_out (out_channels)=9 must be even", "out_channels"),
    (
        "deformable",
        dict(in_channels=10, offset_groups=3),
        "offset_groups=3 must divide C_in (in_channels)=10",
        "offset_groups",
    ),
    ("fire", dict(expand1x1_channels=0, expand3x3_channels=0), "must be at least 1", "expand1x1_channels"),
    ("inception", dict(ch1x1=0, ch3x3=0, ch5x5=0, pool_proj=0), "at least one tower", "ch1x1"),
    ("standard", dict(kernel_size=0), "kernel k (kernel_size)=0 is below the minimum 1", "kernel_size"),
    ("standard", dict(stride=9), "stride=9 is above the maximum 4", "stride"),
    ("standard", dict(activation="tanh"), "activation='tanh' is not allowed", "activation"),
    ("standard", dict(kernel_size=2.5), "kernel k (kernel_size)=2.5 must be an integer", "kernel_size"),
    ("mbconv", dict(stride=3), "stride=3 is not allowed", "stride"),
    ("standard", dict(bogus=1), "unknown setting 'bogus'", "bogus"),
]


@pytest.mark.parametrize(("name", "fields", "message", "field"), CASES)
def test_impossible_settings_raise_clear_messages(name, fields, message, field):
    """The message names the widget's label and the CLI key; the error carries the field (nobody parses text)."""
    with pytest.raises(SpecError) as e:
        effnets.block_spec(name, **fields)
    assert message in str(e.value)
    assert e.value.field == field


def test_output_below_one_is_reported_with_sizes():
    with pytest.raises(OutputTooSmall, match=r"a 2x2 input is too small for .*7x7 kernel.*needs at least 7x7 pixels"):
        effnets.block_cost("standard", (3, 2, 2), kernel_size=7, padding=0)
    with pytest.raises(ValueError, match="too small"):
        effnets.block_cost("dilated", (8, 5, 5), dilation=4, padding=0)


def test_in_channels_mismatch():
    with pytest.raises(ValueError, match="in_channels=16 does not match the input's 8 channels"):
        effnets.block_cost("standard", (8, 4, 4), in_channels=16)


def test_unknown_block_lists_known_ones():
    with pytest.raises(ValueError, match="unknown block 'bogus' .*depthwise_separable"):
        effnets.block_cost("bogus", (3, 8, 8))


@pytest.mark.parametrize("name", list(BLOCKS))
@given(data=st.data())
def test_url_string_round_trips(name, data):
    info = BLOCKS[name]
    fields = data.draw(spec_fields(info.spec))
    raw, warnings = decode_fields(encode_fields(fields))
    assert not warnings
    assert parse_fields(info.spec, raw) == fields


def test_clamp_fields_clamps_and_drops_with_warnings():
    cls = BLOCKS["standard"].spec
    values, warnings = clamp_fields(
        cls, {"kernel_size": "99", "stride": "abc", "nope": "1", "activation": "evil", "out_channels": "16"}
    )
    assert values == {"kernel_size": 15, "out_channels": 16}
    text = " | ".join(warnings)
    assert "kernel_size=99 from the link is above the maximum; set to 15" in text
    assert "stride: 'abc' is not an integer" in text
    assert "unknown setting 'nope'" in text
    assert "activation='evil'" in text


def test_decode_reports_malformed_pieces():
    raw, warnings = decode_fields("kernel_size:3,garbage,stride:2")
    assert raw == {"kernel_size": "3", "stride": "2"}
    assert warnings and "garbage" in warnings[0]
