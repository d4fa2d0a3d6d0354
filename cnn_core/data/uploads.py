"""What users upload, made safe: pictures decoded with size and decompression-bomb limits, and
zips of class folders unpacked without escaping their folder or inflating a bomb.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import struct
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from cnn_core.data.catalog import EMBEDDED_DATASETS, IMAGE_SUFFIXES, DatasetError
from cnn_core.errors import CnnLabError
from cnn_core.files import read_json, write_json_atomic
from cnn_core.i18n import t
from cnn_core.settings import get_settings


class UploadError(CnnLabError):
    """An upload that cannot be used: too large, empty, not a picture, a bomb, or a zip that escapes."""


MAX_UPLOAD_BYTES = 10 * 1024 * 1024


MAX_UPLOAD_PIXELS = 40_000_000


def open_picture(data: bytes, max_pixels: int = MAX_UPLOAD_PIXELS) -> Image.Image:
    """A picture's file opened (its header read, no pixel decoded), refused when it has more than
    max_pixels pixels.

    Image.open would also apply PIL's process-wide limit (Image.MAX_IMAGE_PIXELS: a warning above
    it, an error above twice it): a setting of every visitor's, which this limit never reads or
    changes. So the format plugins are asked directly, as Image.open asks them.
    """
    prefix, tried = data[:16], set()
    for register in (Image.preinit, Image.init):  # the common formats first, then every format
        register()
        for name in [n for n in Image.ID if n not in tried]:
            tried.add(name)
            factory, accept = Image.OPEN[name]
            verdict = accept(prefix) if accept else True
            if not verdict or isinstance(verdict, str):  # a str: "this format, but unsupported"
                continue
            try:
                img = factory(io.BytesIO(data), "")
            except (SyntaxError, IndexError, TypeError, struct.error):
                continue  # not this format after all
            if img.width * img.height > max_pixels:
                img.close()
                raise UploadError(t("inspect.err.bomb", w=img.width, h=img.height))
            return img
    raise UnidentifiedImageError


def picture_cap_bytes() -> int:
    """The largest picture accepted: MAX_UPLOAD_BYTES, or the server's upload limit when smaller."""
    return min(MAX_UPLOAD_BYTES, get_settings().max_upload_bytes)


def decode_upload(data: bytes, max_bytes: int | None = None) -> np.ndarray:
    """Any uploaded picture as an H×W×3 uint8 array, transparency flattened onto white.

    Corrupt files, non-images, decompression bombs and files over max_bytes (picture_cap_bytes by
    default) raise UploadError. PIL's process-wide Image.MAX_IMAGE_PIXELS is neither read nor changed
    (see open_picture).
    """
    max_bytes = picture_cap_bytes() if max_bytes is None else min(max_bytes, get_settings().max_upload_bytes)
    if len(data) > max_bytes:
        raise UploadError(t("inspect.err.too_big", size=len(data) // 1024, cap=max_bytes // 1024))
    if not data:
        raise UploadError(t("inspect.err.empty"))
    try:
        with open_picture(data) as img:
            img.load()
            if img.mode in ("RGBA", "LA", "P", "PA") or "transparency" in img.info:
                rgba = img.convert("RGBA")
                background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
                img = Image.alpha_composite(background, rgba)
            rgb = img.convert("RGB")
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:  # a frame larger than its header
        raise UploadError(t("inspect.err.bomb", w="?", h="?")) from exc
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, struct.error) as exc:
        raise UploadError(t("inspect.err.not_image", reason=type(exc).__name__)) from exc
    return np.asarray(rgb)


def image_from_upload(
    data: bytes, input_shape: tuple[int, int, int], invert: bool | None = None, max_bytes: int | None = None
) -> tuple[torch.Tensor, bool]:
    """An upload as the network receives it: uint8 (1, C, H, W), and whether it was inverted.

    Any size, mode or alpha is accepted; for one-channel inputs a dark-on-light picture is
    inverted to the white-on-black of MNIST unless invert says otherwise.
    """
    return image_from_array(decode_upload(data, max_bytes), input_shape, invert)


def image_from_array(
    array: np.ndarray, input_shape: tuple[int, int, int], invert: bool | None = None
) -> tuple[torch.Tensor, bool]:
    """An H×W, H×W×3 or H×W×4 uint8 array (an upload or a canvas) resized to the input shape."""
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


ZIP_ERRORS = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    OSError,
    EOFError,
    RuntimeError,
    NotImplementedError,
    ValueError,
)


