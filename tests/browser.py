"""Shared helpers for the browser tests: the real app in `streamlit run`, driven by Playwright
in Debian's headless Chromium (never a downloaded browser)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT, kill_leftovers

ARTIFACTS = REPO_ROOT / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def require_browser() -> None:
    """Skip on a developer machine without Chromium; in CI (CI set) a missing browser fails."""
    if Path(CHROMIUM).exists() or shutil.which("chromium"):
        return
    message = f"Debian's chromium is not installed at {CHROMIUM} (apt-get install chromium)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def streamlit_app(env_extra: dict[str, str]):
    """Run `streamlit run app.py` on a free port; yield its base URL; stop it afterwards."""
    port = free_port()
    env = dict(os.environ, **env_extra)
    log = open(Path(env_extra.get("CNN_LAB_RUNS_DIR", "/tmp")) / "streamlit.log", "wb")  # noqa: SIM115 - closed when the app stops
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            str(REPO_ROOT / "app.py"),
            "--server.port",
            str(port),
            "--server.headless",
            "true",
            "--browser.gatherUsageStats",
            "false",
        ],
        cwd=REPO_ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                time.sleep(0.3)
        else:
            raise RuntimeError("streamlit did not start")
        yield f"http://127.0.0.1:{port}"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()


@contextmanager
def chromium_page(width: int = 1400, height: int = 1800):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            page.set_default_timeout(60_000)
            yield page
        finally:
            browser.close()


# Streamlit's "running" status widget shows while a script run is under way
_IDLE = "() => !document.querySelector('[data-testid=stStatusWidget]')"


def settle(page, timeout_ms: int = 120_000) -> None:
    """Wait until the app has finished its script run, then half a second for the last paint
    (Plotly draws after the data arrives): for a screenshot, instead of a fixed sleep."""
    page.wait_for_function(_IDLE, timeout=timeout_ms)
    page.wait_for_timeout(500)


def plotly_point_counts(page) -> list[int]:
    """Number of x values in every trace of every Plotly chart on the page."""
    # _fullData holds the decoded arrays; .data may still be Plotly's base64 "bdata" encoding
    return page.evaluate("""() => Array.from(document.querySelectorAll('.js-plotly-plot'))
        .map(el => (el._fullData || []).reduce((n, tr) => n + ((tr.x && tr.x.length) || 0), 0))""")


def kill_processes_mentioning(runs_dir: str) -> int:
    """SIGKILL the test's own workers: those of runs under runs_dir and any process naming it
    (conftest's kill_leftovers, which runs_root uses too); how many were killed."""
    return len(kill_leftovers(Path(runs_dir)))
