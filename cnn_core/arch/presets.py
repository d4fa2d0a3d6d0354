"""Ready-made architecture specs: the seeds' networks, classic designs sized for small images,
and torchvision backbones for transfer learning. Each carries a one-line description and
where it comes from.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from cnn_core.i18n import t


@dataclass(frozen=True)
class Preset:
    key: str
    reference: str  # where it comes from, as the catalogue's preset.<key>.source says it in English
    spec: dict

    @property
    def source(self) -> str:
        return t(f"preset.{self.key}.source")

    @property
    def title(self) -> str:
        return t(f"preset.{self.key}.title")

    @property
    def description(self) -> str:
        return t(f"preset.{self.key}.description")

    def fresh_spec(self) -> dict:
        """A copy that shares no object with the preset nor within itself (the table below reuses
        layer dicts such as RELU), so editing one layer never changes another or the preset."""
        return json.loads(json.dumps(self.spec))


def _conv(out, k=3, **kw):
    return {"type": "conv2d", "out_channels": out, "kernel_size": k, **kw}


def _pool(k=2, **kw):
    return {"type": "maxpool2d", "kernel_size": k, **kw}


RELU = {"type": "relu"}
TANH = {"type": "tanh"}
FLAT = {"type": "flatten"}
BN = {"type": "batchnorm2d"}
LEAKY = {"type": "leaky_relu", "negative_slope": 0.02}  # seed 004's slope
DROPOUT = {"type": "dropout", "p": 0.5}
AVG2 = {"type": "avgpool2d", "kernel_size": 2}


def _fc(n):
    return {"type": "linear", "out_features": n}


def _spec(input_shape: list[int], layers: list[dict]) -> dict:
    return {"input_shape": input_shape, "num_classes": 10, "layers": layers}


def _transfer(name: str) -> dict:
    backbone = {"name": name, "pretrained": True, "freeze_backbone": True, "replace_head": True}
    return {"input_shape": [3, 32, 32], "num_classes": 10, "backbone": backbone}


def _seed000(variant: str) -> dict:
    block = lambda out: [_conv(out, padding=1)] + ([BN] if variant == "bn" else []) + [RELU, _pool()]
    head = [FLAT, _fc(128), RELU] + ([DROPOUT] if variant == "dropout" else []) + [_fc(10)]
    return _spec([3, 32, 32], block(32) + block(64) + head)


def _vgg_small() -> dict:
    blocks = [layer for out in (32, 64, 128) for layer in (_conv(out, padding=1), BN, RELU) * 2 + (_pool(),)]
    return _spec([3, 32, 32], blocks + [FLAT, _fc(256), RELU, DROPOUT, _fc(10)])


_ALEXNET_FEATURES = [_conv(64, 5, padding=2), RELU, _pool(3, stride=2), _conv(192, 5, padding=2), RELU]
_ALEXNET_FEATURES += [_pool(3, stride=2), _conv(384, padding=1), RELU, _conv(256, padding=1), RELU]
_ALEXNET_FEATURES += [_conv(256, padding=1), RELU, _pool(3, stride=2)]
_ALEXNET_HEAD = [FLAT, DROPOUT, _fc(512), RELU, DROPOUT, _fc(512), RELU, _fc(10)]
_LENET = [_conv(6, 5, padding=2), TANH, AVG2, _conv(16, 5), TANH, AVG2, FLAT, _fc(120), TANH, _fc(84), TANH, _fc(10)]
# seed 004's fully connected ("BP") classifier, before it becomes the CNN below
_SEED004_BP = [FLAT, _fc(200), LEAKY, {"type": "layernorm"}, _fc(10), {"type": "sigmoid"}]
_SEED004 = [_conv(10, 5, stride=2), LEAKY, BN, _conv(10, 3, stride=2), LEAKY, BN, FLAT, _fc(10), {"type": "sigmoid"}]

GAP = {"type": "global_avgpool"}


def _conv_bn(out, k=3, stride=1, groups=1, relu=True) -> list[dict]:
    """A bias-free convolution (batch norm supplies the bias), batch norm and, unless relu=False, ReLU."""
    extra = {"stride": stride} if stride > 1 else {}
    extra |= {"groups": groups} if groups > 1 else {}
    return [_conv(out, k, padding=k // 2, bias=False, **extra), BN] + ([RELU] if relu else [])


def _basic_block(out: int, stride: int = 1) -> list[dict]:
    """ResNet's basic block: two 3×3 convolutions and the input added back, then ReLU."""
    body = _conv_bn(out, stride=stride) + _conv_bn(out, relu=False)
    return [{"type": "residual", "layers": body}, RELU]


