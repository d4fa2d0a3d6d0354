"""Every user-facing string goes through t(key); every key is in both catalogues, filled in, with the
same placeholders and the right number of plural forms; the Chinese follows the glossary.

The catalogues are gettext files (cnn_core/i18n/locales/<language>.po, msgid = key). Each check runs
over every key (or preset, layer type, glossary term) and fails once, listing every problem it
found, rather than as one test per key. Each collector is a function of the catalogue's text, so
the tests at the end show it failing on a deliberately broken copy.
"""

from __future__ import annotations

import csv
import io
import re
import string
from pathlib import Path

import pytest
from babel.messages.pofile import PoFileError, read_po

from cnn_core import PRESETS, i18n, t
from cnn_core.i18n import LANGUAGES, LOCALES, catalog
from tests.conftest import REPO_ROOT as ROOT

EN = catalog("en")  # the English catalogue: every key, as the tests read it
NPLURALS = {"en": 2, "zh": 1}  # CLDR: English one/other, Chinese a single form
GLOSSARY = ROOT / "cnn_core" / "i18n" / "glossary.csv"

T_CALL = re.compile(r'\bt\(\s*"([a-z0-9_.]+)"')
T_FAMILY = re.compile(r'\bt\(\s*f"([a-z0-9_.]+)\.\{')  # t(f"preset.{key}.title"): a family of keys


def problems_report(what: str, problems: list[str]) -> str:
    return f"{len(problems)} {what}:\n" + "\n".join(f"  - {problem}" for problem in problems)


def po_text(language: str) -> str:
    return (LOCALES / f"{language}.po").read_text(encoding="utf-8")


def forms(text: str | tuple[str, ...]) -> tuple[str, ...]:
    return text if isinstance(text, tuple) else (text,)


# ---------------------------------------------------------------- keys used in the sources


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


def test_every_t_key_in_the_sources_is_in_both_languages():
    problems = []
    for language in LANGUAGES:
        entries = catalog(language)
        problems += [
            f"{key} (used in {sorted(set(where))}): missing from {language}.po"
            for key, where in sorted(used_keys().items())
            if key not in entries
        ]
    assert not problems, problems_report("keys used with t() but missing from a catalogue", problems)


def test_regex_matches_the_call_forms_used():
    sample = 't("a.b") + t( "c_d.e", x=1) + st("no") + t(f"preset.{k}.title") + t(\n    "f.g")'
    assert T_CALL.findall(sample) == ["a.b", "c_d.e", "f.g"]
    assert T_FAMILY.findall(sample) == ["preset"]


def dynamic_families() -> dict[str, list[str]]:
    """Keys built at run time, by family: every value the code can put into the key."""
    from cnn_core.arch.spec import LAYER_TYPES
    from cnn_core.concepts.activations import ACTIVATIONS, INITS
    from cnn_core.concepts.convolution import KERNELS
    from cnn_core.concepts.patch_match import MATCH_METHODS
    from cnn_core.data.catalog import DATASETS
    from cnn_core.inspection.predictions import SORTS
    from cnn_core.runs.examples import EXAMPLES
    from cnn_core.train.config import AUGMENTATIONS

    states = ("queued", "running", "stopping", "stopped", "completed", "failed", "interrupted")
    lessons = ("steps", "flip", "kernels", "patch", "strides", "relu", "pool", "act", "batch", "rf")
    return {
        "preset.{}.title / .description": [f"preset.{k}.{p}" for k in PRESETS for p in ("title", "description")],
        "dataset.{}": [f"dataset.{name}" for name in DATASETS],
        "examples.{}": [f"examples.{key}" for key in EXAMPLES],
        "state.{}": [f"state.{s}" for s in states],
        "runs.state_message.{}": [f"runs.state_message.{s}" for s in states],
        "lang.name.{}": [f"lang.name.{code}" for code in LANGUAGES],
        "layer help": [lt.help_key for lt in LAYER_TYPES.values()],
        "concept.{}.title / .intro": [f"concept.{lesson}.{p}" for lesson in lessons for p in ("title", "intro")],
        "concept.act.name.{} / use.{}": [f"concept.act.{p}.{n}" for n in ACTIVATIONS for p in ("name", "use")],
        "concept.act.init.{}": [f"concept.act.init.{i}" for i in INITS],
        "concept.kernel.{}": [f"concept.kernel.{name}" for name in KERNELS],
        "concept.kernels.channel.{}": [f"concept.kernels.channel.{c}" for c in ("red", "green", "blue")],
        "concept.patch.response / explain.{}": [
            f"concept.patch.{p}.{m}" for m in MATCH_METHODS for p in ("response", "explain")
        ],
        "predictions.sort.{}": [f"predictions.sort.{s}" for s in SORTS],
        "train.augment.{}": [f"train.augment.{a}" for a in AUGMENTATIONS],
        "filters.source.{}": [f"filters.source.{s}" for s in ("test", "upload")],
        "sees.target.{}": [f"sees.target.{v}" for v in ("class", "channel")],
        "sees.start.{}": [f"sees.start.{v}" for v in ("noise", "image")],
        "sees.curve.{}": [f"sees.curve.{v}" for v in ("probability", "objective")],
    }


