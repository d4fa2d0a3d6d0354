"""The Train and Runs pages through AppTest: form validation, transfer learning without its
weights, the time per epoch, settings kept in the link and the session, every run state, and
the Runs page's one source of truth."""

import hashlib
import shutil
import time
import urllib.error
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

import app_pages._train as train_helpers
import cnn_core.arch.backbones as backbones
import cnn_core.runs.directory as directory
import cnn_core.runs.launcher as launcher
from cnn_core.arch.backbones import PretrainedWeightsUnavailable, fetch_weights, weights_cached
from cnn_core.arch.presets import PRESETS
from cnn_core.figures.training import (
    RUN_COLOURS,
    compare_figure,
    curves_figure,
)
from cnn_core.files import read_json, write_json_atomic
from cnn_core.i18n import catalog, t
from cnn_core.runs.directory import RunError, read_status, write_status
from cnn_core.runs.tables import metric_frames
from cnn_core.train.config import TrainConfig
from cnn_core.train.estimate import EpochEstimate, EstimateError
from tests.apptest import APP, open_app_page, open_tab
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
        run_dirs = [p for p in runs_root.iterdir() if p.is_dir()]
        assert len(run_dirs) == 1
        # straight to the Runs page, on the new run, which it announces once
        assert at.title[0].value == t("runs.title")
        assert [toast.value for toast in at.toast] == [t("train.launched", run_id=run_dirs[0].name)]
        assert at.query_params["run"] == run_dirs[0].name
        assert at.session_state["selected_run"] == run_dirs[0].name
        at.run()
        assert not at.toast  # said once
        assert TrainConfig.from_dict(read_json(run_dirs[0] / "config.json")).epochs == 1
    finally:
        from tests.browser import kill_processes_mentioning

        kill_processes_mentioning(str(runs_root))


@pytest.mark.parametrize(("values", "launched_norm"), [([2.5], 2.5), ([2.5, 0.0], None)], ids=["2.5", "0-is-off"])
def test_train_page_launches_with_the_clip_norm_it_shows(runs_root, fake_estimate, monkeypatch, values, launched_norm):
    launched = []
    fake_run = runs_root / "20260101-000000-digits-fake"
    monkeypatch.setattr(launcher, "launch_run", lambda config, visitor=None: launched.append(config) or fake_run)
    at = open_page("app_pages/train.py")
    assert at.number_input(key="t_clip").value == 0.0  # off unless asked
    for value in values:
        at.number_input(key="t_clip").set_value(value).run()
    assert not at.exception and not at.error
    at.button(key="t_launch").click().run()
    assert not at.exception
    (config,) = launched
    config.validate()
    assert config.clip_grad_norm == launched_norm


