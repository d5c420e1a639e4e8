"""The model registry: whole networks built from stage tables of catalog blocks, each with an analytic cost.

A family file (``efficientnet.py``, ``regnet.py`` ...) defines a spec (a frozen :class:`ModelSpec` whose fields are
declared with :func:`effnets.spec.param`, so the UI can draw widgets), a ``plan(spec)`` function that turns the spec
into a stage table (:class:`effnets.models.network.Plan`), and registers one :class:`ModelInfo` per preset
(``efficientnet_b3`` = the EfficientNet spec with B3's coefficients). Building and costing both read the plan, so the
analytic cost never needs the module, and the tests check them against each other and against torchvision.

Each family file also registers its :class:`FamilyInfo` (label, colour, paper, scaling rule), so no other file lists
families. This module is the registry; the cost of a plan is in :mod:`effnets.models.network`, published figures in
:mod:`effnets.models.published`, the scaling rules and sweeps in :mod:`effnets.models.scaling`.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from torch import nn

from effnets.models.network import Classifier, ModelCost, Network, Plan, StageRow, plan_cost
from effnets.models.published import Published, parse_figure
from effnets.spec import OutputTooSmall, Spec, make_spec, param

# ----- specs ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelSpec(Spec):
    """Base of every model spec. Each family declares ``resolution`` and ``num_classes`` (with :func:`resolution_param`
    and :func:`num_classes_param`) among its own fields, in the order the UI should show them."""


def resolution_param(default: int = 224, lo: int = 32, hi: int = 1024) -> Any:
    """The input side in pixels (square inputs). It changes the cost, never the parameters."""
    return param(
        default,
        lo=lo,
        hi=hi,
        step=1,
        help="Input image side in pixels (H = W). Changes MACs and activations, never the parameters.",
        label="resolution",
    )


def num_classes_param() -> Any:
    """The classifier's output count (changes only the last layer)."""
    return param(1000, lo=1, hi=100_000, help="Outputs of the classifier (1000 for ImageNet).", advanced=True)


def dropout_param(default: float) -> Any:
    """Dropout before the classifier: no parameters, no MACs."""
    return param(
        default,
        lo=0.0,
        hi=0.9,
        step=0.05,
        help="Dropout before the classifier (training only; costs nothing).",
        advanced=True,
    )


# ----- the registry ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FamilyInfo:
    """A family of networks, registered by its own file before its presets: every list of families (the Scaling
    Lab's choices, figure legends and colours, the registry's order) reads :data:`FAMILIES`.

    Attributes:
        name: registry key (``efficientnet_lite``); a preset's :attr:`ModelInfo.family`.
        label: human name ("EfficientNet-Lite0-4").
        color: its colour in every figure.
        paper, url: the paper (or official code) the family comes from.
        scaling: one sentence: how the family is scaled (the rule its multipliers follow), or that it is not.
        order: position in lists (lower first); families of one file share a decade.
    """

    name: str
    label: str
    color: str
    paper: str
    url: str
    scaling: str
    order: int


FAMILIES: dict[str, FamilyInfo] = {}


def register_family(info: FamilyInfo) -> FamilyInfo:
    """Add a family (called in its file, before the family's presets are registered)."""
    if info.name in FAMILIES:
        raise RuntimeError(f"family '{info.name}' registered twice")
    FAMILIES[info.name] = info
    return info


def get_family(name: str) -> FamilyInfo:
    """Look up a family; an unknown name raises ValueError listing the known ones."""
    try:
        return FAMILIES[name]
    except KeyError:
        raise ValueError(f"unknown family '{name}' (known: {', '.join(FAMILIES)})") from None


def family_models(family: str) -> list[str]:
    """The registered presets of a family, in registry order."""
    get_family(family)
    return [n for n, i in MODELS.items() if i.family == family]


def torchvision_weights_note(weights) -> str:
    """Where torchvision's weights come from, in its own words (the first sentence of the enum's ``_docs``: ported
    from the paper, trained from scratch, trained with its new recipe ...)."""
    import re

    docs = " ".join(str(weights.meta.get("_docs", "")).split())
    first = re.split(r"(?<=\.)\s", docs, maxsplit=1)[0]
    first = re.sub(r"`([^<`]+?)\s*<[^>]+>`_?", r"\1", first)  # RST link -> its text
    if not first:
        return "torchvision's weights (their metadata does not say where they come from)."
    return f"torchvision's weights: {first[0].lower()}{first[1:]}"


