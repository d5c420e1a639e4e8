"""Classroom features every page shares: presenter mode, a copyable link, figure and table export, a guided lesson,
and 'predict, then reveal' questions."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from urllib.parse import urlencode, urlsplit, urlunsplit

import pandas as pd
import streamlit as st

from effnets.analysis.quiz import grade_count, parse_guess
from effnets.report import plain
from effnets.ui.lessons import LESSONS

PRESENTER_KEY = "app.presenter"
EXPORT_KEY = "app.export_format"

_PRESENTER_CSS = """
<style>
html, body, [data-testid="stAppViewContainer"] { font-size: 125% !important; }
[data-testid="stMain"] [data-testid="stMarkdownContainer"] p,
[data-testid="stMain"] [data-testid="stMarkdownContainer"] li { font-size: 1.35rem !important; }
/* metric values are markdown too: keep them big (the rule above would shrink them) */
[data-testid="stMetricValue"], [data-testid="stMetricValue"] [data-testid="stMarkdownContainer"] p,
[data-testid="stMetricValue"] div { font-size: 2.4rem !important; line-height: 1.2 !important; }
[data-testid="stMetricLabel"] [data-testid="stMarkdownContainer"] p { font-size: 1.2rem !important; }
h1 { font-size: 3.2rem !important; }
/* tables (plain tables in presenter mode), code and formulas grow with the prose */
[data-testid="stTable"] table, [data-testid="stTable"] th, [data-testid="stTable"] td { font-size: 1.25rem !important; }
[data-testid="stCode"] code, [data-testid="stCode"] pre, code { font-size: 1.2rem !important; }
.katex { font-size: 1.45em !important; }
[data-testid="stCaptionContainer"], [data-testid="stCaptionContainer"] p { font-size: 1.1rem !important; }
</style>
"""


def presenter_mode() -> bool:
    """Presenter mode is on (sidebar toggle, or ``present=1`` in the link)."""
    if PRESENTER_KEY not in st.session_state:
        st.session_state[PRESENTER_KEY] = st.query_params.get("present") in ("1", "true", "yes")
    return bool(st.session_state[PRESENTER_KEY])


def sidebar_controls() -> tuple[bool, str]:
    """The shared classroom controls at the bottom of the sidebar: presenter mode and figure export format."""
    presenter_mode()
    st.session_state.setdefault(EXPORT_KEY, "png")
    with st.sidebar:
        st.divider()
        on = st.toggle(
            "Presenter mode",
            key=PRESENTER_KEY,
            help="Larger type and one figure at a time, for a projector. Open a link with present=1 to start "
            "presenting with the sidebar collapsed.",
        )
        fmt = st.radio(
            "Figure download format",
            ["png", "svg"],
            key=EXPORT_KEY,
            horizontal=True,
            format_func=str.upper,
            help="The camera icon above every chart downloads it in this format.",
        )
    if on:
        st.markdown(_PRESENTER_CSS, unsafe_allow_html=True)
    return on, fmt


def chart_config(filename: str) -> dict:
    """plotly config: the modebar's download button saves PNG or SVG (the sidebar's choice) under ``filename``."""
    fmt = st.session_state.get(EXPORT_KEY, "png")
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", filename)[:80] or "figure"
    return {
        "displaylogo": False,
        "toImageButtonOptions": {"format": fmt, "filename": safe, "scale": 2 if fmt == "png" else 1},
    }


CHARTS_READY_KEY = "app.charts_ready"
CHARTS_RERUN_KEY = "app.charts_rerun"
"""Session flag: the browser has painted a page of this session, so charts are drawn at once from now on."""
_TRIGGER_KEY, _ARMED_KEY = "app.charts_trigger", "app.charts_armed"
FIRST_PAINT_S = 0.4  # how long after a session's first page arrives its charts are asked for


def new_run() -> None:
    """Called by app.py at the start of every full run (a fragment's rerun does not pass there)."""
    st.session_state[_TRIGGER_KEY] = False


def in_browser() -> bool:
    """Whether this run serves a browser (AppTest and bare runs have no page address)."""
    return bool(st.context.url)


def charts_now() -> bool:
    """Whether this run draws its plotly charts. Not on a browser session's first run: the first chart a browser
    meets loads plotly's bundle (4.7 MB, about a second of the browser's main thread), and nothing else of the page,
    the controls and the headline numbers included, is painted until it has. So the first run draws a placeholder
    where each chart goes, and a timer in the browser (a fragment's ``run_every``, which fires once the page's own
    work is done) asks for a rerun that draws them. Outside a browser (AppTest, the CLI) charts are drawn at once."""
    ss = st.session_state
    if ss.get(CHARTS_READY_KEY) or not in_browser():
        return True
    if not ss.get(_TRIGGER_KEY):
        ss[_TRIGGER_KEY] = True
        _charts_after_first_paint()
    return False


@st.fragment(run_every=FIRST_PAINT_S)
def _charts_after_first_paint() -> None:
    """Registered by the first run (nothing drawn); its first timer rerun turns charts on and reruns the page. The
    next full run no longer registers it, and the browser drops its timer at a full run."""
    if st.session_state.get(_ARMED_KEY):
        st.session_state[CHARTS_READY_KEY] = True
        st.session_state[CHARTS_RERUN_KEY] = True  # the page's warnings about its link are shown again (page_header)
        st.rerun()
    st.session_state[_ARMED_KEY] = True


def page_fragment(fn):
    """``st.fragment`` for the part of a page that its most-changed controls feed (the Scaling Lab's rule, the
    Design Space's generator numbers): a change there reruns the fragment, not the page, so the page's other
    controls and text are neither recomputed nor resent. Its charts' first-paint timer (:func:`charts_now`) lives
    inside it, and a rerun of the fragment drops it, so each run of the fragment may register it again."""

    @st.fragment
    @functools.wraps(fn)
    def run(*args, **kwargs):
        st.session_state[_TRIGGER_KEY] = False
        return fn(*args, **kwargs)

    return run


def plot(fig, name: str, key: str, width: str = "stretch", box=None) -> None:
    """A plotly chart with the export config, in ``box`` (a column; the page by default); on a browser session's
    first run a placeholder of the chart's height instead (:func:`charts_now`)."""
    box = box or st
    if not charts_now():
        box.container(height=int(fig.layout.height or 420), border=False).caption("Drawing the chart...")
        return
    box.plotly_chart(fig, width=width, key=key, config=chart_config(name))


def vega(spec: dict, key: str, box=None) -> None:
    """A Vega-Lite chart (:func:`effnets.figures.style.vega_layers`) in the viewer's theme, in ``box`` (a column;
    the page by default); on a browser session's first run a placeholder of its height, as for :func:`plot`."""
    box = box or st
    if not charts_now():
        box.container(height=int(spec.get("height", 380)) + 60, border=False).caption("Drawing the chart...")
        return
    box.vega_lite_chart(spec, key=key, width="stretch")


ALL_SECTIONS_KEY = "app.all_sections"
"""Session flag: draw every section on every run (the page fuzzers check all of them under each drawn setting)."""


def section_key(prefix: str) -> str:
    """The session key of the page's open section (a tab's label); set it before a run to open that section."""
    return f"{prefix}.section"


def sections(prefix: str, names: list[str]) -> dict[str, object | None]:
    """Containers for a page's sections, only the open one computed: tabs normally (opening another tab reruns the
    page with that one open), in presenter mode one section at a time picked with a segmented control. The closed
    sections are ``None``, so a widget change pays for the headline and the open section, never for the rest."""
    key = section_key(prefix)
    if st.session_state.get(key) not in names:
        st.session_state[key] = names[0]
    if st.session_state.get(ALL_SECTIONS_KEY):
        return dict(zip(names, st.tabs(names), strict=True))
    if not presenter_mode():
        tabs = st.tabs(names, key=key, on_change="rerun")
        return {n: (t if t.open else None) for n, t in zip(names, tabs, strict=True)}
    chosen = st.segmented_control("Show", names, key=key, required=True)
    return {n: (st.container() if n == chosen else None) for n in names}


def sections_without_numbers(sections: dict[str, object | None], why: str) -> None:
    """What the open section says while the page's settings make nothing to count (the error above names the
    setting): the tabs stay, their content waits for a valid setting."""
    for box in sections.values():
        if box is not None:
            box.caption(why)


def expander(label: str, key: str):
    """An expander whose content is computed and sent only while it is open (opening it reruns the page): the
    container, or None while it is closed. With every section drawn (the fuzzers), its content is drawn too."""
    if st.session_state.get(ALL_SECTIONS_KEY):
        return st.expander(label, key=key)
    box = st.expander(label, key=key, on_change="rerun")
    return box if box.open else None


def formatted(df: pd.DataFrame, column_config: dict | None = None) -> pd.DataFrame:
    """The table as text the way the interactive grid shows it: integers with thousands separators, numbers in their
    column's format, a missing value as a dash, columns under their configured labels."""
    column_config = column_config or {}
    out = pd.DataFrame(index=df.index)
    for col in df.columns:
        cfg = column_config.get(col)
        cfg = cfg if isinstance(cfg, dict) else {"label": cfg} if isinstance(cfg, str) else {}
        fmt = (cfg.get("type_config") or {}).get("format")

        def cell(v, fmt=fmt):
            if v is None or (isinstance(v, float) and v != v):
                return "—"
            if isinstance(v, bool) or not isinstance(v, int | float):
                return str(v)
            if fmt and fmt.startswith("%"):
                return fmt % v
            if isinstance(v, int) or float(v).is_integer():
                return f"{int(v):,}"
            return f"{v:,.4g}"

        out[cfg.get("label") or col] = [cell(v) for v in df[col].tolist()]
    return out


def with_separators(df: pd.DataFrame, column_config: dict | None = None) -> dict:
    """The column config with every integer column not configured otherwise shown with thousands separators."""
    config = dict(column_config or {})
    for col in df.columns:
        dtype = df[col].dtype
        if col not in config and pd.api.types.is_integer_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype):
            config[col] = st.column_config.NumberColumn(format="localized")
    return config


