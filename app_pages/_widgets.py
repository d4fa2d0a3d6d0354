"""Widgets any page may use, labelled from the catalogue: a choice whose options read as labels, any
widget with its help text (also one whose value is kept in the page's link and the session), a
download button, a run's name in a select box; and a notice for the values of a page's link that
its widgets did not take (Streamlit drops them silently)."""

import zlib

import streamlit as st

from app_pages._link_guard import drop_unusable_numbers, unusable_number
from cnn_core.i18n import t
from cnn_core.runs.tables import run_title
from cnn_core.settings import get_settings


def labelled(widget, label_key: str, *args, **kwargs):
    """widget (st.number_input, a column's selectbox, …) labelled t(label_key), with help t(f"{label_key}.help")."""
    return widget(t(label_key), *args, help=t(f"{label_key}.help"), **kwargs)


# A widget's value in the URL's query parameters (a reload, a new session, opens it again) and in the
# session (leaving the page and coming back keeps it). Needs a key: it names the query parameter.
KEEP = {"bind": "query-params", "persist_state": "session"}

LINK_FORMS = "_link_forms"  # session key: widget key -> how a link may write the widget's value


LINK_TEXT = "_link_text"  # session key: widget key -> its value as the link writes it (list of strings)


PAGE_KEYS = "_link_page_keys"  # session key: the kept widgets' keys drawn since the page's link_values()


def kept(widget, label_key: str, *args, key: str, **kwargs):
    """labelled, with its value kept (KEEP)."""
    return bound(widget, t(label_key), *args, key=key, help=t(f"{label_key}.help"), **kwargs)


def bound(widget, label: str, *args, key: str, **kwargs):
    """widget(label, …) with its value kept (KEEP); label already translated."""
    value = widget(label, *args, key=key, **KEEP, **kwargs)
    _remember_link_forms(key, value, kwargs.get("format_func"))
    return value


def kept_tabs(labels: list[str], key: str):
    """st.tabs whose open tab is kept in the link (the tab's label is the value)."""
    tabs = st.tabs(labels, key=key, bind="query-params")
    open_label = next((label for label, tab in zip(labels, tabs) if tab.open), labels[0])
    _remember_link_forms(key, open_label, None)
    return tabs


def _remember_link_forms(key: str, value, format_func) -> None:
    """A selection widget's value appears in the link as its label (its format_func's text)."""
    shown = format_func or str
    if isinstance(value, list):
        forms = [sorted(map(str, value)), sorted(str(shown(v)) for v in value)]
        text = [str(shown(v)) for v in value]
    else:
        forms = [str(value), str(shown(value))]
        text = [] if value is None else [str(value).lower() if isinstance(value, bool) else str(shown(value))]
    st.session_state.setdefault(LINK_FORMS, {})[key] = forms
    st.session_state.setdefault(LINK_TEXT, {})[key] = text
    page_keys = st.session_state.setdefault(PAGE_KEYS, [])
    if key not in page_keys:
        page_keys.append(key)


def choice(label_key: str, options, key: str, container=st, keep: bool = False, **kwargs):
    """A horizontal radio labelled t(label_key) whose options read t(f"{label_key}.{option}");
    with keep, its value is kept (KEEP)."""
    label = lambda o: t(f"{label_key}.{o}")  # noqa: E731
    value = container.radio(
        t(label_key), options, horizontal=True, key=key, format_func=label, **(KEEP if keep else {}), **kwargs
    )
    if keep:
        _remember_link_forms(key, value, label)
    return value


def link_values() -> dict[str, list[str]]:
    """The query parameters as the page was opened with them (call before the widgets; it also
    starts the list of the page's kept widgets that its shared link carries, and drops numbers
    no widget can hold)."""
    st.session_state[PAGE_KEYS] = []
    opened = {key: st.query_params.get_all(key) for key in st.query_params}
    drop_unusable_numbers([key for key, raw in opened.items() if any(map(unusable_number, raw))])
    return opened


def _agrees(raw: list[str], value, forms: list) -> bool:
    if isinstance(value, bool):
        return raw[-1:] == [str(value).lower()] or raw[-1:] == [str(value)]
    if isinstance(value, (int, float)):
        try:
            return float(raw[-1]) == float(value)
        except (IndexError, ValueError):
            return False
    return (sorted(raw) if isinstance(value, list) else (raw[-1] if raw else "")) in forms


def notice_ignored_link_values(before: dict[str, list[str]]) -> None:
    """After a page's kept widgets: a notice for each value of the link (as link_values read it
    before them) that its widget did not take; Streamlit has already dropped those from the link.
    A value equal to the widget's default is dropped too, and is no notice."""
    state, forms = st.session_state, st.session_state.get(LINK_FORMS, {})
    ignored = [
        f"{key}={','.join(raw)}"
        for key, raw in before.items()
        if key in forms and key in state and key not in st.query_params and not _agrees(raw, state[key], forms[key])
    ]
    if ignored:
        st.warning(t("widgets.link.ignored", values="; ".join(ignored)), icon=":material/link_off:")


def upload_mb() -> int:
    """The app's own upload limit in whole MB, as st.file_uploader's max_upload_size takes it."""
    return max(1, -(-get_settings().max_upload_bytes // 2**20))


def download(container, label_key: str, data, file_name: str, key: str, mime: str | None = None) -> None:
    """A download button labelled t(label_key)."""
    container.download_button(t(label_key), data, file_name=file_name, mime=mime, key=key)


def run_label(run) -> str:
    """A run as select boxes show it: its name (or id) and its state."""
    return f"{run_title(run.config, run.run_id)} — {t('state.' + run.status.state)}"


def pick_run(runs: list, key: str, container=st):
    """One of `runs` (RunInfo, not empty) in a select box labelled with names and states; the choice
    is remembered in st.session_state["selected_run"], so it follows the visitor across pages.

    The browser's select box keeps the labels it was first drawn with: its key changes whenever a
    label (a state) does, so it never says "running" once a run is not."""
    ids = [run.run_id for run in runs]
    labels = {run.run_id: run_label(run) for run in runs}
    chosen = st.session_state.get("selected_run")
    version = zlib.crc32("\n".join(labels.values()).encode())
    run_id = container.selectbox(
        t("runs.select"),
        ids,
        ids.index(chosen) if chosen in ids else 0,
        key=f"{key}_{version:08x}",
        format_func=labels.get,
    )
    st.session_state["selected_run"] = run_id
    return runs[ids.index(run_id)]
