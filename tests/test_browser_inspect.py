"""The look-inside pages from the real app in headless Chromium, on a run trained in the test
set-up: screenshots of each page without an error, and a real mouse click on a cell of the
confusion matrix, which picks that cell and shows its images (issue #11, item 2)."""

import re

import pytest

from cnn_core.i18n import catalog
from cnn_core.train.config import TrainConfig
from tests.browser import ARTIFACTS, chromium_page, require_browser, settle, streamlit_app
from tests.conftest import train_completed_run

EN = catalog("en")  # the English catalogue: every key, as the tests read it

pytestmark = pytest.mark.timeout(420)


@pytest.fixture(scope="module")
def runs_dir(tmp_path_factory):
    runs = tmp_path_factory.mktemp("browser_inspect") / "runs"
    # first, so older: the pages open on the newest run, the CNN; the comparison view sets the two apart
    bp = TrainConfig(preset="seed004_bp", epochs=2, batch_size=32, name="seed 004 BP net on digits")
    train_completed_run(runs / "20251231-000000-digits-bpnet", bp)
    train_completed_run(
        runs / "20260101-000000-digits-shot", TrainConfig(epochs=2, batch_size=32, name="seed 002 CNN on digits")
    )
    return runs


def test_screenshots_of_the_look_inside_pages(runs_dir):
    require_browser()
    ARTIFACTS.mkdir(exist_ok=True)
    with streamlit_app({"CNN_LAB_RUNS_DIR": str(runs_dir)}) as url, chromium_page(height=2200) as page:
        page.goto(url)
        page.get_by_text("Learn, design and inspect").wait_for()
        for link, ready, visual, name in [
            ("Predictions", "test images match", "[data-testid=stImage] img", "predictions"),
            ("Filters & feature maps", "kernels of", ".js-plotly-plot", "filters"),
            ("What the network sees", "Activation maximisation", None, "network_sees"),
            ("Compare two networks", EN["compare.examples"], ".js-plotly-plot", "compare_nets"),
        ]:
            page.get_by_role("link", name=link).first.click()
            page.get_by_text(re.compile(ready)).first.wait_for(timeout=120_000)
            if visual:
                page.locator(visual).first.wait_for(timeout=120_000)
            settle(page)
            assert not page.get_by_test_id("stException").count(), f"{name} shows an exception"
            if name == "network_sees":
                page.locator(".st-key-s_go button").click()
                page.get_by_text(re.compile("probability .* → ")).first.wait_for(timeout=240_000)
                page.locator(".js-plotly-plot").first.wait_for(timeout=60_000)
                settle(page)
            page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


# The page coordinates of a cell's centre, from the chart's own axes (categories are class names).
CELL_CENTRE = """(el, [truth, predicted]) => {
    const layout = el._fullLayout, box = el.getBoundingClientRect();
    return [box.left + layout.xaxis._offset + layout.xaxis.d2p(predicted),
            box.top + layout.yaxis._offset + layout.yaxis.d2p(truth)];
}"""


def test_clicking_a_confusion_matrix_cell_shows_that_cells_images(runs_dir):
    require_browser()
    ARTIFACTS.mkdir(exist_ok=True)
    with streamlit_app({"CNN_LAB_RUNS_DIR": str(runs_dir)}) as url, chromium_page(height=1600) as page:
        page.goto(f"{url}/predictions")
        page.get_by_text(re.compile("test images match")).first.wait_for(timeout=120_000)
        page.get_by_role("tab", name=EN["predictions.tab.confusion"]).click()
        caption = page.get_by_text(re.compile(r"of class 0 predicted as 0"))
        caption.first.wait_for(timeout=60_000)
        chart = page.locator(".st-key-p_confusion .js-plotly-plot")
        chart.wait_for(timeout=60_000)
        page.wait_for_timeout(1500)
        chart.scroll_into_view_if_needed()
        x, y = chart.evaluate(CELL_CENTRE, ["4", "1"])
        page.mouse.move(x, y)  # a real mouse: hover, then click the cell's centre
        page.wait_for_timeout(300)
        page.mouse.click(x, y)
        page.get_by_text(re.compile(r"of class 4 predicted as 1")).first.wait_for(timeout=60_000)
        page.wait_for_timeout(1500)
        assert not page.get_by_test_id("stException").count()
        page.screenshot(path=str(ARTIFACTS / "predictions_cell_4_1.png"), full_page=True)
        # another cell replaces the pick, and its images are shown
        x, y = chart.evaluate(CELL_CENTRE, ["7", "7"])
        page.mouse.move(x, y)
        page.wait_for_timeout(300)
        page.mouse.click(x, y)
        page.get_by_text(re.compile(r"of class 7 predicted as 7")).first.wait_for(timeout=60_000)
        page.wait_for_timeout(1500)
        assert page.locator("[data-testid=stImage]").count() > 0, "the cell's images are shown"
        # the drawing canvas: its toolbar, shown above it on hover, leaves the caption readable
        page.get_by_role("tab", name=EN["predictions.tab.own"]).click()
        caption = page.get_by_text(EN["predictions.draw"]).first
        caption.wait_for(timeout=60_000)
        page.locator(".dc-root").first.hover()
        page.wait_for_timeout(1000)
        toolbar = page.locator(".dc-toolbar-card").first.bounding_box()
        text = caption.bounding_box()
        assert toolbar["y"] >= text["y"] + text["height"], (toolbar, text)
        page.screenshot(path=str(ARTIFACTS / "predictions_own_image.png"), full_page=True)
