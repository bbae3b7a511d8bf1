"""File handling and rule names for the ``dtd-ref`` command: networks, inputs, outputs, DTD rules by name.

Every problem raises :class:`CLIError` (a ``ValueError``) with a one-line message that names the option and the file,
so that :func:`dtd_ref.cli.main` can print it without a traceback.
"""

from __future__ import annotations

import json
import os

import numpy as np

from ._validation import as_array

__all__ = ["CLIError", "load_network", "load_inputs", "save_array", "parse_rule", "RULE_HELP"]

RULE_HELP = ("z+ | w2 | z | gamma=G | zB (with --low/--high) | lrp0 | epsilon=E | alphabeta=A,B (alpha1beta0 = "
             "alphabeta=1,0) | flat")


class CLIError(ValueError):
    """A user error of the command line: printed as one line, exit status 2; ``prog`` names the subcommand."""

    def __init__(self, message: str, prog: str | None = None):
        super().__init__(message)
        self.prog = prog


def one_line(message) -> str:
    return " ".join(str(message).split())


def _exists(path: str, option: str) -> None:
    if not os.path.exists(path):
        raise CLIError(f"{option}: no such file: {path}")
    if os.path.isdir(path):
        raise CLIError(f"{option}: {path} is a directory, expected a file")


def load_network(path: str | None, *, seed: int = 0):
    """The network in ``path`` (a ``dtd_ref.io.save`` .npz file), or ``c6_network(seed)`` when path is None."""
    if path is None:
        from .models import c6_network

        return c6_network(seed)
    _exists(path, "--network")
    from .io import load

    try:
        return load(path)
    except ValueError as error:
        raise CLIError(f"--network {path}: {one_line(error)}") from None


def _read_array(path: str, option: str) -> np.ndarray:
    _exists(path, option)
    ext = os.path.splitext(path)[1].lower()
    try:
        if ext == ".npy":
            return np.load(path, allow_pickle=False)
        if ext == ".npz":
            with np.load(path, allow_pickle=False) as archive:
                names = [n for n in ("x", "X", "inputs") if n in archive.files] or archive.files
                if len(names) != 1 and not set(names) & {"x", "X", "inputs"}:
                    raise CLIError(f"{option} {path}: .npz holds {len(archive.files)} arrays; name the inputs 'x'")
                return archive[names[0]]
        if ext == ".json":
            with open(path) as handle:
                data = json.load(handle)
            if isinstance(data, dict):
                data = data.get("x", data.get("inputs"))
            return np.array(data, dtype=float)
        if ext in (".csv", ".txt", ".tsv", ""):
            delimiter = "," if ext == ".csv" else None
            return np.loadtxt(path, delimiter=delimiter, ndmin=1)
    except CLIError:
        raise
    except (ValueError, TypeError, OSError, json.JSONDecodeError) as error:
        raise CLIError(f"{option} {path}: cannot read the array ({one_line(error)})") from None
    raise CLIError(f"{option} {path}: unknown file type {ext!r}; use .npy, .npz, .json, .csv or .txt")


def load_inputs(path: str, d: int, *, option: str = "--input", shape=None):
    """Inputs for a network with d inputs: (X (n, d) float64, image shape or None, single).

    Accepted layouts: (d,), (n, d), or image-shaped arrays whose trailing dimensions multiply to d, e.g. (H, W),
    (n, H, W), (n, C, H, W); ``shape`` (a tuple) reshapes flat inputs to images for the heatmap.
    """
    raw = _read_array(path, option)
    try:
        array = as_array(raw, "values")
    except ValueError as error:
        raise CLIError(f"{option} {path}: {one_line(error)}") from None
    image = None
    if array.ndim == 1 and array.size == d:
        X, single = array[None, :], True
    elif array.ndim == 2 and array.shape[1] == d:
        X, single = array, False
    else:
        trailing = next((k for k in range(1, array.ndim + 1) if int(np.prod(array.shape[-k:])) == d), None)
        if trailing is None or trailing < 2:
            raise CLIError(f"{option} {path}: expected shape ({d},) or (n, {d}) (or an image whose trailing "
                           f"dimensions multiply to {d}), got {array.shape}")
        image = array.shape[-trailing:]
        single = array.ndim == trailing
        X = array.reshape(-1, d)
    if shape is not None:
        if int(np.prod(shape)) != d:
            raise CLIError(f"--shape: {shape} does not multiply to the network's {d} inputs")
        image = tuple(shape)
    return X, image, single


def save_array(path: str, array: np.ndarray, *, option: str = "--out") -> None:
    """Write ``array`` as .npy or .json (by extension)."""
    ext = os.path.splitext(path)[1].lower()
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise CLIError(f"{option}: directory {folder} does not exist")
    if ext == ".npy":
        np.save(path, np.asarray(array, dtype=float), allow_pickle=False)
    elif ext == ".json":
        with open(path, "w") as handle:
            json.dump(np.asarray(array, dtype=float).tolist(), handle)
    else:
        raise CLIError(f"{option} {path}: unknown output type {ext!r}; use .npy or .json")


def _number(text: str, spec: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise CLIError(f"--rule {spec}: {text!r} is not a number") from None
    if not np.isfinite(value):
        raise CLIError(f"--rule {spec}: {text!r} is not a finite number")
    return value


def parse_rule(spec: str, *, low=None, high=None):
    """A rule of :mod:`dtd_ref.rules` from its command-line name (see ``RULE_HELP``)."""
    from . import rules

    name, _, value = spec.strip().lower().replace(" ", "").partition("=")
    try:
        if name in ("z+", "zplus", "z_plus"):
            return rules.ZPlus()  # refuses negative inputs with a message that suggests zB or w2
        if name in ("w2", "w^2"):
            return rules.W2()
        if name in ("z", "x"):
            return rules.Z()
        if name == "gamma":
            if not value:
                raise CLIError(f"--rule {spec}: give the value, e.g. gamma=0.25")
            return rules.Gamma(_number(value, spec))
        if name in ("zb", "zbox"):
            if low is None or high is None:
                raise CLIError(f"--rule {spec}: the zB rule needs the input box, --low and --high")
            return rules.ZBox(low, high)
        if name in ("lrp0", "lrp-0", "0"):
            return rules.LRP0()
        if name in ("epsilon", "eps"):
            return rules.Epsilon(_number(value, spec) if value else 1e-6)
        if name in ("alphabeta", "ab"):
            parts = value.split(",")
            if len(parts) != 2:
                raise CLIError(f"--rule {spec}: give alpha and beta, e.g. alphabeta=2,1")
            return rules.AlphaBeta(_number(parts[0], spec), _number(parts[1], spec))
        if name.startswith("alpha") and "beta" in name and not value:
            alpha, beta = name[len("alpha"):].split("beta")
            return rules.AlphaBeta(_number(alpha, spec), _number(beta, spec))
        if name == "flat":
            return rules.Flat()
    except CLIError:
        raise
    except ValueError as error:
        raise CLIError(f"--rule {spec}: {one_line(error)}") from None
    raise CLIError(f"--rule: unknown rule {spec!r}; expected {RULE_HELP}")
