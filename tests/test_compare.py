"""Two networks compared on one test set: the figures against direct computations (scikit-learn's
accuracy, numpy's median), refusals when the test sets differ, and the page with seed 004's two
networks trained on the digits, and seed 004's way of training (one image at a time) one click away."""

import json
import shutil

import numpy as np
import pytest
from sklearn.metrics import accuracy_score

from app_pages._links import RUN_PARAM
from cnn_core.files import read_json
from cnn_core.inspection.compare import compare_confidence, first_of_each
from cnn_core.inspection.loading import InspectionError
from cnn_core.inspection.predictions import Predictions, load_predictions
from cnn_core.train.config import SEED004_EPOCHS, ConfigError, TrainConfig, one_image_at_a_time
from tests.apptest import open_app_page
from tests.conftest import train_completed_run

NAMES = [str(d) for d in range(10)]


def predictions(seed: int, labels: np.ndarray, sharpness: float) -> Predictions:
    logits = np.random.default_rng(seed).normal(size=(len(labels), 10)) * sharpness
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    return Predictions(NAMES, labels, probs.argmax(1), probs.astype(np.float32))


def test_the_comparison_is_what_direct_computation_gives():
    labels = np.random.default_rng(0).integers(0, 10, 300)
    first, second = predictions(1, labels, 1.0), predictions(2, labels, 3.0)
    result = compare_confidence(first, second)
    assert result.accuracy == (accuracy_score(labels, first.predicted), accuracy_score(labels, second.predicted))
    assert result.median_winning[0] == pytest.approx(np.median(first.probs.max(1)))
    assert result.median_winning[1] == pytest.approx(np.median(second.probs.max(1)))
    surer = sum(b > a for a, b in zip(first.probs.max(1), second.probs.max(1)))
    assert result.second_surer_share == pytest.approx(surer / 300) and result.second_surer_share > 0.8  # sharper
    both = sum(f == y and s == y for f, s, y in zip(first.predicted, second.predicted, labels))
    assert result.both_right == both and result.images == 300


def test_runs_tested_on_different_images_are_not_compared():
    labels = np.arange(20) % 10
    with pytest.raises(InspectionError, match="different images"):
        compare_confidence(predictions(1, labels, 1.0), predictions(2, labels[::-1].copy(), 1.0))
    other = predictions(2, labels, 1.0)
    other.class_names = [f"c{i}" for i in range(10)]
    with pytest.raises(InspectionError, match="different images"):
        compare_confidence(predictions(1, labels, 1.0), other)


def test_the_first_test_image_of_each_wanted_class():
    labels = np.array([3, 6, 0, 6, 0])
    assert first_of_each(labels, NAMES, ("0", "6")) == [2, 1]
    assert first_of_each(labels, NAMES, ("9",)) == [] and first_of_each(labels, ["a", "b"], ("0",)) == []


@pytest.fixture(scope="module")
def seed004_runs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("seed004")
    config = dict(dataset="digits", epochs=2, batch_size=64, spec=None)
    return [
        train_completed_run(
            folder / f"20260101-00000{i}-digits-{key[8:12]}", TrainConfig(preset=key, name=key, **config)
        )
        for i, key in enumerate(("seed004_bp", "seed004_leaky_cnn"))
    ]


def test_the_page_compares_seed_004s_two_networks_on_every_test_image(runs_root, seed004_runs):
    at = open_app_page("app_pages/compare_nets.py", timeout=180)
    assert any("needs two trained runs" in i.value for i in at.info)
    for run in seed004_runs:
        shutil.copytree(run, runs_root / run.name)
    at = open_app_page("app_pages/compare_nets.py", timeout=180)
    assert not at.exception and not at.error, [e.value for e in at.error]
    result = compare_confidence(*(load_predictions(runs_root / run.name) for run in seed004_runs[::-1]))
    shown = {m.label: m.value for m in at.metric}
    assert f"{result.accuracy[0]:.1%}" in [m.value for m in at.metric]  # the newest run is the first picked
    assert "Median winning output" in shown
    text = " ".join(m.value for m in at.markdown)
    assert f"of the {result.images:,} test images" in text and f"Both are right on {result.both_right:,}" in text
    legends = [trace["name"] for chart in at.get("plotly_chart") for trace in json.loads(chart.proto.spec)["data"]]
    assert set(legends) == {"First network", "Second network"}, "charts name the networks, never a run's own text"
    assert len(at.get("plotly_chart")) == 3, "the histogram and the tutorial's 0 and 6"
    at.selectbox(key="cmp_second").set_value(at.selectbox(key="cmp_first").value).run()
    assert any("two different runs" in i.value for i in at.info)


def test_one_click_trains_the_first_network_one_image_at_a_time(runs_root, seed004_runs):
    for run in seed004_runs:
        shutil.copytree(run, runs_root / run.name)
    at = open_app_page("app_pages/compare_nets.py", timeout=180)
    first = read_json(runs_root / at.selectbox(key="cmp_first").value / "config.json")
    at.button(key="cmp_batch1").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    launched = [p for p in runs_root.iterdir() if p.is_dir() and p.name not in {r.name for r in seed004_runs}]
    assert len(launched) == 1
    config = read_json(launched[0] / "config.json")
    assert (config["batch_size"], config["epochs"]) == (1, SEED004_EPOCHS) == (1, 3)
    changed = ("batch_size", "epochs", "name", "data_dir")  # the launch writes the server's data folder in
    assert {k: v for k, v in config.items() if k not in changed} == {k: v for k, v in first.items() if k not in changed}
    assert config["name"] == f"{first['name']}, one image at a time"
    assert at.query_params[RUN_PARAM] == launched[0].name  # on the Runs page, at the new run


def test_one_image_at_a_time_refuses_what_is_not_a_configuration():
    with pytest.raises(ConfigError):
        one_image_at_a_time({"epochs": "many"}, "x")
    with pytest.raises(ConfigError):
        one_image_at_a_time(["not", "a", "dict"], "x")
