"""Widgets the concept-lab pages share: choosing a picture and typing or picking a kernel."""

import numpy as np
import streamlit as st

from cnn_core.concepts import ConceptError
from cnn_core.concepts.convolution import KERNELS, format_kernel, parse_kernel
from cnn_core.concepts.images import (
    PHOTOS,
    SOURCES,
    digit_image,
    fit_longest_side,
    image_from_upload,
    sample_photo,
    shape_image,
)
from cnn_core.data.catalog import SHAPE_NAMES
from cnn_core.i18n import t
from cnn_core.settings import get_settings


def pick_image(prefix: str, default_source: str = "photo", default_side: int = 160, container=st):
    """A picture as (C, H, W) floats in [0, 1], resized so its longest side is the chosen size.
    Stops the page with a message when there is no picture (no upload yet, or a bad file)."""
    settings = get_settings()
    source = container.radio(
        t("concept.image.source"),
        SOURCES,
        index=SOURCES.index(default_source),
        horizontal=True,
        key=f"{prefix}_source",
        format_func=lambda s: t(f"concept.image.source.{s}"),
    )
    try:
        if source == "photo":
            name = container.selectbox(t("concept.image.photo"), PHOTOS, key=f"{prefix}_photo")
            image = sample_photo(name)
        elif source == "digit":
            index = container.number_input(t("concept.image.digit"), 0, 1796, 0, key=f"{prefix}_digit")
            image, _ = digit_image(int(index))
        elif source == "shape":
            name = container.selectbox(
                t("concept.image.shape"), SHAPE_NAMES, index=SHAPE_NAMES.index("cross"), key=f"{prefix}_shape"
            )
            image = shape_image(name)
        else:
            upload = container.file_uploader(
                t("concept.image.upload"), type=["png", "jpg", "jpeg", "gif", "bmp", "webp"], key=f"{prefix}_upload"
            )
            if upload is None:
                st.info(t("concept.image.upload_wait"), icon=":material/upload:")
                st.stop()
            image = image_from_upload(upload.getvalue(), settings.max_upload_bytes)
    except ConceptError as exc:
        st.error(str(exc))
        st.stop()
    side = container.number_input(
        t("concept.image.side"),
        1,
        settings.concept_max_side,
        min(default_side, settings.concept_max_side),
        key=f"{prefix}_side",
        help=t("concept.image.side.help"),
    )
    return fit_longest_side(image, int(side))


def pick_kernel(prefix: str, default: str = "edge_vertical", container=st, allow_custom: bool = True) -> np.ndarray:
    """A named kernel or, with 'custom', one typed as rows of numbers. Stops on a typing error."""
    names = list(KERNELS) + (["custom"] if allow_custom else [])
    name = container.selectbox(
        t("concept.kernel.pick"),
        names,
        index=names.index(default),
        key=f"{prefix}_kernel",
        format_func=lambda n: t(f"concept.kernel.{n}"),
    )
    if name != "custom":
        return KERNELS[name]
    text = container.text_area(
        t("concept.kernel.custom_text"),
        format_kernel(KERNELS["sharpen"]),
        key=f"{prefix}_text",
        help=t("concept.kernel.custom.help"),
        height=110,
    )
    try:
        return parse_kernel(text)
    except ConceptError as exc:
        st.error(str(exc))
        st.stop()


def explain(message: str) -> None:
    """Shown in place of a plot when the settings leave nothing to draw."""
    st.info(message, icon=":material/lightbulb:")
