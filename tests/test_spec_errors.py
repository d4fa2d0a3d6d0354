"""Every invalid spec is refused with a SpecError (a ValueError) that names the layer and a fix.

Each case goes through both `summarize` (torch-free) and `build_model` (torch), so no raw
torch error can reach the user. Messages read "layer N (type): reason — fix" for a layer,
or "spec: reason — fix" for the spec as a whole.
"""

import json
import subprocess
import sys

import pytest

import cnn_core
from cnn_core import SpecError, build_model, dump_spec_json, load_spec_json, preset_spec, summarize
from tests.conftest import REPO_ROOT, conv


def spec(*layers, input_shape=(1, 28, 28), num_classes=10, **extra):
    out = {"input_shape": list(input_shape), "num_classes": num_classes, "layers": list(layers)}
    out.update(extra)
    return out


FLAT = {"type": "flatten"}
RELU = {"type": "relu"}


def head(n=10):
    return [FLAT, {"type": "linear", "out_features": n}]


def raise_both(bad) -> list[SpecError]:
    """The SpecError from summarize and from build_model; both must raise one."""
    errors = []
    for fn in (summarize, build_model):
        with pytest.raises(SpecError) as info:
            fn(bad)
        assert isinstance(info.value, ValueError)
        errors.append(info.value)
    assert str(errors[0]) == str(errors[1])
    return errors


