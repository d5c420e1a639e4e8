"""What learned kernels look like: each 3x3 (or larger) kernel matched against Gaussians, edge detectors and the
identity, shares per layer, strided against unstrided layers, and frequency responses.

These are the VGNet paper's observations (Zhang et al., ICME 2022): trained networks learn Gaussian-like strided
depthwise kernels and many edge detectors. The fixed kernel banks VGNet builds from them live with its blocks, in
:mod:`effnets.blocks.vgnet`.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from effnets.blocks.vgnet import GAUSSIAN_SIGMA, FixedDepthwise, gaussian, library

# ----- analysis of learned kernels (VGNet's observations) -------------------------------------------------------

FAMILIES = ("gaussian", "edge", "identity", "other")
"""Kernel families, in the order pages show them: gaussian/blur, edge detector (Sobel, Laplacian), identity, other."""
FAMILY_LABELS = {
    "gaussian": "Gaussian / blur",
    "edge": "edge (Sobel, Laplacian)",
    "identity": "identity",
    "other": "other",
}
DEFAULT_THRESHOLD = 0.8
"""Least |cosine similarity| to a template for a kernel to join that template's family (otherwise "other")."""
GAUSSIAN_SIGMAS = (0.6, 0.8, GAUSSIAN_SIGMA, 1.5, 2.0)
"""Blur templates (pixels). 0.6 is VGNet's sharp Gaussian; below it a Gaussian is hard to tell from identity."""
DERIVATIVE_SIGMAS = (0.75, 1.0, 1.5)
"""Scales of the derivative-of-Gaussian and Laplacian-of-Gaussian edge templates for kernels larger than 3x3."""

SIMILARITY_EXPLANATION = (
    "Each kernel is compared with a bank of templates of the same size: Gaussians (sigma 0.6 to 2 pixels) and a box "
    "filter (family gaussian/blur); Sobel x/y and the two diagonals, the 4- and 8-neighbour Laplacians and, for 5x5 "
    "and larger, derivatives and Laplacians of Gaussians (family edge); and the centred delta (identity). The "
    "similarity is the absolute cosine similarity |<k, t>| / (|k| |t|) of the kernel k and template t as vectors of "
    "k x k numbers, maximised over the template's 8 rotations by 90 degrees and mirror images (and, for 5x5 and "
    "larger kernels, over shifts by one pixel: stride-2 layers trained with TensorFlow's asymmetric 'SAME' padding "
    "learn off-centre kernels). The absolute value "
    "makes it blind to sign and scale, which the following batch norm can undo anyway. The mean is NOT removed: the "
    "mean (the filter's response to flat regions) is what tells a blur (passes brightness) from an edge detector "
    "(removes it). A kernel joins the family of its best template when the similarity is at least the threshold "
    "(0.8 by default, an angle of about 37 degrees in the k x k space); otherwise it is 'other'. A random 3x3 kernel "
    "passes 0.8 against some template only rarely, a random 5x5 kernel almost never."
)


def _derivative_of_gaussian(size: int, sigma: float) -> torch.Tensor:
    r = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    yy, xx = torch.meshgrid(r, r, indexing="ij")
    return (-xx * torch.exp(-(xx**2 + yy**2) / (2 * sigma**2))).float()


def _laplacian_of_gaussian(size: int, sigma: float) -> torch.Tensor:
    r = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    yy, xx = torch.meshgrid(r, r, indexing="ij")
    rr = (xx**2 + yy**2) / (2 * sigma**2)
    k = (1 - rr) * torch.exp(-rr)
    return (k - k.mean()).float()  # an edge detector ignores flat regions: exactly zero mean


def _embed(k3: torch.Tensor, size: int) -> torch.Tensor:
    out = torch.zeros(size, size)
    o = (size - k3.shape[0]) // 2
    out[o : o + k3.shape[0], o : o + k3.shape[1]] = k3
    return out


