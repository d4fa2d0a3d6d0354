"""The hosted demo's pages through AppTest: who the visitor is, each visitor seeing only their own
runs and the example runs on every page (and by link), the demo's notice and its limits on the
Train page, every shareable view round-tripping through its link, and hostile query parameters
on every page. The limits themselves are refused in cnn_core (tests/test_runs*.py); here, the
pages pass the visitor and show the messages."""

from __future__ import annotations

import ast
import os
import re
import shutil
import tomllib
from urllib.parse import parse_qs, urlsplit

import pytest
import streamlit
from streamlit.testing.v1 import AppTest

import app_pages._train as train_helpers
import cnn_core.runs.examples as examples
from app_pages._visitor import VISITOR_KEY, apply_secrets
from cnn_core.arch.presets import PRESETS
from cnn_core.arch.spec_link import LINK_PARAM, spec_from_link
from cnn_core.errors import CnnLabError
from cnn_core.files import read_json, write_json_atomic
from cnn_core.i18n import catalog, t
from cnn_core.runs.directory import EXAMPLES_OWNER, new_run_id, read_status, record_owner, write_status
from cnn_core.runs.visitors import COOKIE_NAME, new_visitor, visitor_from_token
from cnn_core.settings import load_settings
from cnn_core.train.estimate import EpochEstimate
from tests.apptest import APP
from tests.conftest import REPO_ROOT, tiny_config, train_completed_run

EN = catalog("en")  # the English catalogue: every key, as the tests read it

ALICE, BOB = "a" * 32, "b" * 32
LOOK_INSIDE = ["app_pages/predictions.py", "app_pages/filters.py", "app_pages/network_sees.py"]
RUN_PAGES = ["app_pages/runs.py", *LOOK_INSIDE]
ALL_PAGES = [
    "app_pages/home.py",
    "app_pages/shape_calculator.py",
    "app_pages/architecture_builder.py",
    "app_pages/train.py",
    *RUN_PAGES,
    "app_pages/concepts/kernels.py",
]
IGNORED_RUN = EN["links.run_ignored"]


@pytest.fixture(scope="module")
def template_run(tmp_path_factory):
    """One tiny trained run, copied into each test's runs folder under new ids and owners."""
    return train_completed_run(tmp_path_factory.mktemp("demo-template") / "run", tiny_config(epochs=1))


@pytest.fixture
def started_examples(monkeypatch):
    """ensure_example_runs replaced by a recorder: tests make their example runs themselves."""
    calls = []
    monkeypatch.setattr(examples, "ensure_example_runs", lambda root=None: calls.append(root) or {})
    return calls


@pytest.fixture
def demo(runs_root, monkeypatch, started_examples, fake_estimate):
    monkeypatch.setenv("CNN_LAB_DEMO", "1")
    return runs_root


@pytest.fixture
def fake_estimate(monkeypatch):
    """The Train page's time per epoch without its measuring process."""
    monkeypatch.setattr(
        train_helpers, "estimate_in_subprocess", lambda r: EpochEstimate(0.01, 10, 0.02, 20, 2, "cpu", 1)
    )
    train_helpers._estimate.clear()
    yield
    train_helpers._estimate.clear()


def add_run(root, template, owner: str | None, name: str, state: str | None = None, limit: str | None = None):
    """A copy of the template run named name, owned by owner; its state changed when given."""
    run_dir = root / new_run_id("digits")
    shutil.copytree(template, run_dir)
    write_json_atomic(run_dir / "config.json", read_json(run_dir / "config.json") | {"name": name})
    if owner is not None:
        record_owner(run_dir, owner)
    if state is not None:
        status = read_status(run_dir)
        status.state, status.limit = state, limit
        write_status(run_dir, status)
    return run_dir


def open_as(page: str, visitor: str | None, params: dict | None = None) -> AppTest:
    """page opened in a new session by visitor (the session's visitor set as current_visitor
    keeps it), from a link with params."""
    at = AppTest.from_file(APP, default_timeout=180)
    if visitor is not None:
        at.session_state[VISITOR_KEY] = visitor
    for key, value in (params or {}).items():
        at.query_params[key] = value
    at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


def page_text(at: AppTest) -> str:
    """Everything a page shows as text: messages, markdown, select box options, tables, code."""
    parts = [
        str(e.value)
        for kind in ("markdown", "caption", "info", "warning", "error", "success", "code")
        for e in at.get(kind)
    ]
    parts += [str(o) for box in at.selectbox for o in box.options]
    parts += [frame.value.to_string() for frame in at.dataframe]
    return "\n".join(parts)


