"""The web interface with a study in it, to click through: ``perron demo --ui``.

A real hub and the three hospitals' stations on 127.0.0.1 (as ``perron demo
--route``), the hospitals' people with their roles, a hub admin, and:

- the lung cancer study taken along the route, its policies signed, a
  Kaplan-Meier analysis and a Cox model run by the researcher's client and
  published to the study, with one analysis the stations refused;
- a second data request waiting in the data managers' inboxes, so a person can
  take the next steps in the browser.

The hub keeps running until Ctrl-C; the sign-ins are printed.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from rich.console import Console
from rich.table import Table

from perron.client.governance import Governance
from perron.demos.route import (
    HOLDERS,
    STAFF,
    STUDY,
    People,
    create_people,
    data_request,
    walk_route,
    with_ids,
)
from perron.demos.study import POLICY, lung_stations
from perron.hub import admin
from perron.protocol.errors import OutsidePolicy
from perron.sandbox.localnet import RESEARCH_ORG, RESEARCHER, LocalNetwork

ADMIN = "hub-admin"
#: The second request, left for a person to take along the route in the browser.
SECOND_STUDY = "lung-followup"


@dataclass
class UiWorld:
    """A running network with its people; :func:`ui_world` starts and stops it."""

    network: LocalNetwork
    people: People
    admin_password: str = field(default_factory=lambda: secrets.token_urlsafe(16))

    @property
    def url(self) -> str:
        """The web interface."""
        return f"{self.network.url}/ui/"

    def password(self, username: str) -> str:
        """The password of a person of the demo."""
        if username == RESEARCHER:
            return self.network.password
        if username == ADMIN:
            return self.admin_password
        return self.people.password

    def logins(self) -> list[tuple[str, str]]:
        """``(username, what they do)`` for every person of the demo."""
        rows = [(RESEARCHER, f"researcher of {RESEARCH_ORG}"), (ADMIN, "hub admin")]
        for holder in HOLDERS.values():
            for desk, roles in STAFF.items():
                what = ", ".join(role.label for role in roles)
                rows.append((self.people.username(holder, desk), f"{what} at {holder}"))
        return rows


@contextmanager
def ui_world() -> Iterator[UiWorld]:
    """The hub, the three stations and the people, running until the block ends."""
    people = People()
    network = LocalNetwork(
        with_ids(lung_stations()),
        disclosure=POLICY,
        study=STUDY,
        organisations=HOLDERS,
        station_settings={s: people.signers_toml(h) for s, h in HOLDERS.items()},
        create_study=False,
    )
    network.start()
    try:
        world = UiWorld(network, people)
        create_people(network, people)
        with admin.admin_session(network.database_url) as db:
            admin.create_user(
                db, ADMIN, organisation=RESEARCH_ORG, password=world.admin_password, role="admin"
            )
        yield world
    finally:
        network.close()


def run_study(world: UiWorld, console: Console) -> str:
    """The lung study along the route, analysed and published; returns the request id."""
    request_id, _tracks = walk_route(world.network, world.people, console)
    session = world.network.connect(progress=False)
    try:
        curves = session.kaplan_meier("time", "status", by=["sex"])
        session.publish(curves, title="Overall survival by sex")
        cox = session.coxph("time", "status", ["age", "sex", "ph_ecog"], ties="efron")
        session.publish(cox, title="Hazard ratios, adjusted for age and ECOG")
        try:
            session.summary(["wt_loss"])
        except OutsidePolicy as refused:
            session.publish_error(refused, title="Weight loss: outside the agreed columns")
    finally:
        session.close()
    return request_id


def leave_waiting(world: UiWorld) -> str:
    """A second request with its research question agreed: the data managers' turn."""
    request = data_request().model_copy(
        update={"title": "One-year survival after lung cancer: a follow-up"}
    )
    with Governance.login(world.network.url, RESEARCHER, world.network.password) as applicant:
        request_id = applicant.submit(SECOND_STUDY, request)
        for holder in HOLDERS.values():
            applicant.decide(request_id, holder, "research_question", "go", comment="PICO agreed")
    return request_id


def sign_ins(world: UiWorld) -> Table:
    table = Table(title=f"Sign in at {world.url}", show_lines=False)
    for column in ("username", "password", "who"):
        table.add_column(column)
    for username, what in world.logins():
        table.add_row(username, world.password(username), what)
    return table


def main(console: Console, *, hold: bool = True) -> None:
    """``perron demo --ui``: start everything, print where to sign in, wait for Ctrl-C."""
    console.print("[bold]Perron demo: the web interface[/bold]")
    console.print("starting a hub and three station processes on 127.0.0.1 ...")
    try:
        with ui_world() as world:
            console.print(f"the web interface runs at [bold]{world.url}[/bold]")
            run_study(world, console)
            leave_waiting(world)
            console.print(sign_ins(world))
            console.print(
                "The lung study has results on its study page; a second request waits in "
                "the data managers' inboxes (sign in as a *-data user). The public register "
                "needs no sign-in. Ctrl-C stops the hub and the stations."
            )
            while hold:
                time.sleep(1.0)
    except KeyboardInterrupt:
        console.print("stopped: the hub and the stations are shut down.")
