"""Optional dependencies: one table, agreeing with pyproject's extras, and one clear error.

The audit test reads every import in ``src/perron``: a third-party package is either a
core dependency of ``pyproject.toml`` or an optional one (in ``OPTIONAL``, imported only
after :func:`require` names its extra).
"""

from __future__ import annotations

import ast
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement

import perron
from perron.protocol import optional
from perron.protocol.errors import MissingDependency, PerronError
from perron.protocol.optional import OPTIONAL, OptionalPackage, require

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src" / "perron"


def _project() -> dict[str, object]:
    with (ROOT / "pyproject.toml").open("rb") as file:
        project = tomllib.load(file)["project"]
    assert isinstance(project, dict)
    return project


def _names(requirements: object) -> set[str]:
    assert isinstance(requirements, list)
    return {_normal(Requirement(line).name) for line in requirements}


def _normal(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def _imports(path: Path) -> set[str]:
    """Top-level names of the absolute imports in one module."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name.partition(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.partition(".")[0])
    return found


def test_require_passes_for_an_installed_package():
    require("lifelines.datasets", needed_for="the lung data")


def test_a_missing_package_names_the_extra_to_install(monkeypatch):
    # As if scikit-survival were not installed (even when another test imported it).
    monkeypatch.setitem(sys.modules, "sksurv", None)
    monkeypatch.setitem(sys.modules, "sksurv.datasets", None)

    with pytest.raises(MissingDependency) as caught:
        require("sksurv.datasets", needed_for="the WHAS500 demo data")

    message = str(caught.value)
    assert message == (
        "the WHAS500 demo data needs scikit-survival, which is not installed. Install it "
        'with `pip install "perron[demo]"` (or run `make demo` in a checkout, which does).'
    )
    assert isinstance(caught.value, PerronError)
    assert isinstance(caught.value, ImportError)  # `except ImportError` guards still work
    assert caught.value.name is not None
    assert caught.value.name.startswith("sksurv")


def test_a_missing_dependency_of_an_installed_package_is_named(monkeypatch, tmp_path):
    package = tmp_path / "perron_fake_optional"
    package.mkdir()
    (package / "__init__.py").write_text("import perron_fake_missing_dependency\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(
        optional, "OPTIONAL", {"perron_fake_optional": OptionalPackage("fake-optional", "demo")}
    )

    with pytest.raises(MissingDependency, match="needs perron_fake_missing_dependency") as caught:
        require("perron_fake_optional", needed_for="a test")

    assert "(needed by fake-optional)" in str(caught.value)
    assert 'pip install "perron[demo]"' in str(caught.value)


def test_a_package_outside_the_table_is_a_programming_error():
    with pytest.raises(KeyError, match="not an optional dependency"):
        require("numpy", needed_for="a test")


def test_the_error_is_public_and_crosses_the_wire():
    from perron.protocol.errors import error_from_wire, error_to_wire

    error = MissingDependency('x needs y. Install it with `pip install "perron[demo]"`.')
    back = error_from_wire(error_to_wire(error))

    assert perron.MissingDependency is MissingDependency
    assert type(back) is MissingDependency
    assert str(back) == str(error)


def test_every_optional_package_is_in_the_extra_it_names():
    extras = _project()["optional-dependencies"]
    assert isinstance(extras, dict)

    for module, package in OPTIONAL.items():
        assert package.extra in extras, module
        assert _normal(package.distribution) in _names(extras[package.extra]), module


def test_the_demo_extra_is_exactly_the_optional_packages():
    extras = _project()["optional-dependencies"]
    assert isinstance(extras, dict)

    demo = {_normal(p.distribution) for p in OPTIONAL.values() if p.extra == "demo"}
    assert _names(extras["demo"]) == demo


def test_every_third_party_import_is_a_core_dependency_or_goes_through_require():
    core = _names(_project()["dependencies"])
    distributions = metadata.packages_distributions()
    undeclared: list[str] = []
    unguarded: list[str] = []

    for path in sorted(SRC.rglob("*.py")):
        text = path.read_text()
        for name in sorted(_imports(path)):
            if name in sys.stdlib_module_names or name == "perron":
                continue
            where = f"{path.relative_to(SRC)}: {name}"
            if name in OPTIONAL:
                if f'require("{name}' not in text:
                    unguarded.append(where)
            elif not {_normal(d) for d in distributions.get(name, [name])} & core:
                undeclared.append(where)

    assert undeclared == [], "imported but not a core dependency in pyproject.toml"
    assert unguarded == [], "optional packages imported without require(...)"
