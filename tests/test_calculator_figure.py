"""The calculator's window picture as drawn (issue #15): a few traces however many cells, the grid's
colours exactly the picture's roles, the window's cells exactly the ones the picture highlights (its
oracle is tests/test_calculator.py: the highlighted cells reproduce torch's output)."""

import pytest

from cnn_core.arch.calculator import INPUT, INSERTED_ZERO, PADDING, UNREAD, LayerQuery, window_picture
from cnn_core.figures.calculator import _ROLE_COLOURS, window_figure
from cnn_core.i18n import catalog

EN = catalog("en")
ROLE_KEYS = {
    INPUT: "viz.role.input",
    PADDING: "viz.role.padding",
    INSERTED_ZERO: "viz.role.inserted",
    UNREAD: "viz.role.unread",
}

QUERIES = [
    LayerQuery("conv2d", 5, 5, kernel=3, stride=2, padding=1),
    LayerQuery("conv2d", 6, 6, kernel=3, stride=2),  # unread cells
    LayerQuery("conv2d", 9, 7, kernel=3, dilation=2, padding=1),  # a window with holes
    LayerQuery("conv_transpose2d", 4, 4, kernel=3, stride=2),  # inserted zeros
    LayerQuery("maxpool2d", 7, 7, kernel=2, stride=2, ceil_mode=True),
    LayerQuery("conv2d", 64, 64, kernel=5),  # the most cells drawn by default: 4,096
]


def role_colour(fig, value: int) -> str:
    """The colour the stepped scale of the grid gives to a cell of role `value`."""
    grid = fig.data[0]
    pos = (value - grid.zmin) / (grid.zmax - grid.zmin)
    below = [colour for stop, colour in grid.colorscale if stop <= pos]
    above = [colour for stop, colour in grid.colorscale if stop >= pos]
    assert below[-1] == above[0], "a role sits on a colour boundary"
    return below[-1]


@pytest.mark.parametrize("query", QUERIES, ids=lambda q: f"{q.kind}-{q.height}x{q.width}")
@pytest.mark.parametrize("position", [(0, 0), (1, 2), (99, 99)])
def test_the_figure_draws_the_pictures_roles_and_window_in_a_few_traces(query, position):
    picture = window_picture(query, *position)
    fig = window_figure(picture)
    rows, cols = len(picture.roles), len(picture.roles[0])
    assert len(fig.data) <= 2 + len(_ROLE_COLOURS) + 1, "a few traces, not one per cell"
    assert len(fig.layout.shapes) <= 1, "at most one outline, never one shape per cell"
    grid, window = fig.data[0], fig.data[1]
    assert grid.type == "heatmap" and [list(r) for r in grid.z] == picture.roles
    for role, colour in _ROLE_COLOURS.items():
        assert role_colour(fig, role) == colour
    # hover names each cell's role
    assert all(grid.text[i][j] == EN[ROLE_KEYS[picture.roles[i][j]]] for i in range(rows) for j in range(cols))
    marked = {(i, j) for a, i in enumerate(window.y) for b, j in enumerate(window.x) if window.z[a][b] is not None}
    assert window.type == "heatmap" and marked == set(picture.highlight)
    (outline,) = fig.layout.shapes  # the window's span
    assert (
        outline.x0 == min(j for _, j in picture.highlight) - 0.5
        and outline.x1 == max(j for _, j in picture.highlight) + 0.5
    )
    assert (
        outline.y0 == min(i for i, _ in picture.highlight) - 0.5
        and outline.y1 == max(i for i, _ in picture.highlight) + 0.5
    )
    # the legend: one entry per role present, and the window
    present = {role for row in picture.roles for role in row}
    legend = [trace.name for trace in fig.data[2:]]
    assert legend == [EN[ROLE_KEYS[role]] for role in _ROLE_COLOURS if role in present] + [EN["viz.role.window"]]
    assert len(fig.to_json()) < 10_000 + 12 * rows * cols  # the roles and their hover names, nothing more per cell


def test_the_figure_of_the_largest_picture_stays_small():
    """64×64 used to be 4,105 scatter points (30 KB of JSON and seconds of SVG in the browser)."""
    fig = window_figure(window_picture(LayerQuery("conv2d", 64, 64), 10, 20))
    points = sum(len(trace.x) for trace in fig.data if trace.type == "scatter")
    assert points <= len(_ROLE_COLOURS) + 1 and sum(trace.type == "heatmap" for trace in fig.data) == 2
