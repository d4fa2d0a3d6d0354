"""Every page of the app, rendered through AppTest in Chinese and in English: no visible text in
Chinese holds an English word (outside a short allow-list of identifiers, units and names), and no
visible text in English holds a Chinese character (outside the language switch's own name, 中文).

"Visible text" is what a visitor reads: titles, headers, markdown, captions, alerts, widget labels,
help and options, buttons, tabs, expanders, metrics, table column headers, and the titles, axis
titles, legend names and annotations of every Plotly figure. Code blocks are code, not prose; inline
code (`…`), URLs and LaTeX commands are stripped before the check. The look-inside pages need a
trained run: one is trained once for the module (seconds, the digits and a tiny network).
"""

from __future__ import annotations

import json
import re

import pytest
from streamlit.testing.v1 import AppTest

from cnn_core.settings import reset_settings
from tests.apptest import APP
from tests.conftest import REPO_ROOT, kill_leftovers, tiny_config, train_completed_run

PAGES = re.findall(r'st\.Page\(\s*"(app_pages/[^"]+\.py)"', (REPO_ROOT / "app.py").read_text(encoding="utf-8"))


# Words a Chinese page may show as they are: identifiers a learner types in code, units, names.
# Tokens with an underscore, a digit or a dot (kernel_size, conv2d, CIFAR-10, nn.Conv2d) are
# identifiers by their shape and need no entry.
def _words(*groups: str) -> frozenset[str]:
    return frozenset(word for group in groups for word in group.split())


ALLOWED_WORDS = _words(
    # names and products
    """CNN Lab PyTorch torch torchvision Plotly Streamlit NumPy ImageNet MNIST Fashion-MNIST LeNet VGG AlexNet
    ResNet MobileNetV2 MobileNet GoogLeNet Inception Grad-CAM CUDA CPU GPU JSON CSV PNG ZIP Sobel Kaiming Xavier Glorot He Adam AdamW SGD
    OneCycleLR safetensors scikit-learn Keras TensorFlow JAX Transformer autograd logit
    BP""",  # BP: the seeds' own name for a fully connected net trained by backpropagation
    "English Delete",  # the language switch names each language in itself; the key on the keyboard
    # layer types and the words of the spec, as PyTorch writes them
    """ReLU LeakyReLU GELU ELU Sigmoid Tanh Softmax relu gelu elu sigmoid tanh softmax linear flatten dropout
    Conv MaxPool AvgPool BatchNorm LayerNorm layernorm Linear Flatten Dropout Sequential stride padding dilation
    groups bias same valid residual concat""",
    "MB KB GB KiB MiB GiB ms px MACs MAC FLOPs RGB id bfloat",  # units and abbreviations
    "adam adamw sgd cpu cuda lr",  # values a learner types: torch.optim's names, devices, the learning rate's name
)
ALLOWED_PHRASES = ("Leaky ReLU",)  # a word allowed only in its phrase
CHINESE = re.compile(r"[\u3400-\u9fff\uf900-\ufaff\u3000-\u303f\uff00-\uffef]")
ALLOWED_CHINESE = {"中文"}  # the language switch names each language in itself

INLINE_CODE = re.compile(r"`[^`]*`|[\w.]+=[\w.\-]+|\w+(?=\()")  # `code`, key=value, a function's name(
COLOURED = re.compile(r":[a-z]+(?:-background)?\[|:material/\w+:")  # Streamlit's :green[…] and icons
URL = re.compile(r"(?:https?://|www\.)\S+")
MATH = re.compile(r"\$\$.*?\$\$|\$[^$\n]+\$", re.DOTALL)
TOKEN = re.compile(r"\w[\w\-]*(?:\.\w+)*")


def strip_latex(text: str) -> str:
    """LaTeX without its commands and sub- or superscripts: the words that remain are prose
    (\\text{…}, \\mathrm{…} are checked)."""
    text = re.sub(r"\\(?:text|mathrm|textrm|operatorname|mbox)\s*\{([^{}]*)\}", r" \1 ", text)
    text = re.sub(r"\\(?:begin|end)\s*\{\w+\*?\}", " ", text)
    text = re.sub(r"[_^]\s*\{[^{}]*\}|[_^]\s*\\?[A-Za-z]", " ", text)
    return re.sub(r"\\[A-Za-z]+", " ", text)


def prose(text: str, latex: bool = False) -> str:
    text = URL.sub(" ", INLINE_CODE.sub(" ", COLOURED.sub("[", text)))
    if latex:
        return strip_latex(text)
    return MATH.sub(lambda m: strip_latex(m.group(0)), text)