def link_notices(at: AppTest) -> list[str]:
    """The notices of values dropped from the page's link (a run, a widget's value, a network)."""
    return [
        w.value
        for w in at.warning
        if w.value == IGNORED_RUN or w.value.startswith("Some settings") or "could not be opened" in w.value
    ]


def button_keys(at: AppTest) -> set[str]:
    return {b.key for b in at.button}


def share_link(at: AppTest) -> dict[str, list[str]]:
    """The query of the page's "Share this view" link."""
    (link,) = [c.value for c in at.code if "?" in c.value or c.value == ""] or [""]
    assert "?" in link, [c.value for c in at.code]
    return parse_qs(urlsplit(link).query, keep_blank_values=True)


def open_link(page: str, visitor: str | None, query: dict[str, list[str]]) -> AppTest:
    return open_as(page, visitor, {k: v if len(v) > 1 else v[0] for k, v in query.items()})


# ---------------------------------------------------------------- the visitor and the notice


def test_demo_mints_a_signed_visitor_sets_its_cookie_and_shows_the_notice(demo, started_examples):
    at = AppTest.from_file(APP, default_timeout=120).run()
    assert not at.exception, at.exception
    visitor = at.session_state[VISITOR_KEY]
    assert re.fullmatch(r"[0-9a-f]{32}", visitor)
    (script,) = [h.proto.body for h in at.sidebar.get("html")]
    token = re.search(rf'document\.cookie = "{COOKIE_NAME}=([^;]+); Path=/; Max-Age=\d+; SameSite=Lax";', script)
    assert token and visitor_from_token(token.group(1)) == visitor, script
    notice = " ".join(i.value for i in at.sidebar.info)
    limits = load_settings()
    parts = [
        "public demo",
        f"{limits.max_epochs} epochs",
        f"{limits.max_run_seconds / 60:g} minutes",
        f"{limits.max_runs_per_visitor} runs per visitor",
        "digits, shapes",
        f"{limits.max_upload_bytes // 2**20} MB",
        "private to this browser",
    ]
    for part in parts:
        assert part in notice, (part, notice)
    assert started_examples == [demo.resolve()]
    at.run()  # the same session: the same visitor, no second cookie
    assert at.session_state[VISITOR_KEY] == visitor and not at.sidebar.get("html")


class FakeContext:
    """st.context as a browser with a cookie sends it, on an https address."""

    def __init__(self, cookies: dict):
        self.cookies, self.url, self.locale = cookies, "https://demo.example/runs", None


def test_a_new_session_with_the_signed_cookie_is_the_same_visitor(demo, monkeypatch):
    visitor, token = new_visitor()
    monkeypatch.setattr(streamlit, "context", FakeContext({COOKIE_NAME: token}))
    at = AppTest.from_file(APP, default_timeout=120).run()
    assert not at.exception and at.session_state[VISITOR_KEY] == visitor and not at.sidebar.get("html")


@pytest.mark.parametrize("cookie", ["v1." + "a" * 32 + "." + "0" * 64, "garbage", "x" * 5000])
def test_a_forged_cookie_is_a_new_visitor_with_a_secure_cookie_on_https(demo, monkeypatch, cookie):
    monkeypatch.setattr(streamlit, "context", FakeContext({COOKIE_NAME: cookie}))
    at = AppTest.from_file(APP, default_timeout=120).run()
    assert not at.exception and at.session_state[VISITOR_KEY] != ALICE
    (script,) = [h.proto.body for h in at.sidebar.get("html")]
    assert script.endswith('SameSite=Lax; Secure";</script>') and cookie not in script


def test_secrets_can_switch_demo_mode_on(runs_root, monkeypatch, started_examples):
    class Secrets(dict):
        def load_if_toml_exists(self):
            return True

    monkeypatch.setenv("CNN_LAB_DEMO", "0")
    monkeypatch.delenv("CNN_LAB_DEMO")  # restored (unset) at the end, whatever apply_secrets wrote
    monkeypatch.setattr(streamlit, "secrets", Secrets(CNN_LAB_DEMO=True, OTHER="x"))
    apply_secrets.clear()
    try:
        at = AppTest.from_file(APP, default_timeout=120).run()
    finally:
        apply_secrets.clear()
    assert not at.exception and load_settings().demo and VISITOR_KEY in at.session_state
    assert "OTHER" not in os.environ


def test_outside_demo_mode_there_is_no_visitor_no_notice_no_examples(runs_root, started_examples):
    at = AppTest.from_file(APP, default_timeout=120).run()
    assert not at.exception
    assert VISITOR_KEY not in at.session_state and not at.sidebar.info and not at.sidebar.get("html")
    assert started_examples == []


