"""The hub's own errors, added under the tree of :mod:`perron.protocol.errors`::

    PerronError
    └── InputError
        ├── NotFound     a study, task, run, station or request does not exist  (HTTP 404)
        └── Conflict     it exists already, e.g. a duplicate task id, or a
                         track changed meanwhile / has no policy yet     (HTTP 409)

Everything else the hub raises is a protocol error (``AuthenticationFailed`` 401,
``NotAuthorized`` 403, ``TamperedMessage`` 400, ``TaskCancelled`` 409,
``InputError`` 422, ``HubUnavailable`` 503 when the database cannot be reached) or the
route's ``RouteViolation`` (409, a step decided out of order or on a closed track);
:mod:`perron.hub.api.errors` maps them to status codes.
"""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from perron.protocol.errors import HubUnavailable, InputError


class NotFound(InputError):
    """The named study, task, run or station does not exist on this hub."""


class Conflict(InputError):
    """The thing to create exists already (a duplicate name or task id)."""


def database_unavailable(error: BaseException) -> HubUnavailable | None:
    """The :class:`HubUnavailable` a lost database connection means, or None for any
    other database error (a bug, to be raised as it is).

    Examples
    --------
    >>> database_unavailable(ValueError("no")) is None
    True
    """
    lost = isinstance(error, OperationalError | InterfaceError) or (
        isinstance(error, DBAPIError) and error.connection_invalidated
    )
    if not lost:
        return None
    return HubUnavailable(
        "the hub cannot reach its database just now (it may be restarting); the "
        "request was not carried out. Try again in a moment."
    )
