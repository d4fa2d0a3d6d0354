"""Looking inside a trained run: its model and test predictions, the prediction gallery,
the user's own images, kernels, feature maps, activation maximisation, Grad-CAM and saliency.

Everything works on a run directory: a completed run's model.safetensors, or a stopped run's
latest checkpoint. Grad-CAM and saliency are written out here in a few lines (autograd
hooks) rather than pulled from a library: the models are small nn.Sequentials, and the
dependencies (OpenCV for `grad-cam`) would outweigh the code.
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from cnn_core.i18n import t
from cnn_core.runs import read_json

MAX_UPLOAD_BYTES = 10 * 1024 * 1024
MAX_UPLOAD_PIXELS = 40_000_000


class InspectionError(RuntimeError):
    """A run, image or request that cannot be inspected, with the reason."""


@dataclass
class LoadedRun:
    model: nn.Module
    spec: dict
    class_names: list[str]
    mean: list[float]
    std: list[float]
    source: str  # "final" weights or "checkpoint"

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return tuple(self.spec["input_shape"])

    def normalise(self, images_uint8: torch.Tensor) -> torch.Tensor:
        mean = torch.tensor(self.mean).view(1, -1, 1, 1)
        std = torch.tensor(self.std).view(1, -1, 1, 1)
        return (images_uint8.float() / 255 - mean) / std

    def denormalise(self, x: torch.Tensor) -> torch.Tensor:
        mean = torch.tensor(self.mean).view(1, -1, 1, 1)
        std = torch.tensor(self.std).view(1, -1, 1, 1)
        return (x * std + mean).clamp(0, 1).mul(255).round().to(torch.uint8)


def load_run(run_dir: Path) -> LoadedRun:
    """The trained model of a run: final weights when completed, else the latest checkpoint."""
    from cnn_core.model import build_model
    spec = read_json(run_dir / "spec.json")
    dataset = read_json(run_dir / "dataset.json")
    if spec is None or dataset is None:
        raise InspectionError(t("inspect.err.not_started", run_id=run_dir.name))
    if isinstance(spec.get("backbone"), dict):
        spec = {**spec, "backbone": {**spec["backbone"], "pretrained": False}}  # weights come from the run
    model = build_model(spec)
    weights = run_dir / "model.safetensors"
    if weights.exists():
        from safetensors.torch import load_file
        model.load_state_dict(load_file(str(weights)))
        source = "final"
    else:
        from cnn_core.checkpoints import load_latest_checkpoint
        state, _ = load_latest_checkpoint(run_dir)
        if state is None:
            raise InspectionError(t("inspect.err.no_weights", run_id=run_dir.name))
        model.load_state_dict(state["model"])
        source = "checkpoint"
    return LoadedRun(model.eval(), spec, list(dataset["class_names"]), dataset["mean"], dataset["std"], source)


def inspectable_runs(root: str | Path | None = None) -> list:
    """Runs with weights to look at: completed ones first (newest first), then checkpointed ones."""
    from cnn_core.runs import list_runs
    runs = [r for r in list_runs(root) if r.status.state not in ("queued",) and (
        (r.path / "model.safetensors").exists() or (r.path / "checkpoints" / "latest.json").exists())]
    return sorted(runs, key=lambda r: (r.status.state != "completed", -r.status.created))


def run_fingerprint(run_dir: Path) -> str:
    """Changes whenever the run's weights do, so cached models refresh."""
    paths = [run_dir / "model.safetensors", run_dir / "checkpoints" / "latest.json"]
    return "|".join(f"{p.stat().st_mtime_ns}" for p in paths if p.exists())


def load_test_images(run_dir: Path) -> tuple[torch.Tensor, torch.Tensor]:
    """The run's test images (uint8) and labels, reloaded from its dataset."""
    from cnn_core.config import TrainConfig
    from cnn_core.datasets import load_splits
    config = TrainConfig.from_dict(read_json(run_dir / "config.json"))
    splits = load_splits(config.dataset, config.val_split, config.seed, config.data_dir, config.folder_path,
                         config.image_size)
    return splits.test_x, splits.test_y


