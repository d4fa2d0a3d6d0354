"""CNN Lab's core: everything the dashboard computes, testable without Streamlit.

Importing this package does not import torch: the shape engine answers instantly, and
`build_model` / `export_pytorch_code` load torch on first use.
"""

from cnn_core.arch.presets import PRESETS, get_preset, preset_spec
from cnn_core.arch.spec import SpecError, dump_spec_json, load_spec_json
from cnn_core.arch.summary import summarize, summarize_until_error
from cnn_core.arch.summary_types import Summary
from cnn_core.i18n import t

__version__ = "0.1.0"  # the same as pyproject.toml's (a test checks); runs record it

__all__ = [
    "PRESETS",
    "SpecError",
    "Summary",
    "build_model",
    "dump_spec_json",
    "export_pytorch_code",
    "get_preset",
    "load_spec_json",
    "preset_spec",
    "summarize",
    "summarize_until_error",
    "t",
]


def build_model(spec: dict):
    """An nn.Module for the spec (see cnn_core.arch.model)."""
    from cnn_core.arch.model import build_model as _build  # torch: only when a model is asked for

    return _build(spec)


def export_pytorch_code(spec: dict, class_name: str = "Net") -> str:
    """Standalone PyTorch source for the spec (see cnn_core.arch.export)."""
    from cnn_core.arch.export import export_pytorch_code as _export  # torch: only when code is asked for

    return _export(spec, class_name)
