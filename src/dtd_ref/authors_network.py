"""The C6 network exactly as the authors' code built it (needs PyTorch): for reproducing their table.

:func:`dtd_ref.c6_network` draws the same distribution with NumPy, so its networks differ from the authors' ones.
:func:`authors_c6_network` replays the construction of ``lrp_relations.dtd.MLP(3, 10, 10, 2)`` followed by
``init_weights()`` in the code released with [SL22], with ``torch.manual_seed(seed)``:

1. ``nn.Linear`` layers 10 -> 10 -> 10 -> 2 in that order with PyTorch's default initialisation (float32), each
   followed by a ReLU (also on the output);
2. one version of the released code clamps every bias to <= 0 right after creating its layer
   (``clamp_biases=True``); the version that THEORY.md describes does not (the default here);
3. ``init_weights`` visits every module (Linear, LinearReLU, MLP): each visit multiplies the positive entries of
   every parameter below it by 1.4 in float32, and the LinearReLU visit (the second) sets the bias to -|b|.  So a
   positive weight is scaled by 1.4 three times (2.744 up to float32 rounding) and a positive bias b becomes
   -1.96 b (0 with the clamp).

The float32 weights are then widened to float64 exactly (:func:`dtd_ref.io.from_torch`).
"""

from __future__ import annotations

__all__ = ["authors_c6_network", "AUTHORS_WIDTHS"]

AUTHORS_WIDTHS = (10, 10, 10, 2)
_FACTOR = 1.4
_VISITS = 3  # Linear, LinearReLU, MLP
_BIAS_VISIT = 1  # the LinearReLU visit sets b = -|b|


def authors_c6_network(seed: int = 1, *, clamp_biases: bool = False, widths=AUTHORS_WIDTHS):
    """The authors' C6 network for ``torch.manual_seed(seed)`` as a float64 :class:`dtd_ref.Network`.

    Parameters
    ----------
    seed : int
        The torch seed set before the layers are created.
    clamp_biases : bool
        Clamp biases to <= 0 at creation (one version of the released code) instead of mapping b to -1.96 b.
    widths : sequence of int
        Layer widths (default 10-10-10-2).

    Raises
    ------
    ImportError
        PyTorch is not installed.
    """
    try:
        import torch
    except ImportError as error:
        raise ImportError("authors_c6_network needs PyTorch (pip install 'dtd-ref[torch]'); "
                          "dtd_ref.c6_network draws the same distribution with NumPy") from error
    from .io import from_torch

    if isinstance(seed, bool) or not isinstance(seed, int):
        raise ValueError(f"seed: expected an integer torch seed, got {seed!r}")
    widths = tuple(int(w) for w in widths)
    if len(widths) < 2 or min(widths) < 1:
        raise ValueError(f"widths: expected at least two positive sizes, got {widths!r}")
    torch.manual_seed(seed)
    linears = []
    for d_in, d_out in zip(widths[:-1], widths[1:]):
        linear = torch.nn.Linear(d_in, d_out)  # float32, kaiming-uniform weights, uniform biases
        if clamp_biases:
            linear.bias.data.clamp_(max=0)
        linears.append(linear)
    with torch.no_grad():
        for visit in range(_VISITS):
            for linear in linears:
                for parameter in (linear.weight, linear.bias):
                    positive = parameter.data > 0
                    parameter.data[positive] = _FACTOR * parameter.data[positive]
                if visit == _BIAS_VISIT:
                    linear.bias.data = -linear.bias.data.abs()
    modules = []
    for linear in linears:
        modules += [linear, torch.nn.ReLU()]
    return from_torch(torch.nn.Sequential(*modules))
