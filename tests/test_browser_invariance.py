"""The invariance page from the real app in headless Chromium, on two runs trained in the test set-up
(seed 002's CNN on digits, without augmentation and with random crops): the answers compared, and the
feature maps of a shifted test image; a screenshot of each (test-artifacts/invariance*.png)."""

import re

import pytest

from cnn_core.i18n import catalog
from cnn_core.train.config import TrainConfig
from tests.browser import ARTIFACTS, chromium_page, require_browser, settle, streamlit_app
from tests.conftest import train_completed_run

EN = catalog("en")  # the English catalogue: every key, as the tests read it
PLAIN = "20260101-000000-digits-plain"

pytestmark = pytest.mark.timeout(420)

TRACES = """(n) => Array.from(document.querySelectorAll('.js-plotly-plot'))
    .some(el => (el._fullData || []).filter(tr => tr.xaxis === 'x6').length === n)"""


@pytest.fixture(scope="module")
def runs_dir(tmp_path_factory):
    runs = tmp_path_factory.mktemp("browser_invariance") / "runs"
    train_completed_run(runs / PLAIN, TrainConfig(epochs=2, batch_size=32, name="no augmentation"))
    train_completed_run(
        runs / "20260101-000001-digits-crop", TrainConfig(epochs=2, batch_size=32, augment=["crop"], name="random crop")
    )
    return runs


def test_screenshots_of_the_invariance_page_comparing_two_runs(runs_dir):
    require_browser()
    ARTIFACTS.mkdir(exist_ok=True)
    with streamlit_app({"CNN_LAB_RUNS_DIR": str(runs_dir)}) as url, chromium_page(height=1900) as page:
        page.goto(f"{url}/invariance?run={PLAIN}")
        page.get_by_text(re.compile("Measured now on the first")).first.wait_for(timeout=240_000)
        page.wait_for_function(TRACES, arg=1, timeout=60_000)  # this run's line in the last panel
        page.get_by_test_id("stSelectbox").filter(has_text=EN["invariance.other"]).locator("input").click()
        page.get_by_role("option", name=re.compile("random crop")).click()
        page.wait_for_function(TRACES, arg=2, timeout=120_000)  # and the other run's
        settle(page)
        assert not page.get_by_test_id("stException").count(), "the page shows an exception"
        assert not page.get_by_test_id("stAlertContentError").count(), "the page shows an error"
        page.screenshot(path=str(ARTIFACTS / "invariance.png"), full_page=True)

        page.set_viewport_size({"width": 1400, "height": 2600})  # the pictures of both layers, below the table
        page.get_by_role("tab", name=EN["invariance.tab.maps"]).click()
        page.get_by_text(EN["invariance.picture.input"]).first.wait_for(timeout=120_000)
        page.locator("[data-testid=stDataFrame]").first.wait_for(timeout=60_000)
        settle(page)
        assert not page.get_by_test_id("stException").count(), "the maps tab shows an exception"
        assert page.locator("[data-testid=stImage]").count() == 8  # the image, its shifted copy, 3 maps × 2 layers
        page.screenshot(path=str(ARTIFACTS / "invariance_maps.png"), full_page=True)