def extract_class_zip(data: bytes, dest: Path, max_total_bytes: int, max_files: int = 20000) -> tuple[Path, int]:
    """Unpack an uploaded zip of class folders into dest; returns (the folder to train on, skipped).

    Entries that would land outside dest (absolute paths, '..') are refused; non-images are
    skipped and counted; the uncompressed total is capped, so a zip bomb stops early. Everything is
    unpacked into a temporary folder beside dest, renamed into place only when complete: a bad
    entry (encrypted, an unknown compression method, a truncated archive, a file and a folder of
    one name) raises DatasetError and leaves nothing behind.
    """
    dest = Path(dest).resolve()
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except ZIP_ERRORS as exc:
        raise DatasetError(t("dataset.err.bad_zip")) from exc
    entries = [e for e in archive.infolist() if not e.is_dir()]
    if len(entries) > max_files:
        raise DatasetError(t("dataset.err.zip_files", n=len(entries), cap=max_files))
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".unpack-", dir=dest.parent))
    try:
        skipped = _unpack(archive, entries, staging, max_total_bytes)
        write_json_atomic(staging / UNPACKED_MARK, {"skipped": skipped})
        if dest.is_dir() and not any(dest.iterdir()):
            dest.rmdir()
        os.rename(staging, dest)
    except DatasetError:
        raise
    except ZIP_ERRORS as exc:
        raise DatasetError(t("dataset.err.zip_entry", reason=type(exc).__name__)) from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return _train_root(dest), skipped


UNPACKED_MARK = ".unpacked.json"  # written last, inside the unpack: its folder is complete


def _unpack(archive: zipfile.ZipFile, entries: list[zipfile.ZipInfo], dest: Path, max_total_bytes: int) -> int:
    total, skipped = 0, 0
    for entry in entries:
        target = (dest / entry.filename).resolve()
        if entry.filename.startswith(("/", "\\")) or dest not in target.parents:
            raise DatasetError(t("dataset.err.zip_escape", name=entry.filename[:120]))
        if Path(entry.filename).suffix.lower() not in IMAGE_SUFFIXES or "__MACOSX" in entry.filename:
            skipped += 1
            continue
        total += entry.file_size
        if total > max_total_bytes:
            raise DatasetError(t("dataset.err.zip_size", cap=max_total_bytes // (1024 * 1024)))
        target.parent.mkdir(parents=True, exist_ok=True)
        with archive.open(entry) as src, open(target, "wb") as out:
            shutil.copyfileobj(src, out)
    return skipped


def _train_root(dest: Path) -> Path:
    """A zip of one top folder holding the class folders: train on that folder."""
    children = [p for p in dest.iterdir() if p.is_dir()]
    return children[0] if len(children) == 1 and any(c.is_dir() for c in children[0].iterdir()) else dest


def unpack_upload(data: bytes, data_dir: str | Path, max_total_bytes: int) -> tuple[Path, int]:
    """An uploaded zip unpacked once, under data_dir/uploads/<its SHA-256's first 16 hex digits>/:
    the same bytes uploaded again (or the page rerun) reuse the complete folder, never write again.
    A hosted demo trains on its embedded datasets only, so it unpacks nothing (UploadError)."""
    settings = get_settings()
    if settings.demo:
        raise UploadError(t("limit.dataset", dataset="folder", allowed=", ".join(EMBEDDED_DATASETS)))
    max_total_bytes = min(max_total_bytes, settings.max_upload_bytes)
    folder = Path(data_dir).resolve() / "uploads" / hashlib.sha256(data).hexdigest()[:16]
    mark = folder / UNPACKED_MARK
    if not mark.is_file():
        try:
            return extract_class_zip(data, folder, max_total_bytes)
        except DatasetError:
            if not mark.is_file():  # not another session's unpack of the same upload, just finished
                raise
    skipped = (read_json(mark) or {}).get("skipped", 0)
    return _train_root(folder), skipped if isinstance(skipped, int) else 0
