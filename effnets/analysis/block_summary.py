"""What the Block Lab says about one block at one setting: its headline numbers and the sentences built from them.

Pure functions of a block's registry entry, its spec and its :class:`effnets.cost.Cost` (no streamlit), so the page
only renders what they return and the tests can check each number against a second way of computing it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from effnets import units
from effnets.analysis.compare import CompareRow, comparable_fields
from effnets.analysis.quiz import Race
from effnets.blocks import BLOCKS, BlockInfo, BlockSpec
from effnets.cost import EXTRA_KINDS, Cost
from effnets.report import Metric, human, human_bytes, plural
from effnets.spec import field_label

BYTES_PER_VALUE = 4  # fp32 activations, what a training forward pass keeps


@dataclass(frozen=True)
class SharedSettings:
    """The settings every block is compared at: the chosen block's C_in and C_out, kernel and stride (3, C_in and 1
    for a block without such a field)."""

    in_channels: int
    out_channels: int
    kernel_size: int
    stride: int


def fields_from_link(info: BlockInfo, fields: dict[str, Any]) -> dict[str, Any]:
    """The spec fields of a link, completed: the fields it leaves out follow its C_in where the block needs it (a
    stride-1 shuffle unit: C_out = C_in). Settings that make no block come back as given, for the page to explain."""
    try:
        c_in = fields.get("in_channels", info.make_spec().in_channels)
        return info.spec_for_input(c_in, **{k: v for k, v in fields.items() if k != "in_channels"}).to_dict()
    except ValueError:
        return fields


def switch_to(info: BlockInfo, carried: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    """Switching to block ``info`` with the settings another block left: (the fields of a valid spec, a note naming
    each carried setting that had to change, or None when all were kept)."""
    fitted, reset = info.fit(carried)
    if not reset:
        return fitted, None
    changes = ", ".join(f"{field_label(info.spec, k)} {carried[k]} → {fitted[k]}" for k in reset)
    return fitted, f"Switched to {info.label}: {changes} (the previous block's settings do not make this block)."


def activation_bytes(cost: Cost, in_shape: tuple[int, int, int], batch: int) -> int:
    """(input + every conv/linear output) x batch x 4 bytes: the fp32 activations a training forward pass keeps."""
    return (cost.acts + math.prod(in_shape)) * batch * BYTES_PER_VALUE


def headline(cost: Cost, in_shape: tuple[int, int, int], counting: units.Counting, batch: int) -> list[Metric]:
    """The five numbers at the top of the page: parameters, the count, output shape, receptive field, memory."""
    count = counting.total(cost)
    name, what = counting.name, counting.contents
    rf_h, rf_w = cost.receptive_field
    return [
        Metric(
            "Parameters",
            human(cost.params),
            f"{cost.params:,} learnable parameters (BN gamma/beta included; fixed "
            "kernels and BN running statistics are buffers, not parameters).",
        ),
        Metric(f"{name} per image", human(count), f"{count:,} {name}: {what}. Batch of {batch}: {count * batch:,}."),
        Metric("Output shape", "×".join(map(str, cost.output_shape)), "C × H × W of one output."),
        Metric(
            "Receptive field" + (" (+ global)" if cost.global_context else ""),
            f"{rf_h}×{rf_w}",
            "Input window one output value sees along the main path. '+ global': a global "
            "pool (squeeze-excitation) also feeds it, so it depends on the whole input.",
        ),
        Metric(
            "Activation memory",
            human_bytes(activation_bytes(cost, in_shape, batch)),
            f"(input + every conv/linear output) x batch {batch} x "
            "4 bytes (fp32): what a training forward pass keeps for the backward pass.",
        ),
    ]


def counting_caption(counting: units.Counting, batch: int = 1) -> str:
    """What the headline counts, and which of its numbers are per image."""
    per = (
        f" Numbers are per image; activation memory is for the whole batch of {batch}."
        if batch > 1
        else " Numbers are per image unless the batch is mentioned."
    )
    return f"Counted in **{counting.name}**: {counting.contents}.{per}"


def not_counted(cost: Cost, counting: units.Counting) -> str | None:
    """The extras lines the block has but the headline leaves out, with their counts; None when there are none."""
    left_out = [k for k in EXTRA_KINDS if k not in counting.extras and cost.extra(k)]
    if not left_out:
        return None
    return "Not in the headline, per image (tick them in the sidebar): " + ", ".join(
        f"{k} {human(counting.scale(cost.extra(k)))}" for k in left_out
    )


def formula_intro(counting: units.Counting) -> str:
    return (
        f"With your numbers ({counting.name} = k_h · k_w · C_in/g · C_out · H_out · W_out for each conv, "
        "H_in · W_in for a transposed conv" + (", doubled for FLOPs" if counting.factor == 2 else "") + "):"
    )


def shared_settings(spec: BlockSpec) -> SharedSettings:
    """The block's C_in, C_out, kernel and stride, as the comparison and the race use them."""
    return SharedSettings(
        spec.in_channels,
        int(getattr(spec, "out_channels", spec.in_channels)),
        int(getattr(spec, "kernel_size", 3)),
        int(getattr(spec, "stride", 1)),
    )


