"""What datasets exist: names, input shapes and class names, without importing torch.

The command line, the config validator and the pages read this; cnn_core.data.loaders loads them.
The class names here are data (runs keep them); class_label shows a built-in class in the current
language.
"""

from __future__ import annotations

from dataclasses import dataclass

from cnn_core.errors import CnnLabError
from cnn_core.i18n import t

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}


class DatasetError(CnnLabError, RuntimeError):
    """A dataset that cannot be loaded, with what to do about it."""


SHAPE_NAMES = ("circle", "square", "triangle", "cross", "ring", "diamond", "h-bar", "v-bar", "ellipse", "x")


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    input_shape: tuple[int, int, int] | None  # None: known only after loading (folder)
    class_names: tuple[str, ...]
    needs_download: bool = False

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def title(self) -> str:
        return t(f"dataset.{self.name}")


DIGIT_NAMES = tuple(str(i) for i in range(10))
EMBEDDED_DATASETS = ("digits", "shapes")  # shipped with the code (scikit-learn's digits, generated shapes)


DATASETS: dict[str, DatasetInfo] = {
    d.name: d
    for d in [
        DatasetInfo("digits", (1, 28, 28), DIGIT_NAMES),
        DatasetInfo("shapes", (3, 32, 32), SHAPE_NAMES),
        DatasetInfo("mnist", (1, 28, 28), DIGIT_NAMES, needs_download=True),
        DatasetInfo(
            "fashion_mnist",
            (1, 28, 28),
            ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
            needs_download=True,
        ),
        DatasetInfo(
            "cifar10",
            (3, 32, 32),
            ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"),
            needs_download=True,
        ),
        DatasetInfo("folder", None, ()),
    ]
}


def _class_key(name: str) -> str:
    return "class." + "".join(c if c.isalnum() else "_" for c in name.lower())


KNOWN_CLASSES = frozenset(_class_key(n) for d in DATASETS.values() for n in d.class_names if not n.isdigit())


def class_label(name: object) -> str:
    """A class as a visitor reads it: a built-in dataset's class in the current language, any other
    (a digit, a folder's own class name) as it is. The runs keep the names themselves."""
    text = str(name)
    key = _class_key(text)
    return t(key) if key in KNOWN_CLASSES else text


def class_labels(names) -> list[str]:
    return [class_label(n) for n in names]
