"""RegNetX and RegNetY (Radosavovic et al. 2020, facebookresearch/pycls): networks generated from six numbers
(d, w_0, w_a, w_m, g, b) by a quantized linear width rule."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from effnets.blocks.regnet import RegNetBlock, RegNetSpec
from effnets.models import (
    FamilyInfo,
    ModelInfo,
    ModelSpec,
    Published,
    num_classes_param,
    register,
    register_family,
    resolution_param,
)
from effnets.models.network import Block, Classifier, Conv, Plan, Stage, plan_totals
from effnets.models.scaling import _check_regnet, adjust_widths_groups, regnet_widths
from effnets.spec import SpecError, param

PAPER = "Radosavovic et al. 2020, Designing Network Design Spaces"
URL = "https://arxiv.org/abs/2003.13678"

register_family(
    FamilyInfo(
        name="regnet",
        label="RegNet X/Y",
        color="#7f7f7f",
        paper=PAPER,
        url=URL,
        order=60,
        scaling=(
            "A design space, not a multiplier: widths from the linear rule w_j = w_0 + w_a j quantised by w_m, "
            "depth d, group width g and bottleneck ratio b; presets are the best networks found at each compute "
            "budget."
        ),
    )
)
ZOO = "facebookresearch/pycls MODEL_ZOO.md (flops, params, top-1 error)"
STEM_CHANNELS = 32
QUANTUM = 8
MAX_WIDTH = 4096  # the block catalog's largest width


@dataclass(frozen=True)
class RegNetModelSpec(ModelSpec):
    """RegNet X/Y: the generator's six numbers (d, w0, wa, wm, g, b), SE and the width rounding."""

    depth: int = param(13, lo=1, hi=64, step=1, help="d: total number of blocks.", label="depth d")
    w0: int = param(24, lo=8, hi=1024, step=8, help="w_0: initial width, a multiple of 8.", label="initial width w0")
    wa: float = param(
        36.44, lo=0.0, hi=512.0, step=0.01, help="w_a: width slope (channels added per block).", label="slope wa"
    )
    wm: float = param(
        2.49,
        lo=1.0,
        hi=8.0,
        step=0.01,
        help="w_m > 1: ratio between consecutive stage widths.",
        label="width multiplier wm",
    )
    group_width: int = param(
        8, lo=1, hi=1024, step=1, help="g: channels per group of the 3x3 group conv.", label="group width g"
    )
    bottleneck_ratio: float = param(
        1.0, lo=0.25, hi=4.0, step=0.25, help="b: bottleneck width = w x b (RegNet uses 1).", label="bottleneck ratio b"
    )
    se_ratio: float = param(
        0.0,
        lo=0.0,
        hi=1.0,
        step=0.05,
        help="RegNetY: SE of width ratio x the block's input width (0.25); 0 = RegNetX.",
        label="SE ratio",
    )
    rounding: str = param(
        "pycls",
        choices=("pycls", "torchvision"),
        help="How widths are made divisible by the group width: pycls (the paper's code, Python round) or "
        "torchvision (make_divisible, never losing more than 10 %). They differ for X-400MF, X-4.0GF, Y-800MF, "
        "Y-4.0GF and Y-8.0GF.",
        advanced=True,
    )
    resolution: int = resolution_param(224)
    num_classes: int = num_classes_param()

    def check(self) -> None:
        _check_regnet(self.depth, self.w0, self.wa, self.wm, QUANTUM)
        b = self.bottleneck_ratio
        if self.rounding == "pycls" and not (b < 1 or b % 1 == 0):
            raise SpecError(
                f"bottleneck_ratio={b}: pycls rounding needs a ratio below 1 or a whole number",
                "bottleneck_ratio",
                self.bottleneck_ratio,
            )
        widths, _, _ = stage_widths(self)
        if max(widths) > MAX_WIDTH:
            raise SpecError(
                f"the generated widths reach {max(widths)} channels (stages {widths}), above the {MAX_WIDTH} a block "
                f"allows: lower wa, wm or depth",
                "wa",
                self.wa,
            )


def stage_widths(spec: RegNetModelSpec) -> tuple[list[int], list[int], list[int]]:
    """(widths, depths, group widths) of the stages ``spec`` generates, after the group-width adjustment."""
    gen = regnet_widths(spec.depth, spec.w0, spec.wa, spec.wm, QUANTUM, spec.rounding)
    widths, groups = adjust_widths_groups(gen.stage_widths, spec.bottleneck_ratio, spec.group_width, spec.rounding)
    return widths, list(gen.stage_depths), groups


