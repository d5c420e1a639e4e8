"""Shared, cached models for the pages that run networks (Kernel Gallery, Inference Lab), and what those pages share
around them: their settings' opening (:func:`open_page`), the model picker and whether a model has weights here.

Models are cached with st.cache_resource, which shares them across every session of the server: they are built once,
put in eval mode, and NEVER changed afterwards. Anything that would change a model (a device move, a precision cast,
BN folding, hooks) happens on a copy (runtime.inference.prepare, runtime.features). ``max_entries`` bounds the memory
a user who tries every model can take.
"""

from __future__ import annotations

import hashlib

import streamlit as st
import torch

from effnets.runtime import weights
from effnets.ui import forms, state
from effnets.ui.schema import PageSchema


def model_names() -> list[str]:
    """Every model the pages can run: effnets' registry, then torchvision's reference models; those with offline
    weights first."""
    from effnets.models import MODELS

    names = list(MODELS) + [n for n in weights.torchvision_reference_models() if n not in MODELS]
    status = statuses()
    return sorted(names, key=lambda n: (not status[n].startswith(("packaged", "cached")), names.index(n)))


@st.cache_data(ttl=600, show_spinner=False)
def statuses() -> dict[str, str]:
    """name -> 'packaged' | 'cached' | 'random init' (re-read every 10 minutes: a download shows up)."""
    from effnets.models import MODELS

    names = list(MODELS) + [n for n in weights.torchvision_reference_models() if n not in MODELS]
    return {s.name: s.status for s in weights.weight_statuses(names)}


def status_label(name: str) -> str:
    s = statuses().get(name, "random init")
    return {"packaged": "ImageNet weights (packaged)", "cached": "ImageNet weights (hub cache)"}.get(s, "random init")


def has_weights(name: str) -> bool:
    """``name`` has ImageNet weights on this machine (packaged, or in the torch hub cache)."""
    return statuses().get(name) in ("packaged", "cached")


def weights_label(name: str, pretrained: bool) -> str:
    """Where the weights a page runs ``name`` with come from: :func:`status_label`, or "random init" when the page
    runs it untrained."""
    return status_label(name) if pretrained else "random init"


def open_page(schema: PageSchema, hold: tuple[str, ...] = ()) -> None:
    """The settings of a page that runs a model: the link's on a session's first run (the link parameters named in
    ``hold`` are kept for the page to check once their choices are known: :func:`effnets.ui.state.restore_held`),
    a model that runs here (the schema's default when it does, else the first), and every control's default."""
    if state.first_run(schema.prefix):
        for name in hold:
            state.hold(schema, name)
    st.session_state.setdefault(schema.key("model"), default_model(schema))
    state.load(schema)


def default_model(schema: PageSchema) -> str:
    """The model a page that runs one starts on: the schema's default when it runs here, else the first that does."""
    names = schema["model"].choices()
    return schema["model"].default if schema["model"].default in names else names[0]


def model_select(schema: PageSchema, help: str | None = None) -> str:
    """The page's model picker: every runnable model with where its weights come from, those with weights first."""
    return forms.control(st, schema, "model", "Model", format_func=lambda n: f"{n}  ·  {status_label(n)}", help=help)


@st.cache_resource(max_entries=4, show_spinner="Loading the model...")
def base_model(name: str, pretrained: bool):
    """(model on the CPU in fp32 eval mode, WeightStatus). Shared by all sessions: never mutate it.

    A random-init model gets the same architecture fields as the pretrained one (e.g. TF 'SAME' padding for
    EfficientNet-Lite), so that trained and untrained can be compared layer by layer."""
    fields = {} if pretrained else weights.pretrained_fields(name)
    model, status = weights.load_model(name, pretrained=pretrained, **fields)
    for p in model.parameters():
        p.requires_grad_(False)
    return model.eval(), status


def fingerprint(model: torch.nn.Module) -> str:
    """Short SHA-256 of every parameter and buffer: shows that a shared model was not changed."""
    h = hashlib.sha256()
    for k, v in sorted(model.state_dict().items()):
        h.update(k.encode())
        h.update(v.detach().to("cpu").contiguous().numpy().tobytes())
    return h.hexdigest()[:16]
