"""Invariance, measured on a trained run: how its answers and its feature maps change when the input
moves. Test images are shifted by whole pixels (zero fill), rotated and scaled (bilinear, zero fill);
a sweep gives the accuracy and the true class's mean probability at every shift, angle and scale.
For one image, the first conv layer's maps of the shifted image are compared with its maps of the
original moved by the same amount, away from the borders (a stride-1 convolution moves with its
input: equivariance), and the same after the first pooling layer.

Nothing here is a fixed figure: every number is computed on the run. The cached model is shared by
every visitor and only read (inference_model, under no_grad; no seeds, no mode switch).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn
from torchvision.transforms.v2 import functional as TF

from cnn_core.arch.formatting import layer_label
from cnn_core.arch.summary import summarize
from cnn_core.i18n import t
from cnn_core.inspection.layers import conv_layers, inference_model, layer_outputs
from cnn_core.inspection.loading import InspectionError, LoadedRun
from cnn_core.train.objective import predict

KINDS = ("shift", "angle", "scale")
AXES = ("horizontal", "vertical")
MAX_SHIFT = 16  # pixels either way
MAX_ANGLE = 180.0  # degrees either way
SCALE_RANGE = (0.25, 4.0)
MAX_IMAGES = 2000
MAX_VALUES = 81  # shifts, angles or scales in one sweep
MAX_SWEEP_MACS = 10**11  # the forward passes of one request: seconds on a two-core CPU for the presets
BATCH = 256
DEFAULT_SHIFTS = tuple(range(-6, 7))
DEFAULT_ANGLES = tuple(range(-60, 61, 15))
DEFAULT_SCALES = (0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2, 1.3, 1.4)
BILINEAR = TF.InterpolationMode.BILINEAR


def shifted(images: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """images (..., H, W) moved down by dy and right by dx whole pixels: what leaves the frame is lost,
    what enters it is 0 (black). A new tensor; images is not changed."""
    h, w = images.shape[-2:]
    out = torch.zeros_like(images)
    if abs(dy) >= h or abs(dx) >= w:
        return out
    rows_to, rows_from = slice(max(dy, 0), h + min(dy, 0)), slice(max(-dy, 0), h + min(-dy, 0))
    cols_to, cols_from = slice(max(dx, 0), w + min(dx, 0)), slice(max(-dx, 0), w + min(-dx, 0))
    out[..., rows_to, cols_to] = images[..., rows_from, cols_from]
    return out


def rotated(images: torch.Tensor, degrees: float) -> torch.Tensor:
    """images (N, C, H, W) turned anticlockwise about their centre, bilinear, corners filled with 0;
    float pixel values (0–255 for uint8 images), never rounded."""
    return TF.rotate(images.float(), float(degrees), interpolation=BILINEAR, fill=0.0)


def scaled(images: torch.Tensor, factor: float) -> torch.Tensor:
    """images (N, C, H, W) zoomed about their centre by factor (above 1 larger, below 1 smaller, the
    rim filled with 0), bilinear; float pixel values."""
    return TF.affine(
        images.float(),
        angle=0.0,
        translate=[0.0, 0.0],
        scale=float(factor),
        shear=[0.0, 0.0],
        interpolation=BILINEAR,
        fill=0.0,
    )


def transformed(images: torch.Tensor, kind: str, value: float, axis: str = "horizontal") -> torch.Tensor:
    """One condition of a sweep: the images shifted along axis, rotated or scaled by value, as floats."""
    if kind == "shift":
        step = int(value)
        return shifted(images.float(), step if axis == "vertical" else 0, step if axis == "horizontal" else 0)
    return rotated(images, value) if kind == "angle" else scaled(images, value)


def sweep_values(max_shift: int, max_angle: float, zoom: float, steps: int = 4) -> tuple[tuple, tuple, tuple]:
    """The page's three sweeps: every whole shift from −max_shift to max_shift, and 2 × steps + 1
    angles from −max_angle to max_angle and scales from 1 − zoom to 1 + zoom, evenly spaced."""
    shifts = tuple(range(-int(max_shift), int(max_shift) + 1))
    angles = tuple(round(max_angle * i / steps, 3) for i in range(-steps, steps + 1))
    scales = tuple(round(1 + zoom * i / steps, 4) for i in range(-steps, steps + 1))
    return shifts, angles, scales


def _checked_values(kind: str, values) -> list[float]:
    """The values of one sweep, or InspectionError naming the first one outside what it allows."""
    if kind not in KINDS:
        raise InspectionError(t("invariance.err.kind", kind=kind, allowed=", ".join(KINDS)))
    values = list(values)
    if not values:
        raise InspectionError(t("invariance.err.no_values", kind=t(f"invariance.kind.{kind}")))
    if len(values) > MAX_VALUES:
        raise InspectionError(t("invariance.err.too_many_values", n=len(values), cap=MAX_VALUES))
    low, high = {"shift": (-MAX_SHIFT, MAX_SHIFT), "angle": (-MAX_ANGLE, MAX_ANGLE), "scale": SCALE_RANGE}[kind]
    for value in values:
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        whole = kind != "shift" or (number and float(value).is_integer())
        if not (number and math.isfinite(value) and low <= value <= high and whole):
            raise InspectionError(
                t("invariance.err.value", kind=t(f"invariance.kind.{kind}"), value=repr(value), low=low, high=high)
            )
    return [int(v) if kind == "shift" else float(v) for v in values]


def sweep_cost(loaded: LoadedRun, images: int, conditions: int) -> int:
    """Multiply-accumulates of the forward passes of a sweep: images × conditions × one image's."""
    return summarize(loaded.spec).total_macs * images * conditions


