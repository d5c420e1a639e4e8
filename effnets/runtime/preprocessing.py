"""Pictures to tensors, shown step by step: resize, crop, scale to 0..1 and normalise, with the statistics of each
step, as a model's weights expect them (:func:`effnets.runtime.weights.eval_transform`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image


@dataclass(frozen=True)
class Normalization:
    """Per-channel normalisation ``(x - mean) / std`` applied to pixels already scaled to 0..1."""

    name: str
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    description: str


NORMALIZATIONS: dict[str, Normalization] = {
    "imagenet": Normalization(
        "imagenet",
        (0.485, 0.456, 0.406),
        (0.229, 0.224, 0.225),
        "torchvision's ImageNet statistics: (x - mean) / std per channel, x in 0..1.",
    ),
    "tf_lite": Normalization(
        "tf_lite",
        (127 / 255, 127 / 255, 127 / 255),
        (128 / 255, 128 / 255, 128 / 255),
        "EfficientNet-Lite's TensorFlow scaling (p - 127) / 128 on 0..255 pixels p, i.e. mean 127/255, std 128/255.",
    ),
}
IMAGENET_MEAN = NORMALIZATIONS["imagenet"].mean
IMAGENET_STD = NORMALIZATIONS["imagenet"].std


def normalization(name: str) -> Normalization:
    """The normalisation preset ``name`` ('imagenet' or 'tf_lite'); each model declares its own."""
    if name not in NORMALIZATIONS:
        raise ValueError(f"unknown normalisation '{name}'; choose one of: {', '.join(NORMALIZATIONS)}")
    return NORMALIZATIONS[name]


@dataclass(frozen=True)
class TensorStats:
    """Statistics of a C x H x W tensor, overall and per channel (lists have one value per channel)."""

    shape: tuple[int, ...]
    dtype: str
    min: list[float]
    max: list[float]
    mean: list[float]
    std: list[float]

    @classmethod
    def of(cls, t: torch.Tensor) -> TensorStats:
        flat = t.detach().to(torch.float64).reshape(t.shape[0], -1)
        return cls(
            shape=tuple(t.shape),
            dtype=str(t.dtype).removeprefix("torch."),
            min=flat.min(1).values.tolist(),
            max=flat.max(1).values.tolist(),
            mean=flat.mean(1).tolist(),
            std=flat.std(1, unbiased=False).tolist(),
        )

    def rows(self, channel_names: tuple[str, ...] = ("R", "G", "B")) -> list[dict]:
        """One dict per channel (channel, min, max, mean, std): a table a page can show directly."""
        names = channel_names if len(channel_names) == len(self.mean) else tuple(str(i) for i in range(len(self.mean)))
        return [
            {"channel": n, "min": lo, "max": hi, "mean": m, "std": s}
            for n, lo, hi, m, s in zip(names, self.min, self.max, self.mean, self.std, strict=True)
        ]


@dataclass
class PreprocessStep:
    """One preprocessing step: what it did, its result, and that result's statistics.

    ``image`` is set for the steps that still produce a picture (resize, crop); ``tensor`` for every step
    (uint8 C x H x W for the picture steps, float for the others).
    """

    name: str
    description: str
    tensor: torch.Tensor
    stats: TensorStats
    image: Image.Image | None = None


@dataclass
class PreprocessResult:
    """Output of :func:`preprocess`: the model input (1 x 3 x crop x crop) and the steps that produced it."""

    tensor: torch.Tensor
    steps: list[PreprocessStep]
    normalization: Normalization

    @property
    def batch(self) -> torch.Tensor:
        """Alias of :attr:`tensor` (already batched: 1 x 3 x H x W)."""
        return self.tensor


_INTERPOLATIONS = ("bilinear", "bicubic", "nearest")


def preprocess(
    img: Image.Image,
    resize: int = 256,
    crop: int = 224,
    mean: tuple[float, float, float] | str = IMAGENET_MEAN,
    std: tuple[float, float, float] | None = IMAGENET_STD,
    interpolation: str = "bilinear",
) -> PreprocessResult:
    """The standard ImageNet evaluation transform, one step at a time: resize, centre crop, to tensor, normalise.

    Equivalent to torchvision's ``ImageClassification(crop_size=crop, resize_size=resize, mean, std)`` (antialiased
    resize of the short side, centre crop, scale to 0..1, normalise); each step is kept with its statistics.

    Args:
        img: a PIL image (converted to RGB if it is not).
        resize: the short side is resized to this many pixels (aspect ratio kept).
        crop: side of the square centre crop; must not exceed ``resize``.
        mean: per-channel mean on the 0..1 scale, or a preset name of :data:`NORMALIZATIONS` ("imagenet",
            "tf_lite"), in which case ``std`` is taken from the preset.
        std: per-channel standard deviation on the 0..1 scale (ignored with a preset name).
        interpolation: "bilinear" (torchvision's default), "bicubic" or "nearest".

    Returns:
        A :class:`PreprocessResult` with the 1 x 3 x crop x crop float tensor and the four steps.
    """
    from torchvision.transforms import InterpolationMode
    from torchvision.transforms import functional as TF

    if resize < 1 or crop < 1:
        raise ValueError(f"resize={resize} and crop={crop} must be positive")
    if crop > resize:
        raise ValueError(f"crop={crop} must not exceed resize={resize}: the crop is taken from the resized image")
    if interpolation not in _INTERPOLATIONS:
        raise ValueError(f"interpolation '{interpolation}' is not one of {', '.join(_INTERPOLATIONS)}")
    if isinstance(mean, str):
        norm = normalization(mean)
    else:
        if std is None or len(mean) != 3 or len(std) != 3:
            raise ValueError("mean and std must each have 3 values (R, G, B), or pass a preset name as mean")
        if min(std) <= 0:
            raise ValueError(f"std={tuple(std)} must be positive")
        known = [n for n in NORMALIZATIONS.values() if np.allclose(n.mean, mean) and np.allclose(n.std, std)]
        norm = known[0] if known else Normalization("custom", tuple(mean), tuple(std), "custom mean and std")
    if img.mode != "RGB":
        img = img.convert("RGB")

    steps: list[PreprocessStep] = []
    w0, h0 = img.size
    resized = TF.resize(img, resize, interpolation=InterpolationMode(interpolation), antialias=True)
    w1, h1 = resized.size
    verb = "upscaled" if min(w0, h0) < resize else "downscaled" if min(w0, h0) > resize else "kept"
    steps.append(
        _picture_step("resize", f"short side {min(w0, h0)} -> {resize} ({verb}): {w0}x{h0} -> {w1}x{h1}", resized)
    )
    cropped = TF.center_crop(resized, [crop, crop])
    steps.append(_picture_step("centre crop", f"central {crop}x{crop} of {w1}x{h1}", cropped))
    x = TF.pil_to_tensor(cropped).to(torch.float32) / 255.0
    steps.append(PreprocessStep("to tensor", "uint8 0..255 -> float32 0..1, channels first", x, TensorStats.of(x)))
    y = TF.normalize(x, list(norm.mean), list(norm.std))
    mean_s = ", ".join(f"{v:.3f}" for v in norm.mean)
    std_s = ", ".join(f"{v:.3f}" for v in norm.std)
    steps.append(PreprocessStep("normalise", f"{norm.name}: (x - [{mean_s}]) / [{std_s}]", y, TensorStats.of(y)))
    return PreprocessResult(tensor=y.unsqueeze(0), steps=steps, normalization=norm)


def _picture_step(name: str, description: str, img: Image.Image) -> PreprocessStep:
    t = torch.from_numpy(np.array(img, dtype=np.uint8)).permute(2, 0, 1).contiguous()
    return PreprocessStep(name, description, t, TensorStats.of(t), image=img)


def preprocess_batch(
    images: list[Image.Image],
    resize: int = 256,
    crop: int = 224,
    mean: tuple[float, float, float] | str = IMAGENET_MEAN,
    std: tuple[float, float, float] | None = IMAGENET_STD,
    interpolation: str = "bilinear",
) -> torch.Tensor:
    """N x 3 x crop x crop model input for several images (see :func:`preprocess` for the arguments)."""
    if not images:
        raise ValueError("no images to preprocess")
    return torch.cat([preprocess(im, resize, crop, mean, std, interpolation).tensor for im in images])