# (spec, layer number or None for the whole spec, layer type, substrings of the message)
CASES = [
    pytest.param(
        spec({"type": "convolution"}),
        1,
        "convolution",
        ["unknown layer type", "use one of", "conv2d"],
        id="unknown-type",
    ),
    pytest.param(
        spec(conv(), {"type": "conv2"}),
        2,
        "conv2",
        ['unknown layer type "conv2"', "did you mean 'conv2d'"],
        id="near-miss-type",
    ),
    pytest.param(
        spec({"type": "conv2d", "out_channels": 4, "kernal_size": 3}),
        1,
        "conv2d",
        ["unknown key 'kernal_size'", "did you mean 'kernel_size'"],
        id="mistyped-key",
    ),
    pytest.param(spec(RELU, {"type": "relu", "inplace": True}), 2, "relu", ["unknown key 'inplace'"], id="unknown-key"),
    pytest.param(
        spec({"type": "conv2d", "out_channels": 4}),
        1,
        "conv2d",
        ["'kernel_size' is required", "add"],
        id="missing-kernel",
    ),
    pytest.param(
        spec({"type": "conv2d", "kernel_size": 3}),
        1,
        "conv2d",
        ["'out_channels' is required"],
        id="missing-out-channels",
    ),
    pytest.param(
        spec(conv(), RELU, FLAT, {"type": "linear"}),
        4,
        "linear",
        ["'out_features' is required"],
        id="missing-out-features",
    ),
    pytest.param(spec(conv(k=0)), 1, "conv2d", ["kernel_size", "at least 1", "got 0"], id="kernel-zero"),
    pytest.param(spec(conv(out=-1)), 1, "conv2d", ["out_channels", "at least 1", "got -1"], id="out-channels-negative"),
    pytest.param(spec(conv(stride=0)), 1, "conv2d", ["stride", "at least 1", "got 0"], id="stride-zero"),
    pytest.param(spec(conv(padding=-1)), 1, "conv2d", ["padding", "at least 0"], id="padding-negative"),
    pytest.param(spec(conv(k=[3, 3, 3])), 1, "conv2d", ["kernel_size", "pair"], id="kernel-triple"),
    pytest.param(spec(conv(k=2.5)), 1, "conv2d", ["kernel_size", "whole number", "2.5"], id="kernel-fraction"),
    pytest.param(spec(conv(k="3")), 1, "conv2d", ["kernel_size", "whole number", '"3"'], id="kernel-string"),
    pytest.param(spec(conv(k=True)), 1, "conv2d", ["kernel_size", "whole number", "true"], id="kernel-bool"),
    pytest.param(spec(conv(out=True)), 1, "conv2d", ["out_channels", "whole number"], id="out-channels-bool"),
    pytest.param(spec(conv(k=[3, "3"])), 1, "conv2d", ["kernel_size", "whole number"], id="kernel-pair-string"),
    pytest.param(spec(conv(bias="yes")), 1, "conv2d", ["bias", "true or false"], id="bias-not-bool"),
    pytest.param(spec(conv(padding="full")), 1, "conv2d", ["padding", "'valid' or 'same'"], id="padding-word"),
    pytest.param(spec(conv(out=4, groups=3)), 1, "conv2d", ["divisible by groups=3"], id="groups-input"),
    pytest.param(spec(conv(out=2), conv(out=5, groups=2)), 2, "conv2d", ["divisible by groups=2"], id="groups-output"),
    pytest.param(
        spec({"type": "conv_transpose2d", "out_channels": 3, "kernel_size": 3, "groups": 2}, input_shape=(4, 8, 8)),
        1,
        "conv_transpose2d",
        ["divisible by groups=2"],
        id="groups-transpose",
    ),
    pytest.param(
        spec(conv(stride=2, padding="same")),
        1,
        "conv2d",
        ["'same' only works with stride 1", "stride"],
        id="same-strided",
    ),
    pytest.param(
        spec({"type": "linear", "out_features": 10}),
        1,
        "linear",
        ["flat vector", "1×28×28", "add a flatten"],
        id="linear-before-flatten",
    ),
    pytest.param(
        spec(conv(), FLAT, {"type": "batchnorm2d"}),
        3,
        "batchnorm2d",
        ["flat vector", "batchnorm1d"],
        id="batchnorm2d-on-flat",
    ),
    pytest.param(
        spec(conv(), {"type": "batchnorm1d"}), 2, "batchnorm1d", ["4×26×26", "batchnorm2d"], id="batchnorm1d-on-map"
    ),
    pytest.param(
        spec(conv(), FLAT, {"type": "dropout2d"}),
        3,
        "dropout2d",
        ["flat vector", "use dropout"],
        id="dropout2d-on-flat",
    ),
    pytest.param(
        spec(FLAT, conv()), 2, "conv2d", ["flat vector of 784", "before the flatten"], id="conv-after-flatten"
    ),
    pytest.param(
        spec(FLAT, {"type": "maxpool2d", "kernel_size": 2}), 2, "maxpool2d", ["flat vector"], id="pool-after-flatten"
    ),
    pytest.param(
        spec(conv(), RELU, FLAT, {"type": "linear", "out_features": 5}),
        4,
        "linear",
        ["gives 5 values but num_classes is 10", "set out_features of layer 4 to 10"],
        id="wrong-width",
    ),
    pytest.param(
        spec(
            FLAT,
            {"type": "linear", "out_features": 10},
            RELU,
            {"type": "linear", "out_features": 7},
            {"type": "softmax"},
        ),
        5,
        "softmax",
        ["gives 7 values", "set out_features of layer 4 to 10"],
        id="wrong-width-after-activation",
    ),
    pytest.param(
        spec({"type": "global_avgpool"}, input_shape=(3, 8, 8)),
        1,
        "global_avgpool",
        ["gives 3 values", "add a linear layer with out_features=10"],
        id="wrong-width-no-linear",
    ),
    pytest.param(
        spec(conv(), RELU),
        2,
        "relu",
        ["ends with a 4×26×26 feature map", "flatten and linear(out_features=10)"],
        id="output-spatial",
    ),
    pytest.param(
        spec(conv(k=5), input_shape=(1, 4, 4)),
        1,
        "conv2d",
        ["input 4×4 (with padding) is smaller than kernel 5", "use a larger input"],
        id="input-smaller-than-kernel",
    ),
    pytest.param(
        spec(conv(k=3, dilation=3), input_shape=(1, 6, 6)),
        1,
        "conv2d",
        ["smaller than kernel 7"],
        id="dilated-kernel-too-large",
    ),
    pytest.param(
        spec({"type": "maxpool2d", "kernel_size": 2, "padding": 2}),
        1,
        "maxpool2d",
        ["padding 2 is more than half the kernel 2", "at most 1"],
        id="pool-padding",
    ),
    pytest.param(
        spec({"type": "avgpool2d", "kernel_size": 3, "padding": 2}),
        1,
        "avgpool2d",
        ["padding 2 is more than half the kernel 3", "at most 1"],
        id="avgpool-padding",
    ),
    pytest.param(
        spec({"type": "conv_transpose2d", "out_channels": 2, "kernel_size": 3, "stride": 2, "output_padding": 2}),
        1,
        "conv_transpose2d",
        ["output_padding 2 must be smaller than stride 2 or dilation 1"],
        id="output-padding-stride",
    ),
    pytest.param(
        spec({"type": "conv_transpose2d", "out_channels": 2, "kernel_size": 3, "output_padding": 1}),
        1,
        "conv_transpose2d",
        ["output_padding 1 must be smaller than stride 1 or dilation 1"],
        id="output-padding-stride-1",
    ),
    pytest.param(
        spec({"type": "conv_transpose2d", "out_channels": 2, "kernel_size": 1, "padding": 3}, input_shape=(1, 2, 2)),
        1,
        "conv_transpose2d",
        ["the output would be"],
        id="transpose-nonpositive",
    ),
    pytest.param(
        spec(conv(), {"type": "dropout", "p": 1.5}), 2, "dropout", ["p must be between 0 and 1", "1.5"], id="dropout-p"
    ),
    pytest.param(spec({"type": "dropout", "p": "half"}), 1, "dropout", ["p must be a number"], id="dropout-p-text"),
    pytest.param(
        spec(conv(), {"type": "batchnorm2d", "eps": 0}), 2, "batchnorm2d", ["eps", "greater than 0"], id="batchnorm-eps"
    ),
    pytest.param(
        spec(conv(), {"type": "gelu", "approximate": "fast"}),
        2,
        "gelu",
        ['approximate got "fast"', "none, tanh"],
        id="gelu-choice",
    ),
    pytest.param(spec("relu"), 1, "?", ["must be a JSON object"], id="layer-not-object"),
    # whole-spec errors
    pytest.param(
        spec(input_shape=(28, 28)), None, None, ["input_shape", "[28, 28]", "[1, 28, 28]"], id="input-shape-2-dims"
    ),
    pytest.param(
        spec(input_shape=(1, 0, 28)), None, None, ["input_shape", "positive whole numbers"], id="input-shape-zero"
    ),
    pytest.param(
        {"input_shape": "1x28x28", "num_classes": 10, "layers": []},
        None,
        None,
        ["input_shape"],
        id="input-shape-string",
    ),
    pytest.param(spec(input_shape=(1, 28.5, 28)), None, None, ["input_shape"], id="input-shape-fraction"),
    pytest.param(spec(input_shape=(True, 28, 28)), None, None, ["input_shape"], id="input-shape-bool"),
    pytest.param(spec(*head(), num_classes=0), None, None, ["num_classes", "got 0"], id="num-classes-zero"),
    pytest.param(spec(*head(), num_classes=-3), None, None, ["num_classes"], id="num-classes-negative"),
    pytest.param(spec(*head(), num_classes="10"), None, None, ["num_classes", '"10"'], id="num-classes-string"),
    pytest.param(spec(*head(), num_classes=2.5), None, None, ["num_classes"], id="num-classes-fraction"),
    pytest.param(
        spec(*head(), layer=[]),
        None,
        None,
        ["unknown key 'layer'", "did you mean 'layers'"],
        id="unknown-top-key-near-miss",
    ),
    pytest.param(
        spec(*head(), optimizer="adam"), None, None, ["unknown key 'optimizer'", "input_shape"], id="unknown-top-key"
    ),
    pytest.param(spec(*head(), name=3), None, None, ["'name' must be text"], id="name-not-text"),
    pytest.param([conv(), *head()], None, None, ["must be a JSON object"], id="spec-a-list"),
    pytest.param("conv2d", None, None, ["must be a JSON object"], id="spec-a-string"),
    pytest.param(None, None, None, ["must be a JSON object"], id="spec-none"),
    pytest.param(
        {"input_shape": [1, 28, 28], "num_classes": 10, "layers": {"type": "relu"}},
        None,
        None,
        ["'layers' must be a list"],
        id="layers-not-list",
    ),
    pytest.param(
        {"input_shape": [1, 28, 28], "num_classes": 10}, None, None, ["'layers' must be a list"], id="layers-missing"
    ),
    # backbone specs
    pytest.param(
        {"input_shape": [3, 32, 32], "num_classes": 10, "backbone": {"name": "resnet50"}},
        None,
        None,
        ["name", "resnet18, mobilenet_v2"],
        id="backbone-unknown",
    ),
    pytest.param(
        {"input_shape": [3, 32, 32], "num_classes": 10, "backbone": {"name": "resnet18", "frozen": True}},
        None,
        None,
        ["unknown key 'frozen'"],
        id="backbone-unknown-key",
    ),
    pytest.param(
        {"input_shape": [3, 32, 32], "num_classes": 10, "backbone": "resnet18", "layers": []},
        None,
        None,
        ["either 'layers' or a 'backbone'"],
        id="backbone-and-layers",
    ),
    pytest.param(
        {"input_shape": [3, 32, 32], "num_classes": 10, "backbone": 18},
        None,
        None,
        ["'backbone' must be an object"],
        id="backbone-not-object",
    ),
    pytest.param(
        {"input_shape": [2, 32, 32], "num_classes": 10, "backbone": {"name": "resnet18", "pretrained": False}},
        None,
        None,
        ["1- or 3-channel", "got 2 channels"],
        id="backbone-channels",
    ),
    pytest.param(
        {"input_shape": [3, 8, 8], "num_classes": 10, "backbone": {"name": "resnet18", "pretrained": False}},
        None,
        None,
        ["at least 16×16", "got 8×8"],
        id="backbone-small",
    ),
    pytest.param(
        {
            "input_shape": [3, 32, 32],
            "num_classes": 10,
            "backbone": {"name": "mobilenet_v2", "pretrained": False, "replace_head": False},
        },
        None,
        None,
        ["1000 outputs but num_classes is 10", "replace_head"],
        id="backbone-head",
    ),
]


