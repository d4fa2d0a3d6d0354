"""Looking inside a tiny model trained on digits in the test set-up (a few seconds)."""

import io
import shutil
import struct
import threading
import zlib

import numpy as np
import pytest
import torch
from PIL import Image

from cnn_core.arch.summary import summarize
from cnn_core.data.uploads import UploadError, image_from_array, image_from_upload
from cnn_core.figures.images import as_picture, kernel_figure, tile
from cnn_core.i18n import t
from cnn_core.inspection.attribution import grad_cam, saliency
from cnn_core.inspection.layers import activation_stats, feature_maps, kernels, layer_outputs
from cnn_core.inspection.loading import InspectionError, load_run, load_test_images
from cnn_core.inspection.maximise import maximise_activation
from cnn_core.inspection.predictions import (
    confusion,
    gallery,
    load_predictions,
    per_class_report,
    predictions_from_model,
    top_k,
)
from cnn_core.train.config import TrainConfig
from tests.conftest import train_completed_run

SPEC = {
    "name": "small",
    "input_shape": [1, 28, 28],
    "num_classes": 10,
    "layers": [
        {"type": "conv2d", "out_channels": 8, "kernel_size": 3},
        {"type": "relu"},
        {"type": "maxpool2d", "kernel_size": 2},
        {"type": "conv2d", "out_channels": 16, "kernel_size": 3},
        {"type": "relu"},
        {"type": "maxpool2d", "kernel_size": 2},
        {"type": "flatten"},
        {"type": "linear", "out_features": 10},
    ],
}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    run_dir = train_completed_run(
        tmp_path_factory.mktemp("runs") / "20260101-000000-digits-insp",
        TrainConfig(spec=SPEC, preset=None, epochs=2, batch_size=32),
    )
    return run_dir, load_run(run_dir), load_predictions(run_dir)


def test_gallery_filters_and_sorting(trained):
    _, _, preds = trained
    n = len(preds.labels)
    everything, total = gallery(preds, sort="index", page_size=10**6)
    assert total == n and list(everything) == list(range(n))
    mistakes, total_mistakes = gallery(preds, only_mistakes=True, page_size=10**6)
    assert total_mistakes == int((~preds.correct).sum())
    assert all(preds.labels[i] != preds.predicted[i] for i in mistakes)
    confidences = preds.confidence[mistakes]
    assert list(confidences) == sorted(confidences, reverse=True)  # most confident mistakes first
    threes, _ = gallery(preds, true_class=3, predicted_class=3, sort="confidence_asc", page_size=10**6)
    assert all(preds.labels[i] == 3 and preds.predicted[i] == 3 for i in threes)
    assert list(preds.confidence[threes]) == sorted(preds.confidence[threes])
    page_two, _ = gallery(preds, sort="index", page=1, page_size=7)
    assert list(page_two) == list(range(7, 14))


def test_confusion_matrix_matches_saved_predictions(trained):
    run_dir, loaded, preds = trained
    matrix = confusion(preds)
    assert matrix.sum() == len(preds.labels)
    images, labels = load_test_images(run_dir)
    assert matrix.sum() == len(labels)
    recomputed = predictions_from_model(loaded, images, labels)
    assert (recomputed.predicted == preds.predicted).all()
    for true, pred in [(0, 0), (3, 5), (9, 4)]:
        assert matrix[true, pred] == int(((preds.labels == true) & (preds.predicted == pred)).sum())
    report = per_class_report(preds)
    assert len(report) == 10
    recall = [row["recall (accuracy of the class)"] for row in report]
    assert np.allclose(recall, np.diag(matrix) / matrix.sum(1))


def test_feature_map_shapes_equal_the_summary(trained):
    run_dir, loaded, _ = trained
    images, _ = load_test_images(run_dir)
    maps = feature_maps(loaded, images[:1])
    summary = summarize(loaded.spec)
    expected = {str(r.index): r.output_shape for r in summary.rows if len(r.output_shape) == 3}
    assert {m.name: m.shape for m in maps} == expected
    labels = [row[t("inspect.col.layer")] for row in activation_stats(maps)]
    assert labels == [f"#{r.index + 1} {r.type}" for r in summary.rows if len(r.output_shape) == 3]


