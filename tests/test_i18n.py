"""Every user-facing string goes through t(key); every key used in the sources is in English."""

import re
import string
from pathlib import Path

import pytest

from cnn_core import PRESETS, i18n, t
from cnn_core.i18n.catalog_en import EN

ROOT = Path(__file__).resolve().parents[1]
T_CALL = re.compile(r'\bt\(\s*"([a-z0-9_.]+)"')


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
    missing = {key: where for key, where in used_keys().items() if key not in EN}
    assert not missing, f"keys used with t() but missing from catalog_en.EN: {missing}"


def test_regex_matches_the_call_forms_used():
    sample = 't("a.b") + t( "c_d.e", x=1) + st("no") + t(f"preset.{k}.title") + t(\n    "f.g")'
    assert T_CALL.findall(sample) == ["a.b", "c_d.e", "f.g"]


@pytest.mark.parametrize("key", list(PRESETS))
def test_preset_title_and_description_exist(key):
    for part in ("title", "description"):
        assert f"preset.{key}.{part}" in EN
        assert EN[f"preset.{key}.{part}"].strip()
    assert PRESETS[key].title == EN[f"preset.{key}.title"]


def test_every_layer_type_has_help():
    from cnn_core.arch.spec import LAYER_TYPES

    for kind, layer_type in LAYER_TYPES.items():
        assert layer_type.help_key in EN, kind


@pytest.mark.parametrize("key", sorted(EN))
def test_every_template_formats_through_t(key):
    """t() fills every placeholder of every template, whatever the placeholder is called.

    A template with literal braces (JSON examples) is not a format string: t() returns it
    as is when called without values, so no source may call it with values.
    """
    try:
        fields = {name for _, name, _, _ in string.Formatter().parse(EN[key]) if name is not None}
        valid = all(name.isidentifier() for name in fields)
    except ValueError:
        valid = False
    if not valid:
        with_values = re.compile(r'\bt\(\s*"' + re.escape(key) + r'"\s*,')
        callers = [p for p in source_files() if with_values.search(p.read_text(encoding="utf-8"))]
        assert not callers, f"{key} has literal braces but is formatted in {callers}"
        assert t(key) == EN[key]
        return
    values = {name: f"<{name}>" for name in fields}
    text = t(key, **values)
    for name in fields:
        assert f"<{name}>" in text


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
