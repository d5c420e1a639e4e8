"""The block catalog: one file per block type, each registering a :class:`BlockInfo`.

A block file defines a spec (a frozen :class:`BlockSpec` whose fields are declared with :func:`effnets.spec.param`),
an ``nn.Module`` built from the spec with a static ``cost(spec, x)`` right below its ``__init__``, and registers both
with :func:`register`. Adding a block type means adding one file to this package: it is imported by
:func:`_discover` and then covered by the tests parametrised over :data:`BLOCKS`.
"""

from __future__ import annotations

import importlib
import itertools
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from torch import nn

from effnets import cost as steps
from effnets.spec import Spec, SpecError, field_names, make_spec, param


@dataclass(frozen=True)
class BlockSpec(Spec):
    """Base spec of every block: the input channel count (taken from the input shape by the API and the CLI)."""

    in_channels: int = param(32, lo=1, hi=4096, step=1, help="Channels of the input tensor (C_in).", label="C_in")


@dataclass(frozen=True)
class BlockInfo:
    """Everything the pages and the CLI know about a block type.

    Attributes:
        name: registry key (the public vocabulary, e.g. ``depthwise_separable``).
        label: human name.
        spec: the spec class.
        module: the nn.Module class; ``module(spec)`` builds it and ``module.cost(spec, x)`` costs it.
        paper: short citation.
        url: link to the paper.
        layout: (a property) the first line of the module's docstring: the layers in order ("1x1 expand -> kxk
            depthwise -> [SE] -> 1x1 project [+ skip]"); written once, in the block's class.
        explanation: one paragraph: what the block is for and why it is cheap (or not).
        formula: symbolic LaTeX of params and MACs.
        group: catalog section ("convolution", "unit", "vgnet").
        order: position in the catalog, the Block Lab's list and ``list blocks`` (lower first).
        compare_defaults: (C_in, C_out, H, W) -> settings of this block in the Latency Lab's matched comparison.
    """

    name: str
    label: str
    spec: type[BlockSpec]
    module: type[nn.Module]
    paper: str
    url: str
    explanation: str
    formula: str
    group: str = "convolution"
    order: int = 1000
    compare_defaults: Callable[[int, int, int, int], dict[str, Any]] | None = None

    @property
    def layout(self) -> str:
        """The layers in order: the first line of the module class's docstring."""
        return (self.module.__doc__ or "").strip().splitlines()[0].strip()

    def make_spec(self, **fields: Any) -> BlockSpec:
        """A validated spec; unknown keys raise ValueError naming the key."""
        return make_spec(self.spec, **fields)  # type: ignore[return-value]

    def spec_for_input(self, in_channels: int, **fields: Any) -> BlockSpec:
        """A spec for an input of ``in_channels`` channels. Where the defaults do not fit that input, the ones not
        given follow it: C_out = C_in (a stride-1 shuffle unit adds its input) and groups = the largest divisor of
        C_in up to the default.

        Raises:
            SpecError: the settings are impossible even so (the message of the settings as given).
        """
        c = int(in_channels)
        fields = {**fields, "in_channels": c}
        try:
            return self.make_spec(**fields)
        except SpecError as first:
            default = self.make_spec()
            follow = {}  # the defaults that may follow the input: C_out = C_in, groups = a divisor of C_in
            if "out_channels" not in fields and hasattr(default, "out_channels"):
                follow["out_channels"] = c
            if "groups" not in fields and hasattr(default, "groups"):
                follow["groups"] = max(g for g in range(1, default.groups + 1) if c % g == 0)
            for n in range(1, len(follow) + 1):
                for names in itertools.combinations(follow, n):
                    try:
                        return self.make_spec(**fields, **{k: follow[k] for k in names})
                    except SpecError:
                        continue
            raise first from None

    def fit(self, carried: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
        """Settings for this block from those another block left (switching block type in the Block Lab).

        The carried values of this block's fields are kept when they make a valid block; otherwise the block's
        defaults are used (following the carried C_in where the block allows it, see :meth:`spec_for_input`).

        Returns:
            (field -> value of a valid spec, the names of the carried fields that were reset).
        """
        names = field_names(self.spec)
        values = {k: v for k, v in carried.items() if k in names}
        try:
            return self.make_spec(**values).to_dict(), []
        except SpecError:
            pass
        try:
            spec = self.spec_for_input(values["in_channels"]) if "in_channels" in values else self.make_spec()
        except SpecError:
            spec = self.make_spec()
        fitted = spec.to_dict()
        return fitted, [k for k in values if values[k] != fitted[k]]

    def build(self, spec: BlockSpec) -> nn.Module:
        """The torch module for ``spec``."""
        return self.module(spec)

    def cost(self, spec: BlockSpec, input_shape: tuple[int, int, int]) -> steps.Cost:
        """Analytic cost of ``spec`` on a C x H x W input (C must equal spec.in_channels)."""
        c, h, w = (int(v) for v in input_shape)
        if c != spec.in_channels:
            raise ValueError(f"input has {c} channels but the block expects in_channels={spec.in_channels}")
        return self.module.cost(spec, steps.start(c, h, w))


BLOCKS: dict[str, BlockInfo] = {}


def register(info: BlockInfo) -> BlockInfo:
    """Add a block type to the catalog (called once at the bottom of each block file)."""
    if info.name in BLOCKS:
        raise RuntimeError(f"block '{info.name}' registered twice")
    if not hasattr(info.module, "cost"):
        raise RuntimeError(f"block '{info.name}': {info.module.__name__} has no static cost(spec, x)")
    BLOCKS[info.name] = info
    return info


def get_block(name: str) -> BlockInfo:
    """Look up a block type; an unknown name raises ValueError listing the known ones."""
    try:
        return BLOCKS[name]
    except KeyError:
        import difflib

        near = difflib.get_close_matches(str(name), list(BLOCKS), n=3, cutoff=0.5)
        hint = f"did you mean {', '.join(near)}? " if near else ""
        raise ValueError(f"unknown block '{str(name)[:60]}' ({hint}known blocks: {', '.join(BLOCKS)})") from None


def _discover() -> None:
    for mod in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if not mod.name.startswith("_"):
            importlib.import_module(f"{__name__}.{mod.name}")


def sort_registry() -> None:
    """Order :data:`BLOCKS` by each block's ``order`` (run after discovery; a test that registers a throwaway block
    calls it again)."""
    ordered = sorted(BLOCKS.values(), key=lambda b: (b.order, b.name))
    BLOCKS.clear()
    BLOCKS.update((b.name, b) for b in ordered)


_discover()
sort_registry()
