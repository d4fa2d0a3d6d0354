"""The one-layer calculator and its sliding-window picture, checked against torch.

The picture is checked as an oracle: summing (or taking the max of) the highlighted cells of
the padded frame reproduces torch's own output at that position, so the picture really shows
the cells torch reads.
"""

import random
import re

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from cnn_core import SpecError
from cnn_core.arch.calculator import INPUT, INSERTED_ZERO, PADDING, UNREAD, LayerQuery, calculate, window_picture


def torch_layer(q: LayerQuery) -> nn.Module:
    if q.kind == "conv2d":
        return nn.Conv2d(q.channels, q.out_channels, q.kernel, stride=q.stride, padding=q.padding, dilation=q.dilation)
    if q.kind == "conv_transpose2d":
        return nn.ConvTranspose2d(
            q.channels,
            q.out_channels,
            q.kernel,
            stride=q.stride,
            padding=q.padding,
            output_padding=q.output_padding,
            dilation=q.dilation,
        )
    if q.kind == "maxpool2d":
        return nn.MaxPool2d(q.kernel, q.stride, q.padding, dilation=q.dilation, ceil_mode=q.ceil_mode)
    return nn.AvgPool2d(q.kernel, q.stride, q.padding, ceil_mode=q.ceil_mode)


def torch_output(q: LayerQuery):
    layer = torch_layer(q)
    with torch.no_grad():
        out = layer(torch.zeros(1, q.channels, q.height, q.width))
    return tuple(out.shape[1:]), sum(p.numel() for p in layer.parameters())


QUERIES = [
    LayerQuery("conv2d", 5, 5, kernel=3),
    LayerQuery("conv2d", 5, 5, kernel=3, stride=2, padding=1),
    LayerQuery("conv2d", 6, 6, kernel=3, stride=2),
    LayerQuery("conv2d", 28, 20, channels=3, out_channels=8, kernel=5, stride=3, padding=2),
    LayerQuery("conv2d", 11, 9, channels=2, out_channels=4, kernel=3, dilation=2, padding=1, stride=2),
    LayerQuery("conv2d", 7, 8, channels=2, out_channels=3, kernel=3, padding="same"),
    LayerQuery("conv2d", 7, 8, kernel=3, dilation=3, padding="same"),
    LayerQuery("conv2d", 7, 8, kernel=3, padding="valid"),
    LayerQuery("conv_transpose2d", 4, 4, kernel=3, stride=2, padding=1, output_padding=1),
    LayerQuery(
        "conv_transpose2d",
        5,
        3,
        channels=2,
        out_channels=3,
        kernel=4,
        stride=3,
        padding=2,
        dilation=2,
        output_padding=1,
    ),
    LayerQuery("conv_transpose2d", 1, 1, kernel=2, stride=1),
    LayerQuery("maxpool2d", 5, 5, kernel=2, stride=2, padding=1, ceil_mode=True),  # last window dropped
    LayerQuery("maxpool2d", 6, 6, kernel=3, stride=2, ceil_mode=True),  # partial window kept
    LayerQuery("maxpool2d", 6, 6, kernel=3, stride=2, ceil_mode=False),
    LayerQuery("maxpool2d", 10, 9, kernel=3, stride=2, padding=1, dilation=2),
    LayerQuery("maxpool2d", 10, 9, kernel=2, stride=3, padding=1, dilation=2, ceil_mode=True),
    LayerQuery("avgpool2d", 5, 5, kernel=2, stride=2, padding=1, ceil_mode=True),
    LayerQuery("avgpool2d", 7, 6, kernel=3, stride=2, padding=1),
    LayerQuery("avgpool2d", 32, 32, kernel=2, stride=2),
]