@pytest.fixture
def fake_estimate(monkeypatch):
    """The page's time per epoch without its measuring process: 10 ms a step plus 20 ms of
    validation. Yields the requests measured, in order; the page's cache is emptied around it."""
    requests = []

    def measure(request):
        requests.append(request)
        steps = -(-request["train_size"] // request["fields"]["batch_size"])
        return EpochEstimate(0.01, steps, 0.02, 20, 2, "cpu", 1)

    monkeypatch.setattr(train_helpers, "estimate_in_subprocess", measure)
    train_helpers._estimate.clear()
    yield requests
    train_helpers._estimate.clear()


def metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


# ---------------------------------------------------------------- item 3: the time per epoch


def test_train_page_shows_the_measured_epoch_time_and_follows_the_batch_size(runs_root, fake_estimate):
    at = open_page("app_pages/train.py")
    assert metric(at, "Time per epoch (estimate)") == "0.43 s"  # 41 steps × 10 ms + 20 ms
    first = fake_estimate[-1]
    assert first["fields"]["batch_size"] == 32 and first["fields"]["device"] == "auto"
    assert first["train_size"] + first["val_size"] == 1438 and first["val_size"] == 144
    assert first["spec"]["layers"][0]["out_channels"] == 32  # seed 002's network, fitted to digits
    at.number_input(key="t_batch").set_value(64).run()
    assert fake_estimate[-1]["fields"]["batch_size"] == 64
    assert metric(at, "Time per epoch (estimate)") == "0.23 s"  # 21 × 10 ms + 20 ms
    measured = len(fake_estimate)
    at.number_input(key="t_epochs").set_value(5).run()  # the time of a step does not depend on it
    assert len(fake_estimate) == measured
    at.button(key="t_remeasure").click().run()
    assert len(fake_estimate) == measured + 1 and fake_estimate[-1] == fake_estimate[-2]
    assert not at.exception


def test_train_page_explains_an_epoch_time_it_could_not_measure(runs_root, fake_estimate, monkeypatch):
    def fails(request):
        raise EstimateError("the time per epoch could not be measured: test")

    monkeypatch.setattr(train_helpers, "estimate_in_subprocess", fails)
    at = open_page("app_pages/train.py")
    assert metric(at, "Time per epoch (estimate)") == "—"
    assert not at.button(key="t_launch").disabled  # the run itself does not need the estimate


# ---------------------------------------------------------------- item 1: transfer learning offline


@pytest.fixture
def offline_weights(monkeypatch, tmp_path):
    """No pretrained weights cached (an empty torch home) and their server out of reach."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setattr(train_helpers, "_reachable", lambda name: "URLError: <urlopen error offline>")


@pytest.mark.parametrize(
    ("preset", "backbone"), [("resnet18_transfer", "resnet18"), ("mobilenet_v2_transfer", "mobilenet_v2")]
)
def test_transfer_preset_offline_offers_training_from_scratch_in_one_click(
    runs_root, offline_weights, fake_estimate, monkeypatch, preset, backbone
):
    launched = []
    fake_run = runs_root / "20260101-000000-digits-fake"
    monkeypatch.setattr(launcher, "launch_run", lambda config, visitor=None: launched.append(config) or fake_run)
    at = open_page("app_pages/train.py")
    at.selectbox(key="t_preset").set_value(preset).run()
    assert not at.exception
    warning = " ".join(w.value for w in at.warning)
    assert f"pretrained {backbone} weights cannot be fetched here" in warning and "offline" in warning
    assert "frozen backbone with random weights learns nothing" in warning
    assert at.button(key="t_launch").disabled
    at.button(key="t_scratch").click().run()
    assert not at.exception and not at.error
    assert at.toggle(key="t_from_scratch").value
    assert any("Training from scratch" in c.value for c in at.caption)
    assert not at.button(key="t_launch").disabled
    assert fake_estimate[-1]["spec"]["backbone"]["freeze_backbone"] is False  # it times what will train
    at.button(key="t_launch").click().run()
    assert not at.exception
    (config,) = launched
    config.validate()
    assert config.spec["backbone"] == {
        "name": backbone,
        "pretrained": False,
        "freeze_backbone": False,
        "replace_head": True,
    }


def test_transfer_preset_with_its_weights_cached_trains_as_it_is(runs_root, offline_weights, fake_estimate):
    cached = backbones.weights_file("resnet18")
    cached.parent.mkdir(parents=True)
    cached.write_bytes(b"")  # only its presence is checked here
    at = open_page("app_pages/train.py")
    at.selectbox(key="t_preset").set_value("resnet18_transfer").run()
    assert not at.exception and not at.warning
    assert any("are on this machine" in c.value for c in at.caption)
    assert not at.button(key="t_launch").disabled


def test_transfer_preset_online_downloads_its_weights_on_request(runs_root, fake_estimate, monkeypatch, tmp_path):
    """Online (simulated: the weights served from a file:// URL), a button downloads them into
    torch's cache with a progress bar; then the page says they are here."""
    payload = b"resnet18 weights" * 100
    target = weights_source(tmp_path, monkeypatch, payload, hashlib.sha256(payload).hexdigest()[:8])
    monkeypatch.setattr(train_helpers, "weights_file", lambda name: target)
    monkeypatch.setattr(train_helpers, "_reachable", lambda name: None)
    at = open_page("app_pages/train.py")
    at.selectbox(key="t_preset").set_value("resnet18_transfer").run()
    assert any("not on this machine yet" in i.value for i in at.info)
    assert not at.button(key="t_launch").disabled  # the worker would download them itself
    at.button(key="t_fetch").click().run()
    assert not at.exception
    assert target.read_bytes() == payload
    assert any("are on this machine" in c.value for c in at.caption)


def test_a_user_error_that_a_page_does_not_catch_is_a_message_not_a_traceback(runs_root, monkeypatch):
    def unreadable(root=None, visitor=None):
        raise RunError("the runs folder cannot be read (test)")

    monkeypatch.setattr(directory, "list_runs", unreadable)
    at = open_page("app_pages/runs.py")  # fails on an exception
    assert any("the runs folder cannot be read (test)" in e.value for e in at.error)


def weights_source(tmp_path: Path, monkeypatch, payload: bytes, name_hash: str) -> Path:
    """Serve payload as resnet18's weights from a file:// URL; return where they must land."""
    source = tmp_path / "served.pth"
    source.write_bytes(payload)
    target = tmp_path / "hub" / "checkpoints" / f"resnet18-{name_hash}.pth"
    monkeypatch.setattr(backbones, "weights_url", lambda name: source.as_uri())
    monkeypatch.setattr(backbones, "weights_file", lambda name: target)
    return target


def test_fetch_weights_lands_a_checked_file_where_torchvision_looks_with_progress(tmp_path, monkeypatch):
    payload = bytes(range(256)) * 27  # 6,912 bytes
    target = weights_source(tmp_path, monkeypatch, payload, hashlib.sha256(payload).hexdigest()[:8])
    progress = []
    assert fetch_weights("resnet18", lambda done, total: progress.append((done, total)), chunk=1000) == target
    assert target.read_bytes() == payload and weights_cached("resnet18")
    assert progress == [(min(k * 1000, len(payload)), len(payload)) for k in range(1, 8)]


@pytest.mark.parametrize("served", ["mismatch", "missing"])
def test_fetch_weights_failing_leaves_nothing_behind(tmp_path, monkeypatch, served):
    target = weights_source(tmp_path, monkeypatch, b"not the weights", "00000000")
    if served == "missing":
        (tmp_path / "served.pth").unlink()
    with pytest.raises(PretrainedWeightsUnavailable):
        fetch_weights("resnet18")
    assert not weights_cached("resnet18") and list(target.parent.iterdir()) == []


# ---------------------------------------------------------------- item 7: settings kept


def test_train_settings_survive_leaving_the_page_and_coming_back(runs_root, fake_estimate):
    at = open_page("app_pages/train.py")
    at.number_input(key="t_epochs").set_value(7).run()
    at.number_input(key="t_batch").set_value(64).run()
    at.selectbox(key="t_opt").set_value("sgd").run()
    at.multiselect(key="t_aug").set_value(["crop"]).run()
    at.switch_page("app_pages/home.py").run()
    at.switch_page("app_pages/train.py").run()
    assert not at.exception
    assert at.number_input(key="t_epochs").value == 7
    assert at.number_input(key="t_batch").value == 64
    assert at.selectbox(key="t_opt").value == "sgd"
    assert at.multiselect(key="t_aug").value == ["crop"]


def open_train_with_link(**params) -> AppTest:
    """The Train page opened in a new session from a link with these query parameters."""
    at = AppTest.from_file(APP, default_timeout=180)
    for key, value in params.items():
        at.query_params[key] = value
    at.switch_page("app_pages/train.py").run()
    assert not at.exception, at.exception
    return at


def test_train_settings_come_from_the_pages_link(runs_root, fake_estimate):
    # selection widgets appear in a link as their labels, as Streamlit writes them
    at = open_train_with_link(
        t_epochs="7",
        t_batch="64",
        t_opt="sgd",
        t_aug=["random crop (padding 4)", "horizontal flip"],
        t_preset=PRESETS["lenet5"].title,
    )
    assert at.number_input(key="t_epochs").value == 7
    assert at.number_input(key="t_batch").value == 64
    assert at.selectbox(key="t_opt").value == "sgd"
    assert sorted(at.multiselect(key="t_aug").value) == ["crop", "hflip"]
    assert at.selectbox(key="t_preset").value == "lenet5"
    assert metric(at, "Total steps") == f"{7 * 21:,}"  # 1,294 images in batches of 64
    assert not at.warning


def test_train_page_takes_the_clip_norm_from_its_link(runs_root, fake_estimate):
    at = open_train_with_link(t_clip="2.5")
    assert at.number_input(key="t_clip").value == 2.5
    assert not at.warning and not at.error


def test_train_page_ignores_malformed_link_values_with_a_notice(runs_root, fake_estimate):
    at = open_train_with_link(
        t_epochs="many",
        t_batch="0",
        t_opt="rmsprop",
        t_lr="1e-3",
        t_seed="5",
        t_preset=PRESETS["seed002_mnist_cnn"].title,
    )
    assert at.number_input(key="t_epochs").value == 3
    assert at.number_input(key="t_batch").value == 32
    assert at.selectbox(key="t_opt").value == "adam"
    assert at.number_input(key="t_seed").value == 5  # the good ones are taken
    (notice,) = [w.value for w in at.warning]
    assert "t_epochs=many" in notice and "t_batch=0" in notice and "t_opt=rmsprop" in notice
    assert "t_lr" not in notice and "t_seed" not in notice and "t_preset" not in notice  # defaults or taken
    assert not at.button(key="t_launch").disabled


# ---------------------------------------------------------------- Runs page, one state at a time


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """A real, completed tiny run, trained in-process once for this module."""
    return train_completed_run(
        tmp_path_factory.mktemp("template") / "20260101-000000-digits-aaaa",
        TrainConfig(spec=TINY_SPEC, preset=None, epochs=2, batch_size=128, name="template"),
    )


def place_run(finished_run: Path, runs_root: Path, name: str, **status_changes) -> Path:
    """A copy of the finished run named name (its directory and its config's name), with these
    status fields changed."""
    run_dir = runs_root / name
    shutil.copytree(finished_run, run_dir)
    config = read_json(run_dir / "config.json")
    write_json_atomic(run_dir / "config.json", {**config, "name": name})
    status = read_status(run_dir)
    for key, value in status_changes.items():
        setattr(status, key, value)
    write_status(run_dir, status)
    return run_dir


def run_picker(at: AppTest):
    """The Runs page's run picker (its key changes with the runs' labels: r_select_<version>)."""
    (picker,) = [s for s in at.selectbox if str(s.key).startswith("r_select")]
    return picker


def test_runs_page_without_runs(runs_root):
    at = open_page("app_pages/runs.py")
    assert "No runs yet" in at.info[0].value


def test_runs_page_completed_run(runs_root, finished_run):
    place_run(finished_run, runs_root, "20260101-000001-digits-done")
    at = open_page("app_pages/runs.py")
    assert any("Completed" in s.value for s in at.success)
    labels = [m.label for m in at.metric]
    assert "Test accuracy" in labels
    assert len(at.get("plotly_chart")) == 1  # the curves (loss, accuracy, lr, speed): only the open tab is drawn
    open_tab(at, "r_charts", t("runs.tab.classes"))
    assert len(at.get("plotly_chart")) == 2  # per class, confusion
    at.toggle(key="r_norm").set_value(True).run()
    assert not at.exception
    at.select_slider(key="r_conf_epoch").set_value(1).run()
    open_tab(at, "r_charts", t("runs.tab.curves"))
    assert len(at.get("plotly_chart")) == 1
    open_tab(at, "r_charts", t("runs.tab.classes"))  # the choices made there are kept while hidden
    assert at.toggle(key="r_norm").value is True and at.select_slider(key="r_conf_epoch").value == 1


def test_the_four_curves_are_one_chart_with_each_panel_on_its_own_axes(finished_run):
    """curves_figure draws the run's metrics, each curve exactly as metrics.jsonl has it, on its
    panel's axes (loss, accuracy, learning rate, speed), with each panel's title and axis formats,
    each series once in the legend."""
    steps, epochs, _ = metric_frames(finished_run)
    fig = curves_figure(steps, epochs)
    expected = [  # (axes, x, y), from the metric frames
        ("", steps["epoch"], steps["loss"]),
        ("", epochs["epoch"], epochs["train_loss"]),
        ("", epochs["epoch"], epochs["val_loss"]),
        ("2", steps["epoch"], steps["acc"]),
        ("2", epochs["epoch"], epochs["train_acc"]),
        ("2", epochs["epoch"], epochs["val_acc"]),
        ("3", steps["epoch"], steps["lr"]),
        ("4", steps["epoch"], steps["images_per_s"]),
    ]
    assert len(fig.data) == len(expected)
    for trace, (n, x, y) in zip(fig.data, expected, strict=True):
        assert (trace.xaxis, trace.yaxis) == (f"x{n}", f"y{n}")
        assert list(trace.x) == list(x) and list(trace.y) == list(y)
    titles = [t("reports.chart.loss"), t("reports.chart.accuracy"), t("reports.axis.lr"), t("reports.col.speed")]
    assert [a.text for a in fig.layout.annotations] == titles
    assert fig.layout.yaxis2.tickformat == ".0%" and fig.layout.yaxis3.exponentformat == "e"
    assert fig.layout.yaxis.title.text == t("reports.axis.loss")
    assert fig.layout.xaxis4.title.text == t("reports.axis.epoch")
    assert fig.layout.xaxis.domain[1] < fig.layout.xaxis2.domain[0]  # two a row
    assert fig.layout.yaxis3.domain[1] < fig.layout.yaxis.domain[0]
    legend = [trace.name for trace in fig.data if trace.showlegend is not False]
    assert len(legend) == len(set(legend)) and t("reports.series.val") in legend


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
    run_picker(at).set_value("20260101-000003-digits-stop").run()
    assert any("Stopped" in c.value for c in at.caption) and at.button(key="r_resume")
    run_picker(at).set_value("20260101-000004-digits-dead").run()
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
    run_picker(at).set_value("20260101-000005-digits-live").run()
    assert any(c.value == "Running." for c in at.caption)
    assert at.button(key="r_stop")
    run_picker(at).set_value("20260101-000006-digits-wait").run()
    assert any("Queued" in i.value for i in at.info)
    run_picker(at).set_value("20260101-000005-digits-live").run()
    at.button(key="r_stop").click().run()
    assert (running / "stop-requested").exists()
    fake_worker.wait(timeout=10)  # the stop is also a SIGTERM to the worker


def test_runs_page_compare_two_runs(runs_root, finished_run):
    place_run(finished_run, runs_root, "20260101-000007-digits-a")
    b = place_run(finished_run, runs_root, "20260101-000008-digits-b")
    config = TrainConfig.from_dict(read_json(b / "config.json"))
    config.lr = 0.01
    write_json_atomic(b / "config.json", config.to_dict())
    at = open_tab(open_page("app_pages/runs.py"), "r_tab", t("runs.tab.compare"))
    table = at.dataframe[-1].value
    lr, epochs = catalog("en")["train.lr"], catalog("en")["train.epochs"]  # settings by their labels
    assert lr in table.columns and epochs not in table.columns
    assert not at.exception


def test_runs_page_delete_needs_confirmation(runs_root, finished_run):
    run_dir = place_run(finished_run, runs_root, "20260101-000009-digits-gone")
    at = open_page("app_pages/runs.py")
    assert run_dir.exists()
    at.button(key="r_delete").click().run()
    assert not run_dir.exists()
    assert "No runs yet" in at.info[0].value


# ---------------------------------------------------------------- Runs page: one source of truth (item 4)


def picker_table_message(at: AppTest) -> tuple[str, str, str]:
    """The selected run's state as the picker, the table and the message say it."""
    picker = run_picker(at)
    label = picker.options[picker.index]
    table = at.dataframe[0].value
    row = table[table["run"] == picker.value].iloc[0]
    messages = [e.value for kind in ("success", "info", "warning", "error", "caption") for e in getattr(at, kind)]
    message = next(m for m in messages if m.split(":")[0].split(".")[0] in STATE_WORDS)
    return label.rsplit(" — ", 1)[1], row["state"], message


STATE_WORDS = (
    "Queued",
    "Running",
    "Stopping after the current batch…",
    "Stopped",
    "Interrupted",
    "Completed",
    "Failed",
)


@pytest.mark.parametrize("state", ["queued", "running", "completed", "stopped"])
def test_runs_page_picker_table_and_message_agree(runs_root, finished_run, fake_worker, state):
    live = {"pid": fake_worker.pid, "heartbeat": time.time()} if state in ("queued", "running") else {}
    name = f"20260101-000010-digits-{state[:4]}"
    place_run(finished_run, runs_root, name, state=state, **live)
    at = open_page("app_pages/runs.py")
    picker, table, message = picker_table_message(at)
    assert picker == table == state
    assert message.lower().startswith(state), message
    buttons = {b.key for b in at.button}
    assert ("r_stop" in buttons) == (state in ("queued", "running"))
    assert ("r_resume" in buttons) == (state == "stopped")


@pytest.mark.parametrize(
    ("before", "after", "message"), [("queued", "running", "Running."), ("running", "completed", "Completed.")]
)
def test_runs_page_shows_one_read_of_a_run_whose_state_changes_while_the_page_is_drawn(
    runs_root, finished_run, fake_worker, monkeypatch, before, after, message
):
    """The run moves on between two reads of its status: picker, table and message still agree."""
    live = {"pid": fake_worker.pid, "heartbeat": time.time()}
    run_dir = place_run(finished_run, runs_root, "20260101-000011-digits-move", state=before, **live)
    real_read_status = directory.read_status

    def moves_on_after_one_read(path):
        status = real_read_status(path)
        if path == run_dir and status.state == before:
            moved = real_read_status(path)
            moved.state = after
            write_status(run_dir, moved)
        return status

    monkeypatch.setattr(directory, "read_status", moves_on_after_one_read)
    at = open_page("app_pages/runs.py")
    picker, table, shown = picker_table_message(at)
    assert picker == table and shown.lower().startswith(picker), (picker, table, shown)
    monkeypatch.setattr(directory, "read_status", real_read_status)
    at.run()  # the next refresh shows where the run is now
    assert picker_table_message(at) == (after, after, message)


def test_runs_page_resume_while_another_run_trains_says_queued_everywhere(runs_root, finished_run, fake_worker):
    place_run(
        finished_run,
        runs_root,
        "20260101-000012-digits-busy",
        state="running",
        pid=fake_worker.pid,
        heartbeat=time.time(),
    )
    stopped = place_run(finished_run, runs_root, "20260101-000013-digits-wait", state="stopped")
    at = open_page("app_pages/runs.py")
    run_picker(at).set_value(stopped.name).run()
    at.button(key="r_resume").click().run()
    assert not at.exception
    picker, table, message = picker_table_message(at)
    assert picker == table == "queued" and message.startswith("Queued"), (picker, table, message)


# ---------------------------------------------------------------- Runs page: no empty axes, distinct colours (item 6)


def test_runs_page_says_the_first_points_are_coming_instead_of_empty_charts(runs_root, finished_run, fake_worker):
    run_dir = place_run(
        finished_run,
        runs_root,
        "20260101-000014-digits-new",
        state="queued",
        pid=fake_worker.pid,
        heartbeat=time.time(),
    )
    (run_dir / "metrics.jsonl").write_text("")
    at = open_page("app_pages/runs.py")
    assert any("first ones appear after the first training steps" in i.value for i in at.info)
    assert not at.get("plotly_chart")  # no axes without points


def test_compare_says_when_no_run_has_an_epoch_yet(runs_root, finished_run, fake_worker):
    for suffix in ("new1", "new2"):
        run_dir = place_run(
            finished_run,
            runs_root,
            f"20260101-00001{suffix[-1]}-digits-{suffix}",
            state="queued",
            pid=fake_worker.pid,
            heartbeat=time.time(),
        )
        (run_dir / "metrics.jsonl").write_text("")
    at = open_tab(open_page("app_pages/runs.py"), "r_tab", t("runs.tab.compare"))
    assert any("has finished an epoch yet" in i.value for i in at.info)
    assert not at.get("plotly_chart")


@pytest.mark.parametrize("runs", [2, 5, 10, 14])
def test_compared_runs_each_get_their_own_colour(runs):
    import pandas as pd

    frames = {f"run {k}": pd.DataFrame({"epoch": [1, 2], "val_acc": [0.5, 0.6]}) for k in range(runs)}
    lines = [(trace.line.color, trace.line.dash) for trace in compare_figure(frames, "val_acc", "acc").data]
    assert len(set(lines)) == runs  # no two runs drawn alike
    colours = [colour for colour, _ in lines]
    assert len(set(colours[:10])) == min(runs, 10)  # the first ten: ten different colours
    assert set(colours) <= set(RUN_COLOURS)


def test_train_page_launches_with_the_normalisation_it_shows(runs_root, fake_estimate, monkeypatch):
    launched = []
    fake_run = runs_root / "20260101-000000-digits-fake"
    monkeypatch.setattr(launcher, "launch_run", lambda config, visitor=None: launched.append(config) or fake_run)
    at = open_page("app_pages/train.py")
    assert at.selectbox(key="t_norm").value == "dataset"
    at.selectbox(key="t_norm").set_value("half").run()
    assert not at.exception and not at.error
    at.button(key="t_launch").click().run()
    (config,) = launched
    assert config.normalization == "half"


def test_the_gpu_count_is_offered_only_on_a_machine_with_several(runs_root, fake_estimate, monkeypatch):
    import cnn_core.train.devices as devices

    launched = []
    fake_run = runs_root / "20260101-000000-digits-fake"
    monkeypatch.setattr(launcher, "launch_run", lambda config, visitor=None: launched.append(config) or fake_run)
    at = open_page("app_pages/train.py")
    assert not [box for box in at.selectbox if box.key == "t_gpus"]  # this machine: no GPU
    monkeypatch.setattr(devices, "gpu_count", lambda: 4)
    monkeypatch.setattr(devices, "available_devices", lambda: ["auto", "cpu", "cuda"])
    at.run()
    gpus = at.selectbox(key="t_gpus")
    assert gpus.options == ["1", "2", "3", "4"] and gpus.value == 1
    gpus.set_value(4).run()
    assert t("train.gpus.share", n=4, per=8, batch=32) in [c.value for c in at.caption]
    at.selectbox(key="t_device").set_value("cpu").run()  # the CPU: one process, no GPU count
    assert not [box for box in at.selectbox if box.key == "t_gpus"]
    at.selectbox(key="t_device").set_value("cuda").run()
    at.button(key="t_launch").click().run()
    assert launched and (launched[0].nproc_per_node, launched[0].device, launched[0].batch_size) == (4, "cuda", 32)
