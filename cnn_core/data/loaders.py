"""Loading datasets as uint8 tensors: one loader per catalogue name, and the splits.

`digits` (scikit-learn's bundled handwritten digits, upscaled to 28×28) is the default and
needs no network; `shapes` is generated from a seed; `mnist`, `fashion_mnist` and `cifar10`
load through torchvision from the data directory; `folder` reads a user's class folders
(an uploaded zip is unpacked by cnn_core.data.uploads).
Every split is a uint8 tensor (N, C, H, W) with int64 labels, so the trainer can keep the
whole set on its device.
"""

from __future__ import annotations

import gzip
import importlib.util
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, UnidentifiedImageError

from cnn_core.data.catalog import DATASETS, IMAGE_SUFFIXES, SHAPE_NAMES, DatasetError
from cnn_core.data.synthetic import generate_shapes
from cnn_core.data.uploads import UploadError, open_picture
from cnn_core.i18n import t
from cnn_core.settings import get_settings

DIGITS_TEST_FRACTION = 0.2


SPLIT_SEED = 20240601  # the test split never depends on a run's seed, so runs stay comparable


@dataclass
class Splits:
    name: str
    class_names: list[str]
    train_x: torch.Tensor
    train_y: torch.Tensor
    val_x: torch.Tensor
    val_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    skipped_files: int = 0

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return tuple(self.train_x.shape[1:])

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def channel_stats(self) -> tuple[list[float], list[float]]:
        """Per-channel mean and std of the training images in [0, 1], for normalisation."""
        x = self.train_x.float().div_(255)
        mean = x.mean(dim=(0, 2, 3))
        std = x.std(dim=(0, 2, 3)).clamp_min(1e-3)
        return mean.tolist(), std.tolist()


def _resize_uint8(images: np.ndarray | torch.Tensor, size: int) -> torch.Tensor:
    x = torch.as_tensor(images, dtype=torch.float32)
    x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
    return x.round_().clamp_(0, 255).to(torch.uint8)


