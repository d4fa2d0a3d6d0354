"""Concept 4: a patch of the photo used as the kernel lights up where that patch sits."""

import streamlit as st

from app_pages._concepts import cached, computed, explain, lesson_header, pick_image
from app_pages._widgets import choice
from cnn_core.concepts.images import to_gray
from cnn_core.concepts.patch_match import MATCH_METHODS, match_formula, match_patch
from cnn_core.figures.concepts import map_figure, photo_figure
from cnn_core.i18n import t
from cnn_core.settings import get_settings

lesson_header("concept.patch", match_formula())

left, right = st.columns([1, 2])
with left:
    image = pick_image("cp", default_source="photo", default_side=200)
    biggest = get_settings().concept_max_side  # a patch may be placed anywhere on the largest picture
    c1, c2, c3 = st.columns(3)
    top = int(c1.number_input(t("concept.patch.top"), 0, biggest, 4, key="cp_top", help=t("concept.patch.place.help")))
    lft = int(
        c2.number_input(t("concept.patch.left"), 0, biggest, 54, key="cp_left", help=t("concept.patch.place.help"))
    )
    size = int(
        c3.number_input(t("concept.patch.size"), 1, biggest, 20, key="cp_size", help=t("concept.patch.size.help"))
    )
    method = choice("concept.patch.method", MATCH_METHODS, "cp_method", help=t("concept.patch.method.help"))
    st.caption(t("concept.patch.default_note"))

match = computed(cached(match_patch), to_gray(image), top, lft, size, method, container=right, stop=False)
if match is None:
    right.plotly_chart(
        photo_figure(image, t("concept.patch.photo_only", h=image.shape[1], w=image.shape[2])),
        key="cp_fig_photo_only",
    )
    st.stop()

peak = match.peak
with right:
    p1, p2 = st.columns([2, 1])
    p1.plotly_chart(
        photo_figure(
            image,
            t("concept.patch.photo"),
            box=(top, lft, size, size),
            marker=(peak[0] + (size - 1) / 2, peak[1] + (size - 1) / 2),
        ),
        key="cp_fig_photo",
    )
    p2.plotly_chart(
        photo_figure(match.patch[None], t("concept.patch.patch", size=size), height=220), key="cp_fig_patch"
    )
    if match.response.size == 1:
        note = t("concept.patch.one_position")
    else:
        note = t("concept.note.zero_kernel") if method == "raw" and not match.patch.any() else None
    if note:
        explain(note)
    else:
        rows, cols = match.response.shape
        st.plotly_chart(
            map_figure(
                match.response,
                t(f"concept.patch.response.{method}", rows=rows, cols=cols),
                marker=peak,
                box=(top, lft, 1, 1),
                zrange=(-1.0, 1.0) if method == "normalised" else None,
            ),
            key="cp_fig_response",
        )

if not note:
    score, own = f"{match.peak_score:.3f}", f"{match.own_score:.3f}"
    if match.peak == match.origin:
        st.success(t("concept.patch.found", row=peak[0], col=peak[1], score=score), icon=":material/check_circle:")
    elif match.found_itself:
        st.success(
            t("concept.patch.tie", row=peak[0], col=peak[1], score=score, top=top, left=lft),
            icon=":material/check_circle:",
        )
    else:
        st.warning(
            t("concept.patch.elsewhere", row=peak[0], col=peak[1], score=score, top=top, left=lft, own=own),
            icon=":material/warning:",
        )
    if method == "raw" and match.flat:
        explain(t("concept.patch.flat_raw"))
st.markdown(t(f"concept.patch.explain.{method}"))
