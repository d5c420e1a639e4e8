"""Any network the app can name, as one :class:`~effnets.networks.report.NetworkReport`: a registered model
("efficientnet_b0", with spec fields), the user's design (an architecture string or its JSON spec),
"torchvision:NAME" / "timm:NAME" (traced on the meta device, :mod:`effnets.networks.external`) and ONNX bytes
(:mod:`effnets.networks.onnx_graph`). Registered models and designs are counted analytically, layer by layer from
the cost steps, exactly as ``cost model`` counts them.
"""

from __future__ import annotations

from typing import Any

from effnets import cost as steps
from effnets.models import MODELS, get_model
from effnets.models.network import Plan
from effnets.networks.report import LayerRow, NetworkReport, StageRow, no_extras
from effnets.spec import SpecError

STEP_KIND = {"bn": "norm", "ln": "norm", "act": "act", "pool": "pool", "add": "elementwise", "mul": "elementwise",
             "concat": "reshape", "split": "reshape", "shuffle": "reshape", "sample": "other", "pad": "pad",
             "linear": "linear"}  # fmt: skip
STEP_EXTRA = {"bn": "bn", "ln": "ln", "act": "act", "pool": "pool", "add": "elementwise", "mul": "elementwise",
              "sample": "sampling"}  # fmt: skip


def _step_kind(s: steps.Step) -> str:
    if s.kind != "conv":
        return STEP_KIND.get(s.kind, "other")
    if s.groups == 1:
        return "conv"
    return "depthwise conv" if s.in_shape and s.groups == s.in_shape[0] else "grouped conv"


def plan_report(plan: Plan, name: str, source: str = "registry", scaling: str = "") -> NetworkReport:
    """A plan counted stage by stage with one layer row per cost step."""
    x = steps.start(*plan.input_shape)
    stages, layers = [], []
    for st in plan.stages:
        before = x
        for layer in st.layers:
            x = layer.cost(x)
        new = x.steps[len(before.steps) :]
        for k, s in enumerate(new):
            extras = no_extras()
            if s.kind in STEP_EXTRA:
                extras[STEP_EXTRA[s.kind]] = s.extra
            acts = s.macs and s.out_shape[0] * s.out_shape[1] * s.out_shape[2]
            layers.append(
                LayerRow(f"{st.name}.{k}", _step_kind(s), st.name, s.params, s.macs, acts, extras, s.out_shape, s.label)
            )
        stages.append(
            StageRow(
                st.name,
                st.operator,
                x.params - before.params,
                x.macs - before.macs,
                x.acts - before.acts,
                {k: a - b for k, a, b in zip(steps.EXTRA_KINDS, x.extras, before.extras, strict=True)},
                x.output_shape,
                len(new),
            )
        )
    return NetworkReport(
        name, source, plan.input_shape, x.params, x.macs, x.acts, x.extras_dict, x.output_shape, stages, layers,
        scaling=scaling,
    )  # fmt: skip


def model_report(name: str, **fields: Any) -> NetworkReport:
    """A registered model's report (spec fields as ``cost model --set``)."""
    info = get_model(name)
    from effnets.models import FAMILIES

    plan = info.stage_plan(info.make_spec(**fields))
    return plan_report(plan, name, "registry", FAMILIES[info.family].scaling if info.family in FAMILIES else "")


def design_report(text: str, name: str = "your design") -> NetworkReport:
    """The report of a design given as an architecture string or JSON spec."""
    from effnets.networks import arch, design

    d = arch.parse(text)
    return plan_report(design.to_plan(d), name, "builder", "the builder's multipliers (width, depth, resolution)")


def is_arch(text: str) -> bool:
    """Whether ``text`` reads as a design (an architecture string 'r224|...' or a JSON spec) rather than a name."""
    t = text.lstrip()
    return t.startswith("{") or (t[:1] == "r" and "|" in t)


def nearest_models(name: str) -> list[str]:
    import difflib

    return difflib.get_close_matches(name, list(MODELS), n=3, cutoff=0.5)


def resolve(ref: str, resolution: int | None = None) -> NetworkReport:
    """The report of any network reference: a registry name, 'torchvision:NAME', 'timm:NAME', or a design.
    Raises SpecError with the nearest valid names for a name nobody knows."""
    if not isinstance(ref, str) or not ref.strip():
        raise SpecError("name a network: a registry model, torchvision:NAME, timm:NAME or an architecture string")
    ref = ref.strip()
    if is_arch(ref):
        r = design_report(ref)
        return r if resolution is None else design_report(_with_resolution(ref, resolution))
    if ":" in ref.split("|")[0]:
        from effnets.networks import external

        return external.analyse(ref, resolution=resolution)
    ref, _, settings = ref.partition("@")
    if ref not in MODELS:
        near = nearest_models(ref)
        hint = f"did you mean {', '.join(near)}?" if near else "see python -m effnets list models"
        raise SpecError(f"unknown model '{ref[:60]}'; {hint} (or torchvision:NAME, timm:NAME)", "model", ref)
    fields = _settings(ref, settings)
    if resolution:
        fields["resolution"] = resolution
    report = model_report(ref, **fields)
    if settings:
        from dataclasses import replace

        report = replace(report, name=f"{ref}@{settings}")
    return report


def _settings(name: str, text: str) -> dict[str, Any]:
    """'deploy=1,width_mult=0.5' -> typed spec fields of model ``name`` (unknown keys name the key)."""
    from effnets.spec import parse_fields

    if not text:
        return {}
    items = {}
    for piece in text.split(","):
        key, sep, value = piece.partition("=")
        if not sep:
            raise SpecError(f"'{piece[:40]}' after '@' must be key=value (like {name}@resolution=260)", key)
        items[key.strip()] = value
    return parse_fields(get_model(name).spec, items)


def _with_resolution(text: str, resolution: int) -> str:
    from effnets.networks import arch

    d = arch.parse(text)
    from dataclasses import replace

    return arch.encode(replace(d, resolution=int(resolution)))


MAX_BUILD_PARAMS = 300_000_000
"""A network with more parameters is not built with real weights for timing on a shared server."""


def build_module(ref: str):
    """(a module with random weights on the CPU, the report) of a network reference, for timing: registry names
    (with @settings), designs, and torchvision/timm names (built by their own builders, never pretrained)."""
    report = resolve(ref)  # counted on the meta device first: the size check costs nothing
    if report.params > MAX_BUILD_PARAMS:
        raise SpecError(
            f"{report.name} has {report.params:,} parameters; timing builds networks up to {MAX_BUILD_PARAMS:,}",
            "model",
            report.name,
        )
    ref = ref.strip()
    if is_arch(ref):
        from effnets.models.network import Network
        from effnets.networks import arch, design

        return Network(design.to_plan(arch.parse(ref))).eval(), report
    if ":" in ref.split("|")[0]:
        from effnets.networks import external

        library, name = external.parse_name(ref)
        return external._factory(library, name)().eval(), report
    name, _, settings = ref.partition("@")
    info = get_model(name)
    return info.build(info.make_spec(**_settings(name, settings))).eval(), report