def test_every_dynamic_key_family_is_complete_in_both_languages():
    problems = []
    for family, keys in dynamic_families().items():
        if not keys:
            problems.append(f"{family}: no values found (the check would check nothing)")
        for language in LANGUAGES:
            problems += [f"{family}: {key} missing from {language}.po" for key in keys if key not in catalog(language)]
    assert not problems, problems_report("dynamic keys missing", problems)


def test_every_family_prefix_in_the_sources_has_keys():
    """t(f"prefix.{…}") anywhere in the code: the catalogue has keys under that prefix."""
    problems = []
    for path in source_files():
        for prefix in T_FAMILY.findall(path.read_text(encoding="utf-8")):
            if not any(key.startswith(prefix + ".") for key in EN):
                problems.append(f'{path.relative_to(ROOT)}: t(f"{prefix}.{{…}}") but no key starts with {prefix}.')
    assert not problems, problems_report("key families without keys", problems)


def test_every_preset_has_a_title_and_description():
    problems = []
    for key, preset in PRESETS.items():
        for part in ("title", "description"):
            name = f"preset.{key}.{part}"
            if name not in EN:
                problems.append(f"{name}: missing from en.po")
            elif not EN[name].strip():
                problems.append(f"{name}: empty text")
        if f"preset.{key}.title" in EN and preset.title != EN[f"preset.{key}.title"]:
            problems.append(f"{key}: PRESETS title {preset.title!r} is not en.po's {EN[f'preset.{key}.title']!r}")
    assert PRESETS, "no presets: the check would check nothing"
    assert not problems, problems_report("preset text problems", problems)


def test_every_layer_type_has_help():
    from cnn_core.arch.spec import LAYER_TYPES

    missing = [f"{kind}: help key {lt.help_key!r}" for kind, lt in LAYER_TYPES.items() if lt.help_key not in EN]
    assert LAYER_TYPES, "no layer types: the check would check nothing"
    assert not missing, problems_report("layer types whose help is missing from en.po", missing)


# ---------------------------------------------------------------- the .po files themselves


def raw_msgids(text: str) -> list[str]:
    """Every live msgid of a .po file's text, in order, duplicates kept (Babel merges them)."""
    ids, current = [], None
    for line in text.splitlines():
        if line.startswith("msgid "):
            current = [line[6:].strip()]
            ids.append(current)
        elif current is not None and line.startswith('"'):
            current.append(line.strip())
        else:
            current = None
    return ["".join(part[1:-1] for part in parts) for parts in ids]


