"""The shape calculator's picture: the padded input as a grid of cells coloured by role, with
the window of one output position outlined.
"""

from __future__ import annotations

import plotly.graph_objects as go

from cnn_core.arch.calculator import INPUT, INSERTED_ZERO, PADDING, UNREAD, WindowPicture
from cnn_core.i18n import t

_ROLE_COLOURS = {INPUT: "#9ecae1", PADDING: "#d9d9d9", INSERTED_ZERO: "#f0f0f0", UNREAD: "#fb6a4a"}


_HIGHLIGHT = "#fd8d3c"


def window_figure(picture: WindowPicture, max_cells: int = 4096) -> go.Figure:
    """A grid of cells coloured by role, with the window's cells outlined in orange."""
    rows, cols = len(picture.roles), len(picture.roles[0]) if picture.roles else 0
    fig = go.Figure()
    names = {
        INPUT: t("viz.role.input"),
        PADDING: t("viz.role.padding"),
        INSERTED_ZERO: t("viz.role.inserted"),
        UNREAD: t("viz.role.unread"),
    }
    if rows * cols > max_cells:
        fig.add_annotation(text=t("viz.too_many_cells", n=rows * cols, cap=max_cells), showarrow=False)
        return fig
    highlight = set(picture.highlight)
    for role, colour in _ROLE_COLOURS.items():
        xs, ys = [], []
        for i in range(rows):
            for j in range(cols):
                if picture.roles[i][j] == role:
                    xs.append(j)
                    ys.append(i)
        if xs:
            fig.add_trace(
                go.Scatter(
                    x=xs,
                    y=ys,
                    mode="markers",
                    name=names[role],
                    marker=dict(
                        symbol="square",
                        size=max(6, min(34, 480 // max(rows, cols))),
                        color=colour,
                        line=dict(color="white", width=1),
                    ),
                    hovertemplate=names[role] + " (%{y}, %{x})<extra></extra>",
                )
            )
    if highlight:
        xs = [j for _, j in picture.highlight]
        ys = [i for i, _ in picture.highlight]
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=ys,
                mode="markers",
                name=t("viz.role.window"),
                marker=dict(
                    symbol="square-open",
                    size=max(6, min(34, 480 // max(rows, cols))),
                    color=_HIGHLIGHT,
                    line=dict(width=3),
                ),
                hovertemplate=t("viz.role.window") + " (%{y}, %{x})<extra></extra>",
            )
        )
    # Square cells: the y axis is tied to x, and x shrinks its domain rather than widening its range.
    fig.update_yaxes(range=[rows - 0.5, -0.5], scaleanchor="x", showgrid=False, zeroline=False, dtick=1)
    fig.update_xaxes(range=[-0.5, cols - 0.5], constrain="domain", showgrid=False, zeroline=False, dtick=1, side="top")
    fig.update_layout(
        height=min(620, 140 + 26 * rows),
        margin=dict(l=10, r=10, t=30, b=10),
        legend=dict(orientation="h", y=-0.02),
        plot_bgcolor="white",
    )
    return fig
