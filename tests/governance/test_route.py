"""The study route: every transition and every refusal, and replaying stored events."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perron.governance.roles import Role
from perron.governance.route import (
    APPROVING,
    SIGNING_ROLES,
    STEPS,
    Attachment,
    Event,
    Outcome,
    RouteViolation,
    Step,
    Track,
    TrackStatus,
    decide,
    replay,
    send_back,
)
from perron.protocol.errors import InputError, NotAuthorized

AT = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
HOLDER = "umc-north"
#: One person per step, holding that step's lead role only.
PEOPLE = {step: f"{step.lead.value}-person" for step in STEPS}


def _go(step: Step, minutes: int = 0, comment: str = "") -> Event:
    when = AT + timedelta(minutes=minutes)
    return decide(step, "go", PEOPLE[step], {step.lead}, when, comment)


def _at(step: Step) -> Track:
    """A track with every step before ``step`` decided "go"."""
    return replay(HOLDER, [_go(s, i) for i, s in enumerate(STEPS[: step.position])])


def test_a_new_track_starts_at_the_research_question():
    track = Track(HOLDER)

    assert track.current is Step.RESEARCH_QUESTION
    assert track.status is TrackStatus.IN_PROGRESS
    assert track.decisions == {}
    assert track.history == ()
    assert not track.approved


def test_the_happy_path_goes_through_every_step_to_approved_then_completed():
    track = Track(HOLDER)

    for i, step in enumerate(APPROVING):
        assert track.current is step
        assert track.status is TrackStatus.IN_PROGRESS
        track = track.apply(_go(step, i))

    assert track.status is TrackStatus.APPROVED
    assert track.approved
    assert track.current is Step.ANALYSIS
    assert list(track.decisions) == list(APPROVING)

    track = track.apply(_go(Step.ANALYSIS, 10, comment="Results reported."))

    assert track.status is TrackStatus.COMPLETED
    assert track.approved
    assert track.current is Step.ANALYSIS
    assert list(track.decisions) == list(STEPS)
    assert len(track.history) == len(STEPS)


def test_a_decision_records_who_when_with_which_roles_comment_and_attachments():
    dpia = Attachment("dpia.md", "ab" * 32)
    event = decide(
        Step.RESEARCH_QUESTION,
        Outcome.GO,
        "ana",
        [Role.RESEARCHER, Role.ORG_ADMIN],
        AT,
        comment="Question is clear.",
        attachments=[dpia],
    )

    track = Track(HOLDER).apply(event)

    recorded = track.decisions[Step.RESEARCH_QUESTION]
    assert recorded.actor == "ana"
    assert recorded.at == AT
    assert recorded.roles == {Role.RESEARCHER, Role.ORG_ADMIN}
    assert recorded.outcome is Outcome.GO
    assert recorded.comment == "Question is clear."
    assert recorded.attachments == (dpia,)
    assert dpia.media_type == "text/markdown"


@pytest.mark.parametrize("step", STEPS, ids=str)
def test_a_step_is_decided_only_by_its_lead_role(step):
    track = _at(step)
    others = frozenset(Role) - {step.lead}

    with pytest.raises(NotAuthorized, match=f"decided by the {step.lead.label}"):
        track.apply(decide(step, "go", "mallory", others, AT))
    with pytest.raises(NotAuthorized, match="no role"):
        track.apply(decide(step, "go", "mallory", (), AT))
    assert track == _at(step)


@pytest.mark.parametrize("step", STEPS[1:], ids=str)
def test_a_later_step_cannot_be_decided_before_its_turn(step):
    track = Track(HOLDER)

    with pytest.raises(RouteViolation, match="is at 'research_question'"):
        track.apply(decide(step, "go", "x", set(Role), AT))


def test_a_decided_step_cannot_be_decided_again():
    track = _at(Step.DPIA)

    with pytest.raises(RouteViolation, match="cannot be decided now"):
        track.apply(_go(Step.DATASET_PREPARATION))


@pytest.mark.parametrize("step", STEPS, ids=str)
def test_a_no_go_stops_the_track_and_nothing_more_is_decided(step):
    track = _at(step).apply(decide(step, "no_go", PEOPLE[step], {step.lead}, AT))

    assert track.status is TrackStatus.STOPPED
    assert not track.approved
    assert track.current is step
    assert track.decisions[step].outcome is Outcome.NO_GO
    with pytest.raises(RouteViolation, match="is stopped"):
        track.apply(_go(step))
    if step.position > 0:
        with pytest.raises(RouteViolation, match="is stopped"):
            track.apply(send_back(STEPS[0], "x", set(Role), AT))


def test_a_send_back_undoes_the_later_decisions_and_the_route_continues_from_there():
    track = _at(Step.INSTALLATION)
    back = send_back(Step.DPIA, PEOPLE[Step.INSTALLATION], {Role.IT_ADMIN}, AT, "Redo it.")

    track = track.apply(back)

    assert track.current is Step.DPIA
    assert track.status is TrackStatus.IN_PROGRESS
    assert list(track.decisions) == [Step.RESEARCH_QUESTION, Step.DATASET_PREPARATION]
    assert track.history[-1] is back
    with pytest.raises(RouteViolation):
        track.apply(_go(Step.INSTALLATION))
    for step in APPROVING[Step.DPIA.position :]:
        track = track.apply(_go(step, 60))
    assert track.status is TrackStatus.APPROVED
    assert track.decisions[Step.DPIA].at == AT + timedelta(minutes=60)
    assert len(track.history) == 4 + 1 + 4


def test_an_approved_track_can_be_sent_back_by_the_researcher_and_is_no_longer_approved():
    track = _at(Step.ANALYSIS)
    assert track.approved

    track = track.apply(send_back(Step.AGREEMENTS, "ana", {Role.RESEARCHER}, AT))

    assert track.status is TrackStatus.IN_PROGRESS
    assert not track.approved
    assert track.current is Step.AGREEMENTS
    assert Step.RISK_ASSESSMENT not in track.decisions


def test_a_send_back_to_the_first_step_undoes_every_decision():
    track = _at(Step.RISK_ASSESSMENT)

    track = track.apply(send_back(Step.RESEARCH_QUESTION, "sec", {Role.SECURITY_OFFICER}, AT))

    assert track.current is Step.RESEARCH_QUESTION
    assert track.decisions == {}


@pytest.mark.parametrize("to", [Step.DPIA, Step.AGREEMENTS, Step.ANALYSIS], ids=str)
def test_a_send_back_to_the_current_or_a_later_step_is_refused(to):
    track = _at(Step.DPIA)

    with pytest.raises(RouteViolation, match="only be sent back to an earlier step"):
        track.apply(send_back(to, "x", set(Role), AT))


def test_a_send_back_on_a_new_track_is_refused():
    with pytest.raises(RouteViolation):
        Track(HOLDER).apply(send_back(Step.RESEARCH_QUESTION, "x", set(Role), AT))


def test_only_the_lead_of_the_current_step_sends_back():
    track = _at(Step.AGREEMENTS)
    # The privacy officer led the step being sent back to, but not the current one.
    back = send_back(Step.DPIA, "pat", {Role.PRIVACY_OFFICER, Role.RESEARCHER}, AT)

    with pytest.raises(NotAuthorized, match="decided by the legal counsel"):
        track.apply(back)


def test_a_completed_track_refuses_every_event():
    track = _at(Step.ANALYSIS).apply(_go(Step.ANALYSIS))

    with pytest.raises(RouteViolation, match="is completed"):
        track.apply(_go(Step.ANALYSIS))
    with pytest.raises(RouteViolation, match="is completed"):
        track.apply(send_back(Step.DPIA, "ana", {Role.RESEARCHER}, AT))


def test_one_person_with_several_roles_decides_several_steps():
    roles = {Role.DATA_MANAGER, Role.PRIVACY_OFFICER, Role.LEGAL_COUNSEL}
    track = _at(Step.DATASET_PREPARATION)

    for step in (Step.DATASET_PREPARATION, Step.DPIA, Step.AGREEMENTS):
        track = track.apply(decide(step, "go", "dana", roles, AT))

    assert track.current is Step.INSTALLATION
    assert {track.decisions[s].actor for s in STEPS[1:4]} == {"dana"}


def test_replay_of_the_stored_events_gives_the_same_track():
    track = _at(Step.RISK_ASSESSMENT)
    track = track.apply(send_back(Step.DPIA, "sec", {Role.SECURITY_OFFICER}, AT))
    track = track.apply(decide(Step.DPIA, "no_go", "pat", {Role.PRIVACY_OFFICER}, AT))

    again = replay(HOLDER, track.history)

    assert again == track
    assert again.to_wire() == track.to_wire()


def test_replay_refuses_a_stored_sequence_that_breaks_the_route():
    with pytest.raises(RouteViolation):
        replay(HOLDER, [_go(Step.RESEARCH_QUESTION), _go(Step.DPIA)])


def test_to_wire_is_json():
    track = _at(Step.DPIA).apply(
        decide(
            Step.DPIA,
            "go",
            "pat",
            {Role.PRIVACY_OFFICER},
            AT,
            "ok",
            [Attachment("dpia.md", "0" * 64)],
        )
    )

    wire = json.loads(json.dumps(track.to_wire()))

    assert wire["holder"] == HOLDER
    assert wire["current"] == "agreements"
    assert wire["lead"] == "legal_counsel"
    assert wire["status"] == "in_progress"
    assert wire["decisions"]["dpia"]["attachments"] == [
        {"name": "dpia.md", "sha256": "0" * 64, "media_type": "text/markdown"}
    ]
    assert wire["decisions"]["dpia"]["at"] == AT.isoformat()
    assert wire["history"][-1]["roles"] == ["privacy_officer"]
    assert [e["kind"] for e in wire["history"]] == ["decision"] * 3


def test_a_send_back_event_on_the_wire_has_no_outcome():
    wire = send_back("dpia", "x", {Role.IT_ADMIN}, AT).to_wire()

    assert wire["kind"] == "send_back"
    assert wire["outcome"] is None


@pytest.mark.parametrize(
    "make", [lambda: decide("coffee", "go", "x", (), AT), lambda: send_back("coffee", "x", (), AT)]
)
def test_an_unknown_step_is_an_input_error(make):
    with pytest.raises(InputError, match="unknown step 'coffee'; the steps are research_question"):
        make()


def test_an_unknown_outcome_is_an_input_error():
    with pytest.raises(InputError, match="'go' or 'no_go', not 'maybe'"):
        decide(Step.DPIA, "maybe", "x", (), AT)


def test_an_unknown_event_kind_is_an_input_error():
    event = Event("teleport", Step.DPIA, "x", frozenset(Role), AT)

    with pytest.raises(InputError, match="unknown event kind 'teleport'"):
        Track(HOLDER).apply(event)


def test_the_steps_their_leads_and_the_signing_roles():
    assert [s.lead for s in STEPS] == [
        Role.RESEARCHER,
        Role.DATA_MANAGER,
        Role.PRIVACY_OFFICER,
        Role.LEGAL_COUNSEL,
        Role.IT_ADMIN,
        Role.SECURITY_OFFICER,
        Role.RESEARCHER,
    ]
    assert [s.position for s in STEPS] == list(range(7))
    assert [s.on_holder_side for s in STEPS] == [False, True, True, True, True, True, False]
    assert SIGNING_ROLES == (
        Role.DATA_MANAGER,
        Role.PRIVACY_OFFICER,
        Role.LEGAL_COUNSEL,
        Role.IT_ADMIN,
        Role.SECURITY_OFFICER,
    )


_roles = st.frozensets(st.sampled_from(list(Role)), max_size=3)
_steps = st.sampled_from(STEPS)
_moves = st.sampled_from(["go"] * 12 + ["no_go", "back", "back", "any", "any", "any"])


def _event(data: st.DataObject, track: Track) -> Event:
    """An event drawn with the track's state in mind, so that long routes are explored:
    mostly what the current lead would do, sometimes anything at all."""
    move = data.draw(_moves)
    roles = data.draw(_roles)
    if move == "any":
        step = data.draw(_steps)
        if data.draw(st.booleans()):
            return send_back(step, "anyone", roles, AT)
        return decide(step, data.draw(st.sampled_from(["go", "no_go"])), "anyone", roles, AT)
    lead = roles | {track.current.lead}
    if move == "back":
        return send_back(data.draw(_steps), "lead", lead, AT)
    return decide(track.current, move, "lead", lead, AT)


def _consistent(track: Track) -> None:
    """The invariants of a track: its decisions are exactly the steps behind it."""
    decided = list(track.decisions)
    if track.status is TrackStatus.COMPLETED:
        assert decided == list(STEPS)
    elif track.status is TrackStatus.STOPPED:
        assert decided == list(STEPS[: track.current.position + 1])
        assert track.decisions[track.current].outcome is Outcome.NO_GO
    else:
        assert decided == list(STEPS[: track.current.position])
        assert all(e.outcome is Outcome.GO for e in track.decisions.values())
        assert track.approved == (track.current is Step.ANALYSIS)


@settings(max_examples=100, derandomize=True, deadline=None)
@given(st.data())
def test_any_sequence_of_events_either_applies_or_raises_without_changing_the_track(data):
    track = Track(HOLDER)
    for _ in range(data.draw(st.integers(min_value=0, max_value=30))):
        event = _event(data, track)
        before = track.to_wire()
        try:
            track = track.apply(event)
        except (RouteViolation, NotAuthorized):
            assert track.to_wire() == before
        else:
            assert track.history[-1] is event
        _consistent(track)

    assert replay(HOLDER, track.history) == track
