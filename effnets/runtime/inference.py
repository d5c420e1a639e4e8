"""Running a classifier: device and precision choice, a prepared private copy, top-k labels, honest timing.

The pieces a UI caches are explicit: a prepared model is determined by (model name, weights, device, precision,
channels_last), see :func:`cache_key`; :func:`prepare` never modifies the model it is given, so the cached base
model stays shareable. A faster path (batch norm folded into the convs, ``torch.compile``) can be layered on the
copy :func:`prepare` returns without changing the callers.

Timing (:func:`time_inference`) runs warm-up calls first (not timed: the first calls pay for allocations, kernel
selection and caches), synchronises the device around every timed call (CUDA runs asynchronously: without a
synchronisation one would time the launch, not the work) and reports the median with the 10th and 90th percentiles.
The clock is injectable so the logic is testable with a fake clock.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import math
import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from effnets.report import plural

DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")
PRECISIONS: dict[str, torch.dtype] = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


# ----- devices ----------------------------------------------------------------------------------------------------


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def _cuda_absent_reason() -> str:
    if torch.version.cuda is None:
        return "this PyTorch build has no CUDA support (a CPU-only wheel)"
    return "PyTorch was built with CUDA but sees no GPU (no driver, or CUDA_VISIBLE_DEVICES hides it)"


def available_devices() -> dict[str, str | None]:
    """For each of cpu, cuda, mps: None if usable here, else the reason why not."""
    mps = getattr(torch.backends, "mps", None)
    if _mps_available():
        mps_reason = None
    elif mps is not None and mps.is_built():
        mps_reason = "PyTorch has MPS support but this machine has no usable Apple GPU (macOS 12.3+ needed)"
    else:
        mps_reason = "Apple's Metal (MPS) backend exists only on Apple-silicon Macs"
    return {
        "cpu": None,
        "cuda": None if torch.cuda.is_available() else _cuda_absent_reason(),
        "mps": mps_reason,
    }


def device_name(device: torch.device | str) -> str:
    """Human name of a device ("NVIDIA H100 80GB HBM3", "CPU (x86_64, 2 threads)", "Apple MPS")."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    if device.type == "mps":
        return "Apple MPS"
    return f"CPU ({platform.machine() or 'unknown'}, {plural(torch.get_num_threads(), 'thread')})"


def pick_device(pref: str = "auto") -> tuple[torch.device, str]:
    """The device to run on, and a sentence saying why.

    Args:
        pref: "auto" (CUDA if present, else Apple MPS, else CPU), or "cpu", "cuda", "cuda:N", "mps".

    Raises:
        ValueError: an unknown name, or a device that is not available here (the message says why).
    """
    pref = (pref or "auto").strip().lower()
    absent = available_devices()
    if pref == "auto":
        if absent["cuda"] is None:
            dev = torch.device("cuda", torch.cuda.current_device())
            return dev, f"auto: CUDA GPU found ({device_name(dev)})"
        if absent["mps"] is None:
            return torch.device("mps"), "auto: no CUDA GPU; Apple GPU (MPS) found"
        return torch.device("cpu"), "auto: no CUDA GPU or Apple GPU (MPS) here, so the CPU"
    kind, _, index = pref.partition(":")
    if kind not in ("cpu", "cuda", "mps") or (index and (kind != "cuda" or not index.isdigit())):
        raise ValueError(f"device '{pref}' is not one of {', '.join(DEVICE_CHOICES)} (or cuda:N)")
    if absent[kind] is not None:
        raise ValueError(f"device '{pref}' is not available here: {absent[kind]}. Use 'auto' or 'cpu'.")
    if kind == "cuda":
        i = int(index) if index else torch.cuda.current_device()
        if i >= torch.cuda.device_count():
            raise ValueError(f"device '{pref}' does not exist: this machine has {torch.cuda.device_count()} GPU(s)")
        dev = torch.device("cuda", i)
        return dev, f"requested: CUDA GPU {i} ({device_name(dev)})"
    return torch.device(kind), f"requested: {device_name(kind)}"


