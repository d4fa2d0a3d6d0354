"""Two trained networks on the same test images: their accuracy, and how sure each is of its
answer (the winning class's probability), image by image, so that a claim such as seed 004's "the
CNN is more confident than the fully connected net" is checked on every test image, not on two.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cnn_core.i18n import t
from cnn_core.inspection.loading import InspectionError
from cnn_core.inspection.predictions import Predictions


@dataclass
class ConfidenceComparison:
    accuracy: tuple[float, float]
    winning: tuple[np.ndarray, np.ndarray]  # each test image's highest output, per network
    median_winning: tuple[float, float]
    second_surer_share: float  # test images where the second network's highest output is higher
    both_right: int  # test images both networks classify correctly

    @property
    def images(self) -> int:
        return len(self.winning[0])


def compare_confidence(first: Predictions, second: Predictions) -> ConfidenceComparison:
    """Both networks' predictions on one test set; raises InspectionError when they were tested on
    different images or classes (another dataset, split or order): nothing is compared then."""
    if first.class_names != second.class_names or not np.array_equal(first.labels, second.labels):
        raise InspectionError(t("compare.err.different_tests"))
    if not len(first.labels):
        raise InspectionError(t("compare.err.empty"))
    winning = (first.probs.max(axis=1), second.probs.max(axis=1))
    return ConfidenceComparison(
        accuracy=(float(first.correct.mean()), float(second.correct.mean())),
        winning=winning,
        median_winning=(float(np.median(winning[0])), float(np.median(winning[1]))),
        second_surer_share=float((winning[1] > winning[0]).mean()),
        both_right=int((first.correct & second.correct).sum()),
    )


def first_of_each(labels: np.ndarray, class_names: list[str], wanted: tuple[str, ...]) -> list[int]:
    """The index of the first test image of each wanted class that the test set has (seed 004
    compares a 0 and a 6)."""
    found = []
    for name in wanted:
        if name in class_names:
            hits = np.flatnonzero(labels == class_names.index(name))
            if hits.size:
                found.append(int(hits[0]))
    return found
