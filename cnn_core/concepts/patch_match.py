"""A patch of the picture used as the kernel: plain cross-correlation, as a conv layer computes
it, and normalised cross-correlation, which scores shape alone and is 1 where the patch sits."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cnn_core.concepts import ConceptError
from cnn_core.concepts.convolution import cross_correlate, cross_correlate64
from cnn_core.i18n import t

MATCH_METHODS = ("normalised", "raw")


def match_formula() -> str:
    """The lesson's formula in LaTeX, its words in the current language."""
    return (
        rf"\text{{{t('concept.formula.raw')} }} y[i, j] = \sum_{{m, n}} x[i + m,\ j + n]\; p[m, n]"
        rf"\qquad \text{{{t('concept.formula.normalised')} }} y[i, j] = \frac{{\sum (x_{{ij}} - \bar{{x}}_{{ij}})(p - \bar{{p}})}}"
        r"{\lVert x_{ij} - \bar{x}_{ij} \rVert\, \lVert p - \bar{p} \rVert} \in [-1, 1]"
    )


@dataclass
class PatchMatch:
    patch: np.ndarray
    origin: tuple[int, int]  # the patch's top-left in the image
    method: str
    response: np.ndarray  # response[i, j] scores the window whose top-left is (i, j)
    peak: tuple[int, int]  # top-left of the best-matching window

    @property
    def own_score(self) -> float:
        """The score where the patch was cut from."""
        return float(self.response[self.origin])

    @property
    def peak_score(self) -> float:
        return float(self.response[self.peak])

    @property
    def found_itself(self) -> bool:
        """The patch's own place is the best match (or ties with it)."""
        return self.peak == self.origin or self.own_score >= self.peak_score - 1e-5 * max(1.0, abs(self.peak_score))

    @property
    def flat(self) -> bool:
        """Every pixel of the patch has the same value."""
        return bool(np.ptp(self.patch) < 1e-6)


def cut_patch(image: np.ndarray, top: int, left: int, size: int, centred: bool = False) -> np.ndarray:
    """image[top:top+size, left:left+size] of an (H, W) image, or ConceptError saying why it cannot be
    cut. centred subtracts the patch's mean, so that as a kernel it scores pattern, not brightness."""
    image = np.asarray(image, dtype=np.float32)
    h, w = image.shape
    if size < 1 or size > min(h, w):
        raise ConceptError(t("concept.err.patch_size", size=size, h=h, w=w))
    if not (0 <= top <= h - size and 0 <= left <= w - size):
        raise ConceptError(t("concept.err.patch_place", top=top, left=left, size=size, h=h, w=w))
    patch = image[top : top + size, left : left + size].copy()
    return patch - patch.mean(dtype=np.float64).astype(np.float32) if centred else patch


def match_patch(image: np.ndarray, top: int, left: int, size: int, method: str = "normalised") -> PatchMatch:
    """Use image[top:top+size, left:left+size] as the kernel and slide it over the image.

    "raw" is the plain cross-correlation a conv layer computes: it also rewards windows that
    are merely bright. "normalised" divides by both windows' contrast (normalised
    cross-correlation), which is 1 exactly where the patch itself sits.
    """
    image = np.asarray(image, dtype=np.float32)
    if method not in MATCH_METHODS:
        raise ConceptError(t("concept.err.method", method=method, choices=", ".join(MATCH_METHODS)))
    patch = cut_patch(image, top, left, size)
    if method == "raw":
        response = cross_correlate(image, patch)
    else:
        # all in float64: Σx² − (Σx)²/n cancels badly in float32 on smooth regions
        image64 = image.astype(np.float64)
        centred = patch.astype(np.float64) - patch.astype(np.float64).mean()
        patch_norm = float(np.sqrt((centred**2).sum()))
        if patch_norm < 1e-6:
            raise ConceptError(t("concept.err.flat_patch", value=f"{patch.mean():.3f}"))
        ones = np.ones_like(centred)
        n = patch.size
        sums = cross_correlate64(image64, ones)
        squares = cross_correlate64(image64**2, ones)
        window_norm = np.sqrt(np.maximum(squares - sums**2 / n, 0.0))
        numerator = cross_correlate64(image64, centred)
        with np.errstate(divide="ignore", invalid="ignore"):
            response = np.where(window_norm > 1e-6 * max(1.0, patch_norm), numerator / (window_norm * patch_norm), 0.0)
        response = np.clip(response, -1.0, 1.0).astype(np.float32)
    peak = np.unravel_index(int(np.argmax(response)), response.shape)
    return PatchMatch(patch, (top, left), method, response, (int(peak[0]), int(peak[1])))
