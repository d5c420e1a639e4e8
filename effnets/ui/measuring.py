"""What the pages that time things (Latency Lab, Model Zoo) share: the sidebar's measurement controls, the Measure
button with its background job, and the lines that say whose a timing is, what it ran on and whether the machine was
busy while it ran."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import streamlit as st

from effnets.analysis import layer_report, verdicts
from effnets.runtime import bench, devices
from effnets.runtime import timing as timing_stats
from effnets.ui import common, forms, jobs
from effnets.ui.schema import PageSchema


@dataclass(frozen=True)
class Settings:
    """The measurement controls' values: device (a torch.device), its name and why it was picked, precision, batch,
    CPU threads, warm-up and timed rounds, and the page's own toggles by control name."""

    device: Any
    device_name: str
    reason: str
    precision: str
    batch: int
    threads: int
    warmup: int
    repeats: int
    toggles: dict[str, bool] = field(default_factory=dict)

    def timing(self) -> dict[str, Any]:
        """The keyword arguments every timer takes: device, precision, batch, warmup, repeats."""
        return {
            "device": self.device,
            "precision": self.precision,
            "batch": self.batch,
            "warmup": self.warmup,
            "repeats": self.repeats,
        }

    def key(self, **config: Any) -> str:
        """:func:`effnets.runtime.bench.config_key` of these settings and the page's ``config``."""
        return bench.config_key(
            self.device,
            precision=self.precision,
            batch=self.batch,
            threads=self.threads,
            warmup=self.warmup,
            repeats=self.repeats,
            **config,
        )


def controls(
    schema: PageSchema, threads_help: str | None = None, toggles: Sequence[tuple[str, str, str | None]] = ()
) -> Settings:
    """The sidebar's **Measurement** controls: device and precision, batch and threads, the page's ``toggles``
    ((control, label, help) each), warm-up and timed rounds. Call it inside ``with st.sidebar``."""
    st.markdown("**Measurement**")
    device, reason, precision = common.device_controls(schema.prefix, show_reason=False)
    left, right = st.columns(2)
    batch = forms.control(left, schema, "batch", "Batch")
    threads = forms.control(right, schema, "threads", "CPU threads", help=threads_help)
    flags = {name: bool(forms.control(st, schema, name, label, help=help_)) for name, label, help_ in toggles}
    left, right = st.columns(2)
    warmup = forms.control(left, schema, "warmup", "Warm-up")
    repeats = forms.control(right, schema, "repeats", "Timed rounds")
    return Settings(
        device=device,
        device_name=devices.device_name(device, int(threads)),  # the count it is timed at, not the server's
        reason=reason,
        precision=precision,
        batch=int(batch),
        threads=int(threads),
        warmup=int(warmup),
        repeats=int(repeats),
        toggles=flags,
    )


@dataclass(frozen=True)
class Measurement:
    """The measurement of configuration ``key`` (this session's or, failing that, the server's latest) and this
    session's last finished job (of whatever settings), if any."""

    key: str
    record: jobs.Measured | None
    job: jobs.Job | None

    @property
    def value(self) -> Any:
        return None if self.record is None else self.record.value


def measure(
    settings: Settings,
    key: str,
    work: Callable[..., Any],
    *,
    button: str,
    label: str,
    job_key: str,
    button_key: str,
    primary: bool = True,
) -> Measurement:
    """The running job's progress and Stop button (:func:`effnets.ui.jobs.follow`), and the ``button`` that starts
    ``work(progress=, stop=)`` in the background at the chosen thread count (``label`` on its progress bar), disabled
    while a job runs; returns the measurement of ``key``."""
    job = jobs.follow(job_key)
    if st.button(
        button,
        type="primary" if primary else "secondary",
        key=button_key,
        disabled=job is not None and not job.finished,
    ):
        threads = settings.threads

        def run(progress, stop):
            with bench.num_threads(threads):
                return work(progress=progress, stop=stop)

        jobs.start(job_key, key, label, run)
        st.rerun()
    return Measurement(key, jobs.recall(key), job if job is not None and job.finished else None)


def job_notes(m: Measurement, stopped: str, partial: Callable[[Any], bool]) -> None:
    """Why this session's last measurement failed, or ``stopped`` when ``partial(result)`` says the measurement of
    these settings stopped early (a stopped run of other settings is not the table on screen)."""
    job = m.job
    if job is None:
        return
    if job.error:
        common.show_error(f"The measurement failed: {job.error}")
    elif job.result is not None and job.key == m.key and partial(job.result):
        st.warning(stopped)


def whose(m: Measurement, settings: str, results: Sequence, button: str, label: Callable[[str], str] = str) -> None:
    """Whose the timing is (a caption for the viewer's own, a box for an earlier one by another session; ``settings``
    names what it was measured with) and, if some results' spread says the machine was busy, a warning naming them
    (``label`` of each result's label) that asks to press ``button`` again."""
    jobs.show_provenance(m.record, settings)
    text = verdicts.busy_machine([label(n) for n in verdicts.busy(results)], timing_stats.BUSY_SPREAD, button)
    if text:
        st.warning(text)


def environment(env: Mapping[str, Any]) -> None:
    """A run's environment as a caption: 'Environment: device cpu, device_name ..., threads 1, ...'."""
    st.caption("Environment: " + ", ".join(f"{name} {value}" for name, value in env.items()))


def number_columns(
    formats: Mapping[str, str | tuple[str, str]], helps: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """A table's number columns: column -> format ('localized', '%.1f', ...) or (label, format), with ``helps``."""
    helps = helps or {}
    out = {}
    for column, spec in formats.items():
        label, fmt = spec if isinstance(spec, tuple) else (None, spec)
        out[column] = st.column_config.NumberColumn(label, format=fmt, help=helps.get(column))
    return out


@st.cache_data(max_entries=512, show_spinner="Predicting the eager latency...")
def _eager_prediction(name: str, device: str, threads: int, batch: int, resolution: int | None, fields: tuple,
                      card: tuple) -> dict | None:  # fmt: skip
    return layer_report.eager_prediction(
        name, device=device, threads=threads, batch=batch, resolution=resolution, fields=dict(fields)
    )


def eager_prediction(
    name: str, device: Any, threads: int, batch: int = 1, resolution: int | None = None, fields: dict | None = None
) -> dict | None:
    """:func:`effnets.analysis.layer_report.eager_prediction` on the card the app uses for ``device`` at ``threads``
    (a shipped one or the user's; None without one, or for a network the trace cannot take), cached per network,
    settings and card version: a rerun reads card files at most once and never builds a card."""
    choice = layer_report.card_for(device, threads)
    if choice is None:
        return None
    items = tuple(sorted((fields or {}).items()))
    try:
        return _eager_prediction(name, str(device), int(threads), int(batch), resolution, items, choice.key)
    except (ValueError, RuntimeError, TypeError):  # a network the meta trace cannot take: no figure, not an error
        return None
