"""Any torchvision or timm model by name ("torchvision:resnet50", "timm:convnext_atto"), counted by tracing it on the
meta device (shapes only: no weights, no memory, no arithmetic, never a download) with the project's own op rules
(:func:`effnets.counting.count_op`, the rules of the dispatch counter), attributed to the leaf layer whose forward
runs them. Work that runs outside every leaf (a residual add, an SE gate, attention's matmuls in the parent's
forward) becomes a row "<parent> (outside layers)", so the rows add up to the whole network.

The result is a :class:`effnets.networks.report.NetworkReport`: per-layer and per-stage params, MACs, acts and
extras, with notes on how the tracers compare and whether the family has a scaling rule in effnets.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
from collections import Counter as _Tally
from typing import Any

import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

from effnets import counting
from effnets.cost import EXTRA_KINDS, Cost
from effnets.counting import TracedCounts, count_op
from effnets.networks.report import LayerRow, NetworkReport, stages_from_layers
from effnets.runtime.layer_trace import layer_kind, leaf_modules
from effnets.spec import SpecError

LIBRARIES = ("torchvision", "timm")
MAX_LAYERS = 10_000
"""Networks with more leaf layers than this are refused before tracing."""

TOP_LEVEL = "(top level)"
"""The stage of the work the model's own forward does outside every child (ViT's position embedding add)."""

TIMM_REFERENCES: dict[str, tuple[str, dict[str, Any]]] = {
    "ghostnet_100": ("ghostnet_100", {}),
    "ghostnet_050": ("ghostnet_100", {"width_mult": 0.5}),
    "ghostnet_130": ("ghostnet_100", {"width_mult": 1.3}),
    "mobilenetv4_conv_small": ("mobilenetv4_conv_small", {}),
    "mobilenetv4_conv_small_050": ("mobilenetv4_conv_small", {"width_mult": 0.5}),
    "mobilenetv4_conv_small_035": ("mobilenetv4_conv_small", {"width_mult": 0.35}),
    "repvgg_a0": ("repvgg_a0", {}),
    "mobileone_s0": ("mobileone_s0", {}),
}
"""timm builders that are registered effnets networks (timm name -> registered name, its settings), as the tests
check them (tests/test_ghostnet.py, test_mobilenet_v4.py, test_reparam.py and tests/test_networks_external.py)."""

# Ops that move or view data and compute nothing: no line counts them, and no note needs to say so.
_NO_WORK = {
    "empty", "empty_like", "empty_strided", "zeros", "zeros_like", "ones", "ones_like", "full", "fill_", "view",
    "_unsafe_view", "reshape", "permute", "transpose", "t", "expand", "clone", "contiguous", "cat", "stack", "select",
    "slice", "unbind", "split", "split_with_sizes", "chunk", "squeeze", "unsqueeze", "flatten", "alias", "detach",
    "copy_", "_to_copy", "as_strided", "index", "narrow", "constant_pad_nd", "pad", "new_empty", "new_zeros",
    "roll", "repeat", "lift_fresh", "arange", "_reshape_alias", "channel_shuffle", "pixel_shuffle", "native_dropout",
    "dropout", "bernoulli_", "masked_fill", "masked_fill_", "as_strided_", "scalar_tensor", "lift_fresh_copy",
    "where", "gather", "index_select", "_local_scalar_dense",
}  # fmt: skip


# ----- names -----------------------------------------------------------------------------------------------------


def list_names(library: str) -> list[str]:
    """The model names effnets can analyse from ``library`` ("torchvision": its image classifiers; "timm": every
    architecture ``timm.list_models()`` lists), sorted."""
    lib = str(library).strip().lower()
    if lib == "torchvision":
        import torchvision.models

        return sorted(torchvision.models.list_models(module=torchvision.models))
    if lib == "timm":
        import timm

        return sorted(timm.list_models())
    raise SpecError(f"unknown library '{library}': the libraries are {', '.join(LIBRARIES)}", "library", library)


def _unknown(library: str, name: str, names: list[str], text: str) -> SpecError:
    close = difflib.get_close_matches(name, names, n=3, cutoff=0.6)
    if close:
        hint = f"did you mean {', '.join(f'{library}:{c}' for c in close)}?"
    else:
        example = ", ".join(f"{library}:{n}" for n in names[:: max(1, len(names) // 3)][:3])
        hint = f"none of {library}'s {len(names):,} model names is close, they read like {example}"
    return SpecError(f"unknown {library} model '{name}' in '{text}': {hint}", "name", text)


def parse_name(text: str) -> tuple[str, str]:
    """Split and check "library:name" ("torchvision:resnet50", "timm:convnext_atto"; a timm name may carry its
    pretrained tag, "resnet50.a1_in1k"). The name is checked against the library's list before anything is built.

    Raises:
        SpecError: no prefix or an unknown one (the message lists the prefixes), an unknown name (it suggests up to
            three near names), or a torchvision model that is not an image classifier.
    """
    s = str(text).strip()
    lib, sep, name = s.partition(":")
    lib, name = lib.strip().lower(), name.strip().lower()
    if not sep or lib not in LIBRARIES:
        prefixes = " or ".join(f"'{p}:NAME'" for p in LIBRARIES)
        what = f"unknown library prefix '{lib}'" if sep else "no library prefix"
        raise SpecError(f"{what} in '{s}': write {prefixes}", "name", text)
    if not name:
        raise SpecError(f"'{s}' names no model: write {lib}:NAME", "name", text)
    if lib == "torchvision":
        names = list_names(lib)
        if name not in names:
            import torchvision.models

            if name in torchvision.models.list_models():
                task = torchvision.models.get_model_builder(name).__module__.split(".")[2].replace("_", " ")
                why = f"torchvision:{name} is a {task} model; effnets analyses torchvision's image classifiers"
                raise SpecError(f"{why} ({len(names)} of them)", "name", text)
            raise _unknown(lib, name, names, s)
        return lib, name
    names = list_names(lib)
    base = name.split(".", 1)[0]
    if base not in names:
        raise _unknown(lib, base, names, s)
    if "." in name:
        import timm

        if name not in timm.list_pretrained(f"{base}.*"):
            tags = [t.split(".", 1)[1] for t in timm.list_pretrained(f"{base}.*")]
            more = f" and {len(tags) - 6} more" if len(tags) > 6 else ""
            raise SpecError(
                f"timm:{base} has no pretrained tag '{name.split('.', 1)[1]}' in '{s}' (its tags: "
                f"{', '.join(tags[:6]) or 'none'}{more})",
                "name",
                text,
            )
    return lib, name


# ----- building and the default input --------------------------------------------------------------------------


def _factory(library: str, name: str):
    def factory() -> nn.Module:  # never pretrained: random (or meta) weights, nothing downloaded
        if library == "torchvision":
            import torchvision.models

            return torchvision.models.get_model(name, weights=None)
        import timm

        return timm.create_model(name, pretrained=False)

    return factory


def _build(library: str, name: str) -> nn.Module:
    factory = _factory(library, name)
    try:
        return counting.build_on_meta(factory)
    except Exception as e:  # a builder that computes with tensors: build on the CPU, each weight moved to meta
        try:
            with counting._weights_on_meta():
                return factory().eval()
        except Exception:
            raise SpecError(
                f"{library}:{name} could not be built on the meta device ({type(e).__name__}: {e})", "name", name
            ) from None


def default_input(library: str, name: str, model: nn.Module | None = None) -> tuple[int, int, int]:
    """(C, H, W) the network is meant for: timm's ``pretrained_cfg['input_size']``; torchvision's crop size of its
    default weights' transforms (no download), or 224 for a builder without weights (a torchvision ViT: the
    ``image_size`` it is built for, since without weights it is fixed to 224 whatever its weights' crop)."""
    if library == "timm":
        cfg = getattr(model, "pretrained_cfg", None) or {}
        c, h, w = cfg.get("input_size", (3, 224, 224))
        return int(c), int(h), int(w)
    import torchvision.models

    fixed = getattr(model, "image_size", None)  # a ViT built without weights is fixed to its own size
    if isinstance(fixed, int):
        return 3, fixed, fixed
    try:
        crop = torchvision.models.get_model_weights(name).DEFAULT.transforms().crop_size
    except (ValueError, KeyError, AttributeError):
        return 3, 224, 224
    h = int(crop[0])
    return 3, h, int(crop[-1]) if len(crop) > 1 else h


