"""What the look-inside pages share: choosing a trained run (this visitor's, or an example), and one cache of opened runs (model,
test images, test predictions) for all of them, loaded or explained.

The caches are keyed by the run's folder and run_fingerprint, so new weights are a new entry; Grad-CAM and
saliency of a test image are cached per (run, image, class, layer), the invariance sweeps and a test image's
shifted maps per (run, settings). Everything
it hands out is shared by every visitor: pages read it and never change it.
"""

from pathlib import Path

import streamlit as st

from app_pages._links import keep_run_in_link, run_from_link
from app_pages._visitor import current_visitor
from app_pages._widgets import pick_run
from cnn_core.errors import CnnLabError
from cnn_core.i18n import t
from cnn_core.inspection.attribution import grad_cam_and_saliency
from cnn_core.inspection.invariance import Equivariance, equivariance, sweeps
from cnn_core.inspection.loading import inspectable_runs, load_run, load_test_images
from cnn_core.inspection.predictions import Predictions, load_predictions, predictions_from_model
from cnn_core.runs.directory import RunError, check_access


def pick_trained_run(key: str):
    """A run with weights to look at that this visitor may see (the one in the link, ?run=, when
    it is one); without one, a pointer to the Train page and a stop. Checked with check_access
    before any loader opens it."""
    visitor = current_visitor()
    runs = inspectable_runs(visitor=visitor)
    run_from_link([r.run_id for r in runs])
    if not runs:
        st.info(t("inspect.no_runs"), icon=":material/info:")
        st.page_link("app_pages/train.py", label=t("runs.go_train"), icon=":material/model_training:")
        st.stop()
    run = pick_run(runs, key)
    keep_run_in_link(run.run_id)
    try:
        check_access(run.path, visitor, "read")
    except RunError as exc:
        st.error(str(exc), icon=":material/error:")
        st.stop()
    return run


@st.cache_resource(max_entries=4, show_spinner=False)  # the spinner: load_or_stop, in the visitor's language
def cached_run(run_dir: Path, fingerprint: str) -> tuple:
    """(LoadedRun, test images as uint8 (N, C, H, W), test labels) of the run; `fingerprint` is
    there for the cache key only."""
    return load_run(run_dir), *load_test_images(run_dir)


@st.cache_resource(max_entries=4, show_spinner=False)
def cached_predictions(run_dir: Path, fingerprint: str) -> Predictions:
    """The run's test predictions: saved by a finished run, computed now for a stopped one."""
    loaded, images, labels = cached_run(run_dir, fingerprint)
    return load_predictions(run_dir) if loaded.source == "final" else predictions_from_model(loaded, images, labels)


@st.cache_data(max_entries=256, show_spinner=False)
def cached_attribution(run_dir: Path, fingerprint: str, index: int, target: int, layer: str) -> tuple:
    """(Grad-CAM, saliency) of a test image for a class, as arrays: computed once per run, image,
    class and layer (a pure function of them; cache_data hands each caller its own copy)."""
    loaded, images, _ = cached_run(run_dir, fingerprint)
    cam, sal = grad_cam_and_saliency(loaded, images[index : index + 1], target, layer)
    return cam.numpy(), sal.numpy()


@st.cache_data(max_entries=64, show_spinner=False)
def cached_sweeps(
    run_dir: Path, fingerprint: str, count: int, axis: str, shifts: tuple, angles: tuple, scales: tuple
) -> dict:
    """The run's answers on its first `count` test images shifted, rotated and scaled
    (cnn_core.inspection.invariance.sweeps), measured once per run and settings."""
    loaded, images, labels = cached_run(run_dir, fingerprint)
    return sweeps(loaded, images[:count], labels[:count], shifts, angles, scales, axis)


@st.cache_data(max_entries=32, show_spinner=False)
def cached_equivariance(run_dir: Path, fingerprint: str, index: int, axis: str, shifts: tuple) -> Equivariance:
    """A test image's first conv and pooling maps, shifted and compared (invariance.equivariance)."""
    loaded, images, _ = cached_run(run_dir, fingerprint)
    return equivariance(loaded, images[index : index + 1], shifts, axis)


def load_or_stop(loader, *args):
    """Call a (cached) loader; a missing dataset or unreadable weights is a message, not a traceback."""
    try:
        with st.spinner(t("inspect.loading")):
            return loader(*args)
    except (CnnLabError, OSError) as exc:
        st.error(t("inspect.err.load", reason=str(exc)))
        st.stop()
