"""The roofline model: measured ceilings of this device, and where a block or a model sits under them.

A layer can run no faster than the device computes (the **compute ceiling**, GMAC/s) and no faster than memory
delivers its bytes (the **bandwidth ceiling**, GB/s). With arithmetic intensity ``I`` = MACs per byte moved, the
attainable rate is ``min(peak GMAC/s, bandwidth GB/s x I)``: layers with low intensity (depthwise convs, element-wise
ops) are memory-bound however few MACs they have; that is why MACs alone do not predict latency.

Both ceilings are *measured* here (:func:`measure_ceilings`): compute from a large square matrix product (MACs =
n^3), bandwidth from copying a large tensor (bytes read + bytes written); each is taken at the 10th percentile of
its call times (the best the device reached, less the odd interruption). They are cached per (device, precision,
threads, sizes).

See :data:`BYTE_MODEL` for how the bytes of a block or model are counted.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from effnets import units
from effnets.cost import Cost
from effnets.runtime import devices, timing

BYTES_PER_ELEMENT: dict[str, int] = {"fp32": 4, "fp16": 2, "bf16": 2}

BYTE_MODEL = (
    "Bytes moved are counted per conv and linear layer: its input activations read once, its weights (and bias) "
    "read once, its output activations written once, each element in the chosen precision (4 bytes in fp32, 2 in "
    "fp16/bf16); activations scale with the batch, weights do not. Ignored: the traffic of batch norm, activation "
    "functions, element-wise adds and multiplies, pooling, padding and concatenation (on the fast path BN is folded "
    "into the conv; the others would add bytes and lower the intensity); reuse through caches (a layer's output "
    "still in cache when the next layer reads it counts as moved again); the extra reads of im2col or tiling inside "
    "a kernel. So the intensity is an upper bound for an unfused eager run and a fair estimate when each layer is "
    "one kernel."
)
"""The byte model in words, for the page to show beside the plot."""


# ----- measured ceilings --------------------------------------------------------------------------------------------


def default_sizes(device: torch.device | str, precision: str = "fp32") -> tuple[int, int]:
    """(matmul side n, copy size in MB) sized for the device: each measurement takes tens of milliseconds on this
    kind of device and the copy is far larger than its caches (CPU L3: tens of MB; GPU L2: up to ~100 MB)."""
    device = torch.device(device)
    if device.type == "cuda":
        return 8192, 1024
    if device.type == "mps":
        return 4096, 512
    # CPUs: fp32 ~20-100 GMAC/s on a few cores; without native bf16 the matmul is emulated (~1 GMAC/s). The copy:
    # 128 MB, several times a server CPU's L3.
    if precision == "fp32":
        return 1024, 128
    return (1024 if _native_cpu_bf16() else 256), 128


def _native_cpu_bf16() -> bool:
    for probe in ("_is_avx512_bf16_supported", "_is_amx_tile_supported"):
        f = getattr(torch.cpu, probe, None)
        try:
            if f is not None and f():
                return True
        except Exception:  # private probes: absent or failing on some builds
            continue
    return False


@dataclass(frozen=True)
class Ceilings:
    """Measured ceilings of one device.

    Attributes:
        device: "cpu", "cuda:0" ...
        device_name: human name (includes the thread count on CPUs).
        peak_gmacs: precision -> matmul GMAC/s ("fp32" always, plus the chosen precision).
        bandwidth_gbs: copy bandwidth in GB/s (bytes read + bytes written per second, 1 GB = 1e9 bytes).
        matmul_n: precision -> side of the square matrices multiplied.
        copy_mb: size of the tensor copied, in MB (1e6 bytes).
        environment: :func:`effnets.runtime.devices.environment` of the device at measurement time.
        seconds: wall time the measurement took.
    """

    device: str
    device_name: str
    peak_gmacs: dict[str, float]
    bandwidth_gbs: float
    matmul_n: dict[str, int]
    copy_mb: float
    environment: dict[str, Any]
    seconds: float

    def describe(self) -> str:
        """The ceilings in one sentence: 'fp32: 212.4 GMAC/s (a 1,024 x 1,024 matmul); bandwidth ...'."""
        peaks = "; ".join(
            f"{p}: {v:,.1f} GMAC/s (a {self.matmul_n[p]:,} x {self.matmul_n[p]:,} matmul)"
            for p, v in self.peak_gmacs.items()
        )
        return (
            f"Ceilings measured here on {self.device_name}: {peaks}; memory bandwidth {self.bandwidth_gbs:,.1f} GB/s "
            f"(a copy of {self.copy_mb:,.0f} MB, bytes read + written)."
        )

    def ridge(self, precision: str = "fp32") -> float:
        """Intensity (MACs/byte) where the two ceilings meet: below it a layer is memory-bound."""
        return self.peak_gmacs[precision] / self.bandwidth_gbs

    def attainable(self, intensity: float, precision: str = "fp32") -> float:
        """The roofline: min(peak, bandwidth x intensity) in GMAC/s."""
        return min(self.peak_gmacs[precision], self.bandwidth_gbs * intensity)

    def to_dict(self) -> dict[str, Any]:
        return {
            "device": self.device,
            "device_name": self.device_name,
            "peak_gmacs": dict(self.peak_gmacs),
            "bandwidth_gbs": self.bandwidth_gbs,
            "ridge": {p: self.ridge(p) for p in self.peak_gmacs},
            "matmul_n": dict(self.matmul_n),
            "copy_mb": self.copy_mb,
            "environment": dict(self.environment),
            "seconds": self.seconds,
        }


def _p10_ms(fn, device: torch.device, repeats: int) -> float:
    t = timing.time_inference(fn, warmup=1, repeats=repeats, sync=device)
    return t.p10_ms


def measure_matmul(
    device: torch.device | str, precision: str = "fp32", n: int | None = None, repeats: int = 5
) -> float:
    """GMAC/s of an n x n by n x n matrix product (n^3 MACs) in ``precision`` on ``device``."""
    device = torch.device(device)
    n = n or default_sizes(device, precision)[0]
    dtype = devices.PRECISIONS[precision]
    g = torch.Generator().manual_seed(0)
    a = torch.randn(n, n, generator=g).to(device=device, dtype=dtype)
    b = torch.randn(n, n, generator=g).to(device=device, dtype=dtype)
    out = torch.empty(n, n, device=device, dtype=dtype)
    with torch.inference_mode():
        ms = _p10_ms(lambda: torch.mm(a, b, out=out), device, repeats)
    return units.giga_per_second(n**3, ms)


def measure_copy(device: torch.device | str, megabytes: float | None = None, repeats: int = 5) -> float:
    """GB/s of copying a ``megabytes`` float32 tensor into another (counting the bytes read plus the bytes written)."""
    device = torch.device(device)
    megabytes = megabytes or default_sizes(device)[1]
    numel = int(megabytes * 1e6) // 4
    src = torch.ones(numel, device=device)
    dst = torch.empty_like(src)
    with torch.inference_mode():
        ms = _p10_ms(lambda: dst.copy_(src), device, repeats)
    return units.giga_per_second(2 * numel * 4, ms)


@functools.lru_cache(maxsize=32)
def _matmul_cached(device: str, precision: str, threads: int, n: int, repeats: int) -> float:
    return measure_matmul(device, precision, n, repeats)


@functools.lru_cache(maxsize=32)
def _copy_cached(device: str, threads: int, megabytes: float, repeats: int) -> float:
    return measure_copy(device, megabytes, repeats)


def _ceilings(
    device: str, precision: str, threads: int, n: int | None, copy_mb: float | None, repeats: int
) -> Ceilings:
    dev = torch.device(device)
    t0 = time.perf_counter()
    sizes = {"fp32": n or default_sizes(dev, "fp32")[0]}
    if precision != "fp32":
        sizes[precision] = n or default_sizes(dev, precision)[0]
    peak = {p: _matmul_cached(device, p, threads, size, repeats) for p, size in sizes.items()}
    mb = float(copy_mb or default_sizes(dev)[1])
    bw = _copy_cached(device, threads, mb, repeats)
    return Ceilings(
        device=str(dev),
        device_name=devices.device_name(dev),
        peak_gmacs=peak,
        bandwidth_gbs=bw,
        matmul_n=sizes,
        copy_mb=mb,
        environment=dict(devices.environment(dev)),
        seconds=time.perf_counter() - t0,
    )


_CEILINGS: dict[tuple, Ceilings] = {}


def measure_ceilings(
    device: torch.device | str = "cpu",
    precision: str = "fp32",
    *,
    matmul_n: int | None = None,
    copy_mb: float | None = None,
    repeats: int = 5,
) -> Ceilings:
    """Compute (fp32 and ``precision``) and bandwidth ceilings of ``device``, measured once and cached per
    (device, precision, threads, sizes); each part is cached on its own, so asking for bf16 after fp32 only measures
    the bf16 matmul. Sizes default to :func:`default_sizes` (about a second on a small CPU).

    Raises:
        ValueError: an unknown precision or one the device does not support (the message says why).
    """
    device = torch.device(device)
    devices.check_precision(device, precision)
    if repeats < 1 or (matmul_n is not None and matmul_n < 1) or (copy_mb is not None and copy_mb <= 0):
        raise ValueError("repeats, matmul_n and copy_mb must be positive")
    key = (str(device), precision, torch.get_num_threads(), matmul_n, copy_mb, repeats)
    if key not in _CEILINGS:
        _CEILINGS[key] = _ceilings(*key)
    return _CEILINGS[key]


def clear_cache() -> None:
    """Forget measured ceilings (e.g. after the machine's load changed)."""
    _CEILINGS.clear()
    _matmul_cached.cache_clear()
    _copy_cached.cache_clear()


# ----- arithmetic intensity -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LayerTraffic:
    """MACs and bytes of one conv or linear layer (see :data:`BYTE_MODEL`).

    Attributes:
        label, kind, branch: from the cost step ("1x1 expand", "conv", "").
        macs: multiply-accumulates for the whole batch.
        input_bytes, weight_bytes, output_bytes: bytes read, read, written.
    """

    label: str
    kind: str
    branch: str
    macs: int
    input_bytes: int
    weight_bytes: int
    output_bytes: int

    @property
    def bytes(self) -> int:
        return self.input_bytes + self.weight_bytes + self.output_bytes

    @property
    def intensity(self) -> float:
        """MACs per byte."""
        return self.macs / self.bytes if self.bytes else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "kind": self.kind,
            "branch": self.branch,
            "macs": self.macs,
            "input_bytes": self.input_bytes,
            "weight_bytes": self.weight_bytes,
            "output_bytes": self.output_bytes,
            "bytes": self.bytes,
            "intensity": self.intensity,
        }


