"""Look-inside charts: the top-k bar chart, the activation-maximisation curves, click targets on
the cells of a confusion matrix, and two networks' confidence side by side."""

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


def pickable_cells(fig: go.Figure, confusion: list[list[int]], class_names: list[str]) -> go.Figure:
    """A confusion-matrix figure whose cells can be clicked: a heatmap's cells send no selection
    event to Streamlit, so an invisible marker sits on every cell's centre, carrying (true,
    predicted) in customdata; it also answers the hover, and the selected cell gets a frame."""
    n = len(class_names)
    cells = [(true, pred) for true in range(n) for pred in range(n)]
    fig.update_traces(hoverinfo="skip", hovertemplate=None, selector=dict(type="heatmap"))
    fig.add_trace(
        go.Scatter(
            x=[class_names[pred] for _, pred in cells],
            y=[class_names[true] for true, _ in cells],
            customdata=[[true, pred] for true, pred in cells],
            text=[confusion[true][pred] for true, pred in cells],
            mode="markers",
            marker=dict(symbol="square-open", size=max(8, min(30, 300 // max(1, n))), color="#ff7f0e", opacity=0),
            selected=dict(marker=dict(opacity=1)),
            unselected=dict(marker=dict(opacity=0)),
            hovertemplate=t("reports.confusion.hover"),
            showlegend=False,
            name="",
        )
    )
    fig.update_layout(hovermode="closest", hoverdistance=-1)
    return fig


def winning_histogram(winning: dict[str, object], height: int = 320) -> go.Figure:
    """How sure each network is: the distribution of its highest output over the test images."""
    data = [
        dict(
            type="histogram",
            x=list(map(float, values)),
            name=name,
            opacity=0.6,
            xbins=dict(start=0, end=1.0001, size=0.05),
        )
        for name, values in winning.items()
    ]
    layout = dict(
        height=height,
        barmode="overlay",
        margin=dict(l=10, r=10, t=24, b=10),
        xaxis=dict(title=dict(text=t("compare.winning_axis")), range=[0, 1]),
        yaxis=dict(title=dict(text=t("compare.images_axis"))),
        legend=dict(orientation="h", y=1.12),
    )
    return go.Figure(data=data, layout=layout)


def class_outputs_figure(class_names: list[str], outputs: dict[str, object], height: int = 260) -> go.Figure:
    """Each network's output for every class of one image, side by side."""
    data = [dict(type="bar", x=class_names, y=list(map(float, values)), name=name) for name, values in outputs.items()]
    layout = dict(
        height=height,
        barmode="group",
        margin=dict(l=10, r=10, t=24, b=10),
        yaxis=dict(title=dict(text=t("compare.output_axis")), range=[0, 1]),
        legend=dict(orientation="h", y=1.15),
    )
    return go.Figure(data=data, layout=layout)
