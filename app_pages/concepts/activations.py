"""Concept 8: activation functions, softmax with a temperature, vanishing and exploding gradients, clipping."""

import numpy as np
import streamlit as st

from app_pages._concepts import computed, explain, fragment, lesson_header
from app_pages._gradients import clipping_section, depth_section
from app_pages._widgets import kept_tabs
from cnn_core.concepts.activations import (
    ACTIVATIONS,
    FORMULAS,
    activation_curve,
    parse_logits,
    softmax,
    softmax_jacobian,
)
from cnn_core.figures.concepts import bars_figure, curves_figure, grid_figure, panels_figure
from cnn_core.i18n import t

lesson_header("concept.act")


# ---------------------------------------------------------------- curves
@fragment
def curves_section() -> None:
    """The curves and their sliders (a slider reruns only this section)."""
    st.subheader(t("concept.act.curves"))
    left, right = st.columns([1, 2])
    with left:
        chosen = st.multiselect(
            t("concept.act.pick"),
            ACTIVATIONS,
            list(ACTIVATIONS),
            key="ca_pick",
            format_func=lambda n: t(f"concept.act.name.{n}"),
        )
        slope = st.slider(t("concept.act.slope"), 0.0, 0.5, 0.1, 0.01, key="ca_slope", help=t("concept.act.slope.help"))
        alpha = st.slider(t("concept.act.alpha"), 0.1, 3.0, 1.0, 0.1, key="ca_alpha", help=t("concept.act.alpha.help"))
        reach = st.slider(t("concept.act.range"), 1.0, 10.0, 5.0, 0.5, key="ca_range")
    with right:
        if not chosen:
            explain(t("concept.act.none"))
        else:
            x = np.linspace(-reach, reach, 401)
            curves = {t(f"concept.act.name.{n}"): activation_curve(n, x, slope, alpha) for n in chosen}
            st.plotly_chart(curves_figure(x, curves, t("concept.act.curves.title"), height=460), key="ca_fig_curves")
    for name in chosen:
        with st.expander(t("concept.act.formula", name=t(f"concept.act.name.{name}"))):
            st.latex(FORMULAS[name][0])
            st.latex(FORMULAS[name][1])
            st.caption(t(f"concept.act.use.{name}"))


# ---------------------------------------------------------------- softmax
@fragment
def softmax_section() -> None:
    """Softmax with a temperature (its inputs rerun only this section)."""
    st.subheader(t("concept.act.softmax"))
    st.markdown(t("concept.act.softmax.intro"))
    st.latex(FORMULAS["softmax"][0])
    left, right = st.columns([1, 2])
    with left:
        text = st.text_input(
            t("concept.act.logits"), "2.0 1.0 0.1 -1.0", key="ca_logits", help=t("concept.act.logits.help")
        )
        temperature = st.number_input(
            t("concept.act.temperature"),
            0.01,
            100.0,
            1.0,
            0.1,
            key="ca_temperature",
            help=t("concept.act.temperature.help"),
        )
    with right:
        logits = computed(parse_logits, text, stop=False)
        probs = None if logits is None else computed(softmax, logits, temperature, stop=False)
        if probs is not None:
            labels = [f"z{i + 1} = {v:g}" for i, v in enumerate(logits)]
            bars = bars_figure(
                labels,
                probs,
                t("concept.act.probs", temperature=f"{temperature:g}"),
                t("concept.act.probability"),
                percent=True,
            )
            jacobian = grid_figure(
                softmax_jacobian(logits, temperature),
                t("concept.act.jacobian"),
                diverging=True,
                decimals=3,
                height=300,
            )
            st.plotly_chart(panels_figure([bars, jacobian], 2), key="ca_fig_softmax")
            st.metric(t("concept.act.top"), f"{float(probs.max()):.1%}")
            if len(set(logits.tolist())) == 1:
                explain(t("concept.act.equal"))
            elif float(probs.max()) > 0.99:
                explain(t("concept.act.cold", temperature=f"{temperature:g}"))
            elif float(probs.max() - probs.min()) < 0.02:
                explain(t("concept.act.hot", temperature=f"{temperature:g}"))


curves_section()
softmax_section()
# gradients through depth, then clipping: one tab drawn at a time (a chart less on every visit)
depth_tab, clipping_tab = kept_tabs([t("concept.act.tab.depth"), t("concept.act.tab.clip")], "ca_grad_tab")
with depth_tab:
    if depth_tab.open:
        depth_section()
with clipping_tab:
    if clipping_tab.open:
        clipping_section()
