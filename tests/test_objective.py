"""The loss and the probabilities follow the network's output layer (cnn_core.arch.output,
cnn_core.train.objective), against the losses written out directly on the network's own outputs:
nn.BCELoss on one-hot targets after a Sigmoid (seed 004's classifier), the negative log of a
Softmax's outputs, cross-entropy on logits. Then seed 004's network trained for real: its
predictions are its sigmoid outputs, no longer capped at e/(e+9) by a softmax on top."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from cnn_core.arch.model import build_model
from cnn_core.arch.output import output_layer, training_loss
from cnn_core.arch.presets import preset_spec
from cnn_core.i18n import catalog
from cnn_core.inspection.loading import load_run, load_test_images
from cnn_core.inspection.predictions import load_predictions, predictions_from_model, top_k
from cnn_core.train.objective import Objective, output_probabilities, predict
from tests.conftest import REPO_ROOT, TINY_SPEC, one_torch_thread, tiny_config, train_completed_run

EN = catalog("en")  # the English catalogue: every key, as the tests read it

HEAD = TINY_SPEC["layers"]
SIGMOID_SPEC = {**TINY_SPEC, "layers": [*HEAD, {"type": "sigmoid"}]}
SOFTMAX_SPEC = {**TINY_SPEC, "layers": [*HEAD, {"type": "softmax"}, {"type": "flatten"}]}
SPECS = {"logits": TINY_SPEC, "softmax": SOFTMAX_SPEC, "sigmoid": SIGMOID_SPEC}
SEED004_CAP = math.e / (math.e + 9)  # softmax of ten sigmoid outputs: at most e / (e + 9) = 23.2 %


@pytest.fixture(autouse=True)
def single_thread():
    with one_torch_thread():
        yield


def batch(n: int = 16, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(n, 1, 28, 28, generator=generator), torch.randint(0, 10, (n,), generator=generator)


def network(spec: dict, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return build_model(spec).eval()


# ------------------------------------------------------------------ which output, which loss


def test_the_output_layer_is_read_from_the_spec():
    assert output_layer(preset_spec("seed004_leaky_cnn")) == ("sigmoid", 8)
    assert output_layer(preset_spec("seed002_mnist_cnn")) == ("logits", None)
    assert output_layer(preset_spec("resnet18_transfer")) == ("logits", None)
    assert output_layer(SOFTMAX_SPEC) == ("softmax", 4)  # the flatten after it is looked through
    middle = {**TINY_SPEC, "layers": [HEAD[0], {"type": "sigmoid"}, *HEAD[2:]]}
    assert output_layer(middle) == ("logits", None)  # a sigmoid inside the network is an activation
    assert output_layer({"input_shape": [1, 8, 8], "num_classes": 2, "layers": []}) == ("logits", None)


def test_the_builder_can_say_which_loss_without_torch():
    assert training_loss(SIGMOID_SPEC) == EN["loss.sigmoid"]
    assert training_loss(SOFTMAX_SPEC) == EN["loss.softmax"]
    assert training_loss(TINY_SPEC) == EN["loss.logits"]
    probe = "import sys, cnn_core.arch.output; sys.exit(3 if 'torch' in sys.modules else 0)"
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    assert subprocess.run([sys.executable, "-c", probe], cwd=REPO_ROOT, env=env).returncode == 0


# ------------------------------------------------------------------ the loss on the outputs


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_a_final_sigmoid_trains_with_binary_cross_entropy_on_one_hot_targets(smoothing):
    model, (x, y) = network(SIGMOID_SPEC), batch()
    objective = Objective.for_spec(SIGMOID_SPEC, smoothing)
    outputs = model(x)
    targets = F.one_hot(y, 10).float() * (1 - smoothing) + smoothing / 2
    oracle = nn.BCELoss()(outputs, targets)  # seed 004's criterion, on the network's outputs
    loss = objective(objective.scores(model, x), y)
    assert loss.item() == pytest.approx(oracle.item(), rel=1e-5)
    assert objective.summed()(objective.scores(model, x), y).item() == pytest.approx(16 * oracle.item(), rel=1e-5)
    ours = torch.autograd.grad(loss, list(model.parameters()))
    theirs = torch.autograd.grad(oracle, list(model.parameters()))
    for a, b in zip(ours, theirs, strict=True):
        assert torch.allclose(a, b, rtol=1e-4, atol=1e-7)


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_a_final_softmax_is_not_applied_twice(smoothing):
    model, (x, y) = network(SOFTMAX_SPEC), batch()
    objective = Objective.for_spec(SOFTMAX_SPEC, smoothing)
    outputs = model(x)
    assert torch.allclose(outputs.sum(1), torch.ones(16))
    # the negative log of the Softmax's own outputs (log_softmax of log p is log p)
    oracle = F.cross_entropy(torch.log(outputs), y, label_smoothing=smoothing)
    if not smoothing:
        assert oracle.item() == pytest.approx(F.nll_loss(torch.log(outputs), y).item(), rel=1e-6)
    assert objective(objective.scores(model, x), y).item() == pytest.approx(oracle.item(), rel=1e-5)
    # the old way, a second softmax on top, is a different and much flatter loss
    assert F.cross_entropy(outputs, y).item() != pytest.approx(oracle.item(), rel=1e-2)


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_no_output_activation_means_cross_entropy_on_logits(smoothing):
    model, (x, y) = network(TINY_SPEC), batch()
    objective = Objective.for_spec(TINY_SPEC, smoothing)
    assert torch.equal(objective.scores(model, x), model(x))
    oracle = F.cross_entropy(model(x), y, label_smoothing=smoothing)
    assert objective(objective.scores(model, x), y).item() == pytest.approx(oracle.item(), rel=1e-6)


def test_a_saturated_sigmoid_still_has_a_gradient():
    """Why the loss takes the values entering the Sigmoid: once a float32 sigmoid rounds to 1.0,
    BCE on the outputs is clamped and its gradient is zero, so a confidently wrong class would
    never be corrected; BCE-with-logits on the same network still pushes it down."""
    layers = [{"type": "flatten"}, {"type": "linear", "out_features": 3}, {"type": "sigmoid"}]
    spec = {"input_shape": [1, 2, 2], "num_classes": 3, "layers": layers}
    model = network(spec)
    with torch.no_grad():
        model[1].weight.zero_()
        model[1].bias.copy_(torch.tensor([0.0, 40.0, 0.0]))  # class 1 certain, but the image is class 0
    x, y = torch.zeros(1, 1, 2, 2), torch.tensor([0])
    assert model(x)[0, 1].item() == 1.0
    objective = Objective.for_spec(spec)
    ours = torch.autograd.grad(objective(objective.scores(model, x), y), model[1].bias)[0]
    clamped = torch.autograd.grad(nn.BCELoss()(model(x), F.one_hot(y, 3).float()), model[1].bias)[0]
    assert clamped[1].item() == 0.0
    assert ours[1].item() > 0.1  # gradient descent lowers the wrong class's score


# ------------------------------------------------------------------ the probabilities shown


@pytest.mark.parametrize("kind", SPECS)
def test_probabilities_follow_the_output_layer(kind):
    spec = SPECS[kind]
    model, (x, _) = network(spec), batch()
    outputs = model(x)
    expected = outputs.softmax(1) if kind == "logits" else outputs  # Softmax and Sigmoid outputs as they are
    objective = Objective.for_spec(spec)
    assert torch.allclose(objective.probabilities(objective.scores(model, x)), expected, atol=1e-7)
    assert torch.equal(output_probabilities(spec, outputs), expected)
    predicted, probs = predict(model, spec, x)
    assert torch.equal(predicted, outputs.argmax(1)) and torch.allclose(probs, expected, atol=1e-7)
    if kind == "sigmoid":  # independent yes/no answers: they need not sum to one
        assert not torch.allclose(probs.sum(1), torch.ones(len(x)), atol=1e-3)


def test_seed004_trained_is_no_longer_capped_at_23_percent(runs_root, tmp_path):
    """Seed 004's network (ending in Sigmoid) trained on digits: predictions.json, the model-computed
    predictions of the look-inside pages and the top-k of one image are its sigmoid outputs, and the
    network is confident, far above the 23.2 % that a softmax on top of its sigmoids allowed."""
    config = tiny_config(spec=None, preset="seed004_leaky_cnn", epochs=2, batch_size=32)
    run_dir = train_completed_run(tmp_path / "20260101-000000-digits-seed004", config)
    loaded, saved = load_run(run_dir), load_predictions(run_dir)
    images, labels = load_test_images(run_dir)
    with torch.no_grad():
        outputs = loaded.model(loaded.normalise(images)).numpy()
    assert np.allclose(saved.probs, outputs, atol=1e-5)  # rounded to 5 decimals in the file
    assert np.array_equal(saved.predicted, outputs.argmax(1))
    computed = predictions_from_model(loaded, images, labels)
    assert np.allclose(computed.probs, outputs, atol=1e-6) and np.array_equal(computed.predicted, saved.predicted)
    top = top_k(loaded, images[:1], k=3)
    assert [p for _, p in top] == pytest.approx(sorted(outputs[0], reverse=True)[:3], abs=1e-6)

    accuracy = float(saved.correct.mean())
    median = float(np.median(saved.confidence))
    print(json.dumps({"seed004_test_accuracy": accuracy, "median_confidence": median}))
    assert accuracy > 0.8
    assert median > 2 * SEED004_CAP