def templates(size: int = 3) -> list[tuple[str, str, torch.Tensor]]:
    """The named templates of one kernel size as (family, name, size x size kernel), before rotations and flips."""
    if size < 3 or size % 2 == 0:
        raise ValueError(f"kernel size {size} cannot be classified: templates exist for odd sizes 3, 5, 7, ...")
    lib = library()
    out: list[tuple[str, str, torch.Tensor]] = []
    if size == 3:
        out += [("gaussian", "gaussian", lib["gaussian"]), ("gaussian", "gaussian_sharp", lib["gaussian_sharp"])]
    out += [("gaussian", f"gaussian_sigma{s:g}", gaussian(s, size)) for s in GAUSSIAN_SIGMAS]
    out.append(("gaussian", "box", torch.full((size, size), 1.0 / size**2)))
    edge_names = ("sobel_x", "sobel_y", "sobel_diag", "sobel_antidiag", "laplacian_4", "laplacian_8")
    out += [("edge", n, _embed(lib[n], size)) for n in edge_names]
    if size > 3:
        out += [
            ("edge", f"gaussian_derivative_sigma{s:g}", _derivative_of_gaussian(size, s)) for s in DERIVATIVE_SIGMAS
        ]
        out += [
            ("edge", f"laplacian_of_gaussian_sigma{s:g}", _laplacian_of_gaussian(size, s)) for s in DERIVATIVE_SIGMAS
        ]
    out.append(("identity", "identity", _embed(lib["identity"], size)))
    return out


_TRANSFORMS = (
    ("", lambda k: k),
    ("rotated 90", lambda k: torch.rot90(k, 1)),
    ("rotated 180", lambda k: torch.rot90(k, 2)),
    ("rotated 270", lambda k: torch.rot90(k, 3)),
    ("mirrored", lambda k: torch.flip(k, (1,))),
    ("mirrored, rotated 90", lambda k: torch.rot90(torch.flip(k, (1,)), 1)),
    ("mirrored, rotated 180", lambda k: torch.rot90(torch.flip(k, (1,)), 2)),
    ("mirrored, rotated 270", lambda k: torch.rot90(torch.flip(k, (1,)), 3)),
)


@functools.cache
def _template_bank(size: int) -> tuple[torch.Tensor, tuple[str, ...], tuple[str, ...]]:
    """Unit-norm templates (M, size*size) with every distinct rotation/flip/shift (up to sign), families and names."""
    shifts = [(0, 0)]
    if size >= 5:
        shifts += [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1) if (dy, dx) != (0, 0)]
    candidates: list[tuple[torch.Tensor, str, str]] = []
    for family, name, k in templates(size):
        for dy, dx in shifts:
            for how, f in _TRANSFORMS:
                v = _shift(f(k), dy, dx).reshape(-1).to(torch.float64)
                parts = [p for p in (how, _shift_name(dy, dx)) if p]
                candidates.append((v / v.norm(), family, f"{name} ({', '.join(parts)})" if parts else name))
    all_vecs = torch.stack([c[0] for c in candidates])
    same = ((all_vecs @ all_vecs.T).abs() > 1 - 1e-9).numpy()
    keep: list[int] = []
    for i in range(len(candidates)):  # the same template up to sign: keep the first (untransformed) name
        if not same[i, keep].any():
            keep.append(i)
    return all_vecs[keep], tuple(candidates[i][1] for i in keep), tuple(candidates[i][2] for i in keep)


