"""Figures of the gradient lessons: a short training run's loss per step, with and without
clipping the gradients' norm, where a run that overflowed stops with a mark."""

from __future__ import annotations

import plotly.graph_objects as go

from cnn_core.i18n import t


def clipping_figure(runs: dict[str, object], height: int = 360) -> go.Figure:
    """runs: a legend name -> TrainingSteps (cnn_core.concepts.gradients); loss per step on a log
    scale, an ✕ at the step where a run stopped being finite."""
    data = []
    for name, run in runs.items():
        steps = list(range(len(run.losses)))
        data.append(dict(type="scatter", x=steps, y=run.losses, mode="lines+markers", name=name))
        if run.diverged_at is not None:
            last = run.losses[-1] if run.losses else 1.0
            data.append(
                dict(
                    type="scatter",
                    x=[run.diverged_at],
                    y=[last],
                    mode="markers+text",
                    marker=dict(symbol="x", size=14, color="#d62728"),
                    text=[t("concept.clip.overflow")],
                    textposition="top right",
                    showlegend=False,
                    hoverinfo="skip",
                )
            )
    layout = dict(
        height=height,
        margin=dict(l=10, r=10, t=24, b=10),
        plot_bgcolor="white",
        xaxis=dict(title=dict(text=t("concept.clip.step")), gridcolor="#eee"),
        yaxis=dict(title=dict(text=t("concept.clip.loss")), type="log", gridcolor="#eee"),
        legend=dict(orientation="h", y=1.12),
    )
    return go.Figure(data=data, layout=layout)
