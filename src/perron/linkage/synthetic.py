"""A synthetic Dutch population, holders' dirty copies of it, and the 3-holder demo.

Nothing here is real: names come from Faker's ``nl_NL`` word lists (with a fixed
Zipf-like frequency, so some names are common, as in life), dates of birth are
uniform over 1930-2024, postcodes are well-formed Dutch ones (``1234 AB``; no
letters F, I, O, Q, U, Y and not SA, SD, SS), and BSNs are made-up numbers that pass
the eleven-test (:func:`perron.linkage.bsn.generate_bsn`); use them only in synthetic
data. Every function is deterministic for its seed (and the installed Faker version,
whose lists are read).

- :func:`population` - people with ``person_id``, ``bsn``, ``first_name``,
  ``surname`` (with tussenvoegsels), ``sex`` (``m``/``v``), ``dob`` (ISO) and
  ``postcode``.
- :func:`corrupt` - a holder's copy with typos, missing fields, swapped day and month,
  moves and surname variants, at :class:`Corruption` rates.
- :func:`linkage_pair` - two corrupted, partly overlapping files and their truth.
- :func:`scenario` - a hospital, an insurer and a pharmacy (:class:`Holder`: people
  and events) sharing part of the population, with ground truth.

Faker is an optional dependency (``pip install "perron[demo]"``).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import numpy.typing as npt
import pandas as pd

from perron.linkage.bsn import generate_bsn
from perron.protocol.errors import InputError
from perron.protocol.optional import require

__all__ = [
    "IDENTITY",
    "Corruption",
    "Holder",
    "Scenario",
    "corrupt",
    "linkage_pair",
    "population",
    "scenario",
]

IDENTITY = ("bsn", "first_name", "surname", "sex", "dob", "postcode")
"""The identifying columns of a person record."""

_NAME_FIELDS = ("first_name", "surname")
_MISSABLE = ("first_name", "surname", "sex", "dob", "postcode")
_POSTCODE_LETTERS = "ABCDEGHJKLMNPRSTVWXZ"
_NO_POSTCODE_LETTERS = frozenset({"SA", "SD", "SS"})
_TYPO_LETTERS = "abcdefghijklmnoprstuvwz"
_FIRST_BIRTH = date(1930, 1, 1)
_LAST_BIRTH = date(2024, 12, 31)
_NAME_FREQUENCY_SEED = 20261101  # fixed: the frequency ranking of names is not per seed
_PARTICLES = ("van", "de", "der", "den", "het", "ter", "ten", "te", "in", "op", "uit")

IntArray = npt.NDArray[np.int64]


def _name_lists() -> tuple[list[str], list[str], list[str]]:
    """Faker's nl_NL male and female first names and surnames."""
    require("faker.providers.person.nl_NL", needed_for="synthetic Dutch names")
    from faker.providers.person.nl_NL import Provider  # noqa: PLC0415 - optional

    return (
        list(Provider.first_names_male),
        list(Provider.first_names_female),
        list(Provider.last_names),
    )


def _zipf_choice(rng: np.random.Generator, options: Sequence[str], size: int) -> list[str]:
    """Draw with probability ~ 1/sqrt(rank); the ranking is fixed, not per seed."""
    ranks = np.random.default_rng(_NAME_FREQUENCY_SEED).permutation(len(options)) + 1
    weights = 1 / np.sqrt(ranks)
    picks = rng.choice(len(options), size=size, p=weights / weights.sum())
    return [options[i] for i in picks]


def _postcode(rng: np.random.Generator, digits: int | None = None) -> str:
    pc4 = int(rng.integers(1000, 10000)) if digits is None else digits
    while True:
        letters = "".join(rng.choice(list(_POSTCODE_LETTERS), size=2))
        if letters not in _NO_POSTCODE_LETTERS:
            return f"{pc4} {letters}"


def _check_rate(name: str, value: float) -> None:
    if not 0 <= value <= 1:
        raise InputError(f"{name}={value!r} is not a probability; give a value in [0, 1].")