@dataclass(frozen=True)
class Intensity:
    """Arithmetic intensity of a block or model: total MACs / total bytes over its conv and linear layers.

    Attributes:
        macs: multiply-accumulates for the whole batch.
        bytes: bytes moved (:data:`BYTE_MODEL`).
        intensity: macs / bytes (MACs per byte).
        precision, batch: what the bytes assume.
        layers: the per-layer breakdown.
    """

    macs: int
    bytes: int
    intensity: float
    precision: str
    batch: int
    layers: list[LayerTraffic] = field(default_factory=list)

    def to_dict(self, layers: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "macs": self.macs,
            "bytes": self.bytes,
            "intensity": self.intensity,
            "precision": self.precision,
            "batch": self.batch,
        }
        if layers:
            out["layers"] = [t.to_dict() for t in self.layers]
        return out


def _prod(shape) -> int:
    return math.prod(int(v) for v in shape)


def layer_traffic(cost: Cost, precision: str = "fp32", batch: int = 1) -> list[LayerTraffic]:
    """Per conv/linear step of ``cost`` (built with step records): MACs and bytes for ``batch`` samples."""
    if precision not in BYTES_PER_ELEMENT:
        raise ValueError(f"precision '{precision}' is not one of {', '.join(BYTES_PER_ELEMENT)}")
    if batch < 1:
        raise ValueError(f"batch={batch} must be at least 1")
    if not cost.steps and cost.macs:
        raise ValueError("the cost has no per-layer steps: compute it with record_steps=True")
    b = BYTES_PER_ELEMENT[precision]
    rows = []
    for s in cost.steps:
        if s.kind not in ("conv", "linear") or s.in_shape is None:
            continue
        rows.append(
            LayerTraffic(
                label=s.label,
                kind=s.kind,
                branch=s.branch,
                macs=s.macs * batch,
                input_bytes=batch * _prod(s.in_shape) * b,
                weight_bytes=s.params * b,
                output_bytes=batch * _prod(s.out_shape) * b,
            )
        )
    return rows


