"""Device cards: what the latency predictor knows about one device, measured there, as a small JSON file.

A card holds the device's measured ceilings (:func:`effnets.analysis.roofline.measure_ceilings`), the per-operator
overheads (:func:`effnets.analysis.predictor.measure_overheads`), the lookup table of layers on a grid of shapes
(:mod:`effnets.analysis.latency_table`) and the calibration fitted on :data:`predictor.FIT_NETWORKS` (their measured
times, the three constants, each predictor's error on them, and which predictor the card therefore chooses).

Build one where the device is (``python -m effnets device-card build -o card.json``), carry it elsewhere and predict
with it (``--device-card card.json``): the predictions are that device's, wherever they are computed, so two cards
show the same networks ranked on two devices side by side (:func:`effnets.analysis.predictor.rankings`).

A card is read as untrusted input (:func:`load`): at most :data:`MAX_BYTES`, no NaN or infinities, every field
checked for type and range; anything else is one ``ValueError`` line naming the problem.
"""

from __future__ import annotations

import datetime
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from effnets.analysis import latency_table, predictor
from effnets.analysis.latency_table import LatencyTable, _number
from effnets.report import plural
from effnets.runtime import cache, devices

FORMAT = "effnets-device-card"
VERSION = 1
MAX_BYTES = 8_000_000
MAX_ENTRIES = 50_000


@dataclass
class DeviceCard:
    """One device's measured ceilings, overheads, lookup table and calibration (see the module docstring)."""

    device: str
    device_name: str
    threads: int | None
    torch: str
    ceilings: dict[str, Any]
    overheads: dict[str, float]
    table: LatencyTable
    calibration: dict[str, Any] = field(default_factory=dict)
    created: str = ""
    seconds: float = 0.0
    processor: str = ""
    """The CPU it was measured on as the OS names it (:func:`effnets.runtime.devices.cpu_model`); "" where the card
    does not record it (cards of version 1 before the field existed)."""

    @property
    def label(self) -> str:
        threads = f", {plural(self.threads, 'thread')}" if self.threads and "thread" not in self.device_name else ""
        return f"{self.device_name}{threads}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": VERSION,
            "device": self.device,
            "device_name": self.device_name,
            "threads": self.threads,
            "torch": self.torch,
            "created": self.created,
            "seconds": self.seconds,
            "processor": self.processor,
            "ceilings": self.ceilings,
            "overheads": dict(self.overheads),
            "calibration": self.calibration,
            "table": self.table.to_dict(),
        }

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.write_text(json.dumps(self.to_dict(), separators=(",", ":")))
        return path


def _text(v: Any, name: str, limit: int = 200) -> str:
    if not isinstance(v, str) or len(v) > limit:
        raise ValueError(f"'{name}' must be a string of at most {limit} characters")
    return v


def from_dict(data: Any) -> DeviceCard:
    """A card from its JSON form, every field checked (ValueError naming the first bad one)."""
    if not isinstance(data, dict):
        raise ValueError("a device card must be a JSON object")
    if data.get("format") != FORMAT:
        raise ValueError(f"not a device card: 'format' must be '{FORMAT}'")
    if data.get("version") != VERSION:
        raise ValueError(f"device card version {str(data.get('version'))[:20]!r} is not {VERSION}")
    ceil = data.get("ceilings")
    if not isinstance(ceil, dict) or not isinstance(ceil.get("peak_gmacs"), dict):
        raise ValueError("the card's 'ceilings' must hold 'peak_gmacs' (an object) and 'bandwidth_gbs'")
    ceilings = {
        "peak_gmacs": {"fp32": _number(ceil["peak_gmacs"].get("fp32"), "ceilings.peak_gmacs.fp32", 1e-6, 1e9)},
        "bandwidth_gbs": _number(ceil.get("bandwidth_gbs"), "ceilings.bandwidth_gbs", 1e-6, 1e9),
    }
    over = data.get("overheads")
    if not isinstance(over, dict) or len(over) > 64:
        raise ValueError("the card's 'overheads' must be an object of at most 64 kinds")
    overheads = {
        _text(k, "overheads key", 40): _number(v, f"overheads.{str(k)[:40]}", 0.0, 1e4) for k, v in over.items()
    }
    table_data = data.get("table")
    if not isinstance(table_data, dict) or not isinstance(table_data.get("entries"), list):
        raise ValueError("the card's 'table' must be an object with 'entries'")
    if len(table_data["entries"]) > MAX_ENTRIES:
        raise ValueError(f"the card's table has more than {MAX_ENTRIES:,} entries")
    table = LatencyTable.from_dict(table_data)
    threads = data.get("threads")
    if threads is not None:
        threads = int(_number(threads, "threads", 1, 4096))
    return DeviceCard(
        device=_text(data.get("device", ""), "device", 40),
        device_name=_text(data.get("device_name", ""), "device_name"),
        threads=threads,
        torch=_text(data.get("torch", ""), "torch", 60),
        ceilings=ceilings,
        overheads=overheads,
        table=table,
        calibration=_calibration(data.get("calibration", {})),
        created=_text(data.get("created", ""), "created", 60),
        seconds=_number(data.get("seconds", 0.0), "seconds", 0.0, 1e7),
        processor=_text(data.get("processor", ""), "processor", 200),
    )


