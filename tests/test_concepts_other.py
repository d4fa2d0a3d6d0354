"""Concept lab core, part 2: pooling, one conv layer's stages, activations and their
derivatives, gradients through depth, batch-size timing, receptive fields and the figure
builders, each held against an independent computation (numpy loops, torch ops, autograd)."""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from cnn_core.concepts import ConceptError
from cnn_core.concepts.activations import (
    ACTIVATIONS,
    FORMULAS,
    activation_curve,
    bias_range,
    gradients_through_depth,
    parse_logits,
    relu_with_bias,
    softmax,
    softmax_jacobian,
)
from cnn_core.concepts.batch_speed import measure_batch_sizes
from cnn_core.concepts.convolution import KERNELS
from cnn_core.concepts.pooling import EXAMPLE_4X4, conv_relu_pool, pool, stage_grid
from cnn_core.concepts.receptive import spatial_layers, unit_region
from tests.conftest import conv, standard_normal

RNG = np.random.default_rng(99)
rand = standard_normal(RNG)


# ---------------------------------------------------------------- pooling


def test_example_4x4_by_hand():
    # [[1, 3, 2, 1],
    #  [4, 6, 5, 0],
    #  [3, 1, 1, 2],
    #  [0, 2, 7, 4]]
    # 2×2 windows: top-left {1,3,4,6}, top-right {2,1,5,0}, bottom-left {3,1,0,2}, bottom-right {1,2,7,4}
    maxed = pool(EXAMPLE_4X4, "max", 2, 2)
    np.testing.assert_array_equal(maxed.output, [[6, 5], [3, 7]])
    assert maxed.winners == [(1, 1), (1, 2), (2, 0), (3, 2)]
    assert (maxed.size, maxed.stride) == (2, 2)
    averaged = pool(EXAMPLE_4X4, "avg", 2, 2)
    # 14/4, 8/4, 6/4, 14/4 (1 + 2 + 7 + 4 = 14)
    np.testing.assert_allclose(averaged.output, [[3.5, 2.0], [1.5, 3.5]])
    assert averaged.winners is None
    global_max = pool(EXAMPLE_4X4, "global_max")
    assert global_max.output.shape == (1, 1) and global_max.output[0, 0] == 7
    assert global_max.winners == [(3, 2)] and global_max.size == 4
    global_avg = pool(EXAMPLE_4X4, "global_avg")
    assert EXAMPLE_4X4.sum() == 42
    assert global_avg.output[0, 0] == pytest.approx(42 / 16) and global_avg.winners is None
    # the default stride is the window size
    np.testing.assert_array_equal(pool(EXAMPLE_4X4, "max", 2).output, maxed.output)


def loop_pool(x, kind, size, stride):
    rows, cols = (x.shape[0] - size) // stride + 1, (x.shape[1] - size) // stride + 1
    out = np.zeros((rows, cols))
    for i in range(rows):
        for j in range(cols):
            window = x[i * stride : i * stride + size, j * stride : j * stride + size].astype(np.float64)
            out[i, j] = window.max() if kind == "max" else window.mean()
    return out


def pool_windows(height: int, width: int, size: int, stride: int) -> list[tuple[int, int]]:
    """Top-left corners of every pooling window, row by row (floor mode, as torch): the oracle's walk."""
    rows = (height - size) // stride + 1
    cols = (width - size) // stride + 1
    return [(r * stride, c * stride) for r in range(max(rows, 0)) for c in range(max(cols, 0))]


@pytest.mark.parametrize(
    "shape,size,stride",
    [((7, 9), 2, 2), ((7, 9), 3, 2), ((8, 8), 2, 3), ((6, 11), 3, 1), ((5, 5), 5, 1), ((9, 4), 1, 2), ((10, 10), 4, 4)],
)
def test_pool_random_maps_equal_numpy_loops(shape, size, stride):
    x = rand(*shape)
    for kind in ("max", "avg"):
        result = pool(x, kind, size, stride)
        np.testing.assert_allclose(result.output, loop_pool(x, kind, size, stride), rtol=1e-6, atol=1e-6)
        windows = pool_windows(*shape, size, stride)
        assert len(windows) == result.output.size
        for (top, left), value in zip(windows, result.output.ravel()):  # row by row
            window = x[top : top + size, left : left + size]
            expected = window.max() if kind == "max" else window.mean()
            assert value == pytest.approx(float(expected), abs=1e-6)
        if kind == "max":
            assert len(result.winners) == result.output.size
            for (top, left), (r, c), value in zip(windows, result.winners, result.output.ravel()):
                assert top <= r < top + size and left <= c < left + size
                assert x[r, c] == value
    assert pool(x, "global_max").output[0, 0] == x.max()
    assert pool(x, "global_max").winners == [tuple(int(v) for v in np.unravel_index(np.argmax(x), x.shape))]
    assert pool(x, "global_avg").output[0, 0] == pytest.approx(float(x.astype(np.float64).mean()), abs=1e-6)


