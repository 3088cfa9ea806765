"""A study policy as an ODRL 2.2 ``Agreement`` in JSON-LD, with DPV and DUO terms.

The signed :class:`~perron.governance.policy.StudyPolicy` is what a station
enforces; this is the same policy in the vocabulary of data spaces and catalogues
(a public permit register, an EDC connector, a DUO-aware data portal). It is a
view: nothing reads it back, so it cannot widen a policy.

How the policy maps onto ODRL:

- the policy is an ``Agreement`` whose ``uid`` is a URN of the policy id
  (``urn:uuid:...`` for a UUID); the ``assigner`` is the data holder and the
  ``assignee`` the study (policy-level parties apply to every rule);
- one ``permission`` per dataset: ``target`` is the dataset as an
  ``AssetCollection`` whose ``dct:hasPart`` are the permitted columns, ``action``
  ``odrl:use``, and the constraints (all must hold):

  - ``odrl:purpose isA`` the DPV purpose and ``odrl:purpose isA`` the DUO data use
    permission of the EHDS purpose (:data:`DPV_OF_PURPOSE`, :data:`DUO_OF_PURPOSE`),
  - ``odrl:dateTime gteq`` the start and ``odrl:dateTime lt`` the end of the policy,
  - ``odrl:count lteq`` the maximum number of tasks (counted over all datasets
    of the study at this holder, as the station counts them),
  - ``perron:algorithm isAnyOf`` the permitted algorithms, and
  - per parameter bound, a logical ``or`` of "another algorithm" and the bound
    (``perron:parameter:<name>`` with ``gteq`` for ``min``, ``lteq`` for ``max``,
    ``isAnyOf`` for ``one_of``): a bound holds only for its own algorithm. ODRL
    has no left operand for "which analysis" or "which parameter value", so these
    are left operands of a Perron profile (``perron:`` is ``urn:perron:odrl:``),
    declared in ``profile``; constraints rather than action refinements keep the
    action a plain ``odrl:use`` that any ODRL reader understands;
  - ``perron:epsilon lteq`` (and ``perron:delta lteq``) when the policy has a
    differential-privacy budget;

- one ``prohibition`` per dataset on ``odrl:distribute``: the rows themselves
  never leave the station (only aggregates that pass the disclosure rules do);
- one ``obligation`` to publish the results, as duo-odrl-dpv models DUO:0000019
  (PUB): ``odrl:distribute`` with the study's results as ``output``, before
  ``valid_until`` plus 18 months (EHDS art. 61(4));
- ``dct:subject`` lists the DUO codes that summarise the agreement: the data use
  permission, PUB (publication required), PS (project specific restriction: this
  study only) and TS (time limit on use).

The disclosure settings are kept as a JSON literal (``perron:disclosure``); ODRL
has no vocabulary for statistical disclosure control.

Examples
--------
>>> import json
>>> from datetime import datetime, UTC
>>> from perron.governance.policy import policy_from_request
>>> from perron.governance.request import EXAMPLE, DataRequest
>>> policy = policy_from_request(
...     DataRequest.model_validate(EXAMPLE), study="lung-1", holder="umc-north",
...     granted_at=datetime(2026, 11, 30, tzinfo=UTC),
...     policy_id="0b0a3c1e6f7d4f4b9d6e8f5a4c3b2a19")
>>> agreement = to_odrl(policy)
>>> agreement["@type"], agreement["uid"], agreement["assignee"]
('Agreement', 'urn:uuid:0b0a3c1e-6f7d-4f4b-9d6e-8f5a4c3b2a19', 'urn:perron:study:lung-1')
>>> [c["rightOperand"]["@id"] for c in agreement["permission"][0]["constraint"][:2]]
['dpv:ScientificResearch', 'DUO:0000042']
>>> json.loads(json.dumps(agreement)) == agreement
True
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import quote

from perron.governance.policy import StudyPolicy
from perron.governance.request import PUBLICATION_MONTHS, Purpose, publication_deadline
from perron.protocol.errors import InputError

__all__ = ["DPV_OF_PURPOSE", "DUO_OF_PURPOSE", "ODRL_CONTEXT", "PROFILE", "to_odrl"]

#: The W3C JSON-LD context of ODRL 2.2.
ODRL_CONTEXT = "http://www.w3.org/ns/odrl.jsonld"
#: The Perron ODRL profile (its left operands: algorithm, parameter, epsilon, delta).
PROFILE = "urn:perron:odrl:profile"

#: The DPV (v2 core) purpose of each EHDS art. 53(1) purpose. DPV core has no purpose
#: for teaching (its ``dpv:EducationalTraining`` is a training measure, not a purpose)
#: nor for public health, so both are the parent concept ``dpv:PublicBenefit``.
DPV_OF_PURPOSE: dict[Purpose, str] = {
    Purpose.PUBLIC_HEALTH: "dpv:PublicBenefit",
    Purpose.POLICY: "dpv:PublicPolicyMaking",
    Purpose.STATISTICS: "dpv:ProvideOfficialStatistics",
    Purpose.EDUCATION: "dpv:PublicBenefit",
    Purpose.SCIENTIFIC_RESEARCH: "dpv:ScientificResearch",
    Purpose.IMPROVING_CARE: "dpv:ImproveHealthcare",
}

#: The DUO data use permission of each EHDS art. 53(1) purpose. Scientific research
#: is DUO:0000042 (GRU, general research use). The other purposes are not research
#: in DUO's sense but are all health purposes, which DUO:0000006 (HMB, health or
#: medical or biomedical, "use is allowed for health/medical/biomedical purposes")
#: covers; improving care is HMB too, DUO:0000043 (CC, clinical care use) being a
#: modifier rather than a permission.
DUO_OF_PURPOSE: dict[Purpose, str] = {
    Purpose.PUBLIC_HEALTH: "DUO:0000006",
    Purpose.POLICY: "DUO:0000006",
    Purpose.STATISTICS: "DUO:0000006",
    Purpose.EDUCATION: "DUO:0000006",
    Purpose.SCIENTIFIC_RESEARCH: "DUO:0000042",
    Purpose.IMPROVING_CARE: "DUO:0000006",
}

#: DUO modifiers every Perron agreement carries.
PUBLICATION_REQUIRED = "DUO:0000019"  # PUB
PROJECT_SPECIFIC = "DUO:0000027"  # PS: this study only
TIME_LIMIT = "DUO:0000025"  # TS: the policy's period

_DUO = "http://purl.obolibrary.org/obo/DUO_"
_PREFIXES: dict[str, str] = {
    "odrl": "http://www.w3.org/ns/odrl/2/",
    "dpv": "https://w3id.org/dpv#",
    # DUO's own CURIEs are upper case (DUO:0000042); "duo" is the lower-case alias.
    "DUO": _DUO,
    "duo": _DUO,
    "dct": "http://purl.org/dc/terms/",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
    "perron": "urn:perron:odrl:",
}


def to_odrl(policy: StudyPolicy) -> dict[str, Any]:
    """The policy as an ODRL 2.2 ``Agreement`` in JSON-LD (see the module docstring).

    The result is plain JSON (``json.dumps`` takes it) and deterministic: the same
    policy gives the same document, with datasets, columns, algorithms and bounds
    in sorted order.

    Raises
    ------
    InputError
        The policy's purpose is not an EHDS art. 53 purpose, or its results would be
        due after the year 9999.

    Examples
    --------
    >>> from datetime import datetime, UTC
    >>> from perron.governance.policy import StudyPolicy
    >>> at = datetime(2027, 1, 1, tzinfo=UTC)
    >>> policy = StudyPolicy("p1", "s1", "umc", "statistics", "Counts", {"summary": {}},
    ...                      {"lung": ("age",)}, at, at.replace(year=2028), at, 10)
    >>> to_odrl(policy)["permission"][0]["constraint"][1]["rightOperand"]
    {'@id': 'DUO:0000006'}
    """
    purpose = _purpose(policy.purpose)
    try:
        due = publication_deadline(policy.valid_until)
    except ValueError:
        raise InputError(
            f"the policy ends on {policy.valid_until.date()}; its results would be due after "
            "the year 9999, which ODRL cannot state. Give the policy a real end."
        ) from None
    holder = _urn("holder", policy.holder)
    study = _urn("study", policy.study)
    datasets = sorted(policy.datasets.items())
    agreement: dict[str, Any] = {
        "@context": [ODRL_CONTEXT, dict(_PREFIXES)],
        "@type": "Agreement",
        "uid": _policy_uid(policy.policy_id),
        "profile": PROFILE,
        "dct:title": policy.title,
        "dct:issued": _datetime(policy.granted_at),
        "dct:subject": [
            {"@id": code}
            for code in (
                DUO_OF_PURPOSE[purpose],
                PUBLICATION_REQUIRED,
                PROJECT_SPECIFIC,
                TIME_LIMIT,
            )
        ],
        "assigner": holder,
        "assignee": study,
        "permission": [
            {
                "target": _asset(policy.holder, name, columns),
                "action": "odrl:use",
                "constraint": _constraints(policy, purpose),
            }
            for name, columns in datasets
        ],
        "prohibition": [
            {
                "target": _dataset_uid(policy.holder, name),
                "action": "odrl:distribute",
                "dct:description": "Row-level data never leave the station; only "
                "aggregates that pass the holder's disclosure rules do.",
            }
            for name, _ in datasets
        ],
        "obligation": [
            {
                "action": "odrl:distribute",
                "output": f"{study}:results",
                "dct:subject": {"@id": PUBLICATION_REQUIRED},
                "dct:description": "Make the results of the study public no later than "
                f"{PUBLICATION_MONTHS} months after the processing ends (EHDS art. 61(4)).",
                "constraint": [
                    _constraint(
                        "odrl:dateTime",
                        "odrl:lteq",
                        _datetime(due),
                    )
                ],
            }
        ],
    }
    if policy.disclosure:
        agreement["perron:disclosure"] = {
            "@type": "@json",
            "@value": {name: policy.disclosure[name] for name in sorted(policy.disclosure)},
        }
    return agreement


def _purpose(value: str) -> Purpose:
    try:
        return Purpose(value)
    except ValueError:
        known = ", ".join(p.value for p in Purpose)
        raise InputError(
            f"purpose {value!r} is not an EHDS art. 53 purpose ({known}); it has no ODRL form."
        ) from None


def _constraints(policy: StudyPolicy, purpose: Purpose) -> list[dict[str, Any]]:
    constraints = [
        _constraint("odrl:purpose", "odrl:isA", {"@id": DPV_OF_PURPOSE[purpose]}),
        _constraint("odrl:purpose", "odrl:isA", {"@id": DUO_OF_PURPOSE[purpose]}),
        _constraint("odrl:dateTime", "odrl:gteq", _datetime(policy.valid_from)),
        _constraint("odrl:dateTime", "odrl:lt", _datetime(policy.valid_until)),
        _constraint("odrl:count", "odrl:lteq", policy.max_tasks),
        _constraint("perron:algorithm", "odrl:isAnyOf", sorted(policy.algorithms)),
    ]
    for algorithm, bounds in sorted(policy.algorithms.items()):
        for param, bound in sorted(bounds.items()):
            for operator, value in _bound_terms(bound):
                other = _constraint("perron:algorithm", "odrl:neq", algorithm)
                within = _constraint(_parameter(param), operator, value)
                constraints.append({"or": {"@list": [other, within]}})
    if policy.budget is not None:
        constraints.append(_constraint("perron:epsilon", "odrl:lteq", policy.budget.epsilon))
        if policy.budget.delta:
            constraints.append(_constraint("perron:delta", "odrl:lteq", policy.budget.delta))
    return constraints


def _bound_terms(bound: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """A parameter bound as (ODRL operator, right operand) pairs, in a fixed order."""
    terms: list[tuple[str, Any]] = []
    if "min" in bound:
        terms.append(("odrl:gteq", bound["min"]))
    if "max" in bound:
        terms.append(("odrl:lteq", bound["max"]))
    if "one_of" in bound:
        values = bound["one_of"]
        terms.append(
            ("odrl:isAnyOf", list(values) if isinstance(values, list | tuple) else [values])
        )
    return terms


def _constraint(left: str, operator: str, right: Any) -> dict[str, Any]:
    return {"leftOperand": left, "operator": operator, "rightOperand": right}


def _parameter(name: str) -> str:
    return "perron:parameter:" + quote(name, safe="")


def _asset(holder: str, dataset: str, columns: tuple[str, ...]) -> dict[str, Any]:
    uid = _dataset_uid(holder, dataset)
    return {
        "@type": "AssetCollection",
        "uid": uid,
        "dct:title": dataset,
        "dct:hasPart": [f"{uid}:{quote(column, safe='')}" for column in sorted(columns)],
    }


def _dataset_uid(holder: str, dataset: str) -> str:
    return f"{_urn('dataset', holder)}:{quote(dataset, safe='')}"


def _urn(kind: str, name: str) -> str:
    # Each name is percent-encoded whole, so a ':' in a name cannot split the URN.
    return f"urn:perron:{kind}:{quote(name, safe='')}"


def _policy_uid(policy_id: str) -> str:
    try:
        return uuid.UUID(policy_id).urn
    except ValueError:
        return _urn("policy", policy_id)


def _datetime(moment: datetime) -> dict[str, str]:
    return {"@value": moment.isoformat(), "@type": "xsd:dateTime"}
