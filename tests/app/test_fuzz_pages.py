"""Every valid setting renders, every invalid one explains itself: each page driven through settings drawn from its
own control definitions (effnets/ui/schema.py) and its specs' fields, by widget key.

For each drawn setting: no exception element on any tab, no repr/None/nan as text, and the headline numbers equal
effnets' API for that setting; where the API refuses the setting, the page shows the API's message instead.

The default run is bounded to fit CI; ``-m slow`` runs the deep one (hundreds of settings per block). Cases the
fuzzers found are kept below as explicit regression examples.
"""

from __future__ import annotations

import functools

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import effnets
from effnets.analysis import zoo
from effnets.analysis.compare import comparable_fields, matched_width
from effnets.blocks import BLOCKS
from effnets.models import MODELS, sample_regnet_space
from effnets.models import scaling as model_scaling
from effnets.report import human
from effnets.runtime import images, inference, preprocessing, weights
from effnets.spec import SpecError
from effnets.ui import schema
from tests.app.conftest import page as page_at
from tests.app.fuzz import (
    Session,
    check_page,
    control_strategy,
    errors,
    metric,
    set_controls,
    set_fields,
    spec_strategy,
)

FUZZ = settings(deadline=None, suppress_health_check=list(HealthCheck), derandomize=True, database=None)
QUICK = settings(FUZZ, phases=[Phase.explicit, Phase.generate])  # the bounded run reports, the deep one shrinks
DEEP = pytest.mark.slow


def examples(n: int, deep: bool = False) -> settings:
    """A hypothesis budget of ``n`` drawn settings (the deep run also shrinks a failure to a minimal one)."""
    return settings(FUZZ if deep else QUICK, max_examples=n)


def ran(session: Session, at) -> None:
    """After a run: the page is sound, or the session is dropped so the next example starts fresh."""
    try:
        check_page(at)
    except AssertionError:
        session.reset()
        raise


# ----- Block Lab ---------------------------------------------------------------------------------------------------

B = schema.BLOCK_LAB
BLOCK_CONTROLS = ("h", "w", "batch", "unit", "extras", "cmp_metric", "fvcore")


def block_setting(name: str) -> st.SearchStrategy:
    return st.fixed_dictionaries(
        {
            "fields": spec_strategy(BLOCKS[name].spec),
            "controls": st.fixed_dictionaries({c: control_strategy(B[c]) for c in BLOCK_CONTROLS}),
        }
    )


def block_lab_case(session: Session, name: str, case: dict) -> None:
    at = session.get()
    at.selectbox(key=B.key("name")).set_value(name).run()
    ran(session, at)
    controls = {**{c: B[c].default for c in BLOCK_CONTROLS}, **case.get("controls", {})}
    info = BLOCKS[name]
    fields_ = {**info.make_spec().to_dict(), **case.get("fields", {})}
    set_controls(at, B, controls, optional=("cmp_metric", "fvcore"))
    set_fields(at, B.prefix, info.spec, fields_)
    at.run()
    ran(session, at)
    h, w, unit, extras = controls["h"], controls["w"], controls["unit"], controls["extras"]
    try:
        spec = info.make_spec(**fields_)
        c = effnets.block_cost(name, (spec.in_channels, h, w), **{k: v for k, v in fields_.items()})
    except ValueError as e:
        shown = errors(at)
        assert any(str(e) in m for m in shown), (str(e), shown)
        assert isinstance(e, SpecError), type(e)
        return
    assert not errors(at) or all("Sampling" not in m for m in errors(at)), errors(at)
    assert metric(at, "Parameters") == human(c.params)
    count = c.total_macs(tuple(extras)) * (2 if unit == "flops" else 1)
    assert metric(at, "FLOPs" if unit == "flops" else "MACs") == human(count)
    assert metric(at, "Output shape") == "×".join(map(str, c.output_shape))


@functools.cache
def _block_session() -> Session:
    return Session("block_lab.py")


def _block_test(budget: settings):
    @budget
    @given(data=st.data())
    def run(name, data):
        block_lab_case(_block_session(), name, data.draw(block_setting(name)))

    return run


test_block_lab_fuzz = pytest.mark.parametrize("name", list(BLOCKS))(_block_test(examples(4)))
test_block_lab_fuzz_deep = DEEP(pytest.mark.parametrize("name", list(BLOCKS))(_block_test(examples(250, deep=True))))

