"""The one place where domain errors become HTTP answers.

Services raise Perron errors; :func:`install` registers handlers that answer
``{"detail": str(error), "kind": type(error).__name__}`` with the status code of the
first matching class below. Request validation errors answer 422 with kind
``InputError`` in the same shape.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException
from starlette.routing import Match, Route

from perron.governance.route import RouteViolation
from perron.hub.api.schemas import ErrorPublic
from perron.hub.errors import Conflict, NotFound, database_unavailable
from perron.protocol.errors import (
    AuthenticationFailed,
    HubUnavailable,
    InputError,
    NotAuthorized,
    PerronError,
    ReplayedTask,
    TamperedMessage,
    TaskCancelled,
)

#: Checked in order; the first class the error is an instance of decides.
STATUS_CODES: tuple[tuple[type[PerronError], int], ...] = (
    (HubUnavailable, 503),
    (AuthenticationFailed, 401),
    (NotAuthorized, 403),
    (NotFound, 404),
    (Conflict, 409),
    (TaskCancelled, 409),
    (ReplayedTask, 409),
    (RouteViolation, 409),
    (TamperedMessage, 400),
    (InputError, 422),
    (PerronError, 400),
)

_KIND_OF_STATUS = {401: "AuthenticationFailed", 403: "NotAuthorized", 404: "NotFound"}

#: The error answers, for the OpenAPI document.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorPublic, "description": "A tampered message or a bad request."},
    401: {"model": ErrorPublic, "description": "No, or a wrong, expired or revoked token."},
    403: {"model": ErrorPublic, "description": "Not allowed for this principal."},
    404: {
        "model": ErrorPublic,
        "description": "No such study, task, run, station, request, holder or document.",
    },
    409: {
        "model": ErrorPublic,
        "description": "A duplicate, the task was cancelled, or a route step out of order.",
    },
    422: {"model": ErrorPublic, "description": "The request does not fit the schema."},
    503: {
        "model": ErrorPublic,
        "description": "The hub's database is unreachable for now; try again (Retry-After).",
    },
}


def status_code(error: PerronError) -> int:
    """The HTTP status code of a domain error.

    Examples
    --------
    >>> status_code(NotAuthorized("not a member"))
    403
    """
    return next(code for cls, code in STATUS_CODES if isinstance(error, cls))


def _answer(status: int, detail: str, kind: str) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    if status == 503:
        headers = {"Retry-After": "1"}
    return JSONResponse({"detail": detail, "kind": kind}, status_code=status, headers=headers)


async def _perron_error(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, PerronError)
    return _answer(status_code(error), str(error), type(error).__name__)


def describe_problems(problems: Iterable[Mapping[str, Any]]) -> str:
    """Validation problems (pydantic's ``errors()``) as ``where: what; ...``.

    Examples
    --------
    >>> describe_problems([{"loc": ("body", "wait"), "msg": "too small"}])
    'body.wait: too small'
    """
    return "; ".join(
        f"{'.'.join(str(part) for part in problem.get('loc', ()))}: {problem.get('msg', 'invalid')}"
        for problem in problems
    )


async def _validation_error(_request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    return _answer(
        422, "the request is not valid: " + describe_problems(error.errors()), "InputError"
    )


async def _http_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, HTTPException)
    kind = _KIND_OF_STATUS.get(error.status_code, "InputError")
    response = _answer(error.status_code, str(error.detail), kind)
    if error.headers:
        response.headers.update(error.headers)
    if error.status_code == 405:
        response.headers["Allow"] = _allowed_methods(request)
    return response


def _allowed_methods(request: Request) -> str:
    """Every method of the path (Starlette names only those of the first route matched)."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        if isinstance(route, Route) and route.methods:
            match, _ = route.matches(request.scope)
            if match is not Match.NONE:
                methods |= route.methods
    return ", ".join(sorted(methods))


async def _database_error(_request: Request, error: Exception) -> JSONResponse:
    # A synchronous route's session lost the database (e.g. PostgreSQL restarting).
    unavailable = database_unavailable(error)
    if unavailable is None:
        raise error
    return _answer(503, str(unavailable), "HubUnavailable")


def install(app: FastAPI) -> None:
    """Register the handlers on ``app``."""
    app.add_exception_handler(PerronError, _perron_error)
    app.add_exception_handler(DBAPIError, _database_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