def _shift(k: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """Move the kernel by (dy, dx) pixels, filling with zeros (what falls off the edge is lost)."""
    if dy == dx == 0:
        return k
    out = torch.zeros_like(k)
    h, w = k.shape
    out[max(dy, 0) : h + min(dy, 0), max(dx, 0) : w + min(dx, 0)] = k[
        max(-dy, 0) : h - max(dy, 0), max(-dx, 0) : w - max(dx, 0)
    ]
    return out


def _shift_name(dy: int, dx: int) -> str:
    parts = [
        f"{abs(dy)} {'down' if dy > 0 else 'up'}" if dy else "",
        f"{abs(dx)} {'right' if dx > 0 else 'left'}" if dx else "",
    ]
    return ("shifted " + " ".join(p for p in parts if p)) if dy or dx else ""


@dataclass(frozen=True)
class KernelMatch:
    """How one kernel was classified.

    Attributes:
        index: position of the kernel in the flattened (C_out x C_in/groups) list of the layer's kernels.
        family: one of :data:`FAMILIES`.
        template: the best-matching template with its rotation ("sobel_x (rotated 90)"), also for "other".
        score: |cosine similarity| with that template, 0..1.
        family_scores: best score within each family (gaussian, edge, identity).
        rule: one sentence explaining the decision, for a tooltip.
    """

    index: int
    family: str
    template: str
    score: float
    family_scores: dict[str, float]
    rule: str


def _as_kernels(weight: torch.Tensor) -> torch.Tensor:
    w = weight.detach()
    if w.device.type == "meta":
        raise ValueError("the kernels are on the meta device (shapes only): build the model with real weights")
    if w.dim() == 2:
        w = w.unsqueeze(0)
    elif w.dim() == 4:
        w = w.reshape(-1, w.shape[-2], w.shape[-1])
    elif w.dim() != 3:
        raise ValueError(f"expected kernels shaped (C, 1, k, k), (C, k, k) or (k, k); got {tuple(weight.shape)}")
    if w.shape[-1] != w.shape[-2]:
        raise ValueError(f"only square kernels can be classified; got {w.shape[-2]}x{w.shape[-1]}")
    if w.shape[-1] == 1:
        raise ValueError("1x1 (pointwise) kernels have no spatial shape to classify")
    return w.to(torch.float64).cpu()


def _scores(kernels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, tuple[str, ...], tuple[str, ...]]:
    bank_vecs, families, names = _template_bank(int(kernels.shape[-1]))
    flat = kernels.reshape(kernels.shape[0], -1)
    norms = flat.norm(dim=1, keepdim=True)
    sims = (flat / norms.clamp_min(1e-30)) @ bank_vecs.T
    return sims.abs(), norms.squeeze(1), families, names


def classify_kernels(weight: torch.Tensor, threshold: float = DEFAULT_THRESHOLD) -> list[KernelMatch]:
    """Classify each spatial kernel as gaussian/blur, edge, identity or other (see :data:`SIMILARITY_EXPLANATION`).

    Args:
        weight: a depthwise weight (C, 1, k, k), any conv weight (C_out, C_in/groups, k, k) whose k x k slices are
            classified one by one, (C, k, k) or a single (k, k) kernel. k must be odd and at least 3.
        threshold: least |cosine similarity| to join a family, in (0, 1].

    Returns:
        One :class:`KernelMatch` per kernel, in order.
    """
    if not 0 < threshold <= 1:
        raise ValueError(f"threshold={threshold} must be in (0, 1]")
    kernels = _as_kernels(weight)
    sims, norms, families, names = _scores(kernels)
    fam_idx = {f: [i for i, g in enumerate(families) if g == f] for f in FAMILIES[:-1]}
    out: list[KernelMatch] = []
    for i in range(kernels.shape[0]):
        row = sims[i]
        if float(norms[i]) == 0.0:
            zero = dict.fromkeys(FAMILIES[:-1], 0.0)
            out.append(KernelMatch(i, "other", "zero", 0.0, zero, "the kernel is all zeros (a dead channel)"))
            continue
        best = float(row.max())
        j = int(torch.nonzero(row >= best - 1e-9)[0])  # ties: the first, untransformed template
        family_scores = {f: float(row[idx].max()) for f, idx in fam_idx.items()}
        if best >= threshold:
            family = families[j]
            rule = f"|cos| = {best:.2f} with {names[j]} >= {threshold:g}: {FAMILY_LABELS[family]}"
        else:
            family = "other"
            rule = f"best |cos| = {best:.2f} (with {names[j]}) < {threshold:g}: no family fits"
        out.append(KernelMatch(i, family, names[j], best, family_scores, rule))
    return out


def family_counts(weight: torch.Tensor, threshold: float = DEFAULT_THRESHOLD, chunk: int = 65536) -> dict[str, int]:
    """How many kernels of ``weight`` :func:`classify_kernels` puts in each family, without a record per kernel: the
    same decisions (best template, first of ties, zero kernels 'other') made for all kernels at once, ``chunk`` at a
    time. A ResNet-18's 1.2 million 3x3 kernels take about a second instead of minutes."""
    if not 0 < threshold <= 1:
        raise ValueError(f"threshold={threshold} must be in (0, 1]")
    kernels = _as_kernels(weight)
    counts = dict.fromkeys(FAMILIES, 0)
    for start in range(0, kernels.shape[0], chunk):
        sims, norms, families, _ = _scores(kernels[start : start + chunk])
        best = sims.max(dim=1).values
        first = (sims >= best[:, None] - 1e-9).int().argmax(dim=1)  # ties: the first, as classify_kernels
        fam_of = torch.tensor([FAMILIES.index(f) for f in families])[first]
        fam_of[(best < threshold) | (norms == 0)] = FAMILIES.index("other")
        for i, n in enumerate(torch.bincount(fam_of, minlength=len(FAMILIES)).tolist()):
            counts[FAMILIES[i]] += n
    return counts


def shares_of(counts: dict[str, int]) -> dict[str, float]:
    """Counts per family -> shares (sum 1; all zeros when there are no kernels)."""
    n = sum(counts.values())
    return {f: (counts[f] / n if n else 0.0) for f in FAMILIES}


def family_shares(matches: list[KernelMatch]) -> dict[str, float]:
    """Share of kernels in each of :data:`FAMILIES` (sums to 1; all zeros for an empty list)."""
    n = len(matches)
    return {f: (sum(m.family == f for m in matches) / n if n else 0.0) for f in FAMILIES}


# ----- frequency response ---------------------------------------------------------------------------------------


def frequencies(size: int = 32) -> np.ndarray:
    """Frequency of each row/column of :func:`frequency_response`, in cycles per pixel, -0.5 .. 0.5 (centred)."""
    return np.fft.fftshift(np.fft.fftfreq(size))


def frequency_response(kernel: torch.Tensor, size: int = 32) -> np.ndarray:
    """Magnitude of the 2D discrete Fourier transform of a k x k kernel, zero-padded to size x size, centred.

    The centre is the zero frequency (flat regions); the border is the Nyquist frequency 0.5 cycles/pixel (a
    one-pixel checkerboard). A Gaussian is bright in the centre and dark at the border (low-pass); an edge detector
    is zero in the centre (band-pass); identity is flat. Axes: :func:`frequencies`.
    """
    k = _as_kernels(kernel)
    if k.shape[0] != 1:
        raise ValueError(f"frequency_response takes one k x k kernel; got {k.shape[0]} kernels")
    if size < k.shape[-1]:
        raise ValueError(f"size={size} must be at least the kernel size {k.shape[-1]}")
    spectrum = torch.fft.fft2(k[0], s=(size, size)).abs()
    return torch.fft.fftshift(spectrum).numpy()


def low_pass_scores(weight: torch.Tensor, cutoff: float = 0.25, size: int = 32) -> np.ndarray:
    """For each kernel: share of its energy (|H|^2) at frequencies below ``cutoff`` cycles/pixel.

    0.25 is the Nyquist frequency after a stride-2 downsampling: energy above it aliases. A kernel that blurs before
    it downsamples scores near 1; identity and white noise score the disc's share of the spectrum (pi * 0.25^2 =
    0.196); an edge detector scores lower. Zero kernels score 0.
    """
    if not 0 < cutoff <= 0.5 * math.sqrt(2):
        raise ValueError(f"cutoff={cutoff} must be in (0, 0.707] cycles per pixel")
    k = _as_kernels(weight)
    if size < k.shape[-1]:
        raise ValueError(f"size={size} must be at least the kernel size {k.shape[-1]}")
    # No FFT per kernel: the energy below the cutoff is a quadratic form v^T M v of the kernel's values v (M sums the
    # DFT's phases over the frequencies kept), and the total is size^2 |v|^2 (Parseval). Same numbers, and a
    # ResNet-18's million kernels in milliseconds instead of gigabytes of spectra.
    v = k.reshape(k.shape[0], -1)
    low = torch.einsum("ni,ij,nj->n", v, _low_pass_form(int(k.shape[-1]), size, cutoff), v)
    total = size * size * (v * v).sum(1)
    return torch.where(total > 0, low / total.clamp_min(1e-300), torch.zeros_like(total)).numpy()


@functools.cache
def _low_pass_form(n: int, size: int, cutoff: float) -> torch.Tensor:
    """M (n*n x n*n) with v^T M v = sum of |DFT|^2, zero-padded to size x size, over frequencies at most ``cutoff``."""
    f = np.fft.fftfreq(size)
    fy, fx = np.meshgrid(f, f, indexing="ij")
    keep = np.sqrt(fy**2 + fx**2) <= cutoff
    rows, cols = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    phase = np.exp(-2j * np.pi * (fy[keep][:, None] * rows.ravel() + fx[keep][:, None] * cols.ravel()))
    return torch.from_numpy(np.real(phase.conj().T @ phase))


def low_pass_score(kernel: torch.Tensor, cutoff: float = 0.25, size: int = 32) -> float:
    """:func:`low_pass_scores` of a single k x k kernel."""
    scores = low_pass_scores(kernel, cutoff, size)
    if scores.shape[0] != 1:
        raise ValueError(f"low_pass_score takes one kernel; got {scores.shape[0]} (use low_pass_scores)")
    return float(scores[0])


# ----- per layer ------------------------------------------------------------------------------------------------

LAYER_KINDS = ("stem", "depthwise", "pointwise", "regular", "fixed")


@dataclass(frozen=True)
class LayerKernels:
    """One convolution layer's kernels, summarised.

    Attributes:
        name: qualified module name ("features.3.block.1.0").
        kind: stem (the first conv), depthwise (groups = C_in), pointwise (1x1), regular (dense or grouped kxk),
            fixed (a :class:`FixedDepthwise` buffer, not trained).
        stride: stride (rows).
        kernel_size: k (rows x cols as a tuple when not square).
        in_channels, out_channels, groups: as in nn.Conv2d.
        count: number of spatial kernels (C_out x C_in / groups).
        shares: share of each family of :data:`FAMILIES`; None for pointwise and non-square kernels.
        low_pass: mean low-pass score of the kernels (:func:`low_pass_scores`); None where shares is None.
    """

    name: str
    kind: str
    stride: int
    kernel_size: int | tuple[int, int]
    in_channels: int
    out_channels: int
    groups: int
    count: int
    shares: dict[str, float] | None
    low_pass: float | None

    def row(self) -> dict:
        """Flat dict for a table: share_gaussian, share_edge, share_identity, share_other columns."""
        d = {k: v for k, v in self.__dict__.items() if k != "shares"}
        for f in FAMILIES:
            d[f"share_{f}"] = None if self.shares is None else self.shares[f]
        return d


def conv_layers(model: nn.Module) -> list[tuple[str, nn.Module, str]]:
    """(name, module, kind) of every nn.Conv2d and :class:`FixedDepthwise` in ``model``, in module order."""
    out: list[tuple[str, nn.Module, str]] = []
    seen_stem = False
    for name, m in model.named_modules():
        if isinstance(m, FixedDepthwise):
            out.append((name, m, "fixed"))
            seen_stem = True
        elif isinstance(m, nn.Conv2d):
            if m.kernel_size == (1, 1):
                kind = "pointwise"
            elif m.groups == m.in_channels and m.in_channels > 1:
                kind = "depthwise"
            elif not seen_stem:
                kind = "stem"
            else:
                kind = "regular"
            seen_stem = True
            out.append((name, m, kind))
    return out


def layer_weight(model: nn.Module, name: str) -> torch.Tensor:
    """A detached float32 CPU copy of the kernel tensor of conv layer ``name`` (safe to hand to a page)."""
    for n, m, _ in conv_layers(model):
        if n == name:
            return m.weight.detach().to("cpu", torch.float32).clone()
    raise ValueError(f"'{name}' is not a convolution layer of this model; see layer_shares(model) for the names")


def layer_shares(model: nn.Module, threshold: float = DEFAULT_THRESHOLD) -> list[LayerKernels]:
    """For each convolution layer: its kind, stride, kernel size, and the share of each kernel family.

    Reads the weights only (no forward pass, nothing modified). Pointwise layers are listed with ``shares=None``.
    """
    rows: list[LayerKernels] = []
    for name, m, kind in conv_layers(model):
        w = m.weight
        if isinstance(m, FixedDepthwise):
            k, stride, groups, cin, cout = 3, int(m.stride), w.shape[0], w.shape[0], w.shape[0]
        else:
            kh, kw = m.kernel_size
            k = kh if kh == kw else (kh, kw)
            stride, groups, cin, cout = int(m.stride[0]), m.groups, m.in_channels, m.out_channels
        count = int(w.shape[0] * w.shape[1])
        shares = low = None
        if kind != "pointwise" and isinstance(k, int) and k >= 3 and k % 2 == 1:
            shares = shares_of(family_counts(w, threshold))
            low = float(low_pass_scores(w).mean())
        rows.append(LayerKernels(name, kind, stride, k, cin, cout, groups, count, shares, low))
    return rows


@dataclass(frozen=True)
class StridedSummary:
    """Depthwise layers of one stride, pooled: the VGNet comparison of strided and non-strided kernels."""

    stride: int
    layers: int
    kernels: int
    shares: dict[str, float]
    mean_low_pass: float

    def row(self) -> dict:
        d = {"stride": self.stride, "layers": self.layers, "kernels": self.kernels}
        d.update({f"share_{f}": self.shares[f] for f in FAMILIES})
        d["mean_low_pass"] = self.mean_low_pass
        return d


def compare_strided(model: nn.Module, threshold: float = DEFAULT_THRESHOLD) -> list[StridedSummary]:
    """Learned depthwise kernels pooled by stride (1, 2, ...): family shares and mean low-pass score.

    VGNet's observation is that strided depthwise kernels are more Gaussian-like (low-pass before downsampling)
    than the others. Each kernel counts once (layers with more kernels weigh more). Fixed kernels are left out.
    """
    by_stride: dict[int, list[tuple[torch.Tensor, int]]] = {}
    for _, m, kind in conv_layers(model):
        if kind == "depthwise" and m.kernel_size[0] == m.kernel_size[1] and m.kernel_size[0] >= 3:
            by_stride.setdefault(int(m.stride[0]), []).append((m.weight, m.kernel_size[0]))
    out: list[StridedSummary] = []
    for stride in sorted(by_stride):
        counts = dict.fromkeys(FAMILIES, 0)
        lows: list[np.ndarray] = []
        for w, _ in by_stride[stride]:
            for f, n in family_counts(w, threshold).items():
                counts[f] += n
            lows.append(low_pass_scores(w))
        low = np.concatenate(lows)
        out.append(
            StridedSummary(stride, len(by_stride[stride]), sum(counts.values()), shares_of(counts), float(low.mean()))
        )
    return out


def normalise_for_display(weight: torch.Tensor, per: str = "kernel") -> np.ndarray:
    """Kernels scaled to -1..1 for a diverging heatmap: each by its own max |value| (per="kernel") or all by the
    layer's (per="layer"). Returns (N, k, k) for the flattened kernels; zero kernels stay zero."""
    if per not in ("kernel", "layer"):
        raise ValueError(f"per='{per}' must be 'kernel' or 'layer'")
    k = weight.detach().to("cpu", torch.float64)
    k = k.reshape(-1, k.shape[-2], k.shape[-1])
    scale = k.abs().amax((-2, -1), keepdim=True) if per == "kernel" else k.abs().max().reshape(1, 1, 1)
    return (k / scale.clamp_min(1e-30)).numpy()


def rgb_tiles(weight: torch.Tensor) -> np.ndarray:
    """A stem weight (C_out, 3, k, k) as C_out RGB tiles (C_out, k, k, 3) in 0..1, each tile centred at 0.5 and
    scaled by its own max |value| (the usual way first-layer filters are drawn)."""
    if weight.dim() != 4 or weight.shape[1] != 3:
        raise ValueError(f"RGB tiles need a weight shaped (C_out, 3, k, k); got {tuple(weight.shape)}")
    w = weight.detach().to("cpu", torch.float64)
    scale = w.abs().amax((1, 2, 3), keepdim=True).clamp_min(1e-30)
    return (0.5 + 0.5 * w / scale).permute(0, 2, 3, 1).numpy()


# ----- what a page says about a layer ---------------------------------------------------------------------------


def default_layer(rows: list[LayerKernels]) -> str:
    """The layer a gallery starts on: the first strided depthwise layer (where VGNet saw Gaussians), else the first."""
    strided = [r.name for r in rows if r.kind == "depthwise" and r.stride > 1]
    return strided[0] if strided else rows[0].name


def layer_labels(rows: list[LayerKernels]) -> dict[str, str]:
    """Layer name -> '12. depthwise 3x3 s2 · features.3.0.block.1.0' (position, kind, kernel, stride) for a picker."""
    labels = {}
    for i, r in enumerate(rows, 1):
        square = f"x{r.kernel_size}" if isinstance(r.kernel_size, int) else ""
        stride = f" s{r.stride}" if r.stride > 1 else ""
        labels.setdefault(r.name, f"{i}. {r.kind} {r.kernel_size}{square}{stride} · {r.name}")
    return labels


def layer_sentence(row: LayerKernels, weights: str) -> str:
    """'Layer **x**: depthwise, 32 → 32 channels, kernel 3, stride 2, groups 32; 32 spatial kernels. Weights: ...'."""
    return (
        f"Layer **{row.name}**: {row.kind}, {row.in_channels} → {row.out_channels} channels, kernel "
        f"{row.kernel_size}, stride {row.stride}, groups {row.groups}; {row.count:,} spatial kernels. "
        f"Weights: **{weights}**."
    )


def families_sentence(shown: int, count: int, shares: dict[str, float]) -> str:
    """How many of a layer's kernels are drawn, and the share of each family among them (0 for a missing one)."""
    return (
        f"Showing {shown} of {count:,} kernels (blue < 0 < red). Families in this layer: "
        + ", ".join(f"**{FAMILY_LABELS[f]}** {shares.get(f, 0):.0%}" for f in FAMILIES)
        + "."
    )
