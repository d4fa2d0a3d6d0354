"""Shape inference over a spec: per-layer output shape, parameters, MACs, activation memory,
receptive field and jump, plus totals. Torch-free for layer specs; backbone specs are
summarised by a real forward pass with hooks (cnn_core.arch.backbones).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from cnn_core.arch import blocks, shapes
from cnn_core.arch.budget import Budget
from cnn_core.arch.formatting import describe_layer, format_shape
from cnn_core.arch.spec import (
    LAYER_TYPES,
    SpecError,
    check_top_level,
    is_backbone,
    normalize_layer,
    parse_input_shape,
    parse_num_classes,
)
from cnn_core.arch.summary_types import BYTES_PER_VALUE, LayerSummary, ReceptiveField, Summary, totals
from cnn_core.i18n import t
from cnn_core.settings import get_settings


def _earlier_stride_hint(rows: list[LayerSummary]) -> int | None:
    """The latest earlier layer that shrank the map the most: the natural one to relax."""
    best, best_ratio = None, 1.0
    for r in rows:
        if len(r.input_shape) == 3 and len(r.output_shape) == 3:
            ratio = (r.input_shape[1] * r.input_shape[2]) / max(1, r.output_shape[1] * r.output_shape[2])
            if ratio >= best_ratio and ratio > 1:
                best, best_ratio = r.index, ratio
    return best


def _too_small(err, h, w, kh, kw, rows) -> SpecError:
    culprit = _earlier_stride_hint(rows)
    fix = (
        t("spec.fix.too_small_input_with", number=culprit + 1) if culprit is not None else t("spec.fix.too_small_input")
    )
    size = f"{kh}" if kh == kw else f"{kh}×{kw}"
    return err(t("spec.err.smaller_than_kernel", h=h, w=w, k=size), fix)


def check_caps(shape: tuple[int, ...], settings, message_key: str, err) -> None:
    """A (C, H, W) shape within the channel and side caps of the settings, else `err`."""
    if max(shape[1:]) > settings.max_input_side or shape[0] > settings.max_channels:
        caps = dict(side=settings.max_input_side, channels=settings.max_channels)
        raise err(t(message_key, shape=format_shape(shape), **caps), t("spec.fix.caps"))


def walk(spec: dict, check_output: bool = True, check_budget: bool = True) -> Iterator[LayerSummary]:
    """Yield one LayerSummary per layer, raising SpecError at the first invalid one (and, with
    check_budget, where the parameters or activation memory pass the settings' caps)."""
    check_top_level(spec)
    settings = get_settings()
    shape: tuple[int, ...] = parse_input_shape(spec.get("input_shape"))
    check_caps(shape, settings, "spec.err.input_cap", SpecError)
    num_classes = parse_num_classes(spec)
    layers = spec.get("layers")
    if not isinstance(layers, list):
        raise SpecError(t("spec.err.layers_list"), t("spec.fix.layers_list"))
    if len(layers) > settings.max_layers:
        raise SpecError(t("spec.err.too_many_layers", n=len(layers), cap=settings.max_layers), t("spec.fix.caps"))
    count = sum(1 for _ in blocks.iter_layers(layers))  # blocks' inner layers too
    if count > settings.max_layers:
        raise SpecError(t("spec.err.too_many_layers", n=count, cap=settings.max_layers), t("spec.fix.caps"))
    rf = ReceptiveField()
    walked = _Walk(settings, [])
    budget = Budget(settings)
    for index, raw in enumerate(layers):
        row = _row(index, None, raw, shape, rf, walked, 0)
        if check_budget:
            budget.add(row.params, row.activation_bytes, lambda reason, fix: SpecError(reason, fix, index, row.type))
        if len(row.output_shape) == 3:
            rf = ReceptiveField.of(row)
        walked.rows.append(row)
        shape = row.output_shape
        yield row
    if check_output and num_classes is not None:
        _check_output(shape, num_classes, walked.rows)


@dataclass
class _Walk:
    """What a walk takes into blocks: the settings and the top-level rows so far (for hints)."""

    settings: Any
    rows: list[LayerSummary]


def _row(index: int, label: str | None, raw, shape, field: ReceptiveField, walked: _Walk, depth: int) -> LayerSummary:
    """The row of one layer, top-level (label None) or inside a block (its label, such as "4.2")."""
    layer = normalize_layer(index, raw, label)
    if layer["type"] not in blocks.BLOCK_TYPES:
        return _layer_step(index, layer, shape, field, walked.rows, walked.settings, label)
    if depth >= blocks.MAX_BLOCK_DEPTH:
        raise SpecError(
            t("spec.err.blocks_deep", most=blocks.MAX_BLOCK_DEPTH),
            t("spec.fix.blocks_deep"),
            index,
            layer["type"],
            label,
        )
    return _block_row(index, label, layer, shape, field, walked, depth)


def _block_row(index, label, layer, shape, field, walked: _Walk, depth: int) -> LayerSummary:
    """A residual or concat block: its chains walked on the same input, then joined."""
    kind, name = layer["type"], label or str(index + 1)

    def err(reason, fix=""):
        return SpecError(reason, fix, index, kind, label)

    chains, outs, fields = [], [], []
    for branch, chain in blocks.chains(layer):
        rows, shape_out, field_out = [], shape, field
        for position, raw in enumerate(chain):
            row = _row(index, blocks.inner_label(name, position, branch), raw, shape_out, field_out, walked, depth + 1)
            rows.append(row)
            shape_out = row.output_shape
            field_out = ReceptiveField.of(row) if len(shape_out) == 3 else field_out
        chains.append(rows)
        outs.append(shape_out)
        fields.append(field_out)
    shortcut = None
    if kind == blocks.RESIDUAL:
        out = outs[0]
        if out != shape:
            shortcut = _projection(index, name, layer, shape, out, field, err)
        fields.append(ReceptiveField.of(shortcut) if shortcut else field)
        text = t("block.about.residual", n=len(chains[0])) + (t("block.about.projection") if shortcut else "")
    else:
        out = _joined(outs, err)
        text = t("block.about.concat", n=len(chains))
    if len(out) == 3:
        check_caps(out, walked.settings, "spec.err.output_cap", err)
    joined = ReceptiveField.hull(fields) if len(out) == 3 else None
    direct = [row for rows in chains for row in rows] + ([shortcut] if shortcut else [])
    params = sum(r.params for r in direct)
    return LayerSummary(
        index=index,
        type=kind,
        description=text,
        input_shape=shape,
        output_shape=out,
        params=params,
        trainable_params=params,
        macs=sum(r.macs for r in direct),
        activation_bytes=sum(r.activation_bytes for r in direct) + _product(out) * BYTES_PER_VALUE,
        receptive_field=joined.rf if joined else None,
        jump=joined.jump if joined else None,
        start=joined.start if joined else None,
        label=label or "",
        chains=chains,
        shortcut=shortcut,
    )


def _projection(index, name, layer, shape, out, field, err) -> LayerSummary:
    """The 1×1 convolution and batch norm that bring a residual block's input to its output's shape."""
    got, want = format_shape(out), format_shape(shape)
    if not layer["projection"]:
        raise err(t("spec.err.residual_shape", got=got, want=want), t("spec.fix.residual_projection"))
    if len(shape) != 3 or len(out) != 3:
        raise err(t("spec.err.residual_flat", got=got, want=want), t("spec.fix.residual_flat"))
    strides = tuple(blocks.projection_stride(shape[a], out[a]) for a in (1, 2))
    if None in strides:
        raise err(t("spec.err.residual_grow", got=got, want=want), t("spec.fix.residual_grow"))
    c, oc = shape[0], out[0]
    new_field = field.through((1, 1), strides, (0, 0))
    return LayerSummary(
        index=index,
        type="conv2d",
        description=t("block.projection", s=strides[0] if strides[0] == strides[1] else "×".join(map(str, strides))),
        input_shape=shape,
        output_shape=out,
        params=c * oc + 2 * oc,  # the convolution has no bias; batch norm has a weight and a bias per channel
        trainable_params=c * oc + 2 * oc,
        macs=c * oc * out[1] * out[2],
        activation_bytes=2 * _product(out) * BYTES_PER_VALUE,
        receptive_field=new_field.rf,
        jump=new_field.jump,
        start=new_field.start,
        label=blocks.shortcut_label(name),
    )


def _joined(outs: list[tuple[int, ...]], err) -> tuple[int, ...]:
    """The shape of branches' outputs stacked along channels (or features); each must match the
    first branch's in everything else."""
    first = outs[0]
    for number, out in enumerate(outs[1:], start=2):
        if len(out) != len(first) or out[1:] != first[1:]:
            got, want = format_shape(out), format_shape(first)
            raise err(t("spec.err.concat_sizes", number=number, got=got, want=want), t("spec.fix.concat_sizes"))
    return (sum(out[0] for out in outs), *first[1:])


def _check_output(shape, num_classes, rows) -> None:
    last = rows[-1].index if rows else None
    last_type = rows[-1].type if rows else None
    if len(shape) == 3:
        raise SpecError(
            t("spec.err.ends_spatial", shape=format_shape(shape), n=num_classes),
            t("spec.fix.ends_spatial", n=num_classes),
            last,
            last_type,
        )
    if shape[0] != num_classes:
        linears = [r.index for r in rows if r.type == "linear"]
        fix = (
            t("spec.fix.set_out_features", number=linears[-1] + 1, n=num_classes)
            if linears
            else t("spec.fix.add_linear", n=num_classes)
        )
        raise SpecError(t("spec.err.wrong_width", got=shape[0], n=num_classes), fix, last, last_type)


def _layer_step(
    index: int, layer: dict, shape: tuple[int, ...], field: ReceptiveField, rows: list[LayerSummary], settings, label
) -> LayerSummary:
    kind = layer["type"]
    needs = LAYER_TYPES[kind].needs

    def err(reason, fix=""):
        return SpecError(reason, fix, index, kind, label)

    if needs == "spatial" and len(shape) != 3:
        fix = (
            t("spec.fix.use_batchnorm1d")
            if kind == "batchnorm2d"
            else (t("spec.fix.use_dropout") if kind == "dropout2d" else t("spec.fix.move_before_flatten"))
        )
        raise err(t("spec.err.needs_spatial", n=shape[0]), fix)
    if needs == "flat" and len(shape) != 1:
        fix = t("spec.fix.use_batchnorm2d") if kind == "batchnorm1d" else t("spec.fix.add_flatten")
        raise err(t("spec.err.needs_flat", shape=format_shape(shape)), fix)

    params = macs = 0
    out: tuple[int, ...] = shape
    new_field: ReceptiveField | None = field if len(shape) == 3 else None
    if kind in ("conv2d", "conv_transpose2d"):
        c, h, w = shape
        k, s, d, g, oc = (layer[key] for key in ("kernel_size", "stride", "dilation", "groups", "out_channels"))
        _check_groups(c, oc, g, err)
    if kind == "conv2d":
        if layer["padding"] == "same" and s != (1, 1):
            raise err(t("spec.err.same_stride"), t("spec.fix.same_stride"))
        before = shapes.conv_padding(layer)
        oh = shapes.conv_out(h, k[0], s[0], before[0][0], d[0], before[0][1])
        ow = shapes.conv_out(w, k[1], s[1], before[1][0], d[1], before[1][1])
        eff = (shapes.effective_kernel(k[0], d[0]), shapes.effective_kernel(k[1], d[1]))
        if oh < 1 or ow < 1:
            raise _too_small(err, h + sum(before[0]), w + sum(before[1]), eff[0], eff[1], rows)
        out = (oc, oh, ow)
        params = oc * (c // g) * k[0] * k[1] + (oc if layer["bias"] else 0)
        macs = oc * oh * ow * (c // g) * k[0] * k[1]
        new_field = field.through(eff, s, (before[0][0], before[1][0]))
    elif kind == "conv_transpose2d":
        p, op = layer["padding"], layer["output_padding"]
        for a in range(2):
            if op[a] >= s[a] and op[a] >= d[a]:
                raise err(t("spec.err.output_padding", op=op[a], s=s[a], d=d[a]), t("spec.fix.output_padding"))
        oh = shapes.conv_transpose_out(h, k[0], s[0], p[0], d[0], op[0])
        ow = shapes.conv_transpose_out(w, k[1], s[1], p[1], d[1], op[1])
        if oh < 1 or ow < 1:
            raise err(t("spec.err.transpose_nonpositive", h=oh, w=ow), t("spec.fix.transpose_nonpositive"))
        out = (oc, oh, ow)
        params = c * (oc // g) * k[0] * k[1] + (oc if layer["bias"] else 0)
        macs = c * h * w * (oc // g) * k[0] * k[1]
        eff = tuple(shapes.effective_kernel(k[a], d[a]) for a in range(2))
        # Each output reads about ceil(span/stride) inputs; the map grows, so jump shrinks.
        reach = tuple(-(-eff[a] // s[a]) for a in range(2))
        new_field = ReceptiveField(
            tuple(int(field.rf[a] + (reach[a] - 1) * field.jump[a]) for a in range(2)),
            tuple(field.jump[a] / s[a] for a in range(2)),
            tuple(field.start[a] - (eff[a] - 1 - p[a]) * field.jump[a] / s[a] for a in range(2)),
        )
    elif kind in ("maxpool2d", "avgpool2d"):
        c, h, w = shape
        k, s, p = layer["kernel_size"], layer["stride"], layer["padding"]
        d = layer.get("dilation", (1, 1))
        for a in range(2):
            if p[a] > k[a] // 2:
                raise err(t("spec.err.pool_padding", p=p[a], k=k[a]), t("spec.fix.pool_padding", most=k[a] // 2))
        oh = shapes.pool_out(h, k[0], s[0], p[0], d[0], layer["ceil_mode"])
        ow = shapes.pool_out(w, k[1], s[1], p[1], d[1], layer["ceil_mode"])
        eff = tuple(shapes.effective_kernel(k[a], d[a]) for a in range(2))
        if oh < 1 or ow < 1:
            raise _too_small(err, h + 2 * p[0], w + 2 * p[1], eff[0], eff[1], rows)
        out = (c, oh, ow)
        new_field = field.through(eff, s, p)
    elif kind == "adaptive_avgpool2d":
        c, h, w = shape
        oh, ow = layer["output_size"]
        out = (c, oh, ow)
        check_caps(out, settings, "spec.err.output_cap", err)  # before the bins: one per output cell
        widest = tuple(max(e - b for b, e in shapes.adaptive_bins(n, o)) for n, o in ((h, oh), (w, ow)))
        new_field = field.through(widest, (h / oh, w / ow), (0, 0))
    elif kind in ("global_avgpool", "global_maxpool"):
        c, h, w = shape
        out = (c,)
        new_field = field.through((h, w), (1, 1), (0, 0))
    elif kind == "flatten":
        out = (_product(shape),)
        new_field = None
    elif kind == "linear":
        params = shape[0] * layer["out_features"] + (layer["out_features"] if layer["bias"] else 0)
        macs = shape[0] * layer["out_features"]
        out = (layer["out_features"],)
    elif kind in ("batchnorm2d", "batchnorm1d", "layernorm"):  # a weight and a bias per channel or feature
        params = 2 * shape[0] if layer["affine"] else 0

    if len(out) == 3:
        check_caps(out, settings, "spec.err.output_cap", err)
    return LayerSummary(
        index=index,
        type=kind,
        description=describe_layer(layer),
        input_shape=shape,
        output_shape=out,
        params=params,
        trainable_params=params,
        macs=macs,
        activation_bytes=_product(out) * BYTES_PER_VALUE,
        receptive_field=new_field.rf if new_field else None,
        jump=new_field.jump if new_field else None,
        start=new_field.start if new_field else None,
        label=label or "",
    )


def _check_groups(c: int, oc: int, g: int, err) -> None:
    if c % g or oc % g:
        raise err(t("spec.err.groups", c=c, oc=oc, g=g), t("spec.fix.groups"))


def _product(shape) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


def summarize(spec: dict) -> Summary:
    """The model summary of a spec; raises SpecError for any invalid spec."""
    if is_backbone(spec):
        from cnn_core.arch.backbones import summarize_backbone  # torch: this module stays torch-free

        return summarize_backbone(spec)
    rows = list(walk(spec))
    return totals(parse_input_shape(spec["input_shape"]), rows)


def summarize_until_error(
    spec: dict, check_output: bool = True, check_budget: bool = True
) -> tuple[Summary | None, SpecError | None]:
    """Every layer up to the first broken one, and that layer's error (or None).

    The calculator's chain view shows the sizes that did work above the failing row.
    """
    rows: list[LayerSummary] = []
    try:
        if is_backbone(spec):
            return summarize(spec), None
        for row in walk(spec, check_output=check_output, check_budget=check_budget):
            rows.append(row)
    except SpecError as exc:
        try:
            shape = parse_input_shape(spec.get("input_shape")) if isinstance(spec, dict) else None
        except SpecError:
            shape = None
        return (totals(shape, rows) if shape else None), exc
    return totals(parse_input_shape(spec["input_shape"]), rows), None
