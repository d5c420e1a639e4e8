"""Honest timing of one callable: warm-up calls first (not timed: they pay for allocations, kernel selection and
caches), a device synchronisation around every timed call (CUDA runs asynchronously), the median with the 10th and
90th percentiles, and a flag when the spread says the machine was busy. The clock is injectable, so the statistics
are testable with a fake clock. To compare several things, time them interleaved (:mod:`effnets.runtime.bench`)."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

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
