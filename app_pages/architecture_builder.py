"""Architecture builder: edit a spec layer by layer and see its summary update live.

The spec being edited lives in st.session_state[SPEC_KEY] and in the page's link (a reload opens it
again); the training page trains it.
"""

import streamlit as st

from app_pages._blocks import block_editor
from app_pages._builder import (
    SPEC_KEY,
    insert_or_move,
    keep_in_link,
    layer_table,
    replace_spec,
    show_summary_table,
    start_spec,
)
from app_pages._links import share_view
from app_pages._widgets import download, labelled, link_values
from cnn_core import PRESETS, dump_spec_json, export_pytorch_code, load_spec_json, preset_spec, summarize_until_error
from cnn_core.arch.formatting import format_bytes, format_count, format_shape
from cnn_core.arch.layer_text import rows_to_layers
from cnn_core.arch.output import training_loss
from cnn_core.arch.presets import scratch_spec
from cnn_core.arch.spec import BACKBONES, SpecError, is_backbone
from cnn_core.arch.spec_link import editable_spec
from cnn_core.figures.architecture import shape_flow_figure
from cnn_core.i18n import current_language, t
from cnn_core.settings import get_settings

state = st.session_state
settings = get_settings()
st.title(t("builder.title"))
st.caption(t("builder.caption"))
link_values()  # the page's link: its network (?net=), which share_view writes out
if SPEC_KEY not in state:
    state[SPEC_KEY], state["editor_version"] = start_spec(), 0


@st.cache_resource(max_entries=16, show_spinner=t("builder.summarising"))
def backbone_summary(spec_json: str, language: str):  # language: its messages are in it
    return summarize_until_error(load_spec_json(spec_json, max_bytes=10**6))


version, spec = state["editor_version"], dict(state[SPEC_KEY])

left, middle, right = st.columns([3, 1.4, 3])
preset = left.selectbox(t("builder.preset"), list(PRESETS), format_func=lambda k: PRESETS[k].title, key="b_preset")
left.caption(t("builder.preset_caption", description=PRESETS[preset].description, source=PRESETS[preset].source))
# callbacks: the new spec is in place before the page runs, so a click costs one run, not two
middle.button(
    t("builder.load_preset"), type="primary", key="b_load", on_click=lambda: replace_spec(preset_spec(state.b_preset))
)
middle.button(t("builder.scratch"), key="b_scratch", on_click=lambda: replace_spec(scratch_spec()))
limit = format_bytes(settings.max_spec_upload_bytes)
upload = right.file_uploader(
    t("builder.upload", limit=limit),
    type=["json"],
    key=f"b_upload_{version}",
    help=t("builder.upload.help", limit=limit),
    max_upload_size=max(1, -(-settings.max_spec_upload_bytes // 2**20)),  # whole MB: the widget's unit
)
# the drop zone would state that whole-MB limit; the label states the real one
st.html('<style>[class*="st-key-b_upload_"] [data-testid=stFileUploaderDropzoneInstructions]{display:none}</style>')
if upload is not None:
    try:
        replace_spec(editable_spec(load_spec_json(upload.getvalue())))
        st.rerun()
    except SpecError as exc:
        right.error(str(exc), icon=":material/error:")

c0, c1, c2, c3, c4 = st.columns([3, 1, 1, 1, 1])
spec["name"] = c0.text_input(t("builder.name"), spec.get("name", ""), key=f"b_name_{version}")
shape = (
    spec["input_shape"] if isinstance(spec.get("input_shape"), list) and len(spec["input_shape"]) == 3 else [1, 28, 28]
)
labels = (t("calc.channels"), t("calc.height"), t("calc.width"))
caps = (settings.max_channels, settings.max_input_side, settings.max_input_side)
defaults = [int(value) if isinstance(value, int) and 1 <= value <= cap else 1 for value, cap in zip(shape, caps)]
spec["input_shape"] = [
    int(col.number_input(label, 1, cap, value, key=f"b_shape{i}_{version}"))
    for i, (col, label, cap, value) in enumerate(zip((c1, c2, c3), labels, caps, defaults))
]
classes = spec.get("num_classes") if isinstance(spec.get("num_classes"), int) else 10
spec["num_classes"] = int(
    c4.number_input(t("builder.num_classes"), 1, 100000, max(1, classes), key=f"b_classes_{version}")
)

layer_error = None
if is_backbone(spec):
    options = spec["backbone"] if isinstance(spec["backbone"], dict) else {"name": spec["backbone"]}
    b1, b2, b3, b4 = st.columns(4)
    name = options.get("name") if options.get("name") in BACKBONES else BACKBONES[0]
    spec["backbone"] = {
        "name": b1.selectbox(t("builder.backbone"), BACKBONES, BACKBONES.index(name), key=f"b_bb_{version}"),
        "pretrained": labelled(
            b2.checkbox, "builder.pretrained", bool(options.get("pretrained", True)), key=f"b_pre_{version}"
        ),
        "freeze_backbone": labelled(
            b3.checkbox, "builder.freeze", bool(options.get("freeze_backbone", True)), key=f"b_freeze_{version}"
        ),
        "replace_head": b4.checkbox(
            t("builder.replace_head"),
            bool(options.get("replace_head", True)),
            key=f"b_head_{version}",
            help=t("builder.replace_head.help", n=int(spec["num_classes"])),
        ),
    }
    summary, error = backbone_summary(dump_spec_json(spec), current_language())
else:
    try:
        spec["layers"] = rows_to_layers(layer_table(spec, version))
    except SpecError as exc:
        layer_error = exc
    insert_or_move(spec, locked=layer_error is not None)
    block_editor(spec, version, locked=layer_error is not None)
    summary, error = (None, layer_error) if layer_error else summarize_until_error(spec)

if layer_error is None:
    state[SPEC_KEY] = spec
    keep_in_link(spec)
if error is not None:
    st.error(str(error), icon=":material/error:")
if summary is not None:
    m = st.columns(5)
    for column, key, count in zip(
        m,
        ("builder.total_params", "builder.trainable", "builder.macs"),
        (summary.total_params, summary.trainable_params, summary.total_macs),
    ):
        column.metric(t(key), format_count(count), help=t("builder.exact", n=f"{count:,}"))
    m[3].metric(t("builder.memory"), format_bytes(summary.activation_bytes), help=t("builder.memory.help"))
    m[4].metric(t("builder.output"), format_shape(summary.output_shape))
    st.caption(training_loss(spec), help=t("builder.loss.help"))
    if summary.rows:
        show_summary_table(summary, "b_summary")
        st.plotly_chart(shape_flow_figure(summary), key="b_flow")

d1, d2 = st.columns(2)
download(d1, "builder.download_json", dump_spec_json(spec), "cnn_lab_spec.json", "b_dl_json", "application/json")
if error is None and summary is not None:
    download(d2, "builder.download_code", export_pytorch_code(spec), "cnn_lab_model.py", "b_dl_code", "text/x-python")
share_view()