# Found by the fuzzers (or by a newcomer) and fixed; kept as explicit cases.
BLOCK_REGRESSIONS = [
    ("deformable", {"fields": {"kernel_size": 5}}),  # the sampling figure built a range() from a float
    ("deformable", {"fields": {"kernel_size": 7}}),
    ("deformable", {"fields": {"dilation": 2}}),
    ("deformable", {"fields": {"kernel_size": 5, "stride": 2}, "controls": {"h": 9, "w": 5}}),
    ("depthwise", {"fields": {"kernel_size": 7, "stride": 2, "padding": 0}, "controls": {"h": 3, "w": 3}}),
    ("shuffle_v2", {"fields": {"in_channels": 32, "out_channels": 128}}),  # stride-1 with C_in != C_out: explained
    ("grouped", {"fields": {"in_channels": 30, "groups": 4}}),  # groups not dividing channels: explained
]


@pytest.mark.parametrize(
    ("name", "case"), BLOCK_REGRESSIONS, ids=[f"{n}-{i}" for i, (n, _) in enumerate(BLOCK_REGRESSIONS)]
)
def test_block_lab_regressions(name, case):
    block_lab_case(_block_session(), name, case)


# ----- Scaling Lab -------------------------------------------------------------------------------------------------

S = schema.SCALING_LAB
SCALING_CONTROLS = ("mode", "phi", "alpha", "beta", "gamma", "batch", "dtype", "unit", "extras")
AXIS_CONTROL = schema.AXIS_CONTROL


@st.composite
def scaling_setting(draw):
    name = draw(st.sampled_from(S["preset"].choices()))
    info = MODELS[name]
    axes = model_scaling.scalable_axes(info.spec)
    skip = tuple(model_scaling.AXIS_FIELD[a] for a in axes)
    return {
        "preset": name,
        "controls": {c: draw(control_strategy(S[c])) for c in SCALING_CONTROLS},
        "multipliers": {a: draw(control_strategy(S[AXIS_CONTROL[a]])) for a in axes},
        # most draws keep the preset's own settings; some change them (drawn from the spec's fields)
        "fields": draw(st.one_of(st.just({}), spec_strategy(info.spec, skip))),
    }


def scaling_lab_case(session: Session, case: dict) -> None:
    at = session.get()
    name = case["preset"]
    info = MODELS[name]
    if at.selectbox(key="scaling.family").value != info.family:
        at.selectbox(key="scaling.family").set_value(info.family).run()
    at.selectbox(key=S.key("preset")).set_value(name).run()
    ran(session, at)
    controls = {**{c: S[c].default for c in SCALING_CONTROLS}, **case["controls"]}
    set_controls(at, S, {"mode": controls["mode"]})
    at.run()  # phi or the multipliers are enabled by the mode
    phi_mode = controls["mode"] == "phi"
    set_controls(at, S, {k: v for k, v in controls.items() if k != "mode" and (phi_mode or k != "phi")})
    axes = model_scaling.scalable_axes(info.spec)
    skip = tuple(model_scaling.AXIS_FIELD[a] for a in axes)
    fields_ = {**{k: v for k, v in info.make_spec().to_dict().items() if k not in skip}, **case["fields"]}
    set_fields(at, S.prefix, info.spec, fields_)
    if not phi_mode:
        multipliers = {a: case["multipliers"].get(a, 1.0) for a in axes}
        set_controls(at, S, {AXIS_CONTROL[a]: v for a, v in multipliers.items()})
    at.run()
    ran(session, at)
    try:
        base = info.make_spec(**fields_)
        if controls["mode"] == "phi":
            m = model_scaling.phi_multipliers(
                controls["phi"], controls["alpha"], controls["beta"], controls["gamma"], axes
            )
        else:
            m = model_scaling.Multipliers(**{a: float(v) for a, v in multipliers.items()})
        cost = info.cost(model_scaling.scale_spec(info, base, m), record_steps=False)
    except ValueError as e:
        assert any(str(e) in msg for msg in errors(at)), (str(e), errors(at))
        return
    assert metric(at, "Parameters") == human(cost.params)
    unit = controls["unit"]
    count = cost.total.total_macs(tuple(controls["extras"])) * (2 if unit == "flops" else 1)
    assert metric(at, "FLOPs" if unit == "flops" else "MACs") == human(count)


