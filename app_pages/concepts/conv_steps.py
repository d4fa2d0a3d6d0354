"""Concept 1: convolution step by step — the window, its element-wise products and their sum."""

import streamlit as st

from app_pages._concepts import computed, explain, fragment, lesson_header, pick_image, pick_kernel, size_note
from cnn_core.concepts.convolution import STEP_FORMULA, conv_walk
from cnn_core.concepts.images import to_gray
from cnn_core.figures.concepts import grid_figure
from cnn_core.i18n import t

lesson_header("concept.steps", STEP_FORMULA)

left, right = st.columns([1, 2])
with left:
    image = to_gray(pick_image("cs", default_source="digit", default_side=8))
    kernel = pick_kernel("cs")
    c1, c2 = st.columns(2)
    stride = int(c1.number_input(t("concept.stride"), 1, 64, 1, key="cs_stride", help=t("concept.stride.help")))
    padding = int(c2.number_input(t("concept.padding"), 0, 16, 0, key="cs_padding", help=t("concept.padding.help")))

walk = computed(conv_walk, image, kernel, stride, padding, container=right)

rows, cols = walk.output_shape


def move(delta: int, positions: int) -> None:
    st.session_state["cs_step"] = (st.session_state.get("cs_step", 0) + delta) % positions


@fragment
def stepping(walk, kernel, stride: int, padding: int) -> None:
    """The window at one position: ◀ ▶ and the slider rerun and redraw only this part."""
    rows, cols = walk.output_shape
    positions = rows * cols
    if st.session_state.get("cs_step", 0) >= positions:
        st.session_state["cs_step"] = 0
    b1, b2, b3 = st.columns([1, 1, 6])
    b1.button("◀", key="cs_prev", on_click=move, args=(-1, positions), help=t("concept.steps.prev"))
    b2.button("▶", key="cs_next", on_click=move, args=(1, positions), help=t("concept.steps.next"))
    step_number = b3.slider(t("concept.steps.position"), 0, positions - 1, key="cs_step") if positions > 1 else 0
    step = walk.step(*divmod(step_number, cols))
    kh, kw = kernel.shape
    g1, g2 = st.columns(2)
    g1.plotly_chart(
        grid_figure(walk.padded, t("concept.steps.input", p=padding), box=(step.top, step.left, kh, kw)),
        key="cs_fig_input",
    )
    g2.plotly_chart(grid_figure(kernel, t("concept.steps.kernel"), diverging=True), key="cs_fig_kernel")
    g1.plotly_chart(
        grid_figure(step.products, t("concept.steps.products", total=f"{step.total:.3f}"), diverging=True),
        key="cs_fig_products",
    )
    g2.plotly_chart(
        grid_figure(
            walk.output,
            t("concept.steps.output", row=step.row, col=step.col),
            box=(step.row, step.col, 1, 1),
            diverging=True,
        ),
        key="cs_fig_output",
    )
    terms = " + ".join(f"{a:.2f}·{b:.2f}" for a, b in zip(step.window.ravel()[:9], kernel.ravel()[:9]))
    st.caption(t("concept.steps.sum", terms=terms + (" + …" if kernel.size > 9 else ""), total=f"{step.total:.3f}"))
    if not kernel.any():
        explain(t("concept.note.zero_kernel"))
    if positions == 1 and stride > 1:
        explain(t("concept.steps.one_window", s=stride))
    elif stride > kh or stride > kw:
        explain(t("concept.steps.skips", s=stride, kh=kh, kw=kw))
    st.page_link("app_pages/shape_calculator.py", label=t("concept.steps.to_calculator"), icon=":material/straighten:")


with right:
    st.markdown(size_note("concept.steps.sizes", image, kernel, padding, s=stride, rows=rows, cols=cols))
    stepping(walk, kernel, stride, padding)