def arithmetic_intensity(cost: Cost, precision: str = "fp32", batch: int = 1) -> Intensity:
    """MACs per byte moved of a block's or a model's cost (see :data:`BYTE_MODEL`)."""
    rows = layer_traffic(cost, precision, batch)
    macs = sum(r.macs for r in rows)
    nbytes = sum(r.bytes for r in rows)
    return Intensity(macs, nbytes, macs / nbytes if nbytes else 0.0, precision, batch, rows)


def block_intensity(
    name: str, fields: dict[str, Any] | None, input_shape: tuple[int, int, int], precision: str = "fp32", batch: int = 1
) -> Intensity:
    """:func:`arithmetic_intensity` of block ``name`` with spec ``fields`` on a C x H x W input."""
    from effnets.blocks import get_block

    info = get_block(name)
    rest = {k: v for k, v in (fields or {}).items() if k != "in_channels"}
    spec = info.spec_for_input(int(input_shape[0]), **rest)
    return arithmetic_intensity(info.cost(spec, input_shape), precision, batch)


def model_intensity(name: str, resolution: int | None = None, precision: str = "fp32", batch: int = 1) -> Intensity:
    """:func:`arithmetic_intensity` of registry model ``name`` at ``resolution`` (default: its preset's)."""
    from effnets.models import get_model

    info = get_model(name)
    spec = info.make_spec() if resolution is None else info.make_spec(resolution=int(resolution))
    return arithmetic_intensity(info.cost(spec).total, precision, batch)


