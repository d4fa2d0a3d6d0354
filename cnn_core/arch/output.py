"""What a network's outputs are, read from its spec's last layer, and so which loss trains it and
how its outputs become the probabilities shown. Torch-free: the builder says it as you edit.

- "logits": no output activation (the last layer is linear, or any layer that is not Sigmoid or
  Softmax): cross-entropy on the outputs, and their softmax is shown.
- "softmax": the network ends in Softmax: its outputs already are probabilities, shown as they are;
  it trains with cross-entropy on the values entering the Softmax (the negative log of its outputs),
  so the softmax is never applied twice.
- "sigmoid": the network ends in Sigmoid (seed 004): one yes/no probability per class, shown as they
  are (they need not sum to 1); it trains with binary cross-entropy against one-hot targets, as
  seed 004's classifier does (nn.BCELoss on one-hot target tensors).

Flatten layers after the activation change nothing and are looked through.
"""

from __future__ import annotations

from cnn_core.i18n import t

OUTPUTS = ("logits", "softmax", "sigmoid")
_LOOKED_THROUGH = ("flatten",)


def output_layer(spec: dict) -> tuple[str, int | None]:
    """(what the outputs are, index of the spec layer that makes them probabilities or None)."""
    layers = spec.get("layers") if isinstance(spec, dict) else None
    if not isinstance(layers, list):  # a transfer-learning backbone ends in a linear head
        return "logits", None
    for index in range(len(layers) - 1, -1, -1):
        kind = layers[index].get("type") if isinstance(layers[index], dict) else None
        if kind in _LOOKED_THROUGH:
            continue
        if kind in ("softmax", "sigmoid"):
            return kind, index
        break
    return "logits", None


def output_kind(spec: dict) -> str:
    """What the outputs are: logits, softmax or sigmoid (see the module's docstring)."""
    return output_layer(spec)[0]


def training_loss(spec: dict) -> str:
    """Which loss this network will be trained with and what its probabilities are, in one sentence."""
    kind = output_kind(spec)
    if kind == "sigmoid":
        return t("loss.sigmoid")
    if kind == "softmax":
        return t("loss.softmax")
    return t("loss.logits")
