"""Honest latency measurement of several things at once: models, blocks, or any callables.

How a comparison is timed (:func:`run_interleaved`):

1. **Preparation is not timed.** Models are built, weights loaded and ``torch.compile`` run before the clock starts;
   the compile time is carried on the result as ``compile_s``, on its own, never inside a latency.
2. **Warm-up.** ``warmup`` untimed rounds (the first calls pay for allocations, kernel selection, caches); their
   times are kept as ``warmup_ms``.
3. **Interleaved repeats.** The variants run in rounds, A B C A B C ..., not AAA BBB CCC: a machine that slows down
   during the run (another process, heat, a frequency change) then slows all of them alike instead of whichever ran
   last. ``rotate=True`` also changes who goes first in each round (A B C, B C A, C A B).
4. **Device synchronisation** around every call (:func:`timing_stats.time_call`): CUDA runs asynchronously, so
   without it one would time the launch, not the work.
5. **Median and spread.** Each variant's median with the 10th and 90th percentiles (:class:`timing_stats.Timing`);
   the median ignores the odd call that the operating system interrupted.
6. **Progress and stop.** ``progress(done, total)`` after every call; ``stop`` (a callable returning True, or a
   ``threading.Event``) is checked before every call. A stopped run returns what it has, flagged ``partial``.
7. **Environment.** Every result carries the device name, threads, torch version, precision, memory layout, batch and
   resolution it was measured with; :func:`config_key` turns (device, configuration) into a string to cache
   results under (``st.cache_data`` in the app).
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from effnets import units
from effnets.runtime import devices
from effnets.runtime import timing as timing_stats
from effnets.runtime.timing import Timing

StopSignal = Callable[[], bool] | threading.Event | None
"""Something checked between calls: a callable returning True to stop, a threading.Event, or None."""
Progress = Callable[[int, int], None] | None
"""Called with (calls done, calls in total) after every call, warm-up included."""

LAYOUTS = {False: "contiguous (NCHW)", True: "channels_last (NHWC)"}


# ----- environment and cache keys -----------------------------------------------------------------------------------


def bench_environment(
    device: torch.device | str,
    precision: str = "fp32",
    channels_last: bool = False,
    batch: int = 1,
    resolution: int | tuple[int, ...] | None = None,
) -> dict[str, Any]:
    """What a latency depends on, to show beside it: :func:`devices.environment` (device name, threads,
    torch and Python versions) plus precision, memory layout, batch and resolution."""
    env: dict[str, Any] = dict(devices.environment(device))
    env.update(
        {
            "interop_threads": torch.get_num_interop_threads(),
            "precision": precision,
            "layout": LAYOUTS[bool(channels_last)],
            "batch": int(batch),
            "resolution": list(resolution) if isinstance(resolution, tuple) else resolution,
        }
    )
    return env


def config_key(device: torch.device | str, **config: Any) -> str:
    """A stable string naming a measurement: the device (with its name), threads, torch version and ``config``.

    Two measurements with the same key are interchangeable, so a UI can cache results under it
    (``st.cache_data`` hashes it); anything that changes a latency must be in ``config`` (model, batch, resolution,
    precision, layout, compile ...). Values are written as JSON (tuples as lists, other objects as text).
    """
    device = torch.device(device)
    head = {
        "device": str(device),
        "device_name": devices.device_name(device),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
    }
    return json.dumps({**head, **config}, sort_keys=True, default=str, separators=(",", ":"))


@contextlib.contextmanager
def num_threads(n: int | None) -> Iterator[int]:
    """Run the block with ``n`` intra-op CPU threads (None: leave as is), restoring the previous count after."""
    before = torch.get_num_threads()
    if n is not None:
        if n < 1:
            raise ValueError(f"threads={n} must be at least 1")
        torch.set_num_threads(n)
    try:
        yield torch.get_num_threads()
    finally:
        torch.set_num_threads(before)


# ----- records ------------------------------------------------------------------------------------------------------


@dataclass
class Variant:
    """One of the things being compared.

    Attributes:
        label: unique name in the comparison ("reference", "fast path").
        fn: the work of one call, e.g. ``lambda: model(x)`` (already prepared; its first call may be slow).
        batch_size: images per call (for images_per_s).
        macs: conv/linear multiply-accumulates of one call (whole batch), for achieved GMAC/s; None if unknown.
        compile_s: seconds spent compiling during preparation (reported apart; None without compile).
        precision, channels_last, resolution: what the environment of the result says.
        config: what identifies the measurement besides the environment (model name, path ...); goes into the key.
        info: details for the user (e.g. what the fast path changed).
    """

    label: str
    fn: Callable[[], object]
    batch_size: int = 1
    macs: int | None = None
    compile_s: float | None = None
    precision: str = "fp32"
    channels_last: bool = False
    resolution: int | tuple[int, ...] | None = None
    config: dict[str, Any] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class BenchResult:
    """The measurement of one variant.

    Attributes:
        label: the variant's label.
        timing: median/p10/p90 (ms), images_per_s, samples, warmup_ms, batch_size; None if stopped before any timed
            call or if preparing the variant failed.
        environment: :func:`bench_environment` at the time of the run.
        config: the variant's configuration.
        key: :func:`config_key` of (device, config + precision, layout, batch, resolution, warmup, repeats).
        macs: multiply-accumulates of one call (whole batch), or None.
        compile_s: compile time in seconds (never part of the timing), or None.
        partial: the run was stopped before all repeats were done.
        error: why the variant could not be prepared (then timing is None), else None.
        info: details for the user (the fast path's changes).
    """

    label: str
    timing: Timing | None
    environment: dict[str, Any]
    config: dict[str, Any]
    key: str
    macs: int | None = None
    compile_s: float | None = None
    partial: bool = False
    error: str | None = None
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def median_ms(self) -> float | None:
        return self.timing.median_ms if self.timing else None

    @property
    def p10_ms(self) -> float | None:
        return self.timing.p10_ms if self.timing else None

    @property
    def p90_ms(self) -> float | None:
        return self.timing.p90_ms if self.timing else None

    @property
    def images_per_s(self) -> float | None:
        return self.timing.images_per_s if self.timing else None

    @property
    def gmacs_per_s(self) -> float | None:
        """Achieved conv/linear GMAC/s at the median latency (None without MACs or timing)."""
        if not self.timing or not self.macs or self.timing.median_ms <= 0:
            return None
        return units.giga_per_second(self.macs, self.timing.median_ms)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: median_ms, p10_ms, p90_ms, images_per_s, samples, warmup_ms, batch_size, compile_s, macs,
        gmacs_per_s, partial, error, environment, config, info, key."""
        t = self.timing
        return {
            "label": self.label,
            "median_ms": self.median_ms,
            "p10_ms": self.p10_ms,
            "p90_ms": self.p90_ms,
            "images_per_s": self.images_per_s,
            "spread": t.spread if t else None,
            "busy": t.busy if t else None,
            "samples": list(t.samples) if t else [],
            "warmup_ms": list(t.warmup_ms) if t else [],
            "batch_size": t.batch_size if t else self.environment.get("batch"),
            "compile_s": self.compile_s,
            "macs": self.macs,
            "gmacs_per_s": self.gmacs_per_s,
            "partial": self.partial,
            "error": self.error,
            "environment": dict(self.environment),
            "config": dict(self.config),
            "info": dict(self.info),
            "key": self.key,
        }


@dataclass(frozen=True)
class BenchRun:
    """An interleaved comparison.

    Attributes:
        results: one :class:`BenchResult` per variant, in the order given.
        partial: stopped before the end.
        order: (label, "warmup" | "timed") of every call, in the order they ran.
        environment: the device-level environment (:func:`devices.environment`).
        warmup, repeats: the rounds asked for.
    """

    results: list[BenchResult]
    partial: bool
    order: list[tuple[str, str]]
    environment: dict[str, Any]
    warmup: int
    repeats: int

    def result(self, label: str) -> BenchResult:
        """The result of the variant called ``label``."""
        for r in self.results:
            if r.label == label:
                return r
        raise ValueError(f"no variant '{label}' in this run (variants: {', '.join(r.label for r in self.results)})")

    def ratios(self, reference: str) -> dict[str, float | None]:
        """Each variant's median latency divided by ``reference``'s (below 1 = faster); None where unmeasured."""
        ref = self.result(reference).median_ms
        return {r.label: (r.median_ms / ref if ref and r.median_ms is not None else None) for r in self.results}

    def rows(self, reference: str | None = None) -> list[dict[str, Any]]:
        """One flat row per variant for a table: label, median/p10/p90 ms, images/s, GMAC/s, compile s, samples,
        ratio to ``reference`` (if given), error."""
        ratios = self.ratios(reference) if reference else {}
        return [
            {
                "label": r.label,
                "median_ms": r.median_ms,
                "p10_ms": r.p10_ms,
                "p90_ms": r.p90_ms,
                "images_per_s": r.images_per_s,
                "gmacs_per_s": r.gmacs_per_s,
                "compile_s": r.compile_s,
                "samples": len(r.timing.samples) if r.timing else 0,
                **({"ratio": ratios.get(r.label)} if reference else {}),
                "error": r.error,
            }
            for r in self.results
        ]

    def to_dict(self) -> dict[str, Any]:
        return {
            "results": [r.to_dict() for r in self.results],
            "partial": self.partial,
            "order": [list(o) for o in self.order],
            "environment": dict(self.environment),
            "warmup": self.warmup,
            "repeats": self.repeats,
        }


# ----- the interleaved timer ----------------------------------------------------------------------------------------


def should_stop(stop: StopSignal) -> bool:
    """Whether a stop signal (callable, threading.Event or None) asks to stop."""
    if stop is None:
        return False
    if isinstance(stop, threading.Event):
        return stop.is_set()
    return bool(stop())


def _variant_key(device: torch.device, v: Variant, warmup: int, repeats: int) -> str:
    return config_key(
        device,
        label=v.label,
        **v.config,
        precision=v.precision,
        layout=LAYOUTS[bool(v.channels_last)],
        batch=v.batch_size,
        resolution=v.resolution,
        warmup=warmup,
        repeats=repeats,
    )


def failed_result(v: Variant, device: torch.device | str, error: str) -> BenchResult:
    """The result of a variant that could not be prepared (no timing, the reason in ``error``)."""
    device = torch.device(device)
    env = bench_environment(device, v.precision, v.channels_last, v.batch_size, v.resolution)
    return BenchResult(v.label, None, env, dict(v.config), _variant_key(device, v, 0, 0), v.macs, None, False, error)


def run_interleaved(
    variants: Sequence[Variant],
    *,
    device: torch.device | str = "cpu",
    warmup: int = 3,
    repeats: int = 10,
    progress: Progress = None,
    stop: StopSignal = None,
    clock: Callable[[], float] = time.perf_counter,
    sync: Callable[[], None] | None = None,
    rotate: bool = False,
) -> BenchRun:
    """Time ``variants`` in interleaved rounds (see the module docstring).

    Args:
        variants: the things compared (unique labels), prepared already.
        device: where they run: its synchronisation brackets every call, its name goes into the environment.
        warmup: untimed rounds before timing.
        repeats: timed rounds.
        progress: ``progress(done, total)`` after every call (and once with done=0 before the first).
        stop: checked before every call; when it fires the run returns what it has, with ``partial=True``.
        clock: seconds as a float; a fake clock makes the logic testable.
        sync: waits for the device; default :func:`effnets.runtime.timing.device_sync` of ``device``.
        rotate: start each round with the next variant (A B C, B C A, ...) instead of always A.

    Raises:
        ValueError: no variants, duplicate labels, or counts out of range.
    """
    if not variants:
        raise ValueError("nothing to time: give at least one variant")
    labels = [v.label for v in variants]
    if len(set(labels)) != len(labels):
        dup = sorted({x for x in labels if labels.count(x) > 1})
        raise ValueError(f"variant labels must be unique; repeated: {', '.join(dup)}")
    if warmup < 0 or repeats < 1:
        raise ValueError(f"need warmup >= 0 and repeats >= 1; got warmup={warmup}, repeats={repeats}")
    device = torch.device(device)
    wait = sync if sync is not None else timing_stats.device_sync(device)
    n = len(variants)
    total = (warmup + repeats) * n
    warm: list[list[float]] = [[] for _ in variants]
    timed: list[list[float]] = [[] for _ in variants]
    order: list[tuple[str, str]] = []
    done = 0
    stopped = False
    if progress is not None:
        progress(0, total)
    for rnd in range(warmup + repeats):
        phase = "warmup" if rnd < warmup else "timed"
        first = rnd % n if rotate else 0
        for j in range(n):
            i = (first + j) % n
            if should_stop(stop):
                stopped = True
                break
            ms = timing_stats.time_call(variants[i].fn, wait, clock)
            (warm if phase == "warmup" else timed)[i].append(ms)
            order.append((variants[i].label, phase))
            done += 1
            if progress is not None:
                progress(done, total)
        if stopped:
            break
    results = []
    for i, v in enumerate(variants):
        t = timing_stats.timing_from_samples(timed[i], warm[i], v.batch_size) if timed[i] else None
        results.append(
            BenchResult(
                label=v.label,
                timing=t,
                environment=bench_environment(device, v.precision, v.channels_last, v.batch_size, v.resolution),
                config=dict(v.config),
                key=_variant_key(device, v, warmup, repeats),
                macs=v.macs,
                compile_s=v.compile_s,
                partial=stopped,
                info=dict(v.info),
            )
        )
    return BenchRun(results, stopped, order, dict(devices.environment(device)), warmup, repeats)
