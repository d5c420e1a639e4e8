"""The Network Builder's core: designs, the architecture string and JSON spec, scaling, the diff, and the CLI verbs.

Every registered network is a design (its costs come back exactly); drawn designs either build, with the analytic
count equal to FlopCounterMode and numel, or name the row that cannot; hostile strings are refused with a message.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from effnets.blocks import BLOCKS
from effnets.counting import build_on_meta, flop_counter_macs, param_count
from effnets.models import MODELS, get_model
from effnets.models.network import Network, plan_cost
from effnets.networks import arch, design, diff, sources
from effnets.spec import SpecError
from tests.strategies import spec_fields

NAMES = list(MODELS)


def _counts(c):
    return c.params, c.macs, c.acts, c.total.extras, c.output_shape


@pytest.mark.parametrize("name", NAMES)
def test_every_registered_network_is_a_design_exactly(name):
    info = get_model(name)
    ref = info.cost(info.make_spec(), record_steps=False)
    d = design.from_model(name)
    assert _counts(plan_cost(design.to_plan(d), record_steps=False)) == _counts(ref)
    text = arch.encode(d)
    assert arch.decode(text) == d, "the architecture string does not round-trip"
    assert arch.from_json(arch.to_json(d)) == d, "the JSON spec does not round-trip"
    assert len(text) < arch.MAX_CHARS


@pytest.mark.parametrize(
    ("target", "width", "depth"),
    [("efficientnet_b1", 1.0, 1.1), ("efficientnet_b3", 1.2, 1.4), ("efficientnet_b5", 1.6, 2.2),
     ("efficientnet_b7", 2.0, 3.1)],
)  # fmt: skip
def test_b0_design_scaled_by_the_papers_multipliers_is_the_registered_network(target, width, depth):
    info = get_model(target)
    spec = info.make_spec()
    ref = info.cost(spec, record_steps=False)
    scaled = design.scale(design.from_model("efficientnet_b0"), width, depth, spec.resolution, "divisible_8")
    assert _counts(plan_cost(design.to_plan(scaled), record_steps=False)) == _counts(ref)


def test_scaling_changes_widths_by_the_rounding_and_depth_only_on_blocks():
    d = arch.decode("r224|conv(c:32,k:3,s:2)|mbconv*3(c:40,s:2)|conv(c:100,k:1)/classifier")
    s = design.scale(d, 1.3, 1.5, 256, "divisible_8")
    assert s.resolution == 256
    stem, blocks, head = s.stages[0][0], s.stages[1][0], s.stages[2]
    assert stem.settings["out_channels"] == 40 and stem.repeats == 1  # make_divisible(41.6, 8)
    assert blocks.settings["out_channels"] == 56 and blocks.repeats == 5  # 52 -> 56; ceil(4.5)
    assert head[0].settings["out_channels"] == 128 and head[1].repeats == 1
    n = design.scale(d, 1.3, 1.0, None, "nearest")
    assert n.stages[2][0].settings["out_channels"] == 130
    with pytest.raises(SpecError, match="rounding 'bogus'"):
        design.scale(d, 1.3, rounding="bogus")
    with pytest.raises(SpecError, match="width multiplier"):
        design.scale(d, float("nan"))


# ----- drawn designs -----------------------------------------------------------------------------------------------

BLOCK_NAMES = [n for n in BLOCKS if n != "deformable"]  # deformable: FlopCounterMode has no rule for its op


@st.composite
def drawn_rows(draw):
    rows = [design.Row("conv", (("out_channels", draw(st.sampled_from([8, 16, 24]))), ("kernel_size", 3),
                                ("stride", draw(st.sampled_from([1, 2])))))]  # fmt: skip
    for _ in range(draw(st.integers(1, 3))):
        name = draw(st.sampled_from(BLOCK_NAMES))
        fields = draw(spec_fields(BLOCKS[name].spec))
        fields.pop("in_channels", None)
        rows.append(design.Row(name, tuple(fields.items()), draw(st.integers(1, 2))))
    return rows


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=drawn_rows(), res=st.sampled_from([16, 24, 32]))
def test_drawn_designs_build_exactly_or_name_the_row(rows, res):
    d = design.Design(tuple((r,) for r in rows), resolution=res)
    assert arch.decode(arch.encode(d)) == d
    result = design.evaluate(d)
    if result.problem is not None:
        e = result.problem
        assert 0 <= e.stage < len(d.stages) and f"row {e.row + 1}" in str(e)
        assert len(result.stages) == e.stage, "the stages before the impossible row are still shown"
        return
    assume(result.total.params < 5_000_000)
    meta = build_on_meta(lambda: Network(result.plan))
    assert param_count(meta) == result.total.params
    assert flop_counter_macs(meta, (3, res, res)) == result.total.macs
    assert sum(s.params for s in result.stages) == result.total.params


# ----- hostile and wrong input -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("", "empty"),
        ("x" * (arch.MAX_CHARS + 1), "at most"),
        ("r224", "no stages"),
        ("224|conv(c:8,k:3)", "must start with the resolution"),
        ("r224|mbcov(c:16)", "did you mean mbconv"),
        ("r224|mbconv(c:16,kernal_size:3)", "'kernal_size' is not a setting of mbconv; did you mean kernel_size"),
        ("r224|conv(c:8,k:3)||conv(c:8,k:3)", "stage 2 is empty"),
        ("r224|conv(c:__import__('os').system('x'),k:3)", "may only hold"),
        ("r224|conv(c:8;rm -rf,k:3)", "may only hold"),
        ("r224|mbconv*5000(c:8)", "repeats=5000"),
        ("r224|" + "|".join(["mbconv*1000(c:8)"] * 11), "at most 10,000"),
        ("r224|conv(c:8,k:3,c:16)", "given twice"),
        ("r224|sepconv", "needs out_channels"),
        ("r99999|conv(c:8,k:3)", "resolution"),
        ("r224|conv(c:99999999,k:3)", "outside 1..65536"),
        ("r224|conv((((((((c:8))))))))", "is not a setting of conv"),
        ("r224|conv(c:8,k:3,stride:nan)", "is not"),
        ("r224|classifier(classes:10,dropout:inf)", "dropout"),
        ("r224|pool*3(k:2,s:2)", "plain layer is not repeated"),
        ("r224|conv(c:\u0661,k:3)", "may only hold"),
    ],
)
def test_hostile_or_wrong_strings_are_refused_with_a_message_fast(text, needle):
    t0 = time.perf_counter()
    with pytest.raises(SpecError) as e:
        d = arch.decode(text)
        r = design.evaluate(d)
        if r.problem is not None:
            raise r.problem
    assert needle in str(e.value), str(e.value)
    assert time.perf_counter() - t0 < 10


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        ("[" * 100000 + "]" * 100000, "not JSON"),
        ('{"format": "other"}', "not an effnets design"),
        ('{"format": "effnets-design", "stages": [[{"type": "conv", "settings": {"c": {"x": 1}}}]]}', "must be a"),
        ('{"format": "effnets-design", "stages": [[{"type": "conv", "oops": 1}]]}', "unknown key 'oops'"),
        ('{"format": "effnets-design", "evil": 1, "stages": []}', "unknown key 'evil'"),
        ('{"format": "effnets-design", "stages": [[{"type": "conv", "repeats": true}]]}', "whole number"),
        ('{"format": "effnets-design", "version": 9, "stages": []}', "version"),
    ],
)
def test_hostile_json_specs_are_refused(data, needle):
    with pytest.raises(SpecError, match=needle):
        arch.from_json(data)


def test_an_impossible_row_gets_the_message_and_the_rows_before_it_still_count():
    d = arch.decode("r224|conv(c:32,k:3,s:2)|mbconv(c:24,s:2)|grouped(c:30,groups:4)|conv(c:8,k:1)")
    r = design.evaluate(d)
    assert r.problem is not None and (r.problem.stage, r.problem.row) == (2, 0)
    assert "stage3, row 1 (grouped)" in str(r.problem) and "group" in str(r.problem)
    assert [s.name for s in r.stages] == ["stem", "stage2"]
    tiny = design.evaluate(
        arch.decode("r8|conv(c:8,k:3,s:2)|mbconv*4(c:16,s:2)|mbconv(c:16,s:2)|conv(c:8,k:7,padding:0)")
    )
    assert tiny.problem is not None and "stage4, row 1 (conv)" in str(tiny.problem)


# ----- the diff ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("preset", list(diff.PRESETS))
def test_diff_presets_align_stages_and_the_deltas_add_up(preset):
    a, b, _ = diff.PRESETS[preset]
    d = diff.diff_refs(a, b)
    for key in ("params", "macs", "acts"):
        assert sum(r.delta(key) for r in d.rows) == d.total(key)
    assert d.a.params == sources.resolve(a).params


def test_diff_of_a_design_and_where_it_started_shows_only_the_changed_stage():
    start = design.from_model("efficientnet_b0")
    stages = list(start.stages)
    stages[1] = (stages[1][0].with_settings(kernel_size=5),)
    mine = arch.encode(design.Design(tuple(stages), start.resolution))
    d = diff.diff(sources.resolve("efficientnet_b0"), sources.resolve(mine))
    changed = [r.a.name for r in d.rows if r.delta("params") or r.delta("macs")]
    assert changed == ["stage2"]
    assert d.total("params") == 32 * (25 - 9)  # stage2's 32-channel depthwise conv grows from 3x3 to 5x5


def test_resolve_suggests_nearest_names_and_reads_settings():
    with pytest.raises(SpecError, match="did you mean efficientnet_b0"):
        sources.resolve("efficentnet_b0")
    r = sources.resolve("repvgg_a0@deploy=1")
    info = get_model("repvgg_a0")
    assert r.params == info.cost(info.make_spec(deploy=True)).params
    with pytest.raises(ValueError, match="bogus"):
        sources.resolve("repvgg_a0@bogus=1")


# ----- the CLI -----------------------------------------------------------------------------------------------------


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "effnets", *args], capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("name", ["efficientnet_b0", "mobileone_s0@deploy=1", "densenet121"])
def test_cost_arch_of_an_exported_string_and_json_is_cost_model(tmp_path, name):
    base, _, sets = name.partition("@")
    model = run("cost", "model", base, "--json", "--stages", *(["--set", "deploy=1"] if sets else []))
    assert model.returncode == 0, model.stderr
    want = json.loads(model.stdout)
    for fmt in ("arch", "json"):
        out = tmp_path / f"d.{fmt}"
        r = run("export", name, "--format", fmt, "-o", str(out))
        assert r.returncode == 0, r.stderr
        arg = out.read_text().strip() if fmt == "arch" else str(out)
        got = json.loads(run("cost", "arch", arg, "--json", "--stages").stdout)
        for key in ("params", "macs", "flops", "acts", "input_shape", "output_shape", "extras"):
            assert got[key] == want[key], (fmt, key)
        assert [s["macs"] for s in got["stages"]] == [s["macs"] for s in want["stages"]]


@pytest.mark.parametrize(
    "args",
    [
        ["cost", "model", "efficentnet_b0"],
        ["cost", "arch", "r224|mbconv(c:16,foo:1)"],
        ["cost", "arch", "nonexistent.json"],
        ["cost", "arch", "hello"],
        ["export", "efficientnet_b9", "--format", "arch", "-o", "/tmp/x"],
        ["export", "efficientnet_b0", "--format", "arch", "-o", "/nonexistent-dir/x.arch"],
        ["diff", "efficientnet_b0"],
        ["diff", "--preset", "nope"],
        ["cost", "onnx", "missing.onnx"],
    ],
)
def test_bad_input_exits_2_with_one_line(args):
    r = run(*args)
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert len(r.stderr.strip().splitlines()) == 1 and r.stderr.startswith("effnets: error:"), r.stderr
    assert "Traceback" not in r.stderr


def test_diff_json_and_text():
    r = run("diff", "efficientnet_b0", "efficientnet_b1", "--json")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["d_params"] == get_model("efficientnet_b1").cost(get_model("efficientnet_b1").make_spec()).params - \
        get_model("efficientnet_b0").cost(get_model("efficientnet_b0").make_spec()).params  # fmt: skip
    assert [s["a"]["stage"] for s in data["stages"]][:2] == ["stem", "stage2"]


def test_diff_reads_onnx_files_and_measures_latency(tmp_path):
    onnx_file = tmp_path / "m.onnx"
    assert run("export", "mobilenet_v3_small", "--format", "onnx", "-o", str(onnx_file)).returncode == 0
    r = run("diff", "mobilenet_v3_small", str(onnx_file), "--json")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert (data["d_params"], data["d_macs"]) == (0, 0) and data["b"]["source"] == "onnx"
    r = run("diff", "repvgg_a0", "repvgg_a0@deploy=1", "--measure", "--repeats", "2", "--json")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert len(data["latency_ms"]) == 2 and all(v > 0 for v in data["latency_ms"])
    assert data["d_latency_ms"] == data["latency_ms"][1] - data["latency_ms"][0]


def test_export_py_of_a_design_runs_without_effnets(tmp_path):
    text = "r64|conv(c:16,k:3,s:2)|mbconv*2(c:24,s:2)|ghost(c:32,s:2)|conv(c:64,k:1)/classifier(classes:10)"
    out = tmp_path / "net.py"
    assert run("export", text, "--format", "py", "-o", str(out)).returncode == 0
    r = subprocess.run([sys.executable, "-I", str(out)], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    want = design.evaluate(arch.decode(text)).total.params
    assert r.stdout.strip() == f"{want:,} parameters"
