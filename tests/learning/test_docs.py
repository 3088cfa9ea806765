"""The Python example of docs/federated-learning.md runs and prints what the page says."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOC = Path(__file__).parents[2] / "docs" / "federated-learning.md"


def test_the_python_example_prints_what_the_page_shows(capsys: pytest.CaptureFixture[str]):
    text = DOC.read_text()
    found = re.search(r"```python\n(.*?)```\n\nprints\n\n```\n(.*?)```", text, flags=re.DOTALL)
    assert found is not None

    exec(compile(found.group(1), str(DOC), "exec"), {"__name__": "docs_example"})

    assert capsys.readouterr().out == found.group(2)
