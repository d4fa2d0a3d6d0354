"""Reading and writing the small files that hold the product's state: JSON read tolerantly,
and one way to write any file atomically (temporary file in the same folder, fsync, rename),
so a reader or a crash never leaves half a file behind. Files are opened without following
a symbolic link (O_NOFOLLOW), so a link planted in a run folder never leads a read or a write
out of it.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from cnn_core.errors import CnnLabError
from cnn_core.i18n import t

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


class UnsafePathError(CnnLabError, OSError):
    """A symbolic link where the product reads or writes its own files."""


def refuse_link(path: Path) -> None:
    """Raise UnsafePathError when `path` is a symbolic link (its target is never used)."""
    if os.path.islink(path):
        raise UnsafePathError(t("files.err.symlink", path=str(path)))


def open_nofollow(path: Path, flags: int = os.O_RDONLY, mode: int = 0o644) -> int:
    """os.open that refuses a symbolic link as the last component with UnsafePathError."""
    try:
        return os.open(path, flags | _NOFOLLOW, mode)
    except OSError:
        refuse_link(path)  # ELOOP from O_NOFOLLOW, said plainly
        raise


def read_text_nofollow(path: Path) -> str:
    with os.fdopen(open_nofollow(path), encoding="utf-8") as f:
        return f.read()


def fsync_dir(path: Path) -> None:
    """Make a rename inside `path` durable (a no-op where directories cannot be opened)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """A temporary path beside `path` for a writer that needs a file name (safetensors); it
    replaces `path` when the block succeeds and is removed when it fails."""
    # unique per process and thread: the worker's heartbeat thread writes status.json too
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.unlink(missing_ok=True)  # never write through a link left (or planted) under this name
    try:
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_atomic(path: Path, write: Callable[[BinaryIO], object]) -> None:
    """Call `write` with a binary file that becomes `path` only once it is complete and synced."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    with atomic_path(path) as tmp, os.fdopen(open_nofollow(tmp, flags), "wb") as f:
        write(f)


def write_text_atomic(path: Path, text: str) -> None:
    write_atomic(path, lambda f: f.write(text.encode("utf-8")))


def write_json_atomic(path: Path, data: dict) -> None:
    write_text_atomic(path, json.dumps(data, indent=1))


def read_json(path: Path) -> dict | None:
    """The JSON object in `path`, or None when it is missing, unreadable, a link or not an object."""
    try:
        data = json.loads(read_text_nofollow(path))
    except (FileNotFoundError, UnsafePathError, ValueError):  # ValueError: bad JSON and non-UTF-8 bytes
        return None
    return data if isinstance(data, dict) else None
