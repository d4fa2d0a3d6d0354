"""Concept 1 (convolution step by step) and the widgets every concept page shares, through AppTest."""

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from cnn_core.concepts.convolution import KERNELS
from cnn_core.concepts.images import PHOTOS, SOURCES
from cnn_core.i18n import catalog
from tests.apptest import open_app_page

EN = catalog("en")  # the English catalogue: every key, as the tests read it

PAGE = "app_pages/concepts/conv_steps.py"


@pytest.fixture()
def steps() -> AppTest:
    return open_app_page(PAGE)


def infos(at: AppTest) -> str:
    return " ".join(i.value for i in at.info)


def test_default_is_a_digit_with_the_vertical_edge_kernel(steps):
    assert "output **6×6**" in " ".join(m.value for m in steps.markdown)  # 8×8 digit, 3×3 kernel
    assert len(steps.get("plotly_chart")) == 4
    assert not steps.info and not steps.error


def test_next_and_previous_step_through_positions_and_wrap(steps):
    steps.button(key="cs_next").click().run()
    steps.button(key="cs_next").click().run()
    assert steps.slider(key="cs_step").value == 2
    steps.button(key="cs_prev").click().run()
    assert steps.slider(key="cs_step").value == 1
    steps.slider(key="cs_step").set_value(0).run()
    steps.button(key="cs_prev").click().run()
    assert steps.slider(key="cs_step").value == 35  # wraps to the last of 6×6 positions


def test_the_caption_sum_is_the_output_value_at_that_position(steps):
    steps.slider(key="cs_step").set_value(13).run()  # row 2, column 1
    caption = next(c.value for c in steps.caption if " = " in c.value)
    total = float(caption.rsplit("=", 1)[1])
    from cnn_core.concepts.convolution import cross_correlate
    from cnn_core.concepts.images import digit_image, fit_longest_side, to_gray

    image = to_gray(fit_longest_side(digit_image(0)[0], 8))
    assert total == pytest.approx(float(cross_correlate(image, KERNELS["edge_vertical"])[2, 1]), abs=1e-3)


def test_padding_and_stride_change_the_output_grid(steps):
    steps.number_input(key="cs_padding").set_value(1).run()
    steps.number_input(key="cs_stride").set_value(2).run()
    assert not steps.exception
    assert "output **4×4**" in " ".join(m.value for m in steps.markdown)  # (8 + 2 − 3) // 2 + 1


def test_one_pixel_image_explains_instead_of_plotting(steps):
    steps.number_input(key="cs_side").set_value(1).run()
    assert not steps.exception
    assert "does not fit" in infos(steps) and "padding of at least 1" in infos(steps)
    assert not steps.get("plotly_chart")
    steps.number_input(key="cs_padding").set_value(1).run()  # now exactly one window fits
    assert not steps.exception and len(steps.get("plotly_chart")) == 4


def test_stride_larger_than_the_image_says_only_one_window_fits(steps):
    steps.number_input(key="cs_stride").set_value(40).run()
    assert not steps.exception
    assert "Only one window fits" in infos(steps)
    assert "output **1×1**" in " ".join(m.value for m in steps.markdown)


def test_stride_larger_than_the_kernel_says_pixels_are_skipped(steps):
    steps.number_input(key="cs_side").set_value(20).run()
    steps.number_input(key="cs_stride").set_value(5).run()
    assert "never read" in infos(steps)


def test_all_zero_custom_kernel_is_explained(steps):
    steps.selectbox(key="cs_kernel").set_value("custom").run()
    steps.text_area(key="cs_text").input("0 0 0\n0 0 0\n0 0 0").run()
    assert not steps.exception
    assert "Every weight of this kernel is 0" in infos(steps)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("1 0\n1", "same number of values"),
        ("1 x", "'x' is not a number"),
        ("", "kernel is empty"),
        ("1/0", "not a number"),
    ],
)
def test_bad_custom_kernels_are_errors_not_tracebacks(steps, text, expected):
    steps.selectbox(key="cs_kernel").set_value("custom").run()
    steps.text_area(key="cs_text").input(text).run()
    assert not steps.exception
    assert any(expected in e.value for e in steps.error)


@pytest.mark.parametrize("source", ["photo", "shape"])
def test_other_picture_sources_render(steps, source):
    steps.radio(key="cs_source").set_value(source).run()
    steps.number_input(key="cs_side").set_value(12).run()
    assert not steps.exception and len(steps.get("plotly_chart")) == 4


def test_upload_source_waits_for_a_file(steps):
    steps.radio(key="cs_source").set_value("upload").run()
    assert not steps.exception
    assert "Upload a PNG" in infos(steps)


def test_every_choice_in_the_shared_widgets_has_a_label():
    for name in list(KERNELS) + ["custom"]:
        assert f"concept.kernel.{name}" in EN
    for source in SOURCES:
        assert f"concept.image.source.{source}" in EN
    assert PHOTOS and np.all([p.endswith(".jpg") for p in PHOTOS])
