"""The real app in headless Chromium: launch a run from the Train page, watch its live charts
grow, stop it, resume it, see it complete with a test accuracy, reload and find it again."""
import re
import time

import pytest

from tests.browser import ARTIFACTS, chromium_page, kill_processes_mentioning, plotly_point_counts, require_browser
from tests.browser import streamlit_app

pytestmark = pytest.mark.timeout(420)


def wait_for_text(page, pattern: str, timeout_s: float = 90) -> None:
    page.get_by_text(re.compile(pattern)).first.wait_for(timeout=timeout_s * 1000)


def test_train_watch_stop_resume_complete_and_reload(tmp_path):
    require_browser()
    runs_dir = tmp_path / "runs"
    runs_dir.mkdir()
    ARTIFACTS.mkdir(exist_ok=True)
    try:
        with streamlit_app({"CNN_LAB_RUNS_DIR": str(runs_dir)}) as url, chromium_page() as page:
            page.goto(f"{url}/train")
            wait_for_text(page, "Train a network")
            wait_for_text(page, "Steps per epoch")  # the dataset is loaded and the plan is drawn
            epochs = page.get_by_label("Epochs", exact=True)
            epochs.fill("3")
            epochs.press("Enter")
            batch = page.get_by_label("Batch size", exact=True)
            batch.fill("1")  # ~1,300 steps an epoch: long enough to watch, stop and resume
            batch.press("Enter")
            wait_for_text(page, r"^3,8\d\d$|^3,9\d\d$")  # total steps now reflect both fields
            page.get_by_role("button", name="Launch training").click()
            wait_for_text(page, r"Run .* started")
            page.get_by_role("link", name="Watch it on the Runs page").click()
            wait_for_text(page, "^Running\\.$")

            counts = []
            deadline = time.time() + 60
            while time.time() < deadline and (len(counts) < 2 or counts[-1] <= counts[0]):
                page.wait_for_timeout(1500)
                counts.append(sum(plotly_point_counts(page)))
            assert counts[-1] > counts[0] > 0, f"the live charts did not gain points: {counts}"
            page.screenshot(path=str(ARTIFACTS / "live_charts.png"), full_page=True)

            page.get_by_role("button", name="Stop").click()
            wait_for_text(page, "^Stopped\\.")
            page.get_by_role("button", name="Resume").click()
            wait_for_text(page, "^Completed\\.$", timeout_s=240)
            wait_for_text(page, "Test accuracy")
            accuracy = page.get_by_test_id("stMetricValue").first.inner_text()
            assert accuracy.endswith("%"), accuracy
            page.screenshot(path=str(ARTIFACTS / "completed_run.png"), full_page=True)

            page.reload()
            wait_for_text(page, "^Completed\\.$")
            run_ids = [p.name for p in runs_dir.iterdir() if p.is_dir()]
            assert len(run_ids) == 1
            wait_for_text(page, re.escape(run_ids[0]))
    finally:
        kill_processes_mentioning(str(runs_dir))
