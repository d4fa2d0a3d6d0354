"""Invariance: a trained run's answers as its test images are shifted pixel by pixel, rotated and
scaled, and its first conv and pooling maps as one image is shifted, all measured on the run (seed
000 calls CNNs translation invariant, seed 001 credits pooling); a second run measured the same way."""

import zlib

import streamlit as st

from app_pages._links import share_view
from app_pages._shared import cached_equivariance, cached_run, cached_sweeps, load_or_stop, pick_trained_run
from app_pages._visitor import current_visitor
from app_pages._widgets import choice, kept, kept_tabs, link_values, notice_ignored_link_values, run_label
from cnn_core.errors import CnnLabError
from cnn_core.figures.inspection import equivariance_figure, equivariance_pictures, invariance_figure
from cnn_core.i18n import t
from cnn_core.inspection.invariance import AXES, MAX_IMAGES, MAX_SHIFT, equivariance_rows, sweep_values
from cnn_core.inspection.layers import conv_layers
from cnn_core.inspection.loading import inspectable_runs, run_fingerprint
from cnn_core.runs.directory import check_access

st.title(t("invariance.title"))
st.markdown(t("invariance.intro"))
opened_with = link_values()
run = pick_trained_run("inv_run")
share_slot = st.container()
fingerprint = run_fingerprint(run.path)
loaded, images, _ = load_or_stop(cached_run, run.path, fingerprint)
if loaded.source == "checkpoint":
    st.caption(t("inspect.from_checkpoint"))
_, height, width = loaded.input_shape
c = st.columns(4)
axis = choice("invariance.direction", AXES, "inv_axis", c[0], keep=True)
side = height if axis == "vertical" else width
top = max(1, min(MAX_SHIFT, side - 1))
max_shift = int(kept(c[1].number_input, "invariance.max_shift", 1, top, min(6, top), key="inv_shift"))
max_angle = int(kept(c[2].slider, "invariance.max_angle", 15, 180, 60, 15, key="inv_angle"))
zoom = float(kept(c[3].slider, "invariance.zoom", 0.1, 0.7, 0.4, 0.1, key="inv_zoom"))
shifts, angles, scales = sweep_values(max_shift, max_angle, zoom)
answers_tab, maps_tab = kept_tabs([t("invariance.tab.answers"), t("invariance.tab.maps")], "inv_tab")


def other_run(container):
    """A second run of this visitor's to measure the same way, or None. Its select box's key changes
    with its labels (a run's state), as pick_run's does."""
    others = [r for r in inspectable_runs(visitor=current_visitor()) if r.run_id != run.run_id]
    labels = {r.run_id: run_label(r) for r in others}
    version = zlib.crc32("\n".join(labels.values()).encode())
    picked = container.selectbox(
        t("invariance.other"),
        [None, *labels],
        key=f"inv_other_{version:08x}",
        help=t("invariance.other.help"),
        format_func=lambda i: labels[i] if i else t("invariance.other.none"),
    )
    return next((r for r in others if r.run_id == picked), None)


def answers() -> None:
    """Accuracy and the true class's probability against shift, angle and scale, per run."""
    c1, c2 = st.columns([1, 2])
    most = max(1, min(len(images), MAX_IMAGES))
    count = int(kept(c1.number_input, "invariance.images", 1, most, min(500, most), key="inv_images"))
    other = other_run(c2)
    measured = {t("invariance.this_run"): (run.path, fingerprint)}  # "this" and "other": a run's name is visitor text
    if other is not None:
        try:
            check_access(other.path, current_visitor(), "read")
            other_fingerprint = run_fingerprint(other.path)
            with st.spinner(t("inspect.loading")):
                other_loaded = cached_run(other.path, other_fingerprint)[0]
        except (CnnLabError, OSError) as exc:
            st.error(t("inspect.err.load", reason=str(exc)), icon=":material/error:")
        else:
            if other_loaded.input_shape == loaded.input_shape:
                measured[t("invariance.other_run")] = (other.path, other_fingerprint)
            else:
                shapes = ["×".join(map(str, s)) for s in (loaded.input_shape, other_loaded.input_shape)]
                st.warning(t("invariance.other_shape", this=shapes[0], other=shapes[1]), icon=":material/warning:")
    try:
        with st.spinner(t("invariance.measuring")):
            curves = {
                name: cached_sweeps(path, fp, count, axis, shifts, angles, scales)
                for name, (path, fp) in measured.items()
            }
    except CnnLabError as exc:
        st.error(str(exc), icon=":material/error:")
        return
    st.plotly_chart(invariance_figure(curves), key="inv_curves")
    conditions = len(shifts) + len(angles) + len(scales)
    st.caption(t("invariance.measured", n=min(count, len(images)), conditions=conditions))
    st.caption(t("invariance.answers.caption"))


def feature_maps() -> None:
    """The first conv and pooling layers' maps as one test image moves, compared away from the borders."""
    c = st.columns(3)
    index = int(kept(c[0].number_input, "invariance.index", 0, len(images) - 1, 0, key="inv_index"))
    shown = int(kept(c[1].number_input, "invariance.shown", 1, max_shift, 1, key="inv_shown"))
    convs = conv_layers(loaded.model)
    channels = convs[0][1].out_channels if convs else 1
    channel = int(kept(c[2].number_input, "invariance.channel", 0, channels - 1, 0, key="inv_channel"))
    try:
        result = cached_equivariance(run.path, fingerprint, index, axis, tuple(range(1, max_shift + 1)))
    except CnnLabError as exc:
        st.error(str(exc), icon=":material/error:")
        return
    st.plotly_chart(equivariance_figure(result), key="inv_equivariance")
    st.caption(t("invariance.maps.caption"))
    if len(result.layers) < 2:
        st.info(t("invariance.no_pool"), icon=":material/info:")
    rows = equivariance_rows(result)
    numbers = {
        name: st.column_config.NumberColumn(format="%.3f") for name in rows[0] if name != t("invariance.col.shift")
    }
    st.dataframe(rows, hide_index=True, key="inv_table", column_config=numbers)
    for pictures, note in equivariance_pictures(result, min(shown, max_shift) - 1, channel):
        cols = st.columns(4)
        for col, (picture, caption) in zip(cols, pictures):
            col.image(picture, caption=caption, width="stretch")
        if note:
            cols[3].caption(note)


with answers_tab:
    if answers_tab.open:  # only the open tab is drawn (its switch reruns the page)
        answers()
with maps_tab:
    if maps_tab.open:
        feature_maps()
notice_ignored_link_values(opened_with)
share_view(share_slot)