def test_example_runs_that_fail_to_start_are_a_message(demo, monkeypatch):
    def broken(root=None):
        raise CnnLabError("no room for examples")

    monkeypatch.setattr(examples, "ensure_example_runs", broken)
    at = AppTest.from_file(APP, default_timeout=120).run()
    assert not at.exception
    assert any("no room for examples" in w.value for w in at.sidebar.warning)


# ---------------------------------------------------------------- visitor isolation, by page


@pytest.fixture
def two_visitors(demo, template_run):
    """Alice's run, Bob's run, and a stopped example run stopped by a demo limit."""
    alice = add_run(demo, template_run, ALICE, "alice-secret-run")
    bob = add_run(demo, template_run, BOB, "bob-own-run")
    example = add_run(demo, template_run, EXAMPLES_OWNER, "example-run", "stopped", "stopped at the demo's limit")
    return alice, bob, example


@pytest.mark.parametrize("page", RUN_PAGES)
def test_another_visitors_run_is_absent_and_its_link_ignored(two_visitors, page):
    alice, _, _ = two_visitors
    plain = open_as(page, BOB)
    assert "alice-secret-run" not in page_text(plain) and "bob-own-run" in page_text(plain)
    linked = open_as(page, BOB, {"run": alice.name})
    assert [w.value for w in linked.warning].count(IGNORED_RUN) == 1
    assert "run" not in linked.query_params or linked.query_params["run"] != alice.name
    assert "alice-secret-run" not in page_text(linked) and alice.name not in page_text(linked)
    assert linked.session_state["selected_run"] != alice.name


@pytest.mark.parametrize("page", RUN_PAGES)
def test_a_missing_run_in_the_link_reads_the_same_as_another_visitors(two_visitors, page):
    missing = open_as(page, BOB, {"run": new_run_id("digits")})
    assert [w.value for w in missing.warning].count(IGNORED_RUN) == 1


def test_a_visitor_without_runs_sees_only_the_examples_and_a_notice_for_a_foreign_link(demo, template_run):
    alice = add_run(demo, template_run, ALICE, "alice-secret-run")
    at = open_as("app_pages/predictions.py", BOB, {"run": alice.name})
    assert [w.value for w in at.warning] == [IGNORED_RUN] and "No trained run yet" in at.info[0].value
    assert "alice-secret-run" not in page_text(at)


def test_the_owner_sees_their_run_and_its_actions_by_link(two_visitors):
    alice, _, _ = two_visitors
    at = open_as("app_pages/runs.py", ALICE, {"run": alice.name})
    assert not link_notices(at) and at.session_state["selected_run"] == alice.name
    assert {"r_delete", "r_dl_config", "r_dl_metrics", "r_dl_weights"} <= button_keys(at) | {
        d.key for d in at.get("download_button")
    }
    assert "bob-own-run" not in page_text(at)
    at.button(key="r_delete").click().run()
    assert not at.exception and not alice.exists() and IGNORED_RUN not in [w.value for w in at.warning]
    assert at.query_params.get("run") != alice.name  # the next run is selected, without a notice
    for page in LOOK_INSIDE:
        seen = open_as(page, ALICE)
        assert "alice-secret-run" not in page_text(seen) and "example-run" in page_text(seen)


@pytest.mark.parametrize("visitor", [ALICE, BOB])
def test_an_example_run_is_read_only_to_every_visitor_and_shows_its_limit(two_visitors, visitor):
    _, _, example = two_visitors
    at = open_as("app_pages/runs.py", visitor, {"run": example.name})
    assert at.session_state["selected_run"] == example.name and not link_notices(at)
    assert not {"r_stop", "r_resume", "r_delete"} & button_keys(at)
    assert "r_dl_config" in {d.key for d in at.get("download_button")}
    assert any(c.value == EN["runs.example"] for c in at.caption)
    assert any("stopped at the demo's limit" in w.value for w in at.warning)
    for page in LOOK_INSIDE:
        assert "example-run" in page_text(open_as(page, visitor, {"run": example.name}))


def test_a_visitors_own_stopped_run_can_be_resumed(two_visitors):
    _, bob, _ = two_visitors
    status = read_status(bob)
    status.state = "stopped"
    write_status(bob, status)
    at = open_as("app_pages/runs.py", BOB, {"run": bob.name})
    assert "r_resume" in button_keys(at) and "r_delete" in button_keys(at)


# ---------------------------------------------------------------- the Train page in a demo


