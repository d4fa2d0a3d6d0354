"""Concept lab, experiments 2–5 (flip, kernels, patch, stride): each page through AppTest with its
default settings (real numbers checked) and with the extremes that leave nothing to draw."""

import json

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from cnn_core.concepts.convolution import KERNELS, compare_flip, edge_signs
from cnn_core.concepts.images import digit_image, fit_longest_side, sample_photo, to_gray
from cnn_core.concepts.patch_match import cut_patch
from cnn_core.concepts.strides import stride_summary, stride_sweep
from cnn_core.figures.concepts import MIN_FONT, grid_figure, number_font
from tests.apptest import open_app_page, set_widgets

ZEROS = "0 0 0\n0 0 0\n0 0 0"


def open_page(name: str, **widgets) -> AppTest:
    """The page after setting widgets in order: key -> value."""
    return set_widgets(open_app_page(f"app_pages/concepts/{name}.py"), **widgets)


def charts(at: AppTest) -> list[dict]:
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def titles(at: AppTest) -> list[str]:
    """Every chart's title and its panels' titles (maps shown side by side are one chart's subplots)."""
    return [
        text
        for c in charts(at)
        for text in [c["layout"].get("title", {}).get("text", "")]
        + [a.get("text", "") for a in c["layout"].get("annotations", [])]
    ]


def pictures(at: AppTest) -> list[str]:
    """The captions of every st.image picture on the page, in order."""
    return [img.caption for element in at.get("image") for img in element.proto.imgs]


def infos(at: AppTest) -> str:
    return "\n".join(i.value for i in at.info)


def texts(at: AppTest) -> str:
    return "\n".join(m.value for m in list(at.markdown) + list(at.caption) + list(at.success) + list(at.warning))


# ---------------------------------------------------------------- flip


def test_flip_default_sobel_on_a_digit_shows_both_outputs_and_their_difference():
    at = open_page("flip")
    assert not at.info and not at.error
    assert len(charts(at)) == 2  # kernel | flipped kernel; input, correlation, convolution, difference
    assert {
        "kernel w (as torch uses it)",
        "w turned by 180° (what convolution uses)",
        "input",
        "cross-correlation (torch)",
    } <= set(titles(at)), titles(at)
    expected = compare_flip(to_gray(digit_image(0)[0]), KERNELS["sobel_x"])
    assert expected.antisymmetric and expected.max_difference > 1
    assert "both outputs are **6×6**" in texts(at)
    assert f"differ by up to {expected.max_difference:.3f}" in at.warning[0].value
    assert "times −1" in at.warning[0].value
    assert f"difference (largest {expected.max_difference:.3f})" in titles(at)
    assert "compute cross-correlation" in texts(at) and "learned" in texts(at)


def test_flip_symmetric_kernel_agrees_and_asymmetric_one_differs():
    at = open_page("flip", cf_kernel="gaussian_blur")
    assert "identical" in at.success[0].value and not at.warning
    assert "difference (largest 0.000)" in titles(at)
    at.selectbox(key="cf_kernel").set_value("emboss").run()
    assert "different set of weights" in at.warning[0].value


@pytest.mark.parametrize("padding", [0, 2])
def test_flip_grids_print_their_numbers_readably_or_not_at_all(padding):
    """Four 10×10 grids side by side printed numbers about 5 px high (Plotly shrinks them to the cell):
    a number shown in a cell now has a fixed font of at least MIN_FONT px."""
    at = open_page("flip", cf_padding=padding)
    grids = [trace for chart in charts(at) for trace in chart["data"] if trace["type"] == "heatmap"]
    assert len(grids) == 6
    for trace in grids:  # one decimal fits even 10×10 cells, two grids a row
        assert trace.get("texttemplate") in ("%{z:.0f}", "%{z:.1f}"), trace.get("texttemplate")
        assert trace.get("textfont", {}).get("size", 0) >= MIN_FONT, trace.get("textfont")
    at.selectbox(key="cf_kernel").set_value("gaussian_blur").run()
    for chart in charts(at):
        for trace in chart["data"]:
            if trace["type"] == "heatmap" and trace.get("texttemplate"):
                assert trace.get("textfont", {}).get("size", 0) >= MIN_FONT, trace.get("textfont")


def test_grid_numbers_are_left_out_when_the_cells_would_be_too_small():
    values = np.full((10, 10), -12.34)
    assert number_font(values, 1, 480, 1 / 4) is None  # four across: cells of about 23 px
    assert number_font(values, 1, 480, 1 / 2) >= MIN_FONT  # two across: about 41 px
    assert number_font(values, 3, 480, 1 / 2) is None  # '-12.340' is too wide for them
    assert grid_figure(values, share=1 / 4, height=480, decimals=1).data[0].texttemplate is None
    assert grid_figure(values, share=1 / 2, height=480, decimals=1).data[0].textfont.size >= MIN_FONT
    assert grid_figure(np.arange(4.0).reshape(2, 2)).data[0].texttemplate == "%{z:.0f}"  # whole numbers
    assert number_font(np.zeros((30, 30)), 0, 520, 1) is None  # more cells than NUMBER_CELLS


