"""Every page's controls in one place: one line per control (name, widget, range or choices, default, link name).

The pages draw their widgets from these lines (:func:`effnets.ui.forms.control`), read and write their links through
them (:func:`effnets.ui.state.restore`, :func:`effnets.ui.state.link`), and the page tests draw their settings from
them, so a range is written once. Spec fields (a block's or a network's settings) are not listed here: their ranges
live on the spec's fields and travel in the link's ``cfg`` parameter.

Choices that depend on the registries or on the machine (the blocks, the models with weights here, the devices) are
given as a function and read when asked.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from effnets import units
from effnets.analysis.kernels import DEFAULT_THRESHOLD
from effnets.analysis.zoo import DEFAULT_SET
from effnets.blocks.vgnet import GAUSSIAN_SIGMA
from effnets.cost import EXTRA_KINDS

DEVICES = ("auto", "cpu", "cuda", "mps")
CPU_THREADS = max(1, os.cpu_count() or 1)  # more torch threads than cores only make timings worse
# Parameters every page understands besides its own controls.
COMMON_PARAMS = ("present",)


@dataclass(frozen=True)
class Control:
    """One widget of a page.

    Attributes:
        name: the session key is ``<page prefix>.<name>``.
        widget: number, slider, range (a two-ended slider), select, radio, multiselect, toggle or segmented.
        default: the value before the user or the link sets one.
        lo, hi, step: the range of a number, slider or range.
        options: the choices of a select, radio, multiselect or segmented control (or a function returning them).
        url: the control's name in the page link; None when it does not travel in the link.
    """

    name: str
    widget: str
    default: Any = None
    lo: float | None = None
    hi: float | None = None
    step: float | None = None
    options: Sequence[Any] | Callable[[], Sequence[Any]] | None = None
    url: str | None = None

    def choices(self) -> list[Any]:
        """The options now (a function is called)."""
        opts = self.options() if callable(self.options) else self.options
        return list(opts or ())

    @property
    def is_int(self) -> bool:
        return isinstance(self.lo, int) and not isinstance(self.lo, bool)

    def bounds(self) -> tuple[Any, Any]:
        return self.lo, self.hi


@dataclass(frozen=True)
class PageSchema:
    """A page's controls, its session-key prefix and the other link parameters it reads itself."""

    prefix: str
    controls: tuple[Control, ...]
    spec_param: str | None = None  # the link parameter that carries spec fields (``cfg``), if any
    other_params: tuple[str, ...] = field(default=())

    def __getitem__(self, name: str) -> Control:
        for c in self.controls:
            if c.name == name:
                return c
        raise KeyError(f"page '{self.prefix}' has no control '{name}'")

    def key(self, name: str) -> str:
        return f"{self.prefix}.{name}"

    def link_names(self) -> set[str]:
        """Every parameter the page's link may carry."""
        names = {c.url for c in self.controls if c.url}
        names |= set(COMMON_PARAMS) | set(self.other_params)
        if self.spec_param:
            names.add(self.spec_param)
        return names


def _blocks() -> list[str]:
    from effnets.blocks import BLOCKS

    return list(BLOCKS)


def _models() -> list[str]:
    from effnets.models import MODELS

    return list(MODELS)


def _regnets() -> list[str]:
    from effnets.models import MODELS

    return [n for n, i in MODELS.items() if i.family == "regnet"]


def _runnable_models() -> list[str]:
    from effnets.ui import runtime

    return runtime.model_names()


def _zoo_models() -> list[str]:
    from effnets.analysis import zoo

    return zoo.all_names()


def _reparam_cases() -> list[str]:
    from effnets.analysis.reparam import CASES

    return list(CASES)


def _page_engines() -> list[str]:
    from effnets.runtime.backends import PAGE_ENGINES

    return list(PAGE_ENGINES)


def _builder_starts() -> list[str]:
    from effnets.models import MODELS

    return ["blank", *MODELS]


def _roundings() -> list[str]:
    from effnets.networks.design import ROUNDINGS

    return list(ROUNDINGS)


def _diff_presets() -> list[str]:
    from effnets.networks.diff import PRESETS

    return ["", *PRESETS]


def _samples() -> list[str]:
    from effnets.runtime import images

    return list(images.SAMPLE_IMAGES)


def _dtypes() -> list[str]:
    from effnets.analysis.scaling import DTYPE_BYTES

    return list(DTYPE_BYTES)


def _axis(axis: str) -> tuple[float, float]:
    from effnets.models.scaling import AXIS_RANGE

    return AXIS_RANGE[axis]


def _bases() -> tuple[float, float]:
    from effnets.models.scaling import BASE_RANGE

    return BASE_RANGE


