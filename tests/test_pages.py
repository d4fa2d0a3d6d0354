"""Every page renders through AppTest, with good and bad inputs, without an exception."""

import ast
import json

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from cnn_core import PRESETS, preset_spec, summarize
from cnn_core.arch.formatting import format_count
from cnn_core.arch.spec_link import LINK_PARAM, spec_from_link, spec_to_link
from cnn_core.i18n import catalog, t
from tests.apptest import APP, open_app_page, open_tab
from tests.conftest import REPO_ROOT

EN = catalog("en")  # the English catalogue: every key, as the tests read it


def open_page(page: str | None = None) -> AppTest:
    return open_app_page(page)


def errors(at: AppTest) -> list[str]:
    return [e.value for e in at.error]


def test_home_page_links_to_tools():
    at = open_page()
    assert at.title[0].value == "CNN Lab"
    assert any("shape" in m.value.lower() or "output size" in m.value.lower() for m in at.markdown)


def test_home_page_has_a_card_for_every_look_inside_page_saying_what_it_does():
    at = open_page()
    links = {link.proto.page for link in at.get("page_link")}
    assert {"predictions", "filters", "network_sees"} <= links, links
    subheaders = [h.value for h in at.subheader]
    assert "Filters & feature maps" in subheaders and "What the network sees" in subheaders
    texts = [m.value for m in at.markdown]
    assert EN["home.filters"] in texts and EN["home.sees"] in texts
    assert "kernels" in EN["home.filters"] and "feature maps" in EN["home.filters"]
    assert "Grad-CAM" in EN["home.sees"] and "kernels" not in EN["home.sees"] and "feature map" not in EN["home.sees"]


def test_every_icon_is_a_material_icon_never_an_emoji():
    """Emoji render as empty boxes where no emoji font is installed; Material icons always render."""
    offenders = []
    for path in [REPO_ROOT / "app.py", *sorted((REPO_ROOT / "app_pages").rglob("*.py"))]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.keyword) and node.arg in ("icon", "page_icon"):
                value = node.value
                if isinstance(value, ast.Constant) and not str(value.value).startswith(":material/"):
                    offenders.append(f"{path.relative_to(REPO_ROOT)}:{node.lineno} {value.value!r}")
    assert not offenders, offenders


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
    filled = [m.value.split("\n")[-1] for m in calc.markdown if "·" in m.value]  # each axis: formula, then numbers
    assert filled and all(line.startswith("`") and "=" in line for line in filled), "the numbers filled in"


def test_calculator_keras_same_padding_at_stride_2_is_seed_000s_example_2(calc):
    """5×5, 3×3 kernel, stride 2: PyTorch's 'same' refuses the stride, Keras' gives ⌈5 / 2⌉ = 3."""
    calc.number_input(key="calc_s").set_value(2).run()
    calc.radio(key="calc_pad_mode").set_value("same").run()
    assert errors(calc) and not metric_values(calc)
    calc.radio(key="calc_pad_mode").set_value("same_keras").run()
    assert not calc.exception and not errors(calc), errors(calc)
    assert metric_values(calc)[0] == "1×3×3"
    shown = [m.value for m in calc.markdown if "·" in m.value]
    assert shown and all(line.endswith("`⌈5 / 2⌉ = 3`") for line in shown), shown
    assert any("nn.ZeroPad2d" in c.value for c in calc.caption)
    assert calc.get("plotly_chart"), "its sliding window over the padded input is drawn"
    calc.radio(key="calc_kind").set_value("maxpool2d").run()
    assert errors(calc) and "for a convolution (conv2d) only" in errors(calc)[0]


def test_calculator_ceil_mode_is_unticked_when_a_convolution_cannot_use_it(calc):
    calc.radio(key="calc_kind").set_value("maxpool2d").run()
    calc.checkbox(key="calc_ceil").check().run()
    assert calc.checkbox(key="calc_ceil").value
    calc.radio(key="calc_kind").set_value("conv2d").run()
    box = calc.checkbox(key="calc_ceil")
    assert box.disabled and not box.value
    calc.radio(key="calc_kind").set_value("avgpool2d").run()
    assert not calc.checkbox(key="calc_ceil").disabled and not calc.exception


def test_calculator_huge_counts_fit_their_metric_and_the_chain_table_separates_thousands(calc):
    for key, value in {"calc_h": 4096, "calc_w": 4096, "calc_c": 8192, "calc_oc": 8192, "calc_k": 9}.items():
        calc.number_input(key=key).set_value(value).run()
    macs = calc.metric[2]
    assert len(macs.value) <= 8 and macs.value.endswith((" T", " P")), macs.value
    assert "," in macs.proto.help and macs.proto.help.replace(",", "").split()[-1].rstrip(".").isdigit()
    open_tab(calc, "calc_tab", t("calc.tab.chain"))  # only the open tab is drawn
    config = json.loads(calc.dataframe[0].proto.columns)
    assert config["parameters"]["type_config"]["format"] == "localized"
    assert config["MACs"]["type_config"]["format"] == "localized"


def test_calculator_chain_reports_sizes_and_the_breaking_layer(calc):
    table = open_tab(calc, "calc_tab", t("calc.tab.chain")).dataframe[0].value
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
    total = summarize(spec).total_params
    assert metric_values(builder)[0] == format_count(total)
    assert builder.metric[0].proto.help == f"Exactly {total:,}."


@pytest.mark.parametrize(("key", "loss"), [("seed002_mnist_cnn", "loss.logits"), ("seed004_leaky_cnn", "loss.sigmoid")])
def test_builder_says_which_loss_the_network_trains_with(builder, key, loss):
    builder.selectbox(key="b_preset").set_value(key).run()
    builder.button(key="b_load").click().run()
    assert t(loss) in [caption.value for caption in builder.caption]


