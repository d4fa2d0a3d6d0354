"""Load: five strangers on a hosted demo at once. Five real Chromium sessions (each its own
browser context: its own cookie, so its own visitor) launch a run at the same moment on a
server in demo mode. Meanwhile a watcher reads every state file of the runs folder: never
unparsable, and never more runs training than the cap. Every run completes; every visitor sees
their own run and the examples, and nobody else's (not even through a link naming it); a reload
keeps a visitor's runs. The time each visitor waits for the Runs page to show their run during
the load is measured and written to test-artifacts/demo-load.json (no assertion on it: speed
is measured, not asserted; the closing note and benchmarks/README.md report it)."""

from __future__ import annotations

import asyncio
import json
import re
import statistics
import threading
import time
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

from cnn_core.i18n import t
from cnn_core.runs.directory import EXAMPLES_OWNER
from tests.browser import ARTIFACTS, CHROMIUM, CHROMIUM_FLAGS, kill_processes_mentioning, require_browser, streamlit_app

pytestmark = pytest.mark.timeout(600)

START = time.perf_counter()
VISITORS = 5
CAP = 2  # workers training at once, all visitors together
CLICKED = 2  # visitors who also reach the Runs page by a click in the app (timed); all five open it by link
LOAD_ENV = {
    "CNN_LAB_DEMO": "1",
    "CNN_LAB_MAX_CONCURRENT_RUNS": str(CAP),
    "CNN_LAB_MAX_QUEUED_RUNS": "10",
    "CNN_LAB_WORKER_THREADS": "1",
    "CNN_LAB_EXAMPLE_EPOCHS": "1",
}


class StateWatcher(threading.Thread):
    """Reads every status.json under the runs folder, as raw JSON, every 50 ms until stopped."""

    def __init__(self, runs_dir: Path):
        super().__init__(daemon=True)
        self.runs_dir, self.done = runs_dir, threading.Event()
        self.reads = self.most_running = 0
        self.unparsable: list[str] = []

    def run(self) -> None:
        while not self.done.wait(0.05):
            running = 0
            for path in self.runs_dir.glob("*/status.json"):
                try:
                    text = path.read_text()
                except FileNotFoundError:  # a run deleted meanwhile
                    continue
                self.reads += 1
                try:
                    state = json.loads(text)["state"]
                except (ValueError, KeyError) as exc:
                    self.unparsable.append(f"{path}: {exc}: {text[:200]!r}")
                    continue
                running += state in ("running", "stopping")
            self.most_running = max(self.most_running, running)


async def runs_page_seconds(page, url: str, run_id: str | None, query: str = "") -> float:
    """Seconds from asking for the Runs page until it shows run_id in its table (or its title)."""
    start = time.perf_counter()
    await page.goto(f"{url}/runs{query}")
    if run_id is None:
        await page.get_by_role("heading", name="Runs").first.wait_for()
    else:
        await page.locator("[data-testid=stDataFrame]").first.wait_for()
        await page.wait_for_function(
            "id => Array.from(document.querySelectorAll('[data-testid=stDataFrame] td'))"
            ".some(td => td.textContent === id)",
            arg=run_id,
        )
    return time.perf_counter() - start


async def runs_page_by_click_seconds(page, run_id: str) -> float:
    """Seconds from a click on the Home page's link to the Runs page (moving inside the app, no
    page load) until it shows run_id."""
    await page.locator("[data-testid=stSidebarNav]").get_by_text(t("nav.home"), exact=True).click()
    await page.get_by_role("heading", name=t("home.title")).first.wait_for()
    start = time.perf_counter()
    await page.get_by_text(t("home.open", page=t("nav.runs")), exact=True).click()
    await page.wait_for_function(
        "id => Array.from(document.querySelectorAll('[data-testid=stDataFrame] td')).some(td => td.textContent === id)",
        arg=run_id,
    )
    return time.perf_counter() - start


async def table_run_ids(page) -> set[str]:
    await page.locator("[data-testid=stDataFrame] table").first.wait_for(state="attached")
    return set(
        await page.evaluate("""() => {
            const grid = document.querySelector('[data-testid=stDataFrame] table');
            const names = Array.from(grid.querySelectorAll('th')).map(th => th.textContent);
            const column = names.indexOf('run');
            return Array.from(grid.querySelectorAll('tbody tr'))
                .map(tr => tr.querySelectorAll('td')[column].textContent);
        }""")
    )


async def launch(page, url: str) -> str:
    """Open the Train page (one epoch of batches of 128, from the link), press Launch; the new run's id, from
    the link of the Runs page it switches to."""
    await page.goto(f"{url}/train?t_epochs=1&t_batch=128")
    await page.get_by_text("Steps per epoch").first.wait_for()
    await page.get_by_role("button", name="Launch training").click()
    await page.wait_for_url(re.compile(r"/runs\?.*run="))  # Launch switches to the Runs page, on the new run
    return parse_qs(urlparse(page.url).query)["run"][0]