@pytest.mark.parametrize(
    "widgets, message, n_charts",
    [
        ({"cf_side": 1}, "does not fit anywhere", 0),
        ({"cf_side": 1, "cf_padding": 1}, None, 2),  # a padded single pixel does give a 1×1 output
        ({"cf_kernel": "custom", "cf_text": ZEROS}, "Every weight of this kernel is 0", 1),
    ],
)
def test_flip_extremes_explain_themselves(widgets, message, n_charts):
    at = open_page("flip", **widgets)
    assert len(charts(at)) == n_charts
    if message:
        assert message in infos(at)
    else:
        assert "both outputs are **1×1**" in texts(at)


# ---------------------------------------------------------------- kernels


def test_kernels_default_photo_response_and_edge_signs():
    at = open_page("kernels")
    assert not at.info and not at.error
    assert pictures(at) == ["input (214×320)", "response map (212×318)"]  # pictures, not charts
    assert len(charts(at)) == 1 and len(charts(at)[0]["data"]) == 3  # edge picture | edge kernel | edge response
    edges = edge_signs(12)
    assert (round(edges.left_value, 1), round(edges.right_value, 1)) == (-2.4, 2.4)
    assert "gives **-2.4**" in texts(at) and "gives **+2.4**" in texts(at)
    assert "Both signs occur" in texts(at)


def test_kernels_rgb_shows_three_channels_and_their_sum():
    at = open_page("kernels", ck_rgb=True, ck_kernel="box_blur")
    assert len(charts(at)) == 1  # the edge demo; the input, the sum and the three channels are pictures
    captions = pictures(at)
    assert captions[1:] == ["response: red + green + blue (212×318)", "red channel", "green channel", "blue channel"]
    assert "Every response is 0 or above" in texts(at)
    assert any("three channels" in h.value for h in at.subheader)


@pytest.mark.parametrize(
    "widgets, message, n_charts",
    [
        ({"ck_kernel": "custom", "ck_text": ZEROS}, "Every weight of this kernel is 0", 1),
        ({"ck_side": 1}, "does not fit anywhere", 1),
        ({"ck_kernel": "custom", "ck_text": "\n".join(["1 1 1 1 1"] * 5)}, None, 1),  # a 5×5 kernel
        ({"ck_edge_size": 6}, None, 1),
    ],
)
def test_kernels_extremes(widgets, message, n_charts):
    at = open_page("kernels", **widgets)
    assert len(charts(at)) == n_charts
    if message:
        assert message in infos(at)
    else:
        assert not at.info
    if "ck_text" in widgets and message is None:
        assert "response map (210×316)" in pictures(at)
    assert "gives **-2.4**" in texts(at)  # the edge demo works whatever the photo settings


# ---------------------------------------------------------------- patch


def test_patch_default_finds_itself_with_score_one():
    at = open_page("patch")
    assert not at.info
    assert len(charts(at)) == 3
    assert "at row 4, column 54, exactly where the patch was cut, with a score of 1.000" in at.success[0].value
    assert "normalised match score (114×181, −1 to 1); cross = best" in titles(at)


def test_patch_raw_lights_up_the_bright_sky():
    at = open_page("patch", cp_method="raw")
    assert len(charts(at)) == 3
    warning = at.warning[0].value
    assert "not where the patch was cut (4, 54)" in warning
    assert "brighter" in texts(at)


@pytest.mark.parametrize(
    "widgets, message",
    [
        ({"cp_side": 1}, "cannot be cut from a 1×1 image"),
        ({"cp_size": 150}, "cannot be cut from a 133×200 image"),
        ({"cp_top": 130}, "runs off the 133×200 image"),
        ({"cp_source": "shape", "cp_top": 0, "cp_left": 0, "cp_size": 8}, "this patch is flat"),
        (
            {"cp_source": "shape", "cp_top": 0, "cp_left": 0, "cp_size": 8, "cp_method": "raw"},
            "Every weight of this kernel is 0",
        ),
        ({"cp_side": 1, "cp_top": 0, "cp_left": 0, "cp_size": 1, "cp_method": "raw"}, "only one place to put it"),
    ],
)
def test_patch_extremes_explain_themselves(widgets, message):
    at = open_page("patch", **widgets)
    assert message in infos(at)
    assert not at.success and not at.warning


# ---------------------------------------------------------------- strides


