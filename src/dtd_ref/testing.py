"""Public assertion helpers for tests of piecewise-linear networks and attributions (numpy.testing style).

Each helper raises ``AssertionError`` with a numpy-testing-like report (how many entries mismatch, the worst one, the
tolerance used) when the property fails, and ``ValueError`` when its preconditions are not met (a point that is not
in the region, a point on a hinge where an interior point is needed), so a wrongly set-up test never passes
vacuously.  In exact mode (an exact network or ``Fraction`` arrays anywhere) every comparison is ``==``; in float64
the tolerances are the named constants below, scaled by the magnitude of the computation (|W| products applied to
|x|), so cancellation does not make them meaningless.

Nothing here imports hypothesis.
"""

from __future__ import annotations

import numbers
from fractions import Fraction

import numpy as np

from ._magnitudes import _abs_network, _coordinate_margin, _layer_rows, _magnitude
from ._validation import as_array, check_index, is_exact
from .exact import _fractions, _inputs_for, to_float, to_fraction
from .network import Network
from .segments import line_regions

__all__ = [
    "assert_exact_equal", "assert_conserves", "assert_affine_on_region",
    "assert_gradient_matches_finite_difference", "assert_taylor_exact",
    "AFFINE_RTOL", "MEMBERSHIP_RTOL", "CONSERVATION_RTOL", "FD_RTOL", "FD_ROUNDING_FACTOR", "FD_MIN_STEP",
    "TAYLOR_RTOL",
]

AFFINE_RTOL = 1e-12        # f(p) vs A p + c, relative to the magnitude |W|...|W||p| + |b| terms
MEMBERSHIP_RTOL = 1e-12    # float64 closed-region membership: (2 s - 1) z >= -MEMBERSHIP_RTOL * magnitude
CONSERVATION_RTOL = 1e-12  # sum(R_lower) + absorbed vs sum(R_upper), relative to the sum of absolute values
FD_RTOL = 1e-9             # finite-difference gradient vs masked weight product, relative to the magnitude
FD_ROUNDING_FACTOR = 64.0  # central differences lose ~ eps * |f| / h; allow this many such units
FD_MIN_STEP = 1e-6         # relative to max(1, |x|_inf): smaller float64 steps are replaced by exact differences
TAYLOR_RTOL = 1e-12        # first-order Taylor identity, relative to the magnitude of both sides


# ---------------------------------------------------------------------------------------------------- reporting
def _fail(title: str, actual: np.ndarray, desired: np.ndarray, bad: np.ndarray, detail: str = "") -> None:
    actual, desired, bad = np.asarray(actual), np.asarray(desired), np.asarray(bad, dtype=bool)
    count, total = int(bad.sum()), bad.size
    first = tuple(int(i) for i in np.argwhere(bad)[0]) if count else ()
    lines = [title, "", f"Mismatched elements: {count} / {total} ({100.0 * count / max(total, 1):.3g}%)"]
    if count:
        a, d = actual[first], desired[first]
        a, d = (a.item() if isinstance(a, np.generic) else a), (d.item() if isinstance(d, np.generic) else d)
        lines.append(f"First mismatch at index {first}: actual {a!r}, desired {d!r}")
        difference = to_float(np.abs(actual[bad] - desired[bad]))
        lines.append(f"Max absolute difference among mismatches: {float(np.max(difference)):.6g}")
    if detail:
        lines.append(detail)
    lines += [f" actual: {np.array2string(actual, threshold=20)}",
              f" desired: {np.array2string(desired, threshold=20)}"]
    raise AssertionError("\n".join(lines))


def _as_fractions(value, name: str) -> np.ndarray:
    """Any real array (float, int, Fraction, or a mixed object array of them) as exact Fractions."""
    array = np.asarray(value)
    if array.dtype == object:
        out = np.empty(array.shape, dtype=object)
        for i, v in enumerate(array.flat):
            if isinstance(v, (bool, np.bool_)) or not isinstance(v, (numbers.Rational, float, np.floating)) \
                    or not np.isfinite(float(v)):
                raise ValueError(f"{name}: entry {v!r} of an array of shape {array.shape} is not a finite real")
            out.flat[i] = Fraction(v)
        return out
    return _fractions(value, name, allow_empty=True)