@pytest.mark.parametrize("bad, number, kind, parts", CASES)
def test_invalid_spec_raises_spec_error_naming_layer_and_fix(bad, number, kind, parts):
    for error in raise_both(bad):
        message = str(error)
        if number is None:
            assert message.startswith("spec: "), message
            assert error.layer_index is None
        else:
            assert message.startswith(f"layer {number} ({kind}): "), message
            assert error.layer_index == number - 1
        reason, dash, fix = message.partition(" — ")
        assert dash and fix.strip(), f"no fix after ' — ' in {message!r}"
        assert error.fix and error.fix in fix
        for part in parts:
            assert part in message, f"{part!r} not in {message!r}"


def test_too_small_input_blames_the_earlier_strided_layer():
    # 8 → conv k3 → 6 → conv k3 s4 → 1 → relu → relu → maxpool 2 cannot fit
    bad = spec(conv(), conv(k=3, stride=4), RELU, RELU, {"type": "maxpool2d", "kernel_size": 2}, *head())
    for error in raise_both(bad | {"input_shape": [1, 8, 8]}):
        message = str(error)
        assert message.startswith("layer 5 (maxpool2d): input 1×1"), message
        reason, _, fix = message.partition(" — ")
        assert "smaller than kernel 2" in reason
        assert "lower the stride of layer 2" in fix


