"""The architecture's shape chart: how height, width and channels change layer by layer."""

from __future__ import annotations

import plotly.graph_objects as go

from cnn_core.arch.formatting import format_shape
from cnn_core.arch.summary_types import Summary
from cnn_core.i18n import t


def shape_flow_figure(summary: Summary) -> go.Figure:
    """Spatial size (line) and channels (bars) after each layer: how the map shrinks and deepens."""
    labels = [t("viz.input")] + [f"{r.index + 1} {r.type}" for r in summary.rows]
    shapes = [summary.input_shape] + [r.output_shape for r in summary.rows]
    spatial = [s[1] if len(s) == 3 else None for s in shapes]
    channels = [s[0] for s in shapes]
    fig = go.Figure()
    fig.add_trace(
        go.Bar(
            x=labels,
            y=channels,
            name=t("viz.channels"),
            marker_color="#9ecae1",
            hovertext=[format_shape(s) for s in shapes],
        )
    )
    fig.add_trace(
        go.Scatter(
            x=labels, y=spatial, name=t("viz.height"), yaxis="y2", mode="lines+markers", line=dict(color="#e6550d")
        )
    )
    fig.update_layout(
        height=320,
        margin=dict(l=10, r=10, t=30, b=10),
        legend=dict(orientation="h", y=1.12),
        yaxis=dict(title=t("viz.channels"), type="log"),
        yaxis2=dict(title=t("viz.height"), overlaying="y", side="right", rangemode="tozero"),
    )
    return fig
