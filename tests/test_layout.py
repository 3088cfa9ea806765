"""The layout docs/architecture.md describes, held by tests (import-linter holds the arrows).

- the package root holds only the public API and the CLI root;
- no module grows past the size a reader can hold (about 800 lines);
- every folder of tests/ mirrors a package of src/perron/;
- the map in docs/architecture.md names every top-level package.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "perron"
TESTS = ROOT / "tests"
MAX_LINES = 800


def _packages(base: Path) -> set[str]:
    return {
        str(path.parent.relative_to(base))
        for path in base.rglob("__init__.py")
        if "__pycache__" not in path.parts and path.parent != base
    }


def _top_level() -> set[str]:
    return {p.name for p in SRC.iterdir() if (p / "__init__.py").is_file()}


def test_the_package_root_holds_only_the_public_api_and_the_cli() -> None:
    assert sorted(p.name for p in SRC.glob("*.py")) == ["__init__.py", "__main__.py"]


@pytest.mark.parametrize("module", sorted(SRC.rglob("*.py")), ids=lambda p: str(p.relative_to(SRC)))
def test_no_module_is_longer_than_a_reader_can_hold(module: Path) -> None:
    lines = len(module.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{module.relative_to(ROOT)} has {lines} lines; split it by concept"


def test_every_test_folder_mirrors_a_package_of_src() -> None:
    strays = _packages(TESTS) - _packages(SRC)
    assert not strays, f"tests/ folders with no package of the same path in src/perron: {strays}"


def test_the_map_names_every_top_level_package() -> None:
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    missing = sorted(name for name in _top_level() if f"`{name}/`" not in text)
    assert not missing, f"docs/architecture.md's map does not name {missing}"


def test_the_layers_contract_places_every_top_level_package() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    contracts = config["tool"]["importlinter"]["contracts"]
    (layers,) = [c for c in contracts if c.get("containers") == ["perron"]]
    placed = {name.strip() for layer in layers["layers"] for name in layer.split("|")}
    assert placed == _top_level() | {"__main__"}
    assert layers["exhaustive"] is True