def test_kernel_grid_has_one_tile_per_kernel(trained):
    _, loaded, _ = trained
    first = kernels(loaded.model)
    assert first.shape == (8, 1, 3, 3)
    grid, columns = tile(first[:, 0].numpy())
    tiles = sum(1 for r in range(0, grid.shape[0], 4) for c in range(0, grid.shape[1], 4) if not np.isnan(grid[r, c]))
    assert tiles == 8 and columns == 3
    deeper = kernels(loaded.model, "3", out_channel=5)
    assert deeper.shape == (8, 1, 3, 3)  # one output channel across its 8 input channels
    assert torch.equal(deeper[:, 0], loaded.model[3].weight[5].detach())
    assert kernel_figure(first).data
    with pytest.raises(InspectionError):
        kernels(loaded.model, "3", out_channel=16)


def test_activation_maximisation_raises_the_target(trained):
    _, loaded, _ = trained
    for target in (2, 7):
        result = maximise_activation(loaded, target_class=target, steps=120, seed=target)
        assert result.final_probability > 0.9
        assert result.final_probability > result.start_probability + 0.5
        assert result.image.shape == (1, 28, 28) and result.image.dtype == torch.uint8
        assert result.curve[-1]["probability"] >= result.curve[0]["probability"]


def test_channel_maximisation_raises_the_channel(trained):
    _, loaded, _ = trained
    result = maximise_activation(loaded, layer_name="3", channel=4, steps=60)
    assert result.curve[-1]["objective"] > result.curve[0]["objective"]


def test_grad_cam_and_saliency_are_input_sized_in_unit_range(trained):
    run_dir, loaded, preds = trained
    images, _ = load_test_images(run_dir)
    for layer in (None, "0"):
        cam = grad_cam(loaded, images[:1], int(preds.predicted[0]), layer)
        assert cam.shape == (28, 28)
        assert float(cam.min()) >= 0 and float(cam.max()) <= 1
        assert float(cam.max()) == pytest.approx(1.0)
    sal = saliency(loaded, images[:1], int(preds.predicted[0]))
    assert sal.shape == (28, 28) and float(sal.min()) >= 0 and float(sal.max()) == pytest.approx(1.0)


def unit_scaled(x: torch.Tensor) -> torch.Tensor:
    return x / x.max() if x.max() > 0 else x


def captum_grad_cam(model, module, x: torch.Tensor, target: int) -> torch.Tensor:
    """Grad-CAM by captum (a test-only dependency): LayerGradCam with its ReLU, upsampled bilinearly
    to the input by LayerAttribution.interpolate, scaled to [0, 1] as grad_cam scales it."""
    from captum.attr import LayerAttribution, LayerGradCam

    cam = LayerGradCam(model, module).attribute(x, target=target, relu_attributions=True)
    return unit_scaled(LayerAttribution.interpolate(cam, tuple(x.shape[2:]), "bilinear")[0, 0].detach())


def test_grad_cam_equals_captums_layer_grad_cam(trained):
    run_dir, loaded, _ = trained
    images, _ = load_test_images(run_dir)
    checked = 0
    for index in (0, 7):
        x = loaded.normalise(images[index : index + 1])
        for layer in ("0", "3", "4"):  # first conv, last conv, and the ReLU after it
            for target in (0, 3, 8):
                want = captum_grad_cam(loaded.model, loaded.model[int(layer)], x.clone(), target)
                got = grad_cam(loaded, images[index : index + 1], target, layer)
                torch.testing.assert_close(got, want, rtol=0, atol=1e-5)
                checked += float(want.max()) == 1.0
    assert checked >= 12  # most maps are not all zero: the comparison is not vacuous


