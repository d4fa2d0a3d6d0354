"""The typed layer text: 'conv2d out_channels=32, kernel_size=3', one layer per line."""

import json

import pytest

from cnn_core import PRESETS, SpecError, summarize
from cnn_core.arch.blocks import BLOCK_TYPES
from cnn_core.arch.layer_text import format_params, parse_chain, parse_layer_line, parse_params
from cnn_core.arch.spec import LAYER_TYPES, REQUIRED, normalize_layer

LAYER_KEYS = [key for key, p in PRESETS.items() if "layers" in p.spec]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("", {}),
        ("   ", {}),
        ("out_channels=32, kernel_size=3", {"out_channels": 32, "kernel_size": 3}),
        ("out_channels=32 kernel_size=3", {"out_channels": 32, "kernel_size": 3}),
        ("out_channels = 32 ,kernel_size= 3,", {"out_channels": 32, "kernel_size": 3}),
        ("kernel_size=3x5", {"kernel_size": [3, 5]}),
        ("kernel_size=3×5", {"kernel_size": [3, 5]}),
        ("kernel_size=(3, 5), stride=[1,2]", {"kernel_size": [3, 5], "stride": [1, 2]}),
        ("padding=same", {"padding": "same"}),
        ("bias=false, ceil_mode=True", {"bias": False, "ceil_mode": True}),
        ("stride=none", {"stride": None}),
        ("stride=null", {"stride": None}),
        ("p=0.25, eps=1e-3, negative_slope=-0.5", {"p": 0.25, "eps": 0.001, "negative_slope": -0.5}),
        ("padding=-1", {"padding": -1}),
    ],
)
def test_parse_params(text, expected):
    got = parse_params(text)
    assert got == expected
    for key, value in expected.items():
        assert type(got[key]) is type(value), key


@pytest.mark.parametrize(
    "text, stray",
    [
        ("out_channels", "out_channels"),
        ("out_channels=32 junk", "junk"),
        ("=3", "=3"),
        ("a=1,,b=2", ",b=2"),
        ("kernel size=3", "kernel size=3"),
    ],
)
def test_parse_params_syntax_error(text, stray):
    with pytest.raises(SpecError) as info:
        parse_params(text)
    assert f"cannot read '{stray}'" in str(info.value)
    assert " — " in str(info.value) and "key=value" in info.value.fix


@pytest.mark.parametrize(
    "layer, expected",
    [
        ({"type": "conv2d", "out_channels": 32, "kernel_size": 3}, "out_channels=32, kernel_size=3"),
        (
            {"type": "conv2d", "kernel_size": 3, "out_channels": 32, "stride": 1, "padding": 0, "bias": True},
            "out_channels=32, kernel_size=3",
        ),  # required keys first, defaults left out
        (
            {
                "type": "conv2d",
                "out_channels": 8,
                "kernel_size": [3, 5],
                "stride": [2, 2],
                "dilation": (1, 1),
                "padding": "same",
                "bias": False,
            },
            "out_channels=8, kernel_size=3x5, stride=2, padding=same, bias=false",
        ),
        ({"type": "maxpool2d", "kernel_size": 2, "stride": None, "ceil_mode": True}, "kernel_size=2, ceil_mode=true"),
        ({"type": "leaky_relu", "negative_slope": 0.02}, "negative_slope=0.02"),
        ({"type": "dropout", "p": 0.5}, ""),
        ({"type": "relu"}, ""),
        ({"type": "mystery", "a": [1, 2], "b": True}, "a=1x2, b=true"),
    ],
)
def test_format_params(layer, expected):
    assert format_params(layer) == expected


def test_parse_layer_line():
    assert parse_layer_line("  conv2d out_channels=8, kernel_size=3 ") == {
        "type": "conv2d",
        "out_channels": 8,
        "kernel_size": 3,
    }
    assert parse_layer_line("conv2d: out_channels=8") == {"type": "conv2d", "out_channels": 8}
    assert parse_layer_line("relu") == {"type": "relu"}
    with pytest.raises(SpecError, match="cannot read 'oops'"):
        parse_layer_line("conv2d out_channels=8 oops")


def test_parse_chain_lines_comments_and_blanks():
    text = """
    # a small net
    conv2d out_channels=8, kernel_size=3, padding=1   # keeps 28×28

    relu
    maxpool2d kernel_size=2
    flatten
    linear out_features=10
    """
    layers = parse_chain(text)
    assert layers == [
        {"type": "conv2d", "out_channels": 8, "kernel_size": 3, "padding": 1},
        {"type": "relu"},
        {"type": "maxpool2d", "kernel_size": 2},
        {"type": "flatten"},
        {"type": "linear", "out_features": 10},
    ]
    summary = summarize({"input_shape": [1, 28, 28], "num_classes": 10, "layers": layers})
    assert summary.rows[2].output_shape == (8, 14, 14) and summary.output_shape == (10,)
    assert parse_chain("") == [] and parse_chain("# only a comment\n\n") == []


def test_parse_chain_json_list():
    layers = [{"type": "conv2d", "out_channels": 4, "kernel_size": [3, 3]}, {"type": "relu"}]
    assert parse_chain("  " + json.dumps(layers) + "\n") == layers
    assert parse_chain("[]") == []


def test_parse_chain_bad_json():
    with pytest.raises(SpecError) as info:
        parse_chain('[{"type": "relu"},')
    assert "not valid JSON (line 1" in str(info.value) and " — " in str(info.value)


