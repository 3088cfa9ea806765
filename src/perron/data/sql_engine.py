"""Where an SQL source's queries run: DuckDB in-process, or a database via SQLAlchemy.

:class:`~perron.data.sql.SqlSource` builds every query as a SQLAlchemy Core
statement (identifiers quoted by the dialect, values as bound parameters) and hands
it to an engine here:

- :class:`DuckEngine` compiles the statement with SQLAlchemy's PostgreSQL compiler in
  ``qmark`` style (DuckDB reads PostgreSQL's SQL) and runs it with DuckDB's Python
  API, on a fresh cursor per query so that concurrent tasks do not share one;
- :class:`AlchemyEngine` runs it on a SQLAlchemy engine (PostgreSQL through psycopg
  is tested; other databases need ``exp``, ``ln``, ``var_samp``, ``greatest`` and
  ``least``).

A failing query raises :class:`~perron.protocol.errors.DataSourceError` without the
database's message, which can quote data values; the message goes to the station's
log instead. Errors while opening a dataset (a wrong path, URL or table name) are
local to the data manager and name the cause.
"""

from __future__ import annotations

import logging
import re
from abc import ABC, abstractmethod
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from perron.data.source import ColumnKind
from perron.protocol.errors import DataSourceError

logger = logging.getLogger(__name__)

#: A SQLAlchemy URL: ``dialect[+driver]://...``.
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")

#: DuckDB's integer types (``DuckDBPyType.id``).
_DUCK_INTEGERS = frozenset(
    {
        "tinyint",
        "smallint",
        "integer",
        "bigint",
        "hugeint",
        "utinyint",
        "usmallint",
        "uinteger",
        "ubigint",
        "uhugeint",
    }
)

#: pandas' default markers of a missing value in a CSV file, so that DuckDB reads
#: a CSV file with the same missing values as :func:`perron.data.frame.load_table`.
PANDAS_NA_VALUES = (
    "",
    "#N/A",
    "#N/A N/A",
    "#NA",
    "-1.#IND",
    "-1.#QNAN",
    "-NaN",
    "-nan",
    "1.#IND",
    "1.#QNAN",
    "<NA>",
    "N/A",
    "NA",
    "NULL",
    "NaN",
    "None",
    "n/a",
    "nan",
    "null",
)

#: The name of the view over CSV/Parquet files in DuckDB's in-memory database.
FILE_VIEW = "perron_dataset"


def is_url(location: str | Path) -> bool:
    """Whether ``location`` is a SQLAlchemy database URL rather than a file path.

    Examples
    --------
    >>> is_url("postgresql+psycopg://postgres@127.0.0.1/cohort"), is_url("data/x.csv")
    (True, False)
    """
    return isinstance(location, str) and _URL.match(location) is not None


@dataclass(frozen=True)
class ColumnInfo:
    """A column of the dataset as the query builder needs it.

    ``type`` is the SQLAlchemy type that bound values compared with the column get;
    ``floating`` marks a column that can hold NaN, which counts as missing (as in
    pandas); ``boolean`` a column that is cast to 0/1 before arithmetic.
    """

    name: str
    kind: ColumnKind
    type: sa.types.TypeEngine[Any]
    floating: bool = False
    boolean: bool = False


class SqlEngine(ABC):
    """Runs Core statements and describes relations; one per open database."""

    dialect: sa.engine.Dialect
    #: ``lgamma`` is available (else the Poisson log-likelihood's constant is summed
    #: over the distinct outcome values in numpy).
    has_lgamma: bool = False
    #: ``unnest`` of an array parameter (else ``IN`` lists one parameter per value).
    has_unnest: bool = False

    @abstractmethod
    def fetch(self, statement: sa.Executable) -> list[tuple[Any, ...]]:
        """All result rows of ``statement``."""

    @abstractmethod
    def relation(
        self, table: str | None, query: str | None, schema: str | None
    ) -> tuple[sa.FromClause, list[ColumnInfo]]:
        """The FROM clause and columns of a table (or view) or of a query."""

    @abstractmethod
    def close(self) -> None:
        """Release the connection (when this engine opened it)."""

    def among(self, expression: sa.ColumnElement[Any], values: Collection[str]) -> Any:
        """``expression IN values`` with the values bound as parameters."""
        if self.has_unnest:
            array = sa.bindparam(None, list(values), type_=postgresql.ARRAY(sa.String()))
            return expression.in_(sa.select(sa.func.unnest(array)))
        return expression.in_(sa.bindparam(None, list(values), expanding=True))

    def failed(self, exc: Exception) -> DataSourceError:
        """A query error for the task's answer, with the database's message logged only."""
        logger.warning("the dataset's database refused an aggregate query: %s", exc)
        return DataSourceError(
            f"the station's database could not compute the requested aggregates "
            f"({type(exc).__name__}); the station's log has the database's message "
            "(it is not sent, as it can quote data values). Check the column types."
        )


