"""The inference engines behind :mod:`effnets.runtime.backends`: one interface over PyTorch eager, effnets' fast path,
torch.compile, ONNX Runtime and OpenVINO.

:class:`Backend`'s ``prepare(ctx, precision)`` turns the model of a :class:`Context` (never modified) into a callable
``run(x) -> logits`` for inputs of the context's size. Every callable takes the same contiguous float32
N x C x H x W CPU tensor; what it does to it (moving it, casting it to bf16, NHWC, a numpy view) is part of its time,
as it is for a caller.

* **eager**: the plain module as designed (a private copy, NCHW; BN unfolded).
* **fast**: :func:`effnets.runtime.fastpath.fast_model` with channels_last (BN folded, static padding, 1x1 convs as
  GEMMs on the CPU).
* **compile**: ``torch.compile`` (inductor) of the fast path; the compile time is reported apart (``compile_s``).
* **onnxruntime**: the eager model exported to ONNX in memory (the TorchScript exporter, opset 17: torch 2.14's
  dynamo exporter needs onnxscript), run by ONNX Runtime's CPU provider with all graph optimisations. int8: static
  QDQ quantisation (per-channel int8 weights, uint8 activations, min-max calibration on the context's calibration
  inputs). On a CPU without VNNI the weights use 7 bits (``reduce_range``): there uint8 x int8 products go through
  AVX2's pairwise multiply-add, which saturates at 16 bits with full-range weights (measured on an AVX2-only EPYC:
  EfficientNet-Lite0 logits off by 8.0 with 8-bit weights in ONNX Runtime and 8.4 in OpenVINO, 3.1 and 2.9 with
  7-bit weights, against a largest logit of 34).
* **openvino**: the same ONNX bytes converted by ``openvino.convert_model`` and compiled for the CPU plugin with
  ``PERFORMANCE_HINT=LATENCY``. Its default on a CPU with bf16 arithmetic is bf16, so fp32 sets
  ``INFERENCE_PRECISION_HINT=f32`` explicitly; bf16 sets ``bf16``; int8 runs ONNX Runtime's quantised QDQ graph
  (the rest in f32), so the two int8 rows run the same quantised model.

**Threads**: one count for every engine (``torch.set_num_threads`` by the caller, ONNX Runtime's
``intra_op_num_threads`` with one inter-op thread, OpenVINO's ``INFERENCE_NUM_THREADS``). In one process ONNX
Runtime's worker threads do not spin-wait between calls unless ``Context.spin`` (they would steal the cores of the
engine timed next).
"""

from __future__ import annotations

import contextlib
import copy
import functools
import importlib.metadata
import importlib.util
import io
import logging
import tempfile
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from effnets.runtime import bench, devices, inference

BACKEND_NAMES = ("eager", "fast", "compile", "onnxruntime", "openvino")
OPSET = 17
ENGINE_PACKAGES = ("onnx", "onnxruntime", "openvino")


class BackendUnavailable(Exception):
    """A backend cannot run here (not installed, wrong device, precision not offered); the message says why."""


def versions() -> dict[str, str | None]:
    """torch and the engines' package versions (None: not installed)."""
    out: dict[str, str | None] = {"torch": torch.__version__}
    for pkg in ENGINE_PACKAGES:
        try:
            out[pkg] = importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            out[pkg] = None
    return out


# ----- the context: what every backend prepares from ----------------------------------------------------------------


