"""The README's Python examples run as written, on the data every installation has.

The code is taken from README.md itself, so the README cannot drift from the library.
"""

import re
from pathlib import Path

import numpy as np
import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def python_blocks(section):
    """The ```python blocks of the README section whose heading is ``section``."""
    text = README.read_text(encoding="utf-8")
    start = text.index(f"\n## {section}\n")
    end = text.find("\n## ", start + 1)
    return re.findall(r"```python\n(.*?)```", text[start:end if end > 0 else None], re.S)


def test_readme_first_example_runs_on_the_bundled_digits(capsys):
    blocks = python_blocks("Using it")
    assert "load_digits()" in blocks[0] and "load_ex4_data" not in blocks[0]
    namespace = {}
    exec(compile(blocks[0], "README.md (Using it)", "exec"), namespace)
    assert namespace["X"].shape == (1797, 64) and namespace["theta"].shape == (1885,)
    assert namespace["J"] == pytest.approx(6.21, abs=0.005)  # the value the comment states
    assert namespace["grad"].shape == (1885,)
    assert namespace["accuracy"] > 0.99  # stated: 99.6% of the training digits
    assert "X, y = datasets.load_ex4_data()" in blocks[1]  # shown as the option it is


def test_readme_ex4_example_gives_the_stated_values(ex4_data):
    # runs where ex4data1.mat is available (it is not redistributable)
    namespace = {}
    exec(compile(python_blocks("Using it")[0].split("J, grad")[0], "README.md", "exec"), namespace)
    block = python_blocks("Using it")[1].splitlines()
    exec(compile("\n".join(block[:2]), "README.md (ex4)", "exec"), namespace)
    J, _ = eval(block[2].split("#")[0], namespace)
    assert round(J, 6) == 0.383770
    assert round(float(eval(block[3].split("#")[0], namespace)), 4) == 0.9752


def test_readme_training_example_runs_and_prints_a_summary(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # the example saves its pictures in the working directory
    namespace = {}
    exec(compile(python_blocks("Using it")[0], "README.md (Using it)", "exec"), namespace)
    (block,) = python_blocks("Training, evaluation, pictures")
    exec(compile(block, "README.md (Training)", "exec"), namespace)
    printed = capsys.readouterr().out
    result, curve = namespace["result"], namespace["curve"]
    summary, table = str(result), str(curve)
    assert printed == summary + "\n" + table + "\n"
    assert result.stop_reason in summary and "cost/gradient evaluations" in summary
    assert "training accuracy" in summary and "validation: cost" in summary
    assert len(table.splitlines()) == 4 and np.all(curve.val_accuracy > 0.9)
    assert (tmp_path / "hidden_units.png").stat().st_size > 2000
    assert (tmp_path / "lambda_sweep.png").stat().st_size > 2000
