"""The container recipe (Dockerfile) and its CPU requirements, checked without a container engine:
the Dockerfile is parsed, its facts are checked, and its own CMD and HEALTHCHECK commands are run
here, from the repository root, with its ENV applied (paths moved into a temporary folder and the
port onto a free one)."""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import tomllib
import urllib.request
from pathlib import Path, PurePosixPath

from tests.browser import free_port
from tests.conftest import REPO_ROOT, wait_for

DOCKERFILE = REPO_ROOT / "Dockerfile"
CPU_REQUIREMENTS = REPO_ROOT / "deploy" / "requirements-cpu.txt"
CPU_INDEX = "https://download.pytorch.org/whl/cpu"
TORCH_PACKAGES = {"torch", "torchvision"}


# ---------------------------------------------------------------- parsing


def dockerfile_instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order: comments dropped, backslash continuations joined."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):  # a comment inside a continued instruction
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        full = (pending + line).strip()
        pending = ""
        if full:
            keyword, _, rest = full.partition(" ")
            instructions.append((keyword.upper(), rest.strip()))
    assert not pending, "the Dockerfile ends inside a continued line"
    return instructions


def parse_env(arguments: str) -> dict[str, str]:
    """An ENV instruction's KEY=VALUE pairs (the legacy `ENV KEY VALUE` form is not used here)."""
    pairs = {}
    for word in shlex.split(arguments):
        key, sep, value = word.partition("=")
        assert sep, f"ENV {arguments!r} is not in KEY=VALUE form"
        pairs[key] = value
    return pairs


def exec_form(arguments: str) -> list[str]:
    """A JSON (exec-form) argument list; fails for the shell form."""
    assert arguments.startswith("["), f"{arguments!r} is not in exec form"
    argv = json.loads(arguments)
    assert isinstance(argv, list) and argv and all(isinstance(a, str) for a in argv)
    return argv


def healthcheck(arguments: str) -> tuple[dict[str, str], list[str]]:
    """HEALTHCHECK's --options and its CMD's exec-form argv."""
    options = {}
    rest = arguments
    while rest.startswith("--"):
        option, _, rest = rest.partition(" ")
        name, _, value = option[2:].partition("=")
        options[name] = value
        rest = rest.strip()
    keyword, _, command = rest.partition(" ")
    assert keyword.upper() == "CMD", f"HEALTHCHECK {arguments!r} has no CMD"
    return options, exec_form(command.strip())


class Dockerfile:
    def __init__(self, path: Path = DOCKERFILE):
        self.instructions = dockerfile_instructions(path.read_text())

    def all(self, keyword: str) -> list[str]:
        return [args for kw, args in self.instructions if kw == keyword]

    def last(self, keyword: str) -> str:
        found = self.all(keyword)
        assert found, f"the Dockerfile has no {keyword}"
        return found[-1]

    @property
    def env(self) -> dict[str, str]:
        merged: dict[str, str] = {}
        for args in self.all("ENV"):
            merged.update(parse_env(args))
        return merged

    @property
    def volumes(self) -> list[str]:
        args = self.last("VOLUME")
        return json.loads(args) if args.startswith("[") else args.split()


def requirement_pins(path: Path) -> dict[str, str]:
    """name → the whole pin line (`name==version`), options and comments left out."""
    pins = {}
    for raw in path.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        name = re.split(r"[=<>!~\[; ]", line, maxsplit=1)[0].lower()
        pins[name] = line
    return pins


def requirement_options(path: Path) -> list[str]:
    return [line.split("#", 1)[0].strip() for line in path.read_text().splitlines() if line.strip().startswith("-")]


# ---------------------------------------------------------------- static facts


def test_cpu_requirements_match_requirements_txt():
    main = requirement_pins(REPO_ROOT / "requirements.txt")
    cpu = requirement_pins(CPU_REQUIREMENTS)
    for name, pin in main.items():
        if name not in TORCH_PACKAGES:
            assert cpu.get(name) == pin, f"deploy/requirements-cpu.txt must pin {pin!r} as requirements.txt does"
    assert set(cpu) == set(main), "deploy/requirements-cpu.txt and requirements.txt list different packages"
    assert cpu["torch"] == "torch==2.14.1"
    assert cpu["torchvision"] == "torchvision==0.29.1"
    for name in TORCH_PACKAGES:  # the same versions as the app is tested with
        assert cpu[name] == main[name]
    options = requirement_options(CPU_REQUIREMENTS)
    assert any(re.fullmatch(rf"--(extra-)?index-url[ =]{re.escape(CPU_INDEX)}", o) for o in options), options


