"""Blocks in the spec (residual, concatenation, nested): against hand-built torch modules and
torchvision's own ResNet and MobileNetV2 blocks, a property test of random nested blocks against
an eager torch oracle, their error messages, their text form and their names in a built model."""

import json

import pytest
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn
from torchvision.models.mobilenetv2 import InvertedResidual
from torchvision.models.resnet import BasicBlock

from cnn_core import SpecError, build_model, export_pytorch_code, summarize
from cnn_core.arch.blocks import (
    BLOCK_TEMPLATES,
    MAX_BLOCK_DEPTH,
    iter_layers,
    layer_for_module,
    module_label,
    projection_stride,
)
from cnn_core.arch.layer_text import layers_to_rows, parse_chain, rows_to_layers
from cnn_core.arch.model import Concat, Residual
from cnn_core.arch.presets import preset_spec
from cnn_core.arch.summary_types import all_rows
from cnn_core.i18n import t
from tests.conftest import examples


def spec_of(layers, shape=(4, 8, 8), classes=None):
    spec = {"input_shape": list(shape), "layers": layers}
    return spec | ({"num_classes": classes} if classes else {})


def conv(out, k=3, **kw):
    return {"type": "conv2d", "out_channels": out, "kernel_size": k, **kw}


BN, RELU = {"type": "batchnorm2d"}, {"type": "relu"}


def randomise(model: nn.Module, seed: int = 0) -> nn.Module:
    """Random weights and running statistics (batch norm's defaults would hide a swapped tensor)."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for tensor in list(model.parameters()) + [b for b in model.buffers() if b.is_floating_point()]:
            tensor.copy_(torch.rand(tensor.shape, generator=generator) + 0.5)
    return model.eval()


def copy_in_order(source: nn.Module, target: nn.Module) -> None:
    """Load source's tensors into target by position: the two name their layers differently."""
    values = list(source.state_dict().values())
    keys = list(target.state_dict().keys())
    assert len(values) == len(keys)
    target.load_state_dict(dict(zip(keys, values, strict=True)))


@pytest.mark.parametrize("stride, planes", [(1, 8), (2, 16)])
def test_residual_basic_block_equals_torchvisions_basic_block(stride, planes):
    downsample = None
    if stride != 1 or planes != 8:
        downsample = nn.Sequential(nn.Conv2d(8, planes, 1, stride, bias=False), nn.BatchNorm2d(planes))
    reference = randomise(BasicBlock(8, planes, stride, downsample))
    body = [conv(planes, padding=1, stride=stride, bias=False), BN, RELU, conv(planes, padding=1, bias=False), BN]
    model = build_model(spec_of([{"type": "residual", "layers": body}, RELU], (8, 12, 12)))
    residual = model[0]
    assert isinstance(residual, Residual) and (residual.shortcut is None) == (downsample is None)
    # torchvision: conv1, bn1, conv2, bn2, downsample; ours: shortcut first (see Residual), then body
    mapped = {}
    for name, tensor in reference.state_dict().items():
        top, _, rest = name.partition(".")
        where = {"conv1": "body.0", "bn1": "body.1", "conv2": "body.3", "bn2": "body.4"}.get(top)
        mapped[f"0.{where}.{rest}" if where else f"0.shortcut.{rest}"] = tensor
    model.load_state_dict(mapped)
    x = torch.randn(3, 8, 12, 12)
    with torch.no_grad():
        torch.testing.assert_close(model.eval()(x), reference(x))


