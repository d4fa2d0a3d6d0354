"""Training charts: loss and accuracy (train and validation), learning rate, speed, per-class
accuracy, the confusion matrix, and several runs compared.
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
from plotly.colors import qualitative

from cnn_core.figures import panel_title
from cnn_core.i18n import t

CHART_REVISION = "keep"  # a constant uirevision keeps the user's zoom across live refreshes


def _layout(title: str, y_title: str, percent: bool = False, **y_more) -> dict:
    """A training chart's layout, as one dict: Plotly's update_layout after construction costs
    several times more, and the Runs page rebuilds its charts every second."""
    yaxis = dict(title=dict(text=y_title), **y_more)
    if percent:
        yaxis["tickformat"] = ".0%"
    return dict(
        title=dict(text=title),
        height=320,
        margin=dict(l=10, r=10, t=40, b=10),
        uirevision=CHART_REVISION,
        legend=dict(orientation="h", y=-0.2),
        xaxis=dict(title=dict(text=t("reports.axis.epoch"))),
        yaxis=yaxis,
    )


def _figure(title: str, y_title: str, percent: bool = False) -> go.Figure:
    return go.Figure(layout=_layout(title, y_title, percent))


def _train_val_traces(steps: pd.DataFrame, epochs: pd.DataFrame, metric: str) -> list[dict]:
    """Per logged step (light), per epoch (dark) and validation (orange) curves of one metric."""
    series = [
        (steps, metric, "reports.series.train_step", "lines", "#9ecae1"),
        (epochs, f"train_{metric}", "reports.series.train_epoch", "lines+markers", "#3182bd"),
        (epochs, f"val_{metric}", "reports.series.val", "lines+markers", "#e6550d"),
    ]
    return [
        dict(type="scatter", x=frame["epoch"], y=frame[column], name=t(name), mode=mode, line=dict(color=colour))
        for frame, column, name, mode, colour in series
        if not frame.empty and column in frame
    ]


def _step_traces(steps: pd.DataFrame, column: str, title: str) -> list[dict]:
    if steps.empty or column not in steps:
        return []
    return [dict(type="scatter", x=steps["epoch"], y=steps[column], mode="lines", name=title)]


def _step_axis(column: str) -> dict:
    return dict(rangemode="tozero", exponentformat="e" if column == "lr" else "none")


def curves_figure(steps: pd.DataFrame, epochs: pd.DataFrame) -> go.Figure:
    """Loss and accuracy (per step, per epoch, validation), learning rate and speed as one figure of
    four panels (two a row), drawn by the browser as one chart (each chart costs it ~65 ms on a
    2-core CPU, and the Runs page redraws them every second); built from plain dicts, validated once."""
    lr, speed = t("reports.axis.lr"), t("reports.col.speed")
    panels = [  # title, traces, the y axis's title and format
        (
            t("reports.chart.loss"),
            _train_val_traces(steps, epochs, "loss"),
            dict(title=dict(text=t("reports.axis.loss"))),
        ),
        (
            t("reports.chart.accuracy"),
            _train_val_traces(steps, epochs, "acc"),
            dict(title=dict(text=t("reports.axis.accuracy")), tickformat=".0%"),
        ),
        (lr, _step_traces(steps, "lr", lr), dict(title=dict(text=lr), **_step_axis("lr"))),
        (speed, _step_traces(steps, "images_per_s", speed), dict(title=dict(text=speed), **_step_axis("images_per_s"))),
    ]
    width, height, gap_x, gap_y = 0.46, 0.4, 0.08, 0.2
    layout = dict(
        height=640,
        margin=dict(l=10, r=10, t=40, b=10),
        uirevision=CHART_REVISION,
        legend=dict(orientation="h", y=-0.12),
        annotations=[],
    )
    data, in_legend = [], set()
    for n, (title, traces, yaxis) in enumerate(panels):
        row, col = divmod(n, 2)
        axis = "" if n == 0 else str(n + 1)
        left, top = col * (width + gap_x), 1 - row * (height + gap_y)
        for trace in traces:
            shown = trace["name"] not in in_legend  # each train/validation series once in the legend
            in_legend.add(trace["name"])
            data.append(dict(trace, xaxis=f"x{axis}", yaxis=f"y{axis}", legendgroup=trace["name"], showlegend=shown))
        layout[f"xaxis{axis}"] = dict(
            domain=[left, left + width], anchor=f"y{axis}", title=dict(text=t("reports.axis.epoch"))
        )
        layout[f"yaxis{axis}"] = dict(yaxis, domain=[max(0.0, top - height), top], anchor=f"x{axis}")
        layout["annotations"].append(panel_title(title, left + width / 2, top, 16))
    return go.Figure(data=data, layout=layout)


def per_class_figure(epochs: pd.DataFrame, class_names: list[str]) -> go.Figure:
    fig = _figure(t("reports.chart.per_class"), t("reports.axis.accuracy"), percent=True)
    if not epochs.empty and "per_class_acc" in epochs:
        matrix = list(epochs["per_class_acc"])
        for c, name in enumerate(class_names):
            fig.add_trace(
                go.Scatter(
                    x=epochs["epoch"],
                    y=[row[c] if c < len(row) else None for row in matrix],
                    mode="lines+markers",
                    name=str(name),
                )
            )
    return fig


def confusion_figure(confusion: list[list[int]], class_names: list[str], normalise: bool = False) -> go.Figure:
    z = confusion
    if normalise:
        z = [[v / max(1, sum(row)) for v in row] for row in confusion]
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=class_names,
            y=class_names,
            colorscale="Blues",
            text=confusion,
            texttemplate="%{text}",
            hovertemplate=t("reports.confusion.hover"),
        )
    )
    fig.update_layout(
        height=420,
        margin=dict(l=10, r=10, t=30, b=10),
        xaxis_title=t("reports.axis.predicted"),
        yaxis_title=t("reports.axis.true"),
        uirevision=CHART_REVISION,
    )
    fig.update_yaxes(autorange="reversed", type="category")
    fig.update_xaxes(type="category")
    return fig


def lr_figure(steps: list[int], lrs: list[float], steps_per_epoch: int) -> go.Figure:
    """The planned learning rate by epoch, on an axis from 0 to a little above its largest value:
    Plotly's own range for a flat line is ±1 around it, which puts a constant 0.001 on "0"."""
    fig = go.Figure(go.Scatter(x=[s / max(1, steps_per_epoch) for s in steps], y=lrs, mode="lines"))
    fig.update_layout(
        height=240,
        margin=dict(l=10, r=10, t=30, b=10),
        title=t("reports.chart.lr_plan"),
        xaxis_title=t("reports.axis.epoch"),
        yaxis_title=t("reports.axis.lr"),
    )
    top = max(lrs, default=0.0)
    fig.update_yaxes(range=[0, 1.1 * top if top > 0 else 1.0], exponentformat="e")
    return fig


