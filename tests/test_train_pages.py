"""The Train and Runs pages through AppTest: form validation and every run state."""

import shutil
import time
import urllib.error
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from cnn_core.files import read_json, write_json_atomic
from cnn_core.runs.directory import read_status, write_status
from cnn_core.train.config import TrainConfig
from tests.apptest import APP, open_app_page
from tests.conftest import TINY_SPEC, train_completed_run


def open_page(page: str) -> AppTest:
    return open_app_page(page, timeout=180)


# ---------------------------------------------------------------- Train page


def test_train_page_plans_the_default_run(runs_root):
    at = open_page("app_pages/train.py")
    metrics = {m.label: m.value for m in at.metric}
    # digits: 1,437 training images, 10% held out → 1,293; batch 32 → 41 steps an epoch
    assert metrics["Steps per epoch"] == "41"
    assert metrics["Total steps"] == "123"
    assert metrics["Parameters"] == "34,826"
    assert not at.error
    assert not at.button(key="t_launch").disabled


def test_train_page_refuses_a_network_that_does_not_fit(runs_root):
    at = AppTest.from_file(APP, default_timeout=180)
    at.session_state["builder_spec"] = {
        "input_shape": [1, 28, 28],
        "num_classes": 10,
        "layers": [
            {"type": "conv2d", "out_channels": 4, "kernel_size": 7, "stride": 3},
            {"type": "maxpool2d", "kernel_size": 4},
            {"type": "maxpool2d", "kernel_size": 4},
            {"type": "flatten"},
            {"type": "linear", "out_features": 10},
        ],
    }
    at.run()
    at.switch_page("app_pages/train.py").run()
    at.radio(key="t_source").set_value("builder").run()
    assert not at.exception
    assert any("does not fit" in e.value and "layer 3 (maxpool2d)" in e.value for e in at.error), at.error
    assert at.button(key="t_launch").disabled


def test_train_page_explains_a_missing_offline_dataset(runs_root, monkeypatch):
    import torchvision.datasets.mnist as tv_mnist

    def offline(*args, **kwargs):
        raise urllib.error.URLError("offline")

    monkeypatch.setattr(tv_mnist, "download_url", offline, raising=False)
    monkeypatch.setattr(tv_mnist.MNIST, "download", lambda self: offline())
    at = open_page("app_pages/train.py")
    at.selectbox(key="t_dataset").set_value("mnist").run()
    assert not at.exception
    warnings = " ".join(w.value for w in at.warning) + " ".join(e.value for e in at.error)
    assert "train-images-idx3-ubyte" in warnings and "MNIST" in warnings
    assert at.button(key="t_launch").disabled


def test_train_page_folder_needs_a_folder(runs_root, tmp_path):
    at = open_page("app_pages/train.py")
    at.selectbox(key="t_dataset").set_value("folder").run()
    assert not at.exception
    assert at.button(key="t_launch").disabled
    at.text_input(key="t_folder").set_value(str(tmp_path / "nowhere")).run()
    assert any("not a directory" in w.value for w in at.warning)


def test_train_page_launches_a_run(runs_root):
    at = open_page("app_pages/train.py")
    at.number_input(key="t_epochs").set_value(1).run()
    at.button(key="t_launch").click().run()
    try:
        assert not at.exception
        assert at.success and "started" in at.success[0].value
        run_dirs = [p for p in runs_root.iterdir() if p.is_dir()]
        assert len(run_dirs) == 1
        assert TrainConfig.from_dict(read_json(run_dirs[0] / "config.json")).epochs == 1
    finally:
        from tests.browser import kill_processes_mentioning

        kill_processes_mentioning(str(runs_root))


# ---------------------------------------------------------------- Runs page, one state at a time


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """A real, completed tiny run, trained in-process once for this module."""
    return train_completed_run(
        tmp_path_factory.mktemp("template") / "20260101-000000-digits-aaaa",
        TrainConfig(spec=TINY_SPEC, preset=None, epochs=2, batch_size=128, name="template"),
    )


