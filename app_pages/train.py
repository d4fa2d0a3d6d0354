"""Train: configure a run, check it before launch, and start it in the background."""

import json
import math
import tempfile

import streamlit as st

from cnn_core.arch.presets import PRESETS, VARIANTS
from cnn_core.arch.spec import SpecError
from cnn_core.arch.summary import summarize
from cnn_core.data.catalog import DATASETS, DatasetError
from cnn_core.data.loaders import describe_dataset
from cnn_core.data.uploads import extract_class_zip
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
dataset = left.selectbox(
    t("train.dataset"),
    list(DATASETS),
    format_func=lambda k: DATASETS[k].title,
    key="t_dataset",
    help=t("train.dataset.help"),
)
folder, image_size = None, 32
if dataset == "folder":
    image_size = int(left.number_input(t("train.image_size"), 8, 256, 32, key="t_image_size"))
    upload = left.file_uploader(t("train.zip"), type=["zip"], key="t_zip", help=t("train.zip.help"))
    folder = left.text_input(t("train.folder"), key="t_folder", help=t("train.folder.help")) or None
    if upload is not None:
        try:
            folder, skipped = extract_class_zip(
                upload.getvalue(), tempfile.mkdtemp(prefix="cnnlab-upload-"), settings.max_upload_bytes
            )
            folder = str(folder)
            left.caption(t("train.zip.done", skipped=skipped))
        except DatasetError as exc:
            left.error(str(exc))
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

sources = ["preset"] + (["builder"] if "builder_spec" in state else [])
source = right.radio(
    t("train.network"), sources, format_func=lambda s: t(f"train.network.{s}"), horizontal=True, key="t_source"
)
preset, spec = None, None
if source == "preset":
    preset = right.selectbox(t("builder.preset"), list(PRESETS), format_func=lambda k: PRESETS[k].title, key="t_preset")
    if preset in VARIANTS:
        variant = right.radio(
            t("train.variant"),
            list(VARIANTS[preset]),
            horizontal=True,
            key="t_variant",
            format_func=lambda v: t(f"train.variant.{v}"),
            help=t("train.variant.help"),
        )
        preset = VARIANTS[preset][variant]
    right.caption(PRESETS[preset].description)
else:
    spec = state["builder_spec"]
    right.caption(t("train.builder_spec", name=spec.get("name") or t("reports.custom_spec")))

c = st.columns(4)
epochs = c[0].number_input(t("train.epochs"), 1, 1000, 3, key="t_epochs", help=t("train.epochs.help"))
batch = c[1].number_input(t("train.batch"), 1, 4096, 32, key="t_batch", help=t("train.batch.help"))
optimizer = c[2].selectbox(t("train.optimizer"), OPTIMIZERS, key="t_opt", help=t("train.optimizer.help"))
lr = c[3].number_input(t("train.lr"), 1e-6, 10.0, 1e-3, format="%.5f", key="t_lr", help=t("train.lr.help"))
c = st.columns(4)
schedule = c[0].selectbox(t("train.schedule"), SCHEDULES, key="t_schedule", help=t("train.schedule.help"))
weight_decay = c[1].number_input(
    t("train.weight_decay"), 0.0, 1.0, 0.0, format="%.5f", key="t_wd", help=t("train.weight_decay.help")
)
smoothing = c[2].number_input(t("train.smoothing"), 0.0, 0.9, 0.0, key="t_ls", help=t("train.smoothing.help"))
val_split = c[3].number_input(t("train.val_split"), 0.0, 0.9, 0.1, key="t_val", help=t("train.val_split.help"))
c = st.columns(4)
augment = c[0].multiselect(
    t("train.augment"),
    AUGMENTATIONS,
    key="t_aug",
    help=t("train.augment.help"),
    format_func=lambda a: t(f"train.augment.{a}"),
)
seed = c[1].number_input(t("train.seed"), 0, 2**31 - 1, 0, key="t_seed", help=t("train.seed.help"))
device = c[2].selectbox(t("train.device"), available_devices(), key="t_device", help=t("train.device.help"))
name = c[3].text_input(t("train.name"), key="t_name", help=t("train.name.help"))

try:
    config = TrainConfig(
        dataset=dataset,
        preset=preset,
        spec=spec,
        epochs=int(epochs),
        batch_size=int(batch),
        optimizer=optimizer,
        lr=float(lr),
        schedule=schedule,
        weight_decay=float(weight_decay),
        label_smoothing=float(smoothing),
        val_split=float(val_split),
        augment=list(augment),
        seed=int(seed),
        device=device,
        name=name,
        folder_path=folder,
        image_size=image_size,
    )
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
    st.plotly_chart(
        lr_figure(
            *lr_curve(config.schedule, config.lr, steps_per_epoch, config.epochs, config.step_size, config.gamma),
            steps_per_epoch,
        ),
        key="t_lr_plot",
    )
    if config.augment and st.toggle(t("train.preview"), key="t_preview"):
        images = augmentation_preview(info["preview"], config, seed=int(seed))
        st.image(
            [img.permute(1, 2, 0).squeeze(-1).numpy() for img in images],
            width=96,
            caption=[t("train.preview.caption")] * len(images),
        )

if error:
    st.error(error, icon="⛔")
if st.button(t("train.launch"), type="primary", disabled=config is None or error is not None, key="t_launch"):
    run_dir = launch_run(config)
    state["selected_run"] = run_dir.name
    st.success(t("train.launched", run_id=run_dir.name))
    st.page_link("app_pages/runs.py", label=t("train.watch"), icon=":material/monitoring:")
