"""Optional dependencies: which extra installs which package, and one clear error.

Perron's core installs with ``pip install perron``. The real public datasets that the
demos and the documented examples use ship inside other packages' wheels (lifelines,
scikit-survival; statsmodels is a core dependency) and the synthetic Dutch names
come from Faker; those are installed by the ``demo`` extra. Code that needs one of
them calls :func:`require` before importing it, so a missing package is a
:class:`MissingDependency` that names the extra, never a bare
``ModuleNotFoundError`` from deep inside a demo::

    require("sksurv", needed_for="the WHAS500 demo data")
    from sksurv.datasets import load_whas500

:data:`OPTIONAL` is the one table of optional packages; a test checks it against the
extras in ``pyproject.toml`` and checks that every other third-party import in the
package is a core dependency.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass

from perron.protocol.errors import MissingDependency

__all__ = ["OPTIONAL", "OptionalPackage", "require"]


@dataclass(frozen=True)
class OptionalPackage:
    """An optional package: its name on PyPI and the extra of Perron that installs it."""

    distribution: str
    extra: str

    @property
    def install(self) -> str:
        """The command that installs it, as a user would type it."""
        return f'pip install "perron[{self.extra}]"'


#: Import name -> the distribution and the extra that installs it.
OPTIONAL: Mapping[str, OptionalPackage] = {
    "lifelines": OptionalPackage("lifelines", "demo"),
    "sksurv": OptionalPackage("scikit-survival", "demo"),
    "faker": OptionalPackage("Faker", "demo"),
}


def require(module: str, *, needed_for: str) -> None:
    """Import an optional package, or raise one clear error naming its extra.

    Parameters
    ----------
    module : str
        The import name (``"sksurv"``, or a submodule such as ``"sksurv.datasets"``);
        its top-level package must be in :data:`OPTIONAL`.
    needed_for : str
        What needs it, for the message ("the WHAS500 demo data").

    Raises
    ------
    MissingDependency
        The package is not installed. A package that is installed but fails to import
        for another reason (a missing dependency of its own) raises the same error,
        naming the module that could not be found.

    Examples
    --------
    >>> require("lifelines", needed_for="the lung cancer demo data")
    >>> require("lifelines.datasets", needed_for="the lung cancer demo data")
    """
    top = module.partition(".")[0]
    if top not in OPTIONAL:
        raise KeyError(f"{top!r} is not an optional dependency of Perron; add it to OPTIONAL.")
    package = OPTIONAL[top]
    try:
        importlib.import_module(module)
    except ImportError as error:
        missing = error.name or top
        what = (
            package.distribution
            if missing.partition(".")[0] == top
            else f"{missing} (needed by {package.distribution})"
        )
        raise MissingDependency(
            f"{needed_for} needs {what}, which is not installed. Install it with "
            f"`{package.install}` (or run `make demo` in a checkout, which does).",
            name=missing,
        ) from None