def test_saliency_equals_captums_saliency(trained):
    from captum.attr import Saliency

    run_dir, loaded, _ = trained
    images, _ = load_test_images(run_dir)
    for index, target in ((1, 2), (4, 5), (9, 9)):
        x = loaded.normalise(images[index : index + 1]).requires_grad_(True)
        gradient = Saliency(loaded.model).attribute(x, target=target, abs=True)
        want = unit_scaled(gradient[0].amax(0).detach())
        torch.testing.assert_close(saliency(loaded, images[index : index + 1], target), want, rtol=0, atol=1e-6)
    # colour: the largest of the three channels' gradients
    from cnn_core.arch.model import build_model
    from cnn_core.inspection.loading import LoadedRun

    spec = {**SPEC, "input_shape": [3, 16, 16], "layers": SPEC["layers"][:4] + SPEC["layers"][-2:]}
    with torch.random.fork_rng():
        torch.manual_seed(0)
        colour = LoadedRun(build_model(spec).eval(), spec, loaded.class_names, [0.5] * 3, [0.2] * 3, "final")
    image = torch.randint(0, 256, (1, 3, 16, 16), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))
    for target in (0, 4):
        gradient = Saliency(colour.model).attribute(colour.normalise(image).requires_grad_(True), target=target)
        want = unit_scaled(gradient[0].amax(0).detach())
        torch.testing.assert_close(saliency(colour, image, target), want, rtol=0, atol=1e-6)


SIGMOID_SPEC = {  # ends in a Sigmoid, as seed 004's network does
    **SPEC,
    "layers": SPEC["layers"] + [{"type": "sigmoid"}],
}


def test_a_network_ending_in_sigmoid_is_explained_by_its_scores_and_shown_its_own_probabilities(trained):
    """The class score is the value entering the final Sigmoid (its output saturates), and the
    probability shown is the Sigmoid's own output, not a softmax over it (capped at e/(e+9))."""
    from cnn_core.inspection.loading import LoadedRun

    run_dir, loaded, _ = trained
    model = torch.nn.Sequential(*loaded.model, torch.nn.Sigmoid()).eval()
    sigmoid_run = LoadedRun(model, SIGMOID_SPEC, loaded.class_names, loaded.mean, loaded.std, "final")
    images, _ = load_test_images(run_dir)
    image = images[2:3]
    for target in (1, 6):
        want = captum_grad_cam(model[:-1], model[3], sigmoid_run.normalise(image), target)
        torch.testing.assert_close(grad_cam(sigmoid_run, image, target, "3"), want, rtol=0, atol=1e-5)
        torch.testing.assert_close(saliency(sigmoid_run, image, target), saliency(loaded, image, target))
    result = maximise_activation(sigmoid_run, target_class=7, steps=60, seed=7)
    with torch.no_grad():
        shown = float(model(sigmoid_run.normalise(result.image[None]))[0, 7])
    assert result.final_probability == pytest.approx(shown, abs=0.02)  # the picture is rounded to uint8
    assert result.final_probability > 0.9 > 2.72 / (2.72 + 9)


def test_looking_inside_leaves_the_shared_model_as_it_was(trained):
    """The model is cached and shared by every visitor: no gradient, flag, hook or weight changes."""
    run_dir, loaded, preds = trained
    images, _ = load_test_images(run_dir)
    before = {name: p.detach().clone() for name, p in loaded.model.named_parameters()}
    grad_cam(loaded, images[:1], int(preds.predicted[0]))
    saliency(loaded, images[:1], int(preds.predicted[0]))
    maximise_activation(loaded, target_class=1, steps=3)
    maximise_activation(loaded, layer_name="3", channel=1, steps=3)
    feature_maps(loaded, images[:1])
    for name, p in loaded.model.named_parameters():
        assert p.grad is None and p.requires_grad and torch.equal(p, before[name]), name
    assert not any(m._forward_hooks for m in loaded.model.modules())
    assert not loaded.model.training


def test_layer_outputs_see_only_their_own_thread(trained):
    run_dir, loaded, _ = trained
    x = loaded.normalise(load_test_images(run_dir)[0][:1])
    first = loaded.model[0]
    with layer_outputs([first]) as outputs:
        other_visitor = threading.Thread(target=loaded.model, args=(x,))
        other_visitor.start()
        other_visitor.join()
        assert outputs == []
        with torch.no_grad():
            loaded.model(x)
        assert len(outputs) == 1 and outputs[0][0] is first and outputs[0][1].shape == (1, 8, 26, 26)
    assert not first._forward_hooks


