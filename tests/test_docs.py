"""Executes every ```python block of README.md and docs/tutorial.md, in order, one namespace per document.

The documents' asserts are the tests: a code example that stops working, or stops showing what its text claims,
fails here.
"""

import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
DOCUMENTS = {"tutorial": ROOT / "docs" / "tutorial.md", "readme": ROOT / "README.md"}
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def _blocks(path):
    text = path.read_text(encoding="utf-8")
    return [(text[:m.start()].count("\n") + 2, m.group(1)) for m in BLOCK.finditer(text)]


def test_tutorial_has_code_for_every_result():
    code = "\n".join(block for _, block in _blocks(DOCUMENTS["tutorial"]))
    assert len(_blocks(DOCUMENTS["tutorial"])) >= 10
    for needed in ("analyze_roots", "train_free_dtd", "gradient_x_input", "logit_swap", "proofs.run_all"):
        assert needed in code


def test_readme_shows_each_audience_something_runnable():
    code = "\n".join(block for _, block in _blocks(DOCUMENTS["readme"]))
    for needed in ("to_exact", "region_of", "train_free_dtd", "analyze_roots", "strategies", "slice_regions"):
        assert needed in code


@pytest.mark.parametrize("name", sorted(DOCUMENTS))
def test_code_blocks_run(name, capsys):
    path = DOCUMENTS[name]
    namespace = {"__name__": f"docs_{name}"}
    for line, block in _blocks(path):
        try:
            exec(compile(block, f"{path.name}:{line}", "exec"), namespace)
        except Exception as error:  # name the block that failed
            pytest.fail(f"{path.name} block at line {line} failed: {type(error).__name__}: {error}")