def _input_shape(resolution, default: tuple[int, int, int]) -> tuple[int, int, int]:
    if resolution is None:
        return default
    hw = tuple(resolution) if isinstance(resolution, list | tuple) else (resolution, resolution)
    if len(hw) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) and 8 <= v <= 4096 for v in hw):
        why = f"resolution={resolution!r} must be a side in pixels from 8 to 4096 (or an (H, W) pair)"
        raise SpecError(why, "resolution", resolution)
    return default[0], hw[0], hw[1]


# ----- the trace -------------------------------------------------------------------------------------------------


def _shape(t: Any) -> tuple[int, ...]:
    flat = [v for v in tree_flatten(t)[0] if isinstance(v, torch.Tensor)]
    return tuple(int(v) for v in flat[0].shape[1:]) if flat else ()


class _LayerCounter(TorchDispatchMode):
    """Applies the project's op rules to each op, into the bucket of the module whose forward is running."""

    def __init__(self, stack: list[int], order: list[tuple[int, bool]], leaves: set[int]):
        super().__init__()
        self.stack, self.order, self.leaves = stack, order, leaves
        self.counts: dict[int, TracedCounts] = {}
        self.ops: dict[int, _Tally] = {}
        self.shapes: dict[int, tuple[int, ...]] = {}
        self.by_op: _Tally = _Tally()  # MACs per aten op (to compare with FlopCounterMode's per-op counts)
        self.uncounted: _Tally = _Tally()  # op -> output elements of ops that compute but no line counts

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        key = self.stack[-1] if self.stack else 0
        c = self.counts.get(key)
        if c is None:
            c = self.counts[key] = TracedCounts()
        before = (c.macs, c.acts, *c.extras.values())
        known = count_op(c, func, args, kwargs, out)
        name = func._overloadpacket.__name__
        after = (c.macs, c.acts, *c.extras.values())
        if after != before:
            self.by_op[name] += c.macs - before[0]
            if key not in self.leaves:
                if key not in self.ops:
                    self.order.append((key, True))
                self.ops.setdefault(key, _Tally())[name] += 1
                self.shapes[key] = _shape(out)
        elif not known and name not in _NO_WORK:
            flat = [t for t in tree_flatten(out)[0] if isinstance(t, torch.Tensor)]
            self.uncounted[name] += flat[0].numel() if flat else 0
        return out