def _split_indices(n: int, fraction: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    cut = int(round(n * fraction))
    return order[cut:], order[:cut]


def digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's digits: images (1797, 8, 8) of 0–16 ink and their labels, read from the file
    scikit-learn ships, the way its load_digits reads it: importing sklearn.datasets would cost a
    worker's start about a second. Through load_digits itself when that file is not where it was."""
    package = importlib.util.find_spec("sklearn")  # finds scikit-learn without importing it
    locations = list(package.submodule_search_locations or []) if package else []
    path = Path(locations[0]) / "datasets" / "data" / "digits.csv.gz" if locations else None
    if path is None or not path.is_file():
        from sklearn.datasets import load_digits as sk_digits

        bunch = sk_digits()
        return bunch.images, bunch.target
    with gzip.open(path, "rt") as handle:
        data = np.loadtxt(handle, delimiter=",")
    return data[:, :-1].reshape(-1, 8, 8), data[:, -1].astype(int)


def load_digits(**_) -> tuple:
    """scikit-learn's 1,797 8×8 digits (0–16 ink), scaled to 0–255 and upscaled to 28×28."""
    digit_images, labels = digits_arrays()
    images = digit_images[:, None].astype(np.float32) * (255.0 / 16.0)
    x = _resize_uint8(images, 28)
    y = torch.as_tensor(labels, dtype=torch.int64)
    train, test = _split_indices(len(y), DIGITS_TEST_FRACTION, SPLIT_SEED)
    return x[train], y[train], x[test], y[test], [str(d) for d in range(10)], 0


def load_shapes(train_size: int = 6000, test_size: int = 1000, **_) -> tuple:
    train_x, train_y = generate_shapes(train_size, SPLIT_SEED)
    test_x, test_y = generate_shapes(test_size, SPLIT_SEED + 1)
    return train_x, train_y, test_x, test_y, list(SHAPE_NAMES), 0


_TORCHVISION = {
    "mnist": (
        "MNIST",
        ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"],
        "MNIST/raw",
    ),
    "fashion_mnist": (
        "FashionMNIST",
        ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"],
        "FashionMNIST/raw",
    ),
    "cifar10": (
        "CIFAR10",
        ["data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5", "test_batch", "batches.meta"],
        "cifar-10-batches-py",
    ),
}


def _torchvision_pair(name: str, root: Path, download: bool):
    import torchvision.datasets as tvd  # here, not at the top: ~1.4 s that digits and shapes runs never need

    cls = getattr(tvd, _TORCHVISION[name][0])
    return cls(str(root), train=True, download=download), cls(str(root), train=False, download=download)


def _to_tensors(ds) -> tuple[torch.Tensor, torch.Tensor]:
    data = ds.data if isinstance(ds.data, torch.Tensor) else torch.from_numpy(np.asarray(ds.data))
    x = data.unsqueeze(1) if data.ndim == 3 else data.permute(0, 3, 1, 2)
    return x.contiguous().to(torch.uint8), torch.as_tensor(ds.targets, dtype=torch.int64)


def torchvision_files_present(name: str, data_dir: str | Path) -> bool:
    """Whether every file torchvision reads for name is in data_dir (nothing is opened or loaded)."""
    _, files, folder = _TORCHVISION[name]
    return all((Path(data_dir) / folder / f).is_file() for f in files)


def download_torchvision(name: str, data_dir: str | Path) -> None:
    """Download name into data_dir through a temporary folder, so a failure leaves nothing;
    any failure (offline, refused, corrupt) raises DatasetError saying which files to put where."""
    root = Path(data_dir)
    try:
        root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".download-", dir=root))
    except OSError as exc:
        raise _download_error(name, root, exc) from exc
    try:
        _torchvision_pair(name, staging, download=True)
        for item in staging.iterdir():
            target = root / item.name
            if target.exists():
                shutil.rmtree(target) if target.is_dir() else target.unlink()
            os.replace(item, target)
    except Exception as exc:  # any download failure: no network, refused, corrupt
        raise _download_error(name, root, exc) from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _download_error(name: str, root: Path, exc: BaseException) -> DatasetError:
    folder, files = _TORCHVISION[name][2], _TORCHVISION[name][1]
    return DatasetError(
        t("dataset.err.download", name=name, dir=str(root / folder), files=", ".join(files), reason=type(exc).__name__)
    )