def _calibration(cal: Any) -> dict[str, Any]:
    if not isinstance(cal, dict):
        raise ValueError("the card's 'calibration' must be an object")
    coef = cal.get("coefficients", [1.0, 0.0, 0.0])
    if not isinstance(coef, list) or len(coef) != 3:
        raise ValueError("'calibration.coefficients' must be a list of 3 numbers")
    chosen = cal.get("chosen", "table")
    if chosen not in predictor.PREDICTORS:
        raise ValueError(f"'calibration.chosen' must be one of {', '.join(predictor.PREDICTORS)}")
    nets = cal.get("networks", {})
    if not isinstance(nets, dict) or len(nets) > 200:
        raise ValueError("'calibration.networks' must be an object of at most 200 networks")
    errors = cal.get("errors", {})
    if not isinstance(errors, dict):
        raise ValueError("'calibration.errors' must be an object")
    statistic = cal.get("statistic", "median")
    if statistic not in predictor.STATISTICS:
        raise ValueError(f"'calibration.statistic' must be one of {', '.join(predictor.STATISTICS)}")
    return {
        "coefficients": [_number(c, "calibration.coefficients", 0.0, 1e9) for c in coef],
        "chosen": chosen,
        "statistic": statistic,
        "networks": {
            _text(k, "calibration network", 80): _number(v, f"calibration.networks.{k}", 0.0, 1e8)
            for k, v in nets.items()
        },  # fmt: skip
        "errors": {
            str(k)[:20]: _number(v, f"calibration.errors.{str(k)[:20]}", 0.0, 1e6)
            for k, v in errors.items()
            if k in predictor.PREDICTORS
        },  # fmt: skip
    }


def _no_constants(name: str) -> float:
    raise ValueError(f"the card holds {name}, which is not a number JSON allows")


def loads(text: str | bytes) -> DeviceCard:
    """A card from JSON text (ValueError, one line, for anything malformed or hostile)."""
    if len(text) > MAX_BYTES:
        raise ValueError(f"a device card is at most {MAX_BYTES // 1_000_000} MB; this one is {len(text):,} bytes")
    try:
        data = json.loads(text, parse_constant=_no_constants)
    except RecursionError:
        raise ValueError("the device card nests too deeply to be a card") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"the device card is not valid JSON: {str(e).splitlines()[0][:100]}") from None
    try:
        return from_dict(data)
    except (TypeError, AttributeError, KeyError, OverflowError) as e:
        raise ValueError(f"the device card is malformed: {type(e).__name__}") from None


def load(path: str | Path) -> DeviceCard:
    """A card from a file (ValueError, one line, when it is missing, unreadable, malformed or hostile)."""
    path = Path(path)
    try:
        if path.stat().st_size > MAX_BYTES:
            raise ValueError(f"{path}: a device card is at most {MAX_BYTES // 1_000_000} MB")
        raw = path.read_bytes()
    except OSError as e:
        raise ValueError(f"cannot read the device card {path}: {e.strerror or type(e).__name__}") from None
    try:
        return loads(raw)
    except ValueError as e:
        raise ValueError(f"{path}: {e}") from None


# ----- building a card ---------------------------------------------------------------------------------------------


Progress = Callable[[int, int, str], None] | None