def place_run(finished_run: Path, runs_root: Path, name: str, **status_changes) -> Path:
    run_dir = runs_root / name
    shutil.copytree(finished_run, run_dir)
    status = read_status(run_dir)
    for key, value in status_changes.items():
        setattr(status, key, value)
    write_status(run_dir, status)
    return run_dir


def test_runs_page_without_runs(runs_root):
    at = open_page("app_pages/runs.py")
    assert "No runs yet" in at.info[0].value


def test_runs_page_completed_run(runs_root, finished_run):
    place_run(finished_run, runs_root, "20260101-000001-digits-done")
    at = open_page("app_pages/runs.py")
    assert any("Completed" in s.value for s in at.success)
    labels = [m.label for m in at.metric]
    assert "Test accuracy" in labels
    assert len(at.get("plotly_chart")) >= 6  # loss, accuracy, lr, speed, per class, confusion
    at.toggle(key="r_norm").set_value(True).run()
    assert not at.exception


def test_runs_page_failed_run_shows_its_error(runs_root, finished_run):
    place_run(
        finished_run,
        runs_root,
        "20260101-000002-digits-fail",
        state="failed",
        error="DatasetError: mnist is not in data/MNIST/raw",
    )
    at = open_page("app_pages/runs.py")
    assert any("DatasetError: mnist is not in" in e.value for e in at.error)
    assert at.button(key="r_resume")


def test_runs_page_stopped_and_interrupted_runs_offer_resume(runs_root, finished_run):
    place_run(finished_run, runs_root, "20260101-000003-digits-stop", state="stopped")
    place_run(
        finished_run, runs_root, "20260101-000004-digits-dead", state="running", pid=2**22 + 7, heartbeat=time.time()
    )
    at = open_page("app_pages/runs.py")
    at.selectbox(key="r_select").set_value("20260101-000003-digits-stop").run()
    assert any("Stopped" in c.value for c in at.caption) and at.button(key="r_resume")
    at.selectbox(key="r_select").set_value("20260101-000004-digits-dead").run()
    assert any("Interrupted" in w.value for w in at.warning) and at.button(key="r_resume")


def test_runs_page_running_and_queued_runs(runs_root, finished_run, fake_worker):
    running = place_run(
        finished_run,
        runs_root,
        "20260101-000005-digits-live",
        state="running",
        pid=fake_worker.pid,
        heartbeat=time.time(),
        step=5,
    )
    place_run(
        finished_run,
        runs_root,
        "20260101-000006-digits-wait",
        state="queued",
        pid=fake_worker.pid,
        heartbeat=time.time(),
    )
    at = open_page("app_pages/runs.py")
    at.selectbox(key="r_select").set_value("20260101-000005-digits-live").run()
    assert any(c.value == "Running." for c in at.caption)
    assert at.button(key="r_stop")
    at.selectbox(key="r_select").set_value("20260101-000006-digits-wait").run()
    assert any("Queued" in i.value for i in at.info)
    at.selectbox(key="r_select").set_value("20260101-000005-digits-live").run()
    at.button(key="r_stop").click().run()
    assert (running / "stop-requested").exists()
    fake_worker.wait(timeout=10)  # the stop is also a SIGTERM to the worker


def test_runs_page_compare_two_runs(runs_root, finished_run):
    place_run(finished_run, runs_root, "20260101-000007-digits-a")
    b = place_run(finished_run, runs_root, "20260101-000008-digits-b")
    config = TrainConfig.from_dict(read_json(b / "config.json"))
    config.lr = 0.01
    write_json_atomic(b / "config.json", config.to_dict())
    at = open_page("app_pages/runs.py")
    table = at.dataframe[-1].value
    assert "lr" in table.columns and "epochs" not in table.columns
    assert not at.exception


def test_runs_page_delete_needs_confirmation(runs_root, finished_run):
    run_dir = place_run(finished_run, runs_root, "20260101-000009-digits-gone")
    at = open_page("app_pages/runs.py")
    assert run_dir.exists()
    at.button(key="r_delete").click().run()
    assert not run_dir.exists()
    assert "No runs yet" in at.info[0].value
