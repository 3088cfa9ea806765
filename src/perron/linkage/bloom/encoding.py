"""Normalisation, tokens and the keyed CLK encoding of identifying fields, hardened.

The overview and the security assumptions are in :mod:`perron.linkage.bloom`.

Encoding
--------
Each field is normalised (:func:`normalise_name`, :func:`split_surname`,
:func:`parse_dob`, :func:`normalise_sex`, :func:`normalise_postcode`) and cut into
tokens (:func:`tokens`): padded character bigrams of names, the tussenvoegsel as one
token, year / month / day and the unordered day-month pair of the date of birth plus
positional digit bigrams of ``YYYYMMDD``, one token for sex, and the 4-digit postcode,
its positional digit bigrams and the full 6-character postcode. A missing field
contributes no bits.

Every token ``t`` of field ``f`` sets the bits (double hashing, Kirsch & Mitzenmacher
2006, as in Schnell et al. 2009 and clkhash's ``doubleHash``)::

    key_f    = HMAC-SHA256(secret, "perron/clk/v1/field/" + f)        (domain separation)
    h1 || h2 = HMAC-SHA256(key_f, t)                                   (two 128-bit halves)
    g_i(t)   = (h1 + i * h2) mod l,   i = 0, ..., k_f - 1              (h2 = 1 if h2 ≡ 0)

``k_f`` weights the fields: more bits for fields that tell people apart. With
``hashing="random"`` the ``k_f`` positions come instead from ``HMAC-SHA256(key_f,
t || counter)`` read as 32-bit integers mod ``l`` (clkhash's ``blakeHash`` idea): no
arithmetic structure for an attacker to exploit (Kroll & Steinmetzer 2015).

Hardening
---------
``xor_fold`` replaces the filter by the XOR of its two halves (Schnell, Borgs & Encarnação
2016): length ``l/2``, each bit the parity of two positions. ``balance`` appends the
negated filter and permutes the ``2l`` bits with a permutation keyed by the secret
(Schnell & Borgs 2016): every record then has exactly half its bits set, so the number
of set bits no longer tells how long a name is. Fold comes first, then balance. Dice on
a balanced filter equals the simple matching coefficient of the unbalanced one, so the
similarity scale and the threshold change (:attr:`LinkageSchema.recommended_threshold`).
What these do and do not protect against is in ``docs/bloom.md``.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from types import MappingProxyType
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd
from bitarray import bitarray

from perron.protocol.errors import InputError

__all__ = [
    "DEFAULT_K",
    "FIELDS",
    "MIN_SECRET_BYTES",
    "TUSSENVOEGSELS",
    "Hardening",
    "LinkageSchema",
    "dice",
    "encode",
    "normalise_name",
    "normalise_postcode",
    "normalise_sex",
    "parse_dob",
    "split_surname",
    "tokens",
]

FIELDS = ("first_name", "surname", "dob", "sex", "postcode")
"""The fields a CLK can hold, as record keys / column names."""

DEFAULT_K: Mapping[str, int] = MappingProxyType(
    {"first_name": 20, "surname": 20, "dob": 15, "sex": 10, "postcode": 15}
)
"""Bits per token of each field in the default schema (see ``docs/bloom.md``)."""

MIN_SECRET_BYTES = 16
_VERSION = b"perron/clk/v1/"
_CHUNK = 8192  # records per numpy block while encoding: bounds memory at 1e5+ records

# Dutch name particles: leading words of a surname that sort and get written away
# ("de Vries", "Vries, de", "de vries", "De Vries"). Abbreviations first expand.
TUSSENVOEGSELS: frozenset[str] = frozenset[str]().union(
    ("van", "de", "der", "den", "het", "t", "s", "ter", "ten", "te", "in", "op", "aan"),
    ("bij", "uit", "onder", "over", "voor", "d", "l", "la", "le", "les", "du", "des"),
    ("dos", "da", "di", "del", "della", "von", "vom", "zu", "zum", "zur", "al", "el"),
)
_ABBREVIATIONS: Mapping[str, str] = MappingProxyType(
    {"v": "van", "d": "de", "vd": "van de", "vdr": "van der"}
)
_NON_LETTER = re.compile(r"[^a-z ]+")
_SPACES = re.compile(r"\s+")
_POSTCODE = re.compile(r"^([1-9][0-9]{3})([A-Z]{2})?$")
_DATE_ISO = re.compile(r"^(\d{4})-?(\d{1,2})-?(\d{1,2})$")
_DATE_DMY = re.compile(r"^(\d{1,2})[-/.](\d{1,2})[-/.](\d{4})$")
_SEX_CODES: Mapping[str, str | None] = MappingProxyType(
    dict.fromkeys(("m", "man", "male", "mannelijk", "1"), "m")
    | dict.fromkeys(("v", "f", "vrouw", "female", "vrouwelijk", "2"), "v")
    | dict.fromkeys(("x", "o", "other", "anders"), "x")
    | dict.fromkeys(("u", "0", "9", "onbekend", "unknown"), None)
)

IndexArray = npt.NDArray[np.int64]
BoolMatrix = npt.NDArray[np.bool_]
Records = pd.DataFrame | Iterable[Mapping[str, object]]


# --------------------------------------------------------------------------------------
# Schema
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Hardening:
    """How the CLKs are hardened against frequency and pattern-mining attacks.

    Attributes
    ----------
    balance : bool
        Append the negated filter and apply a keyed permutation (length doubles, every
        record has exactly half its bits set).
    xor_fold : bool
        XOR the two halves of the filter (length halves).
    """

    balance: bool = True
    xor_fold: bool = False


@dataclass(frozen=True)
class LinkageSchema:
    """What goes into a CLK and how: fields with their ``k``, length, hashing, hardening.

    Both holders must encode with the same schema and secret. The schema is not
    secret; its :meth:`describe` is what holders agree on (with the linkage unit).

    Attributes
    ----------
    k : Mapping[str, int]
        Bits per token for each field used, from :data:`FIELDS`; fields left out are
        not encoded. Default :data:`DEFAULT_K`.
    length : int
        ``l``, bits of the filter before hardening; a positive multiple of 8 (of 16
        with ``xor_fold``). Default 1024.
    hashing : {"double", "random"}
        How the ``k`` positions of a token are derived (module docstring).
    hardening : Hardening
        Balancing (default on) and XOR folding (default off).

    Examples
    --------
    >>> schema = LinkageSchema()
    >>> schema.encoded_length, schema.recommended_threshold
    (2048, 0.8)
    >>> LinkageSchema(k={"surname": 20, "dob": 10}, hardening=Hardening(False)).encoded_length
    1024
    >>> LinkageSchema(k={"nickname": 10})
    Traceback (most recent call last):
    ...
    perron.protocol.errors.InputError: unknown field 'nickname' in the linkage schema; ...
    """

    k: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_K))
    length: int = 1024
    hashing: Literal["double", "random"] = "double"
    hardening: Hardening = field(default_factory=Hardening)

    def __post_init__(self) -> None:
        if not self.k:
            raise InputError("the linkage schema has no fields; give k for at least one.")
        for name, bits in self.k.items():
            if name not in FIELDS:
                raise InputError(
                    f"unknown field {name!r} in the linkage schema; use some of {FIELDS}."
                )
            if not isinstance(bits, int) or isinstance(bits, bool) or bits < 1:
                raise InputError(
                    f"k for field {name!r} is {bits!r}; give a positive whole number of "
                    "bits per token (10 to 30 is usual)."
                )
        step = 16 if self.hardening.xor_fold else 8
        if not isinstance(self.length, int) or self.length < step or self.length % step:
            raise InputError(
                f"filter length l={self.length!r} is not a positive multiple of {step}"
                + (" (XOR folding halves it)" if self.hardening.xor_fold else "")
                + "; anonlink compares whole bytes. Use e.g. 1024."
            )
        if self.hashing not in ("double", "random"):
            raise InputError(f"hashing {self.hashing!r} is unknown; use 'double' or 'random'.")
        # Keep field order canonical (FIELDS order) and the mapping read-only.
        ordered = {name: self.k[name] for name in FIELDS if name in self.k}
        object.__setattr__(self, "k", MappingProxyType(ordered))

    @property
    def encoded_length(self) -> int:
        """Bits of an encoding after hardening."""
        bits = self.length // 2 if self.hardening.xor_fold else self.length
        return 2 * bits if self.hardening.balance else bits

    @property
    def recommended_threshold(self) -> float:
        """The Dice threshold measured best (F1) for this hardening on synthetic data.

        The values come from ``benchmarks/bloom.py --evaluate`` (``docs/bloom.md``)
        with the default ``k``; re-measure when you change the fields or ``k``.
        """
        return _THRESHOLDS[(self.hardening.balance, self.hardening.xor_fold)]

    def describe(self) -> dict[str, object]:
        """The schema as plain data, to agree on and to record with the encodings."""
        return {
            "version": _VERSION.decode(),
            "k": dict(self.k),
            "length": self.length,
            "hashing": self.hashing,
            "balance": self.hardening.balance,
            "xor_fold": self.hardening.xor_fold,
        }


# (balance, xor_fold) -> threshold; measured, see docs/bloom.md.
_THRESHOLDS: Mapping[tuple[bool, bool], float] = MappingProxyType(
    {(False, False): 0.78, (True, False): 0.8, (False, True): 0.7, (True, True): 0.7}
)


# --------------------------------------------------------------------------------------
# Normalisation and tokens
# --------------------------------------------------------------------------------------


def _is_missing(value: object) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, float):
        return math.isnan(value)
    if isinstance(value, str):
        return not value.strip()
    return False


def _fold_text(value: str) -> str:
    """Lower case, no diacritics, letters and single spaces only; Dutch ij written y."""
    decomposed = unicodedata.normalize("NFKD", value)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
    plain = _NON_LETTER.sub(" ", plain.replace("ij", "y"))
    return _SPACES.sub(" ", plain).strip()


def normalise_name(value: str) -> str:
    """A first name as compared: lower case, no diacritics, no spaces or punctuation.

    ``ij`` is written ``y`` (Dutch spellings vary: Thijs / Thys, Bruijn / Bruyn).

    Examples
    --------
    >>> normalise_name("  Anne-Marie ")
    'annemarie'
    >>> normalise_name("Zoë"), normalise_name("THIJS")
    ('zoe', 'thys')
    """
    return _fold_text(value).replace(" ", "")


def split_surname(value: str) -> tuple[str, str]:
    """Split a surname into its tussenvoegsels and the rest, both normalised.

    "van der Berg", "Van der Berg", "Berg, van der" and "v.d. Berg" all give the same
    core ``"berg"``; the tussenvoegsels are kept apart (one token in the CLK) so that a
    holder who drops them loses only a few bits. A particle in the middle of a double
    name ("Jansen-de Vries") also goes to the tussenvoegsels.

    Returns
    -------
    tuple of str
        ``(tussenvoegsels, core)``: the particles joined without spaces, and the other
        words joined without spaces.

    Examples
    --------
    >>> split_surname("Van der Berg"), split_surname("Berg, van der")
    (('vander', 'berg'), ('vander', 'berg'))
    >>> split_surname("v.d. Berg"), split_surname("Jansen-de Vries")
    (('vande', 'berg'), ('de', 'jansenvries'))
    >>> split_surname("de Bruijn"), split_surname("Van")
    (('de', 'bruyn'), ('', 'van'))
    """
    if "," in value:  # "Vries, de": the particle written after the name
        name, _, particle = value.partition(",")
        value = f"{particle} {name}"
    words: list[str] = []
    for word in _fold_text(value).split():
        words.extend(_ABBREVIATIONS.get(word, word).split())
    particles = [w for w in words if w in TUSSENVOEGSELS]
    core = [w for w in words if w not in TUSSENVOEGSELS]
    if not core:  # a surname that is only particle-like words ("Van", "Ter"): keep it
        return "", "".join(words)
    return "".join(particles), "".join(core)


def parse_dob(value: object) -> tuple[int, int, int]:
    """``(year, month, day)`` of a date of birth; an :class:`InputError` if unreadable.

    Accepts :class:`datetime.date`, :class:`datetime.datetime`, :class:`pandas.Timestamp`
    and the strings ``YYYY-MM-DD``, ``YYYYMMDD``, ``DD-MM-YYYY`` and ``DD/MM/YYYY``. The
    calendar is not checked beyond month 1-12 and day 1-31: a mistyped 30 February
    still shares most tokens with the true date.

    Examples
    --------
    >>> parse_dob("1980-03-05"), parse_dob("05-03-1980"), parse_dob(date(1980, 3, 5))
    ((1980, 3, 5), (1980, 3, 5), (1980, 3, 5))
    """
    if isinstance(value, datetime | date):
        return value.year, value.month, value.day
    text = str(value).strip()
    iso = _DATE_ISO.match(text)
    dmy = _DATE_DMY.match(text)
    if iso:
        year, month, day = (int(g) for g in iso.groups())
    elif dmy:
        day, month, year = (int(g) for g in dmy.groups())
    else:
        raise InputError(
            f"date of birth {text!r} is not a date; give a date or a string YYYY-MM-DD "
            "or DD-MM-YYYY (or None if unknown)."
        )
    if not (1800 <= year <= 2200 and 1 <= month <= 12 and 1 <= day <= 31):
        raise InputError(
            f"date of birth {text!r} has year, month or day out of range; give it as "
            "YYYY-MM-DD (or None if unknown)."
        )
    return year, month, day


def normalise_sex(value: object) -> str | None:
    """``"m"``, ``"v"`` (female), ``"x"`` or None (unknown) from the usual codes.

    Examples
    --------
    >>> normalise_sex("M"), normalise_sex("Vrouw"), normalise_sex("F"), normalise_sex("U")
    ('m', 'v', 'v', None)
    """
    text = str(value).strip().casefold()
    if text not in _SEX_CODES:
        raise InputError(
            f"sex {value!r} is not a known code; use m/man/male, v/vrouw/f/female, x, or "
            "None (or 'onbekend') if unknown."
        )
    return _SEX_CODES[text]


def normalise_postcode(value: object) -> tuple[str, str]:
    """``(digits, letters)`` of a Dutch postcode ("1234 AB"); letters may be empty.

    Examples
    --------
    >>> normalise_postcode(" 1234 ab"), normalise_postcode("1234")
    (('1234', 'AB'), ('1234', ''))
    """
    text = re.sub(r"\s+", "", str(value)).upper()
    found = _POSTCODE.match(text)
    if found is None:
        raise InputError(
            f"postcode {value!r} is not a Dutch postcode (1234 AB or 1234); pass None for "
            "a foreign or unknown postcode."
        )
    return found.group(1), found.group(2) or ""


def _bigrams(text: str) -> list[str]:
    padded = f"_{text}_"
    return [padded[i : i + 2] for i in range(len(padded) - 1)]


def tokens(field_name: str, value: object) -> list[str]:
    """The tokens a field's value puts in a CLK (empty if the value is missing).

    Examples
    --------
    >>> tokens("first_name", "Jan")
    ['_j', 'ja', 'an', 'n_']
    >>> tokens("surname", "de Vries")
    ['_v', 'vr', 'ri', 'ie', 'es', 's_', 'tv:de']
    >>> tokens("dob", "1980-03-05")
    ['y1980', 'm03', 'd05', 'dm0305', '0:19', '1:98', '2:80', '3:00', '4:03', '5:30', '6:05']
    >>> tokens("sex", "V"), tokens("postcode", "1234 AB"), tokens("postcode", None)
    (['s:v'], ['pc4:1234', '0:12', '1:23', '2:34', 'pc6:1234AB'], [])
    """
    if field_name not in FIELDS:
        raise InputError(f"unknown field {field_name!r}; use one of {FIELDS}.")
    if _is_missing(value):
        return []
    if field_name == "first_name":
        name = normalise_name(str(value))
        return _bigrams(name) if name else []
    if field_name == "surname":
        particles, core = split_surname(str(value))
        if not core:
            return []
        return _bigrams(core) + ([f"tv:{particles}"] if particles else [])
    if field_name == "dob":
        year, month, day = parse_dob(value)
        digits = f"{year:04d}{month:02d}{day:02d}"
        low, high = sorted((month, day))
        # The unordered day-month pair and the year survive a swapped day and month.
        return [f"y{year:04d}", f"m{month:02d}", f"d{day:02d}", f"dm{low:02d}{high:02d}"] + [
            f"{i}:{digits[i : i + 2]}" for i in range(len(digits) - 1)
        ]
    if field_name == "sex":
        sex = normalise_sex(value)
        return [] if sex is None else [f"s:{sex}"]
    digits, letters = normalise_postcode(value)
    found = [f"pc4:{digits}"] + [f"{i}:{digits[i : i + 2]}" for i in range(3)]
    return found + ([f"pc6:{digits}{letters}"] if letters else [])


# --------------------------------------------------------------------------------------
# Encoding
# --------------------------------------------------------------------------------------


def _secret_bytes(secret: bytes | str) -> bytes:
    key = secret.encode("utf-8") if isinstance(secret, str) else bytes(secret)
    if len(key) < MIN_SECRET_BYTES:
        raise InputError(
            f"the linkage secret has {len(key)} bytes; use at least {MIN_SECRET_BYTES} "
            "random bytes (secrets.token_bytes(32)), shared by the encoding holders only. "
            "A guessable secret lets anyone rebuild the filters from a list of names."
        )
    return key


def _prf(key: bytes, message: bytes) -> bytes:
    return hmac.digest(key, message, hashlib.sha256)


class _FieldHasher:
    """The bit positions of one field's tokens, each token hashed once per call.

    Dates and postcodes are nearly unique, their tokens are not.
    """

    def __init__(self, secret: bytes, name: str, schema: LinkageSchema) -> None:
        self._key = _prf(secret, _VERSION + b"field/" + name.encode())
        self._length, self._k, self._hashing = schema.length, schema.k[name], schema.hashing
        self._ids: dict[str, int] = {}
        self._rows: list[list[int]] = []

    @property
    def k(self) -> int:
        return self._k

    def _hash(self, token: str) -> list[int]:
        """``[h1, h2]`` (double hashing) or the ``k`` positions (random hashing)."""
        if self._hashing == "double":
            digest = _prf(self._key, token.encode())
            h2 = int.from_bytes(digest[16:], "big") % self._length or 1
            return [int.from_bytes(digest[:16], "big") % self._length, h2]
        words: list[int] = []
        counter = 0
        while len(words) < self._k:
            block = _prf(self._key, token.encode() + b"\x00" + counter.to_bytes(4, "big"))
            words.extend(
                int.from_bytes(block[i : i + 4], "big") % self._length for i in range(0, 32, 4)
            )
            counter += 1
        return words[: self._k]

    def ids(self, found: list[str]) -> list[int]:
        """Row numbers of the tokens in :meth:`table`."""
        ids = []
        for token in found:
            number = self._ids.get(token)
            if number is None:
                number = self._ids[token] = len(self._rows)
                self._rows.append(self._hash(token))
            ids.append(number)
        return ids

    def table(self) -> IndexArray:
        """Positions of every token seen, one row of ``k`` per token."""
        if not self._rows:
            return np.empty((0, self._k), dtype=np.int64)
        rows = np.array(self._rows, dtype=np.int64)
        if self._hashing == "random":
            return rows
        steps = np.arange(self._k, dtype=np.int64)
        return (rows[:, :1] + steps * rows[:, 1:]) % self._length


def _keyed_permutation(secret: bytes, size: int) -> IndexArray:
    """Fisher-Yates with HMAC-SHA256 in counter mode as the random source.

    Each draw reduces a 64-bit word modulo ``i + 1`` (bias below 2**-50 for the filter
    lengths used here).
    """
    key = _prf(secret, _VERSION + b"permutation/" + str(size).encode())
    words: list[int] = []
    for counter in range(math.ceil(size / 4)):
        block = _prf(key, counter.to_bytes(8, "big"))
        words.extend(int.from_bytes(block[i : i + 8], "big") for i in range(0, 32, 8))
    order = list(range(size))
    for i in range(size - 1, 0, -1):
        j = words[i] % (i + 1)
        order[i], order[j] = order[j], order[i]
    return np.asarray(order, dtype=np.int64)


def _harden(bits: BoolMatrix, schema: LinkageSchema, permutation: IndexArray | None) -> BoolMatrix:
    if schema.hardening.xor_fold:
        half = bits.shape[1] // 2
        bits = bits[:, :half] ^ bits[:, half:]
    if schema.hardening.balance:
        assert permutation is not None
        bits = np.take(np.concatenate([bits, ~bits], axis=1), permutation, axis=1)
    return bits


def _columns(records: Records, names: Iterable[str]) -> tuple[int, dict[str, pd.Series[Any]]]:
    """The number of records and the named fields as columns (all missing if absent)."""
    if isinstance(records, pd.DataFrame):
        size = len(records)
        return size, {
            name: records[name].reset_index(drop=True)
            if name in records.columns
            else pd.Series([None] * size, dtype=object)
            for name in names
        }
    rows = list(records)
    for position, row in enumerate(rows):
        if not isinstance(row, Mapping):
            raise InputError(
                f"record {position} is a {type(row).__name__}, not a mapping; give dicts "
                f"with keys from {FIELDS} or a DataFrame with those columns."
            )
    return len(rows), {
        name: pd.Series([row.get(name) for row in rows], dtype=object) for name in names
    }


def _field_layout(
    hasher: _FieldHasher, name: str, column: pd.Series[Any]
) -> tuple[IndexArray, IndexArray, IndexArray, IndexArray]:
    """A CSR layout of one field's bit positions.

    Returns per record the code of its value (-1 if missing), per distinct value the
    number of its positions and their offset, and the positions of all distinct
    values concatenated. Each distinct value is tokenised once.
    """
    codes, uniques = pd.factorize(column)
    token_ids: list[int] = []
    counts: list[int] = []
    for code, value in enumerate(uniques):
        try:
            ids = hasher.ids(tokens(name, value))
        except InputError as error:
            first = int(np.flatnonzero(codes == code)[0])
            raise InputError(f"record {first}, field {name!r}: {error}") from None
        token_ids.extend(ids)
        counts.append(len(ids))
    lengths = np.array(counts, dtype=np.int64) * hasher.k
    offsets = (np.cumsum(lengths) - lengths).astype(np.int64)
    flat = hasher.table()[np.array(token_ids, dtype=np.int64)].ravel()
    return codes.astype(np.int64), lengths, offsets, flat


def _scatter(
    bits: BoolMatrix, codes: IndexArray, lengths: IndexArray, offsets: IndexArray, flat: IndexArray
) -> None:
    """Set every record's positions: record r gets flat[offsets[c]:offsets[c]+lengths[c]]."""
    present = np.flatnonzero(codes >= 0)
    if not present.size:
        return
    chosen = codes[present]
    counts = lengths[chosen]
    total = int(counts.sum())
    rows = np.repeat(present, counts)
    starts = np.repeat(offsets[chosen] - (np.cumsum(counts) - counts), counts)
    bits.reshape(-1)[rows * bits.shape[1] + flat[starts + np.arange(total)]] = True


