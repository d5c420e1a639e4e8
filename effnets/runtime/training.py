"""Running a training step and watching its memory: forward, loss, backward and an optimizer step on any module, a
timeline of the bytes alive after every aten op over the three phases (on any device, the meta device included), the
tensors kept for the backward pass, and a measured step time against the same model's inference, interleaved.

How the timeline is recorded (:func:`memory_timeline`). A ``TorchDispatchMode`` sees every aten op of the step,
the backward's included (autograd runs them through the same dispatcher). Each output's *storage* is registered the
first time it appears, with its size and a ``weakref.finalize`` that logs its release: a view or an in-place op
returns a storage already registered, so nothing is counted twice, and a tensor dies when its last view does (a
storage's Python object lives as long as the storage itself, so the finalizer fires exactly then). Parameters,
buffers, the optimizer's state and the batch exist before the step and are registered first. After the step every
storage gets its category (:data:`CATEGORIES`): the ones ``param.grad`` holds are the gradients, the ones the
``saved_tensors_hooks`` pack hook saw are the activations kept for backward, the rest are temporaries (the gradient
flowing backward, the logits, workspace). The log is replayed to give bytes alive per category after every op.

The recorded step is the second one: the first creates the optimizer's state (SGD's momentum, Adam's two moments),
then ``zero_grad(set_to_none=True)`` frees the gradients, as in a training loop's steady state. On a CUDA device the
allocator's own figures (``torch.cuda.memory_allocated`` after every op, ``max_memory_allocated`` per phase) are
recorded beside the tracked tensors: the gap is the allocator's rounding and the workspace kernels take inside an op.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten
from torch.utils.module_tracker import ModuleTracker

from effnets.runtime import bench, timing

OPTIMIZERS = {
    "sgd": "SGD with momentum 0.9 (one momentum buffer per parameter: 1x the parameters)",
    "adam": "Adam (two moments per parameter, exp_avg and exp_avg_sq, plus a step count: 2x the parameters)",
}
LR = 1e-4
"""Small on purpose: the weights barely move while a step is timed on random labels (no overflow, no NaNs that slow
a CPU down); the arithmetic of a step does not depend on the learning rate."""
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
CATEGORIES = ("parameters", "gradients", "optimizer state", "input batch", "saved for backward", "temporaries")
PHASES = ("forward", "backward", "optimizer")


def make_optimizer(params, name: str) -> torch.optim.Optimizer:
    """SGD (momentum 0.9) or Adam over ``params`` at :data:`LR`, torch's default implementation for the device (a
    loop over parameters off CUDA, the multi-tensor ``foreach`` one on CUDA)."""
    if name == "sgd":
        return torch.optim.SGD(params, lr=LR, momentum=0.9)
    if name == "adam":
        return torch.optim.Adam(params, lr=LR)
    raise ValueError(f"optimizer '{name}' is not one of: {', '.join(OPTIMIZERS)}")


@dataclass
class TrainingStep:
    """One training step of ``module`` on a fixed batch: cross-entropy on random labels for a classifier (an output
    of shape N x classes), the sum of the outputs for anything else (a block's feature map)."""

    module: nn.Module
    x: torch.Tensor
    optimizer: torch.optim.Optimizer
    labels: torch.Tensor | None = None
    optimizer_name: str = "sgd"

    @property
    def loss_name(self) -> str:
        return "cross-entropy on random labels" if self.labels is not None else "sum of the outputs"

    def loss(self) -> torch.Tensor:
        out = self.module(self.x)
        if self.labels is not None:
            return nn.functional.cross_entropy(out, self.labels)
        return out.sum()

    def run(self) -> None:
        """zero_grad (gradients freed), forward and loss, backward, optimizer step."""
        self.optimizer.zero_grad(set_to_none=True)
        self.loss().backward()
        self.optimizer.step()


def make_step(
    module: nn.Module,
    input_shape: tuple[int, ...],
    batch: int,
    optimizer: str = "sgd",
    dtype: str = "float32",
    device: torch.device | str | None = None,
    seed: int = 0,
) -> TrainingStep:
    """``module`` in training mode on a random batch of ``batch`` x ``input_shape`` (on the module's device unless
    ``device``), with its optimizer. Labels are drawn when the output is a vector per image (a classifier).

    Raises:
        ValueError: batch below 2 (training-mode batch norm needs two values per channel), an unknown dtype or
            optimizer.
    """
    if batch < 2:
        raise ValueError(f"batch {batch} must be at least 2: batch norm in training mode needs two values per channel")
    if dtype not in DTYPES:
        raise ValueError(f"dtype '{dtype}' is not one of: {', '.join(DTYPES)}")
    dev = torch.device(device) if device is not None else _device_of(module)
    module = module.to(device=dev, dtype=DTYPES[dtype]).train()
    g = torch.Generator().manual_seed(seed)
    if dev.type == "meta":
        x = torch.empty((batch, *input_shape), device=dev, dtype=DTYPES[dtype])
    else:
        x = torch.randn((batch, *input_shape), generator=g).to(dev, DTYPES[dtype])
    with torch.no_grad():
        probe = module(x[:2])  # batch norm in training mode needs at least two values per channel
    labels = torch.randint(0, probe.shape[1], (batch,), generator=g).to(dev) if probe.dim() == 2 else None
    return TrainingStep(module, x, make_optimizer(module.parameters(), optimizer), labels, optimizer)


def _device_of(module: nn.Module) -> torch.device:
    for t in list(module.parameters()) + list(module.buffers()):
        return t.device
    return torch.device("cpu")


# ----- the timeline of live storages --------------------------------------------------------------------------------


def _storage(t: torch.Tensor):
    return t.untyped_storage()


class _StorageLog(TorchDispatchMode):
    """Registers every storage the ops create and logs its release (see the module docstring)."""

    def __init__(self, tracker: ModuleTracker, cuda: torch.device | None) -> None:
        super().__init__()
        self.tracker, self.cuda = tracker, cuda
        self.uid_of: dict[int, int] = {}  # StorageImpl address -> allocation id, for live storages
        self.nbytes: list[int] = []  # allocation id -> bytes
        self.events: list[tuple[int, int, int]] = []  # (record index, allocation id, +bytes or -bytes)
        self.records: list[tuple[str, str, str]] = []  # (op, phase, module) after every op
        self.allocated: list[int] = []  # CUDA allocator bytes after every op
        self.made_by: list[str] = []  # allocation id -> the op that created it ("" for tensors made before the step)
        self.saver: dict[int, str] = {}  # allocation id -> the module whose forward saved it first ("" outside one)
        self.phase = "setup"
        self._finalizers: list[weakref.finalize] = []
        self.packs = 0

    def module(self) -> str:
        parents = [p for p in self.tracker.parents if p != "Global"]
        return max(parents, key=lambda p: p.count(".")) if parents else ""

    def register(self, t: torch.Tensor, op: str = "") -> int:
        st = _storage(t)
        key = st._cdata
        uid = self.uid_of.get(key)
        if uid is None:
            uid = len(self.nbytes)
            self.uid_of[key] = uid
            self.nbytes.append(st.nbytes())
            self.made_by.append(op)
            self.events.append((len(self.records), uid, self.nbytes[uid]))
            self._finalizers.append(weakref.finalize(st, self._release, key, uid))
        return uid

    def _release(self, key: int, uid: int) -> None:
        if self.uid_of.get(key) == uid:
            del self.uid_of[key]
        self.events.append((len(self.records), uid, -self.nbytes[uid]))

    def close(self) -> None:
        for f in self._finalizers:
            f.detach()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        op = str(func.overloadpacket.__name__)
        for t in tree_flatten(out)[0]:
            if isinstance(t, torch.Tensor):
                self.register(t, op)
        self.records.append((op, self.phase, self.module()))
        if self.cuda is not None:
            self.allocated.append(torch.cuda.memory_allocated(self.cuda))
        return out

    def pack(self, t: torch.Tensor) -> torch.Tensor:
        self.packs += 1
        uid = self.register(t)
        self.saver.setdefault(uid, self.module())
        return t


@dataclass(frozen=True)
class Timeline:
    """Bytes alive after every op of a steady-state training step.

    Attributes:
        ops, phases, modules: per op, its aten name, its phase (forward, backward, optimizer) and the deepest module
            it ran in (from ``torch.utils.module_tracker``'s hooks: exact in the forward, approximate in the
            backward, where a module's backward hook fires when its gradients are ready; "" in the optimizer).
        bytes_by_category: for each of :data:`CATEGORIES`, the bytes alive after every op.
        baseline: bytes alive before the step by category (parameters and buffers, optimizer state, the batch).
        saved: bytes saved for backward (deduplicated by storage) by the kind of layer whose forward saved them first
            (the module class; "the loss" outside the network), copies autograd made for in-place ops apart.
        saved_tensors: how many tensors the pack hook saw; saved_storages: how many distinct storages they held.
        allocator: on CUDA, ``torch.cuda.memory_allocated`` after every op; allocator_peaks: the allocator's peak per
            phase (``max_memory_allocated``); both empty elsewhere.
        optimizer, loss, device, dtype, batch: what was run.
    """

    ops: list[str]
    phases: list[str]
    modules: list[str]
    bytes_by_category: dict[str, list[int]]
    baseline: dict[str, int]
    saved: dict[str, int]
    saved_tensors: int
    saved_storages: int
    optimizer: str
    loss: str
    device: str
    dtype: str
    batch: int
    allocator: list[int] = field(default_factory=list)
    allocator_peaks: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> list[int]:
        return [sum(v) for v in zip(*self.bytes_by_category.values(), strict=True)]

    @property
    def peak_index(self) -> int:
        tot = self.total
        return max(range(len(tot)), key=tot.__getitem__)

    @property
    def peak_bytes(self) -> int:
        return self.total[self.peak_index]

    def split_at(self, i: int) -> dict[str, int]:
        return {c: v[i] for c, v in self.bytes_by_category.items()}

    def phase_start(self, phase: str) -> int | None:
        return next((i for i, p in enumerate(self.phases) if p == phase), None)

    def peak(self) -> dict[str, Any]:
        """Where the peak is: op index, op, phase, module, bytes, and the split by category."""
        i = self.peak_index
        return {
            "index": i,
            "op": self.ops[i],
            "phase": self.phases[i],
            "module": self.modules[i],
            "bytes": self.total[i],
            "split": self.split_at(i),
        }

    def to_dict(self, series: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {
            "optimizer": self.optimizer,
            "loss": self.loss,
            "device": self.device,
            "dtype": self.dtype,
            "batch": self.batch,
            "ops_recorded": len(self.ops),
            "phase_starts": {p: self.phase_start(p) for p in PHASES},
            "baseline": dict(self.baseline),
            "peak": self.peak(),
            "saved_by_op": dict(self.saved),
            "saved_tensors": self.saved_tensors,
            "saved_storages": self.saved_storages,
            "allocator_peaks": dict(self.allocator_peaks),
        }
        if series:
            out["series"] = {"op": list(self.ops), "phase": list(self.phases), "bytes_alive": self.total}
            if self.allocator:
                out["series"]["cuda_allocated"] = list(self.allocator)
        return out


def _categorise(log: _StorageLog, step: TrainingStep, pre: dict[int, str]) -> dict[int, str]:
    grads = {log.uid_of.get(_storage(p.grad)._cdata) for p in step.module.parameters() if p.grad is not None}
    cat = {}
    for uid in range(len(log.nbytes)):
        if uid in pre:
            cat[uid] = pre[uid]
        elif uid in grads:
            cat[uid] = "gradients"
        elif uid in log.saver:
            cat[uid] = "saved for backward"
        else:
            cat[uid] = "temporaries"
    return cat


def _replay(log: _StorageLog, cat: dict[int, str]) -> dict[str, list[int]]:
    n = len(log.records)
    series = {c: [0] * n for c in CATEGORIES}
    live = dict.fromkeys(CATEGORIES, 0)
    events = sorted(log.events, key=lambda e: e[0])
    j = 0
    for i in range(n):
        while j < len(events) and events[j][0] <= i:
            _, uid, delta = events[j]
            live[cat[uid]] += delta
            j += 1
        for c in CATEGORIES:
            series[c][i] = live[c]
    return series


def memory_timeline(step: TrainingStep) -> Timeline:
    """Record a steady-state step of ``step`` (see the module docstring); on CUDA with the allocator's figures too."""
    dev = step.x.device
    cuda = dev if dev.type == "cuda" else None
    step.run()  # the first step creates the optimizer's state
    step.optimizer.zero_grad(set_to_none=True)
    tracker = ModuleTracker()
    log = _StorageLog(tracker, cuda)
    pre: dict[int, str] = {}
    pre_tensors = [
        *(("parameters", t) for t in [*step.module.parameters(), *step.module.buffers()]),
        *(("optimizer state", t) for s in step.optimizer.state.values() for t in s.values() if torch.is_tensor(t)),
        *(("input batch", t) for t in (step.x, step.labels) if t is not None),
    ]
    for c, t in pre_tensors:
        pre.setdefault(log.register(t), c)
    baseline = dict.fromkeys(CATEGORIES, 0)
    for uid, c in pre.items():
        baseline[c] += log.nbytes[uid]
    peaks: dict[str, int] = {}
    phases: list[tuple[str, Callable[[], Any]]] = []
    holder: dict[str, torch.Tensor] = {}
    phases.append(("forward", lambda: holder.__setitem__("loss", step.loss())))
    phases.append(("backward", lambda: holder.pop("loss").backward()))
    phases.append(("optimizer", step.optimizer.step))
    try:
        with tracker, log, torch.autograd.graph.saved_tensors_hooks(log.pack, lambda t: t):
            for name, fn in phases:
                log.phase = name
                if cuda is not None:
                    torch.cuda.synchronize(cuda)
                    torch.cuda.reset_peak_memory_stats(cuda)
                fn()
                if cuda is not None:
                    torch.cuda.synchronize(cuda)
                    peaks[name] = torch.cuda.max_memory_allocated(cuda)
        cat = _categorise(log, step, pre)
        series = _replay(log, cat)
    finally:
        log.close()
    root = type(step.module).__name__
    kinds = {f"{root}.{n}" if n else root: type(m).__name__ for n, m in step.module.named_modules()}
    saved: dict[str, int] = {}
    for uid, where in log.saver.items():
        if cat[uid] == "saved for backward":
            who = kinds.get(where, "the loss") if where else "the loss"
            if log.made_by[uid] == "clone":
                who += " (a copy autograd made for an in-place op)"
            saved[who] = saved.get(who, 0) + log.nbytes[uid]
    return Timeline(
        ops=[r[0] for r in log.records],
        phases=[r[1] for r in log.records],
        modules=[r[2] for r in log.records],
        bytes_by_category=series,
        baseline=baseline,
        saved=dict(sorted(saved.items(), key=lambda kv: -kv[1])),
        saved_tensors=log.packs,
        saved_storages=len(log.saver),
        optimizer=step.optimizer_name,
        loss=step.loss_name,
        device=str(dev),
        dtype=str(step.x.dtype).removeprefix("torch."),
        batch=int(step.x.shape[0]),
        allocator=list(log.allocated),
        allocator_peaks=peaks,
    )


# ----- measured step time -------------------------------------------------------------------------------------------


def time_step(
    step: TrainingStep,
    warmup: int = 2,
    repeats: int = 5,
    progress: bench.Progress = None,
    stop: bench.StopSignal = None,
) -> bench.BenchRun:
    """A training step (zero_grad, forward, loss, backward, optimizer step) against the same model's inference
    (eval mode, ``torch.inference_mode``) on the same batch, timed interleaved (:func:`bench.run_interleaved`), each
    call between two device synchronisations; median of ``repeats`` after ``warmup`` rounds."""
    module, x = step.module, step.x
    dev = x.device
    if dev.type == "meta":
        raise ValueError("a step on the meta device has no time: build the model on the CPU or a GPU to measure it")

    def train() -> None:
        module.train()
        step.run()

    def infer() -> None:
        module.eval()
        with torch.inference_mode():
            module(x)

    precision = {"float32": "fp32", "bfloat16": "bf16", "float16": "fp16"}[str(x.dtype).removeprefix("torch.")]
    res = int(x.shape[-1]) if x.dim() == 4 else None
    common = {"batch_size": int(x.shape[0]), "precision": precision, "resolution": res}
    variants = [
        bench.Variant("training step", train, config={"optimizer": step.optimizer_name, "loss": step.loss_name},
                      **common),
        bench.Variant("inference", infer, config={"path": "eager, eval, inference_mode"}, **common),
    ]  # fmt: skip
    try:
        return bench.run_interleaved(
            variants, device=dev, warmup=warmup, repeats=repeats, progress=progress, stop=stop, rotate=True
        )
    finally:
        module.train()
        timing.device_sync(dev)()
