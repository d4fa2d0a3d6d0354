"""Uploading a zip of class folders: escapes refused, non-images skipped, size capped."""

import io
import zipfile

import numpy as np
import pytest

from cnn_core.data.loaders import DatasetError, load_splits
from cnn_core.data.uploads import extract_class_zip
from tests.conftest import png_bytes


def solid_png(value: int) -> bytes:
    return png_bytes(np.full((10, 12, 3), value, dtype=np.uint8))


def make_zip(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_class_folders_unpack_and_train_data_loads(tmp_path):
    data = make_zip(
        {
            "pets/cat/a.png": solid_png(10),
            "pets/cat/b.png": solid_png(20),
            "pets/dog/c.png": solid_png(200),
            "pets/dog/d.png": solid_png(220),
            "pets/dog/notes.txt": b"not an image",
            "__MACOSX/pets/._a.png": b"junk",
        }
    )
    root, skipped = extract_class_zip(data, tmp_path / "up", max_total_bytes=10**6)
    assert root.name == "pets" and skipped == 2
    splits = load_splits("folder", val_split=0.0, folder_path=str(root), image_size=16)
    assert splits.class_names == ["cat", "dog"]
    assert splits.input_shape == (3, 16, 16)
    assert len(splits.train_y) + len(splits.test_y) == 4


@pytest.mark.parametrize("name", ["../evil.png", "a/../../evil.png", "/abs/evil.png"])
def test_entries_escaping_the_folder_are_refused(tmp_path, name):
    with pytest.raises(DatasetError, match="outside"):
        extract_class_zip(make_zip({name: solid_png(1)}), tmp_path / "up", max_total_bytes=10**6)
    assert not (tmp_path / "evil.png").exists()


def test_uncompressed_size_is_capped(tmp_path):
    data = make_zip({f"c{i % 2}/{i}.png": solid_png(i) for i in range(20)})
    with pytest.raises(DatasetError, match="MiB"):
        extract_class_zip(data, tmp_path / "up", max_total_bytes=500)


def test_not_a_zip(tmp_path):
    with pytest.raises(DatasetError, match="not a valid zip"):
        extract_class_zip(b"hello", tmp_path / "up", max_total_bytes=10**6)
