"""``perron demo --linkage``: pseudonyms, the overlap report and Bloom linkage agree
with the synthetic scenario's ground truth."""

from __future__ import annotations

from perron.demos.linkage import run_linkage
from perron.linkage.synthetic import scenario


def test_the_linkage_demo_matches_the_ground_truth():
    data = scenario(seed=1, size=200)
    truth = data.truth[data.truth["has_bsn"]]
    people = {h: set(truth[truth["holder"] == h]["person_id"]) for h in data.holders()}

    outcome = run_linkage(data)

    report = outcome.report
    assert report.sizes == {h: float(len(p)) for h, p in people.items()}
    assert report.pairwise[("hospital", "insurer")] == len(people["hospital"] & people["insurer"])
    assert report.overlap == len(people["hospital"] & people["insurer"] & people["pharmacy"])
    assert outcome.bloom.precision >= 0.98
    assert outcome.bloom.recall >= 0.95
    assert outcome.found_without_bsn >= 0.8 * outcome.true_without_bsn
    table = outcome.crosstab.table
    assert list(table.index) == ["cardiovascular", "other"]
    assert 0 < table.to_numpy().sum() <= report.pairwise[("hospital", "insurer")]
