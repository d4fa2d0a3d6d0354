"""The shape calculator's picture: the padded input as a grid of cells coloured by role, with
the window of one output position outlined.

Drawn light: the grid is one heatmap (an image in the browser, however many cells), the window
one more heatmap over it plus one rectangle around its span, and the legend a few empty marker
traces. A scatter of one square per cell cost the browser seconds at 64×64.
"""

from __future__ import annotations

import plotly.graph_objects as go

from cnn_core.arch.calculator import INPUT, INSERTED_ZERO, PADDING, UNREAD, WindowPicture
from cnn_core.i18n import t

_ROLE_COLOURS = {INPUT: "#9ecae1", PADDING: "#d9d9d9", INSERTED_ZERO: "#f0f0f0", UNREAD: "#fb6a4a"}


_HIGHLIGHT = "#fd8d3c"


def _role_scale() -> list[list]:
    """A stepped colour scale: role r (0 … 3, with zmin −0.5 and zmax 3.5) gets its own colour."""
    roles = sorted(_ROLE_COLOURS)
    span = len(roles)
    scale: list[list] = []
    for role in roles:
        scale += [[role / span, _ROLE_COLOURS[role]], [(role + 1) / span, _ROLE_COLOURS[role]]]
    return scale


def _legend_entry(name: str, colour: str, symbol: str = "square") -> go.Scatter:
    """A legend line only: a trace with no points."""
    return go.Scatter(
        x=[None],
        y=[None],
        mode="markers",
        name=name,
        marker=dict(symbol=symbol, size=12, color=colour, line=dict(color=colour, width=2)),
        hoverinfo="skip",
    )


def window_figure(picture: WindowPicture, max_cells: int = 4096) -> go.Figure:
    """A grid of cells coloured by role, with the window's cells marked and outlined in orange."""
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
    gap = 1 if max(rows, cols) <= 64 else 0  # white lines between cells while they stay visible
    fig.add_trace(
        go.Heatmap(
            z=picture.roles,
            zmin=-0.5,
            zmax=len(_ROLE_COLOURS) - 0.5,
            colorscale=_role_scale(),
            showscale=False,
            xgap=gap,
            ygap=gap,
            text=[[names[role] for role in row] for row in picture.roles],
            hovertemplate="%{text} (%{y}, %{x})<extra></extra>",
            name="",
        )
    )
    window_name = t("viz.role.window")
    if picture.highlight:
        top, bottom = min(i for i, _ in picture.highlight), max(i for i, _ in picture.highlight)
        left, right = min(j for _, j in picture.highlight), max(j for _, j in picture.highlight)
        # only the window's span: its cells 1, the holes between them (dilation) empty
        marked: list[list[int | None]] = [[None] * (right - left + 1) for _ in range(bottom - top + 1)]
        for i, j in picture.highlight:
            marked[i - top][j - left] = 1
        fig.add_trace(
            go.Heatmap(
                x=list(range(left, right + 1)),
                y=list(range(top, bottom + 1)),
                z=marked,
                colorscale=[[0, _HIGHLIGHT], [1, _HIGHLIGHT]],
                showscale=False,
                opacity=0.55,
                xgap=gap,
                ygap=gap,
                hoverongaps=False,
                hovertemplate=window_name + " (%{y}, %{x})<extra></extra>",
                name="",
            )
        )
        fig.add_shape(
            type="rect",
            x0=left - 0.5,
            x1=right + 0.5,
            y0=top - 0.5,
            y1=bottom + 0.5,
            line=dict(color=_HIGHLIGHT, width=3),
        )
    present = {role for row in picture.roles for role in row}
    for role, colour in _ROLE_COLOURS.items():
        if role in present:
            fig.add_trace(_legend_entry(names[role], colour))
    if picture.highlight:
        fig.add_trace(_legend_entry(window_name, _HIGHLIGHT, "square-open"))
    # Square cells: the y axis is tied to x, and x shrinks its domain rather than widening its range.
    # Every index is labelled while the labels fit; beyond that Plotly picks the ticks (hover names each cell).
    fig.update_yaxes(
        range=[rows - 0.5, -0.5], scaleanchor="x", showgrid=False, zeroline=False, dtick=1 if rows <= 40 else None
    )
    fig.update_xaxes(
        range=[-0.5, cols - 0.5],
        constrain="domain",
        showgrid=False,
        zeroline=False,
        dtick=1 if cols <= 40 else None,
        side="top",
    )
    fig.update_layout(
        height=min(620, 140 + 26 * rows),
        margin=dict(l=10, r=10, t=30, b=10),
        legend=dict(orientation="h", y=-0.02),
        plot_bgcolor="white",
        showlegend=True,
    )
    return fig
