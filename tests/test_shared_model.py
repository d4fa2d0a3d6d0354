"""Many visitors share one server: an inspection never changes the cached model it is handed
(parameters' requires_grad and .grad, train/eval mode, buffers, hooks), works on a frozen transfer
backbone, gives every visitor the answer they would get alone, and an upload never changes PIL's
process-wide limit (issue #11, items 15 and 17)."""

from __future__ import annotations

import copy
import io
import struct
import threading
import warnings
import zlib

import pytest
import torch
from PIL import Image

from cnn_core.arch.model import build_model
from cnn_core.arch.presets import preset_spec
from cnn_core.data.loaders import load_folder
from cnn_core.data.uploads import MAX_UPLOAD_PIXELS, UploadError, decode_upload
from cnn_core.inspection.attribution import grad_cam, saliency
from cnn_core.inspection.layers import conv_layers, feature_maps, kernels
from cnn_core.inspection.loading import LoadedRun
from cnn_core.inspection.maximise import maximise_activation
from cnn_core.inspection.predictions import predictions_from_model, top_k
from tests.conftest import png_bytes

CLASSES = [str(i) for i in range(10)]
TRANSFER_PRESETS = ("resnet18_transfer", "mobilenet_v2_transfer")


def transfer_run(key: str) -> LoadedRun:
    """A transfer-learning run as load_run gives it: frozen backbone (weights cannot be downloaded
    here, so random), a trainable new head, eval mode."""
    spec = preset_spec(key)
    spec = {**spec, "backbone": {**spec["backbone"], "pretrained": False}}
    torch.manual_seed(0)
    return LoadedRun(build_model(spec).eval(), spec, CLASSES, [0.5] * 3, [0.25] * 3, "final")


@pytest.fixture(scope="module", params=TRANSFER_PRESETS)
def frozen(request) -> LoadedRun:
    return transfer_run(request.param)


def images(n: int, shape=(3, 32, 32), seed: int = 0) -> torch.Tensor:
    return torch.randint(0, 256, (n, *shape), dtype=torch.uint8, generator=torch.Generator().manual_seed(seed))


def model_state(model: torch.nn.Module) -> dict:
    """Everything of a model another visitor could notice: each parameter's value, requires_grad and
    .grad, each buffer, each module's mode, and its hooks."""
    return {
        "params": {n: (p.detach().clone(), p.requires_grad, p.grad) for n, p in model.named_parameters()},
        "buffers": {n: b.clone() for n, b in model.named_buffers()},
        "modes": {n: m.training for n, m in model.named_modules()},
        "hooks": sum(len(m._forward_hooks) + len(m._backward_hooks) for m in model.modules()),
    }


def assert_unchanged(model: torch.nn.Module, before: dict) -> None:
    after = model_state(model)
    assert after["modes"] == before["modes"]
    assert after["hooks"] == before["hooks"] == 0
    for name, (value, requires_grad, grad) in before["params"].items():
        now_value, now_requires_grad, now_grad = after["params"][name]
        assert now_requires_grad == requires_grad and now_grad is grad is None, name
        assert torch.equal(now_value, value), name
    for name, value in before["buffers"].items():
        assert torch.equal(after["buffers"][name], value), name


def every_inspection(loaded: LoadedRun, image: torch.Tensor) -> dict:
    layers = [name for name, _ in conv_layers(loaded.model)]
    return {
        "kernels": kernels(loaded.model),
        "deeper kernels": kernels(loaded.model, layers[1], out_channel=1),
        "feature maps": feature_maps(loaded, image),
        "maximise class": maximise_activation(loaded, target_class=3, steps=3),
        "maximise channel": maximise_activation(loaded, layer_name=layers[2], channel=1, steps=3),
        "grad-cam": grad_cam(loaded, image, 3),
        "grad-cam first layer": grad_cam(loaded, image, 5, layers[0]),
        "saliency": saliency(loaded, image, 3),
        "top-k": top_k(loaded, image),
        "predictions": predictions_from_model(loaded, images(4, loaded.input_shape, seed=1), torch.arange(4)),
    }


# ---------------------------------------------------------------- item 15: a frozen backbone


def test_a_frozen_backbone_run_goes_through_every_inspection_and_stays_as_it_was(frozen):
    model = frozen.model
    assert any(p.requires_grad for p in model.parameters())  # the new head
    assert not all(p.requires_grad for p in model.parameters())  # the frozen backbone
    before, rng = model_state(model), torch.random.get_rng_state()
    image = images(1)
    results = every_inspection(frozen, image)
    assert_unchanged(model, before)
    assert torch.equal(torch.random.get_rng_state(), rng)  # no draw from every visitor's generator
    for name in ("grad-cam", "grad-cam first layer", "saliency"):
        assert results[name].shape == (32, 32) and torch.isfinite(results[name]).all(), name
        assert float(results[name].min()) >= 0 and float(results[name].max()) <= 1, name
    assert float(results["saliency"].max()) == pytest.approx(1.0)  # a gradient reached the input
    assert results["maximise class"].image.shape == (3, 32, 32)
    assert len(results["top-k"]) == 5
    assert results["feature maps"] and all(torch.isfinite(m.maps).all() for m in results["feature maps"])


