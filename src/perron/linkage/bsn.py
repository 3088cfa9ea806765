"""The Dutch citizen service number (BSN, *burgerservicenummer*): checks before hashing.

A BSN has nine digits ``d1 ... d9`` and passes the eleven-test (*elfproef*)::

    9*d1 + 8*d2 + 7*d3 + 6*d4 + 5*d5 + 4*d6 + 3*d7 + 2*d8 - 1*d9  ≡  0  (mod 11)

and is not ``000000000`` (which passes the sum trivially). Every weight is a unit
modulo the prime 11, so the test detects every single-digit error, and since
neighbouring weights differ by 1 (by 3 for the last pair), every transposition of two
adjacent different digits too.

Pseudonyms are only made from numbers that pass these checks: a keyed hash of a
mistyped number is a valid-looking pseudonym that links to nobody (or to the wrong
person), so invalid numbers are reported, never silently hashed.

Normalisation
-------------
Spaces (any whitespace), dots and dashes are removed (``1112.22.333``,
``111-222-333``). An input of **8** digits gets its leading zero back: a spreadsheet
or a numeric database column turns ``012345672`` into ``12345672``. Shorter inputs
are rejected, not padded further: every extra zero restored would turn a truncated or
mistyped value into a number that passes the eleven-test by chance (about one in
eleven) and so into a wrong pseudonym.

Messages never contain a whole number: they show it masked (``*****2333``).
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum

from perron.protocol.errors import InputError

__all__ = [
    "BsnProblem",
    "BsnReport",
    "InvalidBsn",
    "check_bsns",
    "generate_bsn",
    "is_valid_bsn",
    "mask_bsn",
    "normalise_bsn",
]

# The eleven-test's weights for d1 ... d9.
WEIGHTS = (9, 8, 7, 6, 5, 4, 3, 2, -1)
BSN_LENGTH = 9
_SEPARATORS = frozenset(".-")
_VISIBLE = 4  # trailing characters a masked number shows


class BsnProblem(StrEnum):
    """Why a value is not a BSN."""

    MISSING = "missing"
    NOT_DIGITS = "not digits"
    WRONG_LENGTH = "wrong length"
    ALL_ZEROS = "all zeros"
    ELEVEN_TEST = "fails the eleven-test"


@dataclass(frozen=True)
class InvalidBsn:
    """One value that is not a BSN: where it is, masked, and why.

    Attributes
    ----------
    position : int
        0-based position of the value in the input (row ``position + 1`` of the data).
    masked : str
        The value with all but (at most) its last four characters replaced by ``*``.
    problem : BsnProblem
        The kind of problem.
    reason : str
        The problem in words, e.g. ``"has 7 digits, not 9"``.
    """

    position: int
    masked: str
    problem: BsnProblem
    reason: str

    def describe(self) -> str:
        """One line for a report: ``row 3: *****1234 fails the eleven-test``."""
        shown = self.masked or "(empty)"
        return f"row {self.position + 1}: {shown} {self.reason}"


@dataclass(frozen=True)
class BsnReport:
    """The outcome of :func:`check_bsns`.

    Attributes
    ----------
    valid : tuple of str
        The valid numbers, normalised to nine digits, in input order. Not shown in
        ``repr``, so logging a report never logs a BSN.
    valid_positions : tuple of int
        The 0-based input positions of ``valid``.
    invalid : tuple of InvalidBsn
        Every value that is not a BSN, in input order.
    """

    valid: tuple[str, ...] = field(repr=False)
    valid_positions: tuple[int, ...]
    invalid: tuple[InvalidBsn, ...]

    @property
    def ok(self) -> bool:
        """True if every value is a valid BSN."""
        return not self.invalid


def mask_bsn(text: str) -> str:
    """Mask a (possibly invalid) number for messages: ``*****2333``.

    The last four characters are shown only when at least eight are there, so a
    short value is never shown nearly whole.

    Examples
    --------
    >>> mask_bsn("111222333")
    '*****2333'
    >>> mask_bsn("12345")
    '*****'
    """
    shown = _VISIBLE if len(text) >= 2 * _VISIBLE else 0
    return "*" * (len(text) - shown) + text[len(text) - shown :]


def _compact(text: str) -> str:
    return "".join(c for c in text if not c.isspace() and c not in _SEPARATORS)


def _eleven_sum(digits: str) -> int:
    return sum(w * int(d) for w, d in zip(WEIGHTS, digits, strict=True))


def _diagnose(text: str) -> tuple[str, BsnProblem | None, str]:
    """(normalised or compacted text, problem or None, reason)."""
    compact = _compact(text)
    if not compact:
        return compact, BsnProblem.MISSING, "is missing"
    if not (compact.isascii() and compact.isdigit()):
        return (
            compact,
            BsnProblem.NOT_DIGITS,
            "contains characters other than digits (only spaces, dots and dashes may "
            "separate the digits)",
        )
    if len(compact) == BSN_LENGTH - 1:
        compact = "0" + compact  # a spreadsheet dropped the leading zero
    if len(compact) != BSN_LENGTH:
        return (
            compact,
            BsnProblem.WRONG_LENGTH,
            f"has {len(compact)} digits, not 9 (or 8 with the leading zero dropped)",
        )
    if compact == "0" * BSN_LENGTH:
        return compact, BsnProblem.ALL_ZEROS, "is all zeros"
    if _eleven_sum(compact) % 11:
        return compact, BsnProblem.ELEVEN_TEST, "fails the eleven-test"
    return compact, None, ""


def is_valid_bsn(text: str) -> bool:
    """Whether ``text`` is a BSN after normalisation (see the module docstring).

    Examples
    --------
    >>> is_valid_bsn("111222333")
    True
    >>> is_valid_bsn("1112.22.333")
    True
    >>> is_valid_bsn("111222334")
    False
    """
    return _diagnose(text)[1] is None


def normalise_bsn(text: str) -> str:
    """The nine-digit form of a BSN, or an :class:`InputError` saying what is wrong.

    Parameters
    ----------
    text : str
        A BSN, possibly with spaces, dots or dashes, or with its leading zero dropped.

    Returns
    -------
    str
        Nine ASCII digits.

    Raises
    ------
    InputError
        The value is empty, has other characters than digits and separators, has the
        wrong length, is all zeros or fails the eleven-test. The message shows the
        number masked, never whole.

    Examples
    --------
    >>> normalise_bsn(" 111-222-333 ")
    '111222333'
    >>> normalise_bsn("12345672")
    '012345672'
    >>> normalise_bsn("111222334")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    perron.protocol.errors.InputError: BSN *****2334 fails the eleven-test; ...
    """
    compact, problem, reason = _diagnose(text)
    if problem is None:
        return compact
    shown = mask_bsn(compact) or "(empty)"
    raise InputError(
        f"BSN {shown} {reason}; it cannot be pseudonymised. Check the value at the source "
        "(a typing or export error); never guess a correction."
    )


def _as_text(value: object) -> str | None:
    """A table cell as text; None if missing. Integers (and integral floats, as pandas
    makes of an integer column with gaps) lose their leading zero: restored later."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "?"  # not a number anybody means as a BSN
    if isinstance(value, int):
        return str(value) if value >= 0 else "?"
    if isinstance(value, float):
        if math.isnan(value):
            return None
        return str(int(value)) if value.is_integer() and value >= 0 else "?"
    try:  # numpy integers and floats, pandas.NA
        if value != value:  # NaN-like  # noqa: PLR0124
            return None
    except (TypeError, ValueError):
        return None  # pandas.NA raises on truth testing
    as_int = getattr(value, "__index__", None)
    if as_int is not None:
        return _as_text(int(as_int()))
    as_float = getattr(value, "__float__", None)
    if as_float is not None:
        return _as_text(float(as_float()))
    return "?"


