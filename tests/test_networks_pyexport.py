"""The standalone Python export: every catalog block and a sample of registered networks written as a torch-only
file, which is then run in a fresh interpreter where effnets cannot be imported (``python -I``, with
``sys.modules["effnets"] = None``). There it must build a module with exactly effnets' parameter count and
state-dict names and shapes, load effnets' state dict strictly, give effnets' outputs in eval mode, and print the
parameter count when run as a script. One subprocess runs a whole batch of files (importing torch is the slow part).
"""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap

import pytest
import torch
import torch.fx
from torch import nn

import effnets
from effnets.blocks import BLOCKS
from effnets.networks.pyexport import python_source
from effnets.spec import SpecError

RUNNER = textwrap.dedent(
    """
    import contextlib, io, runpy, sys
    sys.modules["effnets"] = None  # the exported files must not need effnets
    import torch
    torch.set_num_threads(1)  # as the parent's reference run: the same kernels, so the same rounding
    cases = torch.load(sys.argv[1], weights_only=True)
    results = {}
    for label, case in cases.items():
        try:
            with torch.device("meta") if case["meta"] else contextlib.nullcontext():
                net = runpy.run_path(case["path"], run_name="exported")["build"]()
            fresh = {k: v.clone() for k, v in net.state_dict().items() if k in case["fresh"]}
            params = sum(p.numel() for p in net.parameters())
            shapes = [(k, list(v.shape)) for k, v in net.state_dict().items()]
            if case["meta"]:
                y = torch.zeros(0)
            else:
                net.load_state_dict(case["state"], strict=True)
                with torch.no_grad():
                    y = net.eval()(case["x"])
            printed = io.StringIO()
            with contextlib.redirect_stdout(printed), torch.device("meta"):  # run as a script, on the meta device
                runpy.run_path(case["path"], run_name="__main__")
            results[label] = {"params": params, "shapes": shapes, "y": y, "fresh": fresh, "printed": printed.getvalue(),
                              "effnets": sys.modules.get("effnets", "gone") is None}
        except Exception as e:
            results[label] = {"error": f"{type(e).__name__}: {e}"}
    torch.save(results, sys.argv[2])
    """
)


def _stats(module: nn.Module) -> nn.Module:
    """Non-trivial BN statistics, so that eval mode tests more than the identity."""
    g = torch.Generator().manual_seed(1)
    for m in module.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.running_mean is not None:
            m.running_mean.copy_(torch.rand(m.running_mean.shape, generator=g) - 0.5)
            m.running_var.copy_(torch.rand(m.running_var.shape, generator=g) + 0.5)
    return module


def _written(module: nn.Module) -> list[str]:
    """The state-dict keys whose values the file writes itself: the buffers of effnets' own modules, and their
    parameters that start at one value (layer scale)."""
    keys = []
    for path, m in module.named_modules():
        if not type(m).__module__.startswith(("torch.", "torchvision.")):
            tensors = [*m.named_buffers(recurse=False)]
            tensors += [
                (k, p) for k, p in m.named_parameters(recurse=False) if p.is_meta or bool((p == p.flatten()[0]).all())
            ]
            keys += [f"{path}.{k}" if path else k for k, _ in tensors]
    return keys


def _run(tmp_path, cases: dict[str, tuple[nn.Module, tuple[int, ...] | None]], options=None) -> dict[str, dict]:
    """Export each case, run the files in one fresh interpreter without effnets, and return per label: the source,
    the effnets module's figures and the subprocess's results. A shape of None means: build on the meta device.
    Both sides run on one thread (small convs on two threads of a busy machine take 100x longer)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _run_cases(tmp_path, cases, options or {})
    finally:
        torch.set_num_threads(threads)


def _run_cases(tmp_path, cases: dict[str, tuple[nn.Module, tuple[int, ...] | None]], options) -> dict[str, dict]:
    payload, out = {}, {}
    for label, (module, shape) in cases.items():
        meta = shape is None
        fresh = _written(module)
        before = {k: v.clone() for k, v in module.state_dict().items() if k in fresh and not meta}
        source = python_source(module, **{"name": label, **options.get(label, {})})
        path = tmp_path / f"case_{len(payload)}.py"
        path.write_text(source)
        x = torch.randn(2, *shape) if not meta else torch.zeros(0)
        if not meta:
            _stats(module).eval()
            with torch.no_grad():
                ref = module(x)
        state = {k: v.detach().clone() for k, v in module.state_dict().items()} if not meta else {}
        payload[label] = {"path": str(path), "x": x, "state": state, "fresh": fresh, "meta": meta}
        out[label] = {
            "source": source,
            "params": sum(p.numel() for p in module.parameters()),
            "shapes": [(k, list(v.shape)) for k, v in module.state_dict().items()],
            "y": None if meta else ref,
            "fresh": before,
        }
    torch.save(payload, tmp_path / "cases.pt")
    (tmp_path / "runner.py").write_text(RUNNER)
    done = subprocess.run(
        [sys.executable, "-I", "runner.py", "cases.pt", "results.pt"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    results = torch.load(tmp_path / "results.pt", weights_only=True)
    for label in out:
        out[label]["result"] = results[label]
    return out


def _check(case: dict) -> None:
    got = case["result"]
    assert "error" not in got, got.get("error")
    assert got["effnets"], "effnets became importable in the subprocess"
    assert got["params"] == case["params"]
    assert got["shapes"] == case["shapes"], "state-dict names, order or shapes differ"
    assert got["printed"] == f"{case['params']:,} parameters\n"
    if case["y"] is not None:
        torch.testing.assert_close(got["y"], case["y"], atol=1e-5, rtol=1e-5)
    for key, value in case["fresh"].items():  # layer scale, fixed kernels: right before any state dict is loaded
        torch.testing.assert_close(got["fresh"][key], value, atol=0, rtol=0, msg=f"{key} is not effnets' value")
    tree = ast.parse(case["source"])
    imported = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    imported += [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    assert not [m for m in imported if m.split(".")[0] == "effnets"]
    assert set(m.split(".")[0] for m in imported) <= {"torch", "torchvision", "math", "operator"}


# ----- every catalog block ------------------------------------------------------------------------------------------


HOSTILE_NAME = 'x"""\nimport os\nos.system("echo pwned")\n"""'
HOSTILE_HEADER = 'ends here: """ \'\'\' \\" \\ \r\n\x00 \u2028 \t tab\n)\nprint(\'pwned\')  # """\n"""'


