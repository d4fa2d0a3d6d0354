"""Every user-facing string goes through t(key); every key used in the sources is in English.

Each check runs over every key (or preset, or layer type) and fails once, listing every problem
it found, rather than as one test per key.
"""

import re
import string
from pathlib import Path

import pytest

from cnn_core import PRESETS, i18n, t
from cnn_core.i18n.catalog_en import EN
from tests.conftest import REPO_ROOT as ROOT

T_CALL = re.compile(r'\bt\(\s*"([a-z0-9_.]+)"')


def problems_report(what: str, problems: list[str]) -> str:
    return f"{len(problems)} {what}:\n" + "\n".join(f"  - {problem}" for problem in problems)


def source_files() -> list[Path]:
    pages = sorted((ROOT / "app_pages").rglob("*.py"))
    assert pages, "no page sources found: the scan would check nothing"
    return sorted((ROOT / "cnn_core").rglob("*.py")) + pages + [ROOT / "app.py"]


def used_keys() -> dict[str, list[str]]:
    keys: dict[str, list[str]] = {}
    for path in source_files():
        for key in T_CALL.findall(path.read_text(encoding="utf-8")):
            if key.strip("."):  # t("...") in prose is not a key
                keys.setdefault(key, []).append(str(path.relative_to(ROOT)))
    return keys


def test_scan_finds_the_sources():
    keys = used_keys()
    assert len(keys) > 50
    assert "spec.where_layer" in keys and "calc.exact" in keys


def test_every_t_key_in_the_sources_is_in_english():
    missing = [f"{key} (used in {sorted(set(where))})" for key, where in sorted(used_keys().items()) if key not in EN]
    assert not missing, problems_report("keys used with t() but missing from catalog_en.EN", missing)


def test_regex_matches_the_call_forms_used():
    sample = 't("a.b") + t( "c_d.e", x=1) + st("no") + t(f"preset.{k}.title") + t(\n    "f.g")'
    assert T_CALL.findall(sample) == ["a.b", "c_d.e", "f.g"]


def test_every_preset_has_a_title_and_description():
    problems = []
    for key, preset in PRESETS.items():
        for part in ("title", "description"):
            name = f"preset.{key}.{part}"
            if name not in EN:
                problems.append(f"{name}: missing from catalog_en.EN")
            elif not EN[name].strip():
                problems.append(f"{name}: empty text")
        if f"preset.{key}.title" in EN and preset.title != EN[f"preset.{key}.title"]:
            problems.append(f"{key}: PRESETS title {preset.title!r} is not EN's {EN[f'preset.{key}.title']!r}")
    assert PRESETS, "no presets: the check would check nothing"
    assert not problems, problems_report("preset text problems", problems)


def test_every_layer_type_has_help():
    from cnn_core.arch.spec import LAYER_TYPES

    missing = [f"{kind}: help key {lt.help_key!r}" for kind, lt in LAYER_TYPES.items() if lt.help_key not in EN]
    assert LAYER_TYPES, "no layer types: the check would check nothing"
    assert not missing, problems_report("layer types whose help is missing from catalog_en.EN", missing)


def template_problems(key: str, sources: dict[Path, str]) -> list[str]:
    """What is wrong with EN[key] as a template for t(): nothing if t() fills every placeholder.

    A template with literal braces (JSON examples) is not a format string: t() returns it
    as is when called without values, so no source may call it with values.
    """
    try:
        fields = {name for _, name, _, _ in string.Formatter().parse(EN[key]) if name is not None}
        valid = all(name.isidentifier() for name in fields)
    except ValueError:
        valid = False
    try:
        if not valid:
            with_values = re.compile(r'\bt\(\s*"' + re.escape(key) + r'"\s*,')
            callers = [str(path.relative_to(ROOT)) for path, text in sources.items() if with_values.search(text)]
            problems = [f"{key}: has literal braces but is formatted in {callers}"] if callers else []
            if t(key) != EN[key]:
                problems.append(f"{key}: t() without values changed the literal text to {t(key)!r}")
            return problems
        text = t(key, **{name: f"<{name}>" for name in fields})
    except Exception as exc:  # noqa: BLE001 - every key's failure is collected and reported together
        return [f"{key}: t() raised {exc!r}"]
    return [f"{key}: placeholder {{{name}}} was not filled" for name in sorted(fields) if f"<{name}>" not in text]


def test_every_template_formats_through_t():
    """t() fills every placeholder of every template, whatever the placeholder is called; no text is empty."""
    sources = {path: path.read_text(encoding="utf-8") for path in source_files()}
    problems = [f"{key}: empty text" for key in sorted(EN) if not EN[key].strip()]
    for key in sorted(EN):
        problems += template_problems(key, sources)
    assert len(EN) > 50, "the catalogue looks empty: the check would check nothing"
    assert not problems, problems_report(f"template problems among {len(EN)} keys", problems)


def test_template_check_reports_what_is_wrong(monkeypatch):
    """The collector itself: a template that t() cannot fill, and literal braces formatted by a caller."""
    monkeypatch.setitem(EN, "zz.test.number", "{value:d} and {other}")
    monkeypatch.setitem(EN, "zz.test.literal", '{"json": 1}')
    assert template_problems("spec.where_layer", {}) == []
    [raised] = template_problems("zz.test.number", {})  # "<value>" is not a number
    assert raised.startswith("zz.test.number: t() raised ValueError")
    caller = {ROOT / "app.py": 't("zz.test.literal", x=1)'}
    assert template_problems("zz.test.literal", caller) == [
        "zz.test.literal: has literal braces but is formatted in ['app.py']"
    ]
    assert template_problems("zz.test.literal", {}) == []


def test_t_formats_values():
    assert t("spec.where_layer", number=3, type="relu") == "layer 3 (relu)"
    assert t("spec.err.unknown_key", key="kernal_size") == "unknown key 'kernal_size'"
    assert t("spec.where_spec") == "spec"
    # a template without values is returned as is, braces and all
    assert t("spec.fix.layer_object") == EN["spec.fix.layer_object"]


def test_t_unknown_key_raises():
    with pytest.raises(KeyError):
        t("no.such.key")


def test_other_language_falls_back_to_english(monkeypatch):
    monkeypatch.setitem(i18n.CATALOGUES, "de", {"spec.where_layer": "Schicht {number} ({type})"})
    monkeypatch.setenv("CNN_LAB_LANG", "de")
    assert i18n.current_language() == "de"
    assert t("spec.where_layer", number=2, type="relu") == "Schicht 2 (relu)"
    assert t("spec.where_spec") == "spec"  # missing from "de": English


def test_language_from_environment(monkeypatch):
    monkeypatch.setitem(i18n.CATALOGUES, "de", {})
    monkeypatch.setenv("CNN_LAB_LANG", "de")
    assert i18n.current_language() == "de"
    monkeypatch.setenv("CNN_LAB_LANG", "zz")  # unknown: English
    assert i18n.current_language() == "en"
