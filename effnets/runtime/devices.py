"""Which device and precision to run on, and what a measurement depends on: the devices this machine has (and why
one is missing), their names, the precisions each supports (probed once), and the environment a timing carries."""

from __future__ import annotations

import contextlib
import functools
import platform
from dataclasses import dataclass

import torch

from effnets.report import plural

DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")
PRECISIONS: dict[str, torch.dtype] = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


# ----- devices ----------------------------------------------------------------------------------------------------


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def _cuda_absent_reason() -> str:
    if torch.version.cuda is None:
        return "this PyTorch build has no CUDA support (a CPU-only wheel)"
    return "PyTorch was built with CUDA but sees no GPU (no driver, or CUDA_VISIBLE_DEVICES hides it)"


def available_devices() -> dict[str, str | None]:
    """For each of cpu, cuda, mps: None if usable here, else the reason why not."""
    mps = getattr(torch.backends, "mps", None)
    if _mps_available():
        mps_reason = None
    elif mps is not None and mps.is_built():
        mps_reason = "PyTorch has MPS support but this machine has no usable Apple GPU (macOS 12.3+ needed)"
    else:
        mps_reason = "Apple's Metal (MPS) backend exists only on Apple-silicon Macs"
    return {
        "cpu": None,
        "cuda": None if torch.cuda.is_available() else _cuda_absent_reason(),
        "mps": mps_reason,
    }


def device_name(device: torch.device | str, threads: int | None = None) -> str:
    """Human name of a device ("NVIDIA H100 80GB HBM3", "CPU (x86_64, 2 threads)", "Apple MPS"); a CPU's with
    ``threads`` (default: torch's current count), the count a measurement runs at."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    if device.type == "mps":
        return "Apple MPS"
    n = torch.get_num_threads() if threads is None else int(threads)
    return f"CPU ({platform.machine() or 'unknown'}, {plural(n, 'thread')})"


def pick_device(pref: str = "auto") -> tuple[torch.device, str]:
    """The device to run on, and a sentence saying why.

    Args:
        pref: "auto" (CUDA if present, else Apple MPS, else CPU), or "cpu", "cuda", "cuda:N", "mps".

    Raises:
        ValueError: an unknown name, or a device that is not available here (the message says why).
    """
    pref = (pref or "auto").strip().lower()
    absent = available_devices()
    if pref == "auto":
        if absent["cuda"] is None:
            dev = torch.device("cuda", torch.cuda.current_device())
            return dev, f"auto: CUDA GPU found ({device_name(dev)})"
        if absent["mps"] is None:
            return torch.device("mps"), "auto: no CUDA GPU; Apple GPU (MPS) found"
        return torch.device("cpu"), "auto: no CUDA GPU or Apple GPU (MPS) here, so the CPU"
    kind, _, index = pref.partition(":")
    if kind not in ("cpu", "cuda", "mps") or (index and (kind != "cuda" or not index.isdigit())):
        raise ValueError(f"device '{pref}' is not one of {', '.join(DEVICE_CHOICES)} (or cuda:N)")
    if absent[kind] is not None:
        raise ValueError(f"device '{pref}' is not available here: {absent[kind]}. Use 'auto' or 'cpu'.")
    if kind == "cuda":
        i = int(index) if index else torch.cuda.current_device()
        if i >= torch.cuda.device_count():
            raise ValueError(f"device '{pref}' does not exist: this machine has {torch.cuda.device_count()} GPU(s)")
        dev = torch.device("cuda", i)
        return dev, f"requested: CUDA GPU {i} ({device_name(dev)})"
    return torch.device(kind), f"requested: {device_name(kind)}"


@functools.cache
def cpu_model() -> str:
    """This machine's processor as the OS names it ("AMD EPYC 9B14", "Intel(R) Xeon(R) Platinum 8481C CPU"), or ""
    where it does not say: a CPU timing or device card depends on it, not only on the architecture."""
    with contextlib.suppress(OSError), open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key.strip().lower() in ("model name", "hardware", "cpu model") and (name := " ".join(value.split())):
                return name[:120]
    return " ".join((platform.processor() or "").split())[:120]


def environment(device: torch.device | str) -> dict[str, str | int | None]:
    """What a timing depends on, to print beside every figure: device, threads, library versions."""
    device = torch.device(device)
    env: dict[str, str | int | None] = {
        "device": str(device),
        "device_name": device_name(device),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
    if device.type == "cpu" and cpu_model():
        env["processor"] = cpu_model()
    if device.type == "cuda":
        env["cuda"] = torch.version.cuda
        env["cudnn"] = torch.backends.cudnn.version()
    return env


# ----- precisions -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PrecisionSupport:
    """Whether a precision can be used on a device, and why (not)."""

    precision: str
    supported: bool
    reason: str


def _probe(device: torch.device, dtype: torch.dtype) -> str | None:
    """Run the ops of a mobile CNN in ``dtype`` on ``device``; None if they run and agree with fp32, else why not."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(1, 8, 12, 12, generator=g)
    w1 = torch.randn(16, 8, 3, 3, generator=g) * 0.2
    w2 = torch.randn(16, 1, 3, 3, generator=g) * 0.3
    fc = torch.randn(10, 16, generator=g) * 0.3
    bn = (torch.randn(16, generator=g), torch.rand(16, generator=g) + 0.5, torch.ones(16), torch.zeros(16))

    def net(x, w1, w2, fc, mean, var, weight, bias):
        y = torch.nn.functional.conv2d(x, w1, padding=1, stride=2)
        y = torch.nn.functional.batch_norm(y, mean, var, weight, bias, False, 0.0, 1e-3)
        y = torch.nn.functional.relu6(y)
        y = torch.nn.functional.conv2d(torch.nn.functional.pad(y, (0, 1, 0, 1)), w2, groups=16)
        y = torch.nn.functional.silu(y) * torch.sigmoid(y.mean((2, 3), keepdim=True))
        return torch.nn.functional.linear(y.mean((2, 3)), fc).softmax(-1)

    args = (x, w1, w2, fc, *bn)
    ref = net(*args)
    try:
        with torch.inference_mode():
            out = net(*(a.to(device=device, dtype=dtype) for a in args))
            out = out.float().cpu()
    except (RuntimeError, TypeError, NotImplementedError) as e:
        return f"{str(e).splitlines()[0][:120]}"
    if not torch.isfinite(out).all() or (out - ref).abs().max() > 0.05:
        return f"it runs but gives wrong results (max error {(out - ref).abs().max():.3g})"
    return None