def assert_exact_equal(actual, desired, *, err_msg: str = "") -> None:
    """Assert two arrays are equal as exact rationals (floats are compared by their exact dyadic value).

    Shapes must match exactly (no broadcasting).  ``Fraction(1, 3)`` never equals ``1/3`` in float64.
    """
    a = _as_fractions(actual, "actual")
    d = _as_fractions(desired, "desired")
    if a.shape != d.shape:
        raise AssertionError(f"Arrays are not exactly equal\n\nshapes differ: actual {a.shape}, desired {d.shape}"
                             + (f"\n{err_msg}" if err_msg else ""))
    bad = np.asarray(a != d, dtype=bool).reshape(a.shape)
    if bad.any():
        _fail("Arrays are not exactly equal", a, d, bad, err_msg)


def _assert_close(actual, desired, tolerance, title: str, detail: str = "") -> None:
    """Exact equality for object arrays, else |actual - desired| <= tolerance entrywise."""
    if is_exact(np.asarray(actual)) or is_exact(np.asarray(desired)):
        assert_exact_equal(actual, desired, err_msg=detail)
        return
    actual, desired = np.asarray(actual, float), np.asarray(desired, float)
    bad = ~(np.abs(actual - desired) <= tolerance)
    if bad.any():
        worst = np.max(np.abs(actual - desired)[bad] - np.broadcast_to(tolerance, bad.shape)[bad])
        _fail(title, actual, desired, bad, (detail + "\n" if detail else "") + f"Excess over tolerance: {worst:.6g}")


# ---------------------------------------------------------------------------------------------------- conservation
def assert_conserves(R_lower, R_upper, absorbed=0, *, rtol: float = CONSERVATION_RTOL, atol: float = 0.0) -> None:
    """Assert sum_i R_lower[..., i] + absorbed == sum_j R_upper[..., j] for every sample.

    Parameters
    ----------
    R_lower : (..., d_l)
        Relevance of the lower layer.
    R_upper : (..., d_u)
        Relevance of the upper layer (same leading shape).
    absorbed : scalar or array broadcastable to the leading shape
        Relevance absorbed on the way (by biases, epsilon, skipped neurons): the ledger term.
    rtol, atol : float
        Float64 tolerance: |lhs - rhs| <= atol + rtol * (sum |R_lower| + |absorbed| + sum |R_upper|).  Ignored in exact
        mode, where equality must hold exactly.
    """
    lower = as_array(R_lower, "R_lower")
    upper = as_array(R_upper, "R_upper")
    absorbed = as_array(absorbed, "absorbed", allow_empty=True)
    if lower.ndim == 0 or upper.ndim == 0 or lower.shape[:-1] != upper.shape[:-1]:
        raise ValueError(f"R_lower, R_upper: need the same leading shape, got {lower.shape} and {upper.shape}")
    exact = is_exact(lower) or is_exact(upper) or is_exact(absorbed)
    if exact:   # a float entry next to exact ones counts with its exact dyadic value
        lower, upper, absorbed = (_as_fractions(a, name) for a, name in
                                  ((lower, "R_lower"), (upper, "R_upper"), (absorbed, "absorbed")))
    rhs = np.asarray(upper.sum(axis=-1))  # object sums of 1-D arrays come back as bare scalars
    try:
        absorbed = np.broadcast_to(absorbed, rhs.shape)
    except ValueError:
        raise ValueError(f"absorbed: shape {absorbed.shape} does not broadcast to the sample shape "
                         f"{rhs.shape}") from None
    lhs = np.asarray(lower.sum(axis=-1) + absorbed)
    if exact:
        assert_exact_equal(lhs, rhs,
                           err_msg="Relevance is not conserved exactly (sum R_lower + absorbed vs sum R_upper)")
        return
    scale = np.abs(lower).sum(axis=-1) + np.abs(absorbed) + np.abs(upper).sum(axis=-1)
    _assert_close(lhs, rhs, atol + rtol * scale, "Relevance is not conserved (sum R_lower + absorbed vs sum R_upper)",
                  f"rtol={rtol}, atol={atol}")


# ---------------------------------------------------------------------------------------------------- region helpers
def _prepare(net, arrays: dict) -> tuple:
    """Validate the network and inputs; switch to exact mode if the network or any input is exact."""
    if not isinstance(net, Network):
        raise ValueError(f"net: expected a Network, got {type(net).__name__}")
    net, exact, checked = _inputs_for(net, arrays.items(), ndim=(1, 2))
    return net, exact, dict(zip(arrays, checked))


