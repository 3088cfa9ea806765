"""The data request: the example validates, every rule names its field, holders see
only their own part."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from perron.governance.request import (
    EXAMPLE,
    DataForm,
    DataRequest,
    Purpose,
    publication_deadline,
)
from perron.governance.roles import Role, parse_roles
from perron.protocol.errors import InputError

Raw = dict[str, Any]


def _variables(raw: Raw, holder: int = 0) -> list[dict[str, Any]]:
    variables: list[dict[str, Any]] = raw["holders"][holder]["datasets"][0]["variables"]
    return variables


def test_the_example_validates():
    request = DataRequest.parse(EXAMPLE)

    assert request.holder_names == ("umc-north", "insurer-east", "pharmacy-west")
    assert request.purpose is Purpose.SCIENTIFIC_RESEARCH
    assert request.data_form is DataForm.ANONYMISED
    assert request.period.start == date(2026, 12, 1)
    assert [a.algorithm for a in request.analyses] == ["summary", "kaplan_meier", "coxph"]
    assert request.max_tasks == 500


def test_defaults_are_anonymised_federated_and_no_budget(raw):
    for key in ("data_form", "pets", "max_tasks"):
        del raw[key]

    request = DataRequest.parse(raw)

    assert request.data_form is DataForm.ANONYMISED
    assert [pet.value for pet in request.pets] == ["federated_analysis"]
    assert request.max_tasks == 1000
    assert request.privacy_budget is None


def test_a_pseudonymised_request_with_a_justification_validates(raw):
    raw["data_form"] = "pseudonymised"
    raw["pseudonymisation_justification"] = "Linkage across holders needs pseudonyms."

    request = DataRequest.parse(raw)

    assert request.data_form is DataForm.PSEUDONYMISED


def _set(key: str, value: Any) -> Callable[[Raw], None]:
    def change(raw: Raw) -> None:
        raw[key] = value

    return change


def _drop(key: str) -> Callable[[Raw], None]:
    def change(raw: Raw) -> None:
        del raw[key]

    return change


def _pseudonymised_without_justification(raw: Raw) -> None:
    raw["data_form"] = "pseudonymised"


def _period_reversed(raw: Raw) -> None:
    raw["period"] = {"start": "2027-12-01", "end": "2026-12-01"}


def _period_empty(raw: Raw) -> None:
    raw["period"] = {"start": "2027-01-01", "end": "2027-01-01"}


def _duplicate_holder(raw: Raw) -> None:
    raw["holders"].append(raw["holders"][0])


def _duplicate_algorithm(raw: Raw) -> None:
    raw["analyses"].append({"algorithm": "coxph"})


def _duplicate_dataset(raw: Raw) -> None:
    raw["holders"][0]["datasets"].append({"name": "lung", "variables": [{"name": "x"}]})


def _duplicate_variable(raw: Raw) -> None:
    _variables(raw).append({"name": "age"})


def _no_variables(raw: Raw) -> None:
    raw["holders"][0]["datasets"][0]["variables"] = []


def _bound(bound: dict[str, Any]) -> Callable[[Raw], None]:
    def change(raw: Raw) -> None:
        raw["analyses"][2]["bounds"] = {"max_iterations": bound}

    return change


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (_pseudonymised_without_justification, "pseudonymisation_justification"),
        (_period_reversed, "period"),
        (_period_empty, "period"),
        (_duplicate_holder, "holders"),
        (_duplicate_algorithm, "analyses"),
        (_duplicate_dataset, "holders.0: "),
        (_duplicate_variable, "holders.0.datasets.0: "),
        (_no_variables, "holders.0.datasets.0.variables"),
        (_set("purpose", "marketing"), "purpose"),
        (_set("data_form", "raw"), "data_form"),
        (_set("pets", ["telepathy"]), "pets.0"),
        (_set("holders", []), "holders"),
        (_set("analyses", []), "analyses"),
        (_set("max_tasks", 0), "max_tasks"),
        (_set("privacy_budget", 0), "privacy_budget"),
        (_set("title", "   "), "title"),
        (_set("lay_summary", "short"), "lay_summary"),
        (_set("colour", "blue"), "colour"),
        (_drop("title"), "title"),
        (_drop("purpose"), "purpose"),
        (_drop("question"), "question"),
        (_drop("period"), "period"),
        (_drop("safeguards"), "safeguards"),
        (_drop("ethics_declaration"), "ethics_declaration"),
        (_drop("expected_outputs"), "expected_outputs"),
        (_bound({"maximum": 50}), "max_iterations"),
        (_bound({}), "max_iterations"),
        (_bound({"min": 50, "max": 1}), "min above max"),
        (_bound({"max": "fifty"}), "finite number"),
        (_bound({"max": True}), "finite number"),
        (_bound({"one_of": []}), "one_of"),
        (_bound({"one_of": "efron"}), "one_of"),
    ],
)
def test_every_rule_gives_an_input_error_naming_the_field(raw, change, field):
    change(raw)

    with pytest.raises(InputError, match="the data request is not valid") as caught:
        DataRequest.parse(raw)

    assert field in str(caught.value)


def test_every_wrong_field_is_named_at_once(raw):
    del raw["title"]
    raw["purpose"] = "marketing"

    with pytest.raises(InputError) as caught:
        DataRequest.parse(raw)

    message = str(caught.value)
    assert "title: " in message
    assert "purpose: " in message


def test_a_request_that_is_not_an_object_is_an_input_error():
    with pytest.raises(InputError, match="not valid"):
        DataRequest.parse(["not", "a", "request"])


def test_a_request_is_frozen(study_request):
    with pytest.raises(ValidationError):
        study_request.title = "Another study"


def test_part_for_shows_the_common_terms_and_only_the_holders_own_part(study_request):
    view = study_request.part_for("insurer-east")

    assert view.holder_names == ("insurer-east",)
    assert view.variables_of("insurer-east") == {"lung": ("time", "age")}
    for other in ("umc-north", "pharmacy-west", "status"):
        assert other not in view.model_dump_json()
    assert "sex" not in str(view.model_dump()["holders"])
    assert view.model_dump(exclude={"holders"}) == study_request.model_dump(exclude={"holders"})
    assert study_request.holder_names == ("umc-north", "insurer-east", "pharmacy-west")


def test_part_for_an_unknown_holder_is_an_input_error(study_request):
    with pytest.raises(InputError, match="'hospital-south' is not asked for data"):
        study_request.part_for("hospital-south")


def test_variables_of_names_the_datasets_and_variables_of_one_holder(study_request):
    assert study_request.variables_of("umc-north") == {"lung": ("time", "status", "age", "sex")}
    with pytest.raises(InputError):
        study_request.variables_of("nobody")


@pytest.mark.parametrize(
    ("end", "deadline"),
    [
        (date(2027, 12, 1), date(2029, 6, 1)),
        (date(2027, 8, 31), date(2029, 2, 28)),
        (date(2026, 8, 31), date(2028, 2, 29)),
        (date(2027, 6, 30), date(2028, 12, 30)),
    ],
)
def test_the_publication_deadline_is_18_months_after_the_end(end, deadline):
    assert publication_deadline(end) == deadline


def test_the_publication_deadline_of_a_moment_keeps_its_time():
    moment = datetime(2027, 12, 1, 9, 30, tzinfo=UTC)

    assert publication_deadline(moment) == datetime(2029, 6, 1, 9, 30, tzinfo=UTC)


def test_parse_roles_reads_role_names():
    assert parse_roles(["researcher", Role.IT_ADMIN]) == {Role.RESEARCHER, Role.IT_ADMIN}
    assert parse_roles(()) == frozenset()


@pytest.mark.parametrize("names", ["researcher", None, 3])
def test_parse_roles_wants_a_list(names):
    with pytest.raises(InputError, match="must be a list"):
        parse_roles(names)


def test_parse_roles_names_an_unknown_role_and_the_known_ones():
    with pytest.raises(InputError, match="unknown role 'dean'; the roles are researcher, "):
        parse_roles(["researcher", "dean"])


def test_every_role_has_a_label():
    assert {role.label for role in Role} >= {"privacy officer", "IT/system administrator"}
    assert len({role.label for role in Role}) == len(Role)


def test_a_publication_deadline_past_the_calendar_is_a_value_error():
    with pytest.raises(ValueError, match="year"):
        publication_deadline(date(9998, 12, 1))
