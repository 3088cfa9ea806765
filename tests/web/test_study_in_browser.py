"""One whole study in a real browser, through the pages only where a person would click.

A researcher sends a data request to three hospitals; at each hospital the data
manager, privacy officer, legal counsel, IT officer and security officer find the
step in their inbox and decide go (the southern hospital's privacy officer says
no-go); the approvers sign the policies with their own keys (as ``perron request
sign`` does: a key never enters a page); the researcher's client runs the analyses
and publishes them; the results, the station's error, the tasks per station, the
station's state and audit log, the public register and the admin pages are then
checked on screen.
"""

from __future__ import annotations

import csv
import io
import re
import time
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from perron.client.governance import Governance
from perron.demos.route import HOLDERS, REFUSING, STAFF, STUDY
from perron.demos.ui import ADMIN, UiWorld, ui_world
from perron.governance.route import SIGNING_ROLES, Step
from perron.protocol.errors import OutsidePolicy
from perron.sandbox.localnet import RESEARCHER
from tests.web.conftest import screenshot

HOLDER_STEPS = (
    Step.DATASET_PREPARATION,
    Step.DPIA,
    Step.AGREEMENTS,
    Step.INSTALLATION,
    Step.RISK_ASSESSMENT,
)
DESK_OF = {role: desk for desk, roles in STAFF.items() for role in roles}


@pytest.fixture(scope="module")
def world() -> Iterator[UiWorld]:
    with ui_world() as running:
        yield running


class People:
    """One browser context (its own cookies) per person, signed in once."""

    def __init__(self, browser: Browser, world: UiWorld) -> None:
        self.browser, self.world, self.pages = browser, world, dict[str, Page]()

    def __call__(self, username: str) -> Page:
        if username not in self.pages:
            page = self.browser.new_context().new_page()
            page.goto(f"{self.world.url}login")
            page.get_by_label("Username").fill(username)
            page.get_by_label("Password").fill(self.world.password(username))
            page.get_by_role("button", name="Sign in").click()
            expect(page.locator("#whoami")).to_contain_text(username)
            self.pages[username] = page
        return self.pages[username]


@pytest.fixture(scope="module")
def people(browser: Browser, world: UiWorld) -> People:
    return People(browser, world)


def _decide(
    page: Page, world: UiWorld, request_id: str, holder: str, outcome: str, why: str
) -> None:
    page.goto(f"{world.url}inbox")
    page.locator(f'a[href$="/requests/{request_id}/tracks/{holder}"]').click()
    page.get_by_label("No-go" if outcome == "no_go" else "Go", exact=True).check()
    page.get_by_label("Reason (recorded in the track's history)").fill(why)
    page.locator("#record-decision").click()
    expect(page.locator("#history")).to_contain_text(why)


def _request_in_browser(page: Page, world: UiWorld) -> str:
    page.goto(f"{world.url}requests/new")
    page.get_by_label("Study name").fill(STUDY)
    page.get_by_label("Title").fill("Survival after lung cancer <script>alert(1)</script>")
    page.get_by_label("Lay summary").fill(
        "How long do patients live after a lung cancer diagnosis?"
    )
    page.get_by_label("Purpose, described").fill("Observational survival study (cohort).")
    page.get_by_label("Population").fill("patients with advanced lung cancer")
    page.get_by_label("Intervention or exposure").fill("female sex")
    page.get_by_label("Comparison").fill("male sex")
    page.get_by_label("Outcome").fill("overall survival")
    page.get_by_label("Other datasets").fill("\n".join(f"{h}/lung" for h in HOLDERS.values()))
    page.get_by_label("Variables").fill("time, status, age, sex, ph_ecog")
    for analysis in ("summary", "kaplan_meier", "coxph"):
        page.get_by_label(analysis, exact=True).check()
    page.get_by_label("Safeguards").fill("Only aggregates that pass each hospital's rules leave.")
    page.get_by_label("Expected outputs").fill("Kaplan-Meier curves and hazard ratios.")
    page.get_by_label("Ethics declaration").fill("Reviewed by the medical ethics committee.")
    page.get_by_role("button", name="Send the request").click()
    expect(page.locator("#tracks")).to_contain_text("research question")
    screenshot(page, "ui-request")
    return page.url.rstrip("/").rsplit("/", 1)[-1]


