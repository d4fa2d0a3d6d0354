"""CNN Lab: the Streamlit entry point. It only sets up the page and the navigation."""
import streamlit as st

from cnn_core.i18n import t

st.set_page_config(page_title="CNN Lab", page_icon=":material/grid_on:", layout="wide")

navigation = st.navigation({
    t("nav.section.learn"): [
        st.Page("app_pages/home.py", title=t("nav.home"), icon=":material/home:", default=True),
        st.Page("app_pages/shape_calculator.py", title=t("nav.calculator"), icon=":material/straighten:"),
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
    ],
})
navigation.run()
