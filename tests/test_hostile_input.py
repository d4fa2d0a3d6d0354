"""Hostile input to every public entry point of cnn_core.arch (issue 12): Hypothesis sends malformed
and extreme specs, text, layer rows, calculator queries and links; each call returns a valid result
or raises the project's own error (a CnnLabError) with a message, and nothing else: no RecursionError,
ValueError, OverflowError, TypeError or torch error, no summary that allocates beyond the caps.

Strategies cover deep nesting, huge integers (2**63, 10**309, 4,301 digits), floats (nan, inf),
wrong types, unicode (lone surrogates, NUL, quotes), long strings and random layer dicts. In CI
(the "ci" profile) the tests below send 2,000 specs in all; the "dev" profile sends a tenth.
"""

import base64
import json
import tracemalloc
import zlib

import pytest
import torch
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context

from cnn_core.arch.calculator import KINDS, LayerQuery, calculate, window_picture
from cnn_core.arch.export import export_pytorch_code
from cnn_core.arch.layer_text import parse_chain, parse_layer_line, rows_to_layers
from cnn_core.arch.model import build_model
from cnn_core.arch.spec import LAYER_TYPES, REQUIRED, TOP_LEVEL_KEYS, dump_spec_json, load_spec_json
from cnn_core.arch.spec_link import spec_from_link, spec_to_link
from cnn_core.arch.summary import summarize, summarize_until_error
from cnn_core.errors import CnnLabError
from tests.conftest import examples

FIELD_NAMES = sorted({f.name for lt in LAYER_TYPES.values() for f in lt.fields})
# Hypothesis prints its examples, so these stay under the 4,300 digits Python prints; longer integers
# (which even str() refuses) go through every field in test_integers_too_long_to_print below.
HUGE = [2**31, 2**63, 2**64, 10**309, 10**4000, -(2**63), 1e300, 1e309, float("inf"), float("-inf"), float("nan")]
NASTY_TEXT = ['"""', "\\", "\x00", "\ud800", "\udfff", "\n", "\u2028", "é", "🙂", "'", "{", "}", "%s", "x" * 3000]
SUMMARY_MEMORY_CAP = 64 * 1024 * 1024  # a torch-free summary never needs more than this
SMALL_PARAMS, SMALL_VALUES = 200_000, 500_000  # build and run only networks this small


def nested(depth: int, leaf=1):
    value = leaf
    for _ in range(depth):
        value = [value]
    return value


# ---------------------------------------------------------------- strategies

text = st.one_of(
    st.text(max_size=20),
    st.text(st.characters(codec=None, categories=None), max_size=20),  # surrogates, controls
    st.lists(st.sampled_from(NASTY_TEXT), max_size=4).map("".join),
)
huge = st.sampled_from(HUGE)
small_int = st.integers(-2, 9)
scalar = st.one_of(small_int, huge, st.integers(), st.floats(), st.booleans(), st.none(), text)
deep = st.integers(30, 3000).map(nested)
json_value = st.recursive(scalar, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3))
field_value = st.one_of(
    small_int,
    small_int,
    st.lists(small_int, min_size=0, max_size=3),
    st.sampled_from(["same", "valid", "none", "tanh"]),
    st.floats(0, 1),
    huge,
    deep,
    json_value,
)
layer_type = st.one_of(st.sampled_from(sorted(LAYER_TYPES)), text, scalar)
layer = st.one_of(
    st.builds(
        lambda kind, fields: {"type": kind, **fields},
        layer_type,
        st.dictionaries(st.sampled_from(FIELD_NAMES), field_value, max_size=5),
    ),
    st.dictionaries(text, json_value, max_size=3),
    json_value,
    deep,
)
input_shape = st.one_of(
    st.lists(st.integers(1, 4), min_size=1, max_size=1).flatmap(
        lambda c: st.tuples(st.just(c[0]), st.integers(1, 24), st.integers(1, 24)).map(list)
    ),
    st.lists(st.one_of(small_int, huge), min_size=0, max_size=4),
    json_value,
    deep,
)
spec_dict = st.builds(
    lambda shape, n, layers, extra: {"input_shape": shape, "num_classes": n, "layers": layers, **extra},
    input_shape,
    st.one_of(st.none(), st.integers(1, 10), huge, json_value),
    st.one_of(st.lists(layer, max_size=6), json_value, deep),
    st.dictionaries(st.sampled_from([*TOP_LEVEL_KEYS, "loss", "backbone"]), st.one_of(text, json_value), max_size=2),
).map(lambda spec: {k: v for k, v in spec.items() if k != "backbone" or not isinstance(v, (dict, str))})
PLAUSIBLE = {  # small values that often make a working layer; an extreme one is mixed in below
    "out_channels": st.integers(1, 8),
    "kernel_size": st.one_of(st.integers(1, 5), st.lists(st.integers(1, 4), min_size=2, max_size=2)),
    "stride": st.integers(1, 3),
    "padding": st.one_of(st.integers(0, 2), st.sampled_from(["same", "valid"])),
    "output_padding": st.integers(0, 1),
    "dilation": st.integers(1, 2),
    "groups": st.integers(1, 2),
    "output_size": st.integers(1, 4),
    "out_features": st.integers(1, 12),
    "ceil_mode": st.booleans(),
    "p": st.floats(0, 1),
}
SPATIAL = [k for k, lt in LAYER_TYPES.items() if lt.needs != "flat" and k not in ("flatten", "linear")]


