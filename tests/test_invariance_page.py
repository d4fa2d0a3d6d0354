"""The invariance page (app_pages/invariance.py) through AppTest, in every state: without a run, with a
run, with a second run to compare (and one that takes other images), with a link whose values it
cannot use, with damaged weights, and with a request over the work cap."""

import json
import shutil

import pytest
from streamlit.testing.v1 import AppTest

from cnn_core import i18n
from cnn_core.i18n import t
from cnn_core.inspection import invariance
from cnn_core.train.config import TrainConfig
from tests.apptest import APP, open_app_page, open_tab
from tests.conftest import train_completed_run
from tests.test_language_pages import chinese_characters, english_words, visible_texts

PAGE = "app_pages/invariance.py"
SPEC = {
    "name": "small",
    "input_shape": [1, 28, 28],
    "num_classes": 10,
    "layers": [
        {"type": "conv2d", "out_channels": 4, "kernel_size": 3},
        {"type": "relu"},
        {"type": "maxpool2d", "kernel_size": 2},
        {"type": "flatten"},
        {"type": "linear", "out_features": 10},
    ],
}
SHAPES_SPEC = {**SPEC, "input_shape": [3, 32, 32]}


@pytest.fixture(scope="module")
def template_runs(tmp_path_factory):
    """A digits run, the same network trained with random crops, and a run on the shapes (3×32×32)."""
    root = tmp_path_factory.mktemp("invariance")
    plain = train_completed_run(
        root / "20260101-000000-digits-plain", TrainConfig(spec=SPEC, preset=None, epochs=1, batch_size=64)
    )
    cropped = train_completed_run(
        root / "20260101-000001-digits-crop",
        TrainConfig(spec=SPEC, preset=None, epochs=1, batch_size=64, augment=["crop"]),
    )
    shapes = train_completed_run(
        root / "20260101-000002-shapes-small",
        TrainConfig(dataset="shapes", spec=SHAPES_SPEC, preset=None, epochs=1, batch_size=128),
    )
    return plain, cropped, shapes


def copied(runs_root, *runs):
    for run in runs:
        shutil.copytree(run, runs_root / run.name)


def curves(at: AppTest) -> dict:
    figures = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    [figure] = [f for f in figures if "xaxis6" in f["layout"]]  # the six panels of the sweeps
    return figure


def captions(at: AppTest) -> list[str]:
    return [img.caption for element in at.get("image") for img in element.proto.imgs]


def test_without_a_run_the_page_points_to_training(runs_root):
    at = open_app_page(PAGE, timeout=180)
    assert t("inspect.no_runs") in at.info[0].value and not at.get("plotly_chart")


def test_with_a_run_the_page_measures_it(runs_root, template_runs):
    copied(runs_root, template_runs[0])
    at = open_app_page(PAGE, timeout=180)
    assert not at.error and not at.warning
    figure = curves(at)
    shift = next(tr for tr in figure["data"] if tr["xaxis"] == "x")
    assert shift["x"] == list(range(-6, 7)) and shift["name"] == t("invariance.this_run")
    assert len(figure["data"]) == 6  # one run: a line per panel
    measured = t("invariance.measured", n=int(at.number_input(key="inv_images").value), conditions=13 + 9 + 9)
    assert any(c.value == measured for c in at.caption)
    at.number_input(key="inv_shift").set_value(2).run()
    at.radio(key="inv_axis").set_value("vertical").run()
    shift = next(tr for tr in curves(at)["data"] if tr["xaxis"] == "x")
    assert shift["x"] == [-2, -1, 0, 1, 2] and not at.exception

    open_tab(at, "inv_tab", t("invariance.tab.maps"))  # only the open tab is drawn
    table = at.dataframe[0].value
    assert list(table[t("invariance.col.shift")]) == [1, 2]
    assert len(table.columns) == 5  # the shift, and the conv and pooling layers' two numbers each
    assert len(captions(at)) == 2 + 3 + 3  # the image and its shifted copy, three maps per layer
    at.number_input(key="inv_channel").set_value(3).run()
    at.number_input(key="inv_shown").set_value(2).run()
    assert not at.exception and t("invariance.picture.shifted", d=2) in captions(at)
    assert any(c.value.startswith(t("invariance.picture.scale", c=3, low="", high="")[:9]) for c in at.caption)


def other_box(at: AppTest):
    return next(s for s in at.selectbox if s.key and s.key.startswith("inv_other_"))


