"""The Model Zoo's data: counts from the registry and tracers, published accuracy with a source, Pareto fronts."""

from __future__ import annotations

import pytest

import effnets
from effnets.analysis import zoo
from effnets.runtime.bench import BenchResult, BenchRun
from effnets.runtime.timing import timing_from_samples


def test_effnets_row_matches_model_cost_and_cites_its_top1():
    r = zoo.zoo_row("mobilenet_v2")
    c = effnets.model_cost("mobilenet_v2")
    assert (r.params, r.macs, r.acts) == (c.params, c.macs, c.acts)
    assert r.top1 is not None and r.top1_source
    assert 0 < r.intensity < 100 and 0 < r.depthwise_share < 0.5


def test_torchvision_reference_row_is_traced():
    import torchvision

    r = zoo.zoo_row("regnet_x_400mf")  # the registry's regnetx_400mf is this network; the name is torchvision's
    assert r.source == "torchvision"
    assert r.params == sum(p.numel() for p in torchvision.models.regnet_x_400mf().parameters())
    meta = torchvision.models.RegNet_X_400MF_Weights.IMAGENET1K_V1.meta
    assert abs(r.macs / 1e9 - float(meta["_ops"])) < 0.001
    assert r.top1 == pytest.approx(meta["_metrics"]["ImageNet-1K"]["acc@1"])


def test_unknown_model():
    with pytest.raises(ValueError, match="unknown model 'nope'"):
        zoo.zoo_row("nope")


def test_pareto_front():
    pts = [("a", 1, 70), ("b", 2, 75), ("c", 3, 72), ("d", 0.5, 60), ("e", 2, 74)]
    assert set(zoo.pareto_front(pts)) == {"a", "b", "d"}


def _run(ms: dict[str, float]) -> BenchRun:
    results = [
        BenchResult(label=n, timing=timing_from_samples([v] * 3), environment={}, config={}, key=n)
        for n, v in ms.items()
    ]
    return BenchRun(results, False, [], {}, 1, 3)


def test_attach_latency_and_outliers_explain_slow_per_mac_models():
    names = ["mobilenet_v1", "efficientnet_b0", "squeezenet1_1", "regnetx_400mf"]
    rows = [zoo.zoo_row(n) for n in names]
    # Latency proportional to MACs except efficientnet_b0, 4x slower per MAC.
    ms = {r.name: r.macs / 1e7 * (4 if r.name == "efficientnet_b0" else 1) for r in rows}
    rows = zoo.attach_latency(rows, _run(ms))
    assert all(r.median_ms == pytest.approx(ms[r.name]) for r in rows)
    out = dict(zoo.latency_outliers(rows))
    assert set(out) == {"efficientnet_b0"}
    assert "slower per MAC" in out["efficientnet_b0"] and "element-wise" in out["efficientnet_b0"]


def test_a_missing_top1_is_a_dash_with_the_reason():
    rows = zoo.table_rows([zoo.zoo_row("vgnetg_1_5mp"), zoo.zoo_row("mobilenet_v2")])
    assert rows[0]["top1"] == "—" and rows[0]["top1_source"] == zoo.NO_TOP1
    assert rows[1]["top1"] == f"{zoo.zoo_row('mobilenet_v2').top1:.1f}" and rows[1]["top1_source"] != zoo.NO_TOP1


def test_latency_figure_labels_only_outliers_when_crowded_and_bars_need_rounds():
    from effnets.figures.zoo import LABEL_ALL_BELOW, latency_vs_macs_figure

    names = zoo.all_names()[: LABEL_ALL_BELOW + 12]
    rows = [zoo.zoo_row(n) for n in names]
    for i, r in enumerate(rows):
        r.median_ms, r.p10_ms, r.p90_ms = 1.0 + i, 0.9 + i, 1.2 + i
        r.gmacs_per_s = r.macs / (r.median_ms / 1e3) / 1e9
    outliers = {rows[0].name: "why"}
    fig = latency_vs_macs_figure(rows, outliers, rounds=8)
    assert [t for t in fig.data[0].text if t] == [rows[0].name]
    assert list(fig.data[0].hovertext) == names
    assert fig.data[0].error_y.visible and "p10-p90 of 8 rounds" in fig.layout.yaxis.title.text
    assert not latency_vs_macs_figure(rows, outliers, rounds=3).data[0].error_y.visible


