"""Train: configure a run, check it before launch, and start it in the background. The settings
live in the page's link and the session (app_pages/_train.py)."""

import math

import streamlit as st

from app_pages._builder import SPEC_KEY
from app_pages._language import LANGUAGE_KEY
from app_pages._links import LAUNCHED_KEY, RUN_PARAM, SELECTED, share_view
from app_pages._slips import show_slips
from app_pages._train import backbone_choice, show_epoch_estimate
from app_pages._train_data import dataset_fields
from app_pages._visitor import current_visitor
from app_pages._widgets import choice, kept, link_values, notice_ignored_link_values
from cnn_core.arch.presets import PRESETS, VARIANTS
from cnn_core.arch.spec import SpecError
from cnn_core.arch.summary import summarize
from cnn_core.errors import CnnLabError
from cnn_core.figures.images import as_picture
from cnn_core.figures.training import lr_figure
from cnn_core.i18n import t
from cnn_core.runs.launcher import launch_run
from cnn_core.settings import get_settings
from cnn_core.train.augment import augmentation_preview
from cnn_core.train.config import AUGMENTATIONS, NORMALIZATIONS, OPTIMIZERS, SCHEDULES, ConfigError, TrainConfig
from cnn_core.train.devices import available_devices, gpu_count
from cnn_core.train.estimate import estimate_request
from cnn_core.train.schedules import lr_curve

settings = get_settings()
state = st.session_state


st.title(t("train.title"))
st.caption(t("train.caption"))
show_slips("train")
opened_with = link_values()
left, right = st.columns([1, 1])
fields = {}  # TrainConfig's fields, as the widgets set them
info, data_error = dataset_fields(left, fields)

sources = ["preset"] + (["builder"] if SPEC_KEY in state else [])
source = choice("train.network", sources, "t_source", right, keep=True)
preset, spec = None, None
if source == "preset":
    titles = {k: PRESETS[k].title for k in PRESETS}
    preset = kept(right.selectbox, "train.preset", list(PRESETS), format_func=titles.get, key="t_preset")
    if preset in VARIANTS:
        help_text = t("train.variant.help")
        variant = choice("train.variant", list(VARIANTS[preset]), "t_variant", right, keep=True, help=help_text)
        preset = VARIANTS[preset][variant]
    right.caption(PRESETS[preset].description)
else:
    spec = state[SPEC_KEY]
    right.caption(t("train.builder_spec", name=spec.get("name") or t("reports.custom_spec")))
weights_error = None
network = spec if spec is not None else PRESETS[preset].spec
if "backbone" in network:  # a transfer-learning network: are its pretrained weights here?
    chosen, weights_error = backbone_choice(network, right)
    spec = chosen if chosen is not network else spec
fields.update(preset=preset, spec=spec)