def test_strides_default_five_strides_with_macs_and_timings():
    at = open_page("strides")
    assert not at.info and not at.error
    assert len(charts(at)) == 3  # the photo, the five maps as one chart, the timing chart
    kinds = [d["type"] for d in charts(at)[1]["data"]]  # 289² and 145² cells: pictures; the rest heat maps
    assert kinds == [
        "image",
        "scatter",
        "image",
        "scatter",
        "heatmap",
        "scatter",
        "heatmap",
        "scatter",
        "heatmap",
        "scatter",
    ]
    assert [f"stride {s}" in " ".join(titles(at)) for s in (1, 2, 4, 8, 16)] == [True] * 5
    table = at.table[0].value
    assert list(table["stride"]) == [1, 2, 4, 8, 16]
    gray = to_gray(fit_longest_side(sample_photo(), 320))
    expected = stride_summary(stride_sweep(gray, cut_patch(gray, 30, 60, 32, centred=True), repeats=1))
    assert (
        list(table["output size"])
        == [f"{r.height}×{r.width}" for r in expected]
        == ["183×289", "92×145", "46×73", "23×37", "12×19"]
    )
    assert list(table["MACs"]) == [r.macs for r in expected] and table["MACs"][0] == 183 * 289 * 32 * 32
    assert list(table["ideal speed-up vs stride 1"]) == [1, 4, 16, 64, 256]
    assert all(3.5 < r.mac_ratio / (r.stride**2 / 4) < 4.5 for r in expected[1:])  # ≈ s²
    assert (table["time (ms)"] > 0).all()
    assert "54,156,288" in texts(at) and "The peak stays put" in texts(at)


@pytest.mark.parametrize(
    "widgets, message, n_charts",
    [
        (
            {"cst_side": 16, "cst_size": 8, "cst_top": 0, "cst_left": 0, "cst_strides": [1, 2, 16, 64]},
            "At stride 16, 64 the output is a single number (1×1)",
            3,
        ),
        ({"cst_side": 8}, "cannot be cut from a 5×8 image", 0),
        ({"cst_side": 1, "cst_kernel_source": "named"}, "does not fit anywhere", 0),
        ({"cst_strides": []}, "Pick at least one stride", 0),
        (
            {"cst_kernel_source": "named", "cst_kernel": "custom", "cst_text": ZEROS},
            "Every weight of this kernel is 0",
            0,
        ),
        ({"cst_source": "shape", "cst_top": 0, "cst_left": 0, "cst_size": 8}, "The patch is flat", 0),
    ],
)
def test_strides_extremes_explain_themselves(widgets, message, n_charts):
    at = open_page("strides", **widgets)
    assert message in infos(at)
    assert len(charts(at)) == n_charts


# ---------------------------------------------------------------- the small helpers these pages use


def test_cut_patch_checks_and_centres():
    from cnn_core.concepts import ConceptError

    image = np.arange(30, dtype=np.float32).reshape(5, 6)
    assert np.array_equal(cut_patch(image, 1, 2, 3), image[1:4, 2:5])
    assert abs(float(cut_patch(image, 1, 2, 3, centred=True).mean())) < 1e-6
    for top, left, size, words in [(0, 0, 6, "cannot be cut"), (3, 0, 3, "runs off"), (0, -1, 2, "runs off")]:
        with pytest.raises(ConceptError, match=words):
            cut_patch(image, top, left, size)


def test_edge_signs_are_opposite_and_follow_the_kernel():
    edges = edge_signs(12)
    assert edges.left_value == pytest.approx(-2.4, abs=1e-5) and edges.right_value == pytest.approx(2.4, abs=1e-5)
    assert edges.left_col < edges.right_col
    turned = edge_signs(12, -KERNELS["edge_vertical"])
    assert turned.left_value == pytest.approx(2.4, abs=1e-5) and turned.right_value == pytest.approx(-2.4, abs=1e-5)


def test_flip_kernel_and_patch_properties():
    from cnn_core.concepts.convolution import apply_kernel
    from cnn_core.concepts.patch_match import match_patch

    image = to_gray(digit_image(3)[0])
    sobel = compare_flip(image, KERNELS["sobel_x"])
    assert sobel.antisymmetric and not sobel.symmetric
    assert np.allclose(sobel.difference, 2 * sobel.correlation)
    emboss = compare_flip(image, KERNELS["emboss"])
    assert not emboss.antisymmetric and not emboss.symmetric and emboss.max_difference > 0
    assert compare_flip(image, KERNELS["box_blur"]).max_difference == 0
    assert apply_kernel(image[None], KERNELS["edge_vertical"]).signed
    assert not apply_kernel(image[None], KERNELS["box_blur"]).signed
    gray = to_gray(fit_longest_side(sample_photo(), 200))
    normalised, raw = match_patch(gray, 4, 54, 20), match_patch(gray, 4, 54, 20, "raw")
    assert normalised.found_itself and normalised.own_score == pytest.approx(1.0, abs=1e-4)
    assert not raw.found_itself and raw.peak_score > raw.own_score and not raw.flat


def test_stride_summary_against_the_smallest_stride():
    image = np.random.default_rng(0).random((40, 40), dtype=np.float32)
    rows = stride_summary(stride_sweep(image, np.ones((4, 4), np.float32), strides=(2, 4, 8), repeats=1))
    assert [r.stride for r in rows] == [2, 4, 8] and [r.ideal for r in rows] == [1, 4, 16]
    assert [(r.height, r.width) for r in rows] == [(19, 19), (10, 10), (5, 5)]
    assert rows[0].speedup == 1 and rows[1].mac_ratio == pytest.approx(361 / 100)
    assert rows[2].ideal_seconds == pytest.approx(rows[0].ms / 1000 / 16)
    assert stride_summary([]) == []