def test_pool_errors_and_window_list():
    x = rand(3, 5)
    for size, stride in ((4, 1), (6, 2), (0, 1), (2, -1), (2, 0)):
        with pytest.raises(ConceptError):
            pool(x, "max", size, stride)
    with pytest.raises(ConceptError):
        pool(x, "median")
    # global kinds fit any map, even 1×1
    assert pool(np.array([[3.0]]), "global_avg").output[0, 0] == 3.0
    assert pool_windows(4, 4, 2, 2) == [(0, 0), (0, 2), (2, 0), (2, 2)]
    assert pool_windows(5, 3, 3, 2) == [(0, 0), (2, 0)]
    assert pool_windows(2, 2, 3, 1) == []
    # views with negative strides (a flipped map) work
    flipped = EXAMPLE_4X4[::-1, ::-1]
    np.testing.assert_array_equal(pool(flipped, "max", 2).output, [[7, 3], [5, 6]])
    assert pool(np.ones((1, 1), dtype=np.float32)[::-1], "global_max").output[0, 0] == 1
    np.testing.assert_array_equal(relu_with_bias(flipped, -5.0).output, np.maximum(flipped - 5, 0))
    _, d = activation_curve("relu", np.array([-1.0, 2.0])[::-1])
    np.testing.assert_array_equal(d, [1, 0])


# ---------------------------------------------------------------- conv → ReLU → pool


def torch_stage(image, kernel, conv_stride, bias, pool_size, pool_stride):
    x = torch.tensor(image)[None, None]
    k = torch.tensor(kernel)[None, None]
    convolved = F.conv2d(x, k, stride=conv_stride)
    activated = F.relu(convolved + bias)
    return (
        convolved[0, 0].numpy(),
        activated[0, 0].numpy(),
        F.max_pool2d(activated, pool_size, pool_stride)[0, 0].numpy(),
    )


@pytest.mark.parametrize(
    "conv_stride,bias,pool_size,pool_stride", [(1, 0.0, 2, 2), (2, -0.5, 3, 2), (3, 1.0, 2, 1), (1, -2.0, 4, 3)]
)
def test_conv_relu_pool_equals_torch_composition(conv_stride, bias, pool_size, pool_stride):
    image = RNG.random((20, 17)).astype(np.float32)
    kernel = KERNELS["sobel_x"]
    stages = conv_relu_pool(image, kernel, conv_stride, bias, pool_size, pool_stride)
    convolved, activated, pooled = torch_stage(image, kernel, conv_stride, bias, pool_size, pool_stride)
    np.testing.assert_allclose(stages.convolved, convolved, atol=1e-6)
    np.testing.assert_allclose(stages.activated, activated, atol=1e-6)
    np.testing.assert_allclose(stages.pooled, pooled, atol=1e-6)
    assert stages.note == "" and (stages.conv_stride, stages.bias) == (conv_stride, bias)
    assert (stages.pool_size, stages.pool_stride) == (pool_size, pool_stride)


def test_conv_relu_pool_pool_too_big_gives_a_note():
    image = RNG.random((9, 9)).astype(np.float32)
    stages = conv_relu_pool(image, KERNELS["laplacian"], 3, 0.0, 4, 2)  # 3×3 activated map
    assert stages.activated.shape == (3, 3)
    assert stages.pooled is None and len(stages.note) > 20
    with pytest.raises(ConceptError):  # the kernel itself does not fit
        conv_relu_pool(np.ones((2, 2), dtype=np.float32), KERNELS["laplacian"], 1, 0.0, 2, 2)


def test_stage_grid_cells():
    image = RNG.random((16, 16)).astype(np.float32)
    kernel = KERNELS["edge_vertical"]
    strides, pools = (1, 2, 5, 20), ((2, 2), (3, 1), (8, 8))
    cells = stage_grid(image, kernel, strides, -0.2, pools)
    assert len(cells) == len(strides) * len(pools)
    for cell, (stride, (size, pstride)) in zip(cells, [(s, p) for s in strides for p in pools]):  # row by row
        assert (cell.conv_stride, cell.pool_size, cell.pool_stride) == (stride, size, pstride)
        side = (16 - 3) // stride + 1
        if side < size:
            assert cell.pooled is None and cell.note
        else:
            _, activated, pooled = torch_stage(image, kernel, stride, -0.2, size, pstride)
            np.testing.assert_allclose(cell.activated, activated, atol=1e-6)
            np.testing.assert_allclose(cell.pooled, pooled, atol=1e-6)
            assert cell.note == ""
    assert sum(c.pooled is None for c in cells) == 5  # stride 5 → 3×3 map: pool 8; stride 20 → 1×1: pools 2, 3, 8
    # a conv stride larger than the image still gives a map (the first window), never a crash
    tiny = stage_grid(np.ones((2, 2), dtype=np.float32), kernel, (1,), 0.0, ((2, 2),))
    assert len(tiny) == 1 and tiny[0].pooled is None and tiny[0].note and tiny[0].activated.size == 0


