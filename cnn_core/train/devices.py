"""Which device a run trains on ('auto' picks CUDA, then Apple's MPS, then the CPU), and how
cuDNN and torch's deterministic algorithms are set up for it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import torch

from cnn_core.i18n import t

# cuBLAS is deterministic only with a fixed workspace (torch's "Reproducibility" notes); it reads
# this when its first handle is created, so it is set before any CUDA work.
CUBLAS_WORKSPACE = ":4096:8"


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(t("device.no_cuda"))
    if name == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise RuntimeError(t("device.no_mps"))
    return torch.device(name)


def available_devices() -> list[str]:
    devices = ["auto", "cpu"]
    if torch.cuda.is_available():
        devices.append("cuda")
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        devices.append("mps")
    return devices


def gpu_count() -> int:
    """CUDA GPUs on this machine: the processes a run may train on here (one per GPU, torchrun)."""
    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def use_channels_last(channels_last: bool | None, device: torch.device, mixed_precision: bool) -> bool:
    """The config's memory format, or when it is None (the default) the faster one for the device:
    channels-last on the CPU, where both seed networks train 1.2-1.35x faster in it (oneDNN's
    convolutions; benchmarks/README.md, "Memory format and threads"); on CUDA only with mixed precision,
    whose tensor-core kernels want it (NVIDIA's and PyTorch's channels-last guidance), not measured
    here; never on MPS."""
    if channels_last is not None:
        return channels_last
    return device.type == "cpu" or (device.type == "cuda" and mixed_precision)


def configure_cudnn(deterministic: bool) -> None:
    """cuDNN's autotuner picks the fastest kernels, which may differ from run to run: a deterministic
    run turns it off and asks for deterministic kernels. Process-wide, and never undone."""
    torch.backends.cudnn.benchmark = not deterministic
    if deterministic:
        torch.backends.cudnn.deterministic = True


def configure_determinism(deterministic: bool) -> None:
    """cuDNN as configure_cudnn sets it, and torch.use_deterministic_algorithms(deterministic).

    Process-wide: for a worker, which trains one run, never for the dashboard's process. warn_only:
    an op without a deterministic kernel (on CUDA: adaptive average pooling's backward, in the
    transfer-learning backbones) warns in worker.log instead of failing the run."""
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", CUBLAS_WORKSPACE)
    configure_cudnn(deterministic)
    torch.use_deterministic_algorithms(deterministic, warn_only=True)


@contextmanager
def determinism(deterministic: bool) -> Iterator[None]:
    """configure_determinism for the duration of the block, the previous settings restored after
    it (so training in a test's or a benchmark's process leaves that process as it was)."""
    before = (
        torch.backends.cudnn.benchmark,
        torch.backends.cudnn.deterministic,
        torch.are_deterministic_algorithms_enabled(),
        torch.is_deterministic_algorithms_warn_only_enabled(),
    )
    configure_determinism(deterministic)
    try:
        yield
    finally:
        torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic = before[0], before[1]
        torch.use_deterministic_algorithms(before[2], warn_only=before[3])