def test_builder_metrics_stay_short_and_the_layer_table_separates_thousands(builder):
    builder.session_state["builder_spec"] = {
        "input_shape": [3, 1024, 1024],
        "num_classes": 10,
        "layers": [
            {"type": "conv2d", "out_channels": 512, "kernel_size": 3},
            {"type": "global_avgpool"},
            {"type": "linear", "out_features": 10},
        ],
    }
    builder.session_state["editor_version"] = 3
    builder.run()
    total = summarize(builder.session_state["builder_spec"]).total_macs
    macs = builder.metric[2]
    assert macs.value == "14.4 G" and macs.proto.help == f"Exactly {total:,}.", (macs.value, macs.proto.help)
    config = json.loads(builder.dataframe[-1].proto.columns)
    assert config["parameters"]["type_config"]["format"] == "localized"
    assert config["MACs"]["type_config"]["format"] == "localized"


def test_builder_spec_upload_states_its_real_limit(builder):
    uploader = builder.get("file_uploader")[0].proto
    assert "256.0 KiB" in uploader.label
    assert uploader.max_upload_size_mb == 1  # the smallest the widget takes; load_spec_json enforces 256 KiB


def test_builder_rows_are_numbered_afresh_after_one_is_deleted(builder):
    """The editor keeps a deleted row's gap (1, 3, 4 …): the page renumbers its table as the summary
    and the error messages count. AppTest cannot click the grid, so the edited table (its rows as the
    editor returns them after row 2 was deleted) is put in place of the table."""
    table = builder.session_state["b_base_0"]
    assert list(table.index) == list(range(1, len(table) + 1))
    builder.session_state["b_base_0"] = table.drop(index=2)
    builder.run()
    assert not builder.exception
    shown = builder.dataframe[0].value
    assert list(shown.index) == list(range(1, len(table)))
    assert list(shown["type"]) == list(table["type"].drop(index=2))
    assert len(builder.dataframe[-1].value) == len(table) - 1  # the summary counts the same rows


def test_builder_renumbering_keeps_rows_and_values():
    from app_pages._builder import renumbered

    frame = pd.DataFrame({"type": ["conv2d", "relu", None], "params": ["out_channels=4", "", None]}, index=[1, 3, 9])
    again = renumbered(frame)
    assert list(again.index) == [1, 2, 3] and again.reset_index(drop=True).equals(frame.reset_index(drop=True))


def open_builder_with_link(link: str) -> AppTest:
    """The builder in a new session opened with ?net=link, as after a reload or from a shared link."""
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params[LINK_PARAM] = link
    at.run()
    at.switch_page("app_pages/architecture_builder.py").run()
    assert not at.exception, at.exception
    return at


def test_builder_keeps_its_network_in_the_link_and_a_new_session_opens_it(builder):
    builder.selectbox(key="b_preset").set_value("lenet5").run()
    builder.button(key="b_load").click().run()
    builder.number_input(key="b_pos").set_value(2).run()
    builder.selectbox(key="b_new_type").set_value("batchnorm2d").run()
    builder.button(key="b_insert").click().run()
    edited = builder.session_state["builder_spec"]
    assert [layer["type"] for layer in edited["layers"][:2]] == ["conv2d", "batchnorm2d"]
    link = builder.query_params[LINK_PARAM]
    assert spec_from_link(link) == edited
    reloaded = open_builder_with_link(link)
    assert reloaded.session_state["builder_spec"] == edited
    assert reloaded.dataframe[0].value["type"].tolist()[:2] == ["conv2d", "batchnorm2d"]
    assert not errors(reloaded) and not reloaded.warning


@pytest.mark.parametrize(
    "link",
    ["garbage!", "1AAAA", spec_to_link({"layers": [1, 2]}), spec_to_link({"input_shape": 5})],
)
def test_builder_ignores_a_bad_link_with_a_notice(link):
    at = open_builder_with_link(link)
    assert any("could not be opened" in w.value for w in at.warning), at.warning
    assert at.session_state["builder_spec"]["layers"] == preset_spec("seed002_mnist_cnn")["layers"]
    assert spec_from_link(at.query_params[LINK_PARAM]) == at.session_state["builder_spec"]


def test_builder_network_too_large_for_the_link_stays_in_the_session_with_a_notice(builder):
    name = "".join(f"{i * 2654435761 % 2**32:08x}" for i in range(1000))  # 8,000 characters that hardly compress
    builder.session_state["builder_spec"] = preset_spec("seed002_mnist_cnn") | {"name": name}
    builder.session_state["editor_version"] = 5
    builder.run()
    assert not builder.exception
    assert spec_to_link(builder.session_state["builder_spec"]) is None
    assert LINK_PARAM not in builder.query_params
    assert any("too large for the page's link" in c.value for c in builder.caption)


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
    "kept": ("{}", "{}.help"),
}


def helper_keys() -> dict[str, list[str]]:
    """Catalogue key -> where a helper call in app_pages/ reads it; a literal option list given to
    choice() reads one key per option too. A helper handing its own key on to another (kept() calls
    labelled()) is not a call site."""
    keys: dict[str, list[str]] = {}
    for path in sorted((REPO_ROOT / "app_pages").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        inside_helpers = {
            id(call)
            for helper in ast.walk(tree)
            if isinstance(helper, ast.FunctionDef) and helper.name in HELPER_KEYS
            for call in ast.walk(helper)
        }
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and getattr(node.func, "id", None) in HELPER_KEYS):
                continue
            if id(node) in inside_helpers:
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
