"""The builder's network in its link (cnn_core.arch.spec_link): every preset makes the round trip,
long networks are refused, and damaged, foreign, hostile or bomb links are a SpecError."""

import base64
import json
import zlib

import pytest

from cnn_core import PRESETS, preset_spec
from cnn_core.arch.spec import SpecError
from cnn_core.arch.spec_link import MAX_JSON_BYTES, MAX_LINK_CHARS, editable_spec, spec_from_link, spec_to_link


def link_of(data: bytes, level: int = 9) -> str:
    return "1" + base64.urlsafe_b64encode(zlib.compress(data, level)).decode().rstrip("=")


@pytest.mark.parametrize("key", list(PRESETS))
def test_every_preset_makes_the_round_trip_in_a_short_url_safe_link(key):
    spec = preset_spec(key)
    link = spec_to_link(spec)
    assert link is not None and len(link) <= MAX_LINK_CHARS
    assert link.replace("-", "").replace("_", "").isalnum()
    assert spec_from_link(link) == spec


def test_unicode_names_and_an_edited_network_survive():
    spec = preset_spec("seed002_mnist_cnn") | {"name": "réseau ✓ 网络"}
    spec["layers"].insert(1, {"type": "batchnorm2d"})
    assert spec_from_link(spec_to_link(spec)) == spec


def test_a_network_too_long_for_a_link_stays_out_of_it():
    spec = {"input_shape": [1, 28, 28], "num_classes": 10, "name": "x", "layers": []}
    # incompressible names: the link would be far over the cap
    spec["layers"] = [
        {"type": "conv2d", "out_channels": 4, "kernel_size": 3, "note": f"{i * 7919:x}"} for i in range(900)
    ]
    assert spec_to_link(spec) is None
    assert spec_to_link({"name": "a" * (MAX_JSON_BYTES + 1)}) is None


@pytest.mark.parametrize(
    "link",
    [
        "",
        "1",
        "2" + link_of(b"{}")[1:],  # another format
        "1!!!not base64***",
        "1" + "A" * 20,  # base64, not zlib
        link_of(b"[1, 2, 3]"),  # JSON, not an object
        link_of(b"{not json"),
        link_of(b'{"layers": "conv2d"}'),
        link_of(b'{"layers": [1, 2]}'),
        link_of(b'{"input_shape": 5}'),
        link_of(b'{"input_shape": [1, "a", 3]}'),
        link_of(b'{"num_classes": -1}'),
        link_of(b'{"backbone": 7}'),
        link_of(b'{"__class__": "os.system", "args": ["rm -rf /"]}'),
        link_of(json.dumps({"name": "x"}).encode())[:-6],  # truncated
        "1" + "A" * (MAX_LINK_CHARS + 10),
    ],
)
def test_damaged_foreign_or_hostile_links_are_a_spec_error(link):
    with pytest.raises(SpecError):
        spec_from_link(link)


def test_a_zlib_bomb_is_refused_without_inflating_past_the_cap(monkeypatch):
    bomb = link_of(b"{" + b" " * (2 * 1024 * 1024) + b"}")  # 2 MB of spaces, under 3,000 characters packed
    assert len(bomb) <= MAX_LINK_CHARS
    inflated = []
    real = zlib.decompressobj

    class Spy:
        def __init__(self):
            self.inner = real()

        def decompress(self, data, max_length=0):
            out = self.inner.decompress(data, max_length)
            inflated.append(len(out))
            return out

        def __getattr__(self, name):
            return getattr(self.inner, name)

    monkeypatch.setattr(zlib, "decompressobj", Spy)
    with pytest.raises(SpecError, match="unpacks to more than"):
        spec_from_link(bomb)
    assert inflated and sum(inflated) <= MAX_JSON_BYTES + 1


def test_editable_spec_accepts_what_the_builder_edits():
    assert editable_spec({"name": "n", "layers": [{"type": "conv9d"}]})  # unknown types: the summary says so
    assert editable_spec(preset_spec("resnet18_transfer"))