def po_file_problems(language: str, text: str) -> list[str]:
    """What is wrong with a .po file as a file: parse errors, duplicates, fuzzy and obsolete entries,
    a Plural-Forms header that is not the language's."""
    try:
        messages = read_po(io.BytesIO(text.encode("utf-8")), locale=language, abort_invalid=True)
    except (PoFileError, ValueError) as exc:
        return [f"{language}.po: Babel cannot read it: {exc}"]
    problems = []
    ids = raw_msgids(text)
    seen: set[str] = set()
    for key in ids:
        if key in seen:
            problems.append(f"{language}.po: {key!r} appears more than once")
        seen.add(key)
    problems += [f"{language}.po: {m.id!r} is marked fuzzy" for m in messages if m.id and m.fuzzy]
    problems += [f"{language}.po: {key!r} is obsolete (#~)" for key in messages.obsolete]
    if re.search(r"^#~", text, re.MULTILINE) and not messages.obsolete:
        problems.append(f"{language}.po: holds obsolete (#~) lines")
    if messages.num_plurals != NPLURALS[language]:
        problems.append(f"{language}.po: Plural-Forms says nplurals={messages.num_plurals}, not {NPLURALS[language]}")
    if str(messages.locale) != language:
        problems.append(f"{language}.po: Language header is {messages.locale}, not {language}")
    return problems


def test_po_files_parse_without_duplicate_fuzzy_or_obsolete_entries():
    problems = []
    for language in LANGUAGES:
        problems += po_file_problems(language, po_text(language))
    assert not problems, problems_report("catalogue file problems", problems)


def fields_of(text: str) -> set[str] | None:
    """The placeholders of a template as t() sees them ({name}, {name:.2f}, {name!r}), or None when
    Python cannot parse it as a format string (literal braces; t() returns such text as it is)."""
    try:
        return {
            name + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "")
            for _, name, spec, conversion in string.Formatter().parse(text)
            if name is not None
        }
    except ValueError:
        return None


def catalogue_problems(catalogues: dict[str, dict[str, str | tuple[str, ...]]]) -> list[str]:
    """Missing, extra and empty texts, plural forms that do not match the language, and placeholders
    that differ from the English (per plural form; English's singular may leave {n} out)."""
    en = catalogues["en"]
    problems = [f"{key}: in {lang}.po but not in en.po" for lang, c in catalogues.items() for key in c if key not in en]
    for key, english in en.items():
        english_plural = isinstance(english, tuple)
        reference = fields_of(forms(english)[-1])
        for language, entries in catalogues.items():
            if key not in entries:
                problems.append(f"{key}: missing from {language}.po")
                continue
            text = entries[key]
            if isinstance(text, tuple) != english_plural:
                problems.append(
                    f"{key}: {'a plural' if english_plural else 'not a plural'} in en.po but not in {language}.po"
                )
            elif english_plural and len(text) != NPLURALS[language]:
                problems.append(
                    f"{key}: {len(text)} plural forms in {language}.po, the language has {NPLURALS[language]}"
                )
            for index, form in enumerate(forms(text)):
                where = f"{key} [{language}{f' form {index}' if isinstance(text, tuple) else ''}]"
                if not form.strip():
                    problems.append(f"{where}: empty")
                    continue
                found = fields_of(form)
                optional_n = language == "en" and english_plural and index == 0 and NPLURALS["en"] > 1
                expected = reference if not optional_n or found is None else reference - ({"n"} - found)
                if found != expected:
                    problems.append(
                        f"{where}: placeholders {sorted(found or [])} differ from English {sorted(reference or [])}: {form!r}"
                    )
    return problems


def test_every_key_is_filled_in_both_languages_with_matching_placeholders_and_plural_forms():
    catalogues = {language: catalog(language) for language in LANGUAGES}
    assert set(LANGUAGES) == set(NPLURALS)
    assert len(EN) > 500, "the catalogue looks empty: the check would check nothing"
    assert any(isinstance(text, tuple) for text in EN.values()), "no plural: the plural checks check nothing"
    problems = catalogue_problems(catalogues)
    assert not problems, problems_report(f"catalogue problems among {len(EN)} keys", problems)


# ---------------------------------------------------------------- templates through t()


