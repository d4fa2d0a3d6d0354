"""The Train page's data: the dataset choice (in a hosted demo only the embedded ones), a zip of
images to train on, and the dataset's summary, cached."""

import streamlit as st

from app_pages._widgets import kept, labelled, upload_mb
from cnn_core.data.catalog import DATASETS, DatasetError, class_labels
from cnn_core.data.loaders import describe_dataset
from cnn_core.data.uploads import unpack_upload
from cnn_core.i18n import current_language, t
from cnn_core.runs.demo import EMBEDDED_DATASETS
from cnn_core.settings import get_settings


@st.cache_resource(max_entries=8, show_spinner=False)
def dataset_info(name: str, folder: str | None, size: int, language: str):
    """The dataset's summary, or why it has none (a message in `language`, part of the cache key)."""
    try:
        return describe_dataset(name, None, folder, size), None
    except DatasetError as exc:
        return None, str(exc)


def _dataset_info(name: str, folder: str | None, size: int):
    with st.spinner(t("train.loading_dataset")):
        return dataset_info(name, folder, size, current_language())


def dataset_fields(left, fields: dict) -> tuple[dict | None, str | None]:
    """The dataset widgets in `left`; sets fields' dataset, folder_path and image_size, and returns
    (the dataset's summary or None, the reason it has none or None)."""
    settings = get_settings()
    names = [name for name in DATASETS if name in EMBEDDED_DATASETS or not settings.demo]
    fields["dataset"] = dataset = kept(
        left.selectbox, "train.dataset", names, format_func=lambda k: DATASETS[k].title, key="t_dataset"
    )
    folder, image_size = None, 32
    if dataset == "folder":
        image_size = int(kept(left.number_input, "train.image_size", 8, 256, 32, key="t_image_size"))
        upload = labelled(left.file_uploader, "train.zip", type=["zip"], key="t_zip", max_upload_size=upload_mb())
        folder = kept(left.text_input, "train.folder", key="t_folder") or None
        if upload is not None:
            try:
                folder, skipped = unpack_upload(upload.getvalue(), settings.data_dir, settings.max_upload_bytes)
                folder = str(folder)
                left.caption(t("train.zip.done", skipped=skipped))
            except DatasetError as exc:
                left.error(str(exc))
    fields.update(folder_path=folder, image_size=image_size)
    info, data_error = _dataset_info(dataset, folder, image_size) if dataset != "folder" or folder else (None, None)
    if data_error:
        left.warning(data_error)
    elif info:
        left.caption(
            t(
                "train.dataset.summary",
                train=info["train_pool"],
                test=info["test"],
                shape="×".join(map(str, info["input_shape"])),
                n=len(info["class_names"]),
                classes=", ".join(class_labels(info["class_names"][:12])),
            )
        )
    return info, data_error
