"""Filters: the learned kernels and the feature maps they produce on an image."""

import pandas as pd
import streamlit as st

from app_pages._language import in_visitor_language
from app_pages._links import share_view
from app_pages._shared import cached_run, load_or_stop, pick_trained_run
from app_pages._widgets import link_values, upload_mb
from cnn_core.arch.formatting import layer_label
from cnn_core.data.uploads import image_from_upload
from cnn_core.errors import CnnLabError
from cnn_core.figures.images import image_figure, kernel_figure, maps_figure, maps_picture
from cnn_core.i18n import t
from cnn_core.inspection.layers import activation_stats, conv_layers, feature_maps, kernels
from cnn_core.inspection.loading import run_fingerprint

MAX_TILES = 64


st.title(t("filters.title"))
st.caption(t("filters.caption"))
link_values()
run = pick_trained_run("f_run")
share_view()
loaded, images, _ = load_or_stop(cached_run, run.path, run_fingerprint(run.path))

st.subheader(t("filters.kernels"))
layers = conv_layers(loaded.model)
if not layers:
    st.info(t("inspect.err.no_conv"))
else:
    names = [n for n, _ in layers]
    c1, c2 = st.columns(2)
    layer = c1.selectbox(
        t("filters.layer"),
        names,
        key="f_layer",
        format_func=lambda n: t(
            "filters.layer_label",
            name=layer_label(n, "conv2d"),
            shape="×".join(map(str, dict(layers)[n].weight.shape)),
        ),
    )
    channel = 0
    if layer != names[0]:
        channel = int(
            c2.number_input(
                t("filters.out_channel"),
                0,
                dict(layers)[layer].out_channels - 1,
                0,
                key="f_channel",
                help=t("filters.out_channel.help"),
            )
        )
    weights = kernels(loaded.model, layer, channel)
    st.plotly_chart(kernel_figure(weights[:MAX_TILES]), key="f_kernels")
    st.caption(
        t(
            "filters.kernel_count",
            n=int(len(weights)),
            shown=min(len(weights), MAX_TILES),
            k="×".join(map(str, weights.shape[2:])),
        )
    )


def show_maps() -> None:
    """The feature maps: a new image, layer or channel reruns this part only."""
    st.subheader(t("filters.maps"))
    c1, c2 = st.columns([1, 2])
    source = c1.radio(
        t("filters.source"), ["test", "upload"], key="f_source", format_func=lambda s: t(f"filters.source.{s}")
    )
    image = None
    if source == "test":
        index = int(c1.number_input(t("filters.test_index"), 0, len(images) - 1, 0, key="f_index"))
        image = images[index : index + 1]
    else:
        upload = c1.file_uploader(t("predictions.upload"), key="f_upload", max_upload_size=upload_mb())
        if upload is not None:
            try:
                image = image_from_upload(upload.getvalue(), loaded.input_shape)[0]
            except CnnLabError as exc:
                c1.error(str(exc))
    if image is not None:
        c1.plotly_chart(image_figure(image[0], t("filters.input"), height=220), key="f_input")
        maps = feature_maps(loaded, image)
        with c2:
            pick = st.selectbox(
                t("filters.enlarge"),
                range(len(maps)),
                key="f_pick",
                format_func=lambda i: f"{layer_label(maps[i].name, maps[i].kind)} {'×'.join(map(str, maps[i].shape))}",
            )
            map_channel = int(st.number_input(t("filters.channel"), 0, maps[pick].shape[0] - 1, 0, key="f_map_channel"))
            st.plotly_chart(maps_figure(maps[pick].maps[map_channel : map_channel + 1], height=360), key="f_big")
        stats = pd.DataFrame(activation_stats(maps))
        st.dataframe(
            stats,
            hide_index=True,
            key="f_stats",
            column_config={
                t("inspect.col.zeros"): st.column_config.NumberColumn(format="percent"),
                t("inspect.col.dead"): st.column_config.NumberColumn(format="percent"),
            },
        )
        for fmap in maps:  # plain pictures, one colour scale each; the enlarged map above answers the hover
            picture, low, high = maps_picture(fmap.maps[:MAX_TILES])
            title = t("filters.map_title", name=layer_label(fmap.name, fmap.kind), shape="×".join(map(str, fmap.shape)))
            st.image(picture, caption=f"{title} · {low:.3g} … {high:.3g}")


st.fragment(in_visitor_language(show_maps))()  # in the visitor's language when it reruns alone