def plan(spec: RegNetModelSpec) -> Plan:
    """conv3x3 s2 32 -> stages of RegNet blocks (stride 2 in each stage's first block) -> pool -> FC."""
    widths, depths, groups = stage_widths(spec)
    stages = [Stage("stem", "Conv3x3", (Conv(3, STEM_CHANNELS, 3, 2, label="3x3 conv s2 (stem)"),), 3, 2)]
    c_in = STEM_CHANNELS
    kind = "Y" if spec.se_ratio > 0 else "X"
    for i, (w, d, g) in enumerate(zip(widths, depths, groups, strict=True)):
        blocks = []
        for j in range(d):
            s = RegNetSpec(
                in_channels=c_in,
                out_channels=w,
                stride=2 if j == 0 else 1,
                group_width=g,
                bottleneck_ratio=spec.bottleneck_ratio,
                se_ratio=spec.se_ratio,
            )
            blocks.append(Block(RegNetBlock, s))
            c_in = w
        stages.append(Stage(f"stage{i + 2}", f"RegNet{kind} block g={g}", tuple(blocks), 3, 2))
    stages.append(Stage("head", "Pooling & FC", (Classifier(c_in, spec.num_classes),), None, 1, repeats=1))
    return Plan(tuple(stages), (3, spec.resolution, spec.resolution))


def _log_uniform(rng: random.Random, lo: float, hi: float) -> float:
    return math.exp(rng.uniform(math.log(lo), math.log(hi)))


def sample_regnet_space(
    n: int,
    seed: int = 0,
    depth: tuple[int, int] = (12, 28),
    w0: tuple[int, int] = (8, 256),
    wa: tuple[float, float] = (8.0, 256.0),
    wm: tuple[float, float] = (1.5, 3.0),
    group_width: tuple[int, ...] = (1, 2, 4, 8, 16, 32),
    bottleneck_ratio: tuple[float, ...] = (1.0,),
    se_ratio: float = 0.0,
    resolution: int = 224,
    rounding: str = "pycls",
) -> list[dict]:
    """Draw ``n`` random networks from a RegNet design space and cost them analytically (no modules built).

    As in the paper's design-space statistics: depth uniform, w_0 (a multiple of 8), w_a and w_m log-uniform, group
    width and bottleneck ratio uniform over the given choices. Pure Python; hundreds of networks a second.

    Args:
        n: number of samples.
        seed: random seed (same seed, same samples).
        depth, w0, wa, wm: inclusive ranges.
        group_width, bottleneck_ratio: choices.
        se_ratio: 0 for RegNetX, 0.25 for RegNetY.
        resolution: input side.
        rounding: "pycls" or "torchvision".

    Returns:
        One dict per sample: the six parameters, ``stage_widths``, ``stage_depths``, ``params`` and ``macs``.
    """
    if n < 0:
        raise ValueError(f"n={n} must be at least 0")
    for name, (lo, hi) in (("depth", depth), ("w0", w0), ("wa", wa), ("wm", wm)):
        if lo > hi:
            raise ValueError(f"{name} range ({lo}, {hi}) is empty: the minimum is above the maximum")
    if w0[1] < QUANTUM:
        raise ValueError(f"w0 range ({w0[0]}, {w0[1]}) holds no multiple of {QUANTUM}")
    if wm[0] <= 1:
        raise ValueError(f"wm range starts at {wm[0]}: w_m must be above 1")
    if not group_width or not bottleneck_ratio:
        raise ValueError("group_width and bottleneck_ratio need at least one choice each")
    rng = random.Random(seed)
    out: list[dict] = []
    tries = 0
    while len(out) < n:
        tries += 1
        if tries > 100 * n + 100:
            raise ValueError(
                f"only {len(out)} of {n} samples from these ranges give valid networks (widths up to {MAX_WIDTH}): "
                "narrow the ranges"
            )
        d = rng.randint(depth[0], depth[1])
        w_0 = max(QUANTUM, int(round(_log_uniform(rng, max(w0[0], 1), w0[1]) / QUANTUM)) * QUANTUM)
        w_a = round(_log_uniform(rng, wa[0], wa[1]) if wa[0] > 0 else rng.uniform(wa[0], wa[1]), 2)
        w_m = round(_log_uniform(rng, wm[0], wm[1]), 3)
        g = rng.choice(group_width)
        b = rng.choice(bottleneck_ratio)
        try:
            spec = RegNetModelSpec(
                depth=d,
                w0=w_0,
                wa=w_a,
                wm=w_m,
                group_width=g,
                bottleneck_ratio=b,
                se_ratio=se_ratio,
                rounding=rounding,
                resolution=resolution,
            )
        except ValueError:
            continue  # outside what the catalog builds (e.g. too wide): rejection sampling, as the paper filters
        widths, depths, _ = stage_widths(spec)
        c = plan_totals(plan(spec))  # identical blocks of a stage are costed once
        out.append(
            {
                "depth": d,
                "w0": w_0,
                "wa": w_a,
                "wm": w_m,
                "group_width": g,
                "bottleneck_ratio": b,
                "stage_widths": widths,
                "stage_depths": depths,
                "params": c.params,
                "macs": c.macs,
            }
        )
    return out


