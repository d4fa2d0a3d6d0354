"""export_pytorch_code: the generated source defines the same network as build_model.

Same output shape, same parameter count, and the state_dict of build_model's network loads
into the exported class (same keys, same tensor shapes).
"""

import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from cnn_core import PRESETS, SpecError, build_model, export_pytorch_code, preset_spec, summarize

LAYER_KEYS = [key for key, p in PRESETS.items() if "backbone" not in p.spec]

HAND_MADE = {
    "pools_softmax_gelu": {
        "input_shape": [3, 16, 16],
        "num_classes": 10,
        "name": "hand-made 1",
        "layers": [
            {"type": "conv2d", "out_channels": 8, "kernel_size": 3, "padding": "same"},
            {"type": "batchnorm2d"},
            {"type": "gelu", "approximate": "tanh"},
            {"type": "conv2d", "out_channels": 8, "kernel_size": 3, "padding": 1, "groups": 4, "bias": False},
            {
                "type": "conv_transpose2d",
                "out_channels": 4,
                "kernel_size": 3,
                "stride": 2,
                "padding": 1,
                "output_padding": 1,
            },
            {"type": "adaptive_avgpool2d", "output_size": [5, 3]},
            {"type": "dropout2d", "p": 0.1},
            {"type": "global_avgpool"},
            {"type": "linear", "out_features": 10},
            {"type": "softmax"},
        ],
    },
    "global_max_batchnorm1d": {
        "input_shape": [1, 12, 12],
        "num_classes": 3,
        "layers": [
            {
                "type": "conv2d",
                "out_channels": 6,
                "kernel_size": [3, 5],
                "stride": [1, 2],
                "dilation": 2,
                "padding": "valid",
            },
            {"type": "elu", "alpha": 0.5},
            {"type": "global_maxpool"},
            {"type": "batchnorm1d", "momentum": 0.2, "eps": 0.001},
            {"type": "dropout", "p": 0.25},
            {"type": "linear", "out_features": 3, "bias": False},
        ],
    },
    "pool_variants": {
        "input_shape": [2, 15, 15],
        "num_classes": 4,
        "layers": [
            {"type": "conv2d", "out_channels": 4, "kernel_size": 4, "padding": "same", "dilation": 1},
            {"type": "maxpool2d", "kernel_size": 3, "stride": 2, "padding": 1, "dilation": 2, "ceil_mode": True},
            {"type": "leaky_relu", "negative_slope": 0.2},
            {"type": "avgpool2d", "kernel_size": 2, "ceil_mode": True, "count_include_pad": False, "padding": 1},
            {"type": "batchnorm2d", "affine": False},
            {"type": "sigmoid"},
            {"type": "flatten"},
            {"type": "linear", "out_features": 16},
            {"type": "tanh"},
            {"type": "linear", "out_features": 4},
        ],
    },
    "no_num_classes_spatial": {
        "input_shape": [4, 9, 9],
        "layers": [
            {
                "type": "conv_transpose2d",
                "out_channels": 6,
                "kernel_size": [2, 3],
                "stride": [2, 3],
                "groups": 2,
                "dilation": [1, 2],
            },
            {"type": "relu"},
        ],
    },
}

CASES = [pytest.param(lambda k=k: preset_spec(k), id=k) for k in LAYER_KEYS] + [
    pytest.param(lambda s=s: s, id=name) for name, s in HAND_MADE.items()
]


def load_exported(spec, class_name="Net"):
    source = export_pytorch_code(spec, class_name)
    namespace = {"__name__": "exported_net"}
    exec(compile(source, "<exported>", "exec"), namespace)
    return source, namespace[class_name]


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
@pytest.mark.parametrize("make_spec", CASES)
def test_exported_source_defines_the_same_network(make_spec):
    spec = make_spec()
    source, cls = load_exported(spec)
    exported = cls().eval()
    built = build_model(spec).eval()
    summary = summarize(spec)
    assert len(exported) == len(built) == len(spec["layers"])
    n_params = sum(p.numel() for p in built.parameters())
    assert sum(p.numel() for p in exported.parameters()) == n_params == summary.total_params
    assert f"Parameters: {summary.total_params:,}." in source
    state = built.state_dict()
    assert exported.state_dict().keys() == state.keys()
    exported.load_state_dict(state)  # strict: same keys and shapes
    x = torch.randn(2, *spec["input_shape"])
    with torch.no_grad():
        a, b = exported(x), built(x)
    assert tuple(a.shape) == tuple(b.shape) == (2, *summary.output_shape)
    torch.testing.assert_close(a, b)  # same weights, eval mode: the very same function
    for row in summary.rows:  # every layer's comment carries its output shape
        shape = "×".join(map(str, row.output_shape))
        assert f"# {row.index + 1}: -> {shape}" in source