def _closed_membership(net: Network, x: np.ndarray, points: np.ndarray, exact: bool) -> np.ndarray:
    """Bool (n,): point i lies in the closure of the region of the single point x (pattern s(x)).

    Every region row of x's pattern must hold, h - G p >= 0 (exactly in exact mode).  In float64 the band is
    MEMBERSHIP_RTOL times |G| |p| + |h| (for a ReLU unit |a_k| |p| + |c_k|, the magnitude of z_k; for a max-pool
    element that of z_i - z_winner).
    """
    inside = np.ones(points.shape[0], dtype=bool)
    for _, _, G, h in _layer_rows(net, net.trace(x[None, :]).patterns):
        slack = h[0] - points @ G[0].T                   # (n, rows): >= 0 on the closed region
        if exact:
            inside &= np.all(np.asarray(slack >= 0, dtype=bool), axis=1)
        else:
            scale = np.abs(to_float(points)) @ np.abs(to_float(G[0])).T + np.abs(to_float(h[0]))
            inside &= np.all(to_float(slack) >= -MEMBERSHIP_RTOL * scale, axis=1)
    return inside


def assert_affine_on_region(net: Network, x, points, *, rtol: float = AFFINE_RTOL, atol: float = 0.0,
                            outside: str = "raise") -> None:
    """Assert f(p) = A p + c for every point p in the closed linear region of x, (A, c) = ``net.local_affine(x)``.

    Parameters
    ----------
    net : Network
    x : (d,)
        The point whose region is tested (its pattern s(x), with ReLU'(0) = 0).
    points : (n, d) or (d,)
        Points of the closed region {p : (2 s_k - 1) z_k(p) >= 0 under s(x)}, and z_i(p) <= z_winner(p) in every
        max-pool window (decided exactly in exact mode).
    rtol, atol : float
        Float64 tolerance, relative to the magnitude of the forward pass.  Exact mode compares with ``==``.
    outside : "raise" or "skip"
        What to do with points outside the closed region: raise ``ValueError`` (default) or leave them out (a
        ``ValueError`` is still raised if no point is left, so the check is never vacuous).
    """
    if outside not in ("raise", "skip"):
        raise ValueError(f"outside: expected 'raise' or 'skip', got {outside!r}")
    net, exact, arrays = _prepare(net, {"x": x, "points": points})
    x, points = arrays["x"], np.atleast_2d(arrays["points"])
    if x.ndim != 1:
        raise ValueError(f"x: expected a single point of shape ({net.in_features},), got {x.shape}")
    inside = _closed_membership(net, x, points, exact)
    if not inside.all():
        if outside == "raise":
            raise ValueError(f"points: {int((~inside).sum())} of {points.shape[0]} lie outside the closed region of x "
                             f"(indices {np.flatnonzero(~inside)[:10].tolist()})")
        points = points[inside]
        if points.shape[0] == 0:
            raise ValueError("points: none lies in the closed region of x, nothing to check")
    A, c = net.local_affine(x)
    desired = points @ A.T + c
    actual = net(points)
    tolerance = None if exact else atol + rtol * _magnitude(net, points, net.trace(x[None, :]).patterns)
    _assert_close(actual, desired, tolerance, "Network is not affine on the region of x: f(p) != A p + c",
                  f"rtol={rtol}, atol={atol}")


# ------------------------------------------------------------------------------------------------ finite differences
def _central_differences(net: Network, x2: np.ndarray, h: np.ndarray):
    """(fd (n, d_out, d), plus, minus (n, d, d), spacing (n, d)): central differences with per-point steps h."""
    n, d = x2.shape
    steps = np.eye(d, dtype=x2.dtype)
    plus = x2[:, None, :] + h[:, None, None] * steps[None]      # (n, d, d): row i moved along e_i
    minus = x2[:, None, :] - h[:, None, None] * steps[None]
    f_plus = net(plus.reshape(n * d, d)).reshape(n, d, -1)
    f_minus = net(minus.reshape(n * d, d)).reshape(n, d, -1)
    spacing = (plus - minus)[:, np.arange(d), np.arange(d)]     # the step actually taken (rounded in float64)
    with np.errstate(divide="ignore", invalid="ignore"):      # a step lost to rounding; replaced exactly later
        fd = np.swapaxes((f_plus - f_minus) / spacing[:, :, None], 1, 2)
    return fd, plus, minus, spacing


