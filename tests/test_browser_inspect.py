"""Screenshots of the look-inside pages from the real app in headless Chromium, on a run
trained in the test set-up; each page must show its charts without an error."""

import re

import pytest

from cnn_core.train.config import TrainConfig
from tests.browser import ARTIFACTS, chromium_page, require_browser, streamlit_app
from tests.conftest import train_completed_run

pytestmark = pytest.mark.timeout(420)


def test_screenshots_of_the_look_inside_pages(tmp_path):
    require_browser()
    runs_dir = tmp_path / "runs"
    train_completed_run(
        runs_dir / "20260101-000000-digits-shot", TrainConfig(epochs=2, batch_size=32, name="seed 002 CNN on digits")
    )
    ARTIFACTS.mkdir(exist_ok=True)
    with streamlit_app({"CNN_LAB_RUNS_DIR": str(runs_dir)}) as url, chromium_page(height=2200) as page:
        page.goto(url)
        page.get_by_text("Learn, design and inspect").wait_for()
        for link, ready, visual, name in [
            ("Predictions", "test images match", "[data-testid=stImage] img", "predictions"),
            ("Filters & feature maps", "kernels of", ".js-plotly-plot", "filters"),
            ("What the network sees", "Activation maximisation", None, "network_sees"),
        ]:
            page.get_by_role("link", name=link).first.click()
            page.get_by_text(re.compile(ready)).first.wait_for(timeout=120_000)
            if visual:
                page.locator(visual).first.wait_for(timeout=120_000)
            page.wait_for_timeout(4000)
            assert not page.get_by_test_id("stException").count(), f"{name} shows an exception"
            if name == "network_sees":
                page.locator(".st-key-s_go button").click()
                page.get_by_text(re.compile("probability .* → ")).first.wait_for(timeout=240_000)
                page.locator(".js-plotly-plot").first.wait_for(timeout=60_000)
                page.wait_for_timeout(4000)
            page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
