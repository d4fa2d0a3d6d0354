"""Concept 10: receptive fields — which input pixels one unit of a deeper layer can see."""

import pandas as pd
import streamlit as st

from app_pages._builder import SPEC_KEY
from app_pages._concepts import computed, explain, lesson_header
from cnn_core.arch.blocks import has_feature_maps
from cnn_core.arch.formatting import format_shape
from cnn_core.arch.presets import PRESETS
from cnn_core.arch.spec import SpecError, is_backbone
from cnn_core.concepts.images import sample_input
from cnn_core.concepts.receptive import FIELD_FORMULA, spatial_layers, unit_region
from cnn_core.figures.concepts import bars_figure, photo_figure
from cnn_core.i18n import t

BUILDER = "builder"  # the network being edited in the architecture builder

lesson_header("concept.rf", FIELD_FORMULA)

builder = st.session_state.get(SPEC_KEY)
choices = [k for k, p in PRESETS.items() if not is_backbone(p.spec) and has_feature_maps(p.spec)]
choices += [BUILDER] if isinstance(builder, dict) and not is_backbone(builder) else []


def new_network() -> None:
    """Another network: start again at its deepest layer's centre unit."""
    for key in ("crf_layer", "crf_row", "crf_col"):
        st.session_state.pop(key, None)


left, right = st.columns([1, 2])
with left:
    choice = st.selectbox(
        t("concept.rf.network"),
        choices,
        key="crf_network",
        help=t("concept.rf.network.help"),
        format_func=lambda k: t("concept.rf.builder") if k == BUILDER else PRESETS[k].title,
        on_change=new_network,
    )
    spec = builder if choice == BUILDER else PRESETS[choice].spec
    try:
        layers = spatial_layers(spec)
    except SpecError as exc:
        explain(t("concept.rf.bad_spec", reason=str(exc)))
        st.stop()
    if not layers:
        explain(t("concept.rf.no_layers"))
        st.stop()
    by_index = {row.index: row for row in layers}
    layer_index = st.selectbox(
        t("concept.rf.layer"),
        list(by_index),
        len(by_index) - 1,
        key="crf_layer",
        help=t("concept.rf.layer.help"),
        format_func=lambda i: t(
            "concept.rf.layer.option", number=i + 1, type=by_index[i].type, shape=format_shape(by_index[i].output_shape)
        ),
    )
    if layer_index not in by_index:  # a stale choice from another network
        layer_index = layers[-1].index
    layer = by_index[layer_index]
    _, out_h, out_w = layer.output_shape
    c1, c2 = st.columns(2)
    row = int(c1.number_input(t("concept.rf.row"), 0, out_h - 1, (out_h - 1) // 2, key="crf_row"))
    col = int(c2.number_input(t("concept.rf.col"), 0, out_w - 1, (out_w - 1) // 2, key="crf_col"))

region = computed(unit_region, spec, layer_index, row, col, container=right)
channels, height, width = spec["input_shape"]
top, left_px, bottom, right_px = region.visible
fh, fw = region.field
with right:
    m1, m2, m3 = st.columns(3)
    m1.metric(t("concept.rf.field"), f"{fh}×{fw}")
    m2.metric(t("concept.rf.coverage"), f"{region.coverage:.1%}")
    m3.metric(t("concept.rf.jump"), f"{region.jump[0]:g}×{region.jump[1]:g}")
    picture = sample_input(channels, height, width)
    title = t("concept.rf.picture", number=layer_index + 1, row=row, col=col, h=height, w=width)
    st.plotly_chart(
        photo_figure(picture, title, box=(top, left_px, bottom - top + 1, right_px - left_px + 1), height=420),
        key="crf_fig_picture",
    )
    clipped = region.clipped
    st.caption(
        t(
            "concept.rf.extent_clipped" if clipped else "concept.rf.extent",
            top=region.top,
            left=region.left,
            bottom=region.bottom,
            right=region.right,
            vtop=top,
            vleft=left_px,
            vbottom=bottom,
            vright=right_px,
        )
    )
    if out_h == out_w == 1:
        explain(t("concept.rf.single", number=layer_index + 1, fh=fh, fw=fw))
    if clipped:
        explain(t("concept.rf.clipped", fh=fh, fw=fw, h=height, w=width, share=f"{region.visible_share:.0%}"))
    if fh >= height and fw >= width:
        explain(t("concept.rf.whole", fh=fh, fw=fw, h=height, w=width))

st.subheader(t("concept.rf.growth"))
labels = [f"{r.index + 1} {r.type}" for r in layers]
st.plotly_chart(
    bars_figure(labels, [r.receptive_field[0] for r in layers], t("concept.rf.growth.title"), t("concept.rf.growth.y")),
    key="crf_fig_growth",
)
st.dataframe(
    pd.DataFrame(
        [
            {
                t("concept.rf.col.layer"): r.index + 1,
                t("concept.rf.col.type"): r.type,
                t("concept.rf.col.output"): format_shape(r.output_shape),
                t("concept.rf.col.field"): f"{r.receptive_field[0]}×{r.receptive_field[1]}",
                t("concept.rf.col.jump"): f"{r.jump[0]:g}×{r.jump[1]:g}",
            }
            for r in layers
        ]
    ),
    hide_index=True,
)
st.markdown(t("concept.rf.takeaway"))
