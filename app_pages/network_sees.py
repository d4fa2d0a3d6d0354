"""What the network sees: activation maximisation per class, and Grad-CAM / saliency."""

import streamlit as st

from app_pages._links import share_view
from app_pages._shared import cached_run, load_or_stop, pick_trained_run
from app_pages._widgets import kept_tabs, link_values, notice_ignored_link_values
from cnn_core.arch.formatting import layer_label
from cnn_core.data.catalog import class_labels
from cnn_core.figures.images import image_figure
from cnn_core.figures.inspection import curve_figure
from cnn_core.i18n import t
from cnn_core.inspection.attribution import grad_cam, saliency
from cnn_core.inspection.layers import conv_layers
from cnn_core.inspection.loading import run_fingerprint
from cnn_core.inspection.maximise import maximise_activation
from cnn_core.inspection.predictions import top_k

st.title(t("sees.title"))
opened_with = link_values()
run = pick_trained_run("s_run")
share_slot = st.container()
loaded, images, _ = load_or_stop(cached_run, run.path, run_fingerprint(run.path))
names = class_labels(loaded.class_names)  # in the visitor's language; the run keeps its own names
layer_names = [n for n, _ in conv_layers(loaded.model)]


def conv_label(name: str) -> str:
    return layer_label(name, "conv2d")  # '#4 conv2d', numbered like the builder


dream_tab, cam_tab = kept_tabs([t("sees.tab.maximise"), t("sees.tab.cam")], "s_tab")

with dream_tab:
    st.caption(t("sees.maximise.caption"))
    c = st.columns(4)
    target = c[0].radio(
        t("sees.target"),
        ["class", "channel"],
        key="s_target",
        format_func=lambda v: t(f"sees.target.{v}"),
        disabled=not layer_names,
    )
    classes = c[1].multiselect(
        t("sees.classes"),
        range(len(names)),
        default=list(range(min(10, len(names)))),
        format_func=lambda k: names[k],
        key="s_classes",
        disabled=target != "class",
    )
    layer = (
        c[1].selectbox(
            t("filters.layer"), layer_names, key="s_layer", disabled=target != "channel", format_func=conv_label
        )
        if layer_names
        else None
    )
    steps = c[2].slider(t("sees.steps"), 20, 500, 150, 10, key="s_steps", help=t("sees.steps.help"))
    start = c[3].radio(t("sees.start"), ["noise", "image"], key="s_start", format_func=lambda v: t(f"sees.start.{v}"))
    start_index = int(
        c[3].number_input(
            t("filters.test_index"), 0, len(images) - 1, 0, key="s_start_index", disabled=start != "image"
        )
    )
    if target == "channel" and layer:
        out_channels = dict(conv_layers(loaded.model))[layer].out_channels
        channels = c[2].multiselect(
            t("filters.channel"), range(out_channels), default=list(range(min(8, out_channels))), key="s_channels"
        )
        jobs = [(f"{conv_label(layer)} · {ch}", dict(layer_name=layer, channel=ch)) for ch in channels]
    else:
        jobs = [(names[k], dict(target_class=k)) for k in classes]
    if st.button(t("sees.run"), type="primary", key="s_go", disabled=not jobs):
        bar = st.progress(0.0, text=t("sees.running"))
        results = {}
        for i, (label, target_args) in enumerate(jobs):
            results[label] = maximise_activation(
                loaded,
                steps=steps,
                seed=i,
                **target_args,
                start=images[start_index : start_index + 1] if start == "image" else None,
            )
            bar.progress((i + 1) / len(jobs), text=t("sees.progress", done=i + 1, total=len(jobs)))
        st.session_state["s_results"] = (run.run_id, results)
    stored = st.session_state.get("s_results")
    if stored and stored[0] == run.run_id:
        results = stored[1]
        cols = st.columns(min(5, len(results)))
        for i, (label, vis) in enumerate(results.items()):
            with cols[i % len(cols)]:
                st.plotly_chart(image_figure(vis.image, label, height=200), key=f"s_img_{i}")
                if vis.final_probability == vis.final_probability:  # NaN for channel targets
                    st.caption(
                        t("sees.probability", start=f"{vis.start_probability:.1%}", end=f"{vis.final_probability:.1%}")
                    )
        curves = {label: vis.curve for label, vis in results.items()}
        key = "probability" if target == "class" else "objective"
        st.plotly_chart(curve_figure(curves, key, t(f"sees.curve.{key}")), key="s_curve")

with cam_tab:
    st.caption(t("sees.cam.caption"))
    c = st.columns(3)
    index = int(c[0].number_input(t("filters.test_index"), 0, len(images) - 1, 0, key="s_cam_index"))
    image = images[index : index + 1]
    ranked = top_k(loaded, image, k=len(names))
    ranked = {loaded.class_names.index(n): p for n, p in ranked}
    predicted = next(iter(ranked))
    cls = c[1].selectbox(
        t("sees.cam.class"),
        range(len(names)),
        index=predicted,
        key=f"s_cam_class_{index}",
        format_func=lambda k: f"{names[k]} ({ranked[k]:.1%})",
    )
    if not layer_names:
        st.info(t("inspect.err.no_conv"))
    else:
        cam_layer = c[2].selectbox(
            t("filters.layer"),
            layer_names,
            index=len(layer_names) - 1,
            key="s_cam_layer",
            help=t("sees.cam.layer.help"),
            format_func=conv_label,
        )
        cols = st.columns(3)
        cols[0].plotly_chart(image_figure(image[0], t("filters.input")), key="s_cam_input")
        cols[1].plotly_chart(
            image_figure(image[0], t("sees.cam.gradcam"), overlay=grad_cam(loaded, image, cls, cam_layer)),
            key="s_cam_map",
        )
        cols[2].plotly_chart(
            image_figure(image[0], t("sees.cam.saliency"), overlay=saliency(loaded, image, cls)), key="s_cam_saliency"
        )
notice_ignored_link_values(opened_with)
share_view(share_slot)
