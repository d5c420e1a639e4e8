"""Predicting a network's eager latency on a device before running it, and scoring the prediction against measurement.

Two predictors, both over the network's units (:func:`effnets.analysis.latency_table.units_of`: every leaf layer,
every op outside the leaves, the container calls), both read from a device card
(:mod:`effnets.analysis.device_card`):

* **roofline** (nothing fitted): per unit ``overhead(kind) + max(MACs / peak, bytes / bandwidth)``, with the peak
  and the bandwidth the card's measured ceilings (:func:`effnets.analysis.roofline.measure_ceilings`: a large matmul,
  a large copy) and the overhead the measured time of a tiny op of the same kind (:func:`measure_overheads`). Bytes
  are each unit's activations read and written plus its weights, in fp32.
* **table**: per unit the card's lookup table (:meth:`LatencyTable.unit_ms`; the roofline for a key the table lacks),
  summed, then calibrated for what isolated layers do not see inside a network (weights that have left the caches,
  the allocator, the interpreter between layers): ``ms = a x sum + b x units + c x weight MB``, three constants fitted
  at the card's build time on :data:`FIT_NETWORKS` only, which :func:`score` therefore never scores.

``predicted_ms`` is the predictor with the smaller mean error on the fitting networks (the card names it).
:func:`score` measures the zoo's networks on this device (eager, fp32, batch 1, their own resolution, random init:
weights do not change the eager path's time), and reports the share within +-15 %, Kendall's tau of the ranking
and, per network, why it misses.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from effnets.analysis.latency_table import LatencyTable, Unit, units_of
from effnets.runtime import per_layer, timing

FIT_NETWORKS = (
    "mobilenet_v2",
    "mobilenet_v3_small",
    "resnet18",
    "efficientnet_b0",
    "shufflenet_v2_x1_0",
    "regnetx_400mf",
)
"""The networks the table predictor's three calibration constants are fitted on (kept out of every score)."""

WITHIN = 0.15
PREDICTORS = ("roofline", "table")


# ----- units of a network ------------------------------------------------------------------------------------------


def network_units(model: str | torch.nn.Module, resolution: int | None = None, batch: int = 1) -> list[Unit]:
    """The units of a registry (or torchvision reference) model by name, or of a module on a 3 x R x R input
    (traced on the meta device: free)."""
    from effnets.counting import build_on_meta
    from effnets.runtime import bench_networks

    if isinstance(model, str):
        name = model
        res = bench_networks.default_resolution(name) if resolution is None else int(resolution)
        module = build_on_meta(lambda: _build(name))
    else:
        module, res = model, int(resolution or 224)
    if res < 8:
        raise ValueError(f"resolution={res} is too small: use at least 8 pixels (224 is usual)")
    return units_of(per_layer.trace_layers(module, (3, res, res), batch))


def _build(name: str) -> torch.nn.Module:
    from effnets.runtime import weights

    model, _ = weights.load_model(name, pretrained=False)
    return model


# ----- the two predictors ------------------------------------------------------------------------------------------


def measure_overheads(device: torch.device | str = "cpu", repeats: int = 5) -> dict[str, float]:
    """Milliseconds of one call of a tiny op of each kind (no work to speak of: what every call pays)."""
    from torch import nn

    from effnets.analysis import latency_grid as lt

    device = torch.device(device)
    x1, x4 = torch.randn(1, 8, 1, 1, device=device), torch.randn(1, 8, 4, 4, device=device)
    mods: dict[str, tuple[Callable[[], Any], Any]] = {
        "conv": (lambda: nn.Conv2d(8, 8, 1, bias=False), x1),
        "depthwise conv": (lambda: nn.Conv2d(8, 8, 3, 1, 1, groups=8, bias=False), x4),
        "grouped conv": (lambda: nn.Conv2d(8, 8, 3, 1, 1, groups=2, bias=False), x4),
        "linear": (lambda: nn.Linear(8, 8), x1.flatten(1)),
        "norm": (lambda: nn.BatchNorm2d(8), x1),
        "act": (lambda: nn.ReLU(), x1),
        "pool": (lambda: nn.AdaptiveAvgPool2d(1), x4),
        "no-op": (lambda: nn.Identity(), x1),
    }
    out = {}
    with torch.inference_mode():
        for kind, (make, x) in mods.items():
            m = make().eval().to(device)
            out[kind] = lt.time_per_call(lambda m=m, x=x: m(x), device, 2, repeats)
        out["op"] = lt.time_per_call(lambda: x1 + x1, device, 2, repeats)
        out["view"] = lt.time_per_call(lambda: x1.view(8), device, 2, repeats)
        outer = lt._container_probe().make(device)
        c_outer, c_inner = outer  # type: ignore[misc]
        out["container"] = max(
            lt.time_per_call(c_outer, device, 2, repeats) - lt.time_per_call(c_inner, device, 2, repeats), 0.0
        )
    out["other"] = out["op"]
    return out


