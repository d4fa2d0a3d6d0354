"""Concept 9: batch size and speed — time one epoch for several batch sizes on this machine."""

import pandas as pd
import streamlit as st

from app_pages._concepts import computed, explain, lesson_header
from cnn_core.concepts.batch_speed import BATCH_SIZES, measure_batch_sizes, updates_formula
from cnn_core.figures.concepts import bars_figure, timing_figure
from cnn_core.i18n import t
from cnn_core.settings import get_settings
from cnn_core.train.devices import resolve_device

OPTIONS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)
RESULT = "cb_result"  # the last measurement, kept so it stays on screen across reruns

lesson_header("concept.batch", updates_formula())

cap_max = max(1, get_settings().concept_time_cap_s)
left, right = st.columns([1, 2])
with left:
    sizes = st.multiselect(
        t("concept.batch.sizes"), OPTIONS, list(BATCH_SIZES), key="cb_sizes", help=t("concept.batch.sizes.help")
    )
    cap = st.number_input(
        t("concept.batch.cap"),
        1,
        cap_max,
        min(20, cap_max),
        key="cb_cap",
        help=t("concept.batch.cap.help", cap=cap_max),
    )
    clicked = st.button(t("concept.batch.run"), type="primary", key="cb_run", disabled=not sizes)


def show(timings, device: str, used_cap: int) -> None:
    """The last measurement: table and charts."""
    m1, m2 = st.columns(2)
    m1.metric(t("concept.batch.device"), device)
    fastest = max(timings, key=lambda r: r.images_per_second)
    m2.metric(
        t("concept.batch.fastest"),
        t("concept.batch.fastest.value", batch=fastest.batch_size, rate=f"{fastest.images_per_second:,.0f}"),
    )
    table = pd.DataFrame(
        [
            {
                t("concept.batch.col.batch"): r.batch_size,
                t("concept.batch.col.updates"): r.updates_per_epoch,
                t("concept.batch.col.seconds"): round(r.seconds_per_epoch, 3),
                t("concept.batch.col.ms"): round(r.seconds_per_update * 1000, 3),
                t("concept.batch.col.rate"): round(r.images_per_second),
                t("concept.batch.col.how"): t(
                    "concept.batch.estimated" if r.estimated else "concept.batch.measured",
                    timed=r.updates_timed,
                    total=r.updates_per_epoch,
                ),
            }
            for r in timings
        ]
    )
    st.dataframe(table, hide_index=True)
    st.caption(t("concept.batch.caption", device=device, cap=used_cap))
    labels = [r.batch_size for r in timings]
    g1, g2 = st.columns(2)
    g1.plotly_chart(
        timing_figure(
            labels,
            [r.seconds_per_epoch for r in timings],
            title=t("concept.batch.fig.epoch"),
            x_title=t("concept.batch.col.batch"),
            y_title=t("concept.batch.fig.seconds"),
        ),
        key="cb_fig_epoch",
    )
    g2.plotly_chart(
        bars_figure(
            labels,
            [r.updates_per_epoch for r in timings],
            t("concept.batch.fig.updates"),
            t("concept.batch.col.updates"),
        ),
        key="cb_fig_updates",
    )
    st.plotly_chart(
        bars_figure(
            labels, [r.images_per_second for r in timings], t("concept.batch.fig.rate"), t("concept.batch.col.rate")
        ),
        key="cb_fig_rate",
    )
    if any(r.estimated for r in timings):
        explain(t("concept.batch.some_estimated"))


with right:
    if not sizes:
        explain(t("concept.batch.none"))
    elif clicked:
        bar = st.progress(0.0, text=t("concept.batch.starting"))
        measured = computed(
            measure_batch_sizes,
            sizes,
            time_cap_s=float(cap),
            on_progress=lambda done, text: bar.progress(done, text=text),
            stop=False,
        )
        if measured is not None:
            st.session_state[RESULT] = (*measured, int(cap))
        bar.empty()
    if RESULT in st.session_state:
        show(*st.session_state[RESULT])
    elif sizes:
        explain(t("concept.batch.before", n=len(sizes), cap=cap, device=resolve_device("auto")))

st.markdown(t("concept.batch.explain"))
