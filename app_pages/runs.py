"""Runs: every run on disk, its live charts, its actions, and a comparison of several runs.

One read of the runs (list_runs) per refresh feeds everything on the page: the table, the run
picker, the state message, the progress bar, the buttons and the charts. While a run is active
the whole view is one fragment refreshed each second, so they never disagree; the charts keep
the user's zoom (a constant uirevision).
"""

import streamlit as st

from app_pages._runs import run_actions, run_charts, run_details
from app_pages._widgets import pick_run
from cnn_core.figures.training import compare_figure, has_points
from cnn_core.i18n import t
from cnn_core.runs.directory import ACTIVE_STATES, list_runs
from cnn_core.runs.tables import config_differences, metric_frames, runs_table

st.title(t("runs.title"))


def any_active(runs) -> bool:
    return any(r.status.state in ACTIVE_STATES for r in runs)


def show_table(runs) -> None:
    percent = st.column_config.NumberColumn(format="percent")
    progress = st.column_config.ProgressColumn(t("reports.col.progress"), min_value=0, max_value=1, format="percent")
    columns = {t("reports.col.progress"): progress, t("reports.col.best_val"): percent, t("reports.col.test"): percent}
    st.dataframe(runs_table(runs).drop(columns=["run_id"]), hide_index=True, key="r_table", column_config=columns)


def compare(runs) -> None:
    by_id = {r.run_id: r for r in runs}
    ids = list(by_id)
    picked = st.multiselect(
        t("runs.compare.pick"),
        ids,
        default=ids[:2],
        key="r_compare",
        format_func=lambda i: by_id[i].config.get("name") or i,
    )
    if len(picked) < 2:
        st.info(t("runs.compare.need_two"), icon=":material/info:")
        return
    frames = {by_id[i].config.get("name") or i: metric_frames(by_id[i].path)[1] for i in picked}
    if not any(has_points(frame, "val_acc") for frame in frames.values()):
        st.info(t("runs.compare.no_points"), icon=":material/hourglass_top:")
    else:
        c1, c2 = st.columns(2)
        c1.plotly_chart(compare_figure(frames, "val_acc", t("runs.compare.val_acc"), percent=True), key="r_cmp_acc")
        c2.plotly_chart(compare_figure(frames, "val_loss", t("runs.compare.val_loss")), key="r_cmp_loss")
    st.dataframe(config_differences([by_id[i] for i in picked]), hide_index=True, key="r_cmp_table")


def view(was_active: bool) -> None:
    runs = list_runs()  # the one read of this refresh
    if not runs:
        st.info(t("runs.empty"), icon=":material/info:")
        st.page_link("app_pages/train.py", label=t("runs.go_train"), icon=":material/model_training:")
        return
    if any_active(runs) != was_active:
        st.rerun()  # a run started or ended: the whole page again, with the refresh on or off
    show_table(runs)
    live_tab, compare_tab = st.tabs([t("runs.tab.run"), t("runs.tab.compare")])
    with live_tab:
        run = pick_run(runs, "r_select")
        run_actions(run)
        run_details(run)
        run_charts(run)
    with compare_tab:
        compare(runs)


active = any_active(list_runs())  # only to switch the refresh on or off; view reads again, as every refresh does
st.fragment(run_every=1.0 if active else None)(view)(active)
