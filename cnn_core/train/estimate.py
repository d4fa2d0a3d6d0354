"""How long a training step of a network takes on this machine, from a few real steps (the
Train page's time-per-epoch estimate).
"""

from __future__ import annotations

import time

import torch
import torch.nn.functional as F

from cnn_core.arch.model import build_model
from cnn_core.train.devices import resolve_device


def measure_step_seconds(spec: dict, batch_size: int, device_name: str = "auto", steps: int = 3) -> float:
    """Seconds per training step of this network on this machine, from a few real steps."""
    device = resolve_device(device_name)
    model = build_model(spec).to(device).train()
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad] or [torch.zeros(1)], lr=1e-3)
    x = torch.randn(batch_size, *spec["input_shape"], device=device)
    y = torch.randint(0, spec["num_classes"], (batch_size,), device=device)

    def step():
        optimizer.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y).backward()
        optimizer.step()

    step()  # warm-up: allocations, kernel selection
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - start) / steps
