"""Widgets the look-inside pages share: choosing a trained run, and loading it or saying why not."""

import streamlit as st

from cnn_core.i18n import t
from cnn_core.inspection.loading import inspectable_runs


def pick_trained_run(key: str):
    """A run with weights to look at; without one, a pointer to the Train page and a stop."""
    runs = inspectable_runs()
    if not runs:
        st.info(t("inspect.no_runs"), icon=":material/info:")
        st.page_link("app_pages/train.py", label=t("runs.go_train"), icon=":material/model_training:")
        st.stop()
    return st.selectbox(
        t("runs.select"),
        runs,
        key=key,
        format_func=lambda r: f"{r.config.get('name') or r.run_id} — {t('state.' + r.status.state)}",
    )


def load_or_stop(loader, *args):
    """Call a (cached) loader; a missing dataset or unreadable weights is a message, not a traceback."""
    try:
        return loader(*args)
    except Exception as exc:  # noqa: BLE001 — any failure here is reported to the user as is
        st.error(t("inspect.err.load", reason=str(exc)))
        st.stop()