def test_inverted_residual_equals_torchvisions_mobilenet_v2_block():
    reference = InvertedResidual(16, 16, stride=1, expand_ratio=4)
    for name, module in list(reference.named_modules()):  # the preset uses ReLU where MobileNetV2 has ReLU6
        if isinstance(module, nn.ReLU6):
            parent, _, child = name.rpartition(".")
            setattr(reference.get_submodule(parent), child, nn.ReLU())
    reference = randomise(reference, seed=1)
    spec = preset_spec("mobilenet_small")
    block = next(layer for layer in spec["layers"] if layer["type"] == "residual")
    model = build_model(spec_of([json.loads(json.dumps(block).replace("128", "64").replace("32", "16"))], (16, 7, 7)))
    copy_in_order(reference, model)
    x = torch.randn(2, 16, 7, 7)
    with torch.no_grad():
        torch.testing.assert_close(model.eval()(x), reference(x))


def test_concat_equals_the_branches_computed_by_hand():
    block = {
        "type": "concat",
        "branches": [
            [conv(3, 1)],
            [conv(2, 1), RELU, conv(4, 3, padding=1)],
            [{"type": "maxpool2d", "kernel_size": 3, "stride": 1, "padding": 1}, conv(2, 1)],
            [],
        ],
    }
    model = randomise(build_model(spec_of([block], (5, 6, 6))), seed=2)
    assert isinstance(model[0], Concat) and len(model[0].branches) == 4
    p = dict(model.named_parameters())
    x = torch.randn(2, 5, 6, 6)
    first = F.conv2d(x, p["0.branches.0.0.weight"], p["0.branches.0.0.bias"])
    middle = F.conv2d(x, p["0.branches.1.0.weight"], p["0.branches.1.0.bias"]).relu()
    second = F.conv2d(middle, p["0.branches.1.2.weight"], p["0.branches.1.2.bias"], padding=1)
    pooled = F.max_pool2d(x, 3, 1, 1)
    third = F.conv2d(pooled, p["0.branches.2.1.weight"], p["0.branches.2.1.bias"])
    with torch.no_grad():
        torch.testing.assert_close(model(x), torch.cat([first, second, third, x], dim=1))
    assert summarize(spec_of([block], (5, 6, 6))).output_shape == (3 + 4 + 2 + 5, 6, 6)


def test_projection_stride_is_the_smallest_that_fits_a_1x1_convolution():
    for size in range(1, 40):
        for out in range(1, size + 1):
            stride = projection_stride(size, out)
            column, one = torch.zeros(1, 1, size, 1), torch.ones(1, 1, 1, 1)
            fits = [s for s in range(1, size + 1) if F.conv2d(column, one, stride=s).shape[2] == out]
            assert stride == (fits[0] if fits else None), (size, out)
        assert projection_stride(size, size + 1) is None


# ---------------------------------------------------------------- random nested blocks


@st.composite
def plain_layer(draw, tidy: bool):
    """A conv, ReLU, pooling or batch norm layer; tidy: convs padded to keep the size (a stride may
    still halve it), no pooling, so that blocks are mostly valid and projections common."""
    kind = draw(st.sampled_from(["conv", "conv", "relu", "bn"] if tidy else ["conv", "conv", "relu", "pool", "bn"]))
    if kind == "conv":
        kernel = draw(st.sampled_from([1, 3]) if tidy else st.integers(1, 3))
        return conv(
            draw(st.sampled_from([2, 4, 6])),
            kernel,
            stride=draw(st.sampled_from([1, 1, 1, 2])),
            padding=kernel // 2 if tidy else draw(st.sampled_from([kernel // 2, 0, 1])),
            groups=draw(st.sampled_from([1, 1, 2])),
            bias=draw(st.booleans()),
        )
    if kind == "pool":
        return {"type": draw(st.sampled_from(["maxpool2d", "avgpool2d"])), "kernel_size": draw(st.integers(1, 2))}
    return RELU if kind == "relu" else BN


def nested_layers(depth, tidy):
    """Lists of layers where any entry may be a residual or concat block of lists like it."""
    if depth == 0:
        return st.lists(plain_layer(tidy), min_size=1, max_size=3)
    inner = nested_layers(depth - 1, tidy)
    block = st.one_of(
        st.builds(lambda layers, p: {"type": "residual", "layers": layers, "projection": p}, inner, st.booleans()),
        st.builds(lambda branches: {"type": "concat", "branches": branches}, st.lists(inner, min_size=1, max_size=3)),
    )
    return st.lists(st.one_of(plain_layer(tidy), block), min_size=1, max_size=3)


