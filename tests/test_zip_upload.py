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


# ---------------------------------------------------------------- issue 12: only DatasetError, nothing left behind


def _patch_method(data: bytes, method: int) -> bytes:
    """The zip with every entry's compression method field set to method (local and central headers)."""
    raw = bytearray(data)
    for signature, offset in ((b"PK\x03\x04", 8), (b"PK\x01\x02", 10)):
        start = raw.find(signature)
        while start != -1:
            raw[start + offset : start + offset + 2] = method.to_bytes(2, "little")
            start = raw.find(signature, start + 4)
    return bytes(raw)


def _encrypted_zip() -> bytes:
    """The second entry marked encrypted (flag bit 0, local and central headers): reading it asks for a password."""
    raw = bytearray(make_zip({"pets/cat/a.png": solid_png(1), "pets/dog/b.png": solid_png(2)}))
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        second = raw.find(signature, raw.find(signature) + 4)
        raw[second + offset] |= 0x1
    return bytes(raw)


def _bad_crc_zip() -> bytes:
    data = bytearray(make_zip({"pets/cat/a.png": solid_png(1), "pets/dog/b.png": solid_png(2)}))
    second = data.find(b"PK\x03\x04", 4)
    data[second + 60] ^= 0xFF  # a damaged byte in the second entry's data: its CRC fails
    return bytes(data)


BAD_ZIPS = {
    "encrypted": _encrypted_zip,
    "unsupported method": lambda: _patch_method(make_zip({"a/x.png": solid_png(1), "b/y.png": solid_png(2)}), 99),
    "file and folder of one name": lambda: make_zip({"a/x.png": solid_png(1), "a/x.png/y.png": solid_png(2)}),
    "truncated": lambda: make_zip({"a/x.png": solid_png(1), "b/y.png": solid_png(2)})[:-30],
    "damaged entry": _bad_crc_zip,
}


@pytest.mark.parametrize("kind", list(BAD_ZIPS))
def test_bad_zips_give_dataset_error_and_leave_nothing(tmp_path, kind):
    with pytest.raises(DatasetError, match="zip"):
        extract_class_zip(BAD_ZIPS[kind](), tmp_path / "up", max_total_bytes=10**6)
    assert list(tmp_path.iterdir()) == []  # no entry before the bad one, no temporary folder


def test_escaping_entry_after_good_ones_leaves_nothing(tmp_path):
    data = make_zip({"a/x.png": solid_png(1), "../evil.png": solid_png(2)})
    with pytest.raises(DatasetError, match="outside"):
        extract_class_zip(data, tmp_path / "up", max_total_bytes=10**6)
    assert list(tmp_path.iterdir()) == []


def test_an_upload_is_unpacked_once_under_the_data_dir(tmp_path, monkeypatch):
    from cnn_core.data import uploads

    data = make_zip({"pets/cat/a.png": solid_png(10), "pets/dog/c.png": solid_png(200), "pets/n.txt": b"x"})
    first, skipped = uploads.unpack_upload(data, tmp_path / "data", max_total_bytes=10**6)
    assert (tmp_path / "data" / "uploads") in first.parents and first.name == "pets" and skipped == 1

    def no_second_unpack(*args, **kwargs):
        raise AssertionError("unpacked again")

    monkeypatch.setattr(uploads, "extract_class_zip", no_second_unpack)
    again, skipped_again = uploads.unpack_upload(data, tmp_path / "data", max_total_bytes=10**6)
    assert (again, skipped_again) == (first, 1)
    assert len(list((tmp_path / "data" / "uploads").iterdir())) == 1  # one folder, no temporary leftovers
