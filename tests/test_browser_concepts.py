"""A screenshot of every concept-lab experiment from the real app in headless Chromium; each page
must draw its charts without an exception. The screenshots land in test-artifacts/concepts/."""

import numpy as np
import pytest
from PIL import Image

from cnn_core.i18n import catalog
from tests.browser import ARTIFACTS, chromium_page, require_browser, streamlit_app

EN = catalog("en")  # the English catalogue: every key, as the tests read it

pytestmark = pytest.mark.timeout(480)

# (url path, the page's title key, what to click before the screenshot or None)
EXPERIMENTS = [
    ("conv_steps", "concept.steps.title", None),
    ("flip", "concept.flip.title", None),
    ("kernels", "concept.kernels.title", None),
    ("patch", "concept.patch.title", None),
    ("strides", "concept.strides.title", None),
    ("relu_bias", "concept.relu.title", None),
    ("pooling", "concept.pool.title", None),
    ("activations", "concept.act.title", None),
    ("batch_speed", "concept.batch.title", ".st-key-cb_run button"),
    ("receptive_field", "concept.rf.title", None),
]


def plotly_data_sizes(page) -> list[int]:
    """Values drawn by each chart: points of line and bar traces, rows of heat maps and images."""
    return page.evaluate("""() => Array.from(document.querySelectorAll('.js-plotly-plot'))
        .map(el => (el._fullData || []).reduce((n, tr) =>
            n + ((tr.x && tr.x.length) || (tr.z && tr.z.length) || (tr.source ? 1 : 0)), 0))""")


CHARTS_DRAWN = """() => {
    const charts = Array.from(document.querySelectorAll('.js-plotly-plot'));
    return charts.length > 0 && charts.every(el => el._fullData && el._fullData.length > 0);
}"""


def wait_for_charts(page) -> None:
    """Until every chart on the page has drawn its data (not a fixed pause)."""
    page.wait_for_function(CHARTS_DRAWN, timeout=90_000)
    page.wait_for_timeout(300)  # the last paint after the data


def test_screenshot_of_every_experiment(tmp_path):
    require_browser()
    out = ARTIFACTS / "concepts"
    out.mkdir(parents=True, exist_ok=True)
    env = {"CNN_LAB_RUNS_DIR": str(tmp_path), "CNN_LAB_CONCEPT_TIME_CAP_S": "4"}
    with streamlit_app(env) as url, chromium_page(height=2400) as page:
        for number, (path, title_key, click) in enumerate(EXPERIMENTS, 1):
            page.goto(f"{url}/{path}")
            page.get_by_role("heading", name=EN[title_key]).first.wait_for(timeout=90_000)
            if click:
                page.locator(click).click()
                page.get_by_test_id("stDataFrame").first.wait_for(timeout=120_000)
            page.locator(".js-plotly-plot").first.wait_for(timeout=90_000)
            wait_for_charts(page)
            assert not page.get_by_test_id("stException").count(), f"{path} shows an exception"
            counts = plotly_data_sizes(page)
            assert counts and sum(counts) > 0, f"{path}: charts without data {counts}"
            page.screenshot(path=str(out / f"{number:02d}-{path}.png"), full_page=True)
        # the one path AppTest cannot drive: a picture of the user's own, uploaded
        upload = tmp_path / "stripes.png"
        stripes = np.zeros((40, 60, 3), dtype=np.uint8)
        stripes[:, ::10] = (255, 200, 0)
        Image.fromarray(stripes).save(upload)
        page.goto(f"{url}/kernels")
        page.get_by_role("heading", name=EN["concept.kernels.title"]).first.wait_for(timeout=90_000)
        page.get_by_text(EN["concept.image.source.upload"], exact=True).first.click()
        page.get_by_test_id("stFileUploaderDropzoneInput").first.set_input_files(str(upload))
        page.get_by_text("input (213×320)").first.wait_for(timeout=90_000)
        wait_for_charts(page)
        assert not page.get_by_test_id("stException").count(), "the upload shows an exception"
        page.screenshot(path=str(out / "03b-kernels-upload.png"), full_page=True)
    assert len(list(out.glob("*.png"))) >= len(EXPERIMENTS) + 1
