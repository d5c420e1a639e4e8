"""The latency predictor (effnets.analysis.predictor, latency_table, latency_grid, device_card): its structure, the
table's interpolation on synthetic data whose law is known, monotonicity, the roofline's arithmetic, device cards'
JSON round trip and their refusal of malformed or hostile files, Kendall's tau against scipy, a tiny table built for
real (few shapes, in a background thread with progress), and the CLI. Timing-free wherever the assertion is about
numbers: synthetic tables stand in for measured ones."""

from __future__ import annotations

import json
import random

import pytest
import torch
from scipy import stats

import effnets
from effnets.analysis import device_card, latency_grid, latency_table, predictor
from effnets.analysis.device_card import DeviceCard
from effnets.analysis.latency_table import LatencyTable, Unit
from effnets.cli import main
from effnets.counting import build_on_meta
from effnets.runtime import per_layer


def law(u: Unit, over: float = 0.004, per_mac: float = 2e-8, per_byte: float = 1e-9) -> float:
    """The synthetic device: a fixed cost per call, plus MACs and bytes at fixed rates."""
    return over + per_mac * u.macs + per_byte * (u.act_bytes + u.weight_bytes)


def synthetic_card(name: str = "CPU (synthetic)", **rates) -> DeviceCard:
    entries = [
        {"key": p.unit.key, "coords": list(p.unit.coords), "macs": p.unit.macs, "act_bytes": p.unit.act_bytes,
         "weight_bytes": p.unit.weight_bytes, "ms": law(p.unit, **rates)}
        for p in latency_grid.grid("small")
    ]  # fmt: skip
    over = rates.get("over", 0.004)
    return DeviceCard(
        device="cpu",
        device_name=name,
        threads=1,
        torch=torch.__version__,
        ceilings={"peak_gmacs": {"fp32": 1 / rates.get("per_mac", 2e-8) / 1e6}, "bandwidth_gbs": 1000.0},
        overheads={
            k: over
            for k in (
                "conv",
                "depthwise conv",
                "grouped conv",
                "linear",
                "norm",
                "act",
                "pool",
                "op",
                "view",
                "no-op",
                "container",
                "other",
            )
        },  # fmt: skip
        table=LatencyTable(entries, {"device": "cpu"}),
        calibration={
            "coefficients": [1.0, 0.0, 0.0],
            "chosen": "table",
            "networks": {},
            "errors": {},
            "statistic": "median",
        },
    )


@pytest.fixture(scope="module")
def card() -> DeviceCard:
    return synthetic_card()


# ----- Kendall's tau -----------------------------------------------------------------------------------------------


def test_kendall_tau_matches_scipy():
    rng = random.Random(0)
    for n in (2, 5, 17):
        a = [rng.randint(0, 6) for _ in range(n)]  # ties on purpose
        b = [rng.random() if i % 3 else a[i] for i in range(n)]
        expected = stats.kendalltau(a, b).statistic
        assert predictor.kendall_tau(a, b) == pytest.approx(expected)
    assert predictor.kendall_tau([1, 2, 3, 4], [10, 20, 30, 40]) == 1.0
    assert predictor.kendall_tau([1, 2, 3, 4], [4, 3, 2, 1]) == -1.0
    with pytest.raises(ValueError):
        predictor.kendall_tau([1, 2], [1])


# ----- units and the table -----------------------------------------------------------------------------------------


def test_units_cover_every_leaf_and_container():
    model = effnets.build_model("mnasnet0_5").eval()
    units = predictor.network_units(model, 64)
    tr = per_layer.trace_layers(model, (3, 64, 64))
    layers = [u for u in units if u.family not in ("op", "view", "container")]
    assert [u.name for u in layers] == [layer.name for layer in tr.layers]
    calls = []
    hooks = [m.register_forward_hook(lambda *a: calls.append(1)) for m in model.modules() if list(m.children())]
    with torch.no_grad():
        model(torch.zeros(1, 3, 64, 64))
    for h in hooks:
        h.remove()
    (container,) = [u for u in units if u.key == "container"]
    assert container.calls == len(calls)
    assert sum(u.macs * u.calls for u in units) == effnets.model_cost("mnasnet0_5", resolution=64).macs
    keys = {u.key for u in units}
    assert {"conv:k1s1", "depthwise conv:k3s1", "norm:BatchNorm2d", "act:ReLU", "op:add"} <= keys


