"""Inference backends side by side: PyTorch eager, effnets' fast path, torch.compile, ONNX Runtime and OpenVINO, on
the same input, checked against eager fp32, timed interleaved, and the default chosen from the measurement.

The engines and their settings (threads, precision hints, the ONNX export and the int8 quantisation) are in
:mod:`effnets.runtime.engines`; this module compares them:

* **Same input**: a batch of bundled sample photos, preprocessed as the model's weights expect
  (:func:`photo_batches`); int8 is calibrated on other photos, never on the checked input.
* **Checked equal**: ``max_abs_diff <= TOLERANCES[precision] * max(1, max |eager fp32 logit|)`` per row (a relative
  bound: the logits of trained and untrained networks differ in scale); ``top1_agrees`` beside it.
* **Interleaved**: every prepared callable is timed in rotating rounds by :func:`effnets.runtime.bench.run_interleaved`
  at one thread count for every engine (stated in the environment). Preparation (exports, quantisation,
  compilation) is never timed. Engines in one process share the cores: ``benchmarks/backends.py --isolated`` runs
  each in its own process.
* **Default**: the fastest fp32 backend whose outputs pass the check; one earlier in :data:`PREFERENCE` whose median
  is within 5% of the best is kept instead (:func:`choose_default`, whose sentence says why). The winner is
  remembered per device (the name carries the thread count) in ``backends.json`` in the user's cache directory
  (:func:`effnets.runtime.cache.cache_dir`); :func:`default_backend` reads it back, or returns
  :data:`FALLBACK_DEFAULT` (the fast path) when nothing was measured on this device.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from effnets.runtime import bench, devices
from effnets.runtime.cache import cache_dir
from effnets.runtime.engines import BACKEND_NAMES, BACKENDS, Context, Eager, get_backend, versions

__all__ = ["BACKEND_NAMES", "BACKENDS", "Context", "compare", "compare_model", "default_backend", "get_backend"]

TOLERANCES = {"fp32": 1e-3, "fp16": 5e-2, "bf16": 5e-2, "int8": 0.15}
"""Allowed max |output - eager fp32 output|, as a fraction of max(1, max |eager fp32 output|), per precision."""
PREFERENCE = ("fast", "eager", "onnxruntime", "openvino", "compile")
"""Kept as the default when within :data:`WITHIN` of the fastest: pure PyTorch first (no extra engine, no export),
torch.compile last (it compiles for a minute before the first call)."""
WITHIN = 0.05
FALLBACK_DEFAULT = "fast"
"""The default when nothing was measured on a device: effnets' fast path, pure PyTorch, always installed."""


def tolerance_text() -> str:
    rel = ", ".join(f"{p} {t:g}" for p, t in TOLERANCES.items())
    return f"max |output - eager fp32 output| <= rtol x max(1, max |eager fp32 output|); rtol: {rel}"


# ----- comparing ----------------------------------------------------------------------------------------------------


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0][:200]}" if text else type(e).__name__


def _as_tensor(out: Any) -> torch.Tensor:
    if isinstance(out, (list, tuple)):
        out = out[0]
    t = out if isinstance(out, torch.Tensor) else torch.from_numpy(np.array(out))
    return t.detach().float().cpu().clone()


def _row(name: str, precision: str, **kw: Any) -> dict[str, Any]:
    row = {
        "backend": name,
        "precision": precision,
        "label": f"{name} {precision}",
        "median_ms": None,
        "p10_ms": None,
        "p90_ms": None,
        "max_abs_diff": None,
        "tolerance": None,
        "within_tolerance": None,
        "top1_agrees": None,
        "busy": None,
        "layout": None,
        "prepare_s": None,
        "compile_s": None,
        "reason": None,
        "notes": [],
    }
    row.update(kw)
    return row