# The unit and extras controls every counting page has.
COUNTING = (
    Control("unit", "radio", "macs", options=units.UNITS, url="unit"),
    Control("extras", "multiselect", [], options=tuple(EXTRA_KINDS), url="extras"),
)
# The Scaling Lab's multiplier slider of each scaling axis.
AXIS_CONTROL = {"width": "width_x", "depth": "depth_x", "resolution": "res_x"}


def measurement(batch: tuple[int, int, int], threads: int, warmup: tuple[int, int, int], repeats: tuple[int, int, int]):
    """The device, precision, batch, threads, warm-up and timed-run controls of a measuring page."""
    return (
        Control("device", "radio", "auto", options=DEVICES, url="device"),
        Control("precision", "select", "fp32", options=("fp32", "fp16", "bf16")),
        Control("batch", "number", batch[2], lo=batch[0], hi=batch[1], url="batch"),
        Control("threads", "number", min(threads, CPU_THREADS), lo=1, hi=CPU_THREADS, url="threads"),
        Control("warmup", "number", warmup[2], lo=warmup[0], hi=warmup[1]),
        Control("repeats", "number", repeats[2], lo=repeats[0], hi=repeats[1]),
    )


BLOCK_LAB = PageSchema(
    "blocks",
    (
        Control("name", "select", "depthwise_separable", options=_blocks, url="block"),
        Control("h", "number", 56, lo=1, hi=1024, url="h"),
        Control("w", "number", 56, lo=1, hi=1024, url="w"),
        Control("batch", "number", 1, lo=1, hi=4096, url="batch"),
        *COUNTING,
        Control("cmp_metric", "radio", "macs", options=("macs", "params")),
        Control("fvcore", "toggle", False),
    ),
    spec_param="cfg",
)

# The compound coefficient with its bases and the three multipliers (the Scaling Lab and the Network Builder).
SCALING = (
    Control("phi", "slider", 0.0, lo=-4.0, hi=8.0, step=0.1, url="phi"),
    Control("alpha", "number", 1.2, *_bases(), step=0.01, url="alpha"),
    Control("beta", "number", 1.1, *_bases(), step=0.01, url="beta"),
    Control("gamma", "number", 1.15, *_bases(), step=0.01, url="gamma"),
    Control("width_x", "slider", 1.0, *_axis("width"), step=0.01, url="w"),
    Control("depth_x", "slider", 1.0, *_axis("depth"), step=0.01, url="d"),
    Control("res_x", "slider", 1.0, *_axis("resolution"), step=0.01, url="r"),
)

SCALING_LAB = PageSchema(
    "scaling",
    (
        Control("preset", "select", "efficientnet_b0", options=_models, url="model"),
        Control("mode", "radio", "phi", options=("phi", "multipliers"), url="mode"),
        *SCALING,
        Control("batch", "number", 32, lo=1, hi=4096, url="batch"),
        Control("dtype", "select", "float32", options=_dtypes, url="dtype"),
        Control("train_trace", "toggle", False),
        Control("train_opt", "radio", "sgd", options=("sgd", "adam"), url="opt"),
        *COUNTING,
    ),
    spec_param="cfg",
)

DESIGN_SPACE = PageSchema(
    "design",
    (
        Control("preset", "select", "regnetx_200mf", options=_regnets, url="preset"),
        *COUNTING,
        Control("mb_model", "radio", "mobilenet_v1", options=("mobilenet_v1", "mobilenet_v2"), url="mb"),
        Control("mb_alphas", "multiselect", [0.25, 0.5, 0.75, 1.0], options=(0.25, 0.35, 0.5, 0.75, 1.0, 1.3, 1.4)),
        Control("mb_res", "multiselect", [128, 160, 192, 224], options=(96, 128, 160, 192, 224, 256)),
        Control("s_n", "slider", 200, lo=10, hi=1000, step=10, url="n"),
        Control("s_seed", "number", 0, lo=0, hi=10**6, url="seed"),
        Control("s_se", "toggle", False, url="se"),
        Control("s_depth", "range", (12, 28), lo=1, hi=64, step=1, url="depth"),
        Control("s_w0", "range", (8, 256), lo=8, hi=512, step=8, url="w0"),
        Control("s_wa", "range", (8.0, 256.0), lo=1.0, hi=512.0, step=1.0, url="wa"),
        Control("s_wm", "range", (1.5, 3.0), lo=1.0, hi=4.0, step=0.05, url="wm"),
        Control("s_groups", "multiselect", [1, 2, 4, 8, 16, 32], options=(1, 2, 4, 8, 16, 32, 64), url="g"),
    ),
    spec_param="cfg",
)

