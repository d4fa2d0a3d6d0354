"""The architecture builder's helpers: the network kept in the session and in the page's link, the
table of layers (numbered 1, 2, 3 … like the summary and the error messages), inserting or moving
one layer, and the summary table.

The spec being edited lives in st.session_state[SPEC_KEY], where the Train page and the
receptive-field lesson find it, and in the query parameter LINK_PARAM, so that a reload (a new
session) opens it again. Replacing it bumps st.session_state["editor_version"], which is part of
every editing widget's key, so they all start afresh from the new spec.
"""

import pandas as pd
import streamlit as st

from cnn_core.arch.formatting import summary_table
from cnn_core.arch.layer_text import layers_to_rows, rows_to_layers
from cnn_core.arch.presets import DEFAULT_PRESET, preset_spec
from cnn_core.arch.spec import LAYER_TYPES, SpecError
from cnn_core.arch.spec_link import LINK_PARAM, spec_from_link, spec_to_link
from cnn_core.i18n import t

SPEC_KEY = "builder_spec"
COUNT_COLUMNS = ("col.params", "col.macs")  # whole numbers written with thousands separators


def start_spec() -> dict:
    """The network a new session starts with: the one in the page's link, else the default preset.
    A link that does not hold a network is dropped with a notice."""
    link = st.query_params.get(LINK_PARAM)
    if link:
        try:
            return spec_from_link(link)
        except SpecError as exc:
            st.warning(t("builder.link.ignored", reason=exc.reason), icon=":material/link_off:")
            del st.query_params[LINK_PARAM]
    return preset_spec(DEFAULT_PRESET)


def keep_in_link(spec: dict) -> None:
    """Write the spec into the page's link; one too large for a link stays in this session only."""
    link = spec_to_link(spec)
    if link is None:
        st.query_params.pop(LINK_PARAM, None)
        st.caption(t("builder.link.too_large"))
    elif st.query_params.get(LINK_PARAM) != link:
        st.query_params[LINK_PARAM] = link


def replace_spec(spec: dict) -> None:
    """Swap in a whole new spec; the version bump gives every editing widget fresh state."""
    st.session_state[SPEC_KEY] = spec
    st.session_state["editor_version"] += 1


def renumbered(frame: pd.DataFrame) -> pd.DataFrame:
    """The same rows numbered 1, 2, 3 … again (after a row was deleted the editor keeps 1, 3, 4)."""
    return frame.set_axis(pd.RangeIndex(1, len(frame) + 1))


def layer_table(spec: dict, version: int) -> list[dict]:
    """The spec's layers as an editable table; returns its rows ({type, params}) as edited."""
    base_key, round_key = f"b_base_{version}", f"b_round_{version}"
    if base_key not in st.session_state:
        rows = layers_to_rows(spec.get("layers") or [])
        st.session_state[base_key] = renumbered(pd.DataFrame(rows, columns=["type", "params"]))
    st.markdown(t("builder.layers.help"))
    edited = st.data_editor(
        st.session_state[base_key],
        num_rows="dynamic",
        hide_index=False,
        key=f"b_layers_{version}_{st.session_state.get(round_key, 0)}",
        column_config={
            "type": st.column_config.SelectboxColumn(
                t("builder.col.type"), options=list(LAYER_TYPES), required=True, help=t("builder.col.type.help")
            ),
            "params": st.column_config.TextColumn(
                t("builder.col.params"), help=t("builder.col.params.help"), width="large"
            ),
        },
    )
    if list(edited.index) != list(range(1, len(edited) + 1)):
        # a row was deleted: the edited rows become the table, numbered afresh, in a new editor
        st.session_state[base_key] = renumbered(edited)
        st.session_state[round_key] = st.session_state.get(round_key, 0) + 1
        st.rerun()
    return edited.astype(object).where(edited.notna(), None).to_dict("records")


def insert_or_move(spec: dict, locked: bool) -> None:
    """Insert a new layer (type and params) at a position, or move the layer there up or down; each
    change replaces the spec and reruns. `locked` (the table does not parse) disables the buttons."""
    with st.expander(t("builder.reorder")):
        r1, r2, r3, r4 = st.columns([1, 2, 3, 2])
        count = len(spec.get("layers") or [])
        position = int(r1.number_input(t("builder.position"), 1, max(1, count + 1), max(1, count), key="b_pos"))
        new_type = r2.selectbox(
            t("builder.col.type"), list(LAYER_TYPES), key="b_new_type", help=t("builder.new_type.help")
        )
        r2.caption(t(LAYER_TYPES[new_type].help_key))
        new_params = r3.text_input(t("builder.col.params"), key="b_new_params", help=t("builder.col.params.help"))
        layers = list(spec.get("layers") or [])
        if r4.button(t("builder.insert"), key="b_insert", disabled=locked):
            try:
                layers.insert(position - 1, rows_to_layers([{"type": new_type, "params": new_params}])[0])
                replace_spec(spec | {"layers": layers})
                st.rerun()
            except SpecError as exc:
                r3.error(str(exc), icon=":material/error:")
        for label, delta in ((t("builder.move_up"), -1), (t("builder.move_down"), 1)):
            target = position - 1 + delta
            r4.button(
                label,
                key=f"b_move_{delta}",
                disabled=locked or not (0 <= target < count and position <= count),
                on_click=_swap,  # a callback: the moved network is drawn in the click's own run
                args=(spec, layers, position - 1, target),
            )


def _swap(spec: dict, layers: list, a: int, b: int) -> None:
    layers = list(layers)
    layers[a], layers[b] = layers[b], layers[a]
    replace_spec(spec | {"layers": layers})


def show_summary_table(summary, key: str, container=st) -> None:
    """The per-layer summary (builder and calculator): counts with thousands separators."""
    container.dataframe(
        pd.DataFrame(summary_table(summary)),
        hide_index=True,
        key=key,
        column_config={t(name): st.column_config.NumberColumn(format="localized") for name in COUNT_COLUMNS},
    )
