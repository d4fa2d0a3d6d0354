"""Presets and the seeds' worked examples: the torch-free summary agrees with real torch modules.

Module i of the built nn.Sequential is spec layer i, so a forward hook on each child gives the
real output shape of every summary row.
"""

import urllib.error

import pytest
import torch
from torch import nn

import cnn_core
from cnn_core import PRESETS, SpecError, build_model, get_preset, preset_spec, summarize
from cnn_core.arch.backbones import PretrainedWeightsUnavailable
from cnn_core.arch.blocks import module_label
from cnn_core.arch.summary_types import all_rows

BACKBONE_KEYS = ["resnet18_transfer", "mobilenet_v2_transfer"]
LAYER_KEYS = [key for key in PRESETS if key not in BACKBONE_KEYS]


def test_preset_keys_split_as_expected():
    assert set(BACKBONE_KEYS) <= set(PRESETS)
    assert len(LAYER_KEYS) >= 8
    assert all("backbone" not in PRESETS[k].spec for k in LAYER_KEYS)


def run_with_hooks(model: nn.Sequential, input_shape):
    """The model's output and every module's output shape by module name ('3', '3.body.1', …)."""
    outputs = {}
    handles = [
        module.register_forward_hook(lambda m, i, o, n=name: outputs.__setitem__(n, tuple(o.shape)))
        for name, module in model.named_modules()
        if name
    ]
    try:
        with torch.no_grad():
            out = model.eval()(torch.zeros(2, *input_shape))
    finally:
        for handle in handles:
            handle.remove()
    return out, outputs


def is_container(module: nn.Module) -> bool:
    """A Sequential that only groups layers (a block's body, branch or shortcut): no output of its own."""
    return isinstance(module, (nn.Sequential, nn.ModuleList))


@pytest.mark.parametrize("key", LAYER_KEYS)
def test_layer_preset_matches_torch(key):
    spec = preset_spec(key)
    summary = summarize(spec)
    model = build_model(spec)
    assert isinstance(model, nn.Sequential) and len(model) == len(spec["layers"]) == len(summary.rows)
    out, outputs = run_with_hooks(model, spec["input_shape"])
    assert tuple(out.shape) == (2, spec["num_classes"]) and summary.output_shape == (spec["num_classes"],)
    for row, module in zip(summary.rows, model):
        assert outputs[str(row.index)] == (2, *row.output_shape), f"layer {row.index + 1} ({row.type})"
        assert row.params == sum(p.numel() for p in module.parameters()), f"layer {row.index + 1} ({row.type})"
        assert row.input_shape == (
            tuple(spec["input_shape"]) if row.index == 0 else summary.rows[row.index - 1].output_shape
        )
    by_label = {module_label(name): shape for name, shape in outputs.items() if module_label(name) is not None}
    for row in all_rows(summary):  # blocks' inner layers and projections too
        assert by_label[row.number] == (2, *row.output_shape), row.number
    assert summary.total_params == sum(p.numel() for p in model.parameters())
    assert summary.trainable_params == sum(p.numel() for p in model.parameters() if p.requires_grad)
    modules = dict(model.named_modules())
    produced = [shape for name, shape in outputs.items() if not is_container(modules[name])]
    assert summary.activation_bytes == 4 * sum(int(torch.tensor(s[1:]).prod()) for s in produced)


@pytest.mark.parametrize("key", list(PRESETS))
def test_preset_is_fresh_and_named(key):
    preset = get_preset(key)
    spec = preset_spec(key)
    assert spec["name"] == preset.title and preset.description and preset.source
    spec.setdefault("layers", []).append({"type": "relu"})
    if "backbone" in spec:
        spec["backbone"]["name"] = "changed"
    assert preset_spec(key) == {"name": preset.title, **preset.spec}
    assert "changed" not in str(preset.spec)


def test_get_preset_unknown_key():
    with pytest.raises(KeyError, match="unknown preset 'nope'"):
        get_preset("nope")


# ---------------------------------------------------------------- backbones (offline)


def offline_spec(key, **options):
    spec = preset_spec(key)
    spec["backbone"].update(pretrained=False, **options)
    return spec


HEAD_PARAMS = {"resnet18_transfer": 512 * 10 + 10, "mobilenet_v2_transfer": 1280 * 10 + 10}