def _on_meta(model: nn.Module) -> nn.Module:
    """``model`` itself when it is on the meta device, else a meta copy that keeps tied parameters tied (which
    ``Module.to`` does not: it would count a tied weight twice)."""
    tensors = [*model.parameters(), *model.buffers()]
    if all(t.device.type == "meta" for t in tensors):
        return model
    model, memo = copy.deepcopy(model), {}
    for m in model.modules():
        for store in (m._parameters, m._buffers):
            for k, t in store.items():
                if t is not None and id(t) not in memo:
                    moved = t.detach().to("meta")
                    memo[id(t)] = nn.Parameter(moved, t.requires_grad) if isinstance(t, nn.Parameter) else moved
                if t is not None:
                    store[k] = memo[id(t)]
    return model


def _stage_keys(model: nn.Module, leaves: list[tuple[str, nn.Module]]) -> str | None:
    """The top-level child that holds most of the network (torchvision's ``features``, timm's ``stages``/``blocks``),
    whose children become the stages; None when no child does."""
    total = len(leaves)
    for name, child in model.named_children():
        inside = sum(1 for n, _ in leaves if n == name or n.startswith(f"{name}."))
        if 2 * inside > total and len(list(child.children())) > 1:
            return name
    return None


def _stage_of(path: str, deep: str | None) -> str:
    if not path:
        return TOP_LEVEL
    parts = path.split(".")
    if deep is not None and parts[0] == deep and len(parts) > 1:
        return f"{deep}.{parts[1]}"
    return parts[0]


def _runs(names: list[str]) -> str:
    out: list[list] = []
    for n in names:
        if out and out[-1][1] == n:
            out[-1][0] += 1
        else:
            out.append([1, n])
    return ", ".join(f"{k} x {n}" if k > 1 else n for k, n in out)


def _operator(model: nn.Module, key: str) -> str:
    """A stage in words: "3 x Bottleneck", "ConvNeXtStage (2 x ConvNeXtBlock)", "Conv2d"."""
    if key == TOP_LEVEL:
        leaf = not any(True for _ in model.children())
        return type(model).__name__ if leaf else f"{type(model).__name__}'s own forward (outside its children)"
    m = model.get_submodule(key)
    if isinstance(m, nn.Sequential | nn.ModuleList):
        return _runs([type(c).__name__ for c in m.children()]) or type(m).__name__
    total = len(leaf_modules(m))
    inner = [
        c
        for c in m.children()
        if isinstance(c, nn.Sequential | nn.ModuleList) and len(c) > 1 and 2 * len(leaf_modules(c)) > total
    ]  # the blocks of a stage module (ConvNeXtStage.blocks), not one branch of an inception module
    if inner:
        return f"{type(m).__name__} ({_runs([type(c).__name__ for c in inner[0].children()])})"
    return type(m).__name__


