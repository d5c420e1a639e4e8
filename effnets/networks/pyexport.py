"""Standalone Python export: one file that builds an effnets network with torch only.

:func:`python_source` turns any ``nn.Module`` made of effnets' blocks (a registry model, a catalog block, a network
the builder makes) into the text of a Python file that needs no effnets: it defines ``build() -> nn.Module`` and, run
as a script, prints the parameter count. The file holds

- the module tree: every standard torch layer (``nn.Conv2d``, ``nn.BatchNorm2d``, ``nn.LayerNorm``, activations,
  pools ... and torchvision's ``DeformConv2d``) written as its constructor call, one per line, at its own dotted
  path, and the parameters and buffers that live directly on effnets' own modules (ConvNeXt's layer scale, VGNetF's
  fixed kernels) at theirs. So the names and shapes of the state dict are effnets' own and
  ``build().load_state_dict(effnets_model.state_dict())`` loads strictly;
- the forward: effnets' own, traced by ``torch.fx`` with the torch layers as leaves (``graph.python_code``), with
  the imports its code needs.

Each constructor call is read from the layer's constructor signature and attributes, then checked: the call is made
on the meta device and must give the same settings and the same parameter shapes, or the export is refused with a
:class:`effnets.spec.SpecError` naming the layer type. So is a forward that calls anything outside torch. The file
is built from the module's structure only: the user's ``name`` and ``header`` go into its docstring as escaped text,
and the result is parsed and built on the meta device before it is returned (its parameter names, shapes and count
must equal the module's).
"""

from __future__ import annotations

import ast
import builtins
import importlib
import importlib.metadata
import inspect
import keyword
import math
import re
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.fx as fx
from torch import nn

from effnets.blocks._layers import TFSamePad
from effnets.spec import SpecError

VALUE_LIMIT = 16_384
"""The most elements of a buffer on an effnets module written out value by value (after removing a period)."""

_NAME = re.compile(r"^[A-Za-z0-9_]+$")
_MODULE_ROOTS = ("torch", "torchvision", "math", "operator")

_TF_SAME_PAD = '''

class TFSamePad(nn.Module):
    """TensorFlow 'SAME' padding for a k x k, stride s conv: output = ceil(input / s), the odd pixel bottom/right."""

    def __init__(self, kernel_size, stride, dilation=1):
        super().__init__()
        self.kernel_size, self.stride, self.dilation = kernel_size, stride, dilation

    def forward(self, x):
        pad = []
        for size in (x.shape[-1], x.shape[-2]):  # F.pad takes the last axis first
            out = -(-size // self.stride)
            total = max((out - 1) * self.stride + self.dilation * (self.kernel_size - 1) + 1 - size, 0)
            pad += [total // 2, total - total // 2]
        return F.pad(x, pad) if any(pad) else x
'''
_SUPPORT: dict[type, tuple[str, str]] = {TFSamePad: ("TFSamePad", _TF_SAME_PAD)}
"""effnets layers whose forward is shape-dependent Python: kept as leaves and written out as a small torch class."""

_PUT = '''

def _put(root, path, value, persistent=True):
    """Add a layer, parameter or buffer at a dotted path, making plain containers on the way."""
    *parents, name = path.split(".")
    for part in parents:
        if part not in dict(root.named_children()):
            root.add_module(part, nn.Module())
        root = root.get_submodule(part)
    if isinstance(value, nn.Module):
        root.add_module(name, value)
    elif isinstance(value, nn.Parameter):
        root.register_parameter(name, value)
    else:
        root.register_buffer(name, value, persistent=persistent)
'''


_CLASS_DOC = '"""The network: its layers in __init__, its forward as torch.fx traced it."""'
_MAIN = [
    'if __name__ == "__main__":',
    "    net = build()",
    '    print(f"{sum(p.numel() for p in net.parameters()):,} parameters")',
]