@st.composite
def plausible_layer(draw, kinds):
    kind = draw(st.sampled_from(kinds))
    layer = {"type": kind}
    for f in LAYER_TYPES[kind].fields:
        if f.name in PLAUSIBLE and (f.default is REQUIRED or draw(st.booleans())):
            layer[f.name] = draw(st.one_of(PLAUSIBLE[f.name], PLAUSIBLE[f.name], PLAUSIBLE[f.name], huge, scalar))
    return layer


plausible_spec = st.builds(
    lambda shape, body, tail, n: {"input_shape": shape, "num_classes": n, "layers": body + tail},
    st.tuples(st.integers(1, 3), st.integers(4, 24), st.integers(4, 24)).map(list),
    st.lists(plausible_layer(SPATIAL), max_size=5),
    st.lists(plausible_layer(["flatten", "linear", "relu", "dropout", "batchnorm1d", "softmax"]), max_size=3).map(
        lambda tail: [{"type": "flatten"}, *tail]
    )
    | st.just([]),
    st.one_of(st.none(), st.integers(1, 12)),
)
backbone_spec = st.fixed_dictionaries(
    {
        "input_shape": st.tuples(st.sampled_from([1, 2, 3]), st.integers(8, 48), st.integers(8, 48)).map(list),
        "num_classes": st.one_of(st.integers(1, 5), huge, st.none()),
        "backbone": st.one_of(
            st.fixed_dictionaries(
                {"name": st.sampled_from(["resnet18", "mobilenet_v2", "vgg"]), "pretrained": st.just(False)},
                optional={"freeze_backbone": scalar, "replace_head": scalar},
            ),
            scalar,
        ),
    },
    optional={"name": text, "description": text},
)


# ---------------------------------------------------------------- checks


def allowed(call, *args):
    """call(*args): its result, or None when it raised a CnnLabError with a message. Any other
    exception propagates and fails the test."""
    try:
        return call(*args)
    except CnnLabError as exc:
        assert str(exc).strip(), f"{type(exc).__name__} without a message"
        return None


def count(what: str) -> None:
    """A line of --hypothesis-show-statistics (how many examples got how far)."""
    if currently_in_test_context():
        event(what)


