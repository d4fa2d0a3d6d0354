#!/usr/bin/env python
"""How fast the app feels in a browser: the measures and goals of issue #15 ("Speed a user feels").

The script starts the app itself (`streamlit run app.py`, headless, no usage stats, on a free
port, with a fresh temporary CNN_LAB_RUNS_DIR; its log is `streamlit.log` in that folder) and
drives Debian's headless Chromium (/usr/bin/chromium with tests/browser.py's flags, through
Playwright; no browser is downloaded). A page counts as *fully drawn* when Streamlit's status
widget shows no running icon (and no "Connecting"), there is no spinner, no skeleton, no stale
element, the page's heading is there, every Plotly chart has drawn its `.main-svg`, and the DOM
has not changed for 300 ms; the time reported is the moment of the last change. Measures, each
repeated --repeats times (best and median reported, seconds):

- pages: every page of the sidebar navigation, (a) clicked in the sidebar from Home (click →
  drawn) and (b) opened by link in a warm browser (navigation start → drawn); before them, the
  first visit to a page that needs torch, 10 s after the server started, in a browser that has
  loaded Home (the server, started as `python -m cnn_core.serve`, imports torch in the background
  meanwhile): its extra wait over the first visits of the same page for other runs (each loads
  its run) once the server is warm (one sample);
- typing: 4096 into the calculator's height and width (typing → drawn);
- builder: the ResNet-18 preset chosen in the builder's list, then "Load" (click → drawn);
- worker: the same pages while one long training run (digits, seed 002's CNN) trains;
- launch: Train page's Launch (digits, seed002_mnist_cnn, 3 epochs) → first point on the Runs
  page's live chart; and a 3-epoch run from the command line (`python -m cnn_core train ...
  --wait`, the process's wall time), with no app running and with the app's spare worker warm
  (a page opened before each, so that the app starts its next spare);
- maximise: "What the network sees" with its defaults, the button → every picture drawn;
- cam: the Grad-CAM tab, the test index stepped up → redrawn;
- memory: the server's VmRSS / VmHWM (/proc/PID/status) idle after every page, and after a
  default run; every worker's VmHWM, sampled every 50 ms while it runs (largest kept).

    .venv/bin/python benchmarks/bench_ui.py [--repeats 3] [--json OUT] [--pages a,b]
        [--only pages,typing,builder,worker,launch,maximise,cam,memory] [--markdown]

Every training worker the script started is stopped at the end (its process group), and so is
the server, also on Ctrl-C or an error. No torch in this process: runs start from the CLI.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from cnn_core import PRESETS  # noqa: E402 - torch-free
from cnn_core.i18n import t, use_language  # noqa: E402
from tests.browser import CHROMIUM, CHROMIUM_FLAGS, free_port, plotly_point_counts  # noqa: E402

GROUPS = ("pages", "typing", "builder", "worker", "launch", "maximise", "cam", "memory")
GOALS = {
    "page": 1.0,
    "cold": 0.3,
    "typing": 1.0,
    "builder": 1.0,
    "worker": 2.0,
    "launch": 2.0,
    "cli": 3.0,
    "maximise": 5.0,
    "cam": 0.5,
}
TRAIN = ["-m", "cnn_core", "train", "--dataset", "digits", "--preset", "seed002_mnist_cnn"]
COLD_PAGE = "predictions"  # a page that imports torch
BUILDER_PRESET = "resnet18_transfer"
COLD_VISIT_AFTER_S = 10  # its first visit: this long after the server answered its health check
DRAWN_JS = r"""
async ({t0, expectPath, oldHeading, minPlots, mustSeeBusy, timeoutMs, click, live}) => {
  let last = performance.now(), lastBusy = last, sawBusy = false;
  const start = t0 === null ? last : t0, stages = {};
  const obs = new MutationObserver(() => { last = performance.now(); });
  obs.observe(document, {subtree: true, childList: true, attributes: true, characterData: true});
  if (click) { const el = document.querySelector(click); if (!el) return {error: 'no ' + click}; el.click(); }
  const heading = () => {
    const h = document.querySelector('[data-testid="stMain"] h1');
    return h ? h.innerText.trim() : null;
  };
  function busy() {
    const sw = document.querySelector('[data-testid="stStatusWidget"]');
    if (!live && sw && (sw.querySelector('[data-testid^="stStatusWidgetRunning"]') || /connecting|running/i.test(sw.innerText))) return 'running';
    if (document.querySelector('[data-testid="stSpinner"], [data-testid="stSkeleton"], [data-testid="stAppSkeleton"]')) return 'spinner';
    if (document.querySelector('[data-stale="true"]')) return 'stale';
    if (expectPath !== null && location.pathname.replace(/\/+$/, '') !== expectPath) return 'path';
    const h = heading();
    if (!h || (oldHeading !== null && h === oldHeading)) return 'heading';
    const plots = document.querySelectorAll('[data-testid="stMain"] [data-testid="stPlotlyChart"]');
    if (plots.length < minPlots) return 'plots';
    for (const el of plots) if (!el.querySelector('.main-svg')) return 'plot';
    return null;
  }
  return await new Promise(resolve => {
    function tick() {
      const now = performance.now(), b = busy();
      if (b) { last = lastBusy = now; sawBusy = true; stages[b] = Math.round(now - start); }
      const waited = !mustSeeBusy || sawBusy || now - start > 3000;  // a rerun too quick to see
      const error = document.querySelector('[data-testid="stException"]');  // an uncaught error: no timing
      if (error && now - last >= 300) { obs.disconnect(); resolve({s: null, stages, timeout: error.innerText.slice(0, 200)}); return; }
      const quiet = live ? lastBusy : last;  // a live page redraws every second: held steady, not unchanged
      if (!b && waited && now - quiet >= 300) { obs.disconnect(); resolve({s: (quiet - start) / 1000, stages}); return; }
      if (now - start > timeoutMs) { obs.disconnect(); resolve({s: null, stages, timeout: b}); return; }
      setTimeout(tick, 16);  // not requestAnimationFrame: it stops in a hidden tab
    }
    tick();
  });
}
"""


# ---------------------------------------------------------------- machine and processes


def machine_line() -> dict:
    cpuinfo, meminfo = Path("/proc/cpuinfo").read_text(), Path("/proc/meminfo").read_text()
    cpu = next((ln.split(":", 1)[1].strip() for ln in cpuinfo.splitlines() if ln.startswith("model name")), "?")
    mem = next((ln.split()[1] for ln in meminfo.splitlines() if ln.startswith("MemTotal")), "0")
    versions = subprocess.run(
        [sys.executable, "-c", "import torch, streamlit; print(torch.__version__, streamlit.__version__)"],
        capture_output=True,
        text=True,
    ).stdout.split()
    return dict(
        cpu=cpu,
        cores=os.cpu_count(),
        memory_gib=round(int(mem) / 2**20, 1),
        python=platform.python_version(),
        torch=versions[0] if versions else "?",
        streamlit=versions[1] if len(versions) > 1 else "?",
    )


def proc_mib(pid: int, field: str) -> float | None:
    """VmRSS or VmHWM of pid in MiB, None when it has gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def worker_pids(runs_dir: Path) -> list[int]:
    """Pids in the status.json of every run under runs_dir (alive or not)."""
    pids = []
    for status in runs_dir.glob("*/status.json"):
        try:
            pid = json.loads(status.read_text()).get("pid")
        except (OSError, ValueError):
            continue
        if pid:
            pids.append(int(pid))
    return pids


