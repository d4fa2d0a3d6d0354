"""Links that reproduce a view: the run named in a page's link (?run=<id>), and the "Share this
view" control that writes the page's link out in full.

A run in the link is taken only when it is one of the runs this visitor sees on the page; any
other value (another visitor's run, a missing one, a malformed or hostile text) is dropped from
the link with one notice that reads the same whatever the reason, so ids cannot be probed.

The shared link carries the view (the page's kept widgets, its network, its run, its language),
never who you are: the visitor lives in a cookie, not in the link.
"""

from urllib.parse import urlencode

import streamlit as st

from app_pages._widgets import LINK_TEXT, PAGE_KEYS
from cnn_core.i18n import t

RUN_PARAM = "run"
SELECTED = "selected_run"  # session key: the run chosen on any page (pick_run)
LAUNCHED_KEY = "launched_run"  # session key: the run the Train page just started, announced once
PASSED_ON = ("net", RUN_PARAM, "lang")  # link values set by the pages themselves, not by a kept widget


def run_from_link(ids: list[str]) -> None:
    """Select the run named in the link when it is one of ids; else drop it with a notice."""
    wanted = st.query_params.get_all(RUN_PARAM)
    if not wanted:
        return
    if len(wanted) == 1 and wanted[0] in ids:
        st.session_state[SELECTED] = wanted[0]
        return
    del st.query_params[RUN_PARAM]
    st.warning(t("links.run_ignored"), icon=":material/link_off:")


def announce_launch() -> None:
    """Say, on the Runs page the Train page switched to, that the run it launched started; the
    page calls launch_announced once it has been drawn to its end (a rerun before that, as when the
    run's state changes under it, would take the toast away: it is said again)."""
    launched = st.session_state.get(LAUNCHED_KEY)
    if launched:
        st.toast(t("train.launched", run_id=launched), icon=":material/rocket_launch:")


def launch_announced() -> None:
    st.session_state.pop(LAUNCHED_KEY, None)


def keep_run_in_link(run_id: str) -> None:
    if st.query_params.get(RUN_PARAM) != run_id:
        st.query_params[RUN_PARAM] = run_id


def forget_run_in_link() -> None:
    st.query_params.pop(RUN_PARAM, None)
    st.session_state.pop(SELECTED, None)


def view_link() -> str:
    """This page's address with the values of its kept widgets (drawn since link_values) and the
    link values the page sets itself."""
    params = {key: st.query_params.get_all(key) for key in PASSED_ON if key in st.query_params}
    texts = st.session_state.get(LINK_TEXT, {})
    for key in st.session_state.get(PAGE_KEYS, []):
        if texts.get(key):
            params[key] = texts[key]
    query = urlencode(params, doseq=True)
    base = st.context.url or ""
    return f"{base}?{query}" if query else base


def share_view(container=st) -> None:
    """A popover with the page's full link, to copy."""
    with container.popover(t("links.share"), icon=":material/share:"):
        st.caption(t("links.share.caption"))
        st.code(view_link(), language=None, wrap_lines=True)