def population(size: int, seed: int = 0) -> pd.DataFrame:
    """``size`` synthetic people with unique ids and unique (valid, fake) BSNs.

    Examples
    --------
    >>> people = population(3, seed=1)
    >>> list(people.columns)
    ['person_id', 'bsn', 'first_name', 'surname', 'sex', 'dob', 'postcode']
    >>> people.equals(population(3, seed=1))
    True
    """
    if size < 0:
        raise InputError(f"population size {size} is negative.")
    male, female, surnames = _name_lists()
    rng = np.random.default_rng(seed)
    bsn_rng = random.Random(seed)
    bsns: set[str] = set()
    ordered: list[str] = []
    while len(ordered) < size:
        bsn = generate_bsn(bsn_rng)
        if bsn not in bsns:
            bsns.add(bsn)
            ordered.append(bsn)
    sex = rng.choice(["m", "v"], size=size)
    men, women = _zipf_choice(rng, male, size), _zipf_choice(rng, female, size)
    days = (_LAST_BIRTH - _FIRST_BIRTH).days
    births = rng.integers(0, days + 1, size=size)
    return pd.DataFrame(
        {
            "person_id": [f"P{i:07d}" for i in range(size)],
            "bsn": ordered,
            "first_name": [m if s == "m" else w for s, m, w in zip(sex, men, women, strict=True)],
            "surname": _zipf_choice(rng, surnames, size),
            "sex": sex.tolist(),
            "dob": [(_FIRST_BIRTH + timedelta(days=int(d))).isoformat() for d in births],
            "postcode": [_postcode(rng) for _ in range(size)],
        }
    )


@dataclass(frozen=True)
class Corruption:
    """Rates of the errors a holder's copy has, per record (per field where named).

    Attributes
    ----------
    typo : float
        Per name field: one insertion, deletion, substitution or transposition.
    missing : float
        Per field (first name, surname, sex, dob, postcode): left empty.
    swap_day_month : float
        Day and month swapped (only where the day is at most 12 and differs).
    dob_typo : float
        One part of the date mistyped (the last digit of the year, or the day).
    moved : float
        Another postcode; half of the moves stay in the same 4-digit area.
    surname_variant : float
        Tussenvoegsel dropped or written after the name, ij/y spelled the other way,
        or a partner's name put in front ("Jansen-de Vries").
    """

    typo: float = 0.05
    missing: float = 0.02
    swap_day_month: float = 0.02
    dob_typo: float = 0.01
    moved: float = 0.05
    surname_variant: float = 0.05

    def __post_init__(self) -> None:
        for name, value in vars(self).items():
            _check_rate(name, value)


NO_CORRUPTION = Corruption(0, 0, 0, 0, 0, 0)


def _typo(rng: np.random.Generator, text: str) -> str:
    if len(text) < 2:
        return text + str(rng.choice(list(_TYPO_LETTERS)))
    kind = int(rng.integers(4))
    at = int(rng.integers(len(text) - 1)) + 1  # keep the first letter: its case matters
    letter = str(rng.choice(list(_TYPO_LETTERS)))
    if kind == 0:  # insertion
        return text[:at] + letter + text[at:]
    if kind == 1:  # deletion
        return text[:at] + text[at + 1 :]
    if kind == 2:  # substitution (by a different letter)
        while letter == text[at].lower():
            letter = str(rng.choice(list(_TYPO_LETTERS)))
        return text[:at] + letter + text[at + 1 :]
    at = min(at, len(text) - 2)  # transposition of two neighbours
    return text[:at] + text[at + 1] + text[at] + text[at + 2 :]


def _surname_variant(rng: np.random.Generator, surname: str, others: Sequence[str]) -> str:
    words = surname.split()
    particles = [w for w in words if w.lower() in _PARTICLES]
    core = [w for w in words if w.lower() not in _PARTICLES]
    choices: list[str] = []
    if particles and core:
        choices.append(" ".join(core))  # particle dropped
        choices.append(f"{' '.join(core)}, {' '.join(particles)}")  # "Vries, de"
    if "ij" in surname:
        choices.append(surname.replace("ij", "y"))
    elif "y" in surname:
        choices.append(surname.replace("y", "ij"))
    partner = others[int(rng.integers(len(others)))]
    choices.append(f"{partner}-{surname}")  # partner's name in front
    return choices[int(rng.integers(len(choices)))]