class WorkerSampler(threading.Thread):
    """Every 50 ms: the VmHWM of every worker of the runs folder, the largest per pid kept."""

    def __init__(self, runs_dir: Path):
        super().__init__(daemon=True)
        self.runs_dir, self.peaks, self.stopping = runs_dir, {}, threading.Event()

    def run(self) -> None:
        while not self.stopping.wait(0.05):
            for pid in worker_pids(self.runs_dir):
                hwm = proc_mib(pid, "VmHWM")
                if hwm is not None and b"cnn_core.runs.worker" in Path(f"/proc/{pid}/cmdline").read_bytes():
                    self.peaks[pid] = max(hwm, self.peaks.get(pid, 0.0))


def server_mib(pid: int) -> dict:
    return dict(rss=proc_mib(pid, "VmRSS"), hwm=proc_mib(pid, "VmHWM"))


def stop_workers(runs_dir: Path) -> None:
    """SIGKILL the process group of every live worker of runs_dir (each has its own session)."""
    for pid in worker_pids(runs_dir):
        try:
            if b"cnn_core.runs.worker" not in Path(f"/proc/{pid}/cmdline").read_bytes():
                continue
            group = os.getpgid(pid)
            if group != os.getpgid(0):
                os.killpg(group, signal.SIGKILL)
        except (OSError, ProcessLookupError):
            pass


