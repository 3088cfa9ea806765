"""The mapped tables as SQLAlchemy Core ``Table`` objects, for the hot paths.

A round of a federated analysis makes a dozen short queries at the hub. Through
the ORM (entity loading, identity map, lazy loads) each cost a few milliseconds
on a small machine; the same statements in Core cost a fraction of that. Routes
of a round use these; administration and the rest keep the ORM models.
"""

from __future__ import annotations

from typing import cast

from sqlalchemy import Table

from perron.hub.db.models import (
    Organisation,
    Run,
    Station,
    Study,
    StudyOrganisation,
    StudyUser,
    Task,
    Token,
    User,
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
