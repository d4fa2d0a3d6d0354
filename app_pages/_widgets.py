"""Widgets any page may use, labelled from the catalogue: a choice whose options read as labels, any
widget with its help text, a download button, a run's name in a select box."""

import streamlit as st

from cnn_core.i18n import t


def choice(label_key: str, options, key: str, container=st, **kwargs):
    """A horizontal radio labelled t(label_key) whose options read t(f"{label_key}.{option}")."""
    return container.radio(
        t(label_key), options, horizontal=True, key=key, format_func=lambda o: t(f"{label_key}.{o}"), **kwargs
    )


def labelled(widget, label_key: str, *args, **kwargs):
    """widget (st.number_input, a column's selectbox, …) labelled t(label_key), with help t(f"{label_key}.help")."""
    return widget(t(label_key), *args, help=t(f"{label_key}.help"), **kwargs)


def download(container, label_key: str, data, file_name: str, key: str, mime: str | None = None) -> None:
    """A download button labelled t(label_key)."""
    container.download_button(t(label_key), data, file_name=file_name, mime=mime, key=key)


def run_label(run) -> str:
    """A run as select boxes show it: its name (or id) and its state."""
    return f"{run.config.get('name') or run.run_id} — {t('state.' + run.status.state)}"