def start_app(runs_dir: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = dict(os.environ, CNN_LAB_RUNS_DIR=str(runs_dir), PYTHONPATH=str(ROOT))
    command = [sys.executable, "-m", "cnn_core.serve", "--server.port", str(port)]  # make run's and the image's way
    command += ["--server.headless", "true", "--browser.gatherUsageStats", "false"]
    log = open(runs_dir.parent / "streamlit.log", "wb")  # noqa: SIM115 - the server's, for its life
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as answer:
                if answer.status == 200:
                    return proc, url
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"streamlit did not start; see {log.name}")


def stop_app(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def cli(runs_dir: Path, *args: str) -> tuple[float, str]:
    """Run `python -m cnn_core ...` with the bench's runs folder: (wall seconds, stdout)."""
    env = dict(os.environ, CNN_LAB_RUNS_DIR=str(runs_dir), PYTHONPATH=str(ROOT))
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    return time.perf_counter() - t0, done.stdout


def wait_for_spare(runs_dir: Path, timeout_s: float = 120) -> bool:
    """Until the app's spare worker for runs_dir is warm (a .ready file); False if none came."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if any((runs_dir / ".spares").glob("*.ready")):
            return True
        time.sleep(0.1)
    return False


def wait_state(run_dir: Path, states: tuple[str, ...], timeout_s: float = 300) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            state = json.loads((run_dir / "status.json").read_text()).get("state")
        except (OSError, ValueError):
            state = None
        if state in states:
            return state
        time.sleep(0.1)
    raise RuntimeError(f"{run_dir.name} did not reach {states}")


# ---------------------------------------------------------------- the browser


def drawn(
    page, *, t0=None, path=None, old_heading=None, min_plots=0, busy_first=False, click=None, timeout_s=60, live=False
):
    """Seconds from t0 (page's performance.now(); None: now, or the click) to fully drawn, or None
    on a timeout; with the stages seen (ms after t0 when each last held the page up). live: a page
    that refreshes itself (Runs while a run trains): drawn once its charts are and no spinner or
    stale element has shown for 300 ms, whatever the status widget says."""
    args = dict(t0=t0, expectPath=path, oldHeading=old_heading, minPlots=min_plots, mustSeeBusy=busy_first, live=live)
    result = page.evaluate(DRAWN_JS, dict(args, timeoutMs=timeout_s * 1000, click=click))
    if result.get("error"):  # the element to click is not there: the page failed
        result.update(s=None, timeout=result["error"])
    if result["s"] is None:  # what held it up, for a look
        shot = SHOTS / f"timeout-{time.strftime('%H%M%S')}.png"
        page.screenshot(path=str(shot), full_page=True)
        log(f"  no timing (held up by {result.get('timeout')!r}) at {page.url}: {shot}")
    return result["s"], result["stages"]


HEADING_JS = """(document.querySelector('[data-testid="stMain"] h1') || {innerText: ''}).innerText.trim()"""


def heading(page) -> str:
    return page.evaluate(f"() => {HEADING_JS}")


def new_page(browser, height: int = 1000):
    """A page in a new browser context (a new visitor: a new Streamlit session), in English."""
    context = browser.new_context(locale="en-US", viewport={"width": 1400, "height": height})
    context.set_default_timeout(120_000)
    return context.new_page()


def open_by_link(page, url: str, path: str, **kw):
    """goto url/path; seconds from the navigation's start (performance.timeOrigin) to drawn."""
    page.goto(f"{url}/{path}", wait_until="commit")
    bare = path.split("?")[0]
    return drawn(page, t0=0, path="/" + bare if bare else "", **kw)


def open_from_sidebar(page, url: str, path: str, **kw):
    """From Home (from the calculator when path is Home), click the sidebar link: click → drawn."""
    origin = "shape_calculator" if path == "" else ""
    open_by_link(page, url, origin)
    selector = f'[data-testid="stSidebarNav"] a[href="{url}/{path}"]'
    return drawn(page, path="/" + path if path else "", old_heading=heading(page), click=selector, **kw)


def navigation_paths(page, url: str) -> list[str]:
    """The url paths of the sidebar's links ('' for Home), in their order."""
    open_by_link(page, url, "")
    hrefs = page.eval_on_selector_all('[data-testid="stSidebarNav"] a', "els => els.map(a => a.href)")
    return [h[len(url) :].strip("/").split("?")[0] for h in hrefs]


def measure_pages(browser, url: str, paths: list[str], repeats: int, tag: str, timeout_s: float) -> dict:
    """{f'{tag}:{way}:{path}': [seconds...]} for both ways, in a warm context."""
    samples: dict[str, list] = {}
    page = new_page(browser)
    open_by_link(page, url, "")
    for _ in range(repeats):
        for path in paths:
            for way, opener in (("link", open_by_link), ("sidebar", open_from_sidebar)):
                live = dict(live=True, min_plots=1) if tag == "worker" and path == "runs" else {}
                s, stages = opener(page, url, path, timeout_s=timeout_s, **live)
                samples.setdefault(f"{tag}:{way}:{path or 'home'}", []).append(s)
                log(f"  {tag:6s} {way:7s} {path or 'home':20s} {fmt(s)}  {stages}")
    page.context.close()
    return samples


def measure_typing(browser, url: str, repeats: int) -> list:
    """4096 typed into the calculator's height and width, each committed with Tab: typing → drawn."""
    times = []
    for _ in range(repeats):
        page = new_page(browser)
        open_by_link(page, url, "shape_calculator")
        t0 = page.evaluate("performance.now()")
        for key in ("calc_h", "calc_w"):
            page.fill(f".st-key-{key} input", "4096")
            page.press(f".st-key-{key} input", "Tab")
        s, stages = drawn(page, t0=t0, busy_first=True)
        page.screenshot(path=str(SHOTS / "typing.png"), full_page=True)
        times.append(s)
        log(f"  typing 4096×4096 {fmt(s)}  {stages}")
        page.context.close()
    return times


def measure_builder(browser, url: str, repeats: int) -> list:
    """The builder with the ResNet-18 preset chosen in its list: "Load" clicked → drawn (the
    network's table, its shapes and its figures)."""
    times = []
    for _ in range(repeats):
        page = new_page(browser)
        open_by_link(page, url, "architecture_builder")
        page.locator(".st-key-b_preset").click()
        page.get_by_role("option", name=PRESETS[BUILDER_PRESET].title).click()
        drawn(page, busy_first=True)  # the list's own rerun (the preset's caption), not timed
        s, stages = drawn(page, click=".st-key-b_load button", busy_first=True)
        page.screenshot(path=str(SHOTS / "builder_resnet18.png"), full_page=True)
        times.append(s)
        log(f"  builder: ResNet-18 loaded {fmt(s)}  {stages}")
        page.context.close()
    return times


def measure_launch(browser, url: str, runs_dir: Path, repeats: int) -> list:
    """Train page (digits, seed 002, 3 epochs: the defaults) → Launch → the Runs page's first point."""
    times = []
    for _ in range(repeats):
        page = new_page(browser)
        open_by_link(page, url, "train", timeout_s=120)
        page.wait_for_selector(".st-key-t_launch button:not([disabled])")
        wait_for_spare(runs_dir)  # the app's warm worker (cnn_core.runs.spare), as a visitor finds it
        before = {p.name for p in runs_dir.iterdir() if not p.name.startswith(".")}
        t0 = time.perf_counter()
        page.click(".st-key-t_launch button")  # the Train page switches to the Runs page on its own
        page.wait_for_function(  # the Runs page's own chart (not the Train page's, stale), with a point
            """(title) => location.pathname.endsWith('/runs') && heading() === title
                && Array.from(document.querySelectorAll('.js-plotly-plot')).some(el => !el.closest('[data-stale="true"]')
                && (el._fullData || []).some(tr => tr.x && tr.x.length > 0))""".replace("heading()", HEADING_JS),
            arg=t("runs.title"),
            polling=20,
        )
        times.append(time.perf_counter() - t0)
        log(f"  launch → first point {fmt(times[-1])}  points {plotly_point_counts(page)}")
        new = [runs_dir / n for n in {p.name for p in runs_dir.iterdir() if not p.name.startswith(".")} - before]
        for run_dir in new:  # the cap is one run at a time: the next launch must not queue
            wait_state(run_dir, ("completed", "failed", "stopped", "interrupted"))
        page.screenshot(path=str(SHOTS / "runs_live.png"), full_page=True)
        page.context.close()
    return times


def measure_sees(browser, url: str, run_id: str, repeats: int, groups: set) -> tuple[list, list]:
    """The maximise button with the defaults → every picture drawn; the Grad-CAM tab's test index
    stepped up → redrawn."""
    maximise, cam = [], []
    if "maximise" in groups:
        for _ in range(repeats):  # a new visitor each time: no pictures on the page from before
            page = new_page(browser, 1200)
            open_by_link(page, url, f"network_sees?run={run_id}", timeout_s=120)
            t0 = time.perf_counter()
            s, stages = drawn(page, click=".st-key-s_go button", busy_first=True, timeout_s=300)  # busy throughout
            page.wait_for_function(  # and every class's picture is there (digits: ten)
                "n => document.querySelectorAll('[data-testid=\"stImage\"] img').length >= n", arg=10, timeout=300_000
            )
            maximise.append(max(s, time.perf_counter() - t0))
            log(f"  maximise {fmt(maximise[-1])}  {stages}")
            page.screenshot(path=str(SHOTS / "maximise.png"), full_page=True)
            page.context.close()
    page = new_page(browser, 1200)
    open_by_link(page, url, f"network_sees?run={run_id}", timeout_s=120)
    if "cam" in groups:
        page.get_by_role("tab", name=t("sees.tab.cam")).click()
        drawn(page, busy_first=True)
        for _ in range(repeats):
            s, stages = drawn(page, click=".st-key-s_cam_index [data-testid='stNumberInputStepUp']", busy_first=True)
            cam.append(s)
            log(f"  grad-cam rerun {fmt(s)}  {stages}")
        page.screenshot(path=str(SHOTS / "gradcam.png"), full_page=True)
    page.context.close()
    return maximise, cam


# ---------------------------------------------------------------- the report


def log(text: str) -> None:
    """Progress, on stderr (stdout holds only the report)."""
    if not QUIET:
        print(text, file=sys.stderr, flush=True)


def fmt(s) -> str:
    return "timeout or error" if s is None else f"{s:.2f} s"


def row(what: str, samples: list, goal: float | None) -> dict:
    good = [s for s in samples if s is not None]
    best = min(good) if good else None
    median = statistics.median(good) if good else None
    met = None if goal is None else (bool(good) and len(good) == len(samples) and best <= goal)
    return dict(
        what=what, best=best, median=median, goal=goal, met=met, n=len(samples), timeouts=len(samples) - len(good)
    )


def table(rows: list[dict]) -> str:
    lines = ["| what | best | median | goal | met? |", "|---|---:|---:|---:|---|"]
    for r in rows:
        goal = "" if r["goal"] is None else f"≤ {r['goal']:.1f} s"
        met = "" if r["met"] is None else ("yes" if r["met"] else "**no**")
        if r["timeouts"]:
            met += f" ({r['timeouts']}/{r['n']} timed out or failed)"
        best = "—" if r["best"] is None else f"{r['best']:.2f} s"
        median = "—" if r["median"] is None else f"{r['median']:.2f} s"
        lines.append(f"| {r['what']} | {best} | {median} | {goal} | {met} |")
    return "\n".join(lines)


def memory_table(memory: dict) -> str:
    lines = ["| memory (MiB) | VmRSS | VmHWM |", "|---|---:|---:|"]
    for what, values in memory.items():
        if what != "workers":
            lines.append(f"| {what} | {values.get('rss') or 0:,.0f} | {values.get('hwm') or 0:,.0f} |")
    for pid, peak in memory.get("workers", {}).items():
        lines.append(f"| worker {pid} (peak) | | {peak:,.0f} |")
    return "\n".join(lines)


def run_measures(args, groups: set, runs_dir: Path, samples: dict, memory: dict) -> None:
    """Every measure asked for, in an order that needs no run to wait in the queue (one at a time)."""
    from playwright.sync_api import sync_playwright

    trained, server = [], None
    # trained runs to look at (the first visit of each loads it: two at least, see below); the CLI's wall time
    samples["cli"] = []
    for _ in range(max(2, args.repeats if "launch" in groups else 1)):
        seconds, out = cli(runs_dir, *TRAIN, "--epochs", "3", "--wait")
        trained.append(Path(out.strip().splitlines()[0]).name)
        samples["cli"].append(seconds)
        log(f"  CLI 3-epoch digits run {fmt(seconds)}")
    try:
        server, url = start_app(runs_dir)
        started = time.monotonic()
        memory["server at start"] = server_mib(server.pid)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
            page = new_page(browser)
            open_by_link(page, url, "")  # the browser has the app's scripts (Home needs no torch)
            time.sleep(max(0.0, started + COLD_VISIT_AFTER_S - time.monotonic()))
            # the server's first page that needs torch, against the same page's first visit of
            # another run once the server is warm: both load their run, only the first finds the server cold
            s, stages = open_by_link(page, url, f"{COLD_PAGE}?run={trained[0]}", timeout_s=120)
            later = [open_by_link(page, url, f"{COLD_PAGE}?run={run}")[0] for run in trained[1:]]
            samples["cold"] = [s - statistics.median(later)]
            log(
                f"  cold: {COLD_PAGE} first after start {fmt(s)}, other runs' first visits {', '.join(map(fmt, later))}  {stages}"
            )
            paths = navigation_paths(page, url)
            page.close()
            if args.pages:
                paths = ["" if p == "home" else p for p in args.pages.split(",")]
            if groups & {"pages", "memory"}:
                repeats = args.repeats if "pages" in groups else 1
                samples.update(measure_pages(browser, url, paths, repeats, "page", args.timeout))
                memory["server idle, every page visited"] = server_mib(server.pid)
            if "typing" in groups:
                samples["typing"] = measure_typing(browser, url, args.repeats)
            if "builder" in groups:
                samples["builder"] = measure_builder(browser, url, args.repeats)
            if groups & {"maximise", "cam"}:
                samples["maximise"], samples["cam"] = measure_sees(browser, url, trained[0], args.repeats, groups)
            if "launch" in groups:
                samples["launch"] = measure_launch(browser, url, runs_dir, args.repeats)
                memory["server after a default run"] = server_mib(server.pid)
                samples["cli_spare"] = []
                visitor = new_page(browser)
                for _ in range(args.repeats):  # the same command while the app keeps a spare warm
                    open_by_link(visitor, url, "")  # a page run: the app starts its next spare (ensure_spare)
                    wait_for_spare(runs_dir)
                    seconds, _ = cli(runs_dir, *TRAIN, "--epochs", "3", "--wait")
                    samples["cli_spare"].append(seconds)
                    log(f"  CLI 3-epoch digits run, the app's spare warm {fmt(seconds)}")
                visitor.context.close()
            if "worker" in groups:
                _, out = cli(runs_dir, *TRAIN, "--epochs", "500")
                long_run = Path(out.strip().splitlines()[0])
                wait_state(long_run, ("running",))
                samples.update(measure_pages(browser, url, paths, args.repeats, "worker", args.timeout))
                cli(runs_dir, "-m", "cnn_core", "stop", long_run.name)
            browser.close()
    finally:
        if server is not None:
            stop_app(server)


def report_rows(samples: dict) -> list[dict]:
    rows = (
        [row("CLI: 3-epoch digits run (seed 002), wall time", samples["cli"], GOALS["cli"])] if "cli" in samples else []
    )
    if samples.get("cli_spare"):
        what = "CLI: the same run while the app keeps its spare worker warm"
        rows.append(row(what, samples["cli_spare"], GOALS["cli"]))
    if "cold" in samples:
        what = f"first visit {COLD_VISIT_AFTER_S} s after the server started, {COLD_PAGE} (needs torch): extra wait over later visits"
        rows.append(row(what, samples["cold"], GOALS["cold"]))
    for key, values in samples.items():
        if key.count(":") == 2:
            tag, way, path = key.split(":")
            how = "from the sidebar" if way == "sidebar" else "opened by link"
            rows.append(row(f"{path} ({how}{', one worker training' if tag == 'worker' else ''})", values, GOALS[tag]))
    labels = dict(
        typing="calculator: typing 4096 × 4096",
        builder="builder: ResNet-18 preset loaded",
        launch="Launch → first point on the live chart",
        maximise="what the network sees: maximise, defaults",
        cam="Grad-CAM / saliency rerun (test index + 1)",
    )
    return rows + [row(text, samples[key], GOALS[key]) for key, text in labels.items() if samples.get(key)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", help="write every sample here")
    parser.add_argument("--pages", help="url paths, comma-separated ('home' for Home); default: the sidebar's")
    parser.add_argument("--only", default=",".join(GROUPS), help=f"some of {','.join(GROUPS)}")
    parser.add_argument(
        "--markdown", action="store_true", help="no progress lines on stderr: only the report (markdown) on stdout"
    )
    parser.add_argument(
        "--timeout", type=float, default=60, help="seconds a page may take before it counts as a timeout"
    )
    args = parser.parse_args()
    groups = set(args.only.split(","))
    use_language("en")

    tmp = Path(tempfile.mkdtemp(prefix="cnn-lab-bench-ui-"))
    runs_dir = tmp / "runs"
    runs_dir.mkdir()
    global SHOTS, QUIET
    SHOTS, QUIET = tmp, args.markdown
    report = dict(machine=machine_line(), load_before=os.getloadavg(), tmp=str(tmp), samples={}, memory={})
    sampler = WorkerSampler(runs_dir)
    sampler.start()
    try:
        run_measures(args, groups, runs_dir, report["samples"], report["memory"])
    finally:
        stop_workers(runs_dir)
        sampler.stopping.set()
        sampler.join()
    report["memory"]["workers"] = {str(pid): peak for pid, peak in sampler.peaks.items()}
    report["load_after"] = os.getloadavg()
    report["rows"] = report_rows(report["samples"])
    m, (before, after) = report["machine"], (report["load_before"], report["load_after"])
    load = f"load {'/'.join(f'{x:.1f}' for x in before)} → {'/'.join(f'{x:.1f}' for x in after)}"
    print(f"\nMachine: {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB; Python {m['python']}, ", end="")
    print(f"torch {m['torch']}, Streamlit {m['streamlit']}; {load}; best of {args.repeats}\n")
    print(table(report["rows"]) + "\n\n" + memory_table(report["memory"]))
    log(f"\nScreenshots, runs and the server's log: {tmp}")
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1))
    return 0


SHOTS = Path(tempfile.gettempdir())  # screenshots: main() puts them in its temporary folder
QUIET = False

if __name__ == "__main__":
    sys.exit(main())
