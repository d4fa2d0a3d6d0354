"""Runs as tables for the pages: the runs table, metric frames, the settings that differ
between runs, and the CSV export.
"""

from __future__ import annotations

import io
import json
from datetime import datetime
from pathlib import Path

import pandas as pd

from cnn_core.arch.presets import PRESETS
from cnn_core.data.catalog import DATASETS
from cnn_core.i18n import LANGUAGES, catalog, t
from cnn_core.runs.directory import RunInfo
from cnn_core.runs.metrics import read_metrics


def network_label(config: dict) -> str:
    if config.get("spec"):
        return (config["spec"].get("name") or t("reports.custom_spec")) if isinstance(config["spec"], dict) else "?"
    preset = config.get("preset")
    return PRESETS[preset].title if preset in PRESETS else str(preset or "?")


def run_title(config: dict, run_id: str) -> str:
    """A run's name, else its id. An example run's name was written in the server's language when
    it was made: it is shown in the current one."""
    name = config.get("name")
    for key in (k for k in catalog("en") if k.startswith("examples.")):
        if name and name in {catalog(language).get(key) for language in LANGUAGES}:
            return t(key)
    return name or run_id


def dataset_label(name: object) -> str:
    return DATASETS[name].title if name in DATASETS else str(name)


def setting_label(key: str) -> str:
    """A setting's name as the Train page labels it; a setting without a label keeps its own name."""
    return t(f"train.{key}") if f"train.{key}" in catalog("en") else key


def runs_table(runs: list[RunInfo]) -> pd.DataFrame:
    """One row per run, in the order given, every value from that run's RunInfo (the one read of
    the page): state, progress, epoch, accuracies, speed and time left while it trains, and the time
    it has trained (seed 004 times its runs)."""
    rows = []
    for run in runs:
        s = run.status
        rows.append(
            {
                t("reports.col.run"): run_title(run.config, run.run_id),
                t("reports.col.dataset"): dataset_label(run.config.get("dataset")),
                t("reports.col.network"): network_label(run.config),
                t("reports.col.state"): t(f"state.{s.state}"),
                t("reports.col.progress"): round(s.progress, 3),
                t("reports.col.epoch"): f"{s.epoch}/{s.epochs or run.config.get('epochs', '?')}",
                t("reports.col.best_val"): s.best_val_acc,
                t("reports.col.test"): s.test_acc,
                t("reports.col.speed"): round(s.images_per_s) if s.images_per_s and s.state == "running" else None,
                t("reports.col.eta"): round(s.eta_s) if s.eta_s and s.state == "running" else None,
                t("reports.col.train_time"): round(s.train_s, 1) if s.train_s else None,
                t("reports.col.started"): datetime.fromtimestamp(s.created).strftime("%Y-%m-%d %H:%M:%S"),
                "run_id": run.run_id,
            }
        )
    return pd.DataFrame(rows)


def metric_frames(run_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame, dict | None]:
    """(step records, epoch records, the test record or None)."""
    records = read_metrics(run_dir)
    steps = pd.DataFrame([r for r in records if r["kind"] == "step"])
    epochs = pd.DataFrame([r for r in records if r["kind"] == "epoch"])
    tests = [r for r in records if r["kind"] == "test"]
    return steps, epochs, (tests[-1] if tests else None)


def config_differences(runs: list[RunInfo]) -> pd.DataFrame:
    """Settings that differ between the runs (one row per run), with their final accuracies."""
    flat = {
        run.run_id: {
            k: (json.dumps(v, sort_keys=True) if isinstance(v, (dict, list)) else v) for k, v in run.config.items()
        }
        for run in runs
    }
    keys = sorted({k for cfg in flat.values() for k in cfg})
    differing = [
        k for k in keys if len({json.dumps(cfg.get(k), sort_keys=True, default=str) for cfg in flat.values()}) > 1
    ]
    rows = []
    for run in runs:
        row = {t("reports.col.run"): run_title(run.config, run.run_id)}
        row.update({setting_label(k): flat[run.run_id].get(k) for k in differing})
        row[t("reports.col.best_val")] = run.status.best_val_acc
        row[t("reports.col.test")] = run.status.test_acc
        rows.append(row)
    return pd.DataFrame(rows)


def metrics_csv(run_dir: Path) -> str:
    """Step and epoch records as one CSV (nested per-class values stay JSON text)."""
    records = [
        {k: (json.dumps(v) if isinstance(v, (list, dict)) else v) for k, v in r.items()} for r in read_metrics(run_dir)
    ]
    buffer = io.StringIO()
    pd.DataFrame(records).to_csv(buffer, index=False)
    return buffer.getvalue()
