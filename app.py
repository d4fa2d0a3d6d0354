"""CNN Lab: the Streamlit entry point. It sets up the page and the navigation, and runs the chosen
page so that an error meant for the user (CnnLabError) that a page did not handle itself is shown
as a message, never as a traceback. Streamlit's own stop and rerun signals are not CnnLabErrors
and pass through. It settles the visitor's language first (app_pages/_language.py); in a hosted
demo (CNN_LAB_DEMO) it then settles who the visitor is, shows the demo's notice and starts its
example runs (app_pages/_visitor.py). The server imports torch in the background from its first
run (cnn_core.warmup) and keeps one spare training worker warm (cnn_core.runs.spare). The navigation is shown whole: Streamlit's "View N more" is
text it does not translate."""

import streamlit as st

from app_pages._language import language_switch, settle_language
from app_pages._visitor import apply_secrets, current_visitor, demo_notice, start_examples
from cnn_core.errors import CnnLabError
from cnn_core.i18n import t
from cnn_core.runs.directory import runs_root
from cnn_core.runs.spare import ensure_spare
from cnn_core.warmup import import_in_background

st.set_page_config(page_title="CNN Lab", page_icon=":material/grid_on:", layout="wide")
apply_secrets()  # CNN_LAB_* in .streamlit/secrets.toml, before the settings are read
import_in_background()  # torch and the pages' heavy modules, once per server, while the first page draws
language = settle_language()  # before any text: the visitor's language, for this run's thread

navigation = st.navigation(
    {
        t("nav.section.learn"): [
            st.Page("app_pages/home.py", title=t("nav.home"), icon=":material/home:", default=True),
            st.Page("app_pages/shape_calculator.py", title=t("nav.calculator"), icon=":material/straighten:"),
        ],
        t("nav.section.concepts"): [
            st.Page("app_pages/concepts/conv_steps.py", title=t("nav.concept.steps"), icon=":material/grid_3x3:"),
            st.Page("app_pages/concepts/flip.py", title=t("nav.concept.flip"), icon=":material/swap_horiz:"),
            st.Page("app_pages/concepts/kernels.py", title=t("nav.concept.kernels"), icon=":material/photo_filter:"),
            st.Page("app_pages/concepts/patch.py", title=t("nav.concept.patch"), icon=":material/center_focus_strong:"),
            st.Page("app_pages/concepts/strides.py", title=t("nav.concept.strides"), icon=":material/zoom_out_map:"),
            st.Page("app_pages/concepts/relu_bias.py", title=t("nav.concept.relu"), icon=":material/tune:"),
            st.Page("app_pages/concepts/pooling.py", title=t("nav.concept.pooling"), icon=":material/view_module:"),
            st.Page(
                "app_pages/concepts/activations.py", title=t("nav.concept.activations"), icon=":material/show_chart:"
            ),
            st.Page("app_pages/concepts/batch_speed.py", title=t("nav.concept.batch"), icon=":material/speed:"),
            st.Page(
                "app_pages/concepts/receptive_field.py",
                title=t("nav.concept.rf"),
                icon=":material/filter_center_focus:",
            ),
        ],
        t("nav.section.design"): [
            st.Page("app_pages/architecture_builder.py", title=t("nav.builder"), icon=":material/account_tree:"),
        ],
        t("nav.section.train"): [
            st.Page("app_pages/train.py", title=t("nav.train"), icon=":material/model_training:"),
            st.Page("app_pages/runs.py", title=t("nav.runs"), icon=":material/monitoring:"),
        ],
        t("nav.section.inspect"): [
            st.Page("app_pages/predictions.py", title=t("nav.predictions"), icon=":material/grid_view:"),
            st.Page("app_pages/filters.py", title=t("nav.filters"), icon=":material/filter:"),
            st.Page("app_pages/network_sees.py", title=t("nav.sees"), icon=":material/visibility:"),
            st.Page("app_pages/compare_nets.py", title=t("nav.compare"), icon=":material/compare:"),
            st.Page("app_pages/invariance.py", title=t("nav.invariance"), icon=":material/open_with:"),
        ],
    },
    expanded=True,
)
language_switch(language)
current_visitor()  # in a hosted demo: who this is (a signed cookie), before any page lists runs
demo_notice()
start_examples()
ensure_spare(runs_root())  # a worker kept warm, so that a launch trains at once
try:
    navigation.run()
except CnnLabError as exc:
    st.error(str(exc), icon=":material/error:")
