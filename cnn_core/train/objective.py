"""The training objective that follows a network's output layer (cnn_core.arch.output says which):
the values the loss sees, the loss (mean over a batch for training, summed for evaluation, label
smoothing in both), and the probabilities shown for a network's outputs.

A final Sigmoid or Softmax is looked through for the loss, which takes the values entering it:
binary cross-entropy with logits against one-hot targets for a Sigmoid, cross-entropy for a
Softmax. Mathematically these are BCE on the Sigmoid's outputs and the negative log of the
Softmax's outputs, but they never take log(0) when a float32 sigmoid rounds to exactly 1 (from a
pre-activation of about 17 on), and their gradient does not vanish there: BCE on the outputs would
multiply by the sigmoid's derivative, 0 in saturation, and a confidently wrong class could never
recover. The network itself is unchanged, so module i is still spec layer i.

Label smoothing: cross-entropy's own (ε spread over all classes) for logits and Softmax; for a
Sigmoid each class is a yes/no question, so targets become y·(1 − ε) + ε/2 (as Keras's binary
cross-entropy smooths them). Each image's sigmoid loss is the mean over its classes, as seed 004's
nn.BCELoss() takes it.
"""

from __future__ import annotations

from itertools import islice

import torch
import torch.nn.functional as F
from torch import nn

from cnn_core.arch.output import output_layer

_ACTIVATIONS = {"softmax": nn.Softmax, "sigmoid": nn.Sigmoid}


class Objective:
    """The loss of one network (see the module's docstring); called as criterion(scores, labels)."""

    def __init__(
        self, output: str = "logits", head: int | None = None, label_smoothing: float = 0.0, reduction: str = "mean"
    ):
        if reduction not in ("mean", "sum"):
            raise ValueError(f"reduction must be 'mean' or 'sum', got {reduction!r}")
        self.output, self.head = output, head
        self.label_smoothing, self.reduction = float(label_smoothing), reduction

    @classmethod
    def for_spec(cls, spec: dict, label_smoothing: float = 0.0) -> Objective:
        output, head = output_layer(spec)
        return cls(output, head, label_smoothing)

    def summed(self) -> Objective:
        """The same loss summed over the batch, for evaluate."""
        return Objective(self.output, self.head, self.label_smoothing, "sum")

    def scores(self, model: nn.Module, x: torch.Tensor) -> torch.Tensor:
        """What the loss sees: the outputs of a network without output activation, else the values
        entering its final Sigmoid or Softmax. Their argmax is the network's prediction either way."""
        if self.head is None:
            return model(x)
        if not isinstance(model[self.head], _ACTIVATIONS[self.output]):
            raise ValueError(f"layer {self.head} of this model is not the {self.output} its spec ends in")
        for module in islice(model, self.head):
            x = module(x)
        return x.flatten(1)

    def __call__(self, scores: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        if self.output != "sigmoid":
            return F.cross_entropy(scores, labels, label_smoothing=self.label_smoothing, reduction=self.reduction)
        classes = scores.shape[1]
        targets = F.one_hot(labels, classes).to(scores.dtype)
        if self.label_smoothing:
            targets = targets * (1 - self.label_smoothing) + self.label_smoothing / 2
        loss = F.binary_cross_entropy_with_logits(scores, targets, reduction=self.reduction)
        return loss / classes if self.reduction == "sum" else loss  # per image: the mean over its classes

    def probabilities(self, scores: torch.Tensor) -> torch.Tensor:
        """The probabilities shown for these scores: exactly the outputs of a network ending in
        Sigmoid or Softmax, the softmax of a network's logits."""
        return scores.sigmoid() if self.output == "sigmoid" else scores.softmax(1)


def output_probabilities(spec: dict, outputs: torch.Tensor) -> torch.Tensor:
    """Probabilities from a network's own outputs (model(x)): as they are after a final Sigmoid or
    Softmax, the softmax of logits. Independent per-class probabilities after a Sigmoid."""
    return outputs.softmax(1) if output_layer(spec)[0] == "logits" else outputs.flatten(1)


def predict(model: nn.Module, spec: dict, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(predicted classes, probabilities) of a batch, as evaluate computes them: the argmax of the
    scores (so saturated sigmoid outputs that round to the same 1.0 still rank correctly)."""
    objective = Objective.for_spec(spec)
    scores = objective.scores(model, x)
    return scores.argmax(1), objective.probabilities(scores)
