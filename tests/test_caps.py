"""Memory and time bombs are refused before the work (issue #12, item 5).

Each example of the issue is refused with the project's own error, whose message shows the
estimate, and without the allocation: the torch-free ones are measured with tracemalloc, the
torch ones must not build (or run) the model at all.
"""

from __future__ import annotations

import struct
import tracemalloc
import zlib

import numpy as np
import pytest

from cnn_core.arch import backbones
from cnn_core.arch.calculator import LayerQuery, calculate, window_picture
from cnn_core.arch.model import build_model
from cnn_core.arch.spec import SpecError
from cnn_core.arch.summary import summarize
from cnn_core.data.loaders import load_splits
from cnn_core.errors import CnnLabError
from cnn_core.settings import get_settings
from tests.apptest import open_app_page
from tests.conftest import conv, png_bytes

SMALL_PEAK = 50 * 1024 * 1024  # bytes: far below any of the allocations these examples used to make


def refused(call, *args):
    """The project's error raised by call(*args), and the peak Python allocation on the way."""
    tracemalloc.start()
    try:
        with pytest.raises(CnnLabError) as info:
            call(*args)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < SMALL_PEAK, f"{peak / 2**20:.0f} MiB allocated before the refusal"
    return info.value


def test_adaptive_pool_with_a_huge_output_size_is_refused_before_its_bins():
    spec = {"input_shape": [1, 8, 8], "layers": [{"type": "adaptive_avgpool2d", "output_size": 10**9}]}
    error = refused(summarize, spec)
    assert isinstance(error, SpecError) and error.layer_index == 0
    assert "1000000000" in str(error) and "4096" in str(error)


def test_parameters_are_capped_with_the_estimate():
    spec = {
        "input_shape": [1, 256, 256],
        "layers": [{"type": "flatten"}, {"type": "linear", "out_features": 4096}],  # 65,536 × 4,096 weights
    }
    error = refused(summarize, spec)
    assert error.layer_index == 1 and "268 M" in str(error) and "200 M" in str(error)
    assert "268 M" in str(refused(build_model, spec))  # refused before a weight is allocated


def test_activation_memory_is_capped_at_the_layer_where_it_runs_out():
    # 64×1024×1024 float32 = 256 MiB a layer: the ninth conv passes 2 GiB of layer outputs
    spec = {"input_shape": [3, 1024, 1024], "layers": [conv(64, 3, padding=1) for _ in range(12)]}
    error = refused(summarize, spec)
    assert error.layer_index == 8
    assert "2.2 GiB" in str(error) and "2.0 GiB" in str(error)
    # a single layer needing 512 GiB (petabytes would read the same)
    huge = {"input_shape": [3, 4096, 4096], "layers": [conv(8192, 3, padding=1)]}
    assert "512.0 GiB" in str(refused(summarize, huge))


def test_demo_mode_tightens_the_budget(monkeypatch):
    normal = get_settings()
    monkeypatch.setenv("CNN_LAB_DEMO", "1")
    demo = get_settings()
    assert demo.max_params < normal.max_params and demo.max_activation_bytes < normal.max_activation_bytes
    monkeypatch.setenv("CNN_LAB_MAX_ACTIVATION_MB", "1")
    spec = {"input_shape": [1, 128, 128], "layers": [conv(64, 3, padding=1)]}  # 4 MiB of output
    assert "1.0 MiB" in str(refused(summarize, spec))


@pytest.fixture
def no_building(monkeypatch):
    """Backbone constructors that fail the test if anything tries to build a network."""

    def build(**_):
        raise AssertionError("a backbone was built before the caps were checked")

    real = backbones._builder

    def builder(name):
        _, weights, head = real(name)
        return build, weights, head

    monkeypatch.setattr(backbones, "_builder", builder)


def backbone_spec(shape, name="resnet18"):
    return {"backbone": {"name": name, "pretrained": False}, "input_shape": shape, "num_classes": 10}


@pytest.mark.parametrize("shape", [[3, 30000, 30000], [3, 16, 30000]])
def test_backbone_input_is_capped_before_building(no_building, shape):
    for call in (summarize, backbones.build_backbone):
        error = refused(call, backbone_spec(shape))
        assert isinstance(error, SpecError) and "30000" in str(error) and "4096" in str(error)


def test_backbone_activation_budget_is_counted_without_allocating(monkeypatch):
    def no_real_forward(module, args):
        assert args[0].device.type == "meta", "a backbone summary ran a real forward pass"

    monkeypatch.setattr(backbones.TransferNet, "__init__", _with_hook(backbones.TransferNet.__init__, no_real_forward))
    for name in ("resnet18", "mobilenet_v2"):  # torchvision imported (lazily) before the allocations are counted
        backbones._builder(name)
    error = refused(summarize, backbone_spec([3, 4096, 4096]))  # about 10 GB of layer outputs
    assert isinstance(error, SpecError) and "GiB" in str(error) and "2.0 GiB" in str(error)
    monkeypatch.setenv("CNN_LAB_MAX_ACTIVATION_MB", "16")
    error = refused(summarize, backbone_spec([3, 224, 224], "mobilenet_v2"))
    assert "16.0 MiB" in str(error) and error.layer_type.startswith("backbone.")


def _with_hook(init, pre_hook):
    def wrapped(self, *args, **kwargs):
        init(self, *args, **kwargs)
        self.register_forward_pre_hook(pre_hook)

    return wrapped


def test_calculator_picture_is_refused_before_its_cells_are_built():
    query = LayerQuery("conv2d", 4096, 4096)
    assert calculate(query).output_shape == (1, 4094, 4094)  # the numbers still come
    error = refused(window_picture, query, 0, 0)
    assert "16,777,216" in str(error) and "4,096" in str(error)


def test_calculator_page_says_why_there_is_no_picture():
    page = open_app_page("app_pages/shape_calculator.py")
    page.number_input(key="calc_h").set_value(100).run()
    page.number_input(key="calc_w").set_value(100).run()
    assert not page.exception
    assert any("10,000 cells" in info.value for info in page.info)
    assert not page.get("plotly_chart")


def _png_header(width: int, height: int) -> bytes:
    """A PNG file that declares width×height pixels but holds one row: decoding it would allocate them all."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")
    )


def test_folder_dataset_skips_pictures_over_the_upload_pixel_cap(tmp_path):
    root = tmp_path / "images"
    for cls, value in (("cat", 0), ("dog", 255)):
        (root / cls).mkdir(parents=True)
        for i in range(3):
            (root / cls / f"{i}.png").write_bytes(png_bytes(np.full((4, 4), value, np.uint8)))
        (root / cls / "huge.png").write_bytes(_png_header(12000, 12000))  # 144 M pixels
    tracemalloc.start()
    try:
        splits = load_splits("folder", folder_path=str(root), image_size=8)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < SMALL_PEAK
    assert splits.skipped_files == 2
