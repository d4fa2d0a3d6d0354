"""The Train page's helpers: its settings kept in the page's link and the session, the pretrained
weights of a transfer-learning network (cached, downloadable, or out of reach: then training from
scratch in one click), and the measured time per epoch.

Every setting widget is _widgets.kept: its value lives in the URL's query parameters (a reload,
a new session, opens the same settings) and in the session (a visit to another page keeps it).
"""

import copy
import json
from dataclasses import asdict

import streamlit as st

from app_pages._widgets import kept
from cnn_core.arch.backbones import (
    PretrainedWeightsUnavailable,
    fetch_weights,
    weights_cached,
    weights_file,
    weights_megabytes,
    weights_reachable,
)
from cnn_core.arch.spec import SpecError, normalize_backbone
from cnn_core.i18n import t
from cnn_core.settings import get_settings
from cnn_core.train.estimate import EpochEstimate, EstimateError, estimate_in_subprocess

SCRATCH_KEY = "t_from_scratch"
ATTEMPT_KEY = "t_estimate_attempt"


# ---------------------------------------------------------------- pretrained weights


@st.cache_data(ttl=60, show_spinner=False)
def _reachable(name: str) -> str | None:  # the raw reason, shown inside a translated sentence
    return weights_reachable(name)


def _train_from_scratch() -> None:
    st.session_state[SCRATCH_KEY] = True


def _fetch(name: str, container) -> None:
    bar = container.progress(0.0, text=t("train.weights.fetching", name=name))

    def progress(done: int, total: int) -> None:
        mb = f"{done / 1e6:,.1f}"
        bar.progress(min(1.0, done / total) if total else 0.0, text=t("train.weights.fetched", name=name, mb=mb))

    try:
        fetch_weights(name, progress)
    except PretrainedWeightsUnavailable as exc:
        container.error(str(exc), icon=":material/error:")
    else:
        st.rerun()


def backbone_choice(spec: dict, container) -> tuple[dict, str | None]:
    """For a transfer-learning spec: (the spec to train, an error that blocks the launch or None).
    In a hosted demo a pretrained backbone always trains from scratch (no download).

    A 'from scratch' switch: on, the backbone trains from random weights and unfrozen. Off, the
    weights are cached here, or reachable (a button downloads them now, with a progress bar;
    else the worker downloads them), or out of reach: then a message and a one-click switch to
    training from scratch. Untested online: this machine has no internet."""
    try:
        options = normalize_backbone(spec)
    except SpecError:
        return spec, None  # the config's own check explains it
    name = options["name"]
    if not options["pretrained"]:
        return spec, None
    demo = get_settings().demo  # a hosted demo never downloads weights: such a network trains from scratch
    if demo or kept(container.toggle, "train.from_scratch", key=SCRATCH_KEY):
        container.caption(t("train.scratch.demo" if demo else "train.scratch.caption"))
        scratch = copy.deepcopy(spec)
        scratch["backbone"] = {**options, "pretrained": False, "freeze_backbone": False}
        scratch["name"] = spec.get("name") or t("train.scratch.name", name=name)
        return scratch, None
    if weights_cached(name):
        container.caption(t("train.weights.cached", name=name, path=str(weights_file(name))))
        return spec, None
    reason = _reachable(name)
    if reason is None:
        container.info(t("train.weights.online", name=name, mb=f"{weights_megabytes(name):,.0f}"))
        if container.button(t("train.weights.fetch"), key="t_fetch", icon=":material/download:"):
            _fetch(name, container)
        return spec, None
    container.warning(
        t("train.weights.offline", name=name, reason=reason, cache=str(weights_file(name).parent)),
        icon=":material/cloud_off:",
    )
    container.button(
        t("train.weights.scratch"),
        key="t_scratch",
        on_click=_train_from_scratch,
        type="primary",
        icon=":material/restart_alt:",
    )
    return spec, t("train.weights.blocked")


# ---------------------------------------------------------------- time per epoch


@st.cache_data(ttl=600, max_entries=64, show_spinner=False)
def _estimate(request_json: str, attempt: int) -> EpochEstimate:  # numbers only: no language
    """Measured in a short-lived process (estimate.py); `attempt` is there for the cache key: a
    'measure again' asks for a new entry. Kept 10 minutes: the machine's load changes."""
    return estimate_in_subprocess(json.loads(request_json))


def _seconds(s: float) -> str:
    return t("train.seconds", s=f"{s:,.2f}" if s < 10 else f"{s:,.0f}")


def show_epoch_estimate(container, request: dict) -> None:
    """The measured time per epoch of request (estimate.estimate_request) and a 'measure again'."""
    state = st.session_state
    attempt = state.get(ATTEMPT_KEY, 0)
    with container, st.spinner(t("train.measuring")):
        try:
            estimate = _estimate(json.dumps(request, sort_keys=True), attempt)
        except EstimateError as exc:
            st.metric(t("train.time_per_epoch"), "—", help=str(exc))
            estimate = None
    if estimate is not None:
        details = asdict(estimate) | {"step_ms": f"{estimate.step_s * 1000:,.1f}", "val": _seconds(estimate.val_s)}
        container.metric(t("train.time_per_epoch"), _seconds(estimate.epoch_s), help=t("train.time.help", **details))
    if container.button(t("train.measure_again"), key="t_remeasure", icon=":material/refresh:", type="tertiary"):
        state[ATTEMPT_KEY] = attempt + 1
        st.rerun()
