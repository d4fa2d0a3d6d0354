"""Landing page: what CNN Lab is and where to start."""
import streamlit as st

from cnn_core.i18n import t

st.title(t("home.title"))
st.markdown(t("home.intro"))
left, right = st.columns(2)
with left:
    st.subheader(t("nav.calculator"))
    st.markdown(t("home.calculator"))
    st.page_link("app_pages/shape_calculator.py", label=t("home.open_calculator"), icon=":material/straighten:")
with right:
    st.subheader(t("nav.builder"))
    st.markdown(t("home.builder"))
    st.page_link("app_pages/architecture_builder.py", label=t("home.open_builder"), icon=":material/account_tree:")