# ---------------------------------------------------------------- predictions

@dataclass
class Predictions:
    class_names: list[str]
    labels: np.ndarray
    predicted: np.ndarray
    probs: np.ndarray

    @property
    def confidence(self) -> np.ndarray:
        return self.probs[np.arange(len(self.predicted)), self.predicted]

    @property
    def correct(self) -> np.ndarray:
        return self.labels == self.predicted


def load_predictions(run_dir: Path) -> Predictions:
    raw = read_json(run_dir / "predictions.json")
    if raw is None:
        raise InspectionError(t("inspect.err.no_predictions", run_id=run_dir.name))
    return Predictions(raw["class_names"], np.asarray(raw["labels"]), np.asarray(raw["predicted"]),
                       np.asarray(raw["probs"], dtype=np.float32))


def predictions_from_model(loaded: LoadedRun, images: torch.Tensor, labels: torch.Tensor,
                           batch_size: int = 512) -> Predictions:
    """Test predictions computed now (for a stopped run, which has no predictions.json)."""
    probs = []
    with torch.no_grad():
        for start in range(0, len(images), batch_size):
            probs.append(loaded.model(loaded.normalise(images[start:start + batch_size])).softmax(1))
    p = torch.cat(probs).numpy()
    return Predictions(loaded.class_names, labels.numpy(), p.argmax(1), p)


SORTS = ("confidence_desc", "confidence_asc", "index")


def gallery(preds: Predictions, only_mistakes: bool = False, true_class: int | None = None,
            predicted_class: int | None = None, sort: str = "confidence_desc", page: int = 0,
            page_size: int = 24) -> tuple[np.ndarray, int]:
    """Indices of test images for one page of the gallery, and how many match the filters."""
    keep = np.ones(len(preds.labels), dtype=bool)
    if only_mistakes:
        keep &= ~preds.correct
    if true_class is not None:
        keep &= preds.labels == true_class
    if predicted_class is not None:
        keep &= preds.predicted == predicted_class
    indices = np.flatnonzero(keep)
    if sort == "confidence_desc":
        indices = indices[np.argsort(-preds.confidence[indices], kind="stable")]
    elif sort == "confidence_asc":
        indices = indices[np.argsort(preds.confidence[indices], kind="stable")]
    start = max(0, page) * page_size
    return indices[start:start + page_size], len(indices)


def confusion(preds: Predictions) -> np.ndarray:
    from sklearn.metrics import confusion_matrix
    return confusion_matrix(preds.labels, preds.predicted, labels=list(range(len(preds.class_names))))


def per_class_report(preds: Predictions) -> list[dict]:
    """Precision, recall (= per-class accuracy) and support for every class."""
    from sklearn.metrics import precision_recall_fscore_support
    labels = list(range(len(preds.class_names)))
    precision, recall, _, support = precision_recall_fscore_support(
        preds.labels, preds.predicted, labels=labels, zero_division=0)
    return [{t("inspect.col.class"): name, t("inspect.col.precision"): float(p), t("inspect.col.recall"): float(r),
             t("inspect.col.support"): int(s)}
            for name, p, r, s in zip(preds.class_names, precision, recall, support)]


# ---------------------------------------------------------------- the user's own image