def english_words(text: str, latex: bool = False) -> list[str]:
    """The English words of a text shown in Chinese: tokens with two letters or more in a row that are
    neither allowed nor identifiers by their shape."""
    text = prose(text, latex)
    for phrase in ALLOWED_PHRASES:
        text = text.replace(phrase, " ")
    words = []
    for token in TOKEN.findall(text):
        if not re.search(r"[A-Za-z]{2,}", token) or token in ALLOWED_WORDS or re.search(r"[_\d.]", token):
            continue
        if "-" in token and all(part in ALLOWED_WORDS or len(part) < 2 for part in token.split("-")):
            continue
        words.append(token)
    return words


def chinese_characters(text: str, latex: bool = False) -> list[str]:
    text = prose(text, latex)
    for allowed in ALLOWED_CHINESE:
        text = text.replace(allowed, " ")
    return CHINESE.findall(text)


# ---------------------------------------------------------------- visible text of a rendered page


def walk(node):
    yield node
    for child in getattr(node, "children", {}).values():
        yield from walk(child)


def figure_texts(spec: str) -> list[str]:
    """Titles, axis titles, legend names and annotations of a Plotly figure's JSON."""
    figure = json.loads(spec)
    layout = figure.get("layout", {})
    texts = []

    def title_of(part):
        title = (part or {}).get("title")
        return title.get("text") if isinstance(title, dict) else title

    texts.append(title_of(layout))
    for name, part in layout.items():
        if isinstance(part, dict) and re.fullmatch(r"(x|y)axis\d*|legend|coloraxis\d*|scene", name):
            texts.append(title_of(part))
            if name.startswith("coloraxis"):
                texts.append(title_of(part.get("colorbar")))
    texts += [a.get("text") for a in layout.get("annotations", [])]
    for trace in figure.get("data", []):
        if trace.get("showlegend", True) is not False:
            texts.append(trace.get("name"))
        texts.append(title_of(trace.get("colorbar")))
    return [text for text in texts if isinstance(text, str) and text.strip()]


def dataframe_headers(node) -> list[str]:
    headers = [str(column) for column in node.value.columns]
    try:
        config = json.loads(getattr(node.proto, "columns", "") or "{}")  # st.table has no column config
    except ValueError:
        config = {}
    labels = {}
    for column, settings in config.items():
        if isinstance(settings, dict) and settings.get("label"):
            labels[column.removeprefix("col:name:")] = settings["label"]
    hidden = {c for c, s in config.items() if isinstance(s, dict) and s.get("hidden")}
    return [labels.get(h, h) for h in headers if h not in hidden and f"col:name:{h}" not in hidden]


def visible_texts(at: AppTest) -> list[tuple[str, str, bool]]:
    """(where, text, is LaTeX) for every visible text element of the page."""
    found = []
    for node in walk(at._tree):
        kind = node.type
        proto = getattr(node, "proto", None)
        if proto is None or kind in ("code", "json", "html", "text_area", "text_input"):
            if kind in ("text_area", "text_input"):
                found += [(f"{kind} label", proto.label, False), (f"{kind} help", proto.help, False)]
            continue
        if kind == "plotly_chart":
            found += [("plotly figure", text, False) for text in figure_texts(proto.spec)]
            continue
        if kind in ("dataframe", "table"):
            found += [("table header", header, False) for header in dataframe_headers(node)]
            continue
        if hasattr(proto, "WhichOneof") and proto.DESCRIPTOR.name == "Block":
            block = proto.WhichOneof("type")
            part = getattr(proto, block, None) if block else None
            for field in ("label", "help"):
                if part is not None and field in part.DESCRIPTOR.fields_by_name and getattr(part, field):
                    found.append((f"{block} {field}", getattr(part, field), False))
            continue
        fields = proto.DESCRIPTOR.fields_by_name
        for field in ("label", "body", "help", "placeholder", "delta", "captions", "options"):
            if field not in fields:
                continue
            value = getattr(proto, field)
            values = [value] if isinstance(value, str) else list(value)
            for item in values:
                text = item if isinstance(item, str) else getattr(item, "content", "") or getattr(item, "label", "")
                if isinstance(text, str) and text.strip():
                    found.append((f"{kind} {field}", text, kind == "latex" or (field == "body" and _is_latex(proto))))
    return found


def _is_latex(proto) -> bool:
    return getattr(proto, "element_type", None) == 3 or proto.DESCRIPTOR.name == "Latex"


# ---------------------------------------------------------------- the pages


@pytest.fixture(scope="module")
def trained_runs(tmp_path_factory):
    """A runs folder holding one completed tiny run, for the look-inside pages; the environment points
    at it for the module."""
    root = tmp_path_factory.mktemp("language-runs")
    runs = root / "runs"
    runs.mkdir()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CNN_LAB_RUNS_DIR", str(runs))
        patch.setenv("CNN_LAB_DATA_DIR", str(root / "data"))
        for name in ("CNN_LAB_DEMO", "CNN_LAB_LANG"):
            patch.delenv(name, raising=False)
        for name in ("OMP_NUM_THREADS", "CNN_LAB_WORKER_THREADS"):
            patch.setenv(name, "1")
        reset_settings()
        train_completed_run(runs / "20260101-000000-digits-lang", tiny_config(epochs=1))
        try:
            yield runs
        finally:
            kill_leftovers(runs)
            reset_settings()