def test_exported_class_name_and_title():
    source, cls = load_exported(preset_spec("lenet5"), class_name="LeNet")
    assert cls.__name__ == "LeNet" and issubclass(cls, nn.Sequential)
    assert source.startswith('"""LeNet-5: generated by CNN Lab')


def test_export_refuses_invalid_spec():
    with pytest.raises(SpecError, match=r"layer 1 \(linear\)"):
        export_pytorch_code({"input_shape": [1, 8, 8], "layers": [{"type": "linear", "out_features": 2}]})


BACKBONE_CASES = {
    f"{name}-{channels}ch": {
        "input_shape": [channels, 32, 32],
        "num_classes": 7,
        "name": f"{name} test",
        "backbone": {"name": name, "pretrained": False, "freeze_backbone": freeze},
    }
    for name, freeze, channels in [("resnet18", True, 3), ("mobilenet_v2", False, 1)]
}
STANDALONE = {"layers-pools_softmax_gelu": HAND_MADE["pools_softmax_gelu"], **BACKBONE_CASES}

RUNNER = """
import runpy, sys
for path in sys.argv[1:]:
    print("==", path, flush=True)
    runpy.run_path(path, run_name="__main__")
"""


@pytest.fixture(scope="module", autouse=True)
def standalone_process(tmp_path_factory):
    """Run every exported file as a script, in one interpreter started before the in-process
    tests, so that its seconds of importing torch overlap with them."""
    folder = tmp_path_factory.mktemp("exported")
    paths = []
    for name, spec in STANDALONE.items():
        path = folder / f"{name}.py"
        path.write_text(export_pytorch_code(spec), encoding="utf-8")
        paths.append(str(path))
    process = subprocess.Popen(
        [sys.executable, "-c", RUNNER, *paths], cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    yield process
    if process.poll() is None:
        process.kill()
        process.communicate()


@pytest.fixture(scope="module")
def standalone_output(standalone_process):
    stdout, stderr = standalone_process.communicate(timeout=240)
    assert standalone_process.returncode == 0, stderr
    results = {}
    for block in stdout.split("== ")[1:]:
        path, _, printed = block.partition("\n")
        match = re.fullmatch(r"output \(([\d, ]*)\) parameters (\d+)\s*", printed)
        assert match, printed
        shape = tuple(int(v) for v in match.group(1).split(",") if v.strip())
        results[Path(path).stem] = (shape, int(match.group(2)))
    assert results.keys() == STANDALONE.keys()
    return results


def test_exported_layer_source_runs_standalone(standalone_output):
    spec = HAND_MADE["pools_softmax_gelu"]
    shape, params = standalone_output["layers-pools_softmax_gelu"]
    summary = summarize(spec)
    assert shape == summary.output_shape == (10,)
    assert params == summary.total_params


@pytest.mark.parametrize("case", list(BACKBONE_CASES))
def test_exported_backbone_source_runs_standalone(standalone_output, case):
    spec = BACKBONE_CASES[case]
    channels = spec["input_shape"][0]
    source = export_pytorch_code(spec)
    assert "weights=None" in source and "DEFAULT" not in source.split('"""')[2]
    built = build_model(spec)
    shape, params = standalone_output[case]
    assert shape == (7,)
    assert params == sum(p.numel() for p in built.parameters()) == summarize(spec).total_params
    # the exported class also loads build_model's weights
    namespace = {"__name__": "exported_net"}
    exec(compile(source, "<exported>", "exec"), namespace)
    exported = namespace["Net"]()
    exported.load_state_dict(built.state_dict())
    trainable = sum(p.numel() for p in exported.parameters() if p.requires_grad)
    assert trainable == sum(p.numel() for p in built.parameters() if p.requires_grad)
    with torch.no_grad():
        assert tuple(exported.eval()(torch.zeros(1, channels, 32, 32)).shape) == (1, 7)


def test_exported_pretrained_backbone_asks_for_default_weights():
    spec = preset_spec("resnet18_transfer")
    source = export_pytorch_code(spec)
    assert 'def __init__(self, weights="DEFAULT")' in source
    assert "self.backbone.fc = nn.Linear(self.backbone.fc.in_features, 10)" in source


# ---------------------------------------------------------------- issue 12, item 1: hostile names

HOSTILE_NAMES = [
    'x"""; open(PWNED, "w"); """',
    'x""" + open(PWNED, "w").name + """',
    "ends with a backslash \\",
    'quote at the end "',
    '\\"""; open(PWNED, "w"); """',
    "\\N{oops",
    "\\x",
    "line\u2028separator\u2029end",
    "é ü 日本 🙂",
]


def hostile_spec(name: str, pwned) -> dict:
    return {
        "input_shape": [1, 8, 8],
        "num_classes": 2,
        "name": name.replace("PWNED", repr(str(pwned))),
        "layers": [{"type": "flatten"}, {"type": "linear", "out_features": 2}],
    }


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_exported_source_keeps_hostile_names_in_the_docstring(name, tmp_path):
    """A name with quotes, backslashes or line separators stays inside the docstring: the file
    compiles to a docstring, imports, the class and the main block, and nothing else."""
    spec = hostile_spec(name, tmp_path / "pwned")
    tree = compile(export_pytorch_code(spec), "<exported>", "exec", flags=0x400, dont_inherit=True)  # AST only
    assert [type(node).__name__ for node in tree.body] == ["Expr", "Import", "ImportFrom", "ClassDef", "If"]
    assert tree.body[0].value.value.startswith(spec["name"] + ": generated by CNN Lab")


def test_running_exported_files_with_hostile_names_runs_no_injected_code(tmp_path):
    """Each exported file, run as a script, prints the network's check and writes nothing."""
    pwned = tmp_path / "pwned"
    paths = []
    for i, name in enumerate(HOSTILE_NAMES):
        path = tmp_path / f"model_{i}.py"
        path.write_text(export_pytorch_code(hostile_spec(name, pwned)), encoding="utf-8")
        paths.append(str(path))
    script = "import runpy, sys\nfor p in sys.argv[1:]: runpy.run_path(p, run_name='__main__')"
    done = subprocess.run(
        [sys.executable, "-c", script, *paths], capture_output=True, text=True, timeout=300, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("output (2,) parameters 130") == len(HOSTILE_NAMES)
    assert not pwned.exists() and sorted(p.name for p in tmp_path.iterdir()) == sorted(Path(p).name for p in paths)


@pytest.mark.parametrize("name", ["a\x00b", "\ud800", "two\nlines", "\x1b[31mred"])
def test_export_refuses_names_that_cannot_be_saved(name):
    spec = {"input_shape": [1, 8, 8], "name": name, "layers": [{"type": "flatten"}]}
    with pytest.raises(SpecError, match="'name' contains a character that cannot be saved or shown"):
        export_pytorch_code(spec)


@pytest.mark.parametrize(
    "class_name", ["Net(nn.Module):\n    pass\nclass X", "import", "torch", "", "1Net", "N" * 65, 3]
)
def test_export_refuses_class_names_that_are_not_identifiers(class_name):
    with pytest.raises(SpecError, match="is not a plain Python name"):
        export_pytorch_code({"input_shape": [1, 8, 8], "layers": [{"type": "flatten"}]}, class_name)


def test_exported_backbone_source_escapes_the_name():
    spec = {
        "input_shape": [3, 32, 32],
        "num_classes": 2,
        "name": 'r"""; import os; os.system("echo pwned"); """',
        "backbone": {"name": "resnet18", "pretrained": False},
    }
    tree = compile(export_pytorch_code(spec), "<exported>", "exec", flags=0x400, dont_inherit=True)
    assert not any(type(node).__name__ == "Expr" and hasattr(node.value, "func") for node in tree.body)
    assert tree.body[0].value.value.startswith(spec["name"] + ": resnet18")
