"""Limits and paths for the whole product, read once from environment variables.

Every cap or location that a hosted demo might need to tighten lives here, so the rest of the
code never reads the environment itself. `get_settings()` reads the environment on its first
call and returns the same frozen object afterwards (it sits on the path of every `t()` call);
`reset_settings()` makes the next call read it again, for tests that change the environment.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path


def _int_env(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ValueError(f"environment variable {name} must be a whole number, got {raw!r}") from exc


@dataclass(frozen=True)
class Settings:
    runs_dir: Path
    data_dir: Path
    language: str  # CNN_LAB_LANG; empty: the system locale decides (cnn_core.i18n.default_language)
    max_spec_upload_bytes: int
    max_layers: int
    max_channels: int
    max_input_side: int
    max_features: int
    max_spec_text_chars: int
    max_params: int
    max_activation_bytes: int
    max_picture_cells: int
    max_concurrent_runs: int
    max_upload_bytes: int
    worker_threads: int
    worker_nice: int
    server_threads: int  # torch's threads in the dashboard's own process; 0: torch's default
    spare_idle_s: int  # how long a spare worker (runs/spare.py) waits for a launch; 0: no spares
    concept_max_side: int
    concept_time_cap_s: int
    # hosted-demo mode (CNN_LAB_DEMO): the caps below are enforced by the launcher and the worker
    demo: bool
    max_epochs: int
    max_run_seconds: int  # training time of one run over all its sessions; 0: none
    max_runs_per_visitor: int  # runs a visitor keeps on disk; 0: none
    max_queued_runs: int  # runs waiting for a slot, all visitors together; 0: none
    max_runs_disk_bytes: int  # the runs folder; over it, the oldest visitor runs are pruned; 0: none
    visitor_secret: str  # signs visitor tokens; empty: a random one kept in the runs folder
    live_refresh_ms: int  # the Runs page's refresh while a run trains
    example_epochs: int  # how long a demo's example runs train


def load_settings() -> Settings:
    """Read the settings from the environment now (tests call this after monkeypatching)."""
    demo = os.environ.get("CNN_LAB_DEMO", "").strip().lower() in {"1", "true", "yes", "on"}
    return Settings(
        runs_dir=Path(os.environ.get("CNN_LAB_RUNS_DIR", "runs")).expanduser(),
        data_dir=Path(os.environ.get("CNN_LAB_DATA_DIR", "data")).expanduser(),
        language=os.environ.get("CNN_LAB_LANG", ""),
        max_spec_upload_bytes=_int_env("CNN_LAB_MAX_SPEC_BYTES", 256 * 1024),
        max_layers=_int_env("CNN_LAB_MAX_LAYERS", 64 if demo else 256),
        max_channels=_int_env("CNN_LAB_MAX_CHANNELS", 1024 if demo else 8192),
        max_input_side=_int_env("CNN_LAB_MAX_INPUT_SIDE", 512 if demo else 4096),
        # a linear layer's out_features and a spec's num_classes
        max_features=_int_env("CNN_LAB_MAX_FEATURES", 16384 if demo else 65536),
        # a spec's name and description
        max_spec_text_chars=_int_env("CNN_LAB_MAX_SPEC_TEXT", 2000),
        # a network's weights, and its layer outputs for one image (float32), estimated before building
        max_params=_int_env("CNN_LAB_MAX_PARAMS", 50_000_000 if demo else 200_000_000),
        max_activation_bytes=_int_env("CNN_LAB_MAX_ACTIVATION_MB", 512 if demo else 2048) * 1024 * 1024,
        max_picture_cells=_int_env("CNN_LAB_MAX_PICTURE_CELLS", 4096),  # the calculator's window picture
        max_concurrent_runs=_int_env("CNN_LAB_MAX_CONCURRENT_RUNS", 1),
        worker_threads=_int_env("CNN_LAB_WORKER_THREADS", 0),  # 0: torch's default, every core
        worker_nice=_int_env("CNN_LAB_WORKER_NICE", 10),
        # one thread per page's torch work: visitors' requests run side by side, and two threads per
        # request on a busy machine spin against each other (OpenMP) many times slower than one
        server_threads=max(0, _int_env("CNN_LAB_SERVER_THREADS", 1)),
        # the app keeps one worker warm (torch imported) so that a launch trains at once
        spare_idle_s=max(0, _int_env("CNN_LAB_SPARE_IDLE_S", 1800)),
        # an uploaded file, and a zip of images once unpacked; .streamlit/config.toml's maxUploadSize is the
        # default outside the demo, and every uploader states this one
        max_upload_bytes=_int_env("CNN_LAB_MAX_UPLOAD_MB", 10 if demo else 200) * 1024 * 1024,
        # the concept lab's images and its timing experiment run in the Streamlit process itself
        concept_max_side=_int_env("CNN_LAB_CONCEPT_MAX_SIDE", 256 if demo else 640),
        concept_time_cap_s=_int_env("CNN_LAB_CONCEPT_TIME_CAP_S", 10 if demo else 60),
        demo=demo,
        max_epochs=_int_env("CNN_LAB_MAX_EPOCHS", 20 if demo else 10_000),
        max_run_seconds=_int_env("CNN_LAB_MAX_RUN_SECONDS", 300 if demo else 0),
        max_runs_per_visitor=_int_env("CNN_LAB_MAX_RUNS_PER_VISITOR", 5 if demo else 0),
        max_queued_runs=_int_env("CNN_LAB_MAX_QUEUED_RUNS", 8 if demo else 0),
        max_runs_disk_bytes=_int_env("CNN_LAB_MAX_RUNS_DISK_MB", 1024 if demo else 0) * 1024 * 1024,
        visitor_secret=os.environ.get("CNN_LAB_SECRET", ""),
        # every open Runs page redraws its charts this often: a demo's many visitors share the server's CPU
        live_refresh_ms=max(250, _int_env("CNN_LAB_LIVE_REFRESH_MS", 2000 if demo else 1000)),
        example_epochs=max(1, _int_env("CNN_LAB_EXAMPLE_EPOCHS", 4)),
    )


@cache
def get_settings() -> Settings:
    return load_settings()


def reset_settings() -> None:
    """Forget the settings read so far; the next get_settings() reads the environment again."""
    get_settings.cache_clear()
