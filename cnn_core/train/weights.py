"""A run's final weights as model.safetensors, with the spec, class names and normalisation in
its metadata: the file people download, loadable without unpickling anything.
"""

from __future__ import annotations

from pathlib import Path

from torch import nn


def save_final_weights(run_dir: Path, model: nn.Module, spec: dict, class_names, mean, std) -> Path:
    import json

    from safetensors.torch import save_file
    path = run_dir / "model.safetensors"
    tmp = run_dir / ".model.safetensors.tmp"
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    save_file(tensors, str(tmp), metadata={"spec": json.dumps(spec), "class_names": json.dumps(class_names),
                                           "mean": json.dumps(mean), "std": json.dumps(std)})
    tmp.replace(path)
    return path
