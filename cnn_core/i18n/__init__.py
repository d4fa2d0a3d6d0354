"""The one translation function for every user-facing string, and its catalogues.

`t(key, **values)` looks the key up in the active language and formats it; a key missing from
a translation falls back to English, and a key missing from English is a bug that the tests
catch (tests/test_i18n.py scans the sources for every `t("...")` call).
"""

from __future__ import annotations

from contextvars import ContextVar

from cnn_core.i18n.catalog_en import EN

CATALOGUES: dict[str, dict[str, str]] = {"en": EN}
_language: ContextVar[str | None] = ContextVar("cnn_lab_language", default=None)


def set_language(code: str) -> None:
    if code not in CATALOGUES:
        raise ValueError(f"unknown language {code!r}; available: {', '.join(sorted(CATALOGUES))}")
    _language.set(code)


def current_language() -> str:
    code = _language.get()
    if code is None:
        from cnn_core.settings import get_settings

        code = get_settings().language
    return code if code in CATALOGUES else "en"


def t(key: str, /, **values: object) -> str:
    text = CATALOGUES[current_language()].get(key) or EN[key]
    return text.format(**values) if values else text
