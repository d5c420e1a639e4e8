"""The Latency Lab's per-layer section as plain data: a network's eager layers timed on this device
(:mod:`effnets.runtime.per_layer`), the predictor's figure beside the measured one, and the tables and sentences the
page shows; and the card every page predicts with (:func:`card_for`) and the prediction it shows beside a measured
eager latency (:func:`eager_prediction`). No streamlit."""

from __future__ import annotations

import functools
import platform
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from effnets.runtime import per_layer

SHIPPED_CARDS = Path(__file__).resolve().parents[2] / "assets" / "device_cards"
"""The device cards that come with effnets, measured where the project was built (one per CPU thread count)."""
EAGER_ONLY = "the predictor predicts the eager path (PyTorch eager, fp32, NCHW)"
NO_CARD = (
    "No prediction beside it: no device card for this device at this thread count (build one in the Latency Lab's "
    "Per layer tab)."
)


# ----- the card the app predicts with ------------------------------------------------------------------------------


def shipped_cards() -> list[Path]:
    """The device cards shipped in ``assets/device_cards`` (``*.json``)."""
    return sorted(SHIPPED_CARDS.glob("*.json")) if SHIPPED_CARDS.is_dir() else []


@functools.lru_cache(maxsize=32)
def _read(path: str, mtime: float):
    """A card file read and checked once per version of the file (None if it is not a valid card)."""
    from effnets.analysis import device_card

    try:
        return device_card.load(path)
    except ValueError:
        return None


@dataclass(frozen=True)
class CardChoice:
    """The card a page predicts with: the card, whether it was built on this device or shipped, and its file."""

    card: Any
    shipped: bool
    path: str
    mtime: float

    @property
    def same_processor(self) -> bool | None:
        """Whether the card was measured on this machine's CPU model (None: the card or the OS does not say)."""
        from effnets.runtime import devices

        if self.card.device != "cpu" or not self.card.processor or not devices.cpu_model():
            return None
        return self.card.processor == devices.cpu_model()

    @property
    def label(self) -> str:
        """'CPU (x86_64, 2 threads), shipped cpu-2-threads.json' or '..., built on this device'; a shipped card also
        says which CPU it was measured on when that is not this one ('measured on a different CPU: ...')."""
        where = f"shipped {Path(self.path).name}" if self.shipped else "built on this device"
        if not self.shipped or self.card.device != "cpu" or self.same_processor:
            return f"{self.card.label}, {where}"
        if self.same_processor is None:
            return f"{self.card.label}, {where} (its CPU model is not recorded: it may not be this one)"
        return f"{self.card.label}, {where}, measured on a different CPU: {self.card.processor}"

    @property
    def key(self) -> tuple[str, float]:
        """What changes when the card does (for caches of predictions)."""
        return self.path, self.mtime


def _matches(card, device: torch.device, threads: int) -> bool:
    if card is None or card.device.split(":")[0] != device.type:
        return False
    if device.type == "cpu":
        return card.threads == threads and card.device_name.startswith(f"CPU ({platform.machine() or 'unknown'},")
    from effnets.runtime import devices

    return card.device_name == devices.device_name(device)


def card_for(device: Any = "cpu", threads: int | None = None) -> CardChoice | None:
    """The device card the app predicts eager latencies with on ``device`` at ``threads`` CPU threads (None: torch's
    current count): a card built on this device, from the user's cache (the Latency Lab's *Build this device's card*,
    ``effnets predict``; this torch version's first), else one shipped in ``assets/device_cards`` for a CPU of this
    architecture at that thread count; None when neither. Files are only read (once per version): no card is built."""
    from effnets.runtime import cache

    device = torch.device(device)
    threads = torch.get_num_threads() if threads is None else int(threads)
    own = sorted(cache.cache_dir("device_cards", create=False).glob("*.json"))
    for shipped, paths in ((False, own), (True, shipped_cards())):
        found = []
        for path in paths:
            mtime = path.stat().st_mtime
            card = _read(str(path), mtime)
            if _matches(card, device, threads):
                found.append(CardChoice(card, shipped, str(path), mtime))
        if found:  # the same CPU model first, then the same torch version
            return min(found, key=lambda c: (c.same_processor is not True, c.card.torch != torch.__version__))
    return None


# ----- the prediction beside a measured eager latency ----------------------------------------------------------------