@dataclass(frozen=True)
class ModelInfo:
    """Everything the pages and the CLI know about a model preset.

    Attributes:
        name: registry key (``efficientnet_b3``).
        label: human name.
        family: one of :data:`FAMILIES`.
        spec: the family's spec class.
        paper, url: short citation and link.
        explanation: one paragraph.
        published: the primary published figures for the preset (paper or official code), or None.
        torchvision: name of the torchvision builder of the same network, if any.
        defaults: the preset's field values.
        plan: spec -> stage table (builds and costs the network).
        torchvision_fields: spec fields under which the network equals torchvision's exactly (RegNet:
            ``{"rounding": "torchvision"}``).
        also_published: further figures (other sources, other settings of the spec).
    """

    name: str
    label: str
    family: str
    spec: type[ModelSpec]
    paper: str
    url: str
    explanation: str
    published: Published | None
    torchvision: str | None
    defaults: dict[str, Any]
    plan: Callable[[Any], Plan]
    torchvision_fields: dict[str, Any] = field(default_factory=dict)
    also_published: tuple[Published, ...] = ()

    def make_spec(self, **fields: Any) -> ModelSpec:
        """The preset's spec with some fields changed; unknown keys raise ValueError naming the key."""
        return make_spec(self.spec, **{**self.defaults, **fields})  # type: ignore[return-value]

    def _check(self, spec: ModelSpec) -> None:
        if not isinstance(spec, self.spec):
            raise ValueError(f"{self.name} needs a {self.spec.__name__}, got a {type(spec).__name__}")

    def stage_plan(self, spec: ModelSpec) -> Plan:
        """The stage table of ``spec`` (what both :meth:`build` and :meth:`cost` read)."""
        self._check(spec)
        return self.plan(spec)

    def build(self, spec: ModelSpec) -> nn.Module:
        """The torch module for ``spec`` (children: one ``nn.Sequential`` per stage row)."""
        return Network(self.stage_plan(spec))

    def cost(self, spec: ModelSpec, record_steps: bool = True) -> ModelCost:
        """Analytic cost of ``spec`` without building the module.

        Raises:
            ValueError: the resolution is too small for the network's downsampling (message names it).
        """
        plan = self.stage_plan(spec)
        try:
            return plan_cost(plan, record_steps)
        except OutputTooSmall as e:
            res = getattr(spec, "resolution", None)
            raise OutputTooSmall(f"resolution={res} is too small for {self.name}: {e}", "resolution", res) from None

    @property
    def inference_fields(self) -> dict[str, Any]:
        """The settings of the form that is deployed for inference: ``deploy=True`` for a structurally
        reparameterized network (RepVGG, MobileOne), else none. The Zoo and the latency benchmarks use it."""
        from effnets.spec import field_names

        return {"deploy": True} if "deploy" in field_names(self.spec) else {}

    def torchvision_published(self) -> Published | None:
        """torchvision's weight metadata for the same network (num_params, _ops in GMACs, acc@1, crop size), read
        from its first ImageNet weight enum: a second source beside the paper."""
        if not self.torchvision:
            return None
        from torchvision.models import get_model_weights

        w = list(get_model_weights(self.torchvision))[0]
        meta = w.meta
        crop = w.transforms.keywords.get("crop_size") if hasattr(w.transforms, "keywords") else None
        return Published(
            params=float(meta["num_params"]),
            macs=float(meta["_ops"]) * 1e9,
            top1=float(meta["_metrics"]["ImageNet-1K"]["acc@1"]),
            resolution=int(crop) if crop else None,
            source=f"torchvision {type(w).__name__}.{w.name}.meta (num_params, _ops GFLOPS = GMACs, acc@1)",
            params_tol=0.0,
            macs_tol=0.0005e9,
            fields=dict(self.torchvision_fields),
            note=torchvision_weights_note(w),
        )

    def published_figures(self) -> list[Published]:
        """Every published figure for this preset: the primary one, the others, and torchvision's."""
        out = [p for p in (self.published, *self.also_published) if p is not None]
        tv = self.torchvision_published()
        if tv is not None:
            out.append(tv)
        return out

    def published_spec(self, published: Published) -> ModelSpec:
        """The spec a published figure describes: the preset, the figure's fields and its resolution."""
        fields = dict(published.fields)
        if published.resolution is not None and "resolution" not in fields:
            fields["resolution"] = published.resolution
        return self.make_spec(**fields)

    def compare_published(self) -> list[dict[str, Any]]:
        """Every published figure beside our exact count of the network it describes.

        Returns:
            One row per figure and quantity ("params", "macs"): source, fields, resolution, published value,
            tolerance, ours, whether they agree within the figure's rounding, whether the registry documents a
            mismatch, and the note.
        """
        rows = []
        for pub in self.published_figures():
            spec = self.published_spec(pub)
            plan = self.stage_plan(spec)
            c = plan_cost(plan, record_steps=False)
            ours = {"params": c.params, "macs": c.macs}
            if pub.macs_scope == "no_fc":
                ours["macs"] -= _final_fc_macs(plan)
            for what in ("params", "macs"):
                value = pub.params if what == "params" else pub.macs
                if value is None:
                    continue
                rows.append(
                    {
                        "model": self.name,
                        "quantity": what,
                        "source": pub.source,
                        "fields": dict(pub.fields),
                        "resolution": spec.resolution,  # type: ignore[attr-defined]
                        "published": value,
                        "tolerance": pub.params_tol if what == "params" else pub.macs_tol,
                        "ours": ours[what],
                        "agrees": bool(pub.agrees(what, ours[what])),
                        "documented_mismatch": what in pub.mismatch,
                        "scope": pub.macs_scope if what == "macs" else "all",
                        "note": pub.note,
                    }
                )
        return rows

    def build_torchvision(self) -> nn.Module | None:
        """torchvision's builder of the same network (no weights), or None."""
        if not self.torchvision:
            return None
        import torchvision.models

        return torchvision.models.get_model(self.torchvision, weights=None)