def _duck_column(name: str, type_id: str) -> ColumnInfo:
    if type_id == "boolean":
        return ColumnInfo(name, ColumnKind.NUMERIC, sa.Boolean(), boolean=True)
    if type_id in _DUCK_INTEGERS:
        return ColumnInfo(name, ColumnKind.NUMERIC, sa.BigInteger())
    if type_id in ("float", "double"):
        return ColumnInfo(name, ColumnKind.NUMERIC, sa.Double(), floating=True)
    if type_id == "decimal":
        return ColumnInfo(name, ColumnKind.NUMERIC, sa.Numeric())
    return ColumnInfo(name, ColumnKind.CATEGORICAL, sa.String())


def _alchemy_column(column: sa.Column[Any]) -> ColumnInfo:
    kind = column.type
    name = str(column.name)
    if isinstance(kind, sa.Boolean):
        return ColumnInfo(name, ColumnKind.NUMERIC, kind, boolean=True)
    if isinstance(kind, sa.Float):
        return ColumnInfo(name, ColumnKind.NUMERIC, kind, floating=True)
    if isinstance(kind, sa.Integer | sa.Numeric):
        return ColumnInfo(name, ColumnKind.NUMERIC, kind)
    return ColumnInfo(name, ColumnKind.CATEGORICAL, kind)


def _quoted_table(name: str, schema: str | None, columns: Sequence[str] = ()) -> sa.TableClause:
    return sa.table(
        sa.sql.quoted_name(name, quote=True),
        *(sa.column(sa.sql.quoted_name(c, quote=True)) for c in columns),
        schema=None if schema is None else sa.sql.quoted_name(schema, quote=True),
    )


class DuckEngine(SqlEngine):
    """DuckDB through its Python API.

    Parameters
    ----------
    connection
        An open DuckDB connection.
    owned
        Whether :meth:`close` closes it.
    """

    has_lgamma = True
    has_unnest = True

    def __init__(self, connection: duckdb.DuckDBPyConnection, *, owned: bool) -> None:
        self._connection = connection
        self._owned = owned
        self.dialect = postgresql.psycopg.dialect(paramstyle="qmark")  # type: ignore[no-untyped-call]

    @classmethod
    def open(cls, database: str | Path, *, read_only: bool = True) -> DuckEngine:
        """Open a DuckDB database file (read-only by default: a station only reads)."""
        path = Path(database)
        if not path.exists():
            raise DataSourceError(f"DuckDB database {str(path)!r} does not exist; check the path.")
        try:
            return cls(duckdb.connect(str(path), read_only=read_only), owned=True)
        except duckdb.Error as exc:
            raise DataSourceError(
                f"could not open DuckDB database {str(path)!r}: {exc}; is it a DuckDB "
                "file, and is no other process writing to it?"
            ) from exc

    @classmethod
    def over_files(cls, path: str | Path) -> DuckEngine:
        """An in-memory DuckDB with a view over a CSV or Parquet file (or glob)."""
        text = str(path)
        suffix = Path(text).suffix.lower()
        if "*" not in text and not Path(text).exists():
            raise DataSourceError(f"dataset file {text!r} does not exist; check the path.")
        connection = duckdb.connect()
        try:
            if suffix == ".csv":
                relation = connection.read_csv(text, na_values=list(PANDAS_NA_VALUES))
            elif suffix in (".parquet", ".pq"):
                relation = connection.read_parquet(text)
            else:
                raise DataSourceError(
                    f"unsupported dataset file type {suffix!r} for {text!r}; use .csv, "
                    ".parquet or a .duckdb database."
                )
            relation.create_view(FILE_VIEW)
        except duckdb.Error as exc:
            connection.close()
            raise DataSourceError(f"could not read {text!r}: {exc}") from exc
        except DataSourceError:
            connection.close()
            raise
        return cls(connection, owned=True)

    def tables(self) -> list[str]:
        """The tables and views of the database (for error messages and defaults)."""
        rows = self.fetch(
            sa.select(sa.column("table_name"))
            .select_from(sa.table("tables", schema="information_schema"))
            .where(sa.column("table_schema") != "information_schema")
            .order_by(sa.column("table_name"))
        )
        return [str(r[0]) for r in rows]

    def fetch(self, statement: sa.Executable) -> list[tuple[Any, ...]]:
        sql, params = self._compile(statement)
        cursor = self._connection.cursor()
        try:
            return [tuple(r) for r in cursor.execute(sql, params).fetchall()]
        except duckdb.Error as exc:
            raise self.failed(exc) from exc
        finally:
            cursor.close()

    def relation(
        self, table: str | None, query: str | None, schema: str | None
    ) -> tuple[sa.FromClause, list[ColumnInfo]]:
        if query is not None:
            text = query
        else:
            assert table is not None
            star = sa.select(sa.text("*")).select_from(_quoted_table(table, schema))
            text, _ = self._compile(star)
        cursor = self._connection.cursor()
        try:
            described = cursor.sql(text)
            columns = [
                _duck_column(str(n), str(t.id))
                for n, t in zip(described.columns, described.types, strict=True)
            ]
        except duckdb.CatalogException as exc:
            raise DataSourceError(
                f"table {table!r} is not in the DuckDB database; its tables are "
                f'{self.tables()}. Name one with table = "...".'
            ) from exc
        except duckdb.Error as exc:
            raise DataSourceError(f"DuckDB cannot read the dataset's query: {exc}") from exc
        finally:
            cursor.close()
        names = [c.name for c in columns]
        if query is not None:
            clause: sa.FromClause = (
                sa.text(query)
                .columns(*(sa.column(sa.sql.quoted_name(c, quote=True)) for c in names))
                .subquery("dataset")
            )
        else:
            assert table is not None
            clause = _quoted_table(table, schema, names)
        return clause, columns

    def close(self) -> None:
        if self._owned:
            self._connection.close()

    def _compile(self, statement: sa.Executable) -> tuple[str, list[Any]]:
        assert isinstance(statement, sa.ClauseElement)
        compiled = statement.compile(
            dialect=self.dialect, compile_kwargs={"render_postcompile": True}
        )
        assert isinstance(compiled, sa.sql.compiler.SQLCompiler)
        names = compiled.positiontup or []
        return str(compiled), [compiled.params[name] for name in names]


