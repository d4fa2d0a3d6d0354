"""A run's metrics.jsonl: one JSON record per line (kind step | epoch | test), appended in one
write so a crash can tear only the last line, and cut back to a checkpoint on resume; and how
often a page showing runs looks again for new records.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from cnn_core.errors import CnnLabError
from cnn_core.files import UnsafePathError, open_nofollow, read_text_nofollow, write_text_atomic
from cnn_core.i18n import t
from cnn_core.runs.directory import ACTIVE_STATES
from cnn_core.settings import get_settings


class MetricsCorrupt(CnnLabError, ValueError):
    """A metrics line that is not JSON somewhere other than the torn last line."""


def append_metrics(run_dir: Path, records: list[dict]) -> None:
    """Append records in one write; a crash can tear only the last line."""
    if not records:
        return
    text = "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in records)
    fd = open_nofollow(run_dir / "metrics.jsonl", os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    with os.fdopen(fd, "a", encoding="utf-8") as f:
        f.write(text)
        f.flush()


def has_metrics(run_dir: Path) -> bool:
    """Whether the run has written a record yet: a size, read without reading the file (or a link)."""
    path = run_dir / "metrics.jsonl"
    try:
        return not path.is_symlink() and path.stat().st_size > 0
    except OSError:
        return False


FIRST_POINT_REFRESH_S = 0.25


def refresh_interval_s(runs: list, live_s: float | None = None) -> float | None:
    """How often a page that shows runs (RunInfo) looks again: never with none active; quickly while
    an active run has no record yet, so that its first point shows as soon as it is written; then
    every live_s (the live_refresh_ms setting)."""
    active = [r for r in runs if r.status.state in ACTIVE_STATES]
    if not active:
        return None
    if not all(has_metrics(r.path) for r in active):
        return FIRST_POINT_REFRESH_S
    return get_settings().live_refresh_ms / 1000 if live_s is None else live_s


def read_metrics(run_dir: Path) -> list[dict]:
    """All records; a torn final line (a crash mid-write) is ignored, corruption elsewhere raises."""
    path = run_dir / "metrics.jsonl"
    try:
        lines = read_text_nofollow(path).split("\n")
    except (FileNotFoundError, UnsafePathError):  # a link is never read; the run has no metrics of its own
        return []
    records = []
    last = len(lines) - 1
    for number, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            if number == last:
                break  # the torn tail: the crash came before its newline
            raise MetricsCorrupt(t("run.err.metrics_corrupt", line=number + 1, path=str(path))) from exc
        if not isinstance(record, dict) or "kind" not in record:
            raise MetricsCorrupt(t("run.err.metrics_corrupt", line=number + 1, path=str(path)))
        records.append(record)
    return records


def truncate_metrics(run_dir: Path, step: int, epoch: int) -> None:
    """Drop records written after the checkpoint a resume starts from (and any torn tail)."""
    path = run_dir / "metrics.jsonl"
    if not path.exists():
        return
    keep = [
        r
        for r in read_metrics(run_dir)
        if (r["kind"] == "step" and r.get("step", 0) <= step) or (r["kind"] == "epoch" and r.get("epoch", 0) <= epoch)
    ]
    write_text_atomic(path, "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in keep))


def repair_metrics(run_dir: Path) -> Path | None:
    """Drop corrupt lines from the middle of metrics.jsonl (the torn last line is left to
    truncate_metrics), keeping the original as metrics.jsonl.corrupt-<time>; returns that copy,
    or None when nothing was corrupt."""
    try:
        read_metrics(run_dir)
        return None
    except MetricsCorrupt:
        pass
    path = run_dir / "metrics.jsonl"
    original = read_text_nofollow(path)
    kept = []
    for line in original.split("\n"):
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict) and "kind" in record:
            kept.append(line + "\n")
    copy = path.with_name(f"metrics.jsonl.corrupt-{time.strftime('%Y%m%d-%H%M%S')}-{time.time_ns() % 10**9:09d}")
    write_text_atomic(copy, original)
    write_text_atomic(path, "".join(kept))
    return copy