def _final_fc_macs(plan: Plan) -> int:

    return sum(
        layer.in_features * layer.num_classes for layer in plan.stages[-1].layers if isinstance(layer, Classifier)
    )


MODELS: dict[str, ModelInfo] = {}


def register(info: ModelInfo) -> ModelInfo:
    """Add a model preset to the registry (called at the bottom of each family file)."""
    if info.name in MODELS:
        raise RuntimeError(f"model '{info.name}' registered twice")
    if info.family not in FAMILIES:
        raise RuntimeError(f"model '{info.name}': family '{info.family}' is not registered (register_family first)")
    info.make_spec()  # the preset must be a valid spec
    MODELS[info.name] = info
    return info


def get_model(name: str) -> ModelInfo:
    """Look up a model preset; an unknown name raises ValueError listing the known ones."""
    try:
        return MODELS[name]
    except KeyError:
        import difflib

        near = difflib.get_close_matches(str(name), list(MODELS), n=3, cutoff=0.5)
        hint = f"did you mean {', '.join(near)}? " if near else ""
        raise ValueError(f"unknown model '{str(name)[:60]}' ({hint}known models: {', '.join(MODELS)})") from None


_NOT_FAMILIES = ("network", "published", "scaling")


def _discover() -> None:
    for mod in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if mod.name not in _NOT_FAMILIES and not mod.name.startswith("_"):
            importlib.import_module(f"{__name__}.{mod.name}")


def sort_registries() -> None:
    """Order :data:`FAMILIES` by their ``order`` and :data:`MODELS` by family, then registration (run after
    discovery; a test that registers a throwaway family calls it again)."""
    families = sorted(FAMILIES.values(), key=lambda f: (f.order, f.name))
    FAMILIES.clear()
    FAMILIES.update((f.name, f) for f in families)
    rank = {name: i for i, name in enumerate(FAMILIES)}
    models = sorted(MODELS.items(), key=lambda kv: rank[kv[1].family])
    MODELS.clear()
    MODELS.update(models)


_discover()
sort_registries()

from effnets.models.efficientnet import released_vs_compound  # noqa: E402
from effnets.models.mobilenet import mobilenet_grid  # noqa: E402
from effnets.models.regnet import sample_regnet_space  # noqa: E402
from effnets.models.scaling import (  # noqa: E402
    adjust_widths_groups,
    compound_coefficients,
    compound_scaling,
    regnet_widths,
    round_filters,
    round_repeats,
)
from effnets.models.shufflenet import shufflenet_v1_groups_sweep, shufflenet_v1_widths  # noqa: E402

__all__ = [
    "MODELS",
    "FAMILIES",
    "FamilyInfo",
    "register_family",
    "get_family",
    "family_models",
    "ModelInfo",
    "ModelSpec",
    "ModelCost",
    "StageRow",
    "Published",
    "get_model",
    "register",
    "plan_cost",
    "parse_figure",
    "round_filters",
    "round_repeats",
    "compound_coefficients",
    "compound_scaling",
    "regnet_widths",
    "adjust_widths_groups",
    "sample_regnet_space",
    "mobilenet_grid",
    "shufflenet_v1_widths",
    "shufflenet_v1_groups_sweep",
    "released_vs_compound",
]
