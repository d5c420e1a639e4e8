"""EfficientNet-Lite0 inference, four ways, timed in one run and interleaved (A B C D A B C D ...):

(a) reference: the plain effnets Lite0 module as the original author structured it: TensorFlow 'SAME' padding
    computed at every call (a separate pad before each kxk conv), BN unfused, NCHW, eval, ``torch.no_grad``.
    It computes the packaged checkpoint's function, as a port of the TF model would.
(b) fast path (:func:`fastpath.fast_model`): BN folded, static padding, channels_last (on CPUs 1x1 convs as
    GEMMs), ``torch.inference_mode``; no compile.
(c) the same with ``torch.compile`` (compile time reported on its own, never in the latency).
(d) ONNX Runtime on the reference exported with ``torch.onnx.export`` (ORT folds BN and fuses itself); same thread
    count as torch.

Every variant gets the same input and the same number of threads. For each thread count asked for, the four are timed
in interleaved rounds after a warm-up (:func:`effnets.runtime.bench.run_interleaved`); the table gives median, p10, p90,
images/s and the ratio of each median to (a)'s. The outputs are checked against (a) first (max |logit difference|,
same top-5). The load average before and after is printed: on a small shared machine another process can slow
everything, and the interleaving keeps the comparison fair when it does. With as many torch threads as cores and
another busy process, OpenMP's threads wait for each other and an op-heavy model can be many times slower (the
2-thread table then mostly measures the neighbours); the 1-thread table is the robust one there.

Run: python3 benchmarks/inference.py [--device cpu|cuda] [--batch 1] [--resolution 224] [--threads 1,2]
     [--repeats 40] [--warmup 5] [--precision fp32] [--no-compile] [--no-onnx]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
warnings.filterwarnings("ignore")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from effnets.runtime import bench, devices, fastpath, inference, weights  # noqa: E402

TARGET = 0.7
MODEL = "efficientnet_lite0"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def load() -> str:
    try:
        return " ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        return "n/a"


def check(label: str, got: torch.Tensor, ref: torch.Tensor) -> str:
    diff = (got.float().cpu() - ref.float().cpu()).abs().max().item()
    same = torch.equal(got.float().cpu().topk(5).indices, ref.float().cpu().topk(5).indices)
    return f"  {label:<28} max |logit diff| {diff:.2e}, top-5 {'identical' if same else 'DIFFERENT'}"


def onnx_session(model: torch.nn.Module, x: torch.Tensor, threads: int, device: torch.device, path: Path):
    """(session, input name, reason): an ORT session on the exported model, or None and why not."""
    try:
        import onnxruntime as ort
    except ImportError as e:
        return None, None, f"onnxruntime is not installed ({e})"
    if not path.exists():
        try:
            cpu_model_ = model.float().cpu() if device.type != "cpu" else model
            torch.onnx.export(
                cpu_model_,
                (x.float().cpu(),),
                str(path),
                input_names=["x"],
                output_names=["logits"],
                opset_version=17,
                dynamo=False,
            )
        except Exception as e:  # the exporters raise many types
            return None, None, f"torch.onnx.export failed: {type(e).__name__}: {str(e).splitlines()[0][:160]}"
    providers = ["CPUExecutionProvider"]
    if device.type == "cuda":
        if "CUDAExecutionProvider" not in ort.get_available_providers():
            return None, None, "this onnxruntime has no CUDAExecutionProvider (pip install onnxruntime-gpu)"
        providers = ["CUDAExecutionProvider"]
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    sess = ort.InferenceSession(str(path), so, providers=providers)
    return sess, sess.get_inputs()[0].name, None


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--resolution", type=int, default=224)
    p.add_argument("--threads", default="1,2", help="comma-separated CPU thread counts to run the comparison with")
    p.add_argument("--repeats", type=int, default=40, help="timed rounds")
    p.add_argument("--warmup", type=int, default=5, help="untimed rounds first")
    p.add_argument("--precision", default="fp32", choices=list(devices.PRECISIONS))
    p.add_argument("--no-compile", action="store_true", help="skip (c)")
    p.add_argument("--no-onnx", action="store_true", help="skip (d)")
    args = p.parse_args(argv)
    device, why = devices.pick_device(args.device)
    thread_counts = [int(t) for t in args.threads.split(",") if t.strip()]
    dtype = devices.PRECISIONS[args.precision]

    base, status = weights.load_model(MODEL)
    ref = inference.prepare(base, device, args.precision)  # eval, device, precision; TF padding and BN as they are
    g = torch.Generator().manual_seed(0)
    x_cpu = torch.randn(args.batch, 3, args.resolution, args.resolution, generator=g)
    x = x_cpu.to(device=device, dtype=dtype)
    channels_last = True

    print(
        f"{MODEL} ({status.status} weights), batch {args.batch}, {args.resolution}x{args.resolution}, {args.precision}"
    )
    print(f"device: {device} ({why}); CPU: {cpu_model()}, {os.cpu_count()} cores")
    print(
        f"torch {torch.__version__}, python {platform.python_version()}, interop threads "
        f"{torch.get_num_interop_threads()}",
        end="",
    )
    try:
        import onnxruntime as ort

        print(f", onnxruntime {ort.__version__}")
    except ImportError:
        print(", onnxruntime not installed")
    print(f"rounds: {args.warmup} warm-up + {args.repeats} timed, interleaved; load average before: {load()}")

    def reference() -> torch.Tensor:
        with torch.no_grad():
            return ref(x)

    with torch.no_grad():
        want = ref(x)
    tmp = Path(tempfile.mkdtemp(prefix="effnets-bench-"))
    onnx_path = tmp / "lite0.onnx"
    summary = []
    for threads in thread_counts:
        with bench.num_threads(threads):
            head = f"torch.set_num_threads({threads}), ORT intra_op_num_threads={threads}"
            print(f"\n=== {threads} thread(s): {head} ===")
            variants = [bench.Variant("(a) reference eager", reference, args.batch, precision=args.precision)]
            fast, info = fastpath.fast_model(
                base, x_cpu, channels_last=channels_last, device=device, precision=args.precision
            )
            print(
                f"  fast path: {info.folded_bn} BN folded, {info.pads_into_conv} pads into convs "
                f"({info.grown_kernels} by growing a depthwise kernel), {info.static_pads} static pads, "
                f"{info.pointwise_matmuls} 1x1 convs as GEMMs, channels_last={info.channels_last}"
            )
            variants.append(
                bench.Variant(
                    "(b) fast path",
                    lambda f=fast: f(x),
                    args.batch,
                    precision=args.precision,
                    channels_last=channels_last,
                )
            )
            outputs = {"(b) fast path": fast(x)}
            if not args.no_compile:
                try:
                    compiled, cinfo = fastpath.fast_model(
                        base, x_cpu, channels_last=channels_last, device=device, precision=args.precision, compile=True
                    )
                    print(
                        f"  torch.compile: first call (compilation) took {cinfo.compile_s:.1f} s, not in the timings "
                        "(a repeat run reuses inductor's on-disk cache and compiles faster)"
                    )
                    variants.append(
                        bench.Variant(
                            "(c) fast path + compile",
                            lambda f=compiled: f(x),
                            args.batch,
                            compile_s=cinfo.compile_s,
                            precision=args.precision,
                            channels_last=channels_last,
                        )
                    )
                    outputs["(c) fast path + compile"] = compiled(x)
                except Exception as e:  # inductor needs a C++ compiler; report and go on
                    print(f"  (c) skipped: torch.compile failed: {type(e).__name__}: {str(e).splitlines()[0][:160]}")
            if not args.no_onnx:
                if args.precision != "fp32":
                    print("  (d) skipped: the ONNX comparison runs in fp32 only")
                else:
                    sess, name, reason = onnx_session(base, x_cpu, threads, device, onnx_path)
                    if sess is None:
                        print(f"  (d) skipped: {reason}")
                    else:
                        x_np = x_cpu.numpy()
                        variants.append(
                            bench.Variant(
                                "(d) ONNX Runtime", lambda s=sess, n=name, a=x_np: s.run(None, {n: a}), args.batch
                            )
                        )
                        outputs["(d) ONNX Runtime"] = torch.from_numpy(sess.run(None, {name: x_np})[0])
            for label, out in outputs.items():
                print(check(label, out, want))
            run = bench.run_interleaved(variants, device=device, warmup=args.warmup, repeats=args.repeats)
            ratios = run.ratios("(a) reference eager")
            print(f"  {'variant':<26} {'median ms':>10} {'p10':>8} {'p90':>8} {'img/s':>8} {'vs (a)':>7}")
            for r in run.results:
                print(
                    f"  {r.label:<26} {r.median_ms:>10.2f} {r.p10_ms:>8.2f} {r.p90_ms:>8.2f} {r.images_per_s:>8.1f} "
                    f"{ratios[r.label]:>6.2f}x"
                )
            fast_ratio = ratios["(b) fast path"]
            summary.append((threads, fast_ratio))
            verdict = "met" if fast_ratio <= TARGET else "NOT met"
            print(f"  fast path without compile / reference = {fast_ratio:.2f} (target <= {TARGET}): {verdict}")
    print(f"\nload average after: {load()}")
    for threads, r in summary:
        print(f"{threads} thread(s): fast path / reference = {r:.2f} ({'met' if r <= TARGET else 'NOT met'})")
    for f in tmp.iterdir():
        f.unlink()
    tmp.rmdir()
    return 0 if all(r <= TARGET for _, r in summary) else 1


if __name__ == "__main__":
    np.set_printoptions(precision=3)
    sys.exit(main())