def render(page: str, language: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=180)
    at.query_params["lang"] = language
    at.run()
    assert not at.exception, at.exception
    at.switch_page(page).run()
    assert not at.exception, (page, at.exception)
    assert at.session_state["lang"] == language
    return at


def offenders_report(page: str, language: str, offenders: list[str]) -> str:
    return f"{page} in {language}: {len(offenders)} texts in the other language:\n" + "\n".join(
        f"  - {line}" for line in offenders
    )


def test_the_page_list_is_app_navigation():
    assert len(PAGES) >= 17 and "app_pages/shape_calculator.py" in PAGES and "app_pages/predictions.py" in PAGES


@pytest.mark.parametrize("page", PAGES)
def test_page_in_chinese_shows_no_english_words(trained_runs, page):
    at = render(page, "zh")
    texts = visible_texts(at)
    assert any(CHINESE.search(text) for _, text, _ in texts), f"{page}: no Chinese text at all"
    offenders = []
    for where, text, latex in texts:
        words = english_words(text, latex)
        if words:
            offenders.append(f"{where}: {sorted(set(words))} in {text!r}")
    assert not offenders, offenders_report(page, "zh", offenders)


@pytest.mark.parametrize("page", PAGES)
def test_page_in_english_shows_no_chinese(trained_runs, page):
    at = render(page, "en")
    texts = visible_texts(at)
    assert len(texts) > 3, f"{page}: hardly any text found: {texts}"
    offenders = []
    for where, text, latex in texts:
        characters = chinese_characters(text, latex)
        if characters:
            offenders.append(f"{where}: {''.join(characters)!r} in {text!r}")
    assert not offenders, offenders_report(page, "en", offenders)


# ---------------------------------------------------------------- the checks fail on stray text


def test_the_word_checks_catch_stray_text_and_spare_identifiers():
    assert english_words("训练 the network（卷积层）") == ["the", "network"]
    assert english_words("设 `kernel_size=3`，stride=2，conv2d、CIFAR-10、nn.Conv2d、max(0, x) 与 PyTorch、12 MB") == []
    assert english_words("见 https://pytorch.org/docs 与 :green[7 → 7（40%）]") == []
    assert english_words(r"\text{卷积：} y_{out} = \frac{a}{b}", latex=True) == []
    assert english_words(r"\begin{aligned} \text{raw:} x \end{aligned}", latex=True) == ["raw"]
    assert english_words("公式 $\\text{normalised: } H_{out}$ 如下") == ["normalised"]
    assert chinese_characters("Train a 网络 here") == ["网", "络"]
    assert chinese_characters("Language: English | 中文") == []


FIXTURE_APP = """
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

st.title("T1 title")
st.header("T2 header")
st.subheader("T3 subheader")
st.markdown("T4 markdown")
st.caption("T5 caption")
st.info("T6 info")
st.warning("T7 warning")
st.error("T8 error")
st.success("T9 success")
st.selectbox("T10 select", ["T11 option"], help="T12 help")
st.radio("T13 radio", ["T14 option"])
st.multiselect("T15 multi", ["T16 option"])
st.button("T17 button")
tab, = st.tabs(["T18 tab"])
with st.expander("T19 expander"):
    st.metric("T20 metric", "T21 value")
st.dataframe(pd.DataFrame({"T22 column": [1]}))
figure = go.Figure(go.Scatter(x=[1], y=[2], name="T23 trace"))
figure.update_layout(title="T24 chart", xaxis_title="T25 xtitle", yaxis_title="T26 ytitle", legend_title_text="T27 legend")
figure.add_annotation(text="T28 note", x=1, y=2)
st.plotly_chart(figure)
st.latex(r"\\text{T29 latex}")
st.slider("T30 slider", 0, 3, 1)
st.checkbox("T31 box")
st.code("not prose: code")
"""


def test_visible_texts_reads_every_kind_of_element():
    at = AppTest.from_string(FIXTURE_APP).run()
    assert not at.exception, at.exception
    texts = " ".join(text for _, text, _ in visible_texts(at))
    missing = [f"T{i} " for i in range(1, 32) if f"T{i} " not in texts]
    assert not missing, (missing, texts)
    assert "not prose" not in texts
    found = visible_texts(at)
    clean = [(where, text) for where, text, latex in found if not english_words(text, latex)]
    assert len(found) >= 29 and not clean, clean  # every one of them would fail a Chinese page
