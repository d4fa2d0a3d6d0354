"""The visitor's language: switched in the sidebar on every page, kept in the session (it follows
the visitor across pages) and in the page's link (?lang=: a shared link or a reload opens the same
language). On a first visit it is the browser's (st.context.locale) when CNN Lab speaks it, else
the server's default (CNN_LAB_LANG, else English).

settle_language runs first in every page run (app.py) and sets the language of the run's thread
(cnn_core.i18n.use_language) before any text is made; a fragment that reruns alone calls it again
(in_visitor_language), since its rerun may be another thread.
"""

import functools

import streamlit as st
from streamlit.runtime.state.session_state_proxy import get_session_state

from cnn_core.i18n import LANGUAGES, default_language, language_of, t, use_language

LANGUAGE_KEY = "lang"  # session key and query parameter
SWITCH_KEY = "lang_switch"


def settle_language() -> str:
    """This run's language: the link's, else the session's, else the browser's, else the server's."""
    state = st.session_state
    linked = st.query_params.get_all(LANGUAGE_KEY)
    language = (
        (language_of(linked[-1]) if linked else None)
        or language_of(state.get(LANGUAGE_KEY))
        or language_of(st.context.locale)
        or default_language()
    )
    use_language(language)
    state[LANGUAGE_KEY] = language
    if linked != [language]:  # a missing, unknown or repeated value: the link says what is shown
        st.query_params[LANGUAGE_KEY] = language
    return language


# Streamlit 1.67 keeps these widgets' values as their labels, which a language switch changes.
LABELLED_WIDGETS = {"RadioSerde", "SelectboxSerde", "MultiSelectSerde", "SelectSliderSerde"}


def _labelled_widget_keys() -> list[str]:
    """The keys of this session's widgets whose value is kept as a label (private in 1.67: see
    _switched)."""
    session = get_session_state()._state
    metadata = session._new_widget_state.widget_metadata
    keys = []
    for key, widget_id in list(session._key_id_mapper._key_id_mapping.items()):
        serde = getattr(getattr(metadata.get(widget_id), "deserializer", None), "__self__", None)
        if type(serde).__name__ in LABELLED_WIDGETS and key != SWITCH_KEY:
            keys.append(key)
    return keys


def _switched() -> None:
    """The new language, and every choice the visitor made kept: a radio or select box's value is
    read as its option (in the old language's labels) and set again, so that the next run labels it
    in the new language instead of finding no option with the old label."""
    chosen = st.session_state[SWITCH_KEY]
    for key in _labelled_widget_keys():
        st.session_state[key] = st.session_state[key]  # a bound one writes its new label to the link
    st.session_state[LANGUAGE_KEY] = chosen
    st.query_params[LANGUAGE_KEY] = chosen


def language_switch(language: str) -> None:
    """The sidebar's switch; each language is named in itself (English, 中文)."""
    st.session_state[SWITCH_KEY] = language
    st.sidebar.radio(
        t("lang.switch"),
        LANGUAGES,
        key=SWITCH_KEY,
        horizontal=True,
        format_func=lambda code: t(f"lang.name.{code}"),
        on_change=_switched,
        help=t("lang.switch.help"),
    )


def in_visitor_language(function):
    """function, run in the visitor's language: for a fragment's reruns, which skip app.py."""

    @functools.wraps(function)
    def run(*args, **kwargs):
        use_language(language_of(st.session_state.get(LANGUAGE_KEY)))
        return function(*args, **kwargs)

    return run
