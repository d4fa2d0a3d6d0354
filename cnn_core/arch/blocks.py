"""Blocks: layers that hold layers. This module owns what a block is in a spec, how its inner
layers are numbered and found again, and the arithmetic of a residual shortcut. Torch-free.

A ``residual`` block runs its inner ``layers`` and adds its input to their output; when the two
shapes differ, a 1×1 projection (a stride-s convolution without bias, then batch norm, as in
torchvision's ResNet) brings the input to the output's shape, unless ``projection`` is false. A
``concat`` block runs each of its ``branches`` (a list of layers; an empty one passes the input
through) on the same input and stacks their outputs along the channels, as GoogLeNet's inception
module does. Blocks nest. Grouped and depthwise convolutions are conv2d's ``groups``.

Numbering: top-level layer 4 is "4"; the second layer inside it is "4.2"; the first layer of the
third branch of layer 5 is "5[3].1". In a built model those are modules "3.body.1" and
"5.branches.2.0"; a projection is "3.shortcut.0" (conv) and "3.shortcut.1" (batch norm).
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from cnn_core.i18n import t

RESIDUAL, CONCAT = "residual", "concat"
BLOCK_TYPES = (RESIDUAL, CONCAT)
MAX_BRANCHES = 8
MAX_BLOCK_DEPTH = 8  # blocks inside blocks; real networks use two or three levels

# What the builder puts in a new block: a ResNet basic block and a small inception module.
BLOCK_TEMPLATES = {
    RESIDUAL: {
        "layers": [
            {"type": "conv2d", "out_channels": 16, "kernel_size": 3, "padding": 1, "bias": False},
            {"type": "batchnorm2d"},
            {"type": "relu"},
            {"type": "conv2d", "out_channels": 16, "kernel_size": 3, "padding": 1, "bias": False},
            {"type": "batchnorm2d"},
        ]
    },
    CONCAT: {
        "branches": [
            [{"type": "conv2d", "out_channels": 8, "kernel_size": 1}],
            [{"type": "conv2d", "out_channels": 8, "kernel_size": 3, "padding": 1}],
        ]
    },
}


def block_template(kind: str) -> dict:
    """A fresh copy of what the builder puts in a new block of this kind; {} for a plain layer."""
    return json.loads(json.dumps(BLOCK_TEMPLATES.get(kind, {})))


def chains(layer: dict) -> list[tuple[int | None, list]]:
    """A block's chains of inner layers: (None, layers) for a residual block, (b, branch) for each
    branch of a concatenation; none for a plain layer or a block whose chains are not lists."""
    if not isinstance(layer, dict):
        return []
    if layer.get("type") == RESIDUAL and isinstance(layer.get("layers"), list):
        return [(None, layer["layers"])]
    if layer.get("type") == CONCAT and isinstance(layer.get("branches"), list):
        return [(b, branch) for b, branch in enumerate(layer["branches"]) if isinstance(branch, list)]
    return []


def chain_lists(kind: str, value) -> bool:
    """Whether a block's `layers` (a non-empty list) or `branches` (1 to MAX_BRANCHES lists) has
    that form; what is inside is checked layer by layer."""
    if kind == "layers":
        return isinstance(value, list) and len(value) > 0
    return isinstance(value, list) and 1 <= len(value) <= MAX_BRANCHES and all(isinstance(b, list) for b in value)


def inner_label(block_label: str, position: int, branch: int | None) -> str:
    """The label of a block's inner layer at `position` (0-based) of its branch (0-based or None)."""
    return f"{block_label}.{position + 1}" if branch is None else f"{block_label}[{branch + 1}].{position + 1}"


def shortcut_label(block_label: str) -> str:
    return t("block.shortcut_label", label=block_label)


def iter_layers(layers: list, prefix: str = "") -> Iterator[tuple[str, dict]]:
    """(label, layer) for every layer of a (raw) layer list and, depth first, of its blocks."""
    for position, layer in enumerate(layers):
        label = inner_label(prefix, position, None) if prefix else str(position + 1)
        yield from _with_inner(label, layer)


def _with_inner(label: str, layer) -> Iterator[tuple[str, dict]]:
    if not isinstance(layer, dict):
        return
    yield label, layer
    for branch, chain in chains(layer):
        for position, inner in enumerate(chain):
            yield from _with_inner(inner_label(label, position, branch), inner)