@pytest.fixture(scope="module")
def blocks_run(tmp_path_factory):
    cases: dict[str, tuple[nn.Module, tuple[int, ...] | None]] = {}
    for name, info in BLOCKS.items():
        spec = info.make_spec()
        cases[name] = (info.build(spec), (spec.in_channels, 14, 12))
    tf = BLOCKS["mbconv"].make_spec(tf_padding=True, kernel_size=5, stride=2)
    cases["mbconv tf_padding"] = (BLOCKS["mbconv"].build(tf), (tf.in_channels, 15, 12))  # odd sizes: uneven pads
    cases["hostile"] = (effnets.build_block("standard"), (32, 8, 8))
    hostile = {"hostile": {"name": HOSTILE_NAME, "header": HOSTILE_HEADER}}
    return _run(tmp_path_factory.mktemp("blocks"), cases, options=hostile)


@pytest.mark.parametrize("name", [*BLOCKS, "mbconv tf_padding"])
def test_every_block_at_its_defaults_exports_exactly(name, blocks_run):
    _check(blocks_run[name])


def test_a_torchvision_layer_makes_the_file_import_torchvision_and_say_so(blocks_run):
    deformable, plain = blocks_run["deformable"]["source"], blocks_run["standard"]["source"]
    assert "import torchvision.ops" in deformable and "torchvision.ops.DeformConv2d(" in deformable
    assert "torch and torchvision (torchvision.ops.DeformConv2d)" in ast.get_docstring(ast.parse(deformable))
    assert "torchvision" not in plain and "It needs torch only" in plain


def test_the_file_says_what_it_is_and_writes_one_constructor_a_line(blocks_run):
    case = blocks_run["mbconv"]
    doc = ast.get_docstring(ast.parse(case["source"]))
    assert doc.startswith("mbconv: a standalone PyTorch network, generated by effnets ")
    assert f"Parameters: {case['params']:,}." in doc
    assert "Input: N x 32 x H x W" in doc
    layers = [line.strip() for line in case["source"].splitlines() if line.strip().startswith("_put(self, ")]
    module = effnets.build_block("mbconv")
    assert len(layers) == len([m for m in module.modules() if not list(m.children())])
    expand = module.get_submodule("block.0.0")
    assert f'_put(self, "block.0.0", nn.Conv2d(32, {expand.out_channels}, 1, bias=False))' in layers


def test_a_hostile_name_or_header_stays_inside_the_docstring(blocks_run):
    source = blocks_run["hostile"]["source"]
    tree = ast.parse(source)
    doc = ast.get_docstring(tree, clean=False)
    assert doc.startswith(HOSTILE_NAME + ": a standalone") and doc.rstrip().endswith(HOSTILE_HEADER.rstrip())
    top = []
    for node in tree.body[1:]:
        if isinstance(node, ast.Import | ast.ImportFrom):
            top += [(a.asname or a.name) for a in node.names]
        elif isinstance(node, ast.FunctionDef | ast.ClassDef):
            top.append(node.name)
        else:
            assert isinstance(node, ast.If) and ast.unparse(node.test) == "__name__ == '__main__'"
    assert top[:3] + top[4:] == ["torch", "nn", "_put", "build"]
    assert top[3].isascii() and top[3].isidentifier() and top[3].startswith("x_")  # the class, from the name
    assert "os" not in {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}, "code from the name or header"
    calls = [n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)]
    assert calls.count("print") == 1, "a print beside the one of the __main__ block"
    assert "\x00" not in source and "\r" not in source and "\u2028" not in source
    _check(blocks_run["hostile"])  # and run: it builds, loads, matches and prints its count


# ----- registered networks ------------------------------------------------------------------------------------------