def test_table_returns_the_measurement_where_it_was_measured(card):
    e = card.table.entries[5]
    u = Unit(e["key"], "conv", "x", tuple(e["coords"]), e["macs"], e["act_bytes"], e["weight_bytes"])
    assert card.table.unit_ms(u) == pytest.approx(e["ms"])
    assert card.table.unit_ms(Unit("conv:k9s9", "conv", "x", (1.0,), 1, 1, 1)) is None


def test_table_recovers_a_linear_law_off_the_grid(card):
    """With points that follow one law exactly, the fit is the law and the residuals vanish: any shape between
    (and beyond) the points gets the law's time."""
    model = build_on_meta(lambda: effnets.build_model("efficientnet_b0", width_mult=1.3))
    for u in predictor.network_units(model, 200):
        got = card.table.unit_ms(u)
        if got is not None and u.key != "container":
            assert got == pytest.approx(law(u), rel=1e-3), (u.key, u.coords)


def test_predictions_grow_with_resolution_and_width(card):
    small = predictor.predict("mobilenet_v2", card, resolution=96)
    big = predictor.predict("mobilenet_v2", card, resolution=160)
    assert big.predicted_ms > small.predicted_ms and big.roofline_ms > small.roofline_ms
    wide = predictor.predict_units(
        predictor.network_units(build_on_meta(lambda: effnets.build_model("mobilenet_v2", width_mult=1.4)), 96), card
    )
    assert wide.table_ms > small.table_ms
    assert small.backend == "eager" and small.predictor == "table" and small.predicted_ms == small.table_ms


def test_roofline_arithmetic():
    over = {"conv": 0.01, "other": 0.0}
    compute = Unit("conv:k3s1", "conv", "c", (8.0,), 10**9, 10**3, 0)  # 1 GMAC at 100 GMAC/s: 10 ms
    memory = Unit("act:ReLU", "act", "a", (8.0,), 0, 2 * 10**9, 0)  # 2 GB at 100 GB/s: 20 ms
    assert predictor.roofline_unit_ms(compute, 100.0, 100.0, over) == pytest.approx(10.01)
    assert predictor.roofline_unit_ms(memory, 100.0, 100.0, over) == pytest.approx(20.0)


def test_missing_key_falls_back_to_the_roofline(card):
    thin = DeviceCard(**{**card.__dict__, "table": LatencyTable(
        [e for e in card.table.entries if not e["key"].startswith("depthwise")])})  # fmt: skip
    p = predictor.predict("mobilenet_v2", thin, resolution=96)
    assert p.fallbacks == ["depthwise conv:k3s1", "depthwise conv:k3s2"]
    full = predictor.predict("mobilenet_v2", card, resolution=96)
    assert p.table_raw_ms != full.table_raw_ms and p.roofline_ms == pytest.approx(full.roofline_ms)


def test_calibration_fits_constants_without_timing(card):
    nets = ("mobilenet_v3_small", "mnasnet0_5", "resnet18")
    raws = {n: predictor.raw_predictions(predictor.network_units(n), card)[1] for n in nets}
    cal = device_card.calibrate(DeviceCard(**card.__dict__), nets, measured={n: 2 * v for n, v in raws.items()})
    assert cal["coefficients"][0] == pytest.approx(2.0, rel=1e-6) and cal["chosen"] == "table"
    assert cal["errors"]["table"] == pytest.approx(0.0, abs=1e-6) and set(cal["networks"]) == set(nets)


def test_summary_and_fitted_networks_never_scored(card):
    rows = []
    for i, (name, meas) in enumerate((("a", 10.0), ("b", 20.0), ("c", 30.0), ("d", 40.0))):
        pred = meas * (1.1 if i < 3 else 1.5)
        p = predictor.Prediction(pred, "table", meas, pred, pred, 1, [], {}, "x", 1)
        rows.append(predictor.ScoredNetwork(name, meas, meas, meas, p, ""))
    s = predictor.summarize(rows, card)
    assert s.within_15 == 0.75 and s.kendall_tau == 1.0 and s.roofline_within_15 == 1.0
    assert set(s.to_dict()) >= {"within_15", "kendall_tau", "networks", "fit_networks"}
    with pytest.raises(ValueError, match="fitted"):
        predictor.score(card, [predictor.FIT_NETWORKS[0]])


