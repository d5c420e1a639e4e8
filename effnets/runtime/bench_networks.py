"""Models and blocks as benchmark variants: built, prepared (eval, device, precision, layout, the fast path or not)
and timed interleaved with :func:`effnets.runtime.bench.run_interleaved`. Preparation happens before the clock starts.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

from effnets.runtime import devices, inference
from effnets.runtime.bench import (
    BenchResult,
    BenchRun,
    Progress,
    StopSignal,
    Variant,
    failed_result,
    run_interleaved,
    should_stop,
)


def _example(batch: int, c: int, h: int, w: int, seed: int = 0) -> torch.Tensor:
    if batch < 1:
        raise ValueError(f"batch={batch} must be at least 1")
    g = torch.Generator().manual_seed(seed)
    return torch.randn(batch, c, h, w, generator=g)


def _runner(module: nn.Module, x: torch.Tensor) -> Callable[[], object]:
    def run() -> object:
        with torch.inference_mode():
            return module(x)

    return run


def default_resolution(name: str) -> int:
    """The input side a model is usually run at: its registry preset's, else its weights' evaluation crop."""
    from effnets.models import MODELS
    from effnets.runtime.weights import eval_transform

    if name in MODELS:
        return int(MODELS[name].make_spec().resolution)  # type: ignore[attr-defined]
    return eval_transform(name).crop


def model_macs(name: str, resolution: int) -> int:
    """Conv/linear MACs of one image through model ``name`` at ``resolution`` (analytic for registry models, traced
    on the meta device for torchvision's)."""
    from effnets.models import MODELS

    if name in MODELS:
        info = MODELS[name]
        spec = info.make_spec(resolution=resolution, **info.inference_fields)
        return info.cost(spec, record_steps=False).macs
    import torchvision.models

    from effnets.counting import build_on_meta, flop_counter_macs

    meta = build_on_meta(lambda: torchvision.models.get_model(name, weights=None))
    return flop_counter_macs(meta, (3, resolution, resolution))


def prepared_variant(
    module: nn.Module,
    example_input: torch.Tensor,
    *,
    label: str,
    device: torch.device | str = "cpu",
    precision: str = "fp32",
    channels_last: bool = False,
    compile: bool = False,
    eager: bool = False,
    macs_per_sample: int | None = None,
    config: dict[str, Any] | None = None,
) -> Variant:
    """A variant running ``module`` (never modified) on ``example_input``'s size: the fast path
    (:func:`fastpath.fast_model`) unless ``eager`` (a prepared copy: eval, device, precision, layout)."""
    from effnets.runtime import fastpath

    device = torch.device(device)
    x = example_input if example_input.dim() == 4 else example_input.unsqueeze(0)
    batch = int(x.shape[0])
    info: dict[str, Any] = {}
    compile_s = None
    if eager:
        if compile:
            raise ValueError("--compile applies to the fast path; drop --eager or --compile")
        m = inference.prepare(module, device, precision, channels_last)
        path = "eager"
    else:
        m, fp = fastpath.fast_model(
            module, x, channels_last=channels_last, compile=compile, device=device, precision=precision
        )
        info = fp.to_dict()
        compile_s = fp.compile_s
        path = "fast+compile" if compile else "fast"
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    xd = x.to(device=device, dtype=devices.PRECISIONS[precision], memory_format=fmt)
    return Variant(
        label=label,
        fn=_runner(m, xd),
        batch_size=batch,
        macs=macs_per_sample * batch if macs_per_sample is not None else None,
        compile_s=compile_s,
        precision=precision,
        channels_last=bool(channels_last),
        resolution=(int(x.shape[-2]) if x.shape[-2] == x.shape[-1] else (int(x.shape[-2]), int(x.shape[-1]))),
        config={**(config or {}), "path": path},
        info=info,
    )


def model_variant(
    name: str,
    *,
    batch: int = 1,
    resolution: int | None = None,
    device: torch.device | str = "cpu",
    precision: str = "fp32",
    channels_last: bool = False,
    compile: bool = False,
    eager: bool = False,
    pretrained: bool = True,
    label: str | None = None,
) -> Variant:
    """Model ``name`` (effnets registry or a torchvision reference model) ready to time at batch x 3 x R x R.

    The fast path unless ``eager``; pretrained weights where available offline (they can change the structure: the
    EfficientNet-Lite checkpoints need TF 'SAME' padding). MACs from the analytic cost.

    Raises:
        ValueError: unknown model, resolution below 8, unsupported precision (messages say what to do).
    """
    from effnets.runtime.weights import load_model

    resolution = default_resolution(name) if resolution is None else int(resolution)
    if resolution < 8:
        raise ValueError(f"resolution={resolution} is too small: use at least 8 pixels (224 is usual)")
    from effnets.models import MODELS

    deploy = MODELS[name].inference_fields if name in MODELS else {}
    model, status = load_model(name, pretrained=pretrained, **deploy)  # RepVGG/MobileOne: the deploy form
    macs = model_macs(name, resolution)
    x = _example(batch, 3, resolution, resolution)
    return prepared_variant(
        model,
        x,
        label=label or name,
        device=device,
        precision=precision,
        channels_last=channels_last,
        compile=compile,
        eager=eager,
        macs_per_sample=macs,
        config={"kind": "model", "name": name, "weights": status.status, "compile": bool(compile), **deploy},
    )


def block_variant(
    name: str,
    fields: dict[str, Any] | None = None,
    input_shape: tuple[int, int, int] | None = None,
    *,
    batch: int = 1,
    device: torch.device | str = "cpu",
    precision: str = "fp32",
    channels_last: bool = False,
    eager: bool = True,
    label: str | None = None,
) -> Variant:
    """Block ``name`` with spec ``fields`` on a batch x C x H x W input, ready to time (eager by default: the block
    as designed, BN included; ``eager=False`` times its fast path).

    ``input_shape`` defaults to (the spec's in_channels, 56, 56); its C sets in_channels.
    """
    from effnets.blocks import get_block

    info = get_block(name)
    fields = dict(fields or {})
    if input_shape is None:
        c = int(fields.get("in_channels", info.make_spec().in_channels))
        input_shape = (c, 56, 56)
    c, h, w = (int(v) for v in input_shape)
    if "in_channels" in fields and int(fields["in_channels"]) != c:
        raise ValueError(f"in_channels={fields['in_channels']} disagrees with the input's {c} channels")
    fields.pop("in_channels", None)
    spec = info.spec_for_input(c, **fields)
    cost = info.cost(spec, (c, h, w))
    module = info.build(spec).eval()
    x = _example(batch, c, h, w)
    return prepared_variant(
        module,
        x,
        label=label or name,
        device=device,
        precision=precision,
        channels_last=channels_last,
        eager=eager,
        macs_per_sample=cost.macs,
        config={"kind": "block", "name": name, "spec": spec.to_dict(), "input_shape": [c, h, w]},
    )


def _build_all(
    makers: Sequence[tuple[str, Callable[[], Variant]]], device: torch.device, stop: StopSignal
) -> tuple[list[Variant], list[BenchResult], bool]:
    ready, failed = [], []
    for label, make in makers:
        if should_stop(stop):
            return ready, failed, True
        try:
            ready.append(make())
        except ValueError as e:
            failed.append(failed_result(Variant(label, lambda: None), device, str(e)))
    return ready, failed, False


def bench_models(
    names: Sequence[str],
    *,
    batch: int = 1,
    resolution: int | None = None,
    device: torch.device | str = "cpu",
    precision: str = "fp32",
    channels_last: bool = False,
    compile: bool = False,
    eager: bool = False,
    pretrained: bool = True,
    warmup: int = 3,
    repeats: int = 10,
    progress: Progress = None,
    stop: StopSignal = None,
) -> BenchRun:
    """Time models interleaved (see :func:`model_variant` for the settings, :func:`run_interleaved` for the rest).

    A model that cannot be prepared (e.g. a resolution too small for it) gets a result with ``error`` and no timing;
    the others are still timed. All models are held in memory during the run.
    """
    device = torch.device(device)
    makers = [
        (
            n,
            lambda n=n: model_variant(
                n,
                batch=batch,
                resolution=resolution,
                device=device,
                precision=precision,
                channels_last=channels_last,
                compile=compile,
                eager=eager,
                pretrained=pretrained,
            ),
        )
        for n in names
    ]
    ready, failed, stopped = _build_all(makers, device, stop)
    if not ready:
        return BenchRun(failed, stopped, [], dict(devices.environment(device)), warmup, repeats)
    run = run_interleaved(ready, device=device, warmup=warmup, repeats=repeats, progress=progress, stop=stop)
    by_label = {r.label: r for r in run.results + failed}
    results = [by_label[n] for n in names if n in by_label]
    return BenchRun(results, run.partial or stopped, run.order, run.environment, warmup, repeats)


def bench_model(
    name: str,
    *,
    warmup: int = 3,
    repeats: int = 10,
    progress: Progress = None,
    stop: StopSignal = None,
    **settings: Any,
) -> BenchResult:
    """Time one model (settings as :func:`model_variant`); raises ValueError where it cannot be prepared."""
    device = torch.device(settings.get("device", "cpu"))
    v = model_variant(name, **settings)
    run = run_interleaved([v], device=device, warmup=warmup, repeats=repeats, progress=progress, stop=stop)
    return run.results[0]


def bench_block(
    name: str,
    fields: dict[str, Any] | None = None,
    input_shape: tuple[int, int, int] | None = None,
    *,
    warmup: int = 3,
    repeats: int = 10,
    progress: Progress = None,
    stop: StopSignal = None,
    **settings: Any,
) -> BenchResult:
    """Time one block (settings as :func:`block_variant`); raises ValueError for an impossible spec."""
    device = torch.device(settings.get("device", "cpu"))
    v = block_variant(name, fields, input_shape, **settings)
    run = run_interleaved([v], device=device, warmup=warmup, repeats=repeats, progress=progress, stop=stop)
    return run.results[0]