def roofline_unit_ms(unit: Unit, peak_gmacs: float, bandwidth_gbs: float, overheads: dict[str, float]) -> float:
    """One call of ``unit`` by the roofline: its kind's overhead + max(compute time, memory time)."""
    over = overheads.get(unit.family, overheads.get("other", 0.0))
    compute = unit.macs / (peak_gmacs * 1e6) if peak_gmacs > 0 else 0.0
    memory = unit.bytes / (bandwidth_gbs * 1e6) if bandwidth_gbs > 0 else 0.0
    return over + max(compute, memory)


@dataclass(frozen=True)
class Prediction:
    """A network's predicted eager latency on one device (one card).

    Attributes:
        predicted_ms: the chosen predictor's figure; predictor: its name ("table" or "roofline").
        roofline_ms, table_ms: both predictors' figures (table_ms calibrated; table_raw_ms the plain sum).
        units: how many units the forward has; fallbacks: keys the table has no point for (roofline used).
        by_family: the table predictor's raw milliseconds per unit family (conv, depthwise conv, norm, act ...).
        device_name, threads: the card's device.
    """

    predicted_ms: float
    predictor: str
    roofline_ms: float
    table_ms: float
    table_raw_ms: float
    units: int
    fallbacks: list[str]
    by_family: dict[str, float]
    device_name: str
    threads: int | None
    backend: str = "eager"

    def to_dict(self) -> dict[str, Any]:
        return {
            "predicted_ms": self.predicted_ms,
            "roofline_ms": self.roofline_ms,
            "table_ms": self.table_ms,
            "backend": self.backend,
            "predictor": self.predictor,
            "table_raw_ms": self.table_raw_ms,
            "units": self.units,
            "fallbacks": list(self.fallbacks),
            "by_family": dict(self.by_family),
            "device_name": self.device_name,
            "threads": self.threads,
        }


def calibration_features(table_raw_ms: float, units: Sequence[Unit]) -> np.ndarray:
    """What the calibration multiplies: [table sum (ms), unit calls, weight megabytes]."""
    calls = sum(u.calls for u in units)
    weight_mb = sum(u.weight_bytes * u.calls for u in units) / 1e6
    return np.array([table_raw_ms, float(calls), weight_mb])


def raw_predictions(units: Sequence[Unit], card) -> tuple[float, float, list[str], dict[str, float]]:
    """(roofline ms, uncalibrated table ms, keys that fell back to the roofline, table ms per family)."""
    peak = float(card.ceilings["peak_gmacs"]["fp32"])
    bw = float(card.ceilings["bandwidth_gbs"])
    roof = table_sum = 0.0
    fallbacks: set[str] = set()
    by_family: dict[str, float] = {}
    table: LatencyTable = card.table
    for u in units:
        r = roofline_unit_ms(u, peak, bw, card.overheads)
        t = table.unit_ms(u)
        if t is None:
            fallbacks.add(u.key)
            t = r
        roof += r * u.calls
        table_sum += t * u.calls
        by_family[u.family] = by_family.get(u.family, 0.0) + t * u.calls
    return roof, table_sum, sorted(fallbacks), by_family


def predict_units(units: Sequence[Unit], card) -> Prediction:
    """Both predictors for a network's units on ``card``'s device."""
    roof, raw, fallbacks, by_family = raw_predictions(units, card)
    coef = np.asarray(card.calibration.get("coefficients", [1.0, 0.0, 0.0]), dtype=float)
    table_ms = float(calibration_features(raw, units) @ coef) if coef.any() else raw
    chosen = card.calibration.get("chosen", "table")
    predicted = table_ms if chosen == "table" else roof
    return Prediction(
        predicted_ms=predicted,
        predictor=chosen,
        roofline_ms=roof,
        table_ms=table_ms,
        table_raw_ms=raw,
        units=sum(u.calls for u in units),
        fallbacks=fallbacks,
        by_family={k: round(v, 4) for k, v in sorted(by_family.items(), key=lambda kv: -kv[1])},
        device_name=card.device_name,
        threads=card.threads,
    )


def predict(name: str, card, resolution: int | None = None, batch: int = 1) -> Prediction:
    """Predicted eager latency of model ``name`` on ``card``'s device."""
    return predict_units(network_units(name, resolution, batch), card)


