"""Training in several processes with PyTorch's own engine. torchrun (torch.distributed.run) starts
the processes and sets RANK, WORLD_SIZE and LOCAL_RANK; this module joins them into a process group
(NCCL on GPUs, gloo on CPUs), says which process is which (Ranks), and holds the few collectives
the loop needs besides DistributedDataParallel's own gradient all-reduce: one small all-reduce
per step so that every process stops, logs and checkpoints at the same step, and the sums of the
loss and the right answers, so that the one metrics stream (written by rank 0) covers every image.

With one process (no torchrun) Ranks() is rank 0 of 1 and nothing here touches torch.distributed.
"""

from __future__ import annotations

import os
import traceback
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

# words of the errors that gloo and NCCL raise when another process of the group is gone
_LOST_WORDS = ("gloo", "nccl", "connection reset", "connection closed", "broken pipe", "processgroup")


@dataclass(frozen=True)
class Ranks:
    """This process's place in the group: rank among world processes, and local_rank on its machine."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        """Rank 0: the one process that writes the run directory."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world > 1

    def device(self, device: torch.device) -> torch.device:
        """The run's device for this process: on CUDA, the GPU of its local rank."""
        if device.type == "cuda" and self.distributed:
            torch.cuda.set_device(self.local_rank)
            return torch.device("cuda", self.local_rank)
        return device

    def agree(self, *flags: bool) -> list[bool]:
        """Each flag true for every process if it is true for any (one all-reduce of a few integers):
        a stop seen by one process, or rank 0's clock saying a log or a checkpoint is due."""
        if not self.distributed:
            return list(flags)
        votes = torch.tensor([int(bool(f)) for f in flags], dtype=torch.int64, device=_collective_device())
        dist.all_reduce(votes, op=dist.ReduceOp.MAX)
        return [bool(v) for v in votes.tolist()]

    def total(self, *values: torch.Tensor) -> list[torch.Tensor]:
        """The sums over every process of these (scalar) tensors, as new tensors on their device."""
        if not self.distributed:
            return list(values)
        stacked = torch.stack([v.detach().to(_collective_device(), torch.float64) for v in values])
        dist.all_reduce(stacked, op=dist.ReduceOp.SUM)
        return [s.to(v.device, v.dtype) for s, v in zip(stacked, values, strict=True)]

    def shard(self, items: torch.Tensor) -> torch.Tensor:
        """This process's share of a global batch: every world-th item from its rank on."""
        return items[self.rank :: self.world] if self.distributed else items

    def barrier(self) -> None:
        if self.distributed:
            dist.barrier()


ONE_PROCESS = Ranks()


def _collective_device() -> torch.device:
    """Where a collective's tensors live: NCCL takes CUDA tensors only, gloo CPU ones."""
    return torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else torch.device("cpu")


def lost_peer(exc: BaseException) -> bool:
    """Whether an error is this process's group falling apart (another process killed, a machine
    lost) rather than a fault of its own: torch.distributed's own error types, an error raised inside
    a collective, or gloo's and NCCL's transport errors (raised as plain RuntimeErrors)."""
    if isinstance(exc, dist.DistError):
        return True
    frames = traceback.extract_tb(exc.__traceback__)
    if any("torch/distributed/" in frame.filename.replace("\\", "/") for frame in frames):
        return True
    text = str(exc).lower()
    return isinstance(exc, RuntimeError) and any(word in text for word in _LOST_WORDS)


def from_environment() -> Ranks:
    """This process's Ranks as torchrun set them (RANK, WORLD_SIZE, LOCAL_RANK); one process without."""
    return Ranks(
        int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1")), int(os.environ.get("LOCAL_RANK", "0"))
    )


def join(device_name: str) -> Ranks:
    """Join the process group torchrun set up (its TCP store, from MASTER_ADDR and MASTER_PORT):
    NCCL when the run trains on CUDA, gloo otherwise."""
    ranks = from_environment()
    if ranks.distributed and not dist.is_initialized():
        wants_cuda = device_name == "cuda" or (device_name == "auto" and torch.cuda.is_available())
        if wants_cuda:
            torch.cuda.set_device(ranks.local_rank)
        dist.init_process_group(backend="nccl" if wants_cuda else "gloo")
    return ranks


class ScoresModel(nn.Module):
    """A network whose forward gives what its loss is computed on (Objective.scores: the values
    entering a final Sigmoid or Softmax), so that DistributedDataParallel wraps exactly that pass."""

    def __init__(self, model: nn.Module, objective):
        super().__init__()
        self.model, self.objective = model, objective

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.objective.scores(self.model, x)


def parallel(model: nn.Module, objective, ranks: Ranks, device: torch.device) -> nn.Module:
    """The model as the training steps call it: itself with one process, else DDP around its scores
    (the gradients averaged over the processes in each backward pass)."""
    if not ranks.distributed:
        return model
    return DistributedDataParallel(
        ScoresModel(model, objective), device_ids=[device.index] if device.type == "cuda" else None
    )


def leave(ranks: Ranks) -> None:
    if ranks.distributed and dist.is_initialized():
        dist.destroy_process_group()