def qid(q: LayerQuery) -> str:
    return (
        f"{q.kind}-{q.height}x{q.width}-k{q.kernel}s{q.stride}p{q.padding}d{q.dilation}"
        f"{'-ceil' if q.ceil_mode else ''}{f'-op{q.output_padding}' if q.output_padding else ''}"
    )


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize("q", QUERIES, ids=qid)
def test_calculate_matches_torch(q):
    result = calculate(q)
    assert result.error is None
    shape, params = torch_output(q)
    assert result.output_shape == shape
    assert result.params == params
    assert [axis.size for axis in result.axes] == list(shape[1:])
    for axis in result.axes:
        assert axis.filled.endswith(f" {axis.size}"), axis.filled
        assert axis.formula and axis.note


@pytest.mark.parametrize(
    "q",
    [q for q in QUERIES if q.kind != "conv_transpose2d" and not q.ceil_mode and not isinstance(q.padding, str)],
    ids=qid,
)
def test_dropped_is_the_floor_remainder(q):
    result = calculate(q)
    for axis, n in zip(result.axes, (q.height, q.width)):
        span = n + 2 * q.padding - q.dilation * (q.kernel - 1) - 1
        assert axis.dropped == span % q.stride
        if axis.dropped:
            assert f"{span} mod {q.stride} = {axis.dropped}: the last" in axis.note  # "row" or "{n} rows": a plural
        else:
            assert "nothing is dropped" in axis.note


def test_same_and_valid_padding_drop_nothing():
    for padding in ("same", "valid"):
        result = calculate(LayerQuery("conv2d", 7, 8, kernel=4, padding=padding))
        assert all(axis.dropped == 0 for axis in result.axes)
    assert calculate(LayerQuery("conv2d", 7, 8, kernel=4, padding="same")).output_shape == (1, 7, 8)
    assert calculate(LayerQuery("conv2d", 7, 8, kernel=4, padding="valid")).output_shape == (1, 4, 5)


def test_ceil_mode_dropping_the_last_window():
    q = LayerQuery("maxpool2d", 5, 5, kernel=2, stride=2, padding=1, ceil_mode=True)
    assert torch_output(q)[0] == (1, 3, 3)  # ⌈5/2⌉ + 1 = 4 windows, but the 4th starts in the padding
    result = calculate(q)
    assert result.output_shape == (1, 3, 3)
    assert result.axes[0].filled.endswith("= 4 → 3")
    assert "drops it" in result.axes[0].note
    kept = calculate(LayerQuery("maxpool2d", 6, 6, kernel=3, stride=2, ceil_mode=True))
    assert kept.output_shape == (1, 3, 3) and "keeps a last, partial window" in kept.axes[0].note


@pytest.mark.filterwarnings("ignore:Initializing zero-element tensors")
@pytest.mark.parametrize(
    "q, part",
    [
        (LayerQuery("upsample", 5, 5), "unknown layer kind 'upsample'"),
        (LayerQuery("conv2d", 2, 2, kernel=3), "smaller than kernel 3"),
        (LayerQuery("conv2d", 5, 5, kernel=3, dilation=3), "smaller than kernel 7"),
        (LayerQuery("conv2d", 5, 5, kernel=3, stride=2, padding="same"), "'same' only works with stride 1"),
        (LayerQuery("conv2d", 5, 5, kernel=0), "kernel_size must be at least 1"),
        (LayerQuery("conv2d", 5, 5, kernel=3, stride=0), "stride must be at least 1"),
        (LayerQuery("maxpool2d", 5, 5, kernel=2, padding=2), "more than half the kernel"),
        (LayerQuery("avgpool2d", 1, 1, kernel=2), "smaller than kernel 2"),
        (LayerQuery("conv_transpose2d", 4, 4, kernel=3, stride=2, output_padding=2), "output_padding 2"),
        (LayerQuery("conv_transpose2d", 2, 2, kernel=1, padding=2), "the output would be"),
        (LayerQuery("conv2d", 0, 5), "input_shape"),
    ],
)
def test_invalid_query_returns_error(q, part):
    result = calculate(q)  # never raises
    assert isinstance(result.error, SpecError)
    assert result.output_shape is None and result.axes == []
    assert part in str(result.error)
    with pytest.raises(SpecError):
        window_picture(q, 0, 0)
    if q.kind in ("conv2d", "conv_transpose2d", "maxpool2d", "avgpool2d") and q.height > 0:
        with pytest.raises((RuntimeError, ValueError)):  # torch refuses it too
            torch_output(q)


