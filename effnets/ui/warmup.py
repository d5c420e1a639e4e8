"""What the server does as it starts, before its first visitor: import everything the pages import and fill the
shared caches with what a page opened at its defaults shows first (the Inference Lab's model and its top-5 on the
default sample, the Kernel Gallery's default layer). Streamlit runs no app code before the first session, so
serve.py runs :func:`warm` in a thread as the server starts and answers no request until it is done (or capped).

Only results that are the same for everyone are warmed (a model, a prediction, a kernel statistic); no timing is
ever measured here, because a measured number belongs to the session that asked for it.
"""

from __future__ import annotations

import ast
import contextlib
import gc
import importlib
import logging
import time
from collections.abc import Iterator
from pathlib import Path

PAGES_DIR = Path(__file__).resolve().parents[2] / "pages"

log = logging.getLogger("effnets.warmup")


def page_modules(pages_dir: Path = PAGES_DIR) -> list[str]:
    """Every module the pages import (``import x`` and ``from x import y``; ``x.y`` too when y is a submodule),
    read from the page files' syntax, never by running them."""
    names: list[str] = []
    for path in sorted(pages_dir.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names += [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.append(node.module)
                names += [f"{node.module}.{a.name}" for a in node.names]
    return list(dict.fromkeys(names))


def import_pages(pages_dir: Path = PAGES_DIR) -> list[str]:
    """Import every module the pages import; returns those imported (names that are attributes, not modules, are
    skipped)."""
    done = []
    for name in page_modules(pages_dir):
        try:
            importlib.import_module(name)
        except ImportError:
            continue
        done.append(name)
    return done


@contextlib.contextmanager
def _no_context_warnings() -> Iterator[None]:
    """Cached functions called outside a session log 'missing ScriptRunContext' once per call; here that is the
    point, so those lines are kept out of the server's log."""
    loggers = [logging.getLogger(n) for n in ("streamlit.runtime.scriptrunner_utils.script_run_context",
                                               "streamlit.runtime.caching.cache_data_api",
                                               "streamlit.elements.spinner")]  # fmt: skip
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for lg, lv in zip(loggers, levels, strict=True):
            lg.setLevel(lv)


def inference_defaults() -> tuple:
    """The Inference Lab's first prediction at its defaults: the arguments of
    :func:`effnets.ui.infer_cached.predict` exactly as the page computes them."""
    from effnets.runtime import backends, devices
    from effnets.ui import infer_cached, runtime, schema

    s = schema.INFERENCE_LAB
    name = runtime.default_model(s)
    device, _ = devices.pick_device(s["device"].default)
    precision = s["precision"].default
    engine, _ = backends.resolve_engine(s["engine"].default, device, precision)
    item = infer_cached.sample_input(s["sample"].default)
    pretrained = runtime.has_weights(name)
    return (name, pretrained, str(device), precision, bool(s["nhwc"].default), engine, item.key, item.pixels,
            int(s["topk"].default))  # fmt: skip


def warm_inference_lab() -> None:
    from effnets.ui import infer_cached, runtime

    args = inference_defaults()
    runtime.base_model(args[0], args[1])
    infer_cached.predict(*args)


def warm_kernel_gallery() -> None:
    from effnets.analysis import kernels
    from effnets.ui import kernels_cached, runtime, schema

    s = schema.KERNEL_GALLERY
    name = runtime.default_model(s)
    pretrained = s["weights"].default == "pretrained" and runtime.has_weights(name)
    threshold = s["threshold"].default
    rows = kernels_cached.layer_rows(name, pretrained, threshold)
    kernels_cached.layer_view(name, pretrained, kernels.default_layer(rows), s["norm"].default, threshold)


def freeze_heap() -> None:
    """Move every object alive now (modules, registries, the warmed models) out of the garbage collector's sight:
    they live as long as the server, and a full collection that scans ~300,000 of them takes ~160 ms of CPU."""
    gc.collect()
    gc.freeze()


STEPS = (
    ("imports", import_pages),
    ("inference lab", warm_inference_lab),
    ("kernel gallery", warm_kernel_gallery),
    ("freeze", freeze_heap),
)


def warm(steps=STEPS) -> dict[str, float]:
    """Run every warm-up step; returns seconds per step. A step that fails is logged and skipped: the page then does
    the work itself, as it would without a warm-up."""
    took: dict[str, float] = {}
    with _no_context_warnings():
        for label, step in steps:
            t = time.perf_counter()
            try:
                step()
            except Exception as e:  # a warm-up must never take the server down
                log.warning("warm-up step %s failed: %s", label, e)
                continue
            took[label] = time.perf_counter() - t
    return took