def encode(records: Records, schema: LinkageSchema, secret: bytes | str) -> list[bitarray]:
    """CLK encodings of records: one bit array of ``schema.encoded_length`` bits each.

    Parameters
    ----------
    records : DataFrame or iterable of mappings
        Rows with (some of) the keys in ``schema.k``; other keys (a BSN, payload
        columns) are ignored. A missing value (None, NaN, NaT, "") sets no bits.
    schema : LinkageSchema
        Fields, ``k`` per field, length, hashing and hardening.
    secret : bytes or str
        At least 16 bytes shared by the holders that encode; never by the linkage unit.

    Returns
    -------
    list of bitarray
        In record order. The same records, schema and secret give the same arrays;
        another secret gives unrelated ones.

    Raises
    ------
    InputError
        A short secret, a record that is not a mapping, or an unreadable value (the
        message names the record and field).

    Examples
    --------
    >>> secret = b"an example secret, never use it"
    >>> people = [{"first_name": "Jan", "surname": "de Vries", "dob": "1980-03-05"},
    ...           {"first_name": "Jan", "surname": "Vries, de", "dob": "1980-05-03"}]
    >>> a, b = encode(people, LinkageSchema(), secret)
    >>> len(a), a.count()
    (2048, 1024)
    >>> round(dice(a, b), 2)
    0.9
    """
    key = _secret_bytes(secret)
    size, columns = _columns(records, schema.k)
    layouts = [
        _field_layout(_FieldHasher(key, name, schema), name, columns[name]) for name in schema.k
    ]
    hardened = schema.hardening
    folded = schema.length // 2 if hardened.xor_fold else schema.length
    permutation = _keyed_permutation(key, 2 * folded) if hardened.balance else None
    encodings: list[bitarray] = []
    for start in range(0, size, _CHUNK):
        stop = min(start + _CHUNK, size)
        bits = np.zeros((stop - start, schema.length), dtype=np.bool_)
        for codes, lengths, offsets, flat in layouts:
            _scatter(bits, codes[start:stop], lengths, offsets, flat)
        packed = np.packbits(_harden(bits, schema, permutation), axis=1)
        for row_bytes in packed:
            clk = bitarray(endian="big")
            clk.frombytes(row_bytes.tobytes())
            encodings.append(clk)
    return encodings


def dice(a: bitarray, b: bitarray) -> float:
    """Dice coefficient ``2|a ∧ b| / (|a| + |b|)`` of two bit arrays (0 if both empty).

    Examples
    --------
    >>> dice(bitarray("1100"), bitarray("1010"))
    0.5
    """
    total = a.count() + b.count()
    return 2 * (a & b).count() / total if total else 0.0
