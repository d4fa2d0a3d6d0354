"""Visitors own their runs: signed visitor tokens, and every action on another visitor's run refused
by a direct call to cnn_core with the message of a run that does not exist. The example runs are
read by everyone and changed by nobody."""

from __future__ import annotations

import os
import stat

import pytest

from cnn_core.files import UnsafePathError
from cnn_core.inspection.loading import inspectable_runs
from cnn_core.runs import visitors
from cnn_core.runs.directory import (
    EXAMPLES_OWNER,
    RunError,
    check_access,
    delete_run,
    list_runs,
    read_run_file,
    request_stop,
    resolve_run_dir,
    run_owner,
)
from cnn_core.runs.launcher import resume_run
from cnn_core.settings import get_settings
from tests.test_demo_limits import fake_run


@pytest.fixture
def demo_root(runs_root, monkeypatch):
    monkeypatch.setenv("CNN_LAB_DEMO", "1")
    return runs_root


# ---------------------------------------------------------------- tokens


def test_a_token_names_its_visitor_and_nothing_else_does(demo_root):
    visitor_id, token = visitors.new_visitor()
    assert visitors.visitor_from_token(token) == visitor_id
    other_id, other_token = visitors.new_visitor()
    assert other_id != visitor_id
    forged = f"v1.{other_id}.{token.rsplit('.', 1)[1]}"  # someone else's id under my signature
    flipped = token[:-1] + ("0" if token[-1] != "0" else "1")
    for bad in (
        None,
        "",
        42,
        forged,
        flipped,
        token + "0",
        token.upper(),
        "v1." + visitor_id,
        "v2" + token[2:],
        token.replace(".", "\0"),
        "x" * 10_000,
        ["list"],
    ):
        assert visitors.visitor_from_token(bad) is None, bad


def test_a_reload_is_the_same_visitor_across_servers_sharing_a_secret(demo_root, monkeypatch):
    visitor_id, token = visitors.new_visitor()
    # the random secret is kept in the runs folder, readable by the server's user only
    secret_file = demo_root / visitors.SECRET_FILE
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    assert visitors.visitor_from_token(token) == visitor_id  # read again from the file: same secret
    monkeypatch.setenv("CNN_LAB_SECRET", "a secret set by the operator")
    assert visitors.visitor_from_token(token) is None  # another secret: an unknown token
    second_id, second_token = visitors.new_visitor()
    monkeypatch.setenv("CNN_LAB_SECRET", "a secret set by the operator")  # another process, same secret
    assert visitors.visitor_from_token(second_token) == second_id


def test_the_secret_file_is_never_read_through_a_link(demo_root, tmp_path):
    target = tmp_path / "elsewhere"
    target.write_text("f" * 64)
    os.symlink(target, demo_root / visitors.SECRET_FILE)
    with pytest.raises(UnsafePathError, match="link"):
        visitors.new_visitor()


def test_a_visitors_runs_are_found_again_from_their_token(demo_root):
    visitor_id, token = visitors.new_visitor()
    fake_run(demo_root, "mine", visitor_id)
    fake_run(demo_root, "theirs", "someone-else")
    again = visitors.visitor_from_token(token)  # what a reload carries in its cookie
    assert [r.run_id for r in list_runs(visitor=again)] == ["mine"]


# ---------------------------------------------------------------- isolation


@pytest.fixture
def two_visitors(demo_root):
    a_run = fake_run(demo_root, "a-run", "visitor-a", state="stopped")
    b_run = fake_run(demo_root, "b-run", "visitor-b", state="stopped")
    example = fake_run(demo_root, "example", EXAMPLES_OWNER, state="stopped")
    (a_run / "model.safetensors").write_bytes(b"weights of a")
    (example / "model.safetensors").write_bytes(b"weights of the example")
    return a_run, b_run, example


