"""What a regression model asks for: response, predictors, intercept, offset.

A model comes either as a formula (``"low ~ age + smoke + C(race)"``, parsed by
formulaic) or as a response plus a list of columns. The design matrix itself is
built later, from the levels the stations released (see :mod:`perron.data.design`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from formulaic import Formula
from formulaic.errors import FormulaicError

from perron.data.design import Design, Level, Term
from perron.protocol.errors import FormulaError, InputError

_CATEGORICAL = re.compile(r"^C\(\s*([A-Za-z_][A-Za-z0-9_]*)\s*\)$")


@dataclass(frozen=True)
class Predictor:
    """A predictor column; ``label`` is its name in term names (``C(race)``)."""

    label: str
    column: str
    categorical: bool


@dataclass(frozen=True)
class ModelSpec:
    response: str
    predictors: tuple[Predictor, ...]
    intercept: bool = True
    offset: str | None = None

    @property
    def numeric(self) -> list[str]:
        return [p.column for p in self.predictors if not p.categorical]

    @property
    def categorical(self) -> list[str]:
        return [p.column for p in self.predictors if p.categorical]

    @classmethod
    def from_formula(cls, formula: str, offset: str | None = None) -> ModelSpec:
        """Read ``"y ~ a + b + C(c)"``; main effects, ``C()`` categories and ``- 1``.

        Examples
        --------
        >>> ModelSpec.from_formula("low ~ age + C(race)").categorical
        ['race']
        """
        if "~" not in formula:
            raise FormulaError(f"formula {formula!r} has no '~'; write it as 'y ~ x1 + x2'.")
        try:
            parsed = Formula(formula)
        except FormulaicError as exc:
            raise FormulaError(f"could not read formula {formula!r}: {exc}") from exc
        lhs = [str(t) for t in parsed.lhs]
        if len(lhs) != 1 or not lhs[0].isidentifier():
            raise FormulaError(
                f"formula {formula!r} must have exactly one plain column as outcome."
            )
        intercept = False
        predictors: list[Predictor] = []
        for term in parsed.rhs:
            factors = list(term.factors)
            if len(factors) != 1:
                raise FormulaError(
                    f"term {str(term)!r} is an interaction; this version fits main effects "
                    "only. Add a product column to the data instead."
                )
            expr = str(factors[0].expr)
            if expr == "1":
                intercept = True
            elif expr.isidentifier():
                predictors.append(Predictor(expr, expr, categorical=False))
            elif match := _CATEGORICAL.match(expr):
                predictors.append(Predictor(f"C({match[1]})", match[1], categorical=True))
            else:
                raise FormulaError(
                    f"term {expr!r} is not supported: use plain column names and C(column) "
                    "for categories; transform columns in the data beforehand."
                )
        return cls(lhs[0], tuple(predictors), intercept, offset)

    @classmethod
    def from_columns(
        cls,
        response: str,
        columns: Sequence[str],
        categorical: Sequence[str] = (),
        intercept: bool = True,
        offset: str | None = None,
    ) -> ModelSpec:
        unknown = set(categorical) - set(columns)
        if unknown:
            raise InputError(f"categorical columns {sorted(unknown)} are not among the predictors.")
        predictors = tuple(Predictor(c, c, c in categorical) for c in columns)
        return cls(response, predictors, intercept, offset)

    def design(self, levels: dict[str, list[Level]]) -> Design:
        """The design matrix's terms, treatment-coded with the first level as reference."""
        return Design(self.response, self.terms(levels), self.offset)

    def terms(
        self, levels: dict[str, list[Level]], *, always_reference: bool = False
    ) -> tuple[Term, ...]:
        """Terms of the design. Without an intercept the first categorical predictor
        gets a column for every level (as patsy does), unless ``always_reference``
        (a Cox model has no intercept but its baseline hazard plays that role)."""
        terms: list[Term] = [Term("Intercept")] if self.intercept else []
        full_coding = not self.intercept and not always_reference
        for predictor in self.predictors:
            if not predictor.categorical:
                terms.append(Term(predictor.label, predictor.column))
                continue
            column_levels = levels[predictor.column]
            kept = column_levels if full_coding else column_levels[1:]
            full_coding = False
            prefix = "" if kept is column_levels else "T."
            for level in kept:
                terms.append(Term(f"{predictor.label}[{prefix}{level}]", predictor.column, level))
        return tuple(terms)
