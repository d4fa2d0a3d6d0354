"""Look-inside charts: the top-k bar chart and the activation-maximisation curves."""

from __future__ import annotations

import plotly.graph_objects as go

from cnn_core.i18n import t


def top_k_figure(pairs: list[tuple[str, float]]) -> go.Figure:
    names = [str(n) for n, _ in pairs][::-1]
    values = [p for _, p in pairs][::-1]
    fig = go.Figure(
        go.Bar(
            x=values,
            y=names,
            orientation="h",
            text=[f"{v:.1%}" for v in values],
            textposition="auto",
            marker_color="#3182bd",
        )
    )
    fig.update_layout(
        height=60 + 34 * len(pairs), margin=dict(l=10, r=10, t=10, b=10), xaxis=dict(range=[0, 1], tickformat=".0%")
    )
    fig.update_yaxes(type="category")
    return fig


def curve_figure(curves: dict[str, list[dict]], key: str, title: str) -> go.Figure:
    fig = go.Figure()
    for name, curve in curves.items():
        fig.add_trace(go.Scatter(x=[p["step"] for p in curve], y=[p[key] for p in curve], mode="lines", name=name))
    fig.update_layout(title=title, height=300, margin=dict(l=10, r=10, t=40, b=10), xaxis_title=t("viz.step"))
    return fig
