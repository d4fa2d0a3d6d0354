#!/usr/bin/env python
"""Peak memory of the app as the Dockerfile runs it, for sizing a hosted demo.

The Streamlit server is started with the Dockerfile's own CMD and ENV (parsed from the file, as
tests/test_deploy.py does; CNN_LAB_DEMO=1), the volume's paths moved into a temporary folder and
the port onto a free one. Debian's headless Chromium (Playwright) opens every page of app.py's
navigation once and waits for each to finish running; then the default training run is launched
from the command line

    python -m cnn_core train --dataset digits --preset seed002_mnist_cnn --epochs 3 --wait

with the same CNN_LAB_RUNS_DIR, and while it trains the browser opens /runs (its live view). The
script samples, every --interval-s:

- the server's process tree: VmHWM (peak resident set, from /proc/PID/status) of every process
  in it, each process's largest value kept; reported as the server's own peak and as the sum over
  every process the tree held (an upper bound on what was resident at one moment);
- the detached worker (`cnn_core.runs.worker`, not a child of the server): its VmHWM, sampled
  until it ends (the last sample before it exits is the peak seen);
- the venv's sizes that bear on an image: site-packages without the CUDA build's torch, nvidia-*,
  triton and cuda-* folders, and those folders themselves as installed here.

    .venv/bin/python benchmarks/bench_memory.py
    .venv/bin/python benchmarks/bench_memory.py --json memory.json
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import signal
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.browser import CHROMIUM, CHROMIUM_FLAGS, free_port  # noqa: E402
from tests.test_deploy import Dockerfile, container_env, exec_form  # noqa: E402

TRAIN_ARGS = ["-m", "cnn_core", "train", "--dataset", "digits", "--preset", "seed002_mnist_cnn", "--epochs", "3"]
CUDA_STACK = ("torch", "nvidia", "triton", "cuda")  # top-level folders of the CUDA build and its wheels


# ---------------------------------------------------------------- /proc


def proc_status_kib(pid: int, field: str) -> int | None:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    match = re.search(rf"^{field}:\s+(\d+) kB", text, re.MULTILINE)
    return int(match.group(1)) if match else None


def children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            found += [int(c) for c in (task / "children").read_text().split()]
    return found


def tree(pid: int) -> list[int]:
    pids, todo = [], [pid]
    while todo:
        p = todo.pop()
        pids.append(p)
        todo += children(p)
    return pids


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


class Sampler(threading.Thread):
    """Every interval_s: VmHWM and VmRSS of the server's process tree and of every training worker of
    runs under runs_dir (a worker the command line launched is not in the server's tree). Keeps each
    process's largest VmHWM and its last command line (a child shows the server's until it execs),
    and the largest sum of VmRSS over all of them at one sample."""

    def __init__(self, server_pid: int, runs_dir: Path, interval_s: float):
        super().__init__(daemon=True)
        self.server_pid, self.runs_dir, self.interval_s = server_pid, str(runs_dir), interval_s
        self.peaks: dict[int, int] = {}
        self.names: dict[int, str] = {}
        self.workers: set[int] = set()
        self.tree_pids_seen: set[int] = set()
        self.max_total_rss = 0
        self.samples = 0
        self.stop = threading.Event()

    def scan_workers(self) -> None:
        for entry in Path("/proc").iterdir():
            line = cmdline(int(entry.name)) if entry.name.isdigit() else ""
            if "cnn_core.runs.worker" in line and self.runs_dir in line:
                self.workers.add(int(entry.name))

    def sample(self) -> None:
        if self.samples % 5 == 0:  # a /proc scan is not free: every fifth sample
            self.scan_workers()
        self.samples += 1
        total_rss = 0
        in_tree = set(tree(self.server_pid))
        self.tree_pids_seen |= in_tree
        for pid in in_tree | self.workers:
            hwm, rss = proc_status_kib(pid, "VmHWM"), proc_status_kib(pid, "VmRSS")
            if hwm is None or rss is None:
                continue
            self.peaks[pid] = max(hwm, self.peaks.get(pid, 0))
            self.names[pid] = cmdline(pid) or self.names.get(pid, "")
            total_rss += rss
        self.max_total_rss = max(self.max_total_rss, total_rss)

    def run(self) -> None:
        while not self.stop.is_set():
            self.sample()
            time.sleep(self.interval_s)


# ---------------------------------------------------------------- the app and the browser


def page_paths() -> list[str]:
    """URL paths of app.py's navigation: "/" for the default page, else the page file's stem."""
    source = (ROOT / "app.py").read_text()
    paths = []
    for match in re.finditer(r'st\.Page\(\s*"([^"]+)"([^)]*)\)', source, re.DOTALL):
        paths.append("/" if "default=True" in match.group(2) else "/" + Path(match.group(1)).stem)
    return paths


def wait_until_idle(page, timeout_s: float = 120) -> None:
    """The page has drawn its main block and Streamlit's "running" indicator is gone (twice, 0.5 s apart)."""
    page.wait_for_selector("[data-testid=stMainBlockContainer]", timeout=timeout_s * 1000)
    deadline = time.monotonic() + timeout_s
    quiet = 0
    while quiet < 2 and time.monotonic() < deadline:
        running = page.locator("[data-testid=stStatusWidget]").count()
        quiet = quiet + 1 if not running else 0
        page.wait_for_timeout(500)


