"""Two networks timed side by side for the diff: both built with random weights (latency does not depend on the
weights' values on the eager path), timed interleaved on one device, with the difference in latency beside the
difference in MACs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from effnets.networks import diff as diffs
from effnets.networks import sources
from effnets.runtime import bench, bench_networks


@dataclass(frozen=True)
class PairTiming:
    a: bench.BenchResult
    b: bench.BenchResult
    partial: bool
    environment: dict[str, Any]

    @property
    def latency_ms(self) -> tuple[float, float] | None:
        if self.a.median_ms is None or self.b.median_ms is None:
            return None
        return self.a.median_ms, self.b.median_ms

    def rows(self) -> list[dict[str, Any]]:
        return [
            {"network": side, "name": r.label, "median (ms)": r.median_ms, "p10 (ms)": r.p10_ms,
             "p90 (ms)": r.p90_ms, "images/s": r.images_per_s}
            for side, r in (("A", self.a), ("B", self.b))
        ]  # fmt: skip


def measure_pair(
    ref_a: str,
    ref_b: str,
    *,
    device: torch.device | str = "cpu",
    precision: str = "fp32",
    batch: int = 1,
    warmup: int = 2,
    repeats: int = 10,
    progress: bench.Progress = None,
    stop: bench.StopSignal = None,
) -> PairTiming:
    """Both networks' eager forward at their own input size, interleaved (A B A B ...) on ``device``."""
    variants = []
    for side, ref in (("A", ref_a), ("B", ref_b)):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            module, report = sources.build_module(ref)
        x = torch.randn(batch, *report.input_shape, generator=torch.Generator().manual_seed(0))
        variants.append(
            bench_networks.prepared_variant(
                module,
                x,
                label=report.name,
                device=device,
                precision=precision,
                eager=True,
                macs_per_sample=report.macs,
                config={"kind": "diff", "side": side, "ref": ref[:200]},
            )  # fmt: skip
        )
    run = bench.run_interleaved(variants, device=device, warmup=warmup, repeats=repeats, progress=progress, stop=stop)
    a, b = run.results
    return PairTiming(a, b, run.partial, dict(a.environment))


def latency_sentence(d: diffs.Diff, t: PairTiming) -> str:
    """The measured difference beside the counted one: FLOPs are not latency."""
    if t.latency_ms is None:
        return "Stopped before both networks were timed."
    la, lb = t.latency_ms
    mac = d.b.macs / d.a.macs if d.a.macs else float("nan")
    return (
        f"B takes **{lb:.2f} ms** against A's **{la:.2f} ms** ({lb - la:+.2f} ms, {lb / la:.2f}×) for "
        f"{mac:.2f}× A's MACs, eager, {t.environment.get('device_name', t.environment.get('device', ''))}. "
        + ("The time ratio is close to the MACs ratio." if abs(lb / la - mac) < 0.15 * mac
           else "The time ratio is not the MACs ratio: memory traffic, kernel launches and how well each layer "
                "uses the hardware differ between the two.")
    )  # fmt: skip