def has_feature_maps(spec: dict) -> bool:
    """Whether some layer of a (layer) spec, inside a block or not, works on feature maps: a network
    with a receptive field."""
    from cnn_core.arch.spec import LAYER_TYPES  # the schema imports this module

    return any(
        LAYER_TYPES.get(layer.get("type")) is not None and LAYER_TYPES[layer["type"]].needs == "spatial"
        for _, layer in iter_layers(spec.get("layers") or [])
    )


def projection_stride(size: int, out: int) -> int | None:
    """The stride of a 1×1 convolution (no padding) that turns `size` cells into `out`, the smallest
    if several do; None if none does (the block would have to grow the map, or no stride fits)."""
    for stride in range(1, size + 1):
        if (size - 1) // stride + 1 == out:
            return stride
    return None


def module_label(name: str) -> str | None:
    """The builder's label for a module of a network built from a spec ('3.body.1' is '4.2',
    '5.branches.2.0' is '5[3].1', '3.shortcut.0' is layer 4's shortcut); None for a name that is
    not one (a backbone's 'layer1.0.conv1')."""
    parts = name.split(".")
    if not parts[0].isdigit():
        return None
    label, rest = str(int(parts[0]) + 1), parts[1:]
    while rest:
        if rest[0] == "body" and len(rest) >= 2 and rest[1].isdigit():
            label, rest = inner_label(label, int(rest[1]), None), rest[2:]
        elif rest[0] == "branches" and len(rest) >= 3 and rest[1].isdigit() and rest[2].isdigit():
            label, rest = inner_label(label, int(rest[2]), int(rest[1])), rest[3:]
        elif rest[0] == "shortcut":
            return shortcut_label(label)
        else:
            return None
    return label


def layer_for_module(layers: list, name: str) -> dict | None:
    """The spec layer a module of the built network comes from ('3.body.1' → layers[3]['layers'][1]);
    None for a projection, a container or a name that is not a spec layer's."""
    parts = name.split(".")
    if not parts[0].isdigit() or int(parts[0]) >= len(layers):
        return None
    layer, rest = layers[int(parts[0])], parts[1:]
    while rest:
        found = dict(chains(layer))
        if rest[0] == "body" and len(rest) >= 2 and rest[1].isdigit() and None in found:
            chain, position, rest = found[None], int(rest[1]), rest[2:]
        elif rest[0] == "branches" and len(rest) >= 3 and rest[1].isdigit() and int(rest[1]) in found:
            chain, position, rest = found[int(rest[1])], int(rest[2]), rest[3:]
        else:
            return None
        if position >= len(chain):
            return None
        layer = chain[position]
    return layer if isinstance(layer, dict) else None


def chain_paths(layers: list, path: tuple = (), prefix: str = "") -> list[tuple[str, tuple]]:
    """Every chain of inner layers in a (raw) layer list, depth first, as (label, path): "4" and
    (3, None) for the residual block at layer 4, "5[2]" and (4, 1) for the second branch of layer 5;
    a nested chain's path goes on from its block's: (3, None, 0, 1)."""
    found = []
    for position, layer in enumerate(layers):
        label = inner_label(prefix, position, None) if prefix else str(position + 1)
        for branch, chain in chains(layer):
            where = path + (position, branch)
            found.append((label if branch is None else f"{label}[{branch + 1}]", where))
            found.extend(chain_paths(chain, where, label if branch is None else f"{label}[{branch + 1}]"))
    return found


def chain_at(layers: list, path: tuple) -> list:
    """The chain of inner layers a chain_paths path leads to."""
    for position, branch in zip(path[::2], path[1::2]):
        layers = dict(chains(layers[position]))[branch]
    return layers


def with_chain(layers: list, path: tuple, new: list) -> list:
    """A copy of the layer list with the chain at `path` replaced by `new` (the rest shared)."""
    position, branch, rest = path[0], path[1], path[2:]
    block = dict(layers[position])
    key = "layers" if branch is None else "branches"
    inner = chain_at([block], (0, branch))
    replaced = with_chain(inner, rest, new) if rest else list(new)
    if branch is None:
        block[key] = replaced
    else:
        block[key] = [replaced if b == branch else other for b, other in enumerate(block[key])]
    return [block if p == position else layer for p, layer in enumerate(layers)]
