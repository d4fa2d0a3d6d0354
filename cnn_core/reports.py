"""Turning run directories into tables and figures for the pages: the runs table, metric
frames, live charts, the comparison of runs, and CSV export.
"""
from __future__ import annotations

import io
import json
from datetime import datetime
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go

from cnn_core.i18n import t
from cnn_core.runs import RunInfo, read_metrics

CHART_REVISION = "keep"  # a constant uirevision keeps the user's zoom across live refreshes


def network_label(config: dict) -> str:
    if config.get("spec"):
        return (config["spec"].get("name") or t("reports.custom_spec")) if isinstance(config["spec"], dict) else "?"
    return str(config.get("preset") or "?")


def runs_table(runs: list[RunInfo]) -> pd.DataFrame:
    rows = []
    for run in runs:
        s = run.status
        rows.append({
            t("reports.col.run"): run.config.get("name") or run.run_id,
            t("reports.col.dataset"): run.config.get("dataset"),
            t("reports.col.network"): network_label(run.config),
            t("reports.col.state"): t(f"state.{s.state}"),
            t("reports.col.progress"): round(s.progress, 3),
            t("reports.col.epoch"): f"{s.epoch}/{s.epochs or run.config.get('epochs', '?')}",
            t("reports.col.best_val"): s.best_val_acc,
            t("reports.col.test"): s.test_acc,
            t("reports.col.speed"): round(s.images_per_s) if s.images_per_s and s.state == "running" else None,
            t("reports.col.eta"): round(s.eta_s) if s.eta_s and s.state == "running" else None,
            t("reports.col.started"): datetime.fromtimestamp(s.created).strftime("%Y-%m-%d %H:%M:%S"),
            "run_id": run.run_id,
        })
    return pd.DataFrame(rows)


def metric_frames(run_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame, dict | None]:
    """(step records, epoch records, the test record or None)."""
    records = read_metrics(run_dir)
    steps = pd.DataFrame([r for r in records if r["kind"] == "step"])
    epochs = pd.DataFrame([r for r in records if r["kind"] == "epoch"])
    tests = [r for r in records if r["kind"] == "test"]
    return steps, epochs, (tests[-1] if tests else None)


def _figure(title: str, y_title: str, percent: bool = False) -> go.Figure:
    fig = go.Figure()
    fig.update_layout(title=title, height=320, margin=dict(l=10, r=10, t=40, b=10), uirevision=CHART_REVISION,
                      legend=dict(orientation="h", y=-0.2), xaxis_title=t("reports.axis.epoch"), yaxis_title=y_title)
    if percent:
        fig.update_yaxes(tickformat=".0%")
    return fig


def _train_val_figure(steps: pd.DataFrame, epochs: pd.DataFrame, metric: str, title: str, axis: str,
                      percent: bool = False) -> go.Figure:
    """Per logged step (light), per epoch (dark) and validation (orange) curves of one metric."""
    fig = _figure(title, axis, percent)
    series = [(steps, metric, "reports.series.train_step", "lines", "#9ecae1"),
              (epochs, f"train_{metric}", "reports.series.train_epoch", "lines+markers", "#3182bd"),
              (epochs, f"val_{metric}", "reports.series.val", "lines+markers", "#e6550d")]
    for frame, column, name, mode, colour in series:
        if not frame.empty and column in frame:
            fig.add_trace(go.Scatter(x=frame["epoch"], y=frame[column], name=t(name), mode=mode,
                                     line=dict(color=colour)))
    return fig


def loss_figure(steps: pd.DataFrame, epochs: pd.DataFrame) -> go.Figure:
    return _train_val_figure(steps, epochs, "loss", t("reports.chart.loss"), t("reports.axis.loss"))


def accuracy_figure(steps: pd.DataFrame, epochs: pd.DataFrame) -> go.Figure:
    return _train_val_figure(steps, epochs, "acc", t("reports.chart.accuracy"), t("reports.axis.accuracy"),
                             percent=True)