@functools.cache
def _scaling_session() -> Session:
    return Session("scaling_lab.py")


@examples(25)
@given(case=scaling_setting())
def test_scaling_lab_fuzz(case):
    scaling_lab_case(_scaling_session(), case)


@DEEP
@examples(400, deep=True)
@given(case=scaling_setting())
def test_scaling_lab_fuzz_deep(case):
    scaling_lab_case(_scaling_session(), case)


SCALING_REGRESSIONS = [
    {"preset": "efficientnet_b0", "controls": {"phi": 0.1}, "multipliers": {}, "fields": {}},  # rounding jump
    {
        "preset": "mobilenet_v1",
        "controls": {"mode": "multipliers"},
        "multipliers": {"width": 0.25, "resolution": 0.1},
        "fields": {},
    },
    {"preset": "efficientnet_b7", "controls": {"phi": 8.0, "alpha": 2.0}, "multipliers": {}, "fields": {}},
]


@pytest.mark.parametrize("case", SCALING_REGRESSIONS)
def test_scaling_lab_regressions(case):
    scaling_lab_case(_scaling_session(), case)


# ----- Design Space ------------------------------------------------------------------------------------------------

D = schema.DESIGN_SPACE
DESIGN_CONTROLS = ("unit", "extras", "mb_model", "mb_alphas", "mb_res", "s_n", "s_seed", "s_se", "s_depth", "s_w0")
DESIGN_CONTROLS += ("s_wa", "s_wm", "s_groups")


@st.composite
def design_setting(draw):
    name = draw(st.sampled_from(D["preset"].choices()))
    return {
        "preset": name,
        "controls": {c: draw(control_strategy(D[c])) for c in DESIGN_CONTROLS},
        "fields": draw(st.one_of(st.just({}), spec_strategy(MODELS[name].spec))),
    }


def design_space_case(session: Session, case: dict) -> None:
    at = session.get()
    name = case["preset"]
    at.selectbox(key=D.key("preset")).set_value(name).run()
    ran(session, at)
    info = MODELS[name]
    fields_ = {**info.make_spec().to_dict(), **case["fields"]}
    set_controls(at, D, case["controls"])
    set_fields(at, D.prefix, info.spec, fields_)
    at.run()
    ran(session, at)
    c = case["controls"]
    try:
        cost = info.cost(info.make_spec(**fields_), record_steps=False)
    except ValueError as e:
        assert any(str(e) in msg for msg in errors(at)), (str(e), errors(at))
    else:
        assert metric(at, "Parameters") == human(cost.params)
        count = cost.total.total_macs(tuple(c["extras"])) * (2 if c["unit"] == "flops" else 1)
        assert metric(at, "FLOPs" if c["unit"] == "flops" else "MACs") == human(count)
    try:
        samples = sample_regnet_space(
            c["s_n"],
            seed=c["s_seed"],
            depth=c["s_depth"],
            w0=c["s_w0"],
            wa=c["s_wa"],
            wm=c["s_wm"],
            group_width=tuple(c["s_groups"]),
            bottleneck_ratio=(1.0,),
            se_ratio=0.25 if c["s_se"] else 0.0,
            resolution=224,
        )
    except ValueError as e:
        assert any(str(e) in msg for msg in errors(at)), (str(e), errors(at))
    else:
        assert metric(at, "Networks") == str(len(samples))


@functools.cache
def _design_session() -> Session:
    return Session("design_space.py")


@examples(10)
@given(case=design_setting())
def test_design_space_fuzz(case):
    design_space_case(_design_session(), case)


@DEEP
@examples(150, deep=True)
@given(case=design_setting())
def test_design_space_fuzz_deep(case):
    design_space_case(_design_session(), case)


# ----- Model Zoo and Latency Lab (the selections; measuring is tested in their own files) --------------------------

Z = schema.MODEL_ZOO
ZOO_CONTROLS = ("batch", "threads", "nhwc", "eager", "warmup", "repeats")


@functools.cache
def _zoo_session() -> Session:
    return Session("model_zoo.py")


ZOO_MODELS = st.lists(st.sampled_from(Z["models"].choices()), unique=True, max_size=5)


@examples(6)
@given(models=ZOO_MODELS, data=st.data())
def test_model_zoo_fuzz(models, data):
    model_zoo_case(models, data)