class AlchemyEngine(SqlEngine):
    """A database reachable through SQLAlchemy (PostgreSQL via psycopg is tested).

    Parameters
    ----------
    engine
        A SQLAlchemy engine.
    owned
        Whether :meth:`close` disposes of it.
    """

    def __init__(self, engine: sa.Engine, *, owned: bool) -> None:
        self._engine = engine
        self._owned = owned
        self.dialect = engine.dialect
        name = engine.dialect.name
        self.has_unnest = name == "postgresql"
        try:
            with engine.connect():  # learns the server version
                pass
        except sa.exc.SQLAlchemyError as exc:
            shown = engine.url.render_as_string(hide_password=True)
            raise DataSourceError(
                f"could not connect to the database {shown!r}: {getattr(exc, 'orig', exc)}; "
                "check the URL, that the server runs, and the credentials (keep a password "
                "out of station.toml: use ~/.pgpass or the PGPASSWORD environment variable)."
            ) from exc
        version = engine.dialect.server_version_info or ()
        self.has_lgamma = name == "postgresql" and tuple(version[:1]) >= (18,)

    @classmethod
    def open(cls, url: str) -> AlchemyEngine:
        """Create an engine for a SQLAlchemy URL."""
        try:
            engine = sa.create_engine(url, pool_pre_ping=True)
        except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError) as exc:
            raise DataSourceError(
                f"{url.rsplit('@', maxsplit=1)[-1]!r} is not a database URL that SQLAlchemy "
                f"can use ({exc}); "
                "write it as dialect+driver://user@host:port/database, for example "
                "postgresql+psycopg://station@db.local:5432/cohort."
            ) from exc
        except ImportError as exc:
            raise DataSourceError(
                f"the database driver for {url.split('://', maxsplit=1)[0]!r} is not "
                f"installed: {exc}."
            ) from exc
        return cls(engine, owned=True)

    def fetch(self, statement: sa.Executable) -> list[tuple[Any, ...]]:
        try:
            with self._engine.connect() as connection:
                return [tuple(r) for r in connection.execute(statement).all()]
        except sa.exc.DBAPIError as exc:
            raise self.failed(exc) from exc

    def relation(
        self, table: str | None, query: str | None, schema: str | None
    ) -> tuple[sa.FromClause, list[ColumnInfo]]:
        if query is not None or table is None:
            raise DataSourceError(
                "a dataset in a SQLAlchemy database is a table or a view: name it with "
                'table = "..." (for a query, create a view in the database and name that).'
            )
        try:
            reflected = sa.Table(
                sa.sql.quoted_name(table, quote=True),
                sa.MetaData(),
                schema=schema,
                autoload_with=self._engine,
            )
        except sa.exc.NoSuchTableError as exc:
            inspector = sa.inspect(self._engine)
            known = sorted([*inspector.get_table_names(schema), *inspector.get_view_names(schema)])
            raise DataSourceError(
                f"table {table!r} is not in the database (schema {schema or 'default'}); "
                f'its tables and views are {known}. Check table = "..." (names are '
                "case-sensitive)."
            ) from exc
        except sa.exc.SQLAlchemyError as exc:
            raise DataSourceError(f"could not read the columns of table {table!r}: {exc}") from exc
        return reflected, [_alchemy_column(c) for c in reflected.columns]

    def close(self) -> None:
        if self._owned:
            self._engine.dispose()
