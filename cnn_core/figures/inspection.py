"""Look-inside charts: the top-k bar chart, the activation-maximisation curves, click targets on
the cells of a confusion matrix, two networks' confidence side by side, and the invariance
experiment's curves and shifted maps."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from cnn_core.figures import panel_title
from cnn_core.figures.images import enlarged, map_colours
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


INVARIANCE_COLOURS = ("#3182bd", "#e6550d", "#31a354", "#756bb1")
IDENTITY = {"shift": 0, "angle": 0, "scale": 1}  # the value of each sweep that leaves the image as it is


def invariance_figure(curves: dict[str, dict], height: int = 560) -> go.Figure:
    """Accuracy (top row) and the true class's mean probability (bottom row) against shift, angle and
    scale (a column each), one line per network: curves maps a legend name to its sweeps (kind ->
    an object with values, accuracy and true_probability, as cnn_core.inspection.invariance makes
    them). A dotted line marks the untouched image. One layout dict, no make_subplots."""
    kinds = [kind for kind in IDENTITY if any(kind in sweeps for sweeps in curves.values())]
    rows = (("accuracy", t("invariance.axis.accuracy")), ("true_probability", t("invariance.axis.probability")))
    width, gap, panel_height, gap_y = (1 - 0.06 * (len(kinds) - 1)) / max(1, len(kinds)), 0.06, 0.38, 0.2
    layout = dict(
        height=height, margin=dict(l=10, r=10, t=64, b=10), legend=dict(orientation="h", y=-0.1), annotations=[]
    )
    layout["shapes"], data = [], []
    for row, (field, y_title) in enumerate(rows):
        top = 1 - row * (panel_height + gap_y)
        for col, kind in enumerate(kinds):
            n = row * len(kinds) + col + 1
            axis = "" if n == 1 else str(n)
            left = col * (width + gap)
            for i, (name, sweeps) in enumerate(curves.items()):
                if kind in sweeps:
                    sweep = sweeps[kind]
                    data.append(
                        dict(
                            type="scatter",
                            x=list(sweep.values),
                            y=list(getattr(sweep, field)),
                            mode="lines+markers",
                            name=name,
                            legendgroup=name,
                            showlegend=n == 1,
                            line=dict(color=INVARIANCE_COLOURS[i % len(INVARIANCE_COLOURS)]),
                            xaxis=f"x{axis}",
                            yaxis=f"y{axis}",
                            hovertemplate="%{x}: %{y:.1%}<extra>" + name + "</extra>",
                        )
                    )
            layout[f"xaxis{axis}"] = dict(
                domain=[left, left + width], anchor=f"y{axis}", title=dict(text=t(f"invariance.axis.{kind}"))
            )
            layout[f"yaxis{axis}"] = dict(
                domain=[max(0.0, top - panel_height), top],
                anchor=f"x{axis}",
                range=[0, 1.02],
                tickformat=".0%",
                title=dict(text=y_title if col == 0 else ""),
            )
            line = dict(type="line", xref=f"x{axis}", yref=f"y{axis} domain", x0=IDENTITY[kind], x1=IDENTITY[kind])
            layout["shapes"].append(dict(line, y0=0, y1=1, line=dict(color="#999", dash="dot", width=1)))
            if row == 0:
                layout["annotations"].append(panel_title(t(f"invariance.panel.{kind}"), left + width / 2, top, 14))
    return go.Figure(data=data, layout=layout)


def equivariance_figure(result, height: int = 340) -> go.Figure:
    """Per shift of the input (pixels): how much each layer's maps changed at the same positions
    (solid) and once moved by the nearest whole map cells (dotted); result is an Equivariance of
    cnn_core.inspection.invariance."""
    data = []
    for i, layer in enumerate(result.layers):
        colour = INVARIANCE_COLOURS[i % len(INVARIANCE_COLOURS)]
        for field, dash, key in (
            ("change", "solid", "invariance.trace.change"),
            ("shift_error", "dot", "invariance.trace.moved"),
        ):
            data.append(
                dict(
                    type="scatter",
                    x=list(result.shifts),
                    y=list(getattr(layer, field)),
                    mode="lines+markers",
                    name=t(key, layer=layer.label),
                    line=dict(color=colour, dash=dash),
                    hovertemplate="%{x} px: %{y:.3f}<extra></extra>",
                )
            )
    layout = dict(
        height=height,
        margin=dict(l=10, r=10, t=24, b=10),
        xaxis=dict(title=dict(text=t("invariance.axis.shift")), dtick=1),
        yaxis=dict(title=dict(text=t("invariance.axis.relative")), rangemode="tozero"),
        legend=dict(orientation="h", y=-0.25),
    )
    return go.Figure(data=data, layout=layout)


def shift_pictures(maps: list, side: int = 180) -> tuple[list, float, float]:
    """Maps of one channel (each H×W) as st.image pictures on one shared Viridis scale, enlarged to
    about side pixels, so that equal values look equal across them; with the scale's low and high."""
    arrays = [np.asarray(m, dtype=np.float64) for m in maps]
    low = min(float(a.min()) for a in arrays)
    high = max(float(a.max()) for a in arrays)
    high = high if high > low else low + 1.0
    return [enlarged(map_colours(a, "Viridis", low, high)[0].transpose(2, 0, 1), side) for a in arrays], low, high


def equivariance_pictures(result, position: int, channel: int, side: int = 160) -> list[tuple[list, str | None]]:
    """For shift number position of result (an Equivariance) and one channel, rows of (picture,
    caption) pairs with a note: the input and its shifted copy; then, per layer, the image's maps,
    the shifted image's maps and the image's maps moved by the cells they were compared at, on one
    colour scale per layer (the note gives it)."""
    d = result.shifts[position]
    inputs = np.asarray(result.inputs)
    rows = [
        (
            [
                (enlarged(inputs[0], side), t("invariance.picture.input")),
                (enlarged(inputs[position + 1], side), t("invariance.picture.shifted", d=d)),
            ],
            None,
        )
    ]
    for layer in result.layers:
        maps = np.asarray(layer.maps)
        c = min(channel, maps.shape[1] - 1)
        moved = np.asarray(layer.moved_original(position, result.axis))
        pictures, low, high = shift_pictures([maps[0, c], maps[position + 1, c], moved[c]], side)
        captions = [
            t("invariance.picture.original", layer=layer.label),
            t("invariance.picture.of_shifted", layer=layer.label, d=d),
            t("invariance.picture.moved", layer=layer.label, n=layer.moved_by[position]),
        ]
        rows.append(
            (list(zip(pictures, captions)), t("invariance.picture.scale", c=c, low=f"{low:.3g}", high=f"{high:.3g}"))
        )
    return rows
