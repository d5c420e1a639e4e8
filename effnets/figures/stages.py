"""A network collapsed by stage, as Graphviz DOT: one box per stage with its operator, output shape, params and
MACs, the fill darker where the stage does more of the network's MACs (any NetworkReport: registry, design,
torchvision, timm, ONNX)."""

from __future__ import annotations

from effnets.report import human


def _esc(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")[:80]


def stage_dot(report, dark: bool = False, max_stages: int = 60) -> str:
    """The report's stages top to bottom (the first ``max_stages``; the rest summed in one box)."""
    total = max(report.macs, 1)
    font = "#f0f0f0" if dark else "#202020"
    lines = [
        "digraph stages {",
        'graph [rankdir=TB, bgcolor="transparent", nodesep=0.2, ranksep=0.25];',
        f'node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=10, fontcolor="{font}"];',
        f'edge [color="{font}"];',
        f'in [label="input {"×".join(map(str, report.input_shape))}", fillcolor="transparent"];',
    ]
    stages = list(report.stages)
    rest = stages[max_stages:]
    stages = stages[:max_stages]
    prev = "in"
    for i, s in enumerate(stages):
        share = s.macs / total
        level = int(245 - 140 * min(share * 4, 1.0))  # a stage with a quarter of the MACs or more: darkest
        fill = f"#{level:02x}{min(level + 10, 255):02x}ff" if not dark else f"#{255 - level:02x}{255 - level:02x}66"
        label = (
            f"{_esc(s.name)}: {_esc(s.operator)}\\n→ {'×'.join(map(str, s.output_shape))}\\n"
            f"{human(s.params)} params · {human(s.macs)} MACs ({share:.0%})"
        )
        lines.append(f's{i} [label="{label}", fillcolor="{fill}"];')
        lines.append(f"{prev} -> s{i};")
        prev = f"s{i}"
    if rest:
        macs = sum(s.macs for s in rest)
        lines.append(f'more [label="{len(rest)} more stages\\n{human(macs)} MACs", fillcolor="transparent"];')
        lines.append(f"{prev} -> more;")
    lines.append("}")
    return "\n".join(lines)
