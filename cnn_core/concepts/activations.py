"""Activation lessons: ReLU with a bias as a threshold, the common activation functions and
their derivatives (closed forms, checked against autograd by the tests), softmax with a
temperature, and how gradients shrink through a real stack of sigmoid vs ReLU layers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from cnn_core.concepts import ConceptError
from cnn_core.concepts.seeded import seeded_layers
from cnn_core.i18n import t

ACTIVATIONS = ("sigmoid", "tanh", "relu", "leaky_relu", "elu", "gelu")
RELU_BIAS_FORMULA = r"y = \max(0,\ x + b) \qquad y > 0 \iff x > -b"  # in LaTeX

# Shown next to the curves; LaTeX is the same in every language.
FORMULAS: dict[str, tuple[str, str]] = {
    "sigmoid": (r"\sigma(x) = \frac{1}{1 + e^{-x}}", r"\sigma'(x) = \sigma(x)\,(1 - \sigma(x))"),
    "tanh": (r"\tanh(x) = \frac{e^{x} - e^{-x}}{e^{x} + e^{-x}}", r"\tanh'(x) = 1 - \tanh^2(x)"),
    "relu": (r"\mathrm{ReLU}(x) = \max(0, x)", r"\mathrm{ReLU}'(x) = \begin{cases}1 & x > 0\\0 & x \le 0\end{cases}"),
    "leaky_relu": (
        r"f(x) = \begin{cases}x & x > 0\\ a x & x \le 0\end{cases}",
        r"f'(x) = \begin{cases}1 & x > 0\\ a & x \le 0\end{cases}",
    ),
    "elu": (
        r"f(x) = \begin{cases}x & x > 0\\ \alpha (e^{x} - 1) & x \le 0\end{cases}",
        r"f'(x) = \begin{cases}1 & x > 0\\ \alpha e^{x} & x \le 0\end{cases}",
    ),
    "gelu": (r"\mathrm{GELU}(x) = x\,\Phi(x)", r"\mathrm{GELU}'(x) = \Phi(x) + x\,\varphi(x)"),
    "softmax": (
        r"p_i = \frac{e^{z_i / T}}{\sum_j e^{z_j / T}}",
        r"\frac{\partial p_i}{\partial z_j} = \frac{p_i\,(\delta_{ij} - p_j)}{T}",
    ),
}


# ---------------------------------------------------------------- ReLU with a bias


@dataclass
class Thresholded:
    bias: float
    output: np.ndarray  # relu(response + bias)
    surviving_fraction: float  # share of positions left above zero
    threshold: float  # a response must exceed −bias to survive


def relu_with_bias(response: np.ndarray, bias: float) -> Thresholded:
    with torch.no_grad():
        output = torch.relu(torch.from_numpy(np.array(response, dtype=np.float32, order="C")) + bias).numpy()
    fraction = float((output > 0).mean()) if output.size else 0.0
    return Thresholded(float(bias), output, fraction, -float(bias))


# ---------------------------------------------------------------- curves


def _torch_activation(name: str, slope: float, alpha: float):
    return {
        "sigmoid": torch.sigmoid,
        "tanh": torch.tanh,
        "relu": torch.relu,
        "leaky_relu": lambda x: torch.nn.functional.leaky_relu(x, slope),
        "elu": lambda x: torch.nn.functional.elu(x, alpha),
        "gelu": torch.nn.functional.gelu,
    }[name]


def activation_curve(
    name: str, x: np.ndarray, slope: float = 0.01, alpha: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """Values (by torch) and derivative (by the closed form in FORMULAS) at the points x.

    At x = 0 ReLU-like derivatives take the value for x ≤ 0, as autograd does.
    """
    if name not in ACTIVATIONS:
        raise ConceptError(t("concept.err.activation", name=name, choices=", ".join(ACTIVATIONS)))
    x = np.asarray(x, dtype=np.float64)
    with torch.no_grad():
        values = _torch_activation(name, slope, alpha)(torch.from_numpy(np.array(x, order="C"))).numpy()
    if name == "sigmoid":
        derivative = values * (1 - values)
    elif name == "tanh":
        derivative = 1 - values**2
    elif name == "relu":
        derivative = (x > 0).astype(np.float64)
    elif name == "leaky_relu":
        derivative = np.where(x > 0, 1.0, slope)
    elif name == "elu":
        derivative = np.where(x > 0, 1.0, alpha * np.exp(np.minimum(x, 0)))
    else:
        cdf = 0.5 * (1 + np.vectorize(math.erf)(x / math.sqrt(2)))
        pdf = np.exp(-(x**2) / 2) / math.sqrt(2 * math.pi)
        derivative = cdf + x * pdf
    return values, derivative


def softmax(logits, temperature: float = 1.0) -> np.ndarray:
    if temperature <= 0:
        raise ConceptError(t("concept.err.temperature", value=temperature))
    z = torch.as_tensor(np.asarray(logits, dtype=np.float64))
    return torch.softmax(z / temperature, dim=0).numpy()


def softmax_jacobian(logits, temperature: float = 1.0) -> np.ndarray:
    """∂p_i/∂z_j = p_i (δ_ij − p_j) / T, by the closed form."""
    p = softmax(logits, temperature)
    return (np.diag(p) - np.outer(p, p)) / temperature


def parse_logits(text: str) -> np.ndarray:
    cells = [c for c in text.replace(",", " ").split() if c]
    try:
        values = np.array([float(c) for c in cells], dtype=np.float64)
    except ValueError:
        raise ConceptError(t("concept.err.logits", text=text)) from None
    if not 2 <= len(values) <= 20 or not np.all(np.isfinite(values)):
        raise ConceptError(t("concept.err.logits", text=text))
    return values


# ---------------------------------------------------------------- gradients through depth

INITS = ("kaiming", "xavier", "pytorch")
MAX_WEIGHT_SCALE = 4.0  # 4^50 overflows float32 long before: the lesson needs no more
WEIGHT_INITS = {  # "pytorch" keeps nn.Linear's own initialisation; draws come from the generator given
    "kaiming": lambda weight, generator: nn.init.kaiming_normal_(weight, nonlinearity="relu", generator=generator),
    "xavier": lambda weight, generator: nn.init.xavier_normal_(weight, generator=generator),
}


@dataclass
class DepthGradients:
    activation: str
    depth: int
    layer_norms: list[float]  # ‖∂loss/∂W‖ of each hidden Linear, from the input side to the output side

    @property
    def first_to_last(self) -> float:
        """How much smaller the first layer's gradient is than the last one's."""
        last = self.layer_norms[-1]
        return self.layer_norms[0] / last if last else 0.0


def stacked_network(activation: str, depth: int, width: int, init: str, seed: int, scale: float = 1.0) -> nn.Sequential:
    """depth × (Linear(width, width), activation), then Linear(width, 1); the hidden weights times
    scale after their initialisation (above 1: each layer enlarges what passes through it).

    Its weights come from a generator of its own seeded with seed (the process-wide one is every
    visitor's), drawn in the order torch.manual_seed(seed) and building the layers one by one would.
    """
    if not 1 <= depth <= 100:
        raise ConceptError(t("concept.err.depth", depth=depth))
    if init not in INITS:
        raise ConceptError(t("concept.err.init", init=init, choices=", ".join(INITS)))
    act = {"sigmoid": nn.Sigmoid, "relu": nn.ReLU, "tanh": nn.Tanh}[activation]

    def build() -> nn.Sequential:
        return nn.Sequential(*[m for _ in range(depth) for m in (nn.Linear(width, width), act())], nn.Linear(width, 1))

    generator = torch.Generator().manual_seed(seed)
    for index, (net, linear) in enumerate(seeded_layers(build, generator)):
        if linear is None:
            return net
        if init in WEIGHT_INITS and index < depth:  # the output layer keeps nn.Linear's own
            WEIGHT_INITS[init](linear.weight, generator)
            nn.init.zeros_(linear.bias)
        if index < depth and scale != 1.0:
            with torch.no_grad():
                linear.weight.mul_(scale)
    raise AssertionError  # seeded_layers always ends with (net, None)


def gradients_through_depth(
    activation: str,
    depth: int,
    width: int = 64,
    batch: int = 256,
    init: str = "kaiming",
    seed: int = 0,
    scale: float = 1.0,
) -> DepthGradients:
    """One backward pass of a mean-squared-error loss on random data through a real stack;
    returns each hidden layer's weight-gradient norm, measured by autograd."""
    if activation not in ("sigmoid", "relu", "tanh"):
        raise ConceptError(t("concept.err.activation", name=activation, choices="sigmoid, relu, tanh"))
    if not (isinstance(scale, (int, float)) and 0 < scale <= MAX_WEIGHT_SCALE):
        raise ConceptError(t("concept.err.weight_scale", scale=scale, high=MAX_WEIGHT_SCALE))
    net = stacked_network(activation, depth, width, init, seed, scale)
    generator = torch.Generator().manual_seed(seed + 1)
    x = torch.randn(batch, width, generator=generator)
    target = torch.randn(batch, 1, generator=generator)
    loss = torch.nn.functional.mse_loss(net(x), target)
    loss.backward()
    norms = [float(m.weight.grad.norm()) for m in net[:-1] if isinstance(m, nn.Linear)]
    return DepthGradients(activation, depth, norms)


def bias_range(response) -> tuple[float, float, float]:
    """Bounds and step (low, high, step) for a bias slider on this response: from −max (nothing
    survives) to −min (everything survives), 5 % wider, always including 0, on a round step.
    A constant response gets room on both sides of its threshold."""
    r = np.asarray(response, dtype=np.float64)
    low, high = (-float(r.max()), -float(r.min())) if r.size else (0.0, 0.0)
    span = high - low
    pad = span * 0.05 if span > 0 else max(1.0, abs(low))
    step = 10.0 ** math.floor(math.log10((span + 2 * pad) / 200))
    digits = max(0, -int(math.floor(math.log10(step))))
    low = round(min(math.floor((low - pad) / step) * step, 0.0), digits)
    high = round(max(math.ceil((high + pad) / step) * step, 0.0), digits)
    return low, high, step
