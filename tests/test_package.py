"""The package's public surface: exports resolve, and no export shadows a submodule of the same name."""

import importlib
import pathlib
import sys

import dtd_ref

MODULES = sorted(p.stem for p in pathlib.Path(dtd_ref.__file__).parent.glob("*.py") if p.stem not in ("__init__", "__main__"))


def test_every_export_exists():
    missing = [name for name in dtd_ref.__all__ if not hasattr(dtd_ref, name)]
    assert missing == []


def test_no_export_shadows_a_submodule():
    # `from .full_dtd import full_dtd` would make `import dtd_ref.full_dtd as m` bind the function, not the module.
    for name in MODULES:
        module = importlib.import_module(f"dtd_ref.{name}")
        if hasattr(dtd_ref, name):
            assert getattr(dtd_ref, name) is module, f"dtd_ref.{name} is not the module dtd_ref/{name}.py"


def test_importing_the_package_pulls_no_optional_dependency():
    for optional in ("torch", "matplotlib", "hypothesis", "sympy", "zennit"):
        if optional in sys.modules:
            continue  # another test imported it already; the check below is about dtd_ref's own imports
        importlib.reload(dtd_ref)
        assert optional not in sys.modules, f"import dtd_ref imported {optional}"
