"""Every page renders through AppTest, with good and bad inputs, without an exception."""

import ast

import pytest
from streamlit.testing.v1 import AppTest

from cnn_core import PRESETS, preset_spec, summarize
from cnn_core.i18n.catalog_en import EN
from tests.apptest import open_app_page
from tests.conftest import REPO_ROOT


def open_page(page: str | None = None) -> AppTest:
    return open_app_page(page)


def errors(at: AppTest) -> list[str]:
    return [e.value for e in at.error]


def test_home_page_links_to_tools():
    at = open_page()
    assert at.title[0].value == "CNN Lab"
    assert any("shape" in m.value.lower() or "output size" in m.value.lower() for m in at.markdown)


# ---------------------------------------------------------------- shape calculator


@pytest.fixture()
def calc() -> AppTest:
    return open_page("app_pages/shape_calculator.py")


def metric_values(at: AppTest) -> list[str]:
    return [m.value for m in at.metric]


def test_calculator_default_is_the_seed_example(calc):
    # seed 000, example 1: 5×5 input, 3×3 kernel, no padding, stride 1 → 3×3
    assert metric_values(calc)[0] == "1×3×3"
    assert not errors(calc)
    assert calc.get("plotly_chart"), "the sliding-window picture is drawn"


def test_calculator_same_padding_stride_two_is_refused_and_padding_one_gives_3x3(calc):
    calc.number_input(key="calc_s").set_value(2).run()
    calc.radio(key="calc_pad_mode").set_value("same").run()
    assert not calc.exception
    assert any("stride 1" in e for e in errors(calc))
    calc.radio(key="calc_pad_mode").set_value("number").run()
    calc.number_input(key="calc_p").set_value(1).run()
    assert metric_values(calc)[0] == "1×3×3"


def test_calculator_shows_what_the_floor_drops(calc):
    calc.number_input(key="calc_h").set_value(6).run()
    calc.number_input(key="calc_w").set_value(6).run()
    calc.number_input(key="calc_s").set_value(2).run()
    assert metric_values(calc)[0] == "1×2×2"
    assert any("drops" in w.value for w in calc.warning)
    calc.slider(key="calc_col").set_value(1).run()
    assert not calc.exception


@pytest.mark.parametrize(
    "settings, message",
    [
        ({"calc_k": 9}, "smaller than kernel"),
        ({"calc_kind": "maxpool2d", "calc_k": 2, "calc_p": 2}, "more than half"),
        ({"calc_kind": "conv_transpose2d", "calc_op": 3}, "output_padding"),
        ({"calc_kind": "avgpool2d", "calc_pad_mode": "same"}, "padding"),
        ({"calc_c": 3, "calc_oc": 4, "calc_k": 1, "calc_h": 1, "calc_w": 1}, None),
    ],
)
def test_calculator_invalid_and_extreme_inputs_explain_themselves(calc, settings, message):
    for key, value in settings.items():
        widget = calc.radio(key=key) if key in ("calc_kind", "calc_pad_mode") else calc.number_input(key=key)
        widget.set_value(value).run()
    assert not calc.exception
    if message is None:
        assert not errors(calc)
    else:
        assert any(message in e for e in errors(calc)), errors(calc)


@pytest.mark.parametrize("kind", ["conv2d", "conv_transpose2d", "maxpool2d", "avgpool2d"])
def test_calculator_every_kind_renders_with_ceil_and_dilation(calc, kind):
    calc.radio(key="calc_kind").set_value(kind).run()
    calc.number_input(key="calc_h").set_value(7).run()
    calc.number_input(key="calc_s").set_value(2).run()
    if kind != "avgpool2d":
        calc.number_input(key="calc_d").set_value(2).run()
    if kind in ("maxpool2d", "avgpool2d"):
        calc.checkbox(key="calc_ceil").check().run()
    assert not calc.exception
    assert not errors(calc), errors(calc)
    assert calc.code, "the formula is shown with the numbers filled in"


def test_calculator_chain_reports_sizes_and_the_breaking_layer(calc):
    table = calc.dataframe[0].value
    assert list(table["output (C×H×W)"]) == [
        "32×26×26",
        "32×26×26",
        "32×13×13",
        "64×11×11",
        "64×11×11",
        "64×5×5",
        "1600",
        "10",
    ]
    calc.text_area(key="chain_text").set_value(
        "conv2d out_channels=4, kernel_size=3, stride=4\nrelu\nmaxpool2d kernel_size=2\n"
        "maxpool2d kernel_size=2\nmaxpool2d kernel_size=2"
    ).run()
    assert not calc.exception
    assert any("layer 5 (maxpool2d)" in e and "layer 1" in e for e in errors(calc)), errors(calc)
    calc.text_area(key="chain_text").set_value("conv2d out_channels=4 kernel_size=(3,").run()
    assert errors(calc) and not calc.exception
    calc.text_area(key="chain_text").set_value('[{"type": "conv2d", "out_channels": 2, "kernel_size": 5}]').run()
    assert calc.dataframe[0].value["output (C×H×W)"][0] == "2×24×24"
    calc.text_area(key="chain_text").set_value("").run()
    assert calc.info and not calc.exception


