"""A latency lookup table of this device: the catalog's layers measured on a grid of shapes, and what a layer of any
shape costs by it.

**Units.** A network's eager forward is a list of units (:func:`units_of`): each leaf layer (its kind, kernel and
stride make the table's key, e.g. ``conv:k3s1``, ``depthwise conv:k5s2``, ``act:SiLU``, ``norm:BatchNorm2d``), each
op outside the leaves (``op:add`` for residual adds, ``op:mul`` for SE scales, ``op:cat``, ``op:clone`` for channel
shuffles, ``op:view``) and the container calls (``container``: the Python of blocks and Sequentials).

**The grid** (:func:`effnets.analysis.latency_grid.grid`): for every key the zoo uses, modules of that key on a
spread of shapes, each timed on one fixed input in eval, ``inference_mode`` and fp32.

**A layer's time from the table** (:meth:`LatencyTable.unit_ms`): per key, a fit over the key's measured points,
``ms = a + b x MACs + c x activation bytes + d x weight bytes`` (non-negative least squares, relative errors), times
the measured/fitted ratio of the nearest measured shapes (inverse-distance weighted in log2 shape space: the exact
measurement where the shape was measured). A key the table has no point for falls back to the roofline
(:mod:`effnets.analysis.predictor` says which).

The table is JSON (:meth:`LatencyTable.to_dict`), cached in the user's cache directory per device, threads and torch
version (:func:`cached`), and buildable in a background thread with progress (:class:`TableBuilder`).
"""

from __future__ import annotations

import json
import math
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from effnets.runtime import cache, devices
from effnets.runtime.layer_trace import LayerShape, OutsideOp, Trace

GRID_VERSION = 1
BYTES = 4  # fp32

_VIEW_OPS = {
    "view", "_unsafe_view", "transpose", "permute", "t", "unsqueeze", "squeeze", "expand", "slice", "split",
    "split_with_sizes", "chunk", "select", "alias", "detach", "flatten", "reshape", "as_strided", "unbind",
    "_reshape_alias", "lift_fresh",
}  # fmt: skip
_OP_KEYS = {"add": "add", "add_": "add", "sub": "add", "mul": "mul", "mul_": "mul", "div": "mul", "cat": "cat",
            "clone": "clone", "contiguous": "clone", "copy_": "clone", "mean": "mean", "sum": "mean"}  # fmt: skip
_FUNC_ACTS = {"relu": "ReLU", "relu_": "ReLU", "sigmoid": "Sigmoid", "hardsigmoid": "Hardsigmoid", "silu": "SiLU",
              "silu_": "SiLU", "gelu": "GELU", "hardswish": "Hardswish", "hardswish_": "Hardswish",
              "hardtanh": "ReLU6", "hardtanh_": "ReLU6"}  # fmt: skip


# ----- units ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Unit:
    """One thing a forward does that takes time.

    Attributes:
        key: the table's key ("conv:k3s1", "act:SiLU", "op:add", "container" ...).
        family: the per-operator overhead it pays ("conv", "depthwise conv", "linear", "norm", "act", "pool", "op",
            "view", "no-op", "container", "other").
        name: the layer's qualified name or the op's description.
        coords: its shape in the key's coordinates (conv: C_in, C_out, H, groups; linear: rows, in, out; others:
            elements, channels), all positive.
        macs, act_bytes, weight_bytes: work and traffic of one call (fp32; activations read and written).
        calls: how often the forward runs it.
    """

    key: str
    family: str
    name: str
    coords: tuple[float, ...]
    macs: int
    act_bytes: int
    weight_bytes: int
    calls: int = 1

    @property
    def bytes(self) -> int:
        return self.act_bytes + self.weight_bytes


def _numel(shape) -> int:
    return math.prod(int(v) for v in shape) if shape else 0