def _inception(c1: int, c3: tuple[int, int], c5: tuple[int, int], pool: int) -> dict:
    """GoogLeNet's inception module: 1×1, 1×1 → 3×3, 1×1 → 5×5 and 3×3 max pool → 1×1, side by side;
    batch norm after each convolution, as in BN-Inception (Ioffe & Szegedy 2015)."""
    return {
        "type": "concat",
        "branches": [
            _conv_bn(c1, 1),
            _conv_bn(c3[0], 1) + _conv_bn(c3[1], 3),
            _conv_bn(c5[0], 1) + _conv_bn(c5[1], 5),
            [_pool(3, stride=1, padding=1)] + _conv_bn(pool, 1),
        ],
    }


def _separable(channels: int, out: int, stride: int = 1) -> list[dict]:
    """MobileNet's depthwise separable convolution: one 3×3 kernel per channel, then a 1×1 mix."""
    return _conv_bn(channels, stride=stride, groups=channels) + _conv_bn(out, 1)


def _inverted_residual(channels: int, expand: int = 4) -> dict:
    """MobileNetV2's block: widen with 1×1, depthwise 3×3, narrow with 1×1 (no ReLU), input added back."""
    wide = channels * expand
    body = _conv_bn(wide, 1) + _conv_bn(wide, groups=wide) + _conv_bn(channels, 1, relu=False)
    return {"type": "residual", "layers": body}


_RESNET_SMALL = _conv_bn(16) + _basic_block(16) + _basic_block(32, 2) + _basic_block(64, 2) + [GAP, _fc(10)]
_GOOGLENET_MINI = _conv_bn(32) + [_inception(16, (16, 24), (4, 8), 8), _pool()]
_GOOGLENET_MINI += [_inception(32, (24, 48), (8, 16), 16), _pool(), GAP, _fc(10)]
_MOBILENET_SMALL = _conv_bn(16) + _separable(16, 32) + [_inverted_residual(32)]
_MOBILENET_SMALL += _separable(32, 64, stride=2) + [_inverted_residual(64), GAP, _fc(10)]

PRESETS: dict[str, Preset] = {
    p.key: p
    for p in [
        Preset(
            "seed002_mnist_cnn",
            "seed 002",
            _spec([1, 28, 28], [_conv(32), RELU, _pool(), _conv(64), RELU, _pool(), FLAT, _fc(10)]),
        ),
        Preset("seed000_cifar_cnn", "seed 000", _seed000("plain")),
        Preset("seed000_cifar_cnn_dropout", "seed 000", _seed000("dropout")),
        Preset("seed000_cifar_cnn_batchnorm", "seed 000", _seed000("bn")),
        Preset("seed004_bp", "seed 004", _spec([1, 28, 28], _SEED004_BP)),
        Preset("seed004_leaky_cnn", "seed 004", _spec([1, 28, 28], _SEED004)),
        Preset("lenet5", "LeCun et al. 1998; seed 003", _spec([1, 28, 28], _LENET)),
        Preset("vgg_small", "Simonyan & Zisserman 2014; seed 003", _vgg_small()),
        Preset(
            "alexnet_32",
            "Krizhevsky et al. 2012; seeds 001 and 003",
            _spec([3, 32, 32], _ALEXNET_FEATURES + _ALEXNET_HEAD),
        ),
        Preset("resnet_small", "He et al. 2015; seed 003", _spec([3, 32, 32], _RESNET_SMALL)),
        Preset("googlenet_mini", "Szegedy et al. 2014; seed 003", _spec([3, 32, 32], _GOOGLENET_MINI)),
        Preset(
            "mobilenet_small", "Howard et al. 2017, Sandler et al. 2018; seed 003", _spec([3, 32, 32], _MOBILENET_SMALL)
        ),
        Preset("resnet18_transfer", "seed 000; He et al. 2015", _transfer("resnet18")),
        Preset("mobilenet_v2_transfer", "seed 003; Sandler et al. 2018", _transfer("mobilenet_v2")),
    ]
}

DEFAULT_PRESET = "seed002_mnist_cnn"

# Presets that come in regularisation variants (seed 000): variant name -> preset key.
VARIANTS: dict[str, dict[str, str]] = {
    key: {
        "plain": "seed000_cifar_cnn",
        "dropout": "seed000_cifar_cnn_dropout",
        "batchnorm": "seed000_cifar_cnn_batchnorm",
    }
    for key in ("seed000_cifar_cnn", "seed000_cifar_cnn_dropout", "seed000_cifar_cnn_batchnorm")
}


def scratch_spec() -> dict:
    """The smallest useful start: one conv, one classifier layer."""
    return {
        "name": t("preset.scratch.name"),
        "input_shape": [1, 28, 28],
        "num_classes": 10,
        "layers": [_conv(8), RELU, FLAT, _fc(10)],
    }


def get_preset(key: str) -> Preset:
    try:
        return PRESETS[key]
    except KeyError:
        raise KeyError(t("preset.err.unknown", key=repr(key), choices=", ".join(PRESETS))) from None


def preset_spec(key: str) -> dict:
    """The spec of a preset, with its title as the spec's name."""
    preset = get_preset(key)
    return {"name": preset.title, **preset.fresh_spec()}
