"""Landing page: what CNN Lab is and where to start."""

import streamlit as st

from cnn_core.i18n import t

st.title(t("home.title"))
st.markdown(t("home.intro"))
TOOLS = [
    ("app_pages/shape_calculator.py", "nav.calculator", "home.calculator", ":material/straighten:"),
    ("app_pages/concepts/conv_steps.py", "nav.section.concepts", "home.concepts", ":material/science:"),
    ("app_pages/architecture_builder.py", "nav.builder", "home.builder", ":material/account_tree:"),
    ("app_pages/train.py", "nav.train", "home.train", ":material/model_training:"),
    ("app_pages/runs.py", "nav.runs", "home.runs", ":material/monitoring:"),
    ("app_pages/predictions.py", "nav.predictions", "home.predictions", ":material/grid_view:"),
    ("app_pages/filters.py", "nav.filters", "home.filters", ":material/filter:"),
    ("app_pages/network_sees.py", "nav.sees", "home.sees", ":material/visibility:"),
]
columns = st.columns(3)
for i, (page, title, text, icon) in enumerate(TOOLS):
    with columns[i % 3]:
        st.subheader(t(title))
        st.markdown(t(text))
        st.page_link(page, label=t("home.open", page=t(title)), icon=icon)
