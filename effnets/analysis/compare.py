"""Every block at the same input, output, kernel and stride, against the standard convolution."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from effnets.blocks import BLOCKS, BlockInfo


@dataclass(frozen=True)
class CompareRow:
    """One block in the comparison; ``error`` says why it could not be set up at these settings."""

    name: str
    label: str
    params: int | None
    macs: int | None
    output_shape: tuple[int, int, int] | None
    note: str = ""
    error: str = ""


# Blocks without a plain C_out/kernel field: how to give them C_out output channels.
_SHAPERS: dict[str, Any] = {
    "fire": lambda ci, co, k, s: {
        "squeeze_channels": max(1, co // 8),
        "expand1x1_channels": co // 2,
        "expand3x3_channels": co - co // 2,
    },
    "inception": lambda ci, co, k, s: {
        "ch1x1": co // 4,
        "ch3x3_reduce": max(1, co * 3 // 8),
        "ch3x3": co // 2,
        "ch5x5_reduce": max(1, co // 16),
        "ch5x5": co // 8,
        "pool_proj": co - co // 4 - co // 2 - co // 8,
    },
}


def _shuffle_groups(ci: int, co: int, k: int, s: int) -> dict[str, Any]:
    mid = int(co * 0.25)
    branch = co if s == 1 else co - ci
    for g in (3, 4, 8, 2, 1):
        if mid % g == 0 and ci % g == 0 and branch % g == 0:
            return {"groups": g}
    return {}


_SHAPERS["shuffle_v1"] = _shuffle_groups


def _transposed_padding(ci: int, co: int, k: int, s: int) -> dict[str, Any]:
    """A transposed conv that gives exactly s x the input (s x H, s x W): p = (k - 1) // 2, op = s - 1 (odd k); where
    the spec's bounds refuse them, the comparison says why, as for any block."""
    return {"padding": (k - 1) // 2, "output_padding": s - 1}


_SHAPERS["transposed_conv"] = _transposed_padding


def comparable_fields(info: BlockInfo, c_in: int, c_out: int, k: int, stride: int) -> dict[str, Any]:
    """Spec fields that put ``info``'s block at the shared settings, leaving its other fields at their defaults."""
    names = {f.name: f for f in fields(info.spec)}
    out: dict[str, Any] = {"in_channels": c_in}
    if "out_channels" in names:
        out["out_channels"] = c_out
    for key, value in (("kernel_size", k), ("stride", stride)):
        if key in names:
            choices = names[key].metadata.get("choices")
            if choices is None or value in choices:
                out[key] = value
    if info.name in _SHAPERS:
        out.update(_SHAPERS[info.name](c_in, c_out, k, stride))
    return out


def _note(info: BlockInfo, spec, c_out: int, k: int, shape, h: int) -> str:
    notes = []
    if shape is not None and shape[1] > h:
        notes.append(f"upsamples to {shape[1]}x{shape[2]}")
    if shape is not None and shape[0] != c_out:
        notes.append(f"outputs {shape[0]} channels")
    if getattr(spec, "kernel_size", k) != k:
        notes.append(f"kernel {spec.kernel_size}")
    if info.name == "stacked_3x3":
        notes.append(f"{spec.repeats} x 3x3 = {2 * spec.repeats + 1}x{2 * spec.repeats + 1} view")
    if info.name == "shuffle_v1":
        notes.append(f"g={spec.groups}")
    if info.name == "fire":
        notes.append("half 1x1, half 3x3 filters")
    return ", ".join(notes)


def compare_blocks(c_in: int, c_out: int, k: int, h: int, w: int, stride: int = 1) -> list[CompareRow]:
    """Cost of every registered block at the shared settings; blocks that cannot take them carry the reason."""
    rows = []
    for name, info in BLOCKS.items():
        try:
            spec = info.make_spec(**comparable_fields(info, c_in, c_out, k, stride))
            c = info.cost(spec, (c_in, h, w))
        except ValueError as e:
            rows.append(CompareRow(name, info.label, None, None, None, error=str(e)))
            continue
        note = _note(info, spec, c_out, k, c.output_shape, h)
        rows.append(CompareRow(name, info.label, c.params, c.macs, c.output_shape, note))
    return rows


def matched_width(
    info: BlockInfo, target_macs: int, k: int, h: int, w: int, stride: int = 1, step: int = 8, max_width: int = 2048
) -> tuple[dict[str, Any], int] | None:
    """Spec fields giving ``info``'s block (C_in = C_out = c, c a multiple of ``step``) the MACs closest to
    ``target_macs`` at the shared kernel, input size and stride; (fields, macs), or None if no width works."""
    best = None
    for c in range(step, max_width + 1, step):
        try:
            fields = comparable_fields(info, c, c, k, stride)
            spec = info.make_spec(**fields)
            macs = info.cost(spec, (c, h, w)).macs
        except ValueError:
            continue
        err = abs(macs - target_macs)
        if best is None or err < best[2]:
            best = (fields, macs, err)
        if macs > 2 * target_macs:
            break
    return None if best is None else (best[0], best[1])
