"""Structural reparameterization, training form beside deploy form: the exact cost of each, how far apart their outputs
are on random input (float64 and float32), and their latency timed interleaved on a device.

Three kinds of folding (:mod:`effnets.blocks._reparam` says why each is exact in eval mode):

* a **RepVGG** block or network: 3x3 conv-BN + 1x1 conv-BN + identity BN -> one 3x3 conv with a bias;
* a **MobileOne** block or network: k conv-BN branches + a 1x1 scale branch + identity BN per stage -> one conv;
* plain **BN folding** of a conv -> BN -> ReLU (the ``standard`` block): the BN's scale goes into the kernel, its shift
  into a bias.

Everything here returns plain dataclasses and rows; the Reparameterization Lab draws them.
"""

from __future__ import annotations

import copy
from dataclasses import MISSING, dataclass, field, fields
from typing import Any

import torch
from torch import nn

from effnets import cost as steps
from effnets.blocks import BLOCKS, get_block
from effnets.blocks._reparam import randomize_bn, reparameterize
from effnets.cost import Cost
from effnets.models import MODELS, ModelCost, get_model
from effnets.report import Metric, human, plural
from effnets.runtime import bench, bench_networks
from effnets.spec import SpecError

BN_FOLD = "bn_fold"
BN_FOLD_BLOCK = "standard"  # kxk conv -> BN -> ReLU
CASES: dict[str, str] = {
    "repvgg": "RepVGG block",
    "mobileone": "MobileOne block",
    BN_FOLD: "BN folding (conv -> BN -> ReLU)",
    "repvgg_a0": "RepVGG-A0 (whole network)",
    "mobileone_s0": "MobileOne-S0 (whole network)",
}
FORMS = ("training form", "deploy form")
CHECK_RESOLUTION = 64  # the side of the random images a whole network's outputs are compared on
CHECK_BLOCK_SIDE = 32  # a block's outputs are compared on inputs at most this high and wide
WHY = (
    "In eval mode a batch norm is a fixed per-channel scale and shift, so conv -> BN is one conv whose kernel is "
    "scaled per output channel, plus a bias. Convolution is linear in its kernel: branches that read the same input "
    "add up to one conv whose kernel is the sum of theirs, a 1x1 kernel being a kxk kernel that is zero off its "
    "centre and the identity a kxk kernel with a single 1. The deploy form computes the same function as the "
    "training form in eval mode only (in training a BN uses the batch's statistics), with fewer parameters and "
    "MACs and without the branches' BNs, adds and memory traffic."
)


def _has_deploy(spec_cls: type) -> bool:
    return "deploy" in {f.name for f in fields(spec_cls)}


@dataclass(frozen=True)
class Forms:
    """A block or network in its two forms.

    Attributes:
        case: the key of :data:`CASES` (or the block / model name).
        kind: "block" or "model".
        name: the block or model registry name (``standard`` for BN folding).
        label: human name.
        fields: the training form's spec fields.
        input_shape: (C, H, W) the costs are for.
        training, deploy: the analytic cost of each form (a :class:`Cost` for a block, a :class:`ModelCost` for a
            network).
    """

    case: str
    kind: str
    name: str
    label: str
    fields: dict[str, Any]
    input_shape: tuple[int, int, int]
    training: Cost | ModelCost
    deploy: Cost | ModelCost

    def build(self) -> nn.Module:
        """The training form as a module (random init, train mode as built)."""
        if self.kind == "model":
            info = get_model(self.name)
            return info.build(info.make_spec(**self.fields))
        info = get_block(self.name)
        return info.build(info.make_spec(**self.fields))

    def cost(self, form: str) -> Cost:
        """The totals record of one of :data:`FORMS`."""
        c = self.training if form == FORMS[0] else self.deploy
        return c.total if isinstance(c, ModelCost) else c


def folded_conv_cost(spec: Any, x: Cost) -> Cost:
    """The deploy form of the ``standard`` block (conv -> BN -> act): the same conv with a bias, then the act."""
    label = f"{spec.kernel_size}x{spec.kernel_size} conv (BN folded, bias)"
    pad = spec.padding if spec.padding >= 0 else None
    y = steps.conv(x, spec.out_channels, spec.kernel_size, spec.stride, pad, 1, 1, True, label)
    return steps.act(y, spec.activation)