def test_too_small_input_without_earlier_shrinking_layer_suggests_larger_input():
    error = raise_both(spec(RELU, {"type": "maxpool2d", "kernel_size": 3}, input_shape=(1, 2, 2)))[0]
    assert str(error).startswith("layer 2 (maxpool2d): input 2×2")
    assert "lower the stride" not in str(error) and "larger input" in str(error)


def test_near_miss_type_suggests_and_far_type_lists_choices():
    near = raise_both(spec({"type": "maxpol2d", "kernel_size": 2}))[0]
    assert "did you mean 'maxpool2d'" in str(near)
    far = raise_both(spec({"type": "zzz"}))[0]
    assert "did you mean" not in str(far) and "global_avgpool" in far.fix


def test_integral_floats_are_accepted_everywhere():
    good = spec(
        {"type": "conv2d", "out_channels": 4.0, "kernel_size": 3.0, "stride": [1.0, 1], "padding": 1.0},
        {"type": "maxpool2d", "kernel_size": 2.0},
        FLAT,
        {"type": "linear", "out_features": 10.0},
        input_shape=(1.0, 28.0, 28),
        num_classes=10.0,
    )
    summary = summarize(good)
    assert summary.output_shape == (10,)
    assert [r.output_shape for r in summary.rows[:2]] == [(4, 28, 28), (4, 14, 14)]
    import torch

    model = build_model(good)
    assert model[0].kernel_size == (3, 3) and isinstance(model[0].out_channels, int)
    assert model(torch.zeros(2, 1, 28, 28)).shape == (2, 10)