def template_problems(key: str, sources: dict[Path, str], language: str = "en") -> list[str]:
    """What is wrong with the key as a template for t() in language: nothing if t() fills every
    placeholder of every form.

    A template with literal braces (JSON examples) is not a format string: t() returns it
    as is when called without values, so no source may call it with values.
    """
    text = catalog(language)[key]
    problems: list[str] = []
    i18n.use_language(language)
    try:
        for count, form in zip((1, 2), forms(text)) if isinstance(text, tuple) else ((None, text),):
            fields = fields_of(form)
            names = {f.split("!")[0].split(":")[0] for f in fields or ()}
            if fields is None or not all(name.isidentifier() for name in names):
                with_values = re.compile(r'\bt\(\s*"' + re.escape(key) + r'"\s*,')
                callers = [str(path.relative_to(ROOT)) for path, src in sources.items() if with_values.search(src)]
                if callers:
                    problems.append(f"{key} [{language}]: has literal braces but is formatted in {callers}")
                if t(key) != form:
                    problems.append(f"{key} [{language}]: t() without values changed the literal text to {t(key)!r}")
                continue
            values = {name: f"<{name}>" for name in names}
            if count is not None:
                values["n"] = count
            try:
                filled = t(key, **values)
            except Exception as exc:  # noqa: BLE001 - every key's failure is collected and reported together
                problems.append(f"{key} [{language}]: t() raised {exc!r}")
                continue
            problems += [
                f"{key} [{language}]: placeholder {{{name}}} was not filled"
                for name in sorted(names - {"n"})
                if f"<{name}>" not in filled
            ]
    finally:
        i18n.use_language(None)
    return problems


def test_every_template_formats_through_t_in_every_language():
    """t() fills every placeholder of every template (and every plural form), in each language."""
    sources = {path: path.read_text(encoding="utf-8") for path in source_files()}
    problems = []
    for language in LANGUAGES:
        for key in sorted(catalog(language)):
            problems += template_problems(key, sources, language)
    assert len(EN) > 50, "the catalogue looks empty: the check would check nothing"
    assert not problems, problems_report(f"template problems among {len(EN)} keys", problems)


def test_template_check_reports_what_is_wrong(monkeypatch):
    """The collector itself: a template that t() cannot fill, and literal braces formatted by a caller."""
    monkeypatch.setitem(EN, "zz.test.number", "{value:d} and {other}")
    monkeypatch.setitem(EN, "zz.test.literal", '{"json": 1}')
    assert template_problems("spec.where_layer", {}) == []
    [raised] = template_problems("zz.test.number", {})  # "<value>" is not a number
    assert raised.startswith("zz.test.number [en]: t() raised ValueError")
    caller = {ROOT / "app.py": 't("zz.test.literal", x=1)'}
    assert template_problems("zz.test.literal", caller) == [
        "zz.test.literal [en]: has literal braces but is formatted in ['app.py']"
    ]
    assert template_problems("zz.test.literal", {}) == []


# ---------------------------------------------------------------- t() and the language


def test_t_formats_values():
    i18n.use_language("en")
    try:
        assert t("spec.where_layer", number=3, type="relu") == "layer 3 (relu)"
        assert t("spec.err.unknown_key", key="kernal_size") == "unknown key 'kernal_size'"
        assert t("spec.where_spec") == "spec"
        # a template without values is returned as is, braces and all
        assert t("spec.fix.layer_object") == EN["spec.fix.layer_object"]
    finally:
        i18n.use_language(None)


def test_t_picks_the_plural_form_of_the_language():
    key = next(key for key, text in EN.items() if isinstance(text, tuple))
    values = {name: "x" for form in EN[key] for name in fields_of(form) or () if name.isidentifier()}
    try:
        i18n.use_language("en")
        one, other = EN[key]
        assert t(key, **{**values, "n": 1}) == one.format(**{**values, "n": 1})
        assert t(key, **{**values, "n": 3}) == other.format(**{**values, "n": 3})
        i18n.use_language("zh")
        [only] = catalog("zh")[key]
        assert t(key, **{**values, "n": 1}) == only.format(**{**values, "n": 1})
        assert t(key, **{**values, "n": 3}) == only.format(**{**values, "n": 3})
    finally:
        i18n.use_language(None)


def test_t_unknown_key_raises():
    with pytest.raises(KeyError):
        t("no.such.key")