def block_forms(
    name: str, fields_: dict[str, Any] | None = None, input_shape: tuple[int, int, int] | None = None
) -> Forms:
    """Block ``name`` (one with a ``deploy`` setting, or ``standard`` / ``bn_fold`` for plain BN folding) in both
    forms on a C x H x W input (default: the spec's C_in, 28 x 28).

    Raises:
        SpecError: a block without a deploy form, or settings it cannot take.
    """
    case = name
    if name == BN_FOLD:
        name = BN_FOLD_BLOCK
    info = get_block(name)
    given = {k: v for k, v in (fields_ or {}).items() if k != "deploy"}
    if input_shape is None:
        input_shape = (int(given.get("in_channels", info.make_spec().in_channels)), 28, 28)
    c, h, w = (int(v) for v in input_shape)
    given.pop("in_channels", None)
    if not _has_deploy(info.spec) and name != BN_FOLD_BLOCK:
        raise SpecError(f"block '{name}' has no deploy form (choose one of {', '.join(CASES)})", "name", name)
    spec = info.spec_for_input(c, **given)
    shape = (c, h, w)
    if _has_deploy(info.spec):
        spec = spec.replace(deploy=False)
        deploy = info.cost(spec.replace(deploy=True), shape)
    else:
        deploy = folded_conv_cost(spec, steps.start(*shape))
    training = info.cost(spec, shape)
    label = CASES.get(case, info.label)
    return Forms(case, "block", name, label, spec.to_dict(), shape, training, deploy)


def model_forms(name: str, **fields_: Any) -> Forms:
    """Network ``name`` (one with a ``deploy`` setting: repvgg_a0, mobileone_s0) in both forms.

    Raises:
        SpecError: a network without a deploy form, or settings it cannot take.
    """
    info = get_model(name)
    if not _has_deploy(info.spec):
        raise SpecError(f"model '{name}' has no deploy form (choose one of {', '.join(CASES)})", "name", name)
    spec = info.make_spec(**{k: v for k, v in fields_.items() if k != "deploy"}, deploy=False)
    training, deploy = info.cost(spec), info.cost(spec.replace(deploy=True))
    label = CASES.get(name, info.label)
    return Forms(name, "model", name, label, spec.to_dict(), training.input_shape, training, deploy)


def forms(case: str, fields_: dict[str, Any] | None = None, input_shape: tuple[int, int, int] | None = None) -> Forms:
    """A case of :data:`CASES` (or any block or model with a deploy form) in both forms."""
    if case in MODELS:
        return model_forms(case, **(fields_ or {}))
    if case in BLOCKS or case == BN_FOLD:
        return block_forms(case, fields_, input_shape)
    raise SpecError(f"unknown case '{case}' (choose one of {', '.join(CASES)})", "case", case)


def spec_class(case: str) -> type:
    """The spec class whose fields set up ``case`` (the model's, or the block's: ``standard`` for BN folding)."""
    if case in MODELS:
        return MODELS[case].spec
    return get_block(BN_FOLD_BLOCK if case == BN_FOLD else case).spec


def link_fields(case: str, values: dict[str, Any]) -> dict[str, Any]:
    """The settings that differ from the spec's defaults (what a link needs to carry), the deploy switch left out."""
    defaults = {f.name: f.default for f in fields(spec_class(case)) if f.default is not MISSING}
    return {k: v for k, v in values.items() if k != "deploy" and defaults.get(k, v) != v}


# ----- cost side by side ------------------------------------------------------------------------------------------

_QUANTITIES = (
    ("parameters", lambda c: c.params),
    ("MACs", lambda c: c.macs),
    ("batch norm (extras)", lambda c: c.extra("bn")),
    ("activations (extras)", lambda c: c.extra("act")),
    ("element-wise adds (extras)", lambda c: c.extra("elementwise")),
    ("conv/linear outputs written", lambda c: c.acts),
)


def cost_rows(f: Forms) -> list[dict[str, Any]]:
    """One row per quantity: training form, deploy form, deploy / training (None where the training form has 0)."""
    a, b = f.cost(FORMS[0]), f.cost(FORMS[1])
    rows = []
    for name, get in _QUANTITIES:
        x, y = int(get(a)), int(get(b))
        rows.append({"quantity": name, FORMS[0]: x, FORMS[1]: y, "deploy / training": y / x if x else None})
    return rows