def _steps(net: Network, x2: np.ndarray, *, check: bool = True) -> np.ndarray:
    """h = margin / 2 per point (1 where no unit bends f near the point); ValueError for points on a hinge."""
    margins = _coordinate_margin(net, x2)
    on_hinge = [i for i, m in enumerate(margins) if m is not None and m == 0]
    if on_hinge and check:
        raise ValueError(f"x: points {on_hinge[:10]} lie on a hinge (margin 0); finite differences need interior "
                         f"points")
    return np.array([1 if m is None else m / 2 for m in margins], dtype=x2.dtype)


def assert_gradient_matches_finite_difference(net: Network, x, *, output: int | None = None,
                                              rtol: float = FD_RTOL, atol: float = 0.0) -> None:
    """Assert the Jacobian (or one output's gradient) equals central finite differences at interior points.

    For point x with coordinate margin m (see Notes) the step is h = m / 2, so x +- h e_i stay in x's open region
    and the central difference (f(x + h e_i) - f(x - h e_i)) / (2 h) of the affine piece is the exact partial
    derivative.  In exact mode both sides must be equal.  In float64 the tolerance is
    atol + rtol |J|_abs + FD_ROUNDING_FACTOR * eps * (|f|(x + h e_i) + |f|(x - h e_i)) / (2 h), with |f| and |J|_abs
    the forward pass and Jacobian of the network with |W|, |b| (magnitudes that survive cancellation).  Where h is
    below FD_MIN_STEP * max(1, |x|_inf) a float64 difference would be meaningless (or zero); there the margin and
    the difference are computed exactly in rationals (the float network converts losslessly; a point is "on a
    hinge" only if its exact margin is 0) and compared with the float Jacobian.

    Parameters
    ----------
    net : Network
    x : (n, d) or (d,)
        Interior points; a point exactly on a hinge (margin 0) raises ``ValueError``.
    output : int, optional
        Compare ``net.gradient(x, output=...)``; by default the whole Jacobian.

    Notes
    -----
    Unit k with z_k = a_k^T x + c_k keeps its sign under a move t e_i while |t| |a_ki| < |z_k|, so the margin is
    min_k |z_k| / max_i |a_ki| over units with a_k != 0 (the region's extent along the coordinate axes).  A max-pool
    window keeps its winner w while every z_w - z_i > 0: there the rows z_i - z_w take the place of z_k (a tie is
    a hinge).
    """
    net, exact, arrays = _prepare(net, {"x": x})
    x2 = np.atleast_2d(arrays["x"])
    if output is not None:
        output = check_index(output, "output", net.out_features)
    select = (lambda a: a) if output is None else (lambda a: a[:, output])
    J = net.jacobian(x2)
    if exact:
        fd = _central_differences(net, x2, _steps(net, x2))[0]
        assert_exact_equal(select(fd), select(J), err_msg="central finite differences vs net.jacobian")
        return
    n, d = x2.shape
    h = _steps(net, x2, check=False)     # a float margin of 0 may be rounding: such points are decided exactly
    tiny = h < FD_MIN_STEP * np.maximum(1.0, np.max(np.abs(x2), axis=1))
    h[tiny] = 1.0                        # placeholder; their differences are replaced below
    fd, plus, minus, spacing = _central_differences(net, x2, h)
    patterns = net.trace(x2).patterns
    repeated = [np.repeat(p, d, axis=0) for p in patterns]
    mag_plus = _magnitude(net, plus.reshape(n * d, d), repeated).reshape(n, d, -1)
    mag_minus = _magnitude(net, minus.reshape(n * d, d), repeated).reshape(n, d, -1)
    with np.errstate(divide="ignore", invalid="ignore"):
        rounding = FD_ROUNDING_FACTOR * np.finfo(float).eps * np.swapaxes((mag_plus + mag_minus) / spacing[:, :, None],
                                                                          1, 2)
    if tiny.any():
        exact_net, x_tiny = net.to_exact(), to_fraction(x2[tiny])
        fd[tiny] = to_float(_central_differences(exact_net, x_tiny, _steps(exact_net, x_tiny))[0])
        rounding[tiny] = 0.0
    J_abs = np.abs(_abs_network(net).affine_for_pattern(patterns)[0])
    _assert_close(select(fd), select(J), atol + rtol * select(J_abs) + select(rounding),
                  "Gradient does not match central finite differences",
                  f"rtol={rtol}, atol={atol}, steps h={h.tolist()[:5]}, "
                  f"exact differences at {np.flatnonzero(tiny)[:5]}")


