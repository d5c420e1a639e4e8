"""The Latency Lab's data: blocks set up side by side (mapping C -> C, or each as wide as needed to match the standard
conv's MACs), their table rows, and their measured latency placed on a measured roofline."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from effnets.analysis import roofline
from effnets.analysis.compare import comparable_fields, matched_width
from effnets.analysis.verdicts import Timed
from effnets.blocks import BLOCKS
from effnets.cost import Cost
from effnets.report import human, plural

MATCH_TOLERANCE = 1.5
"""A matched block whose MACs are more than this factor off the target is named with the reason."""


@dataclass(frozen=True)
class BlockSetup:
    """One block at the lab's settings.

    Attributes:
        name, label: registry name and human name.
        fields: the spec fields that put it there (what the timing builds).
        spec, cost: the spec and its analytic cost for one image of ``shape``.
        shape: its input (C, H, W).
        intensity: MACs per byte moved for the whole batch (:func:`roofline.arithmetic_intensity`).
        note: in matched mode, why this block's MACs are far from the target ("" when they are close).
    """

    name: str
    label: str
    fields: dict[str, Any]
    spec: Any
    cost: Cost
    shape: tuple[int, int, int]
    intensity: roofline.Intensity
    note: str = ""


def standard_macs(c: int, hw: int, k: int) -> int:
    """MACs of the standard k x k conv mapping C -> C on an H = W = hw input: what matched widths aim at."""
    info = BLOCKS["standard"]
    return info.cost(info.make_spec(in_channels=c, out_channels=c, kernel_size=k), (c, hw, hw)).macs


def setups(
    names: Sequence[str], mode: str, c: int, hw: int, k: int, precision: str, batch: int
) -> tuple[dict[str, BlockSetup], list[str]]:
    """Each named block at the same channels (``mode`` "same") or at the width whose MACs are closest to the
    standard conv's ("matched"; widths step by 8, or by 1 when C is below 8, so that the standard conv itself matches);
    returns (name -> setup, "label: why" for each block that cannot be built there). A matched block whose MACs stay
    more than :data:`MATCH_TOLERANCE` off the target (its narrowest or widest width is still too costly or too
    cheap) carries a note saying so."""
    target = standard_macs(c, hw, k)
    step = 8 if c >= 8 else 1
    built: dict[str, BlockSetup] = {}
    skipped: list[str] = []
    for name in names:
        info = BLOCKS[name]
        note = ""
        try:
            if mode == "matched":
                match = matched_width(info, target, k, hw, hw, step=step)
                if match is None:
                    raise ValueError("no width matches")
                fields = match[0]
                if not 1 / MATCH_TOLERANCE <= match[1] / target <= MATCH_TOLERANCE:
                    c_at = fields["in_channels"]
                    note = (
                        f"{info.label} is not matched: its closest width, C={c_at}, costs {human(match[1])} MACs, "
                        f"{match[1] / target:.2g}x the target {human(target)}"
                    )
            else:
                fields = comparable_fields(info, c, c, k, 1)
            spec = info.make_spec(**fields)
            shape = (spec.in_channels, hw, hw)
            cost = info.cost(spec, shape)
            intensity = roofline.arithmetic_intensity(cost, precision, batch)
        except ValueError as e:
            skipped.append(f"{info.label}: {e}")
            continue
        built[name] = BlockSetup(name, info.label, fields, spec, cost, shape, intensity, note)
    return built, skipped


def describe(
    count: int,
    mode: str,
    c: int,
    hw: int,
    k: int,
    batch: int,
    device_name: str,
    reason: str,
    threads: int,
    precision: str,
) -> str:
    """The sentence above the table: what is compared, at which settings, timed on what."""
    if mode == "matched":
        widths = (
            f"each as wide as needed to cost about {human(standard_macs(c, hw, k))} MACs per image (the standard "
            f"{k}x{k} conv at C={c}; the table counts the whole batch)"
        )
    else:
        widths = f"each mapping {c} -> {c} channels"
    return (
        f"{count} blocks on a {hw}x{hw} input, batch {batch}, {widths}. Timed on **{device_name}** ({reason}), "
        f"{plural(threads, 'thread')}, {precision}, interleaved."
    )


def measure(
    built: dict[str, BlockSetup],
    *,
    device: Any,
    precision: str,
    batch: int,
    warmup: int,
    repeats: int,
    progress=None,
    stop=None,
) -> dict[str, Any]:
    """The device's roofline ceilings, then every block timed interleaved (rotating who goes first):
    {"ceilings": Ceilings, "run": BenchRun}; the run's labels are the blocks' registry names."""
    from effnets.runtime import bench, bench_networks

    ceilings = roofline.measure_ceilings(device, precision)
    variants = [
        bench_networks.block_variant(
            s.name, s.fields, s.shape, batch=batch, device=device, precision=precision, label=s.name
        )
        for s in built.values()
    ]
    run = bench.run_interleaved(
        variants, device=device, warmup=warmup, repeats=repeats, progress=progress, stop=stop, rotate=True
    )
    return {"ceilings": ceilings, "run": run}


def macs_column(batch: int) -> str:
    """The table's MACs column: the whole batch's."""
    return f"MACs (batch of {batch})"


def column_formats(batch: int) -> dict[str, str]:
    """The format of each number column of :func:`table` ('localized': with thousands separators)."""
    return {
        macs_column(batch): "localized",
        "params": "localized",
        "bytes moved": "localized",
        "MACs/byte": "%.1f",
        "median ms": "%.3f",
        "p10 ms": "%.3f",
        "p90 ms": "%.3f",
        "GMAC/s": "%.1f",
        "% of roof": "%.0f",
    }


def table(
    built: dict[str, BlockSetup], batch: int, result: dict[str, Any] | None = None
) -> tuple[list[dict[str, Any]], list[roofline.RooflinePoint]]:
    """The table's rows (counts, and with a :func:`measure` result the latency and the place on the roofline) and
    the roofline's points of the timed blocks."""
    timings = {} if result is None else {r.label: r for r in result["run"].results}
    rows, points = [], []
    for name, s in built.items():
        row = {
            "block": s.label,
            "C": s.spec.in_channels,
            macs_column(batch): s.cost.macs * batch,
            "params": s.cost.params,
            "bytes moved": s.intensity.bytes,
            "MACs/byte": s.intensity.intensity,
        }
        r = timings.get(name)
        if r is not None and r.timing is not None:
            point = roofline.roofline_point(s.label, s.intensity, r.median_ms, result["ceilings"])
            points.append(point)
            row.update(
                {
                    "median ms": r.median_ms,
                    "p10 ms": r.p10_ms,
                    "p90 ms": r.p90_ms,
                    "GMAC/s": point.achieved_gmacs,
                    "% of roof": 100 * point.efficiency,
                    "bound by": point.bound,
                }
            )
        rows.append(row)
    return rows, points


def timed(built: dict[str, BlockSetup], run) -> list[Timed]:
    """The run's timed blocks, each with its MACs per image, for :func:`effnets.analysis.verdicts.latency_spread`."""
    return [
        Timed(built[r.label].label, built[r.label].cost.macs, r.median_ms, r.p10_ms, r.p90_ms)
        for r in run.results
        if r.timing is not None and r.label in built
    ]
