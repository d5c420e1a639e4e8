"""What the Network Inspector page shows for any network (a torchvision or timm name, an ONNX file, a diff of two
references): the headline, the stage and layer tables with each extras line, and the notes."""

from __future__ import annotations

from typing import Any

from effnets.networks.report import NetworkReport
from effnets.report import Metric, human, human_bytes

EXAMPLES = ("torchvision:resnet50", "torchvision:mobilenet_v3_large", "timm:convnext_atto", "timm:ghostnet_100",
            "timm:efficientnetv2_rw_s", "timm:mobilenetv4_conv_medium")  # fmt: skip


STAGES_CAPTION = (
    "MACs count conv and linear multiply-accumulates; each '+' column is an extras line (batch norm, activations, "
    "element-wise, pooling ...), one per element, as on every effnets page."
)
DIFF_CAPTION = (
    "Stages pair up by name where both networks have it (a design and where it started, two presets of a family), "
    "by position otherwise; Δ is B − A. *Measure both* below times them on this server."
)


def headline(r: NetworkReport, counting: Any) -> list[Metric]:
    """Params, the counted work (conv/linear MACs plus the ticked extras lines), activation memory, output."""
    work = (r.macs + sum(r.extras.get(k, 0) for k in counting.extras)) * counting.factor
    return [
        Metric("Params", human(r.params), f"{r.params:,} learnable parameters (each shared one counted once)"),
        Metric(counting.name, human(work), f"{work:,}: {counting.what}"),
        Metric("Activations", human_bytes(4 * r.acts), f"{r.acts:,} conv/linear output elements, float32"),
        Metric("Input", "×".join(map(str, r.input_shape)), "C × H × W it was counted at (batch 1)"),
        Metric("Output", "×".join(map(str, r.output_shape)), "the output's shape without the batch"),
    ]


def stage_rows(r: NetworkReport, counting: Any) -> list[dict[str, Any]]:
    extras = [k for k in r.extras if r.extras[k]]
    return [
        {
            "stage": s.name,
            "operator": s.operator,
            "layers": s.layers,
            "output": "×".join(map(str, s.output_shape)),
            "params": s.params,
            counting.name: s.macs * counting.factor,
            "share of MACs": s.macs / r.macs if r.macs else 0.0,
            "activation memory": human_bytes(4 * s.acts),
            **{f"+ {k}": s.extras.get(k, 0) for k in extras},
        }
        for s in r.stages
    ]


def layer_rows(r: NetworkReport, stage: str | None = None) -> list[dict[str, Any]]:
    extras = [k for k in r.extras if r.extras[k]]
    return [
        {
            "layer": row.name,
            "op": row.op,
            "kind": row.kind,
            "stage": row.stage,
            "output": "×".join(map(str, row.output_shape)),
            "params": row.params,
            "MACs": row.macs,
            **{f"+ {k}": row.extras.get(k, 0) for k in extras},
        }
        for row in r.layers
        if stage is None or row.stage == stage
    ]


def diff_rows(d: Any) -> list[dict[str, Any]]:
    out = []
    for row in d.rows:
        out.append(
            {
                "A": f"{row.a.name}: {row.a.operator}" if row.a else "—",
                "B": f"{row.b.name}: {row.b.operator}" if row.b else "—",
                "params A": row.a.params if row.a else 0,
                "params B": row.b.params if row.b else 0,
                "Δ params": row.delta("params"),
                "MACs A": row.a.macs if row.a else 0,
                "MACs B": row.b.macs if row.b else 0,
                "Δ MACs": row.delta("macs"),
                "Δ activations": row.delta("acts"),
            }
        )
    return out


def diff_headline(d: Any) -> list[Metric]:
    def ratio(a: int, b: int) -> str | None:
        return f"{b / a:.2f}× A" if a else None

    return [
        Metric("Δ params", f"{d.total('params'):+,}", f"B − A: {d.b.params:,} − {d.a.params:,}",
               ratio(d.a.params, d.b.params)),
        Metric("Δ MACs", f"{d.total('macs'):+,}", f"B − A: {d.b.macs:,} − {d.a.macs:,}", ratio(d.a.macs, d.b.macs)),
        Metric("Δ activations", human_bytes(abs(4 * d.total("acts"))) if d.total("acts") >= 0
               else "−" + human_bytes(-4 * d.total("acts")), "B − A, conv/linear outputs in float32"),
    ]  # fmt: skip


def timing_sentence(t: dict[str, Any]) -> str:
    """One ONNX Runtime timing of an uploaded file, with where and how it was measured."""
    import datetime

    when = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    return (
        f"**{t['median_ms']:.2f} ms** median per forward (p10 {t['p10_ms']:.2f}, p90 {t['p90_ms']:.2f} ms) at "
        f"{'×'.join(map(str, t['input_shape']))}, {t['precision']}, measured for you on this server's CPU at {when} "
        f"with {t['engine']}, {t['threads'] or 'all'} threads. Other sessions on the server can add to it."
    )


def registered_twin(ref: str) -> str | None:
    """The registered effnets network a 'torchvision:'/'timm:' name builds exactly at its preset (so the Network
    Builder and the Scaling Lab can scale it), or None (then only the resolution applies)."""
    from effnets.networks import external
    from effnets.spec import SpecError

    try:
        library, name = external.parse_name(ref)
    except SpecError:
        return None
    twin = external.reference_of(library, name)
    return twin[0] if twin and not twin[1] else None
