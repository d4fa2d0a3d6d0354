"""User text and values, safely: how a spec's values are shown in error messages (short, and never
failing on an integer too long to print or nesting too deep to encode) and which characters
cannot be saved or shown (lone surrogates, NUL, other control characters). Torch-free.
"""

from __future__ import annotations

import json
import unicodedata
from typing import Any

from cnn_core.i18n import t


def show(value: Any) -> str:
    """A user's value as short JSON for an error message; never fails, whatever the value
    (an integer too long to print, nesting too deep to encode, a type JSON does not have)."""
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 64:
        return t("spec.huge_number", digits=int(value.bit_length() * 0.30103) + 1)
    try:
        text = json.dumps(value)
    except (ValueError, TypeError, RecursionError):
        text = type(value).__name__
    return text if len(text) <= 80 else text[:77] + "…"


def clip(text: str) -> str:
    """A user's word for a message: at most 60 characters, unprintable ones as escapes."""
    out = "".join(c if c.isprintable() else ascii(c)[1:-1] for c in text[:60])
    return out + ("…" if len(text) > 60 else "")


def bad_char(text: str, allowed: str = "") -> str | None:
    """The first character of text that cannot be saved or shown (a lone surrogate, NUL or another
    control character not in `allowed`), as U+XXXX; None when there is none."""
    for c in text:
        if c not in allowed and unicodedata.category(c) in ("Cs", "Cc"):
            return f"U+{ord(c):04X}"
    return None
