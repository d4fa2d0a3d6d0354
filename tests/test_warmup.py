"""The server's warm-up (cnn_core.warmup): its modules imported once in the background, and torch's
threads in the server's process set from the settings, in a fresh process each time."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.conftest import REPO_ROOT

SCRIPT = """
import json, sys
from cnn_core.warmup import import_in_background
assert "torch" not in sys.modules  # the package imports without torch
first = import_in_background(("json", "torch", "no_such_module_anywhere", "cnn_core.inspection.maximise"))
first.join()
import torch
print(json.dumps({
    "second": import_in_background() is None,
    "threads": torch.get_num_threads(),
    "imported": [m in sys.modules for m in ("torch", "cnn_core.inspection.maximise")],
}))
"""


def warm_up(threads: str) -> dict:
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT), CNN_LAB_SERVER_THREADS=threads, OMP_NUM_THREADS="2")
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_warm_up_imports_once_past_a_missing_module_and_sets_the_servers_threads():
    result = warm_up("1")
    assert result == {"second": True, "threads": 1, "imported": [True, True]}


def test_zero_server_threads_leaves_torchs_default():
    assert warm_up("0")["threads"] == 2  # OMP_NUM_THREADS, as torch reads it
