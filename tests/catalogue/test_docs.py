"""The Python example of docs/catalogue.md runs and prints what the page says."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOC = Path(__file__).parents[2] / "docs" / "catalogue.md"


def test_the_python_example_prints_what_the_page_shows(capsys: pytest.CaptureFixture[str]):
    text = DOC.read_text()
    [code] = re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)
    printed = re.search(r"```python\n.*?```\n\nprints\n\n```\n(.*?)```", text, flags=re.DOTALL)
    assert printed is not None

    exec(compile(code, str(DOC), "exec"), {"__name__": "docs_example"})

    assert capsys.readouterr().out == printed.group(1)


def test_the_page_names_every_cli_command_that_exists():
    from typer.main import get_command

    from perron.__main__ import app

    text = DOC.read_text()
    root = get_command(app)
    station = root.commands["station"].commands["datasets"].commands  # type: ignore[attr-defined]
    catalogue = root.commands["catalogue"].commands  # type: ignore[attr-defined]
    for command in station:
        assert f"perron station datasets {command}" in text
    for command in catalogue:
        assert f"perron catalogue {command}" in text