@pytest.mark.parametrize("name", ["mobilenet_v2", "efficientnet_b0", "shufflenet_v2_x1_0", "squeezenet1_1"])
def test_reference_models_get_the_same_analysis_as_registry_models(name):
    """Traced from torchvision's builder, a network the registry also builds has exactly the registry's activations,
    intensity, depthwise share and element-wise ops per MAC: the outlier reasons read the same numbers for both."""
    import torchvision

    from effnets.counting import build_on_meta, traced_structure

    ours = zoo.zoo_row(name)
    traced = traced_structure(build_on_meta(lambda: torchvision.models.get_model(name, weights=None)), (3, 224, 224))
    assert traced["acts"] == ours.acts
    assert traced["intensity"] == pytest.approx(ours.intensity, rel=1e-12)
    assert traced["depthwise_share"] == pytest.approx(ours.depthwise_share, abs=1e-12)
    assert traced["elementwise_per_mac"] == pytest.approx(ours.elementwise_per_mac, rel=1e-12)


def test_every_outlier_gets_a_reason_reference_rows_included():
    rows = [
        zoo.zoo_row(n) for n in ("resnet18", "mobilenet_v3_large", "mobilenet_v2", "regnet_x_400mf", "squeezenet1_1")
    ]
    assert all(r.intensity and r.acts for r in rows)  # torchvision rows are traced too
    for i, r in enumerate(rows):  # resnet18 4x faster per MAC, mobilenet_v3_large 3x slower
        r.median_ms = r.macs / 1e9 * (0.25 if i == 0 else 3.0 if i == 1 else 1.0)
        r.gmacs_per_s = r.macs / (r.median_ms / 1e3) / 1e9
    outliers = dict(zoo.latency_outliers(rows))
    assert set(outliers) == {"resnet18", "mobilenet_v3_large"}
    assert all(": " in why and not why.endswith("median.") for why in outliers.values())
    assert "high arithmetic intensity" in outliers["resnet18"]
    assert "low arithmetic intensity" in outliers["mobilenet_v3_large"]


def test_front_verdict_compares_the_fronts_of_the_rows_with_top1_and_latency():
    names = ["mobilenet_v1", "mobilenet_v2", "squeezenet1_1", "efficientnet_b0", "vgnetg_1_5mp"]
    rows = [zoo.zoo_row(n) for n in names]
    assert rows[-1].top1 is None  # left out of both fronts
    # latency against MACs reversed: the cheapest by MACs is the slowest
    order = sorted(rows, key=lambda r: r.macs)
    for i, r in enumerate(order):
        r.median_ms = float(len(order) - i)
    text = zoo.front_verdict(rows)

    def front(cost):  # a second way: walk the models by cost, keep each one more accurate than all cheaper ones
        best, out = -1.0, set()
        for r in sorted((r for r in rows if r.top1 is not None), key=lambda r: (cost(r), -r.top1)):
            if r.top1 > best:
                out.add(r.name)
                best = r.top1
        return out

    by_macs, by_latency = front(lambda r: r.macs), front(lambda r: r.median_ms)
    assert by_macs != by_latency
    assert text.startswith("The Pareto front by measured latency on this device is not the one by MACs")
    for n in by_latency - by_macs:
        assert n in text.split("by latency only: ")[1].split(";")[0]
    for r in rows:  # latency in MACs order: the same front
        r.median_ms = r.macs / 1e6
    assert zoo.front_verdict(rows) == (
        f"Here the front by measured latency holds the same models as the front by MACs: {', '.join(sorted(by_macs))}."
    )


def test_table_columns_and_the_measurement_sentence():
    row = zoo.table_rows([zoo.zoo_row("mobilenet_v2")])[0]
    assert set(zoo.TABLE_COLUMNS) <= set(row) and set(zoo.COLUMN_FORMATS) <= set(zoo.TABLE_COLUMNS)
    env = {"device_name": "CPU (x86_64)", "torch": "2.9", "precision": "fp16", "batch": 3}
    text = zoo.describe_measurement(env, "auto: no GPU", 2, True, False)
    assert "**on this server**: CPU (x86_64) (auto: no GPU), torch 2.9, 2 CPU threads, fp16, batch 3" in text
    assert "channels_last, fast path;" in text
    assert "1 CPU thread, fp16, batch 3, NCHW, eager;" in zoo.describe_measurement(env, "auto", 1, False, True)


@pytest.mark.parametrize("name", ["repvgg_a0", "mobileone_s0"])
def test_reparameterized_models_are_in_the_zoo_in_their_deploy_form(name):
    """What is published (and run) is the deploy form: its counts and its top-1, and the benchmark builds it."""
    import effnets
    from effnets.runtime.bench_networks import model_macs

    r = zoo.zoo_row(name)
    c = effnets.model_cost(name, deploy=True)
    assert (r.params, r.macs) == (c.params, c.macs) and c.macs < effnets.model_cost(name).macs
    assert r.top1 is not None and "deploy form" in r.label
    assert model_macs(name, 224) == c.macs