def _cell_text(v) -> str:
    if v is None or (isinstance(v, float) and v != v):
        return "—"
    if isinstance(v, int | float) and not isinstance(v, bool) and float(v).is_integer():
        return f"{int(v):,}"
    return str(v)


def without_missing(df: pd.DataFrame, column_config: dict | None = None) -> tuple[pd.DataFrame, dict]:
    """The frame as the grid shows it: a column with a missing value (a stage S does not have, a latency not yet
    measured) as text, the value with separators and the missing one as a dash, instead of the grid's 'None'; the
    other columns as they are, integers (and whole floats) with thousands separators."""
    config = dict(column_config or {})
    out = df.copy()
    for col in df.columns:
        values = df[col]
        if values.isna().any():
            out[col] = [_cell_text(v) for v in values.astype(object)]
            cfg = config.get(col)
            config[col] = cfg if isinstance(cfg, str) else st.column_config.TextColumn(_label(cfg, col))
        elif pd.api.types.is_float_dtype(values.dtype) and col not in config and values.map(float.is_integer).all():
            config[col] = st.column_config.NumberColumn(format="localized")
    return out, with_separators(out, config)


def _label(cfg, col: str) -> str:
    return (cfg.get("label") if isinstance(cfg, dict) else None) or col


def grid(df: pd.DataFrame, **kwargs) -> None:
    """st.dataframe with every count shown with thousands separators and a dash for a missing value."""
    df, kwargs["column_config"] = without_missing(df, kwargs.get("column_config"))
    st.dataframe(df, hide_index=True, width="stretch", **kwargs)