def layer_unit(layer: LayerShape) -> Unit:
    """The unit of one leaf layer (see :class:`Unit`)."""
    cfg, kind = layer.config, layer.kind
    n_in, n_out = _numel(layer.in_shape), _numel(layer.out_shape)
    act, wb = BYTES * (n_in + n_out), BYTES * layer.params
    c = layer.in_shape[1] if len(layer.in_shape) > 1 else 1
    per_call = layer.macs // max(layer.calls, 1)
    if kind in ("conv", "depthwise conv", "grouped conv", "transposed conv"):
        k, s, d = cfg.get("kernel_size", 1), cfg.get("stride", 1), cfg.get("dilation", 1)
        key = f"{kind}:k{k}s{s}" + (f"d{d}" if d > 1 else "")
        h = layer.in_shape[-2] if len(layer.in_shape) == 4 else 1
        coords = (cfg.get("in_channels", c), cfg.get("out_channels", c), h, cfg.get("groups", 1))
    elif kind == "linear":
        key = "linear"
        rows = max(n_in // max(cfg.get("in_features", 1), 1), 1)
        coords = (rows, cfg.get("in_features", 1), cfg.get("out_features", 1))
    elif kind == "pool" and "kernel_size" in cfg:
        key, coords = f"pool:{layer.type}:k{cfg['kernel_size']}s{cfg.get('stride', 1)}", (n_in, c)
    elif kind in ("norm", "act", "pool", "other"):
        c = layer.in_shape[-1] if layer.type == "LayerNorm" else c
        key, coords = f"{kind}:{layer.type}", (n_in, c)
    else:  # no-op, pad
        key, coords = kind, (n_in, c)
    family = kind if kind in ("conv", "depthwise conv", "grouped conv", "linear", "norm", "act", "pool") else (
        "no-op" if kind in ("no-op", "pad") else "other"
    )  # fmt: skip
    coords = tuple(float(max(v, 1)) for v in coords)
    return Unit(key, family, layer.name, coords, per_call, act, wb, layer.calls)


def op_unit(op: OutsideOp) -> Unit:
    """The unit of one aten op outside the leaves (a view costs only its call; the others read and write)."""
    name = op.op
    n_out = _numel(op.out_shape)
    c = op.out_shape[1] if len(op.out_shape) > 1 else 1
    coords = (float(max(n_out, 1)), float(max(c, 1)))
    desc = f"{name} in {op.parent or 'the model'}"
    if name in _VIEW_OPS:
        return Unit("op:view", "view", desc, coords, 0, 0, 0)
    act = BYTES * (sum(_numel(s) for s in op.in_shapes) + n_out)
    if name in _FUNC_ACTS:
        return Unit(f"act:{_FUNC_ACTS[name]}", "act", desc, coords, 0, act, 0)
    key = _OP_KEYS.get(name, name)
    return Unit(f"op:{key}", "op", desc, coords, 0, act, 0)


def units_of(trace: Trace) -> list[Unit]:
    """Every unit of a traced forward: leaf layers, outside ops, and one ``container`` unit for the container calls."""
    out = [layer_unit(layer) for layer in trace.layers]
    out += [op_unit(op) for op in trace.outside]
    if trace.container_calls:
        out.append(Unit("container", "container", "container calls", (1.0,), 0, 0, 0, trace.container_calls))
    return out


# ----- the table -----------------------------------------------------------------------------------------------------

_NEAREST = 4


def _features(macs: float, act_bytes: float, weight_bytes: float) -> np.ndarray:
    return np.array([1.0, macs / 1e6, act_bytes / 1e6, weight_bytes / 1e6])


@dataclass
class LatencyTable:
    """Measured grid points of one device, and the per-key fit that turns them into a time for any shape.

    Attributes:
        entries: the measured points (dicts: key, coords, macs, act_bytes, weight_bytes, ms).
        environment: device, device name, threads, torch version at measurement time.
        seconds: how long the build took; partial: the build was stopped before the end.
    """

    entries: list[dict[str, Any]]
    environment: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    partial: bool = False
    grid_version: int = GRID_VERSION
    _fits: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def keys(self) -> list[str]:
        return sorted({e["key"] for e in self.entries})

    def _fit(self, key: str) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        if key in self._fits:
            return self._fits[key]
        rows = [e for e in self.entries if e["key"] == key and e["ms"] > 0]
        fit = None
        if rows:
            from scipy.optimize import nnls

            x = np.stack([_features(e["macs"], e["act_bytes"], e["weight_bytes"]) for e in rows])
            y = np.array([e["ms"] for e in rows])
            coef, _ = nnls(x / y[:, None], np.ones(len(y)))  # relative errors: every point counts alike
            if not coef.any():
                coef = np.array([float(np.median(y)), 0.0, 0.0, 0.0])
            fitted = np.maximum(x @ coef, 1e-9)
            coords = np.log2(np.array([e["coords"] for e in rows], dtype=float))
            fit = (coef, coords, np.log(y / fitted))
        self._fits[key] = fit
        return fit

    def fitted_ms(self, entry: dict[str, Any]) -> float | None:
        """The key's fit at a measured point, without the point's own residual (None for a key without points)."""
        fit = self._fit(entry["key"])
        if fit is None:
            return None
        return max(float(_features(entry["macs"], entry["act_bytes"], entry["weight_bytes"]) @ fit[0]), 1e-9)

    def has(self, key: str) -> bool:
        return self._fit(key) is not None

    def unit_ms(self, unit: Unit) -> float | None:
        """Milliseconds of one call of ``unit`` by the table, or None if the table has no point of its key."""
        fit = self._fit(unit.key)
        if fit is None:
            return None
        coef, coords, resid = fit
        base = max(float(_features(unit.macs, unit.act_bytes, unit.weight_bytes) @ coef), 1e-9)
        q = np.log2(np.asarray(unit.coords, dtype=float))
        if coords.shape[1] != q.shape[0]:
            return base
        d = np.sqrt(((coords - q) ** 2).sum(axis=1))
        nearest = np.argsort(d)[:_NEAREST]
        if d[nearest[0]] < 1e-9:
            return base * math.exp(resid[nearest[0]])
        w = 1.0 / d[nearest] ** 2
        return base * math.exp(float((w * resid[nearest]).sum() / w.sum()))

    def beyond_grid(self, units, margin: float = 1.0) -> int:
        """How many of ``units`` (with table points) lie more than a factor ``2**margin`` outside their key's measured
        range in some coordinate (extrapolated rather than interpolated)."""
        out = 0
        for u in units:
            fit = self._fit(u.key)
            if fit is None or fit[1].shape[1] != len(u.coords):
                continue
            q = np.log2(np.asarray(u.coords, dtype=float))
            lo, hi = fit[1].min(axis=0), fit[1].max(axis=0)
            out += bool(((q < lo - margin) | (q > hi + margin)).any())
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "grid_version": self.grid_version,
            "environment": dict(self.environment),
            "seconds": self.seconds,
            "partial": self.partial,
            "entries": [dict(e) for e in self.entries],
        }

    @classmethod
    def from_dict(cls, data: Any) -> LatencyTable:
        """A table from its JSON form, checked field by field (ValueError naming the first bad field)."""
        if not isinstance(data, dict):
            raise ValueError("a latency table must be a JSON object")
        entries = data.get("entries")
        if not isinstance(entries, list):
            raise ValueError("a latency table needs 'entries', a list")
        clean = [_check_entry(e, i) for i, e in enumerate(entries)]
        env = data.get("environment", {})
        if not isinstance(env, dict):
            raise ValueError("the table's 'environment' must be an object")
        return cls(
            entries=clean,
            environment={str(k): v for k, v in env.items() if isinstance(v, str | int | float | bool) or v is None},
            seconds=_number(data.get("seconds", 0.0), "seconds"),
            partial=bool(data.get("partial", False)),
            grid_version=int(_number(data.get("grid_version", GRID_VERSION), "grid_version")),
        )


