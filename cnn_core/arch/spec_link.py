"""The builder's network in its link: a spec as short URL-safe text and back, so that a reload or a
shared link opens the same network. Torch-free.

The text is ``1`` (the format) followed by the URL-safe base64 of the zlib-compressed JSON. Reading
one never trusts it: its length is capped before anything else, inflating stops at MAX_JSON_BYTES
(a zlib bomb cannot grow past it), the JSON goes through load_spec_json, and the result must have
the structure the builder edits (editable_spec). Nothing in it is ever executed.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import zlib

from cnn_core.arch.spec import SpecError, load_spec_json, parse_input_shape, parse_num_classes
from cnn_core.i18n import t

LINK_PARAM = "net"  # the query parameter that carries it
LINK_FORMAT = "1"
MAX_LINK_CHARS = 4000  # longer networks stay in the session only
MAX_JSON_BYTES = 64 * 1024
_URLSAFE = re.compile(r"[A-Za-z0-9_-]*")


def editable_spec(spec: dict) -> dict:
    """The spec if the builder can edit it (shape, classes, a list of layer objects or a backbone);
    values inside the layers are checked later, by the summary. SpecError otherwise."""
    if "input_shape" in spec:
        parse_input_shape(spec["input_shape"])
    parse_num_classes(spec)
    layers = spec.get("layers", [])
    if not isinstance(layers, list) or not all(isinstance(layer, dict) for layer in layers):
        raise SpecError(t("spec.err.layers_list"), t("spec.fix.layers_list"))
    if "backbone" in spec and not isinstance(spec["backbone"], dict | str):
        raise SpecError(t("spec.err.backbone_object"), t("spec.fix.backbone_object"))
    return spec


def spec_to_link(spec: dict) -> str | None:
    """The spec as link text, or None when that is longer than MAX_LINK_CHARS."""
    data = json.dumps(spec, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    if len(data) > MAX_JSON_BYTES:
        return None
    text = LINK_FORMAT + base64.urlsafe_b64encode(zlib.compress(data, 9)).decode("ascii").rstrip("=")
    return text if len(text) <= MAX_LINK_CHARS else None


def spec_from_link(text: str) -> dict:
    """The spec a link carries; SpecError for anything else (too long, not ours, damaged, a bomb)."""
    if not isinstance(text, str) or len(text) > MAX_LINK_CHARS:
        raise SpecError(t("link.err.too_long", cap=MAX_LINK_CHARS), t("link.fix.reload"))
    body = text[len(LINK_FORMAT) :]
    if not text.startswith(LINK_FORMAT) or not _URLSAFE.fullmatch(body):
        raise SpecError(t("link.err.damaged"), t("link.fix.reload"))
    inflater = zlib.decompressobj()
    try:
        data = inflater.decompress(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)), MAX_JSON_BYTES + 1)
    except (binascii.Error, ValueError, zlib.error) as exc:
        raise SpecError(t("link.err.damaged"), t("link.fix.reload")) from exc
    if len(data) > MAX_JSON_BYTES or inflater.unconsumed_tail:
        raise SpecError(t("link.err.too_large", cap=MAX_JSON_BYTES), t("link.fix.reload"))
    if not inflater.eof:
        raise SpecError(t("link.err.damaged"), t("link.fix.reload"))
    return editable_spec(load_spec_json(data, max_bytes=MAX_JSON_BYTES))