def test_dockerfile_facts():
    docker = Dockerfile()
    assert docker.instructions[0] == ("FROM", "python:3.11-slim")
    installs = " ".join(docker.all("RUN"))
    assert "pip install -r deploy/requirements-cpu.txt" in installs
    assert "requirements.txt" not in installs.replace("requirements-cpu.txt", "")

    env = docker.env
    assert env["CNN_LAB_RUNS_DIR"] == "/data/runs"
    assert env["CNN_LAB_DATA_DIR"] == "/data/datasets"
    assert env["CNN_LAB_DEMO"] == "1"
    assert env["STREAMLIT_SERVER_PORT"] == "8501"
    assert env["STREAMLIT_SERVER_ADDRESS"] == "0.0.0.0"
    assert env["STREAMLIT_SERVER_HEADLESS"] == "true"
    assert not any("XSRF" in key.upper() for key in env), "XSRF protection stays on"

    user = docker.last("USER")
    assert user.split(":")[0] not in {"root", "0"}
    assert re.search(rf"useradd\b.*\b{re.escape(user)}\b", installs), "USER is created in the image"
    assert re.search(rf"chown -R {re.escape(user)}:{re.escape(user)} /data\b", installs)
    # the user owns the data folders before they become a volume (later changes would be discarded)
    keywords = [kw for kw, _ in docker.instructions]
    assert keywords.index("VOLUME") > max(i for i, (kw, a) in enumerate(docker.instructions) if "chown" in a)
    assert docker.volumes == ["/data"]
    for path in (env["CNN_LAB_RUNS_DIR"], env["CNN_LAB_DATA_DIR"]):
        assert PurePosixPath(path).is_relative_to("/data")

    assert docker.last("EXPOSE").split("/")[0] == env["STREAMLIT_SERVER_PORT"]

    cmd = exec_form(docker.last("CMD"))
    assert cmd[:3] == ["python", "-m", "cnn_core.serve"]  # `streamlit run app.py`, warmed up before the first visitor
    assert not any(arg.startswith("--server.port") for arg in cmd), "the port comes from STREAMLIT_SERVER_PORT"

    options, probe = healthcheck(docker.last("HEALTHCHECK"))
    assert probe[0] == "python"
    assert "urllib" in " ".join(probe) and "/_stcore/health" in " ".join(probe)
    assert "STREAMLIT_SERVER_PORT" in " ".join(probe)
    assert {"interval", "timeout", "start-period", "retries"} <= set(options)


def test_streamlit_config_keeps_xsrf_protection():
    config = tomllib.loads((REPO_ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["enableXsrfProtection"] is True


def test_dockerignore_keeps_local_state_out():
    ignored = {line.strip() for line in (REPO_ROOT / ".dockerignore").read_text().splitlines()}
    assert {".git", ".venv", "runs", "data", "test-artifacts", ".streamlit/secrets.toml"} <= ignored


# ---------------------------------------------------------------- the CMD and HEALTHCHECK, run


def container_env(docker: Dockerfile, tmp_path: Path, port: int) -> dict[str, str]:
    """The Dockerfile's ENV over this environment, with the volume's paths moved under tmp_path, the
    port replaced by a free one, and this interpreter's folder first on PATH (the image's `python`)."""
    env = dict(os.environ)
    volumes = [PurePosixPath(v) for v in docker.volumes]
    for key, value in docker.env.items():
        inside = next((v for v in volumes if PurePosixPath(value).is_relative_to(v)), None)
        if inside is not None:
            value = str(tmp_path / PurePosixPath(value).relative_to(inside))
        env[key] = value
    env["STREAMLIT_SERVER_PORT"] = str(port)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return env


def http_get(url: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.status, response.read()


def health_ok(url: str) -> bool:
    try:
        return http_get(url) == (200, b"ok")
    except OSError:
        return False


def test_cmd_and_healthcheck_run_outside_a_container(runs_root, tmp_path):
    docker = Dockerfile()
    port = free_port()
    env = container_env(docker, tmp_path, port)
    assert env["CNN_LAB_RUNS_DIR"] == str(runs_root)  # runs_root kills whatever this run leaves
    assert env["CNN_LAB_DEMO"] == "1"
    Path(env["CNN_LAB_DATA_DIR"]).mkdir(parents=True, exist_ok=True)
    base = f"http://127.0.0.1:{port}"
    log_path = tmp_path / "streamlit.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            exec_form(docker.last("CMD")),
            cwd=REPO_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            try:
                wait_for(
                    lambda: proc.poll() is not None or health_ok(f"{base}/_stcore/health"),
                    60,
                    interval=0.3,
                    message="/_stcore/health to answer ok",
                )
            except AssertionError as exc:
                raise AssertionError(f"{exc}\n{log_path.read_text(errors='replace')[-3000:]}") from None
            assert proc.poll() is None, f"streamlit exited: {log_path.read_text(errors='replace')[-3000:]}"

            _, probe = healthcheck(docker.last("HEALTHCHECK"))
            result = subprocess.run(probe, cwd=REPO_ROOT, env=env, capture_output=True, timeout=60)
            assert result.returncode == 0, result.stderr.decode(errors="replace")

            status, body = http_get(f"{base}/")
            assert status == 200 and b"<html" in body.lower()
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def test_healthcheck_fails_without_a_server(tmp_path):
    """The probe's exit status means something: with nothing listening on the port it is not 0."""
    docker = Dockerfile()
    env = container_env(docker, tmp_path, free_port())
    _, probe = healthcheck(docker.last("HEALTHCHECK"))
    result = subprocess.run(probe, cwd=REPO_ROOT, env=env, capture_output=True, timeout=60)
    assert result.returncode != 0
