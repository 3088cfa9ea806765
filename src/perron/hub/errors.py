"""The hub's own errors, added under the tree of :mod:`perron.protocol.errors`::

    PerronError
    └── InputError
        ├── NotFound     a study, task, run, station or request does not exist  (HTTP 404)
        └── Conflict     it exists already, e.g. a duplicate task id, or a
                         track changed meanwhile / has no policy yet     (HTTP 409)

Everything else the hub raises is a protocol error (``AuthenticationFailed`` 401,
``NotAuthorized`` 403, ``TamperedMessage`` 400, ``TaskCancelled`` 409,
``InputError`` 422) or the route's ``RouteViolation`` (409, a step decided out of
order or on a closed track); :mod:`perron.hub.api.errors` maps them to status codes.
"""

from __future__ import annotations

from perron.protocol.errors import InputError


class NotFound(InputError):
    """The named study, task, run or station does not exist on this hub."""


class Conflict(InputError):
    """The thing to create exists already (a duplicate name or task id)."""