# ---------------------------------------------------------------- the window picture


def test_picture_conv_5x5_k3_s2_p1_first_output():
    picture = window_picture(LayerQuery("conv2d", 5, 5, kernel=3, stride=2, padding=1), 0, 0)
    assert (picture.out_h, picture.out_w) == (3, 3)
    assert len(picture.roles) == 7 and all(len(row) == 7 for row in picture.roles)
    assert sorted(picture.highlight) == [(i, j) for i in range(3) for j in range(3)]
    assert all(picture.roles[0][j] == PADDING for j in range(7))
    assert all(picture.roles[i][j] == INPUT for i in range(1, 6) for j in range(1, 6))
    last = window_picture(LayerQuery("conv2d", 5, 5, kernel=3, stride=2, padding=1), 2, 1)
    assert sorted(last.highlight) == [(i, j) for i in range(4, 7) for j in range(2, 5)]


def test_picture_clamps_the_output_position():
    q = LayerQuery("conv2d", 5, 5, kernel=3)
    assert window_picture(q, 99, -4).highlight == window_picture(q, 2, 0).highlight


def test_picture_unread_cells_with_remainder():
    q = LayerQuery("conv2d", 6, 6, kernel=3, stride=2)  # windows at 0-2 and 2-4: column 5 never read
    picture = window_picture(q, 0, 0)
    unread = {(i, j) for i, row in enumerate(picture.roles) for j, role in enumerate(row) if role == UNREAD}
    assert unread == {(5, j) for j in range(6)} | {(i, 5) for i in range(6)}
    assert len(unread) == 11
    assert calculate(q).axes[0].dropped == 1
    exact = window_picture(LayerQuery("conv2d", 7, 7, kernel=3, stride=2), 0, 0)
    assert not any(role == UNREAD for row in exact.roles for role in row)


