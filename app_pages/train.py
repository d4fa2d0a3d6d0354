"""Train: configure a run, check it before launch, and start it in the background."""

import json
import math
import tempfile

import streamlit as st

from app_pages._builder import SPEC_KEY
from app_pages._widgets import choice, labelled
from cnn_core.arch.presets import PRESETS, VARIANTS
from cnn_core.arch.spec import SpecError
from cnn_core.arch.summary import summarize
from cnn_core.data.catalog import DATASETS, DatasetError
from cnn_core.data.loaders import describe_dataset
from cnn_core.data.uploads import extract_class_zip
from cnn_core.figures.images import as_picture
from cnn_core.figures.training import lr_figure
from cnn_core.i18n import t
from cnn_core.runs.launcher import launch_run
from cnn_core.settings import get_settings
from cnn_core.train.augment import augmentation_preview
from cnn_core.train.config import AUGMENTATIONS, OPTIMIZERS, SCHEDULES, ConfigError, TrainConfig
from cnn_core.train.devices import available_devices
from cnn_core.train.estimate import measure_step_seconds
from cnn_core.train.schedules import lr_curve

settings = get_settings()
state = st.session_state


@st.cache_resource(max_entries=8, show_spinner=t("train.loading_dataset"))
def dataset_info(name: str, folder: str | None, size: int):
    try:
        return describe_dataset(name, None, folder, size), None
    except DatasetError as exc:
        return None, str(exc)


@st.cache_data(max_entries=32, show_spinner=t("train.measuring"))
def step_seconds(spec_json: str, batch_size: int, device: str) -> float:
    return measure_step_seconds(json.loads(spec_json), batch_size, device)


st.title(t("train.title"))
st.caption(t("train.caption"))
left, right = st.columns([1, 1])
fields = {}  # TrainConfig's fields, as the widgets set them
fields["dataset"] = dataset = labelled(
    left.selectbox, "train.dataset", list(DATASETS), format_func=lambda k: DATASETS[k].title, key="t_dataset"
)
folder, image_size = None, 32
if dataset == "folder":
    image_size = int(left.number_input(t("train.image_size"), 8, 256, 32, key="t_image_size"))
    upload = labelled(left.file_uploader, "train.zip", type=["zip"], key="t_zip")
    folder = labelled(left.text_input, "train.folder", key="t_folder") or None
    if upload is not None:
        try:
            folder, skipped = extract_class_zip(
                upload.getvalue(), tempfile.mkdtemp(prefix="cnnlab-upload-"), settings.max_upload_bytes
            )
            folder = str(folder)
            left.caption(t("train.zip.done", skipped=skipped))
        except DatasetError as exc:
            left.error(str(exc))
fields.update(folder_path=folder, image_size=image_size)
info, data_error = dataset_info(dataset, folder, image_size) if dataset != "folder" or folder else (None, None)
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
            classes=", ".join(map(str, info["class_names"][:12])),
        )
    )

sources = ["preset"] + (["builder"] if SPEC_KEY in state else [])
source = choice("train.network", sources, "t_source", right)
preset, spec = None, None
if source == "preset":
    preset = right.selectbox(t("builder.preset"), list(PRESETS), format_func=lambda k: PRESETS[k].title, key="t_preset")
    if preset in VARIANTS:
        variant = choice("train.variant", list(VARIANTS[preset]), "t_variant", right, help=t("train.variant.help"))
        preset = VARIANTS[preset][variant]
    right.caption(PRESETS[preset].description)
else:
    spec = state[SPEC_KEY]
    right.caption(t("train.builder_spec", name=spec.get("name") or t("reports.custom_spec")))
fields.update(preset=preset, spec=spec)

c = st.columns(4)
fields["epochs"] = int(labelled(c[0].number_input, "train.epochs", 1, 1000, 3, key="t_epochs"))
fields["batch_size"] = int(labelled(c[1].number_input, "train.batch", 1, 4096, 32, key="t_batch"))
fields["optimizer"] = labelled(c[2].selectbox, "train.optimizer", OPTIMIZERS, key="t_opt")
fields["lr"] = labelled(c[3].number_input, "train.lr", 1e-6, 10.0, 1e-3, format="%.5f", key="t_lr")
c = st.columns(4)
fields["schedule"] = labelled(c[0].selectbox, "train.schedule", SCHEDULES, key="t_schedule")
fields["weight_decay"] = labelled(c[1].number_input, "train.weight_decay", 0.0, 1.0, 0.0, format="%.5f", key="t_wd")
fields["label_smoothing"] = labelled(c[2].number_input, "train.smoothing", 0.0, 0.9, 0.0, key="t_ls")
fields["val_split"] = labelled(c[3].number_input, "train.val_split", 0.0, 0.9, 0.1, key="t_val")
c = st.columns(4)
fields["augment"] = labelled(
    c[0].multiselect, "train.augment", AUGMENTATIONS, key="t_aug", format_func=lambda a: t(f"train.augment.{a}")
)
fields["seed"] = int(labelled(c[1].number_input, "train.seed", 0, 2**31 - 1, 0, key="t_seed"))
fields["device"] = labelled(c[2].selectbox, "train.device", available_devices(), key="t_device")
fields["name"] = labelled(c[3].text_input, "train.name", key="t_name")

try:
    config = TrainConfig(**fields)
    config.validate()
    error = data_error
except (ConfigError, SpecError) as exc:
    config, error = None, str(exc)

if config is not None and info is not None:
    train_size = info["train_pool"] - int(round(info["train_pool"] * config.val_split))
    steps_per_epoch = math.ceil(train_size / config.batch_size)
    full_spec = config.architecture(info["input_shape"], len(info["class_names"]))
    summary = summarize(full_spec)
    m = st.columns(4)
    m[0].metric(t("train.steps_per_epoch"), f"{steps_per_epoch:,}", help=t("train.steps_per_epoch.help"))
    m[1].metric(t("train.total_steps"), f"{steps_per_epoch * config.epochs:,}")
    m[2].metric(t("builder.total_params"), f"{summary.total_params:,}")
    per_epoch = step_seconds(json.dumps(full_spec), config.batch_size, config.device) * steps_per_epoch
    m[3].metric(t("train.time_per_epoch"), t("train.seconds", s=f"{per_epoch:,.1f}"), help=t("train.time.help"))
    steps, lrs = lr_curve(config.schedule, config.lr, steps_per_epoch, config.epochs, config.step_size, config.gamma)
    st.plotly_chart(lr_figure(steps, lrs, steps_per_epoch), key="t_lr_plot")
    if config.augment and st.toggle(t("train.preview"), key="t_preview"):
        images = augmentation_preview(info["preview"], config, seed=config.seed)
        st.image([as_picture(img) for img in images], width=96, caption=[t("train.preview.caption")] * len(images))

if error:
    st.error(error, icon="⛔")
if st.button(t("train.launch"), type="primary", disabled=config is None or error is not None, key="t_launch"):
    run_dir = launch_run(config)
    state["selected_run"] = run_dir.name
    st.success(t("train.launched", run_id=run_dir.name))
    st.page_link("app_pages/runs.py", label=t("train.watch"), icon=":material/monitoring:")
