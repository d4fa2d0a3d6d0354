"""Exploding gradients and gradient clipping: the lesson's clipping against
torch.nn.utils.clip_grad_norm_, its training steps against the same steps written with torch's own
clipping, and the activations page's sections."""

import pytest
import torch
import torch.nn.functional as F

from cnn_core.concepts import ConceptError
from cnn_core.concepts.activations import gradients_through_depth, stacked_network
from cnn_core.concepts.gradients import clip_by_total_norm, train_deep_stack
from cnn_core.i18n import t
from tests.apptest import open_app_page, open_tab


@pytest.mark.parametrize("max_norm", [0.01, 1.0, 1e3])
def test_clip_by_total_norm_is_clip_grad_norm(max_norm):
    generator = torch.Generator().manual_seed(3)
    grads = [torch.randn(shape, generator=generator) * 5 for shape in ((4, 3), (3,), (2, 2, 2))]
    params = [torch.zeros_like(g, requires_grad=True) for g in grads]
    for param, grad in zip(params, grads):
        param.grad = grad.clone()
    total = torch.nn.utils.clip_grad_norm_(params, max_norm)
    clipped, norm = clip_by_total_norm(grads, max_norm)
    assert norm == pytest.approx(float(total), rel=1e-6)
    for mine, param in zip(clipped, params):
        torch.testing.assert_close(mine, param.grad)


def test_training_steps_are_sgd_with_torchs_clipping():
    depth, scale, max_norm, lr, steps = 6, 1.5, 0.5, 0.01, 4
    run = train_deep_stack(depth, scale, max_norm, steps=steps, lr=lr, width=8, batch=16, seed=2)
    net = stacked_network("relu", depth, 8, "kaiming", 2, scale)
    generator = torch.Generator().manual_seed(3)
    x, target = torch.randn(16, 8, generator=generator), torch.randn(16, 1, generator=generator)
    optimizer = torch.optim.SGD(net.parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        optimizer.zero_grad()
        loss = F.mse_loss(net(x), target)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), max_norm)
        optimizer.step()
        losses.append(float(loss.detach()))
    assert run.diverged_at is None
    assert run.losses == pytest.approx(losses, rel=1e-5)


def test_scaled_weights_explode_and_clipping_keeps_training_finite():
    plain = train_deep_stack(20, 1.5, None)
    clipped = train_deep_stack(20, 1.5, 1.0)
    assert plain.diverged_at is not None and plain.diverged_at <= 2, plain
    assert clipped.diverged_at is None and clipped.losses[-1] < clipped.losses[0] / 10
    assert max(clipped.grad_norms) > 1e3  # they were large: the clipping did the work
    calm = train_deep_stack(20, 1.0, None)
    assert calm.diverged_at is None and calm.losses[-1] < calm.losses[0]


def test_the_weight_scale_multiplies_the_hidden_weights_and_every_gradient():
    base, scaled = stacked_network("relu", 5, 8, "kaiming", 0), stacked_network("relu", 5, 8, "kaiming", 0, 2.0)
    for index, (a, b) in enumerate(zip(base, scaled)):
        if isinstance(a, torch.nn.Linear):
            expected = a.weight * 2.0 if index < 10 else a.weight
            torch.testing.assert_close(b.weight, expected)
    small, large = gradients_through_depth("relu", 10, scale=1.0), gradients_through_depth("relu", 10, scale=1.5)
    assert all(big > 100 * little for little, big in zip(small.layer_norms, large.layer_norms))


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(max_norm=0.0),
        dict(max_norm=-1.0),
        dict(max_norm=float("nan")),
        dict(max_norm="1"),
        dict(scale=0.0),
        dict(scale=9.0),
    ],
)
def test_bad_settings_are_concept_errors(kwargs):
    settings = dict(depth=4, scale=1.0, max_norm=1.0) | kwargs
    with pytest.raises(ConceptError):
        train_deep_stack(**settings)


def test_the_activations_page_shows_exploding_gradients_and_clipping(runs_root):
    at = open_app_page("app_pages/concepts/activations.py")
    assert not at.exception
    assert not [s for s in at.slider if s.key == "cc_scale"]  # the depth tab is open first: one tab drawn
    at.slider(key="ca_scale").set_value(1.5).run()
    assert any("1.5× their initialisation" in i.value for i in at.info)
    open_tab(at, "ca_grad_tab", t("concept.act.tab.clip"))
    assert not [s for s in at.slider if s.key == "ca_scale"]
    text = " ".join(m.value for m in at.markdown)
    assert "**Without clipping**, the loss or a gradient overflowed at step" in text  # the default scale is 1.5
    assert "**With clipping**, the loss went from" in text
    at.slider(key="cc_scale").set_value(1.0).run()
    text = " ".join(m.value for m in at.markdown)
    assert "**Without clipping**, the loss went from" in text and not at.exception
