"""The seed tutorials' slips, shown on the lesson or page where their concept is taught."""

import streamlit as st

from cnn_core.concepts.slips import slips_for
from cnn_core.i18n import t


def show_slips(where: str) -> None:
    """Each slip of the seed tutorials about this lesson or page: what the tutorial says (the
    expander's label), what is so, with figures computed by cnn_core.concepts.slips, and a link to
    the view that shows it."""
    for slip in slips_for(where):
        with st.expander(t("slip.says", seed=slip.seed, says=t(f"slip.{slip.key}.says")), icon=":material/rule:"):
            st.markdown(t("slip.fact", fact=t(f"slip.{slip.key}.fact", **slip.facts())))
            if slip.link is not None:
                page, params = slip.link()
                st.page_link(page, label=t("slip.see"), icon=":material/science:", query_params=params)