# ---------------------------------------------------------------- architecture builder


@pytest.fixture()
def builder() -> AppTest:
    return open_page("app_pages/architecture_builder.py")


def test_builder_starts_with_the_seed_002_network(builder):
    expected = summarize(preset_spec("seed002_mnist_cnn"))
    assert metric_values(builder)[0] == f"{expected.total_params:,}"
    assert builder.session_state["builder_spec"]["layers"] == preset_spec("seed002_mnist_cnn")["layers"]
    assert not errors(builder)


@pytest.mark.parametrize("key", list(PRESETS))
def test_builder_loads_every_preset(builder, key):
    builder.selectbox(key="b_preset").set_value(key).run()
    builder.button(key="b_load").click().run()
    assert not builder.exception
    assert not errors(builder), errors(builder)
    spec = preset_spec(key)
    if "backbone" in spec:
        spec["backbone"]["pretrained"] = False
    assert metric_values(builder)[0] == f"{summarize(spec).total_params:,}"


def test_builder_insert_move_and_bad_settings(builder):
    builder.number_input(key="b_pos").set_value(2).run()
    builder.selectbox(key="b_new_type").set_value("batchnorm2d").run()
    builder.button(key="b_insert").click().run()
    layers = builder.session_state["builder_spec"]["layers"]
    assert [layer["type"] for layer in layers[:3]] == ["conv2d", "batchnorm2d", "relu"]
    builder.number_input(key="b_pos").set_value(2).run()
    builder.button(key="b_move_1").click().run()
    layers = builder.session_state["builder_spec"]["layers"]
    assert [layer["type"] for layer in layers[:3]] == ["conv2d", "relu", "batchnorm2d"]
    builder.selectbox(key="b_new_type").set_value("conv2d").run()
    builder.text_input(key="b_new_params").set_value("out_channels=(8").run()
    builder.button(key="b_insert").click().run()
    assert not builder.exception and errors(builder)


def test_builder_shows_the_offending_layer_of_an_invalid_spec(builder):
    builder.session_state["builder_spec"] = {
        "input_shape": [1, 8, 8],
        "num_classes": 10,
        "layers": [
            {"type": "conv2d", "out_channels": 4, "kernel_size": 3, "stride": 2},
            {"type": "maxpool2d", "kernel_size": 2},
            {"type": "maxpool2d", "kernel_size": 2},
            {"type": "flatten"},
            {"type": "linear", "out_features": 10},
        ],
    }
    builder.session_state["editor_version"] = 99
    builder.run()
    assert not builder.exception
    assert any("layer 3 (maxpool2d)" in e for e in errors(builder)), errors(builder)
    # the layers that do work are still summarised above the error
    assert len(builder.dataframe[-1].value) == 2


def test_builder_survives_garbage_in_the_spec(builder):
    builder.session_state["builder_spec"] = {
        "input_shape": "big",
        "num_classes": -3,
        "layers": [{"type": "conv9d"}, {"type": "linear", "out_features": 2.5}],
        "colour": "blue",
    }
    builder.session_state["editor_version"] = 7
    builder.run()
    assert not builder.exception
    assert errors(builder)


# ---------------------------------------------------------------- catalogue keys given to the pages' helpers

# The page helpers that take a catalogue key and call t() themselves, and the keys each one reads.
# (tests/test_i18n.py checks t("key") calls; these calls carry their key one step further.)
HELPER_KEYS = {
    "choice": ("{}",),
    "labelled": ("{}", "{}.help"),
    "download": ("{}",),
    "lesson_header": ("{}.title", "{}.intro"),
    "size_note": ("{}",),
    "class_box": ("{}",),
}


def helper_keys() -> dict[str, list[str]]:
    """Catalogue key -> where a helper call in app_pages/ reads it; a literal option list given to
    choice() reads one key per option too."""
    keys: dict[str, list[str]] = {}
    for path in sorted((REPO_ROOT / "app_pages").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and getattr(node.func, "id", None) in HELPER_KEYS):
                continue
            where = f"{path.relative_to(REPO_ROOT)}:{node.lineno}"
            literal = [a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
            if not literal:
                keys.setdefault(f"<no literal key in {node.func.id}()>", []).append(where)
                continue
            for template in HELPER_KEYS[node.func.id]:
                keys.setdefault(template.format(literal[0]), []).append(where)
            options = node.args[1] if node.func.id == "choice" and len(node.args) > 1 else None
            if isinstance(options, ast.List | ast.Tuple):
                for option in options.elts:
                    keys.setdefault(f"{literal[0]}.{ast.literal_eval(option)}", []).append(where)
    return keys


def test_keys_given_to_page_helpers_are_in_english():
    keys = helper_keys()
    assert len(keys) > 30, "the scan found almost no helper calls"
    assert "train.epochs.help" in keys and "concept.flip.intro" in keys and "predictions.invert.auto" in keys
    missing = [f"{key} (read at {where})" for key, where in sorted(keys.items()) if key not in EN]
    assert not missing, "keys given to page helpers but missing from catalog_en.EN:\n" + "\n".join(missing)