def check_dataset_available(name: str, data_dir: str | Path, folder_path: str | None = None) -> None:
    """Before a launch, without loading it: a torchvision dataset's files are in data_dir (downloaded
    now when they are not), a folder dataset's folder exists with class sub-folders. DatasetError if not."""
    if name in _TORCHVISION:
        if not torchvision_files_present(name, data_dir):
            download_torchvision(name, data_dir)
    elif name == "folder":
        root = Path(folder_path or "")
        if not folder_path or not root.is_dir():
            raise DatasetError(t("dataset.err.folder_missing", path=str(root)))
        classes = [p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")]
        if len(classes) < 2:
            raise DatasetError(t("dataset.err.folder_classes", path=str(root), n=len(classes)))


def load_torchvision(name: str, data_dir: str | Path, **_) -> tuple:
    """Load from data_dir; download into a temporary folder first, so a failure leaves nothing."""
    root = Path(data_dir)
    try:
        train, test = _torchvision_pair(name, root, download=False)
    except RuntimeError:
        download_torchvision(name, root)
        train, test = _torchvision_pair(name, root, download=False)
    train_x, train_y = _to_tensors(train)
    test_x, test_y = _to_tensors(test)
    # the registry's names (torchvision's MNIST says "0 - zero"), so a run's labels match what the app lists
    return train_x, train_y, test_x, test_y, list(DATASETS[name].class_names), 0


def load_folder(folder_path: str | Path, image_size: int = 32, test_fraction: float = 0.2, **_) -> tuple:
    """One sub-folder per class; undecodable files are skipped and counted."""
    root = Path(folder_path)
    if not root.is_dir():
        raise DatasetError(t("dataset.err.folder_missing", path=str(root)))
    classes = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if len(classes) < 2:
        raise DatasetError(t("dataset.err.folder_classes", path=str(root), n=len(classes)))
    images, labels, skipped, grayscale = [], [], 0, True
    decoded = []
    for label, cls in enumerate(classes):
        for path in sorted((root / cls).rglob("*")):
            if not path.is_file():
                continue
            if path.suffix.lower() not in IMAGE_SUFFIXES:
                skipped += 1
                continue
            try:  # our own pixel limit: PIL's process-wide one would warn, or be every visitor's to change
                with open_picture(path.read_bytes()) as img:
                    img.load()
                    grayscale &= img.mode in ("L", "1", "I;16", "I")
                    decoded.append((img.convert("RGB").resize((image_size, image_size)), label))
            except (
                UploadError,
                UnidentifiedImageError,
                OSError,
                ValueError,
                SyntaxError,
                Image.DecompressionBombError,
            ):
                skipped += 1
    if not decoded:
        raise DatasetError(t("dataset.err.folder_empty", path=str(root), skipped=skipped))
    for img, label in decoded:
        array = np.asarray(img.convert("L") if grayscale else img, dtype=np.uint8)
        images.append(array[None] if grayscale else array.transpose(2, 0, 1))
        labels.append(label)
    present = sorted(set(labels))
    if len(present) < 2:
        raise DatasetError(t("dataset.err.folder_classes", path=str(root), n=len(present)))
    x = torch.from_numpy(np.stack(images))
    y = torch.as_tensor(labels, dtype=torch.int64)
    train, test = _split_indices(len(y), test_fraction, SPLIT_SEED)
    return x[train], y[train], x[test], y[test], classes, skipped


LOADERS = {
    "digits": load_digits,
    "shapes": load_shapes,
    "mnist": lambda **kw: load_torchvision("mnist", **kw),
    "fashion_mnist": lambda **kw: load_torchvision("fashion_mnist", **kw),
    "cifar10": lambda **kw: load_torchvision("cifar10", **kw),
    "folder": load_folder,
}


def load_splits(
    name: str,
    val_split: float = 0.1,
    seed: int = 0,
    data_dir: str | Path | None = None,
    folder_path: str | None = None,
    image_size: int = 32,
) -> Splits:
    """Train / validation / test splits; the validation cut depends on the run's seed."""
    if name not in DATASETS:
        raise DatasetError(t("dataset.err.unknown", name=name, names=", ".join(DATASETS)))
    data_dir = Path(data_dir) if data_dir else get_settings().data_dir
    train_x, train_y, test_x, test_y, classes, skipped = LOADERS[name](
        data_dir=data_dir, folder_path=folder_path, image_size=image_size
    )
    keep, val = _split_indices(len(train_y), val_split, seed)
    if len(keep) == 0:
        raise DatasetError(t("dataset.err.too_small", name=name))
    return Splits(
        name, list(classes), train_x[keep], train_y[keep], train_x[val], train_y[val], test_x, test_y, skipped
    )


def describe_dataset(
    name: str, data_dir: str | Path | None = None, folder_path: str | None = None, image_size: int = 32
) -> dict:
    """Sizes, input shape and classes, from actually loading it (so missing files show up now)."""
    splits = load_splits(name, 0.0, 0, data_dir, folder_path, image_size)
    return {
        "train_pool": len(splits.train_y),
        "test": len(splits.test_y),
        "input_shape": splits.input_shape,
        "class_names": splits.class_names,
        "skipped_files": splits.skipped_files,
        "preview": splits.train_x[:8].clone(),
    }