def test_language_follows_the_thread_then_the_environment(monkeypatch):
    for name in ("CNN_LAB_LANG", "LC_ALL", "LC_MESSAGES", "LANG"):
        monkeypatch.delenv(name, raising=False)
    assert i18n.current_language() == "en"
    monkeypatch.setenv("LANG", "zh_CN.UTF-8")
    assert i18n.current_language() == "zh"
    monkeypatch.setenv("CNN_LAB_LANG", "en")  # the server's setting wins over the system locale
    assert i18n.current_language() == "en"
    monkeypatch.setenv("CNN_LAB_LANG", "zz")  # unknown: English
    assert i18n.current_language() == "en"
    monkeypatch.setenv("CNN_LAB_LANG", "zh")
    assert t("spec.where_layer", number=2, type="relu") == catalog("zh")["spec.where_layer"].format(
        number=2, type="relu"
    )
    i18n.use_language("en")  # a page run's choice wins over the server's
    try:
        assert i18n.current_language() == "en" and t("spec.where_spec") == "spec"
    finally:
        i18n.use_language(None)


def test_a_key_missing_from_chinese_falls_back_to_english(monkeypatch):
    zh = dict(catalog("zh"))
    del zh["spec.where_spec"]
    monkeypatch.setattr(i18n, "catalog", lambda language: zh if language == "zh" else EN)
    i18n.use_language("zh")
    try:
        assert t("spec.where_spec") == EN["spec.where_spec"]
    finally:
        i18n.use_language(None)


# ---------------------------------------------------------------- the glossary


def read_glossary(text: str | None = None) -> list[dict[str, str]]:
    rows = list(csv.DictReader(io.StringIO(text if text is not None else GLOSSARY.read_text(encoding="utf-8"))))
    return [row for row in rows if (row.get("english") or "").strip()]


PLACEHOLDER_OR_CODE = re.compile(r"\{[^{}]*\}|`[^`]*`")


def glossary_pattern(term: str) -> re.Pattern:
    """The term as a whole word or phrase, any case, with a simple plural (-s, -es)."""
    words = r"[\s-]+".join(re.escape(word) for word in term.split())
    return re.compile(rf"(?<![\w-]){words}(?:s|es)?(?![\w-])", re.IGNORECASE)


def glossary_problems(glossary: list[dict[str, str]], en: dict, zh: dict) -> list[str]:
    """Every key whose English uses a glossary term while its Chinese has none of the term's
    accepted translations (the glossary's chinese, or one of its `also` variants, |-separated).
    A term inside a longer one ("precision" in "mixed precision") answers to the longer one only."""
    terms = [
        (
            row["english"].strip(),
            glossary_pattern(row["english"].strip()),
            [row["chinese"].strip(), *filter(None, (v.strip() for v in (row.get("also") or "").split("|")))],
        )
        for row in glossary
    ]
    terms.sort(key=lambda term: -len(term[0]))  # longer first: "mixed precision" before "precision"
    problems = []
    for key in sorted(en):
        if key not in zh:
            continue  # a missing key is catalogue_problems' to report
        english = " ".join(PLACEHOLDER_OR_CODE.sub(" ", form) for form in forms(en[key]))
        chinese = " ".join(forms(zh[key]))
        for term, pattern, accepted in terms:
            if pattern.search(english):
                if not any(word in chinese for word in accepted):
                    problems.append(f"{key}: English says {term!r}, Chinese lacks {' / '.join(accepted)}: {chinese!r}")
                english = pattern.sub(" ", english)  # a shorter term inside a longer one is the longer one's
    return problems


def test_glossary_file_is_well_formed():
    rows = read_glossary()
    assert len(rows) >= 30
    problems = []
    seen = set()
    for row in rows:
        english, chinese = row["english"].strip(), (row.get("chinese") or "").strip()
        if not chinese:
            problems.append(f"{english}: no Chinese term")
        if english.lower() in seen:
            problems.append(f"{english}: listed twice")
        seen.add(english.lower())
    for term in ("convolution", "padding", "stride", "feature map", "receptive field", "pooling"):
        if term not in seen:
            problems.append(f"{term}: the seeds' term is missing from the glossary")
    assert not problems, problems_report("glossary problems", problems)


def test_chinese_follows_the_glossary():
    problems = glossary_problems(read_glossary(), EN, catalog("zh"))
    assert not problems, problems_report("keys whose Chinese does not use the glossary's term", problems)


# ---------------------------------------------------------------- each collector fails on broken input


