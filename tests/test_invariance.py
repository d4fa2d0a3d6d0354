"""The invariance experiment's measurements (cnn_core.inspection.invariance) against oracles that do
not share its code: torch.roll for a shift, torch.rot90 for a quarter turn, 2×2 average pooling for a
half-size zoom, torch's own Conv2d for equivariance, and the run's accuracy computed directly; plus
the requests it refuses and the figures drawn from it."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from cnn_core.arch.model import build_model
from cnn_core.figures.inspection import equivariance_figure, equivariance_pictures, invariance_figure, shift_pictures
from cnn_core.i18n import t
from cnn_core.inspection.invariance import (
    MAX_IMAGES,
    MAX_SWEEP_MACS,
    MAX_VALUES,
    Sweep,
    check_work,
    equivariance,
    equivariance_rows,
    rotated,
    scaled,
    shifted,
    sweep_cost,
    sweep_values,
    sweeps,
)
from cnn_core.inspection.loading import InspectionError, LoadedRun, load_run, load_test_images
from cnn_core.inspection.predictions import predictions_from_model
from cnn_core.train.config import TrainConfig
from tests.conftest import SMALL_CNN_SPEC, train_completed_run

SPEC = SMALL_CNN_SPEC


def random_images(n: int, seed: int, border: int = 0, size: int = 28) -> torch.Tensor:
    """n uint8 images (n, 1, size, size) of random pixels, with a blank frame `border` pixels wide."""
    generator = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (n, 1, size, size), generator=generator, dtype=torch.uint8)
    if border:
        inner = torch.zeros_like(images)
        inner[..., border:-border, border:-border] = images[..., border:-border, border:-border]
        images = inner
    return images


def untrained(spec: dict, seed: int = 3) -> LoadedRun:
    """A network of the spec with random weights (drawn from a local generator, no global seed),
    mean 0 and std 1: its input is the pixel value / 255."""
    model = build_model(spec)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.3)
    return LoadedRun(model.eval(), spec, [str(i) for i in range(spec["num_classes"])], [0.0], [1.0], "final")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    run_dir = train_completed_run(
        tmp_path_factory.mktemp("runs") / "20260101-000000-digits-inv",
        TrainConfig(spec=SPEC, preset=None, epochs=1, batch_size=64),
    )
    images, labels = load_test_images(run_dir)
    return load_run(run_dir), images[:120], labels[:120]


# ---------------------------------------------------------------- the transforms against their oracles


@pytest.mark.parametrize("dy, dx", [(0, 0), (1, 0), (0, 1), (-3, 0), (0, -5), (4, -2), (-5, 5)])
def test_a_shift_of_an_image_with_a_blank_frame_is_torch_roll(dy, dx):
    images = random_images(3, seed=1, border=5)
    moved = shifted(images, dy, dx)
    assert moved.dtype == torch.uint8 and torch.equal(moved, torch.roll(images, (dy, dx), dims=(-2, -1)))


def test_a_shift_fills_with_zero_where_roll_would_wrap_and_leaves_its_input_alone():
    image = torch.zeros(1, 1, 6, 6)
    image[0, 0, 2, 5] = 200.0  # on the right edge
    before = image.clone()
    moved = shifted(image, 0, 1)
    assert moved.sum() == 0  # it left the frame
    assert torch.roll(image, 1, dims=-1)[0, 0, 2, 0] == 200  # roll would bring it back on the left
    assert torch.equal(image, before)
    assert shifted(image, 0, -5)[0, 0, 2, 0] == 200
    assert shifted(image, 6, 0).sum() == 0 and shifted(image, 0, -99).sum() == 0


def test_rotation_by_zero_and_scale_one_give_the_image_back():
    images = random_images(4, seed=2)
    assert torch.equal(rotated(images, 0), images.float())
    assert torch.allclose(scaled(images, 1.0), images.float(), atol=1e-3)


def test_a_quarter_turn_is_rot90_and_a_half_size_zoom_is_average_pooling():
    images = random_images(2, seed=4)
    for quarter in (1, -1, 2):
        assert torch.equal(rotated(images, 90 * quarter), torch.rot90(images.float(), quarter, dims=(-2, -1)))
    half = scaled(images, 0.5)
    assert torch.allclose(half[..., 7:21, 7:21], F.avg_pool2d(images.float(), 2), atol=1e-3)
    assert half[..., :7, :].abs().max() == 0 and half[..., :, 21:].abs().max() == 0  # a black frame around it


def test_sweep_values_are_symmetric_and_hold_the_untouched_image():
    shifts, angles, scales = sweep_values(3, 60, 0.4)
    assert shifts == (-3, -2, -1, 0, 1, 2, 3)
    assert angles == (-60, -45, -30, -15, 0, 15, 30, 45, 60)
    assert scales[0] == pytest.approx(0.6) and scales[4] == 1 and scales[-1] == pytest.approx(1.4)


# ---------------------------------------------------------------- equivariance: torch's own Conv2d as the oracle


@pytest.mark.parametrize("padding", [0, 1])
def test_a_stride_1_conv_of_the_shifted_input_is_the_rolled_output_away_from_the_borders(padding):
    generator = torch.Generator().manual_seed(5)
    conv = nn.Conv2d(1, 4, 3, padding=padding)
    with torch.no_grad():
        conv.weight.copy_(torch.randn(conv.weight.shape, generator=generator))
        conv.bias.copy_(torch.randn(conv.bias.shape, generator=generator))
    x = random_images(2, seed=6).float() / 255  # content up to the frame's edge
    with torch.no_grad():
        out = conv(x)
        for d in (1, 2, 3):
            moved = conv(shifted(x, 0, d))
            inner = slice(d + 2, out.shape[-1] - 2)  # columns whose window sees neither the fill nor the padding
            assert torch.allclose(moved[..., inner], torch.roll(out, d, dims=-1)[..., inner], atol=1e-5)
            assert not torch.allclose(moved, out, atol=1e-2)  # moved with the input, not unchanged


def test_the_first_conv_layer_moves_with_its_input_and_pooling_only_by_whole_cells():
    spec = {**SPEC, "layers": [{**SPEC["layers"][0], "padding": 1}, *SPEC["layers"][1:]]}
    loaded = untrained(spec)
    image = random_images(1, seed=7)  # no blank frame: the border exclusion is what keeps the error at 0
    result = equivariance(loaded, image, [1, 2, 3, 4, 5, 6])
    conv, pool = result.layers
    assert (conv.kind, conv.stride, pool.kind, pool.stride) == ("conv2d", 1, "maxpool2d", 2)
    assert conv.moved_by == [1, 2, 3, 4, 5, 6] and max(conv.shift_error) < 1e-5
    assert min(conv.change) > 0.1  # the maps at the same positions did change
    even = [i for i, d in enumerate(result.shifts) if d % 2 == 0]
    odd = [i for i, d in enumerate(result.shifts) if d % 2]
    assert [pool.moved_by[i] for i in even] == [1, 2, 3] and max(pool.shift_error[i] for i in even) < 1e-5
    assert min(pool.shift_error[i] for i in odd) > 1e-3  # half a cell: not a move of the pooled maps
    # the maps the pictures show: the original's, moved as compared, against the shifted image's
    first = conv.maps[0:1]
    with torch.no_grad():
        direct = loaded.model[0](loaded.normalise(image))
    assert torch.allclose(first, direct, atol=1e-6)
    assert torch.equal(result.inputs[3], shifted(image, 0, 3)[0])


def test_a_vertical_shift_and_a_strided_conv():
    spec = {
        "input_shape": [1, 28, 28],
        "num_classes": 10,
        "layers": [{"type": "conv2d", "out_channels": 4, "kernel_size": 3, "stride": 2}, {"type": "relu"}],
    }
    spec["layers"] += [{"type": "flatten"}, {"type": "linear", "out_features": 10}]
    result = equivariance(untrained(spec), random_images(1, seed=8), [2, 4], axis="vertical")
    [conv] = result.layers  # no pooling layer: the conv layer alone
    assert conv.stride == 2 and conv.moved_by == [1, 2] and max(conv.shift_error) < 1e-5
    with pytest.raises(InspectionError):
        equivariance(untrained(spec), random_images(1, seed=8), [2], axis="diagonal")


def test_a_network_without_a_conv_layer_is_a_message():
    spec = {"input_shape": [1, 28, 28], "num_classes": 10, "layers": [{"type": "flatten"}]}
    spec["layers"].append({"type": "linear", "out_features": 10})
    with pytest.raises(InspectionError) as info:
        equivariance(untrained(spec), random_images(1, seed=9), [1])
    assert str(info.value) == t("inspect.err.no_conv")


# ---------------------------------------------------------------- sweeps on a trained run


def test_the_sweep_at_no_change_is_the_runs_own_accuracy(trained):
    loaded, images, labels = trained
    result = sweeps(loaded, images, labels, shifts=(-2, 0, 2), angles=(0,), scales=(1.0,))
    direct = predictions_from_model(loaded, images, labels)
    accuracy = float(direct.correct.mean())
    probability = float(direct.probs[np.arange(len(labels)), direct.labels].mean())
    assert result["shift"].at(0) == pytest.approx((accuracy, probability), abs=1e-6)
    assert result["angle"].at(0) == pytest.approx((accuracy, probability), abs=1e-6)
    assert abs(result["scale"].at(1.0)[0] - accuracy) <= 1 / len(labels)  # bilinear resampling: a borderline image
    assert result["shift"].images == len(labels)


def test_the_sweep_at_a_shift_is_the_accuracy_on_shifted_images(trained):
    loaded, images, labels = trained
    result = sweeps(loaded, images, labels, shifts=(-3, 3), angles=(), scales=(), axis="vertical")
    assert set(result) == {"shift"}
    for d in (-3, 3):
        direct = predictions_from_model(loaded, shifted(images, d, 0), labels)
        assert result["shift"].at(d)[0] == pytest.approx(float(direct.correct.mean()), abs=1e-9)


def test_measuring_never_changes_the_shared_model(trained):
    loaded, images, labels = trained
    model = loaded.model
    before = {k: v.clone() for k, v in model.state_dict().items()}
    grads = [p.requires_grad for p in model.parameters()]
    sweeps(loaded, images[:20], labels[:20], shifts=(-1, 1), angles=(30,), scales=(0.8,))
    equivariance(loaded, images[:1], [1, 2])
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert [p.requires_grad for p in model.parameters()] == grads and all(p.grad is None for p in model.parameters())
    assert not any(m.training for m in model.modules())
    assert not any(m._forward_hooks for m in model.modules())


# ---------------------------------------------------------------- hostile requests: refused before the work


def test_requests_over_the_caps_are_refused_with_the_estimate_before_any_forward_pass(trained):
    loaded, _, _ = trained
    calls = []
    handle = loaded.model.register_forward_pre_hook(lambda *_: calls.append(1))
    try:
        many = torch.zeros(MAX_IMAGES + 1, 1, 28, 28, dtype=torch.uint8)
        with pytest.raises(InspectionError) as info:
            sweeps(loaded, many, torch.zeros(len(many), dtype=torch.long), shifts=(0,), angles=(), scales=())
        assert f"{MAX_IMAGES + 1:,}" in str(info.value) and f"{MAX_IMAGES:,}" in str(info.value)
        per_image = sweep_cost(loaded, 1, 1)
        conditions = MAX_SWEEP_MACS // (per_image * MAX_IMAGES) + 1  # just over the cap at the most images
        with pytest.raises(InspectionError) as info:
            check_work(loaded, MAX_IMAGES, conditions)
        estimate = f"{per_image * MAX_IMAGES * conditions / 1e9:,.1f}"
        assert estimate in str(info.value) and f"{MAX_SWEEP_MACS / 1e9:,.0f}" in str(info.value)
        check_work(loaded, MAX_IMAGES, conditions - 1)  # under the cap: no error
        with pytest.raises(InspectionError):
            sweeps(loaded, many[:0], torch.zeros(0, dtype=torch.long))
    finally:
        handle.remove()
    assert not calls


@pytest.mark.parametrize(
    "values",
    [
        dict(shifts=(2.5,)),
        dict(shifts=(True,)),
        dict(shifts=(10**9,)),
        dict(shifts=("1",)),
        dict(angles=(float("nan"),)),
        dict(angles=(720,)),
        dict(scales=(0.0,)),
        dict(scales=(float("inf"),)),
        dict(scales=tuple(1 + i / 1000 for i in range(MAX_VALUES + 1))),
        dict(axis="diagonal"),
    ],
)
def test_values_outside_what_a_sweep_allows_are_a_message(trained, values):
    loaded, images, labels = trained
    request = dict(shifts=(0,), angles=(0,), scales=(1.0,)) | values
    with pytest.raises(InspectionError) as info:
        sweeps(loaded, images[:4], labels[:4], **request)
    assert str(info.value).strip()


def test_equivariance_takes_one_image_and_some_shifts(trained):
    loaded, images, _ = trained
    with pytest.raises(InspectionError) as info:
        equivariance(loaded, images[:2], [1])
    assert str(info.value) == t("invariance.err.one_image")
    with pytest.raises(InspectionError):
        equivariance(loaded, images[:1], [])


# ---------------------------------------------------------------- figures and the table


def fake_sweeps(drop: float) -> dict:
    values = {"shift": [-1, 0, 1], "angle": [-30, 0, 30], "scale": [0.8, 1.0, 1.2]}
    return {
        kind: Sweep(kind, v, [0.9 - drop, 0.9, 0.9 - drop], [0.8 - drop, 0.8, 0.8 - drop], 10)
        for kind, v in values.items()
    }


def test_the_invariance_figure_has_a_panel_per_sweep_and_metric_and_each_run_once_in_the_legend():
    fig = invariance_figure({"this run": fake_sweeps(0.5), "the other run": fake_sweeps(0.1)})
    layout = json.loads(fig.to_json())["layout"]
    x_titles = [layout[f"xaxis{n}"]["title"]["text"] for n in ("", "2", "3", "4", "5", "6")]
    assert x_titles == [t(f"invariance.axis.{k}") for k in ("shift", "angle", "scale")] * 2
    assert layout["yaxis"]["title"]["text"] == t("invariance.axis.accuracy")
    assert layout["yaxis4"]["title"]["text"] == t("invariance.axis.probability")
    assert len(fig.data) == 12 and sorted(tr.name for tr in fig.data if tr.showlegend) == ["the other run", "this run"]
    other_scale_probability = next(tr for tr in fig.data if tr.name == "the other run" and tr.xaxis == "x6")
    assert list(other_scale_probability.y) == pytest.approx([0.7, 0.8, 0.7])
    assert len(layout["shapes"]) == 6 and {s["x0"] for s in layout["shapes"]} == {0, 1}


def test_the_equivariance_figure_table_and_pictures_follow_the_measurement():
    result = equivariance(untrained(SPEC), random_images(1, seed=10), [1, 2, 3])
    fig = equivariance_figure(result)
    assert len(fig.data) == 4 and all(list(tr.x) == [1, 2, 3] for tr in fig.data)
    assert fig.data[1].name == t("invariance.trace.moved", layer=result.layers[0].label)
    assert list(fig.data[2].y) == result.layers[1].change
    rows = equivariance_rows(result)
    assert [r[t("invariance.col.shift")] for r in rows] == [1, 2, 3]
    assert rows[1][t("invariance.col.moved", layer=result.layers[1].label)] == result.layers[1].shift_error[1]
    picture_rows = equivariance_pictures(result, 1, channel=99)  # a channel past the last is the last
    assert len(picture_rows) == 3 and [len(p) for p, _ in picture_rows] == [2, 3, 3]
    assert picture_rows[1][1] == t("invariance.picture.scale", c=5, **_range(result.layers[0], 1, 5))


def _range(layer, position, channel) -> dict:
    values = torch.stack([layer.maps[0, channel], layer.maps[position + 1, channel]])
    low = min(float(values.min()), float(layer.moved_original(position, "horizontal")[channel].min()))
    high = max(float(values.max()), float(layer.moved_original(position, "horizontal")[channel].max()))
    return dict(low=f"{low:.3g}", high=f"{high:.3g}")


def test_shift_pictures_share_one_colour_scale():
    a = np.arange(16, dtype=float).reshape(4, 4)
    (same, also_same, doubled), low, high = shift_pictures([a, a.copy(), a * 2], side=8)
    assert (low, high) == (0, 30)
    assert np.array_equal(same, also_same) and not np.array_equal(same, doubled)
    assert same.shape == (8, 8, 3)
    (flat,), low, high = shift_pictures([np.ones((2, 2))])
    assert math.isfinite(low) and high > low
