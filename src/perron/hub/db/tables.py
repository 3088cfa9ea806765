"""The mapped tables as SQLAlchemy Core ``Table`` objects, for the hot paths.

A round of a federated analysis makes a dozen short queries at the hub. Through
the ORM (entity loading, identity map, lazy loads) each cost a few milliseconds
on a small machine; the same statements in Core cost a fraction of that. Routes
of a round use these; administration and the rest keep the ORM models.
"""

from __future__ import annotations

from typing import cast

from sqlalchemy import (
    CheckConstraint,
    Column,
    ForeignKey,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from perron.hub.db.models import (
    NAME_LENGTH,
    Base,
    Organisation,
    Run,
    Station,
    Study,
    StudyOrganisation,
    StudyUser,
    Task,
    Token,
    User,
    UTCDateTime,
)

ORGANISATIONS = cast(Table, Organisation.__table__)
RUNS = cast(Table, Run.__table__)
STATIONS = cast(Table, Station.__table__)
STUDIES = cast(Table, Study.__table__)
STUDY_ORGANISATIONS = cast(Table, StudyOrganisation.__table__)
STUDY_USERS = cast(Table, StudyUser.__table__)
TASKS = cast(Table, Task.__table__)
TOKENS = cast(Table, Token.__table__)
USERS = cast(Table, User.__table__)

#: The catalogue (:mod:`perron.catalogue`): one row per dataset description, as the
#: holder's station published it (``content``, JSON of
#: :class:`~perron.catalogue.metadata.DatasetMetadata`; never row-level data). A
#: dataset is named by its holder and name, as data requests name it; the station that
#: published it may replace or withdraw it. Core only (no ORM class), on the models'
#: metadata so that the migrations are checked against it.
CATALOGUE_DATASETS = Table(
    "catalogue_datasets",
    Base.metadata,
    Column("id", Integer, primary_key=True),
    Column("organisation_id", ForeignKey("organisations.id"), nullable=False),
    Column("name", String(NAME_LENGTH), nullable=False),
    Column("station_id", ForeignKey("stations.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("listing", String(8), nullable=False),
    Column("content", Text, nullable=False),
    Column("issued_at", UTCDateTime(), nullable=False),
    Column("modified_at", UTCDateTime(), nullable=False),
    UniqueConstraint("organisation_id", "name", name="uq_catalogue_datasets_holder_name"),
    CheckConstraint("listing IN ('public', 'hub')", name="listing"),
)
