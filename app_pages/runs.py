"""Runs: every run on disk, its live charts, its actions, and a comparison of several runs."""

import streamlit as st

from app_pages._widgets import download, run_label
from cnn_core.figures.training import (
    accuracy_figure,
    compare_figure,
    confusion_figure,
    loss_figure,
    per_class_figure,
    step_series_figure,
)
from cnn_core.files import read_json
from cnn_core.i18n import t
from cnn_core.runs.directory import ACTIVE_STATES, RunError, delete_run, list_runs, read_status, request_stop
from cnn_core.runs.launcher import resume_run
from cnn_core.runs.metrics import MetricsCorrupt
from cnn_core.runs.tables import config_differences, metric_frames, metrics_csv, runs_table

state = st.session_state
st.title(t("runs.title"))
runs = list_runs()
if not runs:
    st.info(t("runs.empty"), icon=":material/info:")
    st.page_link("app_pages/train.py", label=t("runs.go_train"), icon=":material/model_training:")
    st.stop()

percent = st.column_config.NumberColumn(format="percent")
progress = st.column_config.ProgressColumn(t("reports.col.progress"), min_value=0, max_value=1, format="percent")
columns = {t("reports.col.progress"): progress, t("reports.col.best_val"): percent, t("reports.col.test"): percent}
st.dataframe(runs_table(runs).drop(columns=["run_id"]), hide_index=True, key="r_table", column_config=columns)
ids = [r.run_id for r in runs]
by_id = {r.run_id: r for r in runs}
default = ids.index(state["selected_run"]) if state.get("selected_run") in ids else 0
live_tab, compare_tab = st.tabs([t("runs.tab.run"), t("runs.tab.compare")])

with live_tab:
    run_id = st.selectbox(t("runs.select"), ids, default, key="r_select", format_func=lambda i: run_label(by_id[i]))
    state["selected_run"] = run_id
    run = by_id[run_id]
    a = st.columns(5)
    if run.status.state in ACTIVE_STATES and a[0].button(t("runs.stop"), key="r_stop", icon=":material/stop:"):
        request_stop(run.path)
        st.rerun()
    if run.status.state in ("stopped", "interrupted", "failed") and a[0].button(
        t("runs.resume"), key="r_resume", icon=":material/play_arrow:", type="primary"
    ):
        try:
            resume_run(run.path)
        except RunError as exc:
            st.error(str(exc))
        else:
            st.rerun()  # only on success: a rerun would wipe the message
    config_json = (run.path / "config.json").read_bytes()
    download(a[1], "runs.download_config", config_json, f"{run_id}-config.json", "r_dl_config", "application/json")
    try:
        csv = metrics_csv(run.path)
        download(a[2], "runs.download_metrics", csv, f"{run_id}-metrics.csv", "r_dl_metrics", "text/csv")
    except MetricsCorrupt as exc:
        st.error(str(exc))
    if (weights := run.path / "model.safetensors").exists():
        download(a[3], "runs.download_weights", weights.read_bytes(), f"{run_id}.safetensors", "r_dl_weights")
    if run.status.state not in ACTIVE_STATES:
        with a[4].popover(t("runs.delete"), icon=":material/delete:"):
            st.write(t("runs.delete.confirm", run_id=run_id))
            if st.button(t("runs.delete.yes"), key="r_delete", type="primary"):
                delete_run(run.path)
                state.pop("selected_run", None)
                st.rerun()

    @st.fragment(run_every=1.0 if run.status.state in ACTIVE_STATES else None)
    def live_view(run_dir, was_active: bool):
        status = read_status(run_dir)
        if was_active and status.state not in ACTIVE_STATES:
            st.rerun()  # finished: refresh the whole page (table, buttons)
        message = t(f"runs.state_message.{status.state}", error=status.error or "")
        {"failed": st.error, "interrupted": st.warning, "queued": st.info, "completed": st.success}.get(
            status.state, st.caption
        )(message)
        st.progress(
            status.progress,
            text=t(
                "runs.progress",
                epoch=status.epoch,
                epochs=status.epochs,
                step=status.step,
                total=status.total_steps,
                speed=f"{status.images_per_s or 0:,.0f}",
                eta=f"{status.eta_s or 0:,.0f}",
            ),
        )
        try:
            steps, epochs, test = metric_frames(run_dir)
        except MetricsCorrupt as exc:
            st.error(str(exc))
            return
        if test is not None:
            m = st.columns(3)
            m[0].metric(t("runs.test_acc"), f"{test['test_acc']:.2%}")
            m[1].metric(t("runs.test_loss"), f"{test['test_loss']:.4f}")
            m[2].metric(t("runs.best_val"), f"{status.best_val_acc:.2%}" if status.best_val_acc is not None else "—")
        c1, c2 = st.columns(2)
        c1.plotly_chart(loss_figure(steps, epochs), key="r_loss")
        c2.plotly_chart(accuracy_figure(steps, epochs), key="r_acc")
        c1.plotly_chart(step_series_figure(steps, "lr", t("reports.axis.lr")), key="r_lr")
        c2.plotly_chart(step_series_figure(steps, "images_per_s", t("reports.col.speed")), key="r_speed")

    live_view(run.path, run.status.state in ACTIVE_STATES)
    _, epochs, test = metric_frames(run.path)
    classes = (read_json(run.path / "dataset.json") or {}).get("class_names", [])
    if not epochs.empty and "confusion" in epochs and classes:
        st.plotly_chart(per_class_figure(epochs, classes), key="r_per_class")
        choices = list(epochs["epoch"]) + ([t("runs.test_set")] if test else [])
        pick = st.select_slider(t("runs.confusion_epoch"), choices, value=choices[-1], key="r_conf_epoch")
        matrix = (
            test["confusion"]
            if pick == t("runs.test_set")
            else epochs.loc[epochs["epoch"] == pick, "confusion"].iloc[0]
        )
        normalise = st.toggle(t("runs.normalise"), key="r_norm")
        st.plotly_chart(confusion_figure(matrix, classes, normalise), key="r_confusion")
    if run.status.state == "failed" and (run.path / "worker.log").exists():
        with st.expander(t("runs.log")):
            st.code((run.path / "worker.log").read_text(errors="replace")[-6000:], language=None)

with compare_tab:
    picked = st.multiselect(
        t("runs.compare.pick"),
        ids,
        default=ids[:2],
        key="r_compare",
        format_func=lambda i: by_id[i].config.get("name") or i,
    )
    if len(picked) >= 2:
        frames = {by_id[i].config.get("name") or i: metric_frames(by_id[i].path)[1] for i in picked}
        c1, c2 = st.columns(2)
        c1.plotly_chart(compare_figure(frames, "val_acc", t("runs.compare.val_acc"), percent=True), key="r_cmp_acc")
        c2.plotly_chart(compare_figure(frames, "val_loss", t("runs.compare.val_loss")), key="r_cmp_loss")
        st.dataframe(config_differences([by_id[i] for i in picked]), hide_index=True, key="r_cmp_table")
    else:
        st.info(t("runs.compare.need_two"))