def _number(v: Any, name: str, lo: float = 0.0, hi: float = 1e18) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v) or not lo <= v <= hi:
        raise ValueError(f"'{name}' must be a finite number in [{lo:g}, {hi:g}]; got {str(v)[:40]!r}")
    return float(v)


def _check_entry(e: Any, i: int) -> dict[str, Any]:
    if not isinstance(e, dict):
        raise ValueError(f"table entry {i} must be an object")
    key = e.get("key")
    if not isinstance(key, str) or not 0 < len(key) <= 80:
        raise ValueError(f"table entry {i}: 'key' must be a short string")
    coords = e.get("coords")
    if not isinstance(coords, list) or not 1 <= len(coords) <= 8:
        raise ValueError(f"table entry {i}: 'coords' must be a list of 1 to 8 numbers")
    return {
        "key": key,
        "coords": [_number(c, f"entries[{i}].coords", 1.0) for c in coords],
        "macs": int(_number(e.get("macs", 0), f"entries[{i}].macs")),
        "act_bytes": int(_number(e.get("act_bytes", 0), f"entries[{i}].act_bytes")),
        "weight_bytes": int(_number(e.get("weight_bytes", 0), f"entries[{i}].weight_bytes")),
        "ms": _number(e.get("ms"), f"entries[{i}].ms", 0.0, 1e7),
    }


Progress = Callable[[int, int, str], None] | None
"""Called with (probes done, probes in total, the probe's label) after every probe."""


def suspect(entry: dict[str, Any], table: LatencyTable | None = None) -> bool:
    """Whether a point looks disturbed rather than measured (another process took the core, or one of several
    threads was descheduled and the call waited for it): slower than any real device would run it (20 x (20 us +
    its bytes at 2 GB/s + its MACs at 2 GMAC/s)), or, with ``table``, more than 4 x its key's fit over all the points
    (a fit in relative errors, which a few such points barely move)."""
    bound = 0.02 + (entry["act_bytes"] + entry["weight_bytes"]) / 2e6 + entry["macs"] / 2e6
    if entry["ms"] > 20 * bound:
        return True
    fitted = table.fitted_ms(entry) if table is not None else None
    return fitted is not None and entry["ms"] > 4 * fitted