@dataclass
class Context:
    """The model and input of one comparison, and what the backends share (the ONNX bytes, made once).

    Attributes:
        model: an eval-able module; never modified (backends work on copies).
        x: the input every backend gets (N x C x H x W, float32, CPU).
        device: where the PyTorch backends run.
        threads: CPU threads for every engine.
        calibration: inputs of ``x``'s shape for int8 calibration (none: no int8).
        spin: let ONNX Runtime's threads spin-wait between calls (faster alone, unfair to the others in one process).
    """

    model: nn.Module
    x: torch.Tensor
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    threads: int = field(default_factory=torch.get_num_threads)
    calibration: Sequence[torch.Tensor] = ()
    spin: bool = False
    _onnx: bytes | None = None
    _onnx_int8: bytes | None = None

    def onnx(self) -> bytes:
        """The eager model exported to ONNX at ``x``'s shape, in memory (exported once)."""
        if self._onnx is None:
            model = copy.deepcopy(self.model).eval().float().cpu()
            buf = io.BytesIO()
            with warnings.catch_warnings(), torch.no_grad():
                warnings.simplefilter("ignore")
                torch.onnx.export(
                    model, (self.x,), buf, dynamo=False, opset_version=OPSET, input_names=["x"], output_names=["y"]
                )
            self._onnx = buf.getvalue()
        return self._onnx

    def onnx_int8(self) -> bytes:
        """The ONNX model statically quantised to int8 (QDQ), calibrated on :attr:`calibration`."""
        if self._onnx_int8 is None:
            if not self.calibration:
                raise BackendUnavailable("int8 needs calibration inputs; none were given")
            import onnx
            from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

            feeds = iter([{"x": c.numpy()} for c in self.calibration])

            class Reader(CalibrationDataReader):
                def get_next(self):
                    return next(feeds, None)

            quiet = logging.getLogger()  # the quantiser logs advice about every bias to the root logger
            level = quiet.level
            quiet.setLevel(logging.ERROR)
            # the quantiser writes files; nothing outlives the call
            with tempfile.TemporaryDirectory() as d, contextlib.ExitStack() as undo:
                undo.callback(quiet.setLevel, level)
                out = Path(d) / "int8.onnx"
                quantize_static(
                    onnx.load_from_string(self.onnx()),
                    out,
                    Reader(),
                    quant_format=QuantFormat.QDQ,
                    per_channel=True,
                    activation_type=QuantType.QUInt8,
                    weight_type=QuantType.QInt8,
                    reduce_range=seven_bit_weights(),
                )
                self._onnx_int8 = out.read_bytes()
        return self._onnx_int8


@dataclass
class Prepared:
    """A backend ready to run: ``run(x)`` gives logits; notes say what it does (layout, engine settings)."""

    run: Callable[[torch.Tensor], Any]
    layout: str = "contiguous (NCHW)"
    compile_s: float | None = None
    notes: list[str] = field(default_factory=list)


# ----- the backends -------------------------------------------------------------------------------------------------


class Backend:
    """One way of running a network: its name, the package it needs, the precisions it offers, how to prepare."""

    name = ""
    label = ""
    package: str | None = None  # the engine's import name; None: PyTorch itself

    def unavailable(self, device: torch.device) -> str | None:
        """None if the backend can run on ``device`` here, else why not."""
        if self.package and importlib.util.find_spec(self.package) is None:
            return f"{self.package} is not installed (pip install {self.package})"
        return None

    def precisions(self, device: torch.device) -> tuple[str, ...]:
        """Every precision this backend offers on ``device``."""
        return tuple(devices.supported_precisions(device))

    def default_precisions(self, device: torch.device) -> tuple[str, ...]:
        """The precisions a comparison of all backends measures."""
        return self.precisions(device)

    def prepare(self, ctx: Context, precision: str) -> Prepared:  # pragma: no cover - abstract
        raise NotImplementedError


class Eager(Backend):
    name, label = "eager", "PyTorch eager"

    def prepare(self, ctx: Context, precision: str) -> Prepared:
        m = inference.prepare(ctx.model, ctx.device, precision)
        dev, dtype = ctx.device, devices.PRECISIONS[precision]

        def run(x: torch.Tensor) -> torch.Tensor:
            with torch.inference_mode():
                return m(x.to(device=dev, dtype=dtype))

        return Prepared(run, notes=["the module as designed: BN unfolded, NCHW"])


class Fast(Backend):
    name, label = "fast", "effnets fast path"
    compile = False

    def prepare(self, ctx: Context, precision: str) -> Prepared:
        from effnets.runtime import fastpath

        fm, info = fastpath.fast_model(
            ctx.model, ctx.x, channels_last=True, compile=self.compile, device=ctx.device, precision=precision
        )
        what = f"{info.folded_bn} BN folded, {info.pointwise_matmuls} 1x1 convs as GEMMs, channels_last"
        return Prepared(fm, bench.LAYOUTS[True], info.compile_s, [what, *info.notes])


class Compile(Fast):
    name, label = "compile", "torch.compile (fast path)"
    compile = True

    def default_precisions(self, device: torch.device) -> tuple[str, ...]:
        return ("fp32",)  # each precision compiles anew (a minute or more); others on request


