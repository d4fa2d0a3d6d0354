"""Concept 3: classic kernels on a real photo, the sign of an edge response, and a filter over RGB."""

import streamlit as st

from app_pages._concepts import cached, computed, explain, fragment, lesson_header, pick_image, pick_kernel
from cnn_core.concepts.convolution import KERNEL_FORMULA, KERNELS, apply_kernel, edge_signs
from cnn_core.concepts.images import as_uint8, to_gray, to_rgb
from cnn_core.figures.concepts import grid_figure, panels_figure
from cnn_core.figures.images import as_picture, response_picture
from cnn_core.i18n import t

lesson_header("concept.kernels", KERNEL_FORMULA)
kernel_response = cached(apply_kernel)

left, right = st.columns([1, 2])
with left:
    image = pick_image("ck", default_source="photo", default_side=320)
    kernel = pick_kernel("ck", default="edge_vertical")
    colour = st.toggle(t("concept.kernels.rgb"), False, key="ck_rgb", help=t("concept.kernels.rgb.help"))

channels = to_rgb(image) if colour else to_gray(image)[None]
with right:
    # pictures, not charts: photo-sized maps have cells too small to point at, and a page of
    # pictures draws in a fraction of a chart's time
    pictures = [as_picture(as_uint8(channels))]
    captions = [t("concept.kernels.input", h=image.shape[1], w=image.shape[2])]
    response = computed(kernel_response, channels, kernel, stop=False)
    drawn = response is not None and not response.all_zero
    if drawn:
        rows, cols = response.total.shape
        pictures.append(response_picture(response.total, response.signed))
        captions.append(
            t("concept.kernels.sum", rows=rows, cols=cols)
            if colour
            else t("concept.kernels.response", rows=rows, cols=cols)
        )
    for picture, caption in zip(pictures, captions, strict=True):
        st.image(picture, caption=caption, width="stretch")
    if response is not None and response.all_zero:
        explain(t("concept.note.zero_kernel"))
    elif drawn:
        st.caption(
            t("concept.kernels.range", low=f"{response.total.min():.3f}", high=f"{response.total.max():.3f}")
            + " "
            + (t("concept.kernels.signed") if response.signed else t("concept.kernels.unsigned"))
        )

if colour and response is not None and not response.all_zero:
    st.subheader(t("concept.kernels.channels_title"))
    st.markdown(t("concept.kernels.channels_intro"))
    st.image(
        [response_picture(channel_map, response.signed) for channel_map in response.channel_maps],
        caption=[t(f"concept.kernels.channel.{name}") for name in ("red", "green", "blue")],
        width=300,
    )


@fragment
def edge_demo() -> None:
    """The signs of an edge's response: its size slider reruns and redraws only this part."""
    st.subheader(t("concept.kernels.edges_title"))
    st.markdown(t("concept.kernels.edges_intro"))
    size = int(
        st.slider(
            t("concept.kernels.edges_size"), 6, 20, 12, key="ck_edge_size", help=t("concept.kernels.edges_size.help")
        )
    )
    edges = edge_signs(size)
    edge_figures = [
        grid_figure(edges.image, t("concept.kernels.edges_image"), decimals=1),
        grid_figure(KERNELS["edge_vertical"], t("concept.kernels.edges_kernel"), diverging=True, decimals=0),
        grid_figure(
            edges.response,
            t("concept.kernels.edges_response"),
            diverging=True,
            decimals=1,
            box=(edges.row, edges.left_col, 1, edges.right_col - edges.left_col + 1),
        ),
    ]
    st.plotly_chart(panels_figure(edge_figures, 3, height=380), key="ck_fig_edges")  # three a row: width-bound
    st.markdown(
        t(
            "concept.kernels.edges_signs",
            left=f"{edges.left_value:+.1f}",
            right=f"{edges.right_value:+.1f}",
            row=edges.row,
            lcol=edges.left_col,
            rcol=edges.right_col,
        )
    )


edge_demo()
