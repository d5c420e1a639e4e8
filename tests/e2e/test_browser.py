"""Every page in a real browser: it loads with no exception box, and a control changes the numbers."""

from __future__ import annotations

import contextlib

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from effnets.report import human
from tests.e2e.conftest import shot, wait_idle

pytestmark = pytest.mark.browser

PAGES = {
    "home": "/",
    "block-lab": "/block-lab",
    "scaling-lab": "/scaling-lab",
    "design-space": "/design-space",
    "kernel-gallery": "/kernel-gallery",
    "inference-lab": "/inference-lab",
    "model-zoo": "/model-zoo",
    "latency-lab": "/latency-lab",
    "reparameterization-lab": "/reparameterization-lab",
    "network-builder": "/network-builder",
    "network-inspector": "/network-inspector",
}


@pytest.mark.parametrize("name", list(PAGES))
def test_page_loads_without_exception(warm, browser, name):
    pg = browser.new_page(viewport={"width": 1400, "height": 1000})
    pg.goto(warm + PAGES[name])
    pg.wait_for_selector("h1", timeout=120_000)
    wait_idle(pg)
    assert pg.locator('[data-testid="stException"]').count() == 0
    assert pg.get_by_text("Traceback").count() == 0
    shot(pg, name)
    pg.close()


def test_block_lab_control_changes_numbers_and_url(warm, browser):
    pg = browser.new_page(viewport={"width": 1400, "height": 1000})
    pg.goto(warm + "/block-lab?block=standard")
    wait_idle(pg)
    macs = pg.locator('[data-testid="stMetricValue"]').nth(1)
    before = macs.inner_text()
    box = pg.get_by_role("spinbutton", name="C_out")
    box.fill("128")
    box.press("Enter")
    wait_idle(pg)
    pg.wait_for_function(
        "(b) => document.querySelectorAll('[data-testid=stMetricValue]')[1].innerText !== b", arg=before, timeout=30_000
    )
    assert macs.inner_text() != before
    assert "out_channels%3A128" in pg.url or "out_channels:128" in pg.url
    shared = pg.url
    pg.close()
    # the link restores the state in a fresh page
    pg2 = browser.new_page(viewport={"width": 1400, "height": 1000})
    pg2.goto(shared)
    wait_idle(pg2)
    assert _metric_settles(pg2, 1, macs_text(shared)) == macs_text(shared)
    pg2.close()


def macs_text(url: str) -> str:
    import effnets
    from effnets.report import human

    return human(effnets.block_cost("standard", (32, 56, 56), out_channels=128).macs)


def test_inference_lab_upload_good_and_corrupt(warm, browser, tmp_path):
    good = tmp_path / "red.png"
    from PIL import Image

    Image.new("RGB", (80, 60), (210, 40, 40)).save(good)
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"definitely not a jpeg")
    pg = browser.new_page(viewport={"width": 1400, "height": 1000})
    pg.goto(warm + "/inference-lab?source=upload")
    wait_idle(pg)
    pg.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files([str(bad)])
    pg.get_by_text("broken.jpg").first.wait_for(timeout=60_000)
    wait_idle(pg)
    assert pg.locator('[data-testid="stAlertContentError"]').filter(has_text="broken.jpg").count() >= 1
    assert pg.locator('[data-testid="stException"]').count() == 0
    pg.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files([str(good)])
    pg.get_by_text("top-1:").first.wait_for(timeout=120_000)
    wait_idle(pg)
    assert pg.locator('[data-testid="stException"]').count() == 0
    shot(pg, "inference-lab-upload")
    pg.close()


def _metric_settles(pg, index: int, expected: str) -> str:
    """The index-th metric's text once it shows ``expected``, or after 30 s whatever it shows: a fresh page draws
    while its script runs, and the status widget that wait_idle watches can appear late."""
    with contextlib.suppress(PlaywrightTimeout):
        pg.wait_for_function(
            "([i, e]) => document.querySelectorAll('[data-testid=stMetricValue]')[i]?.innerText === e",
            arg=[index, expected],
            timeout=30_000,
        )
    return pg.locator('[data-testid="stMetricValue"]').nth(index).inner_text()


def _metric_changes(pg, index: int, before: str) -> str:
    pg.wait_for_function(
        "([i, b]) => document.querySelectorAll('[data-testid=stMetricValue]')[i].innerText !== b",
        arg=[index, before],
        timeout=30_000,
    )
    return pg.locator('[data-testid="stMetricValue"]').nth(index).inner_text()