def build_table(
    device: torch.device | str = "cpu",
    probes: list | None = None,
    *,
    warmup: int = 2,
    repeats: int = 5,
    retries: int = 3,
    progress: Progress = None,
    stop: threading.Event | Callable[[], bool] | None = None,
) -> LatencyTable:
    """Measure ``probes`` (default: :func:`latency_grid.grid`) on ``device`` one by one, reporting progress; a
    ``stop`` signal ends the build early with the points measured so far (``partial``). Points that look disturbed
    (:func:`suspect`) are measured again, up to ``retries`` times a second apart, keeping the fastest (a point
    measured again within 20 % is slow for real); those still suspect are counted in ``suspect_points``."""
    from effnets.analysis.latency_grid import grid, measure_probe
    from effnets.runtime.bench import should_stop

    device = torch.device(device)
    probes = grid() if probes is None else probes
    t0 = time.perf_counter()
    load = _loadavg()
    entries, partial = [], False
    for i, p in enumerate(probes):
        if should_stop(stop):
            partial = True
            break
        entries.append(measure_probe(p, device, warmup, repeats))
        if progress is not None:
            progress(i + 1, len(probes), p.label)
    confirmed: set[int] = set()  # measured again within 20 %: slow for real (a cache spill, a slow kernel)
    for _ in range(retries):
        table = LatencyTable(entries)
        again = [i for i, e in enumerate(entries) if i not in confirmed and suspect(e, table)]
        if not again or should_stop(stop):
            break
        time.sleep(1.0)
        for i in again:
            ms = measure_probe(probes[i], device, warmup, repeats)["ms"]
            if abs(ms / entries[i]["ms"] - 1) <= 0.2:
                confirmed.add(i)
            entries[i]["ms"] = min(entries[i]["ms"], ms)
    env = dict(devices.environment(device))
    final = LatencyTable(entries)
    still = sum(i not in confirmed and suspect(e, final) for i, e in enumerate(entries))
    env.update({"suspect_points": still, "load_average": f"{load} -> {_loadavg()}"})
    return LatencyTable(entries, env, time.perf_counter() - t0, partial)


def _loadavg() -> str:
    try:
        return " ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:  # not on every platform
        return "n/a"


# ----- cache and background builds ---------------------------------------------------------------------------------


def cache_path(device: torch.device | str = "cpu", scale: str = "full"):
    """Where the table of this device (at torch's current thread count) is cached."""
    device = torch.device(device)
    name = f"{devices.device_name(device)}-{torch.get_num_threads()}t-torch{torch.__version__}-g{GRID_VERSION}-{scale}"
    return cache.cache_dir("latency_tables") / f"{cache.slug(name)}.json"


def load(path) -> LatencyTable:
    """A table from a JSON file (ValueError with one line when it is unreadable or malformed)."""
    from pathlib import Path

    try:
        data = json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
        raise ValueError(f"cannot read the latency table {path}: {str(e).splitlines()[0][:120]}") from None
    return LatencyTable.from_dict(data)


def cached(device: torch.device | str = "cpu", scale: str = "full") -> LatencyTable | None:
    """The cached table of this device, or None (none yet, or unreadable)."""
    path = cache_path(device, scale)
    if not path.is_file():
        return None
    try:
        table = load(path)
    except ValueError:
        return None
    return None if table.partial else table


def save(table: LatencyTable, path) -> None:
    from pathlib import Path

    Path(path).write_text(json.dumps(table.to_dict()))


def cached_or_build(device: torch.device | str = "cpu", scale: str = "full", progress: Progress = None, **kw):
    """The cached table of this device, else one built now (and cached unless stopped early)."""
    from effnets.analysis.latency_grid import grid

    table = cached(device, scale)
    if table is None:
        table = build_table(device, grid(scale), progress=progress, **kw)
        if not table.partial:
            save(table, cache_path(device, scale))
    return table


class TableBuilder:
    """Builds (or loads) the table in a background thread, so that nothing waits for it.

    ``start()`` returns at once; ``progress`` is (done, total, label), ``done`` says whether it finished, ``table``
    holds the result (cached on disk too), ``error`` the message if it failed; ``stop()`` asks it to end early.
    """

    def __init__(self, device: torch.device | str = "cpu", scale: str = "full", **kw: Any):
        self.device, self.scale, self.kw = torch.device(device), scale, kw
        self.progress: tuple[int, int, str] = (0, 0, "")
        self.table: LatencyTable | None = None
        self.error: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _report(self, done: int, total: int, label: str) -> None:
        self.progress = (done, total, label)

    def _run(self) -> None:
        try:
            self.table = cached_or_build(self.device, self.scale, self._report, stop=self._stop, **self.kw)
        except Exception as e:  # a background thread must report, not raise into nowhere
            self.error = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"

    def start(self) -> TableBuilder:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="effnets-latency-table", daemon=True)
            self._thread.start()
        return self

    @property
    def done(self) -> bool:
        return self._thread is not None and not self._thread.is_alive()

    def stop(self) -> None:
        self._stop.set()

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)
