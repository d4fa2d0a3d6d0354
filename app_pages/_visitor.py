"""Who is using the app, and the hosted demo's set-up (app.py calls these before a page runs).

- apply_secrets: Streamlit secrets (.streamlit/secrets.toml) are read once per process; their
  root-level CNN_LAB_* keys act as environment variables (one already set in the environment
  wins), so CNN_LAB_DEMO may be set there too.
- current_visitor: None outside demo mode (the operator, who may do everything). In demo mode a
  random id (cnn_core.runs.visitors): the session's, else the one of the signed cookie the browser
  sent, else a new one, whose cookie is set once per session. The id is never in a link.
- start_examples: the demo's example runs, launched once per process and runs folder.
- demo_notice: the sidebar's note that this is a demo, with its limits.
"""

import os
from pathlib import Path

import streamlit as st

from app_pages._widgets import upload_mb
from cnn_core.errors import CnnLabError
from cnn_core.i18n import t
from cnn_core.runs import examples, visitors
from cnn_core.runs.demo import EMBEDDED_DATASETS
from cnn_core.settings import get_settings, reset_settings

VISITOR_KEY = "_visitor"  # session key: this session's visitor id
COOKIE_SET_KEY = "_visitor_cookie_set"  # session key: the cookie was written in this session


@st.cache_resource(show_spinner=False)
def apply_secrets() -> bool:
    """Root-level CNN_LAB_* secrets become environment variables (once per process); True when a
    secrets file was read."""
    if not st.secrets.load_if_toml_exists():
        return False
    for key in list(st.secrets.keys()):
        value = st.secrets[key]
        if key.startswith("CNN_LAB_") and isinstance(value, (bool, int, float, str)) and key not in os.environ:
            os.environ[key] = str(value).lower() if isinstance(value, bool) else str(value)
    reset_settings()
    return True


def _set_cookie(token: str) -> None:
    """The signed token in the browser's cookie. Every character here is the server's own: the
    token is v1.<hex>.<hex> (visitors.TOKEN_PATTERN), the rest constants."""
    if not visitors.TOKEN_PATTERN.fullmatch(token):
        return
    secure = "; Secure" if (st.context.url or "").startswith("https://") else ""
    cookie = f"{visitors.COOKIE_NAME}={token}; Path=/; Max-Age={int(visitors.COOKIE_MAX_AGE_S)}; SameSite=Lax{secure}"
    st.sidebar.html(f'<script>document.cookie = "{cookie}";</script>', unsafe_allow_javascript=True)


def current_visitor() -> str | None:
    """This session's visitor id in demo mode, None (the operator) otherwise."""
    if not get_settings().demo:
        return None
    state = st.session_state
    visitor = state.get(VISITOR_KEY)
    if isinstance(visitor, str) and visitor:
        return visitor
    visitor = visitors.visitor_from_token(st.context.cookies.get(visitors.COOKIE_NAME))
    if visitor is None:
        visitor, token = visitors.new_visitor()
        if not state.get(COOKIE_SET_KEY):
            _set_cookie(token)
            state[COOKIE_SET_KEY] = True
    state[VISITOR_KEY] = visitor
    return visitor


@st.cache_resource(show_spinner=False)
def _examples_started(runs_dir: str) -> dict[str, str]:
    return examples.ensure_example_runs(Path(runs_dir))


def start_examples() -> None:
    """In demo mode, the example runs (once per process and runs folder); a failure is a message."""
    settings = get_settings()
    if not settings.demo:
        return
    try:
        _examples_started(str(settings.runs_dir.resolve()))
    except (CnnLabError, OSError) as exc:
        st.sidebar.warning(t("demo.examples_failed", reason=str(exc)), icon=":material/warning:")


def demo_notice() -> None:
    """In demo mode, the sidebar's notice: a demo, and its limits."""
    settings = get_settings()
    if not settings.demo:
        return
    minutes = f"{settings.max_run_seconds / 60:g}" if settings.max_run_seconds else "—"
    runs = settings.max_runs_per_visitor or "—"
    st.sidebar.info(
        t(
            "demo.notice",
            epochs=settings.max_epochs,
            minutes=minutes,
            runs=runs,
            datasets=", ".join(EMBEDDED_DATASETS),
            upload=upload_mb(),
        ),
        icon=":material/science:",
    )