# Compared runs: D3's ten qualitative colours, then the same colours dashed, dotted, … (never two
# runs alike: Plotly's default sequence puts several blues side by side on a light background).
RUN_COLOURS = qualitative.D3
RUN_DASHES = ("solid", "dash", "dot", "dashdot", "longdash", "longdashdot")


def run_style(index: int) -> dict:
    """The line of the index-th compared run: a colour of its own for the first ten."""
    colour = RUN_COLOURS[index % len(RUN_COLOURS)]
    return dict(color=colour, dash=RUN_DASHES[(index // len(RUN_COLOURS)) % len(RUN_DASHES)])


def compare_figure(runs: dict[str, pd.DataFrame], column: str, title: str, percent: bool = False) -> go.Figure:
    """One curve per run (in the order given), each in its own colour (run_style)."""
    fig = _figure(title, title, percent)
    for index, (label, epochs) in enumerate(runs.items()):
        if not epochs.empty and column in epochs:
            fig.add_trace(
                go.Scatter(x=epochs["epoch"], y=epochs[column], mode="lines+markers", name=label, line=run_style(index))
            )
    return fig


def has_points(frame: pd.DataFrame, column: str) -> bool:
    """Whether a metrics frame has any value of column to draw (a queued or just-started run has none)."""
    return not frame.empty and column in frame and bool(frame[column].notna().any())
