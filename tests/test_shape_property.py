"""Property test: the torch-free shape engine agrees with torch's own layers.

Random chains of conv / transposed conv / max pool / avg pool layers are drawn; torch layers
are built directly from the drawn keywords (not through cnn_core.arch.model) and run. Where torch
runs, shapes and parameter counts must match; where torch refuses, summarize must have
raised SpecError first.

800 + 500 = 1,300 examples a run under the "ci" Hypothesis profile (CI set), a tenth of them under
"dev" (see tests/conftest.py); no deadline: each example runs torch layers, seconds on a busy machine.
"""

import warnings

import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn

from cnn_core import SpecError, summarize
from tests.conftest import examples

small = st.integers(1, 4)
stride = st.sampled_from([1, 1, 1, 2, 2, 3])
maybe_pair = lambda inner: st.one_of(inner, st.tuples(inner, inner).map(list))


@st.composite
def conv_layer(draw):
    groups = draw(st.sampled_from([1, 1, 2, 3]))
    return {
        "type": "conv2d",
        "out_channels": draw(st.integers(1, 6)),
        "kernel_size": draw(maybe_pair(small)),
        "stride": draw(maybe_pair(stride)),
        "padding": draw(st.one_of(maybe_pair(st.integers(0, 3)), st.sampled_from(["valid", "same"]))),
        "dilation": draw(maybe_pair(st.integers(1, 3))),
        "groups": groups,
        "bias": draw(st.booleans()),
    }


@st.composite
def transpose_layer(draw):
    return {
        "type": "conv_transpose2d",
        "out_channels": draw(st.integers(1, 6)),
        "kernel_size": draw(maybe_pair(small)),
        "stride": draw(maybe_pair(stride)),
        "padding": draw(maybe_pair(st.integers(0, 3))),
        "output_padding": draw(maybe_pair(st.sampled_from([0, 0, 0, 1, 2]))),
        "dilation": draw(maybe_pair(st.integers(1, 2))),
        "groups": draw(st.sampled_from([1, 1, 2])),
        "bias": draw(st.booleans()),
    }


@st.composite
def pool_layer(draw):
    kind = draw(st.sampled_from(["maxpool2d", "avgpool2d"]))
    layer = {
        "type": kind,
        "kernel_size": draw(maybe_pair(small)),
        "padding": draw(maybe_pair(st.sampled_from([0, 0, 1, 2]))),
        "ceil_mode": draw(st.booleans()),
    }
    if draw(st.booleans()):
        layer["stride"] = draw(maybe_pair(stride))
    if kind == "maxpool2d":
        layer["dilation"] = draw(maybe_pair(st.integers(1, 2)))
    return layer


def torch_layer(layer: dict, in_channels: int) -> nn.Module:
    kw = {k: (tuple(v) if isinstance(v, list) else v) for k, v in layer.items() if k != "type"}
    if layer["type"] == "conv2d":
        return nn.Conv2d(in_channels, **kw)
    if layer["type"] == "conv_transpose2d":
        return nn.ConvTranspose2d(in_channels, **kw)
    if layer["type"] == "maxpool2d":
        return nn.MaxPool2d(**kw)
    return nn.AvgPool2d(**kw)


def torch_forward(spec):
    """Shapes and parameter count according to torch, or None if torch refuses."""
    c, h, w = spec["input_shape"]
    x = torch.zeros(2, c, h, w)
    shapes, params = [], 0
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for layer in spec["layers"]:
                module = torch_layer(layer, x.shape[1])
                params += sum(p.numel() for p in module.parameters())
                x = module(x)
                if x.numel() == 0 or min(x.shape) < 1:
                    return None
                shapes.append(tuple(x.shape[1:]))
    except (RuntimeError, ValueError):
        return None
    return shapes, params


@settings(max_examples=examples(800), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    channels=st.sampled_from([1, 2, 3, 6]),
    h=st.integers(1, 24),
    w=st.integers(1, 24),
    layers=st.lists(st.one_of(conv_layer(), transpose_layer(), pool_layer()), min_size=1, max_size=4),
)
def test_shape_engine_matches_torch(channels, h, w, layers):
    spec = {"input_shape": [channels, h, w], "layers": layers}
    try:
        summary = summarize(spec)
    except SpecError:
        summary = None
    truth = torch_forward(spec)
    if summary is None:
        assert truth is None, f"SpecError but torch ran: {spec}"
        return
    assert truth is not None, f"torch refused a spec summarize accepted: {spec}"
    shapes, params = truth
    assert [r.output_shape for r in summary.rows] == shapes
    assert summary.total_params == params


@st.composite
def plausible_layer(draw):
    """Layers a person would write: mostly valid, so deep chains get checked too."""
    k = draw(st.integers(1, 5))
    kind = draw(st.sampled_from(["conv2d", "conv2d", "maxpool2d", "avgpool2d", "conv_transpose2d"]))
    if kind == "conv2d":
        return {
            "type": kind,
            "out_channels": draw(st.integers(1, 8)),
            "kernel_size": k,
            "stride": draw(st.sampled_from([1, 1, 2])),
            "padding": draw(st.integers(0, k // 2)),
            "dilation": draw(st.sampled_from([1, 1, 2])),
        }
    if kind == "conv_transpose2d":
        s = draw(st.sampled_from([1, 2]))
        return {
            "type": kind,
            "out_channels": draw(st.integers(1, 8)),
            "kernel_size": k,
            "stride": s,
            "padding": draw(st.integers(0, (k - 1) // 2)),
            "output_padding": draw(st.integers(0, s - 1)),
        }
    return {
        "type": kind,
        "kernel_size": k,
        "stride": draw(st.sampled_from([None, 1, 2])),
        "padding": draw(st.integers(0, k // 2)),
        "ceil_mode": draw(st.booleans()),
    }


@settings(max_examples=examples(500), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    channels=st.sampled_from([1, 3]),
    h=st.integers(8, 32),
    w=st.integers(8, 32),
    layers=st.lists(plausible_layer(), min_size=2, max_size=6),
)
def test_deep_plausible_chains_match_torch(channels, h, w, layers):
    layers = [{k: v for k, v in layer.items() if v is not None} for layer in layers]
    test_shape_engine_matches_torch.hypothesis.inner_test(channels, h, w, layers)