def table(df: pd.DataFrame, name: str, key: str, wrap: bool = False, **kwargs) -> None:
    """A table with a CSV download button under it. In presenter mode (and for text-heavy tables, ``wrap``) it is a
    plain table whose text wraps and grows with the presenter's type, instead of the scrolling grid."""
    if wrap or presenter_mode():
        st.table(formatted(df, kwargs.get("column_config")), hide_index=True)
    else:
        grid(df, **kwargs)
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", name)[:80] or "table"
    st.download_button(  # the CSV is written when the button is clicked, not at every run that shows the table
        "Download CSV",
        lambda: df.to_csv(index=False),
        file_name=f"{safe}.csv",
        mime="text/csv",
        key=key,
        on_click="ignore",
        icon=":material/download:",
        type="tertiary",
    )


def share_link() -> str | None:
    """The address of what is on screen (the current query string on the page's URL), or None outside a browser."""
    base = st.context.url
    if not base:
        return None
    parts = urlsplit(base)
    query = urlencode({k: st.query_params[k] for k in st.query_params})
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))


def share_box(prefix: str) -> None:
    """'Copy link' for the page's state: a code box with a copy button. Its link is read when the box is opened
    (opening it reruns the page), so it is the address of what is on screen then, even after changes made in a
    fragment of the page."""
    box = st.popover("Copy link", icon=":material/link:", key=f"{prefix}.share_open", on_change="rerun")
    if not box.open:
        return
    link = share_link()
    with box:
        if link:
            st.caption("Anyone who opens this link sees these settings (copy with the icon on the right).")
            st.code(link, language=None, wrap_lines=True)
        else:
            st.caption("The link is in your browser's address bar: it always holds the page's settings.")


