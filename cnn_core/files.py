"""Reading and writing the small files that hold the product's state: JSON read tolerantly,
every write atomic (temporary file, fsync, rename), so a reader never sees half a file.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path


def write_json_atomic(path: Path, data: dict) -> None:
    # unique per process and thread: the worker's heartbeat thread writes status.json too
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=1)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def read_json(path: Path) -> dict | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):  # ValueError: bad JSON and bytes that are not UTF-8
        return None
    return data if isinstance(data, dict) else None