# ----- device cards ------------------------------------------------------------------------------------------------


def test_card_json_round_trip(card, tmp_path):
    path = card.save(tmp_path / "card.json")
    back = device_card.load(path)
    assert back.to_dict() == json.loads(path.read_text())
    for name in ("ghostnet_100", "resnet18"):
        assert predictor.predict(name, back).to_dict() == predictor.predict(name, card).to_dict()


def _mutate(d: dict, path: str, value) -> dict:
    d = json.loads(json.dumps(d))
    *head, last = path.split(".")
    node = d
    for k in head:
        node = node[int(k)] if isinstance(node, list) else node[k]
    node[int(last) if isinstance(node, list) else last] = value
    return d


@pytest.mark.parametrize(
    "change",
    [
        ("format", "something else"),
        ("version", 99),
        ("ceilings.bandwidth_gbs", -1),
        ("ceilings.peak_gmacs", "fast"),
        ("overheads.conv", "1e3"),
        ("table.entries.0.ms", -0.5),
        ("table.entries.0.coords", []),
        ("table.entries.0.key", 12),
        ("table.entries", {"a": 1}),
        ("calibration.coefficients", [1, 2]),
        ("calibration.chosen", "oracle"),
        ("threads", 10**9),
    ],
)
def test_malformed_cards_are_one_line_errors(card, change):
    bad = _mutate(card.to_dict(), *change)
    with pytest.raises(ValueError) as e:
        device_card.loads(json.dumps(bad))
    assert len(str(e.value).splitlines()) == 1


@pytest.mark.parametrize(
    "text",
    ["", "[]", "null", "{", '{"format": NaN}', "[" * 100_000, '"' + "x" * 9_000_000 + '"', '{"format": Infinity}'],
)
def test_hostile_json_is_refused(text):
    with pytest.raises(ValueError) as e:
        device_card.loads(text)
    assert len(str(e.value).splitlines()) == 1


