"""The architecture builder in the real app (headless Chromium): the network being edited lives in
the page's link, so a reload, or the link opened in another tab, shows the same network
(issue #11, item 7); and a network built from blocks, with one block open in the block editor
(issue #16)."""

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from cnn_core import PRESETS, preset_spec, summarize
from cnn_core.arch.spec_link import LINK_PARAM
from cnn_core.i18n import catalog
from tests.browser import ARTIFACTS, chromium_page, require_browser, settle, streamlit_app

EN = catalog("en")  # the English catalogue: every key, as the tests read it

pytestmark = pytest.mark.timeout(300)


def pick_option(page, widget: str, name: str, tries: int = 3) -> None:
    """Open a select box and click one of its options; a click that lands while the app is still
    redrawing leaves the list closed, so the box is opened again (at most `tries` times)."""
    for attempt in range(tries):
        page.locator(widget).click()
        try:
            page.get_by_role("option", name=name).click(timeout=10_000)
            return
        except PlaywrightTimeout:
            if attempt == tries - 1:
                raise


def test_the_edited_network_survives_a_reload_and_opens_from_its_link(tmp_path):
    require_browser()
    ARTIFACTS.mkdir(exist_ok=True)
    lenet_params = f"{summarize(preset_spec('lenet5')).total_params:,}"
    default_params = f"{summarize(preset_spec('seed002_mnist_cnn')).total_params:,}"
    resnet_params = f"{summarize(preset_spec('resnet_small')).total_params:,}"
    with streamlit_app({"CNN_LAB_RUNS_DIR": str(tmp_path)}) as url, chromium_page(height=1800) as page:
        page.goto(f"{url}/architecture_builder")
        page.get_by_role("heading", name=EN["builder.title"]).wait_for(timeout=90_000)
        page.get_by_text(default_params, exact=True).first.wait_for(timeout=60_000)
        # the spec uploader states its real limit, and no other
        uploader = page.locator('[class*="st-key-b_upload_"]')
        assert "256.0 KiB" in uploader.inner_text() and "MB per file" not in uploader.inner_text()
        # edit: another preset, then a new name
        page.locator(".st-key-b_preset").click()
        page.get_by_role("option", name=PRESETS["lenet5"].title, exact=True).click()
        page.locator(".st-key-b_load button").click()
        page.get_by_text(lenet_params, exact=True).first.wait_for(timeout=60_000)
        name = page.locator(".st-key-b_name_1 input")
        name.fill("my LeNet")
        name.press("Enter")
        page.wait_for_function(f"() => new URLSearchParams(location.search).get('{LINK_PARAM}')?.length > 10")
        page.wait_for_timeout(1500)  # the rerun after the new name writes the link again
        link = page.url
        assert f"{LINK_PARAM}=" in link
        page.reload()
        page.get_by_role("heading", name=EN["builder.title"]).wait_for(timeout=90_000)
        page.get_by_text(lenet_params, exact=True).first.wait_for(timeout=60_000)
        assert page.locator(".st-key-b_name_0 input").input_value() == "my LeNet"
        assert not page.get_by_test_id("stException").count()
        page.screenshot(path=str(ARTIFACTS / "builder_after_reload.png"), full_page=True)
        # the same link in another tab: a new session with the same network
        other = page.context.browser.new_page(viewport={"width": 1400, "height": 1800})
        other.goto(link)
        other.get_by_role("heading", name=EN["builder.title"]).wait_for(timeout=90_000)
        other.get_by_text(lenet_params, exact=True).first.wait_for(timeout=60_000)
        assert other.locator(".st-key-b_name_0 input").input_value() == "my LeNet"
        # a damaged link: the default network and a notice, never a traceback
        other.goto(f"{url}/architecture_builder?{LINK_PARAM}=1AAAA")
        other.get_by_text("could not be opened", exact=False).first.wait_for(timeout=90_000)
        other.get_by_text(default_params, exact=True).first.wait_for(timeout=60_000)
        assert not other.get_by_test_id("stException").count()
        other.screenshot(path=str(ARTIFACTS / "builder_bad_link.png"), full_page=True)
        # a network built from blocks: its inner layers in the summary, one block open in the editor
        other.locator(".st-key-b_preset").click()
        other.get_by_role("option", name=PRESETS["resnet_small"].title, exact=True).click()
        settle(other)  # the choice reruns the page: until then its old widgets are still drawn beside the new
        other.locator(".st-key-b_load button").click()
        other.get_by_text(resnet_params, exact=True).first.wait_for(timeout=60_000)
        other.get_by_text(EN["builder.blocks"]).click()
        pick_option(other, ".st-key-b_block", EN["builder.blocks.residual"].format(label="6"))
        other.get_by_text("conv2d out_channels=32, kernel_size=3, stride=2").first.wait_for(timeout=60_000)
        assert not other.get_by_test_id("stException").count()
        other.screenshot(path=str(ARTIFACTS / "builder_blocks.png"), full_page=True)
