"""A failed run's errors as published results carry them: ``{station, kind, message}``.

An error a station returned reaches the researcher as the domain error it named
(:func:`perron.protocol.errors.error_from_wire`); the round loop puts the station's
name in front of its message (``station 'north': ...``) unless the message names it
already, a :class:`~perron.protocol.errors.DisclosureBlocked` keeps it as
``station`` and a :class:`~perron.protocol.errors.RoundTimeout` lists the stations
that did not answer. :func:`error_entries` reads the station back out of each, so
the study's pages can show which station said what, in the station's own words.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from perron.protocol.errors import DisclosureBlocked, InputError, RoundTimeout

ErrorEntry = dict[str, str]
#: The longest kind or message the hub keeps (a longer one is cut, with an ellipsis).
MAX_TEXT = 2000

#: ``station 'name': message``, as :func:`perron.algorithms.core.base.raise_station_errors`
#: words an error it raises for a station.
_PREFIXED = re.compile(r"station '((?:[^'\\]|\\.)*)': (.*)", re.DOTALL)
_NAMED = re.compile(r"station '((?:[^'\\]|\\.)*)'")
_FIELDS = frozenset({"station", "kind", "message"})


def error_entries(error: BaseException) -> list[ErrorEntry]:
    """One entry per station the error names (``station`` empty when it names none).

    Examples
    --------
    >>> from perron.protocol.errors import OutsidePolicy
    >>> error_entries(OutsidePolicy("station 'north': column 'wt' is not in the policy."))
    [{'station': 'north', 'kind': 'OutsidePolicy', 'message': "column 'wt' is not in the policy."}]
    >>> error_entries(ValueError("bad input"))
    [{'station': '', 'kind': 'ValueError', 'message': 'bad input'}]
    """
    kind = type(error).__name__
    message = str(error)
    if isinstance(error, DisclosureBlocked):
        return [_entry(error.station, kind, message)]
    if isinstance(error, RoundTimeout) and error.stations:
        return [_entry(name, kind, message) for name in error.stations]
    prefixed = _PREFIXED.fullmatch(message)
    if prefixed is not None:
        return [_entry(prefixed.group(1), kind, prefixed.group(2))]
    named = _NAMED.search(message)
    return [_entry("" if named is None else named.group(1), kind, message)]


def _entry(station: str, kind: str, message: str) -> ErrorEntry:
    return {"station": _cut(station), "kind": _cut(kind), "message": _cut(message)}


def _cut(text: str) -> str:
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "\u2026"


def entries_of(errors: Iterable[BaseException | Mapping[str, Any]]) -> list[ErrorEntry]:
    """Errors (exceptions, or entries already in the published shape) as entries.

    Raises
    ------
    InputError
        An entry is not ``{station, kind, message}`` with text values.
    """
    out: list[ErrorEntry] = []
    for error in errors:
        if isinstance(error, BaseException):
            out.extend(error_entries(error))
            continue
        if not isinstance(error, Mapping) or set(error) != _FIELDS:
            raise InputError(
                f"an error to publish is an exception or {{station, kind, message}}, not {error!r}."
            )
        station, kind, message = error["station"], error["kind"], error["message"]
        if not all(isinstance(v, str) for v in (station, kind, message)):
            raise InputError(
                "an error's station, kind and message must be text (station empty if "
                "the error names none)."
            )
        out.append(_entry(station, kind, message))
    return out