@pytest.mark.parametrize("key", BACKBONE_KEYS)
def test_backbone_preset_offline(key):
    spec = offline_spec(key)
    assert spec["backbone"]["freeze_backbone"] is True
    model = build_model(spec)
    total = sum(p.numel() for p in model.parameters())
    trainable = [p for p in model.parameters() if p.requires_grad]
    assert sum(p.numel() for p in trainable) == HEAD_PARAMS[key]
    assert len(trainable) == 2  # the new head's weight and bias
    with torch.no_grad():
        assert tuple(model.eval()(torch.zeros(2, 3, 32, 32)).shape) == (2, 10)
    summary = summarize(spec)
    assert summary.output_shape == (10,)
    assert summary.total_params == total
    assert summary.trainable_params == HEAD_PARAMS[key]
    assert sum(r.params for r in summary.rows) == total
    assert summary.rows[-1].type == "linear" and summary.rows[-1].trainable_params == HEAD_PARAMS[key]


@pytest.mark.parametrize("key", BACKBONE_KEYS)
def test_backbone_unfrozen_and_gray_input(key):
    spec = offline_spec(key, freeze_backbone=False)
    spec["input_shape"] = [1, 28, 28]
    model = build_model(spec)
    total = sum(p.numel() for p in model.parameters())
    assert sum(p.numel() for p in model.parameters() if p.requires_grad) == total
    with torch.no_grad():
        assert tuple(model.eval()(torch.zeros(2, 1, 28, 28)).shape) == (2, 10)
    summary = summarize(spec)
    assert summary.input_shape == (1, 28, 28) and summary.output_shape == (10,)
    assert summary.trainable_params == summary.total_params == total


def test_backbone_keeps_imagenet_head_when_asked():
    spec = {
        "input_shape": [3, 32, 32],
        "num_classes": 1000,
        "backbone": {"name": "resnet18", "pretrained": False, "replace_head": False},
    }
    assert summarize(spec).output_shape == (1000,)
    assert summarize(spec).trainable_params == 0  # frozen by default, original head kept


def test_pretrained_weights_offline_message(monkeypatch):
    calls = []

    def offline(*args, **kwargs):
        calls.append(args)
        raise urllib.error.URLError("offline")

    # torchvision binds the name at import, so patch where it is looked up as well
    import torchvision.models._api as tv_api

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", offline)
    monkeypatch.setattr(tv_api, "load_state_dict_from_url", offline, raising=False)
    spec = preset_spec("resnet18_transfer")
    assert spec["backbone"]["pretrained"] is True
    with pytest.raises(PretrainedWeightsUnavailable) as info:
        build_model(spec)
    assert calls, "the weights loader was not reached"
    message = str(info.value)
    assert "offline" in message and "pretrained" in message
    assert "resnet18" in message and "URLError" in message
    assert not isinstance(info.value, SpecError)
    # the summary never needs the weights
    assert summarize(spec).output_shape == (10,)


# ---------------------------------------------------------------- the seeds' worked examples


def one_layer(layer, input_shape):
    return {"input_shape": list(input_shape), "layers": [layer]}


def check_against_torch(spec, module: nn.Module):
    """summarize's shape and params equal those of the torch module built by hand."""
    summary = summarize(spec)
    with torch.no_grad():
        out = module(torch.zeros(1, *spec["input_shape"]))
    assert summary.output_shape == tuple(out.shape[1:])
    assert summary.total_params == sum(p.numel() for p in module.parameters())
    return summary


def test_5x5_input_3x3_kernel_gives_3x3():
    s = check_against_torch(
        one_layer({"type": "conv2d", "out_channels": 1, "kernel_size": 3}, (1, 5, 5)), nn.Conv2d(1, 1, 3)
    )
    assert s.output_shape == (1, 3, 3)


def test_32_filters_on_5x5_gives_32x3x3():
    s = check_against_torch(
        one_layer({"type": "conv2d", "out_channels": 32, "kernel_size": 3}, (1, 5, 5)), nn.Conv2d(1, 32, 3)
    )
    assert s.output_shape == (32, 3, 3)
    assert s.total_params == 32 * 9 + 32


