"""Datasets: the offline download message, the real torchvision loaders fed tiny local files,
the folder loader with junk in it, and the generated shapes set. No network is ever used."""

from __future__ import annotations

import pickle
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import torch

from cnn_core.data.catalog import DATASETS, SHAPE_NAMES, DatasetError
from cnn_core.data.loaders import load_splits
from cnn_core.data.synthetic import generate_shapes
from tests.conftest import png_bytes


@pytest.fixture
def no_network(monkeypatch):
    """Every download attempt fails the way an offline machine fails, even when online."""
    calls = []

    def refuse(*args, **kwargs):
        calls.append(args)
        raise urllib.error.URLError("network is unreachable (test)")

    monkeypatch.setattr(urllib.request, "urlopen", refuse)
    return calls


def _all_paths(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*")) if folder.exists() else []


# ---------------------------------------------------------------- offline download message


@pytest.mark.parametrize(
    "name,folder", [("mnist", "MNIST/raw"), ("fashion_mnist", "FashionMNIST/raw"), ("cifar10", "cifar-10-batches-py")]
)
def test_offline_download_names_the_folder_and_files(name, folder, tmp_path, no_network, capsys):
    data_dir = tmp_path / "data"
    with pytest.raises(DatasetError) as info:
        load_splits(name, data_dir=data_dir)
    message = str(info.value)
    assert str(data_dir / folder) in message
    from cnn_core.data.loaders import _TORCHVISION

    for file in _TORCHVISION[name][1]:
        assert file in message
    assert no_network, "the loader should have tried to download"
    # nothing half-written, no staging folder: the data dir is empty
    leftovers = _all_paths(data_dir)
    assert leftovers == [], leftovers
    assert not list(tmp_path.rglob(".download-*"))


# ---------------------------------------------------------------- the real loaders, offline


def _idx(path: Path, array: np.ndarray, magic: int) -> None:
    header = np.array([magic, *array.shape], dtype=">i4").tobytes()
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def _write_mnist(raw: Path, n_train: int, n_test: int, seed: int = 0) -> dict:
    raw.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    arrays = {}
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        labels = (np.arange(n) % 10).astype(np.uint8)
        _idx(raw / f"{prefix}-images-idx3-ubyte", images, 2051)  # 0x0803: uint8, 3 dims
        _idx(raw / f"{prefix}-labels-idx1-ubyte", labels, 2049)  # 0x0801: uint8, 1 dim
        arrays[prefix] = (images, labels)
    return arrays


@pytest.mark.parametrize("name,folder", [("mnist", "MNIST"), ("fashion_mnist", "FashionMNIST")])
def test_mnist_style_loaders_read_local_files(name, folder, tmp_path, no_network):
    arrays = _write_mnist(tmp_path / folder / "raw", n_train=60, n_test=20)
    splits = load_splits(name, val_split=0.25, seed=3, data_dir=tmp_path)
    assert not no_network, "files were present: nothing should be downloaded"
    assert splits.train_x.shape == (45, 1, 28, 28) and splits.val_x.shape == (15, 1, 28, 28)
    assert splits.test_x.shape == (20, 1, 28, 28)
    for x in (splits.train_x, splits.val_x, splits.test_x):
        assert x.dtype == torch.uint8
    assert splits.train_y.dtype == torch.int64
    assert torch.equal(splits.test_x[:, 0], torch.from_numpy(arrays["t10k"][0]))
    assert torch.equal(splits.test_y, torch.from_numpy(arrays["t10k"][1]).long())
    # train + val together are exactly the training file
    together = torch.cat([splits.train_y, splits.val_y]).sort().values
    assert torch.equal(together, torch.from_numpy(arrays["train"][1]).long().sort().values)
    assert splits.class_names == list(DATASETS[name].class_names)
    assert splits.input_shape == DATASETS[name].input_shape and splits.num_classes == 10
    # the validation cut depends on the seed only
    again = load_splits(name, val_split=0.25, seed=3, data_dir=tmp_path)
    assert torch.equal(again.val_x, splits.val_x) and torch.equal(again.val_y, splits.val_y)
    other = load_splits(name, val_split=0.25, seed=4, data_dir=tmp_path)
    assert not torch.equal(other.val_x, splits.val_x)


def _write_cifar(folder: Path, per_batch: int, n_test: int) -> dict:
    folder.mkdir(parents=True)
    rng = np.random.default_rng(1)
    written = {}
    for name, n in [(f"data_batch_{i}", per_batch) for i in range(1, 6)] + [("test_batch", n_test)]:
        data = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
        labels = [int(v) for v in rng.integers(0, 10, n)]
        with open(folder / name, "wb") as f:
            pickle.dump({"data": data, "labels": labels, "batch_label": name}, f)
        written[name] = (data, labels)
    with open(folder / "batches.meta", "wb") as f:
        pickle.dump({"label_names": list(DATASETS["cifar10"].class_names), "num_vis": 3072}, f)
    return written


def test_cifar10_loader_reads_local_files(tmp_path, no_network, monkeypatch):
    import torchvision.datasets
    import torchvision.datasets.cifar

    written = _write_cifar(tmp_path / "cifar-10-batches-py", per_batch=8, n_test=12)
    # CIFAR10 verifies the official files' MD5 sums, which our tiny stand-ins cannot match:
    # only for this test, integrity checks pass (the loading path itself is the real one).
    monkeypatch.setattr(torchvision.datasets.CIFAR10, "_check_integrity", lambda self: True)
    monkeypatch.setattr(torchvision.datasets.cifar, "check_integrity", lambda *a, **k: True)
    splits = load_splits("cifar10", val_split=0.25, seed=0, data_dir=tmp_path)
    assert not no_network
    assert splits.train_x.shape == (30, 3, 32, 32) and splits.val_x.shape == (10, 3, 32, 32)
    assert splits.test_x.shape == (12, 3, 32, 32) and splits.test_x.dtype == torch.uint8
    # channel-first again, pixel for pixel what the batch held
    data, labels = written["test_batch"]
    assert torch.equal(splits.test_x, torch.from_numpy(data).view(12, 3, 32, 32))
    assert splits.test_y.tolist() == labels
    assert splits.class_names == list(DATASETS["cifar10"].class_names)
    again = load_splits("cifar10", val_split=0.25, seed=0, data_dir=tmp_path)
    assert torch.equal(again.val_x, splits.val_x)


# ---------------------------------------------------------------- folder dataset


def _png(path: Path, colour, mode="RGB", size=(20, 12)):
    """A solid picture of size (width, height) in colour, RGB or grey ("L"), saved as a PNG file."""
    width, height = size
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(png_bytes(np.full((height, width, 3) if mode == "RGB" else (height, width), colour, np.uint8)))


def _make_folder(root: Path, mode="RGB") -> Path:
    for i in range(4):
        _png(root / "cat" / f"c{i}.png", (200, 10 * i, 0) if mode == "RGB" else 200 - i, mode)
        _png(root / "dog" / f"d{i}.png", (0, 10 * i, 200) if mode == "RGB" else 20 + i, mode)
    (root / "cat" / "notes.txt").write_text("not an image")
    (root / "dog" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n this is not really a png")
    (root / ".hidden").mkdir()
    return root


def test_folder_dataset_skips_junk(tmp_path):
    root = _make_folder(tmp_path / "images")
    splits = load_splits("folder", val_split=0.2, seed=0, folder_path=str(root), image_size=16)
    assert splits.class_names == ["cat", "dog"]
    assert splits.skipped_files == 2
    total = len(splits.train_y) + len(splits.val_y) + len(splits.test_y)
    assert total == 8
    assert splits.train_x.shape[1:] == (3, 16, 16) and splits.train_x.dtype == torch.uint8
    assert set(torch.cat([splits.train_y, splits.val_y, splits.test_y]).tolist()) == {0, 1}
    # a training image of class 'cat' is red
    cat = splits.train_x[splits.train_y == 0][0]
    assert cat[0].float().mean() > 150 and cat[2].float().mean() < 50


def test_folder_dataset_grayscale(tmp_path):
    root = _make_folder(tmp_path / "images", mode="L")
    splits = load_splits("folder", folder_path=str(root), image_size=8)
    assert splits.input_shape == (1, 8, 8)


def test_folder_dataset_errors(tmp_path):
    one = tmp_path / "one"
    _png(one / "only" / "a.png", (1, 2, 3))
    _png(one / "only" / "b.png", (1, 2, 3))
    with pytest.raises(DatasetError, match="two class"):
        load_splits("folder", folder_path=str(one))
    (one / "empty-class").mkdir()  # two folders, but only one has images
    with pytest.raises(DatasetError):
        load_splits("folder", folder_path=str(one))
    junk = tmp_path / "junk"
    for cls in ("a", "b"):
        (junk / cls).mkdir(parents=True)
        (junk / cls / "x.png").write_bytes(b"garbage")
    with pytest.raises(DatasetError, match="2 files skipped"):
        load_splits("folder", folder_path=str(junk))
    with pytest.raises(DatasetError):
        load_splits("folder", folder_path=str(tmp_path / "missing"))
    with pytest.raises(DatasetError, match="unknown dataset"):
        load_splits("imagenet")


# ---------------------------------------------------------------- generated shapes and digits


def test_shapes_are_deterministic():
    a_x, a_y = generate_shapes(40, seed=5)
    b_x, b_y = generate_shapes(40, seed=5)
    c_x, _ = generate_shapes(40, seed=6)
    assert torch.equal(a_x, b_x) and torch.equal(a_y, b_y)
    assert not torch.equal(a_x, c_x)
    assert a_x.shape == (40, 3, 32, 32) and a_x.dtype == torch.uint8


def test_shapes_dataset():
    splits = load_splits("shapes", val_split=0.1, seed=0)
    assert splits.num_classes == 10 and splits.class_names == list(SHAPE_NAMES)
    assert splits.input_shape == (3, 32, 32) == DATASETS["shapes"].input_shape
    assert splits.train_x.dtype == torch.uint8
    assert set(splits.test_y.unique().tolist()) == set(range(10))


def test_digits_dataset_and_seeded_validation_split():
    a = load_splits("digits", val_split=0.1, seed=1)
    b = load_splits("digits", val_split=0.1, seed=1)
    c = load_splits("digits", val_split=0.1, seed=2)
    assert a.input_shape == (1, 28, 28) and a.num_classes == 10 and a.train_x.dtype == torch.uint8
    assert torch.equal(a.val_x, b.val_x) and torch.equal(a.train_y, b.train_y)
    assert not torch.equal(a.val_x, c.val_x)
    assert torch.equal(a.test_x, c.test_x)  # the test split never depends on the run's seed
    assert len(a.train_y) + len(a.val_y) + len(a.test_y) == 1797


def test_digits_are_read_as_scikit_learn_reads_them():
    from sklearn.datasets import load_digits as sk_digits

    from cnn_core.data.loaders import digits_arrays

    images, labels = digits_arrays()
    bunch = sk_digits()
    np.testing.assert_array_equal(images, bunch.images)
    np.testing.assert_array_equal(labels, bunch.target)
