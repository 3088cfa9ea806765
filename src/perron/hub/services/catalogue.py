"""The catalogue at the hub: stations publish descriptions, everyone may find them.

A station publishes (or replaces, or withdraws) the descriptions of its own
holder's datasets, and only those; a dataset is named by its holder and name, the
names a data request uses, and belongs to the station that first published it (a
second station of the same holder gets ``Conflict``). What is stored is the
description the station sent, validated (:class:`DatasetMetadata`): metadata and
counts that already passed the holder's disclosure rules, never row-level data.

Who may read: a description listed ``"public"`` is readable without login, as EHDS
art. 77 asks of a dataset catalogue and as the public register is; one listed
``"hub"`` only with a valid token (a user of any organisation, or a station). An
unlisted description is answered ``NotFound``, as a missing one is, so the
catalogue does not tell an outsider what exists.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row, Select, delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from perron.catalogue.metadata import DatasetMetadata
from perron.catalogue.search import Query, search
from perron.hub.db.models import Station, utcnow
from perron.hub.db.tables import CATALOGUE_DATASETS, ORGANISATIONS, STATIONS
from perron.hub.errors import Conflict, NotFound
from perron.protocol.errors import InputError, NotAuthorized

_C = CATALOGUE_DATASETS.c


@dataclass(frozen=True)
class Entry:
    """A description as the hub holds it."""

    holder: str
    name: str
    station: str
    metadata: DatasetMetadata
    issued: datetime
    modified: datetime

    @property
    def listing(self) -> str:
        """``"public"`` or ``"hub"`` (see the module docstring)."""
        return self.metadata.listing


def publish(
    session: Session, station: Station, holder: str, name: str, raw: Any
) -> tuple[Entry, bool]:
    """Store the description ``raw`` of ``holder``'s dataset ``name``, sent by ``station``.

    The caller is checked before the body: an outsider learns nothing from it.

    Returns
    -------
    tuple of Entry and bool
        The stored entry, and whether it is new (else it replaced the earlier one).

    Raises
    ------
    NotAuthorized
        ``holder`` is not the station's organisation.
    InputError
        The description is not valid, or names another holder or dataset than the
        path.
    Conflict
        Another station of the holder published this dataset.
    """
    _own(station, holder)
    metadata = DatasetMetadata.parse(raw)
    if (metadata.holder, metadata.name) != (holder, name):
        raise InputError(
            f"the description is of {metadata.holder}/{metadata.name}, but was sent to "
            f"{holder}/{name}; send it to its own address."
        )
    content = metadata.model_dump_json()
    now = utcnow()
    existing = session.execute(
        select(_C.id, _C.station_id, _C.issued_at).where(
            _C.organisation_id == station.organisation_id, _C.name == name
        )
    ).first()
    if existing is not None and existing.station_id != station.id:
        raise Conflict(_taken(session, holder, name, existing.station_id))
    try:
        if existing is None:
            session.execute(
                insert(CATALOGUE_DATASETS).values(
                    organisation_id=station.organisation_id,
                    name=name,
                    station_id=station.id,
                    listing=metadata.listing,
                    content=content,
                    issued_at=now,
                    modified_at=now,
                )
            )
        else:
            session.execute(
                update(CATALOGUE_DATASETS)
                .where(_C.id == existing.id)
                .values(listing=metadata.listing, content=content, modified_at=now)
            )
        session.commit()
    except IntegrityError:
        session.rollback()
        raise Conflict(
            f"dataset {holder}/{name} was published by another station at the same "
            "time; list the catalogue and try again."
        ) from None
    issued = now if existing is None else existing.issued_at
    return Entry(holder, name, station.name, metadata, issued, now), existing is None


def withdraw(session: Session, station: Station, holder: str, name: str) -> None:
    """Remove the description of ``holder``'s dataset ``name`` (its own station only).

    Raises
    ------
    NotAuthorized
        ``holder`` is not the station's organisation.
    NotFound
        The holder has no such description.
    Conflict
        Another station of the holder published it.
    """
    _own(station, holder)
    row = session.execute(
        select(_C.id, _C.station_id).where(
            _C.organisation_id == station.organisation_id, _C.name == name
        )
    ).first()
    if row is None:
        raise NotFound(f"{holder} has no dataset {name!r} in the catalogue.")
    if row.station_id != station.id:
        raise Conflict(_taken(session, holder, name, row.station_id))
    session.execute(delete(CATALOGUE_DATASETS).where(_C.id == row.id))
    session.commit()


def entries(session: Session, *, signed_in: bool) -> list[Entry]:
    """Every description the caller may see, by holder and name."""
    return [_entry(row) for row in session.execute(_visible(signed_in))]


def find(session: Session, query: Query, *, signed_in: bool) -> list[Entry]:
    """The descriptions the caller may see that match ``query``."""
    return search(entries(session, signed_in=signed_in), query, lambda entry: entry.metadata)


def get(session: Session, holder: str, name: str, *, signed_in: bool) -> Entry:
    """One description.

    Raises
    ------
    NotFound
        No such description, or one the caller may not see.
    """
    row = session.execute(
        _visible(signed_in).where(ORGANISATIONS.c.name == holder, _C.name == name)
    ).first()
    if row is None:
        raise NotFound(
            f"the catalogue has no dataset {name!r} of {holder!r}"
            + ("." if signed_in else " listed publicly; sign in to see those listed on the hub.")
        )
    return _entry(row)


def _visible(signed_in: bool) -> Select[Any]:
    statement = (
        select(
            ORGANISATIONS.c.name.label("holder"),
            _C.name,
            STATIONS.c.name.label("station"),
            _C.content,
            _C.issued_at,
            _C.modified_at,
        )
        .join(ORGANISATIONS, ORGANISATIONS.c.id == _C.organisation_id)
        .join(STATIONS, STATIONS.c.id == _C.station_id)
        .order_by(ORGANISATIONS.c.name, _C.name)
    )
    return statement if signed_in else statement.where(_C.listing == "public")


def _own(station: Station, holder: str) -> None:
    if station.organisation.name != holder:
        raise NotAuthorized(
            f"station {station.name!r} publishes for its own organisation "
            f"{station.organisation.name!r}, not for {holder!r}."
        )


def _taken(session: Session, holder: str, name: str, station_id: int) -> str:
    owner = session.execute(select(STATIONS.c.name).where(STATIONS.c.id == station_id)).scalar()
    return (
        f"dataset {holder}/{name} was published by station {owner!r}; only that station "
        "may replace or withdraw it (or publish under another dataset name)."
    )


def _entry(row: Row[Any]) -> Entry:
    return Entry(
        holder=row.holder,
        name=row.name,
        station=row.station,
        metadata=DatasetMetadata.model_validate_json(row.content),
        issued=row.issued_at,
        modified=row.modified_at,
    )