def test_same_padding_stride_2_is_padding_1_numerically():
    with pytest.raises(ValueError):  # torch refuses 'same' with stride 2 ...
        nn.Conv2d(1, 1, 3, stride=2, padding="same")
    with pytest.raises(SpecError, match="'same' only works with stride 1"):  # ... and so does the spec
        summarize(
            one_layer(
                {"type": "conv2d", "out_channels": 1, "kernel_size": 3, "stride": 2, "padding": "same"}, (1, 5, 5)
            )
        )
    s = check_against_torch(
        one_layer({"type": "conv2d", "out_channels": 1, "kernel_size": 3, "stride": 2, "padding": 1}, (1, 5, 5)),
        nn.Conv2d(1, 1, 3, stride=2, padding=1),
    )
    assert s.output_shape == (1, 3, 3)


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
def test_same_padding_stride_1_keeps_size():
    s = check_against_torch(
        one_layer({"type": "conv2d", "out_channels": 2, "kernel_size": 4, "padding": "same"}, (1, 7, 7)),
        nn.Conv2d(1, 2, 4, padding="same"),
    )
    assert s.output_shape == (2, 7, 7)


def test_28_to_26_to_13():
    spec = {
        "input_shape": [1, 28, 28],
        "layers": [{"type": "conv2d", "out_channels": 32, "kernel_size": 3}, {"type": "maxpool2d", "kernel_size": 2}],
    }
    s = check_against_torch(spec, nn.Sequential(nn.Conv2d(1, 32, 3), nn.MaxPool2d(2)))
    assert [r.output_shape for r in s.rows] == [(32, 26, 26), (32, 13, 13)]  # 13, not 25: stride = kernel


def test_seed004_28_12_5_and_250_features():
    s = summarize(preset_spec("seed004_leaky_cnn"))
    convs = [r for r in s.rows if r.type == "conv2d"]
    assert [r.output_shape for r in convs] == [(10, 12, 12), (10, 5, 5)]
    flat = next(r for r in s.rows if r.type == "flatten")
    assert flat.output_shape == (250,)
    linear = next(r for r in s.rows if r.type == "linear")
    assert linear.input_shape == (250,) and linear.params == 250 * 10 + 10
    model = build_model(preset_spec("seed004_leaky_cnn"))
    assert model[linear.index].weight.shape == (10, 250)


def test_seed000_flatten_4096_and_fc1():
    s = summarize(preset_spec("seed000_cifar_cnn"))
    flat = next(r for r in s.rows if r.type == "flatten")
    assert flat.input_shape == (64, 8, 8) and flat.output_shape == (64 * 8 * 8,) == (4096,)
    fc1 = next(r for r in s.rows if r.type == "linear")
    assert fc1.params == 4096 * 128 + 128 == 524_416
    assert build_model(preset_spec("seed000_cifar_cnn"))[fc1.index].weight.shape == (128, 4096)


def test_4x4x64_flatten_1024_linear_128():
    spec = {"input_shape": [64, 4, 4], "layers": [{"type": "flatten"}, {"type": "linear", "out_features": 128}]}
    s = check_against_torch(spec, nn.Sequential(nn.Flatten(), nn.Linear(1024, 128)))
    assert s.rows[0].output_shape == (1024,)
    assert s.rows[1].params == 131_200
    assert build_model(spec)[1].weight.shape == (128, 1024)


# ---------------------------------------------------------------- receptive fields


def test_receptive_field_hand_computed_chain():
    spec = {
        "input_shape": [1, 32, 32],
        "layers": [
            {"type": "conv2d", "out_channels": 4, "kernel_size": 3},
            {"type": "conv2d", "out_channels": 4, "kernel_size": 3},
            {"type": "maxpool2d", "kernel_size": 2},
            {"type": "conv2d", "out_channels": 4, "kernel_size": 3},
            {"type": "relu"},
            {"type": "flatten"},
        ],
    }
    rows = summarize(spec).rows
    assert [r.receptive_field for r in rows[:5]] == [(3, 3), (5, 5), (6, 6), (10, 10), (10, 10)]
    assert [r.jump for r in rows[:5]] == [(1, 1), (1, 1), (2, 2), (2, 2), (2, 2)]
    # centre of output unit (0, 0): 1, 2, 2.5, then 2.5 + 1·2 = 4.5 (no padding)
    assert [r.start for r in rows[:4]] == [(1, 1), (2, 2), (2.5, 2.5), (4.5, 4.5)]
    assert rows[5].receptive_field is None and rows[5].jump is None


