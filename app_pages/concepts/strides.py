"""Concept 5: stride — the same kernel at several strides: smaller maps, about s² less work."""

import streamlit as st

from app_pages._concepts import cached, computed, explain, lesson_header, pick_image, pick_kernel
from app_pages._widgets import choice
from cnn_core.concepts.images import to_gray
from cnn_core.concepts.patch_match import cut_patch
from cnn_core.concepts.strides import stride_formula, stride_summary, stride_sweep
from cnn_core.figures.concepts import map_figure, panels_figure, photo_figure, timing_figure
from cnn_core.i18n import t
from cnn_core.settings import get_settings

CHOICES = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 128)
SOURCES = ("patch", "named")
PER_ROW = 3
RUN = "cst_run"  # how many times "again" was pressed: a new number measures again


@cached
def measured_sweep(gray, kernel, strides, run: int):
    """The timed sweep, measured once per input and run number (a rerun reuses its timings)."""
    return stride_sweep(gray, kernel, strides, repeats=5)


def measure_again() -> None:
    st.session_state[RUN] = st.session_state.get(RUN, 0) + 1


lesson_header("concept.strides", stride_formula())

biggest = get_settings().concept_max_side
left, right = st.columns([1, 2])
with left:
    image = pick_image("cst", default_source="photo", default_side=320)
    source = choice("concept.strides.source", SOURCES, "cst_kernel_source")
    if source == "patch":
        size = int(st.slider(t("concept.strides.size"), 1, 70, 32, key="cst_size", help=t("concept.strides.size.help")))
        c1, c2 = st.columns(2)
        top = int(c1.number_input(t("concept.patch.top"), 0, biggest, 30, key="cst_top"))
        lft = int(c2.number_input(t("concept.patch.left"), 0, biggest, 60, key="cst_left"))
        centred = st.checkbox(
            t("concept.strides.centred"), True, key="cst_centred", help=t("concept.strides.centred.help")
        )
    else:
        kernel = pick_kernel("cst", default="edge_vertical")
    strides = st.multiselect(
        t("concept.strides.pick"),
        CHOICES,
        default=[1, 2, 4, 8, 16],
        key="cst_strides",
        help=t("concept.strides.pick.help"),
    )

gray = to_gray(image)
if source == "patch":
    kernel = computed(cut_patch, gray, top, lft, size, centred, container=right)
run = st.session_state.get(RUN, 0)
results = computed(measured_sweep, gray, kernel, sorted(strides), run, container=right) if strides else []
if not strides:
    with right:
        explain(t("concept.strides.none"))
    st.stop()
if not kernel.any():
    with right:
        explain(t("concept.strides.flat_patch") if source == "patch" else t("concept.note.zero_kernel"))
    st.stop()

rows = stride_summary(results)
ref = rows[0]
with right:
    box = (top, lft, size, size) if source == "patch" else None
    kh, kw = kernel.shape
    st.plotly_chart(
        photo_figure(
            image,
            t("concept.strides.photo", h=gray.shape[0], w=gray.shape[1], kh=kh, kw=kw),
            box=box,
            marker=(results[0].peak[0] + (kh - 1) / 2, results[0].peak[1] + (kw - 1) / 2),
        ),
        key="cst_fig_photo",
    )
    st.markdown(t("concept.strides.summary", s=ref.stride, macs=f"{ref.macs:,}", ms=f"{ref.ms:.2f}"))

maps = [
    map_figure(
        result.output,
        t("concept.strides.map", s=row.stride, h=row.height, w=row.width),
        marker=(result.peak[0] // result.stride, result.peak[1] // result.stride),
        height=280,
        showscale=False,
    )
    for result, row in zip(results, rows)
]
st.plotly_chart(panels_figure(maps, PER_ROW), key="cst_fig_maps")

st.button(
    t("concept.strides.again"),
    key="cst_again",
    icon=":material/timer:",
    help=t("concept.strides.again.help"),
    on_click=measure_again,
)
st.plotly_chart(
    timing_figure(
        [r.stride for r in rows],
        [r.ms / 1000 for r in rows],
        ideal=[r.ideal_seconds for r in rows],
        title=t("concept.strides.timing", s=ref.stride),
        x_title=t("concept.strides.col.stride"),
        y_title=t("concept.strides.seconds"),
    ),
    key="cst_fig_timing",
)
st.table(  # a few rows: a static table draws in a fraction of a data grid's time
    {
        t("concept.strides.col.stride"): [r.stride for r in rows],
        t("concept.strides.col.output"): [f"{r.height}×{r.width}" for r in rows],
        t("concept.strides.col.macs"): [r.macs for r in rows],
        t("concept.strides.col.ms"): [round(r.ms, 3) for r in rows],
        t("concept.strides.col.speedup", s=ref.stride): [round(r.speedup, 1) for r in rows],
        t("concept.strides.col.mac_ratio", s=ref.stride): [round(r.mac_ratio, 1) for r in rows],
        t("concept.strides.col.ideal", s=ref.stride): [round(r.ideal, 1) for r in rows],
    },
    hide_index=True,
)
st.markdown(t("concept.strides.explain"))
st.markdown(
    t(
        "concept.strides.peaks",
        shift=max(r.peak_shift for r in rows),
        s=ref.stride,
        row=results[0].peak[0],
        col=results[0].peak[1],
    )
)
single = [str(r.stride) for r in rows if r.height * r.width == 1 and r.stride > 1]
if single:
    explain(t("concept.strides.one_window", strides=", ".join(single), h=gray.shape[0], w=gray.shape[1], kh=kh, kw=kw))
