"""The Runs page's view of one run, drawn from the RunInfo of the page's one read (runs.py): its
buttons (stop, resume, downloads, delete; only the downloads for a demo's example run), its state
message, the limit that stopped it and its progress, and its charts, or a note that the first
points are coming while it has none yet.
"""

import streamlit as st

from app_pages._links import forget_run_in_link
from app_pages._widgets import download, kept_tabs
from cnn_core.data.catalog import class_labels
from cnn_core.errors import CnnLabError
from cnn_core.figures.training import (
    confusion_figure,
    curves_figure,
    has_points,
    per_class_figure,
)
from cnn_core.files import read_json
from cnn_core.i18n import t
from cnn_core.runs.directory import (
    ACTIVE_STATES,
    EXAMPLES_OWNER,
    RunInfo,
    check_access,
    delete_run,
    read_run_file,
    request_stop,
)
from cnn_core.runs.launcher import resume_run
from cnn_core.runs.metrics import MetricsCorrupt
from cnn_core.runs.tables import metric_frames, metrics_csv

MESSAGE = {"failed": st.error, "interrupted": st.warning, "queued": st.info, "completed": st.success}


def metrics_download(run: RunInfo, visitor: str | None) -> str:
    """The run's metrics as CSV, or, when they are corrupt, the message saying so (in the file)."""
    check_access(run.path, visitor, "download")
    try:
        return metrics_csv(run.path)
    except MetricsCorrupt as exc:
        return str(exc)


def run_actions(run: RunInfo, visitor: str | None) -> None:
    """Stop or resume (as its state allows), the downloads, and delete with a confirmation; an
    example run of the demo is read-only. Every action is checked for this visitor (cnn_core)."""
    state, a = run.status.state, st.columns(5)
    example = run.owner == EXAMPLES_OWNER
    if example:
        st.caption(t("runs.example"))
    changeable = not (example and visitor is not None)
    try:
        if changeable and state in ACTIVE_STATES and a[0].button(t("runs.stop"), key="r_stop", icon=":material/stop:"):
            request_stop(run.path, visitor)
            st.rerun()
        if (
            changeable
            and state in ("stopped", "interrupted", "failed")
            and a[0].button(t("runs.resume"), key="r_resume", icon=":material/play_arrow:", type="primary")
        ):
            resume_run(run.path, visitor)
            st.rerun()  # only on success: a rerun would wipe the message
        config_json = read_run_file(run.path, "config.json", visitor)
        download(
            a[1], "runs.download_config", config_json, f"{run.run_id}-config.json", "r_dl_config", "application/json"
        )
        # made on a click only, never on each refresh of a live page
        csv = lambda: metrics_download(run, visitor)  # noqa: E731
        download(a[2], "runs.download_metrics", csv, f"{run.run_id}-metrics.csv", "r_dl_metrics", "text/csv")
        if (run.path / "model.safetensors").exists():
            weights = lambda: read_run_file(run.path, "model.safetensors", visitor)  # noqa: E731
            download(a[3], "runs.download_weights", weights, f"{run.run_id}.safetensors", "r_dl_weights")
        if changeable and state not in ACTIVE_STATES:
            with a[4].popover(t("runs.delete"), icon=":material/delete:"):
                st.write(t("runs.delete.confirm", run_id=run.run_id))
                if st.button(t("runs.delete.yes"), key="r_delete", type="primary"):
                    delete_run(run.path, visitor)
                    forget_run_in_link()
                    st.rerun()
    except CnnLabError as exc:
        st.error(str(exc), icon=":material/error:")


def run_details(run: RunInfo) -> None:
    """The state message and the progress bar, from the same status as the table and the picker."""
    status = run.status
    MESSAGE.get(status.state, st.caption)(t(f"runs.state_message.{status.state}", error=status.error or ""))
    if status.limit_key or status.limit:  # a demo's limit stopped it: in this visitor's language
        st.warning(status.limit_text(), icon=":material/timer_off:")
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
    # the per-class charts in a tab of their own: a live page redraws only the open tab each second
    curves_tab, classes_tab = kept_tabs([t("runs.tab.curves"), t("runs.tab.classes")], "r_charts")
    with curves_tab:
        if curves_tab.open:
            if not has_points(steps, "loss") and not has_points(epochs, "train_loss"):
                st.info(t("runs.first_points"), icon=":material/hourglass_top:")  # not empty axes
            else:
                st.plotly_chart(curves_figure(steps, epochs), key="r_curves")
    with classes_tab:
        if classes_tab.open:
            class_charts(epochs, test, run)
    if run.status.state == "failed" and (run.path / "worker.log").exists():
        with st.expander(t("runs.log")):
            st.code((run.path / "worker.log").read_text(errors="replace")[-6000:], language=None)


def class_charts(epochs, test: dict | None, run: RunInfo) -> None:
    """Per-class accuracy by epoch and the confusion matrix of a chosen epoch (or of the test set)."""
    classes = class_labels((read_json(run.path / "dataset.json") or {}).get("class_names", []))
    if not (has_points(epochs, "confusion") and classes):
        st.info(t("runs.classes_later"), icon=":material/hourglass_top:")
        return
    st.plotly_chart(per_class_figure(epochs, classes), key="r_per_class")
    choices = list(epochs["epoch"]) + ([t("runs.test_set")] if test else [])
    # persist_state: kept while the other tab is open (only the open tab is drawn)
    pick = st.select_slider(
        t("runs.confusion_epoch"), choices, value=choices[-1], key="r_conf_epoch", persist_state="page"
    )
    if pick == t("runs.test_set"):
        matrix = test["confusion"]
    else:
        matrix = epochs.loc[epochs["epoch"] == pick, "confusion"].iloc[0]
    normalise = st.toggle(t("runs.normalise"), key="r_norm", persist_state="page")
    st.plotly_chart(confusion_figure(matrix, classes, normalise), key="r_confusion")
