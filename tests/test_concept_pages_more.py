"""Concept-lab pages 6–10 (ReLU bias, pooling, activations, batch speed, receptive fields) through
AppTest: the defaults show the right numbers and charts, extreme settings explain themselves."""

import json
import math

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from cnn_core.concepts.activations import gradients_through_depth, softmax, softmax_jacobian
from cnn_core.concepts.convolution import KERNELS, cross_correlate
from cnn_core.concepts.images import fit_longest_side, sample_photo, to_gray
from cnn_core.train.devices import resolve_device
from tests.apptest import open_app_page, set_widgets

PAGES = "app_pages/concepts/"


def open_page(name: str, state: dict | None = None) -> AppTest:
    return open_app_page(PAGES + name + ".py", state=state)


def infos(at: AppTest) -> str:
    return "\n".join(i.value for i in at.info)


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def charts(at: AppTest) -> int:
    return len(at.get("plotly_chart"))


def chart_specs(at: AppTest) -> list[dict]:
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def plotly_array(value) -> np.ndarray:
    """A figure's array, decoding Plotly's {"dtype", "bdata", "shape"} base64 form when used."""
    if isinstance(value, dict):
        import base64

        shape = [int(n) for n in str(value.get("shape", "-1")).split(",")]
        return np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"]).reshape(shape)
    return np.asarray(value)


apply = set_widgets


# ---------------------------------------------------------------- 6. ReLU with a bias


def test_relu_default_survivors_match_the_response_and_the_bias_moves_them():
    at = open_page("relu_bias")
    response = cross_correlate(to_gray(fit_longest_side(sample_photo(), 160)), KERNELS["edge_vertical"])
    assert metrics(at)["Positions that survive"] == f"{(response > 0).mean():.1%}"
    assert charts(at) == 3, "response, output and histogram"
    slider = at.slider(key="cr_bias")
    assert slider.min <= -float(response.max()) and slider.max >= -float(response.min())
    apply(at, cr_bias=slider.max)
    assert metrics(at)["Positions that survive"] == "100.0%"
    assert "everything gets through" in infos(at)
    apply(at, cr_bias=slider.min)
    assert metrics(at)["Positions that survive"] == "0.0%"
    assert "nothing gets through" in infos(at)


def test_relu_patch_response_and_all_zero_kernel_and_one_pixel():
    at = open_page("relu_bias")
    apply(at, cr_from="patch")
    assert charts(at) == 3
    # pixels are never negative, so a raw patch response never is either: bias 0 lets all of it through
    assert metrics(at)["Positions that survive"] == "100.0%" and "everything gets through" in infos(at)
    apply(at, cr_bias=at.slider(key="cr_bias").min)
    assert metrics(at)["Positions that survive"] == "0.0%"
    apply(at, cr_from="kernel", cr_kernel="custom", cr_text="0 0 0\n0 0 0\n0 0 0")
    assert "exactly 0" in infos(at) and "positive bias lets everything through" in infos(at)
    assert charts(at) == 0, "a flat response has nothing to plot"
    apply(at, cr_bias=0.5)
    assert metrics(at)["Positions that survive"] == "100.0%"
    apply(at, cr_side=1)
    assert "does not fit anywhere" in infos(at) and charts(at) == 0
    apply(at, cr_from="patch", cr_top=0, cr_left=0, cr_size=1)
    assert "have the same value" in infos(at) and charts(at) == 0


# ---------------------------------------------------------------- 7. pooling


def test_pooling_example_numbers_and_grid():
    at = open_page("pooling")
    # the 4×4 example: the largest cell is 7 and the cells add up to 42, so the mean is 42 / 16
    assert [(m.label, m.value) for m in at.metric[:2]] == [
        ("Global max pooling (1×1)", "7"),
        ("Global average pooling (1×1)", "2.625"),
    ]
    assert any("4×4 map, window 2×2, stride 2 → **2×2**" in m.value for m in at.markdown)
    assert charts(at) == 2, "the example and the feature map: each one chart of panels"
    heatmaps = [len([d for d in spec["data"] if d["type"] == "heatmap"]) for spec in chart_specs(at)]
    assert heatmaps == [3, 3], heatmaps
    # 3 conv strides × 2 poolings as pictures, row by row; the 64×96 gray photo, conv 3×3 with stride 4
    # → 16×24, then 2×2 pooling with stride 2 → 8×12: ÷8 in all
    grid = [img for element in at.get("image") for img in element.proto.imgs]
    assert len(grid) == 6
    assert grid[4].caption.startswith("conv s4 · pool 2/2 · ÷8 → 8×12; values "), grid[4].caption


