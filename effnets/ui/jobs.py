"""Measurements: long ones in the background with a progress bar and a Stop button, and whose they are.

A measurement runs in a worker thread (no Streamlit calls there); the page polls it, drawing progress, until it ends.
Only one measurement runs at a time on the server (a lock shared by all sessions): timings taken while another
measurement competes for the same cores would be wrong. Finished results are kept per (device, configuration) in a
store shared by all sessions, each with when and by which session it was measured: a page shows a viewer's own
measurement as theirs and anyone else's plainly as an earlier one (:func:`provenance`), and "measure again" always
measures.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import streamlit as st


@st.cache_resource
def _server_lock() -> threading.Lock:
    return threading.Lock()


@st.cache_resource
def _store() -> dict[str, Any]:
    """Results by configuration key, shared by every session (bounded: oldest dropped past 64)."""
    return {}


@dataclass(frozen=True)
class Measured:
    """A measurement with its provenance: the value, when (time.time()) and which session measured it."""

    value: Any
    at: float
    session: str


def session_id() -> str:
    """This browser session's id (stable across its reruns)."""
    return st.session_state.setdefault("app.session_id", uuid.uuid4().hex)


def remember(key: str, value: Any) -> Measured:
    """Keep ``value`` as this session's measurement of configuration ``key`` (and the latest one on the server)."""
    record = Measured(value, time.time(), session_id())
    store = _store()
    store.pop(key, None)
    store[key] = record
    while len(store) > 64:
        store.pop(next(iter(store)))
    st.session_state.setdefault("app.measured", {})[key] = record
    return record


def recall(key: str) -> Measured | None:
    """This session's own measurement of ``key`` if it has one, else the server's latest (another session's)."""
    return st.session_state.get("app.measured", {}).get(key) or _store().get(key)


def mine(record: Measured | None) -> bool:
    return record is not None and record.session == session_id()


def provenance(record: Measured, settings: str = "these settings") -> str:
    """'Measured for you at 21:50:03.' or 'An earlier measurement, by another session at 21:48:10 (4 min ago), with
    these settings: ...'"""
    when = time.strftime("%H:%M:%S", time.localtime(record.at))
    if mine(record):
        return f"Measured for you at {when} (server time)."
    ago = max(0, time.time() - record.at)
    ago_text = f"{ago:.0f} s ago" if ago < 120 else f"{ago / 60:.0f} min ago"
    return (
        f"An earlier measurement, by another session at {when} server time ({ago_text}), with {settings}: "
        "not yours. Measure to get your own."
    )


def busy() -> bool:
    """A measurement is running on this server now (it holds the measurement lock)."""
    return _server_lock().locked()


def measure_now(key: str, work: Callable[[], Any]) -> Measured:
    """Run ``work()`` at once under the server's measurement lock and remember the result as this session's."""
    with _server_lock():
        value = work()
    return remember(key, value)


def recall_or_measure(
    key: str, work: Callable[[], Any], again: bool, spinner: str, button: str = "Measure again"
) -> Measured | None:
    """The measurement of ``key`` to show: measured now (under the lock, with a spinner) when there is none yet or
    ``again`` (the page's ``button``) asks for one, else the session's own or the server's latest. None, with a
    notice, when there is none and another measurement holds the server: a page never waits on someone else's
    timing."""
    record = recall(key)
    if record is None and not again and busy():
        st.info(
            "Another measurement is running on this server (timings run one at a time, so that none disturbs "
            f"another): press *{button}* once it has finished."
        )
        return None
    if again or record is None:
        with st.spinner(spinner):
            record = measure_now(key, work)
    return record


def show_provenance(record: Measured, settings: str = "these settings") -> None:
    """Whose measurement ``record`` is (:func:`provenance`): a quiet caption for the viewer's own, a notice for
    anyone else's."""
    (st.caption if mine(record) else st.info)(provenance(record, settings))


@dataclass
class Job:
    """A measurement running in a worker thread."""

    key: str
    label: str
    done: int = 0
    total: int = 1
    waiting: bool = True
    result: Any = None
    error: str = ""
    finished: bool = False
    stop: threading.Event = field(default_factory=threading.Event)
    started: float = field(default_factory=time.time)
    thread: threading.Thread | None = None

    def progress(self, done: int, total: int) -> None:
        self.done, self.total = done, max(total, 1)


def start(state_key: str, key: str, label: str, work: Callable[[Callable[[int, int], None], threading.Event], Any]):
    """Start ``work(progress, stop)`` in a worker thread, once the server's measurement lock is free."""
    job = Job(key=key, label=label)
    lock = _server_lock()  # resolved here: the worker thread must not call Streamlit

    def run() -> None:
        while not lock.acquire(timeout=0.2):
            if job.stop.is_set():
                job.error, job.finished = "stopped before it started", True
                return
        job.waiting = False
        try:
            job.result = work(job.progress, job.stop)
        except Exception as e:  # reported on the page as one line, never a traceback
            job.error = f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
        finally:
            lock.release()
            job.finished = True

    job.thread = threading.Thread(target=run, daemon=True, name=f"effnets-measure-{label}")
    st.session_state[state_key] = job
    job.thread.start()
    return job


def follow(state_key: str, poll_s: float = 0.5) -> Job | None:
    """Draw the running job's progress and Stop button and re-run the page until it ends; return the job (finished
    or not) or None when there is none."""
    job: Job | None = st.session_state.get(state_key)
    if job is None:
        return None
    if not job.finished:
        c1, c2 = st.columns([5, 1], vertical_alignment="center")
        if job.waiting:
            c1.info("Waiting for another measurement on this server to finish (timings run one at a time).")
        else:
            c1.progress(min(job.done / job.total, 1.0), text=f"{job.label}: {job.done} of {job.total} runs")
        if c2.button("Stop", key=f"{state_key}.stop", type="primary"):
            job.stop.set()
        time.sleep(poll_s)
        st.rerun()
    if job.result is not None and not job.error:
        own = st.session_state.get("app.measured", {}).get(job.key)
        if own is None or own.value is not job.result:
            remember(job.key, job.result)
    return job


def clear(state_key: str) -> None:
    st.session_state.pop(state_key, None)