def test_listing_shows_a_visitor_their_runs_and_the_examples(two_visitors):
    a_run, b_run, example = two_visitors
    assert sorted(r.run_id for r in list_runs(visitor="visitor-a")) == ["a-run", "example"]
    assert sorted(r.run_id for r in list_runs(visitor="visitor-b")) == ["b-run", "example"]
    assert sorted(r.run_id for r in list_runs(visitor="a newcomer")) == ["example"]
    assert sorted(r.run_id for r in list_runs()) == ["a-run", "b-run", "example"]  # the operator


def test_every_action_on_another_visitors_run_is_refused_as_if_it_did_not_exist(two_visitors):
    a_run, _, _ = two_visitors
    missing_message = str(pytest.raises(RunError, resolve_run_dir, "no-such-run", visitor="visitor-b").value)
    actions = {
        "resolve": lambda: resolve_run_dir("a-run", visitor="visitor-b"),
        "resolve by path": lambda: resolve_run_dir(str(a_run), visitor="visitor-b", action="delete"),
        "download": lambda: read_run_file(a_run, "model.safetensors", visitor="visitor-b"),
        "download config": lambda: read_run_file(a_run, "config.json", visitor="visitor-b"),
        "stop": lambda: request_stop(a_run, visitor="visitor-b"),
        "resume": lambda: resume_run(a_run, visitor="visitor-b"),
        "delete": lambda: delete_run(a_run, visitor="visitor-b"),
    }
    for action in ("read", "download", "stop", "resume", "delete"):
        actions[f"check {action}"] = lambda action=action: check_access(a_run, "visitor-b", action)
    for name, action in actions.items():
        with pytest.raises(RunError) as caught:
            action()
        assert "a-run" in str(caught.value), name
        assert "visitor" not in str(caught.value) and "owner" not in str(caught.value), name
        # the same words as for a run that does not exist: nothing tells a guess that it hit
        assert str(caught.value).replace("a-run", "X") == missing_message.replace("no-such-run", "X"), name
    assert a_run.is_dir() and not (a_run / "stop-requested").exists()
    assert run_owner(a_run) == "visitor-a"


def test_the_owner_and_the_operator_may_do_everything(two_visitors):
    a_run, _, _ = two_visitors
    assert resolve_run_dir("a-run", visitor="visitor-a", action="delete") == a_run
    assert read_run_file(a_run, "model.safetensors", visitor="visitor-a") == b"weights of a"
    assert read_run_file(a_run, "model.safetensors") == b"weights of a"
    delete_run(a_run, visitor="visitor-a")
    assert not a_run.exists()


def test_example_runs_are_read_only_for_every_visitor(two_visitors):
    _, _, example = two_visitors
    for visitor in ("visitor-a", "visitor-b"):
        assert resolve_run_dir("example", visitor=visitor) == example
        assert read_run_file(example, "model.safetensors", visitor=visitor) == b"weights of the example"
        for change in (request_stop, resume_run, delete_run):
            with pytest.raises(RunError, match="example"):
                change(example, visitor=visitor)
    assert example.is_dir() and not (example / "stop-requested").exists()


def test_downloads_never_follow_links(two_visitors, tmp_path):
    a_run, _, _ = two_visitors
    secret = tmp_path / "secret.txt"
    secret.write_text("not yours")
    os.symlink(secret, a_run / "metrics.jsonl")
    with pytest.raises(RunError):
        read_run_file(a_run, "metrics.jsonl", visitor="visitor-a")
    with pytest.raises(RunError, match="no file"):
        read_run_file(a_run, "predictions.json", visitor="visitor-a")


def test_the_look_inside_pages_list_only_what_a_visitor_may_read(two_visitors):
    assert sorted(r.run_id for r in inspectable_runs(visitor="visitor-b")) == ["example"]
    assert sorted(r.run_id for r in inspectable_runs(visitor="visitor-a")) == ["a-run", "example"]


def test_outside_a_demo_there_is_one_user(runs_root):
    assert not get_settings().demo
    fake_run(runs_root, "anyone", None)
    assert [r.run_id for r in list_runs()] == ["anyone"]