def test_damaged_weights_are_an_inspection_error(trained, tmp_path):
    run_dir, _, _ = trained
    damaged = shutil.copytree(run_dir, tmp_path / run_dir.name)
    (damaged / "model.safetensors").write_bytes(b"these are not weights")
    with pytest.raises(InspectionError, match="cannot be loaded"):
        load_run(damaged)


def test_images_are_laid_out_for_st_image():
    assert as_picture(torch.zeros(1, 5, 7, dtype=torch.uint8)).shape == (5, 7)
    assert as_picture(np.zeros((3, 5, 7), dtype=np.uint8)).shape == (5, 7, 3)


# ---------------------------------------------------------------- uploads


def encode(image: Image.Image, fmt: str) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


def test_uploads_of_any_mode_become_the_input_shape(trained):
    _, loaded, _ = trained
    dark_on_light = Image.new("L", (300, 200), 255)
    dark_on_light.paste(0, (100, 50, 200, 150))
    x, inverted = image_from_upload(encode(dark_on_light, "PNG"), (1, 28, 28))
    assert x.shape == (1, 1, 28, 28) and x.dtype == torch.uint8 and inverted
    assert x[0, 0, 14, 14] > 200 and x[0, 0, 0, 0] < 50  # white digit on black, like MNIST
    rgba = Image.new("RGBA", (40, 40), (255, 0, 0, 0))
    for data in (
        encode(rgba, "PNG"),
        encode(Image.new("RGB", (64, 48), "blue"), "JPEG"),
        encode(Image.new("P", (30, 30)), "GIF"),
    ):
        assert image_from_upload(data, (1, 28, 28))[0].shape == (1, 1, 28, 28)
        assert image_from_upload(data, (3, 32, 32))[0].shape == (1, 3, 32, 32)
    assert len(top_k(loaded, x, k=3)) == 3


def _png_header_only(width: int, height: int) -> bytes:
    """A tiny PNG that claims an enormous size: a decompression bomb's header."""

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0")) + chunk(b"IEND", b"")


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", "empty"),
        (b"this is a text file, not an image", "not an image"),
        (encode(Image.new("L", (20, 20)), "PNG")[:40], "not an image"),
        (_png_header_only(30000, 30000), "too large"),
        (b"\0" * (11 * 1024 * 1024), "limit"),
    ],
)
def test_bad_uploads_give_their_message(data, message):
    with pytest.raises(UploadError, match=message):
        image_from_upload(data, (1, 28, 28))


def test_canvas_drawing_is_not_inverted():
    canvas = np.zeros((224, 224, 4), dtype=np.uint8)
    canvas[60:160, 100:120] = (255, 255, 255, 255)  # a white stroke, opaque
    x, inverted = image_from_array(canvas, (1, 28, 28), invert=False)
    assert not inverted and x[0, 0, 13, 13] > 100 and x[0, 0, 2, 2] == 0