def check_work(loaded: LoadedRun, images: int, conditions: int) -> None:
    """Refuse, before any work, a request over MAX_IMAGES or MAX_SWEEP_MACS, with its estimate."""
    if images < 1:
        raise InspectionError(t("invariance.err.no_images"))
    macs = sweep_cost(loaded, images, conditions) if images <= MAX_IMAGES else None
    if macs is None or macs > MAX_SWEEP_MACS:
        raise InspectionError(
            t(
                "invariance.err.too_big",
                images=f"{images:,}",
                conditions=conditions,
                macs="—" if macs is None else f"{macs / 1e9:,.1f}",
                cap=f"{MAX_SWEEP_MACS / 1e9:,.0f}",
                max_images=f"{MAX_IMAGES:,}",
            )
        )


@dataclass
class Sweep:
    kind: str  # "shift", "angle" or "scale"
    values: list[float]
    accuracy: list[float]  # share of the images classified right, per value
    true_probability: list[float]  # the mean, over the images, of the probability given to each one's own class
    images: int

    def at(self, value: float) -> tuple[float, float]:
        """(accuracy, true-class probability) at one of the values."""
        i = self.values.index(value)
        return self.accuracy[i], self.true_probability[i]


def _sweep(model: nn.Module, loaded: LoadedRun, images, labels, kind: str, values, axis: str) -> Sweep:
    accuracy, probability = [], []
    rows = torch.arange(len(labels))
    for value in values:
        right, sure = 0, 0.0
        for start in range(0, len(images), BATCH):
            batch, truth = images[start : start + BATCH], labels[start : start + BATCH]
            guesses, probs = predict(model, loaded.spec, loaded.normalise(transformed(batch, kind, value, axis)))
            right += int((guesses == truth).sum())
            sure += float(probs[rows[: len(truth)], truth].sum())
        accuracy.append(right / len(labels))
        probability.append(sure / len(labels))
    return Sweep(kind, list(values), accuracy, probability, len(labels))


