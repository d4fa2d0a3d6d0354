"""What datasets exist: names, input shapes and class names, without importing torch.

The command line, the config validator and the pages read this; cnn_core.data.loaders loads them.
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