def _weights_case(run_dir, kind):
    """model.safetensors of run_dir damaged in one way (issue 12, item 4)."""
    import json
    import os

    from safetensors.torch import save_file

    from cnn_core.arch.model import build_model

    (run_dir / "spec.json").write_text(json.dumps(SPEC))
    classes = [str(i) for i in range(10)]
    (run_dir / "dataset.json").write_text(json.dumps({"class_names": classes, "mean": [0.1], "std": [0.3]}))
    good = {k: v.contiguous() for k, v in build_model(SPEC).state_dict().items()}
    path = run_dir / "model.safetensors"
    save_file(good, str(path))
    valid = path.read_bytes()
    if kind == "truncated":
        path.write_bytes(valid[: len(valid) // 2])
    elif kind == "random bytes":
        path.write_bytes(os.urandom(500))
    elif kind == "huge header":
        path.write_bytes(struct.pack("<Q", 2**62) + b"{}")
    elif kind == "wrong names":
        save_file({"other." + k: v for k, v in good.items()}, str(path))
    elif kind == "wrong shapes":
        save_file({k: torch.zeros(2, 2) for k in good}, str(path))
    elif kind == "a folder":
        path.unlink()
        path.mkdir()


@pytest.mark.parametrize(
    "kind", ["truncated", "random bytes", "huge header", "wrong names", "wrong shapes", "a folder"]
)
def test_any_damaged_weights_file_is_an_inspection_error(tmp_path, kind):
    run_dir = tmp_path / "20260101-000000-digits-damaged"
    run_dir.mkdir()
    _weights_case(run_dir, kind)
    with pytest.raises(InspectionError, match="cannot be loaded"):
        load_run(run_dir)


def test_maximising_a_batch_of_targets_treats_each_as_if_alone(trained):
    """All targets optimised as one batch: from the same start, each picture is the one a
    single-target run gives (eval mode: no picture of a batch affects another), and the default
    steps lift every class to a high probability."""
    from cnn_core.inspection.maximise import maximise_activations

    run_dir, loaded, _ = trained
    images, _ = load_test_images(run_dir)
    batch = maximise_activations(loaded, target_classes=[3, 5, 3], start=images[:1], steps=12, seed=4)
    alone = maximise_activation(loaded, target_class=5, start=images[:1], steps=12, seed=4)
    assert (batch[0].image.int() - batch[2].image.int()).abs().max() <= 1
    assert (batch[1].image.int() - alone.image.int()).abs().max() <= 1
    assert batch[1].final_probability == pytest.approx(alone.final_probability, abs=0.01)
    found = maximise_activations(loaded, target_classes=range(10))
    assert [v.image.shape for v in found] == [(1, 28, 28)] * 10
    assert min(v.final_probability for v in found) > 0.9
    channels = maximise_activations(loaded, layer_name="3", channels=[1, 4])
    assert all(v.curve[-1]["objective"] > v.curve[0]["objective"] for v in channels)


def test_grad_cam_and_saliency_together_equal_each_alone(trained):
    from cnn_core.inspection.attribution import grad_cam_and_saliency

    run_dir, loaded, _ = trained
    images, _ = load_test_images(run_dir)
    for index, target, layer in [(0, 3, "3"), (5, 7, "0"), (9, 1, None)]:
        cam, sal = grad_cam_and_saliency(loaded, images[index : index + 1], target, layer)
        torch.testing.assert_close(cam, grad_cam(loaded, images[index : index + 1], target, layer), rtol=0, atol=1e-6)
        torch.testing.assert_close(sal, saliency(loaded, images[index : index + 1], target), rtol=0, atol=1e-6)


def test_image_figure_sends_the_picture_as_a_png_with_the_same_pixels():
    import base64

    from cnn_core.figures.images import image_figure, maps_picture

    rng = np.random.default_rng(0)
    for shape in [(1, 28, 28), (3, 32, 40)]:
        image = rng.integers(0, 256, shape, dtype=np.uint8)
        fig = image_figure(image, "t", overlay=rng.random(shape[1:]))
        source = fig.data[0].source
        assert source.startswith("data:image/png;base64,") and fig.data[0].z is None
        decoded = np.asarray(Image.open(io.BytesIO(base64.b64decode(source.split(",", 1)[1]))))
        assert np.array_equal(decoded, as_picture(image))
        assert np.asarray(fig.data[1].z).shape == shape[1:]  # the heat map keeps its values for the hover
    big = image_figure(rng.integers(0, 256, (3, 300, 260), dtype=np.uint8), overlay=np.ones((300, 260)))
    heat = big.data[1]
    assert max(np.asarray(heat.z).shape) <= 128 and heat.dx * np.asarray(heat.z).shape[1] >= 260  # covers the picture
    picture, low, high = maps_picture(rng.random((5, 6, 6)) * 4 - 1)
    assert picture.dtype == np.uint8 and picture.shape[2] == 3 and -1 <= low < high <= 3