def python_source(
    module: nn.Module, name: str = "Net", header: str = "", input_shape: tuple[int, ...] | None = None
) -> str:
    """The text of a standalone Python file that builds ``module`` with torch only (see the module docstring).

    Args:
        module: the network (any device, the meta device included; it is traced, never run or changed).
        name: the network's name: the docstring's first words, and the class name once made a plain identifier.
        header: text for the docstring (any characters; it is escaped).
        input_shape: (C, H, W) for the docstring; by default the module's ``input_shape`` (effnets' networks have
            one) or the first layer's input channels.

    Raises:
        SpecError: the module holds a layer type or calls a function this export cannot write with torch only, has
            names that are not plain identifiers, or shares parameters between layers (one sentence naming which).
    """
    if not isinstance(module, nn.Module):
        raise SpecError(f"only an nn.Module can be exported to Python, not a {type(module).__name__}", "module", module)
    for key, text in (("name", name), ("header", header)):
        if not isinstance(text, str):
            raise SpecError(f"the export's {key} must be text, not a {type(text).__name__}", key, text)
    _check_tree(module)
    dtype = _float_dtype(module)
    graph, constants = _trace(module)
    body = _Body()
    body.tree(module, "")
    for path, tensor in constants.items():  # tensors the forward uses that are no parameter or buffer: fixed
        body.tensor(path, tensor, parameter=False, persistent=False)
    forward, imports = _forward(graph)
    imports |= body.imports
    cls = _class_name(name, taken=_top_level_names(imports) | {s[0] for s in _SUPPORT.values()})
    params = sum(p.numel() for p in module.parameters())
    doc = _docstring(module, graph, name, header, params, input_shape, body)
    parts = [doc, ""]
    parts += sorted(i for i in imports if i.startswith("import ")) + sorted(i for i in imports if i.startswith("from "))
    parts += sorted(i for i in imports if not i.startswith(("import ", "from ")))
    for code in [_PUT, *(body.support[k] for k in sorted(body.support))]:
        parts += ["", "", code.strip("\n")]
    parts += ["", "", f"class {cls}(nn.Module):", f"    {_CLASS_DOC}", ""]
    parts += ["    def __init__(self) -> None:", "        super().__init__()"]
    parts += [f"        {line}" for line in body.lines]
    parts += ["", *[f"    {line}" if line else "" for line in forward.splitlines()], "", ""]
    to_dtype = f".to({dtype})" if dtype != "torch.float32" else ""
    parts += ["def build() -> nn.Module:", f'    """A new {cls}, in training mode, with fresh weights."""']
    parts += [f"    return {cls}(){to_dtype}", "", ""]
    parts += _MAIN
    source = "\n".join(parts).rstrip() + "\n"
    _verify(source, module, cls)
    return source


# ----- the module tree --------------------------------------------------------------------------------------------


def _check_tree(module: nn.Module) -> None:
    seen: dict[int, str] = {}
    for path, p in module.named_parameters(remove_duplicate=False):
        if id(p) in seen:
            raise SpecError(
                f"{path} and {seen[id(p)]} share one parameter, which a standalone file would hold twice",
                "module",
                path,
            )
        seen[id(p)] = path
    for path, _ in [*module.named_modules(remove_duplicate=False), *module.named_parameters(), *module.named_buffers()]:
        for part in path.split(".") if path else []:
            if not _NAME.match(part) or keyword.iskeyword(part):
                raise SpecError(
                    f"the name {part!r} in {path!r} is not a plain identifier or index, so it cannot be exported",
                    "module",
                    path,
                )


def _is_leaf(m: nn.Module) -> bool:
    t = type(m)
    if t in _SUPPORT:
        return True
    if t.__module__.startswith("torchvision.ops"):
        return not any(True for _ in m.children())  # DeformConv2d; composites such as SqueezeExcitation are traced
    if isinstance(m, nn.Sequential | nn.ModuleList | nn.ModuleDict):
        return False
    return t.__module__.startswith(("torch.nn.", "torch.ao.nn."))


class _Tracer(fx.Tracer):
    def is_leaf_module(self, m: nn.Module, module_qualified_name: str) -> bool:
        return _is_leaf(m)


def _trace(module: nn.Module) -> tuple[fx.Graph, dict[str, torch.Tensor]]:
    """The forward graph, and the tensors it reads that are no parameter or buffer (plain tensor attributes, and
    the constants fx sets on the root while tracing, removed from ``module`` again)."""
    before = set(vars(module))
    added: dict[str, Any] = {}
    try:
        graph = _Tracer().trace(module)
    except Exception as e:  # torch.fx raises many types; the user gets one sentence
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise SpecError(
            f"torch.fx cannot trace {type(module).__name__} ({first[:160]}), so it cannot be exported to Python",
            "module",
            type(module).__name__,
        ) from None
    finally:
        for key in [k for k in vars(module) if k not in before]:
            added[key] = vars(module)[key]
            delattr(module, key)
    state = {k for k, _ in module.named_parameters()} | {k for k, _ in module.named_buffers()}
    constants = {}
    for node in graph.nodes:
        if node.op != "get_attr" or node.target in state or node.target in constants:
            continue
        owner, _, attr = node.target.rpartition(".")
        value = added[attr] if not owner and attr in added else getattr(module.get_submodule(owner), attr, None)
        if not isinstance(value, torch.Tensor):
            raise SpecError(f"the forward reads {node.target}, which is not a tensor, so it cannot be exported",
                            "module", node.target)  # fmt: skip
        constants[node.target] = value
    return graph, constants