def page_header(title: str, prefix: str) -> None:
    """The page title with its 'Copy link' button, the warnings about the link, and the guided lesson."""
    from effnets.ui import state

    head, share = st.columns([5, 1], vertical_alignment="bottom")
    head.title(title)
    with share:
        share_box(prefix)
    # a browser session's first run is followed at once by the run that draws its charts: the warnings stay for it
    state.show_warnings(prefix, again=st.session_state.pop(CHARTS_RERUN_KEY, False))
    lesson(prefix)


def lesson(prefix: str) -> None:
    """The page's guided lesson, collapsed."""
    ls = LESSONS.get(prefix)
    if ls is None:
        return
    with st.expander(ls.title, icon=":material/school:"):
        for i, step in enumerate(ls.steps, 1):
            st.markdown(f"{i}. {step}")
        for f in ls.formulas:
            st.latex(f)


def predict_then_reveal(
    key: str, question: str, answer: int, hint: str = "", explain: Callable[[], str] | None = None
) -> None:
    """Ask for a number, then grade it against the live ``answer``. The question resets when the answer changes."""
    st.markdown(f"**Predict, then reveal:** {question}")
    state_key = f"{key}.revealed_for"
    c1, c2 = st.columns([3, 1])
    guess_text = c1.text_input(
        "Your guess", key=f"{key}.guess", placeholder="e.g. 18000, 18k or 1.8e4", label_visibility="collapsed"
    )
    if c2.button("Reveal", key=f"{key}.reveal"):
        try:  # a guess that is not a number is refused before anything is revealed
            if guess_text.strip():
                parse_guess(guess_text)
        except ValueError as e:
            st.warning(plain(f"{e}: the answer stays hidden until the guess is a number."))
        else:
            st.session_state[state_key] = answer
    if st.session_state.get(state_key) == answer:
        try:
            g = grade_count(parse_guess(guess_text), answer) if guess_text.strip() else None
        except ValueError as e:
            st.warning(plain(str(e)))
            g = None
        if g is None:
            st.info(f"The answer is {answer:,}.")
        elif g.correct:
            st.success(g.message)
        else:
            st.warning(g.message)
        if explain:
            st.caption(explain())
    elif hint:
        st.caption(hint)
