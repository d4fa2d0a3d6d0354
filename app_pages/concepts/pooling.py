"""Concept 7: pooling — max, average and global pooling, and how conv stride and pool stride add up."""

import streamlit as st

from app_pages._concepts import computed, explain, lesson_header, pick_image, pick_kernel
from cnn_core.concepts.activations import relu_with_bias
from cnn_core.concepts.convolution import cross_correlate
from cnn_core.concepts.images import to_gray
from cnn_core.concepts.pooling import EXAMPLE_4X4, POOL_FORMULA, POOL_KINDS, pool, stage_grid
from cnn_core.figures.concepts import grid_figure, map_figure, mark_cells
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
    figure = grid_figure if small else map_figure
    pooled = computed(lambda: {kind: pool(values, kind, k, s) for kind in POOL_KINDS}, stop=False)
    if pooled is None:
        return
    h, w = values.shape
    out_h, out_w = pooled["max"].output.shape
    st.markdown(t("concept.pool.sizes", h=h, w=w, k=k, s=s, rows=out_h, cols=out_w))
    g1, g2 = st.columns(2)
    if small:  # on a 4×4 grid the cells max pooling kept can be boxed; on a feature map they would bury it
        g1.plotly_chart(
            mark_cells(figure(values, t("concept.pool.input_winners")), pooled["max"].winners),
            key=f"{prefix}_fig_input",
        )
    else:
        g1.plotly_chart(figure(values, t("concept.pool.input")), key=f"{prefix}_fig_input")
    g2.plotly_chart(
        figure(pooled["max"].output, t("concept.pool.max", rows=out_h, cols=out_w)), key=f"{prefix}_fig_max"
    )
    g3, g4 = st.columns(2)
    g3.plotly_chart(
        figure(pooled["avg"].output, t("concept.pool.avg", rows=out_h, cols=out_w)), key=f"{prefix}_fig_avg"
    )
    g4.metric(t("concept.pool.global_max"), f"{float(pooled['global_max'].output[0, 0]):.4g}")
    g4.metric(t("concept.pool.global_avg"), f"{float(pooled['global_avg'].output[0, 0]):.4g}")
    if out_h == out_w == 1 and s > 1:
        explain(t("concept.pool.one_window", s=s, h=h, w=w))
    elif s > k:
        explain(t("concept.pool.gaps", s=s, k=k))


st.subheader(t("concept.pool.example"))
k, s = size_stride("cpo_ex", 2, 2, st)
show_pools(EXAMPLE_4X4, k, s, "cpo_ex", small=True)

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
cells = stage_grid(image, kernel, sorted(strides), bias, sorted(pairs))
for row_start in range(0, len(cells), len(pairs)):
    columns = st.columns(len(pairs))
    for column, cell in zip(columns, cells[row_start : row_start + len(pairs)]):
        with column:
            total = cell.conv_stride * cell.pool_stride
            head = t("concept.pool.cell", cs=cell.conv_stride, k=cell.pool_size, s=cell.pool_stride, total=total)
            if cell.pooled is None:
                st.markdown(f"**{head}**")
                explain(cell.note)
                continue
            rows, cols = cell.pooled.shape
            st.plotly_chart(
                map_figure(cell.pooled, f"{head} → {rows}×{cols}", height=260),
                key=f"cpo_fig_grid_{cell.conv_stride}_{cell.pool_size}_{cell.pool_stride}",
            )
st.caption(t("concept.pool.multiply"))