def test_feature_maps_of_a_backbone_are_each_layers_own_output():
    """torchvision's ReLU(inplace=True) overwrites the BatchNorm output it follows: the map shown for
    the BatchNorm must be its output, not the ReLU's (its negative values included)."""
    loaded = transfer_run("resnet18_transfer")
    image = images(1)
    maps = {m.name: m.maps for m in feature_maps(loaded, image)}
    net = loaded.model.backbone
    with torch.no_grad():
        conv = net.conv1(loaded.normalise(image))
        norm = net.bn1(conv)
    torch.testing.assert_close(maps["backbone.conv1"], conv[0], rtol=0, atol=0)
    torch.testing.assert_close(maps["backbone.bn1"], norm[0], rtol=0, atol=0)
    assert float(maps["backbone.bn1"].min()) < 0


SMALL_BN_DROPOUT = {
    "input_shape": [1, 16, 16],
    "num_classes": 4,
    "layers": [
        {"type": "conv2d", "out_channels": 6, "kernel_size": 3, "padding": 1},
        {"type": "batchnorm2d"},
        {"type": "relu"},
        {"type": "dropout2d", "p": 0.5},
        {"type": "conv2d", "out_channels": 8, "kernel_size": 3},
        {"type": "relu"},
        {"type": "flatten"},
        {"type": "dropout", "p": 0.5},
        {"type": "linear", "out_features": 4},
    ],
}


def test_a_model_left_in_training_mode_gives_eval_answers_and_keeps_its_mode():
    """Dropout and BatchNorm's batch statistics would make every answer random, and a training-mode
    BatchNorm would update its running statistics; switching the shared model to eval would change it
    for every other visitor. The answers are those of an eval-mode copy; the model stays as it was."""
    torch.manual_seed(0)
    model = build_model(SMALL_BN_DROPOUT)
    with torch.no_grad():
        model[1].running_mean.uniform_(-0.5, 0.5)
        model[1].running_var.uniform_(0.5, 2.0)
    shared = LoadedRun(model.train(), SMALL_BN_DROPOUT, CLASSES[:4], [0.5], [0.25], "final")
    reference = LoadedRun(copy.deepcopy(model).eval(), SMALL_BN_DROPOUT, CLASSES[:4], [0.5], [0.25], "final")
    before, rng = model_state(model), torch.random.get_rng_state()
    image = images(1, (1, 16, 16), seed=3)
    for _ in range(2):
        torch.testing.assert_close(grad_cam(shared, image, 2), grad_cam(reference, image, 2), rtol=0, atol=0)
        torch.testing.assert_close(saliency(shared, image, 1), saliency(reference, image, 1), rtol=0, atol=0)
        for got, want in zip(feature_maps(shared, image), feature_maps(reference, image), strict=True):
            torch.testing.assert_close(got.maps, want.maps, rtol=0, atol=0)
        got = maximise_activation(shared, target_class=1, steps=4)
        want = maximise_activation(reference, target_class=1, steps=4)
        assert torch.equal(got.image, want.image) and got.curve == want.curve
    assert_unchanged(model, before)
    assert all(m.training for m in model.modules())
    assert torch.equal(torch.random.get_rng_state(), rng)  # no dropout drew from every visitor's generator


# ---------------------------------------------------------------- item 15: two visitors at once

ROUNDS = 3


def session_a(loaded: LoadedRun, image: torch.Tensor) -> list:
    layers = [name for name, _ in conv_layers(loaded.model)]
    return [
        grad_cam(loaded, image, 2),
        [m.maps for m in feature_maps(loaded, image)],
        maximise_activation(loaded, layer_name=layers[1], channel=2, steps=3).image,
    ]


def session_b(loaded: LoadedRun, image: torch.Tensor) -> list:
    return [
        maximise_activation(loaded, target_class=7, steps=3, seed=5).image,
        saliency(loaded, image, 4),
        grad_cam(loaded, image, 6, conv_layers(loaded.model)[0][0]),
    ]


def assert_same(got, want, where: str) -> None:
    if isinstance(want, list):
        assert len(got) == len(want), where
        for i, (g, w) in enumerate(zip(got, want)):
            assert_same(g, w, f"{where}[{i}]")
    else:
        torch.testing.assert_close(got, want, rtol=0, atol=1e-6, msg=where)