def fit_calibration(rows: Sequence[tuple[np.ndarray, float]]) -> np.ndarray:
    """Non-negative coefficients of :func:`calibration_features` that minimise the relative error over ``rows``
    ((features, measured ms) of the fitting networks); the plain sum (1, 0, 0) when there is nothing to fit."""
    if not rows:
        return np.array([1.0, 0.0, 0.0])
    from scipy.optimize import nnls

    x = np.stack([f for f, _ in rows])
    y = np.array([m for _, m in rows])
    coef, _ = nnls(x / y[:, None], np.ones(len(y)))
    return coef if coef.any() else np.array([1.0, 0.0, 0.0])


# ----- measuring and scoring ---------------------------------------------------------------------------------------


STATISTICS = ("median", "p10", "min")


def pick(t: timing.Timing, statistic: str) -> float:
    """The figure of a timing that a score compares: its median, 10th percentile or fastest call."""
    if statistic not in STATISTICS:
        raise ValueError(f"statistic '{statistic}' is not one of {', '.join(STATISTICS)}")
    return {"median": t.median_ms, "p10": t.p10_ms, "min": min(t.samples)}[statistic]


def _eager(name: str, device: torch.device, resolution: int | None):
    from effnets.runtime import bench_networks, inference

    res = bench_networks.default_resolution(name) if resolution is None else int(resolution)
    m = inference.prepare(_build(name), device, "fp32")
    x = torch.randn(1, 3, res, res, generator=torch.Generator().manual_seed(0)).to(device)

    def run():
        with torch.inference_mode():
            return m(x)

    return run


def measure_network(
    name: str, device: torch.device | str = "cpu", warmup: int = 2, repeats: int = 5, resolution: int | None = None
) -> timing.Timing:
    """The eager forward of model ``name`` (random init, eval, inference_mode, fp32, batch 1) timed on ``device``."""
    device = torch.device(device)
    return timing.time_inference(_eager(name, device, resolution), warmup=warmup, repeats=repeats, sync=device)


def measure_networks(
    names: Sequence[str],
    device: torch.device | str = "cpu",
    warmup: int = 2,
    repeats: int = 5,
    group: int = 8,
    progress: Callable[[int, int, str], None] | None = None,
) -> dict[str, timing.Timing]:
    """The eager forwards of ``names`` timed in interleaved rounds (A B C A B C ...), ``group`` networks at a time
    (only they are held in memory): a machine that slows down for a while slows every network of the group alike."""
    from effnets.runtime.bench import Variant, run_interleaved

    device = torch.device(device)
    out: dict[str, timing.Timing] = {}
    names = list(names)
    for start in range(0, len(names), group):
        chunk = names[start : start + group]
        variants = [Variant(n, _eager(n, device, None)) for n in chunk]
        run = run_interleaved(variants, device=device, warmup=warmup, repeats=repeats, rotate=True)
        for r in run.results:
            out[r.label] = r.timing
        del variants, run
        if progress is not None:
            progress(min(start + group, len(names)), len(names), chunk[-1])
    return out


def kendall_tau(a: Sequence[float], b: Sequence[float]) -> float:
    """Kendall's tau-b of two rankings (ties in either count as neither concordant nor discordant), by counting
    every pair; 1.0 for fewer than two items."""
    if len(a) != len(b):
        raise ValueError(f"rankings of different lengths: {len(a)} and {len(b)}")
    n = len(a)
    conc = disc = ties_a = ties_b = 0
    for i in range(n):
        for j in range(i + 1, n):
            da, db = np.sign(a[i] - a[j]), np.sign(b[i] - b[j])
            if da == 0 and db == 0:
                continue
            if da == 0:
                ties_a += 1
            elif db == 0:
                ties_b += 1
            elif da == db:
                conc += 1
            else:
                disc += 1
    denom = math.sqrt((conc + disc + ties_a) * (conc + disc + ties_b))
    return (conc - disc) / denom if denom else 1.0


@dataclass(frozen=True)
class ScoredNetwork:
    name: str
    measured_ms: float
    p10_ms: float
    p90_ms: float
    prediction: Prediction
    why: str

    @property
    def error(self) -> float:
        """(predicted - measured) / measured."""
        return self.prediction.predicted_ms / self.measured_ms - 1.0

    @property
    def within(self) -> bool:
        return abs(self.error) <= WITHIN

    def to_dict(self) -> dict[str, Any]:
        p = self.prediction
        return {
            "name": self.name,
            "measured_ms": self.measured_ms,
            "p10_ms": self.p10_ms,
            "p90_ms": self.p90_ms,
            "predicted_ms": p.predicted_ms,
            "predictor": p.predictor,
            "roofline_ms": p.roofline_ms,
            "table_ms": p.table_ms,
            "error": self.error,
            "within_15": self.within,
            "why": self.why,
        }


