"""The look-inside pages through AppTest, without a run and with a trained one."""

import json
import shutil

import pytest
from streamlit.testing.v1 import AppTest

from cnn_core.figures.inspection import pickable_cells
from cnn_core.figures.training import confusion_figure
from cnn_core.i18n import t
from cnn_core.train.config import TrainConfig
from tests.apptest import open_app_page, open_tab
from tests.conftest import SMALL_CNN_SPEC, train_completed_run

PAGES = ["app_pages/predictions.py", "app_pages/filters.py", "app_pages/network_sees.py"]
SPEC = SMALL_CNN_SPEC


@pytest.fixture(scope="module")
def template_run(tmp_path_factory):
    return train_completed_run(
        tmp_path_factory.mktemp("template") / "20260101-000000-digits-look",
        TrainConfig(spec=SPEC, preset=None, epochs=1, batch_size=64, name="look"),
    )


def open_page(page: str) -> AppTest:
    return open_app_page(page, timeout=180)


@pytest.mark.parametrize("page", PAGES)
def test_without_a_run_the_pages_point_to_training(runs_root, page):
    at = open_page(page)
    assert "No trained run yet" in at.info[0].value


def test_predictions_page(runs_root, template_run):
    shutil.copytree(template_run, runs_root / template_run.name)
    at = open_page("app_pages/predictions.py")
    assert any("test images match" in c.value for c in at.caption)
    at.toggle(key="p_mistakes").set_value(True).run()
    at.selectbox(key="p_sort").set_value("confidence_asc").run()
    at.button(key="p_worst").click().run()
    assert at.session_state["p_sort"] == "confidence_desc" and at.session_state["p_mistakes"]
    assert not at.exception
    open_tab(at, "p_tab", t("predictions.tab.confusion"))  # only the open tab is drawn
    assert at.dataframe[-1].value.shape[0] == 10  # precision / recall per class
    open_tab(at, "p_tab", t("predictions.tab.gallery"))  # its filters were kept meanwhile
    assert at.session_state["p_sort"] == "confidence_desc" and at.toggle(key="p_mistakes").value


def test_after_most_confident_mistakes_the_class_filters_read_all(runs_root, template_run):
    shutil.copytree(template_run, runs_root / template_run.name)
    at = open_page("app_pages/predictions.py")
    at.selectbox(key="p_true").set_value(3).run()
    at.button(key="p_worst").click().run()
    for key in ("p_true", "p_pred"):
        box = at.selectbox(key=key)
        assert box.index == 0 and box.options[0] == "all", (key, box.index, box.value)  # not the empty placeholder
    assert any("test images match" in c.value for c in at.caption) and not at.exception


def test_own_image_is_a_drawing_or_an_upload_as_chosen_never_both(runs_root, template_run):
    shutil.copytree(template_run, runs_root / template_run.name)
    at = open_tab(open_page("app_pages/predictions.py"), "p_tab", t("predictions.tab.own"))
    assert at.radio(key="p_source").value == "draw" and not at.get("file_uploader")
    at.radio(key="p_source").set_value("upload").run()
    assert len(at.get("file_uploader")) == 1 and not at.exception


def test_the_confusion_matrix_has_a_click_target_on_every_cell(runs_root, template_run):
    shutil.copytree(template_run, runs_root / template_run.name)
    at = open_tab(open_page("app_pages/predictions.py"), "p_tab", t("predictions.tab.confusion"))
    chart = next(json.loads(c.proto.spec) for c in at.get("plotly_chart") if "predicted" in c.proto.spec)
    targets = [trace for trace in chart["data"] if trace["type"] == "scatter"]
    assert len(targets) == 1 and len(targets[0]["customdata"]) == 100
    assert any("class 0 predicted as 0" in c.value for c in at.caption)


def test_pickable_cells_cover_every_cell_with_its_true_and_predicted_class():
    names = ["cat", "dog", "owl"]
    matrix = [[5, 1, 0], [2, 7, 1], [0, 0, 9]]
    fig = pickable_cells(confusion_figure(matrix, names), matrix, names)
    heatmap, targets = fig.data
    assert heatmap.type == "heatmap" and heatmap.hoverinfo == "skip"
    assert targets.type == "scatter" and targets.mode == "markers"
    cells = {(int(t), int(p)) for t, p in targets.customdata}
    assert cells == {(t, p) for t in range(3) for p in range(3)}
    for (true, pred), x, y, count in zip(targets.customdata, targets.x, targets.y, targets.text):
        assert (x, y, int(count)) == (names[pred], names[true], matrix[true][pred])  # on the cell's centre
    assert targets.marker.opacity == 0 and targets.selected.marker.opacity == 1  # invisible until picked


def test_filters_page(runs_root, template_run):
    shutil.copytree(template_run, runs_root / template_run.name)
    at = open_page("app_pages/filters.py")
    assert any("6 kernels" in c.value for c in at.caption)
    # layers numbered from 1 with their type, as the builder numbers them (spec layer 3 is '#4 conv2d')
    kernels_of = at.selectbox(key="f_layer").options
    assert kernels_of == ["#1 conv2d — weights 6×1×3×3", "#4 conv2d — weights 8×6×3×3"]
    assert at.selectbox(key="f_pick").options[3] == "#4 conv2d 8×11×11"
    layer_column = at.dataframe[-1].value["layer"].tolist()
    assert layer_column == ["#1 conv2d", "#2 relu", "#3 maxpool2d", "#4 conv2d", "#5 relu"]
    at.selectbox(key="f_layer").set_value("3").run()
    at.number_input(key="f_channel").set_value(7).run()
    assert any("6 kernels" in c.value for c in at.caption)  # channel 7's slices over 6 input channels
    stats = at.dataframe[-1].value
    assert len(stats) == 5  # conv, relu, pool, conv, relu
    at.number_input(key="f_index").set_value(10).run()
    assert not at.exception


def test_network_sees_page(runs_root, template_run):
    shutil.copytree(template_run, runs_root / template_run.name)
    at = open_page("app_pages/network_sees.py")
    assert at.selectbox(key="s_layer").options == ["#1 conv2d", "#4 conv2d"]  # as the builder numbers them
    at.multiselect(key="s_classes").set_value([1, 4]).run()
    at.slider(key="s_steps").set_value(60).run()
    at.button(key="s_go").click().run()
    assert not at.exception
    assert sum("probability" in c.value for c in at.caption) == 2
    open_tab(at, "s_tab", t("sees.tab.cam"))  # only the open tab is drawn
    assert at.selectbox(key="s_cam_layer").options == ["#1 conv2d", "#4 conv2d"]
    at.selectbox(key="s_cam_layer").set_value("0").run()
    assert not at.exception


@pytest.mark.parametrize("page", PAGES)
def test_a_run_with_damaged_weights_is_a_message_not_a_traceback(runs_root, template_run, page):
    run_dir = shutil.copytree(template_run, runs_root / template_run.name)
    (run_dir / "model.safetensors").write_bytes(b"these are not weights")
    at = open_page(page)
    assert any("cannot be inspected" in e.value and "weights" in e.value for e in at.error), at.error
