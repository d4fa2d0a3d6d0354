"""The seeds' slips: what a tutorial says that is not so, what is, and the experiment that shows it.

Each slip belongs to the lesson (or page) where its concept is taught and is shown there. Its
figures are computed here from the same arithmetic the lab uses, never typed in: `facts()` fills
the catalogue text `slip.<key>.fact`; `link()` is the calculator or page view that reproduces it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from cnn_core.arch import shapes
from cnn_core.i18n import t

CALCULATOR = "app_pages/shape_calculator.py"


@dataclass(frozen=True)
class Slip:
    key: str  # catalogue keys slip.<key>.says and slip.<key>.fact
    seed: str  # the tutorial's number, as the seeds are named (000-004)
    where: str  # the lesson prefix (lesson_header) or page name it is shown on
    facts: Callable[[], dict] = dict  # the fact's figures, computed
    link: Callable[[], tuple[str, dict]] | None = None  # (page, query parameters) of the evidence


def _calculator(**values) -> tuple[str, dict]:
    """A calculator view: numbers as they are; the layer kind and padding mode by their labels in the
    visitor's language, as the calculator's link carries them."""
    params = {f"calc_{name}": str(value) for name, value in values.items() if name not in ("kind", "pad_mode")}
    if "kind" in values:
        params["calc_kind"] = t(f"calc.kind.{values['kind']}")
    if "pad_mode" in values:
        params["calc_pad_mode"] = t(f"calc.padding_mode.{values['pad_mode']}")
    return CALCULATOR, params


def _keras_same_5x5() -> dict:
    before, after = shapes.keras_same_padding(5, 3, 2)
    return dict(out=-(-5 // 2), before=before, after=after, formula=shapes.conv_out(5, 3, 2, before, pad_after=after))


def _pool_26() -> dict:
    return dict(out=shapes.pool_out(26, 2, 2))


def _seed004_conv() -> dict:
    return dict(out=shapes.conv_out(28, 5, 2), span=28 - 5, half=(28 - 5) / 2)


def xor_affine_fit() -> np.ndarray:
    """The best affine map (least squares) from XOR's four inputs to its outputs: its predictions."""
    inputs = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    targets = np.array([0.0, 1.0, 1.0, 0.0])
    design = np.hstack([inputs, np.ones((4, 1))])
    weights, *_ = np.linalg.lstsq(design, targets, rcond=None)
    return design @ weights


def _xor() -> dict:
    predictions = xor_affine_fit()
    return dict(values=", ".join(f"{p:.2f}" for p in predictions))


SLIPS = (
    Slip(
        "same_stride2",
        "000",
        "calc",
        _keras_same_5x5,
        lambda: _calculator(kind="conv2d", h=5, w=5, k=3, s=2, pad_mode="same_keras"),
    ),
    Slip("fourier", "000", "concept.steps"),
    Slip("pool_26", "002", "concept.pool", _pool_26, lambda: _calculator(kind="maxpool2d", h=26, w=26, k=2, s=2)),
    Slip("pool_maps", "003", "concept.pool"),
    Slip("batch_epoch", "002", "concept.batch"),
    Slip("validation_split", "002", "train"),
    Slip("relu_exploding", "003", "concept.act"),
    Slip("single_fc", "003", "concept.act", _xor),
    Slip("sigmoid_ten", "004", "concept.act"),
    Slip("half_pixel", "004", "calc", _seed004_conv, lambda: _calculator(kind="conv2d", h=28, w=28, k=5, s=2)),
)


def slips_for(where: str) -> list[Slip]:
    return [slip for slip in SLIPS if slip.where == where]
