"""The grid of shapes the latency table measures on a device, and how one grid point is timed.

Every key the zoo's networks use (:mod:`effnets.analysis.latency_table`) gets real modules (or real ops) on a spread
of shapes: dense convs 8 to 2,048 channels on maps of 1x1 to 224x224 (ratios of in to out up to 8), depthwise
convs 8 to 4,096 channels, grouped convs by group width, linear layers as classifiers and as ConvNeXt's pointwise
layers, every activation, norm and pool, and the ops outside layers (add, broadcast multiply, concat, the copy of a
channel shuffle, views, a global mean) on 16 to 1,024 channels. A MACs cap and a memory cap keep the full grid to
about a minute of measuring on a laptop CPU at one thread. On a CPU each call of a point is timed on its own and the
table keeps a low percentile of them (:func:`time_per_call`).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from effnets.analysis.latency_table import Unit, layer_unit, op_unit
from effnets.runtime import timing
from effnets.runtime.layer_trace import LayerShape, OutsideOp, layer_config, layer_kind, weight_count


@dataclass(frozen=True)
class Probe:
    """One grid point: its key, a label, its unit, and ``make(device)`` -> a callable that runs it once there."""

    key: str
    label: str
    unit: Unit
    make: Callable[[torch.device], Callable[[], Any]] = field(repr=False)


def _act(kind: str) -> nn.Module:
    # Not in place: applied again and again to one tensor, SiLU and Hardswish drive it into denormal floats, which
    # the CPU computes many times slower than in a network.
    return getattr(nn, kind)()


def _randn(shape: tuple[int, ...], device: torch.device) -> torch.Tensor:
    return torch.randn(shape, generator=torch.Generator().manual_seed(0)).to(device)


def _module_probe(label: str, module: Callable[[], nn.Module], shape: tuple[int, ...]) -> Probe:
    with torch.device("meta"):
        meta = module().eval()
        out = meta(torch.empty((1, *shape)))
    cfg = layer_config(meta)
    macs = 0
    if isinstance(meta, nn.Conv2d):
        macs = out.numel() * (meta.in_channels // meta.groups) * meta.kernel_size[0] * meta.kernel_size[1]
    elif isinstance(meta, nn.Linear):
        macs = out.numel() * meta.in_features
    layer = LayerShape(label, type(meta).__name__, layer_kind(meta), 1, macs, (1, *shape),
                       tuple(out.shape), weight_count(meta), cfg)  # fmt: skip
    unit = layer_unit(layer)

    def make(device: torch.device) -> Callable[[], Any]:
        m = module().eval().to(device)
        x = _randn((1, *shape), device)
        return lambda: m(x)

    return Probe(unit.key, label, unit, make)


def _op_probe(name: str, c: int, h: int) -> Probe:
    shapes = {
        "add": (((c, h, h), (c, h, h)), (c, h, h)),
        "mul": (((c, h, h), (c, 1, 1)), (c, h, h)),
        "cat": (((c, h, h), (c, h, h)), (2 * c, h, h)),
        "clone": (((c, h, h),), (c, h, h)),
        "view": (((c, h, h),), (c, h, h)),
        "mean": (((c, h, h),), (c,)),
    }
    ins, out = shapes[name]
    unit = op_unit(OutsideOp(name, tuple((1, *s) for s in ins), (1, *out), ""))

    def make(device: torch.device) -> Callable[[], Any]:
        x, y = (_randn((1, *s), device) for s in (ins * 2)[:2])
        fns = {
            "add": lambda: x + y,
            "mul": lambda: x * y,
            "cat": lambda: torch.cat((x, y), 1),
            "clone": lambda: x.transpose(1, 2).contiguous(),
            "view": lambda: x.view(x.shape),
            "mean": lambda: x.mean((2, 3)),
        }
        return fns[name]

    return Probe(unit.key, f"{name} {c}x{h}x{h}", unit, make)


_CH = (8, 16, 32, 64, 128, 256, 512, 1024, 2048)
_ELEMENTWISE_SHAPES = [
    (c, h) for h in (1, 7, 14, 28, 56, 112, 150, 300) for c in (4, 16, 64, 256, 1024, 2048) if c * h * h <= 6_000_000
]


def _conv_points(k: int, s: int, hs, cins=_CH, ratio: float = 8, max_macs: float = 4e8) -> list[tuple]:
    pts = []
    for h in hs:
        for cin in cins:
            for cout in _CH:
                if not (1 / ratio <= cout / cin <= ratio) or cin * h * h > 4e6 or cout * (h // s) ** 2 > 4e6:
                    continue
                macs = cin * cout * k * k * (h // s) ** 2
                if h >= 56 and max(cin, cout) > 256 or macs > max_macs:
                    continue
                pts.append((cin, cout, h))
    return pts


def grid(scale: str = "full") -> list[Probe]:
    """The probes of the table: ``full`` (the device card's grid, a minute or two on a laptop CPU), ``small`` (about
    four points per key) or ``tiny`` (the first and the last point of each key, for tests)."""
    if scale not in ("full", "small", "tiny"):
        raise ValueError(f"grid scale '{scale}' is not one of full, small, tiny")
    probes = _full_grid()
    if scale == "full":
        return list(probes)
    by_key: dict[str, list[Probe]] = {}
    for p in probes:
        by_key.setdefault(p.key, []).append(p)
    out = []
    for ps in by_key.values():
        if scale == "small":
            out += ps[:: max(1, len(ps) // 4)][:4]
        else:
            out += [ps[0]] + ([ps[-1]] if len(ps) > 1 else [])
    return out


@functools.cache
def _full_grid() -> tuple[Probe, ...]:
    probes: list[Probe] = []

    def conv(cin, cout, k, s, h, groups=1):
        label = f"conv {cin}->{cout} k{k} s{s} g{groups} @{h}"
        probes.append(_module_probe(label, lambda: nn.Conv2d(cin, cout, k, s, k // 2, groups=groups, bias=False),
                                    (cin, h, h)))  # fmt: skip

    dense = [(1, 1, (1, 7, 14, 28, 56, 112, 160)), (3, 1, (7, 14, 28, 56, 112, 192)), (1, 2, (14, 28, 56))]
    for k, s, hs in dense:
        for cin, cout, h in _conv_points(k, s, hs, ratio=8 if (k, s) == (1, 1) else 4):
            conv(cin, cout, k, s, h)
    for cin, cout, h in _conv_points(3, 2, (14, 28, 56, 112, 224), cins=(3, *_CH[:8]), ratio=4):
        conv(cin, cout, 3, 2, h)
    for cout in (16, 24, 32, 40, 48, 64):  # the stems of the zoo at its resolutions
        for h in (224, 300, 380, 456, 600):
            conv(3, cout, 3, 2, h)
    for cout, h in ((24, 224), (32, 224), (64, 224), (96, 224), (64, 320), (32, 112)):
        conv(3, cout, 7, 2, h)
        conv(3, cout, 4, 4, h)
    for cin, h in ((96, 56), (192, 28), (384, 14), (64, 56), (256, 14)):
        conv(cin, 2 * cin, 2, 2, h)
    for k, s in ((3, 1), (3, 2), (5, 1), (5, 2), (7, 1), (1, 1), (1, 2)):
        for h in (7, 14, 28, 56, 112, 224, 300):
            for c in (8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096)[:: 1 if k > 1 else 3]:
                if c * h * h <= 8e6 and (h <= 112 or c <= 64):
                    conv(c, c, k, s, h, groups=c)
    for k, s in ((3, 1), (3, 2)):
        for h in (7, 14, 28, 56, 112):
            for c in (32, 64, 128, 256, 512, 1024, 2048):
                for gw in (4, 8, 16, 32, 64, 128) if s == 1 else (8, 32, 128):
                    if gw < c and c * h * h <= 4e6 and c * gw * 9 * (h // s) ** 2 <= 4e8:
                        conv(c, c, k, s, h, groups=c // gw)
    for g in (2, 3, 4, 8):
        for c in (48, 96, 192, 384, 768):
            for h in (7, 14, 28, 56):
                if c % g == 0 and c * h * h <= 3e6:
                    conv(c, c, 1, 1, h, groups=g)
    for rows, k_in, n_out in (
        [(1, k, 1000) for k in (256, 512, 1024, 1280, 2048, 4096)]
        + [(r, k, 4 * k) for r in (49, 196, 784, 3136) for k in (96, 192, 384, 768) if r * k <= 600_000]
        + [(r, 4 * k, k) for r in (49, 196, 784, 3136) for k in (96, 192, 384, 768) if r * k <= 600_000]
    ):
        label = f"linear {rows}x{k_in}->{n_out}"
        probes.append(_module_probe(label, lambda k_in=k_in, n_out=n_out: nn.Linear(k_in, n_out), (rows, k_in)))
    elementwise: list[tuple[str, Callable[[int], nn.Module]]] = [
        (a, lambda c, a=a: _act(a)) for a in ("ReLU", "ReLU6", "SiLU", "GELU", "Sigmoid", "Hardswish", "Hardsigmoid")
    ] + [
        ("BatchNorm2d", lambda c: nn.BatchNorm2d(c)),
        ("MaxPool2d 3/2", lambda c: nn.MaxPool2d(3, 2, 1)),
        ("AvgPool2d 2/2", lambda c: nn.AvgPool2d(2, 2)),
        ("AvgPool2d 3/2", lambda c: nn.AvgPool2d(3, 2, 1)),
        ("AdaptiveAvgPool2d", lambda c: nn.AdaptiveAvgPool2d(1)),
        ("Identity", lambda c: nn.Identity()),
        ("LayerNorm2d", _layernorm2d),
    ]
    for label, make in elementwise:
        for c, h in _ELEMENTWISE_SHAPES:
            if "Pool2d " in label and h < 7:
                continue
            probes.append(_module_probe(f"{label} {c}x{h}x{h}", lambda make=make, c=c: make(c), (c, h, h)))
    for c, h in _ELEMENTWISE_SHAPES:
        probes.append(_module_probe(f"LayerNorm {h}x{h}x{c}", lambda c=c: nn.LayerNorm(c), (h, h, c)))
        for name in ("add", "mul", "cat", "clone", "view", "mean"):
            probes.append(_op_probe(name, c, h))
    probes.append(_container_probe())
    return tuple(probes)


def _layernorm2d(c: int) -> nn.Module:
    from effnets.blocks.convnext import LayerNorm2d

    return LayerNorm2d(c)


class _Empty(nn.Module):
    def forward(self, x):
        return x


def _container_probe() -> Probe:
    """A container's own cost: a Sequential holding one empty module, minus that module's call."""
    unit = Unit("container", "container", "container call", (1.0,), 0, 0, 0)

    def make(device: torch.device) -> Callable[[], Any]:
        inner = _Empty()
        outer = nn.Sequential(inner)
        x = torch.zeros(1, device=device)
        return lambda: outer(x), lambda: inner(x)  # type: ignore[return-value]

    return Probe("container", "container call", unit, make)


# ----- measuring -----------------------------------------------------------------------------------------------------


PERCENTILE = 20
"""Of a CPU point's per-call times, the one the table keeps: a low percentile, since other processes only add time
(and with several threads one descheduled thread stalls a whole call)."""


def time_per_call(
    fn: Callable[[], Any], device: torch.device, warmup: int = 2, repeats: int = 5, budget_ms: float = 10.0
) -> float:
    """Milliseconds per call of ``fn``. On a GPU: calls in loops of about a millisecond (the sync's cost spread over
    many calls), the fastest of ``repeats`` loops. On a CPU: every call timed on its own (at least ``3 x repeats``,
    more while under ``budget_ms``, at most 400), the :data:`PERCENTILE`-th percentile of them: a call that another
    process interrupted is an outlier, not the layer's time."""
    sync = timing.device_sync(device)
    first = timing.time_call(fn, sync)
    if device.type != "cpu":
        n = int(min(200, max(1, 1.0 / max(first, 1e-3))))

        def loop():
            for _ in range(n):
                fn()

        t = timing.time_inference(loop, warmup=warmup, repeats=repeats, sync=sync)
        return min(t.samples) / n
    for _ in range(warmup):
        fn()
    samples: list[float] = []
    start = time.perf_counter()
    while len(samples) < 400 and (len(samples) < 3 * repeats or (time.perf_counter() - start) * 1e3 < budget_ms):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1e3)
    return float(np.percentile(samples, PERCENTILE))


def measure_probe(probe: Probe, device: torch.device | str, warmup: int = 2, repeats: int = 5) -> dict[str, Any]:
    """One grid point measured: the table entry (key, coords, macs, bytes, ms)."""
    device = torch.device(device)
    with torch.inference_mode():
        made = probe.make(device)
        if probe.key == "container":
            outer, inner = made  # type: ignore[misc]
            ms = time_per_call(outer, device, warmup, repeats) - time_per_call(inner, device, warmup, repeats)
            ms = max(ms, 0.0)
        else:
            ms = time_per_call(made, device, warmup, repeats)
    u = probe.unit
    coords = [int(c) if float(c).is_integer() else c for c in u.coords]
    ms = float(f"{ms:.4g}")  # 4 digits: the noise is larger
    return {
        "key": u.key,
        "coords": coords,
        "macs": u.macs,
        "act_bytes": u.act_bytes,
        "weight_bytes": u.weight_bytes,
        "ms": ms,
    }
