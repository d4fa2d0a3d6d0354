"""Concept lab core, part 1: pictures and convolution, each held against a direct computation
(numpy loops, torch's F.conv2d, scipy, PIL) rather than against itself."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from scipy.signal import convolve2d

from cnn_core.arch.shapes import conv_out as output_side
from cnn_core.concepts import ConceptError
from cnn_core.concepts.convolution import (
    KERNELS,
    MAX_KERNEL_SIDE,
    apply_kernel,
    check_fits,
    compare_flip,
    conv_walk,
    convolve,
    cross_correlate,
    edge_demo_image,
    edge_signs,
    flip,
    format_kernel,
    parse_kernel,
)
from cnn_core.concepts.images import (
    PHOTOS,
    as_uint8,
    digit_image,
    fit_longest_side,
    image_from_upload,
    sample_input,
    sample_photo,
    shape_image,
    to_gray,
    to_rgb,
)
from cnn_core.concepts.patch_match import cut_patch, match_patch
from cnn_core.concepts.strides import StrideResult, stride_summary, stride_sweep
from cnn_core.data.catalog import SHAPE_NAMES
from tests.conftest import png_bytes, standard_normal

RNG = np.random.default_rng(1234)
rand = standard_normal(RNG)


def torch_conv(image, kernel, stride=1, padding=0):
    x = torch.tensor(np.asarray(image, dtype=np.float32))[None, None]
    k = torch.tensor(np.asarray(kernel, dtype=np.float32))[None, None]
    return F.conv2d(x, k, stride=stride, padding=padding)[0, 0].numpy()


def loop_correlate(image, kernel, stride=1, padding=0):
    """out[i, j] = Σ x[i·s + m, j·s + n] · k[m, n] over the zero-padded image, in float64."""
    x = np.pad(np.asarray(image, dtype=np.float64), padding)
    k = np.asarray(kernel, dtype=np.float64)
    kh, kw = k.shape
    rows = (x.shape[0] - kh) // stride + 1
    cols = (x.shape[1] - kw) // stride + 1
    out = np.zeros((rows, cols))
    for i in range(rows):
        for j in range(cols):
            total = 0.0
            for m in range(kh):
                for n in range(kw):
                    total += x[i * stride + m, j * stride + n] * k[m, n]
            out[i, j] = total
    return out


# ---------------------------------------------------------------- images


def test_sample_photos_shapes_and_range():
    for name in PHOTOS:
        photo = sample_photo(name)
        assert photo.shape == (3, 427, 640) and photo.dtype == np.float32
        assert photo.min() >= 0 and photo.max() <= 1 and photo.max() > 0.9 and photo.min() < 0.1
    with pytest.raises(ConceptError):
        sample_photo("mona_lisa.jpg")


def test_digit_image_matches_sklearn_and_rejects_bad_indices():
    from sklearn.datasets import load_digits

    bunch = load_digits()
    for index in (0, 7, len(bunch.images) - 1):
        image, label = digit_image(index)
        assert image.shape == (1, 8, 8) and image.dtype == np.float32
        assert image.min() >= 0 and image.max() <= 1
        np.testing.assert_allclose(image[0], bunch.images[index] / 16.0, atol=1e-6)
        assert label == bunch.target[index] and isinstance(label, int)
    for bad in (-1, len(bunch.images), 10**6):
        with pytest.raises(ConceptError):
            digit_image(bad)


def test_shape_image_every_shape_and_bad_name():
    for name in SHAPE_NAMES:
        image = shape_image(name, 40)
        assert image.shape == (1, 40, 40) and image.dtype == np.float32
        assert set(np.unique(image)) <= {0.0, 1.0}
        assert 0 < image.mean() < 1, name  # something drawn, and not everything
        assert image[0, 0, 0] == 0  # black corner
    assert shape_image("square", 17).shape == (1, 17, 17)
    with pytest.raises(ConceptError):
        shape_image("hexagon")


def test_fit_longest_side_sizes_and_aspect():
    photo = sample_photo("china.jpg")  # 427 × 640
    small = fit_longest_side(photo, 120)
    assert small.shape == (3, round(427 * 120 / 640), 120) == (3, 80, 120)
    assert small.dtype == np.float32 and small.min() >= 0 and small.max() <= 1
    for side in (1, 2, 7, 50, 333):
        out = fit_longest_side(photo, side)
        assert max(out.shape[1:]) == side and min(out.shape[1:]) >= 1
        assert out.shape[2] == side  # the width is the long side
        assert abs(out.shape[1] - 427 * side / 640) <= 0.5 + 1e-9
    assert fit_longest_side(photo, 1).shape == (3, 1, 1)
    # a portrait image keeps its height as the long side
    tall = np.zeros((1, 30, 10), dtype=np.float32)
    assert fit_longest_side(tall, 9).shape == (1, 9, 3)
    # the same size gives an equal copy, not the same array
    same = fit_longest_side(photo, 640)
    np.testing.assert_array_equal(same, photo)
    same[0, 0, 0] = 5
    assert photo[0, 0, 0] != 5
    # growing an 8×8 digit to 32 repeats each pixel in a 4×4 block (nearest, crisp)
    digit, _ = digit_image(3)
    big = fit_longest_side(digit, 32)
    np.testing.assert_array_equal(big[0], np.kron(digit[0], np.ones((4, 4), dtype=np.float32)))
    for bad in (0, -3):
        with pytest.raises(ConceptError):
            fit_longest_side(photo, bad)


def test_fit_longest_side_shrink_keeps_the_mean_brightness():
    photo = sample_photo("flower.jpg")
    small = fit_longest_side(photo, 64)
    np.testing.assert_allclose(small.mean(axis=(1, 2)), photo.mean(axis=(1, 2)), atol=0.01)


def test_to_gray_matches_pil_luminance():
    photo = sample_photo("china.jpg")
    uint8 = (photo * 255).round().astype(np.uint8).transpose(1, 2, 0)
    pil_gray = np.asarray(Image.fromarray(uint8, "RGB").convert("L"), dtype=np.float32) / 255
    gray = to_gray(photo)
    assert gray.shape == (427, 640) and gray.dtype == np.float32
    assert np.abs(gray - pil_gray).max() <= 1 / 255 + 1e-6
    # one channel: just that channel
    digit, _ = digit_image(5)
    np.testing.assert_array_equal(to_gray(digit), digit[0])
    assert to_rgb(digit).shape == (3, 8, 8) and np.array_equal(to_rgb(digit)[2], digit[0])
    assert to_rgb(photo) is photo


def test_sample_input_shapes_crop_and_channels():
    photo = sample_photo("china.jpg")  # 427 × 640
    digit, _ = digit_image(0)
    np.testing.assert_array_equal(sample_input(1, 8, 8), digit)  # the same size: untouched
    np.testing.assert_allclose(sample_input(3, 427, 640), photo, atol=1e-6)
    # a square target crops the photo's centre columns: (640 − 427) // 2 = 106
    np.testing.assert_allclose(sample_input(3, 427, 427), photo[:, :, 106:533], atol=1e-6)
    np.testing.assert_allclose(sample_input(2, 427, 640), to_gray(photo)[None], atol=1e-6)
    for channels, h, w in ((1, 28, 28), (3, 32, 32), (3, 1, 1), (4, 5, 9), (1, 40, 3)):
        image = sample_input(channels, h, w)
        assert image.shape == (3 if channels == 3 else 1, h, w) and image.dtype == np.float32
        assert image.min() >= 0 and image.max() <= 1
    small = sample_input(3, 32, 32)
    np.testing.assert_allclose(small.mean(axis=(1, 2)), photo[:, :, 106:533].mean(axis=(1, 2)), atol=0.02)
    for bad in ((1, 0, 5), (3, 4, -1)):
        with pytest.raises(ConceptError):
            sample_input(*bad)


def test_as_uint8_rounds_and_clips():
    np.testing.assert_array_equal(
        as_uint8(np.array([-0.5, 0.0, 0.5, 1 / 255, 0.999, 1.0, 2.0])), [0, 0, 128, 1, 255, 255, 255]
    )
    assert as_uint8(np.zeros((3, 2, 2))).dtype == np.uint8


def test_reversed_views_are_accepted():
    """Arrays flipped with [::-1] have negative strides, which torch.from_numpy refuses."""
    image = rand(6, 7)
    flipped = image[::-1, ::-1]
    np.testing.assert_allclose(cross_correlate(flipped, np.ones((1, 1), dtype=np.float32)), flipped, atol=1e-6)
    np.testing.assert_allclose(convolve(image, rand(1, 1)[::-1]).shape, (6, 7))
    tiny = np.ones((1, 1, 1), dtype=np.float32)[:, ::-1, ::-1]
    assert fit_longest_side(tiny, 3).shape == (1, 3, 3)
    assert apply_kernel(rand(3, 5, 5)[::-1], KERNELS["box_blur"][::-1]).total.shape == (3, 3)
    assert match_patch(RNG.random((8, 8)).astype(np.float32)[::-1], 1, 1, 3).peak == (1, 1)


def test_image_from_upload_real_png_and_junk():
    rgb = RNG.integers(0, 256, size=(9, 13, 3), dtype=np.uint8)
    image = image_from_upload(png_bytes(rgb, "RGB"), 10**6)
    assert image.shape == (3, 9, 13) and image.dtype == np.float32
    np.testing.assert_allclose(image, rgb.transpose(2, 0, 1) / 255.0, atol=1e-7)
    gray = RNG.integers(0, 256, size=(5, 4), dtype=np.uint8)
    image = image_from_upload(png_bytes(gray, "L"), 10**6)
    assert image.shape == (3, 5, 4)
    for channel in image:
        np.testing.assert_allclose(channel, gray / 255.0, atol=1e-7)
    for junk in (b"not a picture at all", b"\x89PNG\r\n\x1a\n" + b"\0" * 40, b""):
        with pytest.raises(ConceptError):
            image_from_upload(junk, 10**6)
    with pytest.raises(ConceptError):  # over the byte cap
        image_from_upload(png_bytes(rgb, "RGB"), 10)


# ---------------------------------------------------------------- parse_kernel / format_kernel


def test_parse_kernel_forms():
    expected = np.array([[1, 2, 3], [4, 5, 6]], dtype=np.float32)
    for text in (
        "1 2 3\n4 5 6",
        "1,2,3;4,5,6",
        "1, 2, 3 ; 4, 5, 6",
        "[1, 2, 3]\n[4, 5, 6]",
        "  1 2 3\n\n4\t5 6\n  ",
        "1 2 3;\n4 5 6;",
    ):
        kernel = parse_kernel(text)
        assert kernel.dtype == np.float32
        np.testing.assert_array_equal(kernel, expected, err_msg=repr(text))
    np.testing.assert_allclose(parse_kernel("1/9 1/9\n-1/2 2.5e-1"), [[1 / 9, 1 / 9], [-0.5, 0.25]], rtol=1e-6)
    assert parse_kernel("7").shape == (1, 1)
    assert parse_kernel("1 0 -1").shape == (1, 3)
    side = MAX_KERNEL_SIDE
    assert parse_kernel("\n".join(" ".join(["1"] * side) for _ in range(side))).shape == (side, side)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "\n;\n",
        "1 2\n3",
        "1 2 3;4 5",
        "1 x",
        "1/0 1",
        "inf 1",
        "nan",
        "1 2/",
        "abc",
        "\n".join(" ".join(["1"] * (MAX_KERNEL_SIDE + 1)) for _ in range(2)),
        "\n".join(["1"] * (MAX_KERNEL_SIDE + 1)),
    ],
)
def test_parse_kernel_errors(text):
    with pytest.raises(ConceptError) as info:
        parse_kernel(text)
    assert len(str(info.value)) > 20  # a sentence the page can show


def test_format_kernel_round_trips():
    for name, kernel in KERNELS.items():
        back = parse_kernel(format_kernel(kernel))
        assert back.shape == kernel.shape
        if np.array_equal(kernel, kernel.round()):
            np.testing.assert_array_equal(back, kernel, err_msg=name)
        else:
            np.testing.assert_allclose(back, kernel, rtol=1e-5, err_msg=name)
    odd = np.array([[0.5, -2, 3.25]], dtype=np.float32)
    np.testing.assert_array_equal(parse_kernel(format_kernel(odd)), odd)


# ---------------------------------------------------------------- the sliding window

WALK_CASES = [  # image shape, kernel shape, stride, padding
    ((7, 7), (3, 3), 1, 0),
    ((9, 11), (3, 3), 2, 1),
    ((8, 10), (2, 5), 1, 2),  # non-square kernel
    ((10, 9), (5, 2), 3, 0),
    ((12, 12), (2, 2), 5, 0),  # stride larger than the kernel
    ((6, 13), (3, 4), 4, 1),
    ((1, 1), (3, 3), 1, 1),  # 1×1 image, padding makes it fit
    ((1, 1), (1, 1), 1, 0),
    ((1, 1), (3, 3), 2, 2),
    ((5, 5), (5, 5), 1, 0),  # exactly one window
]


@pytest.mark.parametrize("shape,kshape,stride,padding", WALK_CASES)
def test_conv_walk_equals_torch_and_each_step_equals_numpy(shape, kshape, stride, padding):
    image, kernel = rand(*shape), rand(*kshape)
    walk = conv_walk(image, kernel, stride, padding)
    expected = torch_conv(image, kernel, stride, padding)
    assert walk.output.shape == expected.shape == walk.output_shape
    np.testing.assert_allclose(walk.output, expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(walk.output, loop_correlate(image, kernel, stride, padding), rtol=1e-5, atol=1e-5)
    padded = np.pad(image, padding)
    np.testing.assert_array_equal(walk.padded, padded)
    steps = list(walk.steps())
    rows, cols = expected.shape
    assert [(s.row, s.col) for s in steps] == [(r, c) for r in range(rows) for c in range(cols)]  # row by row
    kh, kw = kshape
    for step in steps:
        assert (step.top, step.left) == (step.row * stride, step.col * stride)
        window = padded[step.top : step.top + kh, step.left : step.left + kw]
        np.testing.assert_array_equal(step.window, window)
        np.testing.assert_allclose(step.products, window.astype(np.float64) * kernel, rtol=1e-6, atol=1e-7)
        assert step.total == pytest.approx(float((window.astype(np.float64) * kernel).sum()), rel=1e-5, abs=1e-5)
        assert step.total == pytest.approx(float(expected[step.row, step.col]), rel=1e-5, abs=1e-5)


def test_conv_walk_single_pixel_with_padding_is_the_kernel_centre():
    walk = conv_walk(np.array([[2.0]]), KERNELS["sharpen"], 1, 1)
    assert walk.output.shape == (1, 1) and walk.output[0, 0] == pytest.approx(10.0)


def test_conv_walk_errors():
    image = rand(4, 4)
    with pytest.raises(ConceptError):
        conv_walk(image, rand(5, 5))  # kernel larger than the image
    with pytest.raises(ConceptError):
        conv_walk(rand(1, 1), rand(3, 3))  # 1×1 image without padding
    with pytest.raises(ConceptError):
        conv_walk(image, rand(3, 3), stride=0)
    with pytest.raises(ConceptError):
        conv_walk(image, rand(3, 3), padding=-1)
    walk = conv_walk(image, rand(3, 3))
    for row, col in ((2, 0), (0, 2), (-1, 0)):
        with pytest.raises(ConceptError):
            walk.step(row, col)
    with pytest.raises(ConceptError):  # needs padding 1 to fit a 5×5 kernel on 3×3
        check_fits(3, 3, rand(5, 5))
    check_fits(3, 3, rand(5, 5), padding=1)


# ---------------------------------------------------------------- correlation vs convolution


@pytest.mark.parametrize(
    "shape,kshape,stride,padding",
    [((9, 9), (3, 3), 1, 0), ((8, 12), (2, 4), 2, 1), ((10, 7), (5, 3), 3, 2), ((3, 3), (3, 3), 1, 0)],
)
def test_cross_correlate_equals_numpy_double_loop(shape, kshape, stride, padding):
    image, kernel = rand(*shape), rand(*kshape)
    np.testing.assert_allclose(
        cross_correlate(image, kernel, stride, padding),
        loop_correlate(image, kernel, stride, padding),
        rtol=1e-5,
        atol=1e-5,
    )


@pytest.mark.parametrize("shape,kshape", [((9, 9), (3, 3)), ((8, 12), (2, 4)), ((10, 7), (5, 3)), ((6, 6), (1, 1))])
def test_convolve_equals_scipy_and_flipped_correlation(shape, kshape):
    image, kernel = rand(*shape), rand(*kshape)
    out = convolve(image, kernel)
    np.testing.assert_allclose(
        out, convolve2d(image.astype(np.float64), kernel.astype(np.float64), mode="valid"), rtol=1e-5, atol=1e-5
    )
    np.testing.assert_allclose(out, cross_correlate(image, kernel[::-1, ::-1].copy()), rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(flip(kernel), np.rot90(kernel, 2))


def test_compare_flip_symmetric_and_asymmetric_kernels():
    image = rand(12, 12)
    for name in ("box_blur", "gaussian_blur", "sharpen", "laplacian", "identity"):
        result = compare_flip(image, KERNELS[name])
        assert result.symmetric and result.max_difference == 0.0, name
        np.testing.assert_array_equal(result.correlation, result.convolution)
    for name in ("sobel_x", "sobel_y", "edge_vertical", "edge_horizontal", "emboss"):
        result = compare_flip(image, KERNELS[name], padding=1)
        assert not result.symmetric, name
        assert result.correlation.shape == (12, 12)
        assert result.max_difference > 0.1, name
        assert result.max_difference == pytest.approx(float(np.abs(result.correlation - result.convolution).max()))
        np.testing.assert_allclose(result.correlation, loop_correlate(image, KERNELS[name], 1, 1), atol=1e-5)
        np.testing.assert_allclose(result.convolution, loop_correlate(image, flip(KERNELS[name]), 1, 1), atol=1e-5)
    # a kernel that is mirror-symmetric left-right but not up-down still differs
    assert not compare_flip(image, np.array([[1, 2, 1], [0, 0, 0], [0, 0, 0]], dtype=np.float32)).symmetric


# ---------------------------------------------------------------- edge signs


def test_vertical_edge_signs():
    image = edge_demo_image(24, 0.1, 0.9)  # light square on rows/cols 6..17
    assert image[12, 5] == pytest.approx(0.1) and image[12, 6] == pytest.approx(0.9)
    out = cross_correlate(image, KERNELS["edge_vertical"])
    row = out[10]  # input rows 10..12: inside the square
    # window columns j..j+2 (k = [1, 0, −1]: left minus right); the square spans columns 6..17:
    # left edge (dark→light) at j = 4, 5; right edge (light→dark) at j = 16, 17
    assert row[4] < 0 and row[5] < 0 and row[16] > 0 and row[17] > 0
    assert row[4] == pytest.approx(-3 * 0.8, abs=1e-5) and row[17] == pytest.approx(3 * 0.8, abs=1e-5)
    assert row.min() == pytest.approx(-row.max(), abs=1e-6)
    others = [j for j in range(len(row)) if j not in (4, 5, 16, 17)]
    np.testing.assert_allclose(row[others], 0.0, atol=1e-6)
    assert out.min() == pytest.approx(-out.max(), abs=1e-6)


def test_horizontal_edge_signs():
    image = edge_demo_image(24, 0.1, 0.9)
    out = cross_correlate(image, KERNELS["edge_horizontal"])
    col = out[:, 10]
    # top edge (dark above, light below) at rows 4, 5; bottom edge (light above, dark below) at 16, 17
    assert col[4] < 0 and col[5] < 0 and col[16] > 0 and col[17] > 0
    assert col[5] == pytest.approx(-3 * 0.8, abs=1e-5) and col[16] == pytest.approx(3 * 0.8, abs=1e-5)
    others = [i for i in range(len(col)) if i not in (4, 5, 16, 17)]
    np.testing.assert_allclose(col[others], 0.0, atol=1e-6)
    assert col.min() == pytest.approx(-col.max(), abs=1e-6)
    assert out.min() == pytest.approx(-out.max(), abs=1e-6)


def test_edge_signs_reads_both_edges():
    result = edge_signs(12)  # square on columns 3..8; output columns j read input columns j..j+2
    np.testing.assert_array_equal(result.image, edge_demo_image(12))
    np.testing.assert_array_equal(result.kernel, KERNELS["edge_vertical"])
    expected = loop_correlate(result.image, KERNELS["edge_vertical"])
    np.testing.assert_allclose(result.response, expected, atol=1e-5)
    assert result.row == 5
    assert result.left_col in (1, 2) and result.right_col in (7, 8)
    assert result.left_value < 0 < result.right_value
    assert result.left_value == pytest.approx(-3 * 0.8, abs=1e-5)
    assert result.right_value == pytest.approx(-result.left_value, abs=1e-6)
    assert result.left_value == result.response[result.row, result.left_col]
    assert result.right_value == result.response[result.row, result.right_col]
    sobel = edge_signs(24, KERNELS["sobel_x"])
    assert sobel.left_value == pytest.approx(-4 * 0.8, abs=1e-5) and sobel.right_value == pytest.approx(
        4 * 0.8, abs=1e-5
    )
    mirrored = edge_signs(16, flip(KERNELS["edge_vertical"]))  # true convolution's view: the signs swap
    assert mirrored.left_value > 0 > mirrored.right_value
    tiny = edge_signs(3)  # the square fills the image: no edge, no crash
    assert tiny.response.shape == (1, 1) and tiny.left_value == pytest.approx(0.0, abs=1e-6)
    with pytest.raises(ConceptError):
        edge_signs(2)


def test_output_side_matches_torch():
    for size, kernel, stride, padding in itertools.product((1, 5, 8), (1, 3, 4), (1, 2, 5), (0, 1, 2)):
        if size + 2 * padding >= kernel:
            expected = torch_conv(np.zeros((size, 1)), np.zeros((kernel, 1)), stride, padding).shape[0]
            assert output_side(size, kernel, stride, padding) == expected


# ---------------------------------------------------------------- a kernel on a photo


@pytest.mark.parametrize("channels,stride,padding", [(3, 1, 0), (3, 2, 1), (1, 1, 1), (2, 3, 0)])
def test_apply_kernel_sums_channels_like_a_conv_filter(channels, stride, padding):
    image = RNG.random((channels, 11, 14)).astype(np.float32)
    kernel = rand(3, 4)
    response = apply_kernel(image, kernel, stride, padding)
    weight = torch.tensor(np.stack([kernel] * channels)[None])  # (1, C, kh, kw)
    expected = F.conv2d(torch.tensor(image)[None], weight, stride=stride, padding=padding)[0, 0].numpy()
    assert response.total.shape == expected.shape
    np.testing.assert_allclose(response.total, expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(response.total, response.channel_maps.sum(0), rtol=1e-5, atol=1e-5)
    assert response.channel_maps.shape == (channels, *expected.shape)
    for c in range(channels):
        np.testing.assert_allclose(
            response.channel_maps[c], loop_correlate(image[c], kernel, stride, padding), rtol=1e-5, atol=1e-5
        )
    assert response.all_zero is False


def test_kernel_response_signed():
    photo = fit_longest_side(sample_photo("flower.jpg"), 30)
    assert apply_kernel(photo, KERNELS["sobel_x"]).signed
    assert not apply_kernel(photo, KERNELS["box_blur"]).signed  # positive image, positive kernel
    assert not apply_kernel(photo, np.zeros((2, 2))).signed


def test_apply_kernel_all_zero_and_gray():
    photo = fit_longest_side(sample_photo("flower.jpg"), 40)
    response = apply_kernel(photo, np.zeros((3, 3)))
    assert response.all_zero is True
    assert not np.any(response.total) and not np.any(response.channel_maps)
    gray = to_gray(photo)[None]
    response = apply_kernel(gray, KERNELS["sobel_x"], padding=1)
    assert response.channel_maps.shape == (1, *gray.shape[1:])
    np.testing.assert_array_equal(response.total, response.channel_maps[0])
    np.testing.assert_allclose(response.total, loop_correlate(gray[0], KERNELS["sobel_x"], 1, 1), atol=1e-5)
    with pytest.raises(ConceptError):
        apply_kernel(np.zeros((1, 1, 1), dtype=np.float32), KERNELS["box_blur"])


# ---------------------------------------------------------------- a patch as the kernel


def loop_ncc(image, patch):
    """Normalised cross-correlation by the definition, in float64; 0 where a window is flat."""
    x = np.asarray(image, dtype=np.float64)
    p = np.asarray(patch, dtype=np.float64)
    pc = p - p.mean()
    pn = np.sqrt((pc**2).sum())
    kh, kw = p.shape
    out = np.zeros((x.shape[0] - kh + 1, x.shape[1] - kw + 1))
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            w = x[i : i + kh, j : j + kw]
            wc = w - w.mean()
            wn = np.sqrt((wc**2).sum())
            out[i, j] = 0.0 if wn <= 1e-6 * max(1.0, pn) else (wc * pc).sum() / (wn * pn)
    return out


def small_photo():
    return to_gray(fit_longest_side(sample_photo("china.jpg"), 120))


def test_match_patch_finds_itself_on_the_photo():
    image = small_photo()
    assert image.shape == (80, 120)
    rng = np.random.default_rng(7)
    checked = 0
    for size in (3, 5, 8, 12, 16, 24):
        for _ in range(6):
            top, left = (int(v) for v in (rng.integers(0, 80 - size + 1), rng.integers(0, 120 - size + 1)))
            if image[top : top + size, left : left + size].std() < 1e-3:
                continue
            match = match_patch(image, top, left, size)
            assert match.origin == (top, left) and match.method == "normalised"
            assert match.response.shape == (80 - size + 1, 120 - size + 1)
            assert match.peak == (top, left), (size, top, left)
            assert match.response[top, left] == pytest.approx(1.0, abs=1e-4), (size, top, left)
            assert match.response.max() <= 1.0 and match.response.min() >= -1.0
            np.testing.assert_array_equal(match.patch, image[top : top + size, left : left + size])
            checked += 1
    assert checked >= 30
    # smooth, low-contrast patches (sky, for instance) too: the score at the patch itself stays 1
    for name in PHOTOS:
        image = to_gray(fit_longest_side(sample_photo(name), 120))
        for top, left in ((0, 0), (2, 50), (5, 100)):
            match = match_patch(image, top, left, 6)
            assert match.response[top, left] == pytest.approx(1.0, abs=1e-4), (name, top, left)
            assert match.peak == (top, left), (name, top, left)


def test_match_patch_equals_loop_ncc_on_a_small_image():
    image = RNG.random((14, 17)).astype(np.float32)
    image[:6, :7] = 0.4  # a flat corner: those windows score 0
    for top, left, size in ((8, 9, 4), (3, 5, 3), (0, 10, 6)):
        match = match_patch(image, top, left, size)
        expected = loop_ncc(image, image[top : top + size, left : left + size])
        np.testing.assert_allclose(match.response, expected, atol=1e-5)
        assert match.response[0, 0] == 0.0  # the flat window
        assert match.peak == (top, left)


def test_cut_patch():
    image = RNG.random((12, 15)).astype(np.float32)
    patch = cut_patch(image, 3, 4, 5)
    np.testing.assert_array_equal(patch, image[3:8, 4:9])
    patch[0, 0] = 9  # a copy
    assert image[3, 4] != 9
    centred = cut_patch(image, 3, 4, 5, centred=True)
    np.testing.assert_allclose(centred, image[3:8, 4:9] - image[3:8, 4:9].astype(np.float64).mean(), atol=1e-6)
    assert abs(float(centred.astype(np.float64).sum())) < 1e-5
    assert cut_patch(image, 0, 0, 12).shape == (12, 12)
    for args in ((0, 0, 0), (0, 0, 13), (8, 0, 5), (0, 11, 5), (-1, 0, 3), (0, -2, 3)):
        with pytest.raises(ConceptError):
            cut_patch(image, *args)


def test_match_patch_raw_and_errors():
    image = RNG.random((12, 15)).astype(np.float32)
    match = match_patch(image, 2, 3, 4, method="raw")
    np.testing.assert_array_equal(match.response, cross_correlate(image, image[2:6, 3:7]))
    np.testing.assert_allclose(match.response, loop_correlate(image, image[2:6, 3:7]), atol=1e-5)
    flat = image.copy()
    flat[4:9, 4:9] = 0.3
    with pytest.raises(ConceptError):
        match_patch(flat, 4, 4, 5)
    match_patch(flat, 4, 4, 5, method="raw")  # raw has no division, so a flat patch is fine
    for args in ((0, 0, 0), (0, 0, 13), (9, 0, 4), (0, 12, 4), (-1, 0, 3)):
        with pytest.raises(ConceptError):
            match_patch(image, *args)
    with pytest.raises(ConceptError):
        match_patch(image, 0, 0, 3, method="fancy")


# ---------------------------------------------------------------- stride


def test_stride_sweep_outputs_macs_peaks():
    image = RNG.random((37, 41)).astype(np.float32)
    kernel = rand(5, 4)
    strides = (1, 2, 3, 4, 8, 16, 50)
    results = stride_sweep(image, kernel, strides, repeats=1)
    full = torch_conv(image, kernel)
    assert [r.stride for r in results] == list(strides)
    for result in results:
        s = result.stride
        np.testing.assert_allclose(result.output, full[::s, ::s], rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(result.output, torch_conv(image, kernel, stride=s), rtol=1e-6, atol=1e-6)
        assert result.macs == result.output.size * kernel.size
        assert result.seconds > 0
        i, j = np.unravel_index(np.argmax(result.output), result.output.shape)
        assert result.peak == (i * s, j * s)
        assert full[result.peak] == pytest.approx(float(result.output.max()), abs=1e-6)  # in input pixels
    assert results[-1].output.shape == (1, 1)  # stride larger than the image: the first window only
    with pytest.raises(ConceptError):
        stride_sweep(image, kernel, (1, 0))
    with pytest.raises(ConceptError):
        stride_sweep(rand(3, 3), rand(4, 4))


def test_stride_summary_by_hand():
    def result(stride, seconds, macs, peak):
        return StrideResult(stride, np.zeros((10 // stride, 12 // stride)), macs, seconds, peak)

    rows = stride_summary([result(2, 0.004, 30, (4, 8)), result(1, 0.01, 120, (4, 6)), result(5, 0.0, 4, (0, 0))])
    assert [r.stride for r in rows] == [2, 1, 5]  # the sweep's order, measured against stride 1
    two, one, five = rows
    assert (two.height, two.width, two.macs) == (5, 6, 30)
    assert two.ms == pytest.approx(4.0) and two.speedup == pytest.approx(2.5)
    assert two.mac_ratio == pytest.approx(4.0) and two.ideal == pytest.approx(4.0)
    assert two.ideal_seconds == pytest.approx(0.0025) and two.peak_shift == 2
    assert (one.speedup, one.mac_ratio, one.ideal, one.peak_shift) == (1.0, 1.0, 1.0, 0)
    assert five.speedup == float("inf") and five.ideal == 25 and five.peak_shift == 6
    # without stride 1 the smallest stride is the reference
    rows = stride_summary([result(4, 0.001, 8, (0, 0)), result(2, 0.002, 30, (0, 0))])
    assert rows[1].speedup == 1.0 and rows[0].ideal == 4.0 and rows[0].speedup == pytest.approx(2.0)
    assert stride_summary([]) == []


def test_stride_summary_of_a_real_sweep():
    image = RNG.random((64, 64)).astype(np.float32)
    results = stride_sweep(image, rand(5, 5), (1, 2, 4), repeats=1)
    rows = stride_summary(results)
    for row, result in zip(rows, results):
        assert (row.height, row.width) == result.output.shape and row.macs == result.macs
        assert row.mac_ratio == pytest.approx(results[0].macs / result.macs)
        assert row.ideal == row.stride**2 and row.ms == pytest.approx(result.seconds * 1000)
    assert rows[2].mac_ratio == pytest.approx(60 * 60 / (15 * 15))  # 60² positions vs 15²


def test_stride_sweep_larger_stride_does_far_fewer_multiply_adds():
    """What makes a larger stride cheaper, counted rather than timed (speed belongs in benchmarks/)."""
    image = RNG.random((200, 200)).astype(np.float32)
    kernel = rand(32, 32)
    one, sixteen = stride_sweep(image, kernel, (1, 16), repeats=1)
    # 169² vs 11² positions, each 32² multiply-adds: over 200× fewer
    assert one.output.shape == (169, 169) and sixteen.output.shape == (11, 11)
    assert (one.macs, sixteen.macs) == (169**2 * 32**2, 11**2 * 32**2)
    assert sixteen.macs * 200 < one.macs
    for result in (one, sixteen):  # a timing is reported, but nothing is asserted about its size
        assert math.isfinite(result.seconds) and result.seconds > 0


def test_conv_walk_every_small_stride_and_padding():
    """Every small stride/padding combination on a 5×6 image agrees with torch."""
    image, kernel = rand(5, 6), rand(2, 3)
    for stride, padding in itertools.product((1, 2, 3, 7), (0, 1, 2)):
        np.testing.assert_allclose(
            conv_walk(image, kernel, stride, padding).output,
            torch_conv(image, kernel, stride, padding),
            rtol=1e-5,
            atol=1e-5,
        )