@pytest.fixture(scope="module")
def study(world: UiWorld, people: People) -> str:
    """The study taken along the route through the pages, run and published; its KM result.

    A fixture, not a first test: the tests after it need the study whichever xdist
    worker runs them (each worker that runs one builds its own network and study).
    """
    researcher = people(RESEARCHER)
    request_id = _request_in_browser(researcher, world)
    # The title is shown as text, not run as a script.
    expect(researcher.locator("h1")).to_have_text(
        "Survival after lung cancer <script>alert(1)</script>"
    )

    for holder in HOLDERS.values():
        _decide(researcher, world, request_id, holder, "go", "PICO agreed")
    for holder in HOLDERS.values():
        for step in HOLDER_STEPS:
            person = people(world.people.username(holder, DESK_OF[step.lead]))
            if step is Step.DPIA and holder == REFUSING:
                _decide(
                    person, world, request_id, holder, "no_go", "Re-identification risk too high."
                )
                break
            _decide(person, world, request_id, holder, "go", f"{step.value} ok at {holder}")
            if step is Step.DPIA and holder == "umc-north":
                screenshot(person, "ui-decision")

    researcher.goto(f"{world.url}requests/{request_id}")
    tracks = researcher.locator("#tracks")
    expect(tracks.locator(f"#track-{REFUSING}")).to_contain_text("stopped")
    for holder in ("umc-north", "hospital-centre"):
        expect(tracks.locator(f"#track-{holder}")).to_contain_text("approved")
    screenshot(researcher, "ui-tracks")

    # The approvers sign with their own keys, outside the pages.
    for holder in ("umc-north", "hospital-centre"):
        for role in SIGNING_ROLES:
            username = world.people.username(holder, DESK_OF[role])
            with Governance.login(world.network.url, username, world.people.password) as desk:
                desk.register_keys(world.people.key(username))
                desk.sign_policy(request_id, holder, role, world.people.key(username))
    officer = people(world.people.username("umc-north", DESK_OF[Step.DPIA.lead]))
    officer.goto(f"{world.url}requests/{request_id}/tracks/umc-north/policy")
    expect(officer.locator("#signatures")).to_contain_text("valid")
    expect(officer.locator("#signatures")).not_to_contain_text("NOT VALID")
    expect(officer.locator("#datasets")).to_contain_text("ph_ecog")
    screenshot(officer, "ui-policy")

    # The researcher's client runs and publishes; the pages show what it published.
    session = world.network.connect()
    curves = session.kaplan_meier("time", "status", by=["sex"])
    km_id = session.publish(curves, title="Overall survival by sex")
    cox = session.coxph("time", "status", ["age", "sex", "ph_ecog"], ties="efron")
    session.publish(cox, title="Hazard ratios")
    with pytest.raises(OutsidePolicy) as refused:
        session.summary(["wt_loss"])
    session.publish_error(refused.value, title="Weight loss")
    return km_id


def test_a_whole_study_through_the_pages(world: UiWorld, people: People, study: str) -> None:
    researcher, km_id = people(RESEARCHER), study
    researcher.goto(f"{world.url}studies/{STUDY}")
    expect(researcher.locator("#results")).to_contain_text("Overall survival by sex")
    tasks = researcher.locator("#tasks")
    expect(tasks).to_contain_text("kaplan_meier")
    expect(tasks).to_contain_text("hospital_north: done")
    screenshot(researcher, "ui-study")

    researcher.goto(f"{world.url}studies/{STUDY}/results/{km_id}")
    image = researcher.locator("#figure img")
    expect(image).to_be_visible()
    assert researcher.evaluate("document.querySelector('#figure img').naturalWidth") > 0
    table = researcher.locator("#table-0")
    expect(table).to_contain_text("survival")
    screenshot(researcher, "ui-result", full_page=False)
    with researcher.expect_download() as download:
        researcher.get_by_role("link", name="Download CSV").first.click()
    rows = list(csv.reader(io.StringIO(download.value.path().read_text(encoding="utf-8"))))
    assert len(rows) > 10
    assert "survival" in ",".join(rows[0])

    researcher.goto(f"{world.url}studies/{STUDY}")
    researcher.get_by_role("link", name="Weight loss").click()
    expect(researcher.locator("#errors")).to_contain_text("OutsidePolicy")
    expect(researcher.locator("#errors")).to_contain_text("wt_loss")