def layer_rows(f: Forms, form: str) -> list[dict[str, Any]]:
    """The layers of one form: a block's counted steps (label, output shape, params, MACs), a network's stage rows."""
    c = f.training if form == FORMS[0] else f.deploy
    if isinstance(c, ModelCost):
        return [
            {"layer": r.operator, "output": "×".join(map(str, r.output_shape)), "params": r.params, "MACs": r.macs}
            for r in c.stages
        ]
    return [
        {
            "layer": s.label + (f" [{s.branch}]" if s.branch else ""),
            "output": "×".join(map(str, s.out_shape)),
            "params": s.params,
            "MACs": s.macs,
        }
        for s in c.steps
        if s.kind in ("conv", "linear", "bn", "add", "act")
    ]


def saving(f: Forms) -> str:
    """What folding saves, in one sentence: 'The deploy form has 799,584 fewer parameters (9.11M -> 8.31M) and 1.1x
    fewer MACs (1.51G -> 1.36G); its batch norms and branch adds are gone.'"""
    a, b = f.cost(FORMS[0]), f.cost(FORMS[1])
    params = f"{a.params - b.params:,} fewer parameters" if a.params > b.params else "as many parameters"
    macs = "the same MACs" if a.macs == b.macs else f"{steps.ratio_text(b.macs, a.macs)} MACs"
    gone = [what for what, n in (("batch norms", a.extra("bn")), ("branch adds", a.extra("elementwise"))) if n]
    tail = f"; its {' and '.join(gone)} are gone" if gone else ""
    return (
        f"The deploy form has {params} ({human(a.params)} -> {human(b.params)}) and {macs} "
        f"({human(a.macs)} -> {human(b.macs)}){tail}."
    )


def headline(f: Forms) -> list[Metric]:
    """The page's headline numbers: parameters and MACs of each form, the deploy form's as 'x of the training
    form'."""
    a, b = f.cost(FORMS[0]), f.cost(FORMS[1])
    return [
        Metric(
            "Parameters, training form",
            human(a.params),
            f"{a.params:,} learnable parameters, the BNs' gamma and beta included",
        ),
        Metric(
            "Parameters, deploy form",
            human(b.params),
            f"{b.params:,} learnable parameters, the folded convs' biases included",
            f"{b.params / a.params:.2f}×",
        ),
        Metric("MACs, training form", human(a.macs), f"{a.macs:,} conv/linear multiply-accumulates"),
        Metric(
            "MACs, deploy form",
            human(b.macs),
            f"{b.macs:,} conv/linear multiply-accumulates",
            f"{b.macs / a.macs:.2f}×",
        ),
    ]


# ----- exactness --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Exactness:
    """How far the deploy form's outputs are from the training form's (eval mode, random input, the same weights).

    Attributes:
        float64, float32: max |training(x) - deploy(x)| with both forms in that precision.
        float32_noise: max |training in float32 - training in float64|: the rounding of the network itself, the
            scale a float32 difference is to be read against.
        scale: max |training(x)| (float64).
        input_shape: (N, C, H, W) of the random input.
        seed: the seed of the weights, statistics and input.
    """

    float64: float
    float32: float
    float32_noise: float
    scale: float
    input_shape: tuple[int, int, int, int]
    seed: int

    def sentence(self) -> str:
        return (
            f"Largest output difference on a random {'×'.join(map(str, self.input_shape))} input: "
            f"{self.float64:.1e} in float64, {self.float32:.1e} in float32, for outputs up to {self.scale:.3g} "
            f"(the training form alone moves by {self.float32_noise:.1e} between float64 and float32: the float32 "
            "difference is rounding, not a different function)."
        )


def _check_input(f: Forms, batch: int, resolution: int | None, g: torch.Generator) -> torch.Tensor:
    c, h, w = f.input_shape
    if f.kind == "model":
        h = w = int(resolution or min(h, CHECK_RESOLUTION))
    else:
        h, w = min(h, CHECK_BLOCK_SIDE), min(w, CHECK_BLOCK_SIDE)
    return torch.randn(batch, c, h, w, generator=g, dtype=torch.float64)


