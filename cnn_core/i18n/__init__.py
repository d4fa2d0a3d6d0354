"""The one translation function for every user-facing string, and its catalogues.

The catalogues are standard gettext files, one per language (`locales/en.po`, `locales/zh.po`),
read once with Babel, so translators' tools open them as they are. A message's msgid is its key
("calc.title") and its msgstr the text. A message with a plural has msgid_plural and one msgstr
per plural form of the language (English two, Chinese one); `t(key, n=…)` picks the form with
the language's CLDR plural rule.

`t(key, **values)` looks the key up in the current language and formats it; a key missing from a
translation falls back to English, and a key missing from English is a bug the tests catch.
It stays a few dictionary lookups: it sits on every label of every page.

The current language is per thread: a page run sets it (use_language) from the visitor's choice;
everywhere else (the command line, the worker) it is the server's default: CNN_LAB_LANG, else
the system locale (LC_ALL, LC_MESSAGES, LANG), else English.
"""

from __future__ import annotations

import os
import threading
from functools import cache, lru_cache
from pathlib import Path

from cnn_core.settings import get_settings

LANGUAGES = ("en", "zh")  # English first: the fallback of every key


LOCALES = Path(__file__).with_name("locales")


_thread = threading.local()


@cache
def catalog(language: str) -> dict[str, str | tuple[str, ...]]:
    """key -> text (or its plural forms) of one language, read from its .po file once."""
    from babel.messages.pofile import read_po  # Babel: only when a catalogue is first read

    with open(LOCALES / f"{language}.po", "rb") as handle:
        messages = read_po(handle, locale=language)
    entries: dict[str, str | tuple[str, ...]] = {}
    for message in messages:
        if not message.id:
            continue  # the header
        key = message.id[0] if isinstance(message.id, tuple) else message.id
        entries[key] = tuple(message.string) if isinstance(message.string, tuple) else message.string
    return entries


@cache
def _plural_rule(language: str):
    """The language's CLDR plural rule as a plain Python function (Babel compiles it once)."""
    from babel import Locale
    from babel.plural import to_python

    return to_python(Locale.parse(language).plural_form)


@lru_cache(maxsize=4096)
def _is_one(language: str, count: int) -> bool:
    """Whether a whole count takes the language's 'one' form (remembered: the rule costs a microsecond)."""
    return _plural_rule(language)(abs(count)) == "one"


def language_of(tag: object) -> str | None:
    """The catalogue a language tag asks for ('zh-CN', 'zh_Hans', 'en_US.UTF-8' …), or None."""
    if not isinstance(tag, str) or not tag:
        return None
    code = tag.replace("-", "_").split("_")[0].split(".")[0].lower()
    return code if code in LANGUAGES else None


def default_language() -> str:
    """The server's language: CNN_LAB_LANG, else the system locale, else English."""
    for tag in (get_settings().language, *(os.environ.get(v) for v in ("LC_ALL", "LC_MESSAGES", "LANG"))):
        if tag:
            return language_of(tag) or "en"
    return "en"


def use_language(language: str | None) -> None:
    """Set this thread's language (a page run's); None goes back to the server's default."""
    _thread.language = language if language in LANGUAGES else None


def current_language() -> str:
    return getattr(_thread, "language", None) or default_language()


def t(key: str, /, **values: object) -> str:
    language = getattr(_thread, "language", None) or default_language()
    text = catalog(language).get(key) or catalog("en")[key]
    if isinstance(text, tuple):  # plural forms: the count is the value named n
        count = values.get("n", 1)
        one = len(text) == 1 or (isinstance(count, int) and _is_one(language, count))
        text = text[0] if one else text[1]
    return text.format(**values) if values else text
