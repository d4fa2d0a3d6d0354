"""Runs: every run on disk this visitor may see, its live charts, its actions, and a comparison of
several runs. The selected run (?run=) and tab are in the page's link.

One read of the runs (list_runs) per refresh feeds everything on the page: the table, the run
picker, the state message, the progress bar, the buttons and the charts. While a run is active
the whole view is one fragment refreshed each second (four times a second until the run's first
point), so they never disagree; the charts keep
the user's zoom (a constant uirevision).
"""

import streamlit as st

from app_pages._language import in_visitor_language
from app_pages._links import announce_launch, keep_run_in_link, launch_announced, run_from_link, share_view
from app_pages._runs import run_actions, run_charts, run_details
from app_pages._visitor import current_visitor
from app_pages._widgets import kept_tabs, link_values, notice_ignored_link_values, pick_run
from cnn_core.figures.training import compare_figure, has_points
from cnn_core.i18n import t
from cnn_core.runs.directory import list_runs
from cnn_core.runs.metrics import refresh_interval_s
from cnn_core.runs.tables import config_differences, metric_frames, run_title, runs_table

st.title(t("runs.title"))
announce_launch()


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
        persist_state="page",
        format_func=lambda i: run_title(by_id[i].config, i),
    )
    if len(picked) < 2:
        st.info(t("runs.compare.need_two"), icon=":material/info:")
        return
    frames = {run_title(by_id[i].config, i): metric_frames(by_id[i].path)[1] for i in picked}
    if not any(has_points(frame, "val_acc") for frame in frames.values()):
        st.info(t("runs.compare.no_points"), icon=":material/hourglass_top:")
    else:
        c1, c2 = st.columns(2)
        c1.plotly_chart(compare_figure(frames, "val_acc", t("runs.compare.val_acc"), percent=True), key="r_cmp_acc")
        c2.plotly_chart(compare_figure(frames, "val_loss", t("runs.compare.val_loss")), key="r_cmp_loss")
    st.dataframe(config_differences([by_id[i] for i in picked]), hide_index=True, key="r_cmp_table")


def view(refreshed_every: float | None) -> None:
    opened_with = link_values()
    runs = list_runs(visitor=visitor)  # the one read of this refresh: this visitor's runs
    run_from_link([r.run_id for r in runs])
    if not runs:
        st.info(t("runs.empty"), icon=":material/info:")
        st.page_link("app_pages/train.py", label=t("runs.go_train"), icon=":material/model_training:")
        return
    if refresh_interval_s(runs) != refreshed_every:
        st.rerun()  # a run started, ended or drew its first point: the whole page, with its new refresh
    show_table(runs)
    share_slot = st.container()
    live_tab, compare_tab = kept_tabs([t("runs.tab.run"), t("runs.tab.compare")], "r_tab")
    with live_tab:
        run = pick_run(runs, "r_select")
        keep_run_in_link(run.run_id)
        run_actions(run, visitor)
        run_details(run)
        run_charts(run)
    with compare_tab:
        if compare_tab.open:  # only the open tab is drawn (its switch reruns the page)
            compare(runs)
    notice_ignored_link_values(opened_with)
    share_view(share_slot)


visitor = current_visitor()  # None outside a hosted demo: every run
# only to set the refresh; view reads again, as every refresh does
every = refresh_interval_s(list_runs(visitor=visitor))
st.fragment(run_every=every)(in_visitor_language(view))(every)
launch_announced()