def environment(device: torch.device | str) -> dict[str, str | int | None]:
    """What a timing depends on, to print beside every figure: device, threads, library versions."""
    device = torch.device(device)
    env: dict[str, str | int | None] = {
        "device": str(device),
        "device_name": device_name(device),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
    if device.type == "cuda":
        env["cuda"] = torch.version.cuda
        env["cudnn"] = torch.backends.cudnn.version()
    return env


# ----- precisions -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PrecisionSupport:
    """Whether a precision can be used on a device, and why (not)."""

    precision: str
    supported: bool
    reason: str


def _probe(device: torch.device, dtype: torch.dtype) -> str | None:
    """Run the ops of a mobile CNN in ``dtype`` on ``device``; None if they run and agree with fp32, else why not."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(1, 8, 12, 12, generator=g)
    w1 = torch.randn(16, 8, 3, 3, generator=g) * 0.2
    w2 = torch.randn(16, 1, 3, 3, generator=g) * 0.3
    fc = torch.randn(10, 16, generator=g) * 0.3
    bn = (torch.randn(16, generator=g), torch.rand(16, generator=g) + 0.5, torch.ones(16), torch.zeros(16))

    def net(x, w1, w2, fc, mean, var, weight, bias):
        y = torch.nn.functional.conv2d(x, w1, padding=1, stride=2)
        y = torch.nn.functional.batch_norm(y, mean, var, weight, bias, False, 0.0, 1e-3)
        y = torch.nn.functional.relu6(y)
        y = torch.nn.functional.conv2d(torch.nn.functional.pad(y, (0, 1, 0, 1)), w2, groups=16)
        y = torch.nn.functional.silu(y) * torch.sigmoid(y.mean((2, 3), keepdim=True))
        return torch.nn.functional.linear(y.mean((2, 3)), fc).softmax(-1)

    args = (x, w1, w2, fc, *bn)
    ref = net(*args)
    try:
        with torch.inference_mode():
            out = net(*(a.to(device=device, dtype=dtype) for a in args))
            out = out.float().cpu()
    except (RuntimeError, TypeError, NotImplementedError) as e:
        return f"{str(e).splitlines()[0][:120]}"
    if not torch.isfinite(out).all() or (out - ref).abs().max() > 0.05:
        return f"it runs but gives wrong results (max error {(out - ref).abs().max():.3g})"
    return None


def _cpu_bf16_note() -> str:
    """Whether this CPU has bfloat16 arithmetic; without it PyTorch converts and runs slower than float32."""
    native = False
    for probe in ("_is_avx512_bf16_supported", "_is_amx_tile_supported"):
        f = getattr(torch.cpu, probe, None)
        with contextlib.suppress(Exception):  # private probes: absent or failing on some builds
            native = native or bool(f and f())
    if native:
        return "bfloat16 runs natively on this CPU (AVX512-BF16 or AMX)"
    return (
        "bfloat16 runs on this CPU but without AVX512-BF16 or AMX it is emulated: expect it to be several times "
        "slower than fp32 (useful to see the accuracy effect, not for speed)"
    )


@functools.cache
def _precision_support(device_str: str) -> tuple[PrecisionSupport, ...]:
    device = torch.device(device_str)
    rows = [PrecisionSupport("fp32", True, "float32: supported everywhere, the reference")]
    if device.type == "cuda":
        rows.append(PrecisionSupport("fp16", True, "float16 on CUDA: tensor cores on Volta and newer"))
        major, minor = torch.cuda.get_device_capability(device)
        if torch.cuda.is_bf16_supported(including_emulation=False):
            rows.append(PrecisionSupport("bf16", True, f"bfloat16: native on compute capability {major}.{minor}"))
        else:
            rows.append(
                PrecisionSupport(
                    "bf16", False, f"bfloat16 needs compute capability 8.0 (Ampere); this GPU is {major}.{minor}"
                )
            )
    elif device.type == "mps":
        rows.append(PrecisionSupport("fp16", True, "float16 on the Apple GPU"))
        why = _probe(device, torch.bfloat16)
        rows.append(
            PrecisionSupport(
                "bf16",
                why is None,
                "bfloat16 runs on this Apple GPU" if why is None else f"bfloat16 failed here: {why}",
            )
        )
    else:
        rows.append(
            PrecisionSupport(
                "fp16",
                False,
                "float16 is not offered on the CPU: most CPUs have no float16 arithmetic, PyTorch would convert every "
                "operation and run slower than float32; try bf16",
            )
        )
        why = _probe(device, torch.bfloat16)
        if why is None:
            rows.append(PrecisionSupport("bf16", True, _cpu_bf16_note()))
        else:
            rows.append(PrecisionSupport("bf16", False, f"bfloat16 does not run on this CPU build: {why}"))
    return tuple(rows)


def precision_support(device: torch.device | str) -> list[PrecisionSupport]:
    """fp32, fp16 and bf16 on ``device``: supported or not, with the reason (probed once per device)."""
    return list(_precision_support(str(torch.device(device))))


def supported_precisions(device: torch.device | str) -> list[str]:
    """The precisions that can be chosen on ``device`` ("fp32" always first)."""
    return [p.precision for p in precision_support(device) if p.supported]


def check_precision(device: torch.device | str, precision: str) -> None:
    """Raise ValueError unless ``precision`` is known and supported on ``device`` (the message says why not)."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision '{precision}' is not one of {', '.join(PRECISIONS)}")
    support = {p.precision: p for p in precision_support(device)}
    if not support[precision].supported:
        raise ValueError(
            f"precision '{precision}' is not available on {torch.device(device)}: {support[precision].reason}"
        )