def check_bsns(values: Iterable[object]) -> BsnReport:
    """Check a column of BSNs: the valid ones normalised, the others with reasons.

    Parameters
    ----------
    values : iterable
        Strings (as read from a file), integers (a numeric column: leading zeros
        lost and restored for 8 digits) or missing values (``None``, ``NaN``).

    Returns
    -------
    BsnReport
        ``valid`` (normalised) with their positions, and ``invalid`` with positions,
        masked values and reasons. No value is dropped silently.

    Examples
    --------
    >>> report = check_bsns(["111222333", "111222334", None, 12345672])
    >>> report.valid, report.valid_positions
    (('111222333', '012345672'), (0, 3))
    >>> [item.describe() for item in report.invalid]
    ['row 2: *****2334 fails the eleven-test', 'row 3: (empty) is missing']
    """
    valid: list[str] = []
    positions: list[int] = []
    invalid: list[InvalidBsn] = []
    for position, value in enumerate(values):
        text = _as_text(value)
        compact, problem, reason = _diagnose("" if text is None else text)
        if problem is None:
            valid.append(compact)
            positions.append(position)
        else:
            invalid.append(InvalidBsn(position, mask_bsn(compact), problem, reason))
    return BsnReport(tuple(valid), tuple(positions), tuple(invalid))


def generate_bsn(rng: random.Random) -> str:
    """A random number that passes the eleven-test, for synthetic test data only.

    The result is a *fake* BSN: it is made up, not issued. Any nine digits that pass
    the eleven-test may still be some real person's number, so use these only in
    synthetic data, never mixed with real records.

    Parameters
    ----------
    rng : random.Random
        The source of randomness (seed it for reproducible test data).

    Returns
    -------
    str
        Nine digits, a valid BSN by :func:`is_valid_bsn`.

    Examples
    --------
    >>> is_valid_bsn(generate_bsn(random.Random(7)))
    True
    """
    while True:
        head = "".join(str(rng.randrange(10)) for _ in range(BSN_LENGTH - 1))
        # The sum over d1..d8 minus d9 must be 0 mod 11: d9 = that sum mod 11, if a digit.
        last = sum(w * int(d) for w, d in zip(WEIGHTS, head, strict=False)) % 11
        if last < 10 and (head + str(last)) != "0" * BSN_LENGTH:
            return head + str(last)
