"""What the network sees: activation maximisation per class, and Grad-CAM / saliency."""

import streamlit as st

from app_pages._language import in_visitor_language
from app_pages._links import share_view
from app_pages._shared import cached_attribution, cached_run, load_or_stop, pick_trained_run
from app_pages._widgets import kept_tabs, link_values, notice_ignored_link_values
from cnn_core.arch.formatting import layer_label
from cnn_core.data.catalog import class_labels
from cnn_core.figures.images import enlarged, image_figure
from cnn_core.figures.inspection import curve_figure
from cnn_core.i18n import t
from cnn_core.inspection.layers import conv_layers
from cnn_core.inspection.loading import run_fingerprint
from cnn_core.inspection.maximise import DEFAULT_STEPS, maximise_activations
from cnn_core.inspection.predictions import top_k

st.title(t("sees.title"))
opened_with = link_values()
run = pick_trained_run("s_run")
share_slot = st.container()
fingerprint = run_fingerprint(run.path)
loaded, images, _ = load_or_stop(cached_run, run.path, fingerprint)
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
    steps = c[2].slider(t("sees.steps"), 20, 500, DEFAULT_STEPS, 10, key="s_steps", help=t("sees.steps.help"))
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
        with st.spinner(t("sees.running")):  # every target in one batch
            targets = dict(channels=[a["channel"] for _, a in jobs], layer_name=layer) if target == "channel" else {}
            found = maximise_activations(
                loaded,
                target_classes=[a["target_class"] for _, a in jobs if "target_class" in a],
                **targets,
                steps=steps,
                start=images[start_index : start_index + 1] if start == "image" else None,
            )
        st.session_state["s_results"] = (run.run_id, dict(zip([label for label, _ in jobs], found)))
    stored = st.session_state.get("s_results")
    if stored and stored[0] == run.run_id:
        results = stored[1]
        cols = st.columns(min(5, len(results)))
        for i, (label, vis) in enumerate(results.items()):
            with cols[i % len(cols)]:
                st.image(enlarged(vis.image), caption=label, width="stretch")
                if vis.final_probability == vis.final_probability:  # NaN for channel targets
                    st.caption(
                        t(
                            "sees.probability",
                            start=f"{vis.start_probability:.1%}",
                            end=f"{vis.final_probability:.1%}",
                        )
                    )
        curves = {label: vis.curve for label, vis in results.items()}
        key = "probability" if target == "class" else "objective"
        st.plotly_chart(curve_figure(curves, key, t(f"sees.curve.{key}")), key="s_curve")


def explain() -> None:
    """Grad-CAM and saliency: a new image, class or layer reruns this part only."""
    st.caption(t("sees.cam.caption"))
    c = st.columns(3)
    index = int(
        c[0].number_input(t("filters.test_index"), 0, len(images) - 1, 0, key="s_cam_index", persist_state="page")
    )
    image = images[index : index + 1]
    ranked = {loaded.class_names.index(n): p for n, p in top_k(loaded, image, k=len(names))}
    cls = c[1].selectbox(
        t("sees.cam.class"),
        range(len(names)),
        index=next(iter(ranked)),
        key=f"s_cam_class_{index}",
        persist_state="page",
        format_func=lambda k: f"{names[k]} ({ranked[k]:.1%})",
    )
    if not layer_names:
        st.info(t("inspect.err.no_conv"))
        return
    cam_layer = c[2].selectbox(
        t("filters.layer"),
        layer_names,
        index=len(layer_names) - 1,
        key="s_cam_layer",
        persist_state="page",
        help=t("sees.cam.layer.help"),
        format_func=conv_label,
    )
    cam, sal = cached_attribution(run.path, fingerprint, index, cls, cam_layer)
    cols = st.columns(3)
    cols[0].plotly_chart(image_figure(image[0], t("filters.input")), key="s_cam_input")
    cols[1].plotly_chart(image_figure(image[0], t("sees.cam.gradcam"), overlay=cam), key="s_cam_map")
    cols[2].plotly_chart(image_figure(image[0], t("sees.cam.saliency"), overlay=sal), key="s_cam_saliency")


with cam_tab:
    if cam_tab.open:  # only the open tab is drawn (its switch reruns the page)
        st.fragment(in_visitor_language(explain))()  # reruns alone, in the visitor's language
notice_ignored_link_values(opened_with)
share_view(share_slot)