def test_train_page_offers_only_what_the_demo_allows(demo):
    at = open_as("app_pages/train.py", BOB)
    assert at.selectbox(key="t_dataset").options == [
        "Digits (scikit-learn, 1,797 images, upscaled to 28×28)",
        "Shapes (generated, 32×32 colour, 10 classes)",
    ]
    assert at.selectbox(key="t_device").options == ["cpu"]
    assert at.number_input(key="t_epochs").max == load_settings().max_epochs < 50
    over = open_as(
        "app_pages/train.py", BOB, {"t_epochs": "50", "t_dataset": "MNIST (70,000 handwritten digits, 28×28)"}
    )
    assert over.number_input(key="t_epochs").value == 3 and over.selectbox(key="t_dataset").value == "digits"
    assert any("t_epochs=50" in w.value for w in over.warning)
    pretrained = open_as("app_pages/train.py", BOB, {"t_preset": PRESETS["resnet18_transfer"].title})
    assert any(EN["train.scratch.demo"] == c.value for c in pretrained.caption)
    assert "t_fetch" not in button_keys(pretrained) and "t_from_scratch" not in {w.key for w in pretrained.toggle}


def test_a_launch_over_the_runs_per_visitor_limit_shows_the_launchers_message(demo, template_run, monkeypatch):
    monkeypatch.setenv("CNN_LAB_MAX_RUNS_PER_VISITOR", "1")
    add_run(demo, template_run, BOB, "bob-own-run")
    at = open_as("app_pages/train.py", BOB)
    at.button(key="t_launch").click().run()
    assert not at.exception
    assert [e.value for e in at.error] == [t("limit.runs_per_visitor", limit=1)]
    assert len(list(demo.glob("*-digits*"))) == 1  # nothing launched


# ---------------------------------------------------------------- views round-tripping through their link


def test_calculator_view_round_trips_through_its_link(runs_root):
    at = open_as("app_pages/shape_calculator.py", None)
    at.radio(key="calc_kind").set_value("maxpool2d").run()
    for key, value in {"calc_h": 9, "calc_w": 11, "calc_k": 2, "calc_s": 2}.items():
        at.number_input(key=key).set_value(value).run()
    at.checkbox(key="calc_ceil").check().run()
    at.session_state["calc_tab"] = t("calc.tab.chain")  # only the open tab is drawn
    at.run()
    at.number_input(key="chain_h").set_value(32).run()
    at.text_area(key="chain_text").input("conv2d out_channels=4 kernel_size=3").run()
    assert not at.exception
    query = share_link(at)
    assert query["calc_tab"] == [t("calc.tab.chain")] and query["calc_kind"] == [t("calc.kind.maxpool2d")]
    again = open_link("app_pages/shape_calculator.py", None, query)
    assert again.radio(key="calc_kind").value == "maxpool2d" and again.checkbox(key="calc_ceil").value
    assert [again.number_input(key=k).value for k in ("calc_h", "calc_w", "calc_k", "calc_s", "chain_h")] == [
        9,
        11,
        2,
        2,
        32,
    ]
    assert again.text_area(key="chain_text").value == "conv2d out_channels=4 kernel_size=3"
    assert again.session_state["calc_tab"] == t("calc.tab.chain") and not link_notices(again)


def test_runs_view_round_trips_and_never_carries_the_visitor(two_visitors):
    _, bob, example = two_visitors
    at = open_as("app_pages/runs.py", BOB)
    (picker,) = [box for box in at.selectbox if box.label == t("runs.select")]
    picker.set_value(example.name).run()
    at.session_state["r_tab"] = t("runs.tab.compare")
    at.run()
    assert not at.exception
    query = share_link(at)
    assert query["run"] == [example.name] and query["r_tab"] == [t("runs.tab.compare")]
    link = "&".join(f"{k}={v}" for k, v in query.items())
    assert BOB not in link and COOKIE_NAME not in link
    again = open_link("app_pages/runs.py", ALICE, query)  # a link works for anyone who may see the run
    assert again.session_state["selected_run"] == example.name
    assert again.session_state["r_tab"] == t("runs.tab.compare") and not link_notices(again)


