"""Torchvision backbones for transfer learning: building, freezing, head replacement, and
their summary from a real forward pass with hooks (their branches defeat a static walk).

Pretrained weights come through torchvision's own loader when the machine is online or the
file is already cached; otherwise PretrainedWeightsUnavailable says so, and switching
'pretrained' off continues with random initialisation. Before anything downloads, the Train page
asks where the weights stand (weights_cached, weights_reachable: a HEAD request, nothing
downloaded) and fetches them only when the user asks (fetch_weights, with progress).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import urllib.request
from collections.abc import Callable
from functools import cache
from pathlib import Path
from urllib.parse import urlparse

import torch
from torch import nn

from cnn_core.arch import shapes
from cnn_core.arch.budget import Budget
from cnn_core.arch.spec import SpecError, check_top_level, normalize_backbone, parse_input_shape, parse_num_classes
from cnn_core.arch.summary import check_caps
from cnn_core.arch.summary_types import BYTES_PER_VALUE, LayerSummary, ReceptiveField, Summary
from cnn_core.errors import CnnLabError
from cnn_core.i18n import t
from cnn_core.settings import get_settings

MIN_SIDE = 16


@cache
def _builder(name: str) -> tuple:
    """(constructor, default weights, head's module name) of backbone name. torchvision is imported
    here, not at the top: it pulls in torch._dynamo, a second or more of every worker's start."""
    from torchvision import models

    return {
        "resnet18": (models.resnet18, models.ResNet18_Weights.DEFAULT, "fc"),
        "mobilenet_v2": (models.mobilenet_v2, models.MobileNet_V2_Weights.DEFAULT, "classifier.1"),
    }[name]


class PretrainedWeightsUnavailable(CnnLabError, RuntimeError):
    """Pretrained weights were asked for but cannot be downloaded or read here."""


def weights_url(name: str) -> str:
    """Where torchvision downloads the pretrained weights of backbone name from."""
    return _builder(name)[1].url


def weights_file(name: str) -> Path:
    """Where torchvision's loader keeps (or will keep) the pretrained weights of backbone name."""
    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(urlparse(weights_url(name)).path)


def weights_megabytes(name: str) -> float:
    return float(_builder(name)[1].meta.get("_file_size") or 0.0)


def weights_cached(name: str) -> bool:
    return weights_file(name).is_file()


def weights_reachable(name: str, timeout_s: float = 3.0) -> str | None:
    """None when the weights' server answers a HEAD request (nothing is downloaded); otherwise why not."""
    request = urllib.request.Request(weights_url(name), method="HEAD")
    try:
        with urllib.request.urlopen(request, timeout=timeout_s):  # noqa: S310 - torchvision's own https URL
            return None
    except (OSError, ValueError) as exc:
        return f"{type(exc).__name__}: {exc}"[:200]


def fetch_weights(name: str, on_progress: Callable[[int, int], None] | None = None, chunk: int = 1 << 20) -> Path:
    """Download the pretrained weights of backbone name into torchvision's cache, where its loader
    finds them; on_progress(bytes so far, total bytes or 0) after every chunk. The file appears
    only once complete and its SHA-256 matches the prefix in its name (as torch.hub checks)."""
    url, target = weights_url(name), weights_file(name)
    target.parent.mkdir(parents=True, exist_ok=True)
    prefix = torch.hub.HASH_REGEX.search(target.name)
    digest = hashlib.sha256()
    with tempfile.NamedTemporaryFile(dir=target.parent, prefix=target.name, suffix=".part", delete=False) as out:
        try:
            with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310 - torchvision's own https URL
                total, done = int(response.headers.get("Content-Length") or 0), 0
                while block := response.read(chunk):
                    out.write(block)
                    digest.update(block)
                    done += len(block)
                    if on_progress:
                        on_progress(done, total)
            if prefix and not digest.hexdigest().startswith(prefix.group(1)):
                raise ValueError(t("weights.err.hash", name=target.name))
        except (OSError, ValueError) as exc:
            os.unlink(out.name)
            raise _unavailable(name, exc) from exc
    os.replace(out.name, target)
    return target


def _unavailable(name: str, exc: BaseException) -> PretrainedWeightsUnavailable:
    message = t(
        "weights.unavailable", name=name, reason=type(exc).__name__ + ": " + str(exc)[:200], cache=torch.hub.get_dir()
    )
    return PretrainedWeightsUnavailable(message + " " + t("weights.fallback"))


class TransferNet(nn.Module):
    """A torchvision backbone; gray input is repeated to the three channels it expects."""

    def __init__(self, backbone: nn.Module, gray_input: bool):
        super().__init__()
        self.backbone = backbone
        self.gray_input = gray_input

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.gray_input:
            x = x.expand(-1, 3, -1, -1)
        return self.backbone(x)


def _validated(spec: dict) -> tuple[dict, tuple[int, int, int], int]:
    check_top_level(spec)  # keys, name and description, as for layer specs
    options = normalize_backbone(spec)
    c, h, w = parse_input_shape(spec.get("input_shape"))
    n = parse_num_classes(spec)
    name = options["name"]
    check_caps((c, h, w), get_settings(), "spec.err.input_cap", SpecError)  # before anything is built
    if n is None:
        raise SpecError(t("spec.err.num_classes", got="null"), t("spec.fix.num_classes"))
    if c not in (1, 3):
        raise SpecError(t("spec.err.backbone_channels", name=name, c=c), t("spec.fix.backbone_channels"))
    if min(h, w) < MIN_SIDE:
        raise SpecError(
            t("spec.err.backbone_small", name=name, minimum=MIN_SIDE, h=h, w=w), t("spec.fix.backbone_small")
        )
    if not options["replace_head"] and n != 1000:
        raise SpecError(t("spec.err.backbone_head", name=name, n=n), t("spec.fix.backbone_head"))
    return options, (c, h, w), n


def _set_module(root: nn.Module, dotted: str, module: nn.Module) -> None:
    parent_name, _, child = dotted.rpartition(".")
    parent = root.get_submodule(parent_name) if parent_name else root
    setattr(parent, child, module)


def build_backbone(spec: dict, load_weights: bool = True) -> TransferNet:
    options, (c, _, _), n = _validated(spec)
    ctor, weights, head_name = _builder(options["name"])
    want = weights if options["pretrained"] and load_weights else None
    try:
        net = ctor(weights=want)
    except (OSError, RuntimeError, ValueError) as exc:
        raise _unavailable(options["name"], exc) from exc
    if options["freeze_backbone"]:
        for p in net.parameters():
            p.requires_grad_(False)
    if options["replace_head"]:
        old = net.get_submodule(head_name)
        _set_module(net, head_name, nn.Linear(old.in_features, n))  # new head: always trainable
    return TransferNet(net, gray_input=(c == 1))


def summarize_backbone(spec: dict) -> Summary:
    """Rows for every leaf module call, recorded by hooks during one forward pass.

    Receptive fields follow the main path (residual shortcuts, named 'downsample', are
    skipped), which gives the largest field a unit can have.
    """
    _, (c, h, w), _ = _validated(spec)
    budget = Budget(get_settings())
    # On the meta device the forward pass computes shapes only: no activation is allocated, and the
    # budget refuses a network too large for the settings at the layer where it runs out.
    model = build_backbone(spec, load_weights=False).eval().to("meta")
    names = {m: name for name, m in model.named_modules()}
    rows: list[LayerSummary] = []
    field = ReceptiveField()
    flat = False

    def hook(module, inputs, output):
        nonlocal field, flat
        in_shape, out_shape = tuple(inputs[0].shape[1:]), tuple(output.shape[1:])
        params = sum(p.numel() for p in module.parameters(recurse=False))
        trainable = sum(p.numel() for p in module.parameters(recurse=False) if p.requires_grad)
        macs = 0
        name = names[module]
        if isinstance(module, nn.Conv2d):
            macs = (
                output.numel()
                // output.shape[0]
                * (module.in_channels // module.groups)
                * module.kernel_size[0]
                * module.kernel_size[1]
            )
        elif isinstance(module, nn.Linear):
            macs = module.in_features * module.out_features
        if len(out_shape) != 3:
            flat = True
        elif "downsample" not in name and not flat:
            if isinstance(module, (nn.Conv2d, nn.MaxPool2d)):
                k = _pair(module.kernel_size)
                d = _pair(module.dilation)
                eff = tuple(shapes.effective_kernel(k[a], d[a]) for a in range(2))
                field = field.through(eff, _pair(module.stride), _pair(module.padding))
            elif isinstance(module, nn.AdaptiveAvgPool2d):
                field = field.through(in_shape[1:], (1, 1), (0, 0))
        spatial = len(out_shape) == 3 and not flat
        activation = output.numel() // output.shape[0] * BYTES_PER_VALUE
        budget.add(params, activation, lambda reason, fix: SpecError(reason, fix, len(rows), name))
        rows.append(
            LayerSummary(
                index=len(rows),
                type=type(module).__name__.lower(),
                description=name,
                input_shape=in_shape,
                output_shape=out_shape,
                params=params,
                trainable_params=trainable,
                macs=macs,
                activation_bytes=activation,
                receptive_field=field.rf if spatial else None,
                jump=field.jump if spatial else None,
                start=field.start if spatial else None,
            )
        )

    handles = [m.register_forward_hook(hook) for m in model.modules() if not list(m.children())]
    try:
        with torch.no_grad():
            model(torch.zeros(1, c, h, w, device="meta"))
    finally:
        for handle in handles:
            handle.remove()
    return Summary(
        input_shape=(c, h, w),
        output_shape=rows[-1].output_shape,
        rows=rows,
        total_params=sum(p.numel() for p in model.parameters()),
        trainable_params=sum(p.numel() for p in model.parameters() if p.requires_grad),
        total_macs=sum(r.macs for r in rows),
        activation_bytes=sum(r.activation_bytes for r in rows),
    )


def _pair(value) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else tuple(value)


def export_backbone_code(spec: dict, class_name: str = "Net") -> str:
    options, (c, h, w), n = _validated(spec)
    name = options["name"]
    head_name = _builder(name)[2]
    weights = '"DEFAULT"' if options["pretrained"] else "None"
    head = head_name.replace(".1", "[1]")
    lines = [
        '"""' + t("export.code.backbone_header", title=spec.get("name", name), name=name),
        "",
        t("export.code.backbone_needs"),
        '"""',
        "import torch",
        "from torch import nn",
        "from torchvision import models",
        "",
        "",
        f"class {class_name}(nn.Module):",
        "    def __init__(self, weights=" + weights + "):",
        "        super().__init__()",
        f"        self.backbone = models.{name}(weights=weights)",
    ]
    if options["freeze_backbone"]:
        lines += [
            "        for p in self.backbone.parameters():  # " + t("export.code.frozen"),
            "            p.requires_grad_(False)",
        ]
    if options["replace_head"]:
        lines.append(f"        self.backbone.{head} = nn.Linear(self.backbone.{head}.in_features, {n})")
    lines += [
        f"        self.gray_input = {c == 1}",
        "",
        "    def forward(self, x):",
        "        if self.gray_input:  # " + t("export.code.gray"),
        "            x = x.expand(-1, 3, -1, -1)",
        "        return self.backbone(x)",
        "",
        "",
        'if __name__ == "__main__":',
        f"    model = {class_name}(weights=None).eval()",
        f"    out = model(torch.zeros(2, {c}, {h}, {w}))",
        '    print("output", tuple(out.shape[1:]), "parameters", sum(p.numel() for p in model.parameters()))',
        "",
    ]
    return "\n".join(lines)