def sweeps(
    loaded: LoadedRun,
    images: torch.Tensor,
    labels: torch.Tensor,
    shifts=DEFAULT_SHIFTS,
    angles=DEFAULT_ANGLES,
    scales=DEFAULT_SCALES,
    axis: str = "horizontal",
) -> dict[str, Sweep]:
    """The run's accuracy and true-class probability on images (uint8 N×C×H×W) shifted along axis by
    each of shifts (pixels), rotated by each of angles (degrees) and scaled by each of scales; an
    empty sequence skips that sweep. Checked and estimated whole before the first forward pass."""
    if axis not in AXES:
        raise InspectionError(t("invariance.err.axis", axis=axis, allowed=", ".join(AXES)))
    wanted = {kind: values for kind, values in zip(KINDS, (shifts, angles, scales)) if len(values)}
    checked = {kind: _checked_values(kind, values) for kind, values in wanted.items()}
    check_work(loaded, len(images), sum(map(len, checked.values())))
    if len(labels) != len(images):
        raise InspectionError(t("invariance.err.labels", images=len(images), labels=len(labels)))
    model = inference_model(loaded)
    with torch.no_grad():
        return {kind: _sweep(model, loaded, images, labels, kind, values, axis) for kind, values in checked.items()}


# ---------------------------------------------------------------- equivariance of one image


@dataclass
class LayerShift:
    """One layer's maps of an image and of its shifted copies, and how much they changed."""

    name: str
    kind: str  # "conv2d", "maxpool2d" or "avgpool2d"
    stride: int  # input pixels per map cell along the shift's axis (the product of the strides so far)
    change: list[float]  # per shift: ‖maps(shifted) − maps‖ / ‖maps‖, at the same positions
    shift_error: list[float]  # per shift: the same, against the maps moved by moved_by cells
    moved_by: list[int]  # per shift: the whole map cells that came closest to the input's shift
    maps: torch.Tensor  # (1 + shifts, C, h, w): the original image's maps, then each shifted image's

    @property
    def label(self) -> str:
        return layer_label(self.name, self.kind)

    def moved_original(self, index: int, axis: str) -> torch.Tensor:
        """The original's maps moved by the whole cells compared with shift number index."""
        step = self.moved_by[index]
        return shifted(self.maps[0], step if axis == "vertical" else 0, step if axis == "horizontal" else 0)


@dataclass
class Equivariance:
    shifts: list[int]
    axis: str
    inputs: torch.Tensor  # (1 + shifts, C, H, W) uint8: the image, then each shifted copy
    layers: list[LayerShift]  # the first conv layer, then the first pooling layer when there is one


def _ints(value) -> tuple[int, int]:
    return tuple(value) if isinstance(value, tuple) else (value, value)