def test_cli_bad_card_exit_2(tmp_path, capsys):
    path = tmp_path / "bad.json"
    path.write_text('{"format": "effnets-device-card", "version": 1, "ceilings": {"peak_gmacs": {"fp32": 1e999}}}')
    for args in (["predict", "model", "resnet18"], ["predict", "rank"], ["device-card", "show"]):
        extra = [str(path)] if args[0] == "device-card" else ["--device-card", str(path)]
        assert main([*args, *extra]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("effnets: error:") and len(err.splitlines()) == 1
    assert main(["predict", "model", "resnet18", "--device-card", str(tmp_path / "missing.json")]) == 2


# ----- the CLI on synthetic cards ------------------------------------------------------------------------------


def test_cli_predict_model_json(card, tmp_path, capsys):
    path = card.save(tmp_path / "card.json")
    assert main(["predict", "model", "mobilenet_v2", "--device-card", str(path), "--json", "--resolution", "96"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert {"predicted_ms", "roofline_ms", "table_ms", "backend", "predictor"} <= set(d)
    assert d["backend"] == "eager" and d["predictor"] == "table" and d["predicted_ms"] == d["table_ms"] > 0
    assert d["predicted_ms"] == pytest.approx(predictor.predict("mobilenet_v2", card, resolution=96).predicted_ms)


def test_rankings_on_two_devices(card, tmp_path, capsys):
    """A device whose every call costs a lot and whose MACs are nearly free ranks networks by their number of
    layer calls, not their MACs: the fastest network differs between the two."""
    gpu_like = synthetic_card("GPU (synthetic)", over=0.05, per_mac=1e-12, per_byte=1e-13)
    names = ["ghostnet_100", "resnet18", "mobilenet_v3_small", "repvgg_a0"]
    r = predictor.rankings([card, gpu_like], names)
    assert r["devices"] == ["CPU (synthetic), 1 thread", "GPU (synthetic), 1 thread"]
    assert len(r["rows"]) == 4 and all(len(row["ms"]) == len(row["rank"]) == 2 for row in r["rows"])
    assert sorted(row["rank"][1] for row in r["rows"]) == [1, 2, 3, 4]
    assert r["fastest"][0] == "mobilenet_v3_small" and r["fastest"][1] not in ("mobilenet_v3_small", "ghostnet_100")
    assert r["kendall_tau"] < 1.0
    a, b = card.save(tmp_path / "a.json"), gpu_like.save(tmp_path / "b.json")
    assert main(["predict", "rank", "--device-card", str(a), "--device-card", str(b), "--models", ",".join(names),
                 "--json"]) == 0  # fmt: skip
    assert json.loads(capsys.readouterr().out)["fastest"] == r["fastest"]


# ----- a tiny table measured for real --------------------------------------------------------------------------------


def _few_probes() -> list:
    keys = ("conv:k1s1", "act:ReLU", "op:add", "container")
    by_key = {}
    for p in latency_grid.grid("tiny"):
        if p.key in keys and p.key not in by_key:
            by_key[p.key] = p
    return list(by_key.values())


def test_tiny_table_build_with_progress():
    seen = []
    table = latency_table.build_table("cpu", _few_probes(), warmup=0, repeats=1, progress=lambda *a: seen.append(a))
    assert [s[0] for s in seen] == [1, 2, 3, 4] and all(s[1] == 4 for s in seen)
    assert sorted(table.keys) == ["act:ReLU", "container", "conv:k1s1", "op:add"]
    assert all(e["ms"] >= 0 for e in table.entries) and not table.partial
    back = LatencyTable.from_dict(json.loads(json.dumps(table.to_dict())))
    assert back.entries == table.entries


def test_background_build_is_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("EFFNETS_CACHE_DIR", str(tmp_path))
    probes = _few_probes()
    monkeypatch.setattr(latency_grid, "grid", lambda scale="full": probes)
    builder = latency_table.TableBuilder("cpu", scale="tiny", warmup=0, repeats=1).start()
    builder.join(60)
    assert builder.done and builder.error is None and builder.progress[:2] == (4, 4)
    path = latency_table.cache_path("cpu", "tiny")
    assert path.is_file() and str(path).startswith(str(tmp_path))
    again = latency_table.cached("cpu", "tiny")
    assert again is not None and again.entries == builder.table.entries
    stopped = latency_table.build_table("cpu", _few_probes(), stop=lambda: True)
    assert stopped.partial and stopped.entries == []


def test_device_card_build_and_score_for_real(tmp_path, capsys):
    """The whole path measured here, at the smallest size: a card from the tiny grid calibrated on one network,
    written by the CLI, read back, and a score of one network (no assertion on the speed or the error)."""
    out = tmp_path / "card.json"
    card = device_card.build("cpu", threads=1, scale="tiny", fit_networks=("mobilenet_v3_small",), warmup=0, repeats=1)
    card.save(out)
    back = device_card.load(out)
    assert back.threads == 1 and back.calibration["networks"].keys() == {"mobilenet_v3_small"}
    assert back.ceilings["peak_gmacs"]["fp32"] > 0 and set(back.overheads) >= {"conv", "container", "view"}
    s = predictor.score(back, ["mnasnet0_5"], warmup=0, repeats=1, recalibrate=False)
    (row,) = s.networks
    assert row.measured_ms > 0 and row.prediction.predicted_ms > 0 and row.why
    assert s.to_dict()["networks"][0]["name"] == "mnasnet0_5"
    assert main(["device-card", "show", str(out), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["table_points"] == len(back.table.entries) and shown["threads"] == 1


def test_disturbed_points_are_suspect():
    ok = {"macs": 10**7, "act_bytes": 10**6, "weight_bytes": 10**5, "ms": 0.4}
    assert not latency_table.suspect(ok)
    stalled = {**ok, "macs": 0, "act_bytes": 64_000, "weight_bytes": 0, "ms": 8.0}  # a 16k-element ReLU waiting 8 ms
    assert latency_table.suspect(stalled)
    card = synthetic_card()
    assert not any(latency_table.suspect(e) for e in card.table.entries)