def test_pooling_extremes_explain_themselves():
    at = open_page("pooling")
    apply(at, cpo_ex_size=5)
    assert "does not fit in the 4×4 map" in infos(at)
    apply(at, cpo_ex_size=2, cpo_ex_stride=8)
    assert any("**1×1**" in m.value for m in at.markdown)
    assert "room for only one window" in infos(at)
    apply(at, cpo_conv_strides=[16], cpo_pairs=[(8, 4)])
    assert "pooling window does not fit" in infos(at)
    assert not at.get("image") and not any("colour scale" in c.value for c in at.caption), "nothing drawn"
    apply(at, cpo_conv_strides=[])
    assert "Pick at least one conv stride" in infos(at)
    apply(at, cpo_kernel="custom", cpo_text="0 0\n0 0")
    assert "Every weight of this kernel is 0" in infos(at)
    assert charts(at) == 1, "the example's three grids, nothing drawn for an all-zero feature map"
    apply(at, cpo_side=1)
    assert "does not fit anywhere" in infos(at)
    assert charts(at) == 1, "only the 4×4 example's input, max and average are left"


# ---------------------------------------------------------------- 8. activations


def test_activations_defaults_show_curves_softmax_and_gradient_ratios():
    at = open_page("activations")
    assert charts(at) == 3, "curves, softmax bars beside its Jacobian, gradients through depth (clipping: its tab)"
    softmax_chart = next(c for c in chart_specs(at) if "∂p_i/∂z_j" in str(c["layout"].get("annotations")))
    jacobian = next(d for d in softmax_chart["data"] if d["type"] == "heatmap")
    np.testing.assert_allclose(plotly_array(jacobian["z"]), softmax_jacobian([2.0, 1.0, 0.1, -1.0]), atol=1e-9)
    formulas = [e for e in at.expander if not e.label.startswith("Tutorial")]  # the others: the seeds' slips
    assert len(formulas) == 6, "one formula per function"
    assert len(at.latex) == 1 + 6 * 2, "softmax, then each function and its derivative"
    values = metrics(at)
    assert values["Largest probability"] == f"{softmax([2.0, 1.0, 0.1, -1.0]).max():.1%}"
    sigmoid = gradients_through_depth("sigmoid", 20)
    assert values["sigmoid: first layer vs last"] == f"{1 / sigmoid.first_to_last:,.3g}× smaller"
    assert 1 / sigmoid.first_to_last > 1e6, "sigmoid's gradient vanishes through 20 layers"
    relu = gradients_through_depth("relu", 20).first_to_last
    assert 0.1 < relu < 10, "ReLU keeps it within an order of magnitude"


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"ca_temperature": 0.01}, "argmax"),
        ({"ca_temperature": 100.0}, "nearly the same probability"),
        ({"ca_logits": "2, x, 1"}, "logits must be 2 to 20 numbers"),
        ({"ca_logits": "3"}, "logits must be 2 to 20 numbers"),
        ({"ca_logits": "1 1 1"}, "same probability at any temperature"),
        ({"ca_depth": 1}, "single hidden layer"),
        ({"ca_pick": []}, "Pick at least one function"),
    ],
)
def test_activations_extremes_explain_themselves(settings, message):
    at = apply(open_page("activations"), **settings)
    assert message in infos(at)


def test_softmax_temperature_extremes_give_argmax_and_uniform():
    at = apply(open_page("activations"), ca_temperature=0.01)
    assert metrics(at)["Largest probability"] == "100.0%"
    apply(at, ca_temperature=100.0)
    assert math.isclose(float(metrics(at)["Largest probability"].rstrip("%")), 25.0, abs_tol=1.0)