def zoo_fields(name: str) -> dict[str, Any]:
    """The spec fields of the network the Model Zoo times as ``name``: its inference form (RepVGG/MobileOne deploy)
    and the fields its offline weights need where it has them (EfficientNet-Lite's TF padding, RegNet's rounding)."""
    from effnets.models import MODELS
    from effnets.runtime import weights

    deploy = dict(MODELS[name].inference_fields) if name in MODELS else {}
    return {**deploy, **(weights.pretrained_fields(name) if weights.weight_status(name).pretrained else {})}


def eager_prediction(
    name: str,
    *,
    device: Any = "cpu",
    threads: int | None = None,
    batch: int = 1,
    resolution: int | None = None,
    fields: dict[str, Any] | None = None,
) -> dict[str, Any] | None:
    """The predicted eager latency (fp32, NCHW) of model ``name`` built with spec ``fields`` (the structure that was
    timed; traced on the meta device) at ``resolution`` (default: its own) and ``batch``, on :func:`card_for`'s card
    of ``device`` at ``threads``: :meth:`Prediction.to_dict` plus "card" (its label) and "label" (what a page writes
    beside the figure); None when this device has no card."""
    from effnets.analysis import predictor
    from effnets.counting import build_on_meta
    from effnets.runtime import bench_networks, weights

    choice = card_for(device, threads)
    if choice is None:
        return None
    res = bench_networks.default_resolution(name) if resolution is None else int(resolution)
    module = build_on_meta(lambda: weights.load_model(name, pretrained=False, **(fields or {}))[0])
    p = predictor.predict_units(predictor.network_units(module, res, batch), choice.card)
    return {**p.to_dict(), "card": choice.label, "label": f"predicted ({p.predictor} predictor, card: {choice.label})"}


def prediction_error(predicted_ms: float, measured_ms: float) -> float:
    """(predicted - measured) / measured."""
    return predicted_ms / measured_ms - 1.0


def beside(prediction: dict[str, Any] | None, measured_ms: float | None) -> str:
    """The sentence beside a measured eager latency: 'Beside it, predicted (table predictor, card: ...): **12.30
    ms**, +8% vs the measured 11.40 ms.'; or why there is none."""
    if prediction is None:
        return NO_CARD
    text = f"Beside it, {prediction['label']}: **{prediction['predicted_ms']:.2f} ms**"
    if measured_ms:
        err = prediction_error(prediction["predicted_ms"], measured_ms)
        text += f", {err:+.0%} vs the measured {measured_ms:.2f} ms"
    return text + "."


def predictable(engine: str, precision: str, channels_last: bool) -> bool:
    """Whether a timing of ``engine`` at ``precision`` and that layout gets a prediction beside it (eager only)."""
    return engine == "eager" and precision == "fp32" and not channels_last


PREDICTED_COLUMNS = {"predicted_ms": ("predicted ms", "%.2f"), "predicted_error": ("predicted vs measured %", "%+.0f")}


def with_predictions(
    rows: list[dict[str, Any]], columns: Sequence[str], predictions: dict[str, dict[str, Any] | None] | None
) -> tuple[list[dict[str, Any]], list[str]]:
    """Table rows (with "name" and "median_ms") and their columns, with "predicted_ms" and "predicted_error" (%)
    after "median_ms" where ``predictions`` (name -> :func:`eager_prediction`) holds any; unchanged otherwise."""
    columns = list(columns)
    if not predictions or not any(predictions.values()):
        return rows, columns
    out = []
    for r in rows:
        p, ms = predictions.get(r["name"]), r.get("median_ms")
        pred = p["predicted_ms"] if p else None
        err = 100 * prediction_error(pred, ms) if pred is not None and ms else None
        out.append({**r, "predicted_ms": pred, "predicted_error": err})
    at = columns.index("median_ms") + 1 if "median_ms" in columns else len(columns)
    return out, columns[:at] + list(PREDICTED_COLUMNS) + columns[at:]