def exactness(f: Forms, seed: int = 0, batch: int = 2, resolution: int | None = None) -> Exactness:
    """Build the training form with random weights and non-trivial batch norms (:func:`randomize_bn`, statistics
    calibrated on a random batch and moved off it), fold it (:func:`reparameterize`), and compare the outputs in eval
    mode in float64 and float32. A network is compared on ``resolution`` x ``resolution`` images (default
    :data:`CHECK_RESOLUTION`), a block on its input cut to :data:`CHECK_BLOCK_SIDE` at most (the same weights: the
    folding does not depend on the input size)."""
    g = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        m = f.build().double()
    x = _check_input(f, batch, resolution, g)
    with torch.no_grad():
        randomize_bn(m, g, calibrate=_check_input(f, max(4, batch), resolution, g))
        m.eval()
        m32 = copy.deepcopy(m).float()
        y64, d64 = m(x), reparameterize(m)(x)
        y32, d32 = m32(x.float()), reparameterize(m32)(x.float())
    return Exactness(
        float64=float((y64 - d64).abs().max()),
        float32=float((y32 - d32).abs().max()),
        float32_noise=float((y32.double() - y64).abs().max()),
        scale=float(y64.abs().max()),
        input_shape=tuple(x.shape),  # type: ignore[arg-type]
        seed=seed,
    )


# ----- latency ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MeasuredForms:
    """Both forms timed interleaved on a device (eager: the training form with its branches and BNs as built).

    Attributes:
        case: the case measured.
        training, deploy: the two results (:class:`effnets.runtime.bench.BenchResult`).
        speedup: training median / deploy median (above 1: the deploy form is faster); None if stopped early.
        partial: stopped before all rounds.
        environment: device, threads, torch, precision, layout, batch, resolution.
    """

    case: str
    training: bench.BenchResult
    deploy: bench.BenchResult
    speedup: float | None
    partial: bool
    environment: dict[str, Any] = field(default_factory=dict)

    def rows(self) -> list[dict[str, Any]]:
        """One row per form: median, p10, p90 (ms), images/s, GMAC/s, and the ratio to the training form."""
        ref = self.training.median_ms
        return [
            {
                "form": r.label,
                "median (ms)": r.median_ms,
                "p10 (ms)": r.p10_ms,
                "p90 (ms)": r.p90_ms,
                "images/s": r.images_per_s,
                "GMAC/s": r.gmacs_per_s,
                "time / training form": r.median_ms / ref if ref and r.median_ms is not None else None,
            }
            for r in (self.training, self.deploy)
        ]


def measure(
    f: Forms,
    *,
    device: torch.device | str = "cpu",
    precision: str = "fp32",
    batch: int = 1,
    warmup: int = 3,
    repeats: int = 10,
    progress: bench.Progress = None,
    stop: bench.StopSignal = None,
) -> MeasuredForms:
    """Time the training form and the deploy form of ``f`` interleaved on ``device`` (eager, inference mode, both
    built from the same random weights), on a batch of the costed input size."""
    if batch < 1:
        raise ValueError(f"batch={batch} must be at least 1")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        m = randomize_bn(f.build()).eval()
    deployed = reparameterize(m)
    x = torch.randn(batch, *f.input_shape, generator=torch.Generator().manual_seed(0))
    variants = [
        bench_networks.prepared_variant(
            module,
            x,
            label=label,
            device=device,
            precision=precision,
            eager=True,
            macs_per_sample=f.cost(label).macs,
            config={"kind": "reparam", "case": f.case, "fields": f.fields, "form": label},
        )
        for label, module in zip(FORMS, (m, deployed), strict=True)
    ]
    run = bench.run_interleaved(variants, device=device, warmup=warmup, repeats=repeats, progress=progress, stop=stop)
    a, b = run.results
    speedup = a.median_ms / b.median_ms if a.median_ms and b.median_ms else None
    return MeasuredForms(f.case, a, b, speedup, run.partial, dict(a.environment))


def speed_sentence(m: MeasuredForms) -> str:
    """'On CPU (x86_64, 1 thread), fp32, batch 1, the deploy form takes 0.217 ms, the training form 0.334 ms
    (medians): the deploy form is 1.54x faster.'"""
    env = m.environment
    device = str(env.get("device_name") or env.get("device"))
    threads = "" if "thread" in device else f", {plural(int(env.get('threads') or 1), 'thread')}"
    where = f"On {device}, {env.get('precision')}, batch {env.get('batch')}{threads},"
    if m.speedup is None:
        return f"{where} the measurement stopped before both forms were timed."
    verdict = f"{m.speedup:.2f}x faster" if m.speedup >= 1 else f"{1 / m.speedup:.2f}x slower"
    return (
        f"{where} the deploy form takes {m.deploy.median_ms:.3g} ms, the training form {m.training.median_ms:.3g} ms "
        f"(medians): the deploy form is {verdict}."
    )