def test_a_second_run_is_measured_the_same_way_and_one_on_other_images_is_not(runs_root, template_runs):
    plain, cropped, shapes = template_runs
    copied(runs_root, plain, cropped, shapes)
    at = open_app_page(PAGE, timeout=180, state={"selected_run": plain.name})
    assert other_box(at).value is None and len(other_box(at).options) == 3  # none, and the two other runs
    other_box(at).set_value(cropped.name).run()
    assert not at.exception and not at.warning
    figure = curves(at)
    assert len(figure["data"]) == 12  # two runs, six panels
    assert {tr["name"] for tr in figure["data"]} == {t("invariance.this_run"), t("invariance.other_run")}
    assert plain.name not in json.dumps(figure) and cropped.name not in json.dumps(figure)  # no run names in charts
    other_box(at).set_value(shapes.name).run()
    assert at.warning[0].value == t("invariance.other_shape", this="1×28×28", other="3×32×32")
    assert len(curves(at)["data"]) == 6 and not at.exception


def open_with_link(runs_root, **params) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=180)
    for key, value in params.items():
        at.query_params[key] = value
    at.switch_page(PAGE).run()
    assert not at.exception, at.exception
    return at


def test_the_pages_link_sets_its_view(runs_root, template_runs):
    copied(runs_root, template_runs[0])
    at = open_with_link(runs_root, inv_shift="3", inv_axis="vertical", inv_angle="90", inv_tab=t("invariance.tab.maps"))
    assert not at.warning
    assert at.number_input(key="inv_shift").value == 3 and at.radio(key="inv_axis").value == "vertical"
    assert list(at.dataframe[0].value[t("invariance.col.shift")]) == [1, 2, 3]  # the maps tab, as linked


def test_link_values_the_page_cannot_use_are_dropped_with_a_notice(runs_root, template_runs):
    copied(runs_root, template_runs[0])
    at = open_with_link(
        runs_root, inv_shift="999", inv_axis="diagonal", inv_images="many", inv_angle="1e999", run="../../etc"
    )
    warnings = " ".join(w.value for w in at.warning)
    for value in ("inv_shift=999", "inv_axis=diagonal", "inv_images=many", "inv_angle=1e999"):
        assert value in warnings, warnings
    assert t("links.run_ignored") in warnings
    assert at.number_input(key="inv_shift").value == 6 and at.radio(key="inv_axis").value == "horizontal"
    assert curves(at) and not at.error


def test_a_run_with_damaged_weights_is_a_message_not_a_traceback(runs_root, template_runs):
    run_dir = shutil.copytree(template_runs[0], runs_root / template_runs[0].name)
    (run_dir / "model.safetensors").write_bytes(b"these are not weights")
    at = open_app_page(PAGE, timeout=180)
    assert any("cannot be inspected" in e.value and "weights" in e.value for e in at.error), at.error


def test_a_request_over_the_work_cap_is_a_message_with_the_estimate(runs_root, template_runs, monkeypatch):
    copied(runs_root, template_runs[0])
    monkeypatch.setattr(invariance, "MAX_SWEEP_MACS", 1000)
    at = open_app_page(PAGE, timeout=180)
    assert len(at.error) == 1 and "multiply-accumulates" in at.error[0].value and "cap" in at.error[0].value
    assert not [c for c in at.get("plotly_chart") if "xaxis6" in c.proto.spec]
    open_tab(at, "inv_tab", t("invariance.tab.maps"))
    assert len(at.error) == 1 and "multiply-accumulates" in at.error[0].value and not at.exception


@pytest.mark.parametrize("language", ["zh", "en"])
def test_both_tabs_and_the_comparison_read_in_one_language(runs_root, template_runs, language):
    """The language pages' check (tests/test_language_pages.py) sees the open tab only: here every
    state of this page, in Chinese and in English."""
    plain, cropped, _ = template_runs
    copied(runs_root, plain, cropped)
    at = open_with_link(runs_root, lang=language)
    i18n.use_language(language)  # AppTest formats the widgets' options on this thread when it reruns
    try:
        other = next(run.name for run in (plain, cropped) if run.name != at.session_state["selected_run"])
        other_box(at).set_value(other).run()
        assert len(curves(at)["data"]) == 12
        texts = visible_texts(at)
        open_tab(at, "inv_tab", t("invariance.tab.maps"))
    finally:
        i18n.use_language(None)
    assert at.get("image"), "the maps tab is drawn"
    texts += visible_texts(at) + [("image caption", caption, False) for caption in captions(at)]
    wrong = english_words if language == "zh" else chinese_characters
    offenders = [f"{where}: {text!r}" for where, text, latex in texts if wrong(text, latex)]
    assert len(texts) > 20 and not offenders, offenders
