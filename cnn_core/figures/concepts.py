"""Plotly figures for the concept lab: small number grids, maps and photos with a marked
region, activation curves, and the timing charts. Built here so the pages stay thin."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from cnn_core.concepts.images import as_uint8
from cnn_core.figures import panel_title
from cnn_core.figures.images import PICTURE_CELLS, image_figure, map_picture
from cnn_core.i18n import t

NUMBER_CELLS = 24  # grids up to this many cells a side may print their values in the cells
# Numbers in cells: a fixed font between these sizes (px), or none when the cells are too small for
# MIN_FONT. Cell sizes are estimated from the figure's height and its share of a page CONTENT_WIDTH wide.
MIN_FONT, MAX_FONT = 11, 14
CONTENT_WIDTH = 1000
_CHAR_WIDTH = 0.6  # a digit's width, as a share of the font size
_MARK = "#ff7f0e"


def _layout_dict(title: str, height: int, reversed_y: bool = True, **more) -> dict:
    """Title, height, margins and (for grids, maps and photos) square cells; `more`: further keys."""
    layout = dict(
        title=dict(text=title, y=0.99, yanchor="top"),
        height=height,
        margin=dict(l=10, r=10, t=56 if title else 24, b=10),
        plot_bgcolor="white",
        **more,
    )
    if reversed_y:
        # both axes shrink their domain to keep square cells, so neither grows empty rows or columns
        y, x = more.get("yaxis", {}), more.get("xaxis", {})
        layout["yaxis"] = dict(
            autorange="reversed", scaleanchor="x", showgrid=False, zeroline=False, constrain="domain", **y
        )
        layout["xaxis"] = dict(showgrid=False, zeroline=False, constrain="domain", side="top", **x)
    return layout


def _merged(base: dict, more: dict) -> dict:
    """base with more laid over it, nested dicts merged (as Plotly's update does)."""
    out = dict(base)
    for key, value in more.items():
        out[key] = _merged(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def _figure(traces, title: str, height: int, reversed_y: bool = True, **more) -> go.Figure:
    """A figure built in one go: Plotly's layout updates after construction cost about ten times more."""
    return go.Figure(data=list(traces), layout=_layout_dict(title, height, reversed_y, **more))


def _layout(fig: go.Figure, title: str, height: int, reversed_y: bool = True, **more) -> go.Figure:
    """fig's traces and layout with the lab's layout laid over it, as one new figure."""
    base = {k: v for k, v in fig.layout.to_plotly_json().items() if k != "template"}  # the default comes back
    layout = _merged(base, _layout_dict(title, height, reversed_y, **more))
    return go.Figure(data=list(fig.data), layout=layout)


def _rect(top: float, left: float, height: float, width: float, colour: str = _MARK) -> dict:
    """A box (top, left, height, width) around cells, as a layout shape."""
    return dict(
        type="rect",
        x0=left - 0.5,
        y0=top - 0.5,
        x1=left + width - 0.5,
        y1=top + height - 0.5,
        line=dict(color=colour, width=3),
    )


def _cross(row: float, col: float) -> go.Scatter:
    """A cross marker on a cell (the peak), as a trace."""
    return go.Scatter(
        x=[col],
        y=[row],
        mode="markers",
        showlegend=False,
        marker=dict(symbol="x-thin-open", size=18, color=_MARK, line=dict(width=3)),
        hovertemplate=t("concept.viz.peak") + " (%{y}, %{x})<extra></extra>",
    )


def grid_figure(
    values,
    title: str = "",
    box: tuple[int, int, int, int] | None = None,
    diverging: bool = False,
    height: int | None = None,
    decimals: int = 2,
    share: float = 1 / 3,
) -> go.Figure:
    """A small 2-D array as coloured cells with their numbers; box = (top, left, height, width).
    share: the part of the page's width the figure gets (1/4 for four side by side); numbers too
    small to read at that width are left out (the hover still gives each value). Whole numbers are
    printed without decimals."""
    z = np.asarray(values, dtype=np.float64)
    rows, cols = z.shape
    if np.all(np.isfinite(z)) and np.all(z == np.round(z)):
        decimals = 0
    kwargs = dict(colorscale="Greys_r", showscale=False)
    if diverging:
        bound = float(np.abs(z).max()) or 1.0
        kwargs = dict(colorscale="RdBu", zmid=0, zmin=-bound, zmax=bound, showscale=False)
    side = height or min(520, 90 + 34 * max(rows, 3))
    font = number_font(z, decimals, side, share)
    show_numbers = font is not None
    heatmap = go.Heatmap(
        z=z,
        texttemplate=f"%{{z:.{decimals}f}}" if show_numbers else None,
        textfont=dict(size=font) if show_numbers else None,
        hovertemplate="(%{y}, %{x}) = %{z:.4f}<extra></extra>",
        **kwargs,
    )
    more = dict(shapes=[_rect(*box)]) if box else {}
    if show_numbers:  # whole-number ticks: a cell index, never 0.5
        more.update(xaxis=dict(dtick=1 if cols <= 12 else 2), yaxis=dict(dtick=1 if rows <= 12 else 2))
    return _figure([heatmap], title, side, **more)


def number_font(z: np.ndarray, decimals: int, height: int, share: float) -> int | None:
    """The font size (px) of the numbers in a grid's cells, or None when they would not be readable:
    the widest number must fit a square cell, whose side is estimated from the figure's height and
    width (share × CONTENT_WIDTH)."""
    rows, cols = z.shape
    if max(rows, cols) > NUMBER_CELLS or not z.size:
        return None
    cell = min((height - 66) / rows, (CONTENT_WIDTH * share - 20) / cols)
    chars = max(len(f"{v:.{decimals}f}") for v in z.ravel())
    font = min(MAX_FONT, int(cell * 0.9 / (chars * _CHAR_WIDTH)))
    return font if font >= MIN_FONT else None


def map_figure(
    values,
    title: str = "",
    diverging: bool = False,
    box: tuple[int, int, int, int] | None = None,
    marker: tuple[int, int] | None = None,
    height: int = 340,
    zrange: tuple[float, float] | None = None,
    showscale: bool | None = None,
) -> go.Figure:
    """A response or feature map as a heat map, optionally with a box and a cross marker. The cells
    travel as float32 (half the bytes of float64, still more digits than the hover's four decimals).
    A map of more than PICTURE_CELLS cells is drawn as a coloured picture instead (map_picture)."""
    z = np.asarray(values, dtype=np.float64)
    if diverging:
        bound = float(np.abs(z).max()) if z.size else 1.0
        kwargs = dict(colorscale="RdBu", zmid=0, zmin=-(bound or 1.0), zmax=bound or 1.0)
    else:
        kwargs = dict(colorscale="Viridis")
        if zrange:
            kwargs.update(zmin=zrange[0], zmax=zrange[1])
    if z.size > PICTURE_CELLS:
        traces = map_picture(z, kwargs["colorscale"], kwargs.get("zmin"), kwargs.get("zmax"), showscale is not False)
    else:
        traces = [
            go.Heatmap(
                z=z.astype(np.float32),
                hovertemplate="(%{y}, %{x}) = %{z:.4f}<extra></extra>",
                showscale=showscale,
                **kwargs,
            )
        ]
    if marker:
        traces.append(_cross(*marker))
    return _figure(traces, title, height, **(dict(shapes=[_rect(*box)]) if box else {}))


def photo_figure(
    image,
    title: str = "",
    box: tuple[int, int, int, int] | None = None,
    marker: tuple[int, int] | None = None,
    height: int = 340,
) -> go.Figure:
    """A (C, H, W) image in [0, 1], gray or RGB, optionally with a box (top, left, height, width);
    unlike viz.image_figure it keeps pixel numbers on the axes, so a patch's place can be read off."""
    fig = image_figure(as_uint8(np.asarray(image, dtype=np.float32)), height=height)
    if marker:
        fig.add_trace(_cross(*marker))
    more = dict(shapes=[_rect(*box)]) if box else {}
    return _layout(fig, title, height, xaxis=dict(showticklabels=True), yaxis=dict(showticklabels=True), **more)


def curves_figure(x, curves: dict[str, tuple], title: str = "", height: int = 360) -> go.Figure:
    """Each activation as a solid line and its derivative as a dashed line of the same colour."""
    palette = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf"]
    fig = go.Figure()
    for i, (name, (values, derivative)) in enumerate(curves.items()):
        colour = palette[i % len(palette)]
        fig.add_trace(go.Scatter(x=x, y=values, name=name, mode="lines", line=dict(color=colour, width=3)))
        fig.add_trace(
            go.Scatter(
                x=x,
                y=derivative,
                name=t("concept.viz.derivative", name=name),
                mode="lines",
                line=dict(color=colour, dash="dash"),
            )
        )
    fig.update_layout(xaxis_title="x", legend=dict(orientation="h", y=-0.18))
    return _layout(fig, title, height, reversed_y=False)


def bars_figure(
    labels, values, title: str = "", y_title: str = "", height: int = 300, percent: bool = False
) -> go.Figure:
    labels = [str(v) for v in labels]
    text = [f"{v:.1%}" if percent else (f"{v:,.0f}" if abs(v) >= 100 else f"{v:.3g}") for v in values]
    fig = go.Figure(go.Bar(x=labels, y=list(values), text=text, textposition="auto", marker_color="#3182bd"))
    fig.update_xaxes(type="category")
    fig.update_layout(yaxis_title=y_title)
    if percent:
        fig.update_yaxes(range=[0, 1], tickformat=".0%")
    return _layout(fig, title, height, reversed_y=False)


def gradient_depth_figure(results, height: int = 360) -> go.Figure:
    """Weight-gradient norm per layer (log scale) for each stack."""
    fig = go.Figure()
    for result in results:
        layers = list(range(1, len(result.layer_norms) + 1))
        fig.add_trace(
            go.Scatter(
                x=layers, y=[max(v, 1e-30) for v in result.layer_norms], mode="lines+markers", name=result.activation
            )
        )
    fig.update_yaxes(type="log", title=t("concept.viz.grad_norm"))
    fig.update_xaxes(
        title=t("concept.viz.layer_from_input"), dtick=max(1, len(results[0].layer_norms) // 10) if results else 1
    )
    fig.update_layout(legend=dict(orientation="h", y=1.12))
    return _layout(fig, "", height, reversed_y=False)


def timing_figure(
    labels, seconds, ideal=None, title: str = "", x_title: str = "", y_title: str = "", height: int = 320
) -> go.Figure:
    """Measured seconds as bars, with an optional ideal curve as a line."""
    labels = [str(v) for v in labels]
    fig = go.Figure(
        go.Bar(
            x=labels,
            y=list(seconds),
            name=t("concept.viz.measured"),
            marker_color="#3182bd",
            text=[f"{s * 1000:.3g} ms" if s < 1 else f"{s:.3g} s" for s in seconds],
            textposition="auto",
        )
    )
    if ideal is not None:
        fig.add_trace(
            go.Scatter(
                x=labels,
                y=list(ideal),
                name=t("concept.viz.ideal"),
                mode="lines+markers",
                line=dict(color=_MARK, dash="dash"),
            )
        )
    fig.update_xaxes(type="category", title=x_title)
    fig.update_layout(yaxis_title=y_title, legend=dict(orientation="h", y=1.12))
    return _layout(fig, title, height, reversed_y=False)


def mark_cells(fig: go.Figure, cells, colour: str = _MARK) -> go.Figure:
    """Box single cells (row, col) of a grid or map figure, e.g. the inputs max pooling picked."""
    boxes = [_rect(row, col, 1, 1, colour) for row, col in cells]
    fig.update_layout(shapes=list(fig.layout.shapes) + boxes)  # one update: add_shape per cell is slow
    return fig


def histogram_figure(
    values,
    threshold: float | None = None,
    threshold_label: str = "",
    title: str = "",
    x_title: str = "",
    height: int = 300,
    bins: int = 60,
) -> go.Figure:
    """How a map's values are spread; with a threshold, values above it in blue, the rest in gray,
    and a dashed line at the threshold. The values travel as float32 (half the bytes); the bins are
    set from those float32 values, so none falls outside them."""
    v = np.asarray(values, dtype=np.float64).ravel()
    v32 = v.astype(np.float32)
    low, high = (float(v32.min()), float(v32.max())) if v.size else (0.0, 1.0)
    size = (high - low) / bins if high > low else 1.0
    xbins = dict(start=low - size / 2 if high == low else low, end=high + size, size=size)
    fig = go.Figure()
    if threshold is None:
        fig.add_trace(go.Histogram(x=v32, xbins=xbins, marker_color="#3182bd", showlegend=False))
    else:
        fig.add_trace(go.Histogram(x=v32[v <= threshold], xbins=xbins, marker_color="#bdbdbd", showlegend=False))
        fig.add_trace(go.Histogram(x=v32[v > threshold], xbins=xbins, marker_color="#3182bd", showlegend=False))
        fig.add_vline(
            x=threshold,
            line=dict(color=_MARK, width=3, dash="dash"),
            annotation_text=threshold_label,
            annotation_position="top",
        )
    fig.update_layout(barmode="overlay", xaxis_title=x_title, bargap=0.02)
    return _layout(fig, title, height, reversed_y=False)


def panels_figure(panels, columns: int, height: int | None = None, gap: int = 64) -> go.Figure:
    """Several of this module's single figures (grids, maps, photos, bars) as ONE figure, `columns`
    a row: each keeps its traces, hover, numbers, boxes, colour scale and axes; its title becomes the
    subplot's title. The browser draws one chart instead of many (each chart costs it ~65 ms).
    height: of the whole figure; by default the sum of each row's tallest panel. gap: pixels between
    rows (room for a subplot's title and its top tick labels)."""
    panels = list(panels)
    rows = max(1, -(-len(panels) // columns))
    row_heights = [
        max(p.layout.height or 340 for p in panels[r * columns : (r + 1) * columns]) - 56 for r in range(rows)
    ]
    total = height or (56 + sum(row_heights) + gap * (rows - 1) + 10)
    plot = total - 56 - 10 - gap * (rows - 1)  # pixels shared by the rows' plots
    scale = plot / sum(row_heights)
    hgap = 0.06 if columns > 1 else 0.0
    width = (1 - hgap * (columns - 1)) / columns
    data, shapes, notes, layout = [], [], [], {}
    top = 1.0
    for r in range(rows):
        bottom = top - row_heights[r] * scale / (total - 66)
        for c, panel in enumerate(panels[r * columns : (r + 1) * columns]):
            n = r * columns + c + 1
            xs, ys = ("x", "y") if n == 1 else (f"x{n}", f"y{n}")
            left = c * (width + hgap)
            x_domain, y_domain = [left, left + width], [max(0.0, bottom), top]
            pl = panel.layout.to_plotly_json()
            xaxis = {k: v for k, v in pl.get("xaxis", {}).items() if k not in ("domain", "anchor")}
            yaxis = {k: v for k, v in pl.get("yaxis", {}).items() if k not in ("domain", "anchor")}
            if "scaleanchor" in yaxis:
                yaxis.update(scaleanchor=xs, constraintoward="top")
            layout[f"xaxis{n if n > 1 else ''}"] = dict(xaxis, domain=x_domain, anchor=ys)
            layout[f"yaxis{n if n > 1 else ''}"] = dict(yaxis, domain=y_domain, anchor=xs)
            for trace in panel.data:
                trace = trace.to_plotly_json()
                trace.update(xaxis=xs, yaxis=ys)
                bar = dict(
                    x=x_domain[1], xanchor="left", y=top, yanchor="top", len=top - max(0.0, bottom), thickness=10
                )
                if trace.get("type") == "heatmap" and trace.get("showscale") is not False:
                    trace["colorbar"] = dict(trace.get("colorbar", {}), **bar)
                elif trace.get("marker", {}).get("showscale"):  # a picture's colour bar (map_picture)
                    trace["marker"]["colorbar"] = dict(trace["marker"].get("colorbar", {}), **bar)
                data.append(trace)
            for shape in pl.get("shapes", []):
                shapes.append(dict(shape, xref=xs, yref=ys))
            title = (pl.get("title") or {}).get("text")
            if title:
                notes.append(panel_title(title, left + width / 2, top, 14, yshift=26))
        top = bottom - gap / (total - 66)
    layout.update(
        height=total,
        margin=dict(l=10, r=10, t=56, b=10),
        plot_bgcolor="white",
        shapes=shapes,
        annotations=notes,
        showlegend=False,
    )
    return go.Figure(data=data, layout=layout)