def decode_upload(data: bytes, max_bytes: int = MAX_UPLOAD_BYTES) -> np.ndarray:
    """Any uploaded picture as an H×W×3 uint8 array, transparency flattened onto white.

    Corrupt files, non-images, decompression bombs and oversized files raise InspectionError.
    """
    from PIL import Image, UnidentifiedImageError
    if len(data) > max_bytes:
        raise InspectionError(t("inspect.err.too_big", size=len(data) // 1024, cap=max_bytes // 1024))
    if not data:
        raise InspectionError(t("inspect.err.empty"))
    previous = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = MAX_UPLOAD_PIXELS
    try:
        with Image.open(io.BytesIO(data)) as img:
            if img.width * img.height > MAX_UPLOAD_PIXELS:
                raise InspectionError(t("inspect.err.bomb", w=img.width, h=img.height))
            img.load()
            if img.mode in ("RGBA", "LA", "P", "PA") or "transparency" in img.info:
                rgba = img.convert("RGBA")
                background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
                img = Image.alpha_composite(background, rgba)
            rgb = img.convert("RGB")
    except Image.DecompressionBombError as exc:
        raise InspectionError(t("inspect.err.bomb", w="?", h="?")) from exc
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise InspectionError(t("inspect.err.not_image", reason=type(exc).__name__)) from exc
    finally:
        Image.MAX_IMAGE_PIXELS = previous
    return np.asarray(rgb)


def image_from_upload(data: bytes, input_shape: tuple[int, int, int], invert: bool | None = None,
                      max_bytes: int = MAX_UPLOAD_BYTES) -> tuple[torch.Tensor, bool]:
    """An upload as the network receives it: uint8 (1, C, H, W), and whether it was inverted.

    Any size, mode or alpha is accepted; for one-channel inputs a dark-on-light picture is
    inverted to the white-on-black of MNIST unless invert says otherwise.
    """
    return image_from_array(decode_upload(data, max_bytes), input_shape, invert)


def image_from_array(array: np.ndarray, input_shape: tuple[int, int, int], invert: bool | None = None
                     ) -> tuple[torch.Tensor, bool]:
    """An H×W, H×W×3 or H×W×4 uint8 array (an upload or a canvas) resized to the input shape."""
    from PIL import Image
    c, h, w = input_shape
    if array.ndim == 3 and array.shape[2] == 4:  # canvas RGBA: alpha marks the strokes
        alpha = array[..., 3:4].astype(np.float32) / 255
        array = (array[..., :3] * alpha).astype(np.uint8)
    img = Image.fromarray(array.astype(np.uint8))
    img = img.convert("L" if c == 1 else "RGB").resize((w, h), Image.Resampling.LANCZOS)
    x = torch.from_numpy(np.array(img, dtype=np.uint8))
    x = x[None] if c == 1 else x.permute(2, 0, 1)
    inverted = False
    if c == 1:
        inverted = bool(x.float().mean() > 127) if invert is None else invert
        if inverted:
            x = 255 - x
    return x.unsqueeze(0).contiguous(), inverted


def top_k(loaded: LoadedRun, image_uint8: torch.Tensor, k: int = 5) -> list[tuple[str, float]]:
    with torch.no_grad():
        probs = loaded.model(loaded.normalise(image_uint8)).softmax(1)[0]
    values, indices = probs.topk(min(k, len(probs)))
    return [(loaded.class_names[i], float(v)) for v, i in zip(values, indices)]


# ---------------------------------------------------------------- kernels and feature maps

INSPECTABLE = (nn.Conv2d, nn.ReLU, nn.LeakyReLU, nn.ELU, nn.GELU, nn.Sigmoid, nn.Tanh, nn.MaxPool2d,
               nn.AvgPool2d, nn.AdaptiveAvgPool2d, nn.BatchNorm2d)


def conv_layers(model: nn.Module) -> list[tuple[str, nn.Conv2d]]:
    return [(name, m) for name, m in model.named_modules() if isinstance(m, nn.Conv2d)]


def kernels(model: nn.Module, layer_name: str | None = None, out_channel: int = 0) -> torch.Tensor:
    """First conv layer: all kernels (out, in, kh, kw). A deeper one: one output channel's
    kernels across its input channels, as (in, 1, kh, kw)."""
    layers = conv_layers(model)
    if not layers:
        raise InspectionError(t("inspect.err.no_conv"))
    names = [n for n, _ in layers]
    name = layer_name or names[0]
    if name not in names:
        raise InspectionError(t("inspect.err.no_layer", name=name))
    weight = dict(layers)[name].weight.detach().cpu()
    if name == names[0]:
        return weight
    if not 0 <= out_channel < weight.shape[0]:
        raise InspectionError(t("inspect.err.channel", c=out_channel, n=weight.shape[0]))
    return weight[out_channel].unsqueeze(1)


@dataclass
class FeatureMap:
    name: str
    kind: str
    maps: torch.Tensor  # (C, H, W) for one image

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.maps.shape)


def feature_maps(loaded: LoadedRun, image_uint8: torch.Tensor) -> list[FeatureMap]:
    """Outputs of every conv / activation / pooling / norm layer with a spatial output."""
    captured: list[FeatureMap] = []
    kinds = {}
    layers = loaded.spec.get("layers") or []
    for name, module in loaded.model.named_modules():
        if isinstance(module, INSPECTABLE):
            index = int(name) if name.isdigit() else None
            kinds[module] = (name, layers[index]["type"] if index is not None and index < len(layers)
                             else type(module).__name__.lower())

    def hook(module, _inputs, output):
        if output.dim() == 4:
            name, kind = kinds[module]
            captured.append(FeatureMap(name, kind, output[0].detach()))

    handles = [m.register_forward_hook(hook) for m in kinds]
    try:
        with torch.no_grad():
            loaded.model(loaded.normalise(image_uint8))
    finally:
        for h in handles:
            h.remove()
    return captured


def activation_stats(maps: list[FeatureMap]) -> list[dict]:
    return [{t("inspect.col.layer"): f"{m.name} {m.kind}", t("inspect.col.shape"): "×".join(map(str, m.shape)),
             t("inspect.col.mean"): float(m.maps.mean()), t("inspect.col.zeros"): float((m.maps == 0).float().mean()),
             t("inspect.col.dead"): float((m.maps.flatten(1).amax(1) <= 0).float().mean())}
            for m in maps]


# ---------------------------------------------------------------- what the network sees

@dataclass
class Visualisation:
    image: torch.Tensor  # uint8 (C, H, W)
    curve: list[dict]  # step, objective, probability
    start_probability: float
    final_probability: float


def _blur(x: torch.Tensor) -> torch.Tensor:
    kernel = torch.tensor([1.0, 2.0, 1.0])
    kernel = (kernel[:, None] * kernel[None, :]) / 16
    c = x.shape[1]
    return F.conv2d(F.pad(x, (1, 1, 1, 1), mode="replicate"), kernel.expand(c, 1, 3, 3), groups=c)


def _total_variation(x: torch.Tensor) -> torch.Tensor:
    return (x[..., 1:, :] - x[..., :-1, :]).abs().mean() + (x[..., :, 1:] - x[..., :, :-1]).abs().mean()


def maximise_activation(loaded: LoadedRun, target_class: int | None = None, layer_name: str | None = None,
                        channel: int = 0, start: torch.Tensor | None = None, steps: int = 200, lr: float = 0.05,
                        jitter: int = 2, blur_every: int = 4, tv_weight: float = 0.05, seed: int = 0) -> Visualisation:
    """Gradient ascent in input space on a class logit (or one conv channel's mean activation).

    Small inputs need regularisers to stay image-like: random jitter (shifts), a periodic
    3×3 blur, a total-variation penalty, and pixel values kept inside the data's range.
    """
    model = loaded.model.eval()
    c, h, w = loaded.input_shape
    generator = torch.Generator().manual_seed(seed)
    if start is None:
        base = torch.rand(1, c, h, w, generator=generator) * 0.2 + 0.4
        x = loaded.normalise((base * 255).to(torch.uint8))
    else:
        x = loaded.normalise(start)
    low = loaded.normalise(torch.zeros(1, c, 1, 1, dtype=torch.uint8))
    high = loaded.normalise(torch.full((1, c, 1, 1), 255, dtype=torch.uint8))
    x = x.clone().requires_grad_(True)
    optimizer = torch.optim.Adam([x], lr=lr)
    activation = {}
    handle = None
    if layer_name is not None:
        module = dict(model.named_modules()).get(layer_name)
        if module is None:
            raise InspectionError(t("inspect.err.no_layer", name=layer_name))
        handle = module.register_forward_hook(lambda m, i, o: activation.__setitem__("out", o))
    for p in model.parameters():
        p.requires_grad_(False)

    def probability(image: torch.Tensor) -> float:
        if target_class is None:
            return float("nan")
        with torch.no_grad():
            return float(model(image).softmax(1)[0, target_class])

    start_probability = probability(x.detach())
    curve = []
    try:
        for step in range(steps):
            dy, dx = (torch.randint(-jitter, jitter + 1, (2,), generator=generator).tolist() if jitter else (0, 0))
            shifted = torch.roll(x, shifts=(dy, dx), dims=(2, 3))
            logits = model(shifted)
            if layer_name is not None:
                out = activation["out"]
                if not 0 <= channel < out.shape[1]:
                    raise InspectionError(t("inspect.err.channel", c=channel, n=out.shape[1]))
                objective = out[0, channel].mean()
            else:
                objective = logits[0, target_class]
            loss = -objective + tv_weight * _total_variation(x)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            with torch.no_grad():
                if blur_every and step % blur_every == 0:
                    x.copy_(_blur(x))
                x.copy_(torch.maximum(torch.minimum(x, high), low))
            if step % max(1, steps // 50) == 0 or step == steps - 1:
                curve.append({"step": step, "objective": float(objective.detach()), "probability": probability(x.detach())})
    finally:
        if handle is not None:
            handle.remove()
        for p in model.parameters():
            p.requires_grad_(True)
    final = x.detach()
    return Visualisation(loaded.denormalise(final)[0], curve, start_probability, probability(final))


# ---------------------------------------------------------------- Grad-CAM and saliency

def grad_cam(loaded: LoadedRun, image_uint8: torch.Tensor, target_class: int, layer_name: str | None = None
             ) -> torch.Tensor:
    """Grad-CAM: ReLU of the gradient-weighted sum of a conv layer's maps, resized to the input,
    scaled to [0, 1]. The default layer is the last conv layer."""
    model = loaded.model.eval()
    layers = conv_layers(model)
    if not layers:
        raise InspectionError(t("inspect.err.no_conv"))
    name = layer_name or layers[-1][0]
    module = dict(model.named_modules()).get(name)
    if module is None:
        raise InspectionError(t("inspect.err.no_layer", name=name))
    store = {}

    def keep(_m, _i, output):
        output.retain_grad()
        store["maps"] = output

    handle = module.register_forward_hook(keep)
    try:
        x = loaded.normalise(image_uint8)
        logits = model(x)
        model.zero_grad()
        logits[0, target_class].backward()
    finally:
        handle.remove()
    maps, grads = store["maps"][0], store["maps"].grad[0]
    weights = grads.mean(dim=(1, 2))
    cam = F.relu((weights[:, None, None] * maps).sum(0)).detach()
    cam = F.interpolate(cam[None, None], size=x.shape[2:], mode="bilinear", align_corners=False)[0, 0]
    return cam / cam.max() if cam.max() > 0 else cam


def saliency(loaded: LoadedRun, image_uint8: torch.Tensor, target_class: int) -> torch.Tensor:
    """|∂ class score / ∂ input pixel|, the largest over channels, scaled to [0, 1]."""
    model = loaded.model.eval()
    x = loaded.normalise(image_uint8).requires_grad_(True)
    model(x)[0, target_class].backward()
    grad = x.grad[0].abs().amax(0)
    return grad / grad.max() if grad.max() > 0 else grad


