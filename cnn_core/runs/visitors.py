"""Who a hosted demo's visitor is: a random id, carried in the browser as a signed token.

The app mints a visitor id on a first visit and keeps it in the visitor's session and, signed,
in a cookie, so a reload or a new tab is the same visitor; the id never appears in a link, so
sharing a link never shares who you are. The signature (HMAC-SHA256 with the server's secret)
means a browser cannot choose an id: a forged or altered token is simply a new visitor.

The secret is CNN_LAB_SECRET when set (keep it the same across replicas), else a random one
created once in the runs folder (`.visitor-secret`, readable by the server's user only).
Torch-free.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
from pathlib import Path

from cnn_core.files import open_nofollow, read_text_nofollow
from cnn_core.i18n import t
from cnn_core.runs.directory import runs_root
from cnn_core.settings import get_settings

COOKIE_NAME = "cnn_lab_visitor"


COOKIE_MAX_AGE_S = 180 * 24 * 3600


SECRET_FILE = ".visitor-secret"


TOKEN_PATTERN = re.compile(r"^v1\.([0-9a-f]{32})\.([0-9a-f]{64})$")


def visitor_secret(root: str | Path | None = None) -> bytes:
    """CNN_LAB_SECRET, or the random secret kept in the runs folder (created on first use); a link
    in its place raises UnsafePathError."""
    configured = get_settings().visitor_secret
    if configured:
        return configured.encode()
    path = runs_root(root) / SECRET_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = open_nofollow(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode=0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
    for _ in range(50):  # another process may have created it an instant ago and be writing it
        text = read_text_nofollow(path).strip()  # a link there is an UnsafePathError, never followed
        if len(text) == 64:
            return text.encode()
        os.sched_yield()
    raise RuntimeError(t("visitors.err.secret", path=path))


def _signature(visitor_id: str, secret: bytes) -> str:
    return hmac.new(secret, f"v1.{visitor_id}".encode(), hashlib.sha256).hexdigest()


def new_visitor(root: str | Path | None = None) -> tuple[str, str]:
    """(a new visitor id, its signed token for the cookie)."""
    visitor_id = secrets.token_hex(16)
    return visitor_id, f"v1.{visitor_id}.{_signature(visitor_id, visitor_secret(root))}"


def visitor_from_token(token: object, root: str | Path | None = None) -> str | None:
    """The visitor id a token was signed for, or None for anything else (missing, malformed,
    forged, signed with another secret)."""
    if not isinstance(token, str) or len(token) > 200:
        return None
    match = TOKEN_PATTERN.fullmatch(token)
    if match is None:
        return None
    visitor_id, signature = match.groups()
    if not hmac.compare_digest(signature, _signature(visitor_id, visitor_secret(root))):
        return None
    return visitor_id