def with_yours(rows: list[CompareRow], name: str, cost: Cost) -> list[CompareRow]:
    """The comparison with the picked block's row at the user's own settings (its expansion, its deploy form ...),
    not at the block's defaults for the shared C_in, C_out, kernel and stride."""
    out = [r for r in rows if r.name != name]
    label = BLOCKS[name].label + " (your settings)"
    mine = CompareRow(name, label, cost.params, cost.macs, cost.output_shape)
    at = next((i for i, r in enumerate(rows) if r.name == name), len(out))
    return out[:at] + [mine] + out[at:]


def comparison_caption(shared: SharedSettings, h: int, w: int) -> str:
    return (
        f"All blocks at C_in={shared.in_channels}, C_out={shared.out_channels}, k={shared.kernel_size}, "
        f"stride {shared.stride}, {h}×{w} input."
    )


def comparison_legend(picked: str) -> str:
    """What the comparison chart's colours mean (the standard conv is drawn as the pick when it is the pick)."""
    colours = (
        "Red: the standard conv, the block you picked."
        if picked == "standard"
        else "Grey: the standard conv at the same settings; red: the block you picked."
    )
    return (
        f"Log scale. {colours} Depthwise-separable saves about 1/C_out + 1/k² of the standard conv; a grouped conv 1/g."
    )


def not_compared(rows: list[CompareRow]) -> str | None:
    """The blocks the comparison could not set up, each with why; None when every block is shown."""
    failed = [r for r in rows if r.error]
    if not failed:
        return None
    return "Not shown at these settings: " + "; ".join(f"{r.label}: {r.error}" for r in failed) + "."


def params_by_layer(cost: Cost) -> str:
    """'1x1 expand: 2,048; ...': the parameters of each layer that has any (the answer to the parameter question)."""
    return "; ".join(f"{s.label}: {s.params:,}" for s in cost.steps if s.params)


def standard_rival(spec: BlockSpec) -> BlockSpec:
    """The standard conv the block races: same C_in, C_out, kernel and stride."""
    shared = shared_settings(spec)
    standard = BLOCKS["standard"]
    return standard.make_spec(
        **comparable_fields(standard, shared.in_channels, shared.out_channels, shared.kernel_size, shared.stride)
    )


NO_RIVAL = (
    "The race puts a block against the standard convolution with the same C_in, C_out, kernel and stride. This *is* "
    "the standard convolution: choose another block type to race it."
)


def has_rival(info: BlockInfo) -> bool:
    """Whether the block has a race to run: every block but the standard conv itself."""
    return info.name != "standard"


def race_question(info: BlockInfo, spec: BlockSpec, h: int, w: int) -> str:
    shared = shared_settings(spec)
    k = shared.kernel_size
    return (
        f"**Predict, then reveal:** on this server, which runs faster on a batch of 8 at {h}×{w}: the "
        f"{info.label.lower()} as set, or a standard {k}×{k} conv with the same C_in={shared.in_channels} and "
        f"C_out={shared.out_channels}?"
    )


def race_verdict(race: Race, guessed_block: bool) -> tuple[str, str]:
    """('info', message) when the race is a tie (neither guess is right), else ('success' or 'warning', the message
    after 'Right.' or 'Not this time.'); ``guessed_block``: the guess was the block rather than the standard conv."""
    if not race.decided:
        return "info", race.message()
    right = (race.faster == 0) == guessed_block
    return ("success", "Right. " + race.message()) if right else ("warning", "Not this time. " + race.message())


def race_conditions(race: Race) -> str:
    """Where and how the race ran (after the measurement's provenance)."""
    env = race.environment
    return (
        f"{env.get('device_name')}, {plural(int(env.get('threads', 1)), 'thread')}, torch {env.get('torch')}; "
        "median of interleaved runs after warm-up. MACs predict the order only sometimes."
    )
