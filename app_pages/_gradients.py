"""The activations lesson's gradient sections: gradients through a deep stack (vanishing, and
exploding once its weights are scaled above 1), then a few training steps with and without
clipping the gradients' norm."""

import streamlit as st

from app_pages._concepts import computed, explain, fragment
from cnn_core.concepts.activations import INITS, gradients_through_depth
from cnn_core.concepts.gradients import train_deep_stack
from cnn_core.figures.concepts import gradient_depth_figure
from cnn_core.figures.gradients import clipping_figure
from cnn_core.i18n import t

DEPTH_ACTIVATIONS = ("sigmoid", "tanh", "relu")
CLIP_DEPTH = 20


@st.cache_data(show_spinner=False, max_entries=64)
def depth_gradients(activation: str, depth: int, init: str, scale: float):
    return gradients_through_depth(activation, depth, init=init, scale=scale)


@st.cache_data(show_spinner=False, max_entries=64)
def clipping_runs(scale: float, max_norm: float):
    return train_deep_stack(CLIP_DEPTH, scale, None), train_deep_stack(CLIP_DEPTH, scale, max_norm)


def ratio_text(ratio: float) -> str:
    if ratio == 0:
        return t("concept.act.ratio.none")
    if ratio < 1:
        return t("concept.act.ratio.smaller", factor=f"{1 / ratio:,.3g}")
    return t("concept.act.ratio.larger", factor=f"{ratio:,.3g}")


@fragment
def depth_section() -> None:
    """Gradients through a real stack (its inputs rerun only this section)."""
    st.subheader(t("concept.act.depth"))
    st.markdown(t("concept.act.depth.intro"))
    c1, c2, c3 = st.columns(3)
    depth = c1.slider(t("concept.act.depth.layers"), 1, 50, 20, key="ca_depth", help=t("concept.act.depth.help"))
    init = c2.selectbox(t("concept.act.init"), INITS, key="ca_init", format_func=lambda i: t(f"concept.act.init.{i}"))
    scale = c3.slider(t("concept.act.scale"), 0.5, 2.0, 1.0, 0.1, key="ca_scale", help=t("concept.act.scale.help"))
    results = [computed(depth_gradients, name, depth, init, scale) for name in DEPTH_ACTIVATIONS]
    if depth == 1:
        explain(t("concept.act.depth.one"))
        return
    st.plotly_chart(gradient_depth_figure(results), key="ca_fig_depth")
    for column, result in zip(st.columns(len(results)), results):
        name = t(f"concept.act.name.{result.activation}")
        column.metric(t("concept.act.ratio", name=name), ratio_text(result.first_to_last))
        column.caption(t("concept.act.last_norm", norm=f"{result.layer_norms[-1]:.3g}"))
    st.caption(t("concept.act.depth.caption"))
    if scale > 1:
        explain(t("concept.act.exploding", scale=f"{scale:g}"))


@fragment
def clipping_section() -> None:
    """A few training steps with and without clipping (its inputs rerun only this section)."""
    st.subheader(t("concept.clip.title"))
    st.markdown(t("concept.clip.intro", depth=CLIP_DEPTH))
    c1, c2 = st.columns(2)
    scale = c1.slider(t("concept.act.scale"), 0.5, 2.0, 1.5, 0.1, key="cc_scale", help=t("concept.act.scale.help"))
    max_norm = c2.number_input(
        t("concept.clip.max_norm"), 0.01, 1000.0, 1.0, 0.5, key="cc_max_norm", help=t("concept.clip.max_norm.help")
    )
    plain, clipped = computed(clipping_runs, scale, float(max_norm))
    names = {
        t("concept.clip.clipped", max_norm=f"{max_norm:g}"): clipped,
        t("concept.clip.plain"): plain,
    }  # plain on top
    st.plotly_chart(clipping_figure(names), key="cc_fig")
    for run, key in ((plain, "concept.clip.plain_result"), (clipped, "concept.clip.clipped_result")):
        if run.diverged_at is not None:
            st.markdown(t("concept.clip.diverged", run=t(key), step=run.diverged_at))
        else:
            first, last, steps = f"{run.losses[0]:.3g}", f"{run.losses[-1]:.3g}", len(run.losses)
            st.markdown(t("concept.clip.finished", run=t(key), first=first, last=last, steps=steps))
    st.caption(t("concept.clip.caption"))
