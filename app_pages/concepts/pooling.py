"""Concept 7: pooling — max, average and global pooling, and how conv stride and pool stride add up."""

from functools import partial

import streamlit as st

from app_pages._concepts import cached, computed, explain, fragment, lesson_header, pick_image, pick_kernel
from cnn_core.concepts.activations import relu_with_bias
from cnn_core.concepts.convolution import cross_correlate
from cnn_core.concepts.images import to_gray
from cnn_core.concepts.pooling import EXAMPLE_4X4, POOL_FORMULA, POOL_KINDS, pool, stage_grid
from cnn_core.figures.concepts import grid_figure, map_figure, mark_cells, panels_figure
from cnn_core.figures.images import small_map_picture
from cnn_core.i18n import t

CONV_STRIDES = (1, 2, 4, 8, 16)
POOL_PAIRS = ((2, 1), (2, 2), (3, 2), (4, 2), (4, 4), (8, 4))

lesson_header("concept.pool", POOL_FORMULA)


def size_stride(prefix: str, size: int, stride: int, container) -> tuple[int, int]:
    c1, c2 = container.columns(2)
    k = int(
        c1.number_input(t("concept.pool.size"), 1, 64, size, key=f"{prefix}_size", help=t("concept.pool.size.help"))
    )
    s = int(
        c2.number_input(
            t("concept.pool.stride"), 1, 64, stride, key=f"{prefix}_stride", help=t("concept.pool.stride.help")
        )
    )
    return k, s


def show_pools(values, k: int, s: int, prefix: str, small: bool) -> None:
    """Max and average pooling side by side, then the two global kinds, or why they cannot be drawn."""
    figure = grid_figure if small else partial(map_figure, height=240)  # three maps a row in two thirds
    pooled = computed(lambda: {kind: pool(values, kind, k, s) for kind in POOL_KINDS}, stop=False)
    if pooled is None:
        return
    h, w = values.shape
    out_h, out_w = pooled["max"].output.shape
    st.markdown(t("concept.pool.sizes", h=h, w=w, k=k, s=s, rows=out_h, cols=out_w))
    input_title = t("concept.pool.input_winners") if small else t("concept.pool.input")
    shown = figure(values, input_title)
    if small:  # on a 4×4 grid the cells max pooling kept can be boxed; on a feature map they would bury it
        shown = mark_cells(shown, pooled["max"].winners)
    outputs = [
        figure(pooled[kind].output, t(f"concept.pool.{kind}", rows=out_h, cols=out_w)) for kind in ("max", "avg")
    ]
    st.plotly_chart(panels_figure([shown, *outputs], 3), key=f"{prefix}_fig_pools")
    g3, g4 = st.columns(2)
    g3.metric(t("concept.pool.global_max"), f"{float(pooled['global_max'].output[0, 0]):.4g}")
    g4.metric(t("concept.pool.global_avg"), f"{float(pooled['global_avg'].output[0, 0]):.4g}")
    if out_h == out_w == 1 and s > 1:
        explain(t("concept.pool.one_window", s=s, h=h, w=w))
    elif s > k:
        explain(t("concept.pool.gaps", s=s, k=k))


@fragment
def example_section() -> None:
    """The 4×4 example: its size and stride rerun only this section."""
    st.subheader(t("concept.pool.example"))
    k, s = size_stride("cpo_ex", 2, 2, st)
    show_pools(EXAMPLE_4X4, k, s, "cpo_ex", small=True)


example_section()

st.subheader(t("concept.pool.feature"))
st.markdown(t("concept.pool.feature.intro"))
left, right = st.columns([1, 2])
with left:
    image = to_gray(pick_image("cpo", default_source="photo", default_side=96))
    kernel = pick_kernel("cpo")
    fk, fs = size_stride("cpo_fm", 4, 4, st)
feature = relu_with_bias(computed(cross_correlate, image, kernel, container=right), 0.0).output
with right:
    if feature.any():
        show_pools(feature, fk, fs, "cpo_fm", small=False)
    else:
        explain(t("concept.note.zero_kernel") if not kernel.any() else t("concept.pool.all_zero"))


@fragment
def grid_section(image, kernel) -> None:
    """Conv stride × bias × pooling: its settings rerun only this section."""
    st.subheader(t("concept.pool.grid"))
    st.markdown(t("concept.pool.grid.intro"))
    c1, c2, c3 = st.columns([2, 2, 1])
    strides = c1.multiselect(t("concept.pool.conv_strides"), CONV_STRIDES, [1, 2, 4], key="cpo_conv_strides")
    pairs = c2.multiselect(
        t("concept.pool.pairs"),
        POOL_PAIRS,
        [(2, 2), (4, 4)],
        key="cpo_pairs",
        format_func=lambda p: t("concept.pool.pair", k=p[0], s=p[1]),
    )
    bias = c3.number_input(
        t("concept.pool.bias"), -1000.0, 1000.0, 0.0, 0.1, key="cpo_bias", help=t("concept.pool.bias.help")
    )
    if not strides or not pairs:
        explain(t("concept.pool.grid.empty"))
        st.stop()
    cells = cached(stage_grid)(image, kernel, sorted(strides), bias, sorted(pairs))
    notes = []
    # pictures, not a chart of panels: a dozen heat maps cost the browser ~0.4 s a page load
    for row in range(len(cells) // len(pairs)):
        for column, cell in zip(st.columns(len(pairs)), cells[row * len(pairs) : (row + 1) * len(pairs)]):
            head = t(
                "concept.pool.cell",
                cs=cell.conv_stride,
                k=cell.pool_size,
                s=cell.pool_stride,
                total=cell.conv_stride * cell.pool_stride,
            )
            if cell.pooled is None:
                column.caption(head)
                notes.append(f"**{head}**: {cell.note}")
                continue
            picture, low, high = small_map_picture(cell.pooled)
            rows, cols = cell.pooled.shape
            text = t("concept.pool.grid.picture", head=head, rows=rows, cols=cols, low=f"{low:.3g}", high=f"{high:.3g}")
            column.image(picture, caption=text, output_format="PNG")
    if len(notes) < len(cells):
        st.caption(t("concept.pool.grid.colours"))
    for note in notes:
        explain(note)
    st.caption(t("concept.pool.multiply"))


grid_section(image, kernel)