def health(base: str) -> bool:
    try:
        with urllib.request.urlopen(f"{base}/_stcore/health", timeout=5) as response:
            return response.read() == b"ok"
    except OSError:
        return False


# ---------------------------------------------------------------- sizes


def du_kib(path: Path) -> int:
    return int(subprocess.run(["du", "-sk", str(path)], capture_output=True, text=True, check=True).stdout.split()[0])


def venv_sizes() -> dict[str, int]:
    site = Path(sysconfig.get_paths()["purelib"])
    sizes = {name: du_kib(site / name) for name in CUDA_STACK if (site / name).exists()}
    total = du_kib(site)
    return {
        "site_packages_kib": total,
        **{f"{k}_kib": v for k, v in sizes.items()},
        "rest_kib": total - sum(sizes.values()),
    }


# ---------------------------------------------------------------- main


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--interval-s", type=float, default=0.02, help="sampling period")
    parser.add_argument("--json", type=Path, help="write the results here too")
    parser.add_argument(
        "--volume",
        type=Path,
        help="the folder standing in for the image's /data (default: a new temporary one); pass the "
        "previous run's to measure a restart, when the demo's example runs are already trained",
    )
    args = parser.parse_args()

    docker = Dockerfile()
    tmp = args.volume.resolve() if args.volume else Path(tempfile.mkdtemp(prefix="cnn-lab-memory-"))
    print(f"volume: {tmp}", file=sys.stderr)
    port = free_port()
    env = container_env(docker, tmp, port)
    assert env["CNN_LAB_DEMO"] == "1", env["CNN_LAB_DEMO"]
    for key in ("CNN_LAB_RUNS_DIR", "CNN_LAB_DATA_DIR"):
        Path(env[key]).mkdir(parents=True, exist_ok=True)
    base = f"http://127.0.0.1:{port}"
    load_before = os.getloadavg()
    log = open(tmp / "streamlit.log", "wb")  # noqa: SIM115 - closed in the finally
    server = subprocess.Popen(
        exec_form(docker.last("CMD")),
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    sampler = Sampler(server.pid, Path(env["CNN_LAB_RUNS_DIR"]), args.interval_s)
    sampler.start()
    trainer = None
    timings: dict[str, float] = {}
    try:
        deadline = time.monotonic() + 60
        while not health(base):
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit(f"streamlit did not start; log in {tmp / 'streamlit.log'}")
            time.sleep(0.3)
        after_start = proc_status_kib(server.pid, "VmHWM")

        from playwright.sync_api import sync_playwright

        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
            try:
                page = browser.new_page(viewport={"width": 1400, "height": 1800})
                page.set_default_timeout(120_000)
                for path in page_paths():
                    start = time.monotonic()
                    page.goto(base + path)
                    wait_until_idle(page)
                    timings[path] = round(time.monotonic() - start, 1)
                    print(f"opened {path:<24} {timings[path]:5.1f} s", file=sys.stderr)
                after_pages = proc_status_kib(server.pid, "VmHWM")

                trainer = subprocess.Popen(
                    [sys.executable, *TRAIN_ARGS, "--wait"],
                    cwd=ROOT,
                    env=env,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.DEVNULL,
                    text=True,
                    start_new_session=True,
                )
                page.goto(base + "/runs")
                wait_until_idle(page)
                train_output = trainer.communicate(timeout=1200)[0]
                page.wait_for_timeout(3000)  # the live view's last refreshes after the run ends
                wait_until_idle(page)
            finally:
                browser.close()
        sampler.sample()
        server_rss_end = proc_status_kib(server.pid, "VmRSS")
    finally:
        sampler.stop.set()
        sampler.join()
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        if trainer is not None and trainer.poll() is None:
            os.killpg(trainer.pid, signal.SIGKILL)
            trainer.wait()
        sampler.scan_workers()  # workers still training (detached from the server): ours to end
        for pid in sampler.workers:
            if sampler.runs_dir in cmdline(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        log.close()
    load_after = os.getloadavg()

    import torch

    cli_run = Path(train_output.strip().splitlines()[0]).name
    workers, helpers = {}, {}
    for pid, kib in sampler.peaks.items():
        name = sampler.names[pid]
        if "cnn_core.runs.worker" in name:
            run_dir = Path(name.split("cnn_core.runs.worker", 1)[1].split()[0])
            config = json.loads((run_dir / "config.json").read_text())
            workers[str(pid)] = {
                "run": run_dir.name,
                "launched_by": "command line" if run_dir.name == cli_run else "server",
                "what": f"{config['dataset']} {config['preset']} {config['epochs']} epochs",
                "in_server_tree": pid != server.pid and pid in sampler.tree_pids_seen,
                "vmhwm_kib": kib,
            }
        elif pid != server.pid:
            helpers[str(pid)] = {"cmd": name, "vmhwm_kib": kib}
    results = {
        "machine": {
            "cpus": os.cpu_count(),
            "mem_total_kib": proc_meminfo_total(),
            "python": platform.python_version(),
            "torch": torch.__version__,
            "torch_cuda_build": torch.version.cuda,
            "load_before": load_before,
            "load_after": load_after,
        },
        "volume": str(tmp),
        "server_vmhwm_after_start_kib": after_start,
        "server_vmhwm_after_pages_kib": after_pages,
        "server_vmhwm_end_kib": sampler.peaks.get(server.pid),
        "server_vmrss_end_kib": server_rss_end,
        "helpers": helpers,
        "workers": workers,
        "max_simultaneous_rss_sum_kib": sampler.max_total_rss,
        "vmhwm_sum_kib": sum(sampler.peaks.values()),
        "samples": sampler.samples,
        "train_output": train_output.strip().splitlines(),
        "page_seconds": timings,
        "venv": venv_sizes(),
    }
    print(json.dumps(results, indent=1))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    print(markdown(results))
    return 0


def proc_meminfo_total() -> int | None:
    match = re.search(r"^MemTotal:\s+(\d+) kB", Path("/proc/meminfo").read_text(), re.MULTILINE)
    return int(match.group(1)) if match else None


def mib(kib: int | None) -> str:
    return "-" if kib is None else f"{kib / 1024:,.0f} MiB"


def markdown(r: dict) -> str:
    v = r["venv"]
    rows = [
        ("server (`python -m streamlit run app.py`), VmHWM just after start", mib(r["server_vmhwm_after_start_kib"])),
        ("server, VmHWM after every page was opened once", mib(r["server_vmhwm_after_pages_kib"])),
        ("server, VmHWM at the end (and /runs open while the run trained)", mib(r["server_vmhwm_end_kib"])),
        ("server, VmRSS at the end", mib(r["server_vmrss_end_kib"])),
    ]
    rows += [(f"helper `{h['cmd'].strip()[-40:]}`, VmHWM", mib(h["vmhwm_kib"])) for h in r["helpers"].values()]
    rows += [
        (f"worker: {w['what']} (launched by the {w['launched_by']}), VmHWM", mib(w["vmhwm_kib"]))
        for w in r["workers"].values()
    ]
    rows += [
        ("largest sum of VmRSS over all of these at one sample", mib(r["max_simultaneous_rss_sum_kib"])),
        ("sum of every process's VmHWM (upper bound)", mib(r["vmhwm_sum_kib"])),
        ("site-packages here (app + dev tools), without torch/nvidia/triton/cuda", mib(v["rest_kib"])),
    ]
    rows += [(f"`{n}/` as installed here (CUDA build)", mib(v[f"{n}_kib"])) for n in CUDA_STACK if f"{n}_kib" in v]
    return "\n".join(["| what | measured |", "|---|---:|"] + [f"| {a} | {b} |" for a, b in rows])


if __name__ == "__main__":
    sys.exit(main())
