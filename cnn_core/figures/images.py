"""Pictures of tensors: an image (with an optional heat overlay), a grid of kernels, a tiled
stack of feature maps, and an image laid out the way st.image shows it.
"""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go


def as_picture(image_uint8) -> np.ndarray:
    """A (C, H, W) image, tensor or array, as st.image takes it: (H, W) when gray, (H, W, C) otherwise."""
    picture = np.asarray(image_uint8).transpose(1, 2, 0)
    return picture[..., 0] if picture.shape[-1] == 1 else picture


def tile(maps, columns: int | None = None, gap: int = 1):
    """(N, H, W) → one 2-D array of tiles separated by NaN gaps, and the column count."""
    maps = np.asarray(maps, dtype=np.float32)
    n, h, w = maps.shape
    columns = columns or max(1, math.ceil(math.sqrt(n)))
    rows = math.ceil(n / columns)
    grid = np.full((rows * (h + gap) - gap, columns * (w + gap) - gap), np.nan, dtype=np.float32)
    for i in range(n):
        r, c = divmod(i, columns)
        grid[r * (h + gap) : r * (h + gap) + h, c * (w + gap) : c * (w + gap) + w] = maps[i]
    return grid, columns


def _heatmap_layout(fig: go.Figure, height: int) -> go.Figure:
    fig.update_yaxes(autorange="reversed", scaleanchor="x", showticklabels=False, showgrid=False, zeroline=False)
    fig.update_xaxes(showticklabels=False, showgrid=False, zeroline=False, constrain="domain")
    fig.update_layout(height=height, margin=dict(l=0, r=0, t=30, b=0), plot_bgcolor="white")
    return fig


def kernel_figure(weights, title: str = "") -> go.Figure:
    """Kernels (out, in, kh, kw) as tiles: RGB kernels in colour, others on a diverging scale."""
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
        fig = go.Figure(
            go.Heatmap(
                z=grid, colorscale="RdBu", zmid=0, zmin=-bound, zmax=bound, hovertemplate="%{z:.3f}<extra></extra>"
            )
        )
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
    img = np.asarray(image_uint8)
    rgb = np.repeat(img, 3, axis=0) if img.shape[0] == 1 else img
    fig = go.Figure(go.Image(z=rgb.transpose(1, 2, 0)))
    if overlay is not None:
        fig.add_trace(
            go.Heatmap(
                z=np.asarray(overlay),
                colorscale="Jet",
                opacity=0.45,
                zmin=0,
                zmax=1,
                name=overlay_name,
                hovertemplate="%{z:.2f}<extra></extra>",
            )
        )
    fig.update_layout(title=title)
    return _heatmap_layout(fig, height)
