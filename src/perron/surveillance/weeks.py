"""ISO 8601 weeks: the time axis of surveillance.

A surveillance series counts cases per ISO week (Monday to Sunday; week 1 holds the
year's first Thursday), as ECDC and the R package ``surveillance``
(``isoWeekYear``) count them. The calendar arithmetic is the standard library's
(``date.isocalendar``, ``date.fromisocalendar``); this module only gives the week a
type that sorts, adds and prints as ``2024-W05``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from perron.protocol.errors import InputError

_PATTERN = re.compile(r"^(\d{4})-W(\d{2})$")


@dataclass(frozen=True, order=True)
class IsoWeek:
    """One ISO week.

    Examples
    --------
    >>> week = IsoWeek.parse("2024-W52")
    >>> str(week + 1), week.monday().isoformat()
    ('2025-W01', '2024-12-23')
    >>> IsoWeek.of(date(2021, 1, 3))  # a Sunday of the last week of 2020
    IsoWeek(year=2020, week=53)
    """

    year: int
    week: int

    def __post_init__(self) -> None:
        try:
            date.fromisocalendar(self.year, self.week, 1)
        except ValueError:
            raise InputError(
                f"{self.year}-W{self.week:02d} is not an ISO week; weeks run from 1 to 52 "
                "or 53 (a year has 53 weeks when it starts or ends on a Thursday)."
            ) from None

    @classmethod
    def of(cls, day: date | datetime | str) -> IsoWeek:
        """The week a day falls in (a ``date``, a ``datetime`` or an ISO date text)."""
        if isinstance(day, str):
            try:
                day = date.fromisoformat(day[:10])
            except ValueError:
                raise InputError(f"{day!r} is not an ISO date (YYYY-MM-DD).") from None
        year, week, _ = day.isocalendar()
        return cls(year, week)

    @classmethod
    def parse(cls, text: str) -> IsoWeek:
        """Read ``YYYY-Www``."""
        match = _PATTERN.match(text.strip())
        if match is None:
            raise InputError(f"{text!r} is not an ISO week; write it as 2024-W05.")
        return cls(int(match.group(1)), int(match.group(2)))

    def monday(self) -> date:
        """The first day of the week."""
        return date.fromisocalendar(self.year, self.week, 1)

    def __add__(self, weeks: int) -> IsoWeek:
        return IsoWeek.of(self.monday() + timedelta(weeks=weeks))

    def __sub__(self, other: IsoWeek) -> int:
        """Weeks from ``other`` to this week."""
        return (self.monday() - other.monday()).days // 7

    def __str__(self) -> str:
        return f"{self.year}-W{self.week:02d}"


def week_range(first: IsoWeek, last: IsoWeek) -> list[IsoWeek]:
    """Every week from ``first`` to ``last``, both included.

    >>> [str(w) for w in week_range(IsoWeek(2020, 52), IsoWeek(2021, 2))]
    ['2020-W52', '2020-W53', '2021-W01', '2021-W02']
    """
    if last < first:
        raise InputError(f"the period ends ({last}) before it starts ({first}).")
    return [first + k for k in range(last - first + 1)]