@DEEP
@examples(60, deep=True)
@given(models=ZOO_MODELS, data=st.data())
def test_model_zoo_fuzz_deep(models, data):
    model_zoo_case(models, data)


def model_zoo_case(models, data):
    session = _zoo_session()
    at = session.get()
    set_controls(at, Z, {"models": models, **{c: data.draw(control_strategy(Z[c])) for c in ZOO_CONTROLS}})
    at.run()
    ran(session, at)
    if not models:
        assert any("Pick some models" in i.value for i in at.info)
        return
    table = at.dataframe[0].value
    for n in models:
        r = zoo.zoo_row(n)
        row = table[table["name"] == n].iloc[0]
        assert (int(row["params"]), int(row["macs"])) == (r.params, r.macs), n


L = schema.LATENCY_LAB
LATENCY_CONTROLS = ("mode", "c", "hw", "k", "batch", "threads", "warmup", "repeats", "check_what", "check_model")


@functools.cache
def _latency_session() -> Session:
    return Session("latency_lab.py")


@examples(10)
@given(blocks=control_strategy(L["blocks"]), data=st.data())
def test_latency_lab_fuzz(blocks, data):
    latency_lab_case(blocks, data)


@DEEP
@examples(150, deep=True)
@given(blocks=control_strategy(L["blocks"]), data=st.data())
def test_latency_lab_fuzz_deep(blocks, data):
    latency_lab_case(blocks, data)


def latency_lab_case(blocks, data):
    session = _latency_session()
    at = session.get()
    controls = {c: data.draw(control_strategy(L[c])) for c in LATENCY_CONTROLS}
    set_controls(at, L, {"blocks": blocks, **controls}, optional=("check_what", "check_model"))
    at.run()
    drawn = {w.key for w in at.radio}
    if L.key("check_what") in drawn and controls["check_what"] == "model":  # then the model picker appears
        set_controls(at, L, {"check_what": "model"})  # (the radio was not drawn if the last page had no blocks)
        at.run()
        set_controls(at, L, {"check_model": controls["check_model"]})
        at.run()
    ran(session, at)
    if not blocks:
        assert any("Pick some blocks" in i.value for i in at.info)
        return
    c, hw, k, batch = controls["c"], controls["hw"], controls["k"], controls["batch"]
    target = effnets.block_cost("standard", (c, hw, hw), out_channels=c, kernel_size=k).macs
    table = at.dataframe[0].value if at.dataframe else None
    shown = {} if table is None else dict(zip(table["block"], table[f"MACs (batch of {batch})"], strict=True))
    if not shown:
        assert any("No chosen block can be built" in i.value for i in at.info)
    for n in blocks:
        info = BLOCKS[n]
        try:
            if controls["mode"] == "matched":
                m = matched_width(info, target, k, hw, hw, step=8 if c >= 8 else 1)  # C below 8: widths by 1
                if m is None:
                    raise ValueError("no width matches")
                f = m[0]
            else:
                f = comparable_fields(info, c, c, k, 1)
            spec = info.make_spec(**f)
            macs = info.cost(spec, (spec.in_channels, hw, hw)).macs * batch
        except ValueError:
            assert info.label not in shown
            assert any(info.label in cap.value for cap in at.caption), n
        else:
            assert shown[info.label] == macs, n


# ----- Kernel Gallery and Inference Lab (real networks: a few drawn settings by default) ---------------------------

K_ = schema.KERNEL_GALLERY
I_ = schema.INFERENCE_LAB


@functools.cache
def _small_models() -> tuple[str, ...]:
    """Runnable models under 15M parameters (the default run; the deep run draws from all of them)."""
    return tuple(n for n in K_["model"].choices() if zoo.zoo_row(n).params < 15e6)


@functools.cache
def _kernel_session() -> Session:
    return Session("kernel_gallery.py")


def kernel_gallery_case(session: Session, model: str, controls: dict, layer_pick: int) -> None:
    at = session.get()
    set_controls(at, K_, {"model": model, **controls})
    at.run()
    ran(session, at)
    layers = at.selectbox(key=K_.key("layer")).options
    layer = layers[layer_pick % len(layers)]
    at.selectbox(key=K_.key("layer")).select_index(layer_pick % len(layers)).run()
    ran(session, at)
    from effnets.analysis import kernels

    status = {s.name: s.status for s in weights.weight_statuses([model])}[model]
    pretrained = controls.get("weights", "pretrained") == "pretrained" and status in ("packaged", "cached")
    net, _ = weights.load_model(
        model, pretrained=pretrained, **({} if pretrained else weights.pretrained_fields(model))
    )
    rows = {r.name: r for r in kernels.layer_shares(net.eval(), controls.get("threshold", K_["threshold"].default))}
    chosen = at.selectbox(key=K_.key("layer")).value
    assert chosen in rows, (layer, chosen)
    assert any(f"{rows[chosen].count:,} spatial kernels" in c.value for c in at.caption), chosen