def test_scaling_lab_phi_slider_changes_numbers_and_url(warm, browser):
    import effnets
    from effnets.report import human

    pg = browser.new_page(viewport={"width": 1400, "height": 1000})
    pg.goto(warm + "/scaling-lab")
    wait_idle(pg)
    before = _metric_settles(pg, 1, human(effnets.model_cost("efficientnet_b0").macs))
    assert before == human(effnets.model_cost("efficientnet_b0").macs)
    thumb = pg.get_by_role("slider", name="compound coefficient φ")
    thumb.focus()
    thumb.press("ArrowRight")  # phi 0 -> 0.1: ceil(1.2^0.1 x n) adds a block to every stage
    wait_idle(pg)
    after = _metric_changes(pg, 1, before)
    expected = effnets.model_cost(
        "efficientnet_b0",
        width_mult=round(1.1**0.1, 4),
        depth_mult=round(1.2**0.1, 4),
        resolution=round(224 * 1.15**0.1),
    )
    assert after == human(expected.macs)
    assert "phi=0.1" in pg.url
    shared = pg.url
    pg.close()
    pg2 = browser.new_page(viewport={"width": 1400, "height": 1000})
    pg2.goto(shared)
    wait_idle(pg2)
    assert _metric_settles(pg2, 1, after) == after
    assert pg2.locator('[data-testid="stException"]').count() == 0
    pg2.close()


def test_design_space_depth_changes_numbers_and_url(warm, browser):
    import effnets
    from effnets.report import human

    pg = browser.new_page(viewport={"width": 1400, "height": 1000})
    pg.goto(warm + "/design-space")
    wait_idle(pg)
    before = _metric_settles(pg, 1, human(effnets.model_cost("regnetx_200mf").macs))
    box = pg.get_by_role("spinbutton", name="depth d")
    box.fill("16")
    box.press("Enter")
    wait_idle(pg)
    assert _metric_changes(pg, 1, before) == human(effnets.model_cost("regnetx_200mf", depth=16).macs)
    assert "depth%3A16" in pg.url or "depth:16" in pg.url
    box.fill("1")  # d = 1 is a one-block network, still valid
    box.press("Enter")
    wait_idle(pg)
    assert pg.locator('[data-testid="stException"]').count() == 0
    pg.close()


def test_first_page_of_a_session_shows_its_numbers_then_its_chart(warm, browser):
    """A session's first page draws placeholders where its charts go and the charts on the rerun the browser asks
    for once the page is on screen (classroom.charts_now); a page opened next draws its charts at once."""
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})  # a new session
    pg = ctx.new_page()
    pg.goto(warm + "/design-space")
    pg.wait_for_selector('[data-testid="stMetricValue"]', timeout=120_000)
    pg.wait_for_selector('[data-testid="stVegaLiteChart"] svg.marks', timeout=60_000)  # the RegNet widths
    wait_idle(pg)
    assert pg.get_by_text("Drawing the chart...").count() == 0
    assert pg.locator('[data-testid="stVegaLiteChart"]').count() == 1
    pg.get_by_role("tab", name="ShuffleNet groups").click()
    pg.wait_for_selector('[data-testid="stPlotlyChart"] .main-svg', timeout=60_000)
    wait_idle(pg)
    assert pg.get_by_text("Drawing the chart...").count() == 0
    assert pg.locator('[data-testid="stException"]').count() == 0
    ctx.close()


def test_presenter_link_and_dark_theme(warm, browser):
    pg = browser.new_page(viewport={"width": 1400, "height": 1000}, color_scheme="dark")
    pg.goto(warm + "/block-lab?present=1&block=mbconv")
    pg.locator('[data-testid="stButtonGroup"]').first.wait_for(timeout=120_000)  # one section at a time
    wait_idle(pg)
    assert pg.locator('[data-testid="stException"]').count() == 0
    assert pg.locator('[data-testid="stTab"]').count() == 0
    assert "present=1" in pg.url  # the address keeps presenter mode, so a copied link presents too
    shot(pg, "block-lab-presenter-dark")
    pg.close()