def _dob_typo(rng: np.random.Generator, iso: str) -> str:
    year, month, day = (int(p) for p in iso.split("-"))
    if rng.random() < 0.5:
        year = year // 10 * 10 + (year % 10 + int(rng.integers(1, 10))) % 10
    else:
        day = (day - 1 + int(rng.integers(1, 28))) % 28 + 1
    return f"{year:04d}-{month:02d}-{day:02d}"


def corrupt(people: pd.DataFrame, seed: int = 0, rates: Corruption | None = None) -> pd.DataFrame:
    """A holder's copy of ``people`` with errors at the given rates.

    Other columns (``person_id``, ``bsn``, payload) are copied unchanged.

    Examples
    --------
    >>> people = population(200, seed=3)
    >>> dirty = corrupt(people, seed=4)
    >>> 0 < int((dirty["surname"] != people["surname"]).sum()) < 40
    True
    >>> corrupt(people, seed=4, rates=Corruption(0, 0, 0, 0, 0, 0)).equals(people)
    True
    """
    rates = rates or Corruption()
    missing = [c for c in _MISSABLE if c not in people.columns]
    if missing:
        raise InputError(f"cannot corrupt: columns {missing} are missing; use population().")
    rng = np.random.default_rng(seed)
    copy = people.copy()
    surnames = _name_lists()[2]
    columns = {c: copy[c].tolist() for c in _MISSABLE}
    for row in range(len(copy)):
        for name in _NAME_FIELDS:
            value = columns[name][row]
            if isinstance(value, str) and rng.random() < rates.typo:
                columns[name][row] = _typo(rng, value)
        surname = columns["surname"][row]
        if isinstance(surname, str) and rng.random() < rates.surname_variant:
            columns["surname"][row] = _surname_variant(rng, surname, surnames)
        dob = columns["dob"][row]
        if isinstance(dob, str):
            year, month, day = dob.split("-")
            if int(day) <= 12 and day != month and rng.random() < rates.swap_day_month:
                columns["dob"][row] = f"{year}-{day}-{month}"
            elif rng.random() < rates.dob_typo:
                columns["dob"][row] = _dob_typo(rng, dob)
        postcode = columns["postcode"][row]
        if isinstance(postcode, str) and rng.random() < rates.moved:
            same_area = rng.random() < 0.5
            columns["postcode"][row] = _postcode(rng, int(postcode[:4]) if same_area else None)
        for name in _MISSABLE:
            if rng.random() < rates.missing:
                columns[name][row] = None
    for name, values in columns.items():
        copy[name] = pd.Series(values, index=copy.index, dtype=object)
    return copy