# ----- preparing a model ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class InferenceConfig:
    """How a prepared model runs: the device, precision and memory layout."""

    device: str
    precision: str = "fp32"
    channels_last: bool = False


def cache_key(
    model_name: str, weights: str, device: torch.device | str, precision: str, channels_last: bool
) -> tuple[str, str, str, str, bool]:
    """The hashable key a UI should cache a prepared model under: everything that makes two prepared models differ.

    ``weights`` is the weight status or source ("packaged", "cached", "random init"), so that a model whose
    checkpoint appears in the cache later is prepared again.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision '{precision}' is not one of {', '.join(PRECISIONS)}")
    return (model_name, weights, str(torch.device(device)), precision, bool(channels_last))


def prepare(
    model: nn.Module, device: torch.device | str, precision: str = "fp32", channels_last: bool = False
) -> nn.Module:
    """A private copy of ``model`` ready for inference: eval mode, on ``device``, in ``precision``, optional NHWC.

    The argument is never modified (its device, dtype, mode and parameters stay as they were). Gradients are switched
    off on the copy. The copy carries its :class:`InferenceConfig` as ``model.inference_config``.

    Raises:
        ValueError: an unknown precision, or one the device does not support (message says why).
    """
    device = torch.device(device)
    check_precision(device, precision)
    m = copy.deepcopy(model)
    m.eval()
    m.to(device=device, dtype=PRECISIONS[precision])
    if channels_last:
        m.to(memory_format=torch.channels_last)
    for p in m.parameters():
        p.requires_grad_(False)
    m.inference_config = InferenceConfig(str(device), precision, bool(channels_last))
    return m


def _input_for(model: nn.Module, batch: torch.Tensor) -> torch.Tensor:
    if batch.dim() == 3:
        batch = batch.unsqueeze(0)
    if batch.dim() != 4:
        raise ValueError(f"expected an image batch N x 3 x H x W; got shape {tuple(batch.shape)}")
    cfg = getattr(model, "inference_config", None)
    if cfg is not None:
        device, dtype, nhwc = torch.device(cfg.device), PRECISIONS[cfg.precision], cfg.channels_last
    else:
        p = next(model.parameters(), None)
        device, dtype, nhwc = (
            (p.device, p.dtype, False) if p is not None else (torch.device("cpu"), torch.float32, False)
        )
    x = batch.to(device=device, dtype=dtype)
    return x.contiguous(memory_format=torch.channels_last) if nhwc else x


def predict_logits(model: nn.Module, batch: torch.Tensor) -> torch.Tensor:
    """The model's outputs for ``batch`` (moved to the model's device, dtype and layout) as float32 on the CPU.

    Runs under ``torch.inference_mode``; the model's train/eval mode is not changed (use a prepared model).
    """
    with torch.inference_mode():
        out = model(_input_for(model, batch))
    if not isinstance(out, torch.Tensor) or out.dim() != 2:
        raise ValueError("the model must return N x classes logits")
    return out.float().cpu()


@dataclass(frozen=True)
class Prediction:
    """One of the top-k classes of one image."""

    label: str
    index: int
    prob: float

    def to_dict(self) -> dict:
        return {"label": self.label, "index": self.index, "prob": self.prob}


def top_k(logits: torch.Tensor, k: int = 5, labels: Sequence[str] | None = None) -> list[list[Prediction]]:
    """Softmax (in float32) and the ``k`` most probable classes of each row of ``logits``."""
    if k < 1:
        raise ValueError(f"topk={k} must be at least 1")
    n_classes = logits.shape[1]
    if labels is None:
        from effnets.runtime.imagenet import NUM_CLASSES, categories

        labels = categories() if n_classes == NUM_CLASSES else [f"class {i}" for i in range(n_classes)]
    if len(labels) != n_classes:
        raise ValueError(f"{len(labels)} labels for a model with {n_classes} outputs")
    probs = logits.float().softmax(-1)
    values, indices = probs.topk(min(k, n_classes), dim=-1)
    return [
        [Prediction(labels[int(i)], int(i), float(v)) for v, i in zip(vs, ids, strict=True)]
        for vs, ids in zip(values, indices, strict=True)
    ]


def classify(
    model: nn.Module, batch_tensor: torch.Tensor, topk: int = 5, labels: Sequence[str] | None = None
) -> list[list[Prediction]]:
    """Top-``topk`` (label, index, prob) per image of ``batch_tensor`` (N x 3 x H x W, already normalised).

    Labels default to the ImageNet class names for a 1000-way classifier, "class i" otherwise.
    """
    return top_k(predict_logits(model, batch_tensor), topk, labels)


# ----- timing -----------------------------------------------------------------------------------------------------


BUSY_SPREAD = 2.0  # p90 above this many times p10: the machine was doing something else during the measurement


@dataclass(frozen=True)
class Timing:
    """Latency of repeated calls, in milliseconds per call.

    Attributes:
        median_ms, p10_ms, p90_ms: median and 10th/90th percentiles of the timed calls (linear interpolation).
        images_per_s: batch_size / median.
        samples: every timed call, in order (ms).
        warmup_ms: the untimed warm-up calls (ms), reported apart (the first one includes one-off costs).
        batch_size: images per call.
    """

    median_ms: float
    p10_ms: float
    p90_ms: float
    images_per_s: float
    samples: list[float]
    warmup_ms: list[float] = field(default_factory=list)
    batch_size: int = 1

    @property
    def spread(self) -> float:
        """p90 / p10: 1 for perfectly repeatable calls."""
        return self.p90_ms / self.p10_ms if self.p10_ms > 0 else float("inf")

    @property
    def busy(self) -> bool:
        """The spread says the machine was busy (p90 > BUSY_SPREAD x p10): the median is not to be trusted."""
        return self.spread > BUSY_SPREAD

    def to_dict(self) -> dict:
        return {
            "median_ms": self.median_ms,
            "p10_ms": self.p10_ms,
            "p90_ms": self.p90_ms,
            "images_per_s": self.images_per_s,
            "samples": list(self.samples),
            "warmup_ms": list(self.warmup_ms),
            "batch_size": self.batch_size,
            "spread": self.spread,
            "busy": self.busy,
        }


def device_sync(device: torch.device | str | None) -> Callable[[], None]:
    """A function that waits for ``device`` to finish queued work (a no-op on the CPU)."""
    if device is None:
        return lambda: None
    device = torch.device(device)
    if device.type == "cuda":
        return lambda: torch.cuda.synchronize(device)
    if device.type == "mps":
        return torch.mps.synchronize
    return lambda: None


def _percentiles(samples: Sequence[float]) -> tuple[float, float, float]:
    arr = np.asarray(samples, dtype=float)
    return float(np.median(arr)), float(np.percentile(arr, 10)), float(np.percentile(arr, 90))


def timing_from_samples(samples: Sequence[float], warmup_ms: Sequence[float] = (), batch_size: int = 1) -> Timing:
    """The statistics of timed calls (ms): median, 10th/90th percentiles (linear interpolation), images per second.

    Raises:
        ValueError: no samples, or a batch size below 1.
    """
    if not len(samples) or batch_size < 1:
        raise ValueError(f"need at least one timed call and batch_size >= 1; got {len(samples)}, {batch_size}")
    median, p10, p90 = _percentiles(samples)
    return Timing(
        median_ms=median,
        p10_ms=p10,
        p90_ms=p90,
        images_per_s=batch_size * 1e3 / median if median > 0 else math.inf,
        samples=[float(v) for v in samples],
        warmup_ms=[float(v) for v in warmup_ms],
        batch_size=batch_size,
    )


def time_call(
    fn: Callable[[], object],
    sync: Callable[[], None] | torch.device | str | None = None,
    clock: Callable[[], float] = time.perf_counter,
) -> float:
    """Milliseconds of one call of ``fn()``, between two device syncs (the unit every timing here is built from).

    Args:
        fn: the work.
        sync: a function that waits for the device, or a device (see :func:`device_sync`); None on the CPU.
        clock: seconds as a float.
    """
    wait = sync if callable(sync) else device_sync(sync)
    wait()
    t0 = clock()
    fn()
    wait()
    return (clock() - t0) * 1e3


def time_inference(
    fn: Callable[[], object],
    warmup: int = 3,
    repeats: int = 10,
    sync: Callable[[], None] | torch.device | str | None = None,
    clock: Callable[[], float] = time.perf_counter,
    batch_size: int = 1,
) -> Timing:
    """Time ``fn()``: ``warmup`` untimed calls, then ``repeats`` timed ones, each between two device syncs.

    To compare several things, time them interleaved with :func:`bench.run_interleaved` instead of calling
    this once per thing (a slow drift of the machine would otherwise favour whichever ran first).

    Args:
        fn: the work, e.g. ``lambda: model(x)``.
        warmup: calls before timing (not counted in the statistics, reported as ``warmup_ms``).
        repeats: timed calls.
        sync: a function that waits for the device, or a device (see :func:`device_sync`); None on the CPU.
        clock: seconds as a float (``time.perf_counter``); a fake clock makes the statistics testable.
        batch_size: images per call, for images_per_s.
    """
    if warmup < 0 or repeats < 1 or batch_size < 1:
        raise ValueError(f"need warmup >= 0, repeats >= 1, batch_size >= 1; got {warmup}, {repeats}, {batch_size}")
    wait = sync if callable(sync) else device_sync(sync)
    warm = [time_call(fn, wait, clock) for _ in range(warmup)]
    samples = [time_call(fn, wait, clock) for _ in range(repeats)]
    return timing_from_samples(samples, warm, batch_size)


def time_model(model: nn.Module, batch: torch.Tensor, warmup: int = 3, repeats: int = 10) -> Timing:
    """Latency of ``model`` on ``batch`` (moved to the model's device/dtype/layout once, outside the timing)."""
    x = _input_for(model, batch)
    device = x.device

    def run() -> None:
        with torch.inference_mode():
            model(x)

    return time_inference(run, warmup, repeats, sync=device, batch_size=x.shape[0])