class _Body:
    """The lines of ``__init__``: one ``_put`` per layer, parameter and buffer, in the module's own order."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.imports: set[str] = {"import torch", "from torch import nn"}
        self.support: dict[str, str] = {}
        self.notes: list[str] = []
        self.torchvision: list[str] = []
        self._checked: set[tuple[Any, ...]] = set()

    def tree(self, m: nn.Module, path: str) -> None:
        skip = getattr(m, "_non_persistent_buffers_set", set())
        for key, p in m.named_parameters(recurse=False):
            self.tensor(_join(path, key), p, parameter=True)
        for key, b in m.named_buffers(recurse=False):
            self.tensor(_join(path, key), b, parameter=False, persistent=key not in skip)
        for key, child in m.named_children():
            if _is_leaf(child):
                self.lines.append(f'_put(self, "{_join(path, key)}", {self.constructor(child, _join(path, key))})')
            else:
                self.tree(child, _join(path, key))

    def constructor(self, m: nn.Module, path: str) -> str:
        t = type(m)
        if t in _SUPPORT:
            label, source = _SUPPORT[t]
            self.support[label] = source
            self.imports.add("import torch.nn.functional as F")
        elif t.__module__.startswith("torchvision.ops") and getattr(_torchvision_ops(), t.__name__, None) is t:
            label = f"torchvision.ops.{t.__name__}"
            self.imports.add("import torchvision.ops")
            if t.__name__ not in self.torchvision:
                self.torchvision.append(t.__name__)
        elif getattr(nn, t.__name__, None) is t:
            label = f"nn.{t.__name__}"
        else:
            raise _refuse(t, path)
        state = tuple((k, tuple(v.shape)) for k, v in m.state_dict().items())
        settings = tuple(sorted((k, repr(v)) for k, v in vars(m).items() if not k.startswith("_")))
        for collapse in (True, False):
            args = _arguments(m, t, path, collapse)
            call = f"{label}({', '.join(a[2] for a in args)})"
            if (t, call, state, settings) in self._checked or _same_layer(m, t, args):
                self._checked.add((t, call, state, settings))
                if "math." in call:
                    self.imports.add("import math")
                return call
        raise SpecError(
            f"the {t.__name__} layer at {path or 'the top'} holds settings its constructor arguments do not give back, "
            "so it cannot be exported to Python",
            "module",
            t.__name__,
        )

    def tensor(self, path: str, t: torch.Tensor, parameter: bool, persistent: bool = True) -> None:
        expr, exact = _tensor_expr(t, parameter)
        if not exact:
            if not persistent:
                raise SpecError(
                    f"{path} is a fixed tensor outside the state dict whose values cannot be written out "
                    f"({tuple(t.shape)}, on {t.device.type}), so the file could not reproduce it",
                    "module",
                    path,
                )
            self.notes.append(path)
        if "math." in expr:
            self.imports.add("import math")
        if parameter:
            grad = "" if t.requires_grad else ", requires_grad=False"
            self.lines.append(f'_put(self, "{path}", nn.Parameter({expr}{grad}))')
        else:
            self.lines.append(f'_put(self, "{path}", {expr}{"" if persistent else ", persistent=False"})')


def _torchvision_ops() -> Any:
    return importlib.import_module("torchvision.ops")


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _refuse(t: type, path: str) -> SpecError:
    where = f" at {path}" if path else ""
    return SpecError(
        f"the layer type {t.__module__}.{t.__qualname__}{where} has no torch-only constructor this export can write",
        "module",
        t.__name__,
    )


def _arguments(m: nn.Module, t: type, path: str, collapse: bool) -> list[tuple[str | None, Any, str]]:
    """The constructor's arguments read back from the layer as (keyword or None, value, source text): required ones
    by position, the rest by keyword where they differ from the default; ``collapse`` writes (3, 3) as 3."""
    out = []
    for p in list(inspect.signature(t.__init__).parameters.values())[1:]:
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) or p.name in ("device", "dtype"):  # the file's choice
            continue
        if not hasattr(m, p.name):  # an argument kept under no name (PReLU's init): its default, then the check
            if p.default is p.empty:
                raise _refuse(t, path)
            continue
        value = getattr(m, p.name)
        if isinstance(p.default, bool) and (value is None or isinstance(value, torch.Tensor)):
            value = value is not None  # bias=True/False: the attribute is the tensor or None
        if isinstance(value, torch.Size):
            value = tuple(value)
        if collapse and isinstance(value, tuple) and value and all(type(v) is int and v == value[0] for v in value):
            value = value[0]
        text = _literal(value)
        if text is None:
            raise _refuse(t, path)
        if p.default is not p.empty and text == _literal(p.default):
            continue
        if p.default is p.empty and p.kind is p.POSITIONAL_OR_KEYWORD:
            out.append((None, value, text))
        else:
            out.append((p.name, value, f"{p.name}={text}"))
    return out


def _literal(v: Any) -> str | None:
    """Python source for a constructor setting, or None for anything but plain values."""
    if isinstance(v, str) and v.isprintable() and not set(v) & set('"\\'):
        return f'"{v}"'
    if v is None or isinstance(v, bool | int | str):
        return repr(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "math.nan"
        return repr(v) if math.isfinite(v) else ("math.inf" if v > 0 else "-math.inf")
    if isinstance(v, tuple | list):
        items = [_literal(x) for x in v]
        if any(i is None for i in items):
            return None
        if isinstance(v, list):
            return f"[{', '.join(items)}]"  # type: ignore[arg-type]
        return f"({items[0]},)" if len(items) == 1 else f"({', '.join(items)})"  # type: ignore[arg-type]
    return None


def _same_layer(m: nn.Module, t: type, args: list[tuple[str | None, Any, str]]) -> bool:
    """Whether the constructor called with ``args`` (on the meta device) gives ``m``'s settings and parameter names
    and shapes."""
    try:
        with torch.device("meta"):
            new = t(*[v for k, v, _ in args if k is None], **{k: v for k, v, _ in args if k is not None})
    except Exception:  # a constructor that rejects its own read-back settings: try the other spelling, or refuse
        return False
    for key, value in vars(new).items():
        if key.startswith("_") or key == "training" or isinstance(value, torch.Tensor):
            continue
        if vars(m).get(key, object()) != value:
            return False
    shapes = [(k, tuple(v.shape)) for k, v in new.state_dict().items()]
    return shapes == [(k, tuple(v.shape)) for k, v in m.state_dict().items()]


def _tensor_expr(t: torch.Tensor, parameter: bool) -> tuple[str, bool]:
    """Source that makes ``t`` and whether it has ``t``'s values: one value filled, a buffer's values written out
    (its period along the first axis once), else zeros (the state dict brings the values)."""
    shape = _literal(tuple(t.shape))
    dtype = "" if t.dtype == torch.float32 else f", dtype={t.dtype}"
    zeros = f"torch.zeros({shape}{dtype})", False
    if t.is_meta or t.numel() == 0:
        return (f"torch.empty({shape}{dtype})", True) if t.numel() == 0 else zeros
    flat = t.detach().cpu().reshape(-1)
    if bool((flat == flat[0]).all()):
        return f"torch.full({shape}, {_number(flat[0].item(), t.dtype)}{dtype})", True
    if parameter:
        return zeros
    rows, n, period = t.detach().cpu(), t.shape[0], t.shape[0]
    like_first = (rows.reshape(n, -1) == rows[0].reshape(1, -1)).all(1).nonzero().flatten().tolist()
    for p in like_first[1:]:  # a period starts again where a row equals the first one
        if torch.equal(rows, rows[:p].repeat(-(-n // p), *[1] * (t.dim() - 1))[:n]):
            period = p
            break
    values = rows[:period].reshape(-1).tolist()
    if len(values) > VALUE_LIMIT:
        return zeros
    lines, line = [], ""
    for text in (_number(v, t.dtype) for v in values):
        if len(line) + len(text) > 100:
            lines.append(line.rstrip())
            line = ""
        line += text + ", "
    lines.append(line.rstrip())
    listing = "\n".join(f"            {x}" for x in lines)
    expr = f"torch.tensor([\n{listing}\n        ]{dtype}).reshape({_literal((period, *t.shape[1:]))})"
    if period != n:
        expr += f".repeat({-(-n // period)}{', 1' * (t.dim() - 1)})" + ("" if n % period == 0 else f"[:{n}]")
    return expr, True


def _number(v: float | int | bool, dtype: torch.dtype) -> str:
    """The shortest text that gives ``v`` back in ``dtype`` (float32's 1e-06, not 9.999999974752427e-07)."""
    if dtype == torch.float32 and isinstance(v, float) and math.isfinite(v):
        short = str(np.float32(v))
        if np.float32(float(short)) == np.float32(v):
            return short
    return _literal(v) or repr(v)


def _float_dtype(module: nn.Module) -> str:
    kinds = {t.dtype for t in [*module.parameters(), *module.buffers()] if t.is_floating_point()}
    if len(kinds) > 1:
        names = ", ".join(sorted(str(k) for k in kinds))
        raise SpecError(f"the module mixes floating-point types ({names}), which this export does not", "module", names)
    return str(kinds.pop()) if kinds else "torch.float32"


# ----- the forward ------------------------------------------------------------------------------------------------


def _forward(graph: fx.Graph) -> tuple[str, set[str]]:
    """The traced forward's source (without annotations) and the imports its code needs."""
    for node in graph.nodes:
        node.type = None
    code = graph.python_code(root_module="self")
    src = code.src.strip("\n").rstrip() + "\n"  # one op a line, the names it frees after it (fx's own layout)
    used = {n.id for n in ast.walk(ast.parse(src)) if isinstance(n, ast.Name)}
    imports = set()
    for key, obj in code.globals.items():
        if key in used:
            imports |= _import_for(key, obj)
    return src, imports


def _import_for(key: str, obj: Any) -> set[str]:
    if getattr(builtins, key, None) is obj:
        return set()
    if isinstance(obj, float) and key in ("inf", "nan"):
        return {f"from math import {key}"}
    if obj is type(None):
        return {f"{key} = type(None)"} if key == "NoneType" else set()
    if inspect.ismodule(obj) and obj.__name__.split(".")[0] in _MODULE_ROOTS:
        return {f"import {obj.__name__}" if key == obj.__name__ else f"import {obj.__name__} as {key}"}
    owner, qual = getattr(obj, "__module__", None) or "", getattr(obj, "__qualname__", "")
    if owner.split(".")[0] in _MODULE_ROOTS and "." not in qual:
        try:
            found = getattr(importlib.import_module(owner), qual, None) is obj
        except ImportError:
            found = False
        if found:
            return {f"from {owner} import {qual}" + ("" if key == qual else f" as {key}")}
    what = f"{owner}.{qual}" if owner and qual else repr(obj)[:80]
    raise SpecError(f"the forward calls {what}, which is not part of torch, so it cannot be exported", "module", what)


# ----- the docstring, the class name, the check ---------------------------------------------------------------------


def _version() -> str:
    try:
        return importlib.metadata.version("effnets")
    except importlib.metadata.PackageNotFoundError:
        pyproject = Path(__file__).resolve().parents[2] / "pyproject.toml"
        found = re.search(r'^version = "([^"]+)"', pyproject.read_text(), re.M) if pyproject.exists() else None
        return found.group(1) if found else "(unknown version)"


def _escape(text: str) -> str:
    """``text`` as the inside of a triple-quoted string: backslashes, double quotes and unprintable characters
    escaped, newlines kept, so no text can end the docstring."""
    out = []
    for ch in text:
        if ch == "\n" or (ch.isprintable() and ch not in '\\"'):
            out.append(ch)
        elif ch in '\\"':
            out.append("\\" + ch)
        else:
            out.append(ch.encode("unicode_escape").decode("ascii"))
    escaped = "".join(out)
    if ast.literal_eval(f'"""{escaped}"""') != text:  # a guarantee, not a hope
        raise RuntimeError("escaping the docstring text failed")
    return escaped


def _top_level_names(imports: set[str]) -> set[str]:
    names = set()
    for line in imports:
        for node in ast.parse(line).body:
            if isinstance(node, ast.Import | ast.ImportFrom):
                names |= {(a.asname or a.name).split(".")[0] for a in node.names}
            elif isinstance(node, ast.Assign):
                names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
    return names


def _class_name(name: str, taken: set[str]) -> str:
    """``name`` as a plain ASCII identifier that shadows nothing the file uses ("Net" when nothing is left)."""
    cls = re.sub(r"[^0-9A-Za-z_]", "_", name)
    if not cls or cls[0].isdigit() or cls.startswith("_"):
        cls = f"Net_{cls}".rstrip("_")
    if keyword.iskeyword(cls) or hasattr(builtins, cls) or cls in taken | {"build"}:
        cls = f"Net_{cls}"
    return cls


def _input_text(module: nn.Module, graph: fx.Graph, input_shape: tuple[int, ...] | None) -> str:
    shape = input_shape if input_shape is not None else getattr(module, "input_shape", None)
    if isinstance(shape, tuple) and len(shape) == 3 and all(isinstance(v, int) for v in shape):
        return f"N x {shape[0]} x {shape[1]} x {shape[2]} (N x C x H x W)"
    for node in graph.nodes:
        if node.op == "call_module":
            layer = module.get_submodule(node.target)
            channels = getattr(layer, "in_channels", None) or getattr(layer, "num_features", None)
            if isinstance(channels, int):
                return f"N x {channels} x H x W (N x C x H x W; any H and W the layers allow)"
    return "as the forward's arguments"


def _docstring(module, graph, name, header, params, input_shape, body: _Body) -> str:
    owner = _escape(f"{type(module).__module__}.{type(module).__qualname__}")
    needs = "torch only"
    if body.torchvision:
        needs = f"torch and torchvision (torchvision.ops.{', torchvision.ops.'.join(body.torchvision)})"
    lines = [
        f"{_escape(name)}: a standalone PyTorch network, generated by effnets {_escape(_version())} from {owner}.",
        "",
        f"Parameters: {params:,}. Input: {_input_text(module, graph, input_shape)}.",
        "",
        textwrap.fill(
            f"It needs {needs}, not effnets. build() returns the network as an nn.Module; running this file prints "
            "its parameter count. Its parameter and buffer names and shapes are effnets' own, so "
            "build().load_state_dict(effnets_model.state_dict()) loads strictly and the two then give the same "
            "outputs. The forward is effnets' own, traced by torch.fx. Fresh weights follow torch's default "
            "initialisation, not effnets' own where it has one; load a state dict for the same weights.",
            width=116,
            break_long_words=False,
            break_on_hyphens=False,
        ),
    ]
    if body.notes:
        shown = ", ".join(body.notes[:4]) + (f" and {len(body.notes) - 4} more" if len(body.notes) > 4 else "")
        lines.append(f"These start at zero until a state dict is loaded: {_escape(shown)}.")
    if header:
        lines += ["", _escape(header)]
    return '"""' + "\n".join(lines).rstrip() + '\n"""'


def _verify(source: str, module: nn.Module, cls: str) -> None:
    """The file's top level holds only what this module writes, and it builds on the meta device with the module's
    parameter count, names and shapes (a failure here is a bug in this export, never the user's)."""
    tree = ast.parse(source)
    names = []
    for node in tree.body[1:]:
        if isinstance(node, ast.Import | ast.ImportFrom):
            names += [(a.asname or a.name).split(".")[0] for a in node.names]
        elif isinstance(node, ast.FunctionDef | ast.ClassDef):
            names.append(node.name)
        elif isinstance(node, ast.Assign) and [getattr(t, "id", "") for t in node.targets] == ["NoneType"]:
            names.append("NoneType")
        elif not (isinstance(node, ast.If) and ast.unparse(node.test) == "__name__ == '__main__'"):
            raise RuntimeError(f"unexpected top-level statement in the export: {ast.unparse(node)[:80]}")
    if not isinstance(tree.body[0], ast.Expr) or names.count(cls) != 1:
        raise RuntimeError("the export's docstring or class is not where it should be")
    namespace: dict[str, Any] = {"__name__": "effnets_export_check"}
    with torch.device("meta"):
        exec(compile(tree, "<effnets export>", "exec"), namespace)  # our own generated text, never the user's
        built = namespace["build"]()
    want = [(k, tuple(v.shape)) for k, v in module.state_dict().items()]
    got = [(k, tuple(v.shape)) for k, v in built.state_dict().items()]
    if got != want or sum(p.numel() for p in built.parameters()) != sum(p.numel() for p in module.parameters()):
        raise RuntimeError(f"the exported {cls} does not have the module's state dict")
