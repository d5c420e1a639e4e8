"""One network run on one photo, in words and numbers: what the Inference Lab says about its settings, its top-k,
its preprocessing and its latency (median, spread, throughput, achieved GMAC/s, the environment).

Everything here is a pure function of plain results (prediction and timing dicts, an
:class:`effnets.runtime.weights.EvalTransform`), so what a page shows is testable without a browser.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from effnets import units
from effnets.report import Metric, human, plural

# What a timing of the Inference Lab depends on, for the label of another session's measurement.
TIMING_SETTINGS = "the same model, weights, device, precision, layout, path and run counts"
NOT_LATENCY = (
    "**FLOPs are not latency.** The MAC count says how much arithmetic there is, not how long it takes: "
    "depthwise convolutions and element-wise ops move much data for little arithmetic, so they run far "
    "below the device's peak. Compare models in the Model Zoo."
)


ENGINE_LABELS = {"fast": "fast path", "eager": "eager", "onnxruntime": "ONNX Runtime", "openvino": "OpenVINO"}


def engine_choice_label(choice: str) -> str:
    """The Engine control's label of a choice: 'auto (fastest measured here)', 'fast path', 'OpenVINO' ..."""
    return "auto (fastest measured here)" if choice == "auto" else ENGINE_LABELS.get(choice, choice)


def _path(engine: str) -> str:
    return f" · {ENGINE_LABELS.get(engine, engine)}"


def _layout(channels_last: bool) -> str:
    return " · channels_last" if channels_last else ""


def settings_line(
    name: str, weights_label: str, device_name: str, precision: str, channels_last: bool, engine: str
) -> str:
    """'**efficientnet_lite0** · weights: **ImageNet weights (packaged)** · CPU · fp32 · fast path'."""
    return (
        f"**{name}** · weights: **{weights_label}** · {device_name} · {precision}"
        + (_layout(channels_last) if engine in ("fast", "eager") else "")
        + _path(engine)
    )


def random_init_warning(name: str) -> str:
    """Why a model without ImageNet weights here predicts nonsense, and how to get its weights."""
    from effnets.runtime.weights import download_hint

    return (
        f"**random init**: {name} has no ImageNet weights on this machine, so its predictions are "
        f"meaningless (useful only to compare speed). `{download_hint(name)}` on a machine "
        "with internet fetches them."
    )


def top_title(topk: int, pretrained: bool) -> str:
    """The title of the top-k chart (a random-init model's is marked meaningless)."""
    return f"top-{topk}" + ("  (random init: meaningless)" if not pretrained else "")


def top1_caption(predictions: Sequence[Mapping[str, Any]]) -> str:
    """'top-1: **tabby** (61.2%), ImageNet class 281' for predictions sorted best first."""
    best = predictions[0]
    return f"top-1: **{best['label']}** ({best['prob']:.1%}), ImageNet class {best['index']}"


def verdict_kind(right: bool | None) -> str:
    """The box a sample photo's verdict is shown in: 'success' (right), 'warning' (wrong), 'info' (no class fits)."""
    return "info" if right is None else "success" if right else "warning"


def preprocess_intro(name: str, label: str, transform) -> str:
    """The sentence above the preprocessing steps: the model's resize, crop, interpolation and normalisation."""
    return (
        f"What **{name}** is fed, step by step, for *{label}* "
        f"(resize {transform.resize}, centre crop {transform.crop}, {transform.interpolation}, normalisation "
        f"'{transform.normalization}'):"
    )


def step_text(step: Mapping[str, Any]) -> str:
    """One preprocessing step: its name, what it does, and the tensor it leaves."""
    return f"**{step['name']}**: {step['description']}  \ntensor {step['shape']}, {step['dtype']}"


def timing_key(settings: Sequence[Any]) -> str:
    """The key a timing of these settings is kept under (one per model, weights, device, precision, layout, path,
    resolution and run counts)."""
    return "infer:" + ":".join(map(str, settings))


def busy_warning(timing: Mapping[str, Any]) -> str | None:
    """The warning for a timing whose spread says the machine was busy, or None when it was not."""
    if not timing["busy"]:
        return None
    return (
        f"Busy machine: p90 is {timing['spread']:.1f} x p10, so something else ran during the measurement and "
        "the median is not to be trusted. Press *Measure again*."
    )


def gmacs_per_s(macs: float, median_ms: float) -> float:
    """Achieved GMAC/s: ``macs`` done in ``median_ms`` milliseconds."""
    return units.giga_per_second(macs, median_ms)


def model_macs(name: str, resolution: int) -> int | None:
    """Conv and linear MACs of one image through effnets model ``name`` at ``resolution`` (built as its pretrained
    weights need), or None for a model effnets does not cost (torchvision's reference models)."""
    from effnets import model_cost
    from effnets.models import MODELS
    from effnets.runtime.weights import pretrained_fields

    if name not in MODELS:
        return None
    return model_cost(name, resolution=resolution, **pretrained_fields(name)).macs


def latency_metrics(timing: Mapping[str, Any], macs: int | None) -> list[Metric]:
    """Median latency, p10 / p90, throughput and (with a MAC count) the achieved GMAC/s of one timing."""
    out = [
        Metric(
            "Median latency",
            f"{timing['median_ms']:.1f} ms",
            "Batch of 1, after warm-up, device synchronised after every run.",
        ),
        Metric("p10 / p90", f"{timing['p10_ms']:.0f} / {timing['p90_ms']:.0f} ms"),
        Metric("Throughput", f"{timing['images_per_s']:.0f} images/s"),
    ]
    if macs:
        out.append(
            Metric(
                "Achieved",
                f"{gmacs_per_s(macs, timing['median_ms']):.1f} GMAC/s",
                f"{human(macs)} MACs (conv + linear) per image / median latency.",
            )
        )
    return out


def environment_caption(
    timing: Mapping[str, Any], precision: str, engine: str, channels_last: bool, warmup: int, repeats: int
) -> str:
    """What a timing ran on: device, torch, threads, precision, path, layout, run counts and the warm-up runs."""
    env = timing["environment"]
    return (
        f"{env['device_name']}"
        + (f" · {env['processor']}" if env.get("processor") else "")
        + f" · torch {env['torch']} · {plural(env['threads'], 'CPU thread')} · {precision}"
        + _path(engine)
        + (_layout(channels_last) if engine in ("fast", "eager") else "")
        + f" · {warmup} warm-up + {repeats} timed runs "
        f"(warm-up: {', '.join(f'{x:.0f}' for x in timing['warmup_ms'])} ms)."
    )