def step_series_figure(steps: pd.DataFrame, column: str, title: str) -> go.Figure:
    fig = _figure(title, title)
    fig.update_yaxes(rangemode="tozero", exponentformat="e" if column == "lr" else "none")
    if not steps.empty and column in steps:
        fig.add_trace(go.Scatter(x=steps["epoch"], y=steps[column], mode="lines", name=title))
    return fig


def per_class_figure(epochs: pd.DataFrame, class_names: list[str]) -> go.Figure:
    fig = _figure(t("reports.chart.per_class"), t("reports.axis.accuracy"), percent=True)
    if not epochs.empty and "per_class_acc" in epochs:
        matrix = list(epochs["per_class_acc"])
        for c, name in enumerate(class_names):
            fig.add_trace(go.Scatter(x=epochs["epoch"], y=[row[c] if c < len(row) else None for row in matrix],
                                     mode="lines+markers", name=str(name)))
    return fig


def confusion_figure(confusion: list[list[int]], class_names: list[str], normalise: bool = False) -> go.Figure:
    z = confusion
    if normalise:
        z = [[v / max(1, sum(row)) for v in row] for row in confusion]
    fig = go.Figure(go.Heatmap(z=z, x=class_names, y=class_names, colorscale="Blues",
                               text=confusion, texttemplate="%{text}", hovertemplate=t("reports.confusion.hover")))
    fig.update_layout(height=420, margin=dict(l=10, r=10, t=30, b=10), xaxis_title=t("reports.axis.predicted"),
                      yaxis_title=t("reports.axis.true"), uirevision=CHART_REVISION)
    fig.update_yaxes(autorange="reversed", type="category")
    fig.update_xaxes(type="category")
    return fig


def lr_figure(steps: list[int], lrs: list[float], steps_per_epoch: int) -> go.Figure:
    fig = go.Figure(go.Scatter(x=[s / max(1, steps_per_epoch) for s in steps], y=lrs, mode="lines"))
    fig.update_layout(height=240, margin=dict(l=10, r=10, t=30, b=10), title=t("reports.chart.lr_plan"),
                      xaxis_title=t("reports.axis.epoch"), yaxis_title=t("reports.axis.lr"))
    return fig


def compare_figure(runs: dict[str, pd.DataFrame], column: str, title: str, percent: bool = False) -> go.Figure:
    fig = _figure(title, title, percent)
    for label, epochs in runs.items():
        if not epochs.empty and column in epochs:
            fig.add_trace(go.Scatter(x=epochs["epoch"], y=epochs[column], mode="lines+markers", name=label))
    return fig


def config_differences(runs: list[RunInfo]) -> pd.DataFrame:
    """Settings that differ between the runs (one row per run), with their final accuracies."""
    flat = {run.run_id: {k: (json.dumps(v, sort_keys=True) if isinstance(v, (dict, list)) else v)
                         for k, v in run.config.items()} for run in runs}
    keys = sorted({k for cfg in flat.values() for k in cfg})
    differing = [k for k in keys if len({json.dumps(cfg.get(k), sort_keys=True, default=str)
                                         for cfg in flat.values()}) > 1]
    rows = []
    for run in runs:
        row = {t("reports.col.run"): run.config.get("name") or run.run_id}
        row.update({k: flat[run.run_id].get(k) for k in differing})
        row[t("reports.col.best_val")] = run.status.best_val_acc
        row[t("reports.col.test")] = run.status.test_acc
        rows.append(row)
    return pd.DataFrame(rows)


def metrics_csv(run_dir: Path) -> str:
    """Step and epoch records as one CSV (nested per-class values stay JSON text)."""
    records = [{k: (json.dumps(v) if isinstance(v, (list, dict)) else v) for k, v in r.items()}
               for r in read_metrics(run_dir)]
    buffer = io.StringIO()
    pd.DataFrame(records).to_csv(buffer, index=False)
    return buffer.getvalue()
