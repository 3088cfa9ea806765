"""Blocking: which pairs of CLKs the linkage unit compares at all.

:class:`KeyedBlocking` compares only records that share a keyed hash of year of birth,
4-digit postcode or sex (:func:`block_keys`, made by the holders with their secret);
:class:`BitBlocking` is anonlink's locality-sensitive bit sampling, which needs only
the encodings. Either may lose true pairs (``docs/bloom.md``).
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from typing import cast

import numpy as np
import pandas as pd
from bitarray import bitarray

from perron.linkage.bloom._load import _anonlink
from perron.linkage.bloom.encoding import (
    _VERSION,
    Records,
    _columns,
    _is_missing,
    _prf,
    _secret_bytes,
    normalise_postcode,
    normalise_sex,
    parse_dob,
)
from perron.protocol.errors import InputError

__all__ = ["BLOCK_ON", "BitBlocking", "KeyedBlocking", "block_keys"]

BLOCK_ON = ("year", "pc4")
_BLOCK_PARTS = ("year", "pc4", "sex")


def block_keys(
    records: Records, secret: bytes | str, on: Sequence[str] = BLOCK_ON
) -> list[tuple[str, ...]]:
    """Keyed block keys of records: ``HMAC(secret, part + value)``, truncated, per part.

    Two records are compared if they share one key (an OR of the parts): with the
    default ``("year", "pc4")`` a true pair is missed only if both the year of birth
    and the 4-digit postcode disagree. A record with none of the parts gets no keys
    and is compared with every record.

    Parameters
    ----------
    records : DataFrame or iterable of mappings
        As for :func:`encode`.
    secret : bytes or str
        The holders' secret (the keys are derived from it in their own domain).
    on : sequence of {"year", "pc4", "sex"}
        The parts: year of birth, 4-digit postcode, sex.

    Examples
    --------
    >>> secret = b"an example secret, never use it"
    >>> a, b = block_keys([{"dob": "1980-03-05", "postcode": "1234 AB"},
    ...                    {"dob": "1980-05-03", "postcode": None}], secret)
    >>> len(a), a[0] == b[0]
    (2, True)
    """
    unknown = [part for part in on if part not in _BLOCK_PARTS]
    if unknown or not on:
        raise InputError(
            f"cannot block on {unknown or list(on)}; choose one or more of {_BLOCK_PARTS}."
        )
    key = _prf(_secret_bytes(secret), _VERSION + b"blocking")
    sources = {"year": "dob", "pc4": "postcode", "sex": "sex"}
    _, columns = _columns(records, [sources[part] for part in on])
    per_part: list[list[str | None]] = []
    for part in on:
        name = sources[part]
        codes, uniques = pd.factorize(columns[name])
        hashed: list[str | None] = []
        for code, value in enumerate(uniques):
            try:
                plain = _block_value(part, value)
            except InputError as error:
                first = int(np.flatnonzero(codes == code)[0])
                raise InputError(f"record {first}, field {name!r}: {error}") from None
            message = f"{part}:{plain}".encode()
            hashed.append(None if plain is None else _prf(key, message)[:8].hex())
        per_part.append([None if c < 0 else hashed[c] for c in codes])
    return [tuple(k for k in row if k is not None) for row in zip(*per_part, strict=True)]


def _block_value(part: str, value: object) -> str | None:
    if _is_missing(value):
        return None
    if part == "year":
        return str(parse_dob(value)[0])
    if part == "pc4":
        return normalise_postcode(value)[0]
    return normalise_sex(value)


@dataclass(frozen=True)
class KeyedBlocking:
    """Compare only records that share a key from :func:`block_keys`.

    Attributes
    ----------
    keys_a, keys_b : sequence of tuple of str
        The keys of every record of each side, in the order of the encodings.
    """

    keys_a: Sequence[tuple[str, ...]]
    keys_b: Sequence[tuple[str, ...]]


@dataclass(frozen=True)
class BitBlocking:
    """anonlink's bit blocking: ``tables`` random samples of ``bits`` filter positions.

    Two records are compared if they agree on all sampled bits of at least one table.
    Needs no data besides the encodings, so the linkage unit can apply it alone.
    """

    tables: int = 8
    bits: int = 10
    seed: int = 0


def _blocking_function(
    blocking: KeyedBlocking | BitBlocking | None, sizes: tuple[int, int]
) -> Callable[[int, int, bitarray], Iterable[Hashable]] | None:
    if blocking is None:
        return None
    if isinstance(blocking, BitBlocking):
        module = _anonlink("anonlink.blocking")
        return cast(
            Callable[[int, int, bitarray], Iterable[Hashable]],
            module.bit_blocking(blocking.tables, blocking.bits, seed=blocking.seed),
        )
    sides = (blocking.keys_a, blocking.keys_b)
    for side, (keys, size) in enumerate(zip(sides, sizes, strict=True)):
        if len(keys) != size:
            raise InputError(
                f"blocking keys of side {'ab'[side]} cover {len(keys)} records, the "
                f"encodings {size}; make both from the same records in the same order."
            )
    every: tuple[str, ...] = tuple({k for keys in sides for row in keys for k in row})

    def keyed(dataset: int, record: int, _clk: bitarray) -> Iterable[Hashable]:
        return sides[dataset][record] or every

    return keyed
