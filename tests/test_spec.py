"""Validation: every impossible setting raises ValueError naming the rule and the values."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

import effnets
from effnets.blocks import BLOCKS
from effnets.spec import clamp_fields, decode_fields, encode_fields, parse_fields
from tests.strategies import spec_fields

CASES = [
    ("grouped", dict(in_channels=30, groups=4), "groups=4 must divide in_channels=30"),
    ("grouped", dict(in_channels=32, out_channels=30, groups=4), "groups=4 must divide out_channels=30"),
    ("shuffle_v1", dict(in_channels=240, out_channels=200), "must equal out_channels=200"),
    ("shuffle_v1", dict(in_channels=240, out_channels=240, stride=2), "must be greater than in_channels=240"),
    ("shuffle_v1", dict(in_channels=240, out_channels=240, groups=7), "groups=7 must divide"),
    ("shuffle_v2", dict(in_channels=116, out_channels=117, stride=2), "out_channels=117 must be even"),
    ("shuffle_v2", dict(in_channels=115, out_channels=116), "in_channels=115 must be even"),
    ("shuffle_v2", dict(in_channels=58, out_channels=116), "must equal out_channels=116"),
    ("regnet", dict(out_channels=24, group_width=32), "group_width=32 is above the bottleneck width 24"),
    ("regnet", dict(out_channels=40, group_width=16), "group_width=16 must divide the bottleneck width 40"),
    ("vgnet_half_identity", dict(in_channels=7), "in_channels=7 must be even"),
    ("vgnet_downsampling", dict(out_channels=9), "out_channels=9 must be even"),
    ("deformable", dict(in_channels=10, offset_groups=3), "offset_groups=3 must divide in_channels=10"),
    ("fire", dict(expand1x1_channels=0, expand3x3_channels=0), "must be at least 1"),
    ("inception", dict(ch1x1=0, ch3x3=0, ch5x5=0, pool_proj=0), "at least one tower"),
    ("standard", dict(kernel_size=0), "kernel_size=0 is below the minimum 1"),
    ("standard", dict(stride=9), "stride=9 is above the maximum 4"),
    ("standard", dict(activation="tanh"), "activation='tanh' is not allowed"),
    ("standard", dict(kernel_size=2.5), "kernel_size=2.5 must be an integer"),
    ("mbconv", dict(stride=3), "stride=3 is not allowed"),
    ("standard", dict(bogus=1), "unknown setting 'bogus'"),
]


@pytest.mark.parametrize(("name", "fields", "message"), CASES)
def test_impossible_settings_raise_clear_messages(name, fields, message):
    with pytest.raises(ValueError) as e:
        effnets.block_spec(name, **fields)
    assert message in str(e.value)


def test_output_below_one_is_reported_with_sizes():
    with pytest.raises(ValueError, match=r"output size below 1 .* a 2x2 input is too small for a 7x7 kernel"):
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