def achieved_gmacs(macs: int, latency_ms: float) -> float:
    """GMAC/s achieved by doing ``macs`` multiply-accumulates in ``latency_ms``."""
    if latency_ms <= 0:
        raise ValueError(f"latency {latency_ms} ms must be positive")
    return units.giga_per_second(macs, latency_ms)


# ----- plot data ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RooflinePoint:
    """A measured block or model on the roofline.

    Attributes:
        label: what it is.
        intensity: MACs per byte.
        achieved_gmacs: MACs / median latency.
        macs, bytes: for the whole batch.
        latency_ms: the measured median.
        attainable_gmacs: the roofline at this intensity (None without ceilings).
        efficiency: achieved / attainable (None without ceilings).
        bound: "memory" left of the ridge, "compute" right of it (None without ceilings).
    """

    label: str
    intensity: float
    achieved_gmacs: float
    macs: int
    bytes: int
    latency_ms: float
    attainable_gmacs: float | None = None
    efficiency: float | None = None
    bound: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "intensity": self.intensity,
            "achieved_gmacs": self.achieved_gmacs,
            "macs": self.macs,
            "bytes": self.bytes,
            "latency_ms": self.latency_ms,
            "attainable_gmacs": self.attainable_gmacs,
            "efficiency": self.efficiency,
            "bound": self.bound,
        }


def roofline_point(
    label: str, intensity: Intensity, latency_ms: float, ceilings: Ceilings | None = None
) -> RooflinePoint:
    """Place a block or model measured at ``latency_ms`` (for ``intensity.batch`` samples) on the roofline."""
    achieved = achieved_gmacs(intensity.macs, latency_ms)
    att = eff = bound = None
    if ceilings is not None:
        prec = intensity.precision if intensity.precision in ceilings.peak_gmacs else "fp32"
        att = ceilings.attainable(intensity.intensity, prec)
        eff = achieved / att if att else None
        bound = "memory" if intensity.intensity < ceilings.ridge(prec) else "compute"
    return RooflinePoint(
        label, intensity.intensity, achieved, intensity.macs, intensity.bytes, latency_ms, att, eff, bound
    )


@dataclass(frozen=True)
class RooflinePlot:
    """Everything a roofline chart needs, as plain data.

    Attributes:
        ceilings: the measured ceilings.
        x: intensities (MACs/byte), log-spaced, covering the points and the ridge.
        roof: precision -> attainable GMAC/s at each x (the roof lines).
        ridge: precision -> ridge intensity.
        points: the measured blocks/models.
        byte_model: :data:`BYTE_MODEL`.
        x_label, y_label: axis titles.
    """

    ceilings: Ceilings
    x: list[float]
    roof: dict[str, list[float]]
    ridge: dict[str, float]
    points: list[RooflinePoint]
    byte_model: str = BYTE_MODEL
    x_label: str = "arithmetic intensity (MACs per byte moved)"
    y_label: str = "GMAC/s"

    def to_dict(self) -> dict[str, Any]:
        return {
            "ceilings": self.ceilings.to_dict(),
            "x": list(self.x),
            "roof": {k: list(v) for k, v in self.roof.items()},
            "ridge": dict(self.ridge),
            "points": [p.to_dict() for p in self.points],
            "byte_model": self.byte_model,
            "x_label": self.x_label,
            "y_label": self.y_label,
        }


def roofline_plot(ceilings: Ceilings, points: Sequence[RooflinePoint] = (), n: int = 64) -> RooflinePlot:
    """Roof lines for every measured precision and the points, on a log-spaced intensity axis that spans the points
    and the ridges with a factor 4 of margin."""
    ridges = {p: ceilings.ridge(p) for p in ceilings.peak_gmacs}
    xs = [p.intensity for p in points if p.intensity > 0] + list(ridges.values())
    lo, hi = min(xs) / 4, max(xs) * 4
    step = (math.log10(hi) - math.log10(lo)) / (n - 1)
    x = [10 ** (math.log10(lo) + i * step) for i in range(n)]
    roof = {p: [ceilings.attainable(v, p) for v in x] for p in ceilings.peak_gmacs}
    return RooflinePlot(ceilings, x, roof, ridges, list(points))
