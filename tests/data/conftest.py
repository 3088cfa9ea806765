"""SQL sources over the real datasets, in DuckDB files and in PostgreSQL (127.0.0.1:5432).

The session creates one uniquely named PostgreSQL database and drops it at the end;
if PostgreSQL cannot be reached the tests that need it fail (never skip), as the
hub's tests do. Each table is written once per session and opened as a
:class:`~perron.data.sql.SqlSource` (a read-only DuckDB file, or a SQLAlchemy URL).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import pandas as pd
import pytest
import sqlalchemy as sa

from perron.data.sql import SqlSource
from tests.hub.databases import create_postgres_database, drop_postgres_database, postgres_url

BACKENDS = ["duckdb", "postgresql"]


class Stores:
    """Writes DataFrames as tables (once per name) and opens SQL sources over them."""

    def __init__(self, folder: Path, url: str) -> None:
        self.folder = folder
        self.url = url
        self._engine = sa.create_engine(url)
        self._written: set[tuple[str, str]] = set()
        self._sources: list[SqlSource] = []

    def duckdb_file(self, table: str) -> Path:
        return self.folder / f"{table}.duckdb"

    def write(
        self, backend: str, frame: pd.DataFrame, table: str, *, nan: str | None = None
    ) -> None:
        """Write ``frame`` as ``table``; ``nan``: a float column whose missing values are
        stored as NaN (not NULL), as a database can hold both."""
        if (backend, table) in self._written:
            return
        if backend == "duckdb":
            with duckdb.connect(str(self.duckdb_file(table))) as connection:
                connection.from_df(frame).create(table)
                if nan is not None:
                    column = f'"{nan}"'
                    connection.execute(
                        f"UPDATE \"{table}\" SET {column} = 'NaN'::DOUBLE WHERE {column} IS NULL"
                    )
        else:
            frame.to_sql(table, self._engine, index=False)
            if nan is not None:
                with self._engine.begin() as connection:
                    connection.execute(
                        sa.text(
                            f'UPDATE "{table}" SET "{nan}" = \'NaN\'::float8 WHERE "{nan}" IS NULL'
                        )
                    )
        self._written.add((backend, table))

    def source(
        self, backend: str, frame: pd.DataFrame, table: str, *, nan: str | None = None
    ) -> SqlSource:
        """A source over ``frame`` stored as ``table`` in ``backend``."""
        self.write(backend, frame, table, nan=nan)
        if backend == "duckdb":
            source = SqlSource.from_duckdb(self.duckdb_file(table), table=table)
        else:
            source = SqlSource.from_url(self.url, table=table)
        self._sources.append(source)
        return source

    def location(self, backend: str, table: str) -> str:
        """The ``dataset`` of a station.toml for a written table."""
        return str(self.duckdb_file(table)) if backend == "duckdb" else self.url

    def close(self) -> None:
        for source in self._sources:
            source.close()
        self._engine.dispose()


@pytest.fixture(scope="session")
def postgres_dataset_url() -> Iterator[str]:
    """A fresh PostgreSQL database for the data sources (dropped at the end)."""
    name = create_postgres_database()
    try:
        yield postgres_url(name)
    finally:
        drop_postgres_database(name)


@pytest.fixture(scope="session")
def stores(tmp_path_factory: pytest.TempPathFactory, postgres_dataset_url: str) -> Iterator[Stores]:
    made = Stores(tmp_path_factory.mktemp("duckdb"), postgres_dataset_url)
    try:
        yield made
    finally:
        made.close()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)