@pytest.mark.parametrize(
    ("page", "tab_key", "tab"),
    [
        ("app_pages/predictions.py", "p_tab", "predictions.tab.confusion"),
        ("app_pages/network_sees.py", "s_tab", "sees.tab.cam"),
        ("app_pages/filters.py", None, None),
    ],
)
def test_look_inside_views_round_trip_through_their_link(two_visitors, page, tab_key, tab):
    _, bob, example = two_visitors
    at = open_as(page, BOB, {"run": example.name})
    if tab_key:
        at.session_state[tab_key] = t(tab)
        at.run()
    query = share_link(at)
    assert query["run"] == [example.name]
    again = open_link(page, BOB, query)
    assert again.session_state["selected_run"] == example.name and not link_notices(again)
    if tab_key:
        assert again.session_state[tab_key] == t(tab)


def test_train_form_round_trips_through_its_share_link(runs_root, fake_estimate):
    at = open_as("app_pages/train.py", None)
    at.number_input(key="t_epochs").set_value(7).run()
    at.selectbox(key="t_opt").set_value("sgd").run()
    at.multiselect(key="t_aug").set_value(["hflip", "crop"]).run()
    at.number_input(key="t_lr").set_value(0.05).run()
    query = share_link(at)
    again = open_link("app_pages/train.py", None, query)
    assert again.number_input(key="t_epochs").value == 7 and again.selectbox(key="t_opt").value == "sgd"
    assert again.multiselect(key="t_aug").value == ["hflip", "crop"]
    assert again.number_input(key="t_lr").value == pytest.approx(0.05) and not link_notices(again)


def test_builder_network_round_trips_through_its_share_link(runs_root):
    at = open_as("app_pages/architecture_builder.py", None)
    at.selectbox(key="b_preset").set_value("lenet5").run()
    at.button(key="b_load").click().run()
    query = share_link(at)
    assert spec_from_link(query[LINK_PARAM][0]) == at.session_state["builder_spec"]
    again = open_link("app_pages/architecture_builder.py", None, query)
    assert again.session_state["builder_spec"] == at.session_state["builder_spec"] and not link_notices(again)


# ---------------------------------------------------------------- hostile query parameters

HOSTILE = {
    "run": "../../../etc/passwd",
    "calc_h": "9" * 5000,
    "calc_kind": "<script>alert(1)</script>",
    "calc_tab": "\x00\x01\x1b[31m",
    "chain_text": "conv2d out_channels=4 kernel_size=3\n" * 2000,
    "t_epochs": "1e999",
    "t_opt": ["sgd", "adam", "sgd"],
    "t_dataset": "ünïcødé ☃ \u202e",
    "r_tab": "x" * 100_000,
    "p_tab": ["a", "b"],
    "s_tab": "",
    "net": "A" * 20_000,
    "unknown": "\x00",
    "lang": "../../etc",
}


@pytest.mark.parametrize("page", ALL_PAGES)
def test_hostile_query_parameters_never_break_a_page(two_visitors, page):
    at = open_as(page, BOB, HOSTILE)
    # open_as has checked that no exception escaped; the chain text from the link is too long: a message
    assert all("Traceback" not in e.value for e in at.error)
    if page in RUN_PAGES:
        assert IGNORED_RUN in [w.value for w in at.warning]
    if page.endswith(("train.py", "shape_calculator.py")):
        assert any(w.value.startswith("Some settings in this page's link") for w in at.warning), at.warning
    if page.endswith("architecture_builder.py"):
        assert any("could not be opened" in w.value for w in at.warning)


@pytest.mark.parametrize("page", RUN_PAGES)
def test_another_visitors_run_id_repeated_or_mixed_in_the_link_is_ignored(two_visitors, page):
    alice, bob, _ = two_visitors
    at = open_as(page, BOB, {"run": [bob.name, alice.name]})
    assert IGNORED_RUN in [w.value for w in at.warning] and "alice-secret-run" not in page_text(at)


# ---------------------------------------------------------------- upload limits


def test_config_upload_limit_matches_the_apps_own(monkeypatch):
    monkeypatch.delenv("CNN_LAB_DEMO", raising=False)
    monkeypatch.delenv("CNN_LAB_MAX_UPLOAD_MB", raising=False)
    config = tomllib.loads((REPO_ROOT / ".streamlit" / "config.toml").read_text())
    assert config["server"]["maxUploadSize"] * 2**20 == load_settings().max_upload_bytes


def test_every_file_uploader_states_its_upload_limit():
    calls = []
    for path in sorted((REPO_ROOT / "app_pages").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            named = isinstance(func, ast.Attribute) and func.attr == "file_uploader"
            passed = any(isinstance(a, ast.Attribute) and a.attr == "file_uploader" for a in node.args)
            if named or passed:
                calls.append((path.name, node.lineno, any(k.arg == "max_upload_size" for k in node.keywords)))
    assert len(calls) >= 5, calls
    assert all(ok for *_, ok in calls), calls