def test_no_num_classes_means_no_output_check():
    assert summarize(spec(conv(), num_classes=None)).output_shape == (4, 26, 26)


def test_caps_are_spec_errors(monkeypatch):
    monkeypatch.setenv("CNN_LAB_MAX_LAYERS", "3")
    error = raise_both(spec(RELU, RELU, RELU, RELU))[0]
    assert "4 layers is more than the limit of 3" in str(error)
    monkeypatch.setenv("CNN_LAB_MAX_INPUT_SIDE", "64")
    error = raise_both(spec(input_shape=(1, 65, 65)))[0]
    assert "larger than this server allows" in str(error)
    error = raise_both(
        spec(
            {"type": "conv_transpose2d", "out_channels": 1, "kernel_size": 2, "stride": 3},
            input_shape=(1, 30, 30),
            num_classes=None,
        )
    )[0]
    assert str(error).startswith("layer 1 (conv_transpose2d): output 1×89×89")


# ---------------------------------------------------------------- load_spec_json


def test_load_spec_json_bad_json_names_line_and_column():
    with pytest.raises(SpecError) as info:
        load_spec_json('{\n  "input_shape": [1, 28, 28],\n  "layers": [\n}')
    message = str(info.value)
    assert message.startswith("spec: not valid JSON (line 4, column 1") and " — " in message


def test_load_spec_json_non_utf8_bytes():
    with pytest.raises(SpecError, match="not UTF-8"):
        load_spec_json(b'{"name": "caf\xe9"}')


def test_load_spec_json_oversized_text():
    with pytest.raises(SpecError, match="over the limit of 100"):
        load_spec_json(" " * 101 + "{}", max_bytes=100)
    with pytest.raises(SpecError, match="over the limit of 100"):
        load_spec_json(b" " * 101 + b"{}", max_bytes=100)
    assert load_spec_json(" " * 98 + "{}", max_bytes=100) == {}


def test_load_spec_json_limit_counts_bytes_not_characters():
    text = json.dumps({"name": "é" * 60}, ensure_ascii=False)  # 72 characters, 132 UTF-8 bytes
    assert len(text) < 100 < len(text.encode("utf-8"))
    with pytest.raises(SpecError, match="over the limit of 100"):
        load_spec_json(text, max_bytes=100)
    with pytest.raises(SpecError, match="over the limit of 100"):
        load_spec_json(text.encode("utf-8"), max_bytes=100)


def test_load_spec_json_default_limit_comes_from_settings(monkeypatch):
    monkeypatch.setenv("CNN_LAB_MAX_SPEC_BYTES", "10")
    with pytest.raises(SpecError, match="over the limit of 10"):
        load_spec_json(dump_spec_json(preset_spec("lenet5")))


@pytest.mark.parametrize("text", ["[1, 2]", '"spec"', '{"input_shape": [1, 28, 28], "loss": "ce"}'])
def test_load_spec_json_checks_top_level(text):
    with pytest.raises(SpecError):
        load_spec_json(text)


@pytest.mark.parametrize("key", ["seed002_mnist_cnn", "vgg_small", "resnet18_transfer"])
def test_dump_and_load_round_trip(key):
    original = preset_spec(key)
    original["description"] = "naïve — ünïcödé"
    text = dump_spec_json(original)
    assert text.endswith("\n") and "ünïcödé" in text
    assert load_spec_json(text) == original
    assert load_spec_json(text.encode("utf-8")) == original


# ---------------------------------------------------------------- issue 12: hostile spec text and values