def small_enough_to_build(summary) -> bool:
    values = max([r.activation_bytes // 4 for r in summary.rows] + [1])
    return summary.total_params <= SMALL_PARAMS and values <= SMALL_VALUES and len(summary.rows) <= 8


def check_spec(spec) -> None:
    """Every spec entry point on one spec: only results or CnnLabErrors, and what one accepts the
    next accepts too (summarize → build_model → a forward pass of the predicted shape → export)."""
    tracemalloc.start()
    try:
        summary = allowed(summarize, spec)
        allowed(summarize_until_error, spec)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < SUMMARY_MEMORY_CAP, f"the summary allocated {peak:,} bytes"
    text = allowed(dump_spec_json, spec)
    if text is not None:
        text.encode("utf-8")  # the download is always valid UTF-8
        allowed(load_spec_json, text)
    link = allowed(spec_to_link, spec) if summary is not None else None
    if link:
        allowed(spec_from_link, link)
    count("summarize: " + ("refused" if summary is None else "accepted"))
    if summary is None or not small_enough_to_build(summary):
        return
    count("built and run")
    model = build_model(spec).eval()  # summarize accepted it: building must not fail
    with torch.no_grad():
        out = model(torch.zeros(1, *summary.input_shape))
    assert tuple(out.shape[1:]) == tuple(summary.output_shape)
    source = export_pytorch_code(spec)
    compile(source, "<exported>", "exec")


def fuzz(ci_count: int):
    """Hypothesis settings for ci_count examples in CI (scaled by the profile), slow inputs allowed."""
    return settings(
        max_examples=examples(ci_count),
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
        deadline=None,
    )


@fuzz(1000)
@given(st.one_of(spec_dict, plausible_spec))
def test_spec_dicts_get_a_result_or_a_cnn_lab_error(spec):
    check_spec(spec)


@fuzz(400)
@given(st.one_of(spec_dict, plausible_spec, json_value, deep))
def test_spec_json_text_gets_a_result_or_a_cnn_lab_error(value):
    raw = safe_dumps(value) if safe_dumps(value) != "{}" else "[" * 5000 + "]" * 5000
    for data in (raw, raw.encode("utf-8", "surrogatepass"), raw.replace("1", "1" * 4400, 1), raw[: len(raw) // 2]):
        spec = allowed(load_spec_json, data)
        if spec is not None:
            check_spec(spec)


@fuzz(100)
@given(backbone_spec)
def test_backbone_specs_get_a_result_or_a_cnn_lab_error(spec):
    allowed(summarize, spec)
    allowed(summarize_until_error, spec)
    allowed(dump_spec_json, spec)
    source = allowed(export_pytorch_code, spec)
    if source is not None:
        compile(source, "<exported>", "exec")


@fuzz(200)
@given(st.one_of(text, st.lists(st.one_of(text, st.sampled_from(["conv2d", "kernel_size=", "=", ",", "(", "x"])))))
def test_layer_text_gets_layers_or_a_cnn_lab_error(pieces):
    line = pieces if isinstance(pieces, str) else " ".join(pieces)
    for entry in (parse_layer_line, parse_chain):
        result = allowed(entry, line)
        if entry is parse_chain and isinstance(result, list):
            check_spec({"input_shape": [1, 8, 8], "layers": result})
    allowed(parse_chain, "[" + line + "]")
    allowed(parse_chain, "[" * 3000 + "]" * 3000)


@fuzz(200)
@given(st.lists(st.dictionaries(st.sampled_from(["type", "params", "other"]), st.one_of(text, scalar)), max_size=4))
def test_builder_rows_get_layers_or_a_cnn_lab_error(rows):
    layers = allowed(rows_to_layers, rows)
    if layers is not None:
        check_spec({"input_shape": [1, 8, 8], "num_classes": None, "layers": layers})


calc_number = st.one_of(st.integers(-1, 12), st.integers(-1, 12), huge, st.floats(), text, st.none())


@fuzz(200)
@given(
    st.builds(
        LayerQuery,
        kind=st.one_of(st.sampled_from(KINDS), text, huge),
        height=calc_number,
        width=calc_number,
        channels=calc_number,
        out_channels=calc_number,
        kernel=calc_number,
        stride=calc_number,
        padding=st.one_of(calc_number, st.sampled_from(["same", "valid"])),
        dilation=calc_number,
        ceil_mode=st.one_of(st.booleans(), scalar),
        output_padding=calc_number,
    ),
    st.integers(-3, 20),
    st.integers(-3, 20),
)
def test_calculator_gets_a_result_or_a_cnn_lab_error(query, row, col):
    result = calculate(query)  # never raises: an invalid query comes back with its error
    assert (result.error is None) != (result.output_shape is None)
    if result.error is not None:
        assert str(result.error).strip()
    allowed(window_picture, query, row, col)


def safe_dumps(value) -> str:
    try:
        return json.dumps(value, default=str)
    except (ValueError, RecursionError):
        return "{}"


def link_of(data: bytes) -> str:
    return "1" + base64.urlsafe_b64encode(zlib.compress(data)).decode("ascii").rstrip("=")


@fuzz(100)
@given(
    st.one_of(
        text, spec_dict.map(lambda s: safe_dumps(s)[:5000]), st.integers(30, 3000).map(lambda d: "[" * d + "]" * d)
    )
)
def test_links_get_a_spec_or_a_cnn_lab_error(payload):
    for link in (
        payload,
        link_of(payload.encode("utf-8", "surrogatepass")),
        link_of(payload.encode("utf-8", "surrogatepass")[:10]),
    ):
        spec = allowed(spec_from_link, link)
        if spec is not None:
            check_spec(spec)


@pytest.mark.parametrize("depth", [1000, 100_000])
def test_every_entry_point_survives_deep_nesting(depth):
    """The issue's 2 KB spec nested 1,000 deep, as text and as a dict, everywhere."""
    check_spec({"input_shape": nested(depth), "layers": []})
    check_spec({"input_shape": [1, 8, 8], "layers": [{"type": "conv2d", "out_channels": nested(depth)}]})
    allowed(load_spec_json, "[" * depth + "]" * depth)
    allowed(parse_chain, "[" * depth + "]" * depth)


@pytest.mark.parametrize("name", FIELD_NAMES + ["input_shape", "num_classes"])
def test_integers_too_long_to_print_are_cnn_lab_errors_in_every_field(name):
    """10**5000 (5,001 digits): str() of it raises ValueError, so no message may print it whole."""
    value = 10**5000
    if name in ("input_shape", "num_classes"):
        check_spec({"input_shape": [1, value, 8] if name == "input_shape" else [1, 8, 8], "num_classes": value})
        return
    for kind, spec_type in LAYER_TYPES.items():
        if name in spec_type.field_names:
            check_spec({"input_shape": [1, 8, 8], "layers": [{"type": kind, "out_features": 2, name: value}]})
            check_spec({"input_shape": [1, 8, 8], "layers": [{"type": kind, name: [value, 1]}]})