@dataclass(frozen=True)
class Score:
    """The predictor scored over networks measured on this device.

    Attributes:
        within_15: share of the scored networks predicted within +-15 %.
        kendall_tau: Kendall's tau-b between the predicted and the measured ranking.
        networks: one row each; fit_networks: the networks the constants were fitted on (not scored).
    """

    within_15: float
    kendall_tau: float
    networks: list[ScoredNetwork]
    fit_networks: list[str]
    predictor: str
    device_name: str
    threads: int | None
    statistic: str
    roofline_within_15: float = 0.0
    table_within_15: float = 0.0
    busy: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "within_15": self.within_15,
            "kendall_tau": self.kendall_tau,
            "predictor": self.predictor,
            "roofline_within_15": self.roofline_within_15,
            "table_within_15": self.table_within_15,
            "networks": [n.to_dict() for n in self.networks],
            "fit_networks": list(self.fit_networks),
            "device_name": self.device_name,
            "threads": self.threads,
            "statistic": self.statistic,
            "busy": list(self.busy),
        }


MEMORY_BOUND = ("norm", "act", "depthwise conv", "pool", "op", "view")


def reach(units: Sequence[Unit]) -> dict[str, float]:
    """What a network asks of the memory system: its largest layer's activations and all its weights (MB)."""
    return {
        "act_mb": max((u.act_bytes for u in units), default=0) / 1e6,
        "weight_mb": sum(u.weight_bytes * u.calls for u in units) / 1e6,
    }


def why_miss(
    p: Prediction,
    measured_ms: float,
    measured: timing.Timing,
    units: Sequence[Unit],
    card,
    fitted: dict[str, float] | None = None,
) -> str:
    """Why a prediction misses (or what it rests on when it does not): a noisy measurement, table keys missing,
    shapes beyond the grid, activations or weights beyond what the fitting networks had (``fitted``: their
    :func:`reach`; the calibration learnt nothing about caches spilling further), memory-bound layers (whose time in
    a network depends on what the caches hold from the layer before), and what dominates the predicted time."""
    err = p.predicted_ms / measured_ms - 1.0
    parts = []
    if measured.spread > 1.3:
        parts.append(f"noisy measurement (p90 = {measured.spread:.1f} x p10)")
    if p.fallbacks:
        parts.append(f"no table points for {', '.join(p.fallbacks[:3])} (roofline used)")
    beyond = card.table.beyond_grid(units)
    if beyond:
        parts.append(f"{beyond} extrapolated beyond the measured grid")
    mine = reach(units)
    if fitted and mine["act_mb"] > 1.5 * fitted["act_mb"]:
        parts.append(f"activations up to {mine['act_mb']:.0f} MB (fitting networks: {fitted['act_mb']:.0f} MB)")
    if fitted and mine["weight_mb"] > 1.5 * fitted["weight_mb"]:
        parts.append(f"{mine['weight_mb']:.0f} MB of weights (fitting networks: up to {fitted['weight_mb']:.0f} MB)")
    total = sum(p.by_family.values()) or 1.0
    memory = sum(v for k, v in p.by_family.items() if k in MEMORY_BOUND) / total
    if memory > 0.35:
        parts.append(f"{memory:.0%} of the time in memory-bound layers")
    top = sorted(p.by_family.items(), key=lambda kv: -kv[1])[:2]
    mix = " and ".join(f"{k} {v / total:.0%}" for k, v in top)
    if abs(err) <= WITHIN:
        return f"within {WITHIN:.0%} ({mix} of the table's time)" + (f"; {'; '.join(parts)}" if parts else "")
    side = "slower" if err > 0 else "faster"
    return f"predicted {abs(err):.0%} {side} than measured; {mix} of the table's time" + (
        f"; {'; '.join(parts)}" if parts else ""
    )