def test_network_builder_string_edit_changes_numbers_and_link(warm, browser):
    from effnets.networks import arch, design

    pg = browser.new_page(viewport={"width": 1400, "height": 1000})
    pg.goto(warm + "/network-builder?from=resnet18")
    wait_idle(pg)
    want = human(design.evaluate(design.from_model("resnet18")).total.params)
    assert _metric_settles(pg, 0, want) == want
    text = "r160|conv(c:24,k:3,s:2)|mbconv*3(c:32,s:2)|grouped(c:30,groups:4)|conv(c:256,k:1)/classifier"
    box = pg.locator("textarea").first
    box.fill(text)
    box.press("Control+Enter")
    pg.locator('[data-testid="stAlertContentError"]').filter(has_text="must divide").first.wait_for(timeout=60_000)
    ok = text.replace("c:30", "c:32")
    box.fill(ok)
    box.press("Control+Enter")
    want = human(design.evaluate(arch.decode(ok)).total.params)
    assert _metric_settles(pg, 0, want) == want
    assert "arch=" in pg.url and "mbconv" in pg.url
    assert pg.locator('[data-testid="stException"]').count() == 0
    shot(pg, "network-builder-edited")
    pg.close()


def test_network_inspector_onnx_upload_good_and_corrupt(warm, browser, tmp_path):
    from effnets.models import get_model
    from effnets.networks import onnx_graph

    info = get_model("mobilenet_v3_small")
    spec = info.make_spec()
    good = tmp_path / "mnv3s.onnx"
    good.write_bytes(onnx_graph.export_onnx(info.build(spec).eval(), (3, 224, 224)))
    bad = tmp_path / "broken.onnx"
    bad.write_bytes(b"\x08\x07" + b"not a protobuf at all" * 50)
    pg = browser.new_page(viewport={"width": 1400, "height": 1000})
    pg.goto(warm + "/network-inspector?src=onnx")
    wait_idle(pg)
    pg.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files([str(bad)])
    pg.locator('[data-testid="stAlertContentError"]').first.wait_for(timeout=60_000)
    assert pg.locator('[data-testid="stException"]').count() == 0
    pg.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files([str(good)])
    want = human(info.cost(spec).params)
    assert _metric_settles(pg, 0, want) == want
    assert pg.locator('[data-testid="stException"]').count() == 0
    shot(pg, "network-inspector-onnx")
    pg.close()


def _metric(pg, label: str) -> str:
    """The value of the headline metric whose label is ``label``."""
    box = pg.locator('[data-testid="stMetric"]').filter(has=pg.get_by_text(label, exact=True)).first
    return box.locator('[data-testid="stMetricValue"]').inner_text()


def test_fragment_controls_rerun_their_part_and_keep_the_page_consistent(warm, browser):
    """The Scaling Lab's phi slider reruns a fragment (classroom.page_fragment) that draws its controls into the
    sidebar: after several steps the sidebar holds each control once, the headline is the exact count at that phi,
    the address bar and 'Copy link' hold phi, and a control of the full run (batch) still feeds the fragment."""
    import effnets
    from effnets.models import MODELS
    from effnets.models import scaling as model_scaling

    pg = browser.new_page(viewport={"width": 1400, "height": 1000})
    pg.goto(warm + "/scaling-lab")
    wait_idle(pg)
    thumb = pg.get_by_role("slider", name="compound coefficient φ")
    for _ in range(3):
        thumb.focus()
        thumb.press("ArrowRight")
        wait_idle(pg)
    info = MODELS["efficientnet_b0"]
    axes = model_scaling.scalable_axes(info.spec)
    m = model_scaling.phi_multipliers(0.3, 1.2, 1.1, 1.15, axes)
    scaled = model_scaling.scale_spec(info, info.make_spec(), m)
    expected = effnets.model_cost("efficientnet_b0", **scaled.changed_fields())
    pg.wait_for_function("() => location.search.includes('phi=0.3')", timeout=30_000)
    assert _metric(pg, "MACs per image") == human(expected.macs)
    assert pg.get_by_role("slider", name="compound coefficient φ").count() == 1
    assert pg.get_by_role("slider", name="depth multiplier d").count() == 1
    assert pg.locator('[data-testid="stTab"]').count() >= 5 and pg.locator('[data-testid="stDataFrame"]').count() == 1
    pg.get_by_text("Copy link").first.click()
    code = pg.locator('[data-testid="stCode"]').first
    code.wait_for(timeout=30_000)
    assert "phi=0.3" in code.inner_text()
    pg.keyboard.press("Escape")
    wait_idle(pg)
    box = pg.get_by_role("spinbutton", name="batch N")
    box.fill("4")
    box.press("Enter")
    wait_idle(pg)
    pg.wait_for_function("() => location.search.includes('batch=4')", timeout=30_000)
    assert "phi=0.3" in pg.url
    assert _metric(pg, "MACs per image") == human(expected.macs)  # per image: the batch does not change it
    assert "batch 4" in pg.locator('[data-testid="stMetric"]').nth(3).inner_text()
    assert pg.locator('[data-testid="stException"]').count() == 0
    pg.close()
