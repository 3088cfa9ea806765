"""``perron demo --surveillance`` between real station processes: a signed surveillance
policy, a weekly job at the hub, the alarm in the outbreak's first week, a nowcast."""

from __future__ import annotations

import numpy as np
from rich.console import Console

from perron.demos.surveillance import WEEKS, run_surveillance


def test_the_surveillance_demo_alarms_in_the_outbreaks_first_week(tmp_path):
    console = Console(record=True, width=160)

    outcome = run_surveillance(console, tmp_path)

    assert set(outcome.tracks.values()) == {"approved"}
    assert [s.week for s in outcome.signals] == WEEKS
    assert outcome.first_alarm == outcome.outbreak_start
    before = [s for s in outcome.signals if s.week < outcome.outbreak_start]
    assert before
    assert not any(s.alarm for s in before)
    assert outcome.refusal is not None
    assert "policy rule 'parameter'" in outcome.refusal
    assert "weekly_counts.case" in outcome.refusal
    frame = outcome.nowcast.to_frame()
    assert len(frame) == 6
    assert (frame["lower"] <= frame["estimate"]).all()
    assert (frame["estimate"] <= frame["upper"]).all()
    assert (frame["estimate"] >= frame["reported"]).all()
    assert np.isfinite(frame.to_numpy()).all()
    (job,) = outcome.jobs
    assert job["name"] == "salmonella"
    assert job["last_week"] == str(WEEKS[-1])
    assert all(p.is_file() and p.stat().st_size > 10_000 for p in outcome.plots)
    assert "ALARM" in console.export_text()
