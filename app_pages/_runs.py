"""The Runs page's view of one run, drawn from the RunInfo of the page's one read (runs.py): its
buttons (stop, resume, downloads, delete), its state message and progress, and its charts, or
a note that the first points are coming while it has none yet.
"""

import streamlit as st

from app_pages._widgets import download
from cnn_core.figures.training import (
    accuracy_figure,
    confusion_figure,
    has_points,
    loss_figure,
    per_class_figure,
    step_series_figure,
)
from cnn_core.files import read_json
from cnn_core.i18n import t
from cnn_core.runs.directory import ACTIVE_STATES, RunError, RunInfo, delete_run, request_stop
from cnn_core.runs.launcher import resume_run
from cnn_core.runs.metrics import MetricsCorrupt
from cnn_core.runs.tables import metric_frames, metrics_csv

MESSAGE = {"failed": st.error, "interrupted": st.warning, "queued": st.info, "completed": st.success}


def run_actions(run: RunInfo) -> None:
    """Stop or resume (as its state allows), the downloads, and delete with a confirmation."""
    state, a = run.status.state, st.columns(5)
    if state in ACTIVE_STATES and a[0].button(t("runs.stop"), key="r_stop", icon=":material/stop:"):
        request_stop(run.path)
        st.rerun()
    if state in ("stopped", "interrupted", "failed") and a[0].button(
        t("runs.resume"), key="r_resume", icon=":material/play_arrow:", type="primary"
    ):
        try:
            resume_run(run.path)
        except RunError as exc:
            st.error(str(exc), icon=":material/error:")
        else:
            st.rerun()  # only on success: a rerun would wipe the message
    config_json = (run.path / "config.json").read_bytes()
    download(a[1], "runs.download_config", config_json, f"{run.run_id}-config.json", "r_dl_config", "application/json")
    try:
        csv = metrics_csv(run.path)
        download(a[2], "runs.download_metrics", csv, f"{run.run_id}-metrics.csv", "r_dl_metrics", "text/csv")
    except MetricsCorrupt as exc:
        st.error(str(exc), icon=":material/error:")
    if (weights := run.path / "model.safetensors").exists():
        download(a[3], "runs.download_weights", weights.read_bytes(), f"{run.run_id}.safetensors", "r_dl_weights")
    if state not in ACTIVE_STATES:
        with a[4].popover(t("runs.delete"), icon=":material/delete:"):
            st.write(t("runs.delete.confirm", run_id=run.run_id))
            if st.button(t("runs.delete.yes"), key="r_delete", type="primary"):
                delete_run(run.path)
                st.session_state.pop("selected_run", None)
                st.rerun()


def run_details(run: RunInfo) -> None:
    """The state message and the progress bar, from the same status as the table and the picker."""
    status = run.status
    MESSAGE.get(status.state, st.caption)(t(f"runs.state_message.{status.state}", error=status.error or ""))
    counts = dict(epoch=status.epoch, epochs=status.epochs, step=status.step, total=status.total_steps)
    if status.state == "running":  # speed and time left mean something only while it trains
        speed, eta = f"{status.images_per_s or 0:,.0f}", f"{status.eta_s or 0:,.0f}"
        text = t("runs.progress", speed=speed, eta=eta, **counts)
    else:
        text = t("runs.progress.idle", **counts)
    st.progress(status.progress, text=text)


def run_charts(run: RunInfo) -> None:
    """Test metrics, the live curves, per-class accuracy and the confusion matrix by epoch."""
    try:
        steps, epochs, test = metric_frames(run.path)
    except MetricsCorrupt as exc:
        st.error(str(exc), icon=":material/error:")
        return
    if test is not None:
        m = st.columns(3)
        best = run.status.best_val_acc
        m[0].metric(t("runs.test_acc"), f"{test['test_acc']:.2%}")
        m[1].metric(t("runs.test_loss"), f"{test['test_loss']:.4f}")
        m[2].metric(t("runs.best_val"), f"{best:.2%}" if best is not None else "—")
    if not has_points(steps, "loss") and not has_points(epochs, "train_loss"):
        st.info(t("runs.first_points"), icon=":material/hourglass_top:")  # not empty axes
    else:
        c1, c2 = st.columns(2)
        c1.plotly_chart(loss_figure(steps, epochs), key="r_loss")
        c2.plotly_chart(accuracy_figure(steps, epochs), key="r_acc")
        c1.plotly_chart(step_series_figure(steps, "lr", t("reports.axis.lr")), key="r_lr")
        c2.plotly_chart(step_series_figure(steps, "images_per_s", t("reports.col.speed")), key="r_speed")
    classes = (read_json(run.path / "dataset.json") or {}).get("class_names", [])
    if has_points(epochs, "confusion") and classes:
        st.plotly_chart(per_class_figure(epochs, classes), key="r_per_class")
        choices = list(epochs["epoch"]) + ([t("runs.test_set")] if test else [])
        pick = st.select_slider(t("runs.confusion_epoch"), choices, value=choices[-1], key="r_conf_epoch")
        if pick == t("runs.test_set"):
            matrix = test["confusion"]
        else:
            matrix = epochs.loc[epochs["epoch"] == pick, "confusion"].iloc[0]
        normalise = st.toggle(t("runs.normalise"), key="r_norm")
        st.plotly_chart(confusion_figure(matrix, classes, normalise), key="r_confusion")
    if run.status.state == "failed" and (run.path / "worker.log").exists():
        with st.expander(t("runs.log")):
            st.code((run.path / "worker.log").read_text(errors="replace")[-6000:], language=None)