# ---------------------------------------------------------------------------------------------------- Taylor
def assert_taylor_exact(net: Network, x, x_root, *, output: int = 0, gradient_at: str = "segment",
                        rtol: float = TAYLOR_RTOL, atol: float = 0.0) -> None:
    """Assert f(x) = f(x_root) + g^T (x - x_root) with no remainder, where the segment [x_root, x] is one piece.

    Parameters
    ----------
    net : Network
    x, x_root : (n, d) or (d,)
        Points and roots (x_root may be a single (d,) root shared by all points).
    output : int
        The explained output ξ.
    gradient_at : "segment" or "root"
        "segment" (default): g is the gradient of the affine piece the segment starts in at x_root (the one-sided
        pattern towards x), the gradient of the region containing the segment.  "root": g is
        ``net.gradient(x_root)`` with ReLU'(0) = 0; for a root on its own neuron's hinge this is the gradient of a
        neighbouring region and the identity fails ([SL22] §5: a root on its hinge gets a zero gradient).
    rtol, atol : float
        Float64 tolerance relative to |f(x)| + |f(x_root)| + |g| |x - x_root| magnitudes; exact mode uses ``==``.

    Raises
    ------
    ValueError
        If an activation pattern changes inside the open segment (x_root, x): then Taylor's first order need not be
        exact and the test is set up wrongly.

    Notes
    -----
    f is affine on the closed segment, so f(x) - f(x_root) = g^T (x - x_root) exactly (THEORY.md §1).  The
    segment's pieces come from :func:`dtd_ref.slices.line_regions` (ReLU family and max pooling alike); "one piece"
    means the pattern is constant on the open segment.
    """
    if gradient_at not in ("segment", "root"):
        raise ValueError(f"gradient_at: expected 'segment' or 'root', got {gradient_at!r}")
    net, exact, arrays = _prepare(net, {"x": x, "x_root": x_root})
    output = check_index(output, "output", net.out_features)
    x2 = np.atleast_2d(arrays["x"])
    roots = np.atleast_2d(arrays["x_root"])
    if roots.shape[0] == 1 and x2.shape[0] > 1:
        roots = np.repeat(roots, x2.shape[0], axis=0)
    if roots.shape != x2.shape:
        raise ValueError(f"x_root: expected shape {x2.shape} or ({x2.shape[1]},) to match x, "
                         f"got {arrays['x_root'].shape}")
    pieces = [line_regions(net, roots[i], x2[i]) for i in range(x2.shape[0])]
    crossing = [i for i, line in enumerate(pieces) if len(line) > 1]
    if crossing:
        raise ValueError(f"x, x_root: the segments of points {crossing[:10]} cross a region boundary; the first-order "
                         f"Taylor identity need not hold there")
    step = x2 - roots
    if gradient_at == "root":
        g = net.gradient(roots, output=output)
    else:
        first = [line.layer_patterns(0) for line in pieces]   # the pattern on the segment, left from x_root
        patterns = tuple(np.concatenate(parts) for parts in zip(*first))
        g = net.backward_fixed(_unit_rows(net, roots.shape[0], output, exact), patterns)
    f_x, f_root = net(x2)[:, output], net(roots)[:, output]
    first_order = np.sum(g * step, axis=1)
    tolerance = None
    if not exact:
        tolerance = atol + rtol * (np.abs(f_x) + np.abs(f_root) + np.sum(np.abs(g * step), axis=1))
    _assert_close(f_x, f_root + first_order, tolerance,
                  "Taylor expansion at x_root is not exact: f(x) != f(x_root) + g^T (x - x_root)",
                  f"gradient_at={gradient_at!r}, rtol={rtol}, atol={atol}")


def _unit_rows(net: Network, n: int, output: int, exact: bool) -> np.ndarray:
    g = np.zeros((n, net.out_features), dtype=object if exact else float)
    g[:, output] = 1
    return g
