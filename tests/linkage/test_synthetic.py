"""The synthetic Dutch population, its dirty copies and the 3-holder demo."""

from __future__ import annotations

import pandas as pd
import pytest

from perron.linkage import bloom, synthetic
from perron.linkage.bsn import is_valid_bsn
from perron.linkage.synthetic import Corruption, corrupt, population, scenario
from perron.protocol.errors import InputError

NONE = Corruption(0, 0, 0, 0, 0, 0)


@pytest.fixture(scope="module")
def people() -> pd.DataFrame:
    return population(1000, seed=3)


@pytest.fixture(scope="module")
def demo() -> synthetic.Scenario:
    return scenario(seed=4, size=300)


def test_population_is_deterministic_per_seed():
    assert population(200, seed=1).equals(population(200, seed=1))
    assert not population(200, seed=1).equals(population(200, seed=2))


def test_population_values_are_well_formed(people):
    assert list(people.columns) == ["person_id", *synthetic.IDENTITY]
    assert people["bsn"].map(is_valid_bsn).all()
    assert people["bsn"].is_unique
    assert people["person_id"].is_unique
    assert people["postcode"].str.fullmatch(r"[1-9]\d{3} [A-Z]{2}").all()
    assert not people["postcode"].str[-2:].isin(["SA", "SD", "SS"]).any()
    assert not people["postcode"].str[-2:].str.contains("[FIOQUY]").any()
    assert set(people["sex"]) == {"m", "v"}
    births = pd.to_datetime(people["dob"], format="%Y-%m-%d")
    assert births.min().year >= 1930
    assert births.max().year <= 2024
    # Surnames with tussenvoegsels occur, and some names are (much) more common.
    assert people["surname"].str.match(r"(van|de|der|den|ter|ten) ").mean() > 0.05
    assert people["surname"].value_counts().iloc[0] >= 4


def test_no_corruption_is_an_exact_copy(people):
    assert corrupt(people, seed=1, rates=NONE).equals(people)


def test_corruption_is_deterministic_per_seed(people):
    assert corrupt(people, seed=9).equals(corrupt(people, seed=9))
    assert not corrupt(people, seed=9).equals(corrupt(people, seed=10))


def test_default_corruption_rates_are_roughly_met(people):
    dirty = corrupt(people, seed=2)
    changed = (
        dirty[["first_name", "surname", "dob", "postcode"]]
        != people[["first_name", "surname", "dob", "postcode"]]
    ).mean()
    # first name: typo 5 % + missing 2 %; surname: + variants 5 %; postcode: moved 5 %.
    assert 0.03 < changed["first_name"] < 0.12
    assert 0.07 < changed["surname"] < 0.18
    assert 0.02 < changed["dob"] < 0.08
    assert 0.03 < changed["postcode"] < 0.12
    assert dirty["bsn"].equals(people["bsn"])
    assert dirty["person_id"].equals(people["person_id"])


def test_each_kind_of_error(people):
    swapped = corrupt(people, seed=1, rates=Corruption(0, 0, 1, 0, 0, 0))
    for before, after in zip(people["dob"], swapped["dob"], strict=True):
        year, month, day = before.split("-")
        expected = f"{year}-{day}-{month}" if int(day) <= 12 and day != month else before
        assert after == expected
    missing = corrupt(people, seed=1, rates=Corruption(0, 1, 0, 0, 0, 0))
    assert missing[["first_name", "surname", "sex", "dob", "postcode"]].isna().all().all()
    moved = corrupt(people, seed=1, rates=Corruption(0, 0, 0, 0, 1, 0))
    assert (moved["postcode"] != people["postcode"]).mean() > 0.95
    assert 0.3 < (moved["postcode"].str[:4] == people["postcode"].str[:4]).mean() < 0.7
    typos = corrupt(people, seed=1, rates=Corruption(1, 0, 0, 0, 0, 0))
    distance = [
        abs(len(a) - len(b)) for a, b in zip(people["first_name"], typos["first_name"], strict=True)
    ]
    assert set(distance) <= {0, 1}
    assert (typos["first_name"] != people["first_name"]).mean() > 0.9
    variants = corrupt(people, seed=1, rates=Corruption(0, 0, 0, 0, 0, 1))
    changed = variants["surname"][variants["surname"] != people["surname"]]
    assert len(changed) > 0.9 * len(people)
    assert changed.str.contains("-").any()  # a partner's name in front
    assert changed.str.contains(", ").any()  # "Vries, de"
    # However written, the normalised core of a particle variant is unchanged.
    particle = people["surname"].str.match(r"(van|de|der|den) \w+$")
    for before, after in zip(
        people["surname"][particle], variants["surname"][particle], strict=True
    ):
        if "-" not in after and "ij" not in before and "y" not in before:
            assert bloom.split_surname(after)[1] == bloom.split_surname(before)[1]


def test_dob_typos_stay_readable_dates(people):
    typos = corrupt(people, seed=1, rates=Corruption(0, 0, 0, 1, 0, 0))
    assert (typos["dob"] != people["dob"]).mean() > 0.99
    assert all(bloom.parse_dob(d) for d in typos["dob"])


@pytest.mark.parametrize("rates", [{"typo": 1.5}, {"missing": -0.1}], ids=["above one", "negative"])
def test_rates_must_be_probabilities(rates):
    with pytest.raises(InputError, match="not a probability"):
        Corruption(**rates)