def plan(
    backends: Sequence[str], precisions: Sequence[str] | None, device: torch.device
) -> list[tuple[str, str, str | None]]:
    """(backend, precision, why not or None) for every row of a comparison: each backend at ``precisions`` (None:
    its default ones); an unknown or unavailable backend gets one row with the reason."""
    out: list[tuple[str, str, str | None]] = []
    for name in dict.fromkeys(backends):  # each backend once, in the order asked
        first = precisions[0] if precisions else "fp32"
        if name not in BACKENDS:
            out.append((name, first, f"unknown backend '{name}' (backends: {', '.join(BACKENDS)})"))
            continue
        b = BACKENDS[name]
        why = b.unavailable(device)
        if why:
            out.append((name, first, why))
            continue
        try:
            offered = b.precisions(device)
        except Exception as e:  # an engine that imports but cannot describe its device
            out.append((name, first, f"{b.label} cannot query the device: {_first_line(e)}"))
            continue
        wanted = precisions if precisions else b.default_precisions(device)
        for p in dict.fromkeys(wanted):
            if p in offered:
                out.append((name, p, None))
            elif precisions and len(precisions) == 1:
                out.append((name, p, f"{b.label} offers {', '.join(offered)} on {device}, not {p}"))
    return out


def check_request(backend: str, precision: str, device: torch.device | str) -> None:
    """Raise ValueError when ``backend`` never offers ``precision`` on ``device`` (a request that cannot be right,
    unlike a backend that is not installed here, which :func:`compare` reports as a row)."""
    b = get_backend(backend)
    device = torch.device(device)
    if b.unavailable(device) is None and precision not in b.precisions(device):
        raise ValueError(f"{b.label} offers {', '.join(b.precisions(device))} on {device}, not {precision}")


def compare(
    ctx: Context,
    backends: Sequence[str] = BACKEND_NAMES,
    precisions: Sequence[str] | None = None,
    *,
    warmup: int = 3,
    repeats: int = 10,
    progress: bench.Progress = None,
    stop: bench.StopSignal = None,
) -> dict[str, Any]:
    """Prepare every (backend, precision) of :func:`plan`, check its output against eager fp32, time the ones that
    run interleaved, and choose the default. Returns the JSON-ready result (see :func:`choose_default` for
    ``default`` and ``reason``). Preparation failures become rows with a ``reason``; nothing raises for them."""
    rows: list[dict[str, Any]] = []
    variants: list[bench.Variant] = []
    stopped = False
    with bench.num_threads(ctx.threads):
        env = bench.bench_environment(ctx.device, batch=int(ctx.x.shape[0]), resolution=int(ctx.x.shape[-1]))
        ref = _as_tensor(Eager().prepare(ctx, "fp32").run(ctx.x))
        scale = max(1.0, float(ref.abs().max()))
        for name, precision, why in plan(backends, precisions, ctx.device):
            if why is not None:
                rows.append(_row(name, precision, reason=why))
                continue
            if bench.should_stop(stop):
                stopped = True
                rows.append(_row(name, precision, reason="stopped before it was prepared"))
                continue
            t0 = time.perf_counter()
            try:
                prep = BACKENDS[name].prepare(ctx, precision)
                out = _as_tensor(prep.run(ctx.x))
            except Exception as e:  # an export, conversion or compile that fails: a row with the reason
                rows.append(_row(name, precision, reason=f"{BACKENDS[name].label} failed: {_first_line(e)}"))
                continue
            if out.shape != ref.shape:
                rows.append(_row(name, precision, reason=f"output shape {tuple(out.shape)} != {tuple(ref.shape)}"))
                continue
            diff = float((out - ref).abs().max())
            tol = TOLERANCES[precision] * scale
            rows.append(
                _row(
                    name,
                    precision,
                    max_abs_diff=diff,
                    tolerance=tol,
                    within_tolerance=bool(diff <= tol),
                    top1_agrees=bool((out.argmax(-1) == ref.argmax(-1)).all()),
                    layout=prep.layout,
                    prepare_s=time.perf_counter() - t0,
                    compile_s=prep.compile_s,
                    notes=prep.notes,
                )
            )
            variants.append(
                bench.Variant(rows[-1]["label"], lambda r=prep.run: r(ctx.x), int(ctx.x.shape[0]), precision=precision)
            )
        run = None
        if variants:
            run = bench.run_interleaved(
                variants, device=ctx.device, warmup=warmup, repeats=repeats, progress=progress, stop=stop, rotate=True
            )
            for r in run.results:
                row = next(x for x in rows if x["label"] == r.label)
                if r.timing is not None:
                    row.update(median_ms=r.median_ms, p10_ms=r.p10_ms, p90_ms=r.p90_ms, busy=r.timing.busy)
        env.pop("precision", None)
        env.pop("layout", None)
    default, reason = choose_default(rows)
    return {
        "default": default,
        "reason": reason,
        "backends": rows,
        "check": tolerance_text(),
        "environment": {**env, "versions": versions()},
        "interleaved": True,
        "warmup": warmup,
        "repeats": repeats,
        "partial": stopped or bool(run and run.partial),
    }