# ---------------------------------------------------------------- ReLU with a bias


@pytest.mark.parametrize("bias", [-1.5, -0.25, 0.0, 0.3, 10.0])
def test_relu_with_bias(bias):
    response = rand(13, 9)
    result = relu_with_bias(response, bias)
    expected = np.maximum(response + np.float32(bias), 0)
    np.testing.assert_allclose(result.output, expected, atol=1e-6)
    assert result.surviving_fraction == pytest.approx(float((response > -bias).mean()))
    assert result.surviving_fraction == pytest.approx(np.count_nonzero(expected) / expected.size)
    assert result.threshold == -bias and result.bias == bias
    assert relu_with_bias(np.zeros((0, 0)), bias).surviving_fraction == 0.0


def test_relu_with_bias_counts_by_hand():
    result = relu_with_bias(np.array([[-2.0, -1.0, 0.0, 1.0, 2.0]]), 0.5)
    np.testing.assert_allclose(result.output, [[0, 0, 0.5, 1.5, 2.5]])
    assert result.surviving_fraction == pytest.approx(3 / 5) and result.threshold == -0.5


@pytest.mark.parametrize(
    "response",
    [
        np.array([-1.0, 3.0]),
        np.linspace(0.2, 0.9, 50),
        np.linspace(-40, -3, 9),
        np.array([[2.0, 2.0]]),
        np.array([0.0]),
        np.zeros((0,)),
        np.array([1e-4, 3e-4]),
        np.array([-250.0, 1234.5]),
    ],
)
def test_bias_range(response):
    low, high, step = bias_range(response)
    assert low <= 0 <= high  # 0 is always on the slider
    assert step > 0 and math.log10(step) == pytest.approx(round(math.log10(step)))  # a power of ten
    for bound in (low, high):
        assert bound / step == pytest.approx(round(bound / step), abs=1e-6)  # on the step grid
    if response.size:
        r_low, r_high = -float(response.max()), -float(response.min())
        if r_low <= 0 <= r_high:  # a step of 1/200 to 1/2000 of the width: a usable slider
            assert (high - low) / step <= 2000 * 1.1 + 2
        assert low <= r_low and high >= r_high  # from nothing surviving to everything surviving
        if r_high > r_low:
            assert low <= r_low - 0.05 * (r_high - r_low) + 1e-9 and high >= r_high + 0.05 * (r_high - r_low) - 1e-9
            assert (high - low) / step >= 50  # fine enough to move smoothly
        else:  # a constant response: room on both sides of its threshold
            assert low < r_low < high or low < 0 < high
        # the whole range of survival is reachable on the slider: at low none survive, at high all do
        assert relu_with_bias(response, low).surviving_fraction == 0.0
        assert relu_with_bias(response, high + step).surviving_fraction == 1.0


# ---------------------------------------------------------------- activation curves


def torch_fn(name, slope, alpha):
    return {
        "sigmoid": torch.sigmoid,
        "tanh": torch.tanh,
        "relu": F.relu,
        "leaky_relu": lambda x: F.leaky_relu(x, negative_slope=slope),
        "elu": lambda x: F.elu(x, alpha=alpha),
        "gelu": F.gelu,
    }[name]


def autograd_derivative(name, x, slope, alpha):
    t = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    (grad,) = torch.autograd.grad(torch_fn(name, slope, alpha)(t).sum(), t)
    return t.detach().numpy(), grad.numpy()


