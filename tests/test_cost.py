"""The cost primitives against PyTorch's own shape rules."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from effnets import cost


@given(
    size=st.integers(1, 40),
    k=st.integers(1, 7),
    s=st.integers(1, 4),
    p=st.integers(0, 4),
    d=st.integers(1, 3),
)
def test_conv_out_size_matches_torch(size, k, s, p, d):
    x = torch.empty(1, 1, size, size, device="meta")
    w = torch.empty(1, 1, k, k, device="meta")
    ours = cost.out_size(size, k, s, p, d)
    try:
        theirs = F.conv2d(x, w, stride=s, padding=p, dilation=d).shape[-1]
    except RuntimeError:
        assert ours < 1
        return
    assert ours == theirs


@given(size=st.integers(1, 40), k=st.integers(1, 5), s=st.integers(1, 3), p=st.integers(0, 2), ceil=st.booleans())
def test_pool_out_size_matches_torch(size, k, s, p, ceil):
    if p > k // 2:
        return  # torch requires pad <= kernel/2
    x = torch.zeros(1, 1, size, size)
    ours = cost.out_size(size, k, s, p, 1, ceil)
    try:
        theirs = F.max_pool2d(x, k, s, p, ceil_mode=ceil).shape[-1]
    except RuntimeError:
        assert ours < 1
        return
    assert ours == theirs


@given(size=st.integers(1, 40), k=st.sampled_from([1, 3, 5, 7]), s=st.integers(1, 3))
def test_tf_same_padding_gives_ceil_size(size, k, s):
    before, after = cost.tf_same_pad(size, k, s)
    assert after - before in (0, 1)  # TensorFlow puts the odd pixel after
    x = F.pad(torch.zeros(1, 1, size, size), (before, after, before, after))
    y = F.conv2d(x, torch.zeros(1, 1, k, k), stride=s)
    assert y.shape[-1] == cost.tf_same_out(size, s) == -(-size // s)


def test_branch_totals_are_added_once():
    x = cost.start(8, 10, 10)
    x = cost.conv(x, 16, 3)
    a = cost.conv(cost.branch(x), 4, 1)
    b = cost.conv(cost.branch(x), 4, 3)
    y = cost.concat(x, a, b)
    assert y.c == 8
    assert y.params == 16 * 8 * 9 + 4 * 16 + 4 * 16 * 9
    assert y.macs == 16 * 8 * 9 * 100 + 4 * 16 * 100 + 4 * 16 * 9 * 100
    assert y.rf_h == 5  # the 3x3 branch on top of the 3x3 trunk


def test_errors_name_the_values():
    x = cost.start(30, 8, 8)
    with pytest.raises(ValueError, match="groups=4 must divide both in_channels=30 and out_channels=64"):
        cost.conv(x, 64, 3, groups=4)
    with pytest.raises(ValueError, match="input is too small for"):
        cost.conv(cost.start(3, 2, 2), 8, 5, padding=0)
    with pytest.raises(ValueError, match="input height must be at least 1"):
        cost.start(3, 0, 4)
    with pytest.raises(ValueError, match="cannot add"):
        cost.add(cost.start(3, 4, 4), cost.start(4, 4, 4))
    with pytest.raises(ValueError, match="cannot concatenate"):
        cost.concat(cost.start(3, 4, 4), cost.start(3, 4, 4), cost.start(3, 2, 2))
    with pytest.raises(ValueError, match="activation 'gelu2'"):
        cost.act(x, "gelu2")


def test_flops_are_twice_macs_and_extras_are_separate():
    x = cost.act(cost.norm(cost.conv(cost.start(3, 8, 8), 4, 3)), "relu")
    assert x.flops == 2 * x.macs
    assert x.total_macs(["bn", "act"]) == x.macs + 2 * 4 * 8 * 8
    assert x.to_dict()["extras"]["bn"] == 256
