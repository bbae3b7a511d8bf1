"""dtd-ref: a pure-NumPy reference implementation of the Deep Taylor Decomposition with exact checks."""

from .exact import to_exact, to_float, to_fraction
from .layers import Dense, LeakyReLU, ReLU
from .models import c6_network, mlp
from .network import (
    Network,
    Trace,
    activation_pattern,
    gradient,
    gradient_x_input,
    jacobian,
    local_affine,
)

__version__ = "0.1.0"

__all__ = [
    "Dense", "ReLU", "LeakyReLU", "Network", "Trace", "mlp", "c6_network",
    "gradient", "jacobian", "local_affine", "gradient_x_input", "activation_pattern",
    "to_exact", "to_fraction", "to_float", "__version__",
]
