"""Stations as the web pages show them: when each was last seen, and its last report.

**Sightings.** A station names its version in an ``X-Perron-Version`` header. When it
takes its runs (``GET /api/station/next``, ``POST /api/station/runs/{id}``, the
stream) the hub writes when it saw the station, that version and the transport
(``"long-poll"`` or ``"websocket"``) on the station's row, inside the unit of work
the route runs anyway: no extra worker-thread round trip in a round. A round makes
several such calls a second, so :class:`Sightings` lets one write through per station
every :data:`SIGHTING_SECONDS` per hub process (at once when the version or the
transport changed). Whether a station is online is read from that time.

**Reports.** A station pushes a report when it starts and when its audit log grew:
the lines of its audit log (the last ones, as written), a count and digest of its
objections (never an identifier) and the names of its datasets. The hub keeps the
last report of each station. The station's organisation's users and hub admins may
read its state and its report (:func:`perron.hub.services.auth.require_organisation`).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, cast

from sqlalchemy import Connection, bindparam, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from perron.hub.db.models import VERSION_LENGTH, Station, StationReport, User, utcnow
from perron.hub.db.tables import STATIONS
from perron.hub.errors import NotFound
from perron.hub.services.auth import Caller, require_organisation

Transport = Literal["long-poll", "websocket"]
LONG_POLL: Transport = "long-poll"
WEBSOCKET: Transport = "websocket"
#: A station's sighting is written at most this often (seconds, per hub process).
SIGHTING_SECONDS = 5.0


@dataclass(frozen=True)
class Sighting:
    """What a call of a station says about it: its version and how it takes runs."""

    version: str | None
    transport: Transport


def version_of(header: str | None) -> str | None:
    """The version an ``X-Perron-Version`` header names, as the hub stores it.

    A header is never refused (a station must not lose its runs over it): anything
    but printable ASCII is dropped and the rest cut to 64 characters.

    Examples
    --------
    >>> version_of("0.4.0")
    '0.4.0'
    >>> version_of("  ") is None
    True
    """
    if header is None:
        return None
    kept = "".join(char for char in header if " " <= char <= "~").strip()
    return kept[:VERSION_LENGTH] or None


_SEEN = (
    update(STATIONS)
    .where(STATIONS.c.id == bindparam("station_id"))
    .values(
        last_seen_at=bindparam("now"),
        version=bindparam("new_version"),
        transport=bindparam("new_transport"),
    )
)


class Sightings:
    """Per station, when this hub process last wrote a sighting, and which.

    One per hub (:class:`perron.hub.api.deps.Hub`); units of work call it from worker
    threads.

    Examples
    --------
    >>> clock = iter([0.0, 1.0, 6.0]).__next__
    >>> sightings = Sightings(clock=clock)
    >>> seen = Sighting("0.4.0", LONG_POLL)
    >>> [sightings.due(7, seen) for _ in range(3)]
    [True, False, True]
    """

    def __init__(
        self,
        interval: float = SIGHTING_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._interval = interval
        self._clock = clock
        self._lock = threading.Lock()
        self._written: dict[int, tuple[float, Sighting]] = {}

    def due(self, station_id: int, sighting: Sighting) -> bool:
        """Whether to write ``sighting`` now; if so it counts as written."""
        now = self._clock()
        with self._lock:
            last = self._written.get(station_id)
            if last is not None and last[1] == sighting and now - last[0] < self._interval:
                return False
            self._written[station_id] = (now, sighting)
            return True

    def record(self, connection: Connection, station: Caller, sighting: Sighting) -> None:
        """Write that ``station`` was seen now, unless it was a moment ago; commit.

        Runs inside the caller's unit of work, on its connection.
        """
        if not self.due(station.id, sighting):
            return
        written = False
        try:
            connection.execute(
                _SEEN,
                {
                    "station_id": station.id,
                    "now": utcnow(),
                    "new_version": sighting.version,
                    "new_transport": sighting.transport,
                },
            )
            connection.commit()
            written = True
        finally:
            if not written:  # the next call tries again
                with self._lock:
                    self._written.pop(station.id, None)


@dataclass(frozen=True)
class StationState:
    """A station of an organisation, as its users see it."""

    name: str
    organisation: str
    online: bool
    version: str | None
    transport: Transport | None
    last_seen_at: datetime | None
    verify_key: str | None
    box_key: str | None
    created_at: datetime


@dataclass(frozen=True)
class StationReportView:
    """A station's last report and when it came."""

    station: str
    organisation: str
    reported_at: datetime
    #: ``{"audit_lines", "audit_total", "objections", "datasets"}``.
    content: dict[str, Any]


def online(last_seen_at: datetime | None, online_seconds: float, now: datetime) -> bool:
    """Whether a station last seen at ``last_seen_at`` counts as online at ``now``."""
    return last_seen_at is not None and now - last_seen_at <= timedelta(seconds=online_seconds)


def stations_of(
    session: Session, user: User, organisation: str, online_seconds: float
) -> list[StationState]:
    """The stations of ``organisation``, by name, for its users and hub admins.

    Raises
    ------
    NotAuthorized
        ``user`` is neither of ``organisation`` nor a hub admin.
    NotFound
        No such organisation (told to hub admins only).
    """
    org = require_organisation(session, user, organisation)
    now = utcnow()
    found = session.scalars(
        select(Station).where(Station.organisation_id == org.id).order_by(Station.name)
    )
    return [
        StationState(
            name=station.name,
            organisation=org.name,
            online=online(station.last_seen_at, online_seconds, now),
            version=station.version,
            transport=cast(Transport | None, station.transport),
            last_seen_at=station.last_seen_at,
            verify_key=station.verify_key,
            box_key=station.box_key,
            created_at=station.created_at,
        )
        for station in found
    ]


def save_report(session: Session, station: Station, content: dict[str, Any]) -> None:
    """Store ``content`` as the station's report, replacing the one before; commit."""
    text = json.dumps(content, ensure_ascii=True, separators=(",", ":"), allow_nan=False)
    replace = (
        update(StationReport)
        .where(StationReport.station_id == station.id)
        .values(content=text, reported_at=utcnow())
    )
    if _rowcount(session.execute(replace)) == 0:
        try:
            session.add(StationReport(station_id=station.id, content=text, reported_at=utcnow()))
            session.commit()
            return
        except IntegrityError:  # its first report came twice at once: replace the other
            session.rollback()
            session.execute(replace)
    session.commit()


def _rowcount(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


def report_of(session: Session, user: User, organisation: str, name: str) -> StationReportView:
    """The last report of station ``name`` of ``organisation``.

    Raises
    ------
    NotAuthorized
        ``user`` is neither of ``organisation`` nor a hub admin.
    NotFound
        No such organisation (told to hub admins only), no such station in it, or the
        station has not reported yet.
    """
    org = require_organisation(session, user, organisation)
    station = session.scalar(
        select(Station).where(Station.name == name, Station.organisation_id == org.id)
    )
    if station is None:
        raise NotFound(
            f"organisation {org.name!r} has no station {name!r}; "
            f"GET /api/organisations/{org.name}/stations lists its stations."
        )
    report = session.get(StationReport, station.id)
    if report is None:
        raise NotFound(
            f"station {name!r} has not reported yet: a station reports when it starts "
            "(perron station start) and when its audit log grows; check that it runs "
            "and reaches the hub."
        )
    content: dict[str, Any] = json.loads(report.content)
    return StationReportView(station.name, org.name, report.reported_at, content)
