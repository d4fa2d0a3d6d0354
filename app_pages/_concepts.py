"""Widgets the concept-lab pages share: the lesson's heading, choosing a picture, typing or picking
a kernel, the sentence of sizes, computing an experiment or explaining why it cannot be drawn, and
the two means that keep a lesson quick: computations cached per input, and fragments (the part a
slider moves reruns and redraws alone, not the whole page)."""

import numpy as np
import streamlit as st

from app_pages._language import in_visitor_language
from app_pages._slips import show_slips
from app_pages._widgets import choice, upload_mb
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
from cnn_core.data.catalog import SHAPE_NAMES, class_label
from cnn_core.i18n import t
from cnn_core.settings import get_settings


def lesson_header(prefix: str, formula: str | None = None) -> None:
    """The lesson's title and introduction (catalogue keys `prefix`.title and .intro), its formula,
    then what the tutorials get wrong about it (show_slips)."""
    st.title(t(f"{prefix}.title"))
    st.markdown(t(f"{prefix}.intro"))
    if formula:
        st.latex(formula)
    show_slips(prefix)


def fragment(function):
    """function as an st.fragment run in the visitor's language: its widgets rerun only it."""
    return st.fragment(in_visitor_language(function))


def cached(function, max_entries: int = 32):
    """A pure computation kept per input (st.cache_data hands every caller its own copy)."""
    return st.cache_data(function, show_spinner=False, max_entries=max_entries)


def explain(message: str, container=st) -> None:
    """Shown in place of a plot when the settings leave nothing to draw."""
    container.info(message, icon=":material/lightbulb:")


def computed(fn, *args, container=st, stop: bool = True, error: bool = False, **kwargs):
    """fn(*args, **kwargs), or, when the settings make it meaningless (a ConceptError), its message
    shown in `container` instead: as an error when `error` (bad input), else as an explanation.
    Then the page stops, or with stop=False the caller gets None and goes on."""
    try:
        return fn(*args, **kwargs)
    except ConceptError as exc:
        if error:
            container.error(str(exc))
        else:
            explain(str(exc), container)
        if stop:
            st.stop()
        return None


def size_note(key: str, image: np.ndarray, kernel: np.ndarray, padding: int, **more) -> str:
    """The sentence of sizes under a lesson's grids: image h×w, padding p, kernel kh×kw, and `more`."""
    return t(key, h=image.shape[0], w=image.shape[1], p=padding, kh=kernel.shape[0], kw=kernel.shape[1], **more)


def pick_image(prefix: str, default_source: str = "photo", default_side: int = 160, container=st):
    """A picture as (C, H, W) floats in [0, 1], resized so its longest side is the chosen size.
    Stops the page with a message when there is no picture (no upload yet, or a bad file)."""
    settings = get_settings()
    source = choice("concept.image.source", SOURCES, f"{prefix}_source", container, index=SOURCES.index(default_source))
    if source == "photo":
        name = container.selectbox(
            t("concept.image.photo"), PHOTOS, key=f"{prefix}_photo", format_func=lambda p: t(f"concept.photo.{p[:-4]}")
        )
        image = computed(sample_photo, name, error=True)
    elif source == "digit":
        index = container.number_input(t("concept.image.digit"), 0, 1796, 0, key=f"{prefix}_digit")
        image = computed(digit_image, int(index), error=True)[0]
    elif source == "shape":
        name = container.selectbox(
            t("concept.image.shape"),
            SHAPE_NAMES,
            index=SHAPE_NAMES.index("cross"),
            key=f"{prefix}_shape",
            format_func=class_label,
        )
        image = computed(shape_image, name, error=True)
    else:
        upload = container.file_uploader(
            t("concept.image.upload"),
            type=["png", "jpg", "jpeg", "gif", "bmp", "webp"],
            key=f"{prefix}_upload",
            max_upload_size=upload_mb(),
        )
        if upload is None:
            st.info(t("concept.image.upload_wait"), icon=":material/upload:")
            st.stop()
        image = computed(image_from_upload, upload.getvalue(), settings.max_upload_bytes, error=True)
    side = container.number_input(
        t("concept.image.side"),
        1,
        settings.concept_max_side,
        min(default_side, settings.concept_max_side),
        key=f"{prefix}_side",
        help=t("concept.image.side.help"),
    )
    return cached(fit_longest_side, max_entries=64)(image, int(side))


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
    return computed(parse_kernel, text, error=True)
