"""Concept 2: convolution vs cross-correlation — the same kernel with and without its 180° flip."""

import streamlit as st

from app_pages._concepts import computed, explain, lesson_header, pick_image, pick_kernel, size_note
from cnn_core.concepts.convolution import compare_flip, flip_formula
from cnn_core.concepts.images import to_gray
from cnn_core.figures.concepts import grid_figure, panels_figure
from cnn_core.i18n import t

lesson_header("concept.flip", flip_formula())

left, right = st.columns([1, 2])
with left:
    image = to_gray(pick_image("cf", default_source="digit", default_side=8))
    kernel = pick_kernel("cf", default="sobel_x")
    padding = int(st.number_input(t("concept.padding"), 0, 8, 0, key="cf_padding", help=t("concept.padding.help")))

result = computed(compare_flip, image, kernel, padding, container=right)

with right:
    kernels = [
        grid_figure(result.kernel, t("concept.flip.kernel"), diverging=True),
        grid_figure(result.flipped, t("concept.flip.flipped"), diverging=True),
    ]
    st.plotly_chart(panels_figure(kernels, 2), key="cf_fig_kernels")
    if not kernel.any():
        explain(t("concept.note.zero_kernel"))
        st.stop()
    if result.symmetric:
        st.success(t("concept.flip.same"), icon=":material/check_circle:")
    elif result.antisymmetric:
        st.warning(t("concept.flip.negated", diff=f"{result.max_difference:.3f}"), icon=":material/swap_vert:")
    else:
        st.warning(t("concept.flip.differs", diff=f"{result.max_difference:.3f}"), icon=":material/compare_arrows:")

rows, cols = result.correlation.shape
st.markdown(size_note("concept.flip.sizes", image, kernel, padding, rows=rows, cols=cols))
BIG = dict(share=1 / 2, height=480, decimals=1)  # two a row: four across left the numbers unreadable
outputs = [
    grid_figure(image, t("concept.flip.input"), **BIG),
    grid_figure(result.correlation, t("concept.flip.correlation"), diverging=True, **BIG),
    grid_figure(result.convolution, t("concept.flip.convolution"), diverging=True, **BIG),
    grid_figure(
        result.difference, t("concept.flip.difference", diff=f"{result.max_difference:.3f}"), diverging=True, **BIG
    ),
]
st.plotly_chart(panels_figure(outputs, 2), key="cf_fig_outputs")
st.markdown(t("concept.flip.libraries"))
st.markdown(t("concept.flip.learned"))