def test_receptive_field_with_padding_stride_and_dilation():
    spec = {
        "input_shape": [1, 32, 32],
        "layers": [
            {"type": "conv2d", "out_channels": 4, "kernel_size": 3, "stride": 2, "padding": 1},  # rf 3, jump 2
            {"type": "conv2d", "out_channels": 4, "kernel_size": 3, "dilation": 2},  # eff 5: rf 3 + 4·2 = 11
            {"type": "avgpool2d", "kernel_size": [2, 1]},
        ],
    }  # rf 11 + 1·2 = 13 / 11, jump 4 / 2
    rows = summarize(spec).rows
    assert rows[0].receptive_field == (3, 3) and rows[0].jump == (2, 2) and rows[0].start == (0, 0)
    assert rows[1].receptive_field == (11, 11) and rows[1].jump == (2, 2)
    assert rows[2].receptive_field == (13, 11) and rows[2].jump == (4, 2)


def test_receptive_field_brute_force_against_torch_gradients():
    """The rf of the last layer equals the span of input pixels with a non-zero gradient."""
    spec = {
        "input_shape": [1, 40, 40],
        "layers": [
            {"type": "conv2d", "out_channels": 2, "kernel_size": 3},
            {"type": "conv2d", "out_channels": 2, "kernel_size": 3, "stride": 2},
            {"type": "avgpool2d", "kernel_size": 2},
            {"type": "conv2d", "out_channels": 2, "kernel_size": 3, "dilation": 2},
        ],
    }
    row = summarize(spec).rows[-1]
    model = build_model(spec)
    for m in model:
        if isinstance(m, nn.Conv2d):
            nn.init.constant_(m.weight, 1.0)
    x = torch.ones(1, 1, 40, 40, requires_grad=True)
    out = model(x)
    out[0, 0, 1, 1].backward()
    rows_hit = (x.grad[0, 0].abs().sum(dim=1) > 0).nonzero().flatten()
    span = int(rows_hit.max() - rows_hit.min() + 1)
    assert row.receptive_field == (span, span)
    centre = float(rows_hit.min() + rows_hit.max()) / 2
    assert row.start[0] + 1 * row.jump[0] == centre


def test_cnn_core_exports():
    assert set(cnn_core.__all__) >= {"summarize", "build_model", "export_pytorch_code", "SpecError", "PRESETS"}


def test_seed004_bp_net_against_a_hand_built_torch_network():
    """Seed 004's fully connected classifier: 784 → 200 (LeakyReLU 0.02, LayerNorm) → 10 sigmoid outputs."""
    reference = nn.Sequential(
        nn.Flatten(), nn.Linear(784, 200), nn.LeakyReLU(0.02), nn.LayerNorm(200), nn.Linear(200, 10), nn.Sigmoid()
    )
    spec = preset_spec("seed004_bp")
    summary = summarize(spec)
    expected = sum(p.numel() for p in reference.parameters())
    assert summary.total_params == expected == 784 * 200 + 200 + 2 * 200 + 200 * 10 + 10
    model = build_model(spec)
    model.load_state_dict(reference.state_dict())  # the same modules, in the same order
    x = torch.rand(5, 1, 28, 28)
    torch.testing.assert_close(model(x), reference(x))


@pytest.mark.parametrize("affine", [True, False])
def test_layernorm_counts_and_normalises_as_torchs(affine):
    spec = {
        "input_shape": [3, 4, 4],
        "layers": [{"type": "flatten"}, {"type": "layernorm", "affine": affine, "eps": 1e-3}],
    }
    reference = nn.LayerNorm(48, eps=1e-3, elementwise_affine=affine)
    assert summarize(spec).rows[1].params == sum(p.numel() for p in reference.parameters()) == (96 if affine else 0)
    x = torch.randn(6, 3, 4, 4)
    torch.testing.assert_close(build_model(spec)(x), reference(x.flatten(1)))
    with pytest.raises(SpecError, match="flatten"):  # on a feature map it is refused, with the fix
        summarize({"input_shape": [3, 4, 4], "layers": [{"type": "layernorm"}]})
