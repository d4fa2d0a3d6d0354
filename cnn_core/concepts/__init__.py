"""The concept lab: each lesson of the seed tutorials as a pure, tested function.

One module per group of lessons (images, convolution, patch matching, strides, pooling,
activations, batch speed, receptive fields), each with its lessons' formulas in LaTeX.
Functions take numpy arrays and plain numbers and return dataclasses; the pages only draw them. An input that makes an experiment meaningless (a kernel larger than
the image, a flat patch) raises ConceptError with an explanation the page shows instead of a plot.
"""

from __future__ import annotations

from cnn_core.errors import CnnLabError


class ConceptError(CnnLabError, ValueError):
    """An experiment setting that cannot give a picture; the message explains why and what to change."""
