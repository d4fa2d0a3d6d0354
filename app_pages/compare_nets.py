"""Compare two networks: two trained runs on the same test images, their accuracy and how sure each
is of its answers (seed 004 compares its fully connected net and its CNN on two digits; here on all)."""

import streamlit as st

from app_pages._language import LANGUAGE_KEY
from app_pages._links import LAUNCHED_KEY, RUN_PARAM, SELECTED
from app_pages._shared import cached_predictions, cached_run, load_or_stop
from app_pages._visitor import current_visitor
from app_pages._widgets import run_label
from cnn_core.data.catalog import class_labels
from cnn_core.errors import CnnLabError
from cnn_core.figures.images import enlarged
from cnn_core.figures.inspection import class_outputs_figure, winning_histogram
from cnn_core.i18n import t
from cnn_core.inspection.compare import compare_confidence, first_of_each
from cnn_core.inspection.loading import InspectionError, inspectable_runs, run_fingerprint
from cnn_core.runs.directory import RunError, check_access
from cnn_core.runs.launcher import launch_run
from cnn_core.runs.tables import run_title
from cnn_core.train.config import SEED004_EPOCHS, one_image_at_a_time

st.title(t("compare.title"))
st.markdown(t("compare.intro"))
visitor = current_visitor()
runs = inspectable_runs(visitor=visitor)
if len(runs) < 2:
    st.info(t("compare.need_two"), icon=":material/info:")
    st.page_link("app_pages/train.py", label=t("runs.go_train"), icon=":material/model_training:")
    st.stop()
by_id = {run.run_id: run for run in runs}
ids = list(by_id)
c1, c2 = st.columns(2)
first_id = c1.selectbox(t("compare.first"), ids, 0, key="cmp_first", format_func=lambda i: run_label(by_id[i]))
second_id = c2.selectbox(t("compare.second"), ids, 1, key="cmp_second", format_func=lambda i: run_label(by_id[i]))
if first_id == second_id:
    st.info(t("compare.same_run"), icon=":material/info:")
    st.stop()
chosen = []  # (predictions, folder, fingerprint) of each
for run_id in (first_id, second_id):
    path = by_id[run_id].path
    try:
        check_access(path, visitor, "read")
    except RunError as exc:
        st.error(str(exc), icon=":material/error:")
        st.stop()
    fingerprint = run_fingerprint(path)
    chosen.append((load_or_stop(cached_predictions, path, fingerprint), path, fingerprint))
(first, *_), (second, *_) = chosen
try:
    result = compare_confidence(first, second)
except InspectionError as exc:
    st.error(str(exc), icon=":material/error:")
    st.stop()

# the networks are "first" and "second" in texts and charts: a run's name is the visitor's text, never markup
legend = (t("compare.first"), t("compare.second"))
for column, accuracy, median in zip((c1, c2), result.accuracy, result.median_winning):
    a, b = column.columns(2)
    a.metric(t("compare.accuracy"), f"{accuracy:.1%}")
    b.metric(t("compare.median_winning"), f"{median:.3f}", help=t("compare.median_winning.help"))
share = result.second_surer_share
verdict = "compare.verdict.second" if share > 0.5 else "compare.verdict.first" if share < 0.5 else "compare.verdict.tie"
st.markdown(
    t(verdict, share=f"{share:.1%}", n=f"{result.images:,}")
    + " "
    + t("compare.both_right", n=f"{result.both_right:,}", total=f"{result.images:,}")
)
st.plotly_chart(winning_histogram(dict(zip(legend, result.winning))), key="cmp_hist")
st.caption(t("compare.winning_caption"))

st.subheader(t("compare.examples"))
names = class_labels(first.class_names)
_, images, _ = load_or_stop(cached_run, chosen[0][1], chosen[0][2])
for index in first_of_each(first.labels, first.class_names, ("0", "6")):
    left, right = st.columns([1, 4])
    left.image(enlarged(images[index].numpy(), 112), caption=t("compare.example", label=names[first.labels[index]]))
    outputs = dict(zip(legend, (first.probs[index], second.probs[index])))
    right.plotly_chart(class_outputs_figure(names, outputs), key=f"cmp_example_{index}")

st.subheader(t("compare.batch1.title"))
st.markdown(t("compare.batch1.intro", epochs=SEED004_EPOCHS))
if st.button(t("compare.batch1.button"), key="cmp_batch1", icon=":material/timer:", help=t("compare.batch1.help")):
    try:
        raw = by_id[first_id].config
        config = one_image_at_a_time(raw, t("compare.batch1.name", name=run_title(raw, first_id)[:80]))
        run_dir = launch_run(config, visitor=visitor)
    except CnnLabError as exc:  # a demo's limits among them
        st.error(str(exc), icon=":material/error:")
    else:  # to its live progress, speed and time, as the Train page's Launch does
        st.session_state[SELECTED] = st.session_state[LAUNCHED_KEY] = run_dir.name
        query = {RUN_PARAM: run_dir.name, LANGUAGE_KEY: st.session_state[LANGUAGE_KEY]}
        st.switch_page("app_pages/runs.py", query_params=query)