def test_two_sessions_inspecting_one_cached_run_at_once_get_what_they_get_alone():
    loaded = transfer_run("resnet18_transfer")
    before = model_state(loaded.model)
    image_a, image_b = images(1, seed=10), images(1, seed=11)
    alone = {"a": session_a(loaded, image_a), "b": session_b(loaded, image_b)}
    barrier = threading.Barrier(2, timeout=60)
    together: dict[str, list] = {"a": [], "b": []}
    errors: list[BaseException] = []

    def visitor(name, session, image):
        try:
            for _ in range(ROUNDS):
                barrier.wait()  # both sessions start each round together, so their passes overlap
                together[name].append(session(loaded, image))
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)
            barrier.abort()

    threads = [
        threading.Thread(target=visitor, args=("a", session_a, image_a)),
        threading.Thread(target=visitor, args=("b", session_b, image_b)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    for name in ("a", "b"):
        assert len(together[name]) == ROUNDS
        for round_, results in enumerate(together[name]):
            assert_same(results, alone[name], f"session {name}, round {round_}")
    assert_unchanged(loaded.model, before)


# ---------------------------------------------------------------- item 17: PIL's process-wide limit


def png_header_only(width: int, height: int) -> bytes:
    """A tiny PNG that claims an enormous size: a decompression bomb's header."""

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0")) + chunk(b"IEND", b"")


# above our limit, and: below PIL's default limit; between it and twice it (a warning); above twice it (an error)
TOO_LARGE = {
    "7000×7000": png_header_only(7000, 7000),
    "10000×10000": png_header_only(10000, 10000),
    "30000×30000": png_header_only(30000, 30000),
}


def test_too_large_pictures_are_refused_without_a_warning_from_pil():
    assert all(w * h > MAX_UPLOAD_PIXELS for w, h in ((7000, 7000), (10000, 10000), (30000, 30000)))  # ours to refuse
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for size, data in TOO_LARGE.items():
            with pytest.raises(UploadError, match="too large") as refused:
                decode_upload(data)
            assert size in str(refused.value)  # the real size, read from the header
    assert not [w for w in caught if issubclass(w.category, Image.DecompressionBombWarning)]


def test_concurrent_uploads_never_change_pils_process_wide_limit():
    limit = Image.MAX_IMAGE_PIXELS
    seen: set = set()
    done = threading.Event()

    def watch():  # another visitor, reading PIL's limit while uploads are decoded
        while not done.is_set():
            seen.add(Image.MAX_IMAGE_PIXELS)

    picture = png_bytes(torch.arange(48 * 64, dtype=torch.uint8).reshape(48, 64).numpy())
    barrier = threading.Barrier(4, timeout=60)
    outcomes: list = []

    def upload(data: bytes):
        for _ in range(15):
            barrier.wait()
            try:
                outcomes.append(("ok", decode_upload(data).shape))
            except UploadError as exc:
                outcomes.append(("refused", str(exc)))

    watcher = threading.Thread(target=watch)
    watcher.start()
    uploaders = [threading.Thread(target=upload, args=(data,)) for data in (picture, *TOO_LARGE.values())]
    for thread in uploaders:
        thread.start()
    for thread in uploaders:
        thread.join()
    done.set()
    watcher.join()
    assert seen == {limit} == {Image.MAX_IMAGE_PIXELS}  # never changed, not even for a moment
    assert outcomes.count(("ok", (48, 64, 3))) == 15
    refused = [text for kind, text in outcomes if kind == "refused"]
    assert len(refused) == 45 and all("too large" in text for text in refused)


def test_a_folder_dataset_skips_a_picture_over_the_limit_without_a_warning(tmp_path):
    for cls in ("a", "b"):
        (tmp_path / cls).mkdir()
        for i in range(3):
            (tmp_path / cls / f"{i}.png").write_bytes(png_bytes(torch.full((8, 8), 40 * i, dtype=torch.uint8).numpy()))
    (tmp_path / "a" / "bomb.png").write_bytes(TOO_LARGE["10000×10000"])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        train_x, train_y, test_x, test_y, classes, skipped = load_folder(tmp_path, image_size=8)
    assert classes == ["a", "b"] and skipped == 1 and len(train_y) + len(test_y) == 6
    assert not [w for w in caught if issubclass(w.category, Image.DecompressionBombWarning)]


def test_every_image_format_still_decodes():
    picture = Image.new("RGB", (20, 12), (200, 30, 10))
    for fmt in ("PNG", "JPEG", "GIF", "BMP", "WEBP", "TIFF", "ICO"):
        buffer = io.BytesIO()
        picture.save(buffer, format=fmt)
        array = decode_upload(buffer.getvalue())
        assert array.shape[2] == 3 and array.dtype.name == "uint8", fmt


def test_top_k_of_a_training_mode_model_are_eval_answers():
    torch.manual_seed(0)
    model = build_model(SMALL_BN_DROPOUT)
    in_training = LoadedRun(model.train(), SMALL_BN_DROPOUT, CLASSES[:4], [0.5], [0.25], "final")
    in_eval = LoadedRun(copy.deepcopy(model).eval(), SMALL_BN_DROPOUT, CLASSES[:4], [0.5], [0.25], "final")
    image = images(1, (1, 16, 16))
    assert top_k(in_training, image) == top_k(in_eval, image)
    assert all(module.training for module in model.modules())  # the shared model keeps its mode
