"""The builder's block editor: pick a residual block or one branch of a concatenation, anywhere in
the network (nested ones too), and edit its inner layers one per line, in the calculator's layer
text. The table above shows the block's inner rows with their shapes ("4.1", "5[2].1")."""

import streamlit as st

from app_pages._builder import replace_spec
from cnn_core.arch.blocks import chain_at, chain_paths, with_chain
from cnn_core.arch.layer_text import format_chain, parse_chain
from cnn_core.arch.spec import SpecError
from cnn_core.i18n import t


def block_editor(spec: dict, version: int, locked: bool) -> None:
    """The expander, when the network has a block; Apply replaces that chain and reruns."""
    layers = spec.get("layers") or []
    paths = chain_paths(layers)
    if not paths:
        st.caption(t("builder.blocks.none"))
        return
    with st.expander(t("builder.blocks"), expanded=False):
        labels = dict(paths)
        label = st.selectbox(
            t("builder.blocks.pick"),
            list(labels),
            key="b_block",  # not versioned: the same block stays picked after Apply
            format_func=lambda k: t("builder.blocks.branch" if k.endswith("]") else "builder.blocks.residual", label=k),
        )
        text = st.text_area(
            t("builder.blocks.layers"),
            format_chain(chain_at(layers, labels[label])),
            key=f"b_block_text_{version}_{label}",
            height=180,
            help=t("builder.blocks.layers.help"),
        )
        if st.button(t("builder.blocks.apply"), key=f"b_block_apply_{version}", disabled=locked):
            try:
                new = with_chain(layers, labels[label], parse_chain(text))
                replace_spec(spec | {"layers": new})
                st.rerun()
            except SpecError as exc:
                st.error(str(exc), icon=":material/error:")
