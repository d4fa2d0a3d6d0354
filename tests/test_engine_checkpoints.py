"""Checkpoints: a truncated or overwritten newest checkpoint falls back to the previous one,
a garbage pointer file is survived, and a pickle of an arbitrary object is refused unexecuted."""

from __future__ import annotations

import json
import pathlib
import pickle
import shutil

import pytest
import torch

from cnn_core.runs.directory import Status
from cnn_core.train.checkpoints import KEEP, checkpoint_dir, load_latest_checkpoint, save_checkpoint
from cnn_core.train.loop import run_training
from tests.conftest import one_torch_thread, tiny_config


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    """A completed 3-epoch run in-process: checkpoints at every epoch end, the last two kept."""
    run_dir = tmp_path_factory.mktemp("ckpt") / "run"
    run_dir.mkdir()
    with one_torch_thread():
        run_training(run_dir, tiny_config(epochs=3), lambda: False, Status())
    return run_dir


@pytest.fixture
def run_copy(trained_run, tmp_path):
    target = tmp_path / "run"
    shutil.copytree(trained_run, target)
    return target


def _files(run_dir):
    return sorted(checkpoint_dir(run_dir).glob("ckpt-*.pt"))


def test_two_checkpoints_kept_and_newest_loaded(run_copy):
    files = _files(run_copy)
    assert len(files) == KEEP == 2
    pointer = json.loads((checkpoint_dir(run_copy) / "latest.json").read_text())
    assert pointer["file"] == files[-1].name
    state, path = load_latest_checkpoint(run_copy)
    assert path == files[-1] and state["epoch"] == 3 and state["step_in_epoch"] == 0
    assert not list(checkpoint_dir(run_copy).glob(".ckpt-*"))  # no temporary file left


def _previous_is_loaded(run_dir):
    older, newest = _files(run_dir)
    state, path = load_latest_checkpoint(run_dir)
    assert path == older, "should fall back to the previous checkpoint"
    assert state["epoch"] == 2 and state["global_step"] < int(newest.name[5:13])
    return state


def test_truncated_newest_falls_back(run_copy):
    newest = _files(run_copy)[-1]
    newest.write_bytes(newest.read_bytes()[: newest.stat().st_size // 2])
    _previous_is_loaded(run_copy)


def test_emptied_newest_falls_back(run_copy):
    _files(run_copy)[-1].write_bytes(b"")
    _previous_is_loaded(run_copy)


def test_overwritten_newest_falls_back(run_copy):
    newest = _files(run_copy)[-1]
    data = bytearray(newest.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte: the zip may still load, the SHA-256 does not match
    newest.write_bytes(bytes(data))
    _previous_is_loaded(run_copy)
    newest.write_bytes(b"\x00" * len(data))  # all garbage, same size
    _previous_is_loaded(run_copy)


def test_garbage_pointer_still_loads_the_newest(run_copy):
    newest = _files(run_copy)[-1]
    pointer = checkpoint_dir(run_copy) / "latest.json"
    for junk in (b"\x00\xffnot json", b'{"file": "../../etc/passwd", "sha256": "00"}', b"[1,2]", b""):
        pointer.write_bytes(junk)
        try:
            state, path = load_latest_checkpoint(run_copy)
        except Exception as exc:  # noqa: BLE001 - any exception here is the failure under test
            pytest.fail(f"load_latest_checkpoint raised {exc!r} for latest.json = {junk!r}")
        assert path == newest and state["epoch"] == 3, junk
    pointer.unlink()
    assert load_latest_checkpoint(run_copy)[1] == newest


def test_nothing_loadable_gives_none(run_copy):
    for f in _files(run_copy):
        f.write_bytes(b"junk")
    assert load_latest_checkpoint(run_copy) == (None, None)
    assert load_latest_checkpoint(run_copy / "no-such-run") == (None, None)


class _Payload:
    """Unpickling this would call pathlib.Path.touch(marker): proof that the pickle was executed."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return pathlib.Path.touch, (pathlib.Path(self.marker),)


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
@pytest.mark.parametrize("how", ["pickle", "torch.save"])
def test_arbitrary_pickle_is_refused_never_executed(run_copy, tmp_path, how):
    older, newest = _files(run_copy)
    marker = tmp_path / "executed"
    evil = checkpoint_dir(run_copy) / "ckpt-99999999.pt"  # the newest by name
    payload = {"model": _Payload(str(marker))}
    if how == "pickle":
        evil.write_bytes(pickle.dumps(payload))
    else:
        torch.save(payload, evil)
    # the pointer even vouches for it with the right hash
    import hashlib

    (checkpoint_dir(run_copy) / "latest.json").write_text(
        json.dumps({"file": evil.name, "step": 99999999, "sha256": hashlib.sha256(evil.read_bytes()).hexdigest()})
    )
    state, path = load_latest_checkpoint(run_copy)
    assert not marker.exists(), "the checkpoint's pickle was executed"
    assert path == newest and state["epoch"] == 3
    # and the same file replacing the real newest one
    shutil.copyfile(evil, newest)
    evil.unlink()
    state, path = load_latest_checkpoint(run_copy)
    assert not marker.exists()
    assert path == older


def test_save_checkpoint_cleans_stray_temporaries(tmp_path):
    folder = checkpoint_dir(tmp_path)
    folder.mkdir()
    stray = folder / ".ckpt-00000005.12345.tmp"  # left by a kill during an earlier write
    stray.write_bytes(b"half a checkpoint")
    for step in (1, 2, 3):
        save_checkpoint(tmp_path, {"model": {"w": torch.full((2,), float(step))}}, step)
    assert not stray.exists()
    assert [p.name for p in _files(tmp_path)] == ["ckpt-00000002.pt", "ckpt-00000003.pt"]
    state, path = load_latest_checkpoint(tmp_path)
    assert path.name == "ckpt-00000003.pt" and torch.equal(state["model"]["w"], torch.full((2,), 3.0))
