"""The language switch in the real app (headless Chromium): switched in the sidebar on one page, the
language follows the visitor to another page and through a reload, and travels in the link (?lang=)
to a new browser; a first visit takes the browser's language. Screenshots of three pages in Chinese
land in test-artifacts/zh-*.png: the CI machine installs Debian's CJK fonts (fonts-noto-cjk, see
.ci/run), so they show characters, not boxes."""

import re

import pytest

from cnn_core.i18n import catalog
from tests.browser import ARTIFACTS, CHROMIUM, CHROMIUM_FLAGS, require_browser, streamlit_app

EN = catalog("en")
ZH = catalog("zh")
CHINESE = re.compile(r"[\u4e00-\u9fff]")

pytestmark = pytest.mark.timeout(300)


def lang_in_url(page) -> str | None:
    return page.evaluate("() => new URLSearchParams(location.search).get('lang')")


def heading(page, text: str):
    page.get_by_role("heading", name=text).first.wait_for(timeout=90_000)


def no_exception(page) -> None:
    shown = page.get_by_test_id("stException")
    assert not shown.count(), shown.all_inner_texts()


def test_switch_follows_the_visitor_through_pages_reloads_and_links(tmp_path):
    require_browser()
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    viewport = {"width": 1400, "height": 1800}
    with streamlit_app({"CNN_LAB_RUNS_DIR": str(tmp_path), "CNN_LAB_LANG": "en"}) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        try:
            english = browser.new_context(locale="en-US", viewport=viewport)
            english.set_default_timeout(60_000)
            page = english.new_page()
            # an English browser opens in English
            page.goto(f"{url}/shape_calculator")
            heading(page, EN["calc.title"])
            page.wait_for_function("() => new URLSearchParams(location.search).get('lang') === 'en'")
            # a choice made in English (a max-pooling layer) ...
            page.locator(".st-key-calc_kind").get_by_text(EN["calc.kind.maxpool2d"], exact=True).click()
            page.wait_for_function("() => new URLSearchParams(location.search).has('calc_kind')")
            # switch to 中文 in the sidebar: the page, and its link, are Chinese
            page.locator(".st-key-lang_switch").get_by_text(EN["lang.name.zh"], exact=True).click()
            heading(page, ZH["calc.title"])
            page.wait_for_function("() => new URLSearchParams(location.search).get('lang') === 'zh'")
            # ... is still the choice, now under its Chinese label, in the page and its link
            kind = page.locator(".st-key-calc_kind").get_by_role("radio", name=ZH["calc.kind.maxpool2d"])
            kind.wait_for()
            assert kind.is_checked()
            page.wait_for_function(
                "label => new URLSearchParams(location.search).get('calc_kind') === label",
                arg=ZH["calc.kind.maxpool2d"],
            )
            page.locator(".js-plotly-plot").first.wait_for(timeout=90_000)
            page.wait_for_timeout(1500)
            page.screenshot(path=str(ARTIFACTS / "zh-calculator.png"), full_page=True)
            # another page through the sidebar's navigation: still Chinese
            nav = page.get_by_test_id("stSidebarNav")
            more = nav.get_by_text(re.compile(r"View \d+ more"))  # Streamlit folds a long navigation
            if more.count():
                more.first.click()
            nav.get_by_role("link", name=ZH["nav.builder"]).click()
            heading(page, ZH["builder.title"])
            page.wait_for_function("() => new URLSearchParams(location.search).get('lang') === 'zh'")
            assert "/architecture_builder" in page.url
            # a reload: still Chinese, the sidebar's switch on 中文
            page.reload()
            heading(page, ZH["builder.title"])
            assert lang_in_url(page) == "zh"
            assert page.locator(".st-key-lang_switch").get_by_role("radio", name=ZH["lang.name.zh"]).is_checked()
            no_exception(page)
            page.wait_for_timeout(1500)
            page.screenshot(path=str(ARTIFACTS / "zh-builder.png"), full_page=True)
            link = page.url
            # the link in a new browser (another context, an English one): Chinese
            other = browser.new_context(locale="en-US", viewport=viewport)
            other.set_default_timeout(60_000)
            fresh = other.new_page()
            fresh.goto(link)
            heading(fresh, ZH["builder.title"])
            assert lang_in_url(fresh) == "zh"
            # a concept lab page with a figure, in Chinese: the figure's own text too
            fresh.goto(f"{url}/kernels?lang=zh")
            heading(fresh, ZH["concept.kernels.title"])
            titled = ".js-plotly-plot .gtitle, .js-plotly-plot .annotation-text"  # a figure's or a panel's title
            fresh.locator(titled).first.wait_for(timeout=90_000)
            fresh.wait_for_timeout(2500)  # let every chart finish drawing
            titles = fresh.locator(titled).evaluate_all("els => els.map(e => e.textContent)")
            assert any(CHINESE.search(title) for title in titles), titles
            no_exception(fresh)
            fresh.screenshot(path=str(ARTIFACTS / "zh-kernels.png"), full_page=True)
            # a first visit from a Chinese browser, without ?lang=: Chinese
            chinese = browser.new_context(locale="zh-CN", viewport=viewport)
            chinese.set_default_timeout(60_000)
            first = chinese.new_page()
            first.goto(f"{url}/shape_calculator")
            heading(first, ZH["calc.title"])
            first.wait_for_function("() => new URLSearchParams(location.search).get('lang') === 'zh'")
        finally:
            browser.close()
