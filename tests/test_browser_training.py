"""The real app in headless Chromium: launch a run from the Train page, watch its live charts
grow, stop it, resume it, see it complete with a test accuracy, reload and find it again."""

import re
import time

import pytest

from cnn_core.runs.directory import read_status
from tests.browser import (
    ARTIFACTS,
    chromium_page,
    kill_processes_mentioning,
    plotly_point_counts,
    require_browser,
    streamlit_app,
)

pytestmark = pytest.mark.timeout(420)


START = time.time()


def wait_for_text(page, pattern: str, timeout_s: float = 90) -> None:
    page.get_by_text(re.compile(pattern)).first.wait_for(timeout=timeout_s * 1000)
    print(f"{time.time() - START:6.1f}s saw {pattern!r}")  # phase timings, shown with -s or on failure


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
            batch.fill("2")  # ~650 steps an epoch: long enough to watch, stop and resume
            batch.press("Enter")
            wait_for_text(page, r"^1,9\d\d$")  # total steps (3 × 647) now reflect both fields
            page.locator(".st-key-t_launch button").click()
            wait_for_text(page, r"Run .* started")
            page.get_by_role("link", name="Watch it on the Runs page").click()
            wait_for_text(page, "^Running\\.$")

            counts = []  # points over all charts, sampled while the run trains
            deadline = time.time() + 90
            while time.time() < deadline:
                page.wait_for_timeout(1500)
                counts.append(sum(plotly_point_counts(page)))
                first = next((c for c in counts if c > 0), None)
                if first is not None and counts[-1] > first:
                    break
            first = next((c for c in counts if c > 0), 0)
            assert first > 0 and counts[-1] > first, f"the live charts did not gain points: {counts}"
            page.screenshot(path=str(ARTIFACTS / "live_charts.png"), full_page=True)

            page.locator(".st-key-r_stop button").click()  # not the toolbar's own Stop
            wait_for_text(page, "^Stopped\\.")
            page.locator(".st-key-r_resume button").click()
            wait_for_text(page, "^Running\\.$")
            # Leave the live page while the rest trains: on a 2-core machine the browser and the
            # 1 Hz refresh would otherwise starve the (lower-priority) worker.
            page.get_by_role("link", name="Home").first.click()
            run_dir = next(p for p in runs_dir.iterdir() if p.is_dir())
            deadline = time.time() + 300
            while read_status(run_dir).state != "completed" and time.time() < deadline:
                time.sleep(1)
            page.get_by_role("link", name="Runs").first.click()
            wait_for_text(page, "^Completed\\.$")
            wait_for_text(page, "Test accuracy")
            accuracy = page.get_by_test_id("stMetricValue").first.inner_text()
            assert accuracy.endswith("%"), accuracy
            page.screenshot(path=str(ARTIFACTS / "completed_run.png"), full_page=True)

            page.reload()
            wait_for_text(page, "^Completed\\.$")
            run_ids = [p.name for p in runs_dir.iterdir() if p.is_dir()]
            assert len(run_ids) == 1
            wait_for_text(page, "Test accuracy")
            # the run selector shows it (its value sits in an <input>, the table is a canvas)
            page.wait_for_function(
                f"""() => document.body.innerText.includes('{run_ids[0]}') ||
                Array.from(document.querySelectorAll('input')).some(i => i.value.includes('{run_ids[0]}'))""",
                timeout=60_000,
            )
    finally:
        kill_processes_mentioning(str(runs_dir))