@pytest.mark.parametrize(
    "key, value, message",
    [
        ("name", "\ud800", r"'name' contains a character that cannot be saved or shown \(U\+D800\)"),
        ("name", "a\x00b", r"'name' contains a character that cannot be saved or shown \(U\+0000\)"),
        ("name", "two\nlines", r"\(U\+000A\)"),
        ("description", "bell\x07", r"'description' contains .* \(U\+0007\)"),
        ("description", "\udfff low", r"\(U\+DFFF\)"),
        ("name", "x" * 2001, "'name' is 2001 characters long; the most is 2000"),
        ("description", ["not", "text"], "'description' must be text"),
    ],
)
def test_free_text_is_validated_in_json_and_dicts(key, value, message):
    """Item 1: a lone surrogate or control character in a name used to pass load_spec_json and
    then break the JSON download; now both the text and the dict entry points refuse it."""
    bad = {**spec(*head()), key: value}
    with pytest.raises(SpecError, match=message):
        summarize(bad)
    with pytest.raises(SpecError, match=message):
        load_spec_json(json.dumps(bad))


def test_free_text_keeps_ordinary_unicode_and_description_line_breaks():
    good = {**spec(*head()), "name": "naïve net — 日本 🙂", "description": "two\nlines\tand a tab"}
    assert summarize(good).output_shape == (10,)
    assert load_spec_json(dump_spec_json(good)) == good


@pytest.mark.parametrize(
    "text",
    [
        '{"input_shape": [1, 8, 8], "layers": [{"type": "\\ud800"}]}',
        '{"input_shape": [1, 8, 8], "layers": [{"type": "relu", "\\udc00": 1}]}',
        '{"input_shape": [1, 8, 8], "layers": [{"type": "conv2d", "padding": "a\\u0000"}]}',
    ],
)
def test_load_spec_json_refuses_text_that_cannot_be_saved_anywhere(text):
    with pytest.raises(SpecError, match="cannot be saved or shown"):
        load_spec_json(text)


def test_dump_spec_json_always_gives_utf8_json_or_a_spec_error():
    text = dump_spec_json({**preset_spec("lenet5"), "description": "ok ü"})
    assert json.loads(text.encode("utf-8").decode("utf-8"))["description"] == "ok ü"
    with pytest.raises(SpecError, match="cannot be saved as JSON"):
        dump_spec_json({"input_shape": [1, 8, 8], "layers": [{"type": "\ud800"}]})
    with pytest.raises(SpecError, match="cannot be saved as JSON"):
        dump_spec_json({"input_shape": [1, 8, 8], "layers": [{"type": object()}]})


def nested(depth: int, leaf=1):
    value = leaf
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize("depth", [33, 1000, 100_000])
def test_deeply_nested_spec_text_is_a_spec_error(depth):
    """Item 4: a spec nested 1,000 deep (2 KB) raised RecursionError."""
    text = '{"input_shape": ' + "[" * depth + "1" + "]" * depth + "}"
    with pytest.raises(SpecError, match="nested more than 32 deep"):
        load_spec_json(text)


@pytest.mark.parametrize("where", ["input_shape", "num_classes", "layer", "value"])
def test_deeply_nested_spec_dict_is_a_spec_error(where):
    deep = nested(1000)
    bad = {
        "input_shape": deep if where == "input_shape" else [1, 8, 8],
        "num_classes": deep if where == "num_classes" else None,
        "layers": [deep] if where == "layer" else [{"type": "dropout", "p": deep}],
    }
    with pytest.raises(SpecError):
        summarize(bad)


def test_integer_with_4301_digits_is_a_spec_error():
    """Item 4: json.loads raised ValueError (Python's integer string conversion limit)."""
    text = json.dumps(spec(conv(4), *head())).replace('"out_channels": 4', '"out_channels": ' + "1" * 4301)
    with pytest.raises(SpecError, match="a number in the JSON has too many digits"):
        load_spec_json(text)