@pytest.mark.usefixtures("study")
def test_the_holder_sees_its_station_and_verifies_its_audit_log(
    world: UiWorld, people: People
) -> None:
    data_manager = people(world.people.username("umc-north", "data"))
    data_manager.goto(f"{world.url}stations")
    row = data_manager.locator("#stations tr", has_text="hospital_north")
    expect(row).to_contain_text("online")
    expect(row).to_contain_text("0.1.0")
    row.get_by_role("link", name="hospital_north").click()
    expect(data_manager.locator("#objections")).to_contain_text("objection")
    # The station reports between polls, once its runs are done: wait for the entries.
    entries = data_manager.locator("#audit tbody tr")
    deadline = time.monotonic() + 60
    while entries.count() == 0 and time.monotonic() < deadline:
        time.sleep(1.0)
        data_manager.reload()
    assert entries.count() > 0
    expect(data_manager.locator("#audit")).to_contain_text("kaplan_meier")
    data_manager.locator("#verify").click()
    verified = data_manager.locator("#verified")
    expect(verified).to_contain_text("The chain holds")
    assert int(re.search(r"holds: (\d+) entries", verified.inner_text()).group(1)) > 0  # type: ignore[union-attr]
    screenshot(data_manager, "ui-station")
    # Another hospital's station is not shown to it.
    data_manager.goto(f"{world.url}stations?org=hospital-centre")
    expect(data_manager.locator("#error")).to_be_visible()
    expect(data_manager.locator("body")).not_to_contain_text("hospital_centre")


@pytest.mark.usefixtures("study")
def test_a_patient_reads_the_register_without_signing_in(world: UiWorld, browser: Browser) -> None:
    page = browser.new_context().new_page()
    page.goto(f"{world.url}register")
    page.get_by_label("Search").fill("lung")
    page.get_by_role("button", name="Search").click()
    expect(page.locator("article.entry").first).to_be_visible()
    expect(page.locator("#object")).to_contain_text("objection register")
    page.get_by_label("Search").fill("no such study anywhere")
    page.get_by_role("button", name="Search").click()
    expect(page.locator("#count")).to_contain_text("0 of")
    page.goto(f"{world.url}register")
    screenshot(page, "ui-register")


def test_the_admin_registers_and_rotates_a_station(world: UiWorld, people: People) -> None:
    page = people(ADMIN)
    page.goto(f"{world.url}admin")
    page.get_by_label("Organisation name").fill("gp-west")
    page.locator("#organisations").get_by_role("button", name="Create").click()
    expect(page.locator("#done")).to_contain_text("gp-west")
    page.get_by_label("Station name").fill("gp_west")
    page.get_by_label("Station organisation").select_option("gp-west")
    page.get_by_role("button", name="Register station").click()
    first = page.locator("#token").inner_text()
    assert first.startswith("ps_")
    page.locator("#stations tr", has_text="gp_west").get_by_role("button").click()
    expect(page.locator("#done")).to_contain_text("rotated")
    assert page.locator("#token").inner_text() not in ("", first)
    screenshot(page, "ui-admin")
    # A researcher gets no admin page.
    researcher = people(RESEARCHER)
    researcher.goto(f"{world.url}admin")
    expect(researcher.locator("#error")).to_be_visible()