def trace(
    model: nn.Module,
    input_shape: tuple[int, ...],
    name: str = "",
    source: str = "torchvision",
    batch: int = 1,
    max_layers: int = MAX_LAYERS,
) -> NetworkReport:
    """Count ``model`` layer by layer at ``batch`` x ``input_shape`` on the meta device (a meta copy when it is
    elsewhere); counts are per sample. Any ``nn.Module`` taking one tensor works, not only the libraries' builders.

    Raises:
        SpecError: more than ``max_layers`` leaf layers (counted before tracing), or the forward fails at this input.
    """
    from torch.utils.flop_counter import FlopCounterMode

    leaves = leaf_modules(model)
    if len(leaves) > max_layers:
        what = f"{name or type(model).__name__} has {len(leaves):,} layers"
        raise SpecError(f"{what}; effnets analyses networks of at most {max_layers:,} layers", "name", name)
    model = _on_meta(model).eval()
    leaves = leaf_modules(model)
    names = {id(m): n for n, m in model.named_modules()}
    leaf_ids = {id(m) for _, m in leaves}
    stack: list[int] = []
    order: list[tuple[int, bool]] = []
    counter = _LayerCounter(stack, order, leaf_ids)
    seen_leaf: set[int] = set()
    outputs: dict[int, tuple[int, ...]] = {}  # every module's output shape (its last call)

    def pre(mod, args):
        stack.append(id(mod))
        if id(mod) in leaf_ids and id(mod) not in seen_leaf:
            seen_leaf.add(id(mod))
            order.append((id(mod), False))

    def post(mod, args, out):
        stack.pop()
        outputs[id(mod)] = _shape(out)

    handles = []
    for m in model.modules():
        handles += [m.register_forward_pre_hook(pre), m.register_forward_hook(post)]
    x = torch.empty((batch, *input_shape), device="meta")
    # FlopCounterMode's module tracker fails on a parameter passed straight into a module under no_grad (timm's
    # PiT and SigLIP heads); nothing here needs gradients, so they are off while tracing and restored after.
    grads = [p for p in model.parameters() if p.requires_grad]
    model.requires_grad_(False)
    mapping = {counting._deform_op(): counting._deform_flops_for_flop_counter}
    try:
        with torch.no_grad(), FlopCounterMode(display=False, depth=1, custom_mapping=mapping) as fc, counter:
            y = model(x)
    except Exception as e:
        shape = " x ".join(map(str, input_shape))
        raise SpecError(f"{name} does not run on a {shape} input: {type(e).__name__}: {e}", "resolution", name) from e
    finally:
        for h in handles:
            h.remove()
        for p in grads:
            p.requires_grad_(True)

    modules, by_path = {id(m): m for m in model.modules()}, {p: id(m) for p, m in model.named_modules()}
    deep = _stage_keys(model, leaves)
    params_seen: set[int] = set()

    def own_params(m: nn.Module) -> int:  # each parameter once, on the first row that holds it
        fresh = [p for p in m.parameters(recurse=False) if id(p) not in params_seen]
        params_seen.update(id(p) for p in fresh)
        return sum(p.numel() for p in fresh)

    rows: list[LayerRow] = []
    root = type(model).__name__
    outside_keys = {k for k, outside in order if outside}
    for key, outside in order:
        m = modules.get(key, model)
        path = names.get(key, "")
        c = counter.counts.get(key, TracedCounts())
        ops = counter.ops.get(key, {})
        rows.append(
            LayerRow(
                name=f"{path or root} (outside layers)" if outside else (path or root),
                kind=("elementwise" if _only_elementwise(c) else "other") if outside else layer_kind(m),
                stage=_stage_of(path, deep),
                params=own_params(m),
                macs=c.macs // batch,
                acts=c.acts // batch,
                extras={k: v // batch for k, v in c.extras.items()},
                output_shape=counter.shapes.get(key, ()) if outside else outputs.get(key, ()),
                op=", ".join(sorted(ops)) if outside else type(m).__name__,
            )
        )
    unused = []  # leaves that never ran, and containers holding parameters of their own (a layer scale, a cls token)
    for path, m in model.named_modules():
        is_leaf = id(m) in leaf_ids
        if (is_leaf and id(m) in seen_leaf) or (not is_leaf and id(m) in outside_keys):
            continue
        n = own_params(m)
        if n or (is_leaf and id(m) not in seen_leaf):
            row = LayerRow(
                name=(path or root) if is_leaf else f"{path or root} (outside layers)",
                kind=layer_kind(m) if is_leaf else "other",
                stage=_stage_of(path, deep),
                params=n,
                op=type(m).__name__,
            )
            rows.insert(_after_stage(rows, row.stage), row)
            if is_leaf:
                unused.append(row)

    stages = [
        dataclasses.replace(s, output_shape=outputs.get(by_path.get(s.name, -1)) or _last_shape(rows, s.name))
        for s in stages_from_layers(rows, {k: _operator(model, k) for k in {r.stage for r in rows}})
    ]
    extras = {k: sum(r.extras[k] for r in rows) for k in EXTRA_KINDS}
    totals = {"macs": sum(r.macs for r in rows), "params": sum(r.params for r in rows)}
    notes = _trace_notes(totals, fc, sum(p.numel() for p in model.parameters()), counter, unused, batch)
    return NetworkReport(
        name=name or root,
        source=source,
        input_shape=tuple(input_shape),
        params=totals["params"],
        macs=totals["macs"],
        acts=sum(r.acts for r in rows),
        extras=extras,
        output_shape=_shape(y),
        stages=stages,
        layers=rows,
        notes=notes,
    )


def _only_elementwise(c: TracedCounts) -> bool:
    return c.macs == 0 and all(v == 0 for k, v in c.extras.items() if k != "elementwise")


def _after_stage(rows: list[LayerRow], stage: str) -> int:
    idx = [i for i, r in enumerate(rows) if r.stage == stage]
    return idx[-1] + 1 if idx else len(rows)


def _last_shape(rows: list[LayerRow], stage: str) -> tuple[int, ...]:
    shapes = [r.output_shape for r in rows if r.stage == stage and r.output_shape]
    return shapes[-1] if shapes else ()


def _trace_notes(totals, fc, numel, counter, unused, batch) -> list[str]:
    fc_macs = int(fc.get_total_flops()) // 2 // batch
    fc_ops = {str(op).split(".")[-1]: int(v) // 2 for op, v in fc.get_flop_counts().get("Global", {}).items()}
    notes = []
    if fc_macs == totals["macs"]:
        notes.append(
            "FlopCounterMode (meta device, FLOPs halved) agrees exactly with effnets' per-layer rules: "
            f"{fc_macs:,} MACs of conv, linear and matmul."
        )
    else:
        ours = {k: v // batch for k, v in counter.by_op.items() if v}
        diffs = [
            f"{op} ({fc_ops.get(op, 0) // batch - ours.get(op, 0):+,})"
            for op in sorted(set(fc_ops) | set(ours))
            if fc_ops.get(op, 0) // batch != ours.get(op, 0)
        ]
        notes.append(
            f"FlopCounterMode counts {fc_macs - totals['macs']:+,} MACs more than effnets' rules, in "
            f"{', '.join(diffs) or 'no single op'}: effnets' rules have no MAC rule for those ops."
        )
    if totals["params"] != numel:
        notes.append(f"The rows hold {totals['params']:,} parameters but the module has {numel:,}.")
    if unused:
        shown = ", ".join(r.name for r in unused[:3]) + (f" and {len(unused) - 3} more" if len(unused) > 3 else "")
        held = sum(r.params for r in unused)
        notes.append(
            f"{len(unused)} layer(s) never ran their own forward at inference ({shown}), holding {held:,} parameters, "
            "counted on their rows: a branch only training uses (auxiliary heads), a dropout a fused op replaces, "
            "or weights the parent uses itself (its work is then on the parent's '(outside layers)' row)."
        )
    if counter.uncounted:
        ops = "; ".join(f"{op} ({n // batch:,} elements)" for op, n in sorted(counter.uncounted.items()))
        notes.append(f"Not counted on any line (effnets has no rule for them): {ops}.")
    notes.append(
        "fvcore was not run: it traces with TorchScript on the CPU, which needs the network built in memory with "
        "real weights; the counts here come from tracing on the meta device, where no weights exist."
    )
    return notes


# ----- fvcore, scaling and the entry point --------------------------------------------------------------------


def _fvcore_notes(model_factory, input_shape, report: NetworkReport) -> list[str]:
    model = model_factory().eval()
    fv = counting.fvcore_counts(model, input_shape)
    notes = [f"fvcore's total (its defaults) is {fv.total:,}; its conv + linear + matmul part is {fv.conv_linear:,}."]
    for op, n in sorted(fv.by_operator.items()):
        if op not in counting.FvcoreCounts.CONV_LINEAR and n:
            notes.append(f"fvcore adds {n:,} for {op}: {counting._FVCORE_WHY.get(op, f'its own rule for {op}.')}")
    skipped = {k: v for k, v in fv.unsupported.items() if "deform" not in k}
    if fv.conv_linear != report.macs:
        mac_ops = [k for k in skipped if any(w in k for w in ("attention", "matmul", "bmm", "einsum", "conv", "mm"))]
        why = (
            f"fvcore skips {', '.join(sorted(mac_ops))}, whose MACs effnets counts"
            if mac_ops
            else "fvcore's own rules for conv, linear or matmul ops differ from effnets'"
        )
        diff = fv.conv_linear - report.macs
        notes.append(f"fvcore's conv + linear part differs from effnets' MACs by {diff:+,}: {why}.")
    stub = Cost(*input_shape, macs=report.macs, extras=tuple(report.extras[k] for k in EXTRA_KINDS))
    why = [f"{k} x{v} ({counting._skipped_reason(k, fv.tensor_ops.get(k), stub)})" for k, v in sorted(skipped.items())]
    return notes + ([f"fvcore skips (counts 0 for) {'; '.join(why)}."] if why else [])


def reference_of(library: str, name: str) -> tuple[str, dict[str, Any]] | None:
    """The registered effnets network that ``library:name`` builds (its name and the settings that make it the same
    network), or None."""
    from effnets.models import MODELS

    if library == "timm":
        return TIMM_REFERENCES.get(name)
    for reg, info in MODELS.items():
        if info.torchvision == name:
            return reg, dict(info.torchvision_fields)
    return None


def _scaling(library: str, name: str) -> tuple[str, str]:
    from effnets.models import FAMILIES, MODELS

    ref = reference_of(library, name.split(".", 1)[0])
    if ref is None:
        return "", (
            f"effnets has no width or depth rule for {library}:{name}'s family: only the resolution can be changed "
            "(analyse it at another resolution)."
        )
    reg, fields = ref
    how = ", ".join(f"{k}={v!r}" for k, v in fields.items())
    return FAMILIES[MODELS[reg].family].scaling, f"Scale it as {reg}{f' with {how}' if how else ''} (same network)."


def analyse(
    text: str,
    resolution: int | tuple[int, int] | None = None,
    batch: int = 1,
    fvcore: bool = False,
    max_layers: int = MAX_LAYERS,
) -> NetworkReport:
    """Count a torchvision or timm model by name ("torchvision:resnet50", "timm:convnext_atto") on the meta device.

    Args:
        text: "library:name"; checked before anything is built (:func:`parse_name`).
        resolution: input side in pixels (or (H, W)); the network's own default (:func:`default_input`) when None.
        batch: samples traced at once (counts are per sample).
        fvcore: also run fvcore on a CPU copy (random weights, never downloaded) and explain how it differs.
        max_layers: refuse networks with more leaf layers than this.

    Raises:
        SpecError: a bad name, prefix, resolution or batch, too many layers, or a network that fails at the input.
    """
    library, name = parse_name(text)
    if not isinstance(batch, int) or isinstance(batch, bool) or not 1 <= batch <= 64:
        raise SpecError(f"batch={batch!r} must be a whole number from 1 to 64", "batch", batch)
    model = _build(library, name)
    shape = _input_shape(resolution, default_input(library, name, model))
    full = f"{library}:{name}"
    report = trace(model, shape, name=full, source=library, batch=batch, max_layers=max_layers)
    scaling, note = _scaling(library, name)
    notes = [*report.notes, note]
    if fvcore:
        notes = [n for n in notes if not n.startswith("fvcore was not run")]
        notes += _fvcore_notes(_factory(library, name), shape, report)
    return dataclasses.replace(report, notes=notes, scaling=scaling)
