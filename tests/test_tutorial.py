"""Executes every ```python block of docs/tutorial.md, in order, in one namespace (the tutorial's asserts are tests)."""

import pathlib
import re

import pytest

TUTORIAL = pathlib.Path(__file__).resolve().parents[1] / "docs" / "tutorial.md"
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def _blocks():
    text = TUTORIAL.read_text(encoding="utf-8")
    return [(text[:m.start()].count("\n") + 2, m.group(1)) for m in BLOCK.finditer(text)]


def test_tutorial_has_code_for_every_result():
    code = "\n".join(block for _, block in _blocks())
    assert len(_blocks()) >= 10
    for needed in ("analyze_roots", "train_free_dtd", "gradient_x_input", "logit_swap", "proofs.run_all"):
        assert needed in code


def test_tutorial_code_blocks_run(capsys):
    namespace = {"__name__": "tutorial"}
    for line, block in _blocks():
        try:
            exec(compile(block, f"{TUTORIAL.name}:{line}", "exec"), namespace)
        except Exception as error:  # name the block that failed
            pytest.fail(f"docs/tutorial.md block at line {line} failed: {type(error).__name__}: {error}")
