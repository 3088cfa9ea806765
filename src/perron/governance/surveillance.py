"""The surveillance policy: a standing weekly count, agreed once, enforced every week.

A public-health authority asks each holder for the same thing every week: the
counts of one case definition (codes), in fixed strata (age bands, regions), from a
fixed first week, for a period. :func:`surveillance_request` writes that ask as a
data request for the study route (purpose ``public_health``), with the one analysis
``weekly_counts`` and every one of its parameters fixed (``one_of`` one value,
``required``). Once each holder's track is approved, the request becomes a
:class:`~perron.governance.policy.StudyPolicy` signed by the holder's approvers
(:mod:`perron.governance.policy`); a station then refuses a weekly task that asks
other codes, other strata or regions, an earlier history, or runs outside the
period, by the policy's own rules (``parameter``, ``period``, ``max_tasks``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

from perron.governance.request import (
    AnalysisRequest,
    DataRequest,
    DatasetRequest,
    HolderPart,
    Period,
    Pico,
    Purpose,
    Variable,
)
from perron.protocol.errors import InputError

#: The parameters of a weekly-count task that a surveillance policy fixes.
FIXED = ("case", "date", "first", "by", "bands", "levels", "report_date", "max_delay")
#: Tasks a week allows: the weekly run and one rerun.
TASKS_PER_WEEK = 2


def surveillance_request(
    *,
    title: str,
    applicant: str,
    organisation: str,
    holders: Mapping[str, str],
    counts: Mapping[str, Any],
    columns: Sequence[str],
    start: date,
    end: date,
    purpose_description: str,
    case_description: str,
    alternatives: Mapping[str, Sequence[Any]] | None = None,
    epsilon: float | None = None,
    privacy_budget: float | None = None,
) -> DataRequest:
    """The data request of a standing surveillance job.

    Parameters
    ----------
    holders
        Holder -> the dataset it counts in.
    counts
        The weekly-count parameters (``Session.weekly_counts`` without ``last``):
        ``case``, ``date``, ``first``, and ``by``, ``bands``, ``levels``,
        ``report_date``, ``max_delay`` as used. Each becomes a fixed term.
    columns
        The columns each dataset shows the task (the case definition's, the dates,
        the strata).
    start, end
        The period of the policy: weekly tasks run only within it.
    alternatives
        Further values a term may take, e.g. ``{"date": ["onset"], "report_date":
        ["report"], "max_delay": [4]}`` to also allow the reporting triangle a nowcast
        needs; a term named only here may be left out.
    epsilon, privacy_budget
        Noisy counts allowed: the loss per task (a ``max`` bound) and the budget of the
        period. Tasks without epsilon still get exact, small-cell-suppressed counts.

    Examples
    --------
    >>> request = surveillance_request(
    ...     title="Salmonella enteritis, weekly", applicant="ana", organisation="rivm",
    ...     holders={"gp_network": "cases"},
    ...     counts={"case": [{"column": "icd10", "in": ["A02.0"]}], "date": "onset",
    ...             "first": "2020-W01"},
    ...     columns=["onset", "icd10"], start=date(2025, 1, 1), end=date(2026, 1, 1),
    ...     purpose_description="early warning", case_description="A02.0")
    >>> request.purpose.value, request.analyses[0].bounds["first"]
    ('public_health', {'one_of': ['2020-W01'], 'required': True})
    """
    missing = [k for k in ("case", "date", "first") if k not in counts]
    if missing:
        raise InputError(f"a surveillance request fixes {missing}; give them in counts=.")
    others = dict(alternatives or {})
    unknown = sorted((set(counts) | set(others)) - set(FIXED) - {"epsilon"})
    if unknown:
        raise InputError(
            f"{unknown} are not weekly-count terms a policy can fix; use {list(FIXED)}."
        )
    bounds: dict[str, dict[str, Any]] = {}
    for key in FIXED:
        value = counts.get(key)
        given = value not in (None, [], {})
        allowed = ([value] if given else []) + list(others.get(key, []))
        if allowed:
            bounds[key] = {"one_of": allowed, "required": given}
    if epsilon is not None:
        # Noisy counts up to epsilon a task; a task without epsilon gets exact counts
        # under the holder's small-cell rule, which always protect them.
        bounds["epsilon"] = {"max": epsilon}
    weeks = (end - start).days // 7 + 1
    variables = tuple(Variable(name=c) for c in columns)
    return DataRequest(
        title=title,
        lay_summary=(
            f"Every week, each holder counts the cases of {case_description} per week "
            "and releases only those counts, so that an outbreak is signalled early."
        ),
        applicant=applicant,
        organisation=organisation,
        purpose=Purpose.PUBLIC_HEALTH,
        purpose_description=purpose_description,
        question=Pico(
            population=f"patients with {case_description} at the holders",
            intervention="weekly counts per stratum",
            outcome="alarms of aberration detection on the pooled weekly series",
        ),
        holders=tuple(
            HolderPart(holder=h, datasets=(DatasetRequest(name=d, variables=variables),))
            for h, d in holders.items()
        ),
        analyses=(
            AnalysisRequest(
                algorithm="weekly_counts",
                description="weekly counts of the case definition, fixed strata",
                bounds=bounds,
            ),
        ),
        safeguards=(
            "Counts only, under each holder's small-cell rule; one fixed stratification; "
            "the signed policy fixes the codes, strata and history."
        ),
        period=Period(start=start, end=end),
        expected_outputs="weekly alarms with observed and expected counts",
        ethics_declaration="Public-health surveillance under the holders' legal basis.",
        max_tasks=TASKS_PER_WEEK * weeks,
        privacy_budget=privacy_budget,
    )