KERNEL_GALLERY = PageSchema(
    "kernels",
    (
        Control("model", "select", "efficientnet_lite0", options=_runnable_models, url="model"),
        Control("weights", "radio", "pretrained", options=("pretrained", "random"), url="weights"),
        Control("threshold", "slider", DEFAULT_THRESHOLD, lo=0.5, hi=0.99, step=0.01, url="threshold"),
        Control("norm", "radio", "kernel", options=("kernel", "layer"), url="norm"),
        Control("sigma", "slider", GAUSSIAN_SIGMA, lo=0.3, hi=3.0, step=0.1),
        Control("interactive", "toggle", False),  # the Kernels section as plotly charts instead of images
    ),
    other_params=("layer",),  # the layer list depends on the model: the page checks it
)

INFERENCE_LAB = PageSchema(
    "infer",
    (
        Control("model", "select", "efficientnet_lite0", options=_runnable_models, url="model"),
        Control("source", "segmented", "sample", options=("sample", "upload", "camera"), url="source"),
        Control("sample", "select", "chelsea", options=_samples, url="sample"),
        Control("device", "radio", "auto", options=DEVICES, url="device"),
        Control("precision", "select", "fp32", options=("fp32", "fp16", "bf16")),
        Control("nhwc", "toggle", False),
        Control("engine", "select", "auto", options=_page_engines, url="engine"),
        Control("topk", "slider", 5, lo=1, hi=10, step=1, url="topk"),
        Control("warmup", "number", 3, lo=0, hi=50),
        Control("repeats", "number", 10, lo=1, hi=200),
        Control("channels", "number", 32, lo=1, hi=256),
    ),
)

MODEL_ZOO = PageSchema(
    "zoo",
    (
        Control("models", "multiselect", list(DEFAULT_SET), options=_zoo_models, url="models"),
        *measurement(batch=(1, 64, 1), threads=1, warmup=(0, 20, 2), repeats=(1, 100, 8)),
        Control("nhwc", "toggle", True),
        Control("eager", "toggle", False),
    ),
)

LATENCY_LAB = PageSchema(
    "latency",
    (
        Control(
            "blocks",
            "multiselect",
            ["standard", "grouped", "depthwise_separable", "shuffle_v2", "mbconv", "fire", "inception"],
            options=_blocks,
            url="blocks",
        ),
        Control("mode", "radio", "matched", options=("same", "matched"), url="mode"),
        Control("c", "number", 64, lo=1, hi=1024, url="c"),
        Control("hw", "number", 28, lo=4, hi=224, url="hw"),
        Control("k", "number", 3, lo=1, hi=7, url="k"),
        *measurement(batch=(1, 256, 8), threads=1, warmup=(0, 50, 3), repeats=(1, 200, 15)),
        Control("check_what", "radio", "block", options=("block", "model")),
        Control("check_model", "select", "efficientnet_b0", options=_models),
        Control("layers_model", "select", "mobilenet_v3_large", options=_models),
    ),
)

REPARAM_LAB = PageSchema(
    "reparam",
    (
        Control("case", "select", "repvgg", options=_reparam_cases, url="case"),
        Control("hw", "number", 28, lo=1, hi=224, url="hw"),
        *measurement(batch=(1, 64, 1), threads=1, warmup=(0, 20, 3), repeats=(1, 100, 10)),
    ),
    spec_param="cfg",
)


NETWORK_BUILDER = PageSchema(
    "builder",
    (
        Control("start", "select", "efficientnet_b0", options=_builder_starts, url="from"),
        Control("mode", "radio", "multipliers", options=("multipliers", "phi"), url="mode"),
        *SCALING,
        Control("rounding", "select", "divisible_8", options=_roundings, url="round"),
        *COUNTING,
    ),
    other_params=("arch",),
)

NETWORK_INSPECTOR = PageSchema(
    "inspector",
    (
        Control("source", "segmented", "name", options=("name", "onnx", "diff"), url="src"),
        Control("resolution", "number", 0, lo=0, hi=2048, url="res"),
        Control("preset", "select", "", options=_diff_presets, url="preset"),
        *COUNTING,
        *measurement(batch=(1, 64, 1), threads=CPU_THREADS, warmup=(0, 20, 2), repeats=(1, 100, 10)),
    ),
    other_params=("name", "a", "b"),
)

PAGES: dict[str, PageSchema] = {v.prefix: v for v in list(globals().values()) if isinstance(v, PageSchema)}
"""Every page's schema by its key prefix: a PageSchema defined in this module is listed here (no second line)."""
