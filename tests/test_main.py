"""The command line: ``perron demo`` runs the three-station study and writes a plot."""

from __future__ import annotations

from typer.testing import CliRunner

from perron.__main__ import app


def test_demo_prints_tables_and_writes_the_forest_plot(tmp_path):
    result = CliRunner().invoke(app, ["demo", "--out", str(tmp_path)])

    assert result.exit_code == 0, result.output
    assert "hospital_north" in result.output
    assert "Logistic GLM" in result.output
    png = tmp_path / "glm_forest.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_help_lists_demo():
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0
    assert "demo" in result.output