def choose_default(rows: Sequence[dict[str, Any]]) -> tuple[str | None, str]:
    """The default backend among measured fp32 rows within tolerance, and a sentence saying why."""
    ok = [r for r in rows if r["precision"] == "fp32" and r["within_tolerance"] and r["median_ms"] is not None]
    if not ok:
        return None, "no fp32 backend was measured with outputs within tolerance of eager fp32"
    best = min(ok, key=lambda r: r["median_ms"])
    ranked = sorted(ok, key=lambda r: PREFERENCE.index(r["backend"]) if r["backend"] in PREFERENCE else 99)
    pick = next(r for r in ranked if r["median_ms"] <= best["median_ms"] * (1 + WITHIN))
    if pick is best:
        others = [r for r in ok if r is not best]
        nxt = min(others, key=lambda r: r["median_ms"]) if others else None
        tail = f"; next: {nxt['backend']} at {nxt['median_ms']:.2f} ms" if nxt else ""
        return best["backend"], (
            f"{best['backend']} is the fastest fp32 backend whose outputs match eager fp32 "
            f"({best['median_ms']:.2f} ms median{tail})"
        )
    return pick["backend"], (
        f"{pick['backend']} ({pick['median_ms']:.2f} ms) is within {WITHIN:.0%} of the fastest, {best['backend']} "
        f"({best['median_ms']:.2f} ms), and is preferred (order: {', '.join(PREFERENCE)})"
    )


def summary(result: dict[str, Any]) -> str:
    """Which backend is fastest, by how much (against eager fp32), at which precision, and the default chosen."""
    timed = [r for r in result["backends"] if r["median_ms"] is not None and r["within_tolerance"]]
    if not timed:
        return "No backend was measured with outputs within tolerance."
    best = min(timed, key=lambda r: r["median_ms"])
    eager = next((r for r in timed if r["label"] == "eager fp32"), None)
    text = f"Fastest: **{best['backend']}** at **{best['precision']}**, {best['median_ms']:.2f} ms"
    if eager and best is not eager:
        ratio = eager["median_ms"] / best["median_ms"]
        text += f", {ratio:.1f}x faster than PyTorch eager fp32 ({eager['median_ms']:.2f} ms)"
    fast = next((r for r in timed if r["label"] == "fast fp32"), None)
    if fast and best is not fast:
        ratio = fast["median_ms"] / best["median_ms"]
        text += f" and {ratio:.1f}x faster than the fast path fp32 ({fast['median_ms']:.2f} ms)"
    text += "."
    if result["default"]:
        text += f" Default fp32 backend here: **{result['default']}**: {result['reason']}."
    return text


def table_rows(result: dict[str, Any]) -> list[dict[str, Any]]:
    """One flat row per backend for a table: latency, speed-up over eager fp32, the check, and why a row did not run."""
    eager = next((r["median_ms"] for r in result["backends"] if r["label"] == "eager fp32"), None)
    out = []
    for r in result["backends"]:
        if r["reason"]:
            check = f"not run: {r['reason']}"
        else:
            check = "ok" if r["within_tolerance"] else f"fails (> {r['tolerance']:.3g})"
        if r["backend"] == result["default"] and r["precision"] == "fp32":
            check += " (default)"
        ms = r["median_ms"]
        out.append(
            {
                "backend": r["backend"],
                "precision": r["precision"],
                "median_ms": ms,
                "p10_ms": r["p10_ms"],
                "p90_ms": r["p90_ms"],
                "speedup": eager / ms if eager and ms else None,
                "max_abs_diff": r["max_abs_diff"],
                "check": check,
                "notes": "; ".join(r["notes"]),
            }
        )
    return out


