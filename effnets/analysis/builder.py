"""What the Network Builder page shows: the design as an editable table (one line per row), the table back into a
design with a message naming the line that is wrong, the per-stage rows of a costed design, and its headline."""

from __future__ import annotations

import math
from typing import Any

from effnets.networks import arch, design
from effnets.networks.design import Design, DesignCost, Row
from effnets.report import Metric, human, human_bytes
from effnets.spec import SpecError

COLUMNS = ("stage", "type", "repeats", "out_channels", "stride", "kernel_size", "expand_ratio", "more")
"""The editable table's columns; 'more' holds every other setting as key:value,key:value."""
MAIN = ("out_channels", "stride", "kernel_size", "expand_ratio")
TYPES = (*design.BLOCKS, *design.LAYERS)

BLANK = "r224|conv(c:32,k:3,s:2,act:silu)|mbconv(c:16,e:1)|mbconv*2(c:24,s:2)|conv(c:1280,k:1,act:silu)/classifier"
"""A blank start: a stem, two small stages and a head, to edit from."""


def table_rows(d: Design) -> list[dict[str, Any]]:
    """One line per row of the design, for st.data_editor (stages numbered from 1): the main settings as text, blank
    where the row leaves them to the block's default (a number column would show a missing value as "None")."""
    out = []
    for i, st in enumerate(d.stages, 1):
        for r in st:
            s = r.settings
            more = ",".join(f"{k}:{arch._text(v)}" for k, v in s.items() if k not in MAIN)
            out.append(
                {
                    "stage": i,
                    "type": r.type,
                    "repeats": r.repeats,
                    **{k: "" if s.get(k) is None else arch._text(s[k]) for k in MAIN},
                    "more": more,
                }
            )
    return out


def _blank(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v)) or (isinstance(v, str) and not v.strip())


def from_table(rows: list[dict[str, Any]], resolution: int, in_channels: int = 3) -> Design:
    """The edited table as a design: lines grouped into stages by their stage number (in order of first
    appearance). Raises SpecError naming the line (1-based) that cannot be read."""
    stages: dict[int, list[Row]] = {}
    for n, line in enumerate(rows, 1):
        kind = line.get("type")
        if _blank(kind):
            raise SpecError(f"line {n}: choose a block or layer type")
        kind = str(kind)
        if kind not in TYPES:
            raise SpecError(f"line {n}: {design.unknown_type(kind)}", "type", kind)
        main = {k: _number(line.get(k)).strip() for k in MAIN if not _blank(line.get(k))}
        for k, v in main.items():
            try:
                float(v)
            except ValueError:
                raise SpecError(f"line {n}: {k} must be a number, not '{v[:20]}'", k, v) from None
        text = ",".join(f"{design.ALIAS_OF.get(k, k)}:{v}" for k, v in main.items())
        if not _blank(line.get("more")):
            text = ",".join(p for p in (text, str(line["more"]).replace(" ", "")) if p)
        reps = line.get("repeats")
        reps = 1 if _blank(reps) else reps
        stage = line.get("stage")
        stage = 1 if _blank(stage) else stage
        try:
            reps, stage = int(reps), int(stage)
            row = arch._row(f"{kind}*{reps}({text})" if text else f"{kind}*{reps}", f"line {n}")
        except ValueError as e:
            msg = e.message if isinstance(e, SpecError) else str(e)
            raise SpecError(msg if msg.startswith("line") else f"line {n}: {msg}") from None
        stages.setdefault(stage, []).append(row)
    if not stages:
        raise SpecError("the table is empty: add a stem row (type conv) to start")
    d = Design(tuple(tuple(v) for v in stages.values()), resolution=int(resolution), in_channels=int(in_channels))
    design.check_limits(d)
    return d


def _number(v: Any) -> str:
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def stage_rows(c: DesignCost, factor: int = 1, unit: str = "MACs", dtype_bytes: int = 4) -> list[dict[str, Any]]:
    """The per-stage table: operator, output, receptive field, params, work (MACs or FLOPs), activation memory."""
    return [
        {
            "stage": s.name,
            "operator": s.operator,
            "layers": s.layers,
            "output": "×".join(map(str, s.output_shape)),
            "receptive field": "×".join(map(str, s.receptive_field)),
            "params": s.params,
            unit: s.macs * factor,
            "activation memory": human_bytes(s.acts * dtype_bytes),
        }
        for s in c.stages
    ]


def headline(c: DesignCost, counting: Any, start: Any = None) -> list[Metric]:
    """The metric row: params, the counted work (``counting``: an effnets.units.Counting), activation memory,
    output and receptive field; ``start``: the costed network the design started from, for the second lines."""
    t = c.total
    if t is None:
        return []
    work = counting.total(t)

    def vs(mine: float, theirs: float | None) -> str | None:
        return f"{mine / theirs:.2f}× the start" if theirs else None

    return [
        Metric("Params", human(t.params), f"{t.params:,} learnable parameters", vs(t.params, start and start.params)),
        Metric(counting.name, human(work), f"{work:,}: {counting.what}", vs(work, start and counting.total(start))),
        Metric("Activations", human_bytes(t.acts * 4), f"{t.acts:,} conv/linear output elements, float32"),
        Metric("Output", "×".join(map(str, t.output_shape)), "C × H × W of the last layer"),
        Metric("Receptive field", "×".join(map(str, t.receptive_field)), "input pixels one output element sees"),
    ]


def multipliers(mode: str, phi: float, alpha: float, beta: float, gamma: float, w: float, d: float, r: float):
    """(width, depth, resolution) multipliers of the page's scaling controls (phi: EfficientNet's compound rule)."""
    if mode == "phi":
        from effnets.models.scaling import phi_multipliers

        m = phi_multipliers(phi, alpha, beta, gamma)
        return m.width, m.depth, m.resolution
    return w, d, r


def scaled(d: Design, w: float, dep: float, r: float, rounding: str) -> Design:
    """The design at the page's multipliers (resolution rounded to whole pixels)."""
    return design.scale(d, round(w, 4), round(dep, 4), max(1, int(round(d.resolution * r))), rounding)


def diff_rows(d: Any) -> list[dict[str, Any]]:
    """The diff of the start and the design, one line per aligned stage (an effnets.networks.diff.Diff)."""
    out = []
    for r in d.rows:
        out.append(
            {
                "stage": (r.b or r.a).name,
                "start": r.a.operator if r.a else "—",
                "yours": r.b.operator if r.b else "—",
                "params": r.b.params if r.b else 0,
                "Δ params": r.delta("params"),
                "MACs": r.b.macs if r.b else 0,
                "Δ MACs": r.delta("macs"),
                "Δ activations": human_bytes(4 * r.delta("acts")) if r.delta("acts") >= 0
                else "-" + human_bytes(-4 * r.delta("acts")),
            }
        )  # fmt: skip
    return out


def diff_sentence(d: Any) -> str:
    """Where the design's cost went, in words."""
    changed = [r for r in d.rows if r.delta("params") or r.delta("macs")]
    if not changed:
        return f"Your design costs exactly what {d.a.name} does: no stage changed."
    top = max(changed, key=lambda r: abs(r.delta("macs")))
    return (
        f"Against {d.a.name}: {d.total('params'):+,} params and {d.total('macs'):+,} MACs in all; "
        f"{len(changed)} of {len(d.rows)} stages changed, most of the MACs in {(top.b or top.a).name} "
        f"({top.delta('macs'):+,})."
    )
