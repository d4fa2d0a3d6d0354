"""A hosted demo's example runs: trained in the background on the first start, once, owned by
nobody a visitor can be, readable by all."""

from __future__ import annotations

import pytest

from cnn_core.inspection.loading import inspectable_runs, load_run
from cnn_core.runs import examples
from cnn_core.runs.directory import (
    EXAMPLES_OWNER,
    RunError,
    delete_run,
    list_runs,
    read_status,
    run_owner,
    run_path,
    write_status,
)
from tests.conftest import wait_state


@pytest.fixture
def demo_root(runs_root, monkeypatch):
    monkeypatch.setenv("CNN_LAB_DEMO", "1")
    monkeypatch.setenv("CNN_LAB_MAX_CONCURRENT_RUNS", "2")
    monkeypatch.setenv("CNN_LAB_EXAMPLE_EPOCHS", "1")  # the same networks and data, sooner
    return runs_root


def test_the_examples_are_the_seeds_networks_on_the_embedded_data():
    assert {key: (c["dataset"], c["preset"]) for key, c in examples.EXAMPLES.items()} == {
        "digits-seed002": ("digits", "seed002_mnist_cnn"),
        "shapes-seed000": ("shapes", "seed000_cifar_cnn"),
    }
    for key in examples.EXAMPLES:
        config = examples.example_config(key)
        config.validate()
        assert config.name and config.device == "cpu" and config.epochs == 4


def test_the_first_start_trains_the_examples_once_and_everyone_reads_them(demo_root):
    index = examples.ensure_example_runs()
    assert set(index) == set(examples.EXAMPLES)
    assert examples.ensure_example_runs() == index  # a second start (or a second server process) adds none
    assert len(list_runs()) == len(examples.EXAMPLES)
    for run_id in index.values():
        run_dir = run_path(run_id)
        assert run_owner(run_dir) == EXAMPLES_OWNER
        wait_state(run_dir, "completed", timeout=240)
    for visitor in ("visitor-a", "visitor-b"):
        assert {r.run_id for r in inspectable_runs(visitor=visitor)} == set(index.values())
    loaded = load_run(run_path(index["digits-seed002"]))
    assert loaded.source == "final"
    with pytest.raises(RunError, match="example"):
        delete_run(run_path(index["digits-seed002"]), visitor="visitor-a")


def test_a_later_start_relaunches_a_removed_example_and_resumes_an_interrupted_one(demo_root):
    index = examples.ensure_example_runs()
    digits, shapes = (run_path(index[key]) for key in ("digits-seed002", "shapes-seed000"))
    wait_state(digits, "completed", timeout=240)
    wait_state(shapes, "completed", timeout=240)
    delete_run(digits)  # the operator removed it
    status = read_status(shapes)
    status.state, status.pid = "interrupted", None  # as a restart of the server leaves a run
    write_status(shapes, status)
    again = examples.ensure_example_runs()
    assert again["shapes-seed000"] == index["shapes-seed000"]
    assert again["digits-seed002"] != index["digits-seed002"]
    assert read_status(shapes).state in ("queued", "running", "completed")
    wait_state(run_path(again["digits-seed002"]), "completed", timeout=240)
    wait_state(shapes, "completed", timeout=240)
