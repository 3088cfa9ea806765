"""Bloom-filter (CLK) encodings of identifying fields, and fuzzy linkage with anonlink.

For records without a usable BSN, two holders can still link on name, date of birth,
sex and postcode without exchanging them: each encodes its records into
*cryptographic long-term keys* (CLKs, Schnell, Bachteler & Reiher 2009 and 2011), bit
arrays of length ``l`` into which every token of every field is hashed ``k`` times with
a secret both holders share, and a linkage unit that does not know the secret compares
the arrays by their Dice coefficient.

Modules, in dependency order:

- :mod:`perron.linkage.bloom.encoding` - normalisation, tokens, the keyed encoding
  (:func:`encode`), hardening (:class:`Hardening`, :class:`LinkageSchema`) and
  :func:`dice`;
- :mod:`perron.linkage.bloom.blocking` - :func:`block_keys`, :class:`KeyedBlocking`
  and :class:`BitBlocking`;
- :mod:`perron.linkage.bloom.matching` - :func:`match` with anonlink, and
  :class:`LinkageQuality`, :func:`quality` and :func:`evaluate` against a ground truth.

Every public name is importable from this package.

Security assumptions: the secret is shared by the encoding holders only, is at least
16 random bytes, and is never given to the linkage unit. Anyone who knows it can
encode a list of candidate names and look them up (a dictionary attack).
"""

from perron.linkage.bloom.blocking import BLOCK_ON, BitBlocking, KeyedBlocking, block_keys
from perron.linkage.bloom.encoding import (
    DEFAULT_K,
    FIELDS,
    MIN_SECRET_BYTES,
    TUSSENVOEGSELS,
    Hardening,
    LinkageSchema,
    dice,
    encode,
    normalise_name,
    normalise_postcode,
    normalise_sex,
    parse_dob,
    split_surname,
    tokens,
)
from perron.linkage.bloom.matching import LinkageQuality, evaluate, match, quality

__all__ = [
    "BLOCK_ON",
    "DEFAULT_K",
    "FIELDS",
    "MIN_SECRET_BYTES",
    "TUSSENVOEGSELS",
    "BitBlocking",
    "Hardening",
    "KeyedBlocking",
    "LinkageQuality",
    "LinkageSchema",
    "block_keys",
    "dice",
    "encode",
    "evaluate",
    "match",
    "normalise_name",
    "normalise_postcode",
    "normalise_sex",
    "parse_dob",
    "quality",
    "split_surname",
    "tokens",
]
