"""effnets: exact costs, scaling and behaviour of efficient convolutional network designs.

Python API (the CLI and the app use the same functions):

>>> import effnets
>>> effnets.list_blocks()[:3]
['standard', 'grouped', 'depthwise']
>>> c = effnets.block_cost("depthwise_separable", (32, 56, 56), out_channels=64)
>>> c.params, c.macs, c.output_shape
(2528, 7325696, (64, 56, 56))
"""

from __future__ import annotations

from typing import Any

from torch import nn

from effnets.blocks import BLOCKS, BlockInfo, get_block
from effnets.cost import Cost

__all__ = ["list_blocks", "build_block", "block_cost", "block_spec", "get_block", "BlockInfo", "Cost"]


def list_blocks() -> list[str]:
    """Names of the block types in the catalog, in teaching order."""
    return list(BLOCKS)


def block_spec(name: str, **fields: Any):
    """The validated spec of block ``name`` (unknown keys and impossible settings raise ValueError)."""
    return get_block(name).make_spec(**fields)


def build_block(name: str, in_channels: int | None = None, **fields: Any) -> nn.Module:
    """Build block ``name`` as an ``nn.Module``; fields are the spec's (the CLI's ``--set`` keys)."""
    if in_channels is not None:
        fields["in_channels"] = in_channels
    info = get_block(name)
    return info.build(info.make_spec(**fields))


def block_cost(name: str, input_shape: tuple[int, int, int], **fields: Any) -> Cost:
    """Analytic cost of block ``name`` on one C x H x W input; ``in_channels`` is taken from C.

    Returns a :class:`effnets.cost.Cost` with ``.params``, ``.macs``, ``.flops``, ``.output_shape``,
    ``.receptive_field`` and the extras lines.
    """
    if len(input_shape) != 3:
        raise ValueError(f"input shape must be (C, H, W), got {tuple(input_shape)}")
    c = int(input_shape[0])
    if "in_channels" in fields and int(fields["in_channels"]) != c:
        raise ValueError(f"in_channels={fields['in_channels']} does not match the input's {c} channels")
    fields["in_channels"] = c
    info = get_block(name)
    return info.cost(info.make_spec(**fields), tuple(input_shape))