def _cpu_bf16_note() -> str:
    """Whether this CPU has bfloat16 arithmetic; without it PyTorch converts and runs slower than float32."""
    native = False
    for probe in ("_is_avx512_bf16_supported", "_is_amx_tile_supported"):
        f = getattr(torch.cpu, probe, None)
        with contextlib.suppress(Exception):  # private probes: absent or failing on some builds
            native = native or bool(f and f())
    if native:
        return "bfloat16 runs natively on this CPU (AVX512-BF16 or AMX)"
    return (
        "bfloat16 runs on this CPU but without AVX512-BF16 or AMX it is emulated: expect it to be several times "
        "slower than fp32 (useful to see the accuracy effect, not for speed)"
    )


@functools.cache
def _precision_support(device_str: str) -> tuple[PrecisionSupport, ...]:
    device = torch.device(device_str)
    rows = [PrecisionSupport("fp32", True, "float32: supported everywhere, the reference")]
    if device.type == "cuda":
        rows.append(PrecisionSupport("fp16", True, "float16 on CUDA: tensor cores on Volta and newer"))
        major, minor = torch.cuda.get_device_capability(device)
        if torch.cuda.is_bf16_supported(including_emulation=False):
            rows.append(PrecisionSupport("bf16", True, f"bfloat16: native on compute capability {major}.{minor}"))
        else:
            rows.append(
                PrecisionSupport(
                    "bf16", False, f"bfloat16 needs compute capability 8.0 (Ampere); this GPU is {major}.{minor}"
                )
            )
    elif device.type == "mps":
        rows.append(PrecisionSupport("fp16", True, "float16 on the Apple GPU"))
        why = _probe(device, torch.bfloat16)
        rows.append(
            PrecisionSupport(
                "bf16",
                why is None,
                "bfloat16 runs on this Apple GPU" if why is None else f"bfloat16 failed here: {why}",
            )
        )
    else:
        rows.append(
            PrecisionSupport(
                "fp16",
                False,
                "float16 is not offered on the CPU: most CPUs have no float16 arithmetic, PyTorch would convert every "
                "operation and run slower than float32; try bf16",
            )
        )
        why = _probe(device, torch.bfloat16)
        if why is None:
            rows.append(PrecisionSupport("bf16", True, _cpu_bf16_note()))
        else:
            rows.append(PrecisionSupport("bf16", False, f"bfloat16 does not run on this CPU build: {why}"))
    return tuple(rows)


def precision_support(device: torch.device | str) -> list[PrecisionSupport]:
    """fp32, fp16 and bf16 on ``device``: supported or not, with the reason (probed once per device)."""
    return list(_precision_support(str(torch.device(device))))


def supported_precisions(device: torch.device | str) -> list[str]:
    """The precisions that can be chosen on ``device`` ("fp32" always first)."""
    return [p.precision for p in precision_support(device) if p.supported]


def check_precision(device: torch.device | str, precision: str) -> None:
    """Raise ValueError unless ``precision`` is known and supported on ``device`` (the message says why not)."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision '{precision}' is not one of {', '.join(PRECISIONS)}")
    support = {p.precision: p for p in precision_support(device)}
    if not support[precision].supported:
        raise ValueError(
            f"precision '{precision}' is not available on {torch.device(device)}: {support[precision].reason}"
        )
