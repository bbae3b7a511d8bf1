"""dtd-ref: a pure-NumPy reference implementation of the Deep Taylor Decomposition with exact checks.

The most used names are importable from the package itself; the modules hold the rest:
``dtd_ref.rules`` (DTD and LRP rules), ``dtd_ref.io`` (save / load / from_torch), ``dtd_ref.sanity`` (C7 analogue,
Sensitivity-n), ``dtd_ref.strategies`` and ``dtd_ref.testing`` (for testing other attribution code; they need
hypothesis), ``dtd_ref.plotting`` (needs matplotlib), ``dtd_ref.lp`` (the checked linprog wrapper),
``dtd_ref.full_dtd.full_dtd`` and ``dtd_ref.lenet.lenet`` (functions named like their modules are not re-exported, so
that ``import dtd_ref.full_dtd`` keeps meaning the module).
"""

from . import io, rules
from .batchnorm import fold_batchnorm
from .conv import Conv2d, Flatten
from .dtd import Explanation, train_free_dtd
from .enumeration import Enumeration, RegionLimitError, enumerate_regions
from .exact import to_exact, to_float, to_fraction
from .full_dtd import ConstantRoots, LineRoot, RegionRoot
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
from .pooling import AvgPool2d, MaxPool2d
from .regions import Region, region_of, regions_of, same_region
from .roots import RootReport, analyze_roots
from .slices import LineRegions, SliceRegions, line_regions, slice_regions

__version__ = "0.1.0"

__all__ = [
    # engine
    "Dense", "ReLU", "LeakyReLU", "Conv2d", "Flatten", "AvgPool2d", "MaxPool2d", "fold_batchnorm",
    "Network", "Trace", "mlp", "c6_network",
    "gradient", "jacobian", "local_affine", "gradient_x_input", "activation_pattern",
    "to_exact", "to_fraction", "to_float",
    # DTD
    "rules", "train_free_dtd", "Explanation", "ConstantRoots", "LineRoot", "RegionRoot",
    # regions
    "Region", "region_of", "regions_of", "same_region", "line_regions", "LineRegions", "slice_regions",
    "SliceRegions", "enumerate_regions", "Enumeration", "RegionLimitError",
    # study
    "analyze_roots", "RootReport",
    "io", "__version__",
]
