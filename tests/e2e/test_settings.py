"""Off the defaults in a real browser: every Block Lab block at a non-default setting with every tab opened, one
drawn setting per page, and the links a newcomer types (a first deep link after a start, /home, a path below a page).
"""

from __future__ import annotations

import random
import urllib.parse
from dataclasses import fields

import pytest

from effnets.blocks import BLOCKS
from effnets.spec import SpecError, encode_fields
from effnets.ui import navigation, schema
from tests.e2e.conftest import shot, wait_idle

pytestmark = pytest.mark.browser
VIEW = {"width": 1400, "height": 1000}


def _no_exception(pg) -> None:
    assert pg.locator('[data-testid="stException"]').count() == 0, pg.inner_text("body")[:2000]
    assert pg.get_by_text("Traceback").count() == 0


def non_default(name: str) -> dict:
    """A valid setting of block ``name`` that is not its default: the first field (after C_in) that can take another
    value (another choice, twice the number, the other truth value) and still make a block on a 20x20 input."""
    info = BLOCKS[name]
    spec = info.make_spec()
    first = ("kernel_size", "dilation", "stride", "groups")  # the settings a student tries first
    for f in sorted(fields(spec), key=lambda f: first.index(f.name) if f.name in first else len(first)):
        if f.name == "in_channels":
            continue
        v = getattr(spec, f.name)
        if f.metadata.get("choices") is not None:
            options = [c for c in f.metadata["choices"] if c != v]
        elif isinstance(v, bool):
            options = [not v]
        elif isinstance(v, int):
            options = [v * 2, v + 1, v - 1]
        else:
            options = [round(v + (f.metadata.get("step") or 0.05), 4)]
        for value in options:
            try:
                changed = info.make_spec(**{**spec.to_dict(), f.name: value})
                info.cost(changed, (changed.in_channels, 20, 20))
            except (SpecError, ValueError):
                continue
            return {f.name: value}
    raise AssertionError(f"no non-default setting found for {name}")


@pytest.mark.parametrize("name", list(BLOCKS))
def test_every_block_off_its_defaults_with_every_tab(warm, browser, name):
    cfg = non_default(name)
    pg = browser.new_page(viewport=VIEW)
    pg.goto(f"{warm}/block-lab?block={name}&h=20&w=20&cfg={urllib.parse.quote(encode_fields(cfg))}")
    pg.wait_for_selector("h1", timeout=120_000)
    wait_idle(pg)
    _no_exception(pg)
    tabs = pg.locator('[data-testid="stTab"]')
    assert tabs.count() == 8
    for i in range(tabs.count()):  # a tab shows what the run drew already: no rerun to wait for
        tabs.nth(i).click()
        _no_exception(pg)
    assert f"{BLOCKS[name].label}" in pg.locator("h1").first.inner_text()
    if name in ("deformable", "shuffle_v2", "mbconv"):
        shot(pg, f"block-lab-{name}-{'-'.join(f'{k}{v}' for k, v in cfg.items())}")
    pg.close()


def drawn_link(page: schema.PageSchema, seed: int) -> str:
    """A link to ``page`` with every link control drawn at random (seeded) from its own range or choices."""
    rng = random.Random(seed)
    query = {}
    for c in page.controls:
        if not c.url or c.name in ("models", "blocks", "device"):
            continue
        if c.widget in ("select", "radio", "segmented"):
            v = rng.choice(c.choices())
        elif c.widget == "multiselect":
            v = ",".join(map(str, rng.sample(c.choices(), k=min(2, len(c.choices())))))
        elif c.widget == "toggle":
            v = rng.choice(["1", "0"])
        elif c.widget == "range":
            a, b = sorted(rng.uniform(c.lo, c.hi) for _ in range(2))
            query[f"{c.url}_lo"], query[f"{c.url}_hi"] = (f"{int(x)}" if c.is_int else f"{x:.2f}" for x in (a, b))
            continue
        elif c.is_int:
            v = rng.randint(int(c.lo), int(min(c.hi, c.lo + 60)))
        else:
            v = round(rng.uniform(c.lo, c.hi), 2)
        query[c.url] = v
    if page is schema.KERNEL_GALLERY or page is schema.INFERENCE_LAB:
        query["model"] = "efficientnet_lite0"  # a drawn torchvision model is random init and slow to build
    if page is schema.MODEL_ZOO:
        query["models"] = "mobilenet_v2,shufflenet_v2_x1_0,regnet_x_400mf"
    if page is schema.LATENCY_LAB:
        query["blocks"] = "standard,shuffle_v2,fire"
    return urllib.parse.urlencode({k: str(v) for k, v in query.items()})


