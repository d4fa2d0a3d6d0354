"""Pictures of tensors: an image (with an optional heat overlay), a grid of kernels, a tiled
stack of feature maps, an image laid out the way st.image shows it, and a map coloured by one of
Plotly's colour scales (for maps too large for a heat map's cells, and for st.image).

Pictures travel to the browser as PNG data URIs (a few kB), not as arrays of pixel values.
"""

from __future__ import annotations

import base64
import functools
import io
import math

import numpy as np
import plotly.colors as pc
import plotly.graph_objects as go
from PIL import Image

# a map with more cells than this is sent as a picture (map_picture): 96 × 96, a tenth of the
# bytes of its values and one image for the browser instead of ~10,000 cells
PICTURE_CELLS = 96 * 96
MAX_OVERLAY_SIDE = 128  # a heat overlay larger than this is averaged down to it (the picture itself stays sharp)


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


def png_data_uri(image_uint8) -> str:
    """A (C, H, W) uint8 image, gray or RGB, as a PNG data URI."""
    picture = as_picture(np.asarray(image_uint8, dtype=np.uint8))
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(picture)).save(buffer, format="PNG", compress_level=1)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def enlarged(image_uint8, side: int = 160) -> np.ndarray:
    """A (C, H, W) uint8 image as st.image takes it, enlarged by a whole factor with nearest-neighbour
    pixels to about `side` pixels (a 28×28 picture stays crisp instead of being blurred by the browser)."""
    picture = as_picture(np.asarray(image_uint8, dtype=np.uint8))
    factor = max(1, side // max(picture.shape[:2]))
    return picture.repeat(factor, axis=0).repeat(factor, axis=1)


def _reduced(overlay: np.ndarray) -> tuple[np.ndarray, int]:
    """An (H, W) map averaged over f×f blocks so that no side exceeds MAX_OVERLAY_SIDE, and f."""
    h, w = overlay.shape
    f = max(1, math.ceil(max(h, w) / MAX_OVERLAY_SIDE))
    if f == 1:
        return overlay, 1
    padded = np.pad(overlay, ((0, -h % f), (0, -w % f)), mode="edge")
    return padded.reshape(padded.shape[0] // f, f, padded.shape[1] // f, f).mean(axis=(1, 3)), f


def image_figure(image_uint8, title: str = "", height: int = 280, overlay=None, overlay_name: str = "") -> go.Figure:
    """A (C, H, W) uint8 image, gray or RGB, with an optional [0, 1] heat map on top. The image is sent
    as a PNG (pixel coordinates on the axes, as an array of pixels would have them); the heat map as
    values (at most MAX_OVERLAY_SIDE per side), so its hover reads them."""
    img = np.asarray(image_uint8)
    fig = go.Figure(go.Image(source=png_data_uri(img)))
    if overlay is not None:
        heat, f = _reduced(np.asarray(overlay, dtype=np.float32))
        fig.add_trace(
            go.Heatmap(
                z=np.round(heat, 3),
                x0=(f - 1) / 2,
                dx=f,
                y0=(f - 1) / 2,
                dy=f,
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


def maps_picture(maps, side: int = 640) -> tuple[np.ndarray, float, float]:
    """Feature maps (C, H, W) tiled as maps_figure tiles them, on one Viridis scale, as an RGB picture
    for st.image (enlarged by a whole factor to about `side` pixels wide), with the scale's low and high
    values."""
    grid, _ = tile(maps)
    low, high = float(np.nanmin(grid)), float(np.nanmax(grid))
    rgb, _, _ = map_colours(grid, "Viridis", *((low, high) if high > low else (low - 1, low + 1)))  # flat: mid-scale
    factor = max(1, side // grid.shape[1])
    return rgb.repeat(factor, axis=0).repeat(factor, axis=1), low, high


@functools.cache
def _palette(colorscale: str) -> np.ndarray:
    """Plotly's named colour scale as 256 RGB colours (uint8), low to high."""
    colours = pc.sample_colorscale(pc.get_colorscale(colorscale), list(np.linspace(0, 1, 256)), colortype="tuple")
    return np.round(np.asarray(colours) * 255).astype(np.uint8)  # the tuples are 0-1 floats


def map_colours(z: np.ndarray, colorscale: str, zmin=None, zmax=None) -> tuple[np.ndarray, float, float]:
    """A map's cells as (H, W, 3) uint8 colours of Plotly's named colour scale between zmin and zmax
    (the map's own range when None; NaN cells white, as the gaps between tiles), with that range."""
    z = np.asarray(z, dtype=np.float64)
    finite = z[np.isfinite(z)]
    low = float(finite.min()) if zmin is None and finite.size else float(zmin or 0.0)
    high = float(finite.max()) if zmax is None and finite.size else float(zmax if zmax is not None else 1.0)
    scaled = np.clip((np.nan_to_num(z, nan=low) - low) / ((high - low) or 1.0), 0, 1)
    rgb = _palette(colorscale)[np.round(scaled * 255).astype(np.intp)]
    rgb[np.isnan(z)] = 255
    return rgb, low, high


def response_picture(values, signed: bool) -> np.ndarray:
    """A response map as st.image shows it: RdBu around zero when it has both signs (blue positive,
    red negative, white zero, as the heat maps colour them), Viridis otherwise."""
    z = np.asarray(values, dtype=np.float64)
    if not signed:
        return map_colours(z, "Viridis")[0]
    bound = float(np.abs(z).max()) if z.size else 1.0
    return map_colours(z, "RdBu", -(bound or 1.0), bound or 1.0)[0]


def small_map_picture(z, side: int = 240) -> tuple[np.ndarray, float, float]:
    """A small map for st.image: Viridis on its own range, each cell an equal block of about side /
    its longest side pixels (a 2×2 map stays four crisp squares), with that range."""
    rgb, low, high = map_colours(z, "Viridis")
    return enlarged(rgb.transpose(2, 0, 1), side), low, high


def map_picture(z: np.ndarray, colorscale: str, zmin=None, zmax=None, showscale: bool = True) -> list:
    """A large map as a picture: its cells coloured by colorscale between zmin and zmax (the map's
    own range when None), sent as one PNG, with cell numbers on the axes as a heat map would have
    them, and the colour bar drawn by an empty trace. A map this large gives each cell a few screen
    pixels at most, too small to point at, so the values are left out: the PNG is a tenth of the
    bytes and the browser draws one image instead of tens of thousands of cells."""
    rgb, low, high = map_colours(z, colorscale, zmin, zmax)
    picture = go.Image(source=png_data_uri(rgb.transpose(2, 0, 1)), hovertemplate="(%{y}, %{x})<extra></extra>")
    if not showscale:
        return [picture]
    scale = go.Scatter(
        x=[None],
        y=[None],
        mode="markers",
        showlegend=False,
        hoverinfo="skip",
        marker=dict(colorscale=colorscale, cmin=low, cmax=high, showscale=True, color=[low]),
    )
    return [picture, scale]
