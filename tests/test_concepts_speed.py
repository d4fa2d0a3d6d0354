"""What keeps the concept lab quick without changing what it shows: maps and histograms travel as
float32, figures are built in one go with the same layout, the stride timings are measured once per
input (a rerun reuses them, "again" measures anew), and sliders live in fragments."""

import base64
import io
import json

import numpy as np
import plotly.colors as pc
import plotly.graph_objects as go
import plotly.io as pio
from PIL import Image

from cnn_core.figures import concepts as viz
from cnn_core.figures.images import PICTURE_CELLS, response_picture, small_map_picture
from tests.apptest import open_app_page


def test_map_cells_travel_as_float32_with_the_same_values():
    values = np.random.default_rng(0).normal(size=(40, 60))
    fig = viz.map_figure(values, "m", diverging=True, box=(1, 2, 3, 4), marker=(5, 6))
    z = np.asarray(fig.data[0].z)
    assert z.dtype == np.float32 and np.allclose(z, values, rtol=1e-6, atol=1e-6)
    assert fig.data[0].zmax == float(np.abs(values).max())  # the colour range from the full-precision values
    assert json.loads(fig.to_json())["data"][0]["z"]["dtype"] == "f4"
    assert len(fig.data) == 2 and len(fig.layout.shapes) == 1


def _png_pixels(source: str) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(source.split(",", 1)[1]))).convert("RGB"))


def _plotly_colour(colorscale: str, share: float) -> np.ndarray:
    """Plotly's own colour at `share` of a named scale, 0-255 (the oracle for the picture's cells)."""
    return np.asarray(pc.sample_colorscale(pc.get_colorscale(colorscale), [share], colortype="tuple")[0]) * 255


def test_a_large_map_travels_as_a_picture_of_plotly_colours_with_its_colour_bar():
    values = np.random.default_rng(4).normal(size=(120, 90))  # more cells than PICTURE_CELLS
    assert values.size > PICTURE_CELLS
    fig = viz.map_figure(values, "m", marker=(5, 6), box=(1, 2, 3, 4))
    picture, scale, cross = fig.data
    assert picture.type == "image" and picture.z is None and scale.marker.showscale and cross.type == "scatter"
    pixels = _png_pixels(picture.source)
    assert pixels.shape == (120, 90, 3)  # one pixel per cell: cell (i, j) at (y=i, x=j), as a heat map has it
    low, high = values.min(), values.max()
    assert (scale.marker.cmin, scale.marker.cmax) == (low, high)
    for cell in [
        np.unravel_index(values.argmin(), values.shape),
        np.unravel_index(values.argmax(), values.shape),
        (7, 11),
    ]:
        share = (values[cell] - low) / (high - low)
        assert np.abs(pixels[cell] - _plotly_colour("Viridis", share)).max() <= 2.5, cell
    assert len(json.dumps(fig.to_plotly_json()["data"][0])) < values.size * 4  # fewer bytes than float32 cells
    diverging = viz.map_figure(values, "d", diverging=True, showscale=False)
    assert [tr.type for tr in diverging.data] == ["image"]  # no colour bar asked for
    zero = np.argmin(np.abs(values))
    assert np.abs(_png_pixels(diverging.data[0].source).reshape(-1, 3)[zero] - _plotly_colour("RdBu", 0.5)).max() <= 3
    small = viz.map_figure(values[:90, :90], "s")  # 8,100 cells: still a heat map with values to hover
    assert small.data[0].type == "heatmap"
    panels = viz.panels_figure([fig, small], 2)
    assert panels.data[1].marker.colorbar.x == panels.layout.xaxis.domain[1]  # its colour bar beside its panel


def test_a_response_picture_has_the_heat_maps_colours():
    """response_picture colours as map_figure would: RdBu around zero for both signs, Viridis else."""
    signed = np.array([[-2.0, 0.0, 1.0]])
    colours = response_picture(signed, signed=True)[0]
    for cell, share in ((0, 0.0), (1, 0.5), (2, 0.75)):  # -2 → low end, 0 → middle (white), +1 → 3/4
        assert np.abs(colours[cell] - _plotly_colour("RdBu", share)).max() <= 2.5
    unsigned = response_picture(np.array([[1.0, 3.0]]), signed=False)[0]
    assert np.abs(unsigned[0] - _plotly_colour("Viridis", 0)).max() <= 2.5
    assert np.abs(unsigned[1] - _plotly_colour("Viridis", 1)).max() <= 2.5