def linkage_pair(
    size: int,
    overlap: float = 0.5,
    seed: int = 0,
    rates: Corruption | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Two files of ``size`` records each, ``overlap`` of them the same people.

    Both are corrupted independently and shuffled; ``person_id`` is the ground truth.

    Examples
    --------
    >>> a, b = linkage_pair(100, overlap=0.4, seed=1)
    >>> len(a), len(b), len(set(a["person_id"]) & set(b["person_id"]))
    (100, 100, 40)
    """
    _check_rate("overlap", overlap)
    shared = round(size * overlap)
    people = population(2 * size - shared, seed=seed)
    rng = np.random.default_rng([seed, 1])
    order = rng.permutation(len(people))
    rows_a = order[:size]
    rows_b = np.concatenate([order[:shared], order[size : 2 * size - shared]])
    file_a = corrupt(people.iloc[rng.permutation(rows_a)], seed=seed * 2 + 1, rates=rates)
    file_b = corrupt(people.iloc[rng.permutation(rows_b)], seed=seed * 2 + 2, rates=rates)
    return file_a.reset_index(drop=True), file_b.reset_index(drop=True)


# --------------------------------------------------------------------------------------
# The 3-holder demo: hospital, insurer, pharmacy
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Condition:
    icd10: str
    diagnosis: str
    treatments: tuple[str, ...]
    drugs: tuple[tuple[str, str], ...]  # (ATC code, substance)
    weight: float  # relative prevalence
    women_only: bool = False


_CONDITIONS = (
    _Condition(
        "I50.9",
        "hartfalen",
        ("echocardiografie", "diuretica instellen"),
        (("C03CA01", "furosemide"), ("C07AB07", "bisoprolol"), ("C09AA05", "ramipril")),
        4,
    ),
    _Condition(
        "I21.9",
        "acuut myocardinfarct",
        ("PCI met stent", "CABG"),
        (("B01AC06", "acetylsalicylzuur"), ("C10AA05", "atorvastatine"), ("B01AC24", "ticagrelor")),
        3,
    ),
    _Condition(
        "I48.9",
        "atriumfibrilleren",
        ("cardioversie", "ablatie"),
        (("B01AF01", "rivaroxaban"), ("C07AB02", "metoprolol")),
        4,
    ),
    _Condition(
        "E11.9",
        "diabetes mellitus type 2",
        ("diabetesregulatie", "voetonderzoek"),
        (("A10BA02", "metformine"), ("A10BB09", "gliclazide")),
        8,
    ),
    _Condition(
        "J44.9",
        "COPD",
        ("longfunctieonderzoek", "longrevalidatie"),
        (("R03AK06", "salmeterol/fluticason"), ("R03BB04", "tiotropium")),
        5,
    ),
    _Condition(
        "J18.9",
        "pneumonie",
        ("intraveneuze antibiotica",),
        (("J01CR02", "amoxicilline/clavulaanzuur"),),
        5,
    ),
    _Condition(
        "N18.9",
        "chronische nierschade",
        ("dialyse", "nefrologisch consult"),
        (("B03XA01", "erytropoetine"),),
        3,
    ),
    _Condition(
        "C50.9",
        "mammacarcinoom",
        ("mammachirurgie", "chemotherapie", "radiotherapie"),
        (("L02BG03", "anastrozol"), ("L02BA01", "tamoxifen")),
        2,
        women_only=True,
    ),
    _Condition(
        "S72.0",
        "collumfractuur",
        ("heupprothese", "osteosynthese"),
        (("B01AB05", "enoxaparine"), ("N02BE01", "paracetamol")),
        2,
    ),
    _Condition(
        "I10",
        "essentiele hypertensie",
        ("24-uurs bloeddrukmeting",),
        (("C08CA01", "amlodipine"), ("C03AA03", "hydrochloorthiazide")),
        10,
    ),
)
_EVERYDAY_DRUGS = (("N02BE01", "paracetamol"), ("A02BC01", "omeprazol"), ("M01AE01", "ibuprofen"))
_CARE_TYPES = ("huisartsenzorg", "farmacie", "ziekenhuiszorg", "fysiotherapie", "ggz")
_YEARS = (2022, 2023, 2024)


@dataclass(frozen=True)
class Holder:
    """One data holder's view: identities (for linkage) apart from events (payload).

    Attributes
    ----------
    name : str
        ``"hospital"``, ``"insurer"`` or ``"pharmacy"``.
    people : DataFrame
        ``record_id`` and the :data:`IDENTITY` columns as the holder has them (with
        errors; ``bsn`` None where the holder has none).
    events : DataFrame
        ``record_id`` and the holder's data, one row per diagnosis, claim or
        dispensing.
    """

    name: str
    people: pd.DataFrame
    events: pd.DataFrame


@dataclass(frozen=True)
class Scenario:
    """The 3-holder demo data and who is who.

    Attributes
    ----------
    hospital, insurer, pharmacy : Holder
        Diagnoses (ICD-10) and treatments; claims (care type, cost, year); dispensings
        (ATC code, quantity).
    truth : DataFrame
        ``holder``, ``record_id``, ``person_id``, ``has_bsn``: the ground truth.
    population : DataFrame
        The clean people everyone was drawn from, with their ``conditions``.
    """

    hospital: Holder
    insurer: Holder
    pharmacy: Holder
    truth: pd.DataFrame
    population: pd.DataFrame

    def holders(self) -> dict[str, Holder]:
        """The three holders by name."""
        return {h.name: h for h in (self.hospital, self.insurer, self.pharmacy)}


def _conditions(rng: np.random.Generator, people: pd.DataFrame) -> list[tuple[int, ...]]:
    """Latent conditions per person (indices into _CONDITIONS), more with age."""
    weights = np.array([c.weight for c in _CONDITIONS], dtype=np.float64)
    ages = 2025 - people["dob"].str.slice(0, 4).astype(int).to_numpy()
    found: list[tuple[int, ...]] = []
    for age, sex in zip(ages, people["sex"], strict=True):
        allowed = weights * np.array([sex == "v" or not c.women_only for c in _CONDITIONS])
        count = min(int(rng.poisson(0.2 + age / 40)), 4)
        chosen = rng.choice(len(_CONDITIONS), size=count, replace=False, p=allowed / allowed.sum())
        found.append(tuple(sorted(int(c) for c in chosen)))
    return found


def _holder_people(
    rng: np.random.Generator,
    people: pd.DataFrame,
    prefix: str,
    missing_bsn: float,
    rates: Corruption | None,
    seed: int,
) -> pd.DataFrame:
    shuffled = people.iloc[rng.permutation(len(people))].reset_index(drop=True)
    dirty = corrupt(shuffled, seed=seed, rates=rates)
    dirty.insert(0, "record_id", [f"{prefix}{i:06d}" for i in range(len(dirty))])
    without = rng.random(len(dirty)) < missing_bsn
    dirty["bsn"] = pd.Series(
        [None if w else b for w, b in zip(without, dirty["bsn"], strict=True)], dtype=object
    )
    return dirty


def _date_in(rng: np.random.Generator, year: int) -> str:
    return (date(year, 1, 1) + timedelta(days=int(rng.integers(365)))).isoformat()


def _hospital_events(rng: np.random.Generator, people: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for record, conditions in zip(people["record_id"], people["conditions"], strict=True):
        for index in conditions:
            condition = _CONDITIONS[index]
            rows.append(
                {
                    "record_id": record,
                    "admission_date": _date_in(rng, int(rng.choice(_YEARS))),
                    "icd10": condition.icd10,
                    "diagnosis": condition.diagnosis,
                    "treatment": str(rng.choice(list(condition.treatments))),
                    "length_of_stay": int(rng.integers(0, 15)),
                }
            )
    return pd.DataFrame(
        rows,
        columns=[
            "record_id",
            "admission_date",
            "icd10",
            "diagnosis",
            "treatment",
            "length_of_stay",
        ],
    )


def _insurer_events(
    rng: np.random.Generator, people: pd.DataFrame, hospital_ids: set[str]
) -> pd.DataFrame:
    rows = []
    for record, person, conditions in zip(
        people["record_id"], people["person_id"], people["conditions"], strict=True
    ):
        burden = len(conditions)
        for year in _YEARS:
            for care in _CARE_TYPES:
                if care == "ziekenhuiszorg" and person not in hospital_ids:
                    continue
                if care == "farmacie" and not burden and rng.random() < 0.6:
                    continue
                if care in ("fysiotherapie", "ggz") and rng.random() < 0.8:
                    continue
                scale = {"huisartsenzorg": 150, "farmacie": 300, "ziekenhuiszorg": 4000}.get(
                    care, 600
                )
                cost = scale * (1 + 0.6 * burden) * rng.lognormal(0, 0.5)
                rows.append(
                    {"record_id": record, "year": year, "care_type": care, "cost": round(cost, 2)}
                )
    return pd.DataFrame(rows, columns=["record_id", "year", "care_type", "cost"])


def _pharmacy_events(rng: np.random.Generator, people: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for record, conditions in zip(people["record_id"], people["conditions"], strict=True):
        drugs = [d for index in conditions for d in _CONDITIONS[index].drugs]
        if rng.random() < 0.5:
            drugs.append(_EVERYDAY_DRUGS[int(rng.integers(len(_EVERYDAY_DRUGS)))])
        for atc, substance in drugs:
            for _ in range(int(rng.integers(1, 5))):
                rows.append(
                    {
                        "record_id": record,
                        "dispensing_date": _date_in(rng, int(rng.choice(_YEARS))),
                        "atc": atc,
                        "substance": substance,
                        "quantity": int(rng.choice([30, 60, 90, 100])),
                    }
                )
    return pd.DataFrame(
        rows, columns=["record_id", "dispensing_date", "atc", "substance", "quantity"]
    )


def _pick(rng: np.random.Generator, rows: IntArray, share: float) -> IntArray:
    return np.sort(rng.choice(rows, size=round(share * len(rows)), replace=False))


def scenario(
    seed: int = 0,
    size: int = 500,
    *,
    insurer_share: float = 0.6,
    pharmacy_share: float = 0.45,
    insurer_others: float = 0.5,
    pharmacy_others: float = 0.4,
    missing_bsn: Sequence[float] = (0.03, 0.0, 0.08),
    rates: Corruption | None = None,
) -> Scenario:
    """A hospital, an insurer and a pharmacy with partly shared, dirty patients.

    The hospital has ``size`` patients (each with at least one condition). The
    insurer holds ``insurer_share`` of them plus ``insurer_others * size`` other
    people; the pharmacy ``pharmacy_share`` of them plus ``pharmacy_others * size``
    others (drawn from the same pool, so the insurer and the pharmacy share some of
    those too). Every holder's identities are an independent :func:`corrupt` copy, and
    ``missing_bsn`` (hospital, insurer, pharmacy) of its records lack a BSN: only
    Bloom-filter linkage can find those. Conditions drive diagnoses, drugs and costs,
    so a vertical analysis on the linked data has signal.

    Examples
    --------
    >>> demo = scenario(seed=1, size=100)
    >>> len(demo.hospital.people), len(demo.insurer.people), len(demo.pharmacy.people)
    (100, 110, 85)
    >>> sorted(demo.truth["holder"].unique())
    ['hospital', 'insurer', 'pharmacy']
    """
    for name, value in (
        ("insurer_share", insurer_share),
        ("pharmacy_share", pharmacy_share),
        ("insurer_others", insurer_others),
        ("pharmacy_others", pharmacy_others),
        *zip(("missing_bsn (hospital)", "(insurer)", "(pharmacy)"), missing_bsn, strict=True),
    ):
        _check_rate(name, value)
    if size < 1:
        raise InputError(f"scenario size {size} is not positive; give the hospital's patients.")
    rng = np.random.default_rng([seed, 2])
    people = population(4 * size, seed=seed)
    people["conditions"] = _conditions(rng, people)
    ill = np.flatnonzero(people["conditions"].map(len).to_numpy() > 0)
    if len(ill) < size:  # pragma: no cover - about 80 % have a condition
        raise InputError("the synthetic population has too few patients; lower size.")
    hospital_rows = np.sort(rng.choice(ill, size=size, replace=False))
    rest = np.setdiff1d(np.arange(len(people)), hospital_rows)
    insurer_rows = np.concatenate(
        [
            _pick(rng, hospital_rows, insurer_share),
            rng.choice(rest, round(insurer_others * size), replace=False),
        ]
    )
    pharmacy_rows = np.concatenate(
        [
            _pick(rng, hospital_rows, pharmacy_share),
            rng.choice(rest, round(pharmacy_others * size), replace=False),
        ]
    )
    hospital_ids = set(people["person_id"].iloc[hospital_rows])
    made: dict[str, tuple[pd.DataFrame, pd.DataFrame]] = {}
    plan = (
        ("hospital", "H", hospital_rows),
        ("insurer", "I", insurer_rows),
        ("pharmacy", "F", pharmacy_rows),
    )
    for number, ((name, prefix, rows), no_bsn) in enumerate(zip(plan, missing_bsn, strict=True)):
        holder_people = _holder_people(
            rng, people.iloc[rows], prefix, no_bsn, rates, seed=seed * 10 + number
        )
        if name == "hospital":
            events = _hospital_events(rng, holder_people)
        elif name == "insurer":
            events = _insurer_events(rng, holder_people, hospital_ids)
        else:
            events = _pharmacy_events(rng, holder_people)
        made[name] = (holder_people, events)
    truth = pd.concat(
        [
            pd.DataFrame(
                {
                    "holder": name,
                    "record_id": frame["record_id"],
                    "person_id": frame["person_id"],
                    "has_bsn": frame["bsn"].notna(),
                }
            )
            for name, (frame, _) in made.items()
        ],
        ignore_index=True,
    )
    holders = {
        name: Holder(name, frame[["record_id", *IDENTITY]].reset_index(drop=True), events)
        for name, (frame, events) in made.items()
    }
    return Scenario(holders["hospital"], holders["insurer"], holders["pharmacy"], truth, people)
