"""The real app in headless Chromium: launch a run from the Train page, watch its live charts
grow, stop it, resume it, see it complete with a test accuracy (the table, the run picker and
the message agreeing), reload and find it again; the default run's time-per-epoch estimate next
to its measured epochs; the Train form kept across pages and a reload; a transfer-learning
preset offline, trained from scratch in one click."""

import json
import re
import time

import pytest

from cnn_core.arch.presets import PRESETS
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


def table_rows(page) -> list[dict]:
    """The rows of the page's first table (st.dataframe draws on a canvas; its accessible copy
    holds the text). The live page redraws every second: wait for the table to be there."""
    page.wait_for_function("() => document.querySelector('[data-testid=stDataFrame] table') !== null")
    return page.evaluate("""() => {
        const grid = document.querySelector('[data-testid=stDataFrame] table');
        if (grid === null) return [];
        const names = Array.from(grid.querySelectorAll('th')).map(th => th.textContent);
        return Array.from(grid.querySelectorAll('tbody tr')).map(tr => Object.fromEntries(
            Array.from(tr.querySelectorAll('td')).map((td, i) => [names[i], td.textContent])));
    }""")


def assert_picker_table_and_message_agree(page, run_id: str, state: str, message: str) -> None:
    """The run picker, the runs table and the state message all say state (item 4)."""
    wait_for_text(page, f"^{re.escape(message)}$")
    # A redraw may be under way when we look: read again (up to 30 s) until the page has settled,
    # then the three must agree.
    deadline = time.monotonic() + 30
    while True:
        picker = page.locator("[class*='st-key-r_select'] input").first.input_value()
        rows = {row["run"]: row for row in table_rows(page)}
        settled = picker.endswith(f" — {state}") and rows.get(run_id, {}).get("state") == state
        if settled or time.monotonic() > deadline:
            break
        page.wait_for_timeout(500)
    assert picker.endswith(f" — {state}"), picker
    assert rows[run_id]["state"] == state, rows
    assert not page.get_by_text(re.compile(r"— running$")).count()


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
            wait_for_text(page, r"Run .* started")  # the Runs page's toast: Launch switches there
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
            assert_picker_table_and_message_agree(page, run_dir.name, "completed", "Completed.")
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


def seconds(text: str) -> float:
    return float(text.split()[0].replace(",", ""))


def test_default_run_estimate_settings_kept_and_transfer_learning_offline(tmp_path):
    """Items 3, 4, 7 and 1 on one server: the default run's estimate vs its epochs (printed, not
    asserted: timing belongs to benchmarks/bench_estimate.py), the pages agreeing when it
    completes, the Train form across a page switch and a reload, ResNet-18 offline."""
    require_browser()
    runs_dir = tmp_path / "runs"
    runs_dir.mkdir()
    ARTIFACTS.mkdir(exist_ok=True)
    offline = {"https_proxy": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9"}  # a closed port
    env = {"CNN_LAB_RUNS_DIR": str(runs_dir), "TORCH_HOME": str(tmp_path / "torch"), **offline}
    try:
        with streamlit_app(env) as url, chromium_page() as page:
            page.goto(f"{url}/train")
            wait_for_text(page, "Steps per epoch")
            estimate = page.get_by_test_id("stMetric").filter(has_text="Time per epoch").get_by_test_id("stMetricValue")
            estimate.wait_for(timeout=180_000)
            estimate_s = seconds(estimate.inner_text())
            page.screenshot(path=str(ARTIFACTS / "train_estimate.png"), full_page=True)
            page.locator(".st-key-t_launch button").click()  # the default run
            wait_for_text(page, r"Run .* started")  # the Runs page's toast: Launch switches there
            run_dir = next(p for p in runs_dir.iterdir() if p.is_dir())
            wait_for_text(page, "^Completed\\.$", timeout_s=300)
            assert_picker_table_and_message_agree(page, run_dir.name, "completed", "Completed.")
            page.screenshot(path=str(ARTIFACTS / "default_run_completed.png"), full_page=True)
            records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
            epochs = [r["epoch_time_s"] for r in records if r["kind"] == "epoch"]
            print(f"time per epoch: estimate {estimate_s:.3f} s, measured epochs {[round(e, 3) for e in epochs]} s")
            assert estimate_s > 0 and len(epochs) == 3

            # item 7: the form across a page switch, then a reload (a new session)
            page.get_by_role("link", name="Train").first.click()
            field = page.get_by_label("Epochs", exact=True)
            field.fill("7")
            field.press("Enter")
            page.wait_for_url(re.compile(r"t_epochs=7"), timeout=60_000)
            page.get_by_role("link", name="Home").first.click()
            wait_for_text(page, "Learn, design and inspect")
            page.get_by_role("link", name="Train").first.click()
            wait_for_text(page, "Steps per epoch")
            assert page.get_by_label("Epochs", exact=True).input_value() == "7"
            page.reload()
            wait_for_text(page, "Steps per epoch")
            assert page.get_by_label("Epochs", exact=True).input_value() == "7"
            wait_for_text(page, r"^287$")  # total steps: 7 × 41

            # item 1: ResNet-18 transfer learning with its weights out of reach
            page.locator(".st-key-t_preset").click()
            page.get_by_role("option", name=PRESETS["resnet18_transfer"].title).click()
            wait_for_text(page, "pretrained resnet18 weights cannot be fetched here")
            launch = "document.querySelector('.st-key-t_launch button')"
            page.wait_for_function(f"() => {launch} && {launch}.disabled", timeout=60_000)  # once redrawn
            page.screenshot(path=str(ARTIFACTS / "transfer_offline.png"), full_page=True)
            page.locator(".st-key-t_scratch button").click()
            wait_for_text(page, "^Training from scratch:")
            page.wait_for_function(f"() => {launch} && !{launch}.disabled", timeout=60_000)
            page.locator(".st-key-t_scratch").wait_for(state="detached", timeout=60_000)  # the page redrawn
            assert not page.get_by_test_id("stException").count()
            page.screenshot(path=str(ARTIFACTS / "transfer_from_scratch.png"), full_page=True)
    finally:
        kill_processes_mentioning(str(runs_dir))