async def five_visitors(url: str, runs_dir: Path) -> dict:
    from playwright.async_api import async_playwright

    owners = lambda: {  # noqa: E731 - run id -> owner, read from the runs folder
        p.parent.name: json.loads(p.read_text())["owner"] for p in runs_dir.glob("*/owner.json")
    }
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        contexts = [await browser.new_context(viewport={"width": 1400, "height": 1400}) for _ in range(VISITORS)]
        pages = [await context.new_page() for context in contexts]
        for page in pages:
            page.set_default_timeout(120_000)
        # all five press Launch at the same moment
        run_ids = await asyncio.gather(*(launch(page, url) for page in pages))
        print(f"{time.perf_counter() - START:6.1f}s five runs launched")
        assert len(set(run_ids)) == VISITORS
        examples = {  # as the table shows them: by name
            json.loads((runs_dir / run_id / "config.json").read_text())["name"] or run_id
            for run_id, owner in owners().items()
            if owner == EXAMPLES_OWNER
        }
        assert len(examples) == 2
        visitors = {owners()[run_id] for run_id in run_ids}
        assert len(visitors) == VISITORS and EXAMPLES_OWNER not in visitors  # five visitors, five owners

        # during the load: each visitor opens the Runs page, timed, and sees only their run and the examples
        # (one at a time, as a person opens a page while the four others sit on their live Runs pages)
        waits: dict[str, list[float]] = {"opened": [], "clicked": []}
        for number, (page, run_id) in enumerate(zip(pages, run_ids, strict=True)):
            waits["opened"].append(await runs_page_seconds(page, url, run_id))  # a link opened afresh
            assert await table_run_ids(page) <= {run_id} | examples
            if number < CLICKED:  # moving inside the app
                waits["clicked"].append(await runs_page_by_click_seconds(page, run_id))
                assert await table_run_ids(page) <= {run_id} | examples
        # a link naming another visitor's run shows nothing of it
        await runs_page_seconds(pages[0], url, run_ids[0], f"?run={run_ids[1]}")
        assert run_ids[1] not in await table_run_ids(pages[0])
        await pages[0].get_by_text(t("links.run_ignored")).first.wait_for()
        assert not await pages[0].get_by_text(run_ids[1]).count()

        print(f"{time.perf_counter() - START:6.1f}s runs pages measured")
        # while the runs train, the visitors leave their live Runs pages (each redrawn every second,
        # five sessions on the server's two cores) for the Home page, as a person would
        for page in pages:
            await page.goto(f"{url}/")
        deadline = time.monotonic() + 420
        while time.monotonic() < deadline:
            states = {p.parent.name: json.loads(p.read_text())["state"] for p in runs_dir.glob("*/status.json")}
            if all(states.get(run_id) in ("completed", "failed", "interrupted") for run_id in run_ids):
                break
            await asyncio.sleep(1)
        print(f"{time.perf_counter() - START:6.1f}s all runs ended")
        # a reload (the same browser, a new session) keeps a visitor's runs; a new browser context is a stranger
        for page, run_id in zip(pages, run_ids, strict=True):
            await page.reload()
            await runs_page_seconds(page, url, run_id)
            assert await table_run_ids(page) == {run_id} | examples
        stranger = await (await browser.new_context()).new_page()
        await runs_page_seconds(stranger, url, None)
        await stranger.screenshot(path=str(ARTIFACTS / "demo-load-stranger.png"), full_page=True)
        for run_id in run_ids:
            assert not await stranger.get_by_text(run_id).count()
        await pages[0].screenshot(path=str(ARTIFACTS / "demo-load-runs.png"), full_page=True)
        await browser.close()
    return {"run_ids": run_ids, "examples": sorted(examples), "runs_page_s": waits}


def test_five_visitors_at_once_on_a_demo(tmp_path):
    require_browser()
    runs_dir = tmp_path / "runs"
    runs_dir.mkdir()
    ARTIFACTS.mkdir(exist_ok=True)
    watcher = StateWatcher(runs_dir)
    try:
        with streamlit_app({"CNN_LAB_RUNS_DIR": str(runs_dir), **LOAD_ENV}) as url:
            watcher.start()
            result = asyncio.run(five_visitors(url, runs_dir))
    finally:
        watcher.done.set()
        if watcher.is_alive():
            watcher.join(5)
        kill_processes_mentioning(str(runs_dir))
    states = {p.parent.name: json.loads(p.read_text())["state"] for p in runs_dir.glob("*/status.json")}
    assert all(states[run_id] == "completed" for run_id in result["run_ids"]), states
    assert watcher.reads > 100 and not watcher.unparsable, watcher.unparsable[:3]
    assert 1 <= watcher.most_running <= CAP
    report = {
        "visitors": VISITORS,
        "worker_cap": CAP,
        "state_file_reads": watcher.reads,
        "most_running_at_once": watcher.most_running,
        "runs_page_seconds": {
            how: {
                "n": len(waits),
                "median": round(statistics.median(waits), 3),
                "max": round(max(waits), 3),
                "all": [round(w, 3) for w in waits],
            }
            for how, waits in result["runs_page_s"].items()
        },
    }
    (ARTIFACTS / "demo-load.json").write_text(json.dumps(report, indent=1))
    print(json.dumps(report))
