"""The builder with blocks (AppTest): a block preset's inner rows in the summary, the block editor,
inserting a new block, a broken inner layer named by its label, and a block network trained by
the engine and looked inside (feature maps of inner layers)."""

import pytest
from streamlit.testing.v1 import AppTest

from cnn_core import preset_spec, summarize
from cnn_core.arch.blocks import chain_at
from cnn_core.arch.summary_types import all_rows
from cnn_core.i18n import t
from tests.apptest import open_app_page


@pytest.fixture
def builder() -> AppTest:
    return open_app_page("app_pages/architecture_builder.py")


def load(builder: AppTest, key: str) -> AppTest:
    builder.selectbox(key="b_preset").set_value(key).run()
    builder.button(key="b_load").click().run()
    assert not builder.exception and not builder.error, [e.value for e in builder.error]
    return builder


def summary_numbers(at: AppTest) -> list[str]:
    return [str(n) for n in at.dataframe[-1].value[t("col.number")].tolist()]


@pytest.mark.parametrize("key", ["resnet_small", "googlenet_mini", "mobilenet_small"])
def test_a_block_preset_shows_its_inner_rows_and_shapes(builder, key):
    load(builder, key)
    expected = [row.number for row in all_rows(summarize(preset_spec(key)))]
    assert summary_numbers(builder) == expected
    assert any("." in number for number in expected)
    assert builder.selectbox(key="b_block").options  # the block editor lists the blocks


def test_the_block_editor_replaces_a_blocks_inner_layers(builder):
    load(builder, "resnet_small")
    version = builder.session_state["editor_version"]
    picker = builder.selectbox(key="b_block")
    assert picker.options[:2] == [t("builder.blocks.residual", label="4"), t("builder.blocks.residual", label="6")]
    picker.set_value("6").run()
    box = builder.text_area(key=f"b_block_text_{version}_6")
    assert box.value.splitlines()[0] == "conv2d out_channels=32, kernel_size=3, stride=2, padding=1, bias=false"
    box.set_value("conv2d out_channels=24, kernel_size=3, stride=2, padding=1\nrelu").run()
    builder.button(key=f"b_block_apply_{version}").click().run()
    assert not builder.exception and not builder.error
    spec = builder.session_state["builder_spec"]
    assert chain_at(spec["layers"], (5, None)) == [
        {"type": "conv2d", "out_channels": 24, "kernel_size": 3, "stride": 2, "padding": 1},
        {"type": "relu"},
    ]
    assert "6 " + t("block.shortcut_label", label="").strip() in " ".join(summary_numbers(builder))
    assert summarize(spec).rows[5].output_shape == (24, 16, 16)


def test_a_broken_inner_layer_is_named_and_the_text_kept(builder):
    load(builder, "googlenet_mini")
    version = builder.session_state["editor_version"]
    builder.selectbox(key="b_block").set_value("4[2]").run()
    builder.text_area(key=f"b_block_text_{version}_4[2]").set_value("conv2d out_channels=8, kernel_size=3").run()
    builder.button(key=f"b_block_apply_{version}").click().run()
    # applied: the branch no longer keeps the size, and the summary says which branch and why
    assert any("branch 2 gives 8×30×30 but branch 1 gives 16×32×32" in e.value for e in builder.error)
    builder.text_area(key=f"b_block_text_{builder.session_state['editor_version']}_4[2]").set_value("conv2d").run()
    builder.button(key=f"b_block_apply_{builder.session_state['editor_version']}").click().run()
    assert any("line 1" in e.value or "out_channels" in e.value for e in builder.error)


def test_inserting_a_block_with_empty_settings_starts_from_its_template(builder):
    assert t("builder.blocks.none") in [c.value for c in builder.caption]
    builder.number_input(key="b_pos").set_value(3).run()
    builder.selectbox(key="b_new_type").set_value("residual").run()
    builder.button(key="b_insert").click().run()
    builder.number_input(key="b_pos").set_value(4).run()
    builder.selectbox(key="b_new_type").set_value("concat").run()
    builder.button(key="b_insert").click().run()
    assert not builder.exception and not builder.error, [e.value for e in builder.error]
    layers = builder.session_state["builder_spec"]["layers"]
    assert [layer["type"] for layer in layers[:5]] == ["conv2d", "relu", "residual", "concat", "maxpool2d"]
    assert "3.1" in summary_numbers(builder) and "4[2].1" in summary_numbers(builder)