@pytest.mark.parametrize(
    "text, line",
    [
        ("relu\nconv2d out_channels 8", 2),
        ("# header\n\nrelu\n\nconv2d out_channels=8, kernel_size=3 stride\n", 5),
        ("maxpool2d kernel_size=2 )", 1),
    ],
)
def test_parse_chain_syntax_error_names_the_line(text, line):
    with pytest.raises(SpecError) as info:
        parse_chain(text)
    assert f"line {line}: cannot read" in str(info.value)
    assert info.value.reason.startswith(f"line {line}: ")
    assert "key=value" in info.value.fix


def _round_trip_cases():
    for key in LAYER_KEYS:
        for index, layer in enumerate(PRESETS[key].spec["layers"]):
            yield pytest.param(index, layer, id=f"{key}-{index + 1}-{layer['type']}")


@pytest.mark.parametrize("index, layer", list(_round_trip_cases()))
def test_round_trip_preset_layers(index, layer):
    expected = normalize_layer(index, layer)
    for source in (layer, expected):  # as written in the preset, and normalised
        line = f"{layer['type']} {format_params(source)}"
        assert normalize_layer(index, parse_layer_line(line)) == expected, line


def test_round_trip_preset_chains():
    for key in LAYER_KEYS:
        layers = PRESETS[key].spec["layers"]
        chain = "\n".join(f"{layer['type']} {format_params(layer)}".rstrip() for layer in layers)
        parsed = parse_chain(chain)
        assert [normalize_layer(i, raw) for i, raw in enumerate(parsed)] == [
            normalize_layer(i, raw) for i, raw in enumerate(layers)
        ], key


def _non_default_layers():
    """One layer of every type with every optional key set away from its default."""
    alternatives = {
        "size": [2, 3],
        "nonneg": 1,
        "padding": [1, 0],
        "count": 2,
        "bool": None,
        "prob": 0.3,
        "float": -0.25,
        "positive_float": 0.003,
        "size_or_none": 3,
    }
    for kind, spec_type in LAYER_TYPES.items():
        if kind in BLOCK_TYPES:  # a block's keys are a JSON object: tests/test_blocks.py
            continue
        layer = {"type": kind}
        for f in spec_type.fields:
            if f.kind == "bool":
                value = not f.default
            elif f.kind == "choice":
                value = next(c for c in f.choices if c != f.default)
            else:
                value = alternatives[f.kind]
            layer[f.name] = value
        yield pytest.param(layer, id=kind)


@pytest.mark.parametrize("layer", list(_non_default_layers()))
def test_round_trip_every_key_of_every_type(layer):
    expected = normalize_layer(0, layer)
    text = format_params(expected)
    assert len(text.split("=")) - 1 == len(layer) - 1  # every key differs from its default
    assert normalize_layer(0, parse_layer_line(f"{layer['type']} {text}")) == expected


@pytest.mark.parametrize("kind", [k for k, lt in LAYER_TYPES.items() if any(f.kind == "choice" for f in lt.fields)])
def test_every_choice_can_be_typed(kind):
    """Each choice word of a layer, typed as text, is accepted (e.g. gelu approximate=none)."""
    for f in LAYER_TYPES[kind].fields:
        if f.kind != "choice":
            continue
        for choice in f.choices:
            layer = normalize_layer(0, parse_layer_line(f"{kind} {f.name}={choice}"))
            assert layer[f.name] == choice


def test_required_fields_are_listed_first_in_format():
    for kind, spec_type in LAYER_TYPES.items():
        names = [f.name for f in spec_type.fields]
        required = [f.name for f in spec_type.fields if f.default is REQUIRED]
        assert names[: len(required)] == required, kind


# ---------------------------------------------------------------- issue 12, item 4: hostile typed text


@pytest.mark.parametrize(
    "line, message",
    [
        ("conv2d out_channels=" + "9" * 4301 + ", kernel_size=3", "too many digits"),
        ("conv2d out_channels=8, kernel_size=" + "1" * 5000 + "x3", "too many digits"),
        ("conv2d out_channels=8, kernel_size=(3, " + "2" * 4400 + ")", "too many digits"),
        ("conv2d out_channels=8, kernel_size=3, stride=" + "1" + "0" * 309, "too many digits"),
    ],
    ids=["out_channels", "pair", "tuple", "stride"],
)
def test_huge_typed_numbers_are_spec_errors(line, message):
    """int() of a 4,301-digit number raised ValueError from the layer text form."""
    with pytest.raises(SpecError, match=message):
        parse_layer_line(line)
    with pytest.raises(SpecError, match=rf"line 1: .*{message}"):
        parse_chain(line)


@pytest.mark.parametrize(
    "line, message",
    [
        ("maxpool2d kernel_size=18446744073709551616", "kernel_size must be at most 4096"),
        ("linear out_features=9223372036854775808", "out_features must be at most 65536"),
        ("conv2d out_channels=8, kernel_size=3, stride=1e309", "stride must be a whole number, got Infinity"),
        ("dropout p=nan", "p must be a number, got NaN"),
    ],
)
def test_extreme_typed_values_are_refused_by_the_spec(line, message):
    with pytest.raises(SpecError, match=message):
        normalize_layer(0, parse_layer_line(line))


def test_json_chain_nested_deep_is_a_spec_error():
    with pytest.raises(SpecError, match="nested more than 32 deep"):
        parse_chain("[" * 5000 + "]" * 5000)
    with pytest.raises(SpecError, match="cannot be saved or shown"):
        parse_chain('[{"type": "\\ud800"}]')