FAST_MODELS = {
    "efficientnet_b0": {},
    "mobilenet_v3_small": {},
    "mobilenet_v2": {},
    "shufflenet_v2_x1_0": {},
    "ghostnet_100": {},
    "mobileone_s0": {},
    "mobileone_s0 deploy": {"deploy": True},
    "regnety_400mf": {},
    "squeezenet1_0": {},
    "vgnetf_1_5mp": {},  # fixed edge and Gaussian kernels: buffers the file writes out value by value
    "densenet121 small": {"growth_rate": 12},  # DenseNet-121's layers at k = 12
}
SLOW_MODELS = {
    "convnext_tiny": {},
    "densenet121": {},
    "xception": {},
    "efficientnet_b0 tf_padding": {"tf_padding": True},
    "repvgg_a0 deploy": {"deploy": True},
    "mobilenetv4_conv_small": {},
    "vgnetg_1_0mp": {},
}


def _model_cases(which: dict[str, dict], px: int) -> dict[str, tuple[nn.Module, tuple[int, ...]]]:
    return {label: (effnets.build_model(label.split()[0], **f), (3, px, px)) for label, f in which.items()}


@pytest.fixture(scope="module")
def models_run(tmp_path_factory):
    return _run(tmp_path_factory.mktemp("models"), _model_cases(FAST_MODELS, 32))


@pytest.mark.parametrize("label", FAST_MODELS)
def test_registered_networks_export_exactly(label, models_run):
    _check(models_run[label])


@pytest.mark.slow
def test_large_networks_export_exactly(tmp_path):
    for case in _run(tmp_path, _model_cases(SLOW_MODELS, 64)).values():
        _check(case)


@pytest.mark.slow
def test_every_registered_network_exports_its_state_dict_on_the_meta_device(tmp_path):
    from effnets.models import MODELS

    cases = {}
    for name in MODELS:
        with torch.device("meta"):
            cases[name] = (effnets.build_model(name), None)
    for case in _run(tmp_path, cases).values():
        _check(case)


def test_python_file_dot_py_prints_the_parameter_count(models_run, tmp_path):
    (tmp_path / "b0.py").write_text(models_run["efficientnet_b0"]["source"])
    done = subprocess.run([sys.executable, "-I", "b0.py"], cwd=tmp_path, capture_output=True, text=True)
    assert (done.returncode, done.stdout) == (0, "5,288,548 parameters\n"), done.stderr[-1000:]
    assert models_run["efficientnet_b0"]["params"] == 5_288_548 == effnets.model_cost("efficientnet_b0").params


# ----- what the export writes itself, and what it refuses -----------------------------------------------------------


def _exec(source: str) -> nn.Module:
    namespace: dict = {"__name__": "exported"}
    exec(compile(source, "<export>", "exec"), namespace)  # our own generated file
    return namespace["build"]()


class _Constants(nn.Module):
    """A forward with a tensor made inside it and a plain tensor attribute (neither in the state dict)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 1)
        self.offset = torch.tensor([0.5, -1.0, 2.0]).view(1, 3, 1, 1)

    def forward(self, x):
        return self.conv(x) * torch.tensor([1.0, 2.0, 3.0]).view(1, 3, 1, 1) + self.offset


def test_tensors_outside_the_state_dict_are_written_out_and_the_module_is_left_unchanged():
    module = _Constants().eval()
    before = (set(vars(module)), {k: v.clone() for k, v in module.state_dict().items()})
    source = python_source(module)
    assert (set(vars(module)), module.state_dict().keys()) == (before[0], before[1].keys())
    net = _exec(source)
    net.load_state_dict(module.state_dict(), strict=True)
    x = torch.randn(2, 3, 4, 4)
    torch.testing.assert_close(net.eval()(x), module(x), atol=0, rtol=0)


def _outside(x: torch.Tensor) -> torch.Tensor:
    return x * 2


torch.fx.wrap("_outside")


class _CallsOutside(nn.Module):
    def forward(self, x):
        return _outside(x)


def test_refusals_name_what_cannot_be_written():
    with pytest.raises(SpecError, match="LSTM"):
        python_source(nn.Sequential(nn.LSTM(4, 4)))
    with pytest.raises(SpecError, match="_outside.*not part of torch"):
        python_source(_CallsOutside())
    odd = nn.Sequential()
    odd.add_module('a"b', nn.ReLU())
    with pytest.raises(SpecError, match="not a plain identifier"):
        python_source(odd)
    shared = nn.Linear(4, 4)
    with pytest.raises(SpecError, match="share one parameter"):
        python_source(nn.Sequential(shared, shared))
    with pytest.raises(SpecError) as e:
        python_source("resnet50")  # type: ignore[arg-type]
    assert e.value.field == "module"


def test_a_float64_network_builds_in_float64():
    module = effnets.build_block("mbconv").double().eval()
    net = _exec(python_source(module))
    assert {p.dtype for p in net.parameters()} == {torch.float64}
    net.load_state_dict(module.state_dict(), strict=True)
    x = torch.randn(1, 32, 8, 8, dtype=torch.float64)
    torch.testing.assert_close(net.eval()(x), module(x), atol=0, rtol=0)