# ----- the inputs: bundled photos -----------------------------------------------------------------------------------


def photo_batches(name: str | None, resolution: int, batch: int, count: int) -> list[torch.Tensor]:
    """``count`` batches of ``batch`` bundled sample photos, preprocessed as model ``name``'s weights expect (ImageNet
    normalisation for None), cropped to ``resolution``; photos never repeat within the first batches."""
    from effnets.runtime import images, preprocessing, weights

    tr = weights.eval_transform(name) if name else weights.EvalTransform(256, 224, "imagenet", "bilinear")
    resize = max(resolution, round(resolution * tr.resize / tr.crop))
    names = list(images.SAMPLE_IMAGES)
    pics = [
        preprocessing.preprocess(
            images.sample_image(names[i % len(names)]), resize, resolution, tr.normalization,
            interpolation=tr.interpolation,
        ).tensor.reshape(3, resolution, resolution)
        for i in range(batch * count)
    ]  # fmt: skip
    return [torch.stack(pics[i * batch : (i + 1) * batch]).contiguous() for i in range(count)]


def model_context(
    name: str,
    *,
    model: nn.Module | None = None,
    resolution: int | None = None,
    batch: int = 1,
    device: torch.device | str = "cpu",
    threads: int | None = None,
    pretrained: bool = True,
    spin: bool = False,
) -> Context:
    """The :class:`Context` of model ``name`` (loaded with its offline weights unless ``model`` is given): the first
    ``batch`` sample photos as input, the next ones (never the checked input) for int8 calibration."""
    from effnets.runtime.bench_networks import default_resolution
    from effnets.runtime.weights import load_model

    resolution = default_resolution(name) if resolution is None else int(resolution)
    if resolution < 8 or batch < 1:
        raise ValueError(f"need resolution >= 8 and batch >= 1; got resolution={resolution}, batch={batch}")
    if model is None:
        model, _ = load_model(name, pretrained=pretrained)  # in eval mode; a given model is used as it is (shared)
    n_cal = max(1, 8 // batch)
    x, *cal = photo_batches(name, resolution, batch, 1 + n_cal)
    return Context(model, x, torch.device(device), threads or torch.get_num_threads(), cal, spin)


def compare_model(name: str, *, record: bool = True, **settings: Any) -> dict[str, Any]:
    """:func:`compare` of model ``name`` (settings: those of :func:`model_context` and :func:`compare`); the result
    names the model, and the default is remembered for :func:`default_backend` unless ``record`` is False."""
    ctx_keys = ("model", "resolution", "batch", "device", "threads", "pretrained", "spin")
    ctx = model_context(name, **{k: v for k, v in settings.items() if k in ctx_keys})
    result = compare(ctx, **{k: v for k, v in settings.items() if k not in ctx_keys})
    result = {"model": name, "resolution": int(ctx.x.shape[-1]), "batch": int(ctx.x.shape[0]), **result}
    if record and result["default"] and not result["partial"]:
        with bench.num_threads(ctx.threads):
            remember_default(ctx.device, result)
    return result


# ----- the remembered default ---------------------------------------------------------------------------------------


def _cache_file(create: bool = False) -> Path:
    return cache_dir(create=create) / "backends.json"


def device_key(device: torch.device | str) -> str:
    """What a default is remembered under: the device and its name (on a CPU, the name says the thread count)."""
    device = torch.device(device)
    return f"{device.type}: {devices.device_name(device)}"


def _read_cache() -> dict[str, Any]:
    with contextlib.suppress(OSError, ValueError):
        data = json.loads(_cache_file().read_text())
        if isinstance(data, dict):
            return data
    return {}


def remember_default(device: torch.device | str, result: dict[str, Any]) -> bool:
    """Remember ``result``'s default for ``device`` (at the current thread count); False if the cache is not
    writable (the comparison still stands, it is just not remembered)."""
    rows = {r["label"]: r for r in result["backends"]}
    win = rows.get(f"{result['default']} fp32", {})
    data = _read_cache()
    data[device_key(device)] = {
        "default": result["default"],
        "reason": result["reason"],
        "median_ms": win.get("median_ms"),
        "model": result.get("model"),
        "resolution": result.get("resolution"),
        "batch": result.get("batch"),
        "threads": result["environment"].get("threads"),
        "measured_at": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    try:
        _cache_file(create=True).write_text(json.dumps(data, indent=2))
    except OSError:
        return False
    return True


def default_record(device: torch.device | str = "cpu") -> dict[str, Any] | None:
    """The remembered winner for ``device`` at the current thread count (what, when, on which model), or None."""
    rec = _read_cache().get(device_key(device))
    return rec if isinstance(rec, dict) and rec.get("default") in BACKENDS else None


def default_backend(device: torch.device | str = "cpu") -> str:
    """The last measured default backend for ``device`` (at the current thread count), else
    :data:`FALLBACK_DEFAULT` (the fast path) when nothing was measured here."""
    rec = default_record(device)
    return rec["default"] if rec else FALLBACK_DEFAULT


# ----- the engine a page runs ----------------------------------------------------------------------------------------

PAGE_ENGINES = ("auto", "fast", "eager", "onnxruntime", "openvino")
"""What the Inference Lab offers: auto (the default measured on this device) or one engine (torch.compile is left to
the comparison: it compiles for a minute)."""


def resolve_engine(engine: str, device: torch.device | str, precision: str) -> tuple[str, str]:
    """The engine to run for the page's choice ``engine`` and why: 'auto' is the fastest backend measured on this
    device (at this thread count) when it runs ``precision`` here, else the fast path; an engine chosen by hand is
    used as it is unless it cannot run here (then the fast path, saying why)."""
    if engine not in PAGE_ENGINES:
        raise ValueError(f"unknown engine '{engine}' (engines: {', '.join(PAGE_ENGINES)})")
    device = torch.device(device)
    if engine == "auto":
        rec = default_record(device)
        if rec is None:
            return FALLBACK_DEFAULT, (
                "auto: the fast path, because no backend comparison has been measured on this device at this thread "
                "count yet (Latency tab: *Compare backends*)"
            )
        chosen = rec["default"]
        ms = f" ({rec['median_ms']:.2f} ms)" if rec.get("median_ms") else ""
        why = (
            f"auto: {BACKENDS[chosen].label}, the fastest fp32 backend{ms} in the comparison measured on this device "
            f"at {rec.get('measured_at', '?')} ({rec.get('model', '?')}, {rec.get('threads', '?')} threads)"
        )
        engine = chosen
    else:
        why = f"{BACKENDS[engine].label}, chosen by hand"
    backend = BACKENDS[engine]
    reason = backend.unavailable(device)
    if reason is None and precision not in backend.precisions(device):
        reason = f"{backend.label} offers {', '.join(backend.precisions(device))} here, not {precision}"
    if reason is not None:
        return FALLBACK_DEFAULT, f"the fast path: {reason}"
    return engine, why


def engine_runner(
    model: nn.Module, engine: str, resolution: int, device: torch.device | str, precision: str, channels_last: bool
) -> Callable[[torch.Tensor], torch.Tensor]:
    """``run(x) -> float32 CPU logits`` for 1 x 3 x R x R inputs on ``engine`` (never modifies ``model``). The
    PyTorch engines keep the page's channels_last choice; an OpenVINO request is used by one caller at a time."""
    import threading

    from effnets.runtime import fastpath, inference

    device = torch.device(device)
    x = torch.zeros(1, 3, resolution, resolution)
    if engine in ("eager", "fast"):
        if engine == "eager":
            m = inference.prepare(model, device, precision, channels_last)
        else:
            m, _ = fastpath.fast_model(model, x, channels_last=channels_last, device=device, precision=precision)

        def run_torch(batch: torch.Tensor) -> torch.Tensor:
            return inference.predict_logits(m, batch)

        return run_torch
    prepared = get_backend(engine).prepare(Context(model, x, device, torch.get_num_threads()), precision)
    lock = threading.Lock()

    def run(batch: torch.Tensor) -> torch.Tensor:
        with lock:
            out = prepared.run(batch.float().contiguous())
            return torch.as_tensor(np.array(out, dtype=np.float32, copy=True))

    return run
