"""The 1000 ImageNet-1k class names, from torchvision's weight metadata (shipped with torchvision, no download).

Index i is the i-th output of every ImageNet classifier in effnets and torchvision (the standard synset order).
"""

from __future__ import annotations

from functools import cache

DOMESTIC_CAT_INDICES = frozenset(range(281, 286))
"""tabby, tiger cat, Persian cat, Siamese cat, Egyptian cat."""
BIG_CAT_INDICES = frozenset(range(286, 294))
"""cougar, lynx, leopard, snow leopard, jaguar, lion, tiger, cheetah."""
CAT_INDICES = DOMESTIC_CAT_INDICES
"""The cat classes a photo of a house cat should fall into (281-285)."""
COFFEE_INDICES = frozenset({504, 967, 968})
"""coffee mug, espresso, cup."""
NUM_CLASSES = 1000


@cache
def categories() -> tuple[str, ...]:
    """The 1000 class names in output order (torchvision's ``meta['categories']``)."""
    from torchvision.models import MobileNet_V2_Weights

    names = tuple(MobileNet_V2_Weights.IMAGENET1K_V1.meta["categories"])
    if len(names) != NUM_CLASSES:  # a torchvision change we must hear about, not paper over
        raise RuntimeError(f"torchvision ships {len(names)} ImageNet categories, expected {NUM_CLASSES}")
    return names


def label(index: int) -> str:
    """Name of class ``index`` (0..999)."""
    if not 0 <= int(index) < NUM_CLASSES:
        raise ValueError(f"ImageNet class index {index} is outside 0..{NUM_CLASSES - 1}")
    return categories()[int(index)]


def index_of(name: str) -> int:
    """Index of the class called ``name`` (exact, case-insensitive)."""
    lowered = name.strip().lower()
    for i, n in enumerate(categories()):
        if n.lower() == lowered:
            return i
    raise ValueError(f"'{name}' is not an ImageNet class name")