def _random_queries(kind, count, seed):
    rng = random.Random(seed)
    out = []
    while len(out) < count:
        q = LayerQuery(
            kind,
            rng.randint(1, 9),
            rng.randint(1, 9),
            kernel=rng.randint(1, 4),
            stride=rng.choice([1, 1, 2, 3]),
            dilation=rng.choice([1, 1, 2]),
        )
        if kind == "conv2d":
            q.padding = rng.choice([0, 1, 2, "valid", "same"] if q.stride == 1 else [0, 1, 2])
        else:
            q.padding = rng.randint(0, q.kernel // 2)
            q.ceil_mode = rng.random() < 0.5 if kind == "maxpool2d" else False
            if kind == "avgpool2d":
                q.dilation = 1
        result = calculate(q)
        if result.error is None:
            out.append(q)
        elif result.error.layer_index is not None and "smaller than kernel" in str(result.error):
            with pytest.raises(RuntimeError):  # refused by the calculator: torch refuses it too
                torch_output(q)
    return out


def _frame(q, picture, x, fill):
    """x placed in the picture's padded frame; the frame's other cells hold `fill`."""
    h, w = len(picture.roles), len(picture.roles[0])
    if q.padding == "same":
        top, left = (q.dilation * (q.kernel - 1)) // 2, (q.dilation * (q.kernel - 1)) // 2  # extra goes after
    elif q.padding == "valid":
        top = left = 0
    else:
        top = left = q.padding
    frame = torch.full((h, w), fill, dtype=x.dtype)
    frame[top : top + q.height, left : left + q.width] = x
    return frame


@pytest.mark.filterwarnings("ignore:Using padding='same'")
def test_picture_is_what_torch_conv2d_reads():
    gen = torch.Generator().manual_seed(0)
    for q in _random_queries("conv2d", 30, seed=1):
        x = torch.randn(q.height, q.width, generator=gen, dtype=torch.float64)
        weight = torch.randn(q.kernel, q.kernel, generator=gen, dtype=torch.float64)
        expected = F.conv2d(x[None, None], weight[None, None], stride=q.stride, padding=q.padding, dilation=q.dilation)[
            0, 0
        ]
        frame = None
        seen = set()
        for r in range(expected.shape[0]):
            for c in range(expected.shape[1]):
                picture = window_picture(q, r, c)
                assert (picture.out_h, picture.out_w) == tuple(expected.shape)
                frame = _frame(q, picture, x, 0.0) if frame is None else frame
                assert len(picture.highlight) == q.kernel**2
                total = sum(
                    frame[i, j] * weight[(i - r * q.stride) // q.dilation, (j - c * q.stride) // q.dilation]
                    for i, j in picture.highlight
                )
                torch.testing.assert_close(total, expected[r, c], msg=f"{qid(q)} at ({r}, {c})")
                seen.update(picture.highlight)
        roles = picture.roles
        unread = {(i, j) for i, row in enumerate(roles) for j, role in enumerate(row) if role == UNREAD}
        every = {(i, j) for i in range(len(roles)) for j in range(len(roles[0]))}
        assert unread == every - seen, qid(q)


def test_picture_is_what_torch_maxpool_reads():
    gen = torch.Generator().manual_seed(2)
    for q in _random_queries("maxpool2d", 30, seed=3):
        x = torch.randn(q.height, q.width, generator=gen, dtype=torch.float64)
        expected = torch_layer(q)(x[None, None])[0, 0]
        for r in range(expected.shape[0]):
            for c in range(expected.shape[1]):
                picture = window_picture(q, r, c)
                assert (picture.out_h, picture.out_w) == tuple(expected.shape)
                frame = _frame(q, picture, x, float("-inf"))
                best = max(frame[i, j] for i, j in picture.highlight)
                assert best == expected[r, c], f"{qid(q)} at ({r}, {c})"


def test_picture_is_what_torch_avgpool_reads():
    gen = torch.Generator().manual_seed(4)
    for q in _random_queries("avgpool2d", 20, seed=5):
        x = torch.randn(q.height, q.width, generator=gen, dtype=torch.float64)
        expected = torch_layer(q)(x[None, None])[0, 0]
        for r in range(expected.shape[0]):
            for c in range(expected.shape[1]):
                picture = window_picture(q, r, c)
                frame = _frame(q, picture, x, 0.0)
                mean = sum(frame[i, j] for i, j in picture.highlight) / q.kernel**2  # count_include_pad
                torch.testing.assert_close(mean, expected[r, c], msg=f"{qid(q)} at ({r}, {c})")


@pytest.mark.parametrize(
    "q",
    [
        LayerQuery("conv_transpose2d", 4, 4, kernel=3, stride=2, padding=1, output_padding=1),
        LayerQuery("conv_transpose2d", 3, 5, kernel=4, stride=3, padding=2, dilation=2, output_padding=1),
        LayerQuery("conv_transpose2d", 2, 3, kernel=2, stride=2),
        LayerQuery("conv_transpose2d", 3, 3, kernel=3, stride=1, padding=2),
    ],
    ids=qid,
)
def test_transpose_picture_is_a_conv_over_the_zero_stuffed_input(q):
    gen = torch.Generator().manual_seed(6)
    x = torch.randn(q.height, q.width, generator=gen, dtype=torch.float64)
    weight = torch.randn(1, 1, q.kernel, q.kernel, generator=gen, dtype=torch.float64)
    expected = F.conv_transpose2d(
        x[None, None], weight, stride=q.stride, padding=q.padding, output_padding=q.output_padding, dilation=q.dilation
    )[0, 0]
    picture = window_picture(q, 0, 0)
    assert (picture.out_h, picture.out_w) == tuple(expected.shape)
    roles = torch.tensor(picture.roles)
    assert int((roles == INPUT).sum()) == q.height * q.width
    assert int((roles == INSERTED_ZERO).sum()) == (
        ((q.height - 1) * q.stride + 1) * ((q.width - 1) * q.stride + 1) - q.height * q.width
    )
    frame = torch.zeros(roles.shape, dtype=torch.float64)
    frame[roles == INPUT] = x.flatten()  # row-major order on both sides
    flipped = weight.transpose(0, 1).flip(-1, -2)
    via_frame = F.conv2d(frame[None, None], flipped, dilation=q.dilation)[0, 0]
    torch.testing.assert_close(via_frame, expected)
    for r, c in [(0, 0), (picture.out_h - 1, picture.out_w - 1), (picture.out_h // 2, 1 % picture.out_w)]:
        got = window_picture(q, r, c).highlight
        assert sorted(got) == [
            (r + a * q.dilation, c + b * q.dilation) for a in range(q.kernel) for b in range(q.kernel)
        ]


def test_transpose_picture_refuses_large_padding_but_size_is_exact():
    q = LayerQuery("conv_transpose2d", 6, 6, kernel=2, stride=2, padding=2)
    result = calculate(q)
    assert result.error is None and result.output_shape == torch_output(q)[0] == (1, 8, 8)
    with pytest.raises(SpecError, match="padding ≤ dilation·\\(kernel−1\\)"):
        window_picture(q, 0, 0)


# ---------------------------------------------------------------- issue 12, item 4: extreme numbers


@pytest.mark.parametrize(
    "change, message",
    [
        (dict(stride=10**309), "stride must be at most 4096, got a number with"),
        (dict(kernel=2**64, kind="maxpool2d"), "kernel_size must be at most 4096, got a number with 20 digits"),
        (dict(padding=10**5000), "padding must be at most 4096, got a number with"),
        (dict(dilation=2**63, kind="conv_transpose2d"), "dilation must be at most 4096"),
        (dict(out_channels=2**63), "out_channels must be at most 8192"),
        (dict(height=10**400), "input_shape must be three positive whole numbers"),
        (dict(stride=float("inf")), "stride must be a whole number, got Infinity"),
    ],
    ids=["stride", "pool-kernel", "padding", "dilation", "out_channels", "height", "inf"],
)
def test_extreme_numbers_are_errors_of_the_calculator(change, message):
    """OverflowError (stride 10**309) and ValueError (a 5,000-digit number in a message) escaped."""
    query = LayerQuery(**{**dict(kind="conv2d", height=8, width=8, kernel=3), **change})
    result = calculate(query)
    assert result.output_shape is None and isinstance(result.error, SpecError)
    assert re.search(message, str(result.error))
    with pytest.raises(SpecError, match=message):
        window_picture(query, 0, 0)


def test_whole_floats_and_odd_kinds_are_handled():
    """8.0 is a whole number: the spec accepts it, so the picture must too (range() of a float raised
    TypeError); a kind that is not text is an error with a message, not a ValueError."""
    picture = window_picture(LayerQuery(kind="conv2d", height=8.0, width=6.0, kernel=3.0), 0, 0)
    assert (picture.out_h, picture.out_w) == (6, 4)
    result = calculate(LayerQuery(kind=10**5000))
    assert result.output_shape is None and "a number with 5001 digits" in str(result.error)


# ---------------------------------------------------------------- Keras / TensorFlow 'same'


def _keras_reference(q: LayerQuery) -> torch.Tensor:
    """The layer as Keras' 'same' runs it, in torch: the input padded (top, bottom, left, right as the
    calculator says), then a convolution with padding=0."""
    (top, bottom), (left, right) = q.keras_padding()
    gen = torch.Generator().manual_seed(q.height * 1000 + q.width)
    x = torch.randn(1, 1, q.height, q.width, generator=gen, dtype=torch.float64)
    weight = torch.randn(1, 1, q.kernel, q.kernel, generator=gen, dtype=torch.float64)
    padded = F.pad(x, (left, right, top, bottom))
    return F.conv2d(padded, weight, stride=q.stride, dilation=q.dilation)


def test_keras_same_gives_ceil_n_over_s_with_the_least_padding_odd_cell_last():
    rng = random.Random(7)
    for _ in range(200):
        q = LayerQuery(
            kind="conv2d",
            height=rng.randint(1, 40),
            width=rng.randint(1, 40),
            kernel=rng.randint(1, 7),
            stride=rng.randint(1, 5),
            dilation=rng.randint(1, 3),
            padding="same_keras",
        )
        result = calculate(q)
        assert result.error is None, (q, result.error)
        out = _keras_reference(q).shape[2:]
        expected = (-(-q.height // q.stride), -(-q.width // q.stride))  # ⌈n / s⌉ on each axis
        assert tuple(out) == expected == result.output_shape[1:], q
        assert [axis.size for axis in result.axes] == list(expected)
        for size, (before, after) in zip((q.height, q.width), q.keras_padding()):
            assert after - before in (0, 1), "the odd cell goes at the end (bottom, right)"
            if before + after:  # one cell less would lose the last output
                span = size + before + after - 1 - q.dilation * (q.kernel - 1) - 1
                assert (span // q.stride + 1) < -(-size // q.stride) or span < 0


def test_keras_same_window_picture_is_what_the_padded_convolution_reads():
    q = LayerQuery(kind="conv2d", height=6, width=7, kernel=4, stride=2, padding="same_keras")
    picture = window_picture(q, 0, 0)
    (top, bottom), (left, right) = q.keras_padding()
    assert (len(picture.roles), len(picture.roles[0])) == (6 + top + bottom, 7 + left + right)
    assert (picture.out_h, picture.out_w) == tuple(_keras_reference(q).shape[2:]) == (3, 4)
    assert picture.roles[0][0] == PADDING and picture.roles[top][left] == INPUT


def test_seed_000_example_2_same_padding_stride_2_gives_3x3():
    """The tutorial's example 2: a 5×5 input, a 3×3 kernel, 'same' padding and stride 2. Its text says
    the output stays 5×5; Keras' rule gives ⌈5 / 2⌉ = 3, with one cell of padding on each side."""
    q = LayerQuery(kind="conv2d", height=5, width=5, kernel=3, stride=2, padding="same_keras")
    result = calculate(q)
    assert result.output_shape == (1, 3, 3) and q.keras_padding() == ((1, 1), (1, 1))
    assert result.axes[0].filled == "⌈5 / 2⌉ = 3"
    assert "pads 1 before and 1 after" in result.axes[0].note and "nn.ZeroPad2d" in result.axes[0].note
    torch_same = calculate(LayerQuery(kind="conv2d", height=5, width=5, kernel=3, stride=2, padding="same"))
    assert torch_same.output_shape is None and torch_same.error is not None  # PyTorch's 'same' needs stride 1


@pytest.mark.parametrize(
    "change, message",
    [
        (dict(kind="maxpool2d"), "for a convolution \\(conv2d\\) only"),
        (dict(kind="conv_transpose2d"), "for a convolution \\(conv2d\\) only"),
        (dict(height="abc"), "input_shape must be three positive whole numbers"),
        (dict(height=10**400), "input_shape must be three positive whole numbers"),
        (dict(stride=0), "stride"),
        (dict(kernel=2**64), "kernel_size must be at most 4096"),
    ],
    ids=["pool", "transpose", "text", "huge", "stride-0", "kernel"],
)
def test_keras_same_refuses_bad_queries_with_the_projects_error(change, message):
    query = LayerQuery(**{**dict(kind="conv2d", height=8, width=8, kernel=3, padding="same_keras"), **change})
    result = calculate(query)
    assert result.output_shape is None and isinstance(result.error, SpecError), result
    assert re.search(message, str(result.error)), str(result.error)
    with pytest.raises(SpecError):
        window_picture(query, 0, 0)
