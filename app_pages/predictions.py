"""Predictions: the test-set gallery, the confusion matrix, and the network on your own image."""

import streamlit as st
from streamlit_drawable_canvas import st_canvas

from app_pages._links import share_view
from app_pages._shared import cached_predictions, cached_run, load_or_stop, pick_trained_run
from app_pages._widgets import choice, kept_tabs, link_values, notice_ignored_link_values, upload_mb
from cnn_core.data.catalog import class_label, class_labels
from cnn_core.data.uploads import image_from_array, image_from_upload
from cnn_core.errors import CnnLabError
from cnn_core.figures.images import as_picture, image_figure
from cnn_core.figures.inspection import pickable_cells, top_k_figure
from cnn_core.figures.training import confusion_figure
from cnn_core.i18n import t
from cnn_core.inspection.loading import run_fingerprint
from cnn_core.inspection.predictions import SORTS, confusion, gallery, per_class_report, top_k

st.title(t("predictions.title"))
opened_with = link_values()
run = pick_trained_run("p_run")
share_slot = st.container()
fingerprint = run_fingerprint(run.path)
loaded, images, _ = load_or_stop(cached_run, run.path, fingerprint)
preds = load_or_stop(cached_predictions, run.path, fingerprint)
if loaded.source == "checkpoint":
    st.caption(t("inspect.from_checkpoint"))
names = class_labels(preds.class_names)  # in the visitor's language; the run keeps its own names
ALL = -1  # "all classes" in the class filters (None would show the select box's empty placeholder)
gallery_tab, matrix_tab, own_tab = kept_tabs(
    [t("predictions.tab.gallery"), t("predictions.tab.confusion"), t("predictions.tab.own")], "p_tab"
)


def class_box(container, label_key: str, key: str, index: int = 0, any_class: bool = False):
    """A class of the run to pick by name; with any_class, 'all' comes first and is returned as None."""
    options = ([ALL] if any_class else []) + list(range(len(names)))
    shown = lambda k: t("predictions.all") if k == ALL else names[k]  # noqa: E731
    # persist_state: kept while another tab is open (only the open tab is drawn)
    picked = container.selectbox(t(label_key), options, index, key=key, format_func=shown, persist_state="page")
    return None if picked == ALL else picked


def show_images(indices, columns=8):
    cols = st.columns(columns)
    for slot, i in enumerate(indices):
        right = preds.labels[i] == preds.predicted[i]
        colour = "green" if right else "red"
        with cols[slot % columns]:
            st.image(as_picture(images[i]), width="stretch")
            true, pred, conf = names[preds.labels[i]], names[preds.predicted[i]], f"{preds.confidence[i]:.0%}"
            st.markdown(f":{colour}[{t('predictions.caption', true=true, pred=pred, conf=conf)}]")


with gallery_tab:
    if gallery_tab.open:  # only the open tab is drawn (its switch reruns the page)
        c = st.columns(5)
        only_mistakes = c[0].toggle(t("predictions.only_mistakes"), key="p_mistakes", persist_state="page")
        true_class = class_box(c[1], "predictions.true_class", "p_true", any_class=True)
        pred_class = class_box(c[2], "predictions.pred_class", "p_pred", any_class=True)
        sort = c[3].selectbox(
            t("predictions.sort"),
            SORTS,
            key="p_sort",
            persist_state="page",
            format_func=lambda s: t(f"predictions.sort.{s}"),
        )
        _, total = gallery(preds, only_mistakes, true_class, pred_class, sort, 0, 10**9)
        pages = max(1, -(-total // 32))
        page = (
            c[4].number_input(t("predictions.page", pages=pages), 1, pages, 1, key="p_page", persist_state="page") - 1
        )
        indices, total = gallery(preds, only_mistakes, true_class, pred_class, sort, int(page), 32)
        st.caption(t("predictions.count", total=total, n=len(preds.labels), acc=f"{preds.correct.mean():.2%}"))
        st.button(
            t("predictions.worst"),
            key="p_worst",
            help=t("predictions.worst.help"),
            on_click=lambda: st.session_state.update(
                p_mistakes=True, p_sort="confidence_desc", p_true=ALL, p_pred=ALL, p_page=1
            ),
        )
        show_images(indices)

with matrix_tab:
    if matrix_tab.open:  # only the open tab is drawn (its switch reruns the page)
        matrix = confusion(preds).tolist()
        normalise = st.toggle(t("runs.normalise"), key="p_norm", persist_state="page")
        event = st.plotly_chart(
            pickable_cells(confusion_figure(matrix, names, normalise), matrix, names),
            key="p_confusion",
            on_select="rerun",
            selection_mode="points",
        )
        points = [p for p in (event.selection.points if event and event.selection else []) if "customdata" in p]
        c1, c2 = st.columns(2)
        picked = (int(points[0]["customdata"][0]), int(points[0]["customdata"][1])) if points else (0, 0)
        cell_true = class_box(c1, "predictions.true_class", f"p_cell_true_{picked}", picked[0])
        cell_pred = class_box(c2, "predictions.pred_class", f"p_cell_pred_{picked}", picked[1])
        cell, count = gallery(preds, False, cell_true, cell_pred, "confidence_desc", 0, 64)
        st.caption(t("predictions.cell", n=int(count), true=names[cell_true], pred=names[cell_pred]))
        show_images(cell)
        st.dataframe(per_class_report(preds), hide_index=True, key="p_report")

with own_tab:
    if own_tab.open:  # only the open tab is drawn (its switch reruns the page)
        c, h, w = loaded.input_shape
        source = None  # the one image the user chose to show the network: a drawing or an upload
        if choice("predictions.source", ["draw", "upload"], "p_source", persist_state="page") == "upload":
            upload = st.file_uploader(
                t("predictions.upload"), key="p_upload", help=t("predictions.upload.help"), max_upload_size=upload_mb()
            )
            invert_choice = choice(
                "predictions.invert", ["auto", "yes", "no"], "p_invert", disabled=c != 1, persist_state="page"
            )
            try:
                if upload is not None:
                    invert = {"auto": None, "yes": True, "no": False}[invert_choice]
                    source = image_from_upload(upload.getvalue(), loaded.input_shape, invert)
            except CnnLabError as exc:
                st.error(str(exc), icon=":material/error:")
        else:
            st.markdown(t("predictions.draw"))
            st.space("medium")  # room for the canvas's toolbar, which shows above it on hover
            drawn = st_canvas(
                stroke_width=18,
                stroke_color="#FFFFFF",
                background_color="#000000",
                height=224,
                width=224,
                drawing_mode="freedraw",
                return_image_data=True,
                key="p_canvas",
            )
            if drawn is not None and drawn.image_data is not None and drawn.image_data[..., :3].max() > 0:
                # strokes are white on black already: never invert a drawing
                source = image_from_array(drawn.image_data, loaded.input_shape, False if c == 1 else None)
        if source is not None:
            image, inverted = source
            left, right = st.columns(2)
            left.plotly_chart(image_figure(image[0], t("predictions.network_sees", c=c, h=h, w=w)), key="p_seen")
            left.caption(t("predictions.inverted") if inverted else t("predictions.as_is"))
            right.plotly_chart(
                top_k_figure([(class_label(n), p) for n, p in top_k(loaded, image, k=min(5, len(names)))]), key="p_topk"
            )
notice_ignored_link_values(opened_with)
share_view(share_slot)