def test_a_small_map_picture_is_crisp_blocks_of_viridis_on_its_own_range():
    values = np.array([[0.0, 2.0, 4.0], [4.0, 4.0, 1.0]])
    picture, low, high = small_map_picture(values, side=240)
    assert (low, high) == (0.0, 4.0) and picture.shape == (160, 240, 3) and picture.dtype == np.uint8
    for (row, col), value in np.ndenumerate(values):  # every cell an 80 × 80 block of one colour
        block = picture[row * 80 : (row + 1) * 80, col * 80 : (col + 1) * 80].reshape(-1, 3)
        assert (block == block[0]).all()
        assert np.abs(block[0] - _plotly_colour("Viridis", value / 4.0)).max() <= 2.5


def test_figures_keep_the_lab_layout_and_the_default_template():
    grid = viz.grid_figure(np.arange(16.0).reshape(4, 4), "g", box=(0, 0, 2, 2))
    assert grid.layout.yaxis.autorange == "reversed" and grid.layout.yaxis.scaleanchor == "x"
    assert grid.layout.xaxis.side == "top" and grid.layout.xaxis.dtick == 1 and grid.layout.title.text == "g"
    photo = viz.photo_figure(np.random.default_rng(1).random((3, 20, 30)), "p", box=(1, 1, 3, 3), marker=(4, 5))
    assert photo.layout.xaxis.showticklabels and photo.layout.yaxis.showticklabels
    assert len(photo.layout.shapes) == 1 and photo.data[-1].type == "scatter"
    assert photo.layout.template == go.Figure().layout.template == pio.templates[pio.templates.default]
    bars = viz.bars_figure(["a", "b"], [0.5, 0.25], percent=True)
    assert bars.layout.yaxis.tickformat == ".0%" and bars.layout.yaxis.autorange is None


def test_histogram_float32_values_all_fall_inside_the_bins():
    values = np.random.default_rng(2).normal(size=5000) * 1e-3 + 1 / 3
    fig = viz.histogram_figure(values, threshold=1 / 3, threshold_label="t")
    low = fig.data[0].xbins.start
    high = fig.data[0].xbins.end
    shown = np.concatenate([np.asarray(trace.x) for trace in fig.data])
    assert shown.dtype == np.float32 and shown.size == values.size
    assert low <= shown.min() and shown.max() < high
    assert len(fig.data[1].x) == int((values > 1 / 3).sum())


def times(at) -> list:
    return list(at.table[0].value["time (ms)"])


def test_stride_timings_are_kept_on_a_rerun_and_measured_again_on_request():
    at = open_app_page("app_pages/concepts/strides.py")
    first = times(at)
    at.run()
    assert times(at) == first, "a rerun (any other widget) reuses the measurement"
    at.button(key="cst_again").click().run()
    assert at.session_state["cst_run"] == 1 and not at.exception
    assert list(at.table[0].value["stride"]) == [1, 2, 4, 8, 16] and (np.asarray(times(at)) > 0).all()


def test_panels_figure_keeps_every_panel_as_one_chart():
    """Maps shown side by side travel as one chart of subplots: each keeps its values, hover, colour
    scale, boxes, markers and square reversed axes; its title becomes its subplot's title."""
    values = np.arange(16.0).reshape(4, 4)
    grid = viz.grid_figure(values, "g", box=(0, 0, 2, 2), diverging=True)
    heat = viz.map_figure(values * 2, "m", marker=(1, 2))
    photo = viz.photo_figure(np.random.default_rng(3).random((3, 5, 6)), "p", box=(1, 1, 2, 2))
    fig = viz.panels_figure([grid, heat, photo], 2)
    assert [a.text for a in fig.layout.annotations] == ["g", "m", "p"]
    assert len(fig.data) == len(grid.data) + len(heat.data) + len(photo.data) == 4
    assert [(d.xaxis, d.yaxis) for d in fig.data] == [("x", "y"), ("x2", "y2"), ("x2", "y2"), ("x3", "y3")]
    assert np.array_equal(fig.data[0].z, grid.data[0].z) and fig.data[0].colorscale == grid.data[0].colorscale
    assert fig.data[0].hovertemplate == grid.data[0].hovertemplate and fig.data[0].zmid == 0
    assert np.array_equal(fig.data[1].z, heat.data[1 - 1].z) and fig.data[2].x == heat.data[1].x
    assert [(s.xref, s.yref, s.x0, s.y1) for s in fig.layout.shapes] == [("x", "y", -0.5, 1.5), ("x3", "y3", 0.5, 2.5)]
    assert fig.layout.yaxis2.autorange == "reversed" and fig.layout.yaxis2.scaleanchor == "x2"
    assert fig.layout.xaxis.domain[1] < fig.layout.xaxis2.domain[0]  # side by side
    assert fig.layout.yaxis3.domain[1] < fig.layout.yaxis.domain[0]  # the second row below the first
    assert fig.data[1].colorbar.x == fig.layout.xaxis2.domain[1]  # its colour scale beside its own panel
