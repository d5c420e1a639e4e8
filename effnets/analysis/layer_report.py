"""The Latency Lab's per-layer section as plain data: a network's eager layers timed on this device
(:mod:`effnets.runtime.per_layer`), the predictor's figure beside the measured one (this device's card, if it has one
yet), and the tables and sentences the page shows. No streamlit."""

from __future__ import annotations

from typing import Any

from effnets.runtime import per_layer


def measure(
    name: str, *, device: Any = "cpu", warmup: int = 3, repeats: int = 10, progress=None, stop=None
) -> dict[str, Any]:
    """Per-layer times of model ``name`` and the prediction of its eager latency on this device's cached card
    (None when there is none yet): {"result": PerLayerResult, "prediction": Prediction | None, "card": label}."""
    from effnets.analysis import device_card, predictor

    if progress is not None:
        progress(0, 2)
    result = per_layer.model_per_layer(name, device=device, warmup=warmup, repeats=repeats)
    if progress is not None:
        progress(1, 2)
    card = device_card.cached(device)
    prediction = predictor.predict(name, card) if card is not None else None
    if progress is not None:
        progress(2, 2)
    return {"result": result, "prediction": prediction, "card": None if card is None else card.label}


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
    err = p.predicted_ms / r.median_ms - 1
    return text + (
        f" Predicted before running: **{p.predicted_ms:.2f} ms** ({p.predictor} predictor on {measured['card']}; "
        f"{err:+.0%} off; roofline {p.roofline_ms:.2f} ms, table {p.table_ms:.2f} ms)."
    )