c = st.columns(4)
max_epochs = min(1000, settings.max_epochs)  # a demo's cap (CNN_LAB_MAX_EPOCHS)
fields["epochs"] = int(kept(c[0].number_input, "train.epochs", 1, max_epochs, min(3, max_epochs), key="t_epochs"))
fields["batch_size"] = int(kept(c[1].number_input, "train.batch", 1, 4096, 32, key="t_batch"))
fields["optimizer"] = kept(c[2].selectbox, "train.optimizer", OPTIMIZERS, key="t_opt")
fields["lr"] = kept(c[3].number_input, "train.lr", 1e-6, 10.0, 1e-3, format="%.5f", key="t_lr")
c = st.columns(5)
fields["schedule"] = kept(
    c[0].selectbox, "train.schedule", SCHEDULES, key="t_schedule", format_func=lambda s: t(f"train.schedule.{s}")
)
fields["weight_decay"] = kept(c[1].number_input, "train.weight_decay", 0.0, 1.0, 0.0, format="%.5f", key="t_wd")
fields["label_smoothing"] = kept(c[2].number_input, "train.smoothing", 0.0, 0.9, 0.0, key="t_ls")
clip = kept(c[3].number_input, "train.clip", 0.0, 1000.0, 0.0, key="t_clip")
fields["clip_grad_norm"] = clip or None  # 0: off
fields["val_split"] = kept(c[4].number_input, "train.val_split", 0.0, 0.9, 0.1, key="t_val")
c = st.columns(5)
fields["augment"] = kept(
    c[0].multiselect, "train.augment", AUGMENTATIONS, key="t_aug", format_func=lambda a: t(f"train.augment.{a}")
)
fields["seed"] = int(kept(c[1].number_input, "train.seed", 0, 2**31 - 1, 0, key="t_seed"))
device_label = lambda d: t("train.device.auto") if d == "auto" else d  # noqa: E731
devices = ["cpu"] if settings.demo else available_devices()  # a demo trains on the CPU only
fields["device"] = kept(c[2].selectbox, "train.device", devices, key="t_device", format_func=device_label)
gpus = 0 if settings.demo else gpu_count()  # more than one: torchrun, a process per GPU
if gpus > 1 and fields["device"] in ("auto", "cuda"):
    fields["nproc_per_node"] = int(kept(c[2].selectbox, "train.gpus", list(range(1, gpus + 1)), key="t_gpus"))
fields["name"] = kept(c[3].text_input, "train.name", key="t_name")
norm_label = lambda n: t(f"train.norm.{n}")  # noqa: E731
fields["normalization"] = kept(c[4].selectbox, "train.norm", NORMALIZATIONS, key="t_norm", format_func=norm_label)
notice_ignored_link_values(opened_with)

try:
    config = TrainConfig(**fields)
    config.validate()
    error = data_error or weights_error
except (ConfigError, SpecError) as exc:
    config, error = None, str(exc)

request = None
if config is not None and info is not None:
    val_size = int(round(info["train_pool"] * config.val_split))
    steps_per_epoch = math.ceil((info["train_pool"] - val_size) / config.batch_size)
    n_classes = len(info["class_names"])
    summary = summarize(config.architecture(info["input_shape"], n_classes))
    m = st.columns(4)
    m[0].metric(t("train.steps_per_epoch"), f"{steps_per_epoch:,}", help=t("train.steps_per_epoch.help"))
    m[1].metric(t("train.total_steps"), f"{steps_per_epoch * config.epochs:,}")
    m[2].metric(t("builder.total_params"), f"{summary.total_params:,}")
    if config.world_size > 1:
        m[0].caption(t("train.gpus.share", n=config.world_size, per=config.per_process_batch, batch=config.batch_size))
    request = estimate_request(config, info["input_shape"], n_classes, info["train_pool"] - val_size, val_size)
    steps, lrs = lr_curve(config.schedule, config.lr, steps_per_epoch, config.epochs, config.step_size, config.gamma)
    st.plotly_chart(lr_figure(steps, lrs, steps_per_epoch), key="t_lr_plot")
    if config.augment and st.toggle(t("train.preview"), key="t_preview"):
        images = augmentation_preview(info["preview"], config, seed=config.seed)
        st.image([as_picture(img) for img in images], width=96, caption=[t("train.preview.caption")] * len(images))

if error:
    st.error(error, icon=":material/error:")
if st.button(t("train.launch"), type="primary", disabled=config is None or error is not None, key="t_launch"):
    try:  # check_launch looks again: files, device or weights may have gone since the page was drawn
        run_dir = launch_run(config, visitor=current_visitor())
    except CnnLabError as exc:  # a demo's limits among them
        st.error(str(exc), icon=":material/error:")
    else:  # straight to its live chart: the rest of this page is not drawn again first
        state[SELECTED] = state[LAUNCHED_KEY] = run_dir.name
        st.switch_page("app_pages/runs.py", query_params={RUN_PARAM: run_dir.name, LANGUAGE_KEY: state[LANGUAGE_KEY]})
share_view()
if request is not None and error is None:  # last: the page is drawn while the steps are timed
    show_epoch_estimate(m[3], request)