# Presets (d, w_0, w_a, w_m, g) from pycls configs/dds_baselines; published (flops B, params M, top-1 error %) from
# pycls MODEL_ZOO.md (pycls "flops" are MACs plus bias adds, negligible at this rounding).
X_PRESETS: dict[str, tuple[tuple[int, int, float, float, int], tuple[str, str, float]]] = {
    "200mf": ((13, 24, 36.44, 2.49, 8), ("0.2B", "2.7M", 31.1)),
    "400mf": ((22, 24, 24.48, 2.54, 16), ("0.4B", "5.2M", 27.3)),
    "600mf": ((16, 48, 36.97, 2.24, 24), ("0.6B", "6.2M", 25.9)),
    "800mf": ((16, 56, 35.73, 2.28, 16), ("0.8B", "7.3M", 24.8)),
    "1_6gf": ((18, 80, 34.01, 2.25, 24), ("1.6B", "9.2M", 23.0)),
    "3_2gf": ((25, 88, 26.31, 2.25, 48), ("3.2B", "15.3M", 21.7)),
    "4_0gf": ((23, 96, 38.65, 2.43, 40), ("4.0B", "22.1M", 21.4)),
    "6_4gf": ((17, 184, 60.83, 2.07, 56), ("6.5B", "26.2M", 20.8)),
    "8_0gf": ((23, 80, 49.56, 2.88, 120), ("8.0B", "39.6M", 20.7)),
    "16gf": ((22, 216, 55.59, 2.1, 128), ("15.9B", "54.3M", 20.0)),
}
Y_PRESETS: dict[str, tuple[tuple[int, int, float, float, int], tuple[str, str, float]]] = {
    "200mf": ((13, 24, 36.44, 2.49, 8), ("0.2B", "3.2M", 29.6)),
    "400mf": ((16, 48, 27.89, 2.09, 8), ("0.4B", "4.3M", 25.9)),
    "600mf": ((15, 48, 32.54, 2.32, 16), ("0.6B", "6.1M", 24.5)),
    "800mf": ((14, 56, 38.84, 2.4, 16), ("0.8B", "6.3M", 23.7)),
    "1_6gf": ((27, 48, 20.71, 2.65, 24), ("1.6B", "11.2M", 22.0)),
    "3_2gf": ((21, 80, 42.63, 2.66, 24), ("3.2B", "19.4M", 21.0)),
    "4_0gf": ((22, 96, 31.41, 2.24, 64), ("4.0B", "20.6M", 20.6)),
    "6_4gf": ((25, 112, 33.22, 2.27, 72), ("6.4B", "30.6M", 20.1)),
    "8_0gf": ((17, 192, 76.82, 2.19, 56), ("8.0B", "39.2M", 20.1)),
    "16gf": ((18, 200, 106.23, 2.48, 112), ("15.9B", "83.6M", 19.6)),
}
# torchvision has builders for these (named regnet_x_8gf, not 8_0gf).
_TORCHVISION = {"400mf", "800mf", "1_6gf", "3_2gf", "8_0gf", "16gf"}


def _label(key: str) -> str:
    return key.replace("_", ".").upper()


for _kind, _presets in (("x", X_PRESETS), ("y", Y_PRESETS)):
    for _key, ((_d, _w0, _wa, _wm, _g), (_flops, _params, _err)) in _presets.items():
        _se = 0.25 if _kind == "y" else 0.0
        register(
            ModelInfo(
                name=f"regnet{_kind}_{_key}",
                label=f"RegNet{_kind.upper()}-{_label(_key)}",
                family="regnet",
                spec=RegNetModelSpec,
                paper=PAPER,
                url=URL,
                explanation=(
                    "RegNet designs the design space, not a network: of all ResNeXt-style networks, good ones have "
                    "widths that grow roughly linearly with depth, quantized into a few stages, bottleneck ratio 1 and "
                    "a fixed group width. Six numbers (d, w0, wa, wm, g, b) then generate a whole network; RegNetY "
                    "adds squeeze-excitation."
                ),
                published=Published.of(
                    f"{ZOO}: RegNet{_kind.upper()}-{_label(_key)}",
                    params=_params,
                    macs=_flops,
                    top1=round(100 - _err, 1),
                    resolution=224,
                ),
                torchvision=(f"regnet_{_kind}_{_key.replace('8_0gf', '8gf')}" if _key in _TORCHVISION else None),
                defaults={"depth": _d, "w0": _w0, "wa": _wa, "wm": _wm, "group_width": _g, "se_ratio": _se},
                plan=plan,
                torchvision_fields={"rounding": "torchvision"},
            )
        )