KERNEL_CONTROLS = ("weights", "threshold", "norm", "sigma", "interactive")


@examples(5)
@given(model=st.sampled_from(_small_models()), data=st.data(), layer_pick=st.integers(0, 400))
def test_kernel_gallery_fuzz(model, data, layer_pick):
    controls = {c: data.draw(control_strategy(K_[c])) for c in KERNEL_CONTROLS}
    kernel_gallery_case(_kernel_session(), model, controls, layer_pick)


@DEEP
@examples(40, deep=True)
@given(model=st.sampled_from(K_["model"].choices()), data=st.data(), layer_pick=st.integers(0, 400))
def test_kernel_gallery_fuzz_deep(model, data, layer_pick):
    controls = {c: data.draw(control_strategy(K_[c])) for c in KERNEL_CONTROLS}
    kernel_gallery_case(_kernel_session(), model, controls, layer_pick)


INFER_CONTROLS = ("sample", "device", "nhwc", "engine", "topk", "warmup", "repeats", "channels")


@functools.cache
def _infer_session() -> Session:
    return Session("inference_lab.py")


def inference_lab_case(session: Session, model: str, controls: dict, precision_pick: int) -> None:
    at = session.get()
    set_controls(at, I_, {"model": model, "source": "sample", **controls})
    at.run()
    ran(session, at)
    precisions = at.selectbox(key=I_.key("precision")).options
    at.selectbox(key=I_.key("precision")).select_index(precision_pick % len(precisions)).run()
    ran(session, at)
    precision = at.selectbox(key=I_.key("precision")).value
    tops = [c.value for c in at.caption if c.value.startswith("top-1:")]
    assert len(tops) == 1, tops
    status = {s.name: s.status for s in weights.weight_statuses([model])}[model]
    if status in ("packaged", "cached") and precision == "fp32":
        img = images.sample_image(controls.get("sample", I_["sample"].default)).convert("RGB")
        tf = weights.eval_transform(model)
        x = preprocessing.preprocess(img, tf.resize, tf.crop, tf.normalization, interpolation=tf.interpolation).tensor
        net, _ = weights.load_model(model)
        expected = inference.classify(net.eval(), x, 1)[0][0]
        assert tops[0].startswith(f"top-1: **{expected.label}**"), (tops[0], expected)
    else:
        assert any("random init" in w.value for w in at.warning) or precision != "fp32"
    assert metric(at, "Median latency").endswith(" ms")


@examples(5)
@given(model=st.sampled_from(_small_models()), data=st.data(), precision_pick=st.integers(0, 2))
def test_inference_lab_fuzz(model, data, precision_pick):
    controls = {c: data.draw(control_strategy(I_[c])) for c in INFER_CONTROLS}
    inference_lab_case(_infer_session(), model, controls, precision_pick)


@DEEP
@examples(40, deep=True)
@given(model=st.sampled_from(I_["model"].choices()), data=st.data(), precision_pick=st.integers(0, 2))
def test_inference_lab_fuzz_deep(model, data, precision_pick):
    controls = {c: data.draw(control_strategy(I_[c])) for c in INFER_CONTROLS}
    inference_lab_case(_infer_session(), model, controls, precision_pick)


def page_of(file: str, query: dict):
    from effnets.ui.classroom import ALL_SECTIONS_KEY

    at = page_at(file, query)
    at.session_state[ALL_SECTIONS_KEY] = True
    return at.run()


def test_latency_lab_regression_no_block_fits():
    """Found by the deep fuzzer: C=1 leaves out every chosen block; the page said nothing and showed an empty table."""
    at = page_of("latency_lab.py", {"blocks": "grouped", "c": "1", "mode": "same"})
    check_page(at)
    assert any("No chosen block can be built" in i.value for i in at.info)
    assert any("Grouped convolution" in c.value for c in at.caption)
