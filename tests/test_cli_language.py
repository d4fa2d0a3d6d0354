"""The command line speaks the server's language: Chinese when CNN_LAB_LANG=zh, or when the system
locale is Chinese (LANG=zh_CN.UTF-8) and CNN_LAB_LANG is unset; English by default. Run as users
run it, `python -m cnn_core …` in a subprocess."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from cnn_core.i18n import catalog
from tests.conftest import REPO_ROOT

EN = catalog("en")
ZH = catalog("zh")
CHINESE = re.compile(r"[\u4e00-\u9fff]")
LOCALE_VARIABLES = ("CNN_LAB_LANG", "LC_ALL", "LC_MESSAGES", "LANG", "LANGUAGE")
# what the help shows: the description, every command's and every option's help, argparse's own words
TOP_KEYS = ["cli.description", "cli.usage", "cli.options", "cli.arg.help"] + [
    f"cli.{command}.help" for command in ("train", "resume", "stop", "status", "list")
]
TRAIN_KEYS = ["cli.arg.epochs", "cli.arg.batch_size", "cli.arg.lr", "cli.arg.device", "cli.arg.wait", "cli.arg.seed"]


def cli(*args: str, runs_dir, **language: str) -> subprocess.CompletedProcess:
    """`python -m cnn_core *args` with the locale variables given and every other one unset."""
    env = {k: v for k, v in os.environ.items() if k not in LOCALE_VARIABLES}
    env.update(language, CNN_LAB_RUNS_DIR=str(runs_dir), PYTHONPATH=str(REPO_ROOT))
    return subprocess.run(
        [sys.executable, "-m", "cnn_core", *args],
        capture_output=True,
        text=True,
        timeout=60,  # guards against a hang only
        env=env,
        cwd=str(REPO_ROOT),
        stdin=subprocess.DEVNULL,
    )


def texts_problems(output: str, keys: list[str], expected: dict, other: dict) -> list[str]:
    """Each key's text in the expected language is in the output, and its other-language text is not."""
    flat = " ".join(output.split())  # argparse wraps long help over lines
    problems = [f"{key}: {expected[key]!r} missing" for key in keys if " ".join(expected[key].split()) not in flat]
    problems += [
        f"{key}: {other[key]!r} shown" for key in keys if other[key] != expected[key] and other[key].strip() in flat
    ]
    return problems


@pytest.mark.parametrize(
    "language",
    [{"CNN_LAB_LANG": "zh"}, {"LANG": "zh_CN.UTF-8"}, {"LC_ALL": "zh_CN.UTF-8", "LANG": "en_US.UTF-8"}],
    ids=["CNN_LAB_LANG", "LANG", "LC_ALL"],
)
def test_cli_speaks_chinese_when_the_server_says_so(tmp_path, language):
    top = cli("--help", runs_dir=tmp_path, **language)
    train = cli("train", "--help", runs_dir=tmp_path, **language)
    assert top.returncode == 0 and train.returncode == 0, (top.stderr, train.stderr)
    problems = texts_problems(top.stdout, TOP_KEYS, ZH, EN) + texts_problems(train.stdout, TRAIN_KEYS, ZH, EN)
    assert not problems, "\n".join(problems) + "\n" + top.stdout + train.stdout
    error = cli("status", "no-such-run", runs_dir=tmp_path, **language)
    assert error.returncode != 0 and CHINESE.search(error.stderr + error.stdout), error


def test_cli_speaks_english_by_default_and_when_asked(tmp_path):
    for language in ({}, {"LANG": "C.UTF-8"}, {"CNN_LAB_LANG": "en", "LANG": "zh_CN.UTF-8"}):
        top = cli("--help", runs_dir=tmp_path, **language)
        train = cli("train", "--help", runs_dir=tmp_path, **language)
        assert top.returncode == 0 and train.returncode == 0, (top.stderr, train.stderr)
        problems = texts_problems(top.stdout, TOP_KEYS, EN, ZH) + texts_problems(train.stdout, TRAIN_KEYS, EN, ZH)
        assert not problems, (language, problems)
        assert not CHINESE.search(top.stdout + train.stdout), (language, top.stdout)
        error = cli("status", "no-such-run", runs_dir=tmp_path, **language)
        assert error.returncode != 0 and not CHINESE.search(error.stderr + error.stdout), error


def test_texts_check_catches_the_wrong_language():
    english_help = "usage: python -m cnn_core\n\nTrain and manage CNN Lab runs.\n"
    problems = texts_problems(english_help, ["cli.description", "cli.usage"], ZH, EN)
    assert any(p.startswith("cli.description:") and "missing" in p for p in problems), problems
    assert any(p.startswith("cli.usage:") and "shown" in p for p in problems), problems
