"""Concept 6: ReLU with a bias — the bias decides which responses of a filter get through."""

import streamlit as st

from app_pages._concepts import cached, computed, explain, fragment, lesson_header, pick_image, pick_kernel
from app_pages._widgets import choice
from cnn_core.concepts.activations import RELU_BIAS_FORMULA, bias_range, relu_with_bias
from cnn_core.concepts.convolution import cross_correlate
from cnn_core.concepts.images import to_gray
from cnn_core.concepts.patch_match import match_patch
from cnn_core.figures.concepts import histogram_figure, map_figure
from cnn_core.i18n import t

SOURCES = ("kernel", "patch")

lesson_header("concept.relu", RELU_BIAS_FORMULA)

left, right = st.columns([1, 2])
with left:
    image = to_gray(pick_image("cr", default_source="photo", default_side=160))
    source = choice("concept.relu.source", SOURCES, "cr_from", help=t("concept.relu.source.help"))
    if source == "kernel":
        kernel = pick_kernel("cr")
    else:
        c1, c2, c3 = st.columns(3)
        top = int(c1.number_input(t("concept.relu.patch_top"), 0, 4096, 40, key="cr_top"))
        left_col = int(c2.number_input(t("concept.relu.patch_left"), 0, 4096, 70, key="cr_left"))
        size = int(c3.number_input(t("concept.relu.patch_size"), 1, 64, 12, key="cr_size"))

if source == "kernel":
    response = computed(cached(cross_correlate), image, kernel, container=right)
else:
    response = computed(cached(match_patch), image, top, left_col, size, method="raw", container=right).response


@fragment
def thresholding(image, response) -> None:
    """The bias slider and what it lets through: moving it reruns and redraws only this part."""
    low, high, step = bias_range(response)
    bias = st.slider(
        t("concept.relu.bias"), low, high, 0.0, step, format="%.4g", key="cr_bias", help=t("concept.relu.bias.help")
    )
    result = relu_with_bias(response, bias)
    rows, cols = response.shape
    m1, m2, m3 = st.columns(3)
    m1.metric(t("concept.relu.surviving"), f"{result.surviving_fraction:.1%}")
    m2.metric(t("concept.relu.threshold"), f"{result.threshold + 0.0:.4g}")
    m3.metric(t("concept.relu.strongest"), f"{float(response.max()):.4g}")
    st.caption(
        t(
            "concept.relu.sizes",
            h=image.shape[0],
            w=image.shape[1],
            rows=rows,
            cols=cols,
            low=f"{float(response.min()):.4g}",
            high=f"{float(response.max()):.4g}",
        )
    )
    if float(response.min()) == float(response.max()):
        value = float(response.flat[0])
        key = "concept.relu.flat_zero" if value == 0 else "concept.relu.flat"
        explain(t(key, value=f"{value:.4g}", count=response.size, threshold=f"{-value:.4g}"))
        st.stop()
    g1, g2 = st.columns(2)
    g1.plotly_chart(map_figure(response, t("concept.relu.response"), diverging=True), key="cr_fig_response")
    g2.plotly_chart(map_figure(result.output, t("concept.relu.output", bias=f"{bias:.4g}")), key="cr_fig_output")
    line = t("concept.relu.line", value=f"{result.threshold + 0.0:.4g}")
    st.plotly_chart(
        histogram_figure(response, result.threshold, line, t("concept.relu.histogram"), t("concept.relu.histogram.x")),
        key="cr_fig_hist",
    )
    if result.surviving_fraction == 0:
        explain(t("concept.relu.none_survive", threshold=f"{result.threshold + 0.0:.4g}"))
    elif result.surviving_fraction == 1:
        explain(t("concept.relu.all_survive", threshold=f"{result.threshold + 0.0:.4g}"))


with right:
    thresholding(image, response)
st.markdown(t("concept.relu.takeaway"))