# ---------------------------------------------------------------- 9. batch size and speed


def test_batch_speed_explains_before_measuring_then_keeps_the_result():
    at = open_page("batch_speed")
    assert "Nothing measured yet" in infos(at) and charts(at) == 0 and not at.dataframe
    apply(at, cb_sizes=[32, 128], cb_cap=2)
    at.button(key="cb_run").click().run()
    assert not at.exception, at.exception
    assert charts(at) == 3
    table = at.dataframe[0].value
    assert list(table["batch size"]) == [32, 128]
    assert list(table["updates per epoch"]) == [math.ceil(1294 / 32), math.ceil(1294 / 128)]
    assert metrics(at)["Device"] == str(resolve_device("auto"))
    assert (table["images per second"] > 0).all()
    apply(at, cb_sizes=[8])  # a rerun without a click keeps the last measurement on screen
    assert charts(at) == 3 and list(at.dataframe[0].value["batch size"]) == [32, 128]
    apply(at, cb_sizes=[])
    assert "Pick at least one batch size" in infos(at)
    assert at.button(key="cb_run").disabled


# ---------------------------------------------------------------- 10. receptive fields


def test_receptive_field_default_is_the_deepest_layer_of_the_mnist_cnn():
    at = open_page("receptive_field")
    values = metrics(at)
    # seed 002 CNN: conv3, pool2, conv3, pool2 → field 10, jump 4; the 5×5 output's centre sees 10×10 of 28×28
    assert values["Receptive field"] == "10×10" and values["Jump (pixels)"] == "4×4"
    assert values["Share of the picture"] == f"{100 / 784:.1%}"
    assert charts(at) == 2 and not at.info
    growth = at.dataframe[0].value
    assert list(growth["receptive field"]) == ["3×3", "3×3", "4×4", "8×8", "8×8", "10×10"]


def test_receptive_field_corner_unit_whole_picture_and_stale_layer():
    at = apply(open_page("receptive_field"), crf_network="seed000_cifar_cnn", crf_row=0, crf_col=0)
    assert "reaches past the edge" in infos(at)
    apply(at, crf_network="alexnet_32")  # a new network starts again at its deepest layer's centre unit
    assert at.selectbox(key="crf_layer").value == 12 and at.number_input(key="crf_row").value == 1
    assert metrics(at)["Receptive field"] == "51×51"
    assert "at least as large as the 32×32 picture" in infos(at)
    apply(at, crf_network="seed002_mnist_cnn")  # the alexnet layer number does not exist here
    assert metrics(at)["Receptive field"] == "10×10"


ONE_BY_ONE = {
    "input_shape": [1, 28, 28],
    "num_classes": 10,
    "layers": [
        {"type": "conv2d", "out_channels": 4, "kernel_size": 5, "stride": 2},
        {"type": "relu"},
        {"type": "maxpool2d", "kernel_size": 12},
        {"type": "flatten"},
        {"type": "linear", "out_features": 10},
    ],
}


@pytest.mark.parametrize(
    "spec, message",
    [
        (ONE_BY_ONE, "single 1×1 unit"),
        (
            {
                "input_shape": [1, 28, 28],
                "num_classes": 10,
                "layers": [{"type": "flatten"}, {"type": "linear", "out_features": 10}],
            },
            "no layer that still outputs a spatial map",
        ),
        (
            {
                "input_shape": [1, 8, 8],
                "num_classes": 10,
                "layers": [{"type": "conv2d", "out_channels": 4, "kernel_size": 12}],
            },
            "cannot be summarised",
        ),
    ],
)
def test_receptive_field_of_the_builder_network(spec, message):
    at = apply(open_page("receptive_field", {"builder_spec": spec}), crf_network="builder")
    assert message in infos(at)
    if spec is ONE_BY_ONE:  # conv 5 s2 → 12×12 (field 5, jump 2), pool 12 → 1×1 seeing 5 + 11·2 = 27 pixels
        assert metrics(at)["Receptive field"] == "27×27"
        assert metrics(at)["Share of the picture"] == f"{27 * 27 / 784:.1%}"
        assert charts(at) == 2