def test_glossary_check_catches_an_inconsistent_translation():
    glossary = read_glossary(
        "english,chinese,note,also\nstride,步幅,,\nfilter,过滤器,,筛选\nprecision,精确率,,\nmixed precision,混合精度,,\n"
    )
    en = {
        "a": "the stride of the layer",
        "b": "two strides",
        "c": "set `stride=2` and {stride}",
        "d": "filter the gallery",
        "e": "no stride-free words like strident",
        "f": "bfloat16 mixed precision",
        "g": "precision and recall",
        "h": "the STRIDES",
    }
    zh = {"a": "该层的步长", "b": "两个步幅", "c": "设 `stride=2`", "d": "筛选图库", "e": "没有", "f": "混合精度"}
    zh |= {"g": "精度和召回率", "h": "步长"}
    assert glossary_problems(glossary, en, zh) == [
        "a: English says 'stride', Chinese lacks 步幅: '该层的步长'",
        "g: English says 'precision', Chinese lacks 精确率: '精度和召回率'",
        "h: English says 'stride', Chinese lacks 步幅: '步长'",
    ]


def test_catalogue_check_catches_missing_empty_placeholder_and_plural_problems():
    en = {
        "ok": "layer {number}",
        "gone": "x",
        "empty": "y",
        "holder": "{a} and {b}",
        "spec": "{v:.2f}",
        "count": ("one kernel", "{n} kernels"),
        "forms": ("{n} row", "{n} rows"),
        "flat": ("{n} item", "{n} items"),
    }
    zh = {
        "ok": "第 {number} 层",
        "empty": "  ",
        "holder": "{a} 和 {c}",
        "spec": "{v}",
        "count": ("{n} 个卷积核",),
        "forms": ("{n} 行", "{n} 行"),
        "flat": "{n} 项",
        "extra": "多余",
    }
    problems = catalogue_problems({"en": en, "zh": zh})
    expected_fragments = [
        "extra: in zh.po but not in en.po",
        "gone: missing from zh.po",
        "empty [zh]: empty",
        "holder [zh]: placeholders ['a', 'c'] differ",
        "spec [zh]: placeholders ['v'] differ",
        "forms: 2 plural forms in zh.po, the language has 1",
        "flat: a plural in en.po but not in zh.po",
    ]
    for fragment in expected_fragments:
        assert any(fragment in problem for problem in problems), (fragment, problems)
    assert not any(p.startswith(("ok", "count")) for p in problems), problems
    # English's plural forms must number two, and its plural form must keep {n}
    broken = catalogue_problems({"en": {**en, "count": ("one kernel", "kernels")}, "zh": {"count": ("{n} 个",)}})
    assert any("count [zh form 0]: placeholders ['n'] differ from English []" in p for p in broken), broken
    short = catalogue_problems({"en": {"count": ("{n} kernels",)}, "zh": {"count": ("{n} 个",)}})
    assert any("1 plural forms in en.po" in p for p in short), short


def test_po_file_check_catches_duplicates_fuzzy_obsolete_and_bad_plural_forms():
    text = po_text("zh")
    assert po_file_problems("zh", text) == po_file_problems("zh", text)
    first = 'msgid "spec.where_spec"'
    assert first in text
    duplicate = text + '\nmsgid "spec.where_spec"\nmsgstr "又一次"\n'
    assert any("'spec.where_spec' appears more than once" in p for p in po_file_problems("zh", duplicate))
    fuzzy = text.replace(first, "#, fuzzy\n" + first, 1)
    assert any("'spec.where_spec' is marked fuzzy" in p for p in po_file_problems("zh", fuzzy))
    obsolete = text + '\n#~ msgid "old.key"\n#~ msgstr "旧"\n'
    assert any("obsolete" in p for p in po_file_problems("zh", obsolete))
    plural = text.replace("nplurals=1; plural=0;", "nplurals=2; plural=(n != 1);")
    assert any("nplurals=2, not 1" in p for p in po_file_problems("zh", plural))
    garbage = text.replace(first, "garbage line here", 1)
    assert any("Babel cannot read it" in p for p in po_file_problems("zh", garbage))
    no_text = text + '\nmsgid "x.y"\n'
    assert any("Babel cannot read it" in p for p in po_file_problems("zh", no_text))
