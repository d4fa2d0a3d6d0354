"""The one translation function for every user-facing string, and its catalogues.

`t(key, **values)` looks the key up in the language of the settings and formats it; a key
missing from a translation falls back to English, and a key missing from English is a bug that
the tests catch (tests/test_i18n.py scans the sources for every `t("...")` call). It sits on
every label of every page, so it stays a few dictionary lookups (settings are read once).
"""

from __future__ import annotations

from cnn_core.i18n.catalog_en import EN
from cnn_core.settings import get_settings

CATALOGUES: dict[str, dict[str, str]] = {"en": EN}


def current_language() -> str:
    code = get_settings().language
    return code if code in CATALOGUES else "en"


def t(key: str, /, **values: object) -> str:
    text = CATALOGUES[current_language()].get(key) or EN[key]
    return text.format(**values) if values else text
