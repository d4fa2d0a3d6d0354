"""Predictions on the test set (saved by a finished run, or computed now for a stopped one) and
on one image: the gallery's filters and order, the confusion matrix, per-class precision and
recall, the top-k of an upload.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

from cnn_core.data.catalog import class_label
from cnn_core.files import read_json
from cnn_core.i18n import t
from cnn_core.inspection.layers import inference_model
from cnn_core.inspection.loading import InspectionError, LoadedRun
from cnn_core.train.objective import predict


@dataclass
class Predictions:
    class_names: list[str]
    labels: np.ndarray
    predicted: np.ndarray
    probs: np.ndarray

    @property
    def confidence(self) -> np.ndarray:
        return self.probs[np.arange(len(self.predicted)), self.predicted]

    @property
    def correct(self) -> np.ndarray:
        return self.labels == self.predicted


def load_predictions(run_dir: Path) -> Predictions:
    raw = read_json(run_dir / "predictions.json")
    if raw is None:
        raise InspectionError(t("inspect.err.no_predictions", run_id=run_dir.name))
    return Predictions(
        raw["class_names"],
        np.asarray(raw["labels"]),
        np.asarray(raw["predicted"]),
        np.asarray(raw["probs"], dtype=np.float32),
    )


def predictions_from_model(
    loaded: LoadedRun, images: torch.Tensor, labels: torch.Tensor, batch_size: int = 512
) -> Predictions:
    """Test predictions computed now (for a stopped run, which has no predictions.json), as training
    computes them: probabilities that follow the network's output layer (train.objective.predict)."""
    predicted, probs = [], []
    model = inference_model(loaded)
    with torch.no_grad():
        for start in range(0, len(images), batch_size):
            guesses, p = predict(model, loaded.spec, loaded.normalise(images[start : start + batch_size]))
            predicted.append(guesses)
            probs.append(p)
    return Predictions(loaded.class_names, labels.numpy(), torch.cat(predicted).numpy(), torch.cat(probs).numpy())


SORTS = ("confidence_desc", "confidence_asc", "index")


def gallery(
    preds: Predictions,
    only_mistakes: bool = False,
    true_class: int | None = None,
    predicted_class: int | None = None,
    sort: str = "confidence_desc",
    page: int = 0,
    page_size: int = 24,
) -> tuple[np.ndarray, int]:
    """Indices of test images for one page of the gallery, and how many match the filters."""
    keep = np.ones(len(preds.labels), dtype=bool)
    if only_mistakes:
        keep &= ~preds.correct
    if true_class is not None:
        keep &= preds.labels == true_class
    if predicted_class is not None:
        keep &= preds.predicted == predicted_class
    indices = np.flatnonzero(keep)
    if sort == "confidence_desc":
        indices = indices[np.argsort(-preds.confidence[indices], kind="stable")]
    elif sort == "confidence_asc":
        indices = indices[np.argsort(preds.confidence[indices], kind="stable")]
    start = max(0, page) * page_size
    return indices[start : start + page_size], len(indices)


def confusion(preds: Predictions) -> np.ndarray:
    return confusion_matrix(preds.labels, preds.predicted, labels=list(range(len(preds.class_names))))


def per_class_report(preds: Predictions) -> list[dict]:
    """Precision, recall (= per-class accuracy) and support for every class."""
    labels = list(range(len(preds.class_names)))
    precision, recall, _, support = precision_recall_fscore_support(
        preds.labels, preds.predicted, labels=labels, zero_division=0
    )
    return [
        {
            t("inspect.col.class"): class_label(name),
            t("inspect.col.precision"): float(p),
            t("inspect.col.recall"): float(r),
            t("inspect.col.support"): int(s),
        }
        for name, p, r, s in zip(preds.class_names, precision, recall, support)
    ]


def top_k(loaded: LoadedRun, image_uint8: torch.Tensor, k: int = 5) -> list[tuple[str, float]]:
    """The k most probable classes of one image, with probabilities that follow the output layer
    (after a final Sigmoid: each class's own yes/no probability, not summing to 1)."""
    with torch.no_grad():
        probs = predict(inference_model(loaded), loaded.spec, loaded.normalise(image_uint8))[1][0]
    values, indices = probs.topk(min(k, len(probs)))
    return [(loaded.class_names[i], float(v)) for v, i in zip(values, indices)]