class OnnxRuntime(Backend):
    name, label, package = "onnxruntime", "ONNX Runtime", "onnxruntime"

    def unavailable(self, device: torch.device) -> str | None:
        if device.type != "cpu":
            return f"ONNX Runtime runs on the CPU here (CPUExecutionProvider); the comparison runs on {device}"
        return super().unavailable(device) or (
            "onnx is not installed (pip install onnx)" if importlib.util.find_spec("onnx") is None else None
        )

    def precisions(self, device: torch.device) -> tuple[str, ...]:
        return ("fp32", "int8")

    def prepare(self, ctx: Context, precision: str) -> Prepared:
        import onnxruntime as ort

        so = ort.SessionOptions()
        so.intra_op_num_threads = ctx.threads
        so.inter_op_num_threads = 1
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        so.log_severity_level = 3  # the exporter leaves unused constants; ORT's warnings about them are noise
        so.add_session_config_entry("session.intra_op.allow_spinning", "1" if ctx.spin else "0")
        data = ctx.onnx_int8() if precision == "int8" else ctx.onnx()
        sess = ort.InferenceSession(data, so, providers=["CPUExecutionProvider"])

        def run(x: torch.Tensor) -> np.ndarray:
            return sess.run(None, {"x": x.numpy()})[0]

        notes = [f"ORT_ENABLE_ALL, {ctx.threads} intra-op threads, spinning {'on' if ctx.spin else 'off'}"]
        if precision == "int8":
            notes.append(_int8_note())
        return Prepared(run, notes=notes)


@functools.cache
def seven_bit_weights() -> bool:
    """Whether int8 weights are quantised to 7 bits here: on an x86 CPU with AVX2 but no VNNI (see the module's
    docstring). torch's CPU probes are private; where one is missing or fails, 7 bits (safe everywhere)."""
    try:
        return bool(torch.cpu._is_avx2_supported()) and not bool(torch.cpu._is_vnni_supported())
    except Exception:
        return True


def _int8_note() -> str:
    if seven_bit_weights():
        weights = "7-bit per-channel int8 weights (this CPU has no VNNI: 8-bit weights would saturate)"
    else:
        weights = "per-channel int8 weights"
    return f"static QDQ int8: {weights}, uint8 activations, min-max calibration"


class OpenVino(Backend):
    name, label, package = "openvino", "OpenVINO", "openvino"

    def unavailable(self, device: torch.device) -> str | None:
        if device.type != "cpu":
            return f"OpenVINO's CPU plugin is used here; the comparison runs on {device}"
        return super().unavailable(device) or (
            "onnx is not installed (pip install onnx)" if importlib.util.find_spec("onnx") is None else None
        )

    def precisions(self, device: torch.device) -> tuple[str, ...]:
        import openvino as ov

        caps = ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")
        offered = ["fp32"]
        if "BF16" in caps:
            offered.append("bf16")
        if "INT8" in caps and importlib.util.find_spec("onnxruntime") is not None:
            offered.append("int8")  # the int8 graph comes from ONNX Runtime's quantiser
        return tuple(offered)

    def prepare(self, ctx: Context, precision: str) -> Prepared:
        import openvino as ov

        data = ctx.onnx_int8() if precision == "int8" else ctx.onnx()
        hint = "bf16" if precision == "bf16" else "f32"
        config = {"INFERENCE_PRECISION_HINT": hint, "INFERENCE_NUM_THREADS": ctx.threads, "PERFORMANCE_HINT": "LATENCY"}
        compiled = ov.Core().compile_model(ov.convert_model(io.BytesIO(data)), "CPU", config)
        req = compiled.create_infer_request()

        def run(x: torch.Tensor) -> np.ndarray:
            req.infer({0: x.numpy()}, share_inputs=True)
            return req.get_output_tensor(0).data

        got = compiled.get_property("INFERENCE_PRECISION_HINT")
        got = got.get_type_name() if hasattr(got, "get_type_name") else str(got)
        n = compiled.get_property("INFERENCE_NUM_THREADS")
        notes = [f"INFERENCE_PRECISION_HINT={got}, INFERENCE_NUM_THREADS={n}, PERFORMANCE_HINT=LATENCY"]
        if precision == "int8":
            notes.append(f"ONNX Runtime's QDQ int8 graph ({_int8_note()}); what is not quantised runs in f32")
        return Prepared(run, notes=notes)


BACKENDS: dict[str, Backend] = {b.name: b for b in (Eager(), Fast(), Compile(), OnnxRuntime(), OpenVino())}


def get_backend(name: str) -> Backend:
    if name not in BACKENDS:
        raise ValueError(f"unknown backend '{name}' (backends: {', '.join(BACKENDS)})")
    return BACKENDS[name]
