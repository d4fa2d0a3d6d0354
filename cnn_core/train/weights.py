"""A run's final weights as model.safetensors, with the spec, class names and normalisation in
its metadata: the file people download, loadable without unpickling anything.
"""

from __future__ import annotations

import json
from pathlib import Path

from safetensors.torch import save_file
from torch import nn

from cnn_core.files import atomic_path


def save_final_weights(run_dir: Path, model: nn.Module, spec: dict, class_names, mean, std) -> Path:
    path = run_dir / "model.safetensors"
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    metadata = {
        "spec": json.dumps(spec),
        "class_names": json.dumps(class_names),
        "mean": json.dumps(mean),
        "std": json.dumps(std),
    }
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata=metadata)
    return path