def oracle(layers, x, label_prefix, shapes, params):
    """Runs layers eagerly with torch's functional ops and fresh torch modules, as the block rules
    say (not through cnn_core.arch.model); records each labelled output's shape and counts
    parameters. A layer torch refuses raises RuntimeError (or ValueError)."""
    for position, layer in enumerate(layers):
        label = f"{label_prefix}.{position + 1}" if label_prefix else str(position + 1)
        if layer["type"] == "residual":
            y = oracle(layer["layers"], x, label, shapes, params)
            if y.shape != x.shape:
                if not layer["projection"] or x.dim() != 4:
                    raise RuntimeError("shapes differ")
                strides = []
                for axis in (2, 3):
                    fits = [s for s in range(1, x.shape[axis] + 1) if (x.shape[axis] - 1) // s + 1 == y.shape[axis]]
                    if not fits:
                        raise RuntimeError("no stride")
                    strides.append(fits[0])
                projection = nn.Conv2d(x.shape[1], y.shape[1], 1, tuple(strides), bias=False)
                norm = nn.BatchNorm2d(y.shape[1]).eval()
                params.append(sum(p.numel() for p in (*projection.parameters(), *norm.parameters())))
                x = y + norm(projection(x))
            else:
                x = y + x
        elif layer["type"] == "concat":
            outs = [
                oracle(branch, x, f"{label}[{b + 1}]", shapes, params) if branch else x
                for b, branch in enumerate(layer["branches"])
            ]
            x = torch.cat(outs, dim=1)
        elif layer["type"] == "conv2d":
            module = nn.Conv2d(
                x.shape[1],
                layer["out_channels"],
                layer["kernel_size"],
                layer["stride"],
                layer["padding"],
                groups=layer["groups"],
                bias=layer["bias"],
            )
            params.append(sum(p.numel() for p in module.parameters()))
            x = module(x)
        elif layer["type"] == "batchnorm2d":
            module = nn.BatchNorm2d(x.shape[1]).eval()
            params.append(sum(p.numel() for p in module.parameters()))
            x = module(x)
        elif layer["type"] == "relu":
            x = x.relu()
        else:
            pool = F.max_pool2d if layer["type"] == "maxpool2d" else F.avg_pool2d
            x = pool(x, layer["kernel_size"])
        shapes[label] = tuple(x.shape[1:])
    return x


@settings(max_examples=examples(300), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    channels=st.sampled_from([2, 4]),
    side=st.integers(4, 16),
    layers=st.one_of(nested_layers(3, True), nested_layers(3, False)),
)
def test_random_nested_blocks_match_an_eager_torch_oracle(channels, side, layers):
    spec = spec_of(layers, (channels, side, side))
    shapes, params = {}, []
    try:
        with torch.no_grad():
            out = oracle(layers, torch.zeros(1, channels, side, side), "", shapes, params)
    except (RuntimeError, ValueError):
        with pytest.raises(SpecError):
            summarize(spec)
        return
    summary = summarize(spec)
    assert summary.output_shape == tuple(out.shape[1:])
    assert summary.total_params == sum(params)
    projections = {id(row.shortcut) for row in all_rows(summary) if row.shortcut}
    for row in all_rows(summary):
        if id(row) not in projections:  # a projection has no label of its own in the oracle
            assert shapes[row.number] == row.output_shape, row.number
    model = build_model(spec)
    assert sum(p.numel() for p in model.parameters()) == sum(params)
    with torch.no_grad():
        assert tuple(model.eval()(torch.zeros(1, channels, side, side)).shape[1:]) == summary.output_shape
    for name, module in model.named_modules():  # every leaf module is the spec layer its name says
        layer = layer_for_module(spec["layers"], name)
        if layer is not None and layer["type"] in ("conv2d", "batchnorm2d", "relu"):
            kind = {"conv2d": nn.Conv2d, "batchnorm2d": nn.BatchNorm2d, "relu": nn.ReLU}[layer["type"]]
            assert isinstance(module, kind), name
            assert module_label(name) in shapes, name


# ---------------------------------------------------------------- messages, text, names


def message(layers, shape=(4, 8, 8)):
    with pytest.raises(SpecError) as caught:
        summarize(spec_of(layers, shape))
    return caught.value


def test_a_failing_inner_layer_is_named_by_its_label():
    error = message([conv(4, 3, padding=1), {"type": "residual", "layers": [RELU, conv(4, 30)]}])
    assert error.label == "2.2" and error.layer_index == 1 and "layer 2.2 (conv2d)" in str(error)
    deeper = {"type": "concat", "branches": [[RELU], [{"type": "residual", "layers": [{"type": "linear"}]}]]}
    error = message([deeper])
    assert error.label == "1[2].1.1" and error.layer_type == "linear"


def test_branches_that_disagree_are_named_with_their_shapes():
    error = message([{"type": "concat", "branches": [[conv(2, 3, padding=1)], [conv(2, 3)]]}])
    assert error.layer_index == 0 and "branch 2 gives 2×6×6 but branch 1 gives 2×8×8" in str(error)
    assert "padding 1" in error.fix


def test_a_residual_without_projection_must_keep_the_shape():
    error = message([{"type": "residual", "layers": [conv(8, 1)], "projection": False}])
    assert "8×8×8" in str(error) and "4×8×8" in str(error) and "projection=true" in error.fix
    assert summarize(spec_of([{"type": "residual", "layers": [conv(4, 1)], "projection": False}]))
    growing = message(
        [{"type": "residual", "layers": [{"type": "conv_transpose2d", "out_channels": 4, "kernel_size": 2}]}]
    )
    assert "no 1×1 convolution" in str(growing)
    flat = message([{"type": "flatten"}, {"type": "residual", "layers": [{"type": "linear", "out_features": 3}]}])
    assert "feature maps only" in str(flat)


@pytest.mark.parametrize(
    "block, words",
    [
        ({"type": "residual", "layers": []}, "non-empty list"),
        ({"type": "residual", "layers": "relu"}, "non-empty list"),
        ({"type": "residual"}, "layers"),
        ({"type": "concat", "branches": [RELU]}, "1 to 8 branches"),
        ({"type": "concat", "branches": [[RELU]] * 9}, "1 to 8 branches"),
        ({"type": "concat", "branches": []}, "1 to 8 branches"),
        ({"type": "concat", "branches": [["relu"]]}, "layer 1[1].1 (?): a layer must be a JSON object"),
        ({"type": "residual", "layers": [RELU], "shortcut": True}, "shortcut"),
    ],
)
def test_malformed_blocks_get_the_projects_error(block, words):
    error = message([block])
    assert words in str(error), str(error)


def test_nesting_and_layer_counts_are_capped_inside_blocks():
    block = {"type": "residual", "layers": [RELU]}
    for _ in range(MAX_BLOCK_DEPTH):
        block = {"type": "residual", "layers": [block]}
    assert "nested more than" in str(message([block]))
    many = {"type": "concat", "branches": [[RELU] * 100] * 3}
    assert "layers" in str(message([many])) and sum(1 for _ in iter_layers([many])) == 301


def test_blocks_round_trip_through_the_builders_text():
    layers = [
        {"type": "residual", **BLOCK_TEMPLATES["residual"]},
        {"type": "concat", **BLOCK_TEMPLATES["concat"]},
        {"type": "residual", "layers": [RELU], "projection": False},
    ]
    rows = layers_to_rows(layers)
    assert rows[0]["params"].startswith('{"layers": [')
    assert "projection" not in rows[0]["params"] and '"projection": false' in rows[2]["params"]
    assert rows_to_layers(rows) == [
        {k: v for k, v in layer.items() if (k, v) != ("projection", True)} for layer in layers
    ]
    chain = "\n".join(f"{row['type']} {row['params']}" for row in rows)
    assert parse_chain(chain) == rows_to_layers(rows)
    with pytest.raises(SpecError, match="JSON"):
        parse_chain('residual {"layers": [')


def test_block_templates_fit_any_feature_map():
    for channels, side in ((1, 28), (3, 32), (16, 5)):
        for kind, keys in BLOCK_TEMPLATES.items():
            summary = summarize(spec_of([{"type": kind, **keys}], (channels, side, side)))
            assert summary.output_shape[1:] == (side, side)


def test_inner_layers_are_numbered_alike_in_the_summary_the_model_and_the_code():
    spec = preset_spec("resnet_small")
    summary = summarize(spec)
    labels = [row.number for row in all_rows(summary)]
    assert labels[:8] == ["1", "2", "3", "4", "4.1", "4.2", "4.3", "4.4"] and "6 shortcut" in labels
    names = {module_label(name) for name, _ in build_model(spec).named_modules() if name}
    assert set(labels) <= names
    source = export_pytorch_code(spec)
    for row in all_rows(summary):
        if " " not in row.number:  # a projection's comment names it without a shape
            assert f"# {row.number}: -> {'×'.join(map(str, row.output_shape))}" in source


# ---------------------------------------------------------------- trained and looked inside

BLOCK_NET = {
    "input_shape": [1, 28, 28],
    "num_classes": 10,
    "layers": [
        conv(4, 3, stride=2, padding=1),
        RELU,
        {"type": "residual", "layers": [conv(8, 3, stride=2, padding=1), BN, RELU, conv(8, 3, padding=1)]},
        RELU,
        {"type": "concat", "branches": [[conv(4, 1), RELU], [conv(2, 1), RELU, conv(4, 3, padding=1)], []]},
        {"type": "global_avgpool"},
        {"type": "linear", "out_features": 10},
    ],
}


@pytest.fixture(scope="module")
def trained_blocks(tmp_path_factory):
    from cnn_core.inspection.loading import load_run
    from cnn_core.train.config import TrainConfig
    from tests.conftest import train_completed_run

    config = TrainConfig(spec=BLOCK_NET, preset=None, epochs=3, batch_size=64, lr=0.01)
    run_dir = train_completed_run(tmp_path_factory.mktemp("runs") / "20260101-000000-digits-blocks", config)
    return run_dir, load_run(run_dir)


def test_a_block_network_trains_and_its_inner_layers_are_looked_inside(trained_blocks):
    from cnn_core.inspection.layers import activation_stats, conv_layers, feature_maps
    from cnn_core.inspection.loading import load_test_images
    from cnn_core.runs.directory import read_status

    run_dir, loaded = trained_blocks
    assert read_status(run_dir).test_acc > 0.3  # it learns (chance is 0.1; 0.55 on this machine)
    images, _ = load_test_images(run_dir)
    maps = feature_maps(loaded, images[:1])
    shapes = {row.number: row.output_shape for row in all_rows(summarize(loaded.spec))}
    labels = [row[t("inspect.col.layer")] for row in activation_stats(maps)]
    assert "#3.1 conv2d" in labels and "#5[2].3 conv2d" in labels and "#3.3 relu" in labels
    for fmap, label in zip(maps, labels, strict=True):
        number = module_label(fmap.name)
        assert label.startswith(f"#{number} ") and shapes[number] == fmap.shape, fmap.name
    # Grad-CAM's default layer is the last convolution of the main path, never a projection
    assert conv_layers(loaded.model)[-1][0] == "4.branches.1.2"
    assert [name for name, _ in conv_layers(loaded.model)][1:3] == ["2.shortcut.0", "2.body.0"]


def test_grad_cam_on_an_inner_layer_equals_captums(trained_blocks):
    from cnn_core.inspection.attribution import grad_cam
    from cnn_core.inspection.loading import load_test_images
    from tests.test_inspection import captum_grad_cam

    run_dir, loaded = trained_blocks
    images, _ = load_test_images(run_dir)
    x = loaded.normalise(images[:2])
    lit = 0
    for name in ("2.body.3", "4.branches.1.2", "2.shortcut.0"):
        for index, target in ((0, 3), (1, 7)):
            want = captum_grad_cam(loaded.model, loaded.model.get_submodule(name), x[index : index + 1].clone(), target)
            got = grad_cam(loaded, images[index : index + 1], target, name)
            torch.testing.assert_close(got, want, rtol=0, atol=1e-5)
            lit += float(want.max()) == 1.0
    assert lit >= 3  # not every map is all zero: the comparison is not vacuous


def test_a_block_row_without_settings_starts_from_its_template():
    layers = rows_to_layers([{"type": "residual", "params": ""}, {"type": "concat", "params": None}])
    assert layers == [{"type": kind, **BLOCK_TEMPLATES[kind]} for kind in ("residual", "concat")]
    layers[0]["layers"].append({"type": "tanh"})  # a copy: the template itself is never changed
    assert len(BLOCK_TEMPLATES["residual"]["layers"]) == len(layers[0]["layers"]) - 1
    assert rows_to_layers([{"type": "relu", "params": ""}]) == [RELU]


def test_the_look_inside_pages_offer_a_block_networks_inner_layers(runs_root, trained_blocks):
    import shutil

    from tests.apptest import open_app_page

    run_dir, _ = trained_blocks
    shutil.copytree(run_dir, runs_root / run_dir.name)
    at = open_app_page("app_pages/filters.py", timeout=180)
    assert not at.exception and not at.error
    layers = at.selectbox(key="f_layer")
    assert layers.options[-1].startswith("#5[2].3 conv2d") and any("#3 shortcut conv2d" in o for o in layers.options)
    layers.set_value("4.branches.1.2").run()  # a conv inside a branch: its kernels for one output channel
    assert not at.exception and "2 kernels of 3×3" in " ".join(c.value for c in at.caption)
    maps = at.selectbox(key="f_pick").options
    assert "#3.1 conv2d 8×7×7" in maps and "#5[2].3 conv2d 4×7×7" in maps
    sees = open_app_page("app_pages/network_sees.py", timeout=180)
    assert not sees.exception and not sees.error
    assert "#3.4 conv2d" in sees.selectbox(key="s_layer").options


def test_the_exported_code_of_nested_blocks_loads_the_models_weights():
    spec = {
        "input_shape": [2, 9, 9],
        "num_classes": 5,
        "layers": [
            {
                "type": "concat",
                "branches": [
                    [],
                    [{"type": "residual", "layers": [conv(3, 3, stride=2, padding=1), BN]}],
                    [{"type": "maxpool2d", "kernel_size": 3, "stride": 1, "padding": 1}],
                ],
            },
            {"type": "flatten"},
            {
                "type": "concat",
                "branches": [[{"type": "linear", "out_features": 4}], [{"type": "linear", "out_features": 1}]],
            },
        ],
    }
    with pytest.raises(SpecError, match="branch 2 gives 3×5×5 but branch 1 gives 2×9×9"):
        summarize(spec)
    spec["layers"][0]["branches"][1][0]["layers"][0]["stride"] = 1
    model = randomise(build_model(spec), seed=4)
    namespace: dict = {}
    exec(compile(export_pytorch_code(spec), "<exported>", "exec"), namespace)
    exported = namespace["Net"]().eval()
    exported.load_state_dict(model.state_dict())  # strict: the same names and shapes
    x = torch.randn(3, 2, 9, 9)
    with torch.no_grad():
        torch.testing.assert_close(exported(x), model(x))
        assert model(x).shape == (3, 5)