def score(
    card,
    names: Sequence[str] | None = None,
    *,
    device: torch.device | str = "cpu",
    warmup: int = 2,
    repeats: int = 5,
    statistic: str = "median",
    max_gmacs: float | None = None,
    recalibrate: bool = True,
    progress: Callable[[int, int, str], None] | None = None,
) -> Score:
    """Measure ``names`` (default: the registry's networks less :data:`FIT_NETWORKS`, under ``max_gmacs``) on
    ``device`` in interleaved groups (:func:`measure_networks`) and score ``card``'s predictions of them.
    ``statistic``: "median", "p10" or "min" of the repeats (on a busy machine the fastest call is the one the other
    processes disturbed least). With ``recalibrate`` the fitting networks are measured in the same interleaved run
    and the card's three constants refitted on them (never on the scored networks), so that a machine busier or
    quieter than when the card was built shifts both alike; without it the card's own constants are used."""
    from effnets.models import MODELS

    if statistic not in STATISTICS:
        raise ValueError(f"statistic '{statistic}' is not one of {', '.join(STATISTICS)}")
    if names is None:
        names = [n for n in MODELS if n not in FIT_NETWORKS]
    fit = [n for n in names if n in FIT_NETWORKS]
    if fit:
        raise ValueError(f"{', '.join(fit)}: fitted networks cannot be scored (the constants were fitted on them)")
    units = {n: network_units(n) for n in names}
    if max_gmacs is not None:
        units = {n: u for n, u in units.items() if sum(x.macs * x.calls for x in u) <= max_gmacs * 1e9}
    fit_set = list(card.calibration.get("networks") or FIT_NETWORKS) if recalibrate else []
    everything = {**units, **{n: network_units(n) for n in fit_set}}
    order = sorted(everything, key=lambda n: sum(x.macs * x.calls for x in everything[n]))  # similar sizes together
    timings = measure_networks(order, device, warmup, repeats, progress=progress)
    if recalibrate:
        from effnets.analysis.device_card import calibrate

        card = copy.copy(card)
        calibrate(card, fit_set, {n: pick(timings[n], statistic) for n in fit_set}, statistic=statistic)
    reaches = [reach(network_units(n)) for n in card.calibration.get("networks") or FIT_NETWORKS]
    fitted = {k: max(r[k] for r in reaches) for k in ("act_mb", "weight_mb")}
    rows = []
    for name in [n for n in names if n in units]:
        t = timings[name]
        p = predict_units(units[name], card)
        ms = pick(t, statistic)
        why = why_miss(p, ms, t, units[name], card, fitted)
        rows.append(ScoredNetwork(name, ms, t.p10_ms, t.p90_ms, p, why))
    return summarize(rows, card, statistic)


def summarize(rows: Sequence[ScoredNetwork], card, statistic: str = "median") -> Score:
    """The score of measured rows: within +-15 % (chosen predictor, and each predictor alone) and Kendall's tau."""
    n = len(rows) or 1
    meas = [r.measured_ms for r in rows]
    pred = [r.prediction.predicted_ms for r in rows]

    def share(f: Callable[[ScoredNetwork], float]) -> float:
        return sum(abs(f(r) / r.measured_ms - 1) <= WITHIN for r in rows) / n

    return Score(
        within_15=sum(r.within for r in rows) / n,
        kendall_tau=kendall_tau(pred, meas) if len(rows) > 1 else 1.0,
        networks=list(rows),
        fit_networks=list(FIT_NETWORKS),
        predictor=card.calibration.get("chosen", "table"),
        device_name=card.device_name,
        threads=card.threads,
        statistic=statistic,
        roofline_within_15=share(lambda r: r.prediction.roofline_ms),
        table_within_15=share(lambda r: r.prediction.table_ms),
        busy=[r.name for r in rows if r.p10_ms > 0 and r.p90_ms / r.p10_ms > 1.3],
    )


# ----- two devices side by side ------------------------------------------------------------------------------------


def rankings(cards: Sequence[Any], names: Sequence[str]) -> dict[str, Any]:
    """Predicted latency and rank of each network on each card's device, side by side, and how far the rankings
    agree: {"devices": [...], "rows": [{"name", "ms": [...], "rank": [...]}], "kendall_tau": tau of the first two,
    "fastest": [name per device]}."""
    if not cards:
        raise ValueError("rankings need at least one device card")
    units = [network_units(n) for n in names]  # traced once, predicted on every card
    preds = [[predict_units(u, c).predicted_ms for u in units] for c in cards]
    ranks = [[sorted(p).index(v) + 1 for v in p] for p in preds]
    rows = [{"name": n, "ms": [p[i] for p in preds], "rank": [r[i] for r in ranks]} for i, n in enumerate(names)]
    return {
        "devices": [c.label for c in cards],
        "rows": sorted(rows, key=lambda r: r["rank"][0]),
        "kendall_tau": kendall_tau(preds[0], preds[1]) if len(cards) > 1 and len(names) > 1 else 1.0,
        "fastest": [names[int(np.argmin(p))] for p in preds] if names else [],
    }
