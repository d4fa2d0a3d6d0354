"""Plotly figures for the pages: the sliding-window grid and the per-layer shape chart.

Figures are built here, not in pages, so pages stay thin and the figures can be tested.
"""
from __future__ import annotations

import plotly.graph_objects as go

from cnn_core.calculator import INPUT, INSERTED_ZERO, PADDING, UNREAD, WindowPicture
from cnn_core.i18n import t
from cnn_core.summary import Summary, format_shape

_ROLE_COLOURS = {INPUT: "#9ecae1", PADDING: "#d9d9d9", INSERTED_ZERO: "#f0f0f0", UNREAD: "#fb6a4a"}
_HIGHLIGHT = "#fd8d3c"


def window_figure(picture: WindowPicture, max_cells: int = 4096) -> go.Figure:
    """A grid of cells coloured by role, with the window's cells outlined in orange."""
    rows, cols = len(picture.roles), len(picture.roles[0]) if picture.roles else 0
    fig = go.Figure()
    names = {INPUT: t("viz.role.input"), PADDING: t("viz.role.padding"),
             INSERTED_ZERO: t("viz.role.inserted"), UNREAD: t("viz.role.unread")}
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
            fig.add_trace(go.Scatter(x=xs, y=ys, mode="markers", name=names[role],
                                     marker=dict(symbol="square", size=max(6, min(34, 480 // max(rows, cols))),
                                                 color=colour, line=dict(color="white", width=1)),
                                     hovertemplate=names[role] + " (%{y}, %{x})<extra></extra>"))
    if highlight:
        xs = [j for _, j in picture.highlight]
        ys = [i for i, _ in picture.highlight]
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="markers", name=t("viz.role.window"),
                                 marker=dict(symbol="square-open", size=max(6, min(34, 480 // max(rows, cols))),
                                             color=_HIGHLIGHT, line=dict(width=3)),
                                 hovertemplate=t("viz.role.window") + " (%{y}, %{x})<extra></extra>"))
    # Square cells: the y axis is tied to x, and x shrinks its domain rather than widening its range.
    fig.update_yaxes(range=[rows - 0.5, -0.5], scaleanchor="x", showgrid=False, zeroline=False, dtick=1)
    fig.update_xaxes(range=[-0.5, cols - 0.5], constrain="domain", showgrid=False, zeroline=False, dtick=1,
                     side="top")
    fig.update_layout(height=min(620, 140 + 26 * rows), margin=dict(l=10, r=10, t=30, b=10),
                      legend=dict(orientation="h", y=-0.02), plot_bgcolor="white")
    return fig


def shape_flow_figure(summary: Summary) -> go.Figure:
    """Spatial size (line) and channels (bars) after each layer: how the map shrinks and deepens."""
    labels = [t("viz.input")] + [f"{r.index + 1} {r.type}" for r in summary.rows]
    shapes = [summary.input_shape] + [r.output_shape for r in summary.rows]
    spatial = [s[1] if len(s) == 3 else None for s in shapes]
    channels = [s[0] for s in shapes]
    fig = go.Figure()
    fig.add_trace(go.Bar(x=labels, y=channels, name=t("viz.channels"), marker_color="#9ecae1",
                         hovertext=[format_shape(s) for s in shapes]))
    fig.add_trace(go.Scatter(x=labels, y=spatial, name=t("viz.height"), yaxis="y2", mode="lines+markers",
                             line=dict(color="#e6550d")))
    fig.update_layout(height=320, margin=dict(l=10, r=10, t=30, b=10), legend=dict(orientation="h", y=1.12),
                      yaxis=dict(title=t("viz.channels"), type="log"),
                      yaxis2=dict(title=t("viz.height"), overlaying="y", side="right", rangemode="tozero"))
    return fig


# ---------------------------------------------------------------- inspection figures

def tile(maps, columns: int | None = None, gap: int = 1):
    """(N, H, W) → one 2-D array of tiles separated by NaN gaps, and the column count."""
    import math

    import numpy as np
    maps = np.asarray(maps, dtype=np.float32)
    n, h, w = maps.shape
    columns = columns or max(1, math.ceil(math.sqrt(n)))
    rows = math.ceil(n / columns)
    grid = np.full((rows * (h + gap) - gap, columns * (w + gap) - gap), np.nan, dtype=np.float32)
    for i in range(n):
        r, c = divmod(i, columns)
        grid[r * (h + gap):r * (h + gap) + h, c * (w + gap):c * (w + gap) + w] = maps[i]
    return grid, columns


def _heatmap_layout(fig: go.Figure, height: int) -> go.Figure:
    fig.update_yaxes(autorange="reversed", scaleanchor="x", showticklabels=False, showgrid=False, zeroline=False)
    fig.update_xaxes(showticklabels=False, showgrid=False, zeroline=False, constrain="domain")
    fig.update_layout(height=height, margin=dict(l=0, r=0, t=30, b=0), plot_bgcolor="white")
    return fig


def kernel_figure(weights, title: str = "") -> go.Figure:
    """Kernels (out, in, kh, kw) as tiles: RGB kernels in colour, others on a diverging scale."""
    import numpy as np
    w = np.asarray(weights, dtype=np.float32)
    if w.shape[1] == 3:
        low = w.min(axis=(1, 2, 3), keepdims=True)
        high = w.max(axis=(1, 2, 3), keepdims=True)
        rgb = (w - low) / np.maximum(high - low, 1e-8)
        tiles = [tile(rgb[:, c])[0] for c in range(3)]
        image = np.nan_to_num(np.stack(tiles, -1), nan=1.0)
        fig = go.Figure(go.Image(z=(image * 255).astype(np.uint8)))
    else:
        grid, _ = tile(w[:, 0] if w.shape[1] == 1 else w.reshape(-1, *w.shape[2:]))
        bound = float(np.nanmax(np.abs(grid))) or 1.0
        fig = go.Figure(go.Heatmap(z=grid, colorscale="RdBu", zmid=0, zmin=-bound, zmax=bound,
                                   hovertemplate="%{z:.3f}<extra></extra>"))
    fig.update_layout(title=title)
    return _heatmap_layout(fig, 360)


def maps_figure(maps, title: str = "", height: int = 320) -> go.Figure:
    """Feature maps (C, H, W) as a grid of tiles on one colour scale."""
    grid, _ = tile(maps)
    fig = go.Figure(go.Heatmap(z=grid, colorscale="Viridis", hovertemplate="%{z:.3f}<extra></extra>"))
    fig.update_layout(title=title)
    return _heatmap_layout(fig, height)


def image_figure(image_uint8, title: str = "", height: int = 280, overlay=None, overlay_name: str = "") -> go.Figure:
    """A (C, H, W) uint8 image, gray or RGB, with an optional [0, 1] heat map on top."""
    import numpy as np
    img = np.asarray(image_uint8)
    rgb = np.repeat(img, 3, axis=0) if img.shape[0] == 1 else img
    fig = go.Figure(go.Image(z=rgb.transpose(1, 2, 0)))
    if overlay is not None:
        fig.add_trace(go.Heatmap(z=np.asarray(overlay), colorscale="Jet", opacity=0.45, zmin=0, zmax=1,
                                 name=overlay_name, hovertemplate="%{z:.2f}<extra></extra>"))
    fig.update_layout(title=title)
    return _heatmap_layout(fig, height)


def top_k_figure(pairs: list[tuple[str, float]]) -> go.Figure:
    names = [str(n) for n, _ in pairs][::-1]
    values = [p for _, p in pairs][::-1]
    fig = go.Figure(go.Bar(x=values, y=names, orientation="h", text=[f"{v:.1%}" for v in values],
                           textposition="auto", marker_color="#3182bd"))
    fig.update_layout(height=60 + 34 * len(pairs), margin=dict(l=10, r=10, t=10, b=10),
                      xaxis=dict(range=[0, 1], tickformat=".0%"))
    fig.update_yaxes(type="category")
    return fig


def curve_figure(curves: dict[str, list[dict]], key: str, title: str) -> go.Figure:
    fig = go.Figure()
    for name, curve in curves.items():
        fig.add_trace(go.Scatter(x=[p["step"] for p in curve], y=[p[key] for p in curve], mode="lines", name=name))
    fig.update_layout(title=title, height=300, margin=dict(l=10, r=10, t=40, b=10), xaxis_title=t("viz.step"))
    return fig
