"""What a task sees of the dataset: the policy's columns, no identifier, no objectors."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import numpy as np
import pandas as pd
import pytest

from perron.algorithms.core.base import StationContext
from perron.algorithms.core.checks import require_columns
from perron.data.design import Design, Term
from perron.data.families import family as family_named
from perron.data.survival import SurvivalSpec, TimeMap
from perron.privacy.policy import DisclosurePolicy
from perron.protocol.errors import DataSourceError, OutsidePolicy, PolicyViolation, UnknownColumn
from perron.station.view import DatasetView
from tests.station.support import ID_COLUMN

CONTEXT = StationContext("north", DisclosurePolicy())


@pytest.fixture
def view(cohort: pd.DataFrame) -> DatasetView:
    return DatasetView(cohort, "whas", id_column=ID_COLUMN)


def test_the_schema_lists_only_the_permitted_columns(view):
    source = view.source(["age", "fstat", ID_COLUMN], frozenset())

    assert sorted(source.schema()) == ["age", "fstat"]
    assert len(source.schema()) == 2


def test_without_a_policy_every_column_but_the_identifier_is_visible(view, cohort):
    schema = view.source(None, frozenset()).schema()

    assert set(schema) == set(cohort.columns) - {ID_COLUMN}
    with pytest.raises(OutsidePolicy, match="patient identifier"):
        _ = ID_COLUMN in schema


def test_checking_a_column_outside_the_policy_is_refused_not_unknown(view):
    source = view.source(["age"], frozenset(), study="whas")

    with pytest.raises(OutsidePolicy, match=r"policy rule 'column'.*'hr'.*study 'whas'"):
        require_columns(source, ["hr"], CONTEXT)
    with pytest.raises(OutsidePolicy, match="policy rule 'column'"):
        require_columns(source, ["no-such-column"], CONTEXT)


def test_a_permitted_column_missing_from_the_data_is_unknown(view):
    source = view.source(["age", "smoking"], frozenset())

    with pytest.raises(UnknownColumn):
        require_columns(source, ["smoking"], CONTEXT)


def test_every_question_about_another_column_is_refused(view):
    source = view.source(["age", "fstat", "lenfol"], frozenset())
    grid = np.array([1.0, 2.0])
    design = Design("fstat", (Term("Intercept"), Term("hr", "hr")))
    spec = SurvivalSpec("lenfol", "fstat", strata=("gender",))
    questions: list[Callable[[], object]] = [
        partial(source.complete_count, ["age", "hr"]),
        partial(source.missing_counts, ["hr"]),
        partial(source.moments, "hr"),
        partial(source.distinct_count, "age", ["hr"]),
        partial(source.value_counts, ["age"], ["hr"]),
        partial(source.count_at_most, "hr", grid),
        partial(source.smallest_above, "hr", grid),
        partial(source.bin_counts, "hr", grid),
        partial(source.irls_sums, design, family_named("binomial"), None),
        partial(source.event_table, spec, [], TimeMap(None)),
        partial(source.cox_sums, spec, np.zeros(0), {}, TimeMap(None)),
        partial(source.concordance_counts, spec, np.zeros(0), TimeMap(None)),
    ]
    for question in questions:
        with pytest.raises(OutsidePolicy, match="policy rule 'column'"):
            question()


def test_excluded_people_are_left_out(view, cohort):
    excluded = frozenset({"P0000", "P0001", "nobody"})

    source = view.source(None, excluded)

    kept = cohort[~cohort[ID_COLUMN].isin(excluded)]
    assert source.complete_count(["age"]) == len(kept) == 498
    assert source.moments("age").mean == pytest.approx(kept["age"].mean(), rel=1e-12)


def test_a_source_is_reused_for_the_same_columns_and_people(view):
    first = view.source(["age"], frozenset({"P0000"}))
    again = view.source(["age"], frozenset({"P0000"}))
    other = view.source(["age"], frozenset())

    assert first._inner is again._inner  # the cached designs of a fit survive its rounds
    assert first._inner is not other._inner


def test_identifiers_are_compared_as_text():
    view = DatasetView(pd.DataFrame({"pid": [17, 18, 19], "x": [1.0, 2.0, 3.0]}), "d", "pid")

    assert view.ids == {"17", "18", "19"}
    assert view.source(None, frozenset({"17"})).complete_count(["x"]) == 2


def test_the_id_column_must_exist_and_be_complete(cohort):
    with pytest.raises(DataSourceError, match="not in dataset"):
        DatasetView(cohort, "whas", id_column="pseudonym")
    holes = cohort.assign(patient_id=cohort[ID_COLUMN].where(cohort.index > 0))
    with pytest.raises(DataSourceError, match="misses 1 values"):
        DatasetView(holes, "whas", id_column=ID_COLUMN)


def test_objections_cannot_be_honoured_without_an_id_column(cohort):
    view = DatasetView(cohort, "whas")

    with pytest.raises(PolicyViolation, match="id_column"):
        view.source(None, frozenset({"P0000"}))
    assert view.source(None, frozenset()).complete_count(["age"]) == 500