PAGE_PATHS = {p.url_path: p for p in navigation.PAGES}
SCHEMA_OF = {
    "block-lab": schema.BLOCK_LAB,
    "scaling-lab": schema.SCALING_LAB,
    "design-space": schema.DESIGN_SPACE,
    "kernel-gallery": schema.KERNEL_GALLERY,
    "inference-lab": schema.INFERENCE_LAB,
    "model-zoo": schema.MODEL_ZOO,
    "latency-lab": schema.LATENCY_LAB,
    "reparameterization-lab": schema.REPARAM_LAB,
    "network-builder": schema.NETWORK_BUILDER,
    "network-inspector": schema.NETWORK_INSPECTOR,
}


def test_every_page_has_a_drawn_setting_test():
    assert set(SCHEMA_OF) == {p.url_path for p in navigation.PAGES if p.url_path not in ("", "home")}


@pytest.mark.parametrize("path", list(SCHEMA_OF))
def test_one_drawn_setting_per_page(warm, browser, path):
    link = f"{warm}/{path}?{drawn_link(SCHEMA_OF[path], seed=len(path))}"
    pg = browser.new_page(viewport=VIEW)
    pg.goto(link)
    pg.wait_for_selector("h1", timeout=120_000)
    wait_idle(pg)
    _no_exception(pg)
    tabs = pg.locator('[data-testid="stTab"]')
    for i in range(tabs.count()):
        tabs.nth(i).click()
        _no_exception(pg)
    shot(pg, f"{path}-drawn")
    pg.close()


def test_links_a_newcomer_types_on_a_fresh_server(browser):
    """On a server just started: the first deep link opens its page with no 'Page not found' box, /home is Home,
    and a path below a page lands on the page."""
    from tools.devserver import app_server

    with app_server() as (url, _proc):
        pg = browser.new_page(viewport=VIEW)
        pg.goto(url + "/scaling-lab")
        pg.wait_for_selector("h1", timeout=120_000)
        wait_idle(pg)
        assert "Scaling Lab" in pg.locator("h1").first.inner_text()
        assert pg.get_by_text("Page not found").count() == 0
        pg.goto(url + "/home")
        pg.wait_for_selector("h1", timeout=120_000)
        wait_idle(pg)
        assert "effnets" in pg.locator("h1").first.inner_text() and pg.get_by_text("Page not found").count() == 0
        pg.goto(url + "/block-lab/foo/bar")
        pg.wait_for_selector("h1", timeout=120_000)
        wait_idle(pg)
        assert urllib.parse.urlsplit(pg.url).path == "/block-lab"
        assert BLOCKS["depthwise_separable"].label in pg.locator("h1").first.inner_text()
        _no_exception(pg)
        pg.close()


def test_two_browser_sessions_each_see_whose_timing_it_is(warm, browser):
    """One session measures; a second session opened after it sees that number labelled as another session's."""
    first = browser.new_page(viewport=VIEW)
    first.goto(warm + "/inference-lab")
    first.wait_for_selector("h1", timeout=120_000)
    wait_idle(first)
    first.get_by_role("tab", name="Latency").click()
    first.get_by_role("button", name="Measure again").click()
    first.get_by_text("Measured for you at").first.wait_for(timeout=120_000)
    wait_idle(first)
    second = browser.new_page(viewport=VIEW)
    second.goto(warm + "/inference-lab")
    second.wait_for_selector("h1", timeout=120_000)
    wait_idle(second)
    second.get_by_role("tab", name="Latency").click()
    second.get_by_text("An earlier measurement, by another session").first.wait_for(timeout=60_000)
    assert second.get_by_text("Measured for you at").count() == 0
    _no_exception(first)
    _no_exception(second)
    shot(second, "inference-lab-another-sessions-timing")
    first.close()
    second.close()


@pytest.mark.parametrize(
    "link, said",
    [
        ("/design-space?n=999999&preset=bogus", "n=999999 from the link is outside 10..1000"),
        ("/inference-lab?topk=99", "topk=99 from the link is outside 1..10"),
        ("/network-inspector?name=__import__('os')", "unknown model '__import__('os')'"),
    ],
)
def test_what_a_tampered_link_did_stays_on_screen_after_the_first_view_is_complete(warm, browser, link, said):
    """The first run of a browser session is followed at once by the run that draws its charts: the warning about
    the link (and a message quoting a hostile name verbatim) is still there when the page has settled."""
    pg = browser.new_page(viewport=VIEW)
    pg.goto(warm + link)
    pg.wait_for_selector("h1", timeout=120_000)
    wait_idle(pg)
    pg.wait_for_timeout(1500)  # past the first-paint timer that reruns the page with its charts
    wait_idle(pg)
    _no_exception(pg)
    alerts = " ".join(pg.locator('[data-testid="stAlert"]').all_inner_texts())
    assert said in alerts, alerts
    assert pg.locator('[data-testid="stAlert"] a[href^="http"]').count() == 0
    pg.close()