def calibrate(
    card: DeviceCard,
    networks: Sequence[str] = predictor.FIT_NETWORKS,
    measured: dict[str, float] | None = None,
    *,
    warmup: int = 2,
    repeats: int = 5,
    statistic: str = "median",
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Measure ``networks`` on the card's device (unless ``measured`` gives their times; ``statistic``: "median" or
    "p10" of the repeats), fit the table predictor's constants on them and choose the predictor with the smaller mean
    error there; stores and returns the result."""
    measured = dict(measured or {})
    todo = [n for n in networks if n not in measured]
    if todo:
        timings = predictor.measure_networks(
            todo, card.device, warmup, repeats, progress=None if progress is None else lambda d, n, name: progress(name)
        )
        measured.update({n: predictor.pick(t, statistic) for n, t in timings.items()})
    rows, errors = [], {"roofline": [], "table": []}
    raws = {}
    for name in networks:
        units = predictor.network_units(name)
        roof, raw, _, _ = predictor.raw_predictions(units, card)
        raws[name] = (roof, raw, units)
        rows.append((predictor.calibration_features(raw, units), measured[name]))
    coef = predictor.fit_calibration(rows)
    for name, (roof, raw, units) in raws.items():
        table_ms = float(predictor.calibration_features(raw, units) @ coef)
        errors["roofline"].append(abs(roof / measured[name] - 1))
        errors["table"].append(abs(table_ms / measured[name] - 1))
    mean = {k: float(np.mean(v)) if v else 0.0 for k, v in errors.items()}
    card.calibration = {
        "coefficients": [float(c) for c in coef],
        "chosen": min(mean, key=mean.get) if rows else "table",
        "networks": {k: float(v) for k, v in measured.items() if k in networks},
        "errors": mean,
        "statistic": statistic,
    }
    return card.calibration


def build(
    device: torch.device | str = "cpu",
    *,
    threads: int | None = None,
    scale: str = "full",
    fit_networks: Sequence[str] = predictor.FIT_NETWORKS,
    warmup: int = 2,
    repeats: int = 5,
    statistic: str = "median",
    progress: Progress = None,
    stop=None,
) -> DeviceCard:
    """Measure a card of ``device`` at ``threads`` CPU threads (torch's setting is restored afterwards): ceilings,
    overheads, the table (``scale``: see :func:`latency_grid.grid`), then the calibration on ``fit_networks``.
    ``progress(done, total, label)`` after every step."""
    from effnets.analysis import latency_grid, roofline

    device = torch.device(device)
    before = torch.get_num_threads()
    if threads is not None:
        if threads < 1:
            raise ValueError(f"--threads {threads} must be at least 1")
        torch.set_num_threads(threads)
    try:
        t0 = time.perf_counter()
        probes = latency_grid.grid(scale)
        total = len(probes) + 3

        def report(done: int, label: str) -> None:
            if progress is not None:
                progress(done, total, label)

        roofline.clear_cache()
        ceilings = roofline.measure_ceilings(device).to_dict()
        report(1, "ceilings")
        overheads = predictor.measure_overheads(device, repeats)
        report(2, "per-operator overheads")
        table = latency_table.build_table(
            device, probes, warmup=warmup, repeats=repeats, stop=stop,
            progress=lambda d, n, label: report(2 + d, label),
        )  # fmt: skip
        if table.partial:
            raise ValueError("the card's build was stopped before its table was complete")
        card = DeviceCard(
            device=str(device),
            device_name=devices.device_name(device),
            threads=torch.get_num_threads() if device.type == "cpu" else None,
            torch=torch.__version__,
            processor=devices.cpu_model() if device.type == "cpu" else "",
            ceilings={
                "peak_gmacs": {"fp32": ceilings["peak_gmacs"]["fp32"]},
                "bandwidth_gbs": ceilings["bandwidth_gbs"],
            },
            overheads=overheads,
            table=table,
            created=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        )

        def step(name: str) -> None:
            report(total, f"calibration: {', '.join(fit_networks)} measured")

        calibrate(card, fit_networks, warmup=warmup, repeats=2 * repeats, statistic=statistic, progress=step)
        card.seconds = time.perf_counter() - t0
        return card
    finally:
        torch.set_num_threads(before)


def cache_path(device: torch.device | str = "cpu") -> Path:
    """Where this device's own card (at torch's current thread count) is cached."""
    device = torch.device(device)
    name = f"{devices.device_name(device)}-{torch.get_num_threads()}t-torch{torch.__version__}-v{VERSION}"
    return cache.cache_dir("device_cards") / f"{cache.slug(name)}.json"


def cached(device: torch.device | str = "cpu") -> DeviceCard | None:
    """This device's cached card, or None."""
    path = cache_path(device)
    if not path.is_file():
        return None
    try:
        return load(path)
    except ValueError:
        return None


def this_device(device: torch.device | str = "cpu", progress: Progress = None, **kw: Any) -> DeviceCard:
    """This device's card: the cached one, else one built now (a minute or two) and cached."""
    card = cached(device)
    if card is None:
        card = build(device, progress=progress, **kw)
        card.save(cache_path(device))
    return card


def describe(card: DeviceCard) -> str:
    """One line: device, threads, ceilings, table size, chosen predictor and its error on the fitting networks."""
    cal = card.calibration
    err = cal.get("errors", {}).get(cal.get("chosen", "table"))
    err_text = f", {err:.0%} mean error on {len(cal.get('networks', {}))} fitting networks" if err is not None else ""
    peak, bw = card.ceilings["peak_gmacs"]["fp32"], card.ceilings["bandwidth_gbs"]
    suspects = card.table.environment.get("suspect_points") or 0
    warn = f"; {suspects} points look disturbed by other processes: rebuild on a quiet machine" if suspects else ""
    where = f" on {card.processor}" if card.processor else ""
    return (
        f"{card.label}{where}: {peak:,.1f} GMAC/s, {bw:,.1f} GB/s, {len(card.table.entries):,} table points, "
        f"predictor '{cal.get('chosen', 'table')}'{err_text} (torch {card.torch}){warn}"
    )