@pytest.mark.parametrize(
    "layer, message",
    [
        (conv(4, stride=10**309), r"stride must be at most 4096, got a number with \d+ digits"),
        (conv(4, stride=10**5000), r"stride must be at most 4096, got a number with \d+ digits"),
        (conv(4, stride=1e309), "stride must be a whole number, got Infinity"),
        (conv(4, stride=float("nan")), "stride must be a whole number, got NaN"),
        (conv(4, padding=1e300), "padding must be at most 4096"),
        (conv(2**63), "out_channels must be at most 8192"),
        (conv(4, groups=2**70), "groups must be at most 8192"),
        ({"type": "maxpool2d", "kernel_size": 2**64}, "kernel_size must be at most 4096, got a number with 20 digits"),
        ({"type": "adaptive_avgpool2d", "output_size": 10**9}, "output_size must be at most 4096"),
        ({"type": "dropout", "p": 10**400}, "p must be a number"),
        ({"type": "leaky_relu", "negative_slope": float("inf")}, "negative_slope must be a number, got Infinity"),
    ],
    ids=lambda value: value["type"] if isinstance(value, dict) else "",
)
def test_extreme_numbers_are_spec_errors_in_summarize_and_build_model(layer, message):
    """Item 4: 10**309 raised OverflowError; 2**64 pooling passed both and failed in forward."""
    bad = spec(layer, input_shape=(1, 8, 8), num_classes=None)
    for entry in (summarize, build_model):
        with pytest.raises(SpecError, match=message):
            entry(bad)


def test_out_features_2_to_the_63_is_refused_by_summarize_and_build_model():
    """Item 4: summarize accepted out_features 2**63 and build_model raised TypeError / RuntimeError."""
    bad = spec(FLAT, {"type": "linear", "out_features": 2**63}, num_classes=None)
    for entry in (summarize, build_model):
        with pytest.raises(SpecError, match="out_features must be at most 65536, got 9223372036854775808"):
            entry(bad)


@pytest.mark.parametrize("value", [2**63, 10**5000, 1e300], ids=["2**63", "10**5000", "1e300"])
def test_huge_num_classes_and_input_shape_are_spec_errors(value):
    with pytest.raises(SpecError, match="num_classes"):
        summarize(spec(*head(), num_classes=value))
    with pytest.raises(SpecError, match="input_shape"):
        summarize(spec(*head(), input_shape=(1, value, 8)))


def test_integer_caps_follow_the_settings(monkeypatch):
    monkeypatch.setenv("CNN_LAB_MAX_FEATURES", "100")
    monkeypatch.setenv("CNN_LAB_MAX_INPUT_SIDE", "64")
    with pytest.raises(SpecError, match="out_features must be at most 100"):
        summarize(spec(FLAT, {"type": "linear", "out_features": 101}, num_classes=None))
    with pytest.raises(SpecError, match="kernel_size must be at most 64"):
        summarize(spec(conv(4, k=65), input_shape=(1, 8, 8), num_classes=None))


# ---------------------------------------------------------------- torch stays unloaded


def test_summarize_does_not_import_torch():
    code = (
        "import sys, cnn_core\n"
        "from cnn_core import SpecError\n"
        "s = cnn_core.summarize(cnn_core.preset_spec('seed000_cifar_cnn'))\n"
        "assert s.output_shape == (10,)\n"
        "try:\n"
        "    cnn_core.summarize({'input_shape': [1, 28, 28], 'layers': [{'type': 'linear', 'out_features': 3}]})\n"
        "except SpecError:\n"
        "    pass\n"
        "else:\n"
        "    raise SystemExit('no SpecError')\n"
        "print('TORCH' if 'torch' in sys.modules else 'NO_TORCH')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "NO_TORCH"


def test_spec_error_is_value_error_with_parts():
    error = SpecError("bad", "fix it", 2, "relu")
    assert isinstance(error, ValueError)
    assert str(error) == "layer 3 (relu): bad — fix it"
    assert (error.reason, error.fix, error.layer_index, error.layer_type) == ("bad", "fix it", 2, "relu")
    assert str(SpecError("bad")) == "spec: bad"
    assert cnn_core.SpecError is SpecError


def test_backbone_specs_check_their_name_too():
    spec = preset_spec("resnet18_transfer")
    spec["backbone"]["pretrained"] = False
    spec["name"] = "bad \ud800 name"
    with pytest.raises(SpecError, match="U\\+D800"):
        summarize(spec)
