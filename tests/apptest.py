"""Opening a page of the real app in AppTest the way a user arrives (through app.py's
navigation), and setting its widgets by key."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[1] / "app.py")


def open_app_page(page: str | None = None, timeout: int = 120, state: dict | None = None) -> AppTest:
    """app.py run once, session state seeded, then switched to page (a path under app_pages/)."""
    at = AppTest.from_file(APP, default_timeout=timeout).run()
    assert not at.exception, at.exception
    for key, value in (state or {}).items():
        at.session_state[key] = value
    if page:
        at.switch_page(page).run()
        assert not at.exception, at.exception
    return at


def set_widgets(at: AppTest, **values) -> AppTest:
    """Set widgets by key, in order, rerunning after each; any exception fails at once."""
    for key, value in values.items():
        widget = next((w for w in at.main if getattr(w, "key", None) == key), None)
        assert widget is not None, f"no widget with key {key!r} on the page"
        widget.set_value(value).run()
        assert not at.exception, (key, at.exception)
    return at


def open_tab(at: AppTest, key: str, label: str) -> AppTest:
    """Switch the tabs kept under key (app_pages._widgets.kept_tabs) to the tab labelled label: only
    the open tab is drawn."""
    at.session_state[key] = label
    at.run()
    assert not at.exception, at.exception
    return at
