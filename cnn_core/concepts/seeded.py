"""Networks of the concept lab initialised from a local torch.Generator, never from the process-wide
random generator that every visitor of the server shares (torch.manual_seed would reseed it for all).

The network is built on the meta device (which draws nothing), then every layer gets PyTorch's own
default initialisation from the generator, layer by layer in construction order: with the same seed
the weights are exactly those torch.manual_seed(seed) followed by building the network would give.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

import torch
from torch import nn

_ParameterFree = (nn.Sequential, nn.ReLU, nn.Sigmoid, nn.Tanh, nn.MaxPool2d, nn.AvgPool2d, nn.Flatten)


def default_init_(module: nn.Module, generator: torch.Generator) -> None:
    """PyTorch's reset_parameters of a Linear or convolution, its draws taken from generator."""
    nn.init.kaiming_uniform_(module.weight, a=math.sqrt(5), generator=generator)
    if module.bias is not None:
        fan_in, _ = nn.init._calculate_fan_in_and_fan_out(module.weight)
        bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0.0
        nn.init.uniform_(module.bias, -bound, bound, generator=generator)


def seeded_layers(
    build: Callable[[], nn.Module], generator: torch.Generator
) -> Iterator[tuple[nn.Module, nn.Module | None]]:
    """Builds a network without drawing from the process-wide generator and initialises it layer by
    layer from generator; yields (network, layer) after each Linear or convolution got PyTorch's
    default initialisation, so the caller may re-initialise that layer before the next one draws,
    and finally (network, None). The network lives on the CPU."""
    with torch.device("meta"):
        model = build()
    model = model.to_empty(device="cpu")
    for module in model.modules():
        if isinstance(module, (nn.Linear, nn.modules.conv._ConvNd)):
            default_init_(module, generator)
            yield model, module
        elif isinstance(module, nn.modules.batchnorm._NormBase):
            module.reset_parameters()  # ones, zeros and fresh running statistics: nothing random
        elif not isinstance(module, _ParameterFree) and (
            list(module.parameters(recurse=False)) or list(module.buffers(recurse=False))
        ):
            raise TypeError(type(module).__name__)  # a layer this module cannot initialise yet
    yield model, None


def seeded_network(build: Callable[[], nn.Module], seed: int) -> nn.Module:
    """build() with PyTorch's default initialisation drawn from a generator seeded with seed."""
    generator = torch.Generator().manual_seed(seed)
    *_, (model, _) = seeded_layers(build, generator)
    return model