def test_corrupt_needs_the_identity_columns():
    with pytest.raises(InputError, match="columns"):
        corrupt(pd.DataFrame({"first_name": ["Jan"]}))


def test_linkage_pair_overlap_and_truth():
    file_a, file_b = synthetic.linkage_pair(300, overlap=0.3, seed=5)
    assert len(file_a) == len(file_b) == 300
    assert len(set(file_a["person_id"]) & set(file_b["person_id"])) == 90
    again_a, _ = synthetic.linkage_pair(300, overlap=0.3, seed=5)
    assert again_a.equals(file_a)


# --- the 3-holder demo ----------------------------------------------------------------


def test_scenario_is_deterministic(demo):
    again = scenario(seed=4, size=300)
    for name, holder in demo.holders().items():
        assert holder.people.equals(again.holders()[name].people)
        assert holder.events.equals(again.holders()[name].events)
    assert demo.truth.equals(again.truth)


def test_scenario_coverage(demo):
    truth = demo.truth
    persons = {h: set(truth.loc[truth["holder"] == h, "person_id"]) for h in demo.holders()}
    assert len(persons["hospital"]) == 300
    assert len(persons["insurer"] & persons["hospital"]) == 180  # 60 %
    assert len(persons["pharmacy"] & persons["hospital"]) == 135  # 45 %
    assert len(persons["insurer"] - persons["hospital"]) == 150
    assert len(persons["pharmacy"] - persons["hospital"]) == 120
    assert persons["insurer"] & persons["pharmacy"] - persons["hospital"]  # others overlap too
    for holder in demo.holders().values():
        assert holder.people["record_id"].is_unique


def test_scenario_truth_matches_the_holders(demo):
    truth = demo.truth.set_index(["holder", "record_id"])
    population = demo.population.set_index("person_id")
    for name, holder in demo.holders().items():
        rows = truth.loc[name].loc[holder.people["record_id"]]
        assert list(rows["has_bsn"]) == list(holder.people["bsn"].notna())
        true_bsn = population.loc[rows["person_id"], "bsn"].to_numpy()
        has = holder.people["bsn"].notna().to_numpy()
        assert (holder.people["bsn"].to_numpy()[has] == true_bsn[has]).all()
        assert set(holder.events["record_id"]) <= set(holder.people["record_id"])
        assert "person_id" not in holder.people.columns  # holders do not know the truth


def test_some_records_lack_a_bsn(demo):
    lacking = demo.truth.groupby("holder")["has_bsn"].apply(lambda s: int((~s).sum()))
    assert lacking["hospital"] > 0
    assert lacking["pharmacy"] > lacking["hospital"]
    assert lacking["insurer"] == 0


def test_scenario_events_look_like_health_data(demo):
    hospital, insurer, pharmacy = demo.hospital.events, demo.insurer.events, demo.pharmacy.events
    assert hospital["icd10"].str.fullmatch(r"[A-Z]\d{2}(\.\d)?").all()
    assert len(hospital) >= 300  # every patient has a diagnosis
    assert pharmacy["atc"].str.fullmatch(r"[A-Z]\d{2}[A-Z]{2}\d{2}").all()
    assert (pharmacy["quantity"] > 0).all()
    assert set(insurer["year"]) == {2022, 2023, 2024}
    assert (insurer["cost"] > 0).all()
    assert "ziekenhuiszorg" in set(insurer["care_type"])
    # Conditions drive the drugs: hospital heart-failure patients get furosemide more.
    truth = demo.truth.set_index(["holder", "record_id"])["person_id"]
    failing = {
        truth[("hospital", r)] for r in hospital.loc[hospital["icd10"] == "I50.9", "record_id"]
    }
    on_furosemide = {
        truth[("pharmacy", r)] for r in pharmacy.loc[pharmacy["atc"] == "C03CA01", "record_id"]
    }
    assert failing & on_furosemide


def test_bloom_linkage_finds_patients_without_a_bsn(demo):
    """Hospital records without a BSN are found in the pharmacy only by their CLKs.

    Measured (seeds 4-8, random secrets): precision 1.000, recall 0.993-1.000 of the
    135 shared patients, and every shared patient without a BSN found.
    """
    secret = b"a fixed test secret for the demo"
    schema = bloom.LinkageSchema()
    hospital, pharmacy = demo.hospital.people, demo.pharmacy.people
    pairs = bloom.match(
        bloom.encode(hospital, schema, secret),
        bloom.encode(pharmacy, schema, secret),
        schema.recommended_threshold,
    )
    truth = demo.truth.set_index(["holder", "record_id"])["person_id"]
    ids_h = [truth[("hospital", r)] for r in hospital["record_id"]]
    ids_p = [truth[("pharmacy", r)] for r in pharmacy["record_id"]]
    score = bloom.quality(pairs, ids_h, ids_p, schema.recommended_threshold)
    assert score.precision >= 0.97
    assert score.recall >= 0.93
    no_bsn = [i for i, b in enumerate(hospital["bsn"]) if b is None and ids_h[i] in set(ids_p)]
    found = {i for i, j, _ in pairs if ids_h[i] == ids_p[j]}
    assert no_bsn
    assert len(found & set(no_bsn)) >= len(no_bsn) - 1


def test_scenario_checks_its_arguments():
    with pytest.raises(InputError, match="not a probability"):
        scenario(size=10, insurer_share=1.2)
    with pytest.raises(InputError, match="not positive"):
        scenario(size=0)
