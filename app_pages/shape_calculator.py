"""Shape calculator: one layer with its formula and sliding window, or a whole chain. Both tabs'
inputs and the open tab are kept in the page's link (and the session)."""

import streamlit as st

from app_pages._builder import show_summary_table
from app_pages._links import share_view
from app_pages._slips import show_slips
from app_pages._widgets import bound, choice, kept_tabs, link_values, notice_ignored_link_values
from cnn_core.arch.calculator import KINDS, LayerQuery, calculate, window_picture
from cnn_core.arch.formatting import format_bytes, format_count, format_shape
from cnn_core.arch.layer_text import parse_chain
from cnn_core.arch.spec import SpecError
from cnn_core.arch.summary import summarize_until_error
from cnn_core.figures.calculator import window_figure
from cnn_core.i18n import t
from cnn_core.settings import get_settings

settings = get_settings()
side_cap, chans = settings.max_input_side, settings.max_channels
st.title(t("calc.title"))
st.caption(t("calc.caption"))
show_slips("calc")
opened_with = link_values()
share_slot = st.container()
one_layer, chain = kept_tabs([t("calc.tab.one"), t("calc.tab.chain")], "calc_tab")

with one_layer:
    kind = choice("calc.kind", KINDS, "calc_kind", keep=True)
    c1, c2, c3, c4 = st.columns(4)
    height = bound(c1.number_input, t("calc.height"), 1, side_cap, 5, key="calc_h")
    width = bound(c2.number_input, t("calc.width"), 1, side_cap, 5, key="calc_w")
    channels = bound(c3.number_input, t("calc.channels"), 1, chans, 1, key="calc_c")
    conv, pool = kind in ("conv2d", "conv_transpose2d"), kind in ("maxpool2d", "avgpool2d")
    out_channels = bound(c4.number_input, t("calc.out_channels"), 1, chans, 1, key="calc_oc", disabled=not conv)
    c1, c2, c3, c4 = st.columns(4)
    kernel = bound(c1.number_input, t("calc.kernel"), 1, side_cap, 3, key="calc_k", help=t("calc.kernel.help"))
    stride = bound(c2.number_input, t("calc.stride"), 1, side_cap, 1, key="calc_s", help=t("calc.stride.help"))
    d_help, no_d = t("calc.dilation.help"), kind == "avgpool2d"
    dilation = bound(c3.number_input, t("calc.dilation"), 1, 64, 1, key="calc_d", help=d_help, disabled=no_d)
    pad_mode = choice(
        "calc.padding_mode",
        ["number", "valid", "same", "same_keras"],
        "calc_pad_mode",
        c4,
        keep=True,
        help=t("calc.padding.help"),
    )
    c1, c2, c3, _ = st.columns(4)
    if not pool:
        st.session_state["calc_ceil"] = False  # greyed out, and unticked: convolutions have no ceil_mode
    pad_number = bound(c1.number_input, t("calc.padding"), 0, side_cap, 0, key="calc_p", disabled=pad_mode != "number")
    ceil_help = t("calc.ceil_mode.help")
    ceil_mode = bound(c2.checkbox, t("calc.ceil_mode"), key="calc_ceil", help=ceil_help, disabled=not pool)
    output_padding = bound(
        c3.number_input,
        t("calc.output_padding"),
        0,
        64,
        0,
        key="calc_op",
        disabled=kind != "conv_transpose2d",
        help=t("calc.output_padding.help"),
    )
    query = LayerQuery(
        kind=kind,
        height=int(height),
        width=int(width),
        channels=int(channels),
        out_channels=int(out_channels),
        kernel=int(kernel),
        stride=int(stride),
        padding=int(pad_number) if pad_mode == "number" else pad_mode,
        dilation=1 if kind == "avgpool2d" else int(dilation),
        ceil_mode=ceil_mode,
        output_padding=int(output_padding),
    )
    result = calculate(query)
    if result.error is not None:
        st.error(t("calc.invalid", message=f"{result.error.reason} — {result.error.fix}"), icon=":material/error:")
    else:
        m1, m2, m3 = st.columns(3)
        m1.metric(t("calc.output"), format_shape(result.output_shape))
        m2.metric(t("calc.params"), format_count(result.params), help=t("builder.exact", n=f"{result.params:,}"))
        m3.metric(t("calc.macs"), format_count(result.macs), help=t("builder.exact", n=f"{result.macs:,}"))
        same = result.axes[0] == result.axes[1]
        names = (t("calc.axis.hw"),) if same else (t("calc.axis.h"), t("calc.axis.w"))
        for axis_name, axis in zip(names, result.axes):
            # inline code, not st.code: its syntax highlighter costs a page load ~0.2 s of script
            st.markdown(f"**{axis_name}** · `{axis.formula}`  \n`{axis.filled}`")
            (st.warning if axis.dropped else st.caption)(axis.note)
        st.subheader(t("calc.window.title"))
        out_h, out_w = result.output_shape[1], result.output_shape[2]
        s1, s2 = st.columns(2)
        row = bound(s1.slider, t("calc.window.row"), 0, out_h - 1, 0, key="calc_row") if out_h > 1 else 0
        col = bound(s2.slider, t("calc.window.col"), 0, out_w - 1, 0, key="calc_col") if out_w > 1 else 0
        try:
            picture = window_picture(query, row, col)
        except SpecError as exc:  # no picture for this layer (too many cells to draw, or a padding it cannot show)
            st.info(exc.reason, icon=":material/info:")
        else:
            st.caption(picture.frame_note)
            st.plotly_chart(window_figure(picture, settings.max_picture_cells), key="calc_window")

with chain:
    if chain.open:  # only the open tab is drawn (its switch reruns the page)
        st.caption(t("calc.chain.caption"))
        c1, c2, c3 = st.columns(3)
        chain_c = bound(c1.number_input, t("calc.channels"), 1, settings.max_channels, 1, key="chain_c")
        chain_h = bound(c2.number_input, t("calc.height"), 1, side_cap, 28, key="chain_h")
        chain_w = bound(c3.number_input, t("calc.width"), 1, side_cap, 28, key="chain_w")
        text = bound(
            st.text_area,
            t("calc.chain.layers"),
            t("calc.chain.default"),
            height=220,
            key="chain_text",
            help=t("calc.chain.help"),
        )
        try:
            layers = parse_chain(text)
        except SpecError as exc:
            st.error(str(exc), icon=":material/error:")
            layers = None
        if layers is not None:
            spec = {"input_shape": [int(chain_c), int(chain_h), int(chain_w)], "layers": layers}
            summary, error = summarize_until_error(spec, check_output=False)
            if summary is not None and summary.rows:
                show_summary_table(summary, "chain_table")
                st.caption(
                    t(
                        "calc.chain.totals",
                        params=f"{summary.total_params:,}",
                        macs=f"{summary.total_macs:,}",
                        memory=format_bytes(summary.activation_bytes),
                    )
                )
            if error is not None:
                st.error(t("calc.chain.broken", message=str(error)), icon=":material/error:")
            elif summary is not None and not summary.rows:
                st.info(t("calc.chain.empty"))
notice_ignored_link_values(opened_with)
share_view(share_slot)
