"""The Scaling Lab's sections (stage table, multipliers, law against exact, the params vs MACs map of B0-B7,
Lite0-4 and the network's family, published accuracy, activation memory, training cost, why B1-B7 differ, predict),
drawn for the network the page has scaled."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from effnets.analysis import family_lessons, scaling, scaling_summary, training
from effnets.analysis.scaling_summary import Scaled
from effnets.figures import scaling as scaling_figures
from effnets.figures import training as training_figures
from effnets.models import MODELS
from effnets.models.scaling import AXES, spec_from_key, spec_key
from effnets.ui import classroom, common, forms, jobs, models_cached, schema

P = schema.SCALING_LAB.prefix
LOCALIZED = st.column_config.NumberColumn(format="localized")


def idle_controls(rule: scaling_summary.Rule) -> list[str]:
    """The controls that stay out of the link: phi unless the rule scales by phi, and a multiplier slider unless it
    is set by hand on an axis the family has."""
    idle = [] if rule.by_phi else ["phi"]
    return idle + [schema.AXIS_CONTROL[a] for a in AXES if rule.by_phi or a not in rule.axes]


def stage_table(s: Scaled) -> None:
    rows = scaling.stage_rows(s.cost, s.counting.unit, s.counting.extras)
    classroom.table(
        pd.DataFrame(rows),
        f"{s.filename}_stages",
        key=f"{P}.csv_stages",
        column_config={c: LOCALIZED for c in ("params", s.counting.label)},
    )
    st.caption(
        "As the EfficientNet paper's Table 1: resolution is each row's input, channels its output, stride that "
        "of its first layer. Params are learnable parameters; the count column says what it counts."
    )
    if rest := scaling.extras_note(s.cost, s.counting.extras, s.counting.unit):
        st.caption(f"Not in the count (tick them under *Also count*): {rest}.")


def multipliers(s: Scaled) -> None:
    sweeps = {a: models_cached.axis_sweep(s.info.name, spec_key(s.base), a) for a in s.rule.axes}
    classroom.plot(
        scaling_figures.multiplier_figure(sweeps, s.m, s.counting.unit),
        f"{s.filename}_multipliers",
        key=f"{P}.chart_multipliers",
    )
    st.caption(
        "Each panel moves one multiplier alone from the preset, as in the EfficientNet paper's Figure 3 (your "
        "combined setting is in the headline and in *Law vs exact*). Dashed: the power law (cost ∝ d, w², r²). "
        "The exact curve steps because depths are rounded up to whole blocks and channels to multiples of 8, and "
        "bends away from the law where parts do not scale (the stem's 3 input channels, MobileNetV2's "
        "1280-channel head, the classifier's 1000 outputs)."
    )


def law_vs_exact(s: Scaled) -> None:
    rule = s.rule
    sweep = models_cached.phi_sweep(s.info.name, spec_key(s.base), rule.alpha, rule.beta, rule.gamma)
    released = None
    if s.info.family == "efficientnet":
        released = scaling.released_points(models_cached.released_table(rule.alpha, rule.beta, rule.gamma))
    classroom.plot(
        scaling_figures.law_figure(sweep, {"law": s.predicted, "exact": s.exact}, released),
        f"{s.filename}_law_vs_exact",
        key=f"{P}.chart_law",
    )
    st.caption(scaling_summary.law_caption(s, bool(released)))


def preset_map(s: Scaled) -> None:
    groups = {
        label: models_cached.preset_points(names) for label, names in scaling_summary.map_groups(s.info.family).items()
    }
    classroom.plot(
        scaling_figures.params_macs_figure(groups, {"params": s.cost.params, "macs": s.cost.macs}, s.counting.unit),
        f"{s.filename}_params_vs_macs",
        key=f"{P}.chart_map",
    )
    st.caption(
        f"Each preset at its own resolution; the red star is your configuration ({s.counting.name}: conv + linear). "
        "Resolution moves a network right (more compute) without moving it up (same parameters)."
    )


def published(s: Scaled) -> None:
    points = models_cached.published_points()
    classroom.plot(
        scaling_figures.published_figure(points, s.cost.macs, s.counting.unit),
        f"{s.filename}_published_top1",
        key=f"{P}.chart_published",
    )
    st.caption(
        "Every published ImageNet top-1 in the registry, at the exact cost of the network it describes (our "
        "count, conv + linear). Hover for the source. Open diamonds: torchvision's own training of the same "
        "network, which often differs from the paper's. No accuracy is predicted for your configuration: "
        "that needs training."
    )
    classroom.table(
        pd.DataFrame(scaling_summary.published_rows(points, s.counting)),
        "published_top1",
        key=f"{P}.csv_published",
        column_config={f"{s.counting.name} (exact)": LOCALIZED},
    )


def activations(s: Scaled) -> None:
    rows = scaling.activation_rows(s.cost, s.batch, s.bytes_per_value)
    classroom.plot(
        scaling_figures.activation_figure(rows, s.batch, s.dtype), f"{s.filename}_activations", key=f"{P}.chart_acts"
    )
    st.caption(scaling_summary.activation_caption(s))
    classroom.table(
        pd.DataFrame(rows),
        f"{s.filename}_activations",
        key=f"{P}.csv_acts",
        column_config={c: LOCALIZED for c in ("values per image", "bytes at batch N")},
    )


TRAIN_DTYPES = {"float32": "float32", "float16 / bfloat16": "bfloat16"}


@st.cache_data(max_entries=16, show_spinner=False)
def _training_cost(name: str, key: tuple, batch: int, dtype: str, optimizer: str) -> training.TrainingCost:
    info, spec = MODELS[name], spec_from_key(name, key)
    c = info.cost(spec, record_steps=False)
    return training.network_training_cost(
        lambda: info.build(spec), c.input_shape, c.macs, c.acts, info.label, batch, optimizer, dtype
    )


def training_cost(s: Scaled) -> None:
    c1, c2 = st.columns([2, 3], vertical_alignment="center")
    on = forms.control(
        c1,
        schema.SCALING_LAB,
        "train_trace",
        "Trace a training step",
        help="One forward, backward and optimizer step on the meta device: exact shapes, no memory.",
    )
    opt = forms.control(c2, schema.SCALING_LAB, "train_opt", "Optimizer", horizontal=True,
                        format_func={"sgd": "SGD, momentum 0.9", "adam": "Adam"}.get)  # fmt: skip
    if not on:
        st.caption(
            "Training costs more than the inference the other tabs count: the backward pass does about twice the "
            "forward's MACs, autograd keeps activations for it, and the optimizer keeps state per parameter. "
            "Switch on *Trace a training step* to count all of it for this network at your batch and dtype."
        )
        return
    if s.batch < 2:
        st.info("Batch norm in training mode needs at least two images: set batch N to 2 or more.")
        return
    dtype = TRAIN_DTYPES.get(s.dtype, "float32")
    if s.dtype not in TRAIN_DTYPES:
        st.info(f"Training does not run in {s.dtype} (an inference format): shown in float32.")
    with st.spinner("Tracing a training step on the meta device..."):
        tc = _training_cost(s.info.name, spec_key(s.spec), s.batch, dtype, opt)
    why = training.explanation(tc)
    common.metric_row(training.training_metrics(tc))
    classroom.plot(training_figures.flops_figure(tc.flops.rows), f"{s.filename}_train_macs", key=f"{P}.chart_tmacs")
    st.caption(why["flops"] + (" " + why["flop_counter"] if "flop_counter" in why else ""))
    classroom.plot(training_figures.memory_timeline_figure(tc.timeline_series()), f"{s.filename}_train_memory",
                   key=f"{P}.chart_tmem")  # fmt: skip
    st.caption(
        why["peak"] + " The second step of a loop (the optimizer's state exists, zero_grad has freed "
        "the gradients); x is the op count, so the optimizer's per-parameter loop looks long but holds little."
    )
    left, right = st.columns(2)
    with left:
        classroom.table(pd.DataFrame(tc.saved_rows()), f"{s.filename}_saved", key=f"{P}.csv_saved",
                        column_config={"bytes": LOCALIZED})  # fmt: skip
    with right:
        classroom.table(
            pd.DataFrame(tc.peak_rows()),
            f"{s.filename}_peak",
            key=f"{P}.csv_peak",
            column_config={"bytes": LOCALIZED, "share": st.column_config.NumberColumn(format="percent")},
        )
    st.caption(why["saved"])
    _measured_step(s, tc)


def _measured_step(s: Scaled, tc: training.TrainingCost) -> None:
    from effnets.runtime import bench, devices

    device, _ = devices.pick_device("auto")
    key = bench.config_key(device, kind="training step", model=s.info.name, spec=spec_key(s.spec), batch=tc.batch,
                           optimizer=tc.optimizer, warmup=1, repeats=3)  # fmt: skip
    record = jobs.recall(key)
    if st.button("Measure a training step", key=f"{P}.measure_step"):
        if jobs.busy():
            st.info("Another measurement is running on this server: press the button again once it has finished.")
        else:
            info, spec = s.info, s.spec
            with st.spinner(f"Timing a training step and inference at batch {tc.batch} on {device}..."):
                try:
                    record = jobs.measure_now(key, lambda: training.measure(lambda: info.build(spec), tc, device, 1, 3))
                except ValueError as e:
                    common.show_error(str(e))
    if record is None:
        st.caption(f"Not measured yet: the button times a step (random weights, float32) against inference at batch "
                   f"{tc.batch} on {devices.device_name(device)}, interleaved.")  # fmt: skip
        return
    m = record.value
    jobs.show_provenance(record, "this network, batch and optimizer")
    common.metric_row(training.measured_metrics(m))
    if m["busy"]:
        st.warning("The spread says the machine was busy during the measurement: measure again.")
    env = m["environment"]
    st.caption(f"Measured on {env['device_name']}, torch {env['torch']}, batch {m['batch']}, eager; "
               f"{m['warmup']} warm-up and {m['repeats']} timed rounds.")  # fmt: skip


def released(s: Scaled) -> None:
    rows = models_cached.released_table(s.rule.alpha, s.rule.beta, s.rule.gamma)
    st.markdown(scaling_summary.released_intro(s.rule))
    classroom.table(
        pd.DataFrame(scaling.released_display_rows(rows, s.counting.unit)),
        "released_vs_compound",
        key=f"{P}.csv_rel",
        wrap=True,
    )
    known, inferred = scaling.released_explanation(rows)
    c1, c2 = st.columns(2)
    with c1:
        st.markdown("**What is documented**")
        st.markdown(known)
    with c2:
        st.markdown("**What the numbers suggest** (inferred, not stated by the authors)")
        st.markdown(inferred)


def predict(s: Scaled) -> None:
    try:
        q = scaling_summary.phi_one_question(s)
    except ValueError as e:
        common.show_error(f"The question needs {s.info.label} at φ = 1, which is not possible here: {e}")
    else:
        classroom.predict_then_reveal(f"{P}.quiz_phi", q.question, q.answer, hint=q.hint, explain=lambda: q.explain)


def family_lesson(s: Scaled) -> None:
    lesson = models_cached.family_lesson(s.info.name, spec_key(s.base))
    st.markdown(f"**{lesson.title}.** {lesson.intro}")
    if lesson.schedule:
        variant = s.base.variant  # type: ignore[attr-defined]
        classroom.plot(
            scaling_figures.progressive_figure(lesson.schedule, variant),
            f"{s.info.name}_progressive_learning",
            key=f"{P}.chart_progressive",
        )
    for i, (caption, rows) in enumerate(lesson.tables):
        st.markdown(f"*{caption}*")
        wrap = any(isinstance(v, str) and len(v) > 40 for v in rows[0].values())  # prose columns wrap
        classroom.table(pd.DataFrame(rows), f"{s.info.name}_lesson_{i + 1}", key=f"{P}.csv_lesson_{i}", wrap=wrap)
    for finding in lesson.findings:
        st.markdown(f"- {finding}")
    if lesson.source:
        st.caption(f"Published figures: {lesson.source}. Every count is effnets' exact count of the network.")


def section_names(family: str) -> list[str]:
    """The tabs for a family: the family's own lesson after *Published accuracy* where it has one."""
    names = [n for n in SECTIONS if n != LESSON and (n != RELEASED or family == "efficientnet")]
    if family_lessons.has_lesson(family):
        names.insert(names.index("Published accuracy") + 1, LESSON)
    return names


LESSON = "Family lesson"
RELEASED = "Why B1-B7 differ"  # only EfficientNet B0-B7 were released by compound scaling
SECTIONS = {
    "Stage table": stage_table,
    "Multipliers": multipliers,
    "Law vs exact": law_vs_exact,
    "Params vs MACs map": preset_map,
    "Published accuracy": published,
    LESSON: family_lesson,
    "Activation memory": activations,
    "Training cost": training_cost,
    RELEASED: released,
    "Predict": predict,
}