def _chain(model: nn.Module, last: nn.Module, axis: int) -> tuple[int, int, int]:
    """(receptive field, jump, padding before) in input pixels, along axis (0 rows, 1 columns), of
    the conv and pooling layers up to last, in the order the model lists them."""
    field, jump, padding = 1, 1, 0
    for module in model.modules():
        if isinstance(module, (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)):
            k, s = _ints(module.kernel_size)[axis], _ints(module.stride)[axis]
            d = _ints(getattr(module, "dilation", 1))[axis]
            p = module.padding
            p = (d * (k - 1) // 2 if p == "same" else 0) if isinstance(p, str) else _ints(p)[axis]
            field, padding, jump = field + (k - 1) * d * jump, padding + p * jump, jump * s
        if module is last:
            break
    return field, jump, padding


def _relative(a: torch.Tensor, b: torch.Tensor, reference: torch.Tensor) -> float:
    norm = float(reference.norm())
    return float((a - b).norm()) / norm if reference.numel() and norm > 0 else float("nan")


def _layer_shift(name, kind, module, model, maps, shifts, axis, side) -> LayerShift:
    dim = 0 if axis == "vertical" else 1
    field, jump, padding = _chain(model, module, dim)
    cells = maps.shape[2 + dim]
    change, error, moved = [], [], []
    for i, d in enumerate(shifts, start=1):
        # map cells whose input window lies at least |d| + jump pixels inside the frame: no border in reach
        low = math.ceil((abs(d) + jump + padding) / jump)
        high = min(cells - 1, math.floor((side - abs(d) - jump + padding - field) / jump))
        keep = torch.arange(max(low, 0), max(high + 1, max(low, 0)))

        def inside(x):
            return x.index_select(1 + dim, keep)

        original, moved_input = maps[0], maps[i]
        change.append(_relative(inside(moved_input), inside(original), inside(original)))
        candidates = []
        for m in sorted({math.floor(d / jump), math.ceil(d / jump)}):
            moved_maps = shifted(original, *((m, 0) if dim == 0 else (0, m)))
            candidates.append((_relative(inside(moved_input), inside(moved_maps), inside(original)), m))
        best = min(candidates, key=lambda pair: (math.isnan(pair[0]), pair[0]))
        error.append(best[0])
        moved.append(best[1])
    return LayerShift(name, kind, jump, change, error, moved, maps)


def _first_layers(model: nn.Module) -> list[tuple[str, nn.Module, str]]:
    """(name, module, kind) of the first conv layer and of the first pooling layer after it."""
    convs = conv_layers(model)
    if not convs:
        raise InspectionError(t("inspect.err.no_conv"))
    found = [(convs[0][0], convs[0][1], "conv2d")]
    after = False
    for name, module in model.named_modules():
        after = after or module is convs[0][1]
        if after and isinstance(module, (nn.MaxPool2d, nn.AvgPool2d)):
            found.append((name, module, "maxpool2d" if isinstance(module, nn.MaxPool2d) else "avgpool2d"))
            break
    return found


def equivariance(loaded: LoadedRun, image_uint8: torch.Tensor, shifts, axis: str = "horizontal") -> Equivariance:
    """One image (1×C×H×W uint8) and its copies shifted along axis by each of shifts (pixels), in one
    batch: the first conv layer's maps and the first pooling layer's, each compared, away from the
    borders, with the original's maps at the same positions (change) and moved by the nearest whole
    map cells (shift_error: about 0 where the layer moves with its input)."""
    if axis not in AXES:
        raise InspectionError(t("invariance.err.axis", axis=axis, allowed=", ".join(AXES)))
    shifts = _checked_values("shift", shifts)
    if image_uint8.dim() != 4 or image_uint8.shape[0] != 1:
        raise InspectionError(t("invariance.err.one_image"))
    check_work(loaded, 1, 1 + len(shifts))
    model = inference_model(loaded)
    layers = _first_layers(model)
    vertical = axis == "vertical"
    moves = [(d, 0) if vertical else (0, d) for d in shifts]
    inputs = torch.cat([image_uint8] + [shifted(image_uint8, dy, dx) for dy, dx in moves])
    with layer_outputs([module for _, module, _ in layers], clone=True) as outputs, torch.no_grad():
        model(loaded.normalise(inputs))
    first = {}
    for module, output in outputs:
        first.setdefault(module, output)  # a module called twice in one pass: its first call
    side = image_uint8.shape[-2 if vertical else -1]
    return Equivariance(
        shifts,
        axis,
        inputs,
        [
            _layer_shift(name, kind, module, model, first[module], shifts, axis, side)
            for name, module, kind in layers
            if module in first and first[module].dim() == 4
        ],
    )


def equivariance_rows(result: Equivariance) -> list[dict]:
    """The table the page shows: per shift, each layer's change and its change once moved."""
    rows = []
    for i, d in enumerate(result.shifts):
        row = {t("invariance.col.shift"): d}
        for layer in result.layers:
            row[t("invariance.col.change", layer=layer.label)] = layer.change[i]
            row[t("invariance.col.moved", layer=layer.label)] = layer.shift_error[i]
        rows.append(row)
    return rows