@pytest.mark.parametrize("name", ACTIVATIONS)
@pytest.mark.parametrize("slope,alpha", [(0.01, 1.0), (0.2, 0.7), (0.5, 2.5)])
def test_activation_curve_matches_autograd(name, slope, alpha):
    x = np.linspace(-6, 6, 240)  # an even count: 0 is not on the grid
    assert not np.any(x == 0)
    values, derivative = activation_curve(name, x, slope=slope, alpha=alpha)
    with torch.no_grad():
        expected_values = torch_fn(name, slope, alpha)(torch.tensor(x)).numpy()
    _, expected = autograd_derivative(name, x, slope, alpha)
    np.testing.assert_allclose(values, expected_values, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(derivative, expected, rtol=1e-7, atol=1e-9)
    # at exactly 0, the kinked ones take the value autograd gives
    _, at_zero = activation_curve(name, np.array([0.0]), slope=slope, alpha=alpha)
    _, expected_zero = autograd_derivative(name, np.array([0.0]), slope, alpha)
    assert at_zero[0] == pytest.approx(expected_zero[0], abs=1e-12), name
    assert name in FORMULAS


def test_activation_curve_hand_values_and_errors():
    _, d = activation_curve("relu", np.array([-1.0, 0.0, 1.0]))
    np.testing.assert_array_equal(d, [0, 0, 1])
    _, d = activation_curve("leaky_relu", np.array([-1.0, 0.0, 1.0]), slope=0.3)
    np.testing.assert_allclose(d, [0.3, 0.3, 1])
    v, d = activation_curve("sigmoid", np.array([0.0]))
    assert v[0] == 0.5 and d[0] == 0.25
    v, d = activation_curve("elu", np.array([-1.0]), alpha=2.0)
    assert v[0] == pytest.approx(2 * (math.exp(-1) - 1)) and d[0] == pytest.approx(2 * math.exp(-1))
    with pytest.raises(ConceptError):
        activation_curve("swish", np.zeros(3))


@pytest.mark.parametrize("temperature", [0.25, 1.0, 3.0])
def test_softmax_and_jacobian_match_torch(temperature):
    z = np.array([2.0, -1.0, 0.5, 3.0, 0.0])
    p = softmax(z, temperature)
    zt = torch.tensor(z)
    np.testing.assert_allclose(p, torch.softmax(zt / temperature, dim=0).numpy(), rtol=1e-12)
    assert p.sum() == pytest.approx(1.0)
    jacobian = torch.autograd.functional.jacobian(lambda v: torch.softmax(v / temperature, dim=0), zt).numpy()
    np.testing.assert_allclose(softmax_jacobian(z, temperature), jacobian, rtol=1e-10, atol=1e-12)
    # big logits do not overflow
    assert np.all(np.isfinite(softmax(np.array([1000.0, 999.0]), temperature)))


def test_softmax_temperature_limits_and_errors():
    z = [1.0, 2.0, 3.0]
    assert softmax(z, 0.01).argmax() == 2 and softmax(z, 0.01).max() > 0.999  # cold: one-hot
    np.testing.assert_allclose(softmax(z, 1e6), 1 / 3, atol=1e-5)  # hot: uniform
    for bad in (0, 0.0, -1.0):
        with pytest.raises(ConceptError):
            softmax(z, bad)
        with pytest.raises(ConceptError):
            softmax_jacobian(z, bad)


def test_parse_logits():
    np.testing.assert_array_equal(parse_logits("1, 2 3"), [1, 2, 3])
    np.testing.assert_array_equal(parse_logits(" -1.5,2e1 "), [-1.5, 20])
    assert len(parse_logits(" ".join(["0"] * 20))) == 20
    for bad in ("", "1", "1 x", "a b", "1 inf", "nan 2", " ".join(["1"] * 21), ", ,"):
        with pytest.raises(ConceptError):
            parse_logits(bad)


# ---------------------------------------------------------------- gradients through depth


def hand_width1_norms(activation, depth, batch, seed, weights, biases, out_w, out_b):
    """The chain rule by hand for a width-1 stack: h_i = act(w_i h_{i−1} + b_i), y = w_o h_d + b_o,
    loss = mean((y − target)²); returns |∂loss/∂w_i| for each hidden layer."""
    generator = torch.Generator().manual_seed(seed + 1)
    x = torch.randn(batch, 1, generator=generator).double().numpy()[:, 0]
    target = torch.randn(batch, 1, generator=generator).double().numpy()[:, 0]
    act = {"sigmoid": lambda z: 1 / (1 + np.exp(-z)), "tanh": np.tanh, "relu": lambda z: np.maximum(z, 0)}[activation]
    dact = {
        "sigmoid": lambda z: act(z) * (1 - act(z)),
        "tanh": lambda z: 1 - np.tanh(z) ** 2,
        "relu": lambda z: (z > 0).astype(float),
    }[activation]
    hs, zs = [x], []
    for w, b in zip(weights, biases):
        zs.append(w * hs[-1] + b)
        hs.append(act(zs[-1]))
    y = out_w * hs[-1] + out_b
    upstream = 2 * (y - target) / batch * out_w  # ∂loss/∂h_d, per example
    grads = [0.0] * depth
    for i in reversed(range(depth)):
        delta = upstream * dact(zs[i])  # ∂loss/∂z_i
        grads[i] = abs(float((delta * hs[i]).sum()))
        upstream = delta * weights[i]
    return grads


@pytest.mark.parametrize(
    "activation,init", [("sigmoid", "xavier"), ("tanh", "pytorch"), ("relu", "kaiming"), ("sigmoid", "kaiming")]
)
def test_gradients_through_depth_width1_chain_rule(activation, init):
    from cnn_core.concepts.activations import stacked_network

    depth, batch, seed = 6, 32, 3
    result = gradients_through_depth(activation, depth, width=1, batch=batch, init=init, seed=seed)
    net = stacked_network(activation, depth, 1, init, seed)
    linears = [m for m in net if isinstance(m, nn.Linear)]
    weights = [m.weight.item() for m in linears[:-1]]
    biases = [m.bias.item() for m in linears[:-1]]
    expected = hand_width1_norms(
        activation, depth, batch, seed, weights, biases, linears[-1].weight.item(), linears[-1].bias.item()
    )
    assert len(result.layer_norms) == depth and result.depth == depth and result.activation == activation
    np.testing.assert_allclose(result.layer_norms, expected, rtol=1e-4, atol=1e-9)


def independent_stack(activation, depth, width, init, seed):
    torch.manual_seed(seed)
    layers = []
    for _ in range(depth):
        linear = nn.Linear(width, width)
        if init == "kaiming":
            nn.init.kaiming_normal_(linear.weight, nonlinearity="relu")
            nn.init.zeros_(linear.bias)
        elif init == "xavier":
            nn.init.xavier_normal_(linear.weight)
            nn.init.zeros_(linear.bias)
        layers += [linear, {"sigmoid": nn.Sigmoid(), "relu": nn.ReLU(), "tanh": nn.Tanh()}[activation]]
    return nn.Sequential(*layers, nn.Linear(width, 1))


@pytest.mark.parametrize("activation,init", [("relu", "kaiming"), ("tanh", "xavier"), ("sigmoid", "pytorch")])
def test_gradients_through_depth_equal_an_independent_network(activation, init):
    depth, width, batch, seed = 5, 8, 40, 11
    result = gradients_through_depth(activation, depth, width, batch, init, seed)
    net = independent_stack(activation, depth, width, init, seed)
    generator = torch.Generator().manual_seed(seed + 1)
    x = torch.randn(batch, width, generator=generator)
    target = torch.randn(batch, 1, generator=generator)
    ((net(x) - target) ** 2).mean().backward()
    expected = [float(m.weight.grad.norm()) for m in list(net)[:-1] if isinstance(m, nn.Linear)]
    np.testing.assert_allclose(result.layer_norms, expected, rtol=1e-5)


def test_sigmoid_vanishes_relu_does_not():
    sigmoid = gradients_through_depth("sigmoid", 20)
    assert len(sigmoid.layer_norms) == 20
    assert sigmoid.layer_norms[0] * 1000 <= sigmoid.layer_norms[-1]
    assert sigmoid.first_to_last <= 1e-3
    relu = gradients_through_depth("relu", 20, init="kaiming")
    assert relu.first_to_last > 0.01
    assert relu.first_to_last == pytest.approx(relu.layer_norms[0] / relu.layer_norms[-1])


def test_gradients_through_depth_errors():
    for kwargs in (dict(depth=0), dict(depth=101), dict(depth=3, init="he"), dict(depth=3, activation="gelu")):
        args = dict(activation="relu", width=4, batch=8) | kwargs
        with pytest.raises(ConceptError):
            gradients_through_depth(**args)


# ---------------------------------------------------------------- batch size and speed


def test_measure_batch_sizes_counts_and_progress():
    calls = []
    timings, device = measure_batch_sizes(
        [64, 8],
        device="cpu",
        time_cap_s=3,
        train_images=256,
        on_progress=lambda fraction, text: calls.append((fraction, text)),
    )
    assert device == "cpu"
    assert [t.batch_size for t in timings] == [8, 64]
    for timing in timings:
        assert timing.updates_per_epoch == math.ceil(256 / timing.batch_size)
        assert 1 <= timing.updates_timed <= timing.updates_per_epoch
        assert timing.seconds_per_epoch > 0 and timing.images_per_second > 0
        assert timing.seconds_per_update == pytest.approx(timing.seconds_per_epoch / timing.updates_per_epoch)
        assert timing.estimated == (timing.updates_timed < timing.updates_per_epoch)
    fractions = [f for f, _ in calls]
    assert fractions == sorted(fractions) and fractions[0] == 0.0 and fractions[-1] == 1.0
    assert len(fractions) == 3 and all(isinstance(text, str) and text for _, text in calls)


def test_measure_batch_sizes_estimates_when_the_cap_cuts_an_epoch():
    (timing,), _ = measure_batch_sizes([1], device="cpu", time_cap_s=0.001, train_images=256)
    assert timing.updates_per_epoch == 256
    assert timing.estimated and timing.updates_timed < 256
    assert timing.seconds_per_epoch > 0
    # a batch larger than the data is one update of all of it
    (whole,), _ = measure_batch_sizes([1000], device="cpu", time_cap_s=2, train_images=100)
    assert whole.batch_size == 100 and whole.updates_per_epoch == 1 and not whole.estimated


def test_measure_batch_sizes_merges_sizes_above_the_data_set_into_one_full_batch_row():
    timings, _ = measure_batch_sizes([512, 1000, 16], device="cpu", time_cap_s=2, train_images=100)
    assert [t.batch_size for t in timings] == [16, 100]
    assert [t.updates_per_epoch for t in timings] == [7, 1]


def test_measure_batch_sizes_bad_inputs():
    for kwargs in (
        dict(batch_sizes=[]),
        dict(batch_sizes=[0, 8]),
        dict(batch_sizes=[-4]),
        dict(batch_sizes=[8], time_cap_s=0),
        dict(batch_sizes=[8], time_cap_s=-1),
    ):
        with pytest.raises(ConceptError):
            measure_batch_sizes(device="cpu", train_images=64, **kwargs)


# ---------------------------------------------------------------- no process-wide randomness (issue #11, item 17)


def global_random_states():
    import random

    return torch.random.get_rng_state(), np.random.get_state()[1].copy(), random.getstate()


def assert_same_states(before, after):
    assert torch.equal(before[0], after[0]), "torch's process-wide generator was reseeded or drawn from"
    assert np.array_equal(before[1], after[1]) and before[2] == after[2]


EXPERIMENTS = {
    "vanishing gradients (kaiming)": lambda: gradients_through_depth("relu", 6, width=8, batch=16, init="kaiming"),
    "vanishing gradients (xavier)": lambda: gradients_through_depth(
        "tanh", 6, width=8, batch=16, init="xavier", seed=3
    ),
    "vanishing gradients (pytorch)": lambda: gradients_through_depth("sigmoid", 6, width=8, batch=16, init="pytorch"),
    "batch speed": lambda: measure_batch_sizes([8, 32], device="cpu", time_cap_s=0.05, train_images=64, seed=4),
}


@pytest.mark.parametrize("name", EXPERIMENTS)
def test_concept_experiments_leave_the_process_wide_random_generators_alone(name):
    """Every visitor of the server shares torch's default generator: an experiment draws from its own."""
    torch.manual_seed(20260101)
    torch.rand(3)  # somewhere in the middle of a stream, not at a seed's start
    before = global_random_states()
    EXPERIMENTS[name]()
    assert_same_states(before, global_random_states())


@pytest.mark.parametrize("key", ["seed002_mnist_cnn", "vgg_small", "lenet5"])
def test_seeded_network_has_the_weights_torch_manual_seed_gives(key):
    """Same seed, same weights, as torch.manual_seed(seed) then building would give (so the
    experiments' numbers did not change); BatchNorm's statistics start afresh."""
    from cnn_core.arch.model import build_model
    from cnn_core.arch.presets import preset_spec
    from cnn_core.concepts.seeded import seeded_network

    spec = preset_spec(key)
    with torch.random.fork_rng():
        torch.manual_seed(5)
        want = build_model(spec).state_dict()
    got = seeded_network(lambda: build_model(spec), 5).state_dict()
    assert list(got) == list(want) and all(torch.equal(got[name], want[name]) for name in want)
    other = seeded_network(lambda: build_model(spec), 6).state_dict()
    assert not torch.equal(other["0.weight"], want["0.weight"])
    statistics = [name for name in want if "running_" in name or "num_batches" in name]
    assert all(torch.equal(other[name], want[name]) for name in statistics)


def test_two_visitors_running_experiments_at_once_get_what_they_get_alone():
    import threading

    runs = {
        seed: lambda seed=seed: gradients_through_depth("tanh", 12, width=16, batch=32, seed=seed) for seed in (1, 2)
    }
    alone = {seed: run().layer_norms for seed, run in runs.items()}
    barrier = threading.Barrier(2, timeout=60)
    together = {seed: [] for seed in runs}

    def visitor(seed):
        for _ in range(10):
            barrier.wait()
            together[seed].append(runs[seed]().layer_norms)

    threads = [threading.Thread(target=visitor, args=(seed,)) for seed in runs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for seed in runs:
        assert together[seed] == [alone[seed]] * 10


# ---------------------------------------------------------------- receptive fields


def linearised(spec):
    """The spec's model made linear and positive: every conv a positive average, biases 0,
    activations removed, max pooling turned into average pooling; in float64 eval mode. A
    unit's input gradient is then nonzero exactly on the pixels it can see."""
    from cnn_core.arch.model import build_model

    model = build_model(spec)
    for name, module in list(model.named_modules()):  # blocks' inner layers too
        parent, _, child = name.rpartition(".")
        owner = model.get_submodule(parent)
        if isinstance(module, nn.Conv2d):
            with torch.no_grad():
                module.weight.fill_(1.0 / module.weight[0].numel())
                if module.bias is not None:
                    module.bias.zero_()
        elif isinstance(module, (nn.ReLU, nn.Tanh, nn.Sigmoid, nn.LeakyReLU, nn.ELU, nn.GELU)):
            setattr(owner, child, nn.Identity())
        elif isinstance(module, nn.MaxPool2d):
            assert module.dilation in (1, (1, 1))
            pool = nn.AvgPool2d(module.kernel_size, module.stride, module.padding, ceil_mode=module.ceil_mode)
            setattr(owner, child, pool)
    return model.double().eval()


def gradient_masks(model, layer_index, input_shape, units):
    x = torch.ones((len(units), *input_shape), dtype=torch.float64, requires_grad=True)
    out = model[: layer_index + 1](x)
    # every channel: a concatenation's channels see different fields (its branches'), the union is its field
    picked = sum(out[b, :, r, c].sum() for b, (r, c) in enumerate(units))
    (grad,) = torch.autograd.grad(picked, x)
    return (grad.abs().sum(1) > 0).numpy()


def check_regions(spec, exact=True):
    """Compare unit_region with autograd for the four corners and the centre of every spatial layer;
    exact: the mask fills the whole visible rectangle (no stride gaps)."""
    model = linearised(spec)
    clipped = 0
    layers = spatial_layers(spec)
    assert layers
    for layer in layers:
        _, out_h, out_w = layer.output_shape
        units = sorted({(0, 0), (0, out_w - 1), (out_h - 1, 0), (out_h - 1, out_w - 1), (out_h // 2, out_w // 2)})
        masks = gradient_masks(model, layer.index, spec["input_shape"], units)
        for (row, col), mask in zip(units, masks):
            region = unit_region(spec, layer.index, row, col)
            assert region.unit == (row, col) and region.layer_index == layer.index
            assert region.field == tuple(layer.receptive_field)
            assert (region.bottom - region.top + 1, region.right - region.left + 1) == region.field
            rows, cols = np.nonzero(mask)
            box = (rows.min(), cols.min(), rows.max(), cols.max())
            assert region.visible == box, (layer.index, layer.type, (row, col), region)
            top, left, bottom, right = region.visible
            if exact:
                assert mask[top : bottom + 1, left : right + 1].all(), (layer.index, (row, col))
            assert mask.sum() == mask[top : bottom + 1, left : right + 1].sum()
            h, w = region.input_size
            assert region.coverage == pytest.approx((bottom - top + 1) * (right - left + 1) / (h * w))
            outside = (region.top, region.left, region.bottom, region.right) != region.visible
            assert region.clipped == outside
            assert region.visible_share == pytest.approx(
                (bottom - top + 1) * (right - left + 1) / (region.field[0] * region.field[1])
            )
            if outside:
                clipped += 1
    return clipped


def layer_presets():
    from cnn_core.arch.blocks import has_feature_maps
    from cnn_core.arch.presets import PRESETS
    from cnn_core.arch.spec import is_backbone

    # seed 004's fully connected net has no feature map, so no receptive field to check
    return [key for key, preset in PRESETS.items() if not is_backbone(preset.spec) and has_feature_maps(preset.spec)]


@pytest.mark.parametrize("key", layer_presets())
def test_unit_region_matches_autograd_for_presets(key):
    from cnn_core.arch.presets import preset_spec

    spec = preset_spec(key)
    clipped = check_regions(spec)
    # padded convs: corner units' fields reach outside the image; unpadded ones never do
    padded = any(layer.get("padding", 0) not in (0, "valid") for layer in spec["layers"])
    assert (clipped > 0) == padded, (key, clipped)
    assert padded == (key not in ("seed002_mnist_cnn", "seed004_leaky_cnn"))


HAND_SPECS = {
    "padding_and_pooling": {
        "input_shape": [1, 20, 20],
        "layers": [
            conv(2, 3, padding=1),
            {"type": "relu"},
            conv(2, 3, padding=1),
            {"type": "maxpool2d", "kernel_size": 2},
            conv(3, 5, stride=2, padding=2),
            {"type": "tanh"},
        ],
    },
    "non_square": {
        "input_shape": [2, 15, 21],
        "layers": [
            conv(2, [3, 5], stride=[2, 1], padding=[1, 2]),
            {"type": "leaky_relu"},
            {"type": "maxpool2d", "kernel_size": 3, "stride": 2, "padding": 1},
            conv(1, [1, 3]),
            {"type": "batchnorm2d"},
            {"type": "sigmoid"},
        ],
    },
    "even_kernels": {
        "input_shape": [1, 13, 12],
        "layers": [
            conv(2, 2),
            conv(2, 4, stride=2, padding=1),
            {"type": "avgpool2d", "kernel_size": 2, "stride": 1},
            conv(1, 3, padding="same"),
        ],
    },
    "ceil_mode": {
        "input_shape": [3, 7, 9],
        "layers": [
            conv(2, 3, padding=1),
            {"type": "maxpool2d", "kernel_size": 2, "ceil_mode": True},
            {"type": "dropout2d"},
            {"type": "avgpool2d", "kernel_size": 3, "stride": 2, "padding": 1, "ceil_mode": True},
        ],
    },
    "same_even": {"input_shape": [1, 10, 10], "layers": [conv(1, 4, padding="same"), conv(1, [2, 3], padding="same")]},
    "with_head": {
        "input_shape": [1, 12, 12],
        "num_classes": 3,
        "layers": [
            conv(2, 3),
            {"type": "relu"},
            {"type": "maxpool2d", "kernel_size": 2},
            {"type": "flatten"},
            {"type": "linear", "out_features": 3},
        ],
    },
}


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
@pytest.mark.parametrize("name", list(HAND_SPECS))
def test_unit_region_matches_autograd_for_hand_specs(name):
    spec = HAND_SPECS[name]
    clipped = check_regions(spec)
    assert (clipped > 0) == (name != "with_head"), (name, clipped)


def test_unit_region_with_stride_gaps_bounding_box():
    # a 1×1 conv with stride 2 skips every other pixel; the field's rectangle still bounds what is seen
    spec = {"input_shape": [1, 11, 11], "layers": [conv(1, 1, stride=2), conv(1, 3), conv(1, 2, stride=3)]}
    check_regions(spec, exact=False)
    region = unit_region(spec, 1, 1, 2)
    assert region.field == (5, 5) and (region.top, region.left, region.bottom, region.right) == (2, 4, 6, 8)


def test_unit_region_by_hand_and_errors():
    spec = {"input_shape": [1, 8, 8], "layers": [conv(1, 3, padding=1), conv(1, 3, stride=2)]}
    corner = unit_region(spec, 0, 0, 0)
    assert (corner.top, corner.left, corner.bottom, corner.right) == (-1, -1, 1, 1)
    assert corner.visible == (0, 0, 1, 1) and corner.coverage == pytest.approx(4 / 64)
    assert corner.clipped and corner.visible_share == pytest.approx(4 / 9)
    deep = unit_region(spec, 1, 2, 1)  # 5×5 field, jump 2
    assert deep.field == (5, 5) and deep.jump == (2, 2)
    assert (deep.top, deep.left, deep.bottom, deep.right) == (3, 1, 7, 5)
    with_head = HAND_SPECS["with_head"]
    assert [r.index for r in spatial_layers(with_head)] == [0, 1, 2]
    for bad in (
        dict(layer_index=3, row=0, col=0),
        dict(layer_index=9, row=0, col=0),
        dict(layer_index=0, row=10, col=0),
        dict(layer_index=0, row=0, col=-1),
    ):
        with pytest.raises(ConceptError):
            unit_region(with_head, **bad)


# ---------------------------------------------------------------- figures (smoke)


def test_figure_builders_return_figures():
    from cnn_core.concepts.activations import DepthGradients
    from cnn_core.figures import concepts as viz

    grid = viz.grid_figure(EXAMPLE_4X4, "t", box=(0, 0, 2, 2), diverging=True)
    assert isinstance(grid, go.Figure) and len(grid.data) == 1 and len(grid.layout.shapes) == 1
    assert grid.data[0].texttemplate  # small grids print their numbers
    assert viz.grid_figure(np.zeros((30, 30)), diverging=True).data[0].texttemplate is None
    assert len(viz.map_figure(rand(9, 7), marker=(2, 3), box=(1, 1, 3, 3)).data) == 2
    assert len(viz.map_figure(rand(9, 7), diverging=True).data) == 1
    assert len(viz.map_figure(np.zeros((1, 1)), diverging=True).data) == 1
    assert len(viz.photo_figure(RNG.random((3, 6, 5)), marker=(1, 1)).data) == 2
    assert len(viz.photo_figure(RNG.random((1, 6, 5)), box=(0, 0, 2, 2)).data) == 1
    x = np.linspace(-2, 2, 5)
    curves = {name: activation_curve(name, x) for name in ("relu", "tanh")}
    assert len(viz.curves_figure(x, curves).data) == 4
    assert len(viz.bars_figure([1, 2], [0.5, 0.25], percent=True).data) == 1
    depth = [DepthGradients("relu", 3, [1.0, 0.5, 0.0]), DepthGradients("sigmoid", 3, [1e-9, 1e-3, 1.0])]
    assert len(viz.gradient_depth_figure(depth).data) == 2
    assert len(viz.gradient_depth_figure([]).data) == 0
    assert len(viz.timing_figure([1, 8], [0.5, 2.0], ideal=[0.5, 4.0]).data) == 2
    assert len(viz.timing_figure([1, 8], [0.001, 0.002]).data) == 1
    marked = viz.mark_cells(viz.grid_figure(EXAMPLE_4X4, box=(0, 0, 2, 2)), [(1, 1), (3, 2)])
    assert len(marked.layout.shapes) == 3
    assert (marked.layout.shapes[2].x0, marked.layout.shapes[2].y0) == (1.5, 2.5)
    values = rand(20, 20)
    split = viz.histogram_figure(values, threshold=0.3, threshold_label="t")
    assert len(split.data) == 2
    assert len(split.data[0].x) == int((values <= 0.3).sum()) and len(split.data[1].x) == int((values > 0.3).sum())
    assert len(viz.histogram_figure(values).data) == 1
    assert len(viz.histogram_figure(np.full(5, 2.0), threshold=1.0).data) == 2
    assert len(viz.histogram_figure(np.zeros(0)).data) == 1