def backend_rows(rows: list[dict[str, Any]], prediction: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The backends table's rows (:func:`effnets.runtime.backends.table_rows`) with "predicted ms" and "predicted vs
    measured" beside the eager fp32 row's median, as text: "—" on every other row (the predictor predicts the eager
    path only); the rows unchanged without a prediction."""
    if prediction is None:
        return rows
    out = []
    for r in rows:
        ms, pred = r.get("median_ms"), prediction["predicted_ms"]
        eager = r.get("backend") == "eager" and r.get("precision") == "fp32"
        err = f"{prediction_error(pred, ms):+.0%}" if eager and ms else "—"
        out.append({**r, "predicted ms": f"{pred:.3f}" if eager else "—", "predicted vs measured": err})
    return out


def predictions_caption(predictions: dict[str, dict[str, Any] | None] | None, switch: str = "") -> str:
    """What the predicted column is ('Predicted ms: predicted (table predictor, card: ...)'), or why there is none
    (``predictions`` None: the timings are not eager; ``switch`` says how to time the eager path)."""
    if predictions is None:
        return f"No predictions beside these timings: {EAGER_ONLY}" + (f"; {switch}." if switch else ".")
    shown = next((p for p in predictions.values() if p), None)
    if shown is None:
        return NO_CARD
    return (
        f"Predicted ms: {shown['label']}, the eager path's latency predicted before running; predicted vs measured "
        "= predicted / measured median - 1."
    )


# ----- the Latency Lab's per-layer section --------------------------------------------------------------------------


def measure(
    name: str, *, device: Any = "cpu", warmup: int = 3, repeats: int = 10, progress=None, stop=None
) -> dict[str, Any]:
    """Per-layer times of model ``name`` and the prediction of its eager latency on :func:`card_for`'s card (None
    when there is none): {"result": PerLayerResult, "prediction": Prediction | None, "card": label, "card_shipped"}."""
    from effnets.analysis import predictor

    if progress is not None:
        progress(0, 2)
    result = per_layer.model_per_layer(name, device=device, warmup=warmup, repeats=repeats)
    if progress is not None:
        progress(1, 2)
    choice = card_for(device)  # inside the job: torch runs at the measurement's thread count
    prediction = predictor.predict(name, choice.card) if choice is not None else None
    if progress is not None:
        progress(2, 2)
    return {
        "result": result,
        "prediction": prediction,
        "card": None if choice is None else choice.label,
        "card_shipped": choice is not None and choice.shipped,
    }


def build_card(*, device: Any = "cpu", progress=None, stop=None):
    """This device's card built in the background (progress as (done, total)), cached for every later prediction."""
    from effnets.analysis import device_card

    report = None if progress is None else (lambda done, total, label: progress(done, total))
    return device_card.this_device(device, progress=report, stop=stop)


def layer_rows(r: per_layer.PerLayerResult) -> list[dict[str, Any]]:
    """One row per leaf layer: name, stage, kind, MACs, ms, % of time, % of MACs."""
    return [
        {
            "layer": x.name,
            "stage": x.stage,
            "kind": x.kind,
            "MACs": x.macs,
            "ms": x.ms,
            "% of time": 100 * x.share_ms,
            "% of MACs": 100 * x.share_macs,
        }
        for x in r.layers
    ]


def group_rows(groups: list[per_layer.GroupTime], label: str) -> list[dict[str, Any]]:
    """One row per stage (or kind): layers, ms, % of time, % of MACs, and time share / MAC share."""
    return [
        {
            label: g.name,
            "layers": g.layers,
            "ms": g.ms,
            "% of time": 100 * g.share_ms,
            "% of MACs": 100 * g.share_macs,
            "time / MACs": g.share_ms / g.share_macs if g.share_macs else None,
        }
        for g in groups
    ]


def headline(measured: dict[str, Any]) -> str:
    """The sentence above the tables: measured whole, sum of the parts, and the prediction beside them."""
    r, p = measured["result"], measured["prediction"]
    text = (
        f"Whole eager forward **{r.median_ms:.2f} ms** (median of {r.repeats}, no hooks); the {len(r.layers)} leaf "
        f"layers add up to **{r.sum_ms:.2f} ms**."
    )
    if p is None:
        return text + " No prediction yet: this device has no card (build it below, in the background)."
    err = prediction_error(p.predicted_ms, r.median_ms)
    return text + (
        f" Before running, predicted ({p.predictor} predictor, card: {measured['card']}): "
        f"**{p.predicted_ms:.2f} ms**, {err:+.0%} vs the measured whole (roofline {p.roofline_ms:.2f} ms, table "
        f"{p.table_ms:.2f} ms)."
    )
